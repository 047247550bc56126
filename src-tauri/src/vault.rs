//! Import and export of Markdown folders from the window: two commands that hand the folder work
//! to [`tacit_vault`] (in this process, on a blocking thread: it reads and writes files one at a
//! time) and report how far it is as `vault-progress` events, at most [`PROGRESS_PER_SECOND`]
//! a second.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tacit_node::{ErrorKind, Node, WireError};
use tacit_vault::{ExportSummary, ImportSummary, Progress, VaultError};
use tauri::{AppHandle, Emitter};

use crate::app::Shell;

/// The event carrying a [`Progress`] to the window.
const VAULT_PROGRESS: &str = "vault-progress";
/// Most progress events a second: enough for a bar that moves smoothly, few enough that a
/// folder of 10,000 small files does not flood the webview.
const PROGRESS_PER_SECOND: u32 = 20;

/// Calls `emit` for the first progress and then at most [`PROGRESS_PER_SECOND`] times a second.
fn throttled(app: AppHandle) -> impl FnMut(&Progress) + Send + 'static {
    let gap = Duration::from_secs(1) / PROGRESS_PER_SECOND;
    let mut last: Option<Instant> = None;
    move |p: &Progress| {
        let now = Instant::now();
        if last.is_none_or(|t| now.duration_since(t) >= gap) {
            last = Some(now);
            let _ = app.emit(VAULT_PROGRESS, p);
        }
    }
}

/// The folder the person typed or picked: `~` is their home; anything else must be absolute
/// (the app's working directory means nothing to them).
fn folder(dir: &str) -> Result<PathBuf, WireError> {
    let dir = dir.trim();
    let path = match dir.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = std::env::var_os("HOME").ok_or_else(|| {
                wire(
                    ErrorKind::Invalid,
                    "~ cannot be used here ($HOME is not set); give the full path",
                )
            })?;
            PathBuf::from(home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(dir),
    };
    if dir.is_empty() {
        return Err(wire(ErrorKind::Invalid, "no folder given; choose one"));
    }
    if !path.is_absolute() {
        return Err(wire(
            ErrorKind::Invalid,
            &format!("{dir} is not a full path; give one starting with / or ~"),
        ));
    }
    Ok(path)
}

fn wire(kind: ErrorKind, message: &str) -> WireError {
    WireError {
        kind,
        message: message.to_owned(),
    }
}

fn vault_wire(e: VaultError) -> WireError {
    match e {
        VaultError::Node(e) => e.to_wire(),
        VaultError::NoSuchDir(_) | VaultError::NotADir(_) => {
            wire(ErrorKind::Invalid, &e.to_string())
        }
        other => wire(ErrorKind::Internal, &other.to_string()),
    }
}

/// Runs `job` on a blocking thread (the folder walk and the file writes block) and waits for it.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, WireError> + Send + 'static,
) -> Result<T, WireError> {
    tauri::async_runtime::spawn_blocking(job)
        .await
        .map_err(|e| {
            wire(
                ErrorKind::Internal,
                &format!("the folder work stopped: {e}"),
            )
        })?
}

/// Imports the Markdown files under `dir` into `space` (the personal space when absent).
#[tauri::command]
pub async fn import_folder(
    app: AppHandle,
    shell: tauri::State<'_, Shell>,
    dir: String,
    space: Option<String>,
) -> Result<ImportSummary, WireError> {
    folder_work(app, &shell, &dir, |mut node, dir, progress| async move {
        tacit_vault::import_dir(&mut node, &dir, space.as_deref(), progress).await
    })
    .await
}

/// Exports `space` (every space, a folder each, when absent) as Markdown files under `dir`.
#[tauri::command]
pub async fn export_folder(
    app: AppHandle,
    shell: tauri::State<'_, Shell>,
    dir: String,
    space: Option<String>,
) -> Result<ExportSummary, WireError> {
    folder_work(app, &shell, &dir, |mut node, dir, progress| async move {
        tacit_vault::export_dir(&mut node, &dir, space.as_deref(), progress).await
    })
    .await
}

/// Runs an import or export of the folder `dir` on a blocking thread, with throttled progress
/// events to the window.
async fn folder_work<T, Fut>(
    app: AppHandle,
    shell: &Shell,
    dir: &str,
    job: impl FnOnce(Node, PathBuf, Box<dyn FnMut(&Progress) + Send>) -> Fut + Send + 'static,
) -> Result<T, WireError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, VaultError>>,
{
    let node = shell.node().await?;
    let dir = folder(dir)?;
    let progress = Box::new(throttled(app));
    blocking(move || tauri::async_runtime::block_on(job(node, dir, progress)).map_err(vault_wire))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_absolute_or_from_home() {
        assert_eq!(folder("/tmp/x").ok(), Some(PathBuf::from("/tmp/x")));
        assert_eq!(folder("  /tmp/x ").ok(), Some(PathBuf::from("/tmp/x")));
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                folder("~/notes").ok(),
                Some(PathBuf::from(home).join("notes"))
            );
        }
        assert_eq!(
            folder("notes").err().map(|e| e.kind),
            Some(ErrorKind::Invalid)
        );
        assert_eq!(folder("").err().map(|e| e.kind), Some(ErrorKind::Invalid));
        // `~user` is not expanded: it is a relative path.
        assert!(folder("~bob/notes").is_err());
    }
}
