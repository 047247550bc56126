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

/// Longest file name made from a title, in characters (without the extension): well under
/// every file system's 255-byte limit even in 2-byte scripts, with room for ` (99)`.
pub const MAX_FILE_NAME_CHARS: usize = 100;

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
/// no `/ \ : * ? " < > |`, no control characters, no leading dot (it would hide the file) or
/// trailing dot or space, not a reserved Windows name, at most [`MAX_FILE_NAME_CHARS`]
/// characters; `Untitled` when nothing is left.
pub fn safe_file_name(title: &str) -> String {
    let mut name = String::with_capacity(title.len());
    let mut space = false;
    for c in title.chars() {
        let c = match c {
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
    let mut name: String = name
        .trim_start_matches(['.', ' '])
        .chars()
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    while name.ends_with(['.', ' ']) {
        name.pop();
    }
    if name.is_empty() {
        return "Untitled".into();
    }
    // Windows reserves these names whatever the extension: `con.md`, `LPT1.txt.md`.
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

/// `name`, or `name (2)`, `name (3)`, … : the first not in `taken` (compared ignoring case, as
/// macOS and Windows do); it is added to `taken`.
pub fn unique_name(name: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while !taken.insert(candidate.to_lowercase()) {
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
        assert_eq!(
            safe_file_name(&"é".repeat(300)).chars().count(),
            MAX_FILE_NAME_CHARS
        );
        let mut taken = std::collections::HashSet::new();
        assert_eq!(unique_name("Plan", &mut taken), "Plan");
        assert_eq!(unique_name("plan", &mut taken), "plan (2)");
        assert_eq!(unique_name("Plan", &mut taken), "Plan (3)");
    }

    proptest! {
        #[test]
        fn safe_names_are_safe(title in "\\PC{0,150}") {
            let name = safe_file_name(&title);
            prop_assert!(!name.is_empty());
            prop_assert!(name.chars().count() <= MAX_FILE_NAME_CHARS + 1);
            prop_assert!(!name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']));
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert!(!name.starts_with('.') && !name.ends_with(['.', ' ']));
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
