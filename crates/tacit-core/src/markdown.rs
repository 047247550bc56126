//! What Tacit reads out of a Markdown body: `[[wiki links]]`, inline `#tags`, and the key a link
//! is matched by. Obsidian's rules, on a line-by-line scan that never fails: text inside fenced
//! code (```` ``` ```` or `~~~`) and inside `` `code spans` `` is not looked at.
//!
//! Not a Markdown parser: indented code blocks, HTML blocks and code spans over several lines are
//! read as prose. That errs towards finding a link or a tag, never towards panicking.

use std::ops::Range;

use crate::limits::MAX_TAGS;
use crate::text::normalize_tag;

/// A `[[wiki link]]`: target as written (`Note`, `folder/Note`, `Note#Heading`, `Note|shown text`).
///
/// The target is trimmed and may be empty for a link to a heading of the same note (`[[#Intro]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WikiLink {
    /// The note linked to, as written: `Note`, `folder/Note`, `Note.md`. Match it with [`link_key`].
    pub target: String,
    /// The heading (or `^block` reference) after `#`, if any.
    pub heading: Option<String>,
    /// The text shown instead of the target, after `|`, if any.
    pub alias: Option<String>,
}

/// Every wiki link in a Markdown body, in order, outside code spans and fenced code; `![[embeds]]`
/// of notes count too, embeds of files (`![[diagram.png]]`, an attachment) do not.
pub fn wiki_links(body: &str) -> Vec<WikiLink> {
    wiki_targets(body, false)
}

/// As [`wiki_links`], with the embedded files too: every `[[…]]` and `![[…]]` (a vault import
/// looks for the files these name).
pub fn wiki_links_and_embeds(body: &str) -> Vec<WikiLink> {
    wiki_targets(body, true)
}

fn wiki_targets(body: &str, files: bool) -> Vec<WikiLink> {
    let mut out = Vec::new();
    for line in prose_lines(body) {
        let code = code_spans(line);
        for (_, link, file_embed) in links_in_line(line, &code) {
            if files || !file_embed {
                out.push(link);
            }
        }
    }
    out
}

/// The key a link target or a title/alias is matched by: the last path segment, `.md` removed,
/// trimmed, whitespace collapsed, lowercased (Unicode). `link_key("Folder/My  Note.md") == "my note"`.
pub fn link_key(s: &str) -> String {
    let last = s.rsplit(['/', '\\']).next().unwrap_or(s).trim();
    let stem = match last.len().checked_sub(3) {
        Some(cut) if last.is_char_boundary(cut) && last[cut..].eq_ignore_ascii_case(".md") => {
            &last[..cut]
        }
        _ => last,
    };
    let mut key = String::with_capacity(stem.len());
    for word in stem.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(word);
    }
    key.to_lowercase()
}

/// Inline `#tags` in a body (outside code, not headings, not `&#123;` entities or URL fragments),
/// normalised, deduplicated, in order; at most [`MAX_TAGS`] (no document counts more), so a
/// body of a hundred thousand tags costs no more to read than one of thirty.
///
/// A tag starts with `#` at the start of a line or after whitespace, holds letters, digits and
/// `- _ / .` (a `.` only between other tag characters, so `#rust.` at the end of a sentence is
/// `rust`), and is not only digits (`#1` is not a tag). Tags that [`normalize_tag`] refuses (too
/// long) are left out.
pub fn inline_tags(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in prose_lines(body) {
        let code = code_spans(line);
        let links: Vec<Range<usize>> = links_in_line(line, &code)
            .into_iter()
            .map(|(r, _, _)| r)
            .collect();
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'#' {
                i += 1;
                continue;
            }
            if let Some(r) = code.iter().chain(&links).find(|r| r.contains(&i)) {
                i = r.end;
                continue;
            }
            let after_space = line[..i]
                .chars()
                .next_back()
                .is_none_or(char::is_whitespace);
            let rest = &line[i + 1..];
            let len = tag_len(rest);
            if after_space && len > 0 {
                let raw = &rest[..len];
                if !raw.chars().all(|c| c.is_ascii_digit())
                    && let Ok(tag) = normalize_tag(raw)
                    && !out.contains(&tag)
                {
                    out.push(tag);
                    if out.len() == MAX_TAGS {
                        return out;
                    }
                }
            }
            i += 1 + len;
        }
    }
    out
}

