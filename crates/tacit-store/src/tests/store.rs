//! Writing, loading, listing and resolving documents.

use tacit_core::{Doc, DocId, Draft, Kind, NoteEdit, SpaceId};
use tempfile::TempDir;

use super::{add_note, edit, member, snapshot, write_of};
use crate::{COMPACT_AFTER_CHUNKS, Chunk, DocWrite, ListFilter, SpaceRow, Store, StoreError};

pub(super) fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tacit.db"), true).unwrap();
    (dir, store)
}

fn increment(doc: &mut Doc, space: SpaceId) -> DocWrite {
    let chunk = Chunk::Increment(doc.take_unsaved().unwrap());
    write_of(doc, space, chunk)
}

#[test]
fn a_written_note_loads_back_with_its_metadata() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let (id, mut doc) = add_note(&mut store, space, "first", 1_000);
    doc.edit_text(
        edit(2_000),
        NoteEdit {
            body: Some("new body".into()),
            ..NoteEdit::default()
        },
    )
    .unwrap();
    let needs = store.write(&[increment(&mut doc, space)]).unwrap();
    assert!(needs.is_empty(), "one small increment needs no compaction");

    let chunks = store.load_chunks(id).unwrap();
    assert_eq!(chunks.len(), 2);
    let mut loaded = Doc::load(id, chunks.iter().map(Vec::as_slice), member()).unwrap();
    let note = loaded.note().unwrap();
    assert_eq!(
        (note.title.as_str(), note.body.as_str()),
        ("first", "new body")
    );

    let got = store.get(id).unwrap().unwrap();
    assert_eq!(got.space, space);
    assert_eq!(got.summary, doc.summary().unwrap());
    assert_eq!(got.summary.updated_at, 2_000);
    assert_eq!(store.list(&ListFilter::default()).unwrap(), vec![got]);
}

#[test]
fn unknown_documents_are_reported() {
    let (_dir, store) = store();
    let id = DocId::random();
    assert!(store.get(id).unwrap().is_none());
    match store.load_chunks(id) {
        Err(StoreError::NoSuchDocument(s)) => assert_eq!(s, id.to_string()),
        other => panic!("expected NoSuchDocument, got {other:?}"),
    }
}

#[test]
fn a_batch_is_all_or_nothing() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let (id, mut doc) = add_note(&mut store, space, "kept", 1);
    doc.edit_text(
        edit(2),
        NoteEdit {
            title: Some("changed".into()),
            ..NoteEdit::default()
        },
    )
    .unwrap();
    let good = increment(&mut doc, space);
    // The second write of the batch fails inside SQLite, after the first one went through.
    let bad = DocWrite {
        heads: None,
        id: DocId::random(),
        chunk: Chunk::Increment(vec![1, 2, 3]),
        ..good.clone()
    };
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER fail BEFORE INSERT ON chunks WHEN NEW.data = x'010203'
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .unwrap();
    let before = store.stats().unwrap();
    assert!(matches!(
        store.write(&[good, bad]),
        Err(StoreError::Sqlite(_))
    ));
    assert_eq!(
        store.stats().unwrap(),
        before,
        "nothing of the failed batch was written"
    );
    assert_eq!(store.get(id).unwrap().unwrap().summary.title, "kept");
    assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 1);
}

#[test]
fn many_increments_ask_for_compaction_and_a_snapshot_replaces_them() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let (id, mut doc) = add_note(&mut store, space, "busy", 0);
    let mut asked = None;
    for i in 1..=COMPACT_AFTER_CHUNKS + 5 {
        doc.edit_text(
            edit(i as i64),
            NoteEdit {
                body: Some(format!("edit {i}")),
                ..NoteEdit::default()
            },
        )
        .unwrap();
        let needs = store.write(&[increment(&mut doc, space)]).unwrap();
        if !needs.is_empty() {
            assert_eq!(needs, vec![id]);
            asked = Some(i);
            break;
        }
    }
    assert!(asked.is_some(), "compaction was never requested");
    assert!(store.load_chunks(id).unwrap().len() > 1);

    let snapshot = snapshot(&mut doc, space);
    assert!(store.write(&[snapshot]).unwrap().is_empty());
    let chunks = store.load_chunks(id).unwrap();
    assert_eq!(chunks.len(), 1);
    let mut loaded = Doc::load(id, chunks.iter().map(Vec::as_slice), member()).unwrap();
    assert_eq!(loaded.note().unwrap().body, doc.note().unwrap().body);
    assert_eq!(store.stats().unwrap().chunks, 1);
}

