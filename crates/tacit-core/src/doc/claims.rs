//! Fields that name a person count only when written by that person.
//!
//! Every value in an Automerge document carries the id of the op that wrote it, and an op's actor
//! is its change's author, whose signature the node checked. So a claim is checked by comparing
//! the person a field names with the actor of the op that wrote it:
//!
//! | field | written by |
//! |---|---|
//! | `schema`, `kind`, `created_at`, `created_by` | the document's creator, in its first change (the only change without deps) |
//! | `deleted_by` | the member it names; whoever writes `deleted_at` writes it too |
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
    /// Also refuses a document with a field far past its limit ([`Doc::check_claims_of`]).
    pub fn check_claims(&mut self) -> Result<(), CoreError> {
        self.check_claims_of(&[])
    }

    /// [`Doc::check_claims`] of a document that has just taken `batch` (the hashes of the
    /// changes applied; empty when they are all of it): also refuses it if they left a field
    /// past its bound and larger than before (`doc/sizes.rs`).
    pub fn check_claims_of(&mut self, batch: &[[u8; 32]]) -> Result<(), CoreError> {
        self.check_sizes(batch)?;
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
        // A deletion says who made it: every writer of `deleted_at` wrote a `deleted_by` too
        // (a deletion without one hid its author from the trash). One held from before this
        // rule (not brought by `batch`) does not stop the document's other changes.
        let deleters: Vec<Option<MemberId>> = self
            .am
            .get_all(ROOT, "deleted_by")?
            .iter()
            .map(|v| writer(&v.1))
            .collect();
        let unnamed: Vec<ObjId> = self
            .am
            .get_all(ROOT, "deleted_at")?
            .into_iter()
            .map(|(_, id)| id)
            .filter(|id| !deleters.contains(&writer(id)))
            .collect();
        if !unnamed.is_empty() {
            let before = if batch.is_empty() {
                Vec::new()
            } else {
                let heads = self.heads_without(batch);
                if heads.is_empty() {
                    Vec::new()
                } else {
                    self.am
                        .get_all_at(ROOT, "deleted_at", &heads)?
                        .into_iter()
                        .map(|(_, id)| id)
                        .collect()
                }
            };
            if unnamed.iter().any(|id| !before.contains(id)) {
                return Err(broken("a deletion that does not name who made it"));
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
            "from_note",
            "shared_as",
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
        for (set, author_may) in [("thanks", false), ("votes", false), ("confirmed", true)] {
            let Some(map) = self.map(answer, set)? else {
                continue;
            };
            for key in self.am.keys(&map).collect::<Vec<_>>() {
                let named = key.parse::<MemberId>().ok();
                for (_, id) in self.am.get_all(&map, key.as_str())? {
                    if named.is_none()
                        || writer(&id) != named
                        || (named == Some(author) && !author_may)
                    {
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
    /// member they name, never the author (`None`: the author too). With each, its value.
    pub(super) fn signed_entries(
        &self,
        map: &ObjId,
        author: Option<MemberId>,
    ) -> Result<Vec<(MemberId, Value<'_>)>, CoreError> {
        let mut out = Vec::new();
        for key in self.am.keys(map).collect::<Vec<_>>() {
            let Ok(member) = key.parse::<MemberId>() else {
                continue;
            };
            if Some(member) == author {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;
    use crate::doc::{Draft, Edit};
    use crate::id::DocId;
    use crate::key::DeviceKey;

    fn key(n: u8) -> DeviceKey {
        DeviceKey::from_secret([n; 32])
    }

    /// A question by key 1 with an answer by key 2.
    fn question() -> (Doc, AnswerId) {
        let mut q = Doc::new_question(
            DocId::random(),
            Edit::new(key(1).member_id(), 1000),
            Draft {
                title: "How?".into(),
                ..Draft::default()
            },
        )
        .unwrap();
        let a = q
            .add_answer(Edit::new(key(2).member_id(), 2000), "Like this.")
            .unwrap();
        (q, a)
    }

    /// Key 1's profile, named Ada.
    fn ada_profile() -> Doc {
        Doc::new_profile(
            Edit::new(key(1).member_id(), 1000),
            crate::doc::ProfileEdit {
                name: Some("Ada".into()),
                ..Default::default()
            },
        )
        .unwrap()
    }

    /// Runs `f` on the document as `actor`, in one change.
    fn as_actor(doc: &mut Doc, actor: &DeviceKey, f: impl FnOnce(&mut automerge::AutoCommit)) {
        doc.am.set_actor(actor.member_id().actor_id());
        f(&mut doc.am);
        doc.am.commit();
    }

    fn answer_map(doc: &Doc, a: AnswerId) -> ObjId {
        let answers = doc.map(&ROOT, "answers").unwrap().unwrap();
        doc.map(&answers, a.to_string().as_str()).unwrap().unwrap()
    }

    #[test]
    fn honest_thanks_votes_and_acceptances_pass() {
        let (mut q, a) = question();
        q.thank(Edit::new(key(1).member_id(), 3000), a).unwrap();
        q.vote(Edit::new(key(3).member_id(), 3000), a, true)
            .unwrap();
        q.accept(Edit::new(key(1).member_id(), 4000), a).unwrap();
        q.check_claims().unwrap();
        let view = q.question().unwrap();
        assert_eq!(view.accepted, Some(a));
        assert_eq!(view.answers[0].thanked_by, vec![key(1).member_id()]);
        assert_eq!(view.answers[0].score, 1);
    }

    #[test]
    fn claims_in_someone_elses_name_are_refused_and_never_counted() {
        let owner = key(1).member_id().to_string();
        type Forge = Box<dyn Fn(&mut automerge::AutoCommit, &ObjId)>;
        let forgeries: Vec<(&str, Forge)> = vec![
            ("a vote in the owner's name", {
                let o = owner.clone();
                Box::new(move |am, ans| {
                    let (_, votes) = am.get(ans, "votes").unwrap().unwrap();
                    am.put(&votes, o.as_str(), 1).unwrap();
                })
            }),
            ("a thank in the owner's name", {
                let o = owner.clone();
                Box::new(move |am, ans| {
                    let (_, thanks) = am.get(ans, "thanks").unwrap().unwrap();
                    am.put(&thanks, o.as_str(), 5).unwrap();
                })
            }),
            ("an acceptance by someone not the asker", {
                Box::new(move |am, ans| {
                    let _ = ans;
                    am.put(ROOT, "accepted", "00000000000000000000000000000000")
                        .unwrap();
                })
            }),
            ("the answer claimed by someone else", {
                let o = owner.clone();
                Box::new(move |am, ans| am.put(ans, "author", o.as_str()).unwrap())
            }),
            ("the document's creator rewritten", {
                let o = key(3).member_id().to_string();
                Box::new(move |am, _| am.put(ROOT, "created_by", o.as_str()).unwrap())
            }),
            ("a confirmation in the owner's name", {
                let o = owner.clone();
                Box::new(move |am, ans| {
                    let confirmed = match am.get(ans, "confirmed").unwrap() {
                        Some((_, id)) => id,
                        None => am
                            .put_object(ans, "confirmed", automerge::ObjType::Map)
                            .unwrap(),
                    };
                    am.put(&confirmed, o.as_str(), 5).unwrap();
                })
            }),
            ("someone else's answer marked as shared as a note", {
                Box::new(move |am, ans| {
                    am.put(ans, "shared_as", "00000000000000000000000000000000")
                        .unwrap();
                })
            }),
            ("a deletion in someone else's name", {
                let o = owner.clone();
                Box::new(move |am, _| am.put(ROOT, "deleted_by", o.as_str()).unwrap())
            }),
        ];
        for (what, f) in forgeries {
            let (mut q, a) = question();
            let ans = answer_map(&q, a);
            as_actor(&mut q, &key(3), |am| f(am, &ans));
            assert!(q.check_claims().is_err(), "{what} passed");
            if let Ok(view) = q.question() {
                let ans = view.answers.iter().find(|x| x.id == a);
                assert!(
                    ans.is_none_or(|x| x.thanked_by.is_empty() && x.score == 0),
                    "{what}"
                );
                assert_eq!(view.accepted, None, "{what}");
            }
        }
    }

    #[test]
    fn a_profile_changed_by_anyone_but_its_member_is_refused() {
        let mut p = ada_profile();
        p.check_claims().unwrap();
        as_actor(&mut p, &key(2), |am| {
            am.put(ROOT, "name", "Mallory").unwrap()
        });
        assert!(p.check_claims().is_err());
    }

    /// A deletion that does not say who made it is refused; an honest one passes.
    #[test]
    fn a_deletion_names_its_maker() {
        use automerge::transaction::Transactable;
        let (mut q, _) = question();
        q.delete(Edit::new(key(2).member_id(), 5_000)).unwrap();
        q.check_claims().unwrap();
        let (mut q, _) = question();
        let before = q.am.get_heads();
        as_actor(&mut q, &key(2), |am| {
            am.put(ROOT, "deleted_at", 5_000).unwrap();
        });
        assert!(q.check_claims().is_err());
        // Held from before the rule: another member's later change still counts.
        let hostile: Vec<[u8; 32]> = q.changes_since(&before).iter().map(|c| c.hash).collect();
        assert!(q.check_claims_of(&hostile).is_err());
        let before = q.am.get_heads();
        as_actor(&mut q, &key(1), |am| {
            am.put(ROOT, "updated_at", 6_000).unwrap();
        });
        let later: Vec<[u8; 32]> = q.changes_since(&before).iter().map(|c| c.hash).collect();
        q.check_claims_of(&later).unwrap();
    }

    /// A member's own document with a field far past its limit is refused as it is received;
    /// one at the limit, or a title two members retyped at once, passes.
    #[test]
    fn fields_far_past_their_limits_are_refused() {
        use crate::limits::{
            MAX_ANSWERS, MAX_NAME_CHARS, MAX_TAGS, MAX_TITLE_CHARS, RECEIVED_SLACK,
        };
        use automerge::transaction::Transactable;
        let attack = |f: &dyn Fn(&mut automerge::AutoCommit, &ObjId)| {
            let (mut q, _) = question();
            as_actor(&mut q, &key(1), |am| {
                let title = match am.get(ROOT, "title").unwrap() {
                    Some((_, id)) => id,
                    None => panic!("a question has a title"),
                };
                f(am, &title)
            });
            q.check_claims()
        };
        // Two members retyping the title at once: both texts stay, twice the limit.
        attack(&|am, t| {
            am.splice_text(t, 0, 0, &"é".repeat(2 * MAX_TITLE_CHARS))
                .unwrap()
        })
        .unwrap();
        let big = MAX_TITLE_CHARS * 4 * RECEIVED_SLACK + 1;
        let e = attack(&|am, t| am.splice_text(t, 0, 0, &"x".repeat(big)).unwrap());
        assert!(
            e.as_ref()
                .is_err_and(|e| e.to_string().contains("title is too large")),
            "{e:?}"
        );
        // A tag set of many keys, or one long key.
        assert!(
            attack(&|am, _| {
                let tags = am.put_object(ROOT, "tags", ObjType::Map).unwrap();
                for i in 0..=MAX_TAGS * RECEIVED_SLACK {
                    am.put(&tags, format!("t{i}"), true).unwrap();
                }
            })
            .is_err()
        );
        assert!(
            attack(&|am, _| {
                let tags = am.put_object(ROOT, "tags", ObjType::Map).unwrap();
                am.put(&tags, "x".repeat(100_000), true).unwrap();
            })
            .is_err()
        );
        // Thousands of answers (each checked field by field otherwise).
        assert!(
            attack(&|am, _| {
                let answers = am.put_object(ROOT, "answers", ObjType::Map).unwrap();
                for i in 0..=MAX_ANSWERS * RECEIVED_SLACK {
                    am.put_object(&answers, format!("a{i}"), ObjType::Map)
                        .unwrap();
                }
            })
            .is_err()
        );
        // A title already past its bound (held from before these checks): a batch that does
        // not make it larger (another field changed) passes, one that does is refused.
        let (mut q, _) = question();
        as_actor(&mut q, &key(1), |am| {
            let (_, t) = am.get(ROOT, "title").unwrap().unwrap();
            am.splice_text(&t, 0, 0, &"x".repeat(big)).unwrap();
        });
        let batch = |q: &mut Doc, f: &dyn Fn(&mut automerge::AutoCommit)| -> Vec<[u8; 32]> {
            let before = q.am.get_heads();
            as_actor(q, &key(1), f);
            q.changes_since(&before).iter().map(|c| c.hash).collect()
        };
        let delete = batch(&mut q, &|am| am.put(ROOT, "updated_at", 5_000).unwrap());
        q.check_claims_of(&delete).unwrap();
        let grow = batch(&mut q, &|am| {
            let (_, t) = am.get(ROOT, "title").unwrap().unwrap();
            am.splice_text(&t, 0, 0, "more").unwrap();
        });
        assert!(q.check_claims_of(&grow).is_err());
        // A profile whose name is a book.
        let mut p = ada_profile();
        as_actor(&mut p, &key(1), |am| {
            am.put(
                ROOT,
                "name",
                "n".repeat(MAX_NAME_CHARS * 4 * RECEIVED_SLACK + 1),
            )
            .unwrap()
        });
        assert!(p.check_claims().is_err());
    }

    /// A title or tag a peer wrote with line breaks, escape sequences or direction overrides
    /// (this app writes none) is shown on one line without them: it cannot forge lines in a
    /// listing, drive a terminal, or show `gpj.exe` as `exe.jpg`.
    #[test]
    fn a_peers_title_and_tags_are_shown_on_one_line_without_controls() {
        use automerge::transaction::Transactable;
        let (mut q, _) = question();
        as_actor(&mut q, &key(1), |am| {
            let title = match am.get(ROOT, "title").unwrap() {
                Some((_, id)) => id,
                None => panic!("a question has a title"),
            };
            let forged = "\nabc123  Forged row\x1b]0;owned\x07 \u{202E}gpj.exe";
            am.splice_text(&title, 4, 0, forged).unwrap();
            let tags = am
                .put_object(ROOT, "tags", automerge::ObjType::Map)
                .unwrap();
            am.put(&tags, "ops\nforged", true).unwrap();
        });
        let shown = q.question().unwrap();
        assert_eq!(
            shown.title, "How? abc123  Forged row ]0;owned  gpj.exe",
            "{:?}",
            shown.title
        );
        assert_eq!(shown.tags, vec!["ops forged"]);
        assert_eq!(q.summary().unwrap().title, shown.title);
    }
}
