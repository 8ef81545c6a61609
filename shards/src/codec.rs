//! The on-disk and on-wire encoding of data: entries (a key, its expiry and its value, as
//! snapshots, cross-shard stores and replication carry them), commands (argument lists, as the
//! append-only file carries them), and the frame around each record.
//!
//! # Record payloads
//! The first byte says what a payload is:
//! - `0x00..=0x7f` an entry: the byte is the value type ([`TAG_STR`]…), then
//!   `varint key_len, key, varint expire_at (Unix ms, 0 = none)` and the value:
//!   - string: `varint len, bytes`
//!   - hash: `varint n, n × (varint len, field, varint len, value)`
//!   - set, list: `varint n, n × (varint len, member)`
//!   - sorted set: `varint n, n × (varint len, member, f64 LE score)`, in score order
//! - [`TAG_COMMAND`] a command: `varint argc, argc × (varint len, bytes)`.
//!
//! Varints are unsigned LEB128. Everything is binary-safe.
//!
//! # Frames
//! `u32 LE payload length, u32 LE CRC32C of the payload, payload`. A reader tells a frame cut
//! short by the end of the file ([`FrameError::Torn`]) from one whose checksum or length is wrong
//! ([`FrameError::Corrupt`]).

use crate::blob::Blob;
use crate::hash::{HashLimits, HashValue};
use crate::keyspace::Entry;
use crate::list::{ListLimits, ListValue};
use crate::set::{SetLimits, SetValue};
use crate::value::Value;
use crate::zset::{ZsetLimits, ZsetValue};

/// Entry of a string.
pub const TAG_STR: u8 = 0;
/// Entry of a hash.
pub const TAG_HASH: u8 = 1;
/// Entry of a set.
pub const TAG_SET: u8 = 2;
/// Entry of a list.
pub const TAG_LIST: u8 = 3;
/// Entry of a sorted set.
pub const TAG_ZSET: u8 = 4;
/// A command's arguments.
pub const TAG_COMMAND: u8 = 0x80;

/// Bytes of a frame header.
pub const FRAME_HEADER: usize = 8;

/// Largest payload a frame may announce (1 GiB): a bigger length is corruption.
pub const MAX_FRAME: usize = 1 << 30;

/// Appends an unsigned LEB128 varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Appends a length-prefixed byte string.
#[inline]
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A cursor over a payload.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from the start.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Whether everything was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// One byte.
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    /// A varint.
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut n = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift >= 64 || (shift == 63 && b > 1) {
                return Err(DecodeError("varint overflow"));
            }
            n |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
            shift += 7;
        }
    }

    /// A count of items that each take at least one byte (bounded by what is left, so a
    /// corrupt count cannot make the caller reserve absurd memory).
    pub fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return Err(DecodeError("count exceeds the record"));
        }
        Ok(n as usize)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or(DecodeError("truncated"))?;
        self.pos += n;
        Ok(s)
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varint()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return Err(DecodeError("length exceeds the record"));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
}

/// Appends the payload of an entry.
pub fn encode_entry(out: &mut Vec<u8>, key: &[u8], e: &Entry) {
    encode_value(out, key, e.expire_at(), &e.value)
}

/// Appends the payload of an entry given its parts.
pub fn encode_value(out: &mut Vec<u8>, key: &[u8], expire_at: u64, value: &Value) {
    let tag = match value {
        Value::Str(_) => TAG_STR,
        Value::Hash(_) => TAG_HASH,
        Value::Set(_) => TAG_SET,
        Value::List(_) => TAG_LIST,
        Value::Zset(_) => TAG_ZSET,
    };
    out.push(tag);
    put_bytes(out, key);
    put_varint(out, expire_at);
    match value {
        Value::Str(b) => put_bytes(out, b),
        Value::Hash(h) => {
            put_varint(out, h.len() as u64);
            for (f, v) in h.pairs() {
                put_bytes(out, f);
                put_bytes(out, v);
            }
        }
        Value::Set(s) => {
            put_varint(out, s.len() as u64);
            for m in s.members() {
                put_bytes(out, &m);
            }
        }
        Value::List(l) => {
            put_varint(out, l.len() as u64);
            let mut buf = crate::list::IntBuf::default();
            for m in l.iter() {
                let (a, b) = m.parts(&mut buf);
                put_varint(out, (a.len() + b.len()) as u64);
                out.extend_from_slice(a);
                out.extend_from_slice(b);
            }
        }
        Value::Zset(z) => {
            put_varint(out, z.len() as u64);
            z.visit(0, z.len(), false, |m, s| {
                put_bytes(out, m);
                out.extend_from_slice(&s.to_le_bytes());
            });
        }
    }
}

