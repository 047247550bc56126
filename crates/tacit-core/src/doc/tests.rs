use super::*;
use crate::key::DeviceKey;
use crate::limits::MAX_BODY_BYTES;

fn edit(key: &DeviceKey, at: i64) -> Edit<'static> {
    Edit::new(key.member_id(), at)
}

fn note(key: &DeviceKey) -> Doc {
    Doc::new_note(
        DocId::random(),
        edit(key, 1000),
        Draft {
            title: "Deploy checklist".into(),
            body: "1. build\n2. ship\n".into(),
            tags: vec!["Ops".into(), "#deploy".into()],
            aliases: Vec::new(),
        },
    )
    .unwrap()
}

#[test]
fn a_note_round_trips_through_save_and_load() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    let bytes = doc.save();
    let mut loaded = Doc::load(doc.id(), [bytes.as_slice()], key.member_id()).unwrap();
    let view = loaded.note().unwrap();
    assert_eq!(view.title, "Deploy checklist");
    assert_eq!(view.body, "1. build\n2. ship\n");
    assert_eq!(view.tags, vec!["deploy", "ops"]);
    assert_eq!(view.author, key.member_id());
    assert_eq!(loaded.summary().unwrap().title, "Deploy checklist");
}

#[test]
fn inline_tags_in_the_body_count_as_the_notes_tags_and_go_with_the_text() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    let body = |s: &str| NoteEdit {
        body: Some(s.into()),
        ..Default::default()
    };
    doc.edit_text(
        edit(&key, 2000),
        body("Roll back with #Rollback, see #ops and `#not-code`.\n"),
    )
    .unwrap();
    let view = doc.note().unwrap();
    assert_eq!(view.tags, vec!["deploy", "ops"], "the tag list as given");
    assert_eq!(view.inline_tags, vec!["rollback"], "not repeating #ops");
    assert_eq!(view.all_tags(), vec!["deploy", "ops", "rollback"]);
    assert_eq!(
        doc.summary().unwrap().tags,
        vec!["deploy", "ops", "rollback"]
    );
    doc.edit_text(edit(&key, 3000), body("Roll back.\n"))
        .unwrap();
    assert!(doc.note().unwrap().inline_tags.is_empty());
    assert_eq!(doc.summary().unwrap().tags, vec!["deploy", "ops"]);
    // No more than a document's tag limit count, however many the text holds.
    let many: String = (0..5000).map(|i| format!("#t{i} ")).collect();
    doc.edit_text(edit(&key, 4000), body(&many)).unwrap();
    assert_eq!(doc.summary().unwrap().tags.len(), crate::limits::MAX_TAGS);
    // A peer's set is read as tags, not trusted: junk is skipped, and past MAX_TAGS keys
    // nothing more is looked at (junk sorted first hides the rest).
    let set = doc.map(&ROOT, "inline_tags").unwrap().unwrap();
    for junk in ["Not A Tag", "UPPER"] {
        doc.am.put(&set, junk, true).unwrap();
    }
    let view = doc.note().unwrap();
    assert!(
        view.inline_tags.iter().all(|t| t.starts_with('t')),
        "{view:?}"
    );
    // The junk took two of the keys looked at; the rest fill the room beside the tags.
    assert_eq!(
        view.inline_tags.len(),
        crate::limits::MAX_TAGS - 2,
        "{view:?}"
    );
    for i in 0..crate::limits::MAX_TAGS {
        doc.am.put(&set, format!("!{i:04}").as_str(), true).unwrap();
    }
    assert!(doc.note().unwrap().inline_tags.is_empty());
}

#[test]
fn an_edit_from_a_stale_base_is_refused_and_changes_nothing() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    let read = doc.note().unwrap();
    let body = |s: &str, base: &[String]| NoteEdit {
        body: Some(s.into()),
        base: Some(base.to_vec()),
        ..Default::default()
    };
    // Someone else's change lands after the editor read the note.
    assert!(
        doc.edit_text(edit(&key, 2000), body("theirs", &read.heads))
            .unwrap()
    );
    let after = doc.note().unwrap();
    assert_ne!(after.heads, read.heads);
    // The editor's save from the old base would undo it: refused, nothing written.
    let stale = doc.edit_text(edit(&key, 3000), body("mine", &read.heads));
    assert!(matches!(stale, Err(CoreError::Conflict(_))), "{stale:?}");
    assert_eq!(doc.note().unwrap(), after);
    // From the current heads it goes through.
    assert!(
        doc.edit_text(edit(&key, 4000), body("merged", &after.heads))
            .unwrap()
    );
    assert_eq!(doc.note().unwrap().body, "merged");
}

