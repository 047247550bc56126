//! Notes and questions as Markdown files with YAML front matter, and file names that every
//! operating system accepts.

use std::collections::HashMap;
use std::fmt::Write as _;

use tacit_core::{MemberId, NoteView, QuestionView};

use crate::dates;

/// The line that starts the answers of an exported question. Importing the file keeps the text
/// before it only: answers are someone else's words and would come back under the importer's
/// name.
pub const ANSWERS_MARKER: &str = "<!-- tacit:answers";

/// Longest file name made from a title or an attachment's name, in bytes of UTF-8 (without
/// ` (2)` or ` 2`, and for a title without `.md`): file systems take 255 bytes (ext4, APFS; NTFS
/// 255 UTF-16 units), and a title of 100 CJK characters or emoji is 300 to 400 bytes. 200 leaves
/// room for any suffix.
pub const MAX_FILE_NAME_BYTES: usize = 200;

/// The longest extension kept whole when an attachment's name is shortened.
const MAX_EXTENSION_BYTES: usize = 16;

/// Who wrote what, by member id.
pub type Names = HashMap<MemberId, String>;

/// A note as a Markdown file: front matter (id, kind, title, aliases, tags, created, updated,
/// author, space), a blank line, then the body as it is.
pub fn render_note(note: &NoteView, space_name: &str, names: &Names) -> String {
    let mut out = String::with_capacity(note.body.len() + 400);
    out.push_str("---\n");
    field(&mut out, "id", &note.id.to_string());
    field(&mut out, "kind", "note");
    field(&mut out, "title", &quote(&note.title));
    list(&mut out, "aliases", &note.aliases);
    list(&mut out, "tags", &note.tags);
    field(&mut out, "created", &dates::format(note.created_at));
    field(&mut out, "updated", &dates::format(note.updated_at));
    field(&mut out, "author", &quote(&name_of(names, &note.author)));
    field(&mut out, "space", &quote(space_name));
    out.push_str("---\n\n");
    out.push_str(&note.body);
    out
}

/// A question as a Markdown file: front matter, the question's body, then each answer as a
/// section (author, date, whether accepted, the answer's Markdown) after [`ANSWERS_MARKER`].
pub fn render_question(q: &QuestionView, space_name: &str, names: &Names) -> String {
    let answers: usize = q.answers.iter().map(|a| a.body.len() + 80).sum();
    let mut out = String::with_capacity(q.body.len() + answers + 600);
    out.push_str("---\n");
    field(&mut out, "id", &q.id.to_string());
    field(&mut out, "kind", "question");
    field(&mut out, "title", &quote(&q.title));
    list(&mut out, "tags", &q.tags);
    field(&mut out, "created", &dates::format(q.created_at));
    field(&mut out, "updated", &dates::format(q.updated_at));
    field(&mut out, "author", &quote(&name_of(names, &q.author)));
    field(&mut out, "space", &quote(space_name));
    field(&mut out, "answers", &q.answers.len().to_string());
    out.push_str("---\n\n");
    out.push_str(&q.body);
    if q.answers.is_empty() {
        return out;
    }
    out.push_str("\n\n");
    out.push_str(ANSWERS_MARKER);
    out.push_str(
        " — the answers are here to read; importing this file brings back the question only -->\n",
    );
    out.push_str("## Answers\n");
    for a in &q.answers {
        let accepted = if q.accepted == Some(a.id) || a.accepted {
            " ✓ accepted"
        } else {
            ""
        };
        let _ = write!(
            out,
            "\n### {} — {}{accepted}\n\n",
            heading_text(&name_of(names, &a.author)),
            dates::day(a.created_at),
        );
        out.push_str(a.body.trim_end());
        out.push('\n');
    }
    out
}

/// A title made into a file name (without extension) that Windows, macOS and Linux all accept:
/// no `/ \ : * ? " < > |`, no control characters, no invisible format characters (see
/// [`is_hidden_format`]), no leading dot (it would hide the file) or trailing dot or space, not
/// a reserved Windows name, at most [`MAX_FILE_NAME_BYTES`] bytes; `Untitled` when nothing is
/// left.
pub fn safe_file_name(title: &str) -> String {
    let mut name = String::with_capacity(title.len());
    let mut space = false;
    for c in title.chars() {
        let c = match c {
            c if is_hidden_format(c) => continue,
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
            c if c.is_control() || c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            space = !name.is_empty();
            continue;
        }
        if space {
            name.push(' ');
            space = false;
        }
        name.push(c);
    }
    let mut name = byte_prefix(name.trim_start_matches(['.', ' ']), MAX_FILE_NAME_BYTES).to_owned();
    while name.ends_with(['.', ' ']) {
        name.pop();
    }
    if name.is_empty() {
        return "Untitled".into();
    }
    not_reserved(name)
}

