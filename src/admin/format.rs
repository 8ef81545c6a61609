//! The export file format, version 1 (`docs/EXPORT-FORMAT.md`): JSON Lines, a header line, one
//! line per key, an end line.
//!
//! ```text
//! {"format":"synap-export","version":1,"created_at_ms":1718000000000,"source":"127.0.0.1:6379","keys_estimate":3}
//! {"key":"user:1","type":"string","expire_at_ms":null,"value":"alice"}
//! {"key":{"base64":"AP8="},"type":"hash","expire_at_ms":1718000360000,"value":[["f","v"]]}
//! {"end":true,"keys":2}
//! ```
//!
//! Every byte string (key, value, field, member) is a JSON string when it is valid UTF-8 with no
//! control characters other than tab, CR and LF ([`as_text`]), and `{"base64":"…"}` (standard
//! alphabet, padded) otherwise, so any byte string round-trips exactly.

use base64::Engine;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

/// The header's `format` value.
pub const FORMAT: &str = "synap-export";
/// The format version this code writes and reads.
pub const VERSION: u64 = 1;

/// The first line of a file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`]; a reader refuses versions it does not know.
    pub version: u64,
    /// When the export started (Unix ms, the exporting machine's clock).
    #[serde(default)]
    pub created_at_ms: Option<i64>,
    /// `host:port` exported from.
    #[serde(default)]
    pub source: Option<String>,
    /// DBSIZE when the export started (for progress; the key count is on the end line).
    #[serde(default)]
    pub keys_estimate: Option<u64>,
}

/// The value types the format carries (Redis `TYPE` names).
pub const TYPES: [&str; 5] = ["string", "hash", "list", "set", "zset"];

/// A byte string as JSON text, when it can be one without trouble: valid UTF-8 and no control
/// characters (C0, DEL, C1) other than tab, LF and CR. Anything else is written as base64.
pub fn as_text(b: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(b).ok()?;
    let clean = if s.is_ascii() {
        s.bytes()
            .all(|c| (c >= 0x20 && c != 0x7f) || c == b'\t' || c == b'\n' || c == b'\r')
    } else {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
    };
    clean.then_some(s)
}

/// Writes one byte string field: a JSON string or `{"base64":"…"}`.
pub fn write_bytes<W: Write>(w: &mut W, b: &[u8]) -> io::Result<()> {
    match as_text(b) {
        Some(s) => serde_json::to_writer(&mut *w, s).map_err(io::Error::from),
        None => {
            w.write_all(b"{\"base64\":\"")?;
            {
                let mut enc = base64::write::EncoderWriter::new(
                    &mut *w,
                    &base64::engine::general_purpose::STANDARD,
                );
                enc.write_all(b)?;
                enc.finish()?;
            }
            w.write_all(b"\"}")
        }
    }
}

/// Writes a key line up to and including `"value":` (the caller writes the value, then
/// [`end_record`]).
pub fn start_record<W: Write>(
    w: &mut W,
    key: &[u8],
    kind: &str,
    expire_at_ms: Option<i64>,
) -> io::Result<()> {
    w.write_all(b"{\"key\":")?;
    write_bytes(w, key)?;
    w.write_all(b",\"type\":\"")?;
    w.write_all(kind.as_bytes())?;
    w.write_all(b"\",\"expire_at_ms\":")?;
    match expire_at_ms {
        Some(t) => w.write_all(itoa::Buffer::new().format(t).as_bytes())?,
        None => w.write_all(b"null")?,
    }
    w.write_all(b",\"value\":")
}

/// Closes a key line.
pub fn end_record<W: Write>(w: &mut W) -> io::Result<()> {
    w.write_all(b"}\n")
}

/// Writes the header line.
pub fn write_header<W: Write>(w: &mut W, h: &Header) -> io::Result<()> {
    serde_json::to_writer(&mut *w, h).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

/// Writes the end line: it marks the file complete and says how many key lines it has.
pub fn write_end<W: Write>(w: &mut W, keys: u64) -> io::Result<()> {
    writeln!(w, "{{\"end\":true,\"keys\":{keys}}}")
}

/// A byte string read from a line: borrowed from it when the JSON string had no escapes.
pub type Bytes<'a> = Cow<'a, [u8]>;

/// One key read back from a line (borrowing from it where it can, so a large key costs little
/// more than its line).
#[derive(Debug, PartialEq)]
pub struct Record<'a> {
    /// The key.
    pub key: Bytes<'a>,
    /// Absolute expiry in Unix ms, or none.
    pub expire_at_ms: Option<i64>,
    /// The value.
    pub value: Data<'a>,
}

