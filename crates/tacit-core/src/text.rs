//! Validation of the text a user gives: titles, bodies, tags.

use crate::error::CoreError;
use crate::limits::{MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS};

/// A tag as stored: trimmed, a leading `#` removed, lowercase. Tags are 1 to
/// [`MAX_TAG_CHARS`] letters, digits or `- _ / .`.
pub fn normalize_tag(tag: &str) -> Result<String, CoreError> {
    let t = tag.trim();
    let t = t.strip_prefix('#').unwrap_or(t).to_lowercase();
    let valid = !t.is_empty()
        && t.chars().count() <= MAX_TAG_CHARS
        && t.chars().all(|c| c.is_alphanumeric() || "-_/.".contains(c));
    if valid {
        Ok(t)
    } else {
        Err(CoreError::InvalidTag {
            tag: tag.to_owned(),
        })
    }
}

/// Normalised, de-duplicated tags in the order given.
pub(crate) fn normalize_tags(tags: &[String]) -> Result<Vec<String>, CoreError> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let t = normalize_tag(tag)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(CoreError::TooManyTags {
            count: out.len(),
            max: MAX_TAGS,
        });
    }
    Ok(out)
}

/// Aliases as stored: each checked like a title (trimmed, one line, not empty), duplicates
/// dropped, at most [`MAX_TAGS`] of them.
pub(crate) fn normalize_aliases(aliases: &[String]) -> Result<Vec<String>, CoreError> {
    let mut out: Vec<String> = Vec::with_capacity(aliases.len());
    for alias in aliases {
        let a = check_title(alias)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(CoreError::TooManyTags {
            count: out.len(),
            max: MAX_TAGS,
        });
    }
    Ok(out)
}

/// A title on one line (see [`one_line`]), trimmed; refused when empty or too long.
pub(crate) fn check_title(title: &str) -> Result<String, CoreError> {
    let line = one_line(title.to_owned());
    let t = line.trim();
    if t.is_empty() {
        return Err(CoreError::EmptyTitle);
    }
    check_chars("title", t, MAX_TITLE_CHARS)?;
    Ok(t.to_owned())
}

/// A one-line field as shown (a title, a name, an organisation): line breaks and other
/// control characters become spaces and direction controls (embeddings, overrides, isolates)
/// are dropped. What this app writes holds none; a peer's document or join may, to forge
/// lines in a listing, drive a terminal, or show `gpj.exe` as `exe.jpg`.
pub fn one_line(text: String) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() || is_direction_control(c))
    {
        return text;
    }
    text.chars()
        .filter(|&c| !is_direction_control(c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether `c` reorders the text around it: a direction embedding, override or isolate
/// (U+202A–U+202E, U+2066–U+2069), as used to show `gpj.exe` as `exe.jpg`.
pub fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Refuses `text` longer than `max` bytes.
pub(crate) fn check_bytes(field: &'static str, text: &str, max: usize) -> Result<(), CoreError> {
    if text.len() > max {
        return Err(CoreError::TooLong {
            field,
            len: text.len(),
            max,
            unit: "bytes",
        });
    }
    Ok(())
}

/// The first `n` characters of `text` (all of it when shorter).
pub(crate) fn char_prefix(text: &str, n: usize) -> &str {
    text.char_indices().nth(n).map_or(text, |(i, _)| &text[..i])
}

/// Refuses `text` longer than `max` characters.
pub(crate) fn check_chars(field: &'static str, text: &str, max: usize) -> Result<(), CoreError> {
    let len = text.chars().count();
    if len > max {
        return Err(CoreError::TooLong {
            field,
            len,
            max,
            unit: "characters",
        });
    }
    Ok(())
}

/// The civil date (year, month 1–12, day 1–31) of a count of days since 1970-01-01, in the
/// proleptic Gregorian calendar (Howard Hinnant's algorithm); any day count, no clock.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The count of days since 1970-01-01 of a civil date (year, month 1–12, day 1–31): the
/// inverse of [`civil_from_days`] (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time (ms since the Unix epoch) as a UTC date and time to the minute, for messages:
/// `2026-11-28 22:32 UTC`. Pure arithmetic (the proleptic Gregorian calendar), no clock.
pub(crate) fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_796_337_120_000), "2026-12-03 22:32 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc(-60_000), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(normalize_tag(" #Rust ").unwrap(), "rust");
        assert_eq!(normalize_tag("ops/k8s").unwrap(), "ops/k8s");
        assert!(normalize_tag("two words").is_err());
        assert!(normalize_tag("#").is_err());
        assert!(normalize_tag(&"a".repeat(MAX_TAG_CHARS + 1)).is_err());
    }

    #[test]
    fn duplicate_tags_collapse_and_too_many_are_refused() {
        let tags = vec!["a".into(), "A".into(), "#a".into(), "b".into()];
        assert_eq!(normalize_tags(&tags).unwrap(), vec!["a", "b"]);
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(matches!(
            normalize_tags(&many),
            Err(CoreError::TooManyTags { .. })
        ));
    }

    #[test]
    fn titles_are_trimmed_and_must_not_be_empty() {
        assert_eq!(check_title("  Hello ").unwrap(), "Hello");
        assert!(matches!(check_title("   "), Err(CoreError::EmptyTitle)));
        assert!(check_title(&"x".repeat(MAX_TITLE_CHARS + 1)).is_err());
    }
}
