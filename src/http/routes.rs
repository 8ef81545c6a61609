//! HTTP routes. KV routes build a command and run it through the router, then render its
//! reply as JSON.

use super::{Request, Response};
use crate::connection::ConnState;
use crate::protocol::read::{self, Value};
use crate::router::Pipeline;
use base64::Engine;
use serde_json::json;

/// Percent-decodes a path segment.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A JSON rendering of a reply value.
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Simple(s) => json!(s),
        Value::Error(e) => json!({ "error": e }),
        Value::Int(i) => json!(i),
        Value::Bulk(b) => match std::str::from_utf8(b) {
            Ok(s) => json!(s),
            Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(b) }),
        },
        Value::Null => serde_json::Value::Null,
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(pairs) => serde_json::Value::Array(
            pairs
                .iter()
                .map(|(k, v)| json!([to_json(k), to_json(v)]))
                .collect(),
        ),
        Value::Double(d) => json!(d),
        Value::Bool(b) => json!(b),
    }
}

async fn run(conn: &mut ConnState, p: &mut Pipeline, argv: &[&[u8]]) -> Value {
    let out = p.execute_one(conn, argv).await;
    read::decode(&out, 0)
        .map(|(v, _)| v)
        .unwrap_or(Value::Error("ERR internal: undecodable reply".into()))
}

fn command_error(e: &str) -> Response {
    let status = if e.starts_with("NOPERM") {
        403
    } else if e.starts_with("NOAUTH") || e.starts_with("WRONGPASS") {
        401
    } else if e.starts_with("OOM") {
        503
    } else if e.starts_with("WRONGTYPE") {
        409
    } else {
        400
    };
    Response::error(status, e)
}

/// Checks the request's bearer key (once any API key exists), and protected mode for the KV
/// API. `/health*` is always open; `/metrics` needs a key only with
/// `auth.metrics_requires_key`.
fn authorize(conn: &mut ConnState, req: &Request) -> Result<(), Response> {
    let global = conn.shard.global.clone();
    let reg = &global.auth;
    let path = req.path.as_str();
    if path == "/health" || path.starts_with("/health/") {
        return Ok(());
    }
    let metrics = path == "/metrics";
    if reg.is_empty() {
        conn.auth.logout(reg);
        if !metrics && global.refuses(conn.info.borrow().addr.ip()) {
            return Err(Response::error(403, crate::auth::DENIED));
        }
        return Ok(());
    }
    if metrics && !global.config.auth.metrics_requires_key {
        return Ok(());
    }
    match &req.bearer {
        None => Err(Response::error(401, crate::errors::NOAUTH)),
        Some(k) => match reg.authenticate(None, k) {
            Some(g) => {
                conn.auth.login(g, reg);
                Ok(())
            }
            None => Err(Response::error(401, crate::errors::WRONGPASS)),
        },
    }
}

/// Routes one request.
pub async fn route(conn: &mut ConnState, p: &mut Pipeline, req: &Request) -> Response {
    let path = req.path.as_str();
    if let Err(denied) = authorize(conn, req) {
        return denied;
    }
    match (req.method.as_str(), path) {
        ("GET", "/health") => super::metrics::health(conn).await,
        ("GET", "/health/kv") => super::metrics::health_kv(conn).await,
        ("GET", "/health/replication") => {
            let shards = crate::repl::view::shards(&conn.shard).await;
            let (status, body) = crate::repl::view::health(&conn.shard.global, &shards);
            Response::json(status, &body)
        }
        ("GET", "/metrics") => super::metrics::prometheus(conn).await,
        ("GET", "/kv/stats") => super::metrics::kv_stats(conn).await,
        ("POST", "/kv/set") => kv_set(conn, p, &req.body).await,
        ("GET", _) if path.starts_with("/kv/get/") => {
            let Some(key) = percent_decode(&path["/kv/get/".len()..]) else {
                return Response::error(400, "invalid percent-encoding in key");
            };
            match run(conn, p, &[b"GET", &key]).await {
                Value::Null => Response::error(404, "key not found"),
                Value::Error(e) => command_error(&e),
                v => {
                    let ttl = match run(conn, p, &[b"TTL", &key]).await {
                        Value::Int(t) if t >= 0 => json!(t),
                        _ => serde_json::Value::Null,
                    };
                    Response::json(
                        200,
                        &json!({ "key": String::from_utf8_lossy(&key), "value": to_json(&v), "ttl": ttl }),
                    )
                }
            }
        }
        ("DELETE", _) if path.starts_with("/kv/del/") => {
            let Some(key) = percent_decode(&path["/kv/del/".len()..]) else {
                return Response::error(400, "invalid percent-encoding in key");
            };
            match run(conn, p, &[b"DEL", &key]).await {
                Value::Int(n) => Response::json(
                    200,
                    &json!({ "deleted": n > 0, "key": String::from_utf8_lossy(&key) }),
                ),
                Value::Error(e) => command_error(&e),
                _ => Response::error(500, "unexpected reply"),
            }
        }
        (
            _,
            "/health" | "/health/kv" | "/health/replication" | "/metrics" | "/kv/stats" | "/kv/set",
        ) => Response::error(405, "method not allowed"),
        _ => Response::error(404, "no such endpoint"),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    key: String,
    value: serde_json::Value,
    #[serde(default)]
    ttl: Option<u64>,
    #[serde(default)]
    nx: bool,
    #[serde(default)]
    xx: bool,
}

async fn kv_set(conn: &mut ConnState, p: &mut Pipeline, body: &[u8]) -> Response {
    let b: SetBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("invalid JSON body: {e}")),
    };
    if b.nx && b.xx {
        return Response::error(400, "nx and xx cannot both be true");
    }
    let value = match &b.value {
        serde_json::Value::String(s) => s.clone().into_bytes(),
        serde_json::Value::Number(n) => n.to_string().into_bytes(),
        serde_json::Value::Bool(v) => v.to_string().into_bytes(),
        other => serde_json::to_vec(other).unwrap_or_default(),
    };
    let ttl = b.ttl.map(|t| t.to_string());
    let mut argv: Vec<&[u8]> = vec![b"SET", b.key.as_bytes(), &value];
    if let Some(t) = &ttl {
        if t == "0" {
            return Response::error(400, "ttl must be a positive number of seconds");
        }
        argv.push(b"EX");
        argv.push(t.as_bytes());
    }
    if b.nx {
        argv.push(b"NX");
    }
    if b.xx {
        argv.push(b"XX");
    }
    match run(conn, p, &argv).await {
        Value::Simple(_) => Response::json(200, &json!({ "success": true, "key": b.key })),
        Value::Null => Response::json(
            200,
            &json!({ "success": false, "key": b.key, "reason": if b.nx { "key exists" } else { "key does not exist" } }),
        ),
        Value::Error(e) => command_error(&e),
        _ => Response::error(500, "unexpected reply"),
    }
}
