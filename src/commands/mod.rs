//! The command table: one declarative entry per command (name, arity, flags, key positions,
//! how it executes). The dispatcher enforces arity from it, routes by its key positions, `COMMAND`
//! answers from it, and later ACL and replication read its flags.
//!
//! One file per command family:
//! - [`connection`]: PING, ECHO, HELLO, QUIT, SELECT, CLIENT, RESET.
//! - [`server`]: COMMAND, CONFIG, INFO, DBSIZE, FLUSHDB/FLUSHALL, TIME, CLUSTER, LASTSAVE.
//! - [`strings`]: GET, SET and the rest of the string family.
//! - [`hashes`]: HSET, HGET, HGETALL and the rest of the hash family.
//! - [`sets`]: SADD, SMEMBERS, SUNION… (multi-key ones gather across shards).
//! - [`lists`]: LPUSH, LRANGE, LMOVE…, and the blocking BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//!   BLMPOP.
//! - [`zsets`]: ZADD, ZRANGE, ZUNIONSTORE… (multi-key ones gather across shards).
//! - [`wait`]: WAIT (replicas' acknowledgements of the journal).
//! - [`zsets_blocking`]: BZPOPMIN, BZPOPMAX, BZMPOP (through `crate::blocking`).
//! - [`keys`]: DEL, EXISTS, EXPIRE…, TTL…, TYPE, KEYS, SCAN, RENAME, COPY, RANDOMKEY.
//! - [`security`]: AUTH, APIKEY (API keys with roles).

pub mod connection;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod security;
pub mod server;
pub mod sets;
pub mod strings;
pub mod wait;
pub mod zsets;
pub mod zsets_blocking;

use crate::protocol::Reply;
use crate::shard::ShardCtx;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Command flags (the names `COMMAND` reports).
pub mod flags {
    /// Modifies data.
    pub const WRITE: u32 = 1 << 0;
    /// Only reads data.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: refused when over `maxmemory`.
    pub const DENYOOM: u32 = 1 << 2;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 3;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 4;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 5;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 6;
    /// Not allowed in scripts.
    pub const NOSCRIPT: u32 = 1 << 7;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 8;
    /// Output order is not deterministic.
    pub const NONDET: u32 = 1 << 9;
    /// May block the client (BLPOP…).
    pub const BLOCKING: u32 = 1 << 11;

    /// Flag names, in `COMMAND`'s spelling.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (FAST, "fast"),
        (ADMIN, "admin"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (NOSCRIPT, "noscript"),
        (NO_AUTH, "no_auth"),
        (BLOCKING, "blocking"),
    ];
}

/// A handler that runs on the shard owning the command's keys.
pub type ShardFn = fn(&mut ShardCtx<'_>, &[&[u8]], &mut Reply<'_>);

/// How keys of a multi-key command are split when they live on several shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// All keys must be handled together (single-key commands never split).
    None,
    /// Each key is independent; integer replies are summed (DEL, EXISTS, TOUCH, UNLINK).
    SumKeys,
    /// Each key is independent; array replies are merged in key order (MGET).
    MergeKeys,
    /// Key/value pairs; each shard takes its pairs and replies OK (MSET).
    Pairs,
    /// MSETNX: all-or-nothing over shards.
    PairsNx,
    /// Two keys, source and destination (RENAME, RENAMENX, COPY).
    Move,
    /// The command needs every key's whole value: gather from the owning shards, compute,
    /// reply or store (set algebra, SMOVE).
    Gather,
}

/// Commands that need more than one shard or no shard at all, run by the dispatcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    /// DBSIZE
    DbSize,
    /// FLUSHDB / FLUSHALL
    Flush,
    /// KEYS
    Keys,
    /// SCAN
    Scan,
    /// RANDOMKEY
    RandomKey,
    /// INFO
    Info,
    /// CLIENT (LIST and INFO need every shard's clients)
    Client,
    /// CONFIG (SET reaches every shard)
    Config,
    /// HELLO (changes the protocol: a barrier for queued replies)
    Hello,
    /// SAVE / BGSAVE / BGREWRITEAOF
    Save,
    /// WAIT (replicas' acknowledgements)
    Wait,
    /// ROLE (this server's replication offsets)
    Role,
}

