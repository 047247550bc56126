//! Where members can be reached: this node's own signed record, and the records of other members
//! received from the peers it shares spaces with (see [`tacit_net::wire::MemberAddrs`]).
//!
//! Members meet each other, not only the inviter: each session tells its peer where the members
//! of the spaces they share are (the sender's own record among them), and the reconnect loop
//! dials them from the address book. A record is signed by the member it describes, so a peer
//! can pass it on but not forge or change it. Only records of members of this home's spaces are
//! kept ([`MAX_MEMBER_RECORDS`]); a record of someone not yet known as a member (a joiner whose
//! join op is still on its way) waits in a small LRU ([`MAX_PENDING_RECORDS`]) until it is one.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;
use tacit_core::{DeviceKey, MemberId};
use tacit_net::wire::{MAX_RECORD_ADDR_BYTES, MAX_RECORD_ADDRS, MemberAddrs};

/// Records of members kept at once: far more members than a home's spaces have, and a bound on
/// what peers can make a node hold (a record is at most 16 addresses of 256 bytes).
pub(crate) const MAX_MEMBER_RECORDS: usize = 1024;

/// Records of peers not yet known as members: the joins in progress at once (as the actor's
/// addresses of strangers).
pub(crate) const MAX_PENDING_RECORDS: NonZeroUsize = NonZeroUsize::new(64).expect("non-zero");

/// How far in the future a record's time may lie: clocks of different machines disagree by
/// seconds, rarely minutes. A record further ahead would shadow the member's next ones.
pub(crate) const MAX_CLOCK_AHEAD_MS: i64 = 10 * 60 * 1000;

/// What became of a received record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Newer than what was held: kept.
    Stored,
    /// Kept until its member is known as one.
    Pending,
    /// Not newer than the record held.
    Stale,
    /// Badly signed, over a limit, or dated too far ahead.
    Invalid,
}

/// The records of other members (see the module doc).
pub(crate) struct AddrBook {
    members: HashMap<MemberId, MemberAddrs>,
    pending: LruCache<MemberId, MemberAddrs>,
}

impl Default for AddrBook {
    fn default() -> Self {
        Self {
            members: HashMap::new(),
            pending: LruCache::new(MAX_PENDING_RECORDS),
        }
    }
}

impl AddrBook {
    /// Takes a received record if it is valid and newer than the one held.
    pub(crate) fn offer(
        &mut self,
        record: MemberAddrs,
        is_member: impl Fn(&MemberId) -> bool,
        now: i64,
    ) -> Offered {
        if record.at > now.saturating_add(MAX_CLOCK_AHEAD_MS) {
            return Offered::Invalid;
        }
        // Staleness first: a record no newer than the one held changes nothing, whoever signed
        // it, so its signature is not checked (a member replaying one record 256 times a
        // message had each checked).
        let member = record.member;
        let held = self
            .members
            .get(&member)
            .or_else(|| self.pending.peek(&member))
            .map(|r| r.at);
        if held.is_some_and(|at| at >= record.at) {
            return Offered::Stale;
        }
        if !record.verify() {
            return Offered::Invalid;
        }
        if is_member(&member) {
            if !self.members.contains_key(&member) && self.members.len() >= MAX_MEMBER_RECORDS {
                return Offered::Stale;
            }
            self.pending.pop(&member);
            self.members.insert(member, record);
            Offered::Stored
        } else {
            self.pending.put(member, record);
            Offered::Pending
        }
    }

    /// Moves waiting records of peers that are members now into the book, drops records of
    /// those who no longer are; returns the records moved in.
    pub(crate) fn refresh(&mut self, is_member: impl Fn(&MemberId) -> bool) -> Vec<MemberAddrs> {
        self.members.retain(|m, _| is_member(m));
        let now_members: Vec<MemberId> = self
            .pending
            .iter()
            .map(|(m, _)| *m)
            .filter(|m| is_member(m))
            .collect();
        let mut moved = Vec::new();
        for m in now_members {
            if self.members.len() >= MAX_MEMBER_RECORDS {
                break;
            }
            if let Some(r) = self.pending.pop(&m) {
                self.members.insert(m, r.clone());
                moved.push(r);
            }
        }
        moved
    }

    /// The record of a member, if held.
    #[cfg(test)]
    pub(crate) fn get(&self, member: &MemberId) -> Option<&MemberAddrs> {
        self.members.get(member)
    }

    /// Every member record held.
    pub(crate) fn records(&self) -> impl Iterator<Item = &MemberAddrs> {
        self.members.values()
    }
}

/// How often a member's addresses may be written to this node's store. An honest member makes
/// a new record only when its addresses change; a hostile one can sign a new record for every
/// message, and each write is a transaction synced to disk on the actor's thread.
pub(crate) const BOOK_GAP: Duration = Duration::from_secs(10);

