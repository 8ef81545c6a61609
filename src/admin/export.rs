//! `synap-admin export`: walk the keyspace with SCAN and stream every key to a file in the
//! export format ([`super::format`], `docs/EXPORT-FORMAT.md`).
//!
//! Per SCAN page (up to [`WINDOW`] keys) two pipelines run: `TYPE` + `PEXPIRETIME` (or `PTTL`
//! on servers before Redis 7) for every key, then one read per key (`GET`, `HSCAN … 0`,
//! `SSCAN … 0`, `LRANGE 0 W-1`, `ZRANGE 0 W-1 WITHSCORES`). Replies are read and written one at
//! a time. An aggregate that does not fit in its first window is read again afterwards, window
//! by window, and streamed into its line, so no reply is ever larger than one window.
//!
//! The export is not a point-in-time snapshot (no server supports one over SCAN): a key written
//! during the export may or may not be in it, a key deleted or retyped between its TYPE and its
//! read is skipped and counted, and SCAN may return a key twice (import handles duplicates).

use super::client::{encode, text, Client};
use super::format::{self, Header};
use super::{unix_ms, Connect, Progress};
use crate::protocol::read::Value;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// Keys per SCAN page and elements per aggregate read.
pub const WINDOW: usize = 1000;

/// `synap-admin export` options.
#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// File to write, `-` for standard output. A file is written as FILE.partial and renamed
    /// to FILE once complete.
    #[arg(long, short)]
    pub output: String,
    /// Export only keys matching this glob pattern (SCAN MATCH).
    #[arg(long = "match", value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Skip keys of types the format does not carry (streams, module types) instead of
    /// failing.
    #[arg(long)]
    pub skip_unsupported: bool,
}

/// What an export did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Key lines written, by type (string, hash, list, set, zset).
    pub by_type: [u64; 5],
    /// Keys SCAN returned that were gone or retyped before they could be read.
    pub vanished: u64,
    /// Keys of unsupported types skipped (`--skip-unsupported`).
    pub unsupported: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Seconds taken.
    pub secs: f64,
}

impl Summary {
    /// Key lines written.
    pub fn keys(&self) -> u64 {
        self.by_type.iter().sum()
    }
}

/// Runs `export` and prints its summary; the exit code says whether it succeeded.
pub fn main(conn: &Connect, args: &ExportArgs) -> std::process::ExitCode {
    super::exit_code(run(conn, args).map(|s| {
        let t = &s.by_type;
        let mut line = format!(
            "export: {} keys (string {}, hash {}, list {}, set {}, zset {}) to {}, {:.1} MB in {:.1} s ({:.0} keys/s)",
            s.keys(),
            t[0],
            t[1],
            t[2],
            t[3],
            t[4],
            if args.output == "-" {
                "standard output"
            } else {
                &args.output
            },
            s.bytes as f64 / 1e6,
            s.secs,
            s.keys() as f64 / s.secs.max(1e-6)
        );
        if s.vanished > 0 {
            line.push_str(&format!(
                "; {} deleted or retyped during the export",
                s.vanished
            ));
        }
        if s.unsupported > 0 {
            line.push_str(&format!("; {} of unsupported types skipped", s.unsupported));
        }
        eprintln!("{line}");
    }))
}

/// Exports every key (or those matching `--match`) to `args.output`.
pub fn run(conn: &Connect, args: &ExportArgs) -> Result<Summary, String> {
    let mut c = Client::connect(conn)?;
    let total = match c.call(&[b"DBSIZE"])? {
        Value::Int(n) => Some(n.max(0) as u64),
        Value::Error(e) => return Err(format!("{}: DBSIZE: {e}", c.addr())),
        _ => None,
    };
    let clock = Clock::probe(&mut c)?;
    let out = Output::create(&args.output)?;
    let header = Header {
        format: format::FORMAT.into(),
        version: format::VERSION,
        created_at_ms: Some(unix_ms()),
        source: Some(c.addr().to_string()),
        keys_estimate: total,
    };
    let mut ex = Exporter {
        c,
        w: BufWriter::with_capacity(
            1 << 20,
            Counting {
                inner: out.writer()?,
                n: 0,
            },
        ),
        clock,
        skip_unsupported: args.skip_unsupported,
        s: Summary::default(),
    };
    let result = ex.export_all(&header, args.pattern.as_deref(), total);
    let flushed = result.and_then(|()| ex.w.flush().map_err(|e| out.io_err(e)));
    let bytes = ex.w.get_ref().n;
    drop(ex.w);
    match flushed.and_then(|()| out.finish()) {
        Ok(()) => {
            ex.s.bytes = bytes;
            Ok(ex.s)
        }
        Err(e) => {
            out.abandon();
            Err(format!(
                "{e}; export abandoned after {} keys, {} not written",
                ex.s.keys(),
                args.output
            ))
        }
    }
}