#[test]
fn more_than_the_chunk_bound_asks_for_compaction_even_when_small() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let (id, doc) = add_note(&mut store, space, "x", 0);
    let summary = doc.summary().unwrap();
    // A large snapshot, then tiny increments: only the count bound can trigger.
    let big = DocWrite {
        heads: None,
        id,
        space,
        summary: summary.clone(),
        chunk: Chunk::Snapshot(vec![0; 100_000]),
        sigs: Vec::new(),
        writers: Vec::new(),
        contributions: None,
        blob_refs: None,
    };
    store.write(&[big]).unwrap();
    for n in 1..=COMPACT_AFTER_CHUNKS {
        let w = DocWrite {
            heads: None,
            id,
            space,
            summary: summary.clone(),
            chunk: Chunk::Increment(vec![1]),
            sigs: Vec::new(),
            writers: Vec::new(),
            contributions: None,
            blob_refs: None,
        };
        let needs = store.write(&[w]).unwrap();
        // n increments + 1 snapshot chunks.
        assert_eq!(
            needs.is_empty(),
            n < COMPACT_AFTER_CHUNKS,
            "after {n} increments"
        );
    }
}

#[test]
fn metadata_only_writes_keep_the_chunks() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let (id, doc) = add_note(&mut store, space, "meta", 5);
    let mut summary = doc.summary().unwrap();
    summary.title = "renamed".into();
    summary.updated_at = 9;
    store
        .write(&[DocWrite {
            heads: None,
            id,
            space,
            summary,
            chunk: Chunk::None,
            sigs: Vec::new(),
            writers: Vec::new(),
            contributions: None,
            blob_refs: None,
        }])
        .unwrap();
    assert_eq!(store.get(id).unwrap().unwrap().summary.title, "renamed");
    assert_eq!(store.load_chunks(id).unwrap().len(), 1);
}

/// The counts `status` reads (`doc_counts`, kept by triggers on `docs`) agree with counting the
/// rows after every kind of write, and a database from before them gets them when migrated.
#[test]
fn counts_kept_on_write_agree_with_the_rows() {
    fn check(store: &Store, when: &str) {
        for kind in [None, Some(Kind::Note), Some(Kind::Question)] {
            for (deleted_only, include_deleted) in [(false, false), (false, true), (true, false)] {
                let filter = ListFilter {
                    kind,
                    deleted_only,
                    include_deleted,
                    ..ListFilter::default()
                };
                // The rows themselves, counted with the listing's own filter.
                let (filter_sql, args) = crate::store::where_clause(&filter);
                let rows: i64 = store
                    .conn
                    .query_row(
                        &format!("SELECT count(*) FROM docs {filter_sql}"),
                        rusqlite::params_from_iter(args),
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(
                    store.count(&filter).unwrap(),
                    rows as u64,
                    "{when}: {filter:?}"
                );
            }
        }
    }
    let (dir, mut store) = store();
    let (a, b) = (SpaceId::random(), SpaceId::random());
    check(&store, "empty");
    let (n1, _) = add_note(&mut store, a, "n1", 10);
    let (_n2, mut n2_doc) = add_note(&mut store, a, "n2", 20);
    let (n3, _) = add_note(&mut store, b, "n3", 30);
    check(&store, "created");
    n2_doc.delete(edit(40)).unwrap();
    store.write(&[increment(&mut n2_doc, a)]).unwrap();
    check(&store, "deleted");
    assert!(n2_doc.undelete(edit(50), 40).unwrap());
    store.write(&[increment(&mut n2_doc, a)]).unwrap();
    check(&store, "restored");
    // Rewritten with the same summary: no change of kind or deletion.
    store.write(&[snapshot(&mut n2_doc, a)]).unwrap();
    check(&store, "rewritten");
    store
        .conn
        .execute(
            "UPDATE docs SET kind = 'question', deleted = 1 WHERE id = ?1",
            [n1.to_string()],
        )
        .unwrap();
    check(&store, "kind and deletion changed at once");
    store.remove_doc(n3).unwrap();
    check(&store, "document removed");
    store.remove_space(a).unwrap();
    check(&store, "space removed");

    // A database of schema 7 (before the counts), holding documents, is counted when migrated.
    add_note(&mut store, b, "n4", 60);
    store
        .conn
        .execute_batch(
            "DROP TRIGGER doc_counts_insert; DROP TRIGGER doc_counts_delete;
             DROP TRIGGER doc_counts_update; DROP TABLE doc_counts; DROP TABLE blob_held_for;",
        )
        .unwrap();
    add_note(&mut store, b, "n5", 70);
    // What schemas 9 and 10 add goes too.
    store
        .conn
        .execute_batch(
            "ALTER TABLE docs DROP COLUMN deleted_at; ALTER TABLE docs DROP COLUMN deleted_by;
             PRAGMA user_version = 7;",
        )
        .unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("tacit.db"), false).unwrap();
    check(&store, "migrated");
    assert_eq!(store.count(&ListFilter::default()).unwrap(), 2);
}

