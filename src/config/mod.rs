//! Configuration: the YAML file, then the environment (`SYNAP_ROLE`, `SYNAP_MASTER`), then the
//! command line, in increasing order of precedence (the command line wins). Every key has a
//! default, so a missing file, an empty file or a missing section all mean "the defaults".
//!
//! Every mistake stops start-up with the file (or `<environment>` / `<command line>`), the
//! dotted key and the reason, e.g.
//! `/etc/synap/config.yml: server.prot: unknown field `prot`, expected one of ... at line 2 column 3`.
//!
//! Sizes (`network.proto_max_bulk_len`, `kv_store.maxmemory`, ...) accept an integer number
//! of bytes or a string with a unit, as Redis does, case-insensitively: `100b` or `100`
//! (bytes), `64k` (64 × 1000), `64kb` (64 × 1024), `5m` (× 1000²), `512mb` (× 1024²),
//! `1g` (× 1000³), `1gb` (× 1024³).

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A configuration error: where, which key, why. Displayed as `"{file}: {key}: {reason}"`
/// (`"{file}: {reason}"` when no single key is at fault, e.g. the file cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file path, or `<defaults>` (no file given), `<environment>`, `<command line>`.
    pub file: String,
    /// The dotted key (`server.port`, `persistence.save[1]`), the environment variable
    /// (`SYNAP_MASTER`) or the command-line flag (`--port`); empty when no key applies.
    pub key: String,
    /// What is wrong (YAML errors include `at line L column C`).
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

/// `file` label used when no configuration file is given.
pub const DEFAULTS_LABEL: &str = "<defaults>";
/// `file` label for values from `SYNAP_ROLE` / `SYNAP_MASTER`.
pub const ENV_LABEL: &str = "<environment>";
/// `file` label for values from command-line flags.
pub const CLI_LABEL: &str = "<command line>";

// ---------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------

/// A byte size: an integer (bytes) or a string with a Redis unit (`512mb`, `1gb`, `64k`,
/// `100b`; case-insensitive; `k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl Size {
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
    /// The size in bytes as `usize` (saturating on 32-bit targets).
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

const SIZE_HELP: &str =
    "expected bytes or a number with a unit (b, k, kb, m, mb, g, gb), e.g. 512mb";

/// Parses a Redis memory value: digits, then optionally `b`, `k`, `kb`, `m`, `mb`, `g`, `gb`
/// (case-insensitive; surrounding whitespace ignored).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("invalid size {s:?}: {SIZE_HELP}");
    if num.is_empty() {
        return Err(bad());
    }
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: too large"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = Size;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size: bytes or a number with a unit (b, k, kb, m, mb, g, gb)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
        Ok(Size(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
        u64::try_from(v)
            .map(Size)
            .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Size, E> {
        Err(E::custom(format!("invalid size {v}: {SIZE_HELP}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
        parse_size(v).map(Size).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

fn de_size_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Size::deserialize(d).map(|s| s.0)
}

fn de_size_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let s = Size::deserialize(d)?;
    usize::try_from(s.0).map_err(|_| de::Error::custom(format!("invalid size {}: too large", s.0)))
}

/// `server.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts writes; serves replication streams when `replication.enabled`.
    #[default]
    Master,
    /// Follows `replication.master_host:master_port`; read-only.
    Replica,
}

impl Role {
    /// `master` or `replica`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "replica",
        }
    }
    /// Parses `master` / `replica` (case-insensitive).
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "master" => Some(Role::Master),
            "replica" => Some(Role::Replica),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest `server.shards`.
pub const MAX_SHARDS: usize = 1024;

/// `server.shards`: `auto` (one per CPU of the process's affinity mask) or a count 1..=1024.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shards {
    /// One shard per available CPU.
    #[default]
    Auto,
    /// Exactly this many shards.
    Count(usize),
}

impl Shards {
    /// Parses `auto` (case-insensitive) or an integer 1..=1024.
    pub fn parse(s: &str) -> Result<Shards, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Shards::Auto);
        }
        match t.parse::<u64>() {
            Ok(n) => Shards::from_count(n),
            Err(_) => Err(format!(
                "invalid shard count {s:?}: expected \"auto\" or 1..={MAX_SHARDS}"
            )),
        }
    }
    fn from_count(n: u64) -> Result<Shards, String> {
        if (1..=MAX_SHARDS as u64).contains(&n) {
            Ok(Shards::Count(n as usize))
        } else {
            Err(format!(
                "invalid shard count {n}: expected \"auto\" or 1..={MAX_SHARDS}"
            ))
        }
    }
}

impl fmt::Display for Shards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shards::Auto => f.write_str("auto"),
            Shards::Count(n) => write!(f, "{n}"),
        }
    }
}

struct ShardsVisitor;