/// An attachment's name made into a file name that Windows, macOS and Linux all accept, as
/// [`safe_file_name`] does for titles, keeping its extension: `:` and the other characters
/// FAT, exFAT and NTFS refuse become `-`, invisible format characters are dropped (a member's
/// `photo\u{202E}gpj.exe` would show as `photoexe.jpg`), and a name past
/// [`MAX_FILE_NAME_BYTES`] is shortened before its extension; `attachment` when nothing is
/// left. Spaces inside the name are kept, so a plain name is written as it is.
pub fn safe_attachment_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            c if is_hidden_format(c) => {}
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => out.push('-'),
            c if c.is_control() || c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    let trimmed = out.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let name = match trimmed.rsplit_once('.') {
        Some((stem, ext))
            if trimmed.len() > MAX_FILE_NAME_BYTES
                && !stem.is_empty()
                && ext.len() <= MAX_EXTENSION_BYTES =>
        {
            let stem = byte_prefix(stem, MAX_FILE_NAME_BYTES - ext.len() - 1);
            format!(
                "{}.{ext}",
                stem.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
            )
        }
        _ => {
            let cut = byte_prefix(trimmed, MAX_FILE_NAME_BYTES);
            cut.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
                .to_owned()
        }
    };
    if name.is_empty() {
        return "attachment".into();
    }
    not_reserved(name)
}

/// `name` with `_` after its first part when Windows reserves it whatever the extension:
/// `con.md`, `LPT1.txt.md`.
fn not_reserved(mut name: String) -> String {
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        name.insert(stem.len(), '_');
    }
    name
}

/// Whether `c` is an invisible format character, dropped from the names of files an export
/// writes: direction marks, embeddings, overrides and isolates (U+200E, U+200F, U+061C,
/// U+202A–U+202E, U+2066–U+2069: they make a file manager show `gpj.exe` as `exe.jpg`), and
/// the other characters of Unicode's category Cf that show as nothing (soft hyphen, zero-width
/// space, word joiner, invisible operators, BOM, interlinear annotation, tags). The zero-width
/// joiner and non-joiner stay: emoji sequences and Persian and Indic words need them, and they
/// reorder nothing.
pub fn is_hidden_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}'
    )
}

/// The longest start of `s` of at most `max` bytes that ends at a character boundary.
fn byte_prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What tells two file names apart on every disk: the name in Unicode's composed form (NFC),
/// in lower case. macOS takes `é` and `e` + U+0301 for one name, and macOS and Windows take
/// `A` and `a` for one, so an export that compared the bytes would write a member's
/// look-alike title over another note's file.
pub fn name_key(name: &str) -> String {
    let nfc = icu_normalizer::ComposingNormalizerBorrowed::new_nfc();
    nfc.normalize(&nfc.normalize(name).to_lowercase())
        .into_owned()
}

/// `name`, or `name (2)`, `name (3)`, … : the first not in `taken` (compared by [`name_key`],
/// as macOS and Windows compare names); its key is added to `taken`.
pub fn unique_name(name: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while !taken.insert(name_key(&candidate)) {
        candidate = format!("{name} ({n})");
        n += 1;
    }
    candidate
}

fn name_of(names: &Names, member: &MemberId) -> String {
    names.get(member).cloned().unwrap_or_else(|| member.short())
}

fn field(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key}: {value}");
}

fn list(out: &mut String, key: &str, items: &[String]) {
    if items.is_empty() {
        let _ = writeln!(out, "{key}: []");
        return;
    }
    let _ = writeln!(out, "{key}:");
    for item in items {
        let _ = writeln!(out, "  - {}", quote(item));
    }
}

