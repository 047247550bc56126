//! Shared spaces end to end through the `tacit` command: real `tacit serve` processes on
//! 127.0.0.1 with mDNS off, tickets passed from one home to another, and every check made with
//! the CLI (polled with a deadline, never timed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tacit_tests::{NetHome, SYNC_PATIENCE, Serving, eventually};

/// Creates a note in `space` and returns its id.
fn new_note(home: &NetHome, space: &str, title: &str, body: &str) -> String {
    let out = home.json(&[
        "note", "new", "--space", space, "--title", title, "--body", body,
    ]);
    out["id"]
        .as_str()
        .expect("note new --json gives an id")
        .to_owned()
}

/// Creates a shared space and returns its id.
fn new_space(home: &NetHome, name: &str) -> String {
    let out = home.json(&["space", "new", name]);
    assert_eq!(out["name"], name, "{out}");
    out["id"]
        .as_str()
        .expect("space new --json gives an id")
        .to_owned()
}

/// `space invite` with `extra` options; returns the ticket (alone on the last line).
fn invite(home: &NetHome, space: &str, extra: &[&str]) -> String {
    let mut args = vec!["space", "invite", space];
    args.extend_from_slice(extra);
    let out = home.ok(&args);
    let ticket = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        ticket.starts_with("tacit1"),
        "space invite prints the ticket alone on its last line: {out:?}"
    );
    ticket
}

/// The ids and titles of the notes in `space`, or why they cannot be listed.
fn notes_in(home: &NetHome, space: &str) -> Result<Vec<(String, String)>, String> {
    let list = home.try_json(&["note", "list", "--space", space])?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n["id"].as_str().unwrap_or_default().to_owned(),
                n["title"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// Waits until `home` lists note `id` in `space`.
fn wait_for_note(home: &NetHome, who: &str, space: &str, id: &str) {
    eventually(
        &format!("{who} to receive note {id} in {space}"),
        SYNC_PATIENCE,
        || {
            let notes = notes_in(home, space)?;
            if notes.iter().any(|(n, _)| n == id) {
                Ok(())
            } else {
                Err(format!("{notes:?}"))
            }
        },
    );
}

/// Waits until note `id` on `home` has the body `want`.
fn wait_for_body(home: &NetHome, who: &str, id: &str, want: &str) {
    eventually(
        &format!("{who}'s copy of note {id} to read {want:?}"),
        SYNC_PATIENCE,
        || {
            let note = home.try_json(&["note", "show", id])?;
            if note["body"] == want {
                Ok(())
            } else {
                Err(format!("body {}", note["body"]))
            }
        },
    );
}

/// The spaces `home` holds, as (name, personal).
fn spaces_of(home: &NetHome) -> Vec<(String, bool)> {
    home.json(&["space", "list"])
        .as_array()
        .expect("space list --json is an array")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["personal"] == true,
            )
        })
        .collect()
}

fn assert_only_personal(home: &NetHome, who: &str) {
    let spaces = spaces_of(home);
    assert!(
        spaces.len() == 1 && spaces[0].1,
        "{who} should hold only the personal space, holds {spaces:?}"
    );
}