/// Kinds of keys, by the format's type names.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    String,
    Hash,
    List,
    Set,
    Zset,
}

impl Kind {
    fn parse(name: &[u8]) -> Option<Kind> {
        Some(match name {
            b"string" => Kind::String,
            b"hash" => Kind::Hash,
            b"list" => Kind::List,
            b"set" => Kind::Set,
            b"zset" => Kind::Zset,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        format::TYPES[self.index()]
    }
}

/// How expiry times are read: `PEXPIRETIME` (absolute, the server's clock; Redis 7+) or
/// `PTTL` added to the server's clock estimated from `TIME` at the start.
enum Clock {
    ExpireTime,
    Ttl { offset_ms: i64 },
}

impl Clock {
    fn probe(c: &mut Client) -> Result<Clock, String> {
        match c.call(&[b"PEXPIRETIME", b"synap-admin:probe"])? {
            Value::Int(_) => Ok(Clock::ExpireTime),
            _ => {
                let before = unix_ms();
                let server = match c.call(&[b"TIME"])? {
                    Value::Array(a) if a.len() == 2 => {
                        let num = |v: &Value| {
                            text(v)
                                .and_then(|t| std::str::from_utf8(t).ok())
                                .and_then(|t| t.parse::<i64>().ok())
                        };
                        match (num(&a[0]), num(&a[1])) {
                            (Some(s), Some(us)) => s * 1000 + us / 1000,
                            _ => return Err(format!("{}: bad TIME reply", c.addr())),
                        }
                    }
                    other => return Err(format!("{}: TIME: {other:?}", c.addr())),
                };
                let local = (before + unix_ms()) / 2;
                Ok(Clock::Ttl {
                    offset_ms: server - local,
                })
            }
        }
    }

    fn command(&self) -> &'static [u8] {
        match self {
            Clock::ExpireTime => b"PEXPIRETIME",
            Clock::Ttl { .. } => b"PTTL",
        }
    }

    /// The absolute expiry from the reply: `Ok(None)` no expiry, `Err(())` the key is gone.
    fn expiry(&self, v: &Value) -> Result<Option<i64>, ()> {
        match (self, v) {
            (_, Value::Int(-1)) => Ok(None),
            (Clock::ExpireTime, Value::Int(t)) if *t >= 0 => Ok(Some(*t)),
            (Clock::Ttl { offset_ms }, Value::Int(t)) if *t >= 0 => {
                Ok(Some(unix_ms() + offset_ms + t))
            }
            _ => Err(()),
        }
    }
}

/// A key whose first window was not all of it: streamed after its page.
struct Deferred {
    key: Vec<u8>,
    kind: Kind,
    expire: Option<i64>,
}

struct Exporter<W: Write> {
    c: Client,
    w: BufWriter<Counting<W>>,
    clock: Clock,
    skip_unsupported: bool,
    s: Summary,
}

impl<W: Write> Exporter<W> {
    fn export_all(
        &mut self,
        header: &Header,
        pattern: Option<&str>,
        total: Option<u64>,
    ) -> Result<(), String> {
        let mut progress = Progress::new("export");
        format::write_header(&mut self.w, header).map_err(io_err)?;
        let mut cursor = b"0".to_vec();
        let mut done = 0u64;
        let count = WINDOW.to_string();
        loop {
            let mut args: Vec<&[u8]> = vec![b"SCAN", &cursor];
            if let Some(p) = pattern {
                args.extend_from_slice(&[b"MATCH", p.as_bytes()]);
            }
            args.extend_from_slice(&[b"COUNT", count.as_bytes()]);
            let (next, keys) = match self.c.call(&args)? {
                Value::Array(mut a) if a.len() == 2 => match (a.pop(), a.pop()) {
                    (Some(Value::Array(keys)), Some(Value::Bulk(next))) => (next, keys),
                    _ => return Err(format!("{}: bad SCAN reply", self.c.addr())),
                },
                Value::Error(e) => return Err(format!("{}: SCAN: {e}", self.c.addr())),
                _ => return Err(format!("{}: bad SCAN reply", self.c.addr())),
            };
            let keys: Vec<Vec<u8>> = keys
                .into_iter()
                .filter_map(|k| match k {
                    Value::Bulk(b) => Some(b),
                    _ => None,
                })
                .collect();
            self.page(&keys)?;
            done += keys.len() as u64;
            progress.tick(done, total, None);
            if next == b"0" {
                break;
            }
            cursor = next;
        }
        format::write_end(&mut self.w, self.s.keys()).map_err(io_err)?;
        progress.clear();
        self.s.secs = progress.elapsed().as_secs_f64();
        Ok(())
    }

