//! Who wrote each change of a document, proved: every change is signed with its author's member
//! key, names the membership state it was written under, and counts only if its author could
//! write then and still can, or wrote it before losing the right (the cut of the removal).
//!
//! ```text
//! signature = Ed25519(author, "tacit-change-v1\0" ‖ scope ‖ document id ‖ change hash)
//! scope     = the space id (16 bytes); zeros for a profile, which travels into every space
//! message   = "tacit:1:" ‖ hex(op hash) ‖ "," ‖ …   the membership heads it was written under
//! ```
//!
//! The change hash covers the change's bytes, message included, so the signature covers the
//! membership state it names. The signature, not the actor id, proves authorship: whoever relays a
//! change, it counts only with its author's signature.
//!
//! **Why backdating does not work.** A removed or demoted member can still sign changes and name
//! any membership state in them, an old one included, and any time. Neither decides: a change by
//! a member who cannot write now counts only if it is in the history of the last change of theirs
//! that the remover held (the *cut* recorded in the removal op, a hash per document), or if a
//! member who can write built on it before knowing of the removal (its own change names a
//! membership state without the removal). A change written after the removal is in neither: the
//! cut names hashes, and no change made later is in the history of a hash fixed before it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::ChangeHash;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{Doc, Kind};
use crate::id::{DocId, MemberId, SpaceId};
use crate::key::DeviceKey;
use crate::space::{Membership, OpHash, WriteCut};

const CHANGE_DOMAIN: &[u8] = b"tacit-change-v1\0";
const UNDER_PREFIX: &str = "tacit:1:";

/// The scope profiles are signed in: they travel into every space their member is in.
pub const PROFILE_SCOPE: SpaceId = SpaceId::from_bytes([0; 16]);

/// The scope a change of a document of `kind` in `space` is signed in: profiles travel into
/// every space, so they are signed in none.
pub fn scope_of(kind: Kind, space: SpaceId) -> SpaceId {
    if kind == Kind::Profile {
        PROFILE_SCOPE
    } else {
        space
    }
}

/// One change's signature, as stored and sent: the change hash and the author's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChangeSig {
    /// The Automerge change hash.
    pub hash: [u8; 32],
    /// The Ed25519 signature, in two halves (serde has no 64-byte arrays).
    pub sig: [[u8; 32]; 2],
}

impl ChangeSig {
    /// Signs a change of `doc` in `scope` (a space id, or [`PROFILE_SCOPE`]).
    pub fn sign(key: &DeviceKey, scope: SpaceId, doc: DocId, hash: &[u8; 32]) -> Self {
        let sig = key.sign(&message(scope, doc, hash));
        let mut halves = [[0u8; 32]; 2];
        halves[0].copy_from_slice(&sig[..32]);
        halves[1].copy_from_slice(&sig[32..]);
        Self {
            hash: *hash,
            sig: halves,
        }
    }

    /// Whether this is `author`'s signature of the change in `scope` and `doc`.
    pub fn verify(&self, author: &MemberId, scope: SpaceId, doc: DocId) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(author.as_bytes()) else {
            return false;
        };
        let mut joined = [0u8; 64];
        joined[..32].copy_from_slice(&self.sig[0]);
        joined[32..].copy_from_slice(&self.sig[1]);
        key.verify_strict(
            &message(scope, doc, &self.hash),
            &Signature::from_bytes(&joined),
        )
        .is_ok()
    }

    /// The signature as 64 bytes.
    pub fn sig_bytes(&self) -> [u8; 64] {
        let mut joined = [0u8; 64];
        joined[..32].copy_from_slice(&self.sig[0]);
        joined[32..].copy_from_slice(&self.sig[1]);
        joined
    }

    /// From a stored hash and 64 signature bytes.
    pub fn from_parts(hash: [u8; 32], sig: &[u8; 64]) -> Self {
        let mut halves = [[0u8; 32]; 2];
        halves[0].copy_from_slice(&sig[..32]);
        halves[1].copy_from_slice(&sig[32..]);
        Self { hash, sig: halves }
    }
}

fn message(scope: SpaceId, doc: DocId, hash: &[u8; 32]) -> Vec<u8> {
    let mut m = CHANGE_DOMAIN.to_vec();
    m.extend_from_slice(scope.as_bytes());
    m.extend_from_slice(doc.as_bytes());
    m.extend_from_slice(hash);
    m
}

