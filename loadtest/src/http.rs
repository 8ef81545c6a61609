//! Reading Synap's HTTP responses: status and body, mapped onto the RESP reply kinds the
//! driver understands (200 GET → bulk value, 200 SET → simple, 404 → nil, other → error).

use crate::resp::Reply;

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
        _ => Reply::Error(body.clone()),
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
}
