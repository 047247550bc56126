//! Snippets: the passage of a text that best shows why it matched, on one line, with the
//! matched words marked.
//!
//! The matcher mirrors the query: a word matches itself, a word within the query's edit
//! distance of it (typos), and, for the word still being typed, any word it starts.

use std::cell::RefCell;

use tantivy::tokenizer::{TextAnalyzer, TokenStream};

use crate::Parsed;
use crate::schema;

/// How long a snippet is, in characters, before "…" at a cut end.
pub const SNIPPET_CHARS: usize = 180;

/// How many edits a query word may be off by and still match: none for short words (too many
/// false friends) and for words with digits (numbers, versions and ids are exact), one from 5
/// characters, two from 9.
pub fn typo_distance(word: &str) -> u8 {
    if word.chars().any(|c| c.is_ascii_digit()) {
        return 0;
    }
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Decides which words of a text the query matched.
pub struct Matcher {
    words: Vec<(String, usize, u8)>,
    prefix: Option<String>,
    /// The analyser, made once (texts are tokenised as the index tokenised them).
    analyzer: RefCell<TextAnalyzer>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("words", &self.words)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Matcher {
    /// The matcher of a parsed query: its words (and, with `typos`, the words near them), its
    /// phrases' words, its prefix.
    pub fn new(q: &Parsed, typos: bool) -> Matcher {
        let mut words: Vec<(String, usize, u8)> = Vec::new();
        let mut push = |w: &String, fuzzy: bool| {
            if !words.iter().any(|(x, _, _)| x == w) {
                let n = w.chars().count();
                words.push((w.clone(), n, if fuzzy { typo_distance(w) } else { 0 }));
            }
        };
        let prefix = if q.prefix {
            q.words.last().cloned()
        } else {
            None
        };
        for w in &q.words {
            push(w, typos);
        }
        for phrase in &q.phrases {
            for w in phrase {
                push(w, false);
            }
        }
        Matcher {
            words,
            prefix,
            analyzer: RefCell::new(schema::analyzer()),
        }
    }

    /// Whether a normalised word of a text matches.
    pub fn matches(&self, token: &str) -> bool {
        if let Some(p) = &self.prefix
            && token.starts_with(p.as_str())
        {
            return true;
        }
        let n = token.chars().count();
        let mut mask = None;
        self.words.iter().any(|(w, len, d)| {
            if token == w {
                return true;
            }
            if *d == 0 || n.abs_diff(*len) > *d as usize {
                return false;
            }
            // Each edit changes which letters a word holds by at most two: a cheap test that
            // rules out most words before the distance is computed.
            let m = *mask.get_or_insert_with(|| letters(token));
            (m ^ letters(w)).count_ones() <= 2 * u32::from(*d) && within(w, token, *d)
        })
    }

    /// Whether a word of `n` characters could match at all: most words of a text are ruled
    /// out by their length alone, before they are normalised.
    fn may_match_len(&self, n: usize) -> bool {
        self.prefix.as_ref().is_some_and(|p| n >= p.len())
            || self
                .words
                .iter()
                .any(|(_, len, d)| n.abs_diff(*len) <= *d as usize)
    }

    /// Whether there is nothing to match.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.prefix.is_none()
    }
}

/// Which letters a word holds, one bit per letter or digit (others share bits).
fn letters(word: &str) -> u64 {
    word.chars().fold(0u64, |m, c| {
        let bit = match c {
            'a'..='z' => c as u32 - 'a' as u32,
            '0'..='9' => 26 + c as u32 - '0' as u32,
            _ => 36 + c as u32 % 28,
        };
        m | 1 << bit
    })
}

/// Whether `a` and `b` are within `d` edits (insert, delete, substitute, swap two neighbours).
fn within(a: &str, b: &str, d: u8) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return osa_within(a.as_bytes(), b.as_bytes(), d as usize);
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    osa_within(&a, &b, d as usize)
}

/// Optimal string alignment distance of `a` and `b` is at most `d`.
fn osa_within<T: PartialEq>(a: &[T], b: &[T], d: usize) -> bool {
    // Optimal string alignment distance, row by row, stopping once every cell exceeds `d`.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        if cur.iter().all(|&v| v > d) {
            return false;
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()] <= d
}

/// Text with marked ranges, in characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marked {
    /// The text.
    pub text: String,
    /// `[start, end)` of each match, in Unicode characters, in order.
    pub marks: Vec<(u32, u32)>,
}

