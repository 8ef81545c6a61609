//! Tests of the configuration loader.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary file removed on drop (std only: no tempfile dependency).
struct Tmp(PathBuf);
impl Tmp {
    fn new(text: &str) -> Tmp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "synap-config-test-{}-{}.yml",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, text).expect("write temp file");
        Tmp(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn load_with(
    text: &str,
    ov: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let f = Tmp::new(text);
    Config::load(Some(f.path()), ov, env)
}

fn load(text: &str) -> Result<Config, ConfigError> {
    load_with(text, &Overrides::default(), &no_env)
}

fn fail(text: &str) -> ConfigError {
    match load(text) {
        Ok(c) => panic!("expected an error for {text:?}, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_everywhere() {
    let c = Config::load(None, &Overrides::default(), &no_env).expect("defaults");
    assert_eq!(c, Config::default());
    assert_eq!(c.server.role, Role::Master);
    assert_eq!(c.server.host, "127.0.0.1");
    assert_eq!(c.server.port, 6379);
    assert_eq!(c.server.http_port, 15500);
    assert_eq!(c.server.shards, Shards::Auto);
    assert!(!c.server.tls.enabled);
    assert_eq!(c.network.maxclients, 10_000);
    assert_eq!(c.network.tcp_backlog, 511);
    assert_eq!(c.network.tcp_keepalive, 300);
    assert_eq!(c.network.timeout, 0);
    assert_eq!(c.network.proto_max_bulk_len, Size(512 << 20));
    assert_eq!(c.network.max_multibulk_len, 1_048_576);
    assert_eq!(c.network.max_inline_len, 65_536);
    assert_eq!(c.network.client_query_buffer_limit, Size(1 << 30));
    assert_eq!(c.network.http_max_body, Size(16 << 20));
    assert!(c.network.protected_mode);
    assert_eq!(c.kv_store.maxmemory, 0);
    assert_eq!(c.kv_store.maxmemory_policy, EvictionPolicy::Noeviction);
    assert_eq!(c.kv_store.active_expire_hz, 10);
    assert_eq!(c.kv_store.active_expire_effort, 1);
    assert_eq!(c.kv_store.hash_max_listpack_entries, 128);
    assert_eq!(c.kv_store.hash_max_listpack_value, 64);
    assert_eq!(c.kv_store.zset_max_listpack_entries, 128);
    assert_eq!(c.kv_store.zset_max_listpack_value, 64);
    assert_eq!(c.kv_store.list_max_listpack_size, -2);
    assert!(!c.persistence.enabled);
    assert_eq!(c.persistence.data_dir, PathBuf::from("./synap-data"));
    assert_eq!(c.persistence.appendfsync, Fsync::Everysec);
    assert!(c.persistence.aof_load_truncated);
    assert!(c.persistence.save.is_empty());
    assert!(!c.replication.enabled);
    assert_eq!(c.replication.listen_port, 15501);
    assert_eq!(c.replication.master_host, None);
    assert_eq!(c.replication.master_port, 15501);
    assert_eq!(c.replication.backlog_size, Size(64 << 20));
    assert!(c.replication.replica_read_only);
    assert_eq!(c.replication.max_replica_buffer, Size(256 << 20));
    assert_eq!(c.logging.level, "info");
    assert_eq!(c.logging.format, LogFormat::Text);
}

#[test]
fn empty_file_comments_only_and_empty_sections_are_defaults() {
    for text in [
        "",
        "\n\n",
        "# nothing here\n",
        "~\n",
        "server:\nnetwork:\nlogging:\n",
    ] {
        assert_eq!(load(text).expect(text), Config::default(), "{text:?}");
    }
    let c = load("server:\n  port: 7000\n").expect("partial section");
    assert_eq!(c.server.port, 7000);
    assert_eq!(c.server.http_port, 15500);
    assert_eq!(c.network, NetworkConfig::default());
}

#[test]
fn every_size_form() {
    let cases: [(&str, u64); 20] = [
        ("0", 0),
        ("100", 100),
        ("100b", 100),
        ("100B", 100),
        ("64k", 64_000),
        ("64K", 64_000),
        ("64kb", 65_536),
        ("64KB", 65_536),
        ("64Kb", 65_536),
        ("5m", 5_000_000),
        ("5mb", 5 << 20),
        ("512MB", 512 << 20),
        ("1g", 1_000_000_000),
        ("1gb", 1 << 30),
        ("2GB", 2 << 30),
        (" 3mb ", 3 << 20),
        ("16gb", 16 << 30),
        ("1024", 1024),
        ("18446744073709551615", u64::MAX),
        ("17179869183gb", 17_179_869_183 << 30),
    ];
    for (s, want) in cases {
        assert_eq!(parse_size(s), Ok(want), "{s:?}");
    }
    for s in [
        "",
        "mb",
        "1.5gb",
        "-1",
        "1 mb",
        "3 apples",
        "1tb",
        "1kbb",
        "18446744073709551616",
        "18446744073709551615kb",
    ] {
        assert!(parse_size(s).is_err(), "{s:?} should be rejected");
    }
    // Through YAML: integers, plain strings, quoted strings, every size-typed key.
    let c = load(
        "network:\n  proto_max_bulk_len: 64mb\n  client_query_buffer_limit: \"2GB\"\n  http_max_body: 1048576\n\
         kv_store:\n  maxmemory: 100mb\n\
         replication:\n  backlog_size: 1g\n  max_replica_buffer: 512m\n",
    )
    .expect("sizes");
    assert_eq!(c.network.proto_max_bulk_len, Size(64 << 20));
    assert_eq!(c.network.client_query_buffer_limit, Size(2 << 30));
    assert_eq!(c.network.http_max_body, Size(1 << 20));
    assert_eq!(c.kv_store.maxmemory, 100 << 20);
    assert_eq!(c.replication.backlog_size, Size(1_000_000_000));
    assert_eq!(c.replication.max_replica_buffer, Size(512_000_000));
    assert_eq!(
        load("kv_store:\n  maxmemory: \"0\"\n")
            .expect("0")
            .kv_store
            .maxmemory,
        0
    );
}

#[test]
fn bad_sizes_name_key_and_reason() {
    let e = fail("kv_store:\n  maxmemory: 3 apples\n");
    assert_eq!(e.key, "kv_store.maxmemory", "{e}");
    assert!(e.reason.contains("invalid size \"3 apples\""), "{e}");
    assert!(e.reason.contains("line 2"), "{e}");
    let e = fail("network:\n  proto_max_bulk_len: -5\n");
    assert_eq!(e.key, "network.proto_max_bulk_len", "{e}");
    assert!(e.reason.contains("negative"), "{e}");
    let e = fail("network:\n  http_max_body: 1.5\n");
    assert_eq!(e.key, "network.http_max_body", "{e}");
    let e = fail("replication:\n  backlog_size: [1]\n");
    assert_eq!(e.key, "replication.backlog_size", "{e}");
    assert!(e.reason.contains("a size"), "{e}");
}

#[test]
fn full_file_parses() {
    let c = load(
        "server:\n  role: master\n  host: 0.0.0.0\n  port: 7000\n  http_port: 7001\n  shards: 4\n\
         network:\n  maxclients: 50\n  tcp_backlog: 128\n  tcp_keepalive: 60\n  timeout: 30\n  max_multibulk_len: 1000\n  max_inline_len: 4096\n  protected_mode: false\n\
         kv_store:\n  maxmemory_policy: allkeys-lru\n  active_expire_hz: 100\n  active_expire_effort: 5\n  hash_max_listpack_entries: 512\n  hash_max_listpack_value: 1kb\n\
         persistence:\n  enabled: true\n  data_dir: /var/lib/synap\n  appendfsync: no\n  aof_load_truncated: false\n  save: [\"3600 1\", \"300 100\"]\n\
         replication:\n  enabled: true\n  listen_port: 7002\n  replica_read_only: false\n\
         logging:\n  level: DEBUG\n  format: json\n",
    )
    .expect("full");
    assert_eq!(c.server.host, "0.0.0.0");
    assert_eq!(c.server.shards, Shards::Count(4));
    assert_eq!(c.effective_shards(16), 4);
    assert_eq!(c.network.maxclients, 50);
    assert!(!c.network.protected_mode);
    assert_eq!(c.kv_store.maxmemory_policy, EvictionPolicy::AllkeysLru);
    assert_eq!(c.kv_store.hash_max_listpack_entries, 512);
    assert_eq!(c.kv_store.hash_max_listpack_value, 1024);
    assert_eq!(c.persistence.appendfsync, Fsync::No);
    assert_eq!(
        c.persistence.save,
        vec![
            SaveRule {
                seconds: 3600,
                changes: 1
            },
            SaveRule {
                seconds: 300,
                changes: 100
            }
        ]
    );
    assert_eq!(c.replication.listen_port, 7002);
    assert_eq!(c.logging.level, "debug");
    assert_eq!(c.logging.format, LogFormat::Json);
}

#[test]
fn every_eviction_policy_and_fsync() {
    for p in [
        "noeviction",
        "allkeys-lru",
        "allkeys-random",
        "volatile-lru",
        "volatile-random",
        "volatile-ttl",
    ] {
        let c = load(&format!("kv_store:\n  maxmemory_policy: {p}\n")).expect(p);
        assert_eq!(c.kv_store.maxmemory_policy.as_str(), p);
        assert_eq!(
            EvictionPolicy::parse(&p.to_uppercase()),
            Some(c.kv_store.maxmemory_policy)
        );
    }
    for f in ["always", "everysec", "no"] {
        let c = load(&format!("persistence:\n  appendfsync: {f}\n")).expect(f);
        assert_eq!(c.persistence.appendfsync.as_str(), f);
    }
}

#[test]
fn shards_forms() {
    assert_eq!(
        load("server:\n  shards: auto\n").unwrap().server.shards,
        Shards::Auto
    );
    assert_eq!(
        load("server:\n  shards: \"8\"\n").unwrap().server.shards,
        Shards::Count(8)
    );
    assert_eq!(
        load("server:\n  shards: 1024\n").unwrap().server.shards,
        Shards::Count(1024)
    );
    for bad in ["0", "1025", "-1", "many", "2.5"] {
        let e = fail(&format!("server:\n  shards: {bad}\n"));
        assert_eq!(e.key, "server.shards", "{e}");
    }
    let c = Config::default();
    assert_eq!(c.effective_shards(6), 6);
    assert_eq!(c.effective_shards(0), 1);
}

#[test]
fn save_rules() {
    let c = load("persistence:\n  save: \"3600 1 300 100 60 10000\"\n").expect("redis style");
    assert_eq!(c.persistence.save.len(), 3);
    assert_eq!(
        c.persistence.save[2],
        SaveRule {
            seconds: 60,
            changes: 10000
        }
    );
    assert!(load("persistence:\n  save: \"\"\n")
        .unwrap()
        .persistence
        .save
        .is_empty());
    assert!(load("persistence:\n  save: []\n")
        .unwrap()
        .persistence
        .save
        .is_empty());
    assert!(load("persistence:\n  save:\n")
        .unwrap()
        .persistence
        .save
        .is_empty());
    let e = fail("persistence:\n  save:\n    - \"3600 1\"\n    - \"soon 5\"\n");
    assert_eq!(e.key, "persistence.save[1]", "{e}");
    assert!(e.reason.contains("SECONDS CHANGES"), "{e}");
    let e = fail("persistence:\n  save: [\"0 1\"]\n");
    assert_eq!(e.key, "persistence.save[0]", "{e}");
    let e = fail("persistence:\n  save: \"3600\"\n");
    assert_eq!(e.key, "persistence.save", "{e}");
}

#[test]
fn unknown_keys_name_the_key_and_the_file() {
    let f = Tmp::new("server:\n  prot: 6379\n");
    let e = Config::load(Some(f.path()), &Overrides::default(), &no_env).expect_err("unknown");
    assert_eq!(e.file, f.path().display().to_string());
    assert_eq!(e.key, "server.prot");
    assert!(
        e.reason
            .starts_with("unknown field `prot`, expected one of"),
        "{e}"
    );
    assert!(
        e.reason.contains("`port`") && e.reason.contains("line 2 column 3"),
        "{e}"
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}: server.prot: unknown field",
            f.path().display()
        )),
        "{shown}"
    );

    let e = fail("server:\n  tls:\n    enable: true\n");
    assert_eq!(e.key, "server.tls.enable", "{e}");
    assert!(e.reason.starts_with("unknown field `enable`"), "{e}");
    let e = fail("srever:\n  port: 1\n");
    assert_eq!(e.key, "srever", "{e}");
    assert!(e.reason.contains("expected one of `server`"), "{e}");
    for section in [
        "network",
        "kv_store",
        "persistence",
        "replication",
        "logging",
    ] {
        let e = fail(&format!("{section}:\n  bogus: 1\n"));
        assert_eq!(e.key, format!("{section}.bogus"), "{e}");
    }
}

