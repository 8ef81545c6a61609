//! Request framing. A [`Parser`] is resumable: when a command is incomplete it remembers how far
//! it got (arguments already framed, offset to resume at), so a 100,000-argument command or a
//! 512 MB value arriving in many reads is framed in linear time. Argument positions are kept
//! relative to the start of the command, so the caller may move the unconsumed bytes to the
//! front of its buffer between reads.

use std::ops::Range;

/// Limits applied while framing (Redis: `proto-max-bulk-len`, multibulk count, inline size).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk string accepted.
    pub max_bulk_len: usize,
    /// Largest number of arguments in one command.
    pub max_multibulk_len: usize,
    /// Largest inline command line.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// A framing error. The connection replies `-ERR Protocol error: …` and closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl ProtoError {
    fn new(msg: &str) -> ProtoError {
        ProtoError(format!("ERR Protocol error: {msg}"))
    }
}

/// What one call to [`Parser::parse`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete command of this many bytes; its arguments are in the parser.
    Command(usize),
    /// Bytes to skip that held no command (an empty inline line, or `*0`/`*-1`).
    Skip(usize),
    /// More bytes are needed; when known, the total size the command will occupy.
    Incomplete(Option<usize>),
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    /// A multibulk with `argc` arguments, resuming at `pos` (relative to command start).
    Multi { argc: usize, pos: usize },
}

/// A resumable request parser.
#[derive(Debug, Default)]
pub struct Parser {
    state: State,
    /// Argument ranges relative to the command start (multibulk).
    ranges: Vec<Range<usize>>,
    /// Arguments of an inline command (unescaped, so owned).
    inline: Vec<Vec<u8>>,
    is_inline: bool,
}

#[inline]
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i..].iter().position(|&b| b == b'\r') {
            None => return None,
            Some(off) => {
                let at = i + off;
                if at + 1 < buf.len() && buf[at + 1] == b'\n' {
                    return Some(at);
                }
                i = at + 1;
            }
        }
    }
    None
}

/// Parses a decimal length as Redis does (`string2ll`, strict).
fn parse_len(b: &[u8]) -> Option<i64> {
    synap_shard::strings::parse_i64(b)
}

impl Parser {
    /// Frames the next command at the start of `buf` (which starts at a command boundary and
    /// must be the same bytes as on the previous call, possibly with more appended).
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtoError> {
        if let State::Idle = self.state {
            if buf.is_empty() {
                return Ok(Parsed::Incomplete(None));
            }
            if buf[0] != b'*' {
                return self.parse_inline(buf, limits);
            }
            let Some(eol) = find_crlf(buf, 1) else {
                if buf.len() > 64 * 1024 {
                    return Err(ProtoError::new("too big mbulk count string"));
                }
                return Ok(Parsed::Incomplete(None));
            };
            let argc = match parse_len(&buf[1..eol]) {
                Some(n) if n <= limits.max_multibulk_len as i64 => n,
                _ => return Err(ProtoError::new("invalid multibulk length")),
            };
            if argc <= 0 {
                return Ok(Parsed::Skip(eol + 2));
            }
            self.ranges.clear();
            self.is_inline = false;
            self.state = State::Multi {
                argc: argc as usize,
                pos: eol + 2,
            };
        }
        let State::Multi { argc, mut pos } = self.state else {
            return Ok(Parsed::Incomplete(None));
        };
        while self.ranges.len() < argc {
            if pos >= buf.len() {
                self.state = State::Multi { argc, pos };
                return Ok(Parsed::Incomplete(None));
            }
            if buf[pos] != b'$' {
                let got = buf[pos] as char;
                self.reset();
                return Err(ProtoError(format!(
                    "ERR Protocol error: expected '$', got '{got}'"
                )));
            }
            let Some(eol) = find_crlf(buf, pos + 1) else {
                if buf.len() - pos > 64 * 1024 {
                    self.reset();
                    return Err(ProtoError::new("too big bulk count string"));
                }
                self.state = State::Multi { argc, pos };
                return Ok(Parsed::Incomplete(None));
            };
            let len = match parse_len(&buf[pos + 1..eol]) {
                Some(n) if n >= 0 && n as u64 <= limits.max_bulk_len as u64 => n as usize,
                _ => {
                    self.reset();
                    return Err(ProtoError::new("invalid bulk length"));
                }
            };
            let start = eol + 2;
            let end = start + len;
            if end + 2 > buf.len() {
                self.state = State::Multi { argc, pos };
                return Ok(Parsed::Incomplete(Some(end + 2)));
            }
            if &buf[end..end + 2] != b"\r\n" {
                self.reset();
                return Err(ProtoError::new("invalid bulk length"));
            }
            self.ranges.push(start..end);
            pos = end + 2;
        }
        self.state = State::Idle;
        Ok(Parsed::Command(pos))
    }