#[test]
fn list_filters_and_orders() {
    let (_dir, mut store) = store();
    let (a, b) = (SpaceId::random(), SpaceId::random());
    let (n1, _) = add_note(&mut store, a, "n1", 10);
    let (n2, _) = add_note(&mut store, a, "n2", 30);
    let (n3, _) = add_note(&mut store, b, "n3", 20);
    let (gone, mut gone_doc) = add_note(&mut store, a, "gone", 40);
    gone_doc.delete(edit(50)).unwrap();
    store.write(&[increment(&mut gone_doc, a)]).unwrap();

    let mut questions = Vec::new();
    for (title, at, accept) in [("open?", 15, false), ("settled?", 25, true)] {
        let id = DocId::random();
        let draft = Draft {
            title: title.into(),
            body: String::new(),
            tags: vec![],
            aliases: Vec::new(),
        };
        let mut q = Doc::new_question(id, edit(at), draft).unwrap();
        if accept {
            let answer = q.add_answer(edit(at), "yes").unwrap();
            q.accept(edit(at), answer).unwrap();
        }
        store
            .write(&[DocWrite {
                heads: None,
                id,
                space: b,
                summary: q.summary().unwrap(),
                chunk: Chunk::Snapshot(q.save()),
                sigs: Vec::new(),
                writers: Vec::new(),
                contributions: None,
                blob_refs: None,
            }])
            .unwrap();
        questions.push(id);
    }
    // Every listing's count, without its limit, agrees with the listing.
    let ids = |f: ListFilter| -> Vec<DocId> {
        let listed: Vec<DocId> = store.list(&f).unwrap().into_iter().map(|l| l.id).collect();
        let unlimited = ListFilter {
            limit: None,
            ..f.clone()
        };
        let all = store.list(&unlimited).unwrap().len() as u64;
        assert_eq!(store.count(&f).unwrap(), all, "count of {f:?}");
        listed
    };
    let (open_q, settled_q) = (questions[0], questions[1]);

    assert_eq!(
        ids(ListFilter::default()),
        vec![n2, settled_q, n3, open_q, n1]
    );
    let with_deleted = ids(ListFilter {
        include_deleted: true,
        ..ListFilter::default()
    });
    assert_eq!(with_deleted.first(), Some(&gone));
    assert_eq!(with_deleted.len(), 6);
    // The trash: deleted ones only.
    assert_eq!(
        ids(ListFilter {
            deleted_only: true,
            ..ListFilter::default()
        }),
        vec![gone]
    );
    assert_eq!(
        ids(ListFilter {
            space: Some(a),
            ..ListFilter::default()
        }),
        vec![n2, n1]
    );
    assert_eq!(
        ids(ListFilter {
            kind: Some(Kind::Question),
            ..ListFilter::default()
        }),
        vec![settled_q, open_q]
    );
    assert_eq!(
        ids(ListFilter {
            unanswered: true,
            ..ListFilter::default()
        }),
        vec![open_q]
    );
    assert_eq!(
        ids(ListFilter {
            limit: Some(2),
            ..ListFilter::default()
        }),
        vec![n2, settled_q]
    );
    assert_eq!(
        ids(ListFilter {
            space: Some(b),
            kind: Some(Kind::Note),
            ..ListFilter::default()
        }),
        vec![n3]
    );
    let got = store.get(gone).unwrap().unwrap();
    assert!(got.summary.deleted);
    let settled = store.get(settled_q).unwrap().unwrap().summary;
    assert_eq!((settled.answers, settled.accepted), (1, true));
    let stats = store.stats().unwrap();
    assert_eq!((stats.documents, stats.chunks), (5, 7));
    assert!(stats.chunk_bytes > 0);
}