#[test]
fn bad_values_name_key_and_reason() {
    let e = fail("server:\n  port: banana\n");
    assert_eq!(e.key, "server.port");
    assert!(
        e.reason.starts_with("invalid type: string \"banana\""),
        "{e}"
    );
    let e = fail("server:\n  port: 70000\n");
    assert_eq!(e.key, "server.port", "{e}");
    let e = fail("server:\n  role: leader\n");
    assert_eq!(e.key, "server.role", "{e}");
    assert!(
        e.reason.contains("unknown variant `leader`") && e.reason.contains("`replica`"),
        "{e}"
    );
    let e = fail("persistence:\n  appendfsync: sometimes\n");
    assert_eq!(e.key, "persistence.appendfsync", "{e}");
    assert!(e.reason.contains("`everysec`"), "{e}");
    let e = fail("kv_store:\n  maxmemory_policy: lru\n");
    assert_eq!(e.key, "kv_store.maxmemory_policy", "{e}");
    let e = fail("logging:\n  format: xml\n");
    assert_eq!(e.key, "logging.format", "{e}");
    let e = fail("logging:\n  level: loud\n");
    assert_eq!(e.key, "logging.level", "{e}");
    assert!(
        e.reason
            .contains("is not one of trace, debug, info, warn, error"),
        "{e}"
    );
    let e = fail("persistence:\n  enabled: yes\n");
    assert_eq!(e.key, "persistence.enabled", "{e}");
    let e = fail("server:\n  port: 1\n  port: 2\n");
    assert_eq!(e.key, "server.port", "{e}");
    assert!(e.reason.contains("duplicate field `port`"), "{e}");
    let e = fail("server: 5\n");
    assert_eq!(e.key, "server", "{e}");
    assert!(e.reason.contains("expected a mapping of keys"), "{e}");
    let e = fail("just a string\n");
    assert_eq!(e.key, "", "{e}");
    assert!(e.reason.contains("expected a mapping of keys"), "{e}");
}

