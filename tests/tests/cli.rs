//! The `tacit` command end to end: real processes on temporary homes, with and without a
//! running `tacit serve`.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;
use tacit_tests::TestHome;

fn init(name: &str) -> TestHome {
    let home = TestHome::new();
    let out = home.ok(&["init", "--name", name]);
    assert!(out.contains("Initialised"), "{out}");
    home
}

fn new_note(home: &TestHome, args: &[&str]) -> String {
    let mut all = vec!["note", "new"];
    all.extend_from_slice(args);
    let out = home.ok(&all);
    let id = out.trim().to_owned();
    assert_eq!(id.len(), 32, "note new prints the id alone: {out:?}");
    id
}

fn note_count(home: &TestHome) -> usize {
    home.json(&["note", "list"]).as_array().map_or(0, Vec::len)
}

/// Every command, checked through its JSON output.
fn every_command(home: &TestHome) {
    let me = home.json(&["whoami"]);
    let member = me["member"].as_str().expect("member").to_owned();
    assert_eq!(member.len(), 64);
    assert_eq!(me["profile"]["name"], "Ada");

    home.ok(&[
        "profile",
        "set",
        "--org",
        "Analytical Engines",
        "--bio",
        "Writes programs.",
        "--expertise",
        "math",
        "--expertise",
        "Rust",
    ]);
    let me = home.json(&["whoami"]);
    assert_eq!(me["profile"]["name"], "Ada");
    assert_eq!(me["profile"]["org"], "Analytical Engines");
    assert_eq!(me["profile"]["bio"], "Writes programs.");
    assert_eq!(
        me["profile"]["expertise"],
        serde_json::json!(["math", "rust"])
    );

    // note new: --body, --body-file FILE, --body-file - (stdin), --json
    let a = new_note(
        home,
        &[
            "--title",
            "Deploy checklist",
            "--body",
            "1. build\n2. ship\n",
            "--tag",
            "ops",
        ],
    );
    let file = home.path().join("body.md");
    std::fs::write(&file, "# From a file\n\nwith *Markdown*\n").expect("write body file");
    let b = new_note(
        home,
        &[
            "--title",
            "From file",
            "--body-file",
            file.to_str().expect("utf-8 path"),
        ],
    );
    let mut child = home
        .command(&[
            "note",
            "new",
            "--title",
            "From stdin",
            "--body-file",
            "-",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all("piped body ✓\n".as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let c: Value = serde_json::from_slice(&out.stdout).expect("json");
    let c = c["id"].as_str().expect("id").to_owned();

    // note list: newest change first, stable fields
    let list = home.json(&["note", "list"]);
    let items = list.as_array().expect("array");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], c.as_str());
    for field in ["id", "title", "tags", "author", "created_at", "updated_at"] {
        assert!(
            items[0].get(field).is_some(),
            "note list --json lacks {field}"
        );
    }
    assert_eq!(items[2]["author"], member.as_str());
    let text = home.ok(&["note", "list"]);
    assert!(
        text.contains("Deploy checklist") && text.contains("#ops"),
        "{text}"
    );

    // note show, by full id and by prefix
    let shown = home.json(&["note", "show", &a]);
    assert_eq!(shown["title"], "Deploy checklist");
    assert_eq!(shown["body"], "1. build\n2. ship\n");
    assert_eq!(shown["tags"], serde_json::json!(["ops"]));
    assert_eq!(
        home.json(&["note", "show", &b[..8]])["body"],
        "# From a file\n\nwith *Markdown*\n"
    );
    assert_eq!(home.json(&["note", "show", &c])["body"], "piped body ✓\n");
    let text = home.ok(&["note", "show", &a[..6]]);
    assert!(
        text.starts_with("# Deploy checklist\n") && text.contains("2. ship"),
        "{text}"
    );

    // note edit: title, body, tags; an edit that changes nothing writes nothing
    home.ok(&[
        "note",
        "edit",
        &a[..8],
        "--title",
        "Release checklist",
        "--body",
        "1. build\n2. test\n3. ship\n",
        "--tag",
        "ops",
        "--tag",
        "release",
    ]);
    let shown = home.json(&["note", "show", &a]);
    assert_eq!(shown["title"], "Release checklist");
    assert_eq!(shown["body"], "1. build\n2. test\n3. ship\n");
    assert_eq!(shown["tags"], serde_json::json!(["ops", "release"]));
    let same = home.json(&["note", "edit", &a, "--title", "Release checklist"]);
    assert_eq!(same["changed"], false);
    std::fs::write(&file, "# From a file\n\nedited\n").expect("rewrite body file");
    home.ok(&[
        "note",
        "edit",
        &b,
        "--body-file",
        file.to_str().expect("path"),
        "--clear-tags",
    ]);
    assert_eq!(
        home.json(&["note", "show", &b])["body"],
        "# From a file\n\nedited\n"
    );
    assert_eq!(
        home.json(&["note", "list"])[0]["id"],
        b.as_str(),
        "an edit moves a note to the top"
    );

    // note rm
    home.ok(&["note", "rm", &c]);
    assert_eq!(note_count(home), 2);
    let err = home.fails(&["note", "show", &c], 1);
    assert!(err.contains("deleted"), "{err}");

    // trash: the deleted note, by whom, how long it stays; restore takes it out
    let trash = home.json(&["trash"]);
    let items = trash.as_array().expect("array");
    assert_eq!(items.len(), 1, "{trash}");
    assert_eq!(items[0]["id"], c.as_str());
    assert_eq!(items[0]["kind"], "note");
    assert_eq!(items[0]["title"], "From stdin");
    assert_eq!(items[0]["space_name"], "Personal");
    assert_eq!(items[0]["deleted_by"], member.as_str());
    assert_eq!(items[0]["deleted_by_name"], "Ada");
    assert_eq!(items[0]["days_left"], 30);
    let text = home.ok(&["trash"]);
    assert!(
        text.contains("From stdin") && text.contains("30 days left"),
        "{text}"
    );
    let err = home.fails(&["restore", &a], 1);
    assert!(err.contains("not in the trash"), "{err}");
    home.ok(&["restore", &c[..8]]);
    assert_eq!(note_count(home), 3);
    assert_eq!(home.json(&["note", "show", &c])["body"], "piped body ✓\n");
    assert!(home.ok(&["trash"]).contains("The trash is empty"));

    // note history, note show --at, note restore
    home.ok(&["note", "edit", &c, "--body", "rewritten\n"]);
    let history = home.json(&["note", "history", &c[..8]]);
    let versions = history.as_array().expect("array");
    let kinds: Vec<&str> = versions.iter().filter_map(|v| v["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["edited", "restored", "deleted", "created"],
        "{history}"
    );
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[0]["author"], member.as_str());
    assert_eq!(versions[0]["author_name"], "Ada");
    let first = versions[3]["id"].as_str().expect("version id").to_owned();
    let then = home.json(&["note", "show", &c, "--at", &first[..6]]);
    assert_eq!(then["title"], "From stdin");
    assert_eq!(then["body"], "piped body ✓\n");
    assert_eq!(
        then["diff"],
        serde_json::json!([
            { "side": "then", "text": "piped body ✓" },
            { "side": "now", "text": "rewritten" }
        ])
    );
    let text = home.ok(&["note", "show", &c, "--at", &first]);
    assert!(text.contains("-piped body ✓\n+rewritten\n"), "{text}");
    assert!(home.ok(&["note", "history", &c]).contains("created"));
    let err = home.fails(&["note", "show", &c, "--at", "ffffffff"], 1);
    assert!(err.contains("no version"), "{err}");
    let restored = home.json(&["note", "restore", &c, &first]);
    assert_eq!(restored["changed"], true);
    assert_eq!(home.json(&["note", "show", &c])["body"], "piped body ✓\n");
    let history = home.json(&["note", "history", &c]);
    assert_eq!(history[0]["current"], true);
    assert_eq!(history[0]["kind"], "edited");
    // Back to two notes for what follows; it stays in the trash.
    home.ok(&["note", "rm", &c]);

    // ask, answer, accept, thank, questions, question show
    let q = home.json(&[
        "ask",
        "--title",
        "How do we rotate the TLS cert?",
        "--body",
        "It expires Friday.",
        "--tag",
        "tls",
    ]);
    let q = q["id"].as_str().expect("id").to_owned();
    let q2 = home
        .ok(&["ask", "--title", "Who owns the build farm?"])
        .trim()
        .to_owned();
    assert_eq!(q2.len(), 32);
    let unanswered = home.json(&["questions", "--unanswered"]);
    assert_eq!(unanswered.as_array().map(Vec::len), Some(2));
    let ans = home.json(&["answer", &q[..8], "--body", "Run the rotate playbook."]);
    let ans = ans["id"].as_str().expect("answer id").to_owned();
    let second = home
        .ok(&["answer", &q, "--body-file", file.to_str().expect("path")])
        .trim()
        .to_owned();
    assert_eq!(second.len(), 32);
    home.ok(&["accept", &q, &ans[..8]]);
    let err = home.fails(&["thank", &q, &ans], 1);
    assert!(err.contains("your own answer"), "{err}");
    let shown = home.json(&["question", "show", &q]);
    assert_eq!(shown["title"], "How do we rotate the TLS cert?");
    assert_eq!(shown["accepted"], ans.as_str());
    let answers = shown["answers"].as_array().expect("answers");
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answers[0]["id"],
        ans.as_str(),
        "the accepted answer comes first"
    );
    assert_eq!(answers[0]["author"], member.as_str());
    assert_eq!(answers[0]["body"], "Run the rotate playbook.");
    assert_eq!(answers[0]["accepted"], true);
    let text = home.ok(&["question", "show", &q]);
    assert!(
        text.contains("✓ accepted") && text.contains("by you"),
        "{text}"
    );
    let all = home.json(&["questions"]);
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert_eq!(all[0]["id"], q.as_str());
    assert_eq!(all[0]["answers"], 2);
    let unanswered = home.json(&["questions", "--unanswered"]);
    assert_eq!(unanswered.as_array().map(Vec::len), Some(1));
    assert_eq!(unanswered[0]["id"], q2.as_str());
    assert!(home.ok(&["questions"]).contains("How do we rotate"));

    // question rm: into the trash (newest deletion first), and back
    home.ok(&["question", "rm", &q2]);
    assert_eq!(home.json(&["questions"]).as_array().map(Vec::len), Some(1));
    let trash = home.json(&["trash"]);
    assert_eq!(trash[0]["id"], q2.as_str());
    assert_eq!(trash[0]["kind"], "question");
    assert_eq!(trash[1]["id"], c.as_str());
    home.ok(&["restore", &q2]);
    assert_eq!(home.json(&["questions"]).as_array().map(Vec::len), Some(2));

    // status, and init again
    let status = home.json(&["status"]);
    assert_eq!(status["notes"], 2);
    assert_eq!(status["questions"], 2);
    assert_eq!(status["member"], member.as_str());
    let again = home.json(&["init"]);
    assert_eq!(again["created"], false);
    assert!(
        home.ok(&["init"])
            .contains("already initialised; nothing changed")
    );
    assert_eq!(home.json(&["whoami"])["member"], member.as_str());
}