impl Visitor<'_> for ShardsVisitor {
    type Value = Shards;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"auto\" or a shard count 1..={MAX_SHARDS}")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Shards, E> {
        Shards::from_count(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Shards, E> {
        Err(E::custom(format!(
            "invalid shard count {v}: expected \"auto\" or 1..={MAX_SHARDS}"
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Shards, E> {
        Shards::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Shards {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shards, D::Error> {
        d.deserialize_any(ShardsVisitor)
    }
}

/// `kv_store.maxmemory_policy`: what happens when a write would exceed `maxmemory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionPolicy {
    /// `noeviction`: refuse writes with `-OOM` (reads and deletes still work).
    #[default]
    Noeviction,
    /// `allkeys-lru`: evict the approximately least recently used key.
    AllkeysLru,
    /// `allkeys-random`: evict a random key.
    AllkeysRandom,
    /// `volatile-lru`: evict the approximately least recently used key that has a TTL.
    VolatileLru,
    /// `volatile-random`: evict a random key that has a TTL.
    VolatileRandom,
    /// `volatile-ttl`: evict the key with a TTL that expires soonest.
    VolatileTtl,
}

impl EvictionPolicy {
    /// Redis's name (`noeviction`, `allkeys-lru`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::Noeviction => "noeviction",
            EvictionPolicy::AllkeysLru => "allkeys-lru",
            EvictionPolicy::AllkeysRandom => "allkeys-random",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }
    /// Parses Redis's name (case-insensitive), e.g. for CONFIG SET.
    pub fn parse(s: &str) -> Option<EvictionPolicy> {
        [
            EvictionPolicy::Noeviction,
            EvictionPolicy::AllkeysLru,
            EvictionPolicy::AllkeysRandom,
            EvictionPolicy::VolatileLru,
            EvictionPolicy::VolatileRandom,
            EvictionPolicy::VolatileTtl,
        ]
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `persistence.appendfsync`: when the AOF is flushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// `always`: group commit, one `fdatasync` per event-loop batch; replies are released
    /// after it, so no acknowledged write is ever lost.
    Always,
    /// `everysec`: `fdatasync` once a second (at most about a second of writes lost).
    #[default]
    Everysec,
    /// `no`: left to the operating system.
    No,
}

impl Fsync {
    /// `always`, `everysec` or `no`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::No => "no",
        }
    }
}

impl fmt::Display for Fsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `logging.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `text`: one human-readable line per event.
    #[default]
    Text,
    /// `json`: one JSON object per line.
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The accepted `logging.level` values, most verbose first.
pub const LOG_LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// One `persistence.save` rule: snapshot after `seconds` if at least `changes` writes happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SaveRule {
    /// Seconds since the last snapshot (at least 1).
    pub seconds: u64,
    /// Writes since the last snapshot (at least 1).
    pub changes: u64,
}

impl SaveRule {
    /// Parses `"SECONDS CHANGES"`.
    pub fn parse(s: &str) -> Result<SaveRule, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        let bad =
            || format!("invalid save rule {s:?}: expected \"SECONDS CHANGES\", e.g. \"3600 1\"");
        if parts.len() != 2 {
            return Err(bad());
        }
        let seconds: u64 = parts[0].parse().map_err(|_| bad())?;
        let changes: u64 = parts[1].parse().map_err(|_| bad())?;
        if seconds == 0 || changes == 0 {
            return Err(format!(
                "invalid save rule {s:?}: SECONDS and CHANGES must both be at least 1"
            ));
        }
        Ok(SaveRule { seconds, changes })
    }
}

impl fmt::Display for SaveRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seconds, self.changes)
    }
}

impl<'de> Deserialize<'de> for SaveRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SaveRule, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SaveRule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a save rule \"SECONDS CHANGES\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SaveRule, E> {
                SaveRule::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// `persistence.save`: a list of `"SECONDS CHANGES"` strings, or (as in `redis.conf`) one
/// string of pairs (`"3600 1 300 100"`; `""` = none).
fn de_save_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SaveRule>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<SaveRule>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of \"SECONDS CHANGES\" rules")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<SaveRule>, A::Error> {
            let mut out = Vec::new();
            while let Some(r) = seq.next_element::<SaveRule>()? {
                out.push(r);
            }
            Ok(out)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<SaveRule>, E> {
            let words: Vec<&str> = v.split_whitespace().collect();
            let pairs = words.chunks_exact(2);
            if !pairs.remainder().is_empty() {
                return Err(E::custom(format!(
                    "invalid save rules {v:?}: expected pairs \"SECONDS CHANGES ...\""
                )));
            }
            pairs
                .map(|p| SaveRule::parse(&p.join(" ")).map_err(E::custom))
                .collect()
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<SaveRule>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<SaveRule>, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

/// `server.tls`: TLS on the RESP port (and the replication stream).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// `server.tls.enabled` (default `false`): serve TLS. When true, `cert_path` and
    /// `key_path` are required and must be readable files.
    pub enabled: bool,
    /// `server.tls.cert_path`: PEM certificate chain (required when enabled).
    pub cert_path: Option<PathBuf>,
    /// `server.tls.key_path`: PEM private key (required when enabled).
    pub key_path: Option<PathBuf>,
    /// `server.tls.ca_path` (optional): PEM CA bundle; when set, clients must present a
    /// certificate it signed (mutual TLS).
    pub ca_path: Option<PathBuf>,
    /// `server.tls.http` (default `false`): serve the HTTP port over TLS too (same
    /// certificate; `/health` probes must then use HTTPS).
    pub http: bool,
}

/// `server`: identity, addresses and threads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `server.role` (default `master`): `master` accepts writes; `replica` follows
    /// `replication.master_host` and is read-only. Overridden by `SYNAP_ROLE`.
    pub role: Role,
    /// `server.host` (default `"127.0.0.1"`): the address the RESP and HTTP listeners bind;
    /// `0.0.0.0` for every IPv4 interface, `::` for every interface. Overridden by `--bind`.
    pub host: String,
    /// `server.port` (default `6379`): the RESP (Redis protocol) port. Overridden by `--port`.
    pub port: u16,
    /// `server.http_port` (default `15500`): the HTTP port (`/health`, `/metrics`, REST API).
    /// Must differ from `server.port`. Overridden by `--http-port`.
    pub http_port: u16,
    /// `server.shards` (default `auto`): `auto` runs one shard (event loop) per CPU in the
    /// process's affinity mask; an integer 1..=1024 sets the count. Overridden by `--shards`.
    pub shards: Shards,
    /// `server.tls`: TLS settings.
    pub tls: TlsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            role: Role::Master,
            host: "127.0.0.1".into(),
            port: 6379,
            http_port: 15500,
            shards: Shards::Auto,
            tls: TlsConfig::default(),
        }
    }
}

/// `network`: connection limits and socket settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// `network.maxclients` (default `10000`, at least 1): most concurrent RESP clients. If the
    /// open-files limit is too low the server lowers it at start and says so.
    pub maxclients: u64,
    /// `network.tcp_backlog` (default `511`): `listen()` backlog; the kernel caps it at
    /// `net.core.somaxconn`.
    pub tcp_backlog: u32,
    /// `network.tcp_keepalive` (default `300`, 0..=32767): seconds of idle before TCP
    /// keepalive probes; `0` = off.
    pub tcp_keepalive: u64,
    /// `network.timeout` (default `0`): close a client idle this many seconds; `0` = never.
    pub timeout: u64,
    /// `network.proto_max_bulk_len` (default `512mb`, at least `1mb`): largest bulk string a
    /// client may send.
    pub proto_max_bulk_len: Size,
    /// `network.max_multibulk_len` (default `1048576`): most arguments in one command.
    pub max_multibulk_len: usize,
    /// `network.max_inline_len` (default `65536`, at least 1024): longest inline command.
    pub max_inline_len: usize,
    /// `network.client_query_buffer_limit` (default `1gb`, at least `1mb`): most unparsed
    /// input buffered for one client; beyond it the client is closed.
    pub client_query_buffer_limit: Size,
    /// `network.http_max_body` (default `16mb`, at least `1kb`): largest HTTP request body.
    pub http_max_body: Size,
    /// `network.protected_mode` (default `true`): when bound to a non-loopback address
    /// without authentication configured, refuse clients that are not on loopback.
    pub protected_mode: bool,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            maxclients: 10_000,
            tcp_backlog: 511,
            tcp_keepalive: 300,
            timeout: 0,
            proto_max_bulk_len: Size(512 * 1024 * 1024),
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
            client_query_buffer_limit: Size(1024 * 1024 * 1024),
            http_max_body: Size(16 * 1024 * 1024),
            protected_mode: true,
        }
    }
}

/// `kv_store`: memory and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KvConfig {
    /// `kv_store.maxmemory` (default `0` = unlimited; a size such as `4gb`): memory limit for
    /// the whole server, split evenly over the shards.
    #[serde(deserialize_with = "de_size_u64")]
    pub maxmemory: u64,
    /// `kv_store.maxmemory_policy` (default `noeviction`): `noeviction`, `allkeys-lru`,
    /// `allkeys-random`, `volatile-lru`, `volatile-random` or `volatile-ttl`.
    pub maxmemory_policy: EvictionPolicy,
    /// `kv_store.active_expire_hz` (default `10`, 1..=500): active expiry cycles per second
    /// per shard (Redis's `hz`).
    pub active_expire_hz: u32,
    /// `kv_store.active_expire_effort` (default `1`, 1..=10): how hard each active expiry
    /// cycle works to reclaim expired keys.
    pub active_expire_effort: u32,
    /// `kv_store.hash_max_listpack_entries` (default `128`, 0..=2147483647): a hash with
    /// more fields than this converts from the packed encoding to a hash table (Redis's
    /// `hash-max-listpack-entries`).
    pub hash_max_listpack_entries: usize,
    /// `kv_store.hash_max_listpack_value` (default `64`, 0..=2147483647; bytes or a size such
    /// as `1kb`): a hash with a field or value longer than this converts to a hash table
    /// (Redis's `hash-max-listpack-value`).
    #[serde(deserialize_with = "de_size_usize")]
    pub hash_max_listpack_value: usize,
    /// `kv_store.zset_max_listpack_entries` (default `128`, 0..=2147483647): a sorted set
    /// with more members than this converts from the packed encoding to the large one
    /// (Redis's `zset-max-listpack-entries`).
    pub zset_max_listpack_entries: usize,
    /// `kv_store.zset_max_listpack_value` (default `64`, 0..=2147483647; bytes or a size such
    /// as `1kb`): a sorted set with a longer member converts to the large encoding (Redis's
    /// `zset-max-listpack-value`).
    #[serde(deserialize_with = "de_size_usize")]
    pub zset_max_listpack_value: usize,
    /// `kv_store.set_max_intset_entries` (default `512`, 0..=2147483647): a set of integers
    /// with more members than this leaves the integer-array encoding (Redis's
    /// `set-max-intset-entries`).
    pub set_max_intset_entries: usize,
    /// `kv_store.set_max_listpack_entries` (default `128`, 0..=2147483647): a set of other
    /// members with more than this converts from the packed encoding to a hash set (Redis
    /// 7.2's `set-max-listpack-entries`).
    pub set_max_listpack_entries: usize,
    /// `kv_store.set_max_listpack_value` (default `64`, 0..=2147483647; bytes or a size such
    /// as `1kb`): a set with a longer member converts to a hash set (Redis 7.2's
    /// `set-max-listpack-value`).
    #[serde(deserialize_with = "de_size_usize")]
    pub set_max_listpack_value: usize,
    /// `kv_store.list_max_listpack_size` (default `-2`, -2147483648..=2147483647): the size
    /// of a list's packed chunks (Redis's `list-max-listpack-size`): -1..-5 = at most 4, 8,
    /// 16, 32 or 64 KB per chunk; a positive value = at most that many elements per chunk. A
    /// list that fits one chunk is stored as that chunk alone (OBJECT ENCODING `listpack`).
    pub list_max_listpack_size: i64,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::Noeviction,
            active_expire_hz: 10,
            active_expire_effort: 1,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            list_max_listpack_size: -2,
        }
    }
}

/// `persistence`: per-shard append-only files and snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersistenceConfig {
    /// `persistence.enabled` (default `false`): keep an AOF per shard and load it at start
    /// (Redis's `appendonly`).
    pub enabled: bool,
    /// `persistence.data_dir` (default `"./synap-data"`): directory for the shards' AOF and
    /// snapshot files. Overridden by `--data-dir`.
    pub data_dir: PathBuf,
    /// `persistence.appendfsync` (default `everysec`): `always`, `everysec` or `no`.
    pub appendfsync: Fsync,
    /// `persistence.aof_load_truncated` (default `true`): at load, a torn or corrupt AOF tail
    /// is cut off with a log line; `false` refuses to start instead.
    pub aof_load_truncated: bool,
    /// `persistence.aof_rewrite_percentage` (default `100`; `0` = never): rewrite a shard's
    /// AOF (snapshot + fresh segment) when its segment has grown by this percentage over its
    /// size after the last rewrite (Redis's `auto-aof-rewrite-percentage`).
    pub aof_rewrite_percentage: u64,
    /// `persistence.aof_rewrite_min_size` (default `64mb`): no automatic rewrite below this
    /// segment size (Redis's `auto-aof-rewrite-min-size`).
    pub aof_rewrite_min_size: Size,
    /// `persistence.save` (default empty = no periodic snapshots): snapshot rules, each
    /// `"SECONDS CHANGES"` (snapshot after SECONDS if at least CHANGES writes), as a list, or
    /// one Redis-style string of pairs (`"3600 1 300 100"`).
    #[serde(deserialize_with = "de_save_rules")]
    pub save: Vec<SaveRule>,
}

impl Default for PersistenceConfig {
    fn default() -> Self {
        PersistenceConfig {
            enabled: false,
            data_dir: PathBuf::from("./synap-data"),
            appendfsync: Fsync::Everysec,
            aof_load_truncated: true,
            aof_rewrite_percentage: 100,
            aof_rewrite_min_size: Size(64 << 20),
            save: Vec::new(),
        }
    }
}

/// `replication`: master/replica streams (one per shard).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationConfig {
    /// `replication.enabled` (default `false`): on a master, serve replication streams on
    /// `listen_port`; on a replica, follow the master (required for `server.role: replica`).
    /// Set to true by `SYNAP_MASTER`.
    pub enabled: bool,
    /// `replication.listen_port` (default `15501`): the master's replication port; must
    /// differ from `server.port` and `server.http_port`. A replica listens on it too (refusing
    /// streams until promoted, then serving the old master's other replicas); when the port is
    /// taken (its master on the same host) it logs a warning and does not listen.
    pub listen_port: u16,
    /// `replication.master_host` (replicas; required when `server.role` is `replica`): the
    /// master's host name or address. Set by `SYNAP_MASTER`.
    pub master_host: Option<String>,
    /// `replication.master_port` (default `15501`): the master's `replication.listen_port`.
    /// Set by `SYNAP_MASTER`.
    pub master_port: u16,
    /// `replication.backlog_size` (default `64mb`, at least `16kb`): per-shard backlog of
    /// recent writes kept on the master for partial resynchronisation.
    pub backlog_size: Size,
    /// `replication.replica_read_only` (default `true`): a replica refuses writes from
    /// clients with `-READONLY`.
    pub replica_read_only: bool,
    /// `replication.max_replica_buffer` (default `256mb`, at least `1mb`): most output a
    /// master buffers for one replica stream before dropping it (it then resyncs).
    pub max_replica_buffer: Size,
    /// `replication.api_key` (replicas; optional): the API key the replica presents to the
    /// master. Once the master has API keys, its replication port accepts only a current key
    /// with the `admin` role (a replica receives every key and can be promoted), and drops
    /// streams whose key is revoked. Overridden by `SYNAP_REPLICATION_KEY` (preferred: keeps
    /// the key out of the file). Never logged nor shown by CONFIG GET.
    pub api_key: Option<Secret>,
    /// `replication.tls` (replicas; default `false`): connect to the master's replication
    /// port over TLS (the master serves TLS there when its `server.tls.enabled` is true).
    pub tls: bool,
    /// `replication.tls_ca_path` (replicas; optional): PEM CA bundle trusted for the master's
    /// certificate; defaults to `server.tls.ca_path`. One of the two is required with
    /// `replication.tls` unless `tls_insecure`.
    pub tls_ca_path: Option<PathBuf>,
    /// `replication.tls_insecure` (replicas; default `false`): accept any master certificate
    /// (still encrypted, but not authenticated: tests only).
    pub tls_insecure: bool,
    /// `replication.tls_cert_path` / `tls_key_path` (replicas; optional, both or neither):
    /// client certificate presented to a master whose `server.tls.ca_path` requires one.
    pub tls_cert_path: Option<PathBuf>,
    /// See `tls_cert_path`.
    pub tls_key_path: Option<PathBuf>,
}

/// A secret string (API key): compares and parses as a string, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            enabled: false,
            listen_port: 15501,
            master_host: None,
            master_port: 15501,
            backlog_size: Size(64 * 1024 * 1024),
            replica_read_only: true,
            max_replica_buffer: Size(256 * 1024 * 1024),
            api_key: None,
            tls: false,
            tls_ca_path: None,
            tls_insecure: false,
            tls_cert_path: None,
            tls_key_path: None,
        }
    }
}

/// `auth`: API keys (created with `synap-admin create-api-key`, stored hashed in
/// `<persistence.data_dir>/apikeys.json`). Authentication is required as soon as one key exists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `auth.metrics_requires_key` (default `false`): when keys exist, `/metrics` also needs
    /// `Authorization: Bearer <key>` (any role). `/health` never does.
    pub metrics_requires_key: bool,
}

/// `logging`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// `logging.level` (default `info`): `trace`, `debug`, `info`, `warn` or `error`
    /// (case-insensitive; stored lower-case). `RUST_LOG`, when set, takes precedence.
    /// Overridden by `--log-level`.
    pub level: String,
    /// `logging.format` (default `text`): `text` or `json`.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// The whole configuration: one field per top-level YAML section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `server`: role, addresses, ports, shards, TLS.
    pub server: ServerConfig,
    /// `network`: connection limits and socket settings.
    pub network: NetworkConfig,
    /// `kv_store`: memory limit, eviction, active expiry.
    pub kv_store: KvConfig,
    /// `persistence`: AOF and snapshots.
    pub persistence: PersistenceConfig,
    /// `replication`: master/replica.
    pub replication: ReplicationConfig,
    /// `auth`: API keys.
    pub auth: AuthConfig,
    /// `logging`: level and format.
    pub logging: LoggingConfig,
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/// Command-line overrides; each `Some` replaces the file's (and the environment's) value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--bind`: `server.host`.
    pub bind: Option<String>,
    /// `--port`: `server.port`.
    pub port: Option<u16>,
    /// `--http-port`: `server.http_port`.
    pub http_port: Option<u16>,
    /// `--shards`: `server.shards` (`auto` or 1..=1024).
    pub shards: Option<String>,
    /// `--data-dir`: `persistence.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-level`: `logging.level`.
    pub log_level: Option<String>,
}

/// The command line of `synap-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "synap-server",
    version = env!("CARGO_PKG_VERSION"),
    about = "Synap in-memory data server"
)]
pub struct Cli {
    /// YAML configuration file (built-in defaults without it).
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to bind (overrides server.host).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// RESP port (overrides server.port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// HTTP port (overrides server.http_port).
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// Shards: "auto" or 1..=1024 (overrides server.shards).
    #[arg(long, value_name = "N|auto")]
    pub shards: Option<String>,
    /// Data directory (overrides persistence.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log level: trace, debug, info, warn, error (overrides logging.level).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Validate the configuration, print a summary and exit (0 = valid, 2 = invalid).
    #[arg(long)]
    pub check_config: bool,
}

impl Cli {
    /// The overrides this command line carries.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            bind: self.bind.clone(),
            port: self.port,
            http_port: self.http_port,
            shards: self.shards.clone(),
            data_dir: self.data_dir.clone(),
            log_level: self.log_level.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Where each overridden key's value came from, so that a validation error names the
/// environment variable or flag rather than the file.
struct Origins {
    file: String,
    /// (dotted key, file label, key label), latest last.
    overridden: Vec<(&'static str, &'static str, &'static str)>,
}

impl Origins {
    fn set(&mut self, dotted: &'static str, file: &'static str, key: &'static str) {
        self.overridden.push((dotted, file, key));
    }
    fn err(&self, dotted: &str, reason: String) -> ConfigError {
        match self.overridden.iter().rev().find(|(d, _, _)| *d == dotted) {
            Some((_, file, key)) => ConfigError {
                file: (*file).into(),
                key: (*key).into(),
                reason: format!("{reason} ({dotted})"),
            },
            None => ConfigError {
                file: self.file.clone(),
                key: dotted.into(),
                reason,
            },
        }
    }
}

/// Turns a serde error into (dotted key, reason): the key from serde_path_to_error, the reason
/// without serde_yaml_ng's own `path: ` prefix (its location suffix is kept).
fn yaml_error(e: serde_path_to_error::Error<serde_yaml_ng::Error>) -> (String, String) {
    let path = e.path().to_string();
    // A syntax error leaves `?` (unknown) segments at the end of the path: drop them.
    let mut p = path.as_str();
    while p == "?" || p.ends_with(".?") {
        p = p.strip_suffix('?').unwrap_or(p).trim_end_matches('.');
    }
    let mut key = if p == "." {
        String::new()
    } else {
        p.to_string()
    };
    let mut reason = e.into_inner().to_string();
    for name in [
        "ServerConfig",
        "TlsConfig",
        "NetworkConfig",
        "KvConfig",
        "PersistenceConfig",
        "ReplicationConfig",
        "AuthConfig",
        "LoggingConfig",
        "Config",
    ] {
        reason = reason.replace(
            &format!("expected struct {name}"),
            "expected a mapping of keys",
        );
    }
    // serde_yaml_ng prefixes the key path of the failing node (the parent map for an unknown
    // or duplicate field); strip the longest ancestor of `key` that prefixes the message.
    let mut ancestors = vec![key.clone()];
    let mut k = key.as_str();
    while let Some(i) = k.rfind(['.', '[']) {
        k = &k[..i];
        ancestors.push(k.to_string());
    }
    for a in ancestors.iter().filter(|a| !a.is_empty()) {
        if let Some(rest) = reason.strip_prefix(&format!("{a}: ")) {
            reason = rest.to_string();
            break;
        }
    }
    // For a duplicate (or unknown) field the path may stop at the parent map: add the field.
    for what in ["duplicate field `", "unknown field `"] {
        if let Some(field) = reason
            .strip_prefix(what)
            .and_then(|r| r.split_once('`'))
            .map(|(f, _)| f)
        {
            let last = key.rsplit('.').next().unwrap_or("");
            if last != field {
                key = if key.is_empty() {
                    field.to_string()
                } else {
                    format!("{key}.{field}")
                };
            }
        }
    }
    (key, reason)
}

/// Parses `host:port` (`[v6addr]:port` for IPv6) as `SYNAP_MASTER` carries it.
fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let s = s.trim();
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not host:port (e.g. master.example:15501)"))?;
    let host = if let Some(h) = host.strip_prefix('[') {
        h.strip_suffix(']')
            .ok_or_else(|| format!("{s:?}: unbalanced brackets in host"))?
    } else if host.contains(':') {
        return Err(format!(
            "{s:?}: write an IPv6 address in brackets, e.g. [::1]:15501"
        ));
    } else {
        host
    };
    if host.is_empty() {
        return Err(format!("{s:?}: empty host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok((host.to_string(), p)),
        _ => Err(format!("{s:?}: {port:?} is not a port 1..=65535")),
    }
}

fn check_readable_file(p: &Path) -> Result<(), String> {
    match std::fs::metadata(p) {
        Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
        Ok(m) if !m.is_file() => return Err(format!("{} is not a file", p.display())),
        Ok(_) => {}
    }
    std::fs::File::open(p)
        .map(|_| ())
        .map_err(|e| format!("cannot read {}: {e}", p.display()))
}

impl Config {
    /// Loads the configuration: parses `path` (`None` or an empty file = all defaults), then
    /// applies `SYNAP_ROLE` (`master`|`replica`) and `SYNAP_MASTER` (`host:port`; also sets
    /// `replication.enabled`) read through `env`, then the command-line `overrides`, then
    /// validates the result. Empty environment values are ignored.
    pub fn load(
        path: Option<&Path>,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = match path {
            Some(p) => p.display().to_string(),
            None => DEFAULTS_LABEL.to_string(),
        };
        let mut c = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                    file: file.clone(),
                    key: String::new(),
                    reason: format!("cannot read: {e}"),
                })?;
                Config::from_yaml_str(&text).map_err(|(key, reason)| ConfigError {
                    file: file.clone(),
                    key,
                    reason,
                })?
            }
        };
        let mut origins = Origins {
            file,
            overridden: Vec::new(),
        };

        // Environment.
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let env_err = |key: &str, reason: String| ConfigError {
            file: ENV_LABEL.into(),
            key: key.into(),
            reason,
        };
        if let Some(v) = var("SYNAP_ROLE") {
            c.server.role = Role::parse(&v)
                .ok_or_else(|| env_err("SYNAP_ROLE", format!("{v:?} is not master or replica")))?;
            origins.set("server.role", ENV_LABEL, "SYNAP_ROLE");
        }
        if let Some(v) = var("SYNAP_MASTER") {
            let (host, port) = parse_host_port(&v).map_err(|r| env_err("SYNAP_MASTER", r))?;
            c.replication.master_host = Some(host);
            c.replication.master_port = port;
            c.replication.enabled = true;
            for k in [
                "replication.master_host",
                "replication.master_port",
                "replication.enabled",
            ] {
                origins.set(k, ENV_LABEL, "SYNAP_MASTER");
            }
        }
        if let Some(v) = var("SYNAP_REPLICATION_KEY") {
            c.replication.api_key = Some(Secret(v.trim().to_string()));
            origins.set("replication.api_key", ENV_LABEL, "SYNAP_REPLICATION_KEY");
        }

        // Command line.
        let o = overrides;
        if let Some(b) = &o.bind {
            c.server.host = b.clone();
            origins.set("server.host", CLI_LABEL, "--bind");
        }
        if let Some(p) = o.port {
            c.server.port = p;
            origins.set("server.port", CLI_LABEL, "--port");
        }
        if let Some(p) = o.http_port {
            c.server.http_port = p;
            origins.set("server.http_port", CLI_LABEL, "--http-port");
        }
        if let Some(s) = &o.shards {
            c.server.shards = Shards::parse(s).map_err(|reason| ConfigError {
                file: CLI_LABEL.into(),
                key: "--shards".into(),
                reason,
            })?;
            origins.set("server.shards", CLI_LABEL, "--shards");
        }
        if let Some(d) = &o.data_dir {
            c.persistence.data_dir = d.clone();
            origins.set("persistence.data_dir", CLI_LABEL, "--data-dir");
        }
        if let Some(l) = &o.log_level {
            c.logging.level = l.clone();
            origins.set("logging.level", CLI_LABEL, "--log-level");
        }

        c.logging.level = c.logging.level.trim().to_ascii_lowercase();
        c.validate(&origins)?;
        Ok(c)
    }

    /// Parses YAML text without validating semantics; an error is (dotted key, reason).
    fn from_yaml_str(text: &str) -> Result<Config, (String, String)> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        // An empty document (or only comments, or `~`) deserializes to None: all defaults.
        serde_path_to_error::deserialize::<_, Option<Config>>(de)
            .map(Option::unwrap_or_default)
            .map_err(yaml_error)
    }

    fn validate(&self, o: &Origins) -> Result<(), ConfigError> {
        let s = &self.server;
        let n = &self.network;
        let kv = &self.kv_store;
        let r = &self.replication;

        if s.host.trim().is_empty() || s.host.chars().any(char::is_whitespace) {
            return Err(o.err(
                "server.host",
                format!("{:?} is not an address or host name", s.host),
            ));
        }
        if s.port == 0 {
            return Err(o.err("server.port", "must be 1..=65535".into()));
        }
        if s.http_port == 0 {
            return Err(o.err("server.http_port", "must be 1..=65535".into()));
        }
        if s.http_port == s.port {
            return Err(o.err(
                "server.http_port",
                format!("{} is also server.port: the ports must differ", s.http_port),
            ));
        }
        if r.enabled && s.role == Role::Master {
            if r.listen_port == 0 {
                return Err(o.err("replication.listen_port", "must be 1..=65535".into()));
            }
            if r.listen_port == s.port || r.listen_port == s.http_port {
                let other = if r.listen_port == s.port {
                    "server.port"
                } else {
                    "server.http_port"
                };
                return Err(o.err(
                    "replication.listen_port",
                    format!("{} is also {other}: the ports must differ", r.listen_port),
                ));
            }
        }
        if s.role == Role::Replica {
            match &r.master_host {
                None => {
                    return Err(o.err(
                        "replication.master_host",
                        "required when server.role is replica (or set SYNAP_MASTER=host:port)"
                            .into(),
                    ))
                }
                Some(h) if h.trim().is_empty() || h.chars().any(char::is_whitespace) => {
                    return Err(o.err(
                        "replication.master_host",
                        format!("{h:?} is not an address or host name"),
                    ))
                }
                Some(_) => {}
            }
            if r.master_port == 0 {
                return Err(o.err("replication.master_port", "must be 1..=65535".into()));
            }
            if !r.enabled {
                return Err(o.err(
                    "replication.enabled",
                    "must be true when server.role is replica".into(),
                ));
            }
        }
        if r.tls {
            let ca = r.tls_ca_path.as_ref().or(s.tls.ca_path.as_ref());
            match ca {
                Some(p) => {
                    check_readable_file(p).map_err(|e| o.err("replication.tls_ca_path", e))?
                }
                None if !r.tls_insecure => return Err(o.err(
                    "replication.tls_ca_path",
                    "required with replication.tls (or server.tls.ca_path, or tls_insecure: true)"
                        .into(),
                )),
                None => {}
            }
            match (&r.tls_cert_path, &r.tls_key_path) {
                (Some(c), Some(k)) => {
                    check_readable_file(c).map_err(|e| o.err("replication.tls_cert_path", e))?;
                    check_readable_file(k).map_err(|e| o.err("replication.tls_key_path", e))?;
                }
                (None, None) => {}
                (Some(_), None) => {
                    return Err(o.err(
                        "replication.tls_key_path",
                        "required with replication.tls_cert_path".into(),
                    ))
                }
                (None, Some(_)) => {
                    return Err(o.err(
                        "replication.tls_cert_path",
                        "required with replication.tls_key_path".into(),
                    ))
                }
            }
        }
        if r.api_key
            .as_ref()
            .is_some_and(|k| k.0.trim().is_empty() || k.0.contains(char::is_whitespace))
        {
            return Err(o.err(
                "replication.api_key",
                "must be a key without spaces (synap_…)".into(),
            ));
        }
        if s.tls.enabled {
            for (key, p) in [
                ("server.tls.cert_path", &s.tls.cert_path),
                ("server.tls.key_path", &s.tls.key_path),
            ] {
                match p {
                    None => {
                        return Err(o.err(key, "required when server.tls.enabled is true".into()))
                    }
                    Some(p) => check_readable_file(p).map_err(|e| o.err(key, e))?,
                }
            }
            if let Some(p) = &s.tls.ca_path {
                check_readable_file(p).map_err(|e| o.err("server.tls.ca_path", e))?;
            }
        } else if s.tls.http {
            return Err(o.err(
                "server.tls.http",
                "needs server.tls.enabled: true (and its certificate)".into(),
            ));
        }

        if n.maxclients == 0 {
            return Err(o.err("network.maxclients", "must be at least 1".into()));
        }
        if n.tcp_backlog == 0 || n.tcp_backlog > i32::MAX as u32 {
            return Err(o.err("network.tcp_backlog", "must be 1..=2147483647".into()));
        }
        if n.tcp_keepalive > 32767 {
            return Err(o.err(
                "network.tcp_keepalive",
                "must be 0..=32767 seconds (the kernel's limit; 0 = off)".into(),
            ));
        }
        if n.timeout > i32::MAX as u64 {
            return Err(o.err(
                "network.timeout",
                "must be 0..=2147483647 seconds (0 = never)".into(),
            ));
        }
        let mb = 1024 * 1024;
        if n.proto_max_bulk_len.0 < mb {
            return Err(o.err("network.proto_max_bulk_len", "must be at least 1mb".into()));
        }
        if n.client_query_buffer_limit.0 < mb {
            return Err(o.err(
                "network.client_query_buffer_limit",
                "must be at least 1mb".into(),
            ));
        }
        if n.max_multibulk_len == 0 {
            return Err(o.err("network.max_multibulk_len", "must be at least 1".into()));
        }
        if n.max_inline_len < 1024 {
            return Err(o.err("network.max_inline_len", "must be at least 1024".into()));
        }
        if n.http_max_body.0 < 1024 {
            return Err(o.err("network.http_max_body", "must be at least 1kb".into()));
        }

        if !(1..=500).contains(&kv.active_expire_hz) {
            return Err(o.err("kv_store.active_expire_hz", "must be 1..=500".into()));
        }
        if !(1..=10).contains(&kv.active_expire_effort) {
            return Err(o.err("kv_store.active_expire_effort", "must be 1..=10".into()));
        }

        let int_max = i32::MAX as usize;
        if kv.hash_max_listpack_entries > int_max {
            return Err(o.err(
                "kv_store.hash_max_listpack_entries",
                "must be 0..=2147483647".into(),
            ));
        }
        if kv.hash_max_listpack_value > int_max {
            return Err(o.err(
                "kv_store.hash_max_listpack_value",
                "must be 0..=2147483647".into(),
            ));
        }
        for (key, v) in [
            ("kv_store.set_max_intset_entries", kv.set_max_intset_entries),
            (
                "kv_store.set_max_listpack_entries",
                kv.set_max_listpack_entries,
            ),
            ("kv_store.set_max_listpack_value", kv.set_max_listpack_value),
        ] {
            if v > int_max {
                return Err(o.err(key, "must be 0..=2147483647".into()));
            }
        }
        if kv.zset_max_listpack_entries > int_max {
            return Err(o.err(
                "kv_store.zset_max_listpack_entries",
                "must be 0..=2147483647".into(),
            ));
        }
        if kv.zset_max_listpack_value > int_max {
            return Err(o.err(
                "kv_store.zset_max_listpack_value",
                "must be 0..=2147483647".into(),
            ));
        }

        if kv.list_max_listpack_size < i32::MIN as i64 || kv.list_max_listpack_size > int_max as i64
        {
            return Err(o.err(
                "kv_store.list_max_listpack_size",
                "must be -2147483648..=2147483647".into(),
            ));
        }

        if self.persistence.data_dir.as_os_str().is_empty() {
            return Err(o.err("persistence.data_dir", "must not be empty".into()));
        }

        if r.backlog_size.0 < 16 * 1024 {
            return Err(o.err("replication.backlog_size", "must be at least 16kb".into()));
        }
        if r.max_replica_buffer.0 < mb {
            return Err(o.err(
                "replication.max_replica_buffer",
                "must be at least 1mb".into(),
            ));
        }

        if !LOG_LEVELS.contains(&self.logging.level.as_str()) {
            return Err(o.err(
                "logging.level",
                format!(
                    "{:?} is not one of {}",
                    self.logging.level,
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// The number of shards to run given `cpus_available` (the CPUs in the affinity mask):
    /// `auto` = `cpus_available` (at least 1), otherwise the configured count.
    pub fn effective_shards(&self, cpus_available: usize) -> usize {
        match self.server.shards {
            Shards::Auto => cpus_available.max(1),
            Shards::Count(n) => n,
        }
    }

    /// The configuration under Redis's parameter names, for CONFIG GET (values as Redis
    /// renders them: sizes in bytes, booleans `yes`/`no`).
    pub fn render_for_config_get(&self) -> Vec<(String, String)> {
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        let save = self
            .persistence
            .save
            .iter()
            .map(SaveRule::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let replicaof = match (&self.server.role, &self.replication.master_host) {
            (Role::Replica, Some(h)) => format!("{h} {}", self.replication.master_port),
            _ => String::new(),
        };
        let v: Vec<(&str, String)> = vec![
            ("bind", self.server.host.clone()),
            ("port", self.server.port.to_string()),
            ("databases", "1".into()),
            ("maxclients", self.network.maxclients.to_string()),
            ("tcp-backlog", self.network.tcp_backlog.to_string()),
            ("tcp-keepalive", self.network.tcp_keepalive.to_string()),
            ("timeout", self.network.timeout.to_string()),
            (
                "proto-max-bulk-len",
                self.network.proto_max_bulk_len.to_string(),
            ),
            (
                "client-query-buffer-limit",
                self.network.client_query_buffer_limit.to_string(),
            ),
            ("protected-mode", yn(self.network.protected_mode)),
            ("maxmemory", self.kv_store.maxmemory.to_string()),
            (
                "maxmemory-policy",
                self.kv_store.maxmemory_policy.as_str().into(),
            ),
            ("hz", self.kv_store.active_expire_hz.to_string()),
            (
                "active-expire-effort",
                self.kv_store.active_expire_effort.to_string(),
            ),
            (
                "hash-max-listpack-entries",
                self.kv_store.hash_max_listpack_entries.to_string(),
            ),
            (
                "hash-max-listpack-value",
                self.kv_store.hash_max_listpack_value.to_string(),
            ),
            (
                "zset-max-listpack-entries",
                self.kv_store.zset_max_listpack_entries.to_string(),
            ),
            (
                "zset-max-listpack-value",
                self.kv_store.zset_max_listpack_value.to_string(),
            ),
            (
                "set-max-intset-entries",
                self.kv_store.set_max_intset_entries.to_string(),
            ),
            (
                "set-max-listpack-entries",
                self.kv_store.set_max_listpack_entries.to_string(),
            ),
            (
                "set-max-listpack-value",
                self.kv_store.set_max_listpack_value.to_string(),
            ),
            (
                "list-max-listpack-size",
                self.kv_store.list_max_listpack_size.to_string(),
            ),
            ("appendonly", yn(self.persistence.enabled)),
            ("appendfsync", self.persistence.appendfsync.as_str().into()),
            (
                "aof-load-truncated",
                yn(self.persistence.aof_load_truncated),
            ),
            (
                "auto-aof-rewrite-percentage",
                self.persistence.aof_rewrite_percentage.to_string(),
            ),
            (
                "auto-aof-rewrite-min-size",
                self.persistence.aof_rewrite_min_size.to_string(),
            ),
            ("dir", self.persistence.data_dir.display().to_string()),
            ("save", save),
            ("replicaof", replicaof),
            ("replica-read-only", yn(self.replication.replica_read_only)),
            (
                "repl-backlog-size",
                self.replication.backlog_size.to_string(),
            ),
        ];
        v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests;