/// Bytes of `s` that make up a tag: tag characters, with `.` only when another tag character
/// follows it.
fn tag_len(s: &str) -> usize {
    let is_tag_char = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '/');
    let mut len = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let keep =
            is_tag_char(c) || (c == '.' && chars.peek().is_some_and(|&(_, n)| is_tag_char(n)));
        if !keep {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// The lines of `body` that are not inside fenced code (fence lines themselves left out), with any
/// `\r` of a CRLF ending removed.
fn prose_lines(body: &str) -> impl Iterator<Item = &str> {
    // The open fence: its character and how many of them opened it.
    let mut fence: Option<(u8, usize)> = None;
    body.split('\n').filter_map(move |line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // A fence may sit in a list item or a block quote: look past indentation and `>`.
        let t = line.trim_start_matches([' ', '\t', '>']);
        let run = |ch: u8| t.bytes().take_while(|&b| b == ch).count();
        match fence {
            Some((ch, n)) => {
                if run(ch) >= n && t[run(ch)..].trim().is_empty() {
                    fence = None;
                }
                None
            }
            None => {
                for ch in [b'`', b'~'] {
                    let n = run(ch);
                    // An info string after a backtick fence may not hold a backtick.
                    if n >= 3 && (ch == b'~' || !t[n..].contains('`')) {
                        fence = Some((ch, n));
                        return None;
                    }
                }
                Some(line)
            }
        }
    })
}

/// Byte ranges of the code spans in one line: a run of backticks up to the next run of exactly as
/// many. A run with no match is plain text; a backslash-escaped backtick opens nothing.
fn code_spans(line: &str) -> Vec<Range<usize>> {
    let bytes = line.as_bytes();
    let run_at = |i: usize| bytes[i..].iter().take_while(|&&b| b == b'`').count();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => {
                let n = run_at(i);
                let mut j = i + n;
                let mut close = None;
                while j < bytes.len() {
                    if bytes[j] == b'`' {
                        let m = run_at(j);
                        if m == n {
                            close = Some(j + m);
                            break;
                        }
                        j += m;
                    } else {
                        j += 1;
                    }
                }
                match close {
                    Some(end) => {
                        spans.push(i..end);
                        i = end;
                    }
                    None => i += n,
                }
            }
            _ => i += 1,
        }
    }
    spans
}

/// The wiki links of one line outside `code`, each with the byte range of its `[[…]]`.
/// The links of a line: where, what, and whether it embeds a file (`![[diagram.png]]`).
fn links_in_line(line: &str, code: &[Range<usize>]) -> Vec<(Range<usize>, WikiLink, bool)> {
    let mut out = Vec::new();
    let in_code = |i: usize| code.iter().any(|r| r.contains(&i));
    let mut from = 0;
    while let Some(found) = line[from..].find("[[") {
        let start = from + found;
        if in_code(start) || (start > 0 && line.as_bytes()[start - 1] == b'\\') {
            from = start + 1;
            continue;
        }
        let inner_start = start + 2;
        let Some(len) = line[inner_start..].find("]]") else {
            break;
        };
        let inner_end = inner_start + len;
        let inner = &line[inner_start..inner_end];
        // `[[a [[b]]`: the link is the inner one.
        if let Some(nested) = inner.rfind("[[") {
            from = inner_start + nested;
            continue;
        }
        let end = inner_end + 2;
        if (inner_start..end).any(in_code) {
            from = end;
            continue;
        }
        let embed = start > 0 && line.as_bytes()[start - 1] == b'!';
        if let Some(link) = parse_link(inner) {
            let file_embed = embed && names_a_file(&link.target);
            out.push((start..end, link, file_embed));
        }
        from = end;
    }
    out
}

/// Whether a link target names a file rather than a note: its last segment has an extension
/// other than `.md`/`.markdown` (`diagram.png`, `data.csv`; not `Note`, `Note.md`, `v1.2 notes`
/// with a space after the dot).
fn names_a_file(target: &str) -> bool {
    let last = target.rsplit('/').next().unwrap_or(target);
    match last.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && !ext.is_empty()
                && ext.len() <= 8
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && !ext.eq_ignore_ascii_case("md")
                && !ext.eq_ignore_ascii_case("markdown")
        }
        None => false,
    }
}

