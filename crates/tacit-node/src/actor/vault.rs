//! Imports from and exports to Markdown folders: the node's side. The folder itself is read and
//! written by the caller (`tacit-vault`); the actor writes the notes it is given and hands out
//! whole documents a page at a time.
//!
//! An imported note's document id is derived from its space and its key (the file's path in the
//! folder), so importing the same folder again finds the same documents without a table of what
//! was imported: they are updated, not duplicated. An id given in the note (a Tacit export's front
//! matter) wins when this space holds that document or no space does.

use std::collections::{HashMap, HashSet};

use tacit_core::{Doc, DocId, Edit, Kind, MemberId, NoteEdit, NoteView, QuestionView, SpaceId};
use tacit_store::Listed;

use super::{Actor, Outcome, Prepared};
use crate::api::{ExportPage, ImportNote, ImportReport, Response};
use crate::base::now_ms;
use crate::error::NodeError;

/// Most notes one import request writes: they go in one transaction and one reply, and a
/// thousand notes of a few KB keep both well under the control socket's 8 MiB line.
pub(crate) const MAX_IMPORT_NOTES: usize = 1000;

/// Documents in an export page when the caller does not say.
const DEFAULT_EXPORT_PAGE: u32 = 200;
/// Most documents in an export page.
const MAX_EXPORT_PAGE: u32 = 1000;
/// A page stops growing once its text passes this many bytes (it always holds at least one
/// document), so that its reply stays far below the control socket's 16 MiB reply limit.
const EXPORT_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Suffixes tried after a key whose document was deleted (`key#2`, `key#3`, …): a deleted
/// document cannot come back under its id, so the file gets the next free derived id.
const MAX_KEY_SUFFIX: u32 = 64;

/// A document as an export reads it (one at a time: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum View {
    Note(NoteView),
    Question(Box<QuestionView>),
    Other,
}

/// Where one imported note goes.
enum Target {
    /// A live document of this space, to update.
    Update(DocId),
    /// A new document with this id.
    Create(DocId),
}

impl Actor {
    /// Writes imported notes: updates the ones imported before, creates the others.
    pub(super) fn import(
        &mut self,
        space: Option<&str>,
        notes: Vec<ImportNote>,
    ) -> Result<Outcome, NodeError> {
        if notes.len() > MAX_IMPORT_NOTES {
            return Err(NodeError::Invalid(format!(
                "an import request holds at most {MAX_IMPORT_NOTES} notes, this one {}; send them in several requests",
                notes.len()
            )));
        }
        let space = self.space_ref(space)?;
        self.check_write(space)?;
        if self.pending_created {
            self.flush(); // a document created earlier in this group commit must be found
        }
        // Documents this request changed in memory: dropped from the cache if it fails, as its
        // writes are then never stored.
        let mut touched: Vec<DocId> = Vec::new();
        let result = self.import_notes(space, notes, &mut touched);
        if result.is_err() {
            // Their search entries too: the index takes an entry only with its write, and a
            // later write of the same document in this batch must not take this one's.
            for id in touched {
                self.cache.pop(&id);
                self.pending_entries.remove(&id);
            }
        }
        result
    }

