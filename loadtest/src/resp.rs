//! RESP request encoding and a streaming reply parser that allocates nothing: it reports the
//! kind of each complete reply and where its payload lies in the read buffer.

use std::ops::Range;

/// Appends `*N` and the bulk strings of one command.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    header(out, b'*', args.len());
    for a in args {
        header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends one bulk string made of the concatenation of `pieces`.
#[inline]
pub fn bulk(out: &mut Vec<u8>, pieces: &[&[u8]]) {
    header(out, b'$', pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `<kind><n>\r\n`.
#[inline]
pub fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    push_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal without allocating.
#[inline]
pub fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The largest bulk string accepted (Redis's proto-max-bulk-len default).
const MAX_BULK: i64 = 512 * 1024 * 1024;

/// A complete reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+…`
    Simple,
    /// `-…`: the range of the error text.
    Error(Range<usize>),
    /// `:…`
    Int,
    /// `$n`: the payload range.
    Bulk(Range<usize>),
    /// `$-1`, `*-1`, `_`.
    Nil,
    /// `*`, `%`, `~` and the other aggregates (contents skipped).
    Aggregate,
    /// `,`, `#`, and other scalars.
    Other,
}

/// The index of the `\r` ending the line that starts at `from`: None while incomplete,
/// Err(()) for a bare `\n`.
fn line_end(buf: &[u8], from: usize) -> Result<Option<usize>, ()> {
    let Some(rel) = buf
        .get(from..)
        .and_then(|b| b.iter().position(|&b| b == b'\n'))
    else {
        return Ok(None);
    };
    let end = from + rel;
    if end == 0 || buf[end - 1] != b'\r' {
        return Err(());
    }
    Ok(Some(end - 1))
}

fn int(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Aggregates nested deeper than this are refused (a hostile server cannot blow the stack).
const MAX_DEPTH: usize = 64;

/// Parses the reply at `at`: None while incomplete, Err on a protocol violation. Returns the
/// reply's kind (payload as a range into `buf`) and where the next reply starts.
pub fn parse(buf: &[u8], at: usize) -> Result<Option<(Reply, usize)>, String> {
    parse_at(buf, at, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply, usize)>, String> {
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let eol = match line_end(buf, at + 1) {
        Ok(Some(e)) => e,
        Ok(None) => return Ok(None),
        Err(()) => return Err("reply line not ended by CRLF".into()),
    };
    let head = &buf[at + 1..eol];
    let next = eol + 2;
    let bad = || {
        format!(
            "malformed reply header {:?}",
            String::from_utf8_lossy(&buf[at..eol.min(at + 40)])
        )
    };
    match kind {
        b'+' => Ok(Some((Reply::Simple, next))),
        b'-' => Ok(Some((Reply::Error(at + 1..eol), next))),
        b':' => Ok(Some((Reply::Int, next))),
        b'_' => Ok(Some((Reply::Nil, next))),
        b',' | b'#' | b'(' => Ok(Some((Reply::Other, next))),
        b'$' | b'=' | b'!' => {
            let n = int(head).ok_or_else(bad)?;
            if n < 0 {
                return Ok(Some((Reply::Nil, next)));
            }
            if n > MAX_BULK {
                return Err(bad());
            }
            let end = next + n as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err("bulk string not ended by CRLF".into());
            }
            Ok(Some((Reply::Bulk(next..end), end + 2)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = int(head).ok_or_else(bad)?;
            if n < 0 {
                return Ok(Some((Reply::Nil, next)));
            }
            if depth >= MAX_DEPTH {
                return Err("aggregate replies nested too deeply".into());
            }
            let n = if kind == b'%' || kind == b'|' {
                n.saturating_mul(2)
            } else {
                n
            };
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some((_, p)) => pos = p,
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Aggregate, pos)))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut v = Vec::new();
        encode(&mut v, &[b"SET", b"k", b""]);
        assert_eq!(v, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn every_split_point_is_incomplete_then_complete() {
        let stream: &[u8] = b"+OK\r\n$5\r\nhello\r\n$-1\r\n:42\r\n-ERR bad thing\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n_\r\n%1\r\n+a\r\n+b\r\n$0\r\n\r\n,1.5\r\n#t\r\n=7\r\ntxt:abc\r\n~1\r\n(12\r\n*-1\r\n";
        let want = [
            Reply::Simple,
            Reply::Bulk(9..14),
            Reply::Nil,
            Reply::Int,
            Reply::Error(27..40),
            Reply::Aggregate,
            Reply::Nil,
            Reply::Aggregate,
            Reply::Bulk(80..80),
            Reply::Other,
            Reply::Other,
            Reply::Bulk(96..103),
            Reply::Aggregate,
            Reply::Nil,
        ];
        // The whole stream, and where each reply ends.
        let mut ends = Vec::new();
        let mut all = Vec::new();
        let mut pos = 0;
        while let Some((r, next)) = parse(stream, pos).expect("valid stream") {
            all.push(r);
            ends.push(next);
            pos = next;
        }
        assert_eq!(all, want);
        assert_eq!(pos, stream.len());
        // Split at every byte, as a read boundary: the first chunk yields exactly the replies
        // it wholly contains (never an error, never a wrong kind), then the rest completes.
        for cut in 0..=stream.len() {
            let mut pos = 0;
            let mut got = Vec::new();
            while let Some((r, next)) = parse(&stream[..cut], pos).expect("prefix is no error") {
                got.push(r);
                pos = next;
            }
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(got, want[..complete], "cut {cut}");
            while let Some((r, next)) = parse(stream, pos).expect("rest") {
                got.push(r);
                pos = next;
            }
            assert_eq!(got, want, "cut {cut}");
        }
        assert!(parse(b"?x\r\n", 0).is_err());
        assert!(parse(b"$abc\r\n", 0).is_err());
    }

    #[test]
    fn hostile_replies_are_errors_not_panics() {
        // Huge counts wait for data instead of overflowing; deep nesting is refused.
        assert_eq!(parse(b"%9223372036854775807\r\n", 0), Ok(None));
        assert_eq!(parse(b"*9223372036854775807\r\n:1\r\n", 0), Ok(None));
        assert!(parse(b"$9999999999999\r\n", 0).is_err());
        assert!(parse(b"+OK\n", 0).is_err());
        let deep = b"*1\r\n".repeat(100);
        assert!(parse(&deep, 0).is_err());
        // A bulk whose payload is not followed by CRLF.
        assert!(parse(b"$2\r\nabcd\r\n", 0).is_err());
    }
}