#[test]
fn semantic_limits() {
    let cases = [
        (
            "network:\n  maxclients: 0\n",
            "network.maxclients",
            "at least 1",
        ),
        (
            "network:\n  tcp_backlog: 0\n",
            "network.tcp_backlog",
            "1..=",
        ),
        (
            "network:\n  tcp_keepalive: 40000\n",
            "network.tcp_keepalive",
            "32767",
        ),
        (
            "network:\n  proto_max_bulk_len: 1kb\n",
            "network.proto_max_bulk_len",
            "at least 1mb",
        ),
        (
            "network:\n  client_query_buffer_limit: 100\n",
            "network.client_query_buffer_limit",
            "at least 1mb",
        ),
        (
            "network:\n  max_multibulk_len: 0\n",
            "network.max_multibulk_len",
            "at least 1",
        ),
        (
            "network:\n  max_inline_len: 10\n",
            "network.max_inline_len",
            "at least 1024",
        ),
        (
            "network:\n  http_max_body: 10\n",
            "network.http_max_body",
            "at least 1kb",
        ),
        (
            "kv_store:\n  active_expire_hz: 0\n",
            "kv_store.active_expire_hz",
            "1..=500",
        ),
        (
            "kv_store:\n  active_expire_hz: 501\n",
            "kv_store.active_expire_hz",
            "1..=500",
        ),
        (
            "kv_store:\n  active_expire_effort: 11\n",
            "kv_store.active_expire_effort",
            "1..=10",
        ),
        (
            "kv_store:\n  active_expire_effort: 0\n",
            "kv_store.active_expire_effort",
            "1..=10",
        ),
        (
            "persistence:\n  data_dir: \"\"\n",
            "persistence.data_dir",
            "empty",
        ),
        (
            "kv_store:\n  hash_max_listpack_entries: 2147483648\n",
            "kv_store.hash_max_listpack_entries",
            "0..=",
        ),
        (
            "kv_store:\n  hash_max_listpack_value: 2gb\n",
            "kv_store.hash_max_listpack_value",
            "0..=",
        ),
        (
            "kv_store:\n  zset_max_listpack_entries: 2147483648\n",
            "kv_store.zset_max_listpack_entries",
            "0..=",
        ),
        (
            "kv_store:\n  zset_max_listpack_value: 2gb\n",
            "kv_store.zset_max_listpack_value",
            "0..=",
        ),
        (
            "kv_store:\n  list_max_listpack_size: 2147483648\n",
            "kv_store.list_max_listpack_size",
            "-2147483648..=",
        ),
        (
            "replication:\n  backlog_size: 1kb\n",
            "replication.backlog_size",
            "16kb",
        ),
        (
            "replication:\n  max_replica_buffer: 1000\n",
            "replication.max_replica_buffer",
            "1mb",
        ),
        ("server:\n  host: \"\"\n", "server.host", "not an address"),
        ("server:\n  port: 0\n", "server.port", "1..=65535"),
        ("server:\n  http_port: 0\n", "server.http_port", "1..=65535"),
    ];
    for (text, key, reason) in cases {
        let e = fail(text);
        assert_eq!(e.key, key, "{text:?}: {e}");
        assert!(e.reason.contains(reason), "{text:?}: {e}");
        assert!(!e.file.starts_with('<'), "{e}");
    }
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    let e = fail("server:\n  port: 6379\n  - http_port\n");
    assert!(e.reason.contains("line 3 column"), "{e}");
    assert_eq!(e.key, "server", "{e}");
    let e = fail("server:\n  port: 6379\n http_port: 15500\n");
    assert!(e.reason.contains("line 3 column"), "{e}");
    assert_eq!(e.key, "", "{e}");
    assert!(
        e.to_string()
            .contains(".yml: did not find expected key at line 3"),
        "{e}"
    );
    let e = fail("server:\n  port: [6379\n");
    assert!(e.reason.contains("line"), "{e}");
    let e = fail("server:\n\tport: 1\n");
    assert!(e.reason.contains("line 2"), "{e}");
}

