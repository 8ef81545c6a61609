//! CONFIG GET / CONFIG SET: the configuration seen through Redis's parameter names, and the
//! subset that can change at runtime.

use crate::shard::Global;

/// Every parameter CONFIG GET knows, with its current value.
pub fn config_get_all(g: &Global) -> Vec<(String, String)> {
    let live = g.live();
    let mut v = g.config.render_for_config_get();
    let mut set = |k: &str, val: String| match v.iter_mut().find(|(n, _)| n == k) {
        Some(slot) => slot.1 = val,
        None => v.push((k.to_string(), val)),
    };
    set("maxmemory", live.maxmemory.to_string());
    set("maxclients", live.maxclients.to_string());
    set("timeout", live.timeout.to_string());
    set("proto-max-bulk-len", live.proto_max_bulk_len.to_string());
    set(
        "client-query-buffer-limit",
        live.client_query_buffer_limit.to_string(),
    );
    set("hz", live.hz.to_string());
    set(
        "active-expire-effort",
        live.active_expire_effort.to_string(),
    );
    set(
        "hash-max-listpack-entries",
        live.hash_max_listpack_entries.to_string(),
    );
    set(
        "hash-max-listpack-value",
        live.hash_max_listpack_value.to_string(),
    );
    set(
        "zset-max-listpack-entries",
        live.zset_limits.max_listpack_entries.to_string(),
    );
    set(
        "zset-max-listpack-value",
        live.zset_limits.max_listpack_value.to_string(),
    );
    set(
        "set-max-intset-entries",
        live.set_limits.max_intset_entries.to_string(),
    );
    set(
        "set-max-listpack-entries",
        live.set_limits.max_listpack_entries.to_string(),
    );
    set(
        "set-max-listpack-value",
        live.set_limits.max_listpack_value.to_string(),
    );
    set(
        "list-max-listpack-size",
        live.list_max_listpack_size.to_string(),
    );
    set("port", g.resp_port.to_string());
    v
}

/// Parses a Redis memory value (bytes, or k/kb/m/mb/g/gb): the configuration file's syntax.
pub fn parse_memory(s: &str) -> Option<u64> {
    crate::config::parse_size(s).ok()
}

fn bad(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

/// Applies CONFIG SET pairs atomically: all are validated before any is applied.
pub fn config_set(g: &Global, pairs: &[(String, String)]) -> Result<(), String> {
    let mut live = g.live();
    for (name, value) in pairs {
        let int = |min: u64, max: u64| -> Result<u64, String> {
            match value.parse::<u64>() {
                Ok(v) if v >= min && v <= max => Ok(v),
                _ => Err(bad(
                    name,
                    &format!("argument must be between {min} and {max} inclusive"),
                )),
            }
        };
        match name.as_str() {
            "maxmemory" => {
                live.maxmemory = parse_memory(value)
                    .ok_or_else(|| bad(name, "argument must be a memory value"))?
            }
            "maxclients" => {
                let v = int(1, u32::MAX as u64)? as usize;
                let cap = crate::runtime::max_clients_allowed();
                if v > cap {
                    return Err(bad(name, &format!("The operating system is not able to handle the specified number of clients, try with {cap}")));
                }
                live.maxclients = v;
            }
            "timeout" => live.timeout = int(0, i32::MAX as u64)?,
            "proto-max-bulk-len" => {
                let v = parse_memory(value)
                    .ok_or_else(|| bad(name, "argument must be a memory value"))?;
                if v < 1024 * 1024 {
                    return Err(bad(name, "argument must be a memory value of at least 1mb"));
                }
                live.proto_max_bulk_len = v as usize;
            }
            "client-query-buffer-limit" => {
                let v = parse_memory(value)
                    .ok_or_else(|| bad(name, "argument must be a memory value"))?;
                if v < 1024 * 1024 {
                    return Err(bad(name, "argument must be a memory value of at least 1mb"));
                }
                live.client_query_buffer_limit = v as usize;
            }
            "hz" => live.hz = int(1, 500)? as u32,
            "active-expire-effort" => live.active_expire_effort = int(1, 10)? as u32,
            "hash-max-listpack-entries" | "hash-max-ziplist-entries" => {
                live.hash_max_listpack_entries = int(0, i32::MAX as u64)? as usize
            }
            "hash-max-listpack-value" | "hash-max-ziplist-value" => {
                live.hash_max_listpack_value = int(0, i32::MAX as u64)? as usize
            }
            "zset-max-listpack-entries" | "zset-max-ziplist-entries" => {
                live.zset_limits.max_listpack_entries = int(0, i32::MAX as u64)? as usize
            }
            "zset-max-listpack-value" | "zset-max-ziplist-value" => {
                live.zset_limits.max_listpack_value = int(0, i32::MAX as u64)? as usize
            }
            "set-max-intset-entries" => {
                live.set_limits.max_intset_entries = int(0, i32::MAX as u64)? as usize
            }
            "set-max-listpack-entries" => {
                live.set_limits.max_listpack_entries = int(0, i32::MAX as u64)? as usize
            }
            "set-max-listpack-value" => {
                live.set_limits.max_listpack_value = int(0, i32::MAX as u64)? as usize
            }
            "list-max-listpack-size" | "list-max-ziplist-size" => {
                live.list_max_listpack_size = match value.parse::<i64>() {
                    Ok(v) if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => v,
                    Ok(_) => {
                        return Err(bad(
                            name,
                            "argument must be between -2147483648 and 2147483647 inclusive",
                        ))
                    }
                    Err(_) => return Err(bad(name, "argument couldn't be parsed into an integer")),
                }
            }
            "maxmemory-policy" if value.eq_ignore_ascii_case("noeviction") => {}
            "maxmemory-policy" => return Err(bad(name, "only noeviction is supported today")),
            "save" | "appendonly" | "appendfsync" if value.is_empty() || value == "no" => {}
            _ => {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ))
            }
        }
    }
    match g.live.write() {
        Ok(mut l) => *l = live,
        Err(p) => *p.into_inner() = live,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1K"), Some(1000));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("1x"), None);
        assert_eq!(parse_memory(""), None);
    }
}
