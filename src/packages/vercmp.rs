//! rpm's version ordering, written from its documented rules (rpm-version(7) and the
//! Fedora "How RPM compares packages" page), not from rpm's source.
//!
//! [`rpmvercmp`] orders one version or release string:
//!
//! 1. Equal strings are equal.
//! 2. Bytes that are not ASCII letters or digits, other than `~` and `^`, are
//!    separators: they only split segments and are otherwise ignored (`1_0` = `1.0`).
//! 3. A `~` sorts before everything, the end of the string included (`1.0~rc1` <
//!    `1.0`); `~` against `~` is skipped on both sides.
//! 4. A `^` sorts after the end of the string but before anything else (`1.0` <
//!    `1.0^git1` < `1.0.1`); `^` against `^` is skipped on both sides.
//! 5. Otherwise a segment is a maximal run of digits or of letters. A digit segment is
//!    newer than a letter segment. Digit segments compare as numbers: leading zeros
//!    are ignored and the longer run of significant digits wins. Letter segments
//!    compare byte by byte.
//! 6. When one string runs out, the one with segments left is newer.
//!
//! [`compare_evr`] orders whole packages: epoch (absent = 0) numerically, then version,
//! then release.

use std::cmp::Ordering;

/// Compares two version (or release) strings the way rpm does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    loop {
        one = skip_separators(one);
        two = skip_separators(two);
        match compare_operators(&mut one, &mut two) {
            Step::Decided(order) => return order,
            Step::Consumed => continue,
            Step::Absent => {}
        }
        if one.is_empty() || two.is_empty() {
            break;
        }
        let numeric = one[0].is_ascii_digit();
        let (seg1, rest1) = take_segment(one, numeric);
        let (seg2, rest2) = take_segment(two, numeric);
        if seg2.is_empty() {
            // The segments differ in kind: digits are newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let order = if numeric {
            compare_digits(seg1, seg2)
        } else {
            seg1.cmp(seg2)
        };
        if order != Ordering::Equal {
            return order;
        }
        (one, two) = (rest1, rest2);
    }
    // Whichever string still has segments is newer.
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// Compares two packages' epoch, version and release; an absent epoch counts as 0.
pub fn compare_evr(a: (Option<u64>, &str, &str), b: (Option<u64>, &str, &str)) -> Ordering {
    a.0.unwrap_or(0)
        .cmp(&b.0.unwrap_or(0))
        .then_with(|| rpmvercmp(a.1, b.1))
        .then_with(|| rpmvercmp(a.2, b.2))
}

fn is_separator(b: u8) -> bool {
    !b.is_ascii_alphanumeric() && b != b'~' && b != b'^'
}

fn skip_separators(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| is_separator(**b)).count();
    &s[n..]
}

/// What the operators `~` and `^` at the current position decided.
enum Step {
    /// Neither string is at an operator.
    Absent,
    /// Both were at the same operator, which was consumed; compare on.
    Consumed,
    /// The operator decided the comparison.
    Decided(Ordering),
}

/// Applies rules 3 and 4 at the current position (separators already skipped).
fn compare_operators(one: &mut &[u8], two: &mut &[u8]) -> Step {
    for op in [b'~', b'^'] {
        match (one.first() == Some(&op), two.first() == Some(&op)) {
            (false, false) => continue,
            (true, true) => {
                *one = &one[1..];
                *two = &two[1..];
                return Step::Consumed;
            }
            (true, false) => return Step::Decided(operator_against(op, two)),
            (false, true) => return Step::Decided(operator_against(op, one).reverse()),
        }
    }
    Step::Absent
}

/// How a string at operator `op` orders against `other`, which is not at `op` (and,
/// for `^`, not at `~`, which was handled first).
fn operator_against(op: u8, other: &[u8]) -> Ordering {
    match op {
        // `~` is older than anything, the end of the string included.
        b'~' => Ordering::Less,
        // `^` is newer than the end of the string, older than a further segment.
        _ if other.is_empty() => Ordering::Greater,
        _ => Ordering::Less,
    }
}

fn take_segment(s: &[u8], numeric: bool) -> (&[u8], &[u8]) {
    let n = s
        .iter()
        .take_while(|b| {
            if numeric {
                b.is_ascii_digit()
            } else {
                b.is_ascii_alphabetic()
            }
        })
        .count();
    s.split_at(n)
}

