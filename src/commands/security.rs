//! Authentication and API keys: AUTH, and APIKEY (CREATE, LIST, REVOKE) for administrators.
//!
//! The replies follow Redis: `-WRONGPASS …` for a bad key, and `AUTH <key>` while no key
//! exists answers Redis's "called without any password configured" error. APIKEY needs the
//! admin role; while no key exists at all it is accepted only from 127.0.0.1 / ::1, so the
//! first (admin) key is created on the server's own host.

use super::flags::*;
use super::{spec, CommandSpec, Exec};
use crate::auth::{Gate, Role};
use crate::connection::ConnState;
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;

const G: &str = "connection";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let none = (0, 0, 0);
    t.push(spec("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH, none, &["fast", "connection"], G, "Authenticates the connection.", Exec::Conn(auth)));
    t.push(spec("apikey", -2, ADMIN | NOSCRIPT | LOADING | STALE, none, &["admin", "slow", "dangerous"], "server", "Creates, lists and revokes API keys.", Exec::Conn(apikey)));
}

/// Authenticates the connection with `key` (and `name`, when given, which must be the key's
/// name or `default`). Replies the error and returns false when refused.
pub(crate) fn login(c: &mut ConnState, name: Option<&[u8]>, key: &[u8], r: &mut Reply<'_>) -> bool {
    let global = c.shard.global.clone();
    let reg = &global.auth;
    if reg.is_empty() {
        // Like Redis's default user with `nopass`.
        return match name {
            None => {
                r.error(ErrorCode::Err, errors::AUTH_NOT_CONFIGURED);
                false
            }
            Some(b"default") => true,
            Some(_) => {
                r.error(ErrorCode::WrongPass, errors::WRONGPASS);
                false
            }
        };
    }
    match reg.authenticate(name, key) {
        Some(g) => {
            c.info.borrow_mut().user = g.name.clone();
            c.auth.login(g, reg);
            true
        }
        None => {
            r.error(ErrorCode::WrongPass, errors::WRONGPASS);
            false
        }
    }
}

/// AUTH [name] key
fn auth(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let ok = match argv.len() {
        2 => login(c, None, argv[1], r),
        3 => login(c, Some(argv[1]), argv[2], r),
        _ => return r.error(ErrorCode::Err, errors::SYNTAX),
    };
    if ok {
        r.ok();
    }
}

/// APIKEY CREATE name role [pattern …] | LIST | REVOKE key-or-name | HELP
fn apikey(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let global = c.shard.global.clone();
    let reg = &global.auth;
    if matches!(c.auth.gate, Gate::Open) && !crate::auth::is_local(c.info.borrow().addr.ip()) {
        return r.error(
            ErrorCode::NoPerm,
            "NOPERM no API key exists yet: create the first (admin) key from the server's own host (127.0.0.1 or ::1)",
        );
    }
    let sub = argv[1].to_ascii_uppercase();
    match (sub.as_slice(), argv.len()) {
        (b"CREATE", n) if n >= 4 => {
            let name = String::from_utf8_lossy(argv[2]).into_owned();
            let Some(role) = Role::parse(argv[3]) else {
                return r.error(
                    ErrorCode::Err,
                    &format!(
                        "ERR unknown role '{}': expected admin, readwrite or readonly",
                        String::from_utf8_lossy(argv[3])
                    ),
                );
            };
            let patterns: Vec<Vec<u8>> = argv[4..].iter().map(|p| p.to_vec()).collect();
            match reg.create(&name, role, patterns) {
                Ok(key) => {
                    tracing::info!(name = %name, role = role.as_str(), "API key created");
                    r.bulk(key.as_bytes());
                }
                Err(e) => r.error(ErrorCode::Err, &format!("ERR {e}")),
            }
        }
        (b"LIST", 2) => {
            let keys = reg.list();
            r.array(keys.len());
            for k in keys {
                r.map(4);
                r.bulk(b"name");
                r.bulk(k.name.as_bytes());
                r.bulk(b"role");
                r.bulk(k.role.as_str().as_bytes());
                r.bulk(b"patterns");
                r.array(k.patterns.len());
                for p in &k.patterns {
                    r.bulk(p);
                }
                r.bulk(b"created");
                r.int(k.created as i64);
            }
        }
        (b"REVOKE", 3) => match reg.revoke(argv[2]) {
            Ok(gone) => {
                tracing::info!(name = %gone.name, "API key revoked");
                r.ok();
            }
            Err(e) => r.error(ErrorCode::Err, &format!("ERR {e}")),
        },
        (b"HELP", 2) => {
            let lines = [
                "APIKEY <subcommand> [<arg> ...]. Subcommands are:",
                "CREATE <name> <admin|readwrite|readonly> [<pattern> ...]",
                "    Create a key (printed once; stored hashed). Patterns limit the keys it may touch.",
                "LIST",
                "    List the keys: name, role, patterns, creation time (never the key).",
                "REVOKE <key|name>",
                "    Revoke a key; connections using it are refused at their next command.",
                "HELP",
                "    Print this help.",
            ];
            r.array(lines.len());
            for l in lines {
                r.simple(l);
            }
        }
        _ => r.error(
            ErrorCode::Err,
            &errors::unknown_subcommand("apikey", argv[1]),
        ),
    }
}
