//! A line diff of two texts (Myers' O(ND) algorithm), for showing a past version of a note
//! against the note as it is now.
//!
//! Bounded: past [`MAX_DIFF_EDITS`] differing lines the search stops and the rest of the two
//! texts is shown as replaced, whole, so a diff of two unrelated megabyte bodies costs
//! O(N · MAX_DIFF_EDITS) at most, never O(N²).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Most differing lines searched for a shortest diff: a note rewritten beyond this shows its
/// remaining lines as removed then added, which reads as well and keeps the work bounded.
pub const MAX_DIFF_EDITS: usize = 1_000;

/// Where a line of a diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum DiffSide {
    /// In both texts.
    Both,
    /// Only in the old text (the past version).
    Then,
    /// Only in the new text (the note now).
    Now,
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DiffLine {
    /// Which text holds it.
    pub side: DiffSide,
    /// The line, without its line break.
    pub text: String,
}

/// The lines of `then` and `now`, in order, each marked with the text(s) holding it.
pub fn line_diff(then: &str, now: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = lines(then);
    let b: Vec<&str> = lines(now);
    // Common head and tail first: most diffs of a note touch a few lines in the middle.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out: Vec<DiffLine> = Vec::with_capacity(a.len().max(b.len()));
    let line = |side, text: &str| DiffLine {
        side,
        text: text.to_owned(),
    };
    out.extend(a[..head].iter().map(|t| line(DiffSide::Both, t)));
    let (mid_a, mid_b) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    for (side, i) in middle(mid_a, mid_b) {
        let text = match side {
            DiffSide::Now => mid_b[i],
            _ => mid_a[i],
        };
        out.push(line(side, text));
    }
    out.extend(a[a.len() - tail..].iter().map(|t| line(DiffSide::Both, t)));
    out
}

/// Lines without their breaks; a final line break does not make an empty last line.
fn lines(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    s.strip_suffix('\n').unwrap_or(s).split('\n').collect()
}

/// The edit script of `a` into `b`: (side, index in `a` for Both/Then, in `b` for Now).
fn middle(a: &[&str], b: &[&str]) -> Vec<(DiffSide, usize)> {
    let (n, m) = (a.len(), b.len());
    let replaced = || {
        let mut out: Vec<(DiffSide, usize)> = (0..n).map(|i| (DiffSide::Then, i)).collect();
        out.extend((0..m).map(|j| (DiffSide::Now, j)));
        out
    };
    if n == 0 || m == 0 {
        return replaced();
    }
    let max = (n + m).min(MAX_DIFF_EDITS);
    let offset = max as isize + 1;
    let width = 2 * max + 3;
    // v[k + offset]: the furthest x on diagonal k. Before step d, the diagonals -d..=d are
    // saved for the way back: d² numbers in all (8 MB at the bound).
    let mut v = vec![0usize; width];
    let mut trace: Vec<Vec<usize>> = Vec::new();
    let mut found = None;
    'search: for d in 0..=max as isize {
        trace.push(v[(offset - d) as usize..=(offset + d) as usize].to_vec());
        let mut k = -d;
        while k <= d {
            let idx = (k + offset) as usize;
            let mut x = if k == -d || (k != d && v[idx - 1] < v[idx + 1]) {
                v[idx + 1]
            } else {
                v[idx - 1] + 1
            };
            let mut y = (x as isize - k) as usize;
            while x < n && y < m && a[x] == b[y] {
                x += 1;
                y += 1;
            }
            v[idx] = x;
            if x >= n && y >= m {
                found = Some(d);
                break 'search;
            }
            k += 2;
        }
    }
    let Some(d_end) = found else {
        return replaced();
    };
    // Walk back from (n, m) through the saved frontiers.
    let mut script: Vec<(DiffSide, usize)> = Vec::with_capacity(n + m);
    let (mut x, mut y) = (n as isize, m as isize);
    for d in (1..=d_end).rev() {
        let v = &trace[d as usize];
        let k = x - y;
        let idx = |k: isize| (k + d) as usize;
        let prev_k = if k == -d || (k != d && v[idx(k - 1)] < v[idx(k + 1)]) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = v[idx(prev_k)] as isize;
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            x -= 1;
            y -= 1;
            script.push((DiffSide::Both, x as usize));
        }
        if prev_k == k + 1 {
            y -= 1;
            script.push((DiffSide::Now, y as usize));
        } else {
            x -= 1;
            script.push((DiffSide::Then, x as usize));
        }
        x = prev_x;
        y = prev_y;
    }
    while x > 0 && y > 0 {
        x -= 1;
        y -= 1;
        script.push((DiffSide::Both, x as usize));
    }
    script.reverse();
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(d: &[DiffLine]) -> String {
        d.iter()
            .map(|l| {
                let c = match l.side {
                    DiffSide::Both => ' ',
                    DiffSide::Then => '-',
                    DiffSide::Now => '+',
                };
                format!("{c}{}\n", l.text)
            })
            .collect()
    }

    #[test]
    fn a_changed_line_shows_as_then_and_now() {
        let d = line_diff("a\nb\nc\n", "a\nB\nc\nd\n");
        assert_eq!(render(&d), " a\n-b\n+B\n c\n+d\n");
    }

    #[test]
    fn equal_and_empty_texts() {
        assert!(line_diff("", "").is_empty());
        assert_eq!(render(&line_diff("x", "x\n")), " x\n");
        assert_eq!(render(&line_diff("", "x")), "+x\n");
        assert_eq!(render(&line_diff("x\ny", "")), "-x\n-y\n");
    }

    #[test]
    fn the_diff_rebuilds_both_texts() {
        let then = "one\ntwo\nthree\nfour\nfive\nsix\n";
        let now = "zero\none\nthree\nfour\nfour and a half\nsix\nseven\n";
        let d = line_diff(then, now);
        let side = |keep: DiffSide| -> Vec<&str> {
            d.iter()
                .filter(|l| l.side == DiffSide::Both || l.side == keep)
                .map(|l| l.text.as_str())
                .collect()
        };
        assert_eq!(side(DiffSide::Then), lines(then));
        assert_eq!(side(DiffSide::Now), lines(now));
        // Shortest: two lines gone, three new.
        assert_eq!(d.iter().filter(|l| l.side == DiffSide::Then).count(), 2);
        assert_eq!(d.iter().filter(|l| l.side == DiffSide::Now).count(), 3);
    }

    #[test]
    fn unrelated_long_texts_stay_bounded_and_complete() {
        let then: String = (0..1500).map(|i| format!("a{i}\n")).collect();
        let now: String = (0..1500).map(|i| format!("b{i}\n")).collect();
        let d = line_diff(&then, &now);
        assert_eq!(d.len(), 3000);
        assert!(d[..1500].iter().all(|l| l.side == DiffSide::Then));
    }
}