fn compare_digits(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|b| **b == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Checks `a` against `b` and, reversed, `b` against `a`.
    fn check(a: &str, b: &str, want: Ordering) {
        assert_eq!(rpmvercmp(a, b), want, "rpmvercmp({a:?}, {b:?})");
        assert_eq!(rpmvercmp(b, a), want.reverse(), "rpmvercmp({b:?}, {a:?})");
    }

    #[test]
    fn equal_strings_are_equal() {
        check("1.0", "1.0", Equal);
        check("", "", Equal);
        check("2.0.1a", "2.0.1a", Equal);
    }

    #[test]
    fn separators_are_skipped() {
        check("1_0", "1.0", Equal);
        check("1.0", "1+0", Equal);
        check("1.0", "1.0.", Equal);
        check("1..0", "1.0", Equal);
        // Non-ASCII bytes are separators too.
        check("1.\u{e9}", "1", Equal);
    }

    #[test]
    fn numbers_compare_as_numbers() {
        check("1.0", "2.0", Less);
        check("5.5p1", "5.5p10", Less);
        check("4.999.9", "5.0", Less);
        check("20101121", "20101122", Less);
    }

    #[test]
    fn leading_zeros_are_ignored() {
        check("010", "10", Equal);
        check("10.0001", "10.1", Equal);
        check("10.0001", "10.0039", Less);
        check("1.000", "1.0", Equal);
    }

    #[test]
    fn the_longer_digit_run_wins() {
        check("1.10", "1.9", Greater);
        check("1.0010", "1.9", Greater);
        check(
            "123456789012345678901234567890",
            "99999999999999999999999999999",
            Greater,
        );
    }

    #[test]
    fn letters_compare_bytewise() {
        check("10b2", "10a1", Greater);
        check("1.0a", "1.0aa", Less);
        check("1.0A", "1.0a", Less);
    }

    #[test]
    fn digit_and_letter_segments_alternate() {
        // 5.5p2 is 5, 5, p, 2: the second number decides before the letters.
        check("5.5p2", "5.6p1", Less);
        check("2a1", "2a.1", Equal);
        check("10xyz", "10.1xyz", Less);
    }

    #[test]
    fn a_digit_segment_is_newer_than_a_letter_segment() {
        check("1", "a", Greater);
        check("xyz.4", "8", Less);
        check("1.1", "1.a", Greater);
        check("6.0.rc1", "6.0", Greater);
    }

    #[test]
    fn the_longer_string_wins_when_one_runs_out() {
        check("2.0.1", "2.0", Greater);
        check("2.0.1a", "2.0.1", Greater);
        check("xyz10.1", "xyz10", Greater);
    }

    #[test]
    fn tilde_sorts_before_everything_including_the_end() {
        check("1.0~rc1", "1.0", Less);
        check("1.0~rc1", "1.0~rc2", Less);
        check("1.0~rc1~git123", "1.0~rc1", Less);
        check("1.0~~", "1.0~", Less);
        check("1.0~rc1", "1.0.a", Less);
        check("1.0~", "1.0~", Equal);
        check("~1", "~1", Equal);
    }

    #[test]
    fn caret_sorts_after_the_end_but_before_a_segment() {
        check("1.0^git1", "1.0", Greater);
        check("1.0^git1", "1.0.1", Less);
        check("1.0^git1", "1.0^git2", Less);
        check("1.0~rc1^git1", "1.0~rc1", Greater);
        check("1.0^git1", "1.0~rc1", Greater);
        check("1.0^", "1.0", Greater);
    }

    #[test]
    fn epoch_decides_first_and_absent_is_zero() {
        let ord = compare_evr((Some(1), "1.0", "1"), (None, "9.9", "9"));
        assert_eq!(ord, Greater);
        assert_eq!(
            compare_evr((None, "1.0", "1"), (Some(0), "1.0", "1")),
            Equal
        );
        assert_eq!(compare_evr((Some(2), "1", "1"), (Some(10), "1", "1")), Less);
    }

    #[test]
    fn release_decides_only_when_versions_tie() {
        assert_eq!(compare_evr((None, "1.0", "2"), (None, "1.0", "10")), Less);
        assert_eq!(
            compare_evr((None, "1.1", "1.el7"), (None, "1.0", "99.el7")),
            Greater
        );
        assert_eq!(
            compare_evr((None, "1.0", "1.el7_9"), (None, "1.0", "1.el7.9")),
            Equal
        );
        assert_eq!(
            compare_evr((None, "1.0", "1.el7"), (None, "1.0", "1.el7.1")),
            Less
        );
    }
}
