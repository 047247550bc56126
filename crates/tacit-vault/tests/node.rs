//! `import_dir` and `export_dir` on a real node in this process (as the desktop app calls them),
//! and the node's rules for `Request::Import`: batches, ids, limits.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::path::Path;

use tacit_core::{DocId, Draft, Kind, ProfileEdit};
use tacit_node::{ErrorKind, ImportNote, Node, Request, Response};
use tacit_vault::{Progress, Requester, export_dir, import_dir};

async fn new_home(dir: &Path) -> Node {
    let (node, _) = Node::init(
        dir,
        ProfileEdit {
            name: Some("Ada".into()),
            ..ProfileEdit::default()
        },
    )
    .await
    .unwrap();
    node
}

fn import_note(key: &str, id: Option<DocId>, title: &str) -> ImportNote {
    ImportNote {
        key: key.into(),
        id,
        kind: Kind::Note,
        draft: Draft {
            title: title.into(),
            body: format!("body of {title}"),
            tags: vec!["t".into()],
            aliases: vec![],
        },
        created_at: Some(1_000),
    }
}

async fn import(node: &mut Node, space: Option<&str>, notes: Vec<ImportNote>) -> Response {
    let space = space.map(str::to_owned);
    Requester::execute(node, Request::Import { space, notes })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_large_folder_goes_in_several_batches_and_comes_back_out() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(&tmp.path().join("home")).await;
    let vault = tmp.path().join("vault");
    // More than two batches of 500, in nested folders.
    for i in 0..1_100 {
        let dir = vault.join(format!("d{}/e{}", i % 3, i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("note {i}.md")),
            format!("Note {i} links [[note {}]]. #n{}\n", i + 1, i % 5),
        )
        .unwrap();
    }
    let mut seen: Vec<Progress> = Vec::new();
    let summary = import_dir(&mut node, &vault, None, |p| seen.push(p.clone()))
        .await
        .unwrap();
    assert_eq!(summary.created, 1_100);
    assert!(summary.failed.is_empty() && summary.warnings.is_empty());
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (1_100, 1_100));

    let summary = import_dir(&mut node, &vault, None, |_| {}).await.unwrap();
    assert_eq!((summary.created, summary.unchanged), (0, 1_100));

    let out = tmp.path().join("out");
    let mut progress = 0;
    let summary = export_dir(&mut node, &out, Some("Personal"), |p| progress = p.done)
        .await
        .unwrap();
    assert_eq!(
        (summary.notes, summary.files, progress),
        (1_100, 1_100, 1_100)
    );
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, 1_100, "one file per note, straight in the folder");
    node.shutdown().await;
}

#[tokio::test]
async fn ids_from_front_matter_are_kept_unless_another_space_holds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(tmp.path()).await;
    let id = DocId::random();
    let Response::Imported(r) =
        import(&mut node, None, vec![import_note("a.md", Some(id), "A")]).await
    else {
        panic!("not an import report")
    };
    assert_eq!((r.created, r.ids.clone()), (1, vec![id]));

    // Same id, other key, same space: the same document, updated.
    let Response::Imported(r) = import(
        &mut node,
        None,
        vec![import_note("moved/a.md", Some(id), "A2")],
    )
    .await
    else {
        panic!("not an import report")
    };
    assert_eq!((r.updated, r.ids.clone()), (1, vec![id]));

    // Same id in another space: a document of that space, with an id of its own.
    let Response::SpaceCreated { .. } = Requester::execute(
        &mut node,
        Request::SpaceNew {
            name: "Team".into(),
        },
    )
    .await
    .unwrap() else {
        panic!("no space")
    };
    let Response::Imported(r) = import(
        &mut node,
        Some("Team"),
        vec![import_note("a.md", Some(id), "A")],
    )
    .await
    else {
        panic!("not an import report")
    };
    assert_eq!(r.created, 1);
    assert_ne!(r.ids[0], id);
    node.shutdown().await;
}