#[test]
fn unreadable_file() {
    let e = Config::load(
        Some(Path::new("/nonexistent/synap.yml")),
        &Overrides::default(),
        &no_env,
    )
    .expect_err("missing");
    assert_eq!(e.file, "/nonexistent/synap.yml");
    assert_eq!(e.key, "");
    assert!(e.reason.starts_with("cannot read"), "{e}");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/synap.yml: cannot read"),
        "{e}"
    );
}

#[test]
fn environment_overrides() {
    let env = |k: &str| match k {
        "SYNAP_ROLE" => Some("Replica".to_string()),
        "SYNAP_MASTER" => Some("master.example:16000".to_string()),
        _ => None,
    };
    let c = load_with("server:\n  role: master\n", &Overrides::default(), &env).expect("env");
    assert_eq!(c.server.role, Role::Replica);
    assert_eq!(c.replication.master_host.as_deref(), Some("master.example"));
    assert_eq!(c.replication.master_port, 16000);
    assert!(c.replication.enabled);

    let v6 = |k: &str| (k == "SYNAP_MASTER").then(|| "[::1]:15501".to_string());
    let c = Config::load(None, &Overrides::default(), &v6).expect("ipv6");
    assert_eq!(c.replication.master_host.as_deref(), Some("::1"));
    assert_eq!(c.server.role, Role::Master);

    let empty = |_: &str| Some(String::new());
    assert_eq!(
        Config::load(None, &Overrides::default(), &empty).unwrap(),
        Config::default()
    );

    for (var, val, why) in [
        ("SYNAP_ROLE", "leader", "not master or replica"),
        ("SYNAP_MASTER", "master.example", "not host:port"),
        ("SYNAP_MASTER", "master:0", "not a port"),
        ("SYNAP_MASTER", "master:http", "not a port"),
        ("SYNAP_MASTER", ":15501", "empty host"),
        ("SYNAP_MASTER", "::1:15501", "brackets"),
    ] {
        let env = |k: &str| (k == var).then(|| val.to_string());
        let e = Config::load(None, &Overrides::default(), &env).expect_err(val);
        assert_eq!(e.file, "<environment>", "{e}");
        assert_eq!(e.key, var, "{e}");
        assert!(e.reason.contains(why), "{e}");
    }
}

