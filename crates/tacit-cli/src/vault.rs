//! `tacit import DIR` and `tacit export DIR`: Markdown folders in and out, through
//! `tacit-vault`, with a progress bar on a terminal and a summary at the end.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tacit_node::{NodeError, Request, Response};
use tacit_vault::{ExportSummary, FileNote, ImportSummary, Progress, Requester};

use crate::Backend;
use crate::shown::{self, printable};

/// A bar appears only once an import or export has run this long: a short one just prints its
/// summary, without a flash of bar.
const BAR_AFTER: Duration = Duration::from_millis(300);
/// Least time between two redraws of the bar: smooth to the eye, cheap for a terminal.
const BAR_EVERY: Duration = Duration::from_millis(80);
/// Cells in the bar.
const BAR_CELLS: usize = 20;
/// Longest path shown after the bar, in characters (the start is cut).
const BAR_PATH_CHARS: usize = 48;
/// Files named in a summary line before "and N more".
const LISTED: usize = 8;

impl Requester for Backend {
    async fn execute(&mut self, req: Request) -> Result<Response, NodeError> {
        Backend::execute(self, &req).await
    }
}

/// `tacit import DIR [--space S] [--json]`.
pub(crate) async fn import(
    home: &Path,
    dir: &Path,
    space: Option<String>,
    json: bool,
) -> Result<()> {
    check_dir(dir)?;
    let summary = with_bar(home, "Importing", json, async |backend, progress| {
        tacit_vault::import_dir(backend, dir, space.as_deref(), progress).await
    })
    .await?;
    if json {
        println!("{}", shown::json(&summary)?);
    } else {
        print!("{}", printable(&import_text(&summary)));
    }
    if summary.imported() == 0 && !summary.failed.is_empty() {
        bail!(
            "nothing was imported: {} of {} failed",
            plural(summary.failed.len(), "file"),
            dir.display()
        );
    }
    Ok(())
}

/// `tacit export DIR [--space S] [--json]`.
pub(crate) async fn export(
    home: &Path,
    dir: &Path,
    space: Option<String>,
    json: bool,
) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let summary = with_bar(home, "Exporting", json, async |backend, progress| {
        tacit_vault::export_dir(backend, dir, space.as_deref(), progress).await
    })
    .await?;
    if json {
        println!("{}", shown::json(&summary)?);
    } else {
        println!("{}", printable(&export_text(&summary)));
    }
    Ok(())
}

/// Runs an import or export against this home's node, with a progress bar on a terminal
/// (none with `--json`), and closes the node (if this command opened it) afterwards.
async fn with_bar<T>(
    home: &Path,
    what: &'static str,
    json: bool,
    job: impl AsyncFnOnce(&mut Backend, &mut dyn FnMut(&Progress)) -> Result<T, tacit_vault::VaultError>,
) -> Result<T> {
    let mut backend = Backend::open(home).await?;
    let mut bar = Bar::new(what, !json);
    let result = job(&mut backend, &mut |p| bar.update(p)).await;
    bar.clear();
    backend.close().await;
    Ok(result?)
}

fn check_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("{} is not a folder", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("no folder {}; give an existing folder", dir.display())
        }
        Err(e) => bail!("cannot read {}: {e}", dir.display()),
    }
}

/// The summary of an import, for people.
fn import_text(s: &ImportSummary) -> String {
    let mut out = format!(
        "Imported {}: {} new, {} updated, {} unchanged",
        plural(s.imported() as usize, "note"),
        thousands(s.created as usize),
        thousands(s.updated as usize),
        thousands(s.unchanged as usize),
    );
    let (not_md, other): (Vec<&FileNote>, Vec<&FileNote>) = s
        .skipped
        .iter()
        .partition(|f| f.reason.starts_with("not Markdown"));
    if !not_md.is_empty() {
        out.push_str(&format!(
            "; skipped {} that {} not Markdown: {}",
            plural(not_md.len(), "file"),
            if not_md.len() == 1 { "is" } else { "are" },
            list(&not_md),
        ));
    }
    if s.attachments > 0 {
        out.push_str(&format!(
            "; attached {}",
            plural(s.attachments as usize, "file")
        ));
    }
    if !s.failed.is_empty() {
        out.push_str(&format!("; {} failed", thousands(s.failed.len())));
    }
    out.push_str(".\n");
    for f in &s.failed {
        out.push_str(&format!("failed: {}: {}\n", f.path, f.reason));
    }
    for f in other {
        out.push_str(&format!("skipped: {}: {}\n", f.path, f.reason));
    }
    for f in &s.warnings {
        out.push_str(&format!("warning: {}: {}\n", f.path, f.reason));
    }
    out
}

