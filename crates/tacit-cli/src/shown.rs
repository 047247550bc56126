//! What the CLI prints of text others wrote (a peer's titles, bodies, names, attachment and
//! space names) cannot drive the terminal. A member of a shared space could otherwise put
//! escape sequences in a note's title that clear the screen, rewrite lines already printed,
//! set the window's title, or (in terminals that allow it) write the clipboard, as soon as
//! anyone lists the space; or direction overrides that show `gpj.exe` as `exe.jpg`.
//!
//! Text output: every control character but a line break and a tab, and every direction
//! embedding, override or isolate, is shown as U+FFFD. The only escapes that pass are bold
//! and reset (`ESC[1m`, `ESC[0m`), which search hits use and which can do no harm. JSON
//! output keeps every character: serde escapes the C0 controls, and the rest that could act
//! (DEL, the C1 controls, direction controls) are written as `\uXXXX` escapes, which read
//! back as the same string.

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;
use tacit_node::core::is_direction_control;

/// Shown in place of a character that could act on the terminal.
const REPLACEMENT: char = '\u{FFFD}';
/// The escape sequences that pass: bold on and off (search hits' marks).
const PASSING: [&str; 2] = ["\x1b[1m", "\x1b[0m"];

/// Whether `c` may act on a terminal rather than be shown.
fn acts(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_direction_control(c)
}

/// `text` as it may reach a terminal (see the module's documentation).
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(seq) = PASSING.iter().find(|s| rest.starts_with(**s)) {
            out.push_str(seq);
            rest = &rest[seq.len()..];
            continue;
        }
        out.push(if acts(c) { REPLACEMENT } else { c });
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// `value` as pretty JSON for a terminal (see [`json_printable`]).
pub(crate) fn json(value: &impl Serialize) -> serde_json::Result<String> {
    serde_json::to_string_pretty(value).map(json_printable)
}

/// JSON text with every character that could act on a terminal written as a `\uXXXX` escape
/// (such characters are only ever inside strings: JSON's own syntax is ASCII).
fn json_printable(json: String) -> String {
    if !json.chars().any(acts) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if acts(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A writer that passes what is written to it through [`printable`].
pub(crate) struct Shown<W: Write> {
    inner: W,
    /// The start of a character cut off at the end of the last write.
    carry: Vec<u8>,
}

impl<W: Write> Shown<W> {
    pub(crate) fn new(inner: W) -> Shown<W> {
        Shown {
            inner,
            carry: Vec::new(),
        }
    }
}

impl<W: Write> Write for Shown<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let joined;
        let bytes = if self.carry.is_empty() {
            buf
        } else {
            joined = [std::mem::take(&mut self.carry).as_slice(), buf].concat();
            joined.as_slice()
        };
        let (text, cut) = match std::str::from_utf8(bytes) {
            Ok(t) => (Cow::Borrowed(t), &[][..]),
            // A character cut at the end waits for the rest.
            Err(e) if e.error_len().is_none() => {
                let (whole, cut) = bytes.split_at(e.valid_up_to());
                (String::from_utf8_lossy(whole), cut)
            }
            Err(_) => (String::from_utf8_lossy(bytes), &[][..]),
        };
        self.inner.write_all(printable(&text).as_bytes())?;
        self.carry = cut.to_vec();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.carry.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.carry)).into_owned();
            self.inner.write_all(printable(&rest).as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Shown<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_direction_controls_are_shown_not_acted_on() {
        let title = "Plan\x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J\r\u{9b}31m\u{202E}gpj.exe\u{7f}";
        let shown = printable(title);
        assert!(!shown.chars().any(acts), "{shown:?}");
        assert!(shown.starts_with("Plan\u{FFFD}]52;c;"), "{shown:?}");
        assert!(shown.ends_with("\u{FFFD}gpj.exe\u{FFFD}"), "{shown:?}");
        // Bodies keep their lines and tabs; bold and reset pass.
        let body = "one\n\ttwo \x1b[1mbold\x1b[0m";
        assert_eq!(printable(body), body);
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_keeps_every_character_as_an_escape() {
        let title = "a\x1b[2J\u{9b}b\u{202E}c\u{7f}";
        let json = serde_json::to_string(&serde_json::json!({ "title": title })).unwrap();
        let shown = json_printable(json);
        assert!(!shown.chars().any(acts), "{shown:?}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["title"], title);
    }

    #[test]
    fn a_character_cut_between_writes_comes_out_whole() {
        let mut out = Vec::new();
        {
            let mut w = Shown::new(&mut out);
            let text = "é\u{202E}x".as_bytes();
            w.write_all(&text[..1]).unwrap();
            w.write_all(&text[1..3]).unwrap();
            w.write_all(&text[3..]).unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "é\u{FFFD}x");
    }
}