/// How a command executes.
#[derive(Clone, Copy)]
pub enum Exec {
    /// On the shard that owns its keys.
    Shard(ShardFn, Split),
    /// On the connection, touching no shard data.
    Conn(crate::connection::ConnFn),
    /// By the dispatcher, across shards.
    Global(Global),
    /// A command that may block the client ([`crate::blocking`]): parsed by this function,
    /// then tried on the keys' shards and waited for on the connection.
    Block(crate::blocking::PrepareFn),
}

/// One command's declaration.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (with the name), `-n` at least n.
    pub arity: i32,
    /// Flags from [`flags`].
    pub flags: u32,
    /// Position of the first key (0 = no keys).
    pub first_key: i32,
    /// Position of the last key (-1 = the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Position of a `numkeys` argument counting the keys that follow it (0 = none): ZUNION,
    /// ZMPOP… Their keys are the fixed ones before it plus the counted ones.
    pub numkeys_at: usize,
    /// ACL categories (without the `@`).
    pub acl: &'static [&'static str],
    /// Group for COMMAND DOCS.
    pub group: &'static str,
    /// One-line summary for COMMAND DOCS.
    pub summary: &'static str,
    /// How it runs.
    pub exec: Exec,
}

impl CommandSpec {
    /// Whether `argc` (with the name) satisfies the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// Whether it has `flag`.
    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Positions of the key arguments of `argv` (exact for `numkeys` commands, whose
    /// trailing options the table's (first, last, step) would include): what ACL patterns check.
    pub fn key_args<'a>(&self, argv: &'a [&'a [u8]]) -> impl Iterator<Item = usize> + 'a
    where
        Self: 'a,
    {
        self.keys_in(argv)
    }

    /// Positions of the keys of the command `argv` (its name first): the fixed positions, or
    /// for a `numkeys` command the fixed ones before `numkeys` and the ones it counts (none
    /// when it is not a valid count: the handler then replies the error).
    pub fn keys_in(&self, argv: &[&[u8]]) -> impl Iterator<Item = usize> {
        let fixed = self.key_positions(argv.len());
        let (limit, counted) = match self.numkeys_at {
            0 => (usize::MAX, 0..0),
            at => {
                let n = argv
                    .get(at)
                    .and_then(|a| synap_shard::strings::parse_i64(a))
                    .filter(|&n| n > 0)
                    .map_or(0, |n| n as usize);
                let end = (at + 1).saturating_add(n).min(argv.len());
                (at, at + 1..end)
            }
        };
        fixed.take_while(move |&p| p < limit).chain(counted)
    }

    /// Positions of the keys in `argc` arguments.
    pub fn key_positions(&self, argc: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        let first = self.first_key.max(0) as usize;
        let last = if self.first_key <= 0 {
            0
        } else if self.last_key < 0 {
            (argc as i64 + self.last_key as i64).max(0) as usize
        } else {
            (self.last_key as usize).min(argc.saturating_sub(1))
        };
        let step = self.step.max(1) as usize;
        let range = if first == 0 || first > last {
            0..0
        } else {
            first..last + 1
        };
        range.step_by(step)
    }
}

/// Every command, in one table.
pub fn table() -> &'static [CommandSpec] {
    static TABLE: OnceLock<Vec<CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::new();
        connection::register(&mut t);
        server::register(&mut t);
        strings::register(&mut t);
        keys::register(&mut t);
        hashes::register(&mut t);
        sets::register(&mut t);
        lists::register(&mut t);
        security::register(&mut t);
        zsets::register(&mut t);
        zsets_blocking::register(&mut t);
        wait::register(&mut t);
        t
    })
}