#[test]
fn list_order_ties_break_by_id() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let mut ids: Vec<DocId> = (0..5)
        .map(|i| add_note(&mut store, space, &format!("t{i}"), 7).0)
        .collect();
    ids.sort();
    let listed: Vec<DocId> = store
        .list(&ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(listed, ids);
}

/// A document id from a hex string, for controlled prefixes.
fn id(hex: &str) -> DocId {
    hex.parse().unwrap()
}

#[test]
fn resolve_takes_unique_prefixes() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let (_, doc) = add_note(&mut store, space, "template", 1);
    let summary = doc.summary().unwrap();
    let mut put = |hex: &str, deleted: bool| {
        let mut s = summary.clone();
        s.deleted = deleted;
        store
            .write(&[DocWrite {
                heads: None,
                id: id(hex),
                space,
                summary: s,
                chunk: Chunk::None,
                sigs: Vec::new(),
                writers: Vec::new(),
                contributions: None,
                blob_refs: None,
            }])
            .unwrap();
    };
    put("abcd0000000000000000000000000001", false);
    put("abcd0000000000000000000000000002", false);
    put("abce0000000000000000000000000001", false);
    put("dead0000000000000000000000000001", true);

    assert_eq!(
        store.resolve("abce").unwrap(),
        id("abce0000000000000000000000000001")
    );
    assert_eq!(
        store.resolve("ABCE00").unwrap(),
        id("abce0000000000000000000000000001")
    );
    assert_eq!(
        store.resolve("abcd0000000000000000000000000002").unwrap(),
        id("abcd0000000000000000000000000002")
    );
    match store.resolve("abcd") {
        Err(e @ StoreError::AmbiguousId { .. }) => {
            assert_eq!(
                e.to_string(),
                "abcd matches 2 documents; give more characters"
            );
        }
        other => panic!("expected AmbiguousId, got {other:?}"),
    }
    // A deleted document resolves by its full id only.
    assert!(matches!(store.resolve("dead"), Err(StoreError::NoSuchDocument(p)) if p == "dead"));
    assert_eq!(
        store.resolve("dead0000000000000000000000000001").unwrap(),
        id("dead0000000000000000000000000001")
    );
    // In the trash, a prefix of it resolves, and live documents do not.
    assert_eq!(
        store.resolve_deleted("dead").unwrap(),
        id("dead0000000000000000000000000001")
    );
    assert!(matches!(
        store.resolve_deleted("abce00"),
        Err(StoreError::NoSuchDocument(_))
    ));
    for bad in [
        "abc",
        "",
        "zzzz",
        "ffff",
        "abcd-",
        "abcd00000000000000000000000000012",
    ] {
        match store.resolve(bad) {
            Err(StoreError::NoSuchDocument(p)) => assert_eq!(p, bad),
            other => panic!("{bad:?}: expected NoSuchDocument, got {other:?}"),
        }
    }
}

