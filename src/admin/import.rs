//! `synap-admin import`: read an export file ([`super::format`], `docs/EXPORT-FORMAT.md`) line by
//! line and write its keys to a server in pipelined batches.
//!
//! Each line is parsed and checked whole before anything of it is sent, so a malformed line is
//! never half-applied. Lines are encoded into a batch (up to [`BATCH_KEYS`] keys or
//! [`BATCH_BYTES`] bytes of commands); a full batch is sent as one pipeline and its replies
//! checked before the next line is read. On a malformed line the batch of lines before it is
//! still sent, then the import stops: everything before the bad line is imported, nothing from it
//! on.
//!
//! Existing keys are kept and counted as skipped unless `--replace` (like `RESTORE` without
//! `REPLACE`): strings use `SET … NX`, aggregates are checked with one pipelined `EXISTS` per
//! batch. With `--replace` a string is `SET` (which replaces a key of any type), an aggregate
//! is `UNLINK`ed first. Expiry is `PXAT` / `PEXPIREAT` at the file's absolute time; keys whose
//! time has passed (by the server's clock, from `TIME`) are skipped and counted.

use super::client::{bulk, encode, header, text, Client};
use super::format::{self, Data, Entry, Record};
use super::{unix_ms, Connect, Progress};
use crate::protocol::read::Value;
use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;

/// Keys per pipelined batch.
pub const BATCH_KEYS: usize = 1000;
/// Bytes of encoded commands after which a batch is sent.
pub const BATCH_BYTES: usize = 4 << 20;
/// Elements per HSET/RPUSH/SADD/ZADD command (fewer if they pass [`CHUNK_BYTES`]).
pub const CHUNK_ELEMENTS: usize = 1000;
/// Bytes of arguments after which an element command is cut.
pub const CHUNK_BYTES: usize = 1 << 20;

/// `synap-admin import` options.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// File to read, `-` for standard input.
    #[arg(long, short)]
    pub input: String,
    /// Overwrite keys that already exist. Without it they are kept and counted as skipped
    /// (like RESTORE without REPLACE).
    #[arg(long)]
    pub replace: bool,
    /// Read and check the whole file without connecting or writing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Keys written.
    pub written: u64,
    /// Keys skipped because they already existed (no `--replace`).
    pub existing: u64,
    /// Keys skipped because their expiry time had passed.
    pub expired: u64,
    /// Key lines read.
    pub keys: u64,
    /// Seconds taken.
    pub secs: f64,
}

impl Summary {
    /// `N keys written, M existing kept (…), E expired skipped`.
    pub fn counts(&self, replace: bool) -> String {
        let existing = if replace {
            " (replacing existing ones)".to_string()
        } else {
            format!(
                ", {} existing kept (--replace overwrites them)",
                self.existing
            )
        };
        format!(
            "{} keys written{existing}, {} expired skipped",
            self.written, self.expired
        )
    }
}

/// Runs `import` and prints its summary; the exit code says whether it succeeded.
pub fn main(conn: &Connect, args: &ImportArgs) -> std::process::ExitCode {
    super::exit_code(run(conn, args).map(|s| {
        if args.dry_run {
            eprintln!(
                "import --dry-run: {} is valid: {} keys ({} already expired); nothing written",
                args.input, s.keys, s.expired
            );
        } else {
            eprintln!(
                "import: {} from {} in {:.1} s ({:.0} keys/s)",
                s.counts(args.replace),
                args.input,
                s.secs,
                s.keys as f64 / s.secs.max(1e-6)
            );
        }
    }))
}