#[test]
fn command_line_wins_over_environment_wins_over_file() {
    let env = |k: &str| match k {
        "SYNAP_ROLE" => Some("master".to_string()),
        _ => None,
    };
    let ov = Overrides {
        bind: Some("0.0.0.0".into()),
        port: Some(7100),
        http_port: Some(7101),
        shards: Some("3".into()),
        data_dir: Some("/tmp/synap-x".into()),
        log_level: Some("WARN".into()),
    };
    let text = "server:\n  role: replica\n  host: 10.0.0.1\n  port: 7000\n  http_port: 7001\n  shards: 8\n\
                persistence:\n  data_dir: /data\nlogging:\n  level: debug\n";
    let c = load_with(text, &ov, &env).expect("precedence");
    assert_eq!(c.server.role, Role::Master, "env beats file");
    assert_eq!(c.server.host, "0.0.0.0");
    assert_eq!(c.server.port, 7100);
    assert_eq!(c.server.http_port, 7101);
    assert_eq!(c.server.shards, Shards::Count(3));
    assert_eq!(c.persistence.data_dir, PathBuf::from("/tmp/synap-x"));
    assert_eq!(c.logging.level, "warn");
    // Without overrides the file's values stand.
    let c = load_with(text, &Overrides::default(), &env).expect("file");
    assert_eq!(c.server.port, 7000);
    assert_eq!(c.server.shards, Shards::Count(8));
    assert_eq!(c.logging.level, "debug");
}

