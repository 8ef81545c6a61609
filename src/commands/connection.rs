//! Connection commands: PING, ECHO, HELLO, QUIT, SELECT, RESET, CLIENT.

use super::flags::*;
use super::{arg_i64, spec, CommandSpec, Exec, Global};
use crate::connection::ConnState;
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;

const G: &str = "connection";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let none = (0, 0, 0);
    let fast: &[&str] = &["fast", "connection"];
    t.push(spec("ping", -1, FAST | STALE, none, fast, G, "Returns the server's liveliness response.", Exec::Conn(ping)));
    t.push(spec("echo", 2, FAST | STALE | LOADING, none, fast, G, "Returns the given string.", Exec::Conn(echo)));
    t.push(spec("hello", -1, FAST | NOSCRIPT | LOADING | STALE | NO_AUTH, none, fast, G, "Handshakes with the Redis server.", Exec::Global(Global::Hello)));
    t.push(spec("quit", -1, FAST | LOADING | STALE | NO_AUTH, none, fast, G, "Closes the connection.", Exec::Conn(quit)));
    t.push(spec("select", 2, FAST | LOADING | STALE, none, fast, G, "Changes the selected database.", Exec::Conn(select)));
    t.push(spec("reset", 1, FAST | NOSCRIPT | LOADING | STALE | NO_AUTH, none, fast, G, "Resets the connection.", Exec::Conn(reset)));
    t.push(spec("client", -2, LOADING | STALE, none, &["slow", "connection"], G, "A container for client connection commands.", Exec::Global(Global::Client)));
}

fn ping(_c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    match argv.len() {
        1 => r.simple("PONG"),
        2 => r.bulk(argv[1]),
        _ => r.error(ErrorCode::Err, &errors::arity("ping")),
    }
}

fn echo(_c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    r.bulk(argv[1]);
}

fn quit(c: &mut ConnState, _argv: &[&[u8]], r: &mut Reply<'_>) {
    c.quit = true;
    r.ok();
}

fn select(_c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(db) = arg_i64(argv[1], r) else {
        return;
    };
    if db == 0 {
        r.ok();
    } else {
        r.error(ErrorCode::Err, errors::DB_INDEX);
    }
}

fn reset(c: &mut ConnState, _argv: &[&[u8]], r: &mut Reply<'_>) {
    c.resp3 = false;
    {
        let mut info = c.info.borrow_mut();
        info.resp = 2;
        info.name.clear();
        info.user = "default".into();
    }
    let global = c.shard.global.clone();
    c.auth.logout(&global.auth);
    r.simple("RESET");
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub(crate) async fn hello(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let mut proto = if c.resp3 { 3 } else { 2 };
    let mut i = 1;
    if argv.len() > 1 {
        match synap_shard::strings::parse_i64(argv[1]) {
            Some(v) if v == 2 || v == 3 => proto = v,
            Some(_) => return r.error(ErrorCode::NoProto, "NOPROTO unsupported protocol version"),
            None => {
                return r.error(
                    ErrorCode::Err,
                    "ERR Protocol version is not an integer or out of range",
                )
            }
        }
        i = 2;
    }
    let mut setname: Option<&[u8]> = None;
    let mut credentials: Option<(&[u8], &[u8])> = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        match argv[i].to_ascii_uppercase().as_slice() {
            b"AUTH" if more >= 2 => {
                credentials = Some((argv[i + 1], argv[i + 2]));
                i += 2;
            }
            b"SETNAME" if more >= 1 => {
                setname = Some(argv[i + 1]);
                i += 1;
            }
            _ => {
                return r.error(
                    ErrorCode::Err,
                    &format!(
                        "ERR Syntax error in HELLO option '{}'",
                        String::from_utf8_lossy(argv[i])
                    ),
                )
            }
        }
        i += 1;
    }
    if let Some((user, key)) = credentials {
        if !super::security::login(c, Some(user), key, r) {
            return;
        }
    }
    if matches!(c.auth.gate, crate::auth::Gate::Locked) {
        return r.error(ErrorCode::NoAuth, errors::NOAUTH_HELLO);
    }
    if let Some(name) = setname {
        if !valid_name(name) {
            return r.error(ErrorCode::Err, NAME_ERR);
        }
        c.info.borrow_mut().name = String::from_utf8_lossy(name).into_owned();
    }
    c.resp3 = proto == 3;
    c.info.borrow_mut().resp = proto as u8;
    let mut r3 = Reply::new(r_out(r), c.resp3);
    let id = c.info.borrow().id;
    r3.map(7);
    r3.bulk(b"server");
    r3.bulk(b"redis");
    r3.bulk(b"version");
    r3.bulk(crate::info::REDIS_COMPAT_VERSION.as_bytes());
    r3.bulk(b"proto");
    r3.int(proto);
    r3.bulk(b"id");
    r3.int(id as i64);
    r3.bulk(b"mode");
    r3.bulk(b"standalone");
    r3.bulk(b"role");
    r3.bulk(b"master");
    r3.bulk(b"modules");
    r3.array(0);
}