/// The commit message naming the membership heads a change is written under.
pub fn under_message(heads: &[OpHash]) -> String {
    let mut s = String::with_capacity(UNDER_PREFIX.len() + heads.len() * 65);
    s.push_str(UNDER_PREFIX);
    for (i, h) in heads.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&h.to_string());
    }
    s
}

/// The membership heads a commit message names; `None` when it names none (or is not ours).
pub fn parse_under(message: Option<&str>) -> Option<Vec<OpHash>> {
    let rest = message?.strip_prefix(UNDER_PREFIX)?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let heads: Option<Vec<OpHash>> = rest.split(',').map(|h| h.parse().ok()).collect();
    heads.filter(|h| h.len() <= crate::space::MAX_DEPS)
}

/// A change as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    /// Its hash.
    pub hash: [u8; 32],
    /// Its author, when its actor is a member id.
    pub author: Option<MemberId>,
    /// Its sequence number among its actor's changes to this document.
    pub seq: u64,
    /// The changes it was made after.
    pub deps: Vec<[u8; 32]>,
    /// The membership heads it names, if any.
    pub under: Option<Vec<OpHash>>,
    /// Its time in ms (Automerge records whole seconds); shown, never trusted.
    pub at: i64,
    /// How many operations it holds (a character typed or deleted is one).
    pub ops: u64,
}

/// What the rules say of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It counts.
    Counts,
    /// It names membership ops this node does not hold yet: decide once they arrive.
    Later,
    /// It does not count.
    Refused(&'static str),
}

impl Doc {
    /// Every change not in the history of `heads` (all changes for empty `heads`), in causal
    /// order.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<NewChange> {
        self.am
            .get_changes_meta(heads)
            .iter()
            .map(|c| NewChange {
                hash: c.hash.0,
                author: MemberId::from_actor_id(&c.actor),
                seq: c.seq,
                deps: c.deps.iter().map(|d| d.0).collect(),
                under: parse_under(c.message.as_deref()),
                at: c.timestamp.saturating_mul(1000),
                ops: c.max_op.saturating_sub(c.start_op).saturating_add(1),
            })
            .collect()
    }

    /// Signs this member's changes in `changes` (the others are left out).
    pub fn sign_changes(
        &self,
        key: &DeviceKey,
        scope: SpaceId,
        changes: &[NewChange],
    ) -> Vec<ChangeSig> {
        let me = key.member_id();
        changes
            .iter()
            .filter(|c| c.author == Some(me))
            .map(|c| ChangeSig::sign(key, scope, self.id, &c.hash))
            .collect()
    }
}

/// Checks that every change in `changes` carries its author's valid signature among `sigs`.
/// Returns the hashes of those that do not.
pub fn unsigned(
    scope: SpaceId,
    doc: DocId,
    changes: &[NewChange],
    sigs: &HashMap<[u8; 32], ChangeSig>,
) -> BTreeSet<[u8; 32]> {
    changes
        .iter()
        .filter(|c| {
            let Some(author) = c.author else { return true };
            !sigs
                .get(&c.hash)
                .is_some_and(|s| s.verify(&author, scope, doc))
        })
        .map(|c| c.hash)
        .collect()
}

/// What a look at received changes found before they reach a document ([`screen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// Every signature sent is its change author's. `unsigned` are the changes sent without
    /// one: an honest node sends those only when the receiver holds them already (the history
    /// under a whole document it pushes), so the receiver takes the message only if it does.
    Fine {
        /// Hashes of the changes without a signature.
        unsigned: Vec<[u8; 32]>,
    },
    /// They would inflate past [`super::chunks::MAX_INFLATED_BYTES`]: no honest node sends that.
    Bomb,
    /// Not Automerge changes.
    Malformed,
    /// `forged` of the changes came with a signature that is not their author's (or not a
    /// member's actor id at all): no honest node relays one.
    Forged {
        /// How many.
        forged: usize,
    },
}