#[test]
fn command_line_errors_name_the_flag() {
    let e = Config::load(
        None,
        &Overrides {
            shards: Some("0".into()),
            ..Default::default()
        },
        &no_env,
    )
    .expect_err("shards 0");
    assert_eq!(
        (e.file.as_str(), e.key.as_str()),
        ("<command line>", "--shards"),
        "{e}"
    );
    let e = Config::load(
        None,
        &Overrides {
            port: Some(0),
            ..Default::default()
        },
        &no_env,
    )
    .expect_err("port 0");
    assert_eq!(
        (e.file.as_str(), e.key.as_str()),
        ("<command line>", "--port"),
        "{e}"
    );
    let e = Config::load(
        None,
        &Overrides {
            http_port: Some(6379),
            ..Default::default()
        },
        &no_env,
    )
    .expect_err("same port");
    assert_eq!(
        (e.file.as_str(), e.key.as_str()),
        ("<command line>", "--http-port"),
        "{e}"
    );
    assert!(e.reason.contains("must differ"), "{e}");
    let e = Config::load(
        None,
        &Overrides {
            log_level: Some("loud".into()),
            ..Default::default()
        },
        &no_env,
    )
    .expect_err("level");
    assert_eq!(e.key, "--log-level", "{e}");
    let e = Config::load(
        None,
        &Overrides {
            bind: Some(" ".into()),
            ..Default::default()
        },
        &no_env,
    )
    .expect_err("bind");
    assert_eq!(e.key, "--bind", "{e}");
    assert_eq!(
        e.to_string(),
        "<command line>: --bind: \" \" is not an address or host name (server.host)"
    );
}

#[test]
fn replica_needs_a_master() {
    let e = fail("server:\n  role: replica\n");
    assert_eq!(e.key, "replication.master_host", "{e}");
    assert!(e.reason.contains("required"), "{e}");
    let e = fail("server:\n  role: replica\nreplication:\n  master_host: 10.0.0.1\n");
    assert_eq!(e.key, "replication.enabled", "{e}");
    let e = fail("server:\n  role: replica\nreplication:\n  enabled: true\n  master_host: 10.0.0.1\n  master_port: 0\n");
    assert_eq!(e.key, "replication.master_port", "{e}");
    let c =
        load("server:\n  role: replica\nreplication:\n  enabled: true\n  master_host: 10.0.0.1\n")
            .expect("replica");
    assert_eq!(c.server.role, Role::Replica);
    // SYNAP_ROLE=replica without a master names the environment variable.
    let env = |k: &str| (k == "SYNAP_ROLE").then(|| "replica".to_string());
    let e = Config::load(None, &Overrides::default(), &env).expect_err("replica");
    assert_eq!(e.key, "replication.master_host", "{e}");
    // SYNAP_MASTER completes it.
    let env = |k: &str| match k {
        "SYNAP_ROLE" => Some("replica".to_string()),
        "SYNAP_MASTER" => Some("m:15501".to_string()),
        _ => None,
    };
    assert!(Config::load(None, &Overrides::default(), &env).is_ok());
}