    fn import_notes(
        &mut self,
        space: SpaceId,
        notes: Vec<ImportNote>,
        touched: &mut Vec<DocId>,
    ) -> Result<Outcome, NodeError> {
        let now = now_ms();
        let mut out = Outcome::read(Response::Done {
            id: DocId::from_bytes([0; 16]),
            changed: false,
            heads: Vec::new(),
        });
        let mut report = ImportReport::default();
        // Where each note goes, first: the store and the cache are the actor's.
        let mut seen: HashMap<DocId, String> = HashMap::new();
        let mut plan: Vec<(Target, Kind, ImportNote)> = Vec::with_capacity(notes.len());
        for mut note in notes {
            let kind = match note.kind {
                Kind::Question => Kind::Question,
                _ => Kind::Note,
            };
            let target = self.import_target(space, kind, &note)?;
            let id = match target {
                Target::Update(id) | Target::Create(id) => id,
            };
            if let Some(first) = seen.insert(id, note.key.clone()) {
                return Err(NodeError::Invalid(format!(
                    "{first:?} and {:?} of one import both go to document {id}: give each its own key and id",
                    note.key
                )));
            }
            if kind == Kind::Question {
                note.draft.aliases.clear(); // questions have no aliases
            }
            plan.push((target, kind, note));
        }
        // The new documents are built on every core (building and saving an Automerge document
        // is most of an import's time) while the actor signs and stores each as it comes, in the
        // plan's order: storing overlaps building, and no core waits for the batch's end.
        let under = self.under(space);
        let by = self.info.member;
        let new: Vec<(DocId, Kind, &ImportNote)> = plan
            .iter()
            .filter_map(|(target, kind, note)| match target {
                Target::Create(id) => Some((*id, *kind, note)),
                Target::Update(_) => None,
            })
            .collect();
        let build = |k: usize| {
            let (id, kind, note) = new
                .get(k)
                .ok_or_else(|| NodeError::Internal("an import item out of range".into()))?;
            let edit = Edit {
                by,
                at: note.created_at.unwrap_or(now),
                under: &under,
            };
            let draft = note.draft.clone();
            let body = draft.body.clone();
            let doc = match kind {
                Kind::Question => Doc::new_question(*id, edit, draft)?,
                _ => Doc::new_note(*id, edit, draft)?,
            };
            // Boxed: what goes down the channel is a pointer, not the whole document and row
            // (moved into the channel's blocks, those were fresh pages at every block).
            Prepared::of(doc, space, Some(body)).map(Box::new)
        };
        on_every_core(new.len(), build, |built| {
            for (target, kind, note) in &plan {
                let id = match target {
                    Target::Update(id) | Target::Create(id) => *id,
                };
                touched.push(id);
                let step = match target {
                    Target::Create(_) => {
                        let prepared = built.next()??;
                        report.created += 1;
                        self.commit_created(*prepared)
                    }
                    Target::Update(id) => {
                        let draft = note.draft.clone();
                        let summary = self.doc(*id)?.summary()?;
                        let listed = Listed {
                            id: *id,
                            space,
                            summary,
                        };
                        let aliases = (*kind == Kind::Note).then_some(draft.aliases);
                        let change = NoteEdit {
                            title: Some(draft.title),
                            body: Some(draft.body),
                            tags: Some(draft.tags),
                            aliases,
                            base: None,
                        };
                        let step = self.change(&listed, |doc, e| doc.edit_text(e, change))?;
                        if matches!(step.answer, Response::Done { changed: true, .. }) {
                            report.updated += 1;
                        } else {
                            report.unchanged += 1;
                        }
                        step
                    }
                };
                out.absorb(step);
                report.ids.push(id);
            }
            Ok(())
        })?;
        out.answer = Response::Imported(report);
        Ok(out)
    }

    /// The document an imported note goes to: the one its id names when this space holds it
    /// (or no space does), else the one derived from its key.
    fn import_target(
        &mut self,
        space: SpaceId,
        kind: Kind,
        note: &ImportNote,
    ) -> Result<Target, NodeError> {
        if let Some(id) = note.id {
            match self.store.get(id)? {
                None => return Ok(Target::Create(id)),
                Some(l) if l.space == space && !l.summary.deleted && l.summary.kind == kind => {
                    return Ok(Target::Update(id));
                }
                // Held by another space, deleted, or of another kind: the key decides.
                Some(_) => {}
            }
        }
        let key = normalise_key(&note.key);
        for n in 1..=MAX_KEY_SUFFIX {
            let key = if n == 1 {
                key.clone()
            } else {
                format!("{key}#{n}")
            };
            let id = derived_id(space, &key);
            match self.store.get(id)? {
                None => return Ok(Target::Create(id)),
                Some(l) if !l.summary.deleted && l.summary.kind == kind => {
                    return Ok(Target::Update(id));
                }
                Some(_) => {}
            }
        }
        Err(NodeError::Invalid(format!(
            "{:?} was imported and deleted {MAX_KEY_SUFFIX} times; rename the file to import it again",
            note.key
        )))
    }