#[test]
fn meta_and_spaces_round_trip() {
    let (_dir, mut store) = store();
    assert_eq!(store.meta("k").unwrap(), None);
    store.set_meta("k", "v1").unwrap();
    store.set_meta("k", "v2").unwrap();
    assert_eq!(store.meta("k").unwrap().as_deref(), Some("v2"));

    let personal = SpaceRow {
        id: SpaceId::random(),
        name: "Personal".into(),
        personal: true,
        created_at: 1,
    };
    let team = SpaceRow {
        id: SpaceId::random(),
        name: "Team".into(),
        personal: false,
        created_at: 2,
    };
    store.add_space(&team).unwrap();
    store.add_space(&personal).unwrap();
    store
        .add_space(&SpaceRow {
            name: "ignored".into(),
            ..team.clone()
        })
        .unwrap();
    assert_eq!(store.spaces().unwrap(), vec![personal, team]);
}

#[test]
fn data_survives_reopening_and_checks_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacit.db");
    let mut store = Store::open(&path, true).unwrap();
    let (id, _) = add_note(&mut store, SpaceId::random(), "kept", 3);
    store.integrity_check().unwrap();
    store.checkpoint().unwrap();
    drop(store);
    let store = Store::open(&path, false).unwrap();
    assert_eq!(store.path(), path);
    assert_eq!(store.get(id).unwrap().unwrap().summary.title, "kept");
    assert_eq!(store.stats().unwrap().documents, 1);
}

#[test]
fn a_malformed_row_is_an_error_not_a_panic() {
    let (_dir, mut store) = store();
    let (id, _) = add_note(&mut store, SpaceId::random(), "x", 1);
    store
        .conn
        .execute(
            "UPDATE docs SET kind = 'poem' WHERE id = ?1",
            [id.to_string()],
        )
        .unwrap();
    assert!(matches!(store.get(id), Err(StoreError::Malformed(_))));
    store
        .conn
        .execute("UPDATE docs SET kind = 'note', author = 'nope'", [])
        .unwrap();
    assert!(matches!(
        store.list(&ListFilter::default()),
        Err(StoreError::Malformed(_))
    ));
}

/// The test clock of `a_deletion_is_dated_by_its_arrival_and_keeps_that_date`.
static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn test_clock() -> i64 {
    CLOCK.load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn a_deletion_is_dated_by_its_arrival_and_keeps_that_date() {
    use std::sync::atomic::Ordering::Relaxed;
    let (_dir, mut store) = store();
    store.set_clock(test_clock);
    let space = SpaceId::random();
    CLOCK.store(5_000, Relaxed);
    let (id, mut doc) = add_note(&mut store, space, "old plan", 1_000);
    assert_eq!(store.trashed_at(id).unwrap(), None, "not deleted");

    // Deleted in a change dated long before it arrives: dated by the arrival.
    doc.delete(edit(10)).unwrap();
    CLOCK.store(9_000, Relaxed);
    store.write(&[increment(&mut doc, space)]).unwrap();
    assert_eq!(store.trashed_at(id).unwrap(), Some(9_000));
    // Later writes to the deleted document (a compaction, another change) keep the date.
    CLOCK.store(20_000, Relaxed);
    let snapshot = snapshot(&mut doc, space);
    store.write(&[snapshot]).unwrap();
    assert_eq!(store.trashed_at(id).unwrap(), Some(9_000));
    let listed = store.trash(None, 9_000, 10).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].0.id, listed[0].1), (id, 9_000));
    // The tombstone as its document states it, from the row (the trash loads no document).
    let summary = &listed[0].0.summary;
    assert_eq!(
        (summary.deleted_at, summary.deleted_by),
        (Some(10), Some(member()))
    );
    assert!(store.trash(None, 9_001, 10).unwrap().is_empty());
    assert!(
        store
            .trash(Some(SpaceId::random()), 0, 10)
            .unwrap()
            .is_empty()
    );

    // Restored, then deleted again: a new date.
    doc.undelete(edit(21_000), 9_000).unwrap();
    store.write(&[increment(&mut doc, space)]).unwrap();
    assert_eq!(store.trashed_at(id).unwrap(), None);
    let live = store.get(id).unwrap().unwrap().summary;
    assert_eq!((live.deleted_at, live.deleted_by), (None, None));
    doc.delete(edit(22_000)).unwrap();
    CLOCK.store(30_000, Relaxed);
    store.write(&[increment(&mut doc, space)]).unwrap();
    assert_eq!(store.trashed_at(id).unwrap(), Some(30_000));
}