/// Imports `args.input`.
pub fn run(conn: &Connect, args: &ImportArgs) -> Result<Summary, String> {
    let name = if args.input == "-" {
        "<stdin>"
    } else {
        args.input.as_str()
    };
    let (input, size): (Box<dyn Read>, Option<u64>) = if args.input == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let f = std::fs::File::open(&args.input).map_err(|e| format!("cannot open {name}: {e}"))?;
        let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        (Box::new(f), size)
    };
    let mut r = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let read_err = |e: io::Error| format!("{name}: read: {e}");
    if r.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
        return Err(format!(
            "{name}: empty file (expected a {} header line)",
            format::FORMAT
        ));
    }
    format::parse_header(&line).map_err(|e| format!("{name}:1: {e}"))?;
    let mut sink = if args.dry_run {
        None
    } else {
        Some(Writer::connect(conn, args.replace)?)
    };
    let offset_ms = sink.as_ref().map_or(0, |w| w.offset_ms);
    let mut progress = Progress::new("import");
    let mut s = Summary::default();
    let mut line_no = 1u64;
    let mut read = line.len() as u64;
    let mut end: Option<u64> = None;
    let stop = |sink: Option<Writer>, s: Summary, msg: String| -> Result<Summary, String> {
        // Apply the complete lines before the bad one, then report.
        let before = match sink {
            Some(mut w) => match w.flush() {
                Ok(()) => format!(
                    "; the lines before it were imported ({} keys written, {} skipped), nothing from it on",
                    w.s.written,
                    w.s.existing + w.s.expired
                ),
                Err(e) => format!("; then sending the lines before it failed: {}", e.render(name)),
            },
            None => format!(" ({} keys before it are valid)", s.keys),
        };
        Err(format!("{msg}{before}"))
    };
    loop {
        line.clear();
        let n = match r.read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(e) => return stop(sink, s, read_err(e)),
        };
        if n == 0 {
            break;
        }
        line_no += 1;
        read += n as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if end.is_some() {
            return stop(
                sink,
                s,
                format!("{name}:{line_no}: data after the end line"),
            );
        }
        let rec = match format::parse_line(&line) {
            Ok(Entry::Key(rec)) => rec,
            Ok(Entry::End(keys)) => {
                end = Some(keys);
                continue;
            }
            Err(e) => return stop(sink, s, format!("{name}:{line_no}: {e}")),
        };
        s.keys += 1;
        match &mut sink {
            Some(w) => {
                if let Err(e) = w.add(line_no, rec, n > BATCH_BYTES) {
                    return Err(format!(
                        "{} (so far: {})",
                        e.render(name),
                        w.s.counts(args.replace)
                    ));
                }
            }
            None => {
                if rec.expire_at_ms.is_some_and(|t| t <= unix_ms() + offset_ms) {
                    s.expired += 1;
                }
            }
        }
        if line.capacity() > 2 * BATCH_BYTES {
            line = Vec::new(); // do not keep a huge line's buffer
        }
        if s.keys % 1024 == 0 {
            progress.tick(
                s.keys,
                None,
                size.map(|t| 100.0 * read as f64 / t.max(1) as f64),
            );
        }
    }
    if let Some(w) = &mut sink {
        w.flush()
            .map_err(|e| format!("{} (so far: {})", e.render(name), w.s.counts(args.replace)))?;
        s.written = w.s.written;
        s.existing = w.s.existing;
        s.expired = w.s.expired;
    }
    progress.clear();
    s.secs = progress.elapsed().as_secs_f64();
    match end {
        None => Err(format!(
            "{name}: ends at line {line_no} without the end line {{\"end\":true,…}}: a truncated export? The {} keys read {}",
            s.keys,
            if args.dry_run {
                "are valid".to_string()
            } else {
                format!("were imported: {}", s.counts(args.replace))
            }
        )),
        Some(k) if k != s.keys => Err(format!(
            "{name}: the end line announces {k} keys but the file has {} key lines",
            s.keys
        )),
        Some(_) => Ok(s),
    }
}

/// A failure while writing: the line it concerns, if any.
struct WriteError {
    line: Option<u64>,
    msg: String,
}

impl WriteError {
    fn render(&self, name: &str) -> String {
        match self.line {
            Some(l) => format!("{name}:{l}: {}", self.msg),
            None => format!("{name}: {}", self.msg),
        }
    }
}

impl From<String> for WriteError {
    fn from(msg: String) -> WriteError {
        WriteError { line: None, msg }
    }
}

/// One key's commands in the batch.
struct Pending {
    line: u64,
    range: Range<usize>,
    cmds: usize,
    /// `SET … NX`: a null reply means the key existed.
    nx: bool,
    /// An aggregate to write only if the key does not exist (no `--replace`).
    check: Option<Vec<u8>>,
    /// Whether these commands complete the key (a large key is sent in parts).
    last: bool,
}

/// Batches keys into pipelines.
struct Writer {
    c: Client,
    replace: bool,
    /// Server clock minus local clock.
    offset_ms: i64,
    req: Vec<u8>,
    batch: Vec<Pending>,
    s: Summary,
}

impl Writer {
    fn connect(conn: &Connect, replace: bool) -> Result<Writer, String> {
        let mut c = Client::connect(conn)?;
        let before = unix_ms();
        let server_ms = match c.call(&[b"TIME"])? {
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
            Value::Error(e) => return Err(format!("{}: TIME: {e}", c.addr())),
            other => return Err(format!("{}: TIME: unexpected reply {other:?}", c.addr())),
        };
        Ok(Writer {
            c,
            replace,
            offset_ms: server_ms - (before + unix_ms()) / 2,
            req: Vec::with_capacity(BATCH_BYTES + (64 << 10)),
            batch: Vec::with_capacity(BATCH_KEYS),
            s: Summary::default(),
        })
    }