/// The buffer under a reply (HELLO answers in the protocol it just switched to).
fn r_out<'a>(r: &'a mut Reply<'_>) -> &'a mut Vec<u8> {
    r.buffer()
}

const NAME_ERR: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// CLIENT subcommands.
pub(crate) async fn client(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let sub = argv[1].to_ascii_uppercase();
    match (sub.as_slice(), argv.len()) {
        (b"ID", 2) => r.int(c.info.borrow().id as i64),
        (b"GETNAME", 2) => {
            let info = c.info.borrow();
            if info.name.is_empty() {
                r.null()
            } else {
                r.bulk(info.name.as_bytes())
            }
        }
        (b"SETNAME", 3) => {
            if !valid_name(argv[2]) {
                return r.error(ErrorCode::Err, NAME_ERR);
            }
            c.info.borrow_mut().name = String::from_utf8_lossy(argv[2]).into_owned();
            r.ok();
        }
        (b"SETINFO", 4) => {
            let value = String::from_utf8_lossy(argv[3]).into_owned();
            if value.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
                return r.error(ErrorCode::Err, "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.");
            }
            match argv[2].to_ascii_uppercase().as_slice() {
                b"LIB-NAME" => c.info.borrow_mut().lib_name = value,
                b"LIB-VER" => c.info.borrow_mut().lib_ver = value,
                _ => {
                    return r.error(
                        ErrorCode::Err,
                        &format!(
                            "ERR Unrecognized option '{}'",
                            String::from_utf8_lossy(argv[2])
                        ),
                    )
                }
            }
            r.ok();
        }
        (b"INFO", 2) => {
            let line = c.info.borrow().line() + "\n";
            r.verbatim(line.as_bytes());
        }
        (b"LIST", _) => client_list(c, argv, r).await,
        (b"UNBLOCK", 3 | 4) => client_unblock(c, argv, r).await,
        (b"UNBLOCK", _) => r.error(
            ErrorCode::Err,
            "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.",
        ),
        (b"KILL", n) if n >= 3 => client_kill(c, argv, r).await,
        (b"NO-EVICT", 3) | (b"NO-TOUCH", 3) => match argv[2].to_ascii_uppercase().as_slice() {
            b"ON" | b"OFF" => r.ok(),
            _ => r.error(ErrorCode::Err, errors::SYNTAX),
        },
        (b"HELP", 2) => {
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ID",
                "    Return the ID of the current connection.",
                "GETNAME",
                "    Return the name of the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "    Set client meta attributes.",
                "INFO",
                "    Return information about the current client connection.",
                "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> ...]",
                "    Return information about client connections.",
                "KILL <ip:port> | KILL [ID <id>] [ADDR <ip:port>] [LADDR <ip:port>] [SKIPME yes|no]",
                "    Close matching client connections.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
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
            &errors::unknown_subcommand("client", argv[1]),
        ),
    }
}

