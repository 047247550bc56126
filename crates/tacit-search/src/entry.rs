//! What the index holds of one document.

use tacit_core::{CoreError, Doc, DocId, Kind, MemberId, NoteView, SpaceId, markdown};

/// One note or question as indexed: read from its document by [`Entry::from_doc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The document.
    pub id: DocId,
    /// Its space.
    pub space: SpaceId,
    /// Note or question.
    pub kind: Kind,
    /// Who wrote it.
    pub author: MemberId,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// The answers' Markdown (questions).
    pub answers: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Aliases (notes).
    pub aliases: Vec<String>,
    /// The targets of its `[[wiki links]]`, as written, first appearance only.
    pub links: Vec<String>,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
    /// The short hash of the heads it was read at (the store's `heads`).
    pub heads: u64,
    /// The files attached to it (notes); their names are searched with the body.
    pub attachments: Vec<tacit_core::Attachment>,
}

impl Entry {
    /// The entry of a note or a question; `None` for a deleted document or a profile, which the
    /// index does not hold.
    pub fn from_doc(
        doc: &mut Doc,
        space: SpaceId,
        heads: [u8; 8],
    ) -> Result<Option<Entry>, CoreError> {
        if doc.is_deleted()? {
            return Ok(None);
        }
        let heads = u64::from_be_bytes(heads);
        let entry = match doc.kind()? {
            Kind::Note => {
                let n = doc.note()?;
                let attachments = doc.attachments()?;
                Entry::of_note(n, space, heads, attachments)
            }
            Kind::Question => {
                let q = doc.question()?;
                let mut all = links(&q.body);
                for a in &q.answers {
                    for l in links(&a.body) {
                        if !all.contains(&l) {
                            all.push(l);
                        }
                    }
                }
                Entry {
                    id: q.id,
                    space,
                    kind: Kind::Question,
                    author: q.author,
                    links: all,
                    title: q.title,
                    body: q.body,
                    answers: q.answers.into_iter().map(|a| a.body).collect(),
                    tags: q.tags,
                    aliases: Vec::new(),
                    created_at: q.created_at,
                    updated_at: q.updated_at,
                    heads,
                    attachments: Vec::new(),
                }
            }
            Kind::Profile => return Ok(None),
        };
        Ok(Some(entry))
    }

    /// The entry of a note from its view (body included) and its attachments, as
    /// [`Entry::from_doc`] reads them: for a caller that read the view for more than this.
    pub fn of_note(
        n: NoteView,
        space: SpaceId,
        heads: u64,
        attachments: Vec<tacit_core::Attachment>,
    ) -> Entry {
        let tags = n.all_tags();
        let mut body = n.body;
        // A file is found by its name even where the body no longer embeds it.
        for a in &attachments {
            if !body.contains(&a.name) {
                body.push('\n');
                body.push_str(&a.name);
            }
        }
        Entry {
            id: n.id,
            space,
            kind: Kind::Note,
            author: n.author,
            links: links(&body),
            title: n.title,
            body,
            answers: Vec::new(),
            tags,
            aliases: n.aliases,
            created_at: n.created_at,
            updated_at: n.updated_at,
            heads,
            attachments,
        }
    }
}

/// Link targets as written, each once, in order; links to a heading of the same note left out.
fn links(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in markdown::wiki_links(body) {
        if !l.target.is_empty() && !out.contains(&l.target) {
            out.push(l.target);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test
mod tests {
    use super::*;
    use tacit_core::{Draft, Edit};

    #[test]
    fn a_new_notes_entry_from_its_draft_is_the_one_read_from_its_document() {
        let by = MemberId::from_bytes([3; 32]);
        let bodies = [
            "",
            "plain",
            "Line one\r\nline two\n\n#tag and [[Link]] ![[diagram.png]]\n",
            "ünïcödé — 日本語 🙂 and a zero width\u{200b}joiner\u{200d}",
            &"long enough to be spliced in pieces ".repeat(400),
        ];
        for body in bodies {
            let draft = Draft {
                title: "A title".into(),
                body: body.to_owned(),
                tags: vec!["b".into(), "a".into()],
                aliases: vec!["other name".into()],
            };
            let mut doc =
                Doc::new_note(DocId::random(), Edit::new(by, 1_700_000_000_000), draft).unwrap();
            let space = SpaceId::from_bytes([1; 16]);
            let read = Entry::from_doc(&mut doc, space, [7; 8]).unwrap();
            let view = doc.note_with_body(body.to_owned()).unwrap();
            let given = Entry::of_note(
                view,
                space,
                u64::from_be_bytes([7; 8]),
                doc.attachments().unwrap(),
            );
            assert_eq!(read, Some(given), "{body:?}");
        }
    }
}
