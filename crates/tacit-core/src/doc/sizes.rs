//! The sizes of a received document's fields, checked against the limits each writer keeps.
//!
//! A writer here refuses a value past a limit ([`crate::limits`]), but a peer's document is
//! whatever its writers sent: a title of megabytes, a tag set of a million keys, a profile
//! whose name is a book. Every member reads these fields again and again (listings, the people
//! directory, routing, the inbox), so [`Doc::check_claims`] refuses a document with a field past
//! [`RECEIVED_SLACK`] times its limit, as it refuses a broken claim.

use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value};

use super::Doc;
use crate::error::CoreError;
use crate::limits::{
    MAX_ANSWERS, MAX_BIO_BYTES, MAX_BODY_BYTES, MAX_NAME_CHARS, MAX_TAG_CHARS, MAX_TAGS,
    MAX_TITLE_CHARS, RECEIVED_SLACK,
};

/// Bytes of UTF-8 a character may take.
const MAX_CHAR_BYTES: usize = 4;

fn too_large(what: &str, size: usize, max: usize) -> CoreError {
    CoreError::Malformed(format!(
        "a received document's {what} is too large ({size}, at most {max})"
    ))
}

impl Doc {
    /// Refuses a document with a field far past its limit (see the module doc). Reads sizes
    /// only (lengths of texts and maps, lengths of strings), never a text itself.
    pub(super) fn check_sizes(&self) -> Result<(), CoreError> {
        // Texts are measured in the document's own units (bytes or characters, whichever its
        // text encoding counts); a limit in characters allows 4 bytes each.
        let texts = [
            ("title", MAX_TITLE_CHARS * MAX_CHAR_BYTES),
            ("body", MAX_BODY_BYTES),
            ("name", MAX_NAME_CHARS * MAX_CHAR_BYTES),
            ("org", MAX_NAME_CHARS * MAX_CHAR_BYTES),
            ("bio", MAX_BIO_BYTES),
        ];
        for (key, max) in texts {
            let max = max * RECEIVED_SLACK;
            for (value, id) in self.am.get_all(ROOT, key)? {
                let size = match value {
                    Value::Object(ObjType::Text) => self.am.length(&id),
                    Value::Scalar(s) => s.as_str().map_or(0, str::len),
                    Value::Object(_) => 0,
                };
                if size > max {
                    return Err(too_large(key, size, max));
                }
            }
        }
        // Sets: tags, aliases (titles), expertise, inline tags.
        for key in ["tags", "aliases", "expertise", "inline_tags"] {
            for (value, id) in self.am.get_all(ROOT, key)? {
                if matches!(value, Value::Object(ObjType::Map)) {
                    self.check_set(key, &id)?;
                }
            }
        }
        if let Some(answers) = self.map(&ROOT, "answers")? {
            let n = self.am.length(&answers);
            let max = MAX_ANSWERS * RECEIVED_SLACK;
            if n > max {
                return Err(too_large("number of answers", n, max));
            }
        }
        Ok(())
    }

    fn check_set(&self, what: &str, set: &ObjId) -> Result<(), CoreError> {
        let n = self.am.length(set);
        let max = MAX_TAGS * RECEIVED_SLACK;
        if n > max {
            return Err(too_large(&format!("{what} set"), n, max));
        }
        // A tag is at most MAX_TAG_CHARS characters, an alias a title's length.
        let longest = MAX_TITLE_CHARS.max(MAX_TAG_CHARS) * MAX_CHAR_BYTES * RECEIVED_SLACK;
        if let Some(key) = self.am.keys(set).find(|k| k.len() > longest) {
            return Err(too_large(&format!("{what} key"), key.len(), longest));
        }
        Ok(())
    }
}