/// Screens change bytes received for `doc` (the chunks of a push or of a sync message, changes or
/// a whole document) without the document at hand, so that the work a hostile peer can make a
/// node do happens off the node's actor: their inflated size is counted within the budget, and
/// each change's signature is checked against the member its actor id names, in any of `scopes`
/// (the space, and [`PROFILE_SCOPE`] when the document may be a profile). An honest node never
/// sends a bomb, malformed bytes or a change without its author's signature: it keeps none.
pub fn screen<'a>(
    scopes: &[SpaceId],
    doc: DocId,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    sigs: &[ChangeSig],
) -> Screened {
    use super::chunks::{ChunkError, MAX_INFLATED_BYTES, check_inflation, split};
    let by_hash: HashMap<[u8; 32], &ChangeSig> = sigs.iter().map(|s| (s.hash, s)).collect();
    let mut inflated: u64 = 0;
    let mut forged = 0;
    let mut unsigned = Vec::new();
    for bytes in chunks {
        match check_inflation(bytes, MAX_INFLATED_BYTES.saturating_sub(inflated)) {
            Ok(n) => inflated = inflated.saturating_add(n),
            Err(ChunkError::TooLarge) => return Screened::Bomb,
            Err(ChunkError::Malformed(_)) => return Screened::Malformed,
        }
        let Ok(pieces) = split(bytes) else {
            return Screened::Malformed;
        };
        let mut check = |actor: &automerge::ActorId, hash: &ChangeHash| {
            let author = MemberId::from_actor_id(actor);
            match by_hash.get(&hash.0) {
                None if author.is_some() => unsigned.push(hash.0),
                Some(s)
                    if author
                        .is_some_and(|a| scopes.iter().any(|scope| s.verify(&a, *scope, doc))) => {}
                _ => forged += 1,
            }
        };
        for (kind, piece) in pieces {
            match kind {
                1 | 2 => {
                    // Automerge panics on some hostile changes (an op counter past u32, found
                    // by fuzzing): malformed, like a change it refuses.
                    let parsed = std::panic::catch_unwind(|| automerge::Change::try_from(piece));
                    let Ok(Ok(change)) = parsed else {
                        return Screened::Malformed;
                    };
                    check(change.actor_id(), &change.hash());
                }
                0 => {
                    // A whole document (Automerge's sync sends one to a peer that has nothing).
                    let loaded = std::panic::catch_unwind(|| automerge::Automerge::load(piece));
                    let Ok(Ok(whole)) = loaded else {
                        return Screened::Malformed;
                    };
                    for c in whole.get_changes_meta(&[]) {
                        check(&c.actor, &c.hash);
                    }
                }
                // A bundle: `check_inflation` above refused it already.
                _ => {}
            }
        }
    }
    if forged > 0 {
        Screened::Forged { forged }
    } else {
        Screened::Fine { unsigned }
    }
}

/// What [`authorize`] says of received changes that can be told without their document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prejudged {
    /// None is refused or waits by these rules: apply them, and judge them in full.
    Open,
    /// One names membership ops not known here yet.
    Later,
    /// One is refused whatever its document holds: its actor is no member, it names no
    /// membership state, or its author never had write rights in the space.
    Refused(&'static str),
}

/// The rules of [`authorize`] that need no document, applied to change bytes before they are
/// applied (the chunks of a push, or the changes of a sync message): changes bound to be dropped
/// then cost no rebuild of the document they would have joined. A whole-document chunk is left
/// to [`authorize`]; malformed bytes are left to the load that refuses them.
pub fn prejudge<'a>(m: &Membership, chunks: impl IntoIterator<Item = &'a [u8]>) -> Prejudged {
    let mut later = false;
    for bytes in chunks {
        let Ok(pieces) = super::chunks::split(bytes) else {
            return Prejudged::Open;
        };
        for (kind, piece) in pieces {
            if !matches!(kind, 1 | 2) {
                continue;
            }
            let parsed = std::panic::catch_unwind(|| automerge::Change::try_from(piece));
            let Ok(Ok(change)) = parsed else {
                return Prejudged::Open;
            };
            let author = MemberId::from_actor_id(change.actor_id());
            match without_document(m, author, parse_under(change.message()).as_deref()) {
                Some(Verdict::Refused(why)) => return Prejudged::Refused(why),
                Some(Verdict::Later) => later = true,
                Some(Verdict::Counts) | None => {}
            }
        }
    }
    if later {
        Prejudged::Later
    } else {
        Prejudged::Open
    }
}