#[test]
fn a_write_keeps_what_the_note_refers_to_in_its_own_transaction() {
    let (_dir, mut store) = store();
    let space = SpaceId::random();
    let h = |c: char| c.to_string().repeat(64);
    let (_, mut doc) = add_note(&mut store, space, "plates", 1_000);
    for c in ['a', 'b'] {
        store.record_blob(&h(c), 10, 500, space).unwrap();
    }
    assert!(!store.blob_servable_in(space, &h('a')).unwrap());
    doc.edit_text(
        edit(2_000),
        NoteEdit {
            body: Some("![[plate.png]]".into()),
            ..NoteEdit::default()
        },
    )
    .unwrap();
    let with = |doc: &mut Doc, refs: Option<Vec<crate::BlobRef>>| DocWrite {
        blob_refs: refs,
        ..increment(doc, space)
    };
    store
        .write(&[with(&mut doc, Some(vec![(h('a'), 10), (h('b'), 20)]))])
        .unwrap();
    assert!(store.blob_servable_in(space, &h('a')).unwrap());
    assert_eq!(store.blob_spaces(&h('b')).unwrap(), vec![space]);
    assert!(!store.blob_servable_in(SpaceId::random(), &h('a')).unwrap());
    // `None` leaves them; a new list replaces them.
    doc.edit_text(
        edit(3_000),
        NoteEdit {
            title: Some("plates 2".into()),
            ..NoteEdit::default()
        },
    )
    .unwrap();
    store.write(&[with(&mut doc, None)]).unwrap();
    assert!(store.blob_servable_in(space, &h('a')).unwrap());
    doc.edit_text(
        edit(4_000),
        NoteEdit {
            title: Some("plates 3".into()),
            ..NoteEdit::default()
        },
    )
    .unwrap();
    store
        .write(&[with(&mut doc, Some(vec![(h('b'), 20)]))])
        .unwrap();
    assert!(!store.blob_servable_in(space, &h('a')).unwrap());
    assert!(store.blob_servable_in(space, &h('b')).unwrap());
}

/// A contribution dated years ahead by its writer is kept at the time it was first written
/// here, also when its document is written again later; one before the epoch at the epoch; one
/// a little ahead (another member's clock) as it is.
#[test]
fn contribution_times_are_kept_between_the_epoch_and_the_write() {
    use tacit_core::people::{Act, Contribution};
    let (_dir, mut store) = store();
    store.set_clock(|| 5_000);
    let space = SpaceId::random();
    let mut doc = Doc::new_note(
        DocId::random(),
        edit(1000),
        Draft {
            title: "dated".into(),
            ..Draft::default()
        },
    )
    .unwrap();
    let id = doc.id();
    let by = |n: u8, at: i64| Contribution {
        member: tacit_core::MemberId::from_bytes([n; 32]),
        act: Act::Wrote,
        doc: id,
        answer: None,
        tags: Vec::new(),
        words: Vec::new(),
        at,
        accepted: false,
        thanks: 0,
        score: 0,
    };
    let rows = vec![
        by(1, i64::MAX),
        by(2, i64::MIN),
        by(3, 4_000),
        by(4, 5_000 + 60_000),
    ];
    let times = |store: &Store| -> Vec<i64> {
        store
            .contributions(Some(space))
            .unwrap()
            .into_iter()
            .map(|(_, c)| c.at)
            .collect()
    };
    let mut write = snapshot(&mut doc, space);
    write.contributions = Some(rows.clone());
    store.write(&[write]).unwrap();
    assert_eq!(times(&store), [5_000, 0, 4_000, 65_000]);
    // Written again a day later: the row dated ahead keeps the time it was first written.
    store.set_clock(|| 86_400_000);
    let mut write = snapshot(&mut doc, space);
    write.contributions = Some(rows);
    store.write(&[write]).unwrap();
    assert_eq!(times(&store), [5_000, 0, 4_000, 65_000]);
}

