//! Markdown folders in and out of a Tacit home: `tacit import DIR` and `tacit export DIR`, and
//! the same for the desktop app.
//!
//! This crate reads and writes the folder in the caller's process (the CLI or the app), never in
//! the node: the node only receives [`Request::Import`] batches and answers [`Request::Export`]
//! pages, through any [`Requester`] (a [`Node`] handle, or the CLI's control socket client). It
//! must never panic on a file's contents: a file that cannot be imported is reported with its path
//! and the reason, and the rest go on.
//!
//! ```text
//! import: walk DIR ─▶ parse_file (front matter, #tags) ─▶ batches of ≤ 500 ─▶ Request::Import
//! export: Request::SpaceList ─▶ Request::Export pages ─▶ render_note / render_question ─▶ files
//! ```
//!
//! The invariant that makes a second import update instead of duplicating lives in the node: a
//! note's document id is derived from its space and its path in the folder (or taken from the
//! `id` an export wrote in its front matter).
//!
//! File I/O here is plain blocking `std::fs`, one file at a time: callers on an async runtime
//! that must stay responsive run these functions on a task of their own.

mod dates;
mod parse;
mod render;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;
use tacit_core::limits::MAX_BODY_BYTES;
use tacit_core::{DocId, Kind};
use tacit_node::{ErrorKind, ExportPage, ImportNote, Node, NodeError, Request, Response};
use ts_rs::TS;

pub use parse::{MAX_FRONT_MATTER_BYTES, MAX_FRONT_MATTER_DEPTH, Parsed, parse_file};
pub use render::{
    ANSWERS_MARKER, MAX_FILE_NAME_BYTES, Names, is_hidden_format, name_key, render_note,
    render_question, safe_attachment_name, safe_file_name, unique_name,
};

/// Most notes in one [`Request::Import`]: the node writes a batch in one transaction, and 500
/// keeps each transaction short while sharing its fsync among many notes.
pub const IMPORT_BATCH: usize = 500;

/// Most bytes of JSON in one [`Request::Import`]: the control socket takes lines of up to 8 MiB,
/// so a batch stops growing past 6 MiB.
const IMPORT_BATCH_BYTES: usize = 6 * 1024 * 1024;

/// Documents asked for per [`Request::Export`] page (the node also stops a page at about 4 MiB
/// of text).
const EXPORT_PAGE: u32 = 200;

/// Deepest folder nesting an import walks into: far beyond any real vault, and a bound on a
/// folder that contains itself through a bind mount.
pub const MAX_DEPTH: usize = 64;

/// The folder questions go to inside a space's export folder.
pub const QUESTIONS_DIR: &str = "Questions";

/// The folder attachments go to inside a space's export folder, as Obsidian's "Default
/// location for new attachments: in the folder specified below" lays them out; a note's
/// `![[name]]` reaches its file there by name.
pub const ATTACHMENTS_DIR: &str = "attachments";

/// Runs requests on a node: a [`Node`] handle in this process, or a client of a running node's
/// control socket.
pub trait Requester {
    /// Runs one request; success means its changes are on disk.
    fn execute(&mut self, req: Request)
    -> impl Future<Output = Result<Response, NodeError>> + Send;
}

impl Requester for Node {
    fn execute(
        &mut self,
        req: Request,
    ) -> impl Future<Output = Result<Response, NodeError>> + Send {
        let node = self.clone();
        async move { node.execute(req).await }
    }
}

/// How far an import or export is.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Progress {
    /// Files done.
    pub done: u32,
    /// Files in all (0 while unknown).
    pub total: u32,
    /// The file being read or written, relative to the folder.
    pub path: String,
}

/// A file, and what about it the user should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FileNote {
    /// The file, relative to the folder, with `/` separators.
    pub path: String,
    /// Why it was skipped or failed, or what was left out of it.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct ImportSummary {
    /// Notes and questions created.
    pub created: u32,
    /// Notes imported before whose text changed.
    pub updated: u32,
    /// Notes imported before and unchanged.
    pub unchanged: u32,
    /// Files that are not Markdown, and folders not entered.
    pub skipped: Vec<FileNote>,
    /// Markdown files that could not be imported (not UTF-8, too large, refused).
    pub failed: Vec<FileNote>,
    /// Imported files of which something was left out (a bad tag, unreadable front matter).
    pub warnings: Vec<FileNote>,
    /// Files attached to the imported notes (those their `![[embeds]]` name).
    #[serde(default)]
    pub attachments: u32,
}