/// Looks a command up by name, case-insensitively.
#[inline]
pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    static INDEX: OnceLock<HashMap<Vec<u8>, usize, ahash::RandomState>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        table()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes().to_vec(), i))
            .collect()
    });
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let i = *index.get(&buf[..name.len()])?;
    Some((i, &table()[i]))
}

/// Shorthand used by the family files to declare a command.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    group: &'static str,
    summary: &'static str,
    exec: Exec,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        numkeys_at: 0,
        acl,
        group,
        summary,
        exec,
    }
}

impl CommandSpec {
    /// Declares the position of the command's `numkeys` argument.
    pub(crate) fn numkeys(mut self, at: usize) -> CommandSpec {
        self.numkeys_at = at;
        self
    }
}

/// Parses an integer argument, replying the Redis error when it is not one.
pub(crate) fn arg_i64(arg: &[u8], reply: &mut Reply<'_>) -> Option<i64> {
    match synap_shard::strings::parse_i64(arg) {
        Some(v) => Some(v),
        None => {
            reply.error(crate::errors::ErrorCode::Err, crate::errors::NOT_INTEGER);
            None
        }
    }
}

/// Replies a shard status as its error.
pub(crate) fn reply_op_error(e: synap_shard::OpError, reply: &mut Reply<'_>) {
    let (code, msg) = crate::errors::op_error(e);
    reply.error(code, msg);
}

/// An aggregate type as the generic accessors see it: its TYPE, an empty value, and its view
/// inside a [`synap_shard::Value`].
pub(crate) trait Aggregate {
    /// The type TYPE reports.
    const KIND: synap_shard::ValueType;
    /// An empty value of this type.
    fn empty() -> synap_shard::Value;
    /// The view when `v` holds this type.
    fn of(v: &synap_shard::Value) -> Option<&Self>;
    /// The mutable view when `v` holds this type.
    fn of_mut(v: &mut synap_shard::Value) -> Option<&mut Self>;
}

macro_rules! aggregate {
    ($ty:ty, $kind:ident, $new:ident, $as:ident, $as_mut:ident) => {
        impl Aggregate for $ty {
            const KIND: synap_shard::ValueType = synap_shard::ValueType::$kind;
            fn empty() -> synap_shard::Value {
                synap_shard::Value::$new()
            }
            fn of(v: &synap_shard::Value) -> Option<&Self> {
                v.$as()
            }
            fn of_mut(v: &mut synap_shard::Value) -> Option<&mut Self> {
                v.$as_mut()
            }
        }
    };
}

aggregate!(
    synap_shard::hash::HashValue,
    Hash,
    new_hash,
    as_hash,
    as_hash_mut
);
aggregate!(synap_shard::set::SetValue, Set, new_set, as_set, as_set_mut);
aggregate!(
    synap_shard::list::ListValue,
    List,
    new_list,
    as_list,
    as_list_mut
);
aggregate!(
    synap_shard::zset::ZsetValue,
    Zset,
    new_zset,
    as_zset,
    as_zset_mut
);

/// The value of type `T` at `key` (None = missing), or WRONGTYPE.
pub(crate) fn read_as<'a, T: Aggregate>(
    ks: &'a mut synap_shard::Keyspace,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a T>, synap_shard::OpError> {
    match ks.lookup(key, now) {
        None => Ok(None),
        Some(e) => T::of(&e.value)
            .map(Some)
            .ok_or(synap_shard::OpError::WrongType),
    }
}