    /// Exports one SCAN page of keys.
    fn page(&mut self, keys: &[Vec<u8>]) -> Result<(), String> {
        if keys.is_empty() {
            return Ok(());
        }
        // 1. Type and expiry of every key.
        let mut req = Vec::with_capacity(keys.len() * 64);
        for k in keys {
            encode(&mut req, &[b"TYPE", k]);
            encode(&mut req, &[self.clock.command(), k]);
        }
        let mut types: Vec<Option<Vec<u8>>> = Vec::with_capacity(keys.len());
        let mut expiry: Vec<Result<Option<i64>, ()>> = Vec::with_capacity(keys.len());
        let mut failure = None;
        let clock = &self.clock;
        self.c.pipeline(&req, keys.len() * 2, |i, v| {
            if let Value::Error(e) = &v {
                failure.get_or_insert_with(|| e.clone());
            }
            if i % 2 == 0 {
                types.push(text(&v).map(|t| t.to_vec()));
            } else {
                expiry.push(clock.expiry(&v));
            }
        })?;
        if let Some(e) = failure {
            return Err(format!(
                "{}: TYPE/{}: {e}",
                self.c.addr(),
                name(clock.command())
            ));
        }
        // 2. One read per key; small values complete, large aggregates deferred.
        req.clear();
        let window_end = (WINDOW - 1).to_string();
        let mut sent: Vec<(usize, Kind)> = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let (Some(t), Ok(_)) = (&types[i], expiry[i]) else {
                self.s.vanished += 1;
                continue;
            };
            if t == b"none" {
                self.s.vanished += 1;
                continue;
            }
            let Some(kind) = Kind::parse(t) else {
                if self.skip_unsupported {
                    self.s.unsupported += 1;
                    continue;
                }
                return Err(format!(
                    "key {}: type {} is not supported by the export format (use --skip-unsupported to skip such keys)",
                    show(k),
                    String::from_utf8_lossy(t)
                ));
            };
            first_read(&mut req, kind, k, &window_end);
            sent.push((i, kind));
        }
        let mut deferred = Vec::new();
        let mut failure: Option<String> = None;
        let Exporter { c, w, s, .. } = self;
        c.pipeline(&req, sent.len(), |j, v| {
            if failure.is_some() {
                return;
            }
            let (i, kind) = sent[j];
            let key = &keys[i];
            let expire = expiry[i].ok().flatten();
            match write_first(w, key, kind, expire, v) {
                Ok(First::Written) => s.by_type[kind.index()] += 1,
                Ok(First::Gone) => s.vanished += 1,
                Ok(First::More) => deferred.push(Deferred {
                    key: key.clone(),
                    kind,
                    expire,
                }),
                Err(e) => failure = Some(e),
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        // 3. Large aggregates, window by window.
        for d in deferred {
            self.stream(&d)?;
        }
        Ok(())
    }

    /// Streams one large aggregate into its line, one window per request.
    fn stream(&mut self, d: &Deferred) -> Result<(), String> {
        let mut started = false;
        let mut pos: Vec<u8> = b"0".to_vec(); // SCAN cursor, or list/zset start index
        let mut index = 0usize;
        loop {
            let mut args: Vec<Vec<u8>> = Vec::new();
            let (cmd, paged): (&[u8], bool) = match d.kind {
                Kind::Hash => (b"HSCAN", true),
                Kind::Set => (b"SSCAN", true),
                Kind::List => (b"LRANGE", false),
                Kind::Zset => (b"ZRANGE", false),
                Kind::String => unreachable!("strings are read whole"),
            };
            args.push(cmd.to_vec());
            args.push(d.key.clone());
            if paged {
                args.extend([pos.clone(), b"COUNT".to_vec(), WINDOW.to_string().into()]);
            } else {
                args.push(index.to_string().into());
                args.push((index + WINDOW - 1).to_string().into());
                if d.kind == Kind::Zset {
                    args.push(b"WITHSCORES".to_vec());
                }
            }
            let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            let reply = self.c.call(&argv)?;
            let (next, items) = match (paged, reply) {
                (_, Value::Error(e)) if e.starts_with("WRONGTYPE") => break,
                (_, Value::Error(e)) => {
                    return Err(format!("key {}: {}: {e}", show(&d.key), name(cmd)))
                }
                (true, Value::Array(mut a)) if a.len() == 2 => match (a.pop(), a.pop()) {
                    (Some(Value::Array(items)), Some(Value::Bulk(next))) => {
                        (Some(next).filter(|n| n != b"0"), items)
                    }
                    _ => return Err(bad_reply(&d.key, cmd)),
                },
                (false, Value::Array(items)) => {
                    let per = if d.kind == Kind::Zset { 2 } else { 1 };
                    index += items.len() / per;
                    let more = items.len() == WINDOW * per;
                    (more.then(Vec::new), items)
                }
                _ => return Err(bad_reply(&d.key, cmd)),
            };
            if !items.is_empty() {
                if !started {
                    format::start_record(&mut self.w, &d.key, d.kind.name(), d.expire)
                        .map_err(io_err)?;
                    self.w.write_all(b"[").map_err(io_err)?;
                }
                write_items(&mut self.w, d.kind, &items, started)?;
                started = true;
            }
            match next {
                Some(n) => pos = n,
                None => break,
            }
        }
        if started {
            self.w.write_all(b"]").map_err(io_err)?;
            format::end_record(&mut self.w).map_err(io_err)?;
            self.s.by_type[d.kind.index()] += 1;
        } else {
            self.s.vanished += 1;
        }
        Ok(())
    }
}

/// Appends the first read of a key of `kind`.
fn first_read(req: &mut Vec<u8>, kind: Kind, key: &[u8], window_end: &str) {
    let count = WINDOW.to_string();
    match kind {
        Kind::String => encode(req, &[b"GET", key]),
        Kind::Hash => encode(req, &[b"HSCAN", key, b"0", b"COUNT", count.as_bytes()]),
        Kind::Set => encode(req, &[b"SSCAN", key, b"0", b"COUNT", count.as_bytes()]),
        Kind::List => encode(req, &[b"LRANGE", key, b"0", window_end.as_bytes()]),
        Kind::Zset => encode(
            req,
            &[b"ZRANGE", key, b"0", window_end.as_bytes(), b"WITHSCORES"],
        ),
    }
}

enum First {
    Written,
    Gone,
    More,
}

/// Writes a key from its first read if that read is all of it.
fn write_first<W: Write>(
    w: &mut W,
    key: &[u8],
    kind: Kind,
    expire: Option<i64>,
    v: Value,
) -> Result<First, String> {
    let items = match (kind, v) {
        (_, Value::Error(e)) if e.starts_with("WRONGTYPE") => return Ok(First::Gone),
        (_, Value::Error(e)) => return Err(format!("key {}: {e}", show(key))),
        (_, Value::Null) => return Ok(First::Gone),
        (Kind::String, Value::Bulk(b)) => {
            format::start_record(w, key, "string", expire).map_err(io_err)?;
            format::write_bytes(w, &b).map_err(io_err)?;
            format::end_record(w).map_err(io_err)?;
            return Ok(First::Written);
        }
        (Kind::Hash | Kind::Set, Value::Array(mut a)) if a.len() == 2 => match (a.pop(), a.pop()) {
            (Some(Value::Array(items)), Some(Value::Bulk(cursor))) => {
                if cursor != b"0" {
                    return Ok(First::More);
                }
                items
            }
            _ => return Err(bad_reply(key, b"SCAN")),
        },
        (Kind::List, Value::Array(items)) => {
            if items.len() == WINDOW {
                return Ok(First::More);
            }
            items
        }
        (Kind::Zset, Value::Array(items)) => {
            if items.len() == 2 * WINDOW {
                return Ok(First::More);
            }
            items
        }
        _ => return Err(bad_reply(key, kind.name().as_bytes())),
    };
    if items.is_empty() {
        return Ok(First::Gone);
    }
    format::start_record(w, key, kind.name(), expire).map_err(io_err)?;
    w.write_all(b"[").map_err(io_err)?;
    write_items(w, kind, &items, false)?;
    w.write_all(b"]").map_err(io_err)?;
    format::end_record(w).map_err(io_err)?;
    Ok(First::Written)
}

/// Writes aggregate elements (pairs for hashes and sorted sets), a comma first if `more`.
fn write_items<W: Write>(w: &mut W, kind: Kind, items: &[Value], more: bool) -> Result<(), String> {
    let per = if matches!(kind, Kind::Hash | Kind::Zset) {
        2
    } else {
        1
    };
    if !items.len().is_multiple_of(per) {
        return Err(format!("odd {} reply", kind.name()));
    }
    let mut first = !more;
    for chunk in items.chunks(per) {
        if !first {
            w.write_all(b",").map_err(io_err)?;
        }
        first = false;
        fn bytes(v: &Value) -> Result<&[u8], String> {
            match v {
                Value::Bulk(b) => Ok(b),
                other => Err(format!("unexpected element {other:?} in a reply")),
            }
        }
        if per == 2 {
            w.write_all(b"[").map_err(io_err)?;
            format::write_bytes(w, bytes(&chunk[0])?).map_err(io_err)?;
            w.write_all(b",").map_err(io_err)?;
            format::write_bytes(w, bytes(&chunk[1])?).map_err(io_err)?;
            w.write_all(b"]").map_err(io_err)?;
        } else {
            format::write_bytes(w, bytes(&chunk[0])?).map_err(io_err)?;
        }
    }
    Ok(())
}

fn io_err(e: io::Error) -> String {
    format!("write: {e}")
}

fn bad_reply(key: &[u8], cmd: &[u8]) -> String {
    format!("key {}: unexpected {} reply", show(key), name(cmd))
}

fn name(cmd: &[u8]) -> String {
    String::from_utf8_lossy(cmd).into_owned()
}

/// A key for messages: printable ASCII as is, other bytes escaped, long keys cut.
pub fn show(key: &[u8]) -> String {
    let s = key.escape_ascii().to_string();
    if s.len() > 200 {
        format!("\"{}…\"", &s[..200]) // escape_ascii output is ASCII
    } else {
        format!("\"{s}\"")
    }
}

/// Counts bytes written.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The destination: standard output, or FILE written as FILE.partial and renamed when
/// complete (so FILE is never a half-written export).
struct Output {
    file: Option<(File, PathBuf, PathBuf)>,
}

impl Output {
    fn create(path: &str) -> Result<Output, String> {
        if path == "-" {
            return Ok(Output { file: None });
        }
        let final_path = PathBuf::from(path);
        let mut tmp = final_path.clone().into_os_string();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let f = File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        Ok(Output {
            file: Some((f, tmp, final_path)),
        })
    }

    fn writer(&self) -> Result<Box<dyn Write>, String> {
        match &self.file {
            None => Ok(Box::new(io::stdout())),
            Some((f, tmp, _)) => f
                .try_clone()
                .map(|f| Box::new(f) as Box<dyn Write>)
                .map_err(|e| format!("{}: {e}", tmp.display())),
        }
    }

    fn io_err(&self, e: io::Error) -> String {
        match &self.file {
            None => format!("standard output: {e}"),
            Some((_, tmp, _)) => format!("{}: {e}", tmp.display()),
        }
    }

    /// Syncs and renames the file into place.
    fn finish(&self) -> Result<(), String> {
        let Some((f, tmp, path)) = &self.file else {
            return Ok(());
        };
        f.sync_all().map_err(|e| self.io_err(e))?;
        std::fs::rename(tmp, path)
            .map_err(|e| format!("rename {} to {}: {e}", tmp.display(), path.display()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Removes the partial file after a failure.
    fn abandon(&self) {
        if let Some((_, tmp, _)) = &self.file {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
