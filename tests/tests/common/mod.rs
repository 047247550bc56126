//! Shared-space steps through the `tacit` command, for the tests of members meeting each other
//! (`mesh.rs`) and across NATs (`nat.rs`).

#![allow(dead_code)]

use tacit_tests::{NetHome, SYNC_PATIENCE, eventually};

/// Creates a shared space and returns its id.
pub fn new_space(home: &NetHome, name: &str) -> String {
    let out = home.json(&["space", "new", name]);
    assert_eq!(out["name"], name, "{out}");
    out["id"]
        .as_str()
        .expect("space new --json gives an id")
        .to_owned()
}

/// Creates a note in `space` and returns its id.
pub fn new_note(home: &NetHome, space: &str, title: &str, body: &str) -> String {
    let out = home.json(&[
        "note", "new", "--space", space, "--title", title, "--body", body,
    ]);
    out["id"]
        .as_str()
        .expect("note new --json gives an id")
        .to_owned()
}

/// `space invite` with `extra` options; returns the ticket (alone on the last line).
pub fn invite(home: &NetHome, space: &str, extra: &[&str]) -> String {
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

/// Waits until `home` lists note `id` in `space`.
pub fn wait_for_note(home: &NetHome, who: &str, space: &str, id: &str) {
    eventually(
        &format!("{who} to receive note {id} in {space}"),
        SYNC_PATIENCE,
        || {
            let list = home.try_json(&["note", "list", "--space", space])?;
            let ids: Vec<&str> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["id"].as_str())
                .collect();
            if ids.contains(&id) {
                Ok(())
            } else {
                Err(format!("{ids:?}"))
            }
        },
    );
}

/// The peers `home`'s running node is connected to, with how each is reached
/// (`status --json`'s `peers[].peer` and `peers[].via`).
pub fn peers_of(home: &NetHome) -> Result<Vec<(String, String)>, String> {
    let status = home.try_json(&["status"])?;
    Ok(status["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["peer"].as_str().unwrap_or_default().to_owned(),
                p["via"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// Waits until `home` has a sync session with each of `peers` in which both offered `space`
/// (a connection alone is not enough: one a cut link left dying looks connected for minutes).
pub fn wait_syncing_with(home: &NetHome, who: &str, space: &str, peers: &[&str]) {
    eventually(
        &format!("{who} to sync {space} with {peers:?}"),
        SYNC_PATIENCE,
        || {
            let status = home.try_json(&["status"])?;
            let in_session: Vec<&str> = status["peers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| {
                    p["spaces"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(space)))
                })
                .filter_map(|p| p["peer"].as_str())
                .collect();
            if peers.iter().all(|p| in_session.contains(p)) {
                Ok(())
            } else {
                Err(format!("in session with {in_session:?}"))
            }
        },
    );
}

/// Waits until `home` is connected to each of `peers`.
pub fn wait_connected(home: &NetHome, who: &str, peers: &[&str]) {
    eventually(
        &format!("{who} to be connected to {peers:?}"),
        SYNC_PATIENCE,
        || {
            let connected = peers_of(home)?;
            if peers.iter().all(|p| connected.iter().any(|(c, _)| c == p)) {
                Ok(())
            } else {
                Err(format!("{connected:?}"))
            }
        },
    );
}