/// The change graph of one document, built when a rule needs ancestry.
struct Graph {
    deps: HashMap<[u8; 32], Vec<[u8; 32]>>,
    by_author: HashMap<MemberId, Vec<NewChange>>,
    all: Vec<NewChange>,
}

impl Graph {
    fn of(doc: &mut Doc) -> Self {
        let all = doc.changes_since(&[]);
        let mut by_author: HashMap<MemberId, Vec<NewChange>> = HashMap::new();
        for c in &all {
            if let Some(a) = c.author {
                by_author.entry(a).or_default().push(c.clone());
            }
        }
        Self {
            deps: all.iter().map(|c| (c.hash, c.deps.clone())).collect(),
            by_author,
            all,
        }
    }

    /// Whether `target` is `from` or in its history.
    fn in_history(&self, target: &[u8; 32], from: &[u8; 32]) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![*from];
        while let Some(h) = todo.pop() {
            if h == *target {
                return true;
            }
            if seen.insert(h)
                && let Some(deps) = self.deps.get(&h)
            {
                todo.extend(deps.iter().copied());
            }
        }
        false
    }
}

/// Decides, for each change in `changes` (new changes to `doc`, applied to it already), whether
/// it counts in a document of the space whose membership is `m`:
///
/// - it must name the membership state it was written under, and this node must hold it;
/// - its author must write in the space now; or, having lost the right (removal or demotion),
///   the change must be in the history of the author's last change in this document as the
///   remover held it (the cut), or in the history of a change by a current writer who had not
///   seen the removal when building on it.
///
/// Signatures are checked apart ([`unsigned`]).
pub fn authorize(doc: &mut Doc, m: &Membership, changes: &[NewChange]) -> Vec<Verdict> {
    let mut graph: Option<Graph> = None;
    changes
        .iter()
        .map(|c| {
            if let Some(verdict) = without_document(m, c.author, c.under.as_deref()) {
                return verdict;
            }
            // `without_document` decided every change but one by a member with a cut.
            let (Some(author), Some(wc)) = (c.author, c.author.and_then(|a| m.write_cut(&a)))
            else {
                return Verdict::Refused("its author never had write rights in the space");
            };
            let g = graph.get_or_insert_with(|| Graph::of(doc));
            if in_cut(g, doc.id, author, wc, &c.hash) || vouched(g, m, author, wc, &c.hash) {
                Verdict::Counts
            } else {
                Verdict::Refused("its author had lost write rights when writing it")
            }
        })
        .collect()
}

/// The verdict on a change by `author` under the membership state `under` when it needs no
/// document: refused (no member actor, no state named, an author who never wrote in the space),
/// later (a state not known here), counts (a current writer); `None` when the author lost write
/// rights and the document must tell ([`authorize`]). Shared by [`authorize`] and [`prejudge`].
fn without_document(
    m: &Membership,
    author: Option<MemberId>,
    under: Option<&[OpHash]>,
) -> Option<Verdict> {
    let Some(author) = author else {
        return Some(Verdict::Refused("its actor is not a member id"));
    };
    let Some(under) = under else {
        return Some(Verdict::Refused("it names no membership state"));
    };
    if under.iter().any(|h| !m.knows(h)) {
        return Some(Verdict::Later);
    }
    if m.can_write(&author) {
        return Some(Verdict::Counts);
    }
    if m.write_cut(&author).is_none() {
        return Some(Verdict::Refused(
            "its author never had write rights in the space",
        ));
    }
    None
}

/// Whether `change` is in the history of `author`'s last change to the document as the cut
/// records it.
fn in_cut(g: &Graph, doc: DocId, author: MemberId, wc: &WriteCut, change: &[u8; 32]) -> bool {
    let Some(head) = wc.cut.get(doc.as_bytes()) else {
        return false;
    };
    let Some(last) = g
        .by_author
        .get(&author)
        .and_then(|cs| cs.iter().find(|c| c.hash[..8] == head[..]))
    else {
        return false;
    };
    g.in_history(change, &last.hash)
}

