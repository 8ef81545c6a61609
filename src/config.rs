//! Configuration: the YAML file, environment overrides (`SYNAP_ROLE`, `SYNAP_MASTER`) and
//! command-line overrides, in that order of precedence (command line wins). Unknown keys and
//! bad values stop start-up with the file, the key and the reason.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration error: where, which key, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<command line>` / `<environment>`).
    pub file: String,
    /// Dotted key, e.g. `server.port`.
    pub key: String,
    /// What is wrong.
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

/// A byte size: an integer, or a string with a unit as Redis accepts ("512mb", "1gb", "64k").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => crate::settings::parse_memory(&s).map(Size).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid size {s:?} (use bytes or a unit: 64kb, 512mb, 1gb)"
                ))
            }),
        }
    }
}

/// `server.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts writes.
    #[default]
    Master,
    /// Follows a master, read-only.
    Replica,
}

/// `server.shards`: "auto" (one per CPU of the affinity mask) or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shards {
    /// One shard per CPU.
    #[default]
    Auto,
    /// This many shards.
    Count(usize),
}

impl<'de> Deserialize<'de> for Shards {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shards, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) if s == "auto" => Ok(Shards::Auto),
            Raw::S(s) => parse_shards(&s).map_err(serde::de::Error::custom),
            Raw::N(n) => parse_shards(&n.to_string()).map_err(serde::de::Error::custom),
        }
    }
}

fn parse_shards(s: &str) -> Result<Shards, String> {
    if s == "auto" {
        return Ok(Shards::Auto);
    }
    match s.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(Shards::Count(n)),
        _ => Err(format!(
            "invalid shard count {s:?}: expected \"auto\" or 1..=1024"
        )),
    }
}

/// TLS settings (`server.tls`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Serve TLS on the RESP port.
    pub enabled: bool,
    /// PEM certificate chain.
    pub cert_path: Option<PathBuf>,
    /// PEM private key.
    pub key_path: Option<PathBuf>,
    /// CA for client certificates (optional).
    pub ca_path: Option<PathBuf>,
}

/// `server`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// master | replica.
    pub role: Role,
    /// Address to bind.
    pub host: String,
    /// RESP port.
    pub port: u16,
    /// HTTP port.
    pub http_port: u16,
    /// Shard count.
    pub shards: Shards,
    /// TLS.
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

/// `network`: limits and socket settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Most concurrent RESP clients.
    pub maxclients: u64,
    /// listen() backlog.
    pub tcp_backlog: u32,
    /// TCP keepalive, seconds (0 = off).
    pub tcp_keepalive: u64,
    /// Close clients idle this many seconds (0 = never).
    pub timeout: u64,
    /// Largest bulk string.
    pub proto_max_bulk_len: Size,
    /// Most arguments in one command.
    pub max_multibulk_len: usize,
    /// Longest inline command.
    pub max_inline_len: usize,
    /// Largest query buffer of one client.
    pub client_query_buffer_limit: Size,
    /// Largest HTTP body.
    pub http_max_body: Size,
    /// Refuse remote clients when bound to a public address without API keys.
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

/// `kv_store.maxmemory_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionPolicy {
    /// Refuse writes over maxmemory.
    #[default]
    Noeviction,
}

impl EvictionPolicy {
    /// Redis's name.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::Noeviction => "noeviction",
        }
    }
}

/// `kv_store`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KvConfig {
    /// Memory limit for the whole server, split evenly over shards (0 = none).
    pub maxmemory: u64,
    /// What happens over the limit.
    pub maxmemory_policy: EvictionPolicy,
    /// Active expiry cycles per second.
    pub active_expire_hz: u32,
    /// Active expiry effort, 1..=10.
    pub active_expire_effort: u32,
    /// Hashes with more fields than this use a hash table instead of the packed encoding.
    pub hash_max_listpack_entries: usize,
    /// Hashes with a field or value longer than this use a hash table.
    pub hash_max_listpack_value: usize,
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
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct KvConfigRaw {
    maxmemory: Size,
    maxmemory_policy: EvictionPolicy,
    active_expire_hz: u32,
    active_expire_effort: u32,
    hash_max_listpack_entries: usize,
    hash_max_listpack_value: usize,
}