/// After how long the same addresses of a member are written again: the address book keeps
/// the most recently seen addresses, and may have let these go since.
pub(crate) const BOOK_REFRESH: Duration = Duration::from_secs(600);

/// Where a member's addresses came from: each source is limited on its own, so that the two do
/// not hold each other back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// Its signed record, from any peer.
    Record,
    /// What it told this node by identify (each push, as often as it likes).
    Identify,
}

/// A member and where its addresses came from.
pub(crate) type BookKey = (MemberId, Source);

/// Which members' addresses go to the store, and when: the addresses last written are not
/// written again within [`BOOK_REFRESH`], and a member's changed addresses wait until
/// [`BOOK_GAP`] after its last write from the same [`Source`] (the newest waiting addresses
/// replace older ones). Members only: a record of someone not yet a member is kept in memory by
/// the actor, and written when they become one.
pub(crate) struct Booking {
    written: LruCache<BookKey, (Instant, Vec<String>)>,
    waiting: LruCache<BookKey, Vec<String>>,
}

impl Default for Booking {
    fn default() -> Self {
        // Each member from each source.
        let keys = NonZeroUsize::new(2 * MAX_MEMBER_RECORDS).expect("non-zero");
        Self {
            written: LruCache::new(keys),
            waiting: LruCache::new(keys),
        }
    }
}

impl Booking {
    /// The addresses to write now for `key`, if any; otherwise they wait (see [`Booking::due`])
    /// or are already written.
    pub(crate) fn offer(
        &mut self,
        key: BookKey,
        addrs: Vec<String>,
        now: Instant,
    ) -> Option<Vec<String>> {
        if let Some((at, last)) = self.written.get(&key) {
            let since = now.saturating_duration_since(*at);
            if *last == addrs && since < BOOK_REFRESH {
                self.waiting.pop(&key);
                return None;
            }
            if since < BOOK_GAP {
                self.waiting.put(key, addrs);
                return None;
            }
        }
        self.waiting.pop(&key);
        self.written.put(key, (now, addrs.clone()));
        Some(addrs)
    }

    /// Forgets what was written for `key` (the write failed): its next addresses are written
    /// at once.
    pub(crate) fn forget(&mut self, key: &BookKey) {
        self.written.pop(key);
    }

    /// The waiting addresses whose member's gap has passed, to write now.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(BookKey, Vec<String>)> {
        let ready: Vec<BookKey> = self
            .waiting
            .iter()
            .map(|(m, _)| *m)
            .filter(|m| {
                self.written
                    .peek(m)
                    .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= BOOK_GAP)
            })
            .collect();
        ready
            .into_iter()
            .filter_map(|m| {
                let addrs = self.waiting.pop(&m)?;
                self.written.put(m, (now, addrs.clone()));
                Some((m, addrs))
            })
            .collect()
    }
}

/// This node's own record: its addresses (within the record limits) and whether it serves as a
/// relay, signed with its device key, dated after `after` (the previous record's time).
pub(crate) fn own_record(
    key: &DeviceKey,
    addrs: &[String],
    relay: bool,
    now: i64,
    after: i64,
) -> MemberAddrs {
    let addrs: Vec<String> = addrs
        .iter()
        .filter(|a| a.len() <= MAX_RECORD_ADDR_BYTES)
        .take(MAX_RECORD_ADDRS)
        .cloned()
        .collect();
    let mut record = MemberAddrs {
        member: key.member_id(),
        addrs,
        relay,
        at: now.max(after.saturating_add(1)),
        sig: [[0; 32]; 2],
    };
    let sig = key.sign(&record.signed_bytes());
    record.sig[0].copy_from_slice(&sig[..32]);
    record.sig[1].copy_from_slice(&sig[32..]);
    record
}