#[tokio::test]
async fn the_node_refuses_oversized_and_ambiguous_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(tmp.path()).await;
    let many: Vec<ImportNote> = (0..1_001)
        .map(|i| import_note(&format!("{i}.md"), None, "x"))
        .collect();
    let e = Requester::execute(
        &mut node,
        Request::Import {
            space: None,
            notes: many,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("at most 1000"), "{e}");

    // Two notes that name one document: refused whole, nothing written.
    let twice = vec![
        import_note("A.md", None, "x"),
        import_note("a.md", None, "y"),
    ];
    let e = Requester::execute(
        &mut node,
        Request::Import {
            space: None,
            notes: twice,
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("both go to document"), "{e}");
    // A bad note fails its batch, and nothing of the batch is kept.
    let mut bad = import_note("b.md", None, "ok");
    bad.draft.title = " ".into();
    let e = Requester::execute(
        &mut node,
        Request::Import {
            space: None,
            notes: vec![import_note("c.md", None, "fine"), bad],
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(node.note_list().await.unwrap().is_empty());
    node.shutdown().await;
}

async fn note_new(node: &mut Node, space: Option<&str>, title: &str, body: &str) -> String {
    let req = Request::NoteNew {
        draft: Draft {
            title: title.into(),
            body: body.into(),
            ..Draft::default()
        },
        space: space.map(str::to_owned),
    };
    match Requester::execute(node, req).await.unwrap() {
        Response::Created { id } => id.to_string(),
        other => panic!("{other:?}"),
    }
}

/// Attaches `bytes` to the note `id` under `name`, with `![[name]]` added to its body.
async fn attach(node: &mut Node, id: &str, scratch: &Path, name: &str, bytes: &[u8]) {
    let file = scratch.join(format!("file-{}", bytes.len()));
    std::fs::write(&file, bytes).unwrap();
    let req = Request::Attach {
        id: id.into(),
        path: file.display().to_string(),
        name: Some(name.into()),
        embed: true,
    };
    Requester::execute(node, req).await.unwrap();
}

/// The names of the files in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A member's titles and attachment names that made every member's export fail (a name over
/// 255 bytes), write one file over another (an NFD copy of a title, on macOS), or show a
/// file's type wrong (a direction override): every file is written, under a name that any
/// disk takes and that shows what it is, and the exported embeds name the files written, so
/// the export imports back with every attachment.
#[tokio::test]
async fn an_export_of_hostile_names_writes_every_file_under_a_name_a_disk_takes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(&tmp.path().join("home")).await;
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    note_new(&mut node, None, "Café", "the honest note").await;
    note_new(&mut node, None, "Cafe\u{301}", "the look-alike").await;
    note_new(&mut node, None, &"語".repeat(100), "cjk").await;
    note_new(&mut node, None, &"😀".repeat(100), "emoji").await;
    let pics = note_new(&mut node, None, "Pictures", "Files:\n").await;
    let long = format!("{}.png", "x".repeat(241));
    let hostile = [
        (long.as_str(), &b"long name"[..]),
        ("photo\u{202E}gpj.exe", b"not a picture"),
        ("plan: v2.pdf", b"a plan"),
        ("a\u{200F}b.png", b"marked"),
    ];
    for (name, bytes) in hostile {
        attach(&mut node, &pics, &scratch, name, bytes).await;
    }

    let out = tmp.path().join("out");
    let summary = export_dir(&mut node, &out, Some("Personal"), |_| {})
        .await
        .unwrap();
    assert!(summary.missing.is_empty(), "{:?}", summary.missing);
    assert_eq!((summary.notes, summary.attachments), (5, 4));
    let notes = names_in(&out);
    // As macOS compares names: composed (NFC), ignoring case.
    let nfc = icu_normalizer::ComposingNormalizerBorrowed::new_nfc();
    let mut keys: Vec<String> = notes
        .iter()
        .map(|n| nfc.normalize(n).to_lowercase())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        notes.len(),
        "two names a Mac takes for one: {notes:?}"
    );
    for name in &notes {
        assert!(name.len() <= 255, "{name}");
        assert!(!name.starts_with('.'), "a temporary file was left: {name}");
    }
    let files = names_in(&out.join("attachments"));
    let short = format!("{}.png", "x".repeat(196));
    let mut want = vec![
        short.clone(),
        "ab.png".into(),
        "photogpj.exe".into(),
        "plan- v2.pdf".into(),
    ];
    want.sort();
    assert_eq!(files, want);
    let body = std::fs::read_to_string(out.join("Pictures.md")).unwrap();
    for name in &want {
        assert!(
            body.contains(&format!("![[{name}]]")),
            "{name} not embedded: {body}"
        );
    }
    assert!(!body.contains(['\u{202E}', '\u{200F}']), "{body}");

    // Into a fresh home: every attachment found by the name the export wrote.
    let mut fresh = new_home(&tmp.path().join("fresh")).await;
    let report = import_dir(&mut fresh, &out, None, |_| {}).await.unwrap();
    assert_eq!(report.created, 5, "{report:?}");
    assert_eq!(report.attachments, 4, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    node.shutdown().await;
    fresh.shutdown().await;
}

/// A partner who can write into the export's folder (a shared repository) plants links in it:
/// `attachments` and `Questions` to folders elsewhere (`~/.config/autostart`), a note's file
/// to a file elsewhere, a space's folder to a folder elsewhere. Nothing is written through any
/// of them; what cannot be written (there, and a note whose name is taken by a folder) is
/// listed, and the rest is exported.
#[cfg(unix)]
#[tokio::test]
async fn an_export_writes_through_no_link_and_goes_on_past_a_file_it_cannot_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(&tmp.path().join("home")).await;
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let plan = note_new(&mut node, None, "Plan", "the plan").await;
    note_new(&mut node, None, "Other", "other").await;
    note_new(&mut node, None, "Third", "third").await;
    attach(
        &mut node,
        &plan,
        &scratch,
        "evil.desktop",
        b"[Desktop Entry]",
    )
    .await;
    let Response::Created { .. } = Requester::execute(
        &mut node,
        Request::Ask {
            draft: Draft {
                title: "Why".into(),
                body: "?".into(),
                ..Draft::default()
            },
            space: None,
        },
    )
    .await
    .unwrap() else {
        panic!("no question")
    };
    Requester::execute(
        &mut node,
        Request::SpaceNew {
            name: "Team".into(),
        },
    )
    .await
    .unwrap();
    note_new(&mut node, Some("Team"), "Team note", "team").await;

    let outside = tmp.path().join("outside");
    for d in ["autostart", "questions", "team"] {
        std::fs::create_dir_all(outside.join(d)).unwrap();
    }
    std::fs::write(outside.join("bashrc"), "victim").unwrap();
    let out = tmp.path().join("out");
    let personal = out.join("Personal");
    std::fs::create_dir_all(&personal).unwrap();
    let link = std::os::unix::fs::symlink;
    link(outside.join("autostart"), personal.join("attachments")).unwrap();
    link(outside.join("questions"), personal.join("Questions")).unwrap();
    link(outside.join("bashrc"), personal.join("Plan.md")).unwrap();
    link(outside.join("team"), out.join("Team")).unwrap();
    std::fs::create_dir_all(personal.join("Other.md")).unwrap();

    let summary = export_dir(&mut node, &out, None, |_| {}).await.unwrap();
    for d in ["autostart", "questions", "team"] {
        assert!(names_in(&outside.join(d)).is_empty(), "written into {d}");
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("bashrc")).unwrap(),
        "victim"
    );
    // The link at Plan.md was replaced by the note's file.
    let plan_md = personal.join("Plan.md");
    assert!(std::fs::symlink_metadata(&plan_md).unwrap().is_file());
    assert!(
        std::fs::read_to_string(&plan_md)
            .unwrap()
            .contains("the plan")
    );
    assert!(personal.join("Third.md").is_file());
    assert_eq!(summary.notes, 2, "{:?}", summary.missing);
    let missing: Vec<(&str, &str)> = summary
        .missing
        .iter()
        .map(|f| (f.path.as_str(), f.reason.as_str()))
        .collect();
    let reason = |path: &str| {
        missing
            .iter()
            .find(|(p, _)| *p == path)
            .unwrap_or_else(|| panic!("{path} not listed: {missing:?}"))
            .1
    };
    assert!(reason("Personal/attachments/evil.desktop").contains("is a link"));
    assert!(reason("Personal/Questions/Why.md").contains("is a link"));
    assert!(reason("Team").contains("is a link"));
    assert!(reason("Personal/Other.md").starts_with("not written: "));
    assert_eq!(missing.len(), 4, "{missing:?}");
    assert!(
        names_in(&personal)
            .iter()
            .all(|n| !n.starts_with(".tacit-tmp")),
        "a temporary file was left"
    );

    // The folder the user names may itself be a link: their choice, followed.
    let flat = tmp.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    link(flat.clone(), tmp.path().join("to-flat")).unwrap();
    let summary = export_dir(
        &mut node,
        &tmp.path().join("to-flat"),
        Some("Personal"),
        |_| {},
    )
    .await
    .unwrap();
    assert!(summary.missing.is_empty(), "{:?}", summary.missing);
    assert_eq!(
        (summary.notes, summary.questions, summary.attachments),
        (3, 1, 1)
    );
    assert!(flat.join("attachments/evil.desktop").is_file());
    node.shutdown().await;
}