impl Default for KvConfigRaw {
    fn default() -> Self {
        let d = KvConfig::default();
        KvConfigRaw {
            maxmemory: Size(d.maxmemory),
            maxmemory_policy: d.maxmemory_policy,
            active_expire_hz: d.active_expire_hz,
            active_expire_effort: d.active_expire_effort,
            hash_max_listpack_entries: d.hash_max_listpack_entries,
            hash_max_listpack_value: d.hash_max_listpack_value,
        }
    }
}

/// `persistence.appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// After every batch (group commit).
    Always,
    /// Once a second.
    #[default]
    Everysec,
    /// Left to the OS.
    No,
}

/// `persistence` (durability lands with its own issue; the keys are accepted and validated now).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersistenceConfig {
    /// Keep an AOF per shard.
    pub enabled: bool,
    /// Where shards keep their files.
    pub data_dir: PathBuf,
    /// always | everysec | no.
    pub appendfsync: Fsync,
    /// Truncate a torn AOF tail at load.
    pub aof_load_truncated: bool,
    /// Snapshot rules, "SECONDS CHANGES".
    pub save: Vec<String>,
}

impl Default for PersistenceConfig {
    fn default() -> Self {
        PersistenceConfig {
            enabled: false,
            data_dir: PathBuf::from("./synap-data"),
            appendfsync: Fsync::Everysec,
            aof_load_truncated: true,
            save: Vec::new(),
        }
    }
}

/// `replication`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationConfig {
    /// Serve/follow a replication stream.
    pub enabled: bool,
    /// Port the master serves replication on.
    pub listen_port: u16,
    /// Master host (replicas).
    pub master_host: Option<String>,
    /// Master replication port (replicas).
    pub master_port: u16,
    /// Backlog per shard.
    pub backlog_size: Size,
    /// Replicas refuse writes.
    pub replica_read_only: bool,
    /// Output buffer limit per replica.
    pub max_replica_buffer: Size,
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
        }
    }
}

/// `logging`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// trace | debug | info | warn | error.
    pub level: String,
    /// text | json.
    pub format: LogFormat,
}

/// `logging.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    server: ServerConfig,
    network: NetworkConfig,
    kv_store: KvConfigRaw,
    persistence: PersistenceConfig,
    replication: ReplicationConfig,
    logging: LoggingConfig,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `server`.
    pub server: ServerConfig,
    /// `network`.
    pub network: NetworkConfig,
    /// `kv_store`.
    pub kv_store: KvConfig,
    /// `persistence`.
    pub persistence: PersistenceConfig,
    /// `replication`.
    pub replication: ReplicationConfig,
    /// `logging`.
    pub logging: LoggingConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_raw(Raw::default())
    }
}

/// Command-line overrides.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--bind`.
    pub bind: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--http-port`.
    pub http_port: Option<u16>,
    /// `--shards`.
    pub shards: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-level`.
    pub log_level: Option<String>,
}

/// The command line of `synap-server`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "synap-server",
    version,
    about = "Synap in-memory data server (Redis protocol and HTTP/JSON)"
)]
pub struct Cli {
    /// YAML configuration file (built-in defaults without it).
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to bind (overrides server.host).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// RESP port (overrides server.port).
    #[arg(long)]
    pub port: Option<u16>,
    /// HTTP port (overrides server.http_port).
    #[arg(long)]
    pub http_port: Option<u16>,
    /// Shards: "auto" or a number (overrides server.shards).
    #[arg(long)]
    pub shards: Option<String>,
    /// Data directory (overrides persistence.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log level (overrides logging.level).
    #[arg(long)]
    pub log_level: Option<String>,
    /// Validate the configuration and exit.
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

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

impl Config {
    fn from_raw(r: Raw) -> Config {
        Config {
            server: r.server,
            network: r.network,
            kv_store: KvConfig {
                maxmemory: r.kv_store.maxmemory.0,
                maxmemory_policy: r.kv_store.maxmemory_policy,
                active_expire_hz: r.kv_store.active_expire_hz,
                active_expire_effort: r.kv_store.active_expire_effort,
                hash_max_listpack_entries: r.kv_store.hash_max_listpack_entries,
                hash_max_listpack_value: r.kv_store.hash_max_listpack_value,
            },
            persistence: r.persistence,
            replication: r.replication,
            logging: r.logging,
        }
    }