    /// Adds one key to the batch, sending the batch when it is full. A key whose line is
    /// larger than a batch is sent on its own, in pipelines of about [`BATCH_BYTES`] (after it
    /// was parsed and checked whole).
    fn add(&mut self, line: u64, rec: Record<'_>, big: bool) -> Result<(), WriteError> {
        if rec
            .expire_at_ms
            .is_some_and(|t| t <= unix_ms() + self.offset_ms)
        {
            self.s.expired += 1;
            return Ok(());
        }
        let string = matches!(rec.value, Data::String(_));
        let nx = string && !self.replace;
        let check = (!self.replace && !string).then(|| rec.key.to_vec());
        let mut enc = Encoder::new(&rec, self.replace);
        if !big {
            let start = self.req.len();
            let mut cmds = 0;
            while enc.next(&mut self.req) {
                cmds += 1;
            }
            self.batch.push(Pending {
                line,
                range: start..self.req.len(),
                cmds,
                nx,
                check,
                last: true,
            });
            if self.batch.len() >= BATCH_KEYS || self.req.len() >= BATCH_BYTES {
                self.flush()?;
            }
            return Ok(());
        }
        self.flush()?;
        if let Some(key) = &check {
            match self.c.call(&[b"EXISTS", key])? {
                Value::Int(0) => {}
                Value::Int(_) => {
                    self.s.existing += 1;
                    return Ok(());
                }
                other => {
                    return Err(WriteError {
                        line: Some(line),
                        msg: format!("EXISTS: {other:?}"),
                    })
                }
            }
        }
        loop {
            let mut cmds = 0;
            while self.req.len() < BATCH_BYTES && enc.next(&mut self.req) {
                cmds += 1;
            }
            if cmds == 0 {
                return Ok(());
            }
            self.batch.push(Pending {
                line,
                range: 0..self.req.len(),
                cmds,
                nx,
                check: None,
                last: enc.done(),
            });
            self.flush()?;
        }
    }

    /// Sends the batch and checks every reply.
    fn flush(&mut self) -> Result<(), WriteError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let result = self.send(&batch);
        self.req.clear();
        self.batch = batch;
        self.batch.clear();
        result
    }

    fn send(&mut self, batch: &[Pending]) -> Result<(), WriteError> {
        let last_line = batch.last().map_or(0, |p| p.line);
        // 1. Which aggregates exist already (or come twice in this batch).
        let mut skip = vec![false; batch.len()];
        let checks: Vec<usize> = (0..batch.len())
            .filter(|&i| batch[i].check.is_some())
            .collect();
        if !checks.is_empty() {
            let mut req = Vec::new();
            let mut seen = HashSet::new();
            for &i in &checks {
                let key = batch[i].check.as_deref().unwrap_or_default();
                encode(&mut req, &[b"EXISTS", key]);
                if !seen.insert(key) {
                    skip[i] = true; // a duplicate: the first one creates the key
                }
            }
            let mut failure = None;
            self.c.pipeline(&req, checks.len(), |j, v| match v {
                Value::Int(0) => {}
                Value::Int(_) => skip[checks[j]] = true,
                other => {
                    failure.get_or_insert((batch[checks[j]].line, format!("EXISTS: {other:?}")));
                }
            })?;
            if let Some((line, msg)) = failure {
                return Err(WriteError {
                    line: Some(line),
                    msg,
                });
            }
        }
        // 2. The writes of every key not skipped, in file order.
        let order: Vec<usize> = (0..batch.len()).filter(|&i| !skip[i]).collect();
        self.s.existing += (batch.len() - order.len()) as u64;
        if order.is_empty() {
            return Ok(());
        }
        let joined;
        let req: &[u8] = if order.len() == batch.len() {
            &self.req
        } else {
            joined = order
                .iter()
                .flat_map(|&i| self.req[batch[i].range.clone()].iter().copied())
                .collect::<Vec<u8>>();
            &joined
        };
        let n: usize = order.iter().map(|&i| batch[i].cmds).sum();
        let (mut at, mut left, mut failed, mut existed) =
            (0usize, batch[order[0]].cmds, false, false);
        let mut failure: Option<(u64, String)> = None;
        let (mut written, mut existing) = (0u64, 0u64);
        self.c.pipeline(req, n, |_, v| {
            let p = &batch[order[at]];
            match v {
                Value::Error(e) => {
                    failed = true;
                    failure.get_or_insert((p.line, e));
                }
                Value::Null if p.nx => existed = true,
                _ => {}
            }
            left -= 1;
            if left == 0 {
                if existed {
                    existing += 1;
                } else if !failed && p.last {
                    written += 1;
                }
                (failed, existed) = (false, false);
                at += 1;
                left = order.get(at).map_or(0, |&i| batch[i].cmds);
            }
        })?;
        self.s.written += written;
        self.s.existing += existing;
        match failure {
            None => Ok(()),
            Some((line, e)) => Err(WriteError {
                line: Some(line),
                msg: format!(
                    "the server refused this key: {e}; the lines before it were imported, and keys after it up to line {last_line} (sent in the same batch) may have been"
                ),
            }),
        }
    }
}