#[test]
fn three_serving_homes_share_a_space_by_ticket() {
    let a = NetHome::init("Ada");
    let b = NetHome::init("Ben");
    let c = NetHome::init("Cy");
    let _a_serve = a.serve();
    let _b_serve = b.serve();
    let _c_serve = c.serve();

    let space = new_space(&a, "Team");
    let before = new_note(&a, "Team", "Before Ben", "written before anyone joined\n");
    let ticket = invite(&a, "Team", &[]);

    // B joins through its own server; A's note is there as soon as the join returns.
    let joined = b.json(&["space", "join", &ticket]);
    assert_eq!(joined["id"], space.as_str(), "{joined}");
    assert_eq!(joined["name"], "Team", "{joined}");
    let on_b = notes_in(&b, "Team").expect("note list on B");
    assert!(
        on_b.iter()
            .any(|(id, t)| *id == before && t == "Before Ben"),
        "the join returned before A's note was on B: {on_b:?}"
    );

    // From here on, nobody asks for a sync: changes travel by themselves.
    let live = new_note(&a, "Team", "Live from Ada", "first draft\n");
    wait_for_note(&b, "B", "Team", &live);
    wait_for_body(&b, "B", &live, "first draft\n");

    b.ok(&[
        "note",
        "edit",
        &live,
        "--body",
        "first draft\nedited by Ben\n",
    ]);
    wait_for_body(&a, "A", &live, "first draft\nedited by Ben\n");

    let q = b.json(&[
        "ask",
        "--title",
        "Where are the deploy keys?",
        "--space",
        "Team",
    ]);
    let q = q["id"].as_str().expect("ask --json gives an id").to_owned();
    eventually("A to receive B's question", SYNC_PATIENCE, || {
        let list = a.try_json(&["questions", "--space", "Team"])?;
        let ids: Vec<&str> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["id"].as_str())
            .collect();
        if ids.contains(&q.as_str()) {
            Ok(())
        } else {
            Err(format!("{ids:?}"))
        }
    });
    a.json(&["answer", &q, "--body", "In the vault, under ops/."]);
    eventually("B to see A's answer", SYNC_PATIENCE, || {
        let shown = b.try_json(&["question", "show", &q])?;
        let answered = shown["answers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["body"] == "In the vault, under ops/.");
        if answered {
            Ok(())
        } else {
            Err(shown["answers"].to_string())
        }
    });

    // A third home joins with a second ticket; its note reaches both others.
    let ticket2 = invite(&a, "Team", &[]);
    assert_ne!(ticket, ticket2, "each invitation is its own ticket");
    let joined = c.json(&["space", "join", &ticket2]);
    assert_eq!(joined["id"], space.as_str(), "{joined}");
    let from_c = new_note(&c, "Team", "From Cy", "hello from the third home\n");
    wait_for_note(&a, "A", "Team", &from_c);
    wait_for_note(&b, "B", "Team", &from_c);
    wait_for_body(&b, "B", &from_c, "hello from the third home\n");

    // Members and roles, as JSON and as text.
    let detail = a.json(&["space", "members", "Team"]);
    let members = detail["members"].as_array().expect("members array");
    assert_eq!(members.len(), 3, "{detail}");
    let role_of = |name: &str| {
        members
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["role"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no member named {name}: {detail}"))
    };
    assert_eq!(role_of("Ada"), "owner");
    assert_eq!(role_of("Ben"), "editor");
    assert_eq!(role_of("Cy"), "editor");
    let text = a.ok(&["space", "show", "Team"]);
    assert!(text.contains("3 members"), "{text}");
    for (role, name) in [("owner", "Ada"), ("editor", "Ben"), ("editor", "Cy")] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(role) && l.contains(name)),
            "space show lacks {name} as {role}: {text}"
        );
    }

    // A sees both peers and the space in sync with them.
    eventually(
        "A's status to show 2 peers and Team up to date",
        SYNC_PATIENCE,
        || {
            let status = a.try_json(&["status"])?;
            let peers = status["peers"].as_array().map_or(0, Vec::len);
            let team = status["spaces"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["id"] == space.as_str())
                .cloned()
                .unwrap_or_default();
            if peers == 2 && team["sync"] == "up_to_date" && team["connected"] == 2 {
                Ok(())
            } else {
                Err(format!("{peers} peers, Team: {team}"))
            }
        },
    );
}