#[test]
fn increments_after_a_snapshot_load_to_the_same_document() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    let snapshot = doc.save();
    assert!(doc.take_unsaved().is_none());
    let changed = doc
        .edit_text(
            edit(&key, 2000),
            NoteEdit {
                body: Some("1. build\n2. test\n3. ship\n".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(changed);
    let inc = doc.take_unsaved().unwrap();
    let mut loaded = Doc::load(doc.id(), [&snapshot[..], &inc[..]], key.member_id()).unwrap();
    assert_eq!(loaded.note().unwrap().body, "1. build\n2. test\n3. ship\n");
    assert_eq!(loaded.note().unwrap().updated_at, 2000);
}

#[test]
fn an_edit_that_changes_nothing_writes_nothing() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    doc.save();
    let same = NoteEdit {
        title: Some("Deploy checklist".into()),
        tags: Some(vec!["deploy".into(), "ops".into()]),
        ..Default::default()
    };
    assert!(!doc.edit_text(edit(&key, 5), same).unwrap());
    assert!(doc.take_unsaved().is_none());
}

#[test]
fn concurrent_edits_of_one_body_merge_by_character() {
    let a = DeviceKey::generate();
    let b = DeviceKey::generate();
    let mut doc_a = note(&a);
    let bytes = doc_a.save();
    let mut doc_b = Doc::load(doc_a.id(), [bytes.as_slice()], b.member_id()).unwrap();
    let body = |s: &str| NoteEdit {
        body: Some(s.into()),
        ..Default::default()
    };
    doc_a
        .edit_text(edit(&a, 2), body("0. plan\n1. build\n2. ship\n"))
        .unwrap();
    doc_b
        .edit_text(edit(&b, 3), body("1. build\n2. ship\n3. celebrate\n"))
        .unwrap();
    doc_a.am.merge(&mut doc_b.am).unwrap();
    assert_eq!(
        doc_a.note().unwrap().body,
        "0. plan\n1. build\n2. ship\n3. celebrate\n"
    );
}

#[test]
fn invalid_input_changes_nothing() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    doc.save();
    let bad = NoteEdit {
        title: Some("  ".into()),
        body: Some("new body".into()),
        ..Default::default()
    };
    assert!(matches!(
        doc.edit_text(edit(&key, 5), bad),
        Err(CoreError::EmptyTitle)
    ));
    let huge = NoteEdit {
        body: Some("x".repeat(MAX_BODY_BYTES + 1)),
        ..Default::default()
    };
    assert!(matches!(
        doc.edit_text(edit(&key, 5), huge),
        Err(CoreError::TooLong { .. })
    ));
    assert!(doc.take_unsaved().is_none());
    assert_eq!(doc.note().unwrap().body, "1. build\n2. ship\n");
}

#[test]
fn questions_take_answers_accept_and_thanks() {
    let asker = DeviceKey::generate();
    let helper = DeviceKey::generate();
    let mut q = Doc::new_question(
        DocId::random(),
        edit(&asker, 1),
        Draft {
            title: "How do we rotate the TLS cert?".into(),
            body: String::new(),
            tags: vec!["tls".into()],
            aliases: Vec::new(),
        },
    )
    .unwrap();
    let first = q.add_answer(edit(&helper, 2), "certbot renew").unwrap();
    let second = q
        .add_answer(edit(&helper, 3), "run the rotate playbook")
        .unwrap();
    assert!(matches!(
        q.accept(edit(&helper, 4), second),
        Err(CoreError::NotAsker { .. })
    ));
    q.accept(edit(&asker, 5), second).unwrap();
    assert!(q.thank(edit(&asker, 6), second).unwrap());
    assert!(
        !q.thank(edit(&asker, 7), second).unwrap(),
        "one thanks per member"
    );
    assert!(matches!(
        q.thank(edit(&helper, 8), first),
        Err(CoreError::OwnAnswer { .. })
    ));
    let view = q.question().unwrap();
    assert_eq!(view.accepted, Some(second));
    assert_eq!(view.answers[0].id, second, "accepted answer comes first");
    assert_eq!(view.answers[0].thanked_by, vec![asker.member_id()]);
    assert_eq!(view.answers[1].id, first);
    let summary = q.summary().unwrap();
    assert_eq!((summary.answers, summary.accepted), (2, true));
    let prefix = &second.to_string()[..10];
    assert_eq!(q.resolve_answer(prefix).unwrap(), second);
    assert!(q.resolve_answer("zz").is_err());
}