    /// One page of a space's notes and questions, whole.
    pub(super) fn export(
        &mut self,
        space: Option<&str>,
        after: Option<DocId>,
        limit: Option<u32>,
    ) -> Result<ExportPage, NodeError> {
        let space = self.space_ref(space)?;
        let limit = limit
            .unwrap_or(DEFAULT_EXPORT_PAGE)
            .clamp(1, MAX_EXPORT_PAGE) as usize;
        // One more than the page, to know whether another page follows.
        let rows = self.store.export_page(space, after, limit + 1)?;
        let mut notes: Vec<NoteView> = Vec::new();
        let mut questions: Vec<QuestionView> = Vec::new();
        let mut bytes = 0usize;
        let mut last = None;
        let mut more = rows.len() > limit;
        for (i, row) in rows.iter().take(limit).enumerate() {
            if i > 0 && bytes > EXPORT_PAGE_BYTES {
                more = true;
                break;
            }
            match self.export_view(row.id, row.summary.kind)? {
                View::Note(view) => {
                    bytes += view.title.len() + view.body.len();
                    notes.push(view);
                }
                View::Question(view) => {
                    bytes += view.title.len() + view.body.len();
                    bytes += view.answers.iter().map(|a| a.body.len()).sum::<usize>();
                    questions.push(*view);
                }
                View::Other => {}
            }
            last = Some(row.id);
        }
        let mut authors: HashSet<MemberId> = HashSet::new();
        authors.extend(notes.iter().map(|n| n.author));
        for q in &questions {
            authors.insert(q.author);
            authors.extend(q.answers.iter().map(|a| a.author));
        }
        let names = self.member_names(space, &authors);
        Ok(ExportPage {
            space,
            space_name: self.space_name(space),
            notes,
            questions,
            names,
            next: if more { last } else { None },
        })
    }

    /// A document's view for an export: from the cached document, or from one loaded without
    /// entering the cache (an export reads every document once, and must not push out what the
    /// user works on).
    fn export_view(&mut self, id: DocId, kind: Kind) -> Result<View, NodeError> {
        let view = |doc: &mut Doc| -> Result<View, NodeError> {
            Ok(match kind {
                Kind::Note => View::Note(doc.note()?),
                Kind::Question => View::Question(Box::new(doc.question()?)),
                Kind::Profile => View::Other,
            })
        };
        if let Some(doc) = self.cache.peek_mut(&id) {
            return view(doc);
        }
        let chunks = self.store.load_chunks(id)?;
        let mut doc = Doc::load(id, chunks.iter().map(Vec::as_slice), self.info.member)?;
        view(&mut doc)
    }

    /// The names of `authors` as shown (see [`Actor::name_of`]): those of the space's
    /// members (removed members too) and of this home's member.
    fn member_names(
        &mut self,
        space: SpaceId,
        authors: &HashSet<MemberId>,
    ) -> Vec<(MemberId, String)> {
        let me = self.info.member;
        let in_space = |id: &MemberId| {
            *id == me
                || self.spaces.get(&space).is_some_and(|s| {
                    s.membership.members().contains_key(id)
                        || s.membership.removed().contains_key(id)
                })
        };
        let wanted: Vec<MemberId> = authors.iter().filter(|a| in_space(a)).copied().collect();
        let shown = self.shown_names();
        let mut names: Vec<(MemberId, String)> = wanted
            .into_iter()
            .filter_map(|id| shown.get(&id).map(|(name, _)| (id, name.clone())))
            .collect();
        names.sort();
        names
    }
}

/// A key as it names a document: `/` separators, no leading `./` or `/`, lowercase (a folder
/// copied to a case-insensitive disk and back still finds its notes).
fn normalise_key(key: &str) -> String {
    let key = key.trim().replace('\\', "/");
    let key = key.trim_start_matches("./").trim_start_matches('/');
    key.to_lowercase()
}