/// Each error case: exit 1, one clear line, nothing written.
fn errors(home: &TestHome) {
    let id = new_note(home, &["--title", "Kept", "--body", "safe"]);
    let q = home.ok(&["ask", "--title", "A question"]).trim().to_owned();
    let before = note_count(home);
    let one_line = |err: &str| {
        assert!(err.starts_with("error: "), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    };
    for args in [
        vec!["note", "show", "0123456789abcdef0123456789abcdef"],
        vec!["note", "show", "ffffffff"],
        vec!["note", "edit", "ffffffff", "--title", "x"],
        vec!["note", "rm", "ffffffff"],
        vec!["answer", "ffffffff", "--body", "x"],
        vec!["question", "show", "ffffffff"],
    ] {
        let err = home.fails(&args, 1);
        one_line(&err);
        assert!(err.contains("no document"), "{args:?}: {err}");
    }
    for args in [
        vec!["accept", "ffffffff", "ffff"],
        vec!["thank", "ffffffff", "ffff"],
    ] {
        let err = home.fails(&args, 1);
        one_line(&err);
        assert!(err.contains("no document"), "{args:?}: {err}");
    }
    let err = home.fails(&["thank", &q, "ffff"], 1);
    one_line(&err);
    assert!(err.contains("no answer"), "{err}");
    let err = home.fails(&["accept", &q, "ffff"], 1);
    one_line(&err);
    assert!(err.contains("no answer"), "{err}");
    for args in [
        vec!["note", "new", "--title", "   "],
        vec!["note", "new", "--title", ""],
        vec!["ask", "--title", " "],
        vec!["note", "edit", &id, "--title", " "],
    ] {
        let err = home.fails(&args, 1);
        one_line(&err);
        assert!(err.contains("title is empty"), "{args:?}: {err}");
    }
    let missing = home.path().join("no-such-file.md");
    let missing = missing.to_str().expect("utf-8 path");
    let err = home.fails(&["note", "new", "--title", "T", "--body-file", missing], 1);
    one_line(&err);
    assert!(
        err.contains("cannot read body file") && err.contains("no-such-file.md"),
        "{err}"
    );
    let binary = home.path().join("binary.md");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).expect("write");
    let binary = binary.to_str().expect("utf-8 path");
    let err = home.fails(&["note", "edit", &id, "--body-file", binary], 1);
    one_line(&err);
    assert!(err.contains("not UTF-8"), "{err}");
    let err = home.fails(&["note", "show", &q], 1);
    assert!(err.contains("is a question, not a note"), "{err}");
    let err = home.fails(&["note", "new", "--title", "T", "--tag", "two words"], 1);
    assert!(err.contains("invalid tag"), "{err}");
    let huge = "x".repeat(tacit_node::core::limits::MAX_BODY_BYTES + 1);
    let big = home.path().join("big.md");
    std::fs::write(&big, huge).expect("write");
    let big = big.to_str().expect("utf-8 path");
    let err = home.fails(&["note", "new", "--title", "T", "--body-file", big], 1);
    assert!(err.contains("too long"), "{err}");

    assert_eq!(note_count(home), before, "a failed command wrote a note");
    assert_eq!(home.json(&["note", "show", &id])["body"], "safe");
    assert_eq!(
        home.json(&["question", "show", &q])["answers"],
        serde_json::json!([])
    );
}