/// Marks every match in a short text (a title), whole.
pub fn mark(text: &str, m: &Matcher) -> Marked {
    let spans = matched_spans(text, m);
    Marked {
        text: text.to_owned(),
        marks: to_char_marks(text, 0, &spans),
    }
}

/// The best passage of the first of `texts` that matches (most distinct matched words, then the
/// most matches), made one line; the start of the first non-empty text when none matches.
/// Returns the passage and how many distinct words it matched.
pub fn snippet<'a>(texts: impl IntoIterator<Item = &'a str>, m: &Matcher) -> (Marked, usize) {
    // The best passage is found in the raw text (the words are the same); only that passage
    // is made one line of prose and marked, so a long body costs one scan of its words.
    let mut best: Option<(&str, usize, usize)> = None;
    let mut first: Option<&str> = None;
    for text in texts {
        if text.trim().is_empty() {
            continue;
        }
        let spans = matched_spans(text, m);
        if spans.is_empty() {
            first.get_or_insert(text);
            continue;
        }
        let (distinct, count, a, b) = best_window(text, &spans);
        if best
            .as_ref()
            .is_none_or(|(_, d, c)| (distinct, count) > (*d, *c))
        {
            let from = floor_boundary(text, spans[a].0.saturating_sub(SNIPPET_CHARS * 2));
            let to = floor_boundary(text, (spans[b].1 + SNIPPET_CHARS * 3).min(text.len()));
            best = Some((&text[from..to], distinct, count));
        }
    }
    match (best, first) {
        (Some((passage, distinct, _)), _) => {
            let flat = flatten(passage);
            let spans = matched_spans(&flat, m);
            if spans.is_empty() {
                return (cut(&flat, 0, flat.len(), &[]), distinct);
            }
            let (_, _, a, b) = best_window(&flat, &spans);
            (cut(&flat, spans[a].0, spans[b].1, &spans[a..=b]), distinct)
        }
        (None, Some(text)) => {
            let start = &text[..floor_boundary(text, (SNIPPET_CHARS * 4).min(text.len()))];
            let flat = flatten(start);
            (cut(&flat, 0, flat.len(), &[]), 0)
        }
        (None, None) => (Marked::default(), 0),
    }
}

/// The largest character boundary of `text` at or before `at`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Byte spans of matched words, with their normalised text.
fn matched_spans(text: &str, m: &Matcher) -> Vec<(usize, usize, String)> {
    if m.is_empty() {
        return Vec::new();
    }
    // The words of the text as the index's analyser splits them (runs of letters and digits;
    // 40 bytes or more dropped), normalised only when their length lets them match: ASCII
    // words by lowercasing, others by the analyser itself (which also folds accents).
    let mut out = Vec::new();
    let mut word = String::new();
    let mut start = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i <= bytes.len() {
        // ASCII bytes decide by themselves; other characters are decoded.
        let (c, len) = match bytes.get(i) {
            None => (' ', 1),
            Some(&b) if b.is_ascii() => (b as char, 1),
            Some(_) => {
                let c = text[i..].chars().next().unwrap_or(' ');
                (c, c.len_utf8())
            }
        };
        let at = i;
        i += len;
        let i = at;
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (true, Some(_)) => {}
            (false, Some(s)) => {
                start = None;
                let raw = &text[s..i];
                if raw.len() >= 40 {
                    continue;
                }
                if raw.is_ascii() {
                    if !m.may_match_len(raw.len()) {
                        continue;
                    }
                    word.clear();
                    word.push_str(raw);
                    word.make_ascii_lowercase();
                    if m.matches(&word) {
                        out.push((s, i, word.clone()));
                    }
                } else {
                    let mut analyzer = m.analyzer.borrow_mut();
                    let mut stream = analyzer.token_stream(raw);
                    while let Some(t) = stream.next() {
                        if m.matches(&t.text) {
                            out.push((s + t.offset_from, s + t.offset_to, t.text.clone()));
                        }
                    }
                }
            }
            (false, None) => {}
        }
    }
    out
}

