//! Reply encoding in RESP2 or RESP3. Handlers write into a [`Reply`], which appends to the
//! connection's output buffer (or a shard's batch buffer for forwarded commands).

use crate::errors::ErrorCode;

/// An encoder appending RESP to a byte buffer.
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
    resp3: bool,
    /// Error replies written, by code (for INFO errorstats and metrics).
    pub errors: Option<ErrorCode>,
}

#[inline]
fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

impl<'a> Reply<'a> {
    /// An encoder for protocol version 2 or 3.
    #[inline]
    pub fn new(out: &'a mut Vec<u8>, resp3: bool) -> Reply<'a> {
        Reply {
            out,
            resp3,
            errors: None,
        }
    }

    /// Whether RESP3 is in use.
    #[inline]
    pub fn resp3(&self) -> bool {
        self.resp3
    }

    /// Bytes written so far to the underlying buffer.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// `+OK`
    #[inline]
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string (must not contain CR or LF).
    #[inline]
    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` starts with its code (`ERR …`, `WRONGTYPE …`).
    #[inline]
    pub fn error(&mut self, code: ErrorCode, msg: &str) {
        self.errors = Some(code);
        self.out.push(b'-');
        // Error text must stay on one line.
        for &b in msg.as_bytes() {
            self.out
                .push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer.
    #[inline]
    pub fn int(&mut self, v: i64) {
        self.out.push(b':');
        push_int(self.out, v);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string.
    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        self.out.push(b'$');
        push_int(self.out, b.len() as i64);
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string given in two parts (a packed list element: shared prefix, own bytes).
    #[inline]
    pub fn bulk2(&mut self, a: &[u8], b: &[u8]) {
        let n = a.len() + b.len();
        let out = &mut *self.out;
        out.reserve(n + 16);
        if n < 10 {
            out.extend_from_slice(&[b'$', b'0' + n as u8, b'\r', b'\n']);
        } else {
            out.push(b'$');
            push_int(out, n as i64);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        out.extend_from_slice(b"\r\n");
    }

    /// A bulk string or null.
    #[inline]
    pub fn opt_bulk(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => self.bulk(b),
            None => self.null(),
        }
    }

    /// Null (`$-1` in RESP2, `_` in RESP3).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"*-1\r\n");
        }
    }

    /// An array header of `n` elements.
    #[inline]
    pub fn array(&mut self, n: usize) {
        self.out.push(b'*');
        push_int(self.out, n as i64);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A map header of `n` pairs (an array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.out.push(b'%');
            push_int(self.out, n as i64);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.array(n * 2);
        }
    }

    /// A set header (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            self.out.push(b'~');
            push_int(self.out, n as i64);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.array(n);
        }
    }

    /// A double, printed as Redis 7.0 does (`%.17g`, `inf`, `-inf`; a bulk string in RESP2).
    pub fn double(&mut self, v: f64) {
        let s = synap_shard::zset::score::format_score(v);
        if self.resp3 {
            self.out.push(b',');
            self.out.extend_from_slice(s.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (an integer 0/1 in RESP2).
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.out
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A verbatim string (`=` with format `txt` in RESP3, a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.out.push(b'=');
            push_int(self.out, text.len() as i64 + 4);
            self.out.extend_from_slice(b"\r\ntxt:");
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// The underlying buffer.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Appends bytes that are already encoded RESP.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.out.extend_from_slice(encoded);
    }
}