/// A blob held for one space is served to members of another only once it is held for theirs
/// too (fetched from one of them, or attached to one of their notes here): naming its hash in a
/// note of another space is not enough. Until then it is wanted there like a blob not held.
#[test]
fn a_blob_is_served_only_to_the_spaces_it_is_held_for() {
    let (dir, mut store) = store();
    let (mine, theirs) = (SpaceId::random(), SpaceId::random());
    let hash = "c".repeat(64);
    let (_, mut secret) = add_note(&mut store, mine, "secret", 1_000);
    let (other_id, mut other) = add_note(&mut store, theirs, "names the hash", 1_000);
    let refer = |doc: &mut Doc, space: SpaceId| {
        doc.edit_text(
            edit(1_500),
            NoteEdit {
                body: Some("![[plate.png]]".into()),
                ..NoteEdit::default()
            },
        )
        .unwrap();
        DocWrite {
            blob_refs: Some(vec![(hash.clone(), 10)]),
            ..increment(doc, space)
        }
    };
    store
        .write(&[refer(&mut secret, mine), refer(&mut other, theirs)])
        .unwrap();
    store.record_blob(&hash, 10, 2_000, mine).unwrap();
    assert!(store.blob_servable_in(mine, &hash).unwrap());
    assert!(!store.blob_servable_in(theirs, &hash).unwrap());
    assert!(store.blob_held_for(mine, &hash).unwrap());
    assert!(!store.blob_held_for(theirs, &hash).unwrap());
    // It counts in the quota of the space it is held for only.
    assert_eq!(store.space_blob_bytes(mine).unwrap(), 10);
    assert_eq!(store.space_blob_bytes(theirs).unwrap(), 0);
    // Wanted for the other space although its bytes are here.
    assert_eq!(
        store.missing_blobs(100, 10).unwrap(),
        vec![(theirs, hash.clone(), 10)]
    );
    assert_eq!(
        store.blobs_wanted_by(other_id, 100).unwrap(),
        vec![(theirs, hash.clone(), 10)]
    );
    assert!(store.blobs_wanted_by(other_id, 9).unwrap().is_empty());
    // Fetched from a member of the other space: held for both.
    store.record_blob(&hash, 10, 3_000, theirs).unwrap();
    assert!(store.blob_servable_in(theirs, &hash).unwrap());
    assert_eq!(store.space_blob_bytes(theirs).unwrap(), 10);
    assert!(store.missing_blobs(100, 10).unwrap().is_empty());
    assert!(store.blobs_wanted_by(other_id, 100).unwrap().is_empty());
    // Removed: held for neither.
    store.forget_blob(&hash).unwrap();
    assert!(!store.blob_servable_in(mine, &hash).unwrap());
    assert_eq!(store.missing_blobs(100, 10).unwrap().len(), 2);

    // A blob held before this record existed (schema 8) counts as held for every space whose
    // notes refer to it.
    store.record_blob(&hash, 10, 4_000, mine).unwrap();
    store
        .conn
        .execute_batch(
            "DROP TABLE blob_held_for; ALTER TABLE docs DROP COLUMN deleted_at;
             ALTER TABLE docs DROP COLUMN deleted_by; PRAGMA user_version = 8;",
        )
        .unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("tacit.db"), false).unwrap();
    assert!(store.blob_servable_in(mine, &hash).unwrap());
    assert!(store.blob_servable_in(theirs, &hash).unwrap());
}
