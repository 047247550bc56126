//! Attachments in the window: images for the preview (as data URLs, so the page loads nothing
//! from anywhere), files opened with the system's handler, and pasted bytes stored as files.
//! Each command is a few lines over the node's `AttachmentGet` and `Attach` requests.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tacit_node::{NodeError, Request, Response, WireError};

use crate::app::Shell;

/// Largest image the preview shows inline: its bytes cross the IPC as base64 once per render
/// of a note (cached by the page); larger ones are opened with the system's viewer instead.
const MAX_INLINE_IMAGE: u64 = 8 * 1024 * 1024;

/// Largest file pasted at once (its bytes come over the IPC as a JSON array).
const MAX_PASTE: usize = 32 * 1024 * 1024;

/// A file name's extension, lowercased: after its last dot, when something comes before it
/// (`.desktop` has none).
fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// The image types the preview shows inline, by file extension.
fn image_mime(name: &str) -> Option<&'static str> {
    let ext = extension(name)?;
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "bmp" => "image/bmp",
        "avif" => "image/avif",
        _ => return None,
    })
}

/// An attachment's bytes on this machine, fetched from a member first when needed.
async fn local_file(
    shell: &Shell,
    note: String,
    name: String,
) -> Result<(PathBuf, u64, String), WireError> {
    let node = shell.node().await?;
    match node
        .execute(Request::AttachmentGet { id: note, name })
        .await
    {
        Ok(Response::AttachmentFile {
            attachment, path, ..
        }) => Ok((PathBuf::from(path), attachment.size, attachment.hash)),
        Ok(_) => Err(NodeError::Internal("unexpected reply to AttachmentGet".into()).to_wire()),
        Err(e) => Err(e.to_wire()),
    }
}

/// An image attachment as a `data:` URL; `None` when it is not an image or too large.
#[tauri::command]
pub async fn attachment_image(
    shell: tauri::State<'_, Shell>,
    note: String,
    name: String,
) -> Result<Option<String>, WireError> {
    let Some(mime) = image_mime(&name) else {
        return Ok(None);
    };
    // Its size as the note states it, before anything is fetched: a large image is opened
    // with the system's viewer when asked, not downloaded because a note was shown.
    let node = shell.node().await?;
    let stated = match node
        .execute(Request::Attachments { id: note.clone() })
        .await
    {
        Ok(Response::Attachments { items, .. }) => {
            items.into_iter().find(|a| a.name == name).map(|a| a.size)
        }
        Ok(_) => None,
        Err(e) => return Err(e.to_wire()),
    };
    if stated.is_none_or(|size| size > MAX_INLINE_IMAGE) {
        return Ok(None);
    }
    let (path, size, _) = local_file(&shell, note, name).await?;
    if size > MAX_INLINE_IMAGE {
        return Ok(None);
    }
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| NodeError::Internal(e.to_string()).to_wire())?
        .map_err(|e| NodeError::Internal(format!("cannot read the attachment: {e}")).to_wire())?;
    Ok(Some(format!(
        "data:{mime};base64,{}",
        data_encoding::BASE64.encode(&bytes)
    )))
}