/// The document id of an imported key in a space.
fn derived_id(space: SpaceId, key: &str) -> DocId {
    let mut namespace = Vec::with_capacity(32 + key.len());
    namespace.extend_from_slice(b"tacit import key\0");
    namespace.extend_from_slice(space.as_bytes());
    namespace.extend_from_slice(key.as_bytes());
    DocId::derive(&namespace)
}

/// `build(0) … build(n - 1)` on every core, for work that needs nothing of the actor, handed to
/// `take` on the calling thread in order of the index as they are done ([`InOrder::next`]), so
/// that the caller stores each while the rest are built. A panic on a worker is an error, not a
/// crash of the actor. The workers run below normal priority (as the search index's catching up
/// does), so that the window and the actor come first while a large import takes every core; they
/// end with `take` (an error in it stops them).
fn on_every_core<T: Send, R>(
    n: usize,
    build: impl Fn(usize) -> T + Sync,
    take: impl FnOnce(&mut InOrder<T>) -> Result<R, NodeError>,
) -> Result<R, NodeError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let workers = cores.min(n / MIN_PER_WORKER).max(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let (build, next, stop) = (&build, &next, &stop);
                scope.spawn(move || {
                    crate::search::lower_priority();
                    while !stop.load(Relaxed) {
                        let i = next.fetch_add(1, Relaxed);
                        if i >= n {
                            return;
                        }
                        let built =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(i)));
                        let Ok(item) = built else {
                            // The others stop too: the taker learns of it once they have.
                            stop.store(true, Relaxed);
                            return;
                        };
                        if tx.send((i, item)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut in_order = InOrder {
            rx,
            next: 0,
            early: HashMap::new(),
        };
        let result = take(&mut in_order);
        // Whatever `take` left is not wanted: the workers stop at their next item.
        stop.store(true, Relaxed);
        drop(in_order);
        // A worker catches its build's panic; one of its own is as much an error.
        let joined: Vec<bool> = handles.into_iter().map(|h| h.join().is_ok()).collect();
        if joined.contains(&false) {
            return Err(build_panicked());
        }
        result
    })
}

fn build_panicked() -> NodeError {
    NodeError::Internal("building imported notes panicked".into())
}

/// The items of [`on_every_core`] as they come, in order of their index.
struct InOrder<T> {
    rx: std::sync::mpsc::Receiver<(usize, T)>,
    next: usize,
    /// Items done before an earlier one.
    early: HashMap<usize, T>,
}

impl<T> InOrder<T> {
    /// The next item in order, once built; an error when no worker is left to build it (one
    /// panicked, or every item was taken).
    fn next(&mut self) -> Result<T, NodeError> {
        loop {
            if let Some(item) = self.early.remove(&self.next) {
                self.next += 1;
                return Ok(item);
            }
            let (i, item) = self.rx.recv().map_err(|_| build_panicked())?;
            self.early.insert(i, item);
        }
    }
}

