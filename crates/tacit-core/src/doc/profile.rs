//! Profiles: a member's name, organisation, bio and expertise, one document per member.

use crate::error::CoreError;
use crate::id::{DocId, MemberId};
use crate::limits::{MAX_BIO_BYTES, MAX_NAME_CHARS};
use crate::text::{char_prefix, check_bytes, check_chars, normalize_tags, one_line};
use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};

use super::{Doc, Edit, Kind, ProfileEdit, ProfileView};

impl Doc {
    /// The id of a member's profile document: derived from the member id, so that every peer
    /// names the same document.
    pub fn profile_id(member: MemberId) -> DocId {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&member.as_bytes()[..16]);
        DocId::from_bytes(bytes)
    }

    /// A new profile for `edit.by`.
    pub fn new_profile(edit: Edit, change: ProfileEdit) -> Result<Self, CoreError> {
        let mut doc = Self::create(Self::profile_id(edit.by), Kind::Profile, edit)?;
        doc.am.put(ROOT, "name", "")?;
        doc.am.put(ROOT, "org", "")?;
        doc.put_text(&ROOT, "bio", "")?;
        doc.put_set(&ROOT, "expertise", &[])?;
        doc.commit(edit);
        doc.edit_profile(edit, change)?;
        Ok(doc)
    }

    /// The profile.
    pub fn profile(&self) -> Result<ProfileView, CoreError> {
        let (name, org) = self.profile_name()?;
        Ok(ProfileView {
            name,
            org,
            bio: self.text(&ROOT, "bio")?,
            expertise: self.key_set(&ROOT, "expertise")?,
            questions_per_day: match self.am.get(&ROOT, "questions_per_day")? {
                Some((automerge::Value::Scalar(v), _)) => match v.as_ref() {
                    automerge::ScalarValue::Uint(n) => u32::try_from(*n).ok(),
                    automerge::ScalarValue::Int(n) => u32::try_from(*n).ok(),
                    _ => None,
                }
                .map(|n| n.min(crate::people::MAX_QUESTIONS_PER_DAY)),
                _ => None,
            },
        })
    }

    /// The profile's name and organisation only (what lists of people show, read without the
    /// bio), each cut to [`MAX_NAME_CHARS`]: its member writes no longer one, so a longer one
    /// is a peer's that broke the limit.
    pub fn profile_name(&self) -> Result<(String, String), CoreError> {
        self.expect_kind(Kind::Profile)?;
        let field = |key: &str| -> Result<String, CoreError> {
            let s = self.string(&ROOT, key)?.unwrap_or_default();
            Ok(one_line(char_prefix(&s, MAX_NAME_CHARS).to_owned()))
        };
        Ok((field("name")?, field("org")?))
    }

    /// Changes the profile; only its member may. Returns whether anything changed.
    pub fn edit_profile(&mut self, edit: Edit, change: ProfileEdit) -> Result<bool, CoreError> {
        self.act_as(edit.by);
        self.expect_kind(Kind::Profile)?;
        let clean =
            |field: &'static str, v: &Option<String>| -> Result<Option<String>, CoreError> {
                v.as_deref()
                    .map(|s| {
                        let s = one_line(s.to_owned()).trim().to_owned();
                        check_chars(field, &s, MAX_NAME_CHARS).map(|()| s)
                    })
                    .transpose()
            };
        let name = clean("name", &change.name)?;
        let org = clean("organisation", &change.org)?;
        if let Some(bio) = &change.bio {
            check_bytes("bio", bio, MAX_BIO_BYTES)?;
        }
        let expertise = change
            .expertise
            .as_deref()
            .map(normalize_tags)
            .transpose()?;
        let mut changed = false;
        self.guard(|d| {
            for (key, value) in [("name", &name), ("org", &org)] {
                if let Some(v) = value
                    && d.string(&ROOT, key)?.as_deref() != Some(v.as_str())
                {
                    d.am.put(ROOT, key, v.as_str())?;
                    changed = true;
                }
            }
            if let Some(bio) = &change.bio {
                changed |= d.update_text(&ROOT, "bio", bio)?;
            }
            if let Some(tags) = &expertise {
                changed |= d.update_set(&ROOT, "expertise", tags)?;
            }
            if let Some(n) = change.questions_per_day {
                let n = u64::from(n.min(crate::people::MAX_QUESTIONS_PER_DAY));
                if d.profile()?.questions_per_day != u32::try_from(n).ok() {
                    d.am.put(ROOT, "questions_per_day", automerge::ScalarValue::Uint(n))?;
                    changed = true;
                }
            }
            Ok(())
        })?;
        if changed {
            self.touch_and_commit(edit)?;
        }
        Ok(changed)
    }
}