/// Runs `f` on the value of type `T` at `key` (created empty when missing and `create`);
/// WRONGTYPE when the key holds another type. Aggregates left empty are deleted.
pub(crate) fn write_as<T: Aggregate, R>(
    ks: &mut synap_shard::Keyspace,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut T) -> R,
) -> Result<Option<R>, synap_shard::OpError> {
    let Some(idx) = ks.find(key, now) else {
        let empty = create.then_some(T::empty as fn() -> synap_shard::Value);
        return Ok(empty.and_then(|c| {
            ks.update(key, now, Some(c), |v| T::of_mut(v).map(f))
                .flatten()
        }));
    };
    if ks
        .entry_at(idx)
        .is_some_and(|e| e.value.value_type() != T::KIND)
    {
        return Err(synap_shard::OpError::WrongType);
    }
    Ok(ks.update_at(idx, |v| T::of_mut(v).map(f)).flatten())
}

/// Indices for a random sample of `count` out of `n` (Redis's SRANDMEMBER/HRANDFIELD rules:
/// positive = distinct, at most `n`; negative = `|count|` picks with repetition).
pub(crate) fn random_picks(n: usize, count: i64) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    if count >= 0 {
        let mut all: Vec<usize> = (0..n).collect();
        let want = (count as usize).min(n);
        for i in 0..want {
            let j = i + rand::random::<usize>() % (n - i);
            all.swap(i, j);
        }
        all.truncate(want);
        all
    } else {
        (0..count.unsigned_abs().min(100_000_000))
            .map(|_| rand::random::<usize>() % n)
            .collect()
    }
}

/// The options of HSCAN / SSCAN: `cursor [MATCH pattern] [COUNT n]` (and `NOVALUES` when
/// `allow_novalues`). None after replying the error.
pub(crate) struct ScanArgs<'a> {
    pub cursor: u64,
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub novalues: bool,
}

impl<'a> ScanArgs<'a> {
    /// Parses `argv[at..]`, the cursor first.
    pub(crate) fn parse(
        argv: &[&'a [u8]],
        at: usize,
        allow_novalues: bool,
        r: &mut Reply<'_>,
    ) -> Option<ScanArgs<'a>> {
        let Some(cursor) = std::str::from_utf8(argv[at])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            r.error(crate::errors::ErrorCode::Err, crate::errors::INVALID_CURSOR);
            return None;
        };
        let mut a = ScanArgs {
            cursor,
            pattern: None,
            count: 10,
            novalues: false,
        };
        let mut i = at + 1;
        while i < argv.len() {
            let opt = argv[i].to_ascii_uppercase();
            if allow_novalues && opt == b"NOVALUES" {
                a.novalues = true;
                i += 1;
                continue;
            }
            match (opt.as_slice(), argv.get(i + 1)) {
                (b"MATCH", Some(p)) => a.pattern = Some(p),
                (b"COUNT", Some(c)) => match arg_i64(c, r)? {
                    c if c >= 1 => a.count = c as usize,
                    _ => {
                        r.error(crate::errors::ErrorCode::Err, crate::errors::SYNTAX);
                        return None;
                    }
                },
                _ => {
                    r.error(crate::errors::ErrorCode::Err, crate::errors::SYNTAX);
                    return None;
                }
            }
            i += 2;
        }
        Some(a)
    }

    /// One step over `items`: compact encodings (`whole`) are returned at once with cursor 0;
    /// tables are walked downwards by index like the keyspace's SCAN (an item present the whole
    /// time is seen at least once). Items not matching MATCH (tested by `name`) are dropped.
    pub(crate) fn step<T: Copy>(
        &self,
        items: &[T],
        whole: bool,
        name: impl Fn(&T) -> &[u8],
    ) -> (u64, Vec<T>) {
        let (next, visited): (u64, Vec<T>) = if whole || items.is_empty() {
            (0, items.to_vec())
        } else {
            let len = items.len() as u64;
            let at = if self.cursor == 0 {
                len
            } else {
                self.cursor.min(len)
            };
            let next = at.saturating_sub(self.count as u64);
            (next, (next..at).rev().map(|i| items[i as usize]).collect())
        };
        let kept = visited
            .into_iter()
            .filter(|it| {
                self.pattern
                    .is_none_or(|p| synap_shard::glob::matches(p, name(it)))
            })
            .collect();
        (next, kept)
    }
}