/// Below this many items per worker, one worker does it all (threads cost more than they save).
const MIN_PER_WORKER: usize = 8;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_note_prepared_from_its_draft_lists_indexes_and_credits_as_read_back() {
        // An import prepares each new note from the body it was made with, reading its fields
        // once; what it stores and indexes must be what reading the document back gives.
        let by = tacit_core::DeviceKey::generate().member_id();
        let space = SpaceId::from_bytes([3; 16]);
        let bodies = [
            "",
            "Roll back with #Rollback, see #ops and `#not-code`.\n",
            "Line one\r\nline two\n\n#tag and [[Link]] [[Link]] ![[diagram.png]] [[#Heading]]\n",
            "ünïcödé — 日本語 🙂 #日本 and a zero width\u{200b}joiner\u{200d}",
            &"long enough to be spliced in pieces #many ".repeat(400),
        ];
        for body in bodies {
            let draft = tacit_core::Draft {
                title: "A title about Deploys".into(),
                body: body.to_owned(),
                tags: vec!["ops".into(), "B".into()],
                aliases: vec!["other name".into()],
            };
            let id = DocId::random();
            let mut doc = Doc::new_note(id, Edit::new(by, 1_700_000_000_000), draft).unwrap();
            let bytes = doc.save();
            let given = Prepared::of(doc, space, Some(body.to_owned())).unwrap();
            let read =
                Prepared::of(Doc::load(id, [bytes.as_slice()], by).unwrap(), space, None).unwrap();
            assert_eq!(given.write.summary, read.write.summary, "{body:?}");
            assert_eq!(
                given.write.contributions, read.write.contributions,
                "{body:?}"
            );
            assert_eq!(given.write.blob_refs, read.write.blob_refs, "{body:?}");
            assert_eq!(given.entry, read.entry, "{body:?}");
            assert!(given.entry.is_some());
        }
    }

    /// Every item `on_every_core` builds, as `take` receives them.
    fn all<T: Send>(n: usize, build: impl Fn(usize) -> T + Sync) -> Result<Vec<T>, NodeError> {
        on_every_core(n, build, |built| (0..n).map(|_| built.next()).collect())
    }

    #[test]
    fn work_on_every_core_comes_back_in_order_and_a_panic_is_an_error() {
        let squares = all(1000, |i| i * i).unwrap();
        assert_eq!(squares, (0..1000).map(|i| i * i).collect::<Vec<_>>());
        assert_eq!(all(3, |i| i).unwrap(), [0, 1, 2]);
        assert!(all(0, |i| i).unwrap().is_empty());
        // On every core (100 items) and on one worker (3 items).
        for n in [100, 3] {
            let failed = all(n, |i| {
                assert!(i != 2, "a bad item");
                i
            });
            assert!(failed.is_err(), "{n} items");
        }
    }

    #[test]
    fn on_every_core_hands_each_item_over_while_the_rest_are_built_and_stops_on_an_error() {
        // The taker has item 0 before the last item is built: storing overlaps building. (The
        // last item's build waits for that, at most 10 s.)
        let taken = std::sync::atomic::AtomicBool::new(false);
        let last_saw_it = on_every_core(
            400,
            |i| {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while i == 399
                    && !taken.load(std::sync::atomic::Ordering::SeqCst)
                    && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                taken.load(std::sync::atomic::Ordering::SeqCst)
            },
            |items| {
                items.next()?;
                taken.store(true, std::sync::atomic::Ordering::SeqCst);
                let mut last = false;
                for _ in 1..400 {
                    last = items.next()?;
                }
                Ok(last)
            },
        )
        .unwrap();
        assert!(
            last_saw_it,
            "item 0 was handed over only once every item was built"
        );
        // An error in the taker ends the work: the workers build no more than they had begun.
        let built = std::sync::atomic::AtomicUsize::new(0);
        let failed: Result<(), NodeError> = on_every_core(
            10_000,
            |i| {
                built.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // Long enough that no worker gets far before the taker's error stops it.
                std::thread::sleep(std::time::Duration::from_millis(if i < 10 {
                    0
                } else {
                    10
                }));
                i
            },
            |items| {
                items.next()?;
                Err(NodeError::Invalid("the store is full".into()))
            },
        );
        assert!(matches!(failed, Err(NodeError::Invalid(_))));
        assert!(built.load(std::sync::atomic::Ordering::SeqCst) < 10_000);
    }

    #[test]
    fn keys_normalise_and_derive_per_space() {
        assert_eq!(normalise_key(" ./Notes\\Plan.md "), "notes/plan.md");
        let (a, b) = (SpaceId::from_bytes([1; 16]), SpaceId::from_bytes([2; 16]));
        assert_eq!(derived_id(a, "x.md"), derived_id(a, "x.md"));
        assert_ne!(derived_id(a, "x.md"), derived_id(b, "x.md"));
        assert_ne!(derived_id(a, "x.md"), derived_id(a, "x.md#2"));
    }
}
