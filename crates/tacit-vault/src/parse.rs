//! One Markdown file into an [`ImportNote`]: front matter, title, tags, aliases, date. Never
//! fails on what the front matter says: what cannot be used is left out with a warning. A file
//! fails only when it is not UTF-8 or its body is over the limit.

use tacit_core::limits::{MAX_BODY_BYTES, MAX_TAGS, MAX_TITLE_CHARS};
use tacit_core::{DocId, Draft, Kind, normalize_tag};
use tacit_node::ImportNote;
use yaml_rust2::parser::Parser;
use yaml_rust2::{Event, Yaml, YamlLoader};

use crate::dates;
use crate::render::ANSWERS_MARKER;

/// Longest front matter read, in bytes. Real front matter is a few hundred bytes; a longer
/// block is more likely a document that happens to start with `---`, and stays body text.
pub const MAX_FRONT_MATTER_BYTES: usize = 64 * 1024;

/// Deepest nesting of lists and maps read in front matter. Real front matter nests two or three
/// deep (a list of tags in the top map); 64 KiB of `- - - …` nests 30,000 deep, which nothing
/// writes and which the loaded value would free by recursion.
pub const MAX_FRONT_MATTER_DEPTH: usize = 32;

/// A file read for import, and what could not be used of it.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The note to send.
    pub note: ImportNote,
    /// What was left out or guessed, for the summary.
    pub warnings: Vec<String>,
}

/// Reads one Markdown file: `rel_path` is its path in the folder with `/` separators (the
/// import key), `mtime` its modification time in ms (the date when the front matter has none).
/// `Err` holds why the file cannot be imported at all.
pub fn parse_file(rel_path: &str, bytes: &[u8], mtime: Option<i64>) -> Result<Parsed, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid bytes at offset {}); save it as UTF-8",
            e.valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut warnings = Vec::new();
    let (front, body) = split_front_matter(text, &mut warnings);
    if let Some(yaml) = front {
        check_front_matter(yaml)?;
    }
    let fields = match front {
        Some(yaml) => read_front_matter(yaml, &mut warnings),
        None => None,
    };
    let (fields, body) = match fields {
        Some(f) => (f, body),
        // Unusable front matter stays in the body, so nothing of the file is lost.
        None => (Fields::default(), if front.is_some() { text } else { body }),
    };
    let kind = match fields.kind.as_deref().map(str::trim) {
        None | Some("note") => Kind::Note,
        Some("question") => Kind::Question,
        Some(other) => {
            warnings.push(format!(
                "kind {other:?} is neither note nor question; imported as a note"
            ));
            Kind::Note
        }
    };
    let body = match kind {
        Kind::Question => strip_answers(body),
        _ => body,
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "too large: the text is {} bytes, the limit is {MAX_BODY_BYTES} (1 MiB); split the note",
            body.len()
        ));
    }
    let stem = file_stem(rel_path);
    let title = match fields.title {
        Some(t) => match check_title(&t) {
            Some(t) => t,
            None => {
                warnings.push(format!(
                    "title {:?} is empty or longer than {MAX_TITLE_CHARS} characters; the file name is the title",
                    shorten(&t)
                ));
                check_title(stem).unwrap_or_else(|| "Untitled".into())
            }
        },
        None => check_title(stem).unwrap_or_else(|| "Untitled".into()),
    };
    let mut tags: Vec<String> = Vec::new();
    for raw in fields.tags {
        match normalize_tag(&raw) {
            Ok(t) if !tags.contains(&t) => tags.push(t),
            Ok(_) => {}
            Err(_) => warnings.push(format!(
                "tag {raw:?} left out: a tag is letters, digits or - _ / . without spaces"
            )),
        }
    }
    if tags.len() > MAX_TAGS {
        let dropped = tags.split_off(MAX_TAGS);
        warnings.push(format!(
            "more than {MAX_TAGS} tags; left out: {}",
            dropped.join(", ")
        ));
    }
    let mut aliases: Vec<String> = Vec::new();
    for raw in fields.aliases {
        match check_title(&raw) {
            Some(a) if !aliases.contains(&a) && a != title => aliases.push(a),
            Some(_) => {}
            None => warnings.push(format!(
                "alias {:?} left out: empty or too long",
                shorten(&raw)
            )),
        }
    }
    if kind == Kind::Question && !aliases.is_empty() {
        warnings.push("aliases left out: questions have none".into());
        aliases.clear();
    }
    if aliases.len() > MAX_TAGS {
        aliases.truncate(MAX_TAGS);
        warnings.push(format!(
            "more than {MAX_TAGS} aliases; the first {MAX_TAGS} kept"
        ));
    }
    let created_at = match fields.created {
        Some(Ok(ms)) => Some(ms),
        Some(Err(raw)) => {
            warnings.push(format!(
                "date {raw:?} is not a date (YYYY-MM-DD, RFC 3339 or epoch ms); the file's time is used"
            ));
            mtime
        }
        None => mtime,
    };
    let id = match fields.id {
        Some(raw) => match raw.trim().to_ascii_lowercase().parse::<DocId>() {
            Ok(id) => Some(id),
            Err(_) => {
                warnings.push(format!("id {raw:?} is not a Tacit id; ignored"));
                None
            }
        },
        None => None,
    };
    Ok(Parsed {
        note: ImportNote {
            key: rel_path.to_owned(),
            id,
            kind,
            draft: Draft {
                title,
                body: body.to_owned(),
                tags,
                aliases,
            },
            created_at,
        },
        warnings,
    })
}