#[test]
fn duplicate_ports_fail() {
    let e = fail("server:\n  port: 7000\n  http_port: 7000\n");
    assert_eq!(e.key, "server.http_port", "{e}");
    assert!(e.reason.contains("must differ"), "{e}");
    let e = fail("replication:\n  enabled: true\n  listen_port: 6379\n");
    assert_eq!(e.key, "replication.listen_port", "{e}");
    assert!(e.reason.contains("server.port"), "{e}");
    let e = fail("replication:\n  enabled: true\n  listen_port: 15500\n");
    assert!(e.reason.contains("server.http_port"), "{e}");
    let e = fail("replication:\n  enabled: true\n  listen_port: 0\n");
    assert_eq!(e.key, "replication.listen_port", "{e}");
    // Disabled replication does not reserve its port.
    assert!(load("replication:\n  listen_port: 6379\n").is_ok());
    // A replica does not listen on replication.listen_port.
    assert!(load("server:\n  role: replica\n  port: 6380\n  http_port: 15510\nreplication:\n  enabled: true\n  master_host: 127.0.0.1\n  listen_port: 6380\n").is_ok());
}

#[test]
fn tls_paths() {
    let e = fail("server:\n  tls:\n    enabled: true\n");
    assert_eq!(e.key, "server.tls.cert_path", "{e}");
    assert!(e.reason.contains("required"), "{e}");
    let cert = Tmp::new("cert");
    let key = Tmp::new("key");
    let ok = format!(
        "server:\n  tls:\n    enabled: true\n    cert_path: {}\n    key_path: {}\n",
        cert.path().display(),
        key.path().display()
    );
    assert!(load(&ok).is_ok());
    let e = fail(&format!(
        "server:\n  tls:\n    enabled: true\n    cert_path: {}\n",
        cert.path().display()
    ));
    assert_eq!(e.key, "server.tls.key_path", "{e}");
    let e = fail(&format!(
        "server:\n  tls:\n    enabled: true\n    cert_path: {}\n    key_path: /nonexistent/key.pem\n",
        cert.path().display()
    ));
    assert_eq!(e.key, "server.tls.key_path", "{e}");
    assert!(e.reason.contains("cannot read /nonexistent/key.pem"), "{e}");
    let e = fail(&format!(
        "{ok}    ca_path: {}\n",
        std::env::temp_dir().display()
    ));
    assert_eq!(e.key, "server.tls.ca_path", "{e}");
    assert!(e.reason.contains("not a file"), "{e}");
    // Disabled TLS ignores the paths.
    assert!(load("server:\n  tls:\n    cert_path: /nonexistent\n").is_ok());
}

#[test]
fn shipped_config_files_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let want: [(&str, Role, u16, u16, bool, &str); 4] = [
        (
            "config-standalone.yml",
            Role::Master,
            6379,
            15500,
            false,
            "./synap-data",
        ),
        (
            "config-master.yml",
            Role::Master,
            6379,
            15500,
            true,
            "/var/lib/synap",
        ),
        (
            "config-replica-1.yml",
            Role::Replica,
            6380,
            15510,
            true,
            "/var/lib/synap-replica-1",
        ),
        (
            "config-replica-2.yml",
            Role::Replica,
            6381,
            15520,
            true,
            "/var/lib/synap-replica-2",
        ),
    ];
    for (name, role, port, http_port, replication, data_dir) in want {
        let c = Config::load(Some(&dir.join(name)), &Overrides::default(), &no_env)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.server.role, role, "{name}");
        assert_eq!(
            (c.server.port, c.server.http_port),
            (port, http_port),
            "{name}"
        );
        assert_eq!(c.replication.enabled, replication, "{name}");
        assert_eq!(c.persistence.data_dir, PathBuf::from(data_dir), "{name}");
        if role == Role::Replica {
            assert_eq!(
                c.replication.master_host.as_deref(),
                Some("127.0.0.1"),
                "{name}"
            );
            assert_eq!(c.replication.master_port, 15501, "{name}");
        }
    }
}