fn export_text(s: &ExportSummary) -> String {
    let mut out = format!(
        "Exported {} and {} to {} ({}",
        plural(s.notes as usize, "note"),
        plural(s.questions as usize, "question"),
        s.dir,
        plural(s.files as usize, "file"),
    );
    if s.attachments > 0 {
        out.push_str(&format!(
            " and {}",
            plural(s.attachments as usize, "attachment")
        ));
    }
    out.push_str(").");
    for f in &s.missing {
        out.push_str(&format!("\nnot exported: {}: {}", f.path, f.reason));
    }
    out
}

/// The first few paths, then how many more.
fn list(files: &[&FileNote]) -> String {
    let shown: Vec<&str> = files.iter().take(LISTED).map(|f| f.path.as_str()).collect();
    let mut out = shown.join(", ");
    if files.len() > LISTED {
        out.push_str(&format!(" and {} more", thousands(files.len() - LISTED)));
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    format!("{} {word}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A progress bar on standard error, redrawn in place with `\r`; drawn only on a terminal.
struct Bar {
    verb: &'static str,
    on: bool,
    start: Instant,
    last: Option<Instant>,
}

impl Bar {
    fn new(verb: &'static str, wanted: bool) -> Self {
        Self {
            verb,
            on: wanted && std::io::stderr().is_terminal(),
            start: Instant::now(),
            last: None,
        }
    }

    fn update(&mut self, p: &Progress) {
        if !self.on || self.start.elapsed() < BAR_AFTER {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < BAR_EVERY && p.done < p.total)
        {
            return;
        }
        self.last = Some(now);
        let line = bar_line(self.verb, p);
        let _ = write!(std::io::stderr(), "\r\x1b[K{}", printable(&line));
    }

    fn clear(&mut self) {
        if self.on && self.last.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

/// `Importing  3,200/10,000 ▕██████░░░░▏ notes/x.md`.
fn bar_line(verb: &str, p: &Progress) -> String {
    let mut path: String = p.path.clone();
    let chars = path.chars().count();
    if chars > BAR_PATH_CHARS {
        path = format!(
            "…{}",
            path.chars()
                .skip(chars - BAR_PATH_CHARS + 1)
                .collect::<String>()
        );
    }
    if p.total == 0 {
        return format!("{verb}  {}  {path}", thousands(p.done as usize));
    }
    let filled = (p.done.min(p.total) as usize * BAR_CELLS) / p.total as usize;
    format!(
        "{verb}  {}/{} ▕{}{}▏ {path}",
        thousands(p.done as usize),
        thousands(p.total as usize),
        "█".repeat(filled),
        "░".repeat(BAR_CELLS - filled),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_bars() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        let p = Progress {
            done: 3200,
            total: 10_000,
            path: "notes/x.md".into(),
        };
        assert_eq!(
            bar_line("Importing", &p),
            "Importing  3,200/10,000 ▕██████░░░░░░░░░░░░░░▏ notes/x.md"
        );
    }

    #[test]
    fn import_summary_text() {
        let s = ImportSummary {
            created: 800,
            updated: 10,
            unchanged: 2,
            skipped: vec![FileNote {
                path: "a.png".into(),
                reason: "not Markdown (.md)".into(),
            }],
            failed: vec![FileNote {
                path: "bad.md".into(),
                reason: "not UTF-8".into(),
            }],
            warnings: Vec::new(),
            attachments: 0,
        };
        assert_eq!(
            import_text(&s),
            "Imported 812 notes: 800 new, 10 updated, 2 unchanged; skipped 1 file that is not \
             Markdown: a.png; 1 failed.\nfailed: bad.md: not UTF-8\n"
        );
    }
}