    /// Loads `path` (defaults when None), applies the environment and the overrides, validates.
    pub fn load(
        path: Option<&Path>,
        ov: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<defaults>".into());
        let raw: Raw = match path {
            None => Raw::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                    file: file.clone(),
                    key: String::new(),
                    reason: format!("cannot read: {e}"),
                })?;
                if text.trim().is_empty() {
                    Raw::default()
                } else {
                    let de = serde_yaml_ng::Deserializer::from_str(&text);
                    serde_path_to_error::deserialize(de).map_err(|e| {
                        let key = e.path().to_string();
                        ConfigError {
                            file: file.clone(),
                            key: if key == "." { String::new() } else { key },
                            reason: e.into_inner().to_string(),
                        }
                    })?
                }
            }
        };
        let mut c = Config::from_raw(raw);
        let env_err = |key: &str, reason: String| ConfigError {
            file: "<environment>".into(),
            key: key.into(),
            reason,
        };
        if let Some(role) = env("SYNAP_ROLE") {
            c.server.role = match role.to_ascii_lowercase().as_str() {
                "master" => Role::Master,
                "replica" => Role::Replica,
                _ => {
                    return Err(env_err(
                        "SYNAP_ROLE",
                        format!("{role:?} is not master or replica"),
                    ))
                }
            };
        }
        if let Some(m) = env("SYNAP_MASTER") {
            let (h, p) = m
                .rsplit_once(':')
                .ok_or_else(|| env_err("SYNAP_MASTER", format!("{m:?} is not host:port")))?;
            let port: u16 = p
                .parse()
                .map_err(|_| env_err("SYNAP_MASTER", format!("{p:?} is not a port")))?;
            if h.is_empty() {
                return Err(env_err("SYNAP_MASTER", "empty host".into()));
            }
            c.replication.master_host = Some(h.to_string());
            c.replication.master_port = port;
            c.replication.enabled = true;
        }
        let cli_err = |key: &str, reason: String| ConfigError {
            file: "<command line>".into(),
            key: key.into(),
            reason,
        };
        if let Some(b) = &ov.bind {
            c.server.host = b.clone();
        }
        if let Some(p) = ov.port {
            c.server.port = p;
        }
        if let Some(p) = ov.http_port {
            c.server.http_port = p;
        }
        if let Some(s) = &ov.shards {
            c.server.shards = parse_shards(s).map_err(|e| cli_err("--shards", e))?;
        }
        if let Some(d) = &ov.data_dir {
            c.persistence.data_dir = d.clone();
        }
        if let Some(l) = &ov.log_level {
            c.logging.level = l.clone();
        }
        c.validate(&file)?;
        Ok(c)
    }

    fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| {
            Err(ConfigError {
                file: file.to_string(),
                key: key.into(),
                reason,
            })
        };
        if self.server.host.is_empty() {
            return err("server.host", "must not be empty".into());
        }
        if self.server.port == 0 {
            return err("server.port", "must be 1..=65535".into());
        }
        if self.server.http_port == 0 {
            return err("server.http_port", "must be 1..=65535".into());
        }
        if self.server.port == self.server.http_port {
            return err(
                "server.http_port",
                format!("must differ from server.port ({})", self.server.port),
            );
        }
        if self.replication.enabled
            && self.server.role == Role::Master
            && [self.server.port, self.server.http_port].contains(&self.replication.listen_port)
        {
            return err(
                "replication.listen_port",
                "must differ from server.port and server.http_port".into(),
            );
        }
        if self.server.role == Role::Replica && self.replication.master_host.is_none() {
            return err(
                "replication.master_host",
                "a replica needs a master (or set SYNAP_MASTER=host:port)".into(),
            );
        }
        if self.server.tls.enabled {
            for (key, p) in [
                ("server.tls.cert_path", &self.server.tls.cert_path),
                ("server.tls.key_path", &self.server.tls.key_path),
            ] {
                match p {
                    None => return err(key, "required when server.tls.enabled is true".into()),
                    Some(p) if std::fs::metadata(p).is_err() => {
                        return err(key, format!("cannot read {}", p.display()))
                    }
                    _ => {}
                }
            }
        }
        if self.network.maxclients == 0 {
            return err("network.maxclients", "must be at least 1".into());
        }
        if self.network.proto_max_bulk_len.0 < 1024 * 1024 {
            return err("network.proto_max_bulk_len", "must be at least 1mb".into());
        }
        if self.network.max_multibulk_len == 0 {
            return err("network.max_multibulk_len", "must be at least 1".into());
        }
        if self.network.max_inline_len < 1024 {
            return err("network.max_inline_len", "must be at least 1024".into());
        }
        if !(1..=500).contains(&self.kv_store.active_expire_hz) {
            return err("kv_store.active_expire_hz", "must be 1..=500".into());
        }
        if !(1..=10).contains(&self.kv_store.active_expire_effort) {
            return err("kv_store.active_expire_effort", "must be 1..=10".into());
        }
        if !LEVELS.contains(&self.logging.level.as_str()) {
            return err(
                "logging.level",
                format!(
                    "{:?} is not one of {}",
                    self.logging.level,
                    LEVELS.join(", ")
                ),
            );
        }
        for (i, rule) in self.persistence.save.iter().enumerate() {
            let parts: Vec<&str> = rule.split_whitespace().collect();
            if parts.len() != 2 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return err(
                    &format!("persistence.save[{i}]"),
                    format!("{rule:?} is not \"SECONDS CHANGES\""),
                );
            }
        }
        Ok(())
    }

    /// The shard count for `cpus` available CPUs.
    pub fn effective_shards(&self, cpus: usize) -> usize {
        match self.server.shards {
            Shards::Auto => cpus.max(1),
            Shards::Count(n) => n,
        }
    }

    /// Parameters as CONFIG GET names them.
    pub fn render_for_config_get(&self) -> Vec<(String, String)> {
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            ("bind".into(), self.server.host.clone()),
            ("port".into(), self.server.port.to_string()),
            ("databases".into(), "1".into()),
            ("maxclients".into(), self.network.maxclients.to_string()),
            ("tcp-backlog".into(), self.network.tcp_backlog.to_string()),
            (
                "tcp-keepalive".into(),
                self.network.tcp_keepalive.to_string(),
            ),
            ("timeout".into(), self.network.timeout.to_string()),
            (
                "proto-max-bulk-len".into(),
                self.network.proto_max_bulk_len.0.to_string(),
            ),
            (
                "client-query-buffer-limit".into(),
                self.network.client_query_buffer_limit.0.to_string(),
            ),
            ("protected-mode".into(), yn(self.network.protected_mode)),
            ("maxmemory".into(), self.kv_store.maxmemory.to_string()),
            (
                "maxmemory-policy".into(),
                self.kv_store.maxmemory_policy.as_str().into(),
            ),
            ("hz".into(), self.kv_store.active_expire_hz.to_string()),
            (
                "active-expire-effort".into(),
                self.kv_store.active_expire_effort.to_string(),
            ),
            ("appendonly".into(), yn(self.persistence.enabled)),
            (
                "appendfsync".into(),
                match self.persistence.appendfsync {
                    Fsync::Always => "always",
                    Fsync::Everysec => "everysec",
                    Fsync::No => "no",
                }
                .into(),
            ),
            (
                "dir".into(),
                self.persistence.data_dir.display().to_string(),
            ),
            ("save".into(), self.persistence.save.join(" ")),
            (
                "replica-read-only".into(),
                yn(self.replication.replica_read_only),
            ),
            (
                "repl-backlog-size".into(),
                self.replication.backlog_size.0.to_string(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(
        text: &str,
        ov: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(text.as_bytes()).expect("write");
        Config::load(Some(f.path()), ov, env)
    }
    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults() {
        let c = Config::load(None, &Overrides::default(), &no_env).expect("ok");
        assert_eq!(c.server.host, "127.0.0.1");
        assert_eq!(c.server.port, 6379);
        assert_eq!(c.server.http_port, 15500);
        assert_eq!(c.server.shards, Shards::Auto);
        assert_eq!(c.effective_shards(3), 3);
    }

    #[test]
    fn sizes_and_sections() {
        let c = load_text("network:\n  proto_max_bulk_len: 64mb\n  client_query_buffer_limit: 2gb\nkv_store:\n  maxmemory: 100mb\n", &Overrides::default(), &no_env).expect("ok");
        assert_eq!(c.network.proto_max_bulk_len.0, 64 << 20);
        assert_eq!(c.network.client_query_buffer_limit.0, 2 << 30);
        assert_eq!(c.kv_store.maxmemory, 100 << 20);
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let e = load_text("server:\n  prot: 1\n", &Overrides::default(), &no_env)
            .expect_err("must fail");
        assert!(e.file.contains("tmp"), "{e}");
        assert!(e.key.starts_with("server"), "{e}");
        assert!(e.reason.contains("unknown field `prot`"), "{e}");
    }

    #[test]
    fn bad_values() {
        let e = load_text("server:\n  port: 70000\n", &Overrides::default(), &no_env)
            .expect_err("fail");
        assert_eq!(e.key, "server.port", "{e}");
        let e = load_text(
            "persistence:\n  appendfsync: sometimes\n",
            &Overrides::default(),
            &no_env,
        )
        .expect_err("fail");
        assert_eq!(e.key, "persistence.appendfsync", "{e}");
        let e = load_text(
            "network:\n  proto_max_bulk_len: 12zb\n",
            &Overrides::default(),
            &no_env,
        )
        .expect_err("fail");
        assert_eq!(e.key, "network.proto_max_bulk_len", "{e}");
        let e = load_text("server: [1\n", &Overrides::default(), &no_env).expect_err("fail");
        assert!(e.reason.contains("line"), "{e}");
        let e = load_text(
            "server:\n  port: 7000\n  http_port: 7000\n",
            &Overrides::default(),
            &no_env,
        )
        .expect_err("fail");
        assert_eq!(e.key, "server.http_port");
    }

    #[test]
    fn env_and_cli_precedence() {
        let env = |k: &str| match k {
            "SYNAP_ROLE" => Some("replica".to_string()),
            "SYNAP_MASTER" => Some("m.example:15501".to_string()),
            _ => None,
        };
        let ov = Overrides {
            port: Some(7001),
            shards: Some("3".into()),
            ..Default::default()
        };
        let c = load_text("server:\n  port: 7000\n", &ov, &env).expect("ok");
        assert_eq!(c.server.role, Role::Replica);
        assert_eq!(c.replication.master_host.as_deref(), Some("m.example"));
        assert_eq!(c.server.port, 7001);
        assert_eq!(c.server.shards, Shards::Count(3));
        let e = load_text("server:\n  role: replica\n", &Overrides::default(), &no_env)
            .expect_err("fail");
        assert_eq!(e.key, "replication.master_host");
        let bad = Overrides {
            shards: Some("zero".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(None, &bad, &no_env).expect_err("fail").file,
            "<command line>"
        );
    }
}
