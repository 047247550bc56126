//! Tests over real SQLite files in temporary directories.

mod home;
mod opening;
mod parts;
mod shared;
mod store;

use std::path::Path;

use tacit_core::{DeviceKey, Doc, DocId, Draft, Edit, MemberId, SpaceId};

use crate::{Chunk, DocWrite, Store};

/// The member every test edits as.
fn member() -> MemberId {
    DeviceKey::from_secret([42; 32]).member_id()
}

fn edit(at: i64) -> Edit<'static> {
    Edit::new(member(), at)
}

/// A write of `doc` (in `space`) carrying `chunk`, with nothing else.
pub(super) fn write_of(doc: &mut Doc, space: SpaceId, chunk: Chunk) -> DocWrite {
    DocWrite {
        heads: None,
        id: doc.id(),
        space,
        summary: doc.summary().unwrap(),
        chunk,
        sigs: Vec::new(),
        writers: Vec::new(),
        contributions: None,
        blob_refs: None,
    }
}

/// A write of the whole of `doc`.
pub(super) fn snapshot(doc: &mut Doc, space: SpaceId) -> DocWrite {
    let chunk = Chunk::Snapshot(doc.save());
    write_of(doc, space, chunk)
}

/// A new note, written to the store as a snapshot.
fn add_note(store: &mut Store, space: SpaceId, title: &str, at: i64) -> (DocId, Doc) {
    let id = DocId::random();
    let draft = Draft {
        title: title.into(),
        body: format!("body of {title}"),
        tags: vec!["test".into()],
        aliases: Vec::new(),
    };
    let mut doc = Doc::new_note(id, edit(at), draft).unwrap();
    let write = snapshot(&mut doc, space);
    store.write(&[write]).unwrap();
    (id, doc)
}

/// A database in `dir` holding `notes` notes with sizeable bodies, closed (WAL checkpointed).
fn filled_db(dir: &Path, notes: usize) -> std::path::PathBuf {
    let path = dir.join("tacit.db");
    let mut store = Store::open(&path, true).unwrap();
    let space = SpaceId::random();
    for i in 0..notes {
        let id = DocId::random();
        let draft = Draft {
            title: format!("note {i}"),
            body: format!("{i} lorem ipsum dolor sit amet ").repeat(100),
            tags: vec![],
            aliases: Vec::new(),
        };
        let mut doc = Doc::new_note(id, edit(i as i64), draft).unwrap();
        let write = snapshot(&mut doc, space);
        store.write(&[write]).unwrap();
    }
    store.checkpoint().unwrap();
    drop(store);
    path
}