/// File types opened with the system's handler on a click: documents, images, audio, video
/// and archives (the archive manager lists them; nothing runs), whose handlers show them. Any
/// other type (a `.desktop` entry, a script, a package, a program, a web page or an SVG, a file
/// with no extension that the desktop sniffs by its bytes) may run what a member of a shared
/// space sent: it is saved and opened by hand instead.
pub(crate) const OPENED_ON_A_CLICK: [&[&str]; 4] = [
    &[
        "pdf", "txt", "text", "md", "markdown", "csv", "tsv", "log", "rtf", "epub", "odt", "ods",
        "odp", "odg", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
    ],
    &[
        "png", "jpg", "jpeg", "gif", "webp", "bmp", "avif", "heic", "heif", "tif", "tiff", "ico",
    ],
    &[
        "mp3", "wav", "ogg", "oga", "opus", "flac", "m4a", "aac", "mp4", "m4v", "mov", "webm",
        "mkv", "avi", "ogv",
    ],
    &["zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "7z"],
];

/// Whether `name` is of a type opened with the system's handler on a click.
fn opened_on_a_click(name: &str) -> bool {
    extension(name).is_some_and(|ext| {
        OPENED_ON_A_CLICK
            .iter()
            .any(|kind| kind.contains(&ext.as_str()))
    })
}

/// Opens an attachment with the system's handler: a copy under its own name (the store names
/// files by hash, and handlers choose by extension) in a folder only this person can write
/// ([`opened_copies`]). Only the types in [`OPENED_ON_A_CLICK`] are opened, and only when the
/// copy's bytes are of the type its name says (`content.rs`: some desktops choose the handler
/// by the bytes).
#[tauri::command]
pub async fn attachment_open(
    shell: tauri::State<'_, Shell>,
    note: String,
    name: String,
) -> Result<(), WireError> {
    if !opened_on_a_click(&name) {
        return Err(NodeError::Refused(
            "Tacit opens documents, images, audio, video and archives with a click; this file is \
             of another type, which may be a program. If you trust whoever attached it, save it \
             (tacit attachment save) and open it yourself"
                .into(),
        )
        .to_wire());
    }
    let ext = extension(&name).unwrap_or_default();
    let checked = ext.clone();
    let (path, _, hash) = local_file(&shell, note, name.clone()).await?;
    let dir = opened_copies(shell.home()).join(hash.get(..16).unwrap_or(&hash));
    let target = dir.join(&name);
    let opened = tokio::task::spawn_blocking(move || -> std::io::Result<Option<&'static str>> {
        std::fs::create_dir_all(&dir)?;
        // Only a file this app copied is reused (never what a link points to).
        if !std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(&target);
            std::fs::copy(&path, &target)?;
        }
        // The bytes handed to the desktop are the copy's: those are checked.
        if let Some(why) = content_mismatch(&target, &checked)? {
            let _ = std::fs::remove_file(&target);
            return Ok(Some(why));
        }
        open_with_system(&target).map(|()| None)
    })
    .await
    .map_err(|e| NodeError::Internal(e.to_string()).to_wire())?;
    match opened {
        Ok(None) => Ok(()),
        Ok(Some(why)) => Err(NodeError::Refused(format!(
            "“{name}” is named as a .{ext} file but is not one ({why}); the desktop may choose \
             what opens it by its content, so Tacit does not open it with a click. If you trust \
             whoever attached it, save it (tacit attachment save) and open it yourself"
        ))
        .to_wire()),
        Err(e) => Err(NodeError::Internal(format!("cannot open {name}: {e}")).to_wire()),
    }
}

/// Why the file at `path`, named with extension `ext`, is not of that type (`content.rs`).
fn content_mismatch(path: &Path, ext: &str) -> std::io::Result<Option<&'static str>> {
    let limit = crate::content::read_size(ext);
    let mut head = Vec::with_capacity(limit.min(64 * 1024));
    std::fs::File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut head)?;
    let whole = head.len() <= limit;
    head.truncate(limit);
    Ok(crate::content::mismatch(ext, &head, whole))
}

/// Where attachments are copied to be opened: the session's runtime folder, else the home
/// (a shared /tmp would let another user plant a link where the copy goes); a folder per
/// attachment (the start of its hash) holds the copy under its own name.
fn opened_copies(home: &Path) -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("tacit"))
        .unwrap_or_else(|| home.to_path_buf())
        .join("open")
}

/// Copies opened from attachments are removed at launch once this old: the handler they were
/// given to has long read them (one still open in a viewer a day later keeps its open file).
const OPENED_COPY_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// At most this many entries (folders and files) are looked at per launch, so that a folder
/// filled by something else cannot hold the launch's background work for long; what is left
/// is removed at a later launch.
const CLEANUP_ENTRIES_MAX: usize = 10_000;

/// Removes the copies of attachments opened more than [`OPENED_COPY_KEPT`] ago (at launch, on
/// a blocking thread); how many files were removed.
pub fn remove_old_copies(home: &Path) -> usize {
    remove_copies_older_than(&opened_copies(home), SystemTime::now(), OPENED_COPY_KEPT)
}