#[test]
fn edits_apart_merge_after_a_kill_and_restart() {
    let a = NetHome::init("Ada");
    let b = NetHome::init("Ben");
    let _a_serve = a.serve();
    let b_serve = b.serve();
    new_space(&a, "Team");
    let ticket = invite(&a, "Team", &[]);
    b.json(&["space", "join", &ticket]);
    let original = "line one\nline two\nline three\n";
    let id = new_note(&a, "Team", "Runbook", original);
    wait_for_body(&b, "B", &id, original);

    // B's server dies without a chance to say goodbye.
    b_serve.kill();
    a.ok(&[
        "note",
        "edit",
        &id,
        "--body",
        "line one, edited on A\nline two\nline three\n",
    ]);
    // No server on B: the command opens the home itself, with no network.
    let status = b.json(&["status"]);
    assert_eq!(
        status["serving"], false,
        "B should have no server: {status}"
    );
    b.ok(&[
        "note",
        "edit",
        &id,
        "--body",
        "line one\nline two\nline three, edited on B\n",
    ]);
    assert_eq!(
        b.json(&["note", "show", &id])["body"],
        "line one\nline two\nline three, edited on B\n"
    );

    // B's server comes back and finds A in its address book: no `connect`.
    let _b_serve = b.serve();
    let merged = "line one, edited on A\nline two\nline three, edited on B\n";
    wait_for_body(&b, "B", &id, merged);
    wait_for_body(&a, "A", &id, merged);
}

/// Every file under `dir` whose bytes contain one of `needles`, with the needle's label.
fn files_containing(dir: &Path, needles: &[(&str, Vec<u8>)]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                for (label, needle) in needles {
                    if contains(&bytes, needle) {
                        found.push((path.clone(), (*label).to_owned()));
                    }
                }
            }
        }
    }
    found
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex id"))
        .collect()
}

