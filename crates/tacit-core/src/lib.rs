//! The Tacit model: ids, the device key, documents (note, question with answers, profile) and the
//! rules that govern them.
//!
//! This crate is pure: no I/O, no async runtime, no clock. Callers pass the time and the acting
//! member in an [`Edit`], so every rule here can be driven by a plain unit test.
//!
//! A document is one Automerge document ([`Doc`]). Its root map holds:
//!
//! ```text
//! schema: 1   kind: "note" | "question" | "profile"   created_at   created_by   updated_at
//! title: Text   body: Text   tags: { tag: true }        (note, question)
//! inline_tags: { tag: true }   the body's inline #tags, kept by its writers   (note)
//! attachments: { name: { hash: 64 hex, size } }   files beside the database      (note)
//! answers: { answer id: { author, body: Text, created_at, updated_at, thanks: { member: ms },
//!            votes: { member: ±1 } } }   accepted: answer id | null   votes   (question)
//! name  org  bio: Text  expertise: { tag: true }                        (profile)
//! deleted_at  deleted_by                                                (tombstone)
//! ```
//!
//! A deleted note or question stays in the trash for [`TRASH_DAYS`] ([`Doc::undelete`]); a note's
//! past versions are read from its Automerge history ([`Doc::versions`], [`Doc::restore_version`]).
//!
//! Text is edited through [`automerge::transaction::Transactable::update_text`], so an editor that
//! sends its whole text never overwrites a concurrent edit: the change is the diff.

pub mod diff;
mod doc;
mod error;
mod id;
mod key;
pub mod limits;
pub mod markdown;
pub mod names;
pub mod people;
pub mod random;
mod space;
mod text;
mod ticket;

pub use doc::{
    AnswerView, Attachment, ChangeAuthor, ChangeSig, Doc, Draft, Edit, Kind, MAX_VERSIONS,
    NewChange, NoteEdit, NoteView, PROFILE_SCOPE, Prejudged, ProfileEdit, ProfileView,
    QuestionView, SCHEMA_VERSION, Screened, Summary, TRASH_DAYS, Tombstone, VERSION_ID_LEN,
    VERSION_PAUSE_MS, Verdict, Version, VersionKind, VersionView, authorize, check_attachment_name,
    chunks, heads_hash, in_trash, is_blob_hash, keep_sync_state, last_by_author, parse_under,
    prejudge, scope_of, screen, screen_sync, trash_days_left, trash_since, under_message,
    unique_attachment_name, unsigned,
};
pub use error::CoreError;
pub use id::{AnswerId, DocId, MemberId, ParseIdError, RandomId, SpaceId};
pub use key::DeviceKey;
pub use space::{
    CutEntry, Invite, InviteKey, MANAGEMENT_OPS_RESERVE, MAX_CUT_ENTRIES, MAX_CUT_OP_BYTES,
    MAX_DEPS, MAX_OP_BYTES, MAX_OPS_PER_AUTHOR, MAX_SPACE_OPS, Member, Membership, Op, OpBody,
    OpHash, Removed, Role, SignedOp, SpaceError, WriteCut, new_secret, new_space, set_digest,
    space_id_for,
};
pub use text::{civil_from_days, days_from_civil, is_direction_control, normalize_tag};
pub use ticket::{MAX_ADDR_BYTES, MAX_TICKET_ADDRS, MAX_TICKET_CHARS, Ticket, TicketError};