/// Encoding thresholds values are rebuilt with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// Hash thresholds.
    pub hash: HashLimits,
    /// Set thresholds.
    pub set: SetLimits,
    /// Sorted set thresholds.
    pub zset: ZsetLimits,
    /// List chunk limits.
    pub list: ListLimits,
}

/// A decoded entry.
#[derive(Debug)]
pub struct DecodedEntry {
    /// The key.
    pub key: Vec<u8>,
    /// Absolute expiry, Unix ms (0 = none).
    pub expire_at: u64,
    /// The value.
    pub value: Value,
}

/// Decodes an entry payload (the first byte must be an entry tag).
pub fn decode_entry(payload: &[u8], lim: Limits) -> Result<DecodedEntry, DecodeError> {
    let mut r = Reader::new(payload);
    let tag = r.byte()?;
    let key = r.bytes()?.to_vec();
    let expire_at = r.varint()?;
    let value = match tag {
        TAG_STR => Value::Str(Blob::new(r.bytes()?)),
        TAG_HASH => {
            let n = r.count()?;
            let mut h = HashValue::default();
            for _ in 0..n {
                let f = r.bytes()?;
                let v = r.bytes()?;
                h.set(f, v, lim.hash);
            }
            Value::Hash(h)
        }
        TAG_SET => {
            let n = r.count()?;
            let mut s = SetValue::default();
            for _ in 0..n {
                s.add(r.bytes()?, lim.set);
            }
            Value::Set(s)
        }
        TAG_LIST => {
            let n = r.count()?;
            let mut l = ListValue::default();
            for _ in 0..n {
                l.push(r.bytes()?, false, lim.list);
            }
            Value::List(Box::new(l))
        }
        TAG_ZSET => {
            let n = r.count()?;
            let mut entries = Vec::with_capacity(n);
            let mut seen = std::collections::HashSet::with_capacity(n);
            for _ in 0..n {
                let m = r.bytes()?;
                let s = r.take(8)?;
                let s = f64::from_le_bytes(s.try_into().map_err(|_| DecodeError("score"))?);
                if s.is_nan() {
                    return Err(DecodeError("NaN score"));
                }
                if !seen.insert(m) {
                    return Err(DecodeError("duplicate sorted set member"));
                }
                entries.push((m.to_vec(), s));
            }
            Value::Zset(Box::new(ZsetValue::from_entries(entries, lim.zset)))
        }
        _ => return Err(DecodeError("unknown value type")),
    };
    if !r.at_end() {
        return Err(DecodeError("trailing bytes after the value"));
    }
    if value.is_empty_aggregate() {
        return Err(DecodeError("empty aggregate"));
    }
    Ok(DecodedEntry {
        key,
        expire_at,
        value,
    })
}

/// Appends the payload of a command.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    out.push(TAG_COMMAND);
    put_varint(out, argv.len() as u64);
    for a in argv {
        put_bytes(out, a.as_ref());
    }
}

/// Decodes a command payload into its arguments (borrowed from the payload).
pub fn decode_command<'a>(payload: &'a [u8], argv: &mut Vec<&'a [u8]>) -> Result<(), DecodeError> {
    argv.clear();
    let mut r = Reader::new(payload);
    if r.byte()? != TAG_COMMAND {
        return Err(DecodeError("not a command"));
    }
    let n = r.count()?;
    if n == 0 {
        return Err(DecodeError("empty command"));
    }
    for _ in 0..n {
        argv.push(r.bytes()?);
    }
    if !r.at_end() {
        return Err(DecodeError("trailing bytes after the command"));
    }
    Ok(())
}