#[test]
fn a_long_body_is_written_in_pieces_and_reads_back_whole_in_one_change() {
    let key = DeviceKey::generate();
    // Several pieces of SPLICE_CHARS, with characters of 2, 3 and 4 bytes and a combining
    // mark across every boundary.
    let unit = "aé€😀e\u{301} ";
    let body = unit.repeat(3 * SPLICE_CHARS / unit.chars().count() + 5);
    let mut doc = Doc::new_note(
        DocId::random(),
        edit(&key, 1),
        Draft {
            title: "Long".into(),
            body: body.clone(),
            tags: Vec::new(),
            aliases: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(doc.note().unwrap().body, body);
    assert_eq!(
        doc.am.get_changes(&[]).len(),
        1,
        "one change for the whole note"
    );
}

#[test]
fn a_tombstoned_document_refuses_edits() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    doc.delete(edit(&key, 9)).unwrap();
    assert!(doc.summary().unwrap().deleted);
    assert!(matches!(
        doc.edit_text(edit(&key, 10), NoteEdit::default()),
        Err(CoreError::Deleted(_))
    ));
}

#[test]
fn a_profile_holds_name_org_bio_and_expertise() {
    let key = DeviceKey::generate();
    let mut p = Doc::new_profile(
        edit(&key, 1),
        ProfileEdit {
            name: Some("Ada".into()),
            org: Some("Analytical Engines".into()),
            bio: None,
            expertise: Some(vec!["math".into()]),
            questions_per_day: None,
        },
    )
    .unwrap();
    assert_eq!(p.id(), Doc::profile_id(key.member_id()));
    p.edit_profile(
        edit(&key, 2),
        ProfileEdit {
            bio: Some("Writes programs.".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let view = p.profile().unwrap();
    assert_eq!(view.name, "Ada");
    assert_eq!(view.org, "Analytical Engines");
    assert_eq!(view.bio, "Writes programs.");
    assert_eq!(view.expertise, vec!["math"]);
}

#[test]
fn a_damaged_or_missing_increment_is_refused_not_dropped() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    let snapshot = doc.save();
    let mut incs = Vec::new();
    for i in 0..3 {
        let body = NoteEdit {
            body: Some(format!("rev {i}")),
            ..Default::default()
        };
        doc.edit_text(edit(&key, 10 + i), body).unwrap();
        incs.push(doc.take_unsaved().unwrap());
    }
    let id = doc.id();
    let all = [&snapshot[..], &incs[0][..], &incs[1][..], &incs[2][..]];
    assert_eq!(
        Doc::load(id, all, key.member_id())
            .unwrap()
            .note()
            .unwrap()
            .body,
        "rev 2"
    );
    // a flipped byte inside the second increment
    let mut bad = incs[1].clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    let damaged = [&snapshot[..], &incs[0][..], &bad[..], &incs[2][..]];
    assert!(Doc::load(id, damaged, key.member_id()).is_err());
    // a truncated increment
    let cut = &incs[1][..incs[1].len() - 3];
    assert!(Doc::load(id, [&snapshot[..], &incs[0][..], cut], key.member_id()).is_err());
    // a missing increment: the third depends on the second
    let gap = [&snapshot[..], &incs[0][..], &incs[2][..]];
    assert!(Doc::load(id, gap, key.member_id()).is_err());
}

#[test]
fn garbage_bytes_are_an_error_not_a_panic() {
    let key = DeviceKey::generate();
    assert!(Doc::load(DocId::random(), [&b"not automerge"[..]], key.member_id()).is_err());
    let empty: [&[u8]; 0] = [];
    assert!(Doc::load(DocId::random(), empty, key.member_id()).is_err());
}

#[test]
fn a_document_from_a_newer_schema_is_refused() {
    let key = DeviceKey::generate();
    let mut doc = note(&key);
    doc.am.put(ROOT, "schema", SCHEMA_VERSION + 1).unwrap();
    doc.am.commit();
    let bytes = doc.am.save();
    assert!(matches!(
        Doc::load(doc.id(), [bytes.as_slice()], key.member_id()),
        Err(CoreError::NewerSchema { .. })
    ));
}