/// Markdown made one line of prose: whitespace runs become one space, and the marks that only
/// shape the page (`#` of headings, `>` of quotes, `*`/`_` runs of emphasis, backticks, `[[`,
/// `]]`) are dropped.
fn flatten(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_start().trim_start_matches(['#', '>']).trim();
        if line.is_empty() || line.starts_with("```") || line.starts_with("~~~") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let line = unwiki(line);
        let mut chars = line.chars().peekable();
        let mut space = false;
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            let before = std::mem::replace(&mut prev, c);
            let drop = match c {
                '`' => true,
                '*' | '_' => {
                    // a run of emphasis marks, not an underscore inside a word
                    let next_is_mark = chars.peek().is_some_and(|n| *n == c);
                    next_is_mark
                        || before == c
                        || before.is_whitespace()
                        || chars.peek().is_none_or(|n| n.is_whitespace())
                }
                '[' | ']' => chars.peek() == Some(&c) || before == c,
                _ => false,
            };
            if drop {
                continue;
            }
            if c.is_whitespace() {
                if !space {
                    out.push(' ');
                }
                space = true;
            } else {
                out.push(c);
                space = false;
            }
        }
    }
    out.trim_end().to_owned()
}

/// A line with each `[[target#heading|shown]]` (and `![[embed]]`) as the text a reader sees:
/// the shown text, else the target (and heading).
fn unwiki(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find("[[") {
        let Some(close) = rest[open + 2..].find("]]") else {
            break;
        };
        let inner = &rest[open + 2..open + 2 + close];
        let before = rest[..open].strip_suffix('!').unwrap_or(&rest[..open]);
        out.push_str(before);
        let shown = match inner.split_once('|') {
            Some((_, shown)) => shown,
            None => inner,
        };
        out.push_str(&shown.replace('#', " "));
        rest = &rest[open + 2 + close + 2..];
    }
    out.push_str(rest);
    out
}

/// The run of matches fitting in about [`SNIPPET_CHARS`] with the most distinct matched words,
/// then the most matches: (distinct, count, first index, last index).
fn best_window(text: &str, spans: &[(usize, usize, String)]) -> (usize, usize, usize, usize) {
    let budget = SNIPPET_CHARS * 4; // bytes, generously: cut() trims by characters
    let mut best = (0usize, 0usize, 0usize, 0usize); // distinct, count, first, last
    for i in 0..spans.len() {
        let mut seen: Vec<&str> = Vec::new();
        let mut last = i;
        for (j, s) in spans.iter().enumerate().skip(i) {
            // The byte check first: it bounds the character count's cost.
            if s.1 - spans[i].0 > budget
                || chars_between(text, spans[i].0, s.1) > SNIPPET_CHARS - 20
            {
                break;
            }
            if !seen.contains(&s.2.as_str()) {
                seen.push(&s.2);
            }
            last = j;
        }
        let candidate = (seen.len(), last - i + 1, i, last);
        if (candidate.0, candidate.1) > (best.0, best.1) {
            best = candidate;
        }
    }
    best
}

fn chars_between(text: &str, from: usize, to: usize) -> usize {
    text.get(from..to).map_or(usize::MAX, |s| s.chars().count())
}

/// About [`SNIPPET_CHARS`] of `text` around `[from, to)`, cut at word boundaries, "…" where
/// cut, with `spans` marked.
fn cut(text: &str, from: usize, to: usize, spans: &[(usize, usize, String)]) -> Marked {
    let inside = chars_between(text, from, to).min(SNIPPET_CHARS);
    let spare = SNIPPET_CHARS.saturating_sub(inside);
    // A little context before the first match; the rest after the last.
    let before = (spare / 4).min(40);
    let mut start = from;
    for (taken, (i, _)) in text[..from].char_indices().rev().enumerate() {
        if taken == before {
            break;
        }
        start = i;
    }
    if start > 0 {
        // to the start of a word
        if let Some(sp) = text[start..from].find(' ') {
            start += sp + 1;
        }
    }
    let mut end = to;
    let mut left = SNIPPET_CHARS.saturating_sub(chars_between(text, start, to));
    for (i, c) in text[to..].char_indices() {
        if left == 0 {
            break;
        }
        end = to + i + c.len_utf8();
        left -= 1;
    }
    if end < text.len()
        && let Some(sp) = text[to..end].rfind(' ')
        && sp > 0
    {
        end = to + sp;
    }
    let mut out = String::new();
    let lead = start > 0;
    if lead {
        out.push('…');
    }
    out.push_str(&text[start..end]);
    if end < text.len() {
        out.push('…');
    }
    let shift = usize::from(lead);
    let spans: Vec<(usize, usize, String)> = spans
        .iter()
        .filter(|s| s.0 >= start && s.1 <= end)
        .cloned()
        .collect();
    Marked {
        marks: to_char_marks(&text[start..end], start, &spans)
            .into_iter()
            .map(|(a, b)| (a + shift as u32, b + shift as u32))
            .collect(),
        text: out,
    }
}

