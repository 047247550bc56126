//! A disk that fills up for real (a tmpfs of a few megabytes, filled to its last byte): writes
//! are refused with a clear error, nothing saved before is lost, the node opens and reads on
//! the full disk, and once there is room again the node writes, receives what its peers wrote
//! meanwhile, and finds it in search, without a restart.
//!
//! Mounting a tmpfs needs root (CI is root); elsewhere the tests say why they are skipped.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use tacit_node::core::NoteEdit;
use tacit_node::{ErrorKind, Hit, Node, Request, Response};
use tacit_tests::nodes::*;

/// A tmpfs mounted at a directory for as long as this lives.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount` reads it: "8m") at `dir`, made if missing; none,
    /// with the reason on standard error, where this process may not mount one.
    fn at(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs {
                dir: dir.to_path_buf(),
            }),
            Ok(o) => {
                let why = String::from_utf8_lossy(&o.stderr);
                eprintln!(
                    "SKIPPED: full-disk test: cannot mount a tmpfs: {}",
                    why.trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: full-disk test: cannot run mount: {e}");
                None
            }
        }
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// Fills the disk to its last byte.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.filler()).unwrap();
        let block = vec![0u8; 64 * 1024];
        let mut step = block.len();
        loop {
            match f.write(&block[..step]) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull && step > 1 => step /= 2,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }

    /// Makes room again.
    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

async fn titles_found(node: &Node, query: &str) -> Vec<String> {
    let req = Request::Search {
        query: query.into(),
        space: None,
        limit: Some(50),
    };
    match ask(node, req).await {
        Response::Hits { items, .. } => items.into_iter().map(|h: Hit| h.title).collect(),
        other => panic!("{other:?}"),
    }
}

/// Notes saved while the search index's disk was full are found once it has room, without a
/// restart (the index used to miss them until the next start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_saved_while_the_index_could_not_be_written_are_found_once_it_can() {
    let home = tempfile::tempdir().unwrap();
    // The index alone on a disk of its own, so that the store still writes.
    let Some(disk) = Tmpfs::at(&home.path().join("index"), "4m") else {
        return;
    };
    let a = node(home.path(), "Ada").await;
    let space = space_new(&a, "Notes").await;
    let kept = note_new(&a, &space, "Kept", "an edit will say walrus").await;
    let gone = note_new(&a, &space, "Gone", "deleted while full: okapi").await;
    assert_eq!(titles_found(&a, "okapi").await, vec!["Gone"]);

    disk.fill();
    let mut during = Vec::new();
    for i in 0..5 {
        let title = format!("During {i}");
        // The store has room: the note is saved.
        note_new(
            &a,
            &space,
            &title,
            &format!("saved while full: pangolin{i}"),
        )
        .await;
        during.push(title);
    }
    let edit = NoteEdit {
        body: Some("now it says narwhal".into()),
        ..NoteEdit::default()
    };
    a.note_edit(&kept, edit).await.unwrap();
    a.note_rm(&gone).await.unwrap();
    // The index could not take them (this is what the test is about).
    assert!(titles_found(&a, "pangolin0").await.is_empty());
    assert_eq!(titles_found(&a, "okapi").await, vec!["Gone"]);

    disk.free();
    until(
        "the index catches up with what was saved while it was full",
        || async {
            let mut all = true;
            for (i, title) in during.iter().enumerate() {
                all &= titles_found(&a, &format!("pangolin{i}")).await == vec![title.clone()];
            }
            all && titles_found(&a, "narwhal").await == vec!["Kept"]
                && titles_found(&a, "walrus").await.is_empty()
                && titles_found(&a, "okapi").await.is_empty()
        },
    )
    .await;
    // And a note saved now is found at once.
    note_new(&a, &space, "After", "room again: quokka").await;
    assert_eq!(titles_found(&a, "quokka").await, vec!["After"]);
    a.shutdown().await;
    drop(disk);
}

/// A member's whole home on a disk that fills: its writes fail with a clear error and save
/// nothing, every note saved before stays, the node opens again and reads on the full disk, and
/// once there is room it writes, gets what a peer wrote meanwhile, and finds it in search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_loses_nothing_saved() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::at(&scratch.path().join("disk"), "16m") else {
        return;
    };
    let b_home = disk.dir.join("home");
    let a_dir = tempfile::tempdir().unwrap();
    let a = node(a_dir.path(), "Ada").await;
    let b = node(&b_home, "Bo").await;
    let space = space_new(&a, "Team").await;
    join(
        &b,
        &invite(&a, &space, tacit_node::core::Role::Editor).await,
    )
    .await
    .unwrap();
    note_reaches(
        &a,
        &b,
        &space,
        "First",
        "from Ada",
        "Ada's first note on Bo",
    )
    .await;
    let mut saved = Vec::new();
    for i in 0..3 {
        saved.push(note_new(&b, &space, &format!("Bo {i}"), "saved before").await);
    }

    disk.fill();
    // Bo's next writes are refused, each with an error that says what to do.
    for i in 0..5 {
        let body = "x".repeat(20_000);
        match try_note_new(&b, &space, &format!("Refused {i}"), &body).await {
            Ok(_) => panic!("a write on a full disk was acknowledged"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::DiskFull, "{e}");
                let text = e.to_string();
                assert!(
                    text.contains("is full") && text.contains("free some space"),
                    "{text}"
                );
            }
        }
    }
    // So is an attachment, and none of its bytes stay behind.
    let file = scratch.path().join("plan.pdf");
    std::fs::write(&file, vec![7u8; 300_000]).unwrap();
    let attach = Request::Attach {
        id: saved[0].clone(),
        path: file.to_string_lossy().into_owned(),
        name: None,
        embed: true,
    };
    let e = b
        .execute(attach)
        .await
        .expect_err("an attachment on a full disk");
    assert_eq!(e.kind(), ErrorKind::DiskFull, "{e}");
    let tmp = b_home.join("blobs").join("tmp");
    let left = std::fs::read_dir(&tmp).map_or(0, |d| d.count());
    assert_eq!(
        left,
        0,
        "bytes of a refused attachment left in {}",
        tmp.display()
    );
    // Ada writes meanwhile: Bo cannot store her notes yet.
    let mut hers = Vec::new();
    for i in 0..5 {
        hers.push(note_new(&a, &space, &format!("While full {i}"), &format!("tapir{i}")).await);
    }
    // Bo stops and opens again on the full disk: everything saved is there.
    b.shutdown().await;
    let b = Node::open(&b_home)
        .await
        .expect("a home on a full disk opens");
    for id in &saved {
        assert_eq!(body(&b, id).await.as_deref(), Some("saved before"));
    }
    assert!(titles(&b, &space).await.contains(&"First".to_owned()));
    assert!(
        !titles(&b, &space)
            .await
            .iter()
            .any(|t| t.starts_with("Refused"))
    );
    b.start_network(loopback()).await.unwrap();

    disk.free();
    // Room again: Bo writes, and gets Ada's notes without a restart.
    note_new(&b, &space, "After", "room again").await;
    for id in &hers {
        until(
            "Ada's notes written while Bo's disk was full reach Bo",
            || async { body(&b, id).await.is_some() },
        )
        .await;
    }
    assert_eq!(titles_found(&b, "tapir3").await, vec!["While full 3"]);
    b.shutdown().await;
    a.shutdown().await;
    drop(disk);
}