/// A key's value.
#[derive(Debug, PartialEq)]
pub enum Data<'a> {
    /// A string.
    String(Bytes<'a>),
    /// Field-value pairs.
    Hash(Vec<(Bytes<'a>, Bytes<'a>)>),
    /// Elements, head first.
    List(Vec<Bytes<'a>>),
    /// Members.
    Set(Vec<Bytes<'a>>),
    /// Member-score pairs; scores are the server's own text (`1.5`, `inf`, `-inf`).
    Zset(Vec<(Bytes<'a>, Cow<'a, str>)>),
}

impl Data<'_> {
    /// Number of elements (1 for a string).
    pub fn len(&self) -> usize {
        match self {
            Data::String(_) => 1,
            Data::Hash(v) => v.len(),
            Data::List(v) | Data::Set(v) => v.len(),
            Data::Zset(v) => v.len(),
        }
    }

    /// Whether an aggregate has no elements (which Redis does not allow).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Redis type name.
    pub fn kind(&self) -> &'static str {
        match self {
            Data::String(_) => "string",
            Data::Hash(_) => "hash",
            Data::List(_) => "list",
            Data::Set(_) => "set",
            Data::Zset(_) => "zset",
        }
    }
}

/// A line after the header.
#[derive(Debug, PartialEq)]
pub enum Entry<'a> {
    /// A key line.
    Key(Record<'a>),
    /// The end line, with the number of key lines it announces.
    End(u64),
}

/// Parses the header line.
pub fn parse_header(line: &[u8]) -> Result<Header, String> {
    let h: Header = serde_json::from_slice(trim_eol(line))
        .map_err(|e| format!("not a {FORMAT} header ({})", json_err(&e, 0)))?;
    if h.format != FORMAT {
        return Err(format!(
            "not a {FORMAT} header (format is \"{}\")",
            h.format
        ));
    }
    if h.version != VERSION {
        return Err(format!(
            "format version {} is not supported (this synap-admin reads version {VERSION})",
            h.version
        ));
    }
    Ok(h)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    key: Option<Field<'a>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    expire_at_ms: Option<i64>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    end: Option<bool>,
    keys: Option<u64>,
}

