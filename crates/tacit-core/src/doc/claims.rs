//! Fields that name a person count only when written by that person.
//!
//! Every value in an Automerge document carries the id of the op that wrote it, and an op's actor
//! is its change's author, whose signature the node checked. So a claim is checked by comparing
//! the person a field names with the actor of the op that wrote it:
//!
//! | field | written by |
//! |---|---|
//! | `schema`, `kind`, `created_at`, `created_by` | the document's creator, in its first change (the only change without deps) |
//! | `deleted_by` | the member it names |
//! | an answer (its map, `author`, `created_at`, `body`, `thanks`, `votes`) | the answer's author: the actor that made its map |
//! | `thanks.<member>`, `votes.<member>` | that member, never the answer's author |
//! | `accepted` | the asker (the creator) |
//! | anything in a profile | the profile's member |
//!
//! [`Doc::check_claims`] refuses a document that breaks a rule (a node checks it after applying a
//! peer's changes and drops them if it fails); reading ([`Doc::question`]) ignores a claim that
//! breaks one, so a document that slipped past is never shown crediting the wrong person.

use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value};

use super::{Doc, Kind};
use crate::error::CoreError;
use crate::id::{AnswerId, MemberId};

/// The member whose change wrote the op `id`, if its actor is a member id.
pub(super) fn writer(id: &ObjId) -> Option<MemberId> {
    match id {
        ObjId::Id(_, actor, _) => MemberId::from_actor_id(actor),
        ObjId::Root => None,
    }
}

fn op_counter(id: &ObjId) -> Option<u64> {
    match id {
        ObjId::Id(ctr, _, _) => Some(*ctr),
        ObjId::Root => None,
    }
}

fn broken(what: &str) -> CoreError {
    CoreError::Malformed(format!("a change breaks the authorship rules: {what}"))
}

impl Doc {
    /// Checks every claim of a person in the document (see the module doc).
    pub fn check_claims(&mut self) -> Result<(), CoreError> {
        let creator = self.creator_checked()?;
        for v in self.am.get_all(ROOT, "deleted_by")? {
            let named = match &v.0 {
                Value::Scalar(s) => s.as_str().and_then(|s| s.parse::<MemberId>().ok()),
                _ => None,
            };
            if named.is_none() || named != writer(&v.1) {
                return Err(broken("a deletion names someone other than its writer"));
            }
        }
        match self.kind()? {
            Kind::Note => Ok(()),
            Kind::Profile => self.check_profile(creator),
            Kind::Question => self.check_question(creator),
        }
    }

    /// The creator, checked: the document has exactly one change without deps, and every value
    /// of the creation fields was written by its author in it.
    fn creator_checked(&mut self) -> Result<MemberId, CoreError> {
        let roots: Vec<(MemberId, u64, u64)> = self
            .am
            .get_changes_meta(&[])
            .iter()
            .filter(|c| c.deps.is_empty())
            .filter_map(|c| Some((MemberId::from_actor_id(&c.actor)?, c.start_op, c.max_op)))
            .collect();
        let [(creator, first, last)] = roots[..] else {
            return Err(broken(&format!(
                "the document has {} first changes by members, not one",
                roots.len()
            )));
        };
        for key in ["schema", "kind", "created_at", "created_by"] {
            for (_, id) in self.am.get_all(ROOT, key)? {
                let in_first = op_counter(&id).is_some_and(|c| (first..=last).contains(&c));
                if writer(&id) != Some(creator) || !in_first {
                    return Err(broken(
                        "a creation field was written after the first change",
                    ));
                }
            }
        }
        if self.author()? != creator {
            return Err(broken("created_by names someone other than the creator"));
        }
        Ok(creator)
    }

    fn check_profile(&mut self, creator: MemberId) -> Result<(), CoreError> {
        if Doc::profile_id(creator) != self.id {
            return Err(broken("a profile not at its member's profile id"));
        }
        let stranger = self
            .am
            .get_changes_meta(&[])
            .iter()
            .any(|c| MemberId::from_actor_id(&c.actor) != Some(creator));
        if stranger {
            return Err(broken("a profile changed by someone other than its member"));
        }
        Ok(())
    }

    fn check_question(&mut self, asker: MemberId) -> Result<(), CoreError> {
        for (_, id) in self.am.get_all(ROOT, "accepted")? {
            if writer(&id) != Some(asker) {
                return Err(broken("an answer accepted by someone other than the asker"));
            }
        }
        let Some(answers) = self.map(&ROOT, "answers")? else {
            return Ok(());
        };
        for key in self.am.keys(&answers).collect::<Vec<_>>() {
            for (value, obj) in self.am.get_all(&answers, key.as_str())? {
                if !matches!(value, Value::Object(ObjType::Map)) {
                    return Err(broken("an answer that is not a map"));
                }
                let author = writer(&obj).ok_or_else(|| broken("an answer without an author"))?;
                self.check_answer(&obj, author)?;
            }
        }
        Ok(())
    }

    /// Every field of an answer written by its author; thanks and votes keyed by their writer.
    fn check_answer(&self, answer: &ObjId, author: MemberId) -> Result<(), CoreError> {
        for key in [
            "author",
            "created_at",
            "body",
            "thanks",
            "votes",
            "updated_at",
        ] {
            for (value, id) in self.am.get_all(answer, key)? {
                if writer(&id) != Some(author) {
                    return Err(broken(
                        "an answer field written by someone other than its author",
                    ));
                }
                if key == "author" {
                    let named = match &value {
                        Value::Scalar(s) => s.as_str().and_then(|s| s.parse::<MemberId>().ok()),
                        _ => None,
                    };
                    if named != Some(author) {
                        return Err(broken("an answer naming someone other than its writer"));
                    }
                }
            }
        }
        for set in ["thanks", "votes"] {
            let Some(map) = self.map(answer, set)? else {
                continue;
            };
            for key in self.am.keys(&map).collect::<Vec<_>>() {
                let named = key.parse::<MemberId>().ok();
                for (_, id) in self.am.get_all(&map, key.as_str())? {
                    if named.is_none() || writer(&id) != named || named == Some(author) {
                        return Err(broken(
                            "a thank or vote given in someone else's name, or for one's own answer",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The accepted answer, if the asker accepted one (a value written by anyone else is not an
    /// acceptance).
    pub(super) fn accepted_by_asker(&self) -> Result<Option<AnswerId>, CoreError> {
        let asker = self.author()?;
        Ok(match self.am.get(ROOT, "accepted")? {
            Some((Value::Scalar(s), id)) if writer(&id) == Some(asker) => {
                s.as_str().and_then(|s| s.parse::<AnswerId>().ok())
            }
            _ => None,
        })
    }

    /// The members a thanks or votes map of an answer by `author` counts: keys written by the
    /// member they name, never the author. With each, its value.
    pub(super) fn signed_entries(
        &self,
        map: &ObjId,
        author: MemberId,
    ) -> Result<Vec<(MemberId, Value<'_>)>, CoreError> {
        let mut out = Vec::new();
        for key in self.am.keys(map).collect::<Vec<_>>() {
            let Ok(member) = key.parse::<MemberId>() else {
                continue;
            };
            if member == author {
                continue;
            }
            if let Some((value, id)) = self.am.get(map, key.as_str())?
                && writer(&id) == Some(member)
            {
                out.push((member, value));
            }
        }
        Ok(out)
    }
}
