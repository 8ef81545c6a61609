//! Reading a whole dataset back through the protocol, to compare two servers (or one server
//! before and after a restart): every key with its type, its value in a canonical text form
//! (hashes and sets sorted) and its absolute expiry.

use redis::Value;
use std::collections::BTreeMap;

/// Runs a command; panics with the command and the error when it fails.
pub fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// A key's type, canonical value and absolute expiry in whole seconds (-1 = none).
pub type Dump = BTreeMap<String, (String, String, i64)>;

/// Every key of the server (KEYS *): type, canonical value, expiry.
pub fn dump(c: &mut redis::Connection) -> Dump {
    let mut out = BTreeMap::new();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).expect("keys");
    for k in keys {
        let t: String = redis::cmd("TYPE").arg(&k).query(c).expect("type");
        let v = match t.as_str() {
            "string" => format!("{:?}", q(c, &["GET", &k])),
            "list" => format!("{:?}", q(c, &["LRANGE", &k, "0", "-1"])),
            "hash" => {
                let mut m: Vec<(Vec<u8>, Vec<u8>)> =
                    redis::cmd("HGETALL").arg(&k).query(c).expect("hgetall");
                m.sort();
                format!("{m:?}")
            }
            "set" => {
                let mut m: Vec<Vec<u8>> =
                    redis::cmd("SMEMBERS").arg(&k).query(c).expect("smembers");
                m.sort();
                format!("{m:?}")
            }
            "zset" => format!("{:?}", q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
            "none" => continue, // expired between KEYS and TYPE
            other => format!("type {other}"),
        };
        let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap_or(-3);
        out.insert(k, (t, v, if at > 0 { at / 1000 } else { at }));
    }
    out
}