/// Parses a line after the header. Errors name the column where it makes sense.
pub fn parse_line(line: &[u8]) -> Result<Entry<'_>, String> {
    let text = std::str::from_utf8(trim_eol(line))
        .map_err(|e| format!("not UTF-8 (byte {})", e.valid_up_to() + 1))?;
    let l: Line<'_> = serde_json::from_str(text).map_err(|e| json_err(&e, 0))?;
    if let Some(end) = l.end {
        if !end || l.key.is_some() || l.kind.is_some() || l.value.is_some() {
            return Err("an end line is {\"end\":true,\"keys\":N} and nothing else".into());
        }
        return l
            .keys
            .map(Entry::End)
            .ok_or_else(|| "the end line has no \"keys\" count".into());
    }
    if l.keys.is_some() {
        return Err("\"keys\" belongs on the end line only".into());
    }
    let key = l.key.ok_or("missing \"key\"")?.0;
    let kind = l.kind.ok_or("missing \"type\"")?;
    let raw = l.value.ok_or("missing \"value\"")?;
    // Column of the value inside the line, for errors inside it.
    let base = raw.get().as_ptr() as usize - text.as_ptr() as usize;
    let err = |e: serde_json::Error| json_err(&e, base);
    let value = match kind.as_str() {
        "string" => Data::String(serde_json::from_str::<Field<'_>>(raw.get()).map_err(err)?.0),
        "hash" => Data::Hash(
            serde_json::from_str::<Vec<(Field<'_>, Field<'_>)>>(raw.get())
                .map_err(err)?
                .into_iter()
                .map(|(f, v)| (f.0, v.0))
                .collect(),
        ),
        "list" | "set" => {
            let items: Vec<Bytes<'_>> = serde_json::from_str::<Vec<Field<'_>>>(raw.get())
                .map_err(err)?
                .into_iter()
                .map(|b| b.0)
                .collect();
            if kind == "list" {
                Data::List(items)
            } else {
                Data::Set(items)
            }
        }
        "zset" => Data::Zset(
            serde_json::from_str::<Vec<(Field<'_>, Score<'_>)>>(raw.get())
                .map_err(err)?
                .into_iter()
                .map(|(m, s)| (m.0, s.0))
                .collect(),
        ),
        other => {
            return Err(format!(
                "unknown type \"{other}\" (expected one of {})",
                TYPES.join(", ")
            ))
        }
    };
    if value.is_empty() {
        return Err(format!(
            "empty {kind} (a {kind} key has at least one element)"
        ));
    }
    Ok(Entry::Key(Record {
        key,
        expire_at_ms: l.expire_at_ms,
        value,
    }))
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A serde_json error as `column C: message`, the column counted from the start of the line
/// (`base` is where the parsed text starts in it).
fn json_err(e: &serde_json::Error, base: usize) -> String {
    let s = e.to_string();
    if e.line() == 0 {
        return s;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = s.strip_suffix(&suffix).unwrap_or(&s);
    format!("column {}: {msg}", base + e.column())
}

/// A byte string field: a JSON string, or `{"base64":"…"}`.
struct Field<'a>(Bytes<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field<'a>, D::Error> {
        d.deserialize_any(FieldVisitor(std::marker::PhantomData))
    }
}

struct FieldVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldVisitor<'a> {
    type Value = Field<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or {\"base64\":\"…\"}")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<'a>, E> {
        Ok(Field(Cow::Borrowed(v.as_bytes())))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<'a>, E> {
        Ok(Field(Cow::Owned(v.as_bytes().to_vec())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Field<'a>, E> {
        Ok(Field(Cow::Owned(v.into_bytes())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<'a>, A::Error> {
        let Some(name) = map.next_key::<Cow<'_, str>>()? else {
            return Err(de::Error::custom("expected {\"base64\":\"…\"}, got {}"));
        };
        if name != "base64" {
            return Err(de::Error::custom(format!(
                "unknown encoding \"{name}\" (expected \"base64\")"
            )));
        }
        let b64: Cow<'_, str> = map.next_value()?;
        if map.next_key::<Cow<'_, str>>()?.is_some() {
            return Err(de::Error::custom(
                "{\"base64\":\"…\"} has exactly one member",
            ));
        }
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map(|b| Field(Cow::Owned(b)))
            .map_err(|e| de::Error::custom(format!("bad base64: {e}")))
    }
}

/// A sorted-set score: the server's text (`"1.5"`, `"inf"`, `"-inf"`), or a JSON number.
struct Score<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Score<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Score<'a>, D::Error> {
        d.deserialize_any(ScoreVisitor(std::marker::PhantomData))
    }
}

struct ScoreVisitor<'a>(std::marker::PhantomData<&'a ()>);