/// Removes from `open` (folders of copies) every file and link last changed more than `kept`
/// before `now`, then the folders left empty. Links are removed themselves, never followed;
/// nothing below a folder's files is visited; at most [`CLEANUP_ENTRIES_MAX`] entries.
fn remove_copies_older_than(open: &Path, now: SystemTime, kept: Duration) -> usize {
    let old = |path: &Path| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > kept))
    };
    let Ok(folders) = std::fs::read_dir(open) else {
        return 0;
    };
    let mut seen = 0;
    let mut removed = 0;
    for folder in folders.flatten() {
        seen += 1;
        if seen > CLEANUP_ENTRIES_MAX {
            break;
        }
        let path = folder.path();
        // Read before its old files go (which makes it new): a folder just made by another
        // window, about to receive its copy, is left alone.
        let folder_old = old(&path);
        // The entry's own type: a link to a folder is a link.
        let Ok(kind) = folder.file_type() else {
            continue;
        };
        if !kind.is_dir() {
            // This app makes only folders here.
            if folder_old && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
            continue;
        }
        let Ok(files) = std::fs::read_dir(&path) else {
            continue;
        };
        for file in files.flatten() {
            seen += 1;
            if seen > CLEANUP_ENTRIES_MAX {
                break;
            }
            let is_dir = file.file_type().is_ok_and(|k| k.is_dir());
            if !is_dir && old(&file.path()) && std::fs::remove_file(file.path()).is_ok() {
                removed += 1;
            }
        }
        if folder_old {
            // Only when empty.
            let _ = std::fs::remove_dir(&path);
        }
    }
    removed
}

