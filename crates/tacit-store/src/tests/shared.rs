//! Shared spaces in the store: membership ops, heads, the address book, removing a space.

use tacit_core::SpaceId;

use super::add_note;
use super::store::store;
use crate::{ADDRESSES_PER_PEER, SpaceRow};

fn row(id: SpaceId) -> SpaceRow {
    SpaceRow {
        id,
        name: "Team".into(),
        personal: false,
        created_at: 1,
    }
}

#[test]
fn ops_form_a_set_and_a_removed_space_leaves_nothing_behind() {
    let (_dir, mut store) = store();
    let team = SpaceId::random();
    let personal = SpaceId::random();
    store
        .add_shared_space(&row(team), &[([1; 32], vec![1, 2, 3])])
        .unwrap();
    assert_eq!(
        store
            .add_ops(team, &[([1; 32], vec![1, 2, 3]), ([2; 32], vec![4])])
            .unwrap(),
        1
    );
    assert_eq!(store.ops(team).unwrap(), vec![vec![1, 2, 3], vec![4]]);
    let (shared_doc, _) = add_note(&mut store, team, "shared", 1);
    let (own_doc, _) = add_note(&mut store, personal, "mine", 2);
    store.set_heads(shared_doc, [9; 8]).unwrap();
    assert_eq!(
        store.doc_heads(team).unwrap(),
        vec![(shared_doc, Some([9; 8]))]
    );

    store.remove_space(team).unwrap();
    assert!(store.space(team).unwrap().is_none());
    assert!(store.ops(team).unwrap().is_empty());
    assert!(store.get(shared_doc).unwrap().is_none());
    assert!(store.load_chunks(shared_doc).is_err());
    assert!(
        store.get(own_doc).unwrap().is_some(),
        "other spaces are untouched"
    );
}

#[test]
fn the_address_book_keeps_the_most_recent_addresses_per_peer() {
    let (_dir, mut store) = store();
    for i in 0..(ADDRESSES_PER_PEER as i64 + 3) {
        store
            .note_addresses("peer-a", &[&format!("/ip4/127.0.0.1/tcp/{}", 1000 + i)], i)
            .unwrap();
    }
    store
        .note_addresses("peer-b", &["/ip4/127.0.0.1/tcp/9"], 5)
        .unwrap();
    let book = store.addresses().unwrap();
    let a: Vec<_> = book.iter().filter(|a| a.peer == "peer-a").collect();
    assert_eq!(a.len(), ADDRESSES_PER_PEER);
    assert!(
        a.iter().all(|a| a.last_seen >= 3),
        "the oldest were dropped"
    );
    assert_eq!(book.iter().filter(|a| a.peer == "peer-b").count(), 1);
}