#[test]
fn every_command_works_without_a_running_node() {
    let home = init("Ada");
    every_command(&home);
    let status = home.json(&["status"]);
    assert_eq!(status["serving"], false);
}

#[test]
fn every_command_works_through_a_running_serve() {
    let home = init("Ada");
    let served = home.serve();
    let status = home.json(&["status"]);
    assert_eq!(status["serving"], true);
    assert_eq!(
        status["pid"],
        served.pid(),
        "commands went to the running node"
    );
    every_command(&home);
    assert!(served.stop(), "tacit serve exits cleanly on SIGTERM");
    assert!(
        !home.path().join("tacit.sock").exists(),
        "the socket is removed"
    );
    // Everything written through the server is on disk for the next process.
    assert_eq!(note_count(&home), 2);
    assert_eq!(home.json(&["status"])["serving"], false);
}

#[test]
fn errors_are_clear_and_write_nothing_without_a_node() {
    errors(&init("Ada"));
}

#[test]
fn errors_are_clear_and_write_nothing_through_serve() {
    let home = init("Ada");
    let _served = home.serve();
    errors(&home);
}

#[test]
fn an_uninitialised_home_says_run_tacit_init_and_creates_nothing() {
    let home = TestHome::new();
    for args in [
        vec!["note", "list"],
        vec!["note", "new", "--title", "T"],
        vec!["whoami"],
        vec!["status"],
        vec!["serve"],
        vec!["questions"],
    ] {
        let err = home.fails(&args, 1);
        assert!(err.contains("run `tacit init`"), "{args:?}: {err}");
    }
    let entries: Vec<_> = std::fs::read_dir(home.path()).expect("read dir").collect();
    assert!(
        entries.is_empty(),
        "an uninitialised home gained files: {entries:?}"
    );
    let missing = home.path().join("never-made");
    let out = std::process::Command::new(tacit_tests::tacit_bin())
        .args(["note", "list"])
        .env("TACIT_HOME", &missing)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `tacit init`"));
    assert!(!missing.exists());
}

