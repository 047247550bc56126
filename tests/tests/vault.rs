//! `tacit import` and `tacit export` end to end: the sample vault in `tests/fixtures/vault`
//! (copied to a temporary folder, with a binary file, a file that is not UTF-8 and a
//! `.obsidian` folder added), imported one-shot and through a running `tacit serve`, imported
//! again, exported, and the export imported into a fresh home.

#![allow(clippy::unwrap_used)] // a test that cannot read its own fixture should stop there

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tacit_tests::TestHome;

/// A 1×1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// The titles the sample vault imports as.
const TITLES: [&str; 5] = [
    "2024-01-05",
    "Bad tags",
    "Old plan",
    "Roadmap",
    "Welcome to the vault",
];

fn init(name: &str) -> TestHome {
    let home = TestHome::new();
    home.ok(&["init", "--name", name]);
    home
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The sample vault in a temporary folder, with the files that are not committed added.
fn sample_vault() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("My Vault");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vault"),
        &vault,
    );
    std::fs::write(vault.join("Projects/diagram.png"), PNG).unwrap();
    std::fs::write(vault.join("Broken.md"), b"# Latin-1 text: caf\xe9\n").unwrap();
    std::fs::create_dir_all(vault.join(".obsidian")).unwrap();
    std::fs::write(vault.join(".obsidian/app.json"), "{}").unwrap();
    std::fs::write(vault.join(".obsidian/hidden.md"), "# not imported").unwrap();
    (tmp, vault)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Note titles → ids in the personal space (or the given one).
