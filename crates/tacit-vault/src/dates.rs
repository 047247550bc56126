//! Dates in front matter: read `2024-01-05`, `2024-01-05 10:20`, RFC 3339 and epoch numbers;
//! write RFC 3339 in UTC with milliseconds, so that an export read back gives the same instant.
//! Pure arithmetic on the proleptic Gregorian calendar: no clock, no time zone database.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// An epoch number below this is taken as seconds, not milliseconds: 10¹¹ ms is March 1973,
/// while 10¹¹ s is far in the future, so no real date is ambiguous.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// An epoch number as milliseconds (seconds when it is below [`SECONDS_BELOW`]).
pub(crate) fn from_number(n: i64) -> i64 {
    if n.abs() < SECONDS_BELOW {
        n.saturating_mul(1000)
    } else {
        n
    }
}

/// A date as written in front matter, in ms since the epoch: `YYYY-MM-DD` (midnight UTC),
/// `YYYY-MM-DD HH:MM[:SS[.fff]]` or RFC 3339 (`T` or a space; `Z`, `±HH:MM` or none, meaning
/// UTC), or an epoch number. `None` when it is none of these.
pub(crate) fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(from_number(n));
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * DAY_MS;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let rb = rest.as_bytes();
    if rb.len() < 5 || rb[2] != b':' {
        return None;
    }
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    let mut i = 5;
    let mut second = 0;
    if rb.get(i) == Some(&b':') {
        second = num(17..19)?;
        i = 8;
        if rb.get(i) == Some(&b'.') {
            let digits = rest[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let frac = &rest[i + 1..i + 1 + digits.min(3)];
            let frac_ms: i64 = frac.parse().ok()?;
            ms += frac_ms * 10_i64.pow(3 - u32::try_from(frac.len()).ok()?);
            i += 1 + digits;
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    ms += ((hour * 60 + minute) * 60 + second) * 1000;
    let zone = rest[i..].trim_start();
    let offset_min = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = match z.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = z[1..].replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (hm[..2].parse().ok()?, hm[2..].parse().ok()?);
            sign * (h * 60 + m)
        }
    };
    Some(ms - offset_min * 60_000)
}

/// RFC 3339 in UTC with milliseconds: `2024-01-05T10:20:30.123Z`.
pub(crate) fn format(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = tacit_core::civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// The date alone, for people: `2024-01-05`.
pub(crate) fn day(ms: i64) -> String {
    let (y, m, d) = tacit_core::civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates_parse() {
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2000-02-29"), Some(951_782_400_000));
        assert_eq!(parse("2000-02-30"), None);
        assert_eq!(parse("2024-01-05T10:20:30Z"), parse("2024-01-05 10:20:30"));
        assert_eq!(
            parse("2024-01-05T10:20:30.5+01:00"),
            parse("2024-01-05T09:20:30.500Z")
        );
        assert_eq!(parse("2024-01-05 10:20"), Some(1_704_450_000_000));
        assert_eq!(parse("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse("1700000000123"), Some(1_700_000_000_123));
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-01-05T25:00",
            "2024-1-5",
            "2024-01-05T",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_format() {
        assert_eq!(format(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(day(951_782_400_000), "2000-02-29");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_the_same_instant(ms in -62_000_000_000_000i64..250_000_000_000_000) {
            prop_assert_eq!(parse(&format(ms)), Some(ms));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }
    }
}