#[test]
fn usage_errors_exit_2() {
    let home = init("Ada");
    home.fails(&[], 2);
    home.fails(&["note"], 2);
    home.fails(&["note", "new"], 2);
    home.fails(
        &[
            "note",
            "new",
            "--title",
            "T",
            "--body",
            "b",
            "--body-file",
            "f",
        ],
        2,
    );
    home.fails(&["note", "list", "--no-such-flag"], 2);
    home.fails(&["frobnicate"], 2);
    let id = new_note(&home, &["--title", "T"]);
    let err = home.fails(&["note", "edit", &id], 2);
    assert!(err.contains("nothing to change"), "{err}");
    let q = home.ok(&["ask", "--title", "Q"]).trim().to_owned();
    let err = home.fails(&["answer", &q], 2);
    assert!(err.contains("--body"), "{err}");
    assert_eq!(note_count(&home), 1);
    assert_eq!(
        home.json(&["question", "show", &q])["answers"],
        serde_json::json!([])
    );
}

#[test]
fn tacit_home_env_selects_the_home() {
    let home = init("Ada");
    let mut cmd = std::process::Command::new(tacit_tests::tacit_bin());
    cmd.args(["note", "new", "--title", "via env"])
        .env("TACIT_HOME", home.path());
    tacit_tests::succeeded(cmd, "tacit note new with TACIT_HOME");
    assert_eq!(home.json(&["note", "list"])[0]["title"], "via env");
}