/// Byte spans (relative to the whole text, `base` being where `part` starts) as character
/// ranges within `part`.
fn to_char_marks(part: &str, base: usize, spans: &[(usize, usize, String)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for (from, to, _) in spans {
        let (Some(a), Some(b)) = (part.get(..from - base), part.get(..to - base)) else {
            continue;
        };
        let a = u32::try_from(a.chars().count()).unwrap_or(u32::MAX);
        let b = u32::try_from(b.chars().count()).unwrap_or(u32::MAX);
        out.push((a, b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn marked(m: &Marked) -> String {
        let chars: Vec<char> = m.text.chars().collect();
        let mut out = String::new();
        let mut at = 0usize;
        for &(a, b) in &m.marks {
            out.extend(&chars[at..a as usize]);
            out.push('[');
            out.extend(&chars[a as usize..b as usize]);
            out.push(']');
            at = b as usize;
        }
        out.extend(&chars[at..]);
        out
    }

    #[test]
    fn marks_words_typos_and_the_prefix() {
        let m = Matcher::new(&parse("deploy kubernets rol"), true);
        let (s, distinct) = snippet(
            ["We **deploy** to Kubernetes and roll back on failure."],
            &m,
        );
        assert_eq!(
            marked(&s),
            "We [deploy] to [Kubernetes] and [roll] back on failure."
        );
        assert_eq!(distinct, 3);
    }

    #[test]
    fn picks_the_passage_with_the_most_matches_and_cuts_at_words() {
        let filler = "lorem ipsum dolor sit amet ".repeat(40);
        let text = format!("{filler}the rollback plan for the blue green deploy {filler}");
        let m = Matcher::new(&parse("rollback deploy "), true);
        let (s, _) = snippet([text.as_str()], &m);
        assert!(
            s.text.starts_with('…') && s.text.ends_with('…'),
            "{}",
            s.text
        );
        assert!(s.text.chars().count() <= SNIPPET_CHARS + 2);
        let shown = marked(&s);
        assert!(
            shown.contains("[rollback] plan for the blue green [deploy]"),
            "{shown}"
        );
    }

    #[test]
    fn accents_and_case_in_marks_use_character_offsets() {
        let m = Matcher::new(&parse("cafe "), true);
        let s = mark("Le Café crème", &m);
        assert_eq!(marked(&s), "Le [Café] crème");
    }

    #[test]
    fn without_a_match_the_snippet_is_the_start() {
        let m = Matcher::new(&parse("zzz "), true);
        let (s, d) = snippet(["", "# Title\n\nFirst line.\nSecond line."], &m);
        assert_eq!(s.text, "Title First line. Second line.");
        assert!(s.marks.is_empty());
        assert_eq!(d, 0);
    }

    #[test]
    fn markdown_marks_are_dropped_but_words_kept() {
        let m = Matcher::new(&parse("zzz "), true);
        let (s, _) = snippet(
            ["## Plan\n\nSee [[Runbook]] and **bold** text, snake_case_name, `code`.\n> quoted"],
            &m,
        );
        assert_eq!(
            s.text,
            "Plan See Runbook and bold text, snake_case_name, code. quoted"
        );
        let (s, _) = snippet(
            ["Read [[Projects/Plan|the plan]], [[Roadmap#Next steps]] and ![[chart.png]]."],
            &m,
        );
        assert_eq!(s.text, "Read the plan, Roadmap Next steps and chart.png.");
    }

    #[test]
    fn edit_distance() {
        assert!(within("kubernetes", "kubernets", 1));
        assert!(within("receive", "recieve", 1));
        assert!(!within("deploy", "destroy", 1));
        assert!(within("deploy", "delpoy", 1));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(q in "\\PC{0,20}", text in "\\PC{0,400}") {
            let m = Matcher::new(&parse(&q), true);
            let (s, _) = snippet([text.as_str()], &m);
            let n = s.text.chars().count() as u32;
            for (a, b) in s.marks { proptest::prop_assert!(a < b && b <= n); }
        }
    }
}