/// A file whose front matter is "a billion laughs" (aliases of aliases: 10^10 strings once
/// expanded) fails alone, at once, and the rest of the folder is imported.
#[tokio::test]
async fn a_billion_laughs_front_matter_fails_its_file_and_the_rest_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(&tmp.path().join("home")).await;
    let vault = tmp.path().join("vault");
    std::fs::create_dir_all(&vault).unwrap();
    let mut yaml = String::from("---\nl0: &l0 \"lol\"\n");
    for i in 1..=10 {
        let items = vec![format!("*l{}", i - 1); 10].join(", ");
        yaml.push_str(&format!("l{i}: &l{i} [{items}]\n"));
    }
    yaml.push_str("---\n\nlaughs\n");
    std::fs::write(vault.join("laughs.md"), yaml).unwrap();
    std::fs::write(vault.join("a.md"), "---\ntitle: Fine\n---\nfine\n").unwrap();
    std::fs::write(vault.join("z.md"), "plain\n").unwrap();
    let summary = import_dir(&mut node, &vault, None, |_| {}).await.unwrap();
    assert_eq!(summary.created, 2, "{summary:?}");
    assert_eq!(summary.failed.len(), 1, "{summary:?}");
    assert_eq!(summary.failed[0].path, "laughs.md");
    assert!(summary.failed[0].reason.contains("alias"), "{summary:?}");
    node.shutdown().await;
}

/// A relative path would be read from the node's working folder, not the caller's (an import
/// run elsewhere attached the node's own `Documents/budget.xlsx`): refused, saying so.
#[tokio::test]
async fn the_node_refuses_a_relative_path_to_attach() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = new_home(tmp.path()).await;
    let id = note_new(&mut node, None, "Plan", "numbers").await;
    let req = Request::Attach {
        id,
        path: "Documents/budget.xlsx".into(),
        name: None,
        embed: false,
    };
    let e = Requester::execute(&mut node, req).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert!(e.to_string().contains("relative path"), "{e}");
    node.shutdown().await;
}

/// The desktop app runs imports on its async runtime's worker threads: the futures must be
/// `Send` when the progress callback is.
#[allow(dead_code)]
fn imports_and_exports_are_send(node: &mut Node, dir: &Path) {
    fn send<T: Send>(_: T) {}
    send(import_dir(node, dir, None, |_: &Progress| {}));
    send(export_dir(node, dir, None, |_: &Progress| {}));
}
