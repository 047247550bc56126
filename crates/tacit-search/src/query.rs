//! The query language: what a person types into the search box, read into words, phrases and
//! filters. Reading never fails: anything that is not a filter or a phrase is words.

use tacit_core::{Kind, MemberId, SpaceId};
use tantivy::tokenizer::TokenStream;

use crate::schema;

/// A query as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Words every hit must hold (normalised as the index normalises them).
    pub words: Vec<String>,
    /// Whether the last word may be the start of a longer one: the query did not end with a
    /// space (the person is still typing it).
    pub prefix: bool,
    /// Phrases (two or more words in this order) every hit must hold.
    pub phrases: Vec<Vec<String>>,
    /// Words no hit may hold (`-word`).
    pub excluded: Vec<String>,
    /// `tag:x`: every one of these tags.
    pub tags: Vec<String>,
    /// `kind:note` / `kind:question`: any of these kinds.
    pub kinds: Vec<Kind>,
    /// `space:NAME`, as typed: the caller resolves them into [`Scope::spaces`].
    pub spaces: Vec<String>,
    /// `author:NAME`, as typed: the caller resolves them into [`Scope::authors`].
    pub authors: Vec<String>,
}

impl Parsed {
    /// Whether the query holds anything to match text with (words or phrases).
    pub fn has_text(&self) -> bool {
        !self.words.is_empty() || !self.phrases.is_empty()
    }

    /// Whether the query is empty: nothing to match and no filter.
    pub fn is_empty(&self) -> bool {
        !self.has_text()
            && self.excluded.is_empty()
            && self.tags.is_empty()
            && self.kinds.is_empty()
            && self.spaces.is_empty()
            && self.authors.is_empty()
    }
}

/// Which spaces and authors a search may return, resolved by the caller from `space:` and
/// `author:` filters and the request's space. `None` allows all; an empty list allows none (a
/// name that matched nobody).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only these spaces.
    pub spaces: Option<Vec<SpaceId>>,
    /// Only documents by these members.
    pub authors: Option<Vec<MemberId>>,
}

/// Words as the index holds them: split on anything but letters and digits, lowercased,
/// accents folded.
pub(crate) fn normalise(text: &str) -> Vec<String> {
    let mut analyzer = schema::analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push(t.text.clone());
    }
    out
}

/// Reads a query. `tag:`, `kind:`, `space:` and `author:` take the next word or a quoted value
/// (`space:"Team Alpha"`); a filter with an unknown key is words; `-word` excludes.
pub fn parse(query: &str) -> Parsed {
    let mut p = Parsed::default();
    let chars: Vec<char> = query.chars().collect();
    let mut i = 0;
    let mut last_was_bare_word = false;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            last_was_bare_word = false;
            i += 1;
            continue;
        }
        if chars[i] == '"' {
            let (text, next) = quoted(&chars, i);
            i = next;
            let words = normalise(&text);
            match words.len() {
                0 => {}
                1 => p.words.extend(words),
                _ => p.phrases.push(words),
            }
            last_was_bare_word = false;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        if let Some((key, value)) = token.split_once(':')
            && let Some(filter) = Filter::parse(key)
        {
            let value = if value.is_empty() && i < chars.len() && chars[i] == '"' {
                let (text, next) = quoted(&chars, i);
                i = next;
                text
            } else {
                value.to_owned()
            };
            p.add_filter(filter, value.trim());
            last_was_bare_word = false;
            continue;
        }
        if let Some(rest) = token.strip_prefix('-')
            && !rest.is_empty()
        {
            p.excluded.extend(normalise(rest));
            last_was_bare_word = false;
            continue;
        }
        let words = normalise(&token);
        match words.len() {
            0 => last_was_bare_word = false,
            1 => {
                p.words.extend(words);
                last_was_bare_word = true;
            }
            // `e-mail`, `C++/Rust`: the words in this order.
            _ => {
                p.phrases.push(words);
                last_was_bare_word = false;
            }
        }
    }
    p.prefix = last_was_bare_word;
    p
}

/// The text of a quoted value starting at `chars[at] == '"'`, and where reading goes on; an
/// unclosed quote runs to the end.
fn quoted(chars: &[char], at: usize) -> (String, usize) {
    let mut end = at + 1;
    while end < chars.len() && chars[end] != '"' {
        end += 1;
    }
    let text = chars[at + 1..end].iter().collect();
    (text, (end + 1).min(chars.len()))
}

#[derive(Debug, Clone, Copy)]
enum Filter {
    Tag,
    Kind,
    Space,
    Author,
}

impl Filter {
    fn parse(key: &str) -> Option<Filter> {
        match key.to_ascii_lowercase().as_str() {
            "tag" | "tags" => Some(Filter::Tag),
            "kind" | "is" => Some(Filter::Kind),
            "space" | "in" => Some(Filter::Space),
            "author" | "by" => Some(Filter::Author),
            _ => None,
        }
    }
}

impl Parsed {
    fn add_filter(&mut self, filter: Filter, value: &str) {
        if value.is_empty() {
            return; // `tag:` half typed: nothing to filter by yet
        }
        match filter {
            Filter::Tag => {
                let tag = value.strip_prefix('#').unwrap_or(value).to_lowercase();
                if !self.tags.contains(&tag) {
                    self.tags.push(tag);
                }
            }
            Filter::Kind => {
                let v = value.to_ascii_lowercase();
                let kind = match v.as_str() {
                    "note" | "notes" => Some(Kind::Note),
                    "question" | "questions" | "q" => Some(Kind::Question),
                    _ => None,
                };
                match kind {
                    Some(k) if !self.kinds.contains(&k) => self.kinds.push(k),
                    Some(_) => {}
                    // An unknown kind matches nothing rather than everything.
                    None => self.kinds.push(Kind::Profile),
                }
            }
            Filter::Space => self.spaces.push(value.to_owned()),
            Filter::Author => self.authors.push(value.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_filters_and_prefix() {
        let p = parse(
            r#"Deploy "blue green" tag:Ops kind:question space:"Team A" author:grace -draft rollb"#,
        );
        assert_eq!(p.words, vec!["deploy", "rollb"]);
        assert!(p.prefix);
        assert_eq!(p.phrases, vec![vec!["blue".to_owned(), "green".to_owned()]]);
        assert_eq!(p.tags, vec!["ops"]);
        assert_eq!(p.kinds, vec![Kind::Question]);
        assert_eq!(p.spaces, vec!["Team A"]);
        assert_eq!(p.authors, vec!["grace"]);
        assert_eq!(p.excluded, vec!["draft"]);
    }

    #[test]
    fn a_trailing_space_ends_the_prefix() {
        assert!(parse("rust").prefix);
        assert!(!parse("rust ").prefix);
        assert!(!parse("\"rust\"").prefix);
        assert!(!parse("rust tag:x").prefix);
    }

    #[test]
    fn accents_case_and_punctuation_are_normalised() {
        let p = parse("Café C++ e-mail");
        assert_eq!(p.words, vec!["cafe", "c"]);
        assert_eq!(p.phrases, vec![vec!["e".to_owned(), "mail".to_owned()]]);
    }

    #[test]
    fn half_typed_and_unknown_filters() {
        let p = parse("tag: kind:sandwich foo:bar");
        assert!(p.tags.is_empty());
        assert_eq!(p.kinds, vec![Kind::Profile]);
        assert_eq!(p.phrases, vec![vec!["foo".to_owned(), "bar".to_owned()]]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(q in "\\PC{0,80}") {
            let _ = parse(&q);
        }
    }
}