    fn parse_inline(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtoError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > limits.max_inline_len {
                return Err(ProtoError::new("too big inline request"));
            }
            return Ok(Parsed::Incomplete(None));
        };
        if nl > limits.max_inline_len {
            return Err(ProtoError::new("too big inline request"));
        }
        let line = if nl > 0 && buf[nl - 1] == b'\r' {
            &buf[..nl - 1]
        } else {
            &buf[..nl]
        };
        self.inline.clear();
        split_args(line, &mut self.inline)
            .map_err(|_| ProtoError::new("unbalanced quotes in request"))?;
        if self.inline.is_empty() {
            return Ok(Parsed::Skip(nl + 1));
        }
        self.is_inline = true;
        Ok(Parsed::Command(nl + 1))
    }

    /// Forgets any command in progress.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.ranges.clear();
        self.is_inline = false;
    }

    /// Whether a multibulk command is partly framed.
    pub fn in_progress(&self) -> bool {
        matches!(self.state, State::Multi { .. })
    }

    /// The arguments of the command just framed, as slices of `buf` (the same buffer given to
    /// `parse`).
    pub fn args<'a>(&'a self, buf: &'a [u8], out: &mut Vec<&'a [u8]>) {
        out.clear();
        if self.is_inline {
            out.extend(self.inline.iter().map(|a| a.as_slice()));
        } else {
            out.extend(self.ranges.iter().map(|r| &buf[r.clone()]));
        }
    }
}

/// Argument separators of inline commands (C's `isspace`). The splitter skips exactly these
/// between arguments and stops an argument at exactly these, so it always makes progress.
#[inline]
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0b' | b'\x0c')
}

/// An inline command whose quotes do not close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbalancedQuotes;

/// Splits an inline command line into arguments like Redis's `sdssplitargs`: spaces separate,
/// "double quotes" support \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' support \'.
pub fn split_args(line: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), UnbalancedQuotes> {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_sep(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return Err(UnbalancedQuotes);
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !is_sep(line[i + 1]) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return Err(UnbalancedQuotes);
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !is_sep(line[i + 1]) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    c if is_sep(c) => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtoError> {
        let mut p = Parser::default();
        let mut off = 0;
        let mut cmds = Vec::new();
        let limits = Limits::default();
        loop {
            match p.parse(&input[off..], &limits)? {
                Parsed::Command(n) => {
                    let mut v = Vec::new();
                    p.args(&input[off..], &mut v);
                    cmds.push(v.iter().map(|a| a.to_vec()).collect());
                    off += n;
                }
                Parsed::Skip(n) => off += n,
                Parsed::Incomplete(_) => return Ok(cmds),
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\n").expect("ok");
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        assert_eq!(
            cmds[2],
            vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()]
        );
    }

    #[test]
    fn split_at_every_byte_resumes() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 0..input.len() {
            let mut p = Parser::default();
            let limits = Limits::default();
            let first = p.parse(&input[..cut], &limits).expect("ok");
            assert!(matches!(first, Parsed::Incomplete(_)), "cut {cut}");
            let r = p.parse(&input[..], &limits).expect("ok");
            assert_eq!(r, Parsed::Command(input.len()));
            let mut v = Vec::new();
            p.args(input, &mut v);
            assert_eq!(v, vec![&b"SET"[..], b"key", b"value"]);
        }
    }

    #[test]
    fn errors_match_redis() {
        let e = |b: &[u8]| parse_all(b).err().map(|e| e.0);
        assert_eq!(e(b"*-5\r\n"), None);
        assert_eq!(
            e(b"*abc\r\n").as_deref(),
            Some("ERR Protocol error: invalid multibulk length")
        );
        assert_eq!(
            e(b"*1\r\n$-1\r\n").as_deref(),
            Some("ERR Protocol error: invalid bulk length")
        );
        assert_eq!(
            e(b"*1\r\n$600000000\r\n").as_deref(),
            Some("ERR Protocol error: invalid bulk length")
        );
        assert_eq!(
            e(b"*1\r\n:1\r\n").as_deref(),
            Some("ERR Protocol error: expected '$', got ':'")
        );
        assert_eq!(
            e(b"*1\r\n$1\r\nab\r\n").as_deref(),
            Some("ERR Protocol error: invalid bulk length")
        );
        assert_eq!(
            e(b"set \"a\r\n").as_deref(),
            Some("ERR Protocol error: unbalanced quotes in request")
        );
        assert_eq!(
            e(b"*2000000\r\n").as_deref(),
            Some("ERR Protocol error: invalid multibulk length")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_frame_without_panic_or_runaway(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            // Every byte value, NUL included, must make progress: the argument count is bounded
            // by the input size.
            let mut p = Parser::default();
            let limits = Limits::default();
            let mut off = 0;
            let mut steps = 0;
            while off < data.len() {
                steps += 1;
                proptest::prop_assert!(steps <= data.len() + 1);
                match p.parse(&data[off..], &limits) {
                    Ok(Parsed::Command(n)) => {
                        let mut v = Vec::new();
                        p.args(&data[off..], &mut v);
                        proptest::prop_assert!(v.len() <= data.len());
                        off += n;
                    }
                    Ok(Parsed::Skip(n)) => off += n,
                    Ok(Parsed::Incomplete(_)) | Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn nul_bytes_in_inline_commands() {
        let cmds = parse_all(b"\x00abc \x00\n").expect("ok");
        assert_eq!(cmds, vec![vec![b"\x00abc".to_vec(), b"\x00".to_vec()]]);
    }

    #[test]
    fn big_bulk_reports_needed_size() {
        let mut p = Parser::default();
        let r = p
            .parse(b"*1\r\n$100000\r\nab", &Limits::default())
            .expect("ok");
        assert_eq!(r, Parsed::Incomplete(Some(4 + 9 + 100000 + 2)));
    }
}