/// A name on one line, for a heading.
fn heading_text(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// A YAML double-quoted string: `\` and `"` escaped, and every character that YAML does not
/// allow raw (controls, C1, BOM, noncharacters) or that would break a line, as `\uXXXX`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
                ) =>
            {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse::parse_file;
    use proptest::prelude::*;
    use tacit_core::{AnswerId, DocId, Kind};

    fn note(title: &str, body: &str) -> NoteView {
        NoteView {
            id: DocId::from_bytes([7; 16]),
            title: title.into(),
            body: body.into(),
            tags: vec!["ops".into(), "123".into(), "true".into()],
            inline_tags: Vec::new(),
            aliases: vec!["Other: name".into()],
            author: MemberId::from_bytes([1; 32]),
            created_at: 1_704_412_800_123,
            updated_at: 1_704_499_200_000,
            heads: Vec::new(),
            answered_in: Vec::new(),
            from_answer: None,
        }
    }

    #[test]
    fn a_rendered_note_reads_back() {
        let n = note("Deploy: \"the\" checklist\\", "\nBody #ops\n\n```\n#x\n```");
        let names: Names = [(n.author, "Ada \"L\"".to_string())].into();
        let text = render_note(&n, "Platform", &names);
        assert!(text.contains("author: \"Ada \\\"L\\\"\""), "{text}");
        let p = parse_file("Deploy.md", text.as_bytes(), None).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(p.note.id, Some(n.id));
        assert_eq!(p.note.kind, Kind::Note);
        assert_eq!(p.note.draft.title, n.title);
        assert_eq!(p.note.draft.body, n.body);
        assert_eq!(p.note.draft.tags, n.tags);
        assert_eq!(p.note.draft.aliases, n.aliases);
        assert_eq!(p.note.created_at, Some(n.created_at));
    }

    #[test]
    fn a_rendered_question_reads_back_without_its_answers() {
        let q = QuestionView {
            id: DocId::from_bytes([9; 16]),
            title: "How do we rotate the cert?".into(),
            body: "Details.\n".into(),
            tags: vec!["tls".into()],
            author: MemberId::from_bytes([1; 32]),
            created_at: 0,
            updated_at: 0,
            accepted: Some(AnswerId::from_bytes([3; 16])),
            answers: vec![tacit_core::AnswerView {
                id: AnswerId::from_bytes([3; 16]),
                author: MemberId::from_bytes([2; 32]),
                body: "Run the playbook.\n".into(),
                created_at: 86_400_000,
                accepted: true,
                thanked_by: Vec::new(),
                score: 0,
                from_note: None,
                shared_as: None,
                fresh_since: 86_400_000,
                confirmed_by: Vec::new(),
            }],
        };
        let text = render_question(&q, "Personal", &Names::new());
        assert!(text.contains("### 02020202 — 1970-01-02 ✓ accepted\n\nRun the playbook.\n"));
        let p = parse_file("Questions/q.md", text.as_bytes(), None).unwrap();
        assert_eq!(p.note.kind, Kind::Question);
        assert_eq!(p.note.draft.body, q.body);
        assert_eq!(p.note.draft.tags, q.tags);
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            safe_file_name("a/b\\c:d*e?f\"g<h>i|j"),
            "a-b-c-d-e-f-g-h-i-j"
        );
        assert_eq!(safe_file_name("  .hidden. "), "hidden");
        assert_eq!(safe_file_name("tab\tand\nline\u{7}"), "tab and line");
        assert_eq!(safe_file_name("..."), "Untitled");
        assert_eq!(safe_file_name("con"), "con_");
        assert_eq!(safe_file_name("LPT1.txt"), "LPT1_.txt");
        assert_eq!(safe_file_name("COM"), "COM");
        assert_eq!(safe_file_name(&"é".repeat(300)), "é".repeat(100));
        let mut taken = std::collections::HashSet::new();
        assert_eq!(unique_name("Plan", &mut taken), "Plan");
        assert_eq!(unique_name("plan", &mut taken), "plan (2)");
        assert_eq!(unique_name("Plan", &mut taken), "Plan (3)");
    }

    /// A member's title of 100 CJK characters or emoji was cut at 100 characters, 300 to 400
    /// bytes: over the 255 bytes a file name may have, and every member's export failed.
    #[test]
    fn long_titles_in_any_script_make_names_a_disk_takes() {
        for title in [
            "語".repeat(100),
            "😀".repeat(100),
            format!("a{}", "😀".repeat(99)),
        ] {
            let name = safe_file_name(&title);
            assert!(name.len() <= MAX_FILE_NAME_BYTES, "{} bytes", name.len());
            assert!(name.len() > MAX_FILE_NAME_BYTES - 4, "cut at a character");
            let mut taken = std::collections::HashSet::new();
            taken.insert(name_key(&name));
            let unique = unique_name(&name, &mut taken);
            assert!(format!("{unique}.md").len() <= 255);
        }
        let long = format!("{}.png", "ü".repeat(120));
        let name = safe_attachment_name(&long);
        assert!(
            name.len() <= MAX_FILE_NAME_BYTES && name.ends_with("üü.png"),
            "{name}"
        );
        let name = safe_attachment_name(&format!("{}.{}", "x".repeat(230), "y".repeat(20)));
        assert_eq!(name.len(), MAX_FILE_NAME_BYTES);
    }

    /// A member's `invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf` in a file manager.
    #[test]
    fn names_on_disk_hold_no_direction_controls_or_invisible_characters() {
        assert_eq!(safe_file_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(safe_attachment_name("photo\u{202E}gpj.exe"), "photogpj.exe");
        for c in [
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{E0041}',
        ] {
            assert_eq!(
                safe_file_name(&format!("a{c}b")),
                "ab",
                "{:04x}",
                u32::from(c)
            );
            assert_eq!(
                safe_attachment_name(&format!("a{c}b.png")),
                "ab.png",
                "{:04x}",
                u32::from(c)
            );
        }
        // Emoji sequences and Persian words keep their joiners.
        assert_eq!(safe_attachment_name("👩\u{200D}💻.png"), "👩\u{200D}💻.png");
        assert_eq!(safe_file_name("\u{202E}"), "Untitled");
        assert_eq!(safe_attachment_name("\u{202E}"), "attachment");
    }

    /// FAT, exFAT and NTFS refuse these in a name; a `:` made NTFS write to a hidden stream.
    #[test]
    fn attachment_names_are_safe_on_every_disk() {
        assert_eq!(safe_attachment_name("plan: v2?.pdf"), "plan- v2-.pdf");
        assert_eq!(safe_attachment_name("a*b\"<c>.png"), "a-b--c-.png");
        assert_eq!(safe_attachment_name("diagram 1.png"), "diagram 1.png");
        assert_eq!(safe_attachment_name("CON.png"), "CON_.png");
        assert_eq!(safe_attachment_name(".env"), "env");
        assert_eq!(safe_attachment_name("notes.txt."), "notes.txt");
    }

    /// macOS takes `é` and `e` + U+0301 for one name: a member's NFD copy of a title was a
    /// name of its own to the export, and its file replaced the honest note's.
    #[test]
    fn names_equal_once_composed_are_one_name() {
        let mut taken = std::collections::HashSet::new();
        assert_eq!(unique_name("Café", &mut taken), "Café");
        assert_eq!(unique_name("Cafe\u{301}", &mut taken), "Cafe\u{301} (2)");
        assert_eq!(unique_name("CAFE\u{301}", &mut taken), "CAFE\u{301} (3)");
        assert_eq!(name_key("Ångström"), name_key("A\u{30a}ngstro\u{308}m"));
        assert_ne!(name_key("Cafe"), name_key("Café"));
    }

    proptest! {
        #[test]
        fn safe_names_are_safe(title in "\\PC{0,150}") {
            let name = safe_file_name(&title);
            prop_assert!(!name.is_empty());
            prop_assert!(name.len() <= MAX_FILE_NAME_BYTES + 1);
            prop_assert!(!name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']));
            prop_assert!(!name.chars().any(|c| c.is_control() || is_hidden_format(c)));
            prop_assert!(!name.starts_with('.') && !name.ends_with(['.', ' ']));
        }

        #[test]
        fn safe_attachment_names_are_safe(
            name in "[^\\[\\]|#^/\\\\\\p{Cc}\\p{Cn}]{1,63}(\\.[a-z]{1,4})?"
        ) {
            prop_assume!(tacit_core::check_attachment_name(&name).is_ok());
            let safe = safe_attachment_name(&name);
            prop_assert!(!safe.is_empty());
            prop_assert!(safe.len() <= MAX_FILE_NAME_BYTES + 1);
            prop_assert!(!safe.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']));
            prop_assert!(!safe.chars().any(|c| c.is_control() || is_hidden_format(c)));
            prop_assert!(!safe.starts_with('.') && !safe.ends_with(['.', ' ']));
            // An export's `![[embed]]` of it reads back as an attachment's name.
            prop_assert!(tacit_core::check_attachment_name(&safe).is_ok());
        }

        #[test]
        fn any_title_and_tags_survive_front_matter(title in "\\PC{1,80}", alias in "\\PC{1,40}") {
            prop_assume!(!title.trim().is_empty() && !alias.trim().is_empty());
            let mut n = note(&title, "b");
            n.aliases = vec![alias.trim().to_owned()];
            let p = parse_file("x.md", render_note(&n, "S", &Names::new()).as_bytes(), None).unwrap();
            prop_assert_eq!(p.note.draft.title, title.trim().replace(['\r', '\n'], " "));
            if alias.trim() != title.trim() {
                prop_assert_eq!(p.note.draft.aliases, vec![alias.trim().to_owned()]);
            }
        }
    }
}
