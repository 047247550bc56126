//! Questions and their answers: asking, answering, accepting, thanks, votes and
//! confirmations that an answer is still right.

use crate::error::CoreError;
use crate::id::{AnswerId, DocId, MemberId};
use crate::limits::{MAX_ANSWER_BYTES, MAX_ANSWERS};
use crate::text::check_bytes;
use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value};

use super::{AnswerView, Doc, Draft, Edit, Kind, QuestionView, claims};

impl Doc {
    /// A new question.
    pub fn new_question(id: DocId, edit: Edit, draft: Draft) -> Result<Self, CoreError> {
        Self::new_text_doc(id, Kind::Question, edit, draft)
    }

    /// The question with its answers. Only signed claims count (see `claims`): an answer's
    /// author is whoever made it, thanks and votes count in their givers' own names, and an
    /// acceptance only from the asker.
    pub fn question(&self) -> Result<QuestionView, CoreError> {
        self.expect_kind(Kind::Question)?;
        let accepted = self.accepted_by_asker()?;
        let mut answers = Vec::new();
        if let Some(map) = self.map(&ROOT, "answers")? {
            for key in self.am.keys(&map).collect::<Vec<_>>() {
                let Ok(id) = key.parse::<AnswerId>() else {
                    continue; // written by a future version or a hostile peer: not an answer
                };
                let Some(obj) = self.map(&map, key.as_str())? else {
                    continue;
                };
                let Some(author) = claims::writer(&obj) else {
                    continue;
                };
                let named = self.string(&obj, "author")?.unwrap_or_default();
                if named.parse::<MemberId>().ok() != Some(author) {
                    continue;
                }
                let mut thanked_by: Vec<MemberId> = match self.map(&obj, "thanks")? {
                    Some(thanks) => self
                        .signed_entries(&thanks, Some(author))?
                        .into_iter()
                        .map(|(m, _)| m)
                        .collect(),
                    None => Vec::new(),
                };
                thanked_by.sort();
                let mut score = 0;
                if let Some(votes) = self.map(&obj, "votes")? {
                    for (_, vote) in self.signed_entries(&votes, Some(author))? {
                        if let Value::Scalar(s) = vote {
                            score += s.as_i64().unwrap_or(0).signum();
                        }
                    }
                }
                let mut confirmed_by = self.confirmations(id)?;
                confirmed_by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let created_at = self.int(&obj, "created_at")?.unwrap_or(0);
                let linked = |key: &str| -> Result<Option<DocId>, CoreError> {
                    Ok(self.string(&obj, key)?.and_then(|s| s.parse().ok()))
                };
                answers.push(AnswerView {
                    id,
                    author,
                    body: self.text(&obj, "body")?,
                    created_at,
                    accepted: accepted == Some(id),
                    thanked_by,
                    score,
                    from_note: linked("from_note")?,
                    shared_as: linked("shared_as")?,
                    fresh_since: confirmed_by
                        .iter()
                        .map(|c| c.1)
                        .max()
                        .unwrap_or(0)
                        .max(created_at),
                    confirmed_by,
                });
            }
        }
        answers.sort_by(|a, b| {
            b.accepted
                .cmp(&a.accepted)
                .then(b.score.cmp(&a.score))
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(QuestionView {
            id: self.id,
            title: self.title()?,
            body: self.text(&ROOT, "body")?,
            tags: self.key_set(&ROOT, "tags")?,
            author: self.author()?,
            created_at: self.int(&ROOT, "created_at")?.unwrap_or(0),
            updated_at: self.int(&ROOT, "updated_at")?.unwrap_or(0),
            accepted,
            answers,
        })
    }

    /// Adds an answer by `edit.by`; returns its id.
    pub fn add_answer(&mut self, edit: Edit, body: &str) -> Result<AnswerId, CoreError> {
        self.add_answer_from(edit, body, None)
    }

    /// Records on an answer of `edit.by`'s the note they shared it as.
    pub fn mark_shared(
        &mut self,
        edit: Edit,
        answer: AnswerId,
        note: DocId,
    ) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        if claims::writer(&obj) != Some(edit.by) {
            return Err(CoreError::NotAnswerAuthor);
        }
        self.guard(|d| {
            d.am.put(&obj, "shared_as", note.to_string())?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// Adds an answer by `edit.by`, written from `from_note` when given; returns its id.
    pub fn add_answer_from(
        &mut self,
        edit: Edit,
        body: &str,
        from_note: Option<DocId>,
    ) -> Result<AnswerId, CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        if body.trim().is_empty() {
            return Err(CoreError::EmptyAnswer);
        }
        check_bytes("answer", body, MAX_ANSWER_BYTES)?;
        let answers = self.answers_map()?;
        if self.am.length(&answers) >= MAX_ANSWERS {
            return Err(CoreError::TooManyAnswers { max: MAX_ANSWERS });
        }
        let id = AnswerId::random();
        self.guard(|d| {
            let obj = d.am.put_object(&answers, id.to_string(), ObjType::Map)?;
            d.am.put(&obj, "author", edit.by.to_string())?;
            d.am.put(&obj, "created_at", edit.at)?;
            d.put_text(&obj, "body", body)?;
            d.am.put_object(&obj, "thanks", ObjType::Map)?;
            d.am.put_object(&obj, "votes", ObjType::Map)?;
            if let Some(note) = from_note {
                d.am.put(&obj, "from_note", note.to_string())?;
            }
            Ok(())
        })?;
        self.touch_and_commit(edit)?;
        Ok(id)
    }

    /// The answer named by a full id or a unique prefix of one.
    pub fn resolve_answer(&self, prefix: &str) -> Result<AnswerId, CoreError> {
        let prefix = prefix.trim().to_lowercase();
        let answers = self.answers_map()?;
        let mut found = None;
        for key in self.am.keys(&answers) {
            if key.starts_with(&prefix) && !prefix.is_empty() {
                if found.is_some() {
                    return Err(CoreError::AmbiguousAnswer(prefix));
                }
                found = key.parse::<AnswerId>().ok();
            }
        }
        found.ok_or(CoreError::NoSuchAnswer(prefix))
    }

    /// Marks an answer accepted. Only the asker may.
    pub fn accept(&mut self, edit: Edit, answer: AnswerId) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let asker = self.author()?;
        if edit.by != asker {
            return Err(CoreError::NotAsker { asker });
        }
        self.answer_obj(answer)?;
        if self.accepted_by_asker()? == Some(answer) {
            return Ok(());
        }
        self.guard(|d| {
            d.am.put(ROOT, "accepted", answer.to_string())?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// Thanks the author of an answer, once per member. Returns false when `edit.by` had already
    /// thanked it (nothing is written).
    pub fn thank(&mut self, edit: Edit, answer: AnswerId) -> Result<bool, CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        if self.string(&obj, "author")?.as_deref() == Some(edit.by.to_string().as_str()) {
            return Err(CoreError::OwnAnswer { action: "thank" });
        }
        let thanks = self
            .map(&obj, "thanks")?
            .ok_or_else(|| CoreError::Malformed("answer has no thanks map".into()))?;
        let me = edit.by.to_string();
        if self.am.get(&thanks, me.as_str())?.is_some() {
            return Ok(false);
        }
        self.guard(|d| {
            d.am.put(&thanks, me.as_str(), edit.at)?;
            Ok(())
        })?;
        self.touch_and_commit(edit)?;
        Ok(true)
    }

    /// Votes an answer up (`up`) or down; one vote per member, a new vote replaces the old.
    pub fn vote(&mut self, edit: Edit, answer: AnswerId, up: bool) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        if self.string(&obj, "author")?.as_deref() == Some(edit.by.to_string().as_str()) {
            return Err(CoreError::OwnAnswer { action: "vote for" });
        }
        let votes = self
            .map(&obj, "votes")?
            .ok_or_else(|| CoreError::Malformed("answer has no votes map".into()))?;
        self.guard(|d| {
            d.am.put(&votes, edit.by.to_string(), if up { 1 } else { -1 })?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// Who thanked the author of an answer, and when (ms): signed thanks only.
    pub fn thanks_of(&self, answer: AnswerId) -> Result<Vec<(MemberId, i64)>, CoreError> {
        self.signed_times(answer, "thanks")
    }

    /// Who confirmed an answer as still right, and when (ms): signed confirmations only.
    pub fn confirmations(&self, answer: AnswerId) -> Result<Vec<(MemberId, i64)>, CoreError> {
        self.signed_times(answer, "confirmed")
    }

    fn signed_times(&self, answer: AnswerId, set: &str) -> Result<Vec<(MemberId, i64)>, CoreError> {
        let obj = self.answer_obj(answer)?;
        // Thanks never count from the answer's author; confirmations do.
        let excluded = if set == "thanks" {
            claims::writer(&obj)
        } else {
            None
        };
        let Some(map) = self.map(&obj, set)? else {
            return Ok(Vec::new());
        };
        let mut out: Vec<(MemberId, i64)> = Vec::new();
        for (member, value) in self.signed_entries(&map, excluded)? {
            let at = match value {
                Value::Scalar(s) => s.as_i64().unwrap_or(0),
                _ => 0,
            };
            out.push((member, at));
        }
        Ok(out)
    }

    /// Marks an answer as still right, as of `edit.at`: its author asked to confirm it, or a
    /// member who checked it. One mark per member; a new one replaces theirs.
    pub fn confirm(&mut self, edit: Edit, answer: AnswerId) -> Result<(), CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Question)?;
        self.expect_live()?;
        let obj = self.answer_obj(answer)?;
        let me = edit.by.to_string();
        self.guard(|d| {
            let map = match d.map(&obj, "confirmed")? {
                Some(m) => m,
                // Made by whoever confirms first: the map itself names nobody.
                None => d.am.put_object(&obj, "confirmed", ObjType::Map)?,
            };
            d.am.put(&map, me.as_str(), edit.at)?;
            Ok(())
        })?;
        self.touch_and_commit(edit)
    }

    /// When an answer was last confirmed as still right (or written), ms.
    pub fn fresh_since(&self, answer: AnswerId) -> Result<i64, CoreError> {
        let obj = self.answer_obj(answer)?;
        let written = self.int(&obj, "created_at")?.unwrap_or(0);
        let confirmed = self
            .confirmations(answer)?
            .into_iter()
            .map(|(_, at)| at)
            .max()
            .unwrap_or(0);
        Ok(written.max(confirmed))
    }

    fn answers_map(&self) -> Result<ObjId, CoreError> {
        self.map(&ROOT, "answers")?
            .ok_or_else(|| CoreError::Malformed("question has no answers map".into()))
    }

    fn answer_obj(&self, answer: AnswerId) -> Result<ObjId, CoreError> {
        let answers = self.answers_map()?;
        self.map(&answers, answer.to_string().as_str())?
            .ok_or_else(|| CoreError::NoSuchAnswer(answer.to_string()))
    }
}
