//! Synap: a thread-per-core, io_uring in-memory data server speaking the Redis protocol and
//! HTTP/JSON.
//!
//! # Layout
//! - [`config`]: YAML configuration, environment and command-line overrides, validation.
//! - [`runtime`]: start-up (limits, sockets, one glommio executor per shard, the channel
//!   mesh), systemd notification, signals, shutdown.
//! - [`shard`]: a shard as its executor sees it: keyspace, counters, clients, peer links,
//!   forwarded-batch execution, the active expiry cycle.
//! - [`connection`]: the RESP connection loop (read → frame → route → one write).
//! - [`router`]: where each command runs; per-destination batching; replies in order.
//! - [`cross`]: commands that span shards (split and merge; server-wide commands).
//! - [`blocking`]: blocking commands (BLPOP…): waiters per key, FIFO service, timeouts.
//! - [`protocol`]: RESP request framing, reply encoding, reply decoding.
//! - [`commands`]: the command table and one file per command family.
//! - [`errors`]: every error text and its counter label.
//! - [`info`]: INFO rendering and shard snapshots.
//! - [`settings`]: CONFIG GET / SET.
//! - [`http`]: the HTTP front end: health, Prometheus metrics, REST KV API.
//! - [`client`]: per-client descriptive state (CLIENT LIST).
//! - [`admin`]: `synap-admin`'s work against a running server: a blocking RESP client,
//!   export and import (`docs/EXPORT-FORMAT.md`).
//! - [`auth`]: API keys with roles, their file, per-connection sessions, protected mode.
//! - [`tls`]: rustls server (and client) configuration, reloadable on SIGHUP.
//!
//! The shard-local engine (keyspace, values, expiry, slots) is the `synap-shard` crate in
//! `shards/`. `docs/ARCHITECTURE.md` walks one request through these files.

pub mod admin;
pub mod auth;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod config;
pub mod connection;
pub mod cross;
pub mod errors;
pub mod http;
pub mod info;
pub mod persist;
pub mod protocol;
pub mod repl;
pub mod router;
pub mod runtime;
pub mod settings;
pub mod shard;
pub mod tls;