/// Appends a frame holding the payload `build` writes.
pub fn frame(out: &mut Vec<u8>, build: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    build(out);
    let len = out.len() - start - FRAME_HEADER;
    let crc = crc32c::crc32c(&out[start + FRAME_HEADER..]);
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why a frame could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The buffer ends inside the frame (a torn write at the end of a file, or more to read).
    Torn,
    /// The frame's length or checksum is wrong.
    Corrupt,
}

/// Reads the frame at `pos`: its payload range and where the next frame starts.
pub fn read_frame(buf: &[u8], pos: usize) -> Result<(std::ops::Range<usize>, usize), FrameError> {
    let Some(head) = buf.get(pos..pos + FRAME_HEADER) else {
        return Err(FrameError::Torn);
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    // Every payload has at least its tag byte: a zero length is not a record (it is what
    // zero-filled, preallocated space looks like).
    if len > MAX_FRAME || len == 0 {
        return Err(FrameError::Corrupt);
    }
    let start = pos + FRAME_HEADER;
    let Some(payload) = buf.get(start..start + len) else {
        return Err(FrameError::Torn);
    };
    if crc32c::crc32c(payload) != crc {
        return Err(FrameError::Corrupt);
    }
    Ok((start..start + len, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: Value, exp: u64) -> Entry {
        Entry::new(v, exp)
    }

    #[test]
    fn entries_round_trip() {
        let mut h = HashValue::default();
        h.set(b"f\x00", b"\xff\xfe", HashLimits::default());
        let mut s = SetValue::default();
        s.add(b"1", SetLimits::default());
        s.add(b"m", SetLimits::default());
        let l = ListValue::from_elems([&b"a"[..], b"", b"-12", b"12345"], ListLimits::default());
        let z = ZsetValue::from_entries(
            vec![
                (b"m\x00".to_vec(), 0.1),
                (b"".to_vec(), f64::NEG_INFINITY),
                (b"x".to_vec(), -0.0),
            ],
            ZsetLimits::default(),
        );
        let big = ZsetValue::from_entries(
            (0..300)
                .map(|i| (format!("m{i}").into_bytes(), i as f64 / 3.0))
                .collect(),
            ZsetLimits::default(),
        );
        assert_eq!(big.encoding(), "skiplist");
        let vals = [
            Value::Str(Blob::new(&[0u8, 1, 255])),
            Value::Hash(h),
            Value::Set(s),
            Value::List(Box::new(l)),
            Value::Zset(Box::new(z)),
            Value::Zset(Box::new(big)),
        ];
        for v in vals {
            let mut buf = Vec::new();
            encode_entry(&mut buf, b"k\r\n", &entry(v.clone(), 12345));
            let d = decode_entry(&buf, Limits::default()).expect("decode");
            assert_eq!(d.key, b"k\r\n");
            assert_eq!(d.expire_at, 12345);
            assert_eq!(d.value, v);
            // Every truncation is an error, never a panic.
            for cut in 0..buf.len() {
                assert!(decode_entry(&buf[..cut], Limits::default()).is_err());
            }
        }
    }

    #[test]
    fn commands_round_trip() {
        let mut buf = Vec::new();
        encode_command(&mut buf, &[&b"SET"[..], b"k", b"v\x00"]);
        let mut argv = Vec::new();
        decode_command(&buf, &mut argv).expect("decode");
        assert_eq!(argv, vec![&b"SET"[..], b"k", b"v\x00"]);
    }

    #[test]
    fn frames_detect_torn_and_corrupt() {
        let mut buf = Vec::new();
        frame(&mut buf, |o| encode_command(o, &[b"PING"]));
        frame(&mut buf, |o| encode_command(o, &[&b"DEL"[..], b"x"]));
        let (r, next) = read_frame(&buf, 0).expect("first");
        assert_eq!(buf[r.start], TAG_COMMAND);
        let (_, end) = read_frame(&buf, next).expect("second");
        assert_eq!(end, buf.len());
        for cut in next + 1..buf.len() {
            assert_eq!(read_frame(&buf[..cut], next), Err(FrameError::Torn));
        }
        for i in next..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert!(read_frame(&bad, next).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn hostile_counts_are_refused() {
        let mut buf = vec![TAG_LIST];
        put_bytes(&mut buf, b"k");
        put_varint(&mut buf, 0);
        put_varint(&mut buf, u64::MAX);
        assert!(decode_entry(&buf, Limits::default()).is_err());
    }
}