/// The addresses of a record in the order the address book keeps them (it keeps a few per peer):
/// circuit addresses first, as they work from anywhere, then the others.
pub(crate) fn book_order(record: &MemberAddrs) -> Vec<String> {
    let (circuit, direct): (Vec<&String>, Vec<&String>) = record
        .addrs
        .iter()
        .partition(|a| crate::netview::is_circuit(a));
    circuit.into_iter().chain(direct).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> DeviceKey {
        DeviceKey::from_secret([n; 32])
    }

    #[test]
    fn the_newest_valid_record_of_a_member_is_kept() {
        let mut book = AddrBook::default();
        let a = key(1);
        let yes = |_: &MemberId| true;
        let old = own_record(&a, &["/ip4/192.0.2.1/tcp/1".into()], false, 1000, 0);
        let new = own_record(&a, &["/ip4/192.0.2.1/tcp/2".into()], false, 2000, 0);
        assert_eq!(book.offer(new.clone(), yes, 3000), Offered::Stored);
        assert_eq!(book.offer(old, yes, 3000), Offered::Stale);
        assert_eq!(book.get(&a.member_id()), Some(&new));
        // No newer than the one held: stale, unchecked, and it changes nothing.
        let mut replayed_forged = new.clone();
        replayed_forged.addrs = vec!["/ip4/203.0.113.66/tcp/1".into()];
        assert_eq!(book.offer(replayed_forged, yes, 3000), Offered::Stale);
        assert_eq!(book.get(&a.member_id()), Some(&new));
        let mut forged = new.clone();
        forged.at = 5000;
        forged.addrs = vec!["/ip4/203.0.113.66/tcp/1".into()];
        assert_eq!(book.offer(forged, yes, 6000), Offered::Invalid);
        let ahead = own_record(&a, &[], false, 10_000_000, 0);
        assert_eq!(book.offer(ahead, yes, 0), Offered::Invalid);
    }

    #[test]
    fn a_record_of_a_peer_not_yet_a_member_waits_until_it_is() {
        let mut book = AddrBook::default();
        let b = key(2);
        let rec = own_record(&b, &["/ip4/192.0.2.2/tcp/1".into()], true, 1000, 0);
        assert_eq!(book.offer(rec.clone(), |_| false, 1000), Offered::Pending);
        assert!(book.get(&b.member_id()).is_none());
        assert!(book.refresh(|_| false).is_empty());
        assert_eq!(book.refresh(|_| true), vec![rec]);
        assert!(book.get(&b.member_id()).is_some());
        book.refresh(|_| false);
        assert!(
            book.get(&b.member_id()).is_none(),
            "a removed member's record goes"
        );
    }

    #[test]
    fn an_own_record_is_dated_after_the_last_and_within_the_limits() {
        let me = key(3);
        let many: Vec<String> = (0..40).map(|i| format!("/ip4/192.0.2.3/tcp/{i}")).collect();
        let r = own_record(&me, &many, false, 500, 900);
        assert_eq!(r.at, 901);
        assert_eq!(r.addrs.len(), MAX_RECORD_ADDRS);
        assert!(r.verify());
    }

    #[test]
    fn circuit_addresses_come_first_for_the_address_book() {
        let me = key(4);
        let r = own_record(
            &me,
            &[
                "/ip4/192.168.1.2/tcp/4001".into(),
                "/ip4/203.0.113.10/tcp/4001/p2p/R/p2p-circuit/p2p/ME".into(),
            ],
            false,
            1,
            0,
        );
        assert!(book_order(&r)[0].contains("p2p-circuit"));
    }

    /// A member that signs a new record for every message gets its addresses written at most
    /// once per [`BOOK_GAP`], the newest of them; the same addresses are not written again.
    #[test]
    fn a_members_addresses_are_written_at_most_once_per_gap() {
        let mut booking = Booking::default();
        let (a, b) = (
            (key(5).member_id(), Source::Record),
            (key(6).member_id(), Source::Record),
        );
        let at = |n: u32| vec![format!("/ip4/192.0.2.1/tcp/{n}")];
        let t0 = Instant::now();
        assert_eq!(
            booking.offer(a, at(1), t0),
            Some(at(1)),
            "the first is written"
        );
        assert_eq!(booking.offer(a, at(1), t0), None, "the same again is not");
        // A flood of changed addresses within the gap: none written, the newest waits.
        for n in 2..1000 {
            let now = t0 + Duration::from_millis(u64::from(n));
            assert_eq!(booking.offer(a, at(n), now), None);
        }
        assert_eq!(
            booking.offer(b, at(7), t0),
            Some(at(7)),
            "another member is its own"
        );
        assert_eq!(
            booking.offer((a.0, Source::Identify), at(8), t0),
            Some(at(8)),
            "what the member tells by identify is its own"
        );
        assert!(booking.due(t0 + BOOK_GAP / 2).is_empty());
        assert_eq!(booking.due(t0 + BOOK_GAP), vec![(a, at(999))]);
        assert!(booking.due(t0 + BOOK_GAP * 3).is_empty(), "written once");
        // Back to the addresses last written while some wait: nothing is left to write.
        let t1 = t0 + BOOK_GAP;
        assert_eq!(booking.offer(a, at(5), t1), None);
        assert_eq!(booking.offer(a, at(999), t1), None);
        assert!(booking.due(t1 + BOOK_GAP).is_empty());
        // After the gap, a change is written at once.
        let t2 = t1 + BOOK_GAP;
        assert_eq!(booking.offer(a, at(6), t2), Some(at(6)));
        // The same addresses again after a while, as the address book may have let them go.
        assert_eq!(booking.offer(a, at(6), t2 + BOOK_REFRESH), Some(at(6)));
        // A write that failed is forgotten: the next addresses go at once.
        booking.forget(&b);
        assert_eq!(booking.offer(b, at(7), t0 + BOOK_GAP / 2), Some(at(7)));
    }
}
