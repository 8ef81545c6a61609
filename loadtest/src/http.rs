//! Reading Synap's HTTP responses: status and body, mapped onto the RESP reply kinds the
//! driver understands (200 GET → bulk value, 200 SET → simple, 404 → nil, other → an error
//! whose kind is the status code).

use crate::resp::{push_decimal, Reply};

/// Appends `POST /kv/set` with the JSON body `{"key":…,"value":…[,"ttl":N]}`.
/// `headers` are extra header lines (each ending in CRLF).
pub fn encode_set(out: &mut Vec<u8>, key: &[u8], value: &[u8], ttl: Option<u64>, headers: &[u8]) {
    let len = 2
        + json_len(b"key")
        + 1
        + json_len(key)
        + 1
        + json_len(b"value")
        + 1
        + json_len(value)
        + ttl.map_or(0, |t| 7 + t.to_string().len());
    out.extend_from_slice(b"POST /kv/set HTTP/1.1\r\nHost: synap\r\n");
    out.extend_from_slice(headers);
    out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
    push_decimal(out, len);
    out.extend_from_slice(b"\r\n\r\n{");
    let body_start = out.len() - 1;
    json_str(out, b"key");
    out.push(b':');
    json_str(out, key);
    out.push(b',');
    json_str(out, b"value");
    out.push(b':');
    json_str(out, value);
    if let Some(t) = ttl {
        out.extend_from_slice(b",\"ttl\":");
        push_decimal(out, t as usize);
    }
    out.push(b'}');
    debug_assert_eq!(out.len() - body_start, len);
}

/// Appends `GET /kv/get/{key}` (the key percent-encoded where needed), with extra `headers`.
pub fn encode_get(out: &mut Vec<u8>, key: &[u8], headers: &[u8]) {
    out.extend_from_slice(b"GET /kv/get/");
    for &b in key {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: synap\r\n");
    out.extend_from_slice(headers);
    out.extend_from_slice(b"\r\n");
}

/// Whether a byte must be escaped in a JSON string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Length of `s` as a JSON string literal (quotes included).
fn json_len(s: &[u8]) -> usize {
    2 + s
        .iter()
        .map(|&b| if needs_escape(b) { 6 } else { 1 })
        .sum::<usize>()
}

/// Appends `s` as a JSON string literal (control characters, `"` and `\` as `\u00XX`).
fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if needs_escape(b) {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out.push(b'"');
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Parses the response at `at`: None while incomplete.
pub fn parse(buf: &[u8], at: usize) -> Result<Option<(Reply, usize)>, String> {
    let Some(head_end) = find(buf, b"\r\n\r\n", at) else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[at..head_end])
        .map_err(|_| "non-UTF-8 response head".to_string())?;
    let status: u16 = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {:?}", head.lines().next()))?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or("response without Content-Length")?;
    let body = head_end + 4..head_end + 4 + len;
    if buf.len() < body.end {
        return Ok(None);
    }
    let reply = match status {
        200 => match find(buf, b"\"value\":\"", body.start).filter(|&p| p < body.end) {
            Some(p) => {
                let start = p + 9;
                let end = find(buf, b"\"", start)
                    .filter(|&e| e <= body.end)
                    .ok_or("unterminated value")?;
                Reply::Bulk(start..end)
            }
            None => Reply::Simple,
        },
        404 => Reply::Nil,
        // Error kinds are the first word of the error text: here the status code ("500").
        _ => Reply::Error(at + 9..at + 12),
    };
    Ok(Some((reply, body.end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n{\"key\":\"k\",\"value\":\"hello\"}HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
        let (a, n) = parse(r, 0).expect("ok").expect("complete");
        assert!(matches!(a, Reply::Bulk(ref x) if &r[x.clone()] == b"hello"));
        let (b, m) = parse(r, n).expect("ok").expect("complete");
        assert_eq!(b, Reply::Nil);
        assert_eq!(m, r.len());
        assert_eq!(parse(&r[..20], 0), Ok(None));
    }

    #[test]
    fn set_requests_carry_exact_json() {
        let mut out = Vec::new();
        encode_set(&mut out, b"k\"1", b"v\\x", Some(30), b"");
        let text = String::from_utf8(out).expect("utf8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head");
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["key"], "k\"1");
        assert_eq!(v["value"], "v\\x");
        assert_eq!(v["ttl"], 30);
        let mut g = Vec::new();
        encode_get(&mut g, b"a b:1", b"");
        assert!(g.starts_with(b"GET /kv/get/a%20b:1 HTTP/1.1\r\n"));
    }
}
