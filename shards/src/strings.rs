//! String operations on a [`Keyspace`], with Redis's semantics. Each returns a status; the
//! caller renders it.

use crate::blob::Blob;
use crate::keyspace::{Entry, Keyspace};
use crate::longdouble::LongDouble;
use crate::status::OpError;
use crate::value::Value;

/// When SET writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCond {
    /// Always.
    Always,
    /// Only if the key does not exist (NX).
    IfMissing,
    /// Only if the key exists (XX).
    IfExists,
}

/// What SET (or GETEX) does to the expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireAction {
    /// Remove any expiry (SET's default, GETEX PERSIST).
    Clear,
    /// Keep the current expiry (KEEPTTL, GETEX without options).
    Keep,
    /// Expire at this Unix time in ms.
    At(u64),
}

/// The result of SET.
#[derive(Debug, PartialEq, Eq)]
pub struct SetOutcome {
    /// Whether the value was written.
    pub written: bool,
    /// The previous string value when requested (SET … GET).
    pub old: Option<Blob>,
}

/// Parses a strict 64-bit integer the way Redis's `string2ll` does: optional `-`, no `+`, no
/// leading zeros, no spaces.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = if b[0] == b'-' {
        (true, &b[1..])
    } else {
        (false, b)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a float as Redis's `string2ld` accepts it: no surrounding spaces, not NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b[0].is_ascii_whitespace() || b[b.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Formats a float as Redis's human-readable long double form: no exponent, no trailing zeros.
pub fn format_f64(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{v}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

fn as_str(e: &Entry) -> Result<&Blob, OpError> {
    match &e.value {
        Value::Str(b) => Ok(b),
        _ => Err(OpError::WrongType),
    }
}

impl Keyspace {
    /// GET: the string at `key`.
    #[inline]
    pub fn get_str(&mut self, key: &[u8], now: u64) -> Result<Option<&Blob>, OpError> {
        match self.lookup(key, now) {
            None => Ok(None),
            Some(e) => as_str(e).map(Some),
        }
    }

    /// SET with its conditions and expiry options.
    pub fn set_str(
        &mut self,
        key: &[u8],
        value: &[u8],
        cond: SetCond,
        expire: ExpireAction,
        want_old: bool,
        now: u64,
    ) -> Result<SetOutcome, OpError> {
        let idx = self.find(key, now);
        let (exists, old_expire, old) = match idx.and_then(|i| self.entry_at(i)) {
            None => (false, 0, None),
            Some(e) => {
                let old = if want_old {
                    Some(as_str(e)?.clone())
                } else {
                    None
                };
                (true, e.expire_at(), old)
            }
        };
        let allowed = match cond {
            SetCond::Always => true,
            SetCond::IfMissing => !exists,
            SetCond::IfExists => exists,
        };
        if !allowed {
            return Ok(SetOutcome {
                written: false,
                old,
            });
        }
        let expire_at = match expire {
            ExpireAction::Clear => 0,
            ExpireAction::Keep => old_expire,
            ExpireAction::At(t) => t,
        };
        let value = Value::Str(Blob::new(value));
        match idx {
            Some(i) => {
                self.replace_at(i, value, expire_at);
            }
            None => {
                self.insert(key, value, expire_at, now);
            }
        }
        Ok(SetOutcome { written: true, old })
    }

    /// INCRBY / DECRBY / INCR / DECR. Keeps the key's expiry.
    pub fn incr_by(&mut self, key: &[u8], delta: i64, now: u64) -> Result<i64, OpError> {
        let (current, expire_at) = match self.peek(key, now) {
            None => (0, 0),
            Some(e) => {
                let b = as_str(e)?;
                (parse_i64(b).ok_or(OpError::NotInteger)?, e.expire_at())
            }
        };
        let next = current.checked_add(delta).ok_or(OpError::Overflow)?;
        let mut buf = itoa_buf(next);
        self.insert(key, Value::Str(Blob::new(buf.as_bytes())), expire_at, now);
        buf.clear();
        Ok(next)
    }

    /// INCRBYFLOAT with the increment as the client wrote it. Checks, in Redis's order, the
    /// key's type, the current value, then the increment. Returns the new value as stored.
    pub fn incr_by_float(
        &mut self,
        key: &[u8],
        delta_text: &[u8],
        now: u64,
    ) -> Result<String, OpError> {
        let (current, expire_at, current_text) = match self.peek(key, now) {
            None => (0.0, 0, None),
            Some(e) => {
                let b = as_str(e)?;
                (
                    parse_f64(b).ok_or(OpError::NotFloat)?,
                    e.expire_at(),
                    Some(b.to_vec()),
                )
            }
        };
        let delta = parse_f64(delta_text).ok_or(OpError::NotFloat)?;
        let delta_text = Some(delta_text);
        let next = current + delta;
        if !next.is_finite() {
            return Err(OpError::NanOrInfinity);
        }
        // Redis adds in x87 long double (64-bit mantissa) and prints "%.17Lf": emulate it
        // exactly (f64 would lose digits); fall back to f64 for forms the emulation does not
        // cover (hex floats).
        let exact = current_text
            .as_deref()
            .map_or(LongDouble::parse(b"0"), LongDouble::parse)
            .zip(delta_text.and_then(LongDouble::parse))
            .and_then(|(a, b)| a.checked_add(b));
        let s = match exact {
            Some(v) => v.to_human(),
            None => format_f64(next),
        };
        self.insert(key, Value::Str(Blob::new(s.as_bytes())), expire_at, now);
        Ok(s)
    }

    /// APPEND. Returns the new length.
    pub fn append(
        &mut self,
        key: &[u8],
        data: &[u8],
        max_len: usize,
        now: u64,
    ) -> Result<usize, OpError> {
        let (mut v, expire_at) = match self.peek(key, now) {
            None => (Vec::new(), 0),
            Some(e) => (as_str(e)?.to_vec(), e.expire_at()),
        };
        if v.len() + data.len() > max_len {
            return Err(OpError::StringTooLong);
        }
        v.extend_from_slice(data);
        let len = v.len();
        self.insert(key, Value::Str(Blob::from_vec(v)), expire_at, now);
        Ok(len)
    }

    /// STRLEN.
    pub fn strlen(&mut self, key: &[u8], now: u64) -> Result<usize, OpError> {
        Ok(self.get_str(key, now)?.map_or(0, |b| b.len()))
    }

    /// GETRANGE with Redis's index rules (negative from the end, clamped).
    pub fn getrange(
        &mut self,
        key: &[u8],
        start: i64,
        end: i64,
        now: u64,
    ) -> Result<Vec<u8>, OpError> {
        let Some(b) = self.get_str(key, now)? else {
            return Ok(Vec::new());
        };
        let len = b.len() as i64;
        if len == 0 || (start < 0 && end < 0 && start > end) {
            return Ok(Vec::new());
        }
        let mut s = if start < 0 { len + start } else { start };
        let mut e = if end < 0 { len + end } else { end };
        if s < 0 {
            s = 0;
        }
        if e < 0 {
            e = 0;
        }
        if e >= len {
            e = len - 1;
        }
        if s > e {
            return Ok(Vec::new());
        }
        Ok(b[s as usize..=e as usize].to_vec())
    }

    /// SETRANGE. Returns the new length.
    pub fn setrange(
        &mut self,
        key: &[u8],
        offset: usize,
        data: &[u8],
        max_len: usize,
        now: u64,
    ) -> Result<usize, OpError> {
        let (mut v, expire_at) = match self.peek(key, now) {
            None => (Vec::new(), 0),
            Some(e) => (as_str(e)?.to_vec(), e.expire_at()),
        };
        if data.is_empty() {
            return Ok(v.len());
        }
        if offset
            .checked_add(data.len())
            .is_none_or(|end| end > max_len)
        {
            return Err(OpError::StringTooLong);
        }
        if v.len() < offset + data.len() {
            v.resize(offset + data.len(), 0);
        }
        v[offset..offset + data.len()].copy_from_slice(data);
        let len = v.len();
        self.insert(key, Value::Str(Blob::from_vec(v)), expire_at, now);
        Ok(len)
    }

    /// GETDEL.
    pub fn getdel(&mut self, key: &[u8], now: u64) -> Result<Option<Blob>, OpError> {
        match self.lookup(key, now) {
            None => return Ok(None),
            Some(e) => {
                as_str(e)?;
            }
        }
        Ok(self.remove(key, now).and_then(|e| match e.value {
            Value::Str(b) => Some(b),
            _ => None,
        }))
    }

    /// GETEX: returns the value and applies `action` to the expiry. An expiry in the past
    /// deletes the key (the value is still returned).
    pub fn getex(
        &mut self,
        key: &[u8],
        action: ExpireAction,
        now: u64,
    ) -> Result<Option<Blob>, OpError> {
        let v = match self.lookup(key, now) {
            None => return Ok(None),
            Some(e) => as_str(e)?.clone(),
        };
        match action {
            ExpireAction::Keep => {}
            ExpireAction::Clear => {
                self.set_expire(key, 0, now);
            }
            ExpireAction::At(t) if t <= now => {
                self.remove(key, now);
            }
            ExpireAction::At(t) => {
                self.set_expire(key, t, now);
            }
        }
        Ok(Some(v))
    }
}

fn itoa_buf(v: i64) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn float_format_like_redis() {
        assert_eq!(format_f64(10.5 + 0.1), "10.6");
        assert_eq!(format_f64(5200.0), "5200");
        assert_eq!(format_f64(-0.0), "0");
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
    }

    #[test]
    fn incr_keeps_ttl_and_detects_overflow() {
        let mut ks = Keyspace::new();
        ks.set_str(
            b"n",
            b"10",
            SetCond::Always,
            ExpireAction::At(1000),
            false,
            0,
        )
        .expect("set");
        assert_eq!(ks.incr_by(b"n", 5, 0), Ok(15));
        assert_eq!(ks.peek(b"n", 0).map(|e| e.expire_at()), Some(1000));
        ks.set_str(
            b"m",
            b"9223372036854775807",
            SetCond::Always,
            ExpireAction::Clear,
            false,
            0,
        )
        .expect("set");
        assert_eq!(ks.incr_by(b"m", 1, 0), Err(OpError::Overflow));
        ks.set_str(b"s", b"abc", SetCond::Always, ExpireAction::Clear, false, 0)
            .expect("set");
        assert_eq!(ks.incr_by(b"s", 1, 0), Err(OpError::NotInteger));
    }

    #[test]
    fn set_conditions_and_get() {
        let mut ks = Keyspace::new();
        let r = ks
            .set_str(b"k", b"1", SetCond::IfExists, ExpireAction::Clear, true, 0)
            .expect("ok");
        assert_eq!(
            r,
            SetOutcome {
                written: false,
                old: None
            }
        );
        let r = ks
            .set_str(b"k", b"1", SetCond::IfMissing, ExpireAction::Clear, true, 0)
            .expect("ok");
        assert!(r.written);
        let r = ks
            .set_str(b"k", b"2", SetCond::Always, ExpireAction::Clear, true, 0)
            .expect("ok");
        assert_eq!(r.old.as_deref(), Some(&b"1"[..]));
    }

    #[test]
    fn ranges() {
        let mut ks = Keyspace::new();
        ks.set_str(
            b"k",
            b"This is a string",
            SetCond::Always,
            ExpireAction::Clear,
            false,
            0,
        )
        .expect("ok");
        assert_eq!(ks.getrange(b"k", 0, 3, 0).expect("ok"), b"This");
        assert_eq!(ks.getrange(b"k", -3, -1, 0).expect("ok"), b"ing");
        assert_eq!(
            ks.getrange(b"k", 0, -1, 0).expect("ok"),
            b"This is a string"
        );
        assert_eq!(ks.getrange(b"k", 10, 100, 0).expect("ok"), b"string");
        assert_eq!(ks.setrange(b"n", 5, b"hi", 1 << 29, 0), Ok(7));
        assert_eq!(
            ks.get_str(b"n", 0).expect("ok").map(|b| b.to_vec()),
            Some(b"\0\0\0\0\0hi".to_vec())
        );
        assert_eq!(
            ks.setrange(b"n", 1 << 29, b"x", 1 << 29, 0),
            Err(OpError::StringTooLong)
        );
    }
}