/// `target#heading|alias` into its parts; `None` when all are empty.
fn parse_link(inner: &str) -> Option<WikiLink> {
    let (dest, alias) = match inner.split_once('|') {
        // In a table the `|` is written `\|`.
        Some((d, a)) => (d.strip_suffix('\\').unwrap_or(d), Some(a.trim())),
        None => (inner, None),
    };
    let (target, heading) = match dest.split_once('#') {
        Some((t, h)) => (t.trim(), Some(h.trim())),
        None => (dest.trim(), None),
    };
    let some = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
    let (heading, alias) = (some(heading), some(alias));
    if target.is_empty() && heading.is_none() {
        return None;
    }
    Some(WikiLink {
        target: target.to_owned(),
        heading,
        alias,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn link(target: &str, heading: Option<&str>, alias: Option<&str>) -> WikiLink {
        WikiLink {
            target: target.into(),
            heading: heading.map(Into::into),
            alias: alias.map(Into::into),
        }
    }

    #[test]
    fn wiki_links_in_order_with_headings_aliases_and_embeds() {
        let body = "See [[Note]] and [[folder/Other Note#Setup|the setup]].\n\
                    ![[diagram.png]] ![[Embedded note]] ![[v1.2 plan]] [[data.csv]] then \
                    [[Third#^block1]] and [[ Spaced |  shown ]]";
        // An embedded file (an attachment) is no link to a note; an embedded note is; a link
        // without `!` is a link whatever its name.
        assert_eq!(
            wiki_links(body),
            vec![
                link("Note", None, None),
                link("folder/Other Note", Some("Setup"), Some("the setup")),
                link("Embedded note", None, None),
                link("v1.2 plan", None, None),
                link("data.csv", None, None),
                link("Third", Some("^block1"), None),
                link("Spaced", None, Some("shown")),
            ]
        );
        // With the embedded files, for a vault import to find them.
        let all: Vec<String> = wiki_links_and_embeds(body)
            .into_iter()
            .map(|l| l.target)
            .collect();
        assert_eq!(&all[2..4], ["diagram.png", "Embedded note"]);
    }

    #[test]
    fn wiki_links_skip_code() {
        let body = "`[[not a link]]` [[yes]]\n```\n[[in fence]]\n```\n~~~~rust\n[[tilde]]\n~~~~\n\
                    ``a `[[x]]` b`` [[after]]";
        assert_eq!(
            wiki_links(body),
            vec![link("yes", None, None), link("after", None, None)]
        );
    }

    #[test]
    fn unclosed_fence_hides_the_rest() {
        assert!(wiki_links("```\n[[a]]\n").is_empty());
        // A fence closes only with at least as many of the same character.
        assert!(wiki_links("````\n```\n[[a]]\n").is_empty());
        assert_eq!(wiki_links("````\n````\n[[a]]").len(), 1);
    }

    #[test]
    fn odd_links() {
        assert_eq!(
            wiki_links("[[#Intro]]"),
            vec![link("", Some("Intro"), None)]
        );
        assert!(wiki_links("[[]] [[ ]] [[|]] [[unclosed").is_empty());
        assert_eq!(wiki_links("[[a [[b]]"), vec![link("b", None, None)]);
        assert_eq!(
            wiki_links(r"| [[T\|alias]] |"),
            vec![link("T", None, Some("alias"))]
        );
        assert!(wiki_links(r"\[[escaped]]").is_empty());
        // A lone backtick is text, not a code span.
        assert_eq!(wiki_links("a ` b [[c]]").len(), 1);
        assert_eq!(wiki_links("[[x]]\r\n[[y]]\r\n").len(), 2);
    }

    #[test]
    fn link_keys() {
        assert_eq!(link_key("Folder/My  Note.md"), "my note");
        assert_eq!(link_key("  Über Straße "), "über straße");
        assert_eq!(link_key("a/b/C.MD"), "c");
        assert_eq!(link_key("notes\\Win Note"), "win note");
        assert_eq!(link_key("Tabs\tand\nlines"), "tabs and lines");
        assert_eq!(link_key("x.markdown"), "x.markdown");
        assert_eq!(link_key(""), "");
        assert_eq!(link_key("é.md"), "é");
    }

    #[test]
    fn inline_tags_found_and_normalised() {
        let body = "#Start of line, then #rust and #Rust again.\n\
                    - item #ops/k8s, #under_score #with-dash #v1.2 #end.\n\
                    # Heading\n## Sub #in-heading\n#café";
        assert_eq!(
            inline_tags(body),
            vec![
                "start",
                "rust",
                "ops/k8s",
                "under_score",
                "with-dash",
                "v1.2",
                "end",
                "in-heading",
                "café"
            ]
        );
    }

    #[test]
    fn inline_tags_not_in_code_entities_urls_or_links() {
        let body = "`#code` &#123; http://x.org/page#frag [a](#anchor) #1984 a#b\n\
                    ```\n#fenced\n```\n[[Note#heading]] [[#Local]] [[x| #shown]] #real";
        assert_eq!(inline_tags(body), vec!["real"]);
    }

    #[test]
    fn overlong_inline_tags_are_left_out() {
        let body = format!("#{} #ok", "a".repeat(crate::limits::MAX_TAG_CHARS + 1));
        assert_eq!(inline_tags(&body), vec!["ok"]);
    }

    proptest! {
        #[test]
        fn never_panics_on_any_string(s in any::<String>()) {
            let _ = wiki_links(&s);
            let _ = inline_tags(&s);
            let _ = link_key(&s);
        }

        #[test]
        fn never_panics_on_markdownish_strings(s in "[\\[\\]#`~|\\\\\n\r a-zé/.!>-]{0,80}") {
            for l in wiki_links(&s) {
                prop_assert!(!l.target.contains("]]"));
            }
            for t in inline_tags(&s) {
                prop_assert!(normalize_tag(&t).is_ok());
            }
            let k = link_key(&s);
            prop_assert!(!k.contains('/') && k.trim() == k);
        }
    }
}