fn notes(home: &TestHome, space: Option<&str>) -> BTreeMap<String, String> {
    let mut args = vec!["note", "list"];
    if let Some(sp) = space {
        args.extend(["--space", sp]);
    }
    home.json(&args)
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["title"].as_str().unwrap().to_owned(),
                n["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Every tag a shown note counts: its tag list and its inline #tags, sorted.
fn all_tags(note: &Value) -> Vec<String> {
    let mut all = strings(&note["tags"]);
    all.extend(strings(&note["inline_tags"]));
    all.sort();
    all
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

fn paths(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap().to_owned())
        .collect()
}

/// Imports the sample vault into `home` (a running serve or not) and checks everything.
fn import_sample(home: &TestHome) {
    let (_tmp, vault) = sample_vault();
    let report = home.json(&["import", s(&vault)]);
    assert_eq!(report["created"], 5, "{report}");
    assert_eq!(report["updated"], 0);
    assert_eq!(report["unchanged"], 0);
    // The picture Welcome.md embeds is attached to it; the other file is left.
    assert_eq!(paths(&report["skipped"]), vec!["notes.txt"]);
    assert_eq!(report["attachments"], 1, "{report}");
    assert_eq!(paths(&report["failed"]), vec!["Broken.md"]);
    assert!(
        report["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("UTF-8"),
        "{report}"
    );
    let warned = paths(&report["warnings"]);
    assert!(warned.contains(&"Bad tags.md".to_owned()), "{report}");
    assert!(
        warned.contains(&"Daily/2024-01-05.md".to_owned()),
        "{report}"
    );

    let ids = notes(home, None);
    assert_eq!(ids.keys().collect::<Vec<_>>(), TITLES.to_vec());

    let welcome = home.json(&["note", "show", &ids["Welcome to the vault"]]);
    // Front matter tags are the note's tag list; the body's inline #tags stay in the body and
    // count beside them.
    assert_eq!(strings(&welcome["tags"]), vec!["onboarding", "team"]);
    let mut inline = strings(&welcome["inline_tags"]);
    inline.sort();
    assert_eq!(inline, vec!["ops", "rust/async"]);
    assert_eq!(
        strings(&welcome["aliases"]),
        vec!["Home page", "Start here"]
    );
    let body = welcome["body"].as_str().unwrap();
    assert!(body.starts_with("# Welcome\n"), "{body}");
    assert!(body.contains("[[Projects/Archive/Old plan|the old plan]]"));
    assert!(body.contains("![[diagram.png]]"));
    // 2024-01-05 from the front matter, midnight UTC.
    assert_eq!(welcome["created_at"], 1_704_412_800_000_i64);

    let roadmap = home.json(&["note", "show", &ids["Roadmap"]]);
    assert_eq!(all_tags(&roadmap), vec!["planning"]);
    let old = home.json(&["note", "show", &ids["Old plan"]]);
    assert_eq!(all_tags(&old), vec!["archive", "history", "plans-2023"]);
    assert_eq!(old["created_at"], 1_677_659_400_000_i64);
    let daily = home.json(&["note", "show", &ids["2024-01-05"]]);
    assert!(
        daily["body"].as_str().unwrap().starts_with("---\ntitle: ["),
        "unreadable front matter stays in the body: {daily}"
    );
    assert_eq!(all_tags(&daily), vec!["daily"]);

    // Again: nothing new, nothing changed.
    let out = home.ok(&["import", s(&vault)]);
    assert!(
        out.starts_with("Imported 5 notes: 0 new, 0 updated, 5 unchanged; skipped 1 file that is not Markdown: notes.txt; attached 1 file; 1 failed."),
        "{out}"
    );
    assert!(out.contains("failed: Broken.md: not UTF-8"), "{out}");
    assert_eq!(notes(home, None), ids);

    // One file edited: one note updated, in place.
    std::fs::write(
        vault.join("Projects/Roadmap.md"),
        "# Roadmap\n\nChanged. #planning #q3\n",
    )
    .unwrap();
    let report = home.json(&["import", s(&vault)]);
    assert_eq!(
        (&report["created"], &report["updated"], &report["unchanged"]),
        (&Value::from(0), &Value::from(1), &Value::from(4)),
        "{report}"
    );
    assert_eq!(notes(home, None), ids);
    let roadmap = home.json(&["note", "show", &ids["Roadmap"]]);
    assert_eq!(roadmap["body"], "# Roadmap\n\nChanged. #planning #q3\n");
    assert_eq!(all_tags(&roadmap), vec!["planning", "q3"]);
}

#[test]
fn a_vault_imports_once_and_updates_after() {
    let home = init("Ada");
    import_sample(&home);
}

#[test]
fn a_vault_imports_through_a_running_serve() {
    let home = init("Ada");
    let served = home.serve();
    import_sample(&home);
    assert!(served.stop(), "serve stops cleanly");
}

#[test]
fn a_deleted_note_comes_back_as_a_new_one() {
    let home = init("Ada");
    let (_tmp, vault) = sample_vault();
    home.ok(&["import", s(&vault)]);
    let ids = notes(&home, None);
    home.ok(&["note", "rm", &ids["Roadmap"]]);
    let report = home.json(&["import", s(&vault)]);
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["unchanged"], 4, "{report}");
    let again = notes(&home, None);
    assert_eq!(again.len(), 5);
    assert_ne!(again["Roadmap"], ids["Roadmap"]);
}

#[test]
fn an_export_imports_into_a_fresh_home_as_the_same_notes() {
    let ada = init("Ada");
    let (tmp, vault) = sample_vault();
    ada.ok(&["import", s(&vault)]);
    let question = ada
        .ok(&[
            "ask",
            "--title",
            "How do we rotate: the cert?",
            "--body",
            "Which playbook?\n",
            "--tag",
            "tls",
        ])
        .trim()
        .to_owned();
    let answer = ada
        .ok(&["answer", &question, "--body", "Run `rotate.yml`."])
        .trim()
        .to_owned();
    ada.ok(&["accept", &question, &answer]);

    // Every space, each in its folder.
    let out = tmp.path().join("export");
    let report = ada.json(&["export", s(&out)]);
    assert_eq!(report["notes"], 5, "{report}");
    assert_eq!(report["questions"], 1);
    assert_eq!(report["files"], 6);
    let personal = out.join("Personal");
    let welcome = std::fs::read_to_string(personal.join("Welcome to the vault.md")).unwrap();
    let ids = notes(&ada, None);
    assert!(
        welcome.starts_with(&format!(
            "---\nid: {}\nkind: note\ntitle: \"Welcome to the vault\"\n",
            ids["Welcome to the vault"]
        )),
        "{welcome}"
    );
    assert!(welcome.contains("author: \"Ada\"\nspace: \"Personal\"\n---\n\n# Welcome\n"));
    let qfile =
        std::fs::read_to_string(personal.join("Questions/How do we rotate- the cert-.md")).unwrap();
    assert!(qfile.contains("kind: question\n"), "{qfile}");
    assert!(
        qfile.contains("### Ada — ") && qfile.contains("✓ accepted\n\nRun `rotate.yml`.\n"),
        "{qfile}"
    );

    // One space, straight into the folder; text summary.
    let flat = tmp.path().join("flat");
    let text = ada.ok(&["export", s(&flat), "--space", "Personal"]);
    assert!(
        text.starts_with("Exported 5 notes and 1 question to "),
        "{text}"
    );
    assert!(flat.join("Roadmap.md").is_file());
    assert!(flat.join("Questions").is_dir());

    // Into a fresh home: the same notes, with the same ids.
    let bob = init("Bob");
    let report = bob.json(&["import", s(&personal)]);
    assert_eq!(report["created"], 6, "{report}");
    assert_eq!(report["failed"], Value::Array(Vec::new()), "{report}");
    assert_eq!(report["warnings"], Value::Array(Vec::new()), "{report}");
    assert_eq!(notes(&bob, None), ids);
    for id in ids.values() {
        let a = ada.json(&["note", "show", id]);
        let b = bob.json(&["note", "show", id]);
        for field in [
            "title",
            "body",
            "tags",
            "inline_tags",
            "aliases",
            "created_at",
        ] {
            assert_eq!(a[field], b[field], "{field} of {id}");
        }
    }
    let q = bob.json(&["question", "show", &question]);
    assert_eq!(q["title"], "How do we rotate: the cert?");
    assert_eq!(q["body"], "Which playbook?\n");
    assert_eq!(
        q["answers"],
        Value::Array(Vec::new()),
        "answers are not re-created"
    );

    // Into the home it came from: the same documents, unchanged.
    let report = ada.json(&["import", s(&personal)]);
    assert_eq!(report["unchanged"], 6, "{report}");
    assert_eq!(report["created"], 0, "{report}");
    assert_eq!(notes(&ada, None), ids);
}

#[test]
fn import_into_a_shared_space_and_export_it_by_name() {
    let home = init("Ada");
    home.ok(&["space", "new", "Platform team"]);
    let (tmp, vault) = sample_vault();
    let report = home.json(&["import", s(&vault), "--space", "Platform team"]);
    assert_eq!(report["created"], 5, "{report}");
    assert!(
        notes(&home, None).is_empty(),
        "nothing in the personal space"
    );
    assert_eq!(notes(&home, Some("Platform team")).len(), 5);
    // The same folder into another space: new documents there, not a move.
    let report = home.json(&["import", s(&vault)]);
    assert_eq!(report["created"], 5, "{report}");

    let out = tmp.path().join("all");
    home.ok(&["export", s(&out)]);
    assert!(out.join("Platform team/Roadmap.md").is_file());
    assert!(out.join("Personal/Roadmap.md").is_file());
}

#[test]
fn import_errors_are_one_line_and_exit_1() {
    let home = init("Ada");
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = home.fails(&["import", s(&missing)], 1);
    assert!(err.contains("no folder"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let file = tmp.path().join("file.md");
    std::fs::write(&file, "# a file").unwrap();
    let err = home.fails(&["import", s(&file)], 1);
    assert!(err.contains("is not a folder"), "{err}");
    let err = home.fails(&["export", s(&file)], 1);
    assert!(err.contains("is not a folder"), "{err}");

    // Every Markdown file failed: exit 1, after the summary.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("x.md"), b"\xff\xfe").unwrap();
    let out = home.run(&["import", s(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("failed: x.md: not UTF-8"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    // An empty folder is not an error.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let report = home.json(&["import", s(&empty)]);
    assert_eq!(report["created"], 0);
}

/// A `tacit serve` started in `cwd` (as a service starts in the user's home folder), stopped
/// with SIGTERM when dropped.
struct ServeIn(std::process::Child);

impl ServeIn {
    fn start(home: &TestHome, cwd: &Path) -> ServeIn {
        let child = home
            .command(&["serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
            .current_dir(cwd)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let served = ServeIn(child);
        let sock = home.path().join("tacit.sock");
        tacit_tests::wait_for(
            "tacit serve's control socket",
            std::time::Duration::from_secs(20),
            || std::os::unix::net::UnixStream::connect(&sock).is_ok(),
        );
        served
    }
}

impl Drop for ServeIn {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let _ = self.0.wait();
    }
}

/// `tacit import .` run in a vault while `tacit serve` runs elsewhere (in the user's home
/// folder): the node was sent `./Documents/budget.xlsx` for the file a note embeds, read it
/// from its own working folder, and attached — shared with the space — the user's real
/// `~/Documents/budget.xlsx` instead of the vault's.
#[test]
fn a_relative_import_attaches_the_vaults_file_not_one_beside_the_node() {
    const VAULT_BYTES: &[u8] = b"the vault's budget.xlsx";
    const PRIVATE_BYTES: &[u8] = b"PRIVATE: the user's own budget.xlsx";
    let home = init("Ada");
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("vault");
    std::fs::create_dir_all(vault.join("Documents")).unwrap();
    std::fs::write(vault.join("Documents/budget.xlsx"), VAULT_BYTES).unwrap();
    std::fs::write(
        vault.join("Plan.md"),
        "Numbers: ![[Documents/budget.xlsx]]\n",
    )
    .unwrap();
    let node_cwd = tmp.path().join("user-home");
    std::fs::create_dir_all(node_cwd.join("Documents")).unwrap();
    std::fs::write(node_cwd.join("Documents/budget.xlsx"), PRIVATE_BYTES).unwrap();

    let served = ServeIn::start(&home, &node_cwd);
    let mut import = home.command(&["import", ".", "--json"]);
    import.current_dir(&vault);
    let out = tacit_tests::succeeded(import, "tacit import .");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["attachments"], 1, "{report}");
    let id = &notes(&home, None)["Plan"];
    let items = home.json(&["attachments", id]);
    assert_eq!(items[0]["name"], "budget.xlsx", "{items}");
    assert_eq!(
        items[0]["hash"],
        blake3::hash(VAULT_BYTES).to_hex().as_str(),
        "not the vault's file (the node's {}?): {items}",
        blake3::hash(PRIVATE_BYTES).to_hex()
    );
    drop(served);
}