#[test]
fn a_connected_non_member_learns_nothing() {
    let a = NetHome::init("Ada");
    let b = NetHome::init("Ben");
    let c = NetHome::init("Cy");
    let a_serve = a.serve();
    let _b_serve = b.serve();
    let mut cmd = c.serve_command();
    cmd.env("RUST_LOG", "debug");
    let c_serve = Serving::start(cmd, c.path());

    let name = "Orchard Skunkworks";
    let space = new_space(&a, name);
    let first = new_note(
        &a,
        name,
        "kestrel-4471 plans",
        "canary kestrel-4471 in the body\n",
    );
    let ticket = invite(&a, name, &[]);
    b.json(&["space", "join", &ticket]);
    wait_for_note(&b, "B", name, &first);

    // C dials A: connected, but a member of nothing A shares.
    let out = c.json(&["connect", a_serve.tcp_addr()]);
    assert_eq!(out["peer"], a_serve.peer_id(), "{out}");
    let connected_to_a = |what: &str| {
        eventually(what, SYNC_PATIENCE, || {
            let peers = c.try_json(&["peers"])?;
            let with_a = peers
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["peer"] == a_serve.peer_id())
                .cloned();
            match with_a {
                // The sync session ran: frames went both ways.
                Some(p) if p["traffic"]["frames_in"].as_u64().unwrap_or(0) > 0 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
    };
    connected_to_a("C's sync session with A");

    // A writes while C is connected; B, a member, receives it.
    let second = new_note(
        &a,
        name,
        "osprey-9083 budget",
        "canary osprey-9083 in the body\n",
    );
    wait_for_note(&b, "B", name, &second);
    // Bounded settle: anything A would wrongly push to C has had time to arrive.
    std::thread::sleep(Duration::from_secs(2));
    connected_to_a("C to be still connected to A after A's write");

    let (clean, log) = c_serve.stop();
    assert!(
        clean,
        "C's tacit serve exits cleanly on SIGTERM; log:\n{log}"
    );
    assert!(
        log.contains("DEBUG") && log.contains(a_serve.peer_id()),
        "C's debug log should show its connection with A (else it proves nothing):\n{log}"
    );

    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("the first canary", b"kestrel-4471".to_vec()),
        ("the second canary", b"osprey-9083".to_vec()),
        ("the space id", space.as_bytes().to_vec()),
        ("the space id's bytes", hex_bytes(&space)),
        ("the space name", name.as_bytes().to_vec()),
    ];
    // The search finds them where they belong (B's home), so its silence on C means something.
    let on_b = files_containing(b.path(), &needles[..2]);
    assert!(
        on_b.iter().any(|(_, l)| l == "the first canary")
            && on_b.iter().any(|(_, l)| l == "the second canary"),
        "B's home should hold both canaries: {on_b:?}"
    );
    let on_c = files_containing(c.path(), &needles);
    assert!(on_c.is_empty(), "C's home holds {on_c:?}");
    let in_log: Vec<&str> = needles
        .iter()
        .filter(|(_, n)| contains(log.as_bytes(), n))
        .map(|(l, _)| *l)
        .collect();
    assert!(in_log.is_empty(), "C's debug log names {in_log:?}:\n{log}");
    assert_only_personal(&c, "C");
}

#[test]
fn bad_tickets_fail_clearly() {
    let a = NetHome::init("Ada");
    let _a_serve = a.serve();
    new_space(&a, "Team");
    new_note(&a, "Team", "Inside", "only members read this\n");
    // The joiner has no server: each join is one-shot, with a dial-only network.
    let d = NetHome::init("Dee");

    let err = d.fails(&["space", "join", "garbage"], 1);
    assert!(
        err.contains("tacit1") && err.contains("Tacit invitation"),
        "garbage should be told apart from a ticket: {err}"
    );

    let ticket = invite(&a, "Team", &[]);
    let mut damaged = ticket.clone().into_bytes();
    let i = damaged.len() / 2;
    damaged[i] = if damaged[i] == b'a' { b'b' } else { b'a' };
    let damaged = String::from_utf8(damaged).expect("ascii");
    let err = d.fails(&["space", "join", &damaged], 1);
    assert!(err.contains("damaged"), "a changed character: {err}");

    let expired = invite(&a, "Team", &["--expires", "1ms"]);
    std::thread::sleep(Duration::from_millis(50));
    let err = d.fails(&["space", "join", &expired], 1);
    assert!(err.contains("expired"), "an expired ticket: {err}");

    let once = invite(&a, "Team", &["--uses", "1"]);
    let e = NetHome::init("Eve");
    e.json(&["space", "join", &once]);
    let err = d.fails(&["space", "join", &once], 1);
    assert!(
        err.contains("used up") || err.contains("already used"),
        "a ticket for one use, used: {err}"
    );

    assert_only_personal(&d, "the refused joiner");
    let members = a.json(&["space", "members", "Team"]);
    let names: Vec<&str> = members["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "A + Eve, not Dee: {names:?}");
    assert!(!names.contains(&"Dee"), "{names:?}");
}

#[test]
fn one_shot_join_without_serve() {
    let a = NetHome::init("Ada");
    let _a_serve = a.serve();
    let space = new_space(&a, "Team");
    let n1 = new_note(&a, "Team", "Onboarding", "read this first\n");
    let n2 = new_note(&a, "Team", "Contacts", "who to call\n");
    let ticket = invite(&a, "Team", &[]);

    let b = NetHome::init("Ben");
    let joined = b.json(&["space", "join", &ticket]);
    assert_eq!(joined["id"], space.as_str(), "{joined}");
    assert!(
        !b.path().join("tacit.sock").exists(),
        "B has no server: the join ran in its own process"
    );

    // Another process, reading B's disk.
    let notes = notes_in(&b, "Team").expect("note list on B");
    for (id, title) in [(&n1, "Onboarding"), (&n2, "Contacts")] {
        assert!(
            notes.iter().any(|(n, t)| n == id && t == title),
            "{title} missing on B after the one-shot join: {notes:?}"
        );
    }
    assert_eq!(b.json(&["note", "show", &n1])["body"], "read this first\n");
    let members = a.json(&["space", "members", "Team"]);
    assert_eq!(
        members["members"].as_array().map_or(0, Vec::len),
        2,
        "{members}"
    );
}