/// Whether a current writer other than `author` built on `change` without knowing of the op that
/// took `author`'s right.
fn vouched(g: &Graph, m: &Membership, author: MemberId, wc: &WriteCut, change: &[u8; 32]) -> bool {
    g.all.iter().any(|v| {
        v.hash != *change
            && v.author.is_some_and(|b| b != author && m.can_write(&b))
            && v.under
                .as_ref()
                .is_some_and(|u| u.iter().all(|h| m.knows(h)) && !m.in_history(&wc.op, u))
            && g.in_history(change, &v.hash)
    })
}

/// For each author, their last change in `changes` (the highest sequence number): what a cut
/// records, and what the store keeps per document and writer.
pub fn last_by_author(changes: &[NewChange]) -> BTreeMap<MemberId, (u64, [u8; 32])> {
    let mut out: BTreeMap<MemberId, (u64, [u8; 32])> = BTreeMap::new();
    for c in changes {
        if let Some(a) = c.author {
            let e = out.entry(a).or_insert((c.seq, c.hash));
            if c.seq >= e.0 {
                *e = (c.seq, c.hash);
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::doc::{Draft, Edit, NoteEdit};
    use crate::space::{CutEntry, InviteKey, Op, OpBody, Role, SignedOp, new_secret, new_space};

    fn key(n: u8) -> DeviceKey {
        DeviceKey::from_secret([n; 32])
    }

    /// A space with an owner (1), an editor (2) and a reader (3).
    struct Space {
        id: SpaceId,
        ops: Vec<SignedOp>,
    }

    impl Space {
        fn new() -> Self {
            let (id, create) = new_space(&key(1), "Team", "Ada", "", 1000).unwrap();
            let mut s = Self {
                id,
                ops: vec![create],
            };
            s.add(&key(2), Role::Editor);
            s.add(&key(3), Role::Reader);
            s
        }

        fn m(&self) -> Membership {
            Membership::fold(self.id, &self.ops)
        }

        fn push(&mut self, by: &DeviceKey, body: OpBody) -> OpHash {
            let op = SignedOp::sign(
                by,
                Op {
                    space: self.id,
                    author: by.member_id(),
                    at: 2000,
                    deps: self.m().heads(),
                    body,
                },
            )
            .unwrap();
            let h = op.hash();
            self.ops.push(op);
            h
        }

        fn add(&mut self, who: &DeviceKey, role: Role) {
            let secret = new_secret();
            let invite = self.push(
                &key(1),
                OpBody::Invite {
                    role,
                    expires_at: None,
                    uses: None,
                    key: InviteKey::from_secret(&secret).public(),
                },
            );
            let proof = InviteKey::from_secret(&secret).prove(self.id, invite, who.member_id());
            let join = SignedOp::sign(
                who,
                Op {
                    space: self.id,
                    author: who.member_id(),
                    at: 2000,
                    deps: vec![invite],
                    body: OpBody::Join {
                        invite,
                        proof,
                        member_name: String::new(),
                        member_org: String::new(),
                    },
                },
            )
            .unwrap();
            let jh = join.hash();
            self.ops.push(join);
            self.push(&key(1), OpBody::Admit { join: jh });
        }
    }

    fn note(by: &DeviceKey, under: &[OpHash]) -> Doc {
        let edit = Edit {
            by: by.member_id(),
            at: 3000,
            under,
        };
        let draft = Draft {
            title: "Plan".into(),
            ..Draft::default()
        };
        Doc::new_note(DocId::random(), edit, draft).unwrap()
    }

    fn edit(doc: &mut Doc, by: &DeviceKey, under: &[OpHash], text: &str) -> Vec<NewChange> {
        let before = doc.heads();
        let e = Edit {
            by: by.member_id(),
            at: 4000,
            under,
        };
        let change = NoteEdit {
            body: Some(text.into()),
            ..NoteEdit::default()
        };
        doc.edit_text(e, change).unwrap();
        doc.changes_since(&before)
    }

    #[test]
    fn changes_bound_to_be_refused_are_told_before_they_are_applied() {
        let mut s = Space::new();
        let under = s.m().heads();
        let mut doc = note(&key(1), &under);
        let _ = doc.take_unsaved_changes();
        let base = doc.save();
        let mut bytes_of = |by: u8, under: &[OpHash]| {
            edit(&mut doc, &key(by), under, &format!("by {by}"));
            doc.take_unsaved_changes().unwrap().0
        };
        let (by_editor, by_reader, by_stranger) = (
            bytes_of(2, &under),
            bytes_of(3, &under),
            bytes_of(9, &under),
        );
        let made_up = bytes_of(2, &[OpHash([7; 32])]);
        let m = s.m();
        assert_eq!(prejudge(&m, [&by_editor[..]]), Prejudged::Open);
        for refused in [&by_reader, &by_stranger] {
            assert!(matches!(
                prejudge(&m, [&refused[..]]),
                Prejudged::Refused(_)
            ));
        }
        assert_eq!(prejudge(&m, [&made_up[..]]), Prejudged::Later);
        // One refused among good ones refuses the lot: no honest node holds it to relay.
        assert!(matches!(
            prejudge(&m, [&by_editor[..], &by_reader[..]]),
            Prejudged::Refused(_)
        ));
        // Every verdict it gives is the one `authorize` gives once they are applied.
        let mut fresh = Doc::load(doc.id(), [base.as_slice()], key(1).member_id()).unwrap();
        fresh.apply_changes(&by_editor).unwrap();
        let before = fresh.heads();
        fresh.apply_changes(&by_reader).unwrap();
        let applied = fresh.changes_since(&before);
        assert!(matches!(
            authorize(&mut fresh, &m, &applied)[..],
            [Verdict::Refused(_)]
        ));
        // A member demoted from editor has a cut: that needs the document, so it is left open.
        let cut = vec![CutEntry::new(doc.id(), &[1; 32])];
        s.push(
            &key(1),
            OpBody::SetRole {
                member: key(2).member_id(),
                role: Role::Reader,
                cut,
            },
        );
        assert_eq!(prejudge(&s.m(), [&by_editor[..]]), Prejudged::Open);
    }

    #[test]
    fn screening_finds_forged_changes_and_bombs_without_a_document() {
        let s = Space::new();
        let under = s.m().heads();
        let mut doc = note(&key(1), &under);
        let whole = doc.save();
        let _ = doc.take_unsaved_changes();
        let by_two = edit(&mut doc, &key(2), &under, "by the editor");
        let (bytes, _) = doc.take_unsaved_changes().unwrap();
        let id = doc.id();
        let good = ChangeSig::sign(&key(2), s.id, id, &by_two[0].hash);
        let scopes = [s.id, PROFILE_SCOPE];
        let fine = Screened::Fine {
            unsigned: Vec::new(),
        };
        assert_eq!(screen(&scopes, id, [&bytes[..]], &[good]), fine);
        // Signed by another key or for another document; or not at all (the receiver decides,
        // by whether it holds the change).
        let wrong_key = ChangeSig::sign(&key(1), s.id, id, &by_two[0].hash);
        let wrong_doc = ChangeSig::sign(&key(2), s.id, DocId::random(), &by_two[0].hash);
        for sigs in [vec![wrong_key], vec![wrong_doc]] {
            assert_eq!(
                screen(&scopes, id, [&bytes[..]], &sigs),
                Screened::Forged { forged: 1 }
            );
        }
        assert_eq!(
            screen(&scopes, id, [&bytes[..]], &[]),
            Screened::Fine {
                unsigned: vec![by_two[0].hash]
            }
        );
        // A whole document: each of its changes.
        let by_one = doc.changes_since(&[])[0].hash;
        let first = ChangeSig::sign(&key(1), s.id, id, &by_one);
        assert_eq!(screen(&scopes, id, [&whole[..]], &[first]), fine);
        assert_eq!(
            screen(&scopes, id, [&whole[..]], &[]),
            Screened::Fine {
                unsigned: vec![by_one]
            }
        );
        assert_eq!(
            screen(&scopes, id, [&b"junk"[..]], &[]),
            Screened::Malformed
        );
        let mut bomb = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut enc, &vec![0u8; 80 * 1024 * 1024]).unwrap();
        let deflated = enc.finish().unwrap();
        let mut n = deflated.len() as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            bomb.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                break;
            }
        }
        bomb.extend(deflated);
        assert_eq!(screen(&scopes, id, [&bomb[..]], &[]), Screened::Bomb);
    }

    #[test]
    fn writers_count_readers_and_strangers_do_not() {
        let s = Space::new();
        let m = s.m();
        let under = m.heads();
        let mut doc = note(&key(1), &under);
        let all = doc.changes_since(&[]);
        assert_eq!(authorize(&mut doc, &m, &all), vec![Verdict::Counts]);
        let by_editor = edit(&mut doc, &key(2), &under, "editor");
        assert_eq!(authorize(&mut doc, &m, &by_editor), vec![Verdict::Counts]);
        for outsider in [key(3), key(9)] {
            let c = edit(&mut doc, &outsider, &under, &format!("{outsider:?}"));
            assert!(matches!(
                authorize(&mut doc, &m, &c)[..],
                [Verdict::Refused(_)]
            ));
        }
        // No membership named, or one this node does not hold yet.
        let c = edit(&mut doc, &key(2), &[], "no state");
        assert!(matches!(
            authorize(&mut doc, &m, &c)[..],
            [Verdict::Refused(_)]
        ));
        let c = edit(&mut doc, &key(2), &[OpHash([7; 32])], "unknown state");
        assert_eq!(authorize(&mut doc, &m, &c), vec![Verdict::Later]);
    }

    #[test]
    fn a_removed_writers_changes_count_inside_the_cut_only_or_when_a_writer_built_on_them() {
        let mut s = Space::new();
        let before = s.m().heads();
        let mut doc = note(&key(1), &before);
        let early = edit(&mut doc, &key(2), &before, "before the removal");
        let cut = vec![CutEntry::new(doc.id(), &early[0].hash)];
        s.push(
            &key(1),
            OpBody::Remove {
                member: key(2).member_id(),
                cut,
            },
        );
        let m = s.m();
        assert_eq!(authorize(&mut doc, &m, &early), vec![Verdict::Counts]);
        // After the removal, dated and placed before it: outside the cut.
        let late = edit(&mut doc, &key(2), &before, "after the removal, backdated");
        assert!(matches!(
            authorize(&mut doc, &m, &late)[..],
            [Verdict::Refused(_)]
        ));
        // The owner builds on it knowing of the removal: that does not make it count.
        let after = m.heads();
        let aware = edit(&mut doc, &key(1), &after, "the owner, aware");
        assert_eq!(authorize(&mut doc, &m, &aware), vec![Verdict::Counts]);
        assert!(matches!(
            authorize(&mut doc, &m, &late)[..],
            [Verdict::Refused(_)]
        ));
        // A writer who built on it before knowing of the removal: it counts, everywhere alike.
        let unaware = edit(&mut doc, &key(1), &before, "the owner, before it knew");
        assert_eq!(authorize(&mut doc, &m, &unaware), vec![Verdict::Counts]);
        assert_eq!(authorize(&mut doc, &m, &late), vec![Verdict::Counts]);
    }

    #[test]
    fn signatures_bind_the_author_the_space_and_the_document() {
        let s = Space::new();
        let under = s.m().heads();
        let mut doc = note(&key(2), &under);
        let changes = doc.changes_since(&[]);
        let sigs: HashMap<[u8; 32], ChangeSig> = doc
            .sign_changes(&key(2), s.id, &changes)
            .into_iter()
            .map(|c| (c.hash, c))
            .collect();
        assert!(unsigned(s.id, doc.id(), &changes, &sigs).is_empty());
        assert_eq!(
            unsigned(SpaceId::random(), doc.id(), &changes, &sigs).len(),
            1
        );
        assert_eq!(unsigned(s.id, DocId::random(), &changes, &sigs).len(), 1);
        let wrong: HashMap<[u8; 32], ChangeSig> = doc
            .sign_changes(&key(1), s.id, &changes)
            .into_iter()
            .map(|c| (c.hash, c))
            .collect();
        assert!(wrong.is_empty(), "key 1 wrote none of them");
        let forged: HashMap<[u8; 32], ChangeSig> = changes
            .iter()
            .map(|c| (c.hash, ChangeSig::sign(&key(1), s.id, doc.id(), &c.hash)))
            .collect();
        assert_eq!(unsigned(s.id, doc.id(), &changes, &forged).len(), 1);
        assert_eq!(parse_under(Some(&under_message(&under))), Some(under));
        assert_eq!(parse_under(Some("tacit:1:zz")), None);
        assert_eq!(parse_under(None), None);
    }
}