async fn client_list(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < argv.len() {
        match argv[i].to_ascii_uppercase().as_slice() {
            b"TYPE" if i + 1 < argv.len() => {
                match argv[i + 1].to_ascii_lowercase().as_slice() {
                    b"normal" => {}
                    b"master" | b"replica" | b"slave" | b"pubsub" => ids = Some(Vec::new()),
                    _ => {
                        return r.error(
                            ErrorCode::Err,
                            &format!(
                                "ERR Unknown client type '{}'",
                                String::from_utf8_lossy(argv[i + 1])
                            ),
                        )
                    }
                }
                i += 2;
            }
            b"ID" if i + 1 < argv.len() => {
                let mut v = Vec::new();
                for a in &argv[i + 1..] {
                    match synap_shard::strings::parse_i64(a) {
                        Some(id) if id > 0 => v.push(id as u64),
                        _ => return r.error(ErrorCode::Err, "ERR Invalid client ID"),
                    }
                }
                ids = Some(v);
                i = argv.len();
            }
            _ => return r.error(ErrorCode::Err, errors::SYNTAX),
        }
    }
    let lines = c
        .shard
        .run_on_all(|s| {
            s.clients
                .borrow()
                .values()
                .map(|ci| {
                    let ci = ci.borrow();
                    (ci.id, ci.line())
                })
                .collect::<Vec<_>>()
        })
        .await;
    let mut all: Vec<(u64, String)> = lines.into_iter().flatten().flatten().collect();
    all.sort_by_key(|(id, _)| *id);
    let mut text = String::new();
    for (id, line) in all {
        if ids.as_ref().is_none_or(|v| v.contains(&id)) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    r.verbatim(text.as_bytes());
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: releases a client blocked in BLPOP & co. (answered as
/// on a timeout, or with an UNBLOCKED error); replies 1 when it was blocked.
async fn client_unblock(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let error = match argv.get(3).map(|a| a.to_ascii_uppercase()) {
        None => false,
        Some(a) if a == b"TIMEOUT" => false,
        Some(a) if a == b"ERROR" => true,
        Some(_) => {
            return r.error(
                ErrorCode::Err,
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            )
        }
    };
    let Some(id) = arg_i64(argv[2], r) else {
        return;
    };
    if id <= 0 {
        return r.int(0);
    }
    let id = id as u64;
    let done = c
        .shard
        .run_on_all(move |s| crate::blocking::unblock(s, id, error))
        .await
        .into_iter()
        .flatten()
        .any(|b| b);
    r.int(i64::from(done));
}

/// Which clients CLIENT KILL closes.
#[derive(Clone, Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    skip: Option<u64>,
}

/// CLIENT KILL ip:port (old form: replies OK or an error) or with filters (replies the count).
/// The matching connections are shut down on the shard that owns them, so a connection blocked
/// in a read wakes up at once and closes.
async fn client_kill(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let me = c.info.borrow().id;
    let old_form = argv.len() == 3;
    let mut f = KillFilter {
        skip: Some(me),
        ..KillFilter::default()
    };
    if old_form {
        f.addr = Some(String::from_utf8_lossy(argv[2]).into_owned());
        f.skip = None;
    } else {
        if !argv.len().is_multiple_of(2) {
            return r.error(ErrorCode::Err, errors::SYNTAX);
        }
        for pair in argv[2..].chunks_exact(2) {
            let v = String::from_utf8_lossy(pair[1]).into_owned();
            match pair[0].to_ascii_uppercase().as_slice() {
                b"ID" => match v.parse::<u64>() {
                    Ok(id) if id > 0 => f.id = Some(id),
                    _ => return r.error(ErrorCode::Err, "ERR client-id should be greater than 0"),
                },
                b"ADDR" => f.addr = Some(v),
                b"LADDR" => f.laddr = Some(v),
                b"SKIPME" => match v.to_ascii_lowercase().as_str() {
                    "yes" => f.skip = Some(me),
                    "no" => f.skip = None,
                    _ => return r.error(ErrorCode::Err, errors::SYNTAX),
                },
                b"USER" | b"TYPE" | b"MAXAGE" => {}
                _ => return r.error(ErrorCode::Err, errors::SYNTAX),
            }
        }
    }
    let killed: usize = c
        .shard
        .run_on_all(move |s| {
            let mut n = 0;
            for ci in s.clients.borrow().values() {
                let ci = ci.borrow();
                let matches = f.id.is_none_or(|id| id == ci.id)
                    && f.addr.as_ref().is_none_or(|a| *a == ci.addr.to_string())
                    && f.laddr.as_ref().is_none_or(|a| *a == ci.laddr.to_string())
                    && f.skip != Some(ci.id);
                if matches && ci.fd >= 0 {
                    // SAFETY: the fd belongs to a connection registered on this shard; it stays
                    // open until the connection task (on this thread) removes it, so it cannot
                    // have been reused.
                    unsafe {
                        libc::shutdown(ci.fd, libc::SHUT_RDWR);
                    }
                    n += 1;
                }
            }
            n
        })
        .await
        .into_iter()
        .flatten()
        .sum();
    if old_form {
        if killed == 0 {
            r.error(ErrorCode::Err, "ERR No such client");
        } else {
            r.ok();
        }
    } else {
        r.int(killed as i64);
    }
}