/// Encodes the commands that create a record, one at a time: `SET` for a string (`NX` unless
/// replacing, `PXAT` for an expiry); for an aggregate `UNLINK` when replacing, then
/// HSET/RPUSH/SADD/ZADD in chunks, then `PEXPIREAT`.
struct Encoder<'r, 'a> {
    rec: &'r Record<'a>,
    replace: bool,
    at: Option<String>,
    step: Step,
}

#[derive(Clone, Copy, PartialEq)]
enum Step {
    Unlink,
    Elements(usize),
    Expire,
    Done,
}

impl<'r, 'a> Encoder<'r, 'a> {
    fn new(rec: &'r Record<'a>, replace: bool) -> Encoder<'r, 'a> {
        let aggregate = !matches!(rec.value, Data::String(_));
        Encoder {
            rec,
            replace,
            at: rec.expire_at_ms.map(|t| t.to_string()),
            step: if aggregate && replace {
                Step::Unlink
            } else {
                Step::Elements(0)
            },
        }
    }

    fn done(&self) -> bool {
        self.step == Step::Done
    }

    /// Appends the next command; false when there is none left.
    fn next(&mut self, out: &mut Vec<u8>) -> bool {
        let key: &[u8] = &self.rec.key;
        match self.step {
            Step::Done => false,
            Step::Unlink => {
                encode(out, &[b"UNLINK", key]);
                self.step = Step::Elements(0);
                true
            }
            Step::Expire => {
                if let Some(t) = &self.at {
                    encode(out, &[b"PEXPIREAT", key, t.as_bytes()]);
                }
                self.step = Step::Done;
                true
            }
            Step::Elements(i) => {
                let (n, len) = match &self.rec.value {
                    Data::String(v) => {
                        let mut args: Vec<&[u8]> = vec![b"SET", key, v];
                        if !self.replace {
                            args.push(b"NX");
                        }
                        if let Some(t) = &self.at {
                            args.extend_from_slice(&[b"PXAT", t.as_bytes()]);
                        }
                        encode(out, &args);
                        self.step = Step::Done;
                        return true;
                    }
                    Data::Hash(p) => (chunk(out, b"HSET", key, &p[i..], |(f, v)| [f, v]), p.len()),
                    Data::Zset(p) => (
                        chunk(out, b"ZADD", key, &p[i..], |(m, s)| [s.as_bytes(), m]),
                        p.len(),
                    ),
                    Data::List(e) => (chunk(out, b"RPUSH", key, &e[i..], |e| [e]), e.len()),
                    Data::Set(e) => (chunk(out, b"SADD", key, &e[i..], |e| [e]), e.len()),
                };
                self.step = if i + n < len {
                    Step::Elements(i + n)
                } else if self.at.is_some() {
                    Step::Expire
                } else {
                    Step::Done
                };
                true
            }
        }
    }
}

/// Appends one `CMD key args…` command with the first items of `items`: at most
/// [`CHUNK_ELEMENTS`], and no more once about [`CHUNK_BYTES`] of arguments are in. Returns how
/// many items it took.
fn chunk<T, const N: usize>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    items: &[T],
    args: impl Fn(&T) -> [&[u8]; N],
) -> usize {
    let mut n = 0;
    let mut bytes = 0;
    while n < items.len() && n < CHUNK_ELEMENTS && (n == 0 || bytes < CHUNK_BYTES) {
        bytes += args(&items[n]).iter().map(|a| a.len()).sum::<usize>();
        n += 1;
    }
    header(out, 2 + N * n);
    bulk(out, cmd);
    bulk(out, key);
    for item in &items[..n] {
        for a in args(item) {
            bulk(out, a);
        }
    }
    n
}