fn score<'a, E: de::Error>(v: Cow<'a, str>) -> Result<Score<'a>, E> {
    match v.parse::<f64>() {
        Ok(x) if !x.is_nan() => Ok(Score(v)),
        _ => Err(E::custom(format!("score \"{v}\" is not a valid float"))),
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ScoreVisitor<'a> {
    type Value = Score<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a score (a string such as \"1.5\", \"inf\" or \"-inf\", or a number)")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Score<'a>, E> {
        score(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Score<'a>, E> {
        score(Cow::Owned(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Score<'a>, E> {
        Ok(Score(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Score<'a>, E> {
        Ok(Score(Cow::Owned(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Score<'a>, E> {
        Ok(Score(Cow::Owned(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_for(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut w = Vec::new();
        start_record(&mut w, key, "string", Some(5)).unwrap();
        write_bytes(&mut w, value).unwrap();
        end_record(&mut w).unwrap();
        w
    }

    #[test]
    fn every_byte_string_round_trips() {
        let all: Vec<u8> = (0..=255u8).collect();
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            b"plain".to_vec(),
            "h\u{e9}llo \u{1F600}\t\n\r\"\\".as_bytes().to_vec(),
            all,
            vec![0xff, 0xfe],
            vec![0],
            b"esc\x1b[31m".to_vec(),
            "c1 \u{9b}".as_bytes().to_vec(),
            vec![0xed, 0xa0, 0x80], // a UTF-8-encoded surrogate: not valid UTF-8
        ];
        for c in &cases {
            let line = line_for(c, c);
            assert!(line.ends_with(b"\n") && !line[..line.len() - 1].contains(&b'\n'));
            let Entry::Key(r) = parse_line(&line).unwrap() else {
                panic!("not a key line")
            };
            assert_eq!(&*r.key, c.as_slice());
            assert_eq!(r.value, Data::String(Cow::Borrowed(c.as_slice())));
            assert_eq!(r.expire_at_ms, Some(5));
        }
        assert!(as_text(b"a\x00").is_none() && as_text(b"a\x7f").is_none());
        assert!(as_text("\u{9b}".as_bytes()).is_none());
        assert_eq!(as_text(b"tab\there"), Some("tab\there"));
    }

    #[test]
    fn lines_parse_and_errors_name_columns() {
        let ok = br#"{"key":"z","type":"zset","expire_at_ms":null,"value":[["a","1.5"],["b","-inf"],["c",2]]}"#;
        assert_eq!(
            parse_line(ok).unwrap(),
            Entry::Key(Record {
                key: Cow::Borrowed(b"z"),
                expire_at_ms: None,
                value: Data::Zset(vec![
                    (Cow::Borrowed(b"a"), "1.5".into()),
                    (Cow::Borrowed(b"b"), "-inf".into()),
                    (Cow::Borrowed(b"c"), "2".into())
                ]),
            })
        );
        assert_eq!(
            parse_line(b"{\"end\":true,\"keys\":7}\r\n").unwrap(),
            Entry::End(7)
        );
        let e = parse_line(br#"{"key":"h","type":"hash","value":[["f"]]}"#).unwrap_err();
        assert!(e.starts_with("column 39:"), "{e}");
        for b64 in ["AP9=", "AP8", "AP8==", " AP8="] {
            let l = format!(r#"{{"key":{{"base64":"{b64}"}},"type":"string","value":""}}"#);
            assert!(
                parse_line(l.as_bytes()).unwrap_err().contains("bad base64"),
                "{b64}"
            );
        }
        let l = br#"{"key":{"base64":"AP8="},"type":"string","value":"\u0000\u00ff"}"#;
        let Ok(Entry::Key(r)) = parse_line(l) else {
            panic!("escapes are accepted")
        };
        assert_eq!(
            (&*r.key, r.value),
            (
                &[0u8, 0xff][..],
                Data::String(Cow::Owned("\0\u{ff}".as_bytes().to_vec()))
            )
        );
        let e = parse_line(br#"{"key":"s","type":"set","value":[{"base64":"!!"}]}"#).unwrap_err();
        assert!(e.contains("bad base64"), "{e}");
        for (bad, want) in [
            (&br#"{"key":"s","type":"set","value":[]}"#[..], "empty set"),
            (br#"{"key":"s","type":"stream","value":[]}"#, "unknown type"),
            (br#"{"key":"s","type":"string"}"#, "missing \"value\""),
            (
                br#"{"key":"s","type":"string","value":"v","ttl":3}"#,
                "unknown field",
            ),
            (
                br#"{"key":"z","type":"zset","value":[["m","nan"]]}"#,
                "not a valid float",
            ),
            (
                br#"{"key":"z","type":"zset","value":[["m","1x"]]}"#,
                "not a valid float",
            ),
            (
                br#"{"key":{"hex":"00"},"type":"string","value":"v"}"#,
                "unknown encoding",
            ),
            (br#"{"key":"k","type":"string","value":"v""#, "EOF"),
            (br#"{"end":true}"#, "no \"keys\""),
            (b"\xff", "not UTF-8"),
        ] {
            let e = parse_line(bad).unwrap_err();
            assert!(e.contains(want), "{e} should say {want}");
        }
    }

    #[test]
    fn header_checks_format_and_version() {
        let mut w = Vec::new();
        write_header(
            &mut w,
            &Header {
                format: FORMAT.into(),
                version: VERSION,
                created_at_ms: Some(1),
                source: None,
                keys_estimate: None,
            },
        )
        .unwrap();
        assert!(parse_header(&w).is_ok());
        assert!(parse_header(br#"{"format":"synap-export","version":2}"#)
            .unwrap_err()
            .contains("version 2 is not supported"));
        assert!(parse_header(br#"{"key":"a"}"#)
            .unwrap_err()
            .contains("header"));
    }
}