impl ImportSummary {
    /// Notes written or found unchanged.
    pub fn imported(&self) -> u32 {
        self.created + self.updated + self.unchanged
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct ExportSummary {
    /// Notes written.
    pub notes: u32,
    /// Questions written.
    pub questions: u32,
    /// Files written.
    pub files: u32,
    /// Attachments written into the attachment folders.
    #[serde(default)]
    pub attachments: u32,
    /// Attachments left out (not on this machine and no member reachable), with why.
    #[serde(default)]
    pub missing: Vec<FileNote>,
    /// The folder.
    pub dir: String,
}

/// Why an import or export stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The folder is not there.
    #[error("no folder {}; give an existing folder", .0.display())]
    NoSuchDir(PathBuf),
    /// The path is a file, not a folder.
    #[error("{} is not a folder", .0.display())]
    NotADir(PathBuf),
    /// Reading or writing a file or folder failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The node refused or failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The node answered with something else than the request calls for.
    #[error("unexpected reply from the node to {0}")]
    UnexpectedReply(&'static str),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> VaultError + '_ {
    move |source| VaultError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file a note links to: its name in the note, where it is, and its path in the folder.
type LinkedFile = (String, PathBuf, String);

/// A Markdown file found by the walk.
struct Found {
    rel: String,
    abs: PathBuf,
}

/// Imports every Markdown file under `dir` (hidden folders such as `.obsidian`, `.git` and
/// `.trash` left out) into `space` (the personal space when `None`). Files imported before, in
/// this space, are updated. `progress` is called before each file.
pub async fn import_dir<R: Requester>(
    node: &mut R,
    dir: &Path,
    space: Option<&str>,
    mut progress: impl FnMut(&Progress),
) -> Result<ImportSummary, VaultError> {
    check_dir(dir)?;
    // Absolute: the files a note embeds are attached by their path, which a running node (the
    // app, `tacit serve`) reads from its own working folder if it is relative, finding there a
    // file of the same name as the vault's (`Documents/budget.xlsx`) and sharing it.
    let dir = &std::fs::canonicalize(dir).map_err(io_err(dir))?;
    let mut summary = ImportSummary::default();
    let (files, others) = walk(dir, &mut summary)?;
    // (the note's key, the files its links name), for attaching once the notes exist.
    let mut to_attach: Vec<(String, Vec<LinkedFile>)> = Vec::new();
    let mut ids_by_key: HashMap<String, DocId> = HashMap::new();
    let total = u32::try_from(files.len()).unwrap_or(u32::MAX);
    let mut batch = Batch::default();
    // Keys and ids already given: two files must never name one document.
    let mut keys: HashSet<String> = HashSet::new();
    let mut ids: HashSet<DocId> = HashSet::new();
    for (i, file) in files.iter().enumerate() {
        progress(&Progress {
            done: u32::try_from(i).unwrap_or(u32::MAX),
            total,
            path: file.rel.clone(),
        });
        let mut parsed = match read_file(file) {
            Ok(p) => p,
            Err(reason) => {
                summary.failed.push(note(&file.rel, reason));
                continue;
            }
        };
        let lower = parsed.note.key.to_lowercase();
        if !keys.insert(lower.clone()) {
            // `Note.md` and `note.md` side by side: the node compares keys ignoring case.
            let mut n = 2;
            while !keys.insert(format!("{lower}#case{n}")) {
                n += 1;
            }
            parsed.note.key = format!("{}#case{n}", parsed.note.key);
        }
        if let Some(id) = parsed.note.id
            && !ids.insert(id)
        {
            parsed.note.id = None;
            parsed.warnings.push(format!(
                "id {id} is also in another file; imported as a new note"
            ));
        }
        for w in parsed.warnings {
            summary.warnings.push(note(&file.rel, w));
        }
        if parsed.note.kind == Kind::Note {
            let files = linked_files(&file.rel, &parsed.note.draft.body, &others);
            if !files.is_empty() {
                to_attach.push((parsed.note.key.clone(), files));
            }
        }
        batch.push(parsed.note);
        if batch.notes.len() >= IMPORT_BATCH || batch.bytes >= IMPORT_BATCH_BYTES {
            send(
                node,
                space,
                std::mem::take(&mut batch),
                &mut summary,
                &mut ids_by_key,
            )
            .await?;
        }
    }
    if !batch.notes.is_empty() {
        send(node, space, batch, &mut summary, &mut ids_by_key).await?;
    }
    let mut attached: HashSet<String> = HashSet::new();
    for (key, files) in to_attach {
        let Some(id) = ids_by_key.get(&key) else {
            continue;
        };
        for (name, abs, rel) in files {
            let req = Request::Attach {
                id: id.to_string(),
                path: abs.display().to_string(),
                name: Some(name),
                embed: false,
            };
            match node.execute(req).await {
                Ok(_) => {
                    summary.attachments += 1;
                    attached.insert(rel);
                }
                Err(e) => summary
                    .warnings
                    .push(note(strip_case(&key), format!("{rel} not attached: {e}"))),
            }
        }
    }
    summary.skipped.retain(|s| !attached.contains(&s.path));
    progress(&Progress {
        done: total,
        total,
        path: String::new(),
    });
    Ok(summary)
}

/// Notes waiting to be sent, and their size as JSON.
#[derive(Default)]
struct Batch {
    notes: Vec<ImportNote>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, note: ImportNote) {
        self.bytes += serde_json::to_vec(&note).map_or(MAX_BODY_BYTES, |v| v.len());
        self.notes.push(note);
    }
}

/// Sends one batch. A batch the node refuses as invalid is sent again one note at a time, so
/// that one bad note fails alone; any other refusal (no such space, not allowed) stops the
/// import.
async fn send<R: Requester>(
    node: &mut R,
    space: Option<&str>,
    batch: Batch,
    summary: &mut ImportSummary,
    ids: &mut HashMap<String, DocId>,
) -> Result<(), VaultError> {
    let keys: Vec<String> = batch.notes.iter().map(|n| n.key.clone()).collect();
    let space = space.map(str::to_owned);
    let single = batch.notes.len() == 1;
    let req = Request::Import {
        space: space.clone(),
        // Kept to send again one by one if the node refuses the batch.
        notes: batch.notes.clone(),
    };
    match node.execute(req).await {
        Ok(reply) => {
            for (key, id) in keys.iter().zip(count(reply, summary)?) {
                ids.insert(key.clone(), id);
            }
            return Ok(());
        }
        Err(e) if e.kind() != ErrorKind::Invalid => return Err(e.into()),
        Err(e) if single => {
            let key = batch.notes.first().map_or("", |n| n.key.as_str());
            summary.failed.push(note(strip_case(key), e.to_string()));
            return Ok(());
        }
        Err(_) => {}
    }
    for one in batch.notes {
        let full_key = one.key.clone();
        let key = strip_case(&one.key).to_owned();
        let req = Request::Import {
            space: space.clone(),
            notes: vec![one],
        };
        match node.execute(req).await {
            Ok(reply) => {
                if let Some(id) = count(reply, summary)?.first() {
                    ids.insert(full_key, *id);
                }
            }
            Err(e) if e.kind() == ErrorKind::Invalid => {
                summary.failed.push(note(&key, e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A key without the `#caseN` that told apart files differing only in case.
fn strip_case(key: &str) -> &str {
    key.rsplit_once("#case").map_or(key, |(k, _)| k)
}

/// Adds an import's counts to the summary; the documents the notes went to, in order.
fn count(reply: Response, summary: &mut ImportSummary) -> Result<Vec<DocId>, VaultError> {
    let Response::Imported(r) = reply else {
        return Err(VaultError::UnexpectedReply("an import"));
    };
    summary.created += r.created;
    summary.updated += r.updated;
    summary.unchanged += r.unchanged;
    Ok(r.ids)
}

/// The files of the folder that a note's `![[embeds]]` (and `[[links]]`) name, as Obsidian
/// finds them: the path as written from the vault's root, else a file of that name beside
/// the note, in an `attachments` folder, or anywhere (the first by path). Returns (name in
/// the note, file, path in the folder).
fn linked_files(note_rel: &str, body: &str, others: &[Found]) -> Vec<LinkedFile> {
    let note_dir = note_rel.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out: Vec<LinkedFile> = Vec::new();
    for link in tacit_core::markdown::wiki_links_and_embeds(body) {
        let target = link.target.trim().trim_start_matches("./").to_owned();
        if target.is_empty() || is_markdown(&target) {
            continue;
        }
        let name = target.rsplit('/').next().unwrap_or(&target).to_owned();
        if !name.contains('.') || tacit_core::check_attachment_name(&name).is_err() {
            continue; // a note linked without its extension, or a name no attachment can have
        }
        let by_name = |f: &&Found| f.rel.rsplit('/').next() == Some(name.as_str());
        let in_dir = |dir: &str| {
            let want = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            others.iter().find(|f| f.rel == want)
        };
        let found = others
            .iter()
            .find(|f| f.rel == target)
            .or_else(|| in_dir(note_dir))
            .or_else(|| {
                others.iter().filter(by_name).find(|f| {
                    f.rel
                        .split('/')
                        .any(|seg| seg.eq_ignore_ascii_case(ATTACHMENTS_DIR))
                })
            })
            .or_else(|| others.iter().find(by_name));
        if let Some(f) = found
            && !out.iter().any(|(n, _, _)| *n == name)
        {
            out.push((name, f.abs.clone(), f.rel.clone()));
        }
    }
    out
}

fn note(path: &str, reason: impl Into<String>) -> FileNote {
    FileNote {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn check_dir(dir: &Path) -> Result<(), VaultError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(VaultError::NotADir(dir.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(VaultError::NoSuchDir(dir.to_path_buf()))
        }
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// Whether a file name is Markdown by its extension.
fn is_markdown(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// Every Markdown file under `root`, in name order, folder by folder; what is not Markdown goes
/// to `summary.skipped`, what cannot be read to `summary.failed`. Hidden entries (a name
/// starting with `.`) are left out silently; links to folders are not followed.
fn walk(root: &Path, summary: &mut ImportSummary) -> Result<(Vec<Found>, Vec<Found>), VaultError> {
    let mut found = Vec::new();
    let mut others = Vec::new();
    // (folder, its path relative to root, depth)
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, rel_dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if depth == 0 => return Err(io_err(&dir)(e)),
            Err(e) => {
                summary
                    .failed
                    .push(note(&rel_dir, format!("cannot read the folder: {e}")));
                continue;
            }
        };
        let mut entries: Vec<std::fs::DirEntry> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        let mut subdirs = Vec::new();
        for entry in entries {
            let name = entry.file_name();
            let rel_of = |name: &str| {
                if rel_dir.is_empty() {
                    name.to_owned()
                } else {
                    format!("{rel_dir}/{name}")
                }
            };
            let Some(name) = name.to_str() else {
                let shown = rel_of(&name.to_string_lossy());
                summary.failed.push(note(
                    &shown,
                    "the file name is not UTF-8; rename it to import it",
                ));
                continue;
            };
            if name.starts_with('.') {
                continue; // .obsidian, .git, .trash, .DS_Store, editors' swap files
            }
            let rel = rel_of(name);
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                summary.failed.push(note(&rel, "cannot read what it is"));
                continue;
            };
            if kind.is_dir() {
                if depth + 1 >= MAX_DEPTH {
                    summary.skipped.push(note(
                        &rel,
                        format!("folder nested more than {MAX_DEPTH} deep; not entered"),
                    ));
                } else {
                    subdirs.push((path, rel, depth + 1));
                }
                continue;
            }
            // A link is never followed: a vault from someone else could link to any file of
            // this machine (a key, a password store), which an import would put in a space.
            if kind.is_symlink() {
                summary.skipped.push(note(
                    &rel,
                    if path.is_dir() {
                        "a link to a folder; links are not followed"
                    } else {
                        "a link; links are not followed (it could lead anywhere on this machine)"
                    },
                ));
                continue;
            }
            if !kind.is_file() {
                summary.skipped.push(note(
                    &rel,
                    "not a regular file (a device, a pipe or a socket)",
                ));
                continue;
            }
            if is_markdown(name) {
                found.push(Found { rel, abs: path });
            } else {
                summary.skipped.push(note(&rel, "not Markdown (.md)"));
                others.push(Found { rel, abs: path });
            }
        }
        // Popped in name order: this folder's files first, then its folders in order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((found, others))
}

/// Reads and parses one file; `Err` holds why it cannot be imported.
fn read_file(file: &Found) -> Result<Parsed, String> {
    // Not followed, as in the walk: the file may have been made a link since.
    let meta = std::fs::symlink_metadata(&file.abs).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("no longer a regular file (a link, or something else)".into());
    }
    // The body limit plus the largest front matter read, and room for its `---` lines.
    let max = MAX_BODY_BYTES + MAX_FRONT_MATTER_BYTES + 64;
    if meta.len() > max as u64 {
        return Err(format!(
            "too large: {} bytes, the limit is {MAX_BODY_BYTES} (1 MiB) of text; split the note",
            meta.len()
        ));
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok());
    let bytes = std::fs::read(&file.abs).map_err(|e| format!("cannot read it: {e}"))?;
    parse_file(&file.rel, &bytes, mtime)
}

/// Writes every note and question of `space` (each space, in a folder of its own, when `None`)
/// under `dir` as Markdown files, questions in a `Questions` folder. `dir` is created if missing;
/// each file is written whole or not at all (a temporary file renamed). A file that cannot be
/// written, or whose folder is a link, is listed in [`ExportSummary::missing`] and the rest go
/// on. `progress` is called after each file.
///
/// `dir` may hold what someone else put there (a shared repository): nothing is written through
/// a link in it. Each folder the export writes into inside `dir` must be a real folder, not a
/// link to one; each file is first made under a new name (`create_new`: `O_CREAT | O_EXCL`,
/// which fails on a link instead of following it) and then renamed over its name, which
/// replaces a link there instead of writing where it leads.
pub async fn export_dir<R: Requester>(
    node: &mut R,
    dir: &Path,
    space: Option<&str>,
    mut progress: impl FnMut(&Progress),
) -> Result<ExportSummary, VaultError> {
    if dir.exists() {
        check_dir(dir)?;
    }
    // (the space as the node names it, the folder its files go to)
    let mut targets: Vec<(String, PathBuf)> = Vec::new();
    match space {
        Some(s) => targets.push((s.to_owned(), dir.to_path_buf())),
        None => {
            let Response::Spaces { items } = node.execute(Request::SpaceList).await? else {
                return Err(VaultError::UnexpectedReply("a list of spaces"));
            };
            let mut taken = HashSet::new();
            for s in items {
                let folder = unique_name(&safe_file_name(&s.name), &mut taken);
                targets.push((s.id.to_string(), dir.join(folder)));
            }
        }
    }
    let mut total = 0u32;
    for (space, _) in &targets {
        total = total.saturating_add(count_docs(node, space).await);
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut summary = ExportSummary {
        dir: dir.display().to_string(),
        ..ExportSummary::default()
    };
    for (space, folder) in &targets {
        // A space's own folder planted as a link: nothing of the space is written (one entry
        // in the summary, not one per note).
        if folder != dir
            && let Err(reason) = not_a_link(folder)
        {
            summary.missing.push(note(
                &shown_path(dir, folder),
                format!("{reason}; nothing of this space was exported"),
            ));
            continue;
        }
        let mut taken_notes = HashSet::new();
        let mut taken_questions = HashSet::new();
        // Attachment file names given in this folder, by `name_key` (a disk may not tell
        // `Diagram.png` from `diagram.png`), with the name as written and the hash it holds.
        let mut taken_files = TakenFiles::default();
        let mut after = None;
        loop {
            let req = Request::Export {
                space: Some(space.clone()),
                after,
                limit: Some(EXPORT_PAGE),
            };
            let Response::Exported(mut page) = node.execute(req).await? else {
                return Err(VaultError::UnexpectedReply("an export"));
            };
            let at = Folder { root: dir, folder };
            export_attachments(node, &mut page, at, &mut taken_files, &mut summary).await?;
            write_page(
                &page,
                at,
                (&mut taken_notes, &mut taken_questions),
                total,
                &mut summary,
                &mut progress,
            );
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(summary)
}

/// A space's folder in an export, and the export's folder (that paths are shown from).
#[derive(Clone, Copy)]
struct Folder<'a> {
    root: &'a Path,
    folder: &'a Path,
}

impl Folder<'_> {
    /// Makes the space's folder, or checks that it is a real one. The export's own folder is
    /// the user's choice (and made already): a link there is theirs to have.
    fn ready(self) -> Result<(), String> {
        if self.folder == self.root {
            return Ok(());
        }
        real_dir(self.folder)
    }
}

/// `path` from the export's folder, with `/` separators, for the summary.
fn shown_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

/// Refuses a folder that is a link or not a folder; `Ok` when it is a real folder or missing.
fn not_a_link(path: &Path) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "not written: the folder {name} is a link, and an export writes through no link \
             (it could lead anywhere on this machine); remove the link or export elsewhere"
        )),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!(
            "not written: {name} is a file where the export puts a folder; move it or export \
             elsewhere"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("not written: cannot read the folder {name}: {e}")),
    }
}

/// Makes the folder `path` (its parent exists), or checks that it is one: never a link.
fn real_dir(path: &Path) -> Result<(), String> {
    not_a_link(path)?;
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        // There already, or made meanwhile: checked again, a link still refused.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match not_a_link(path) {
            Ok(()) if path.is_dir() => Ok(()),
            Ok(()) => Err(format!("not written: cannot make the folder: {e}")),
            Err(reason) => Err(reason),
        },
        Err(e) => Err(format!("not written: cannot make the folder: {e}")),
    }
}

/// The attachment files of one exported folder, and how many fetches of missing ones failed.
#[derive(Default)]
struct TakenFiles {
    /// [`name_key`] of a name → (name as written, hash of its bytes).
    names: HashMap<String, (String, String)>,
    /// Fetches of attachments not on this machine that failed in this folder's export.
    failed_fetches: usize,
}

impl TakenFiles {
    /// The hash of the bytes written under `name` (or a name the disk takes for it), if any.
    fn holds(&self, name: &str) -> Option<&str> {
        self.names
            .get(&name_key(name))
            .map(|(_, hash)| hash.as_str())
    }
}

/// After this many failed fetches for one note, its other attachments not on this machine are
/// listed as missing without asking members for them: each failure waits for every member that
/// could hold the file, and a note (a hostile member's) may name a thousand files nobody holds.
const MAX_FAILED_FETCHES_A_NOTE: usize = 3;
/// The same for a whole folder (a space): at most this many failed fetches in all.
const MAX_FAILED_FETCHES: usize = 20;

/// Writes the attachments of a page's notes into the folder's [`ATTACHMENTS_DIR`], each under
/// [`safe_attachment_name`] of its name. A name already given to other bytes in this folder
/// (compared by [`name_key`]) gets a name of its own (`name 2.png`); the note's `![[embeds]]`
/// are rewritten to the name written when it differs from the attachment's.
async fn export_attachments<R: Requester>(
    node: &mut R,
    page: &mut ExportPage,
    at: Folder<'_>,
    taken: &mut TakenFiles,
    summary: &mut ExportSummary,
) -> Result<(), VaultError> {
    let dir = at.folder.join(ATTACHMENTS_DIR);
    // Whether the folder is there and no link, checked before the first file is fetched.
    let mut dir_ok: Option<Result<(), String>> = None;
    for n in &mut page.notes {
        let mut failed_here = 0;
        let req = Request::Attachments {
            id: n.id.to_string(),
        };
        let items = match node.execute(req).await {
            Ok(Response::Attachments { items, .. }) => items,
            Ok(_) => return Err(VaultError::UnexpectedReply("a list of attachments")),
            Err(e) => {
                summary.missing.push(note(&n.title, e.to_string()));
                continue;
            }
        };
        for a in items {
            let safe = safe_attachment_name(&a.name);
            let file_name = match taken.names.get(&name_key(&safe)) {
                // The same bytes under this name (as the disk compares names): the file
                // already written.
                Some((written, hash)) if *hash == a.hash => written.clone(),
                None => safe,
                Some(_) => tacit_core::unique_attachment_name(&safe, |c| {
                    taken.holds(c).is_some_and(|h| h != a.hash)
                }),
            };
            let target = dir.join(&file_name);
            let shown = shown_path(at.root, &target);
            if !a.present
                && (failed_here >= MAX_FAILED_FETCHES_A_NOTE
                    || taken.failed_fetches >= MAX_FAILED_FETCHES)
            {
                summary.missing.push(note(
                    &shown,
                    "not on this machine (not asked for: earlier fetches in this export failed)",
                ));
                continue;
            }
            let ready = dir_ok.get_or_insert_with(|| at.ready().and_then(|()| real_dir(&dir)));
            if let Err(reason) = ready {
                summary.missing.push(note(&shown, reason.clone()));
                continue;
            }
            let req = Request::AttachmentGet {
                id: n.id.to_string(),
                name: a.name.clone(),
            };
            let path = match node.execute(req).await {
                Ok(Response::AttachmentFile { path, .. }) => path,
                Ok(_) => return Err(VaultError::UnexpectedReply("an attachment")),
                Err(e) => {
                    if !a.present {
                        failed_here += 1;
                        taken.failed_fetches += 1;
                    }
                    summary.missing.push(note(&shown, e.to_string()));
                    continue;
                }
            };
            if taken.holds(&file_name) != Some(a.hash.as_str()) {
                if let Err(e) = copy_atomic(Path::new(&path), &target) {
                    summary
                        .missing
                        .push(note(&shown, format!("not written: {e}")));
                    continue;
                }
                taken
                    .names
                    .insert(name_key(&file_name), (file_name.clone(), a.hash.clone()));
                summary.attachments += 1;
            }
            if file_name != a.name {
                for (from, to) in [
                    (format!("[[{}]]", a.name), format!("[[{file_name}]]")),
                    (format!("[[{}|", a.name), format!("[[{file_name}|")),
                ] {
                    n.body = n.body.replace(&from, &to);
                }
            }
        }
    }
    Ok(())
}

/// How many notes and questions a space holds, for the progress; 0 when the node cannot say.
async fn count_docs<R: Requester>(node: &mut R, space: &str) -> u32 {
    let mut n = 0usize;
    let reqs = [
        Request::NoteList {
            limit: None,
            space: Some(space.to_owned()),
        },
        Request::Questions {
            unanswered: false,
            limit: None,
            space: Some(space.to_owned()),
        },
    ];
    for req in reqs {
        if let Ok(Response::List { items }) = node.execute(req).await {
            n += items.len();
        }
    }
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Writes one export page's files; one that cannot be written goes to the summary.
fn write_page(
    page: &ExportPage,
    at: Folder<'_>,
    taken: (&mut HashSet<String>, &mut HashSet<String>),
    total: u32,
    summary: &mut ExportSummary,
    progress: &mut impl FnMut(&Progress),
) {
    let names: Names = page.names.iter().cloned().collect::<HashMap<_, _>>();
    let (taken_notes, taken_questions) = taken;
    let mut done = |summary: &mut ExportSummary, path: &Path, kind: Kind| {
        match kind {
            Kind::Question => summary.questions += 1,
            _ => summary.notes += 1,
        }
        summary.files += 1;
        progress(&Progress {
            done: summary.files,
            total: total.max(summary.files),
            path: shown_path(at.root, path),
        });
    };
    if page.notes.is_empty() && page.questions.is_empty() {
        return;
    }
    let folder_ok = at.ready();
    for n in &page.notes {
        let name = unique_name(&safe_file_name(&n.title), taken_notes);
        let path = at.folder.join(format!("{name}.md"));
        let written = folder_ok.clone().and_then(|()| {
            let text = render_note(n, &page.space_name, &names);
            write_atomic(&path, text.as_bytes(), n.updated_at)
                .map_err(|e| format!("not written: {e}"))
        });
        match written {
            Ok(()) => done(summary, &path, Kind::Note),
            Err(reason) => summary
                .missing
                .push(note(&shown_path(at.root, &path), reason)),
        }
    }
    if page.questions.is_empty() {
        return;
    }
    let qdir = at.folder.join(QUESTIONS_DIR);
    let qdir_ok = folder_ok.and_then(|()| real_dir(&qdir));
    for q in &page.questions {
        let name = unique_name(&safe_file_name(&q.title), taken_questions);
        let path = qdir.join(format!("{name}.md"));
        let written = qdir_ok.clone().and_then(|()| {
            let text = render_question(q, &page.space_name, &names);
            write_atomic(&path, text.as_bytes(), q.updated_at)
                .map_err(|e| format!("not written: {e}"))
        });
        match written {
            Ok(()) => done(summary, &path, Kind::Question),
            Err(reason) => summary
                .missing
                .push(note(&shown_path(at.root, &path), reason)),
        }
    }
}

/// The start of the name of a file being written: hidden, and short, so that the name of the
/// file it becomes may take the whole 255 bytes a file system allows. No note or attachment
/// file is named so: their names never start with a dot.
const TEMP_PREFIX: &str = ".tacit-tmp-";

/// Names tried for a temporary file before giving up: a name is taken only if something else
/// made it (a stale file, or one planted to make the export fail), and each try is random.
const TEMP_TRIES: usize = 8;

/// Writes `data` to a new temporary file beside `path`, then renames it over `path`: a reader
/// (or a crash) sees the old file or the new one, never half of one. The file's time is set to
/// `updated_at` (ms), so that file managers sort it as Tacit does.
fn write_atomic(path: &Path, data: &[u8], updated_at: i64) -> std::io::Result<()> {
    write_new(path, Some(updated_at), |f| f.write_all(data))
}

/// Copies a file the node holds to `to` as [`write_atomic`] writes.
fn copy_atomic(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut src = std::fs::File::open(from)?;
    write_new(to, None, |f| std::io::copy(&mut src, f).map(drop))
}

/// Fills a new temporary file beside `path` and renames it over `path`. The temporary file is
/// made with `create_new` (`O_CREAT | O_EXCL`): an existing name, a link included, fails the
/// open instead of being followed; the rename replaces a link at `path`, never writes where it
/// leads.
fn write_new(
    path: &Path,
    updated_at: Option<i64>,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    let (tmp, mut file) = new_temp(parent)?;
    let written = (|| {
        fill(&mut file)?;
        if let Some(ms) = updated_at.and_then(|t| u64::try_from(t).ok()) {
            let _ = file.set_modified(UNIX_EPOCH + std::time::Duration::from_millis(ms));
        }
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A new, empty file in `dir` under a random [`TEMP_PREFIX`] name.
fn new_temp(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut last = None;
    for _ in 0..TEMP_TRIES {
        let tmp = dir.join(format!("{TEMP_PREFIX}{:016x}", random_u64()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temporary file name was free")))
}

/// 64 random bits for a temporary file's name: std's hasher keys come from the operating
/// system's randomness. They need not be secret: a name someone made first only fails its try.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one((
        COUNT.fetch_add(1, Ordering::Relaxed),
        std::process::id(),
        std::time::SystemTime::now(),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn case_suffix_is_stripped_for_messages() {
        assert_eq!(strip_case("a/Note.md#case2"), "a/Note.md");
        assert_eq!(strip_case("a/Note.md"), "a/Note.md");
    }

    #[test]
    fn markdown_by_extension() {
        assert!(is_markdown("a.md") && is_markdown("B.MARKDOWN") && is_markdown("x.Md"));
        assert!(!is_markdown("a.png") && !is_markdown("md") && !is_markdown("a.mdx"));
    }

    /// A vault handed over by someone else links a note and an image to files outside it (a
    /// device key, a private key): neither is read, both are listed as skipped.
    #[cfg(unix)]
    #[test]
    fn walk_follows_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("device.key"), "secret").unwrap();
        std::fs::write(outside.path().join("notes.md"), "secret").unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.md"), "![[d.png]]").unwrap();
        std::os::unix::fs::symlink(outside.path().join("device.key"), root.join("d.png")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("notes.md"), root.join("b.md")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("folder")).unwrap();
        let mut summary = ImportSummary::default();
        let (found, others) = walk(root, &mut summary).unwrap();
        let rels: Vec<&str> = found.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["a.md"]);
        assert!(others.is_empty());
        assert_eq!(summary.skipped.len(), 3, "{:?}", summary.skipped);
    }

    #[test]
    fn walk_skips_hidden_and_lists_non_markdown() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".obsidian")).unwrap();
        std::fs::write(root.join(".obsidian/app.json"), "{}").unwrap();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::write(root.join("b/c/deep.md"), "x").unwrap();
        std::fs::write(root.join("b/pic.png"), [0u8, 1]).unwrap();
        std::fs::write(root.join("a.md"), "x").unwrap();
        std::fs::write(root.join("z.markdown"), "x").unwrap();
        let mut summary = ImportSummary::default();
        let (found, others) = walk(root, &mut summary).unwrap();
        assert_eq!(others.len(), 1);
        let rels: Vec<&str> = found.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["a.md", "z.markdown", "b/c/deep.md"]);
        assert_eq!(
            summary.skipped,
            vec![note("b/pic.png", "not Markdown (.md)")]
        );
    }
}