#[test]
fn config_get_rendering() {
    let c = load(
        "kv_store:\n  maxmemory: 1mb\n  maxmemory_policy: volatile-ttl\n\
         persistence:\n  enabled: true\n  data_dir: /var/lib/synap\n  save: [\"3600 1\", \"300 100\"]\n",
    )
    .expect("c");
    let v = c.render_for_config_get();
    let get = |k: &str| {
        v.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    assert_eq!(get("maxmemory"), "1048576");
    assert_eq!(get("maxmemory-policy"), "volatile-ttl");
    assert_eq!(get("maxclients"), "10000");
    assert_eq!(get("timeout"), "0");
    assert_eq!(get("tcp-keepalive"), "300");
    assert_eq!(get("proto-max-bulk-len"), "536870912");
    assert_eq!(get("client-query-buffer-limit"), "1073741824");
    assert_eq!(get("appendonly"), "yes");
    assert_eq!(get("appendfsync"), "everysec");
    assert_eq!(get("dir"), "/var/lib/synap");
    assert_eq!(get("save"), "3600 1 300 100");
    assert_eq!(get("bind"), "127.0.0.1");
    assert_eq!(get("port"), "6379");
    assert_eq!(get("hz"), "10");
    assert_eq!(get("databases"), "1");
    assert_eq!(get("replica-read-only"), "yes");
    assert_eq!(get("protected-mode"), "yes");
    assert_eq!(get("replicaof"), "");
    assert_eq!(get("hash-max-listpack-entries"), "128");
    assert_eq!(get("hash-max-listpack-value"), "64");
    assert_eq!(get("zset-max-listpack-entries"), "128");
    assert_eq!(get("zset-max-listpack-value"), "64");
    assert_eq!(get("list-max-listpack-size"), "-2");
    let mut names: Vec<&String> = v.iter().map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), v.len(), "duplicate names");
}

#[test]
fn cli_parses_and_carries_overrides() {
    use clap::Parser;
    let cli = Cli::try_parse_from([
        "synap-server",
        "--config",
        "/etc/synap/config.yml",
        "--bind",
        "0.0.0.0",
        "--port",
        "7000",
        "--http-port",
        "7001",
        "--shards",
        "auto",
        "--data-dir",
        "/d",
        "--log-level",
        "debug",
        "--check-config",
    ])
    .expect("parse");
    assert_eq!(
        cli.config.as_deref(),
        Some(Path::new("/etc/synap/config.yml"))
    );
    assert!(cli.check_config);
    assert_eq!(
        cli.overrides(),
        Overrides {
            bind: Some("0.0.0.0".into()),
            port: Some(7000),
            http_port: Some(7001),
            shards: Some("auto".into()),
            data_dir: Some("/d".into()),
            log_level: Some("debug".into()),
        }
    );
    let cli = Cli::try_parse_from(["synap-server"]).expect("no args");
    assert_eq!(cli.overrides(), Overrides::default());
    assert!(!cli.check_config);
    assert!(Cli::try_parse_from(["synap-server", "--port", "banana"]).is_err());
    let v = Cli::try_parse_from(["synap-server", "--version"]).expect_err("version exits");
    assert_eq!(v.kind(), clap::error::ErrorKind::DisplayVersion);
    assert!(v.to_string().contains(env!("CARGO_PKG_VERSION")));
    <Cli as clap::CommandFactory>::command().debug_assert();
}

#[test]
fn replication_key_and_tls() {
    let c = load("replication:\n  api_key: synap_abc\n").expect("key");
    assert_eq!(c.replication.api_key, Some(Secret("synap_abc".into())));
    // Debug never shows the key.
    assert!(!format!("{c:?}").contains("synap_abc"));
    let e = fail("replication:\n  api_key: 'a b'\n");
    assert_eq!(e.key, "replication.api_key", "{e}");
    // The environment wins over the file.
    let f = Tmp::new("replication:\n  api_key: synap_file\n");
    let env = |k: &str| (k == "SYNAP_REPLICATION_KEY").then(|| "synap_env".to_string());
    let c = Config::load(Some(f.path()), &Overrides::default(), &env).expect("env");
    assert_eq!(c.replication.api_key, Some(Secret("synap_env".into())));
    // TLS needs a CA (its own, the server's, or insecure).
    let e = fail("replication:\n  tls: true\n");
    assert_eq!(e.key, "replication.tls_ca_path", "{e}");
    assert!(load("replication:\n  tls: true\n  tls_insecure: true\n").is_ok());
    let ca = Tmp::new("ca");
    let ok = format!(
        "replication:\n  tls: true\n  tls_ca_path: {}\n",
        ca.path().display()
    );
    let c = load(&ok).expect("ca");
    assert!(c.replication.tls);
    let e = fail("replication:\n  tls: true\n  tls_ca_path: /nonexistent/ca.pem\n");
    assert_eq!(e.key, "replication.tls_ca_path", "{e}");
    let e = fail(&format!("{ok}  tls_cert_path: {}\n", ca.path().display()));
    assert_eq!(e.key, "replication.tls_key_path", "{e}");
    let both = format!(
        "{ok}  tls_cert_path: {0}\n  tls_key_path: {0}\n",
        ca.path().display()
    );
    assert!(load(&both).is_ok());
}