#[test]
fn a_second_serve_names_the_pid_holding_the_home() {
    let home = init("Ada");
    let served = home.serve();
    let err = home.fails(&["serve"], 1);
    assert!(
        err.contains("in use") && err.contains(&served.pid().to_string()),
        "{err}"
    );
}

#[test]
fn a_serve_killed_with_sigkill_blocks_nothing() {
    let home = init("Ada");
    let served = home.serve();
    let id = new_note(&home, &["--title", "before the crash"]);
    let pid = served.pid().to_string();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    drop(served); // reaps it
    // The socket file is left behind; the lock is not.
    assert_eq!(
        home.json(&["note", "show", &id])["title"],
        "before the crash"
    );
    let again = home.serve();
    assert_eq!(home.json(&["status"])["pid"], again.pid());
    assert_eq!(note_count(&home), 1);
}

/// `count` `tacit note new` processes started at once, their output piped.
fn spawn_note_writers(home: &TestHome, count: usize, title: &str) -> Vec<std::process::Child> {
    (0..count)
        .map(|i| {
            home.command(&["note", "new", "--title", &format!("{title} {i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn tacit note new")
        })
        .collect()
}

#[test]
fn one_shot_commands_at_the_same_time_take_turns() {
    let home = init("Ada");
    let children = spawn_note_writers(&home, 8, "concurrent");
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "a command lost the race for the home: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(note_count(&home), 8);
}

#[test]
fn stopping_serve_answers_every_request_it_ran() {
    let home = init("Ada");
    let served = home.serve();
    let children = spawn_note_writers(&home, 24, "during stop");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(served.stop(), "tacit serve exits cleanly on SIGTERM");
    let mut succeeded = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        if out.status.success() {
            succeeded.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        }
    }
    // Whatever reached the server or the home after it: a success was written, and nothing
    // else was (a command that failed wrote nothing).
    let listed = home.json(&["note", "list"]);
    let mut ids: Vec<String> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    succeeded.sort();
    assert_eq!(ids, succeeded);
}

#[test]
fn serve_install_service_writes_a_user_unit_that_serves_this_home() {
    use std::os::unix::fs::PermissionsExt;
    let home = init("Ada");
    let config = tempfile::tempdir().unwrap();
    // A systemctl that records what it was asked and succeeds (no test starts a real service).
    let calls = config.path().join("calls");
    let systemctl = config.path().join("systemctl");
    std::fs::write(
        &systemctl,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", calls.display()),
    )
    .unwrap();
    std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let install = |systemctl: &std::path::Path| {
        let mut cmd = home.command(&[
            "--no-mdns",
            "serve",
            "--install-service",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--json",
        ]);
        cmd.env("XDG_CONFIG_HOME", config.path())
            .env("TACIT_SYSTEMCTL", systemctl);
        let out = tacit_tests::succeeded(cmd, "tacit serve --install-service");
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        (v, String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (done, _) = install(&systemctl);
    let unit = config.path().join("systemd/user/tacit.service");
    assert_eq!(done["unit"], unit.to_string_lossy().as_ref());
    assert_eq!(done["started"], true);
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--user daemon-reload\n--user enable --now tacit.service\n"
    );

    // Where systemd cannot be reached, the unit is still written and the command says what to run.
    let (done, stderr) = install(std::path::Path::new("/nonexistent/systemctl"));
    assert_eq!(done["started"], false);
    assert!(
        stderr.contains("systemctl --user enable --now tacit.service"),
        "{stderr}"
    );

    // The unit's command line serves this home.
    let text = std::fs::read_to_string(&unit).unwrap();
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let words: Vec<&str> = exec.split(' ').collect();
    assert_eq!(
        words[0],
        tacit_tests::tacit_bin().to_string_lossy().as_ref()
    );
    assert_eq!(
        &words[1..],
        [
            "--home",
            home.path().to_str().unwrap(),
            "--no-mdns",
            "serve",
            "--listen",
            "/ip4/127.0.0.1/tcp/0"
        ]
    );
    let mut served = std::process::Command::new(words[0])
        .args(&words[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the unit's command");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Serving: the home's control socket answers (a command goes through it).
    while !home.path().join("tacit.sock").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the unit's command never served the home"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let err = home.fails(&["serve"], 1);
    assert!(err.contains("in use"), "{err}");
    served.kill().unwrap();
    served.wait().unwrap();
}

/// Text others wrote cannot drive the terminal it is printed to: escape sequences, other
/// control characters and direction overrides in a body (a peer's, or pasted) are shown as
/// U+FFFD by `note show` and `search`, while `--json` keeps the text exactly.
#[test]
fn printed_text_cannot_drive_the_terminal() {
    let home = init("Ada");
    let body = "clipboard \x1b]52;c;cm0gLXJmIH4=\x07 clear \x1b[2J\x1b[H \u{9b}2J \u{202E}gpj.exe\n\tnext line";
    let id = new_note(
        &home,
        &["--title", "Odd \x1b[31mtitle\u{202E}", "--body", body],
    );
    let acts = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    for args in [
        vec!["note", "show", id.as_str()],
        vec!["note", "list"],
        vec!["search", "clipboard"],
    ] {
        let out = home.ok(&args);
        assert!(!out.chars().any(acts), "{args:?} printed {out:?}");
        assert!(out.contains("Odd") || out.contains("clipboard"), "{out}");
    }
    let shown = home.ok(&["note", "show", &id]);
    assert!(shown.contains("\u{FFFD}gpj.exe\n\tnext line"), "{shown:?}");
    // The title was cleaned as it was written; the body is kept as it was, and JSON says so.
    let json = home.run(&["note", "show", &id, "--json"]);
    let text = String::from_utf8(json.stdout).unwrap();
    assert!(!text.chars().any(acts), "{text:?}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["body"], body);
    assert_eq!(v["title"], "Odd  [31mtitle");
}