/// The front matter fields Tacit reads.
#[derive(Debug, Default)]
struct Fields {
    title: Option<String>,
    tags: Vec<String>,
    aliases: Vec<String>,
    /// The date, or the value that is not one.
    created: Option<Result<i64, String>>,
    id: Option<String>,
    kind: Option<String>,
}

/// The front matter (between a first line `---` and the next `---` or `...` line) and the
/// body after it, without the one blank line that usually follows.
fn split_front_matter<'a>(text: &'a str, warnings: &mut Vec<String>) -> (Option<&'a str>, &'a str) {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare.trim_end() == "---" || bare.trim_end() == "..." {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let body = body
                .strip_prefix("\r\n")
                .or_else(|| body.strip_prefix('\n'))
                .unwrap_or(body);
            if yaml.len() > MAX_FRONT_MATTER_BYTES {
                warnings.push(format!(
                    "front matter over {MAX_FRONT_MATTER_BYTES} bytes; kept as body text"
                ));
                return (None, text);
            }
            return (Some(yaml), body);
        }
        offset += line.len();
        if offset > MAX_FRONT_MATTER_BYTES {
            break;
        }
    }
    warnings.push("front matter has no closing `---` line; kept as body text".into());
    (None, text)
}

/// Refuses front matter that would cost far more to load than its size. The loader copies an
/// alias's value (`*name`) whole wherever it stands, so a few KiB of aliases of aliases ("a
/// billion laughs") expand to gigabytes: a file from someone else must not take the memory of
/// the machine that imports it. The events are read one by one (the parser keeps its own
/// stack, and builds nothing). YAML that does not parse passes here: the loader says why.
fn check_front_matter(yaml: &str) -> Result<(), String> {
    let mut parser = Parser::new_from_str(yaml);
    let mut depth = 0usize;
    loop {
        match parser.next_token() {
            Err(_) | Ok((Event::StreamEnd, _)) => return Ok(()),
            Ok((Event::Alias(_), mark)) => {
                return Err(format!(
                    "the front matter uses a YAML alias (`*name`, line {}); aliases are not \
                     read, as a few lines of them can take gigabytes of memory: write the value \
                     out instead",
                    mark.line() + 1
                ));
            }
            Ok((Event::SequenceStart(..) | Event::MappingStart(..), mark)) => {
                depth += 1;
                if depth > MAX_FRONT_MATTER_DEPTH {
                    return Err(format!(
                        "the front matter nests lists or maps more than \
                         {MAX_FRONT_MATTER_DEPTH} deep (line {}); flatten it",
                        mark.line() + 1
                    ));
                }
            }
            Ok((Event::SequenceEnd | Event::MappingEnd, _)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
        }
    }
}

/// The fields of a front matter block; `None` (with a warning) when it is not a YAML mapping.
fn read_front_matter(yaml: &str, warnings: &mut Vec<String>) -> Option<Fields> {
    let docs = match YamlLoader::load_from_str(yaml) {
        Ok(docs) => docs,
        Err(e) => {
            warnings.push(format!(
                "front matter is not valid YAML ({e}); kept as body text"
            ));
            return None;
        }
    };
    let map = match docs.into_iter().next() {
        None | Some(Yaml::Null) => return Some(Fields::default()),
        Some(Yaml::Hash(map)) => map,
        Some(_) => {
            warnings
                .push("front matter is not a list of `key: value` lines; kept as body text".into());
            return None;
        }
    };
    let mut f = Fields::default();
    for (key, value) in map {
        let Some(key) = scalar(&key) else { continue };
        match key.to_lowercase().as_str() {
            "title" => f.title = scalar(&value),
            "tags" | "tag" => f.tags.extend(list(&value, true)),
            "aliases" | "alias" => f.aliases.extend(list(&value, false)),
            "created" | "date" | "created_at" if f.created.is_none() => {
                f.created = match &value {
                    Yaml::Integer(n) => Some(Ok(dates::from_number(*n))),
                    Yaml::Null => None,
                    v => {
                        let raw = scalar(v).unwrap_or_default();
                        Some(dates::parse(&raw).ok_or(raw))
                    }
                }
            }
            "id" => f.id = scalar(&value),
            "kind" => f.kind = scalar(&value),
            _ => {}
        }
    }
    Some(f)
}

/// A scalar as text (`title: 2024` is a title too); `None` for lists, maps and null.
fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(n) => Some(n.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list field: a YAML list, or one string (split on commas, and on spaces too for tags).
fn list(v: &Yaml, split_spaces: bool) -> Vec<String> {
    match v {
        Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
        v => match scalar(v) {
            Some(s) => s
                .split(|c: char| c == ',' || (split_spaces && c.is_whitespace()))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        },
    }
}

/// A title or alias as the core takes it: trimmed, one line, 1 to [`MAX_TITLE_CHARS`]
/// characters.
fn check_title(s: &str) -> Option<String> {
    let t = s.trim().replace(['\r', '\n'], " ");
    (!t.is_empty() && t.chars().count() <= MAX_TITLE_CHARS).then_some(t)
}

/// The file name without folders and without `.md` / `.markdown`.
fn file_stem(rel_path: &str) -> &str {
    let name = rel_path.rsplit('/').next().unwrap_or(rel_path);
    for ext in [".md", ".markdown"] {
        if let Some(cut) = name.len().checked_sub(ext.len())
            && name.is_char_boundary(cut)
            && name[cut..].eq_ignore_ascii_case(ext)
        {
            return &name[..cut];
        }
    }
    name
}

/// A question's body without the answers an export wrote after it (they are not imported).
fn strip_answers(body: &str) -> &str {
    let at = if body.starts_with(ANSWERS_MARKER) {
        Some(0)
    } else {
        body.find(&format!("\n{ANSWERS_MARKER}")).map(|i| i + 1)
    };
    match at {
        Some(i) => {
            let before = &body[..i];
            // The export puts one blank line between the body and the answers.
            let before = before.strip_suffix('\n').unwrap_or(before);
            before.strip_suffix('\n').unwrap_or(before)
        }
        None => body,
    }
}

/// At most 60 characters of `s`, for a message.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(path: &str, text: &str) -> Parsed {
        parse_file(path, text.as_bytes(), Some(42)).unwrap()
    }

    #[test]
    fn front_matter_fields_are_read() {
        let p = parse(
            "projects/plan.md",
            "---\ntitle: The Plan\ntags: [Ops, '#rust']\naliases:\n  - Roadmap\n  - The Plan\n\
             created: 2024-01-05\n---\n\nBody with #inline and `#code`.\n",
        );
        assert_eq!(p.note.key, "projects/plan.md");
        assert_eq!(p.note.draft.title, "The Plan");
        // Inline tags stay in the body, where the note reads them (`NoteView::inline_tags`).
        assert_eq!(p.note.draft.tags, vec!["ops", "rust"]);
        assert_eq!(p.note.draft.aliases, vec!["Roadmap"]);
        assert_eq!(p.note.draft.body, "Body with #inline and `#code`.\n");
        assert_eq!(p.note.created_at, Some(1_704_412_800_000));
        assert_eq!(p.note.kind, Kind::Note);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn without_front_matter_the_file_name_is_the_title() {
        let p = parse("a/b/My Note.markdown", "# Heading\ntext");
        assert_eq!(p.note.draft.title, "My Note");
        assert_eq!(p.note.draft.body, "# Heading\ntext");
        assert_eq!(p.note.created_at, Some(42));
        assert!(p.note.draft.tags.is_empty());
    }

    #[test]
    fn tag_strings_split_and_bad_tags_warn() {
        let p = parse("t.md", "---\ntags: \"#a, b c\"\n---\n");
        assert_eq!(p.note.draft.tags, vec!["a", "b", "c"]);
        let p = parse("t.md", "---\ntags:\n  - good\n  - \"not ok!\"\n---\n");
        assert_eq!(p.note.draft.tags, vec!["good"]);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("not ok!"));
    }

    #[test]
    fn malformed_front_matter_stays_body_with_a_warning() {
        let text = "---\ntitle: [unclosed\n---\nbody";
        let p = parse("x.md", text);
        assert_eq!(p.note.draft.body, text);
        assert_eq!(p.note.draft.title, "x");
        assert_eq!(p.warnings.len(), 1);
        let p = parse("y.md", "---\nno end\n");
        assert_eq!(p.note.draft.body, "---\nno end\n");
        assert!(p.warnings[0].contains("closing"));
        let p = parse("z.md", "---\n- a list\n---\nb");
        assert_eq!(p.note.draft.body, "---\n- a list\n---\nb");
    }

    #[test]
    fn ids_kinds_and_dates() {
        let id = "6b8a95121abfb0d7e1223a4e501cb784";
        let p = parse(
            "q.md",
            &format!("---\nid: {id}\nkind: question\ndate: 1700000000000\n---\n\nWhy?\n"),
        );
        assert_eq!(p.note.id, Some(id.parse().unwrap()));
        assert_eq!(p.note.kind, Kind::Question);
        assert_eq!(p.note.created_at, Some(1_700_000_000_000));
        let p = parse("q.md", "---\nid: nope\nkind: essay\ncreated: soon\n---\n");
        assert_eq!(p.note.id, None);
        assert_eq!(p.note.kind, Kind::Note);
        assert_eq!(p.note.created_at, Some(42));
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
    }

    #[test]
    fn bad_files_fail_with_a_reason() {
        let e = parse_file("bad.md", b"ok \xff\xfe", None).unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        let e = parse_file("big.md", big.as_bytes(), None).unwrap_err();
        assert!(e.contains("too large"), "{e}");
    }

    #[test]
    fn crlf_and_bom() {
        let p = parse("w.md", "\u{feff}---\r\ntitle: Win\r\n---\r\n\r\nline\r\n");
        assert_eq!(p.note.draft.title, "Win");
        assert_eq!(p.note.draft.body, "line\r\n");
    }

    #[test]
    fn question_answers_are_cut() {
        let body = format!("Why?\n\n\n{ANSWERS_MARKER} x -->\n## Answers\n");
        let p = parse("q.md", &format!("---\nkind: question\n---\n\n{body}"));
        assert_eq!(p.note.draft.body, "Why?\n");
        let p = parse(
            "q.md",
            &format!("---\nkind: question\n---\n\n\n\n{ANSWERS_MARKER}"),
        );
        assert_eq!(p.note.draft.body, "");
    }

    /// Front matter of ten levels of ten aliases each ("a billion laughs"): 700 bytes that the
    /// loader expanded to 10^10 strings, taking all the memory of the machine importing it.
    fn billion_laughs() -> String {
        let mut yaml = String::from("---\nl0: &l0 \"lol\"\n");
        for i in 1..=10 {
            let prev = format!("*l{}", i - 1);
            let items = [prev.as_str(); 10].join(", ");
            yaml.push_str(&format!("l{i}: &l{i} [{items}]\n"));
        }
        yaml.push_str("title: Laughs\n---\n\nbody\n");
        yaml
    }

    #[test]
    fn front_matter_with_aliases_fails_the_file_at_once() {
        let start = std::time::Instant::now();
        let e = parse_file("laughs.md", billion_laughs().as_bytes(), None).unwrap_err();
        assert!(e.contains("alias"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // One alias is refused too (it is how every such file starts); an anchor alone is read.
        let e = parse_file("a.md", b"---\nx: &a 1\ntitle: *a\n---\n", None).unwrap_err();
        assert!(e.contains("alias"), "{e}");
        let p = parse("b.md", "---\ntitle: &a Anchored\n---\n");
        assert_eq!(p.note.draft.title, "Anchored");
    }

    #[test]
    fn deeply_nested_front_matter_fails_the_file() {
        let deep = format!("---\nx: {}1{}\n---\n", "[".repeat(200), "]".repeat(200));
        let e = parse_file("deep.md", deep.as_bytes(), None).unwrap_err();
        assert!(e.contains("more than 32 deep"), "{e}");
        let deep = format!("---\n{}x\n---\n", "- ".repeat(20_000));
        let e = parse_file("deep.md", deep.as_bytes(), None).unwrap_err();
        assert!(e.contains("more than 32 deep"), "{e}");
        let p = parse("ok.md", "---\ntags: [[[[a]]]]\n---\n");
        assert!(p.note.draft.tags.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_file("p.md", &bytes, None);
        }

        #[test]
        fn never_panics_on_front_matter_like_text(s in "(---\n)?[a-z:\\[\\]{}#'\"&*!|>\n -]{0,120}(\n---\n)?[a-z#\n ]{0,20}") {
            let _ = parse_file("p.md", s.as_bytes(), None);
        }
    }
}
