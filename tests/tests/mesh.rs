//! Members meet each other, not only the inviter: four `tacit serve` on 127.0.0.1 with mDNS
//! off, three of them joined by the first one's ticket. Members share where they can be reached
//! (signed address records, inside the spaces they share) and dial each other, so every member
//! connects to every other, and when the inviter stops the others go on syncing among
//! themselves.

mod common;

use common::{invite, new_note, new_space, wait_connected, wait_for_note};
use tacit_tests::NetHome;

#[test]
fn four_members_joined_by_one_ticket_meet_each_other_and_sync_without_the_inviter() {
    let inviter = NetHome::init("Ines");
    let others = [
        NetHome::init("Ben"),
        NetHome::init("Cleo"),
        NetHome::init("Dev"),
    ];
    let inviter_serving = inviter.serve();
    let serving: Vec<_> = others.iter().map(NetHome::serve).collect();

    new_space(&inviter, "Mesh");
    let ticket = invite(&inviter, "Mesh", &["--uses", "3"]);
    for home in &others {
        let joined = home.json(&["space", "join", &ticket]);
        assert_eq!(joined["name"], "Mesh", "{joined}");
    }

    // Each member connects to every other one, although the ticket named only the inviter.
    let everyone: Vec<&str> = std::iter::once(inviter_serving.peer_id())
        .chain(serving.iter().map(|s| s.peer_id()))
        .collect();
    for (i, home) in others.iter().enumerate() {
        let me = serving[i].peer_id();
        let rest: Vec<&str> = everyone.iter().copied().filter(|p| *p != me).collect();
        wait_connected(home, &format!("member {i}"), &rest);
    }

    // The inviter leaves; the others keep syncing with each other.
    let (clean, log) = inviter_serving.stop();
    assert!(clean, "the inviter's node did not stop cleanly:\n{log}");
    let from_ben = new_note(&others[0], "Mesh", "After Ines left", "Ben writes\n");
    wait_for_note(&others[1], "Cleo", "Mesh", &from_ben);
    wait_for_note(&others[2], "Dev", "Mesh", &from_ben);
    let from_dev = new_note(&others[2], "Mesh", "Dev answers", "still here\n");
    wait_for_note(&others[0], "Ben", "Mesh", &from_dev);
    wait_for_note(&others[1], "Cleo", "Mesh", &from_dev);
}
