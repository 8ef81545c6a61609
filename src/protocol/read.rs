//! Walking encoded replies: find where one reply ends, and decode one into a [`Value`] tree.
//! Used to merge the replies of several shards and to render replies as JSON for HTTP.

/// A decoded reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+…`
    Simple(String),
    /// `-…`
    Error(String),
    /// `:…`
    Int(i64),
    /// `$…`
    Bulk(Vec<u8>),
    /// Null of any kind.
    Null,
    /// `*` / `~` / `>` elements.
    Array(Vec<Value>),
    /// `%` pairs.
    Map(Vec<(Value, Value)>),
    /// `,…`
    Double(f64),
    /// `#t` / `#f`
    Bool(bool),
}

fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rel = buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[at..at + rel], at + rel + 2))
}

fn num(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Decodes the reply starting at `at`; returns it and the offset just past it.
pub fn decode(buf: &[u8], at: usize) -> Option<(Value, usize)> {
    let kind = *buf.get(at)?;
    let (head, next) = line(buf, at + 1)?;
    match kind {
        b'+' => Some((
            Value::Simple(String::from_utf8_lossy(head).into_owned()),
            next,
        )),
        b'-' => Some((
            Value::Error(String::from_utf8_lossy(head).into_owned()),
            next,
        )),
        b':' => Some((Value::Int(num(head)?), next)),
        b'_' => Some((Value::Null, next)),
        b'#' => Some((Value::Bool(head == b"t"), next)),
        b',' => Some((
            Value::Double(std::str::from_utf8(head).ok()?.parse().ok()?),
            next,
        )),
        b'$' | b'=' => {
            let n = num(head)?;
            if n < 0 {
                return Some((Value::Null, next));
            }
            let end = next + n as usize;
            let body = buf.get(next..end)?;
            let body = if kind == b'=' && body.len() >= 4 {
                &body[4..]
            } else {
                body
            };
            Some((Value::Bulk(body.to_vec()), end + 2))
        }
        b'*' | b'~' | b'>' => {
            let n = num(head)?;
            if n < 0 {
                return Some((Value::Null, next));
            }
            let mut items = Vec::with_capacity(n.min(1024) as usize);
            let mut pos = next;
            for _ in 0..n {
                let (v, p) = decode(buf, pos)?;
                items.push(v);
                pos = p;
            }
            Some((Value::Array(items), pos))
        }
        b'%' => {
            let n = num(head)?;
            let mut items = Vec::with_capacity(n.clamp(0, 1024) as usize);
            let mut pos = next;
            for _ in 0..n {
                let (k, p) = decode(buf, pos)?;
                let (v, p) = decode(buf, p)?;
                items.push((k, v));
                pos = p;
            }
            Some((Value::Map(items), pos))
        }
        _ => None,
    }
}

/// The offset just past the reply starting at `at`.
pub fn skip(buf: &[u8], at: usize) -> Option<usize> {
    let kind = *buf.get(at)?;
    let (head, next) = line(buf, at + 1)?;
    match kind {
        b'$' | b'=' => {
            let n = num(head)?;
            if n < 0 {
                Some(next)
            } else {
                Some(next + n as usize + 2)
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = num(head)?;
            let n = if kind == b'%' { n * 2 } else { n };
            let mut pos = next;
            for _ in 0..n.max(0) {
                pos = skip(buf, pos)?;
            }
            Some(pos)
        }
        _ => Some(next),
    }
}

/// The elements of the array reply at `at`, as byte ranges of their encodings.
pub fn array_elements(buf: &[u8], at: usize) -> Option<Vec<std::ops::Range<usize>>> {
    let (head, mut pos) = line(buf, at + 1)?;
    let n = num(head)?.max(0);
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let end = skip(buf, pos)?;
        out.push(pos..end);
        pos = end;
    }
    Some(out)
}

/// The integer of an integer reply.
pub fn int_of(buf: &[u8]) -> Option<i64> {
    match decode(buf, 0)? {
        (Value::Int(i), _) => Some(i),
        _ => None,
    }
}
