//! Real client tools against the server: `redis-cli` (including `--pipe` mass insertion and
//! INFO parsing) and redis-py (INFO, COMMAND, CLIENT, pipelines, RESP3). Each test says so and
//! passes vacuously only when its tool is not installed (`.ci/run` installs both).

mod common;
use common::Server;
use std::io::Write;
use std::process::{Command, Stdio};

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn cli(srv: &Server, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &srv.port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_works_unchanged() {
    if !have("redis-cli", "--version") {
        eprintln!("redis-cli is not installed (apt-get install redis-tools): skipping");
        return;
    }
    let srv = Server::start(2);
    assert_eq!(cli(&srv, &["ping"]).trim(), "PONG");
    assert_eq!(cli(&srv, &["set", "greeting", "hello world"]).trim(), "OK");
    assert_eq!(cli(&srv, &["get", "greeting"]).trim(), "hello world");
    assert_eq!(cli(&srv, &["--no-raw", "get", "nothing"]).trim(), "(nil)");
    assert_eq!(cli(&srv, &["incr", "n"]).trim(), "1");
    let info = cli(&srv, &["info", "server"]);
    assert!(info.contains("redis_version:"), "{info}");
    // Interactive mode fetches COMMAND DOCS for hints; it must not choke on the reply.
    let mut child = Command::new("redis-cli")
        .args(["-p", &srv.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"set a 1\nget a\nmget a b\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("OK") && text.contains('1'), "{text}");
    // Mass insertion with --pipe (it ends with an ECHO of a random marker).
    let mut payload = Vec::new();
    for i in 0..5000 {
        let k = format!("pipe:{i}");
        payload.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$1\r\nv\r\n", k.len()).as_bytes(),
        );
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &srv.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli --pipe");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&payload)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("errors: 0, replies: 5000"),
        "{text}"
    );
    assert_eq!(cli(&srv, &["dbsize"]).trim(), "5003");
}

#[test]
fn redis_py_works_unchanged() {
    if !have("python3", "-c")
        || !Command::new("python3")
            .args(["-c", "import redis"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    {
        eprintln!("redis-py is not installed (pip install redis): skipping");
        return;
    }
    let srv = Server::start(2);
    let script = format!(
        r#"
import redis
for proto in (2, 3):
    r = redis.Redis(port={port}, protocol=proto, decode_responses=True)
    assert r.ping()
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.get("missing") is None
    assert r.mset({{"a": 1, "b": 2, "c": 3}})
    assert r.mget(["a", "b", "c", "zz"]) == ["1", "2", "3", None]
    assert r.incrbyfloat("f", 1.5) == 1.5
    r.expire("k", 100)
    assert r.ttl("k") == 100
    info = r.info()
    assert info["redis_version"] and info["connected_clients"] >= 1, info
    assert "db0" in r.info("keyspace")
    assert r.info("commandstats")["cmdstat_set"]["calls"] >= 1
    cmds = r.command()
    assert "get" in cmds and cmds["get"]["arity"] == 2, list(cmds)[:5]
    assert r.command_count() == len(cmds)
    r.client_setname("py")
    assert r.client_getname() == "py"
    assert any(c["name"] == "py" for c in r.client_list())
    assert r.config_get("maxclients")["maxclients"] == "10000"
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set(f"p{{i}}", i)
        p.get(f"p{{i}}")
    res = p.execute()
    assert res[1::2] == [str(i) for i in range(200)]
    keys = set(r.scan_iter(match="p*", count=50))
    assert len(keys) == 200, len(keys)
    assert r.dbsize() == 207
    assert r.flushall()
print("ok")
"#,
        port = srv.port
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "redis-py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