/// Hands a file to the desktop's handler for its type.
fn open_with_system(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    // Not `cmd /C start`: cmd would read `&` in a member's file name as a command.
    #[cfg(target_os = "windows")]
    let mut cmd = std::process::Command::new("explorer");
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut cmd = std::process::Command::new("xdg-open");
    for (name, value) in host_env(|name| std::env::var_os(name)) {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    if let Some(dir) = path.parent() {
        // Not the app's working directory, which is inside the AppImage when run from one.
        cmd.current_dir(dir);
    }
    cmd.arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

/// The variables the AppImage's AppRun set for the app (WebKitGTK and GTK as it carries them:
/// scripts/appimage.sh), each as it was before (`None`: it was not set), for the programs the
/// app starts, which are the system's and must not load the AppImage's libraries. Empty outside
/// the AppImage. `var` reads the environment.
fn host_env(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Vec<(String, Option<std::ffi::OsString>)> {
    let Some(names) = var("TACIT_APPIMAGE_ENV") else {
        return Vec::new();
    };
    names
        .to_string_lossy()
        .split_whitespace()
        .map(|name| {
            let before = var(&format!("APPIMAGE_ORIGINAL_{name}"));
            (name.to_owned(), before)
        })
        .collect()
}

/// Attaches pasted bytes to a note under `name` (the body is left to the editor); the
/// reference to put in the body.
#[tauri::command]
pub async fn attach_bytes(
    shell: tauri::State<'_, Shell>,
    note: String,
    name: String,
    data: Vec<u8>,
) -> Result<String, WireError> {
    attach_data(&shell, note, name, data).await
}

/// Attaches the image on the system clipboard to a note under `name` (a PNG, whatever format
/// the clipboard offered); the reference to put in the body, or `None` when the clipboard
/// holds no image. WebKitGTK hands a page's paste event no clipboard images at all (its
/// `clipboardData` is empty), so the page asks for it here when a paste brings nothing.
#[tauri::command]
pub async fn attach_clipboard_image(
    app: tauri::AppHandle,
    shell: tauri::State<'_, Shell>,
    note: String,
    name: String,
) -> Result<Option<String>, WireError> {
    let Some(png) = clipboard_png(&app).await? else {
        return Ok(None);
    };
    attach_data(&shell, note, name, png).await.map(Some)
}

/// The clipboard's image as PNG bytes, read through GTK on the main thread.
#[cfg(target_os = "linux")]
async fn clipboard_png(app: &tauri::AppHandle) -> Result<Option<Vec<u8>>, WireError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<Option<Vec<u8>>>();
    app.run_on_main_thread(move || {
        let clipboard = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
        // Asynchronous: the owner (another application) answers through the main loop.
        clipboard.request_image(move |_, image| {
            let png = image.and_then(|p| p.save_to_bufferv("png", &[]).ok());
            let _ = tx.send(png);
        });
    })
    .map_err(|e| NodeError::Internal(format!("cannot reach the window's thread: {e}")).to_wire())?;
    let png = tokio::time::timeout(std::time::Duration::from_secs(10), rx)
        .await
        .map_err(|_| {
            NodeError::Offline("the application holding the clipboard did not answer".into())
                .to_wire()
        })?
        .unwrap_or(None);
    Ok(png)
}

/// The clipboard's image: only read through GTK (Linux) so far.
#[cfg(not(target_os = "linux"))]
async fn clipboard_png(_app: &tauri::AppHandle) -> Result<Option<Vec<u8>>, WireError> {
    Ok(None)
}

/// Stores `data` as a file named `name` and attaches it to `note` (the body is left to the
/// editor); the reference to put in the body.
async fn attach_data(
    shell: &Shell,
    note: String,
    name: String,
    data: Vec<u8>,
) -> Result<String, WireError> {
    if data.len() > MAX_PASTE {
        return Err(NodeError::Invalid(format!(
            "a pasted file of {} bytes is over {MAX_PASTE}; drop the file instead",
            data.len()
        ))
        .to_wire());
    }
    let node = shell.node().await?;
    tacit_node::core::check_attachment_name(&name).map_err(|e| NodeError::from(e).to_wire())?;
    // A file of its own in the home (private to its person), gone when dropped.
    let home = shell.home().to_path_buf();
    let file = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut file = tempfile::Builder::new()
            .prefix(".pasted-")
            .tempfile_in(&home)?;
        std::io::Write::write_all(&mut file, &data)?;
        Ok(file)
    })
    .await
    .map_err(|e| NodeError::Internal(e.to_string()).to_wire())?
    .map_err(|e| NodeError::Internal(format!("cannot keep the pasted file: {e}")).to_wire())?;
    let result = node
        .execute(Request::Attach {
            id: note,
            path: file.path().display().to_string(),
            name: Some(name),
            embed: false,
        })
        .await;
    drop(file);
    match result {
        Ok(Response::Attached { reference, .. }) => Ok(reference),
        Ok(_) => Err(NodeError::Internal("unexpected reply to Attach".into()).to_wire()),
        Err(e) => Err(e.to_wire()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_documents_and_media_are_opened_with_a_click() {
        for name in [
            "report.pdf",
            "plan.PNG",
            "notes.txt",
            "talk.mp4",
            "data.csv",
            "a.tar.gz",
        ] {
            assert!(opened_on_a_click(name), "{name}");
        }
        for name in [
            "run.desktop",
            ".desktop",
            "setup.EXE",
            "report.pdf.exe",
            "x.sh",
            "a.command",
            "b.vbs",
            "page.html",
            "drawing.svg",
            "libx.so.1",
            "README",
            "x.jnlp",
            "pdf",
        ] {
            assert!(!opened_on_a_click(name), "{name}");
        }
    }

    #[test]
    fn a_copy_is_checked_against_its_name_before_it_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let agenda = dir.path().join("agenda.pdf");
        std::fs::write(&agenda, b"#!/bin/sh\nrm -rf ~\n").unwrap();
        assert_eq!(
            content_mismatch(&agenda, "pdf").unwrap(),
            Some("it starts as a script does (#!)")
        );
        std::fs::write(&agenda, b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj").unwrap();
        assert_eq!(content_mismatch(&agenda, "pdf").unwrap(), None);
        // A text file is checked as far as it is read: a NUL past that is not seen, one
        // before it is.
        let notes = dir.path().join("notes.txt");
        let mut text = vec![b'a'; crate::content::TEXT_READ];
        text.push(0);
        std::fs::write(&notes, &text).unwrap();
        assert_eq!(content_mismatch(&notes, "txt").unwrap(), None);
        text[crate::content::TEXT_READ - 1] = 0;
        std::fs::write(&notes, &text).unwrap();
        assert!(content_mismatch(&notes, "txt").unwrap().is_some());
    }

    #[test]
    #[cfg(target_os = "linux")] // symlinks, and GNU touch to date one
    fn copies_opened_more_than_a_day_ago_are_removed_at_launch() {
        let open = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(24 * 60 * 60);
        let now = SystemTime::now();
        let copy = |folder: &str, name: &str, age: Duration| {
            let dir = open.path().join(folder);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(name);
            let file = std::fs::File::create(&path).unwrap();
            file.set_modified(now - age).unwrap();
            std::fs::File::open(&dir)
                .unwrap()
                .set_modified(now - age)
                .unwrap();
            path
        };
        let stale = copy("aaaa", "agenda.pdf", 2 * day);
        let fresh = copy("bbbb", "plan.pdf", Duration::from_secs(60));
        // A link planted among the copies goes, and what it points to stays.
        let outside = tempfile::tempdir().unwrap();
        let precious = outside.path().join("precious.txt");
        std::fs::write(&precious, b"keep").unwrap();
        let link = open.path().join("aaaa").join("link.txt");
        std::os::unix::fs::symlink(&precious, &link).unwrap();
        let folder_link = open.path().join("cccc");
        std::os::unix::fs::symlink(outside.path(), &folder_link).unwrap();
        // Old links: their own time is read, not their target's.
        let touch_link = |p: &Path| {
            let status = std::process::Command::new("touch")
                .args(["-h", "-d", "3 days ago"])
                .arg(p)
                .status()
                .unwrap();
            assert!(status.success());
        };
        touch_link(&link);
        touch_link(&folder_link);
        std::fs::File::open(open.path().join("aaaa"))
            .unwrap()
            .set_modified(now - 2 * day)
            .unwrap();

        let removed = remove_copies_older_than(open.path(), now, day);
        assert_eq!(removed, 3, "the old copy and the two links");
        assert!(!stale.exists() && !open.path().join("aaaa").exists());
        assert!(std::fs::symlink_metadata(&folder_link).is_err());
        assert!(fresh.exists(), "a copy opened a minute ago stays");
        assert_eq!(std::fs::read(&precious).unwrap(), b"keep");
        assert_eq!(
            remove_copies_older_than(&open.path().join("missing"), now, day),
            0
        );
    }

    #[test]
    fn images_by_extension() {
        assert_eq!(image_mime("a.PNG"), Some("image/png"));
        assert_eq!(image_mime("photo.jpeg"), Some("image/jpeg"));
        assert_eq!(image_mime("report.pdf"), None);
        assert_eq!(image_mime("README"), None);
    }

    #[test]
    fn programs_started_from_the_appimage_get_the_environment_as_it_was_before() {
        use std::ffi::OsString;
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert!(host_env(env(&[("LD_LIBRARY_PATH", "/x")])).is_empty());
        let restored = host_env(env(&[
            ("TACIT_APPIMAGE_ENV", "LD_LIBRARY_PATH XDG_DATA_DIRS"),
            ("LD_LIBRARY_PATH", "/tmp/.mount_T/usr/lib/x86_64-linux-gnu"),
            ("XDG_DATA_DIRS", "/tmp/.mount_T/usr/share:/usr/share"),
            ("APPIMAGE_ORIGINAL_XDG_DATA_DIRS", "/usr/share"),
        ]));
        assert_eq!(
            restored,
            vec![
                ("LD_LIBRARY_PATH".to_owned(), None),
                (
                    "XDG_DATA_DIRS".to_owned(),
                    Some(OsString::from("/usr/share"))
                ),
            ]
        );
    }
}
