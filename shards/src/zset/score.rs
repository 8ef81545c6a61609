//! Scores as Redis reads and prints them: `strtod` parsing (decimal, `inf`, hexadecimal
//! floats), the `%.17g` form Redis 7.0 replies with, and score / lexicographic ranges.

use std::cmp::Ordering;

/// What C's `strtod` does with `s`: (value, bytes consumed, whether it overflowed or
/// underflowed to zero). Consumes nothing (0) when no number starts the string.
fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let start = i;
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let lower = |n: usize| -> Vec<u8> {
        rest.iter()
            .take(n)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    if lower(8) == b"infinity" {
        return (sign * f64::INFINITY, i + 8, false);
    }
    if lower(3) == b"inf" {
        return (sign * f64::INFINITY, i + 3, false);
    }
    if lower(3) == b"nan" {
        let mut j = i + 3;
        if s.get(j) == Some(&b'(') {
            let mut k = j + 1;
            while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'_') {
                k += 1;
            }
            if s.get(k) == Some(&b')') {
                j = k + 1;
            }
        }
        return (f64::NAN, j, false);
    }
    if rest.len() >= 3 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, n, range)) = hex_float(&rest[2..]) {
            return (sign * v, i + 2 + n, range);
        }
        // "0x" without hex digits: only the "0" is a number.
        return (sign * 0.0, i + 1, false);
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = i;
    let mut digits = 0;
    let mut nonzero = false;
    while j < s.len() && s[j].is_ascii_digit() {
        nonzero |= s[j] != b'0';
        j += 1;
        digits += 1;
    }
    if j < s.len() && s[j] == b'.' {
        j += 1;
        while j < s.len() && s[j].is_ascii_digit() {
            nonzero |= s[j] != b'0';
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < s.len() && (s[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..j]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let range = v.is_infinite() || (v == 0.0 && nonzero);
    (v, j, range)
}

/// A hexadecimal float after its `0x`: (value, bytes consumed, out of range).
fn hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut sticky = false;
    let mut seen_dot = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_dot {
            seen_dot = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        digits += 1;
        if mant >> 56 == 0 {
            mant = mant * 16 + d as u64;
            if seen_dot {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_dot {
                exp += 4;
            }
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < s.len() && (s[i] | 0x20) == b'p' {
        let mut k = i + 1;
        let neg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        if k < s.len() && s[k].is_ascii_digit() {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + (s[k] - b'0') as i64).min(1 << 20);
                k += 1;
            }
            exp += if neg { -e } else { e };
            i = k;
        }
    }
    if sticky {
        mant |= 1;
    }
    let v = (mant as f64) * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    let v = if exp < -1074 && mant != 0 {
        // powi underflows before the multiply: scale in two steps.
        (mant as f64) * 2f64.powi((exp / 2) as i32) * 2f64.powi((exp - exp / 2) as i32)
    } else {
        v
    };
    Some((v, i, v.is_infinite() || (v == 0.0 && mant != 0)))
}

/// Parses a score as ZADD, ZINCRBY and WEIGHTS accept it (Redis's `string2d`): the whole
/// argument is one number, no leading space, no overflow, not NaN.
pub fn parse_score(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b[0].is_ascii_whitespace() || b[0] == 0x0b {
        return None;
    }
    let (v, n, range) = strtod(b);
    if n != b.len() || v.is_nan() || (range && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// One end of a score range as ZRANGEBYSCORE accepts it (`(` for exclusive, then what
/// `strtod` reads up to the end of the C string: spaces before, overflow and even an empty
/// string are accepted). None when it is not a float.
fn parse_bound(b: &[u8]) -> Option<(f64, bool)> {
    // Redis sees the argument as a C string: it ends at the first NUL.
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    let (ex, b) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    let (v, n, _) = strtod(b);
    (n == b.len() && !v.is_nan()).then_some((v, ex))
}

/// A score range (`min max` with optional `(` for exclusive ends).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// Whether `min` itself is excluded.
    pub minex: bool,
    /// Whether `max` itself is excluded.
    pub maxex: bool,
}

impl ScoreRange {
    /// Parses `min` and `max`; None when either is not a float.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, minex) = parse_bound(min)?;
        let (max, maxex) = parse_bound(max)?;
        Some(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    /// Whether `v` is at or above the lower bound.
    #[inline]
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    /// Whether `v` is at or below the upper bound.
    #[inline]
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lexicographic range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every string.
    Min,
    /// `+`: above every string.
    Max,
    /// `[x` (inclusive) or `(x` (exclusive).
    Value(Vec<u8>, bool),
}

impl LexBound {
    fn parse(b: &[u8]) -> Option<LexBound> {
        match b.first() {
            Some(b'+') if b.len() == 1 => Some(LexBound::Max),
            Some(b'-') if b.len() == 1 => Some(LexBound::Min),
            Some(b'(') => Some(LexBound::Value(b[1..].to_vec(), true)),
            Some(b'[') => Some(LexBound::Value(b[1..].to_vec(), false)),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        match self {
            LexBound::Min | LexBound::Max => true,
            LexBound::Value(_, ex) => *ex,
        }
    }

    /// Redis's `sdscmplex(value, bound)`.
    fn cmp_value(&self, v: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Value(b, _) => v.cmp(b),
        }
    }
}

/// A lexicographic range (`[a (b - +`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    /// Lower bound.
    pub min: LexBound,
    /// Upper bound.
    pub max: LexBound,
}

impl LexRange {
    /// Parses `min` and `max`; None when either is not a valid range item.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Whether the range can contain nothing (min above max, or equal with an exclusive end).
    pub fn is_empty(&self) -> bool {
        let cmp = match (&self.min, &self.max) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
            (LexBound::Value(a, _), LexBound::Value(b, _)) => a.cmp(b),
        };
        cmp == Ordering::Greater
            || (cmp == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }

    /// Whether `v` is at or above the lower bound.
    #[inline]
    pub fn gte_min(&self, v: &[u8]) -> bool {
        let c = self.min.cmp_value(v);
        if self.min.exclusive() {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    /// Whether `v` is at or below the upper bound.
    #[inline]
    pub fn lte_max(&self, v: &[u8]) -> bool {
        let c = self.max.cmp_value(v);
        if self.max.exclusive() {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }
}

/// Formats a score as Redis 7.0 replies with it (`%.17g`; `inf`, `-inf`, `-0`).
pub fn format_score(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    if v.fract() == 0.0 && v.abs() < 1e17 {
        return (v as i64).to_string();
    }
    // %.17g: 17 significant digits; exponent form when exp < -4 or exp >= 17; trailing zeros
    // removed.
    let e = format!("{v:.16e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        let s = format!("{:.*}", (16 - exp) as usize, v);
        trim_zeros(&s).to_string()
    } else {
        let m = trim_zeros(mant);
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_printf_17g() {
        for (v, want) in [
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (3.0, "3"),
            (-0.0, "-0"),
            (0.0, "0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (2.5e-300, "2.5e-300"),
            (3.14, "3.1400000000000001"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(format_score(v), want, "{v:e}");
        }
    }

    #[test]
    fn parses_scores_like_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_score(b"1e3"), Some(1000.0));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"5."), Some(5.0));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1e",
            b"0x",
            b".",
            b"1\x002",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(
            parse_score(b"4e-320").is_some(),
            "subnormal results are accepted"
        );
    }

    #[test]
    fn ranges_parse_like_strtod() {
        let r = ScoreRange::parse(b"(1", b"+inf").expect("range");
        assert!(r.minex && !r.maxex && r.max == f64::INFINITY);
        assert!(!r.gte_min(1.0) && r.gte_min(1.5));
        let r = ScoreRange::parse(b"", b" 5").expect("empty string is 0");
        assert_eq!((r.min, r.max), (0.0, 5.0));
        assert!(ScoreRange::parse(b"1e999", b"2").is_some());
        assert!(ScoreRange::parse(b"x", b"2").is_none());
        assert!(ScoreRange::parse(b"nan", b"2").is_none());
        assert!(ScoreRange::parse(b"1 ", b"2").is_none());
        let l = LexRange::parse(b"[a", b"(c").expect("lex");
        assert!(l.gte_min(b"a") && l.lte_max(b"b") && !l.lte_max(b"c"));
        assert!(LexRange::parse(b"a", b"+").is_none());
        assert!(LexRange::parse(b"-x", b"+").is_none());
        assert!(LexRange::parse(b"", b"+").is_none());
        assert!(LexRange::parse(b"(a", b"[a").expect("lex").is_empty());
        assert!(!LexRange::parse(b"-", b"+").expect("lex").is_empty());
        assert!(LexRange::parse(b"+", b"-").expect("lex").is_empty());
    }
}
