//! `synap-admin`: administration from the command line, over RESP (`--host`/`--port`,
//! optionally `--tls`): `ping`, `info`, API keys (`create-api-key`, `list-api-keys`,
//! `revoke-api-key`), `export`/`import` (`synap::admin`) and
//! `check-aof` (offline). With `--api-key` (or `SYNAP_API_KEY`) it authenticates first; while no
//! key exists yet, key commands are accepted from the server's own host only, and the first
//! key must be an admin key.

use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use synap::protocol::read::{self, Value};

#[derive(Parser)]
#[command(name = "synap-admin", version, about = "Synap administration")]
struct Cli {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    host: String,
    /// Server RESP port.
    #[arg(long, default_value_t = 6379, global = true)]
    port: u16,
    /// API key to authenticate with (AUTH). Prefer the environment variable: command lines
    /// are visible to other users of the host.
    #[arg(long, env = "SYNAP_API_KEY", hide_env_values = true, global = true)]
    api_key: Option<String>,
    /// Connect with TLS.
    #[arg(long, global = true)]
    tls: bool,
    /// CA certificate (PEM) to verify the server with (TLS).
    #[arg(long, value_name = "PATH", global = true)]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM) when the server requires one (TLS, with --key-file).
    #[arg(long, value_name = "PATH", global = true, requires = "key_file")]
    cert: Option<PathBuf>,
    /// Client private key (PEM) for --cert.
    #[arg(long, value_name = "PATH", global = true, requires = "cert")]
    key_file: Option<PathBuf>,
    /// Do not verify the server certificate (TLS; testing only).
    #[arg(long, global = true)]
    insecure: bool,
    /// Name to check the server certificate against (default: --host).
    #[arg(long, value_name = "NAME", global = true)]
    sni: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check that the server answers.
    Ping,
    /// Print INFO (optionally one section).
    Info {
        /// Section name.
        section: Option<String>,
    },
    /// Check an AOF segment offline (no server needed); `--fix` cuts it at the first bad record.
    CheckAof {
        /// Truncate the file after its last good record.
        #[arg(long)]
        fix: bool,
        /// The segment (e.g. /var/lib/synap/n4/shard-0.000003.aof).
        file: std::path::PathBuf,
    },
    /// Export keys to a JSON Lines file (docs/EXPORT-FORMAT.md).
    Export(synap::admin::export::ExportArgs),
    /// Import a file written by `export`.
    Import(synap::admin::import::ImportArgs),
    /// Create an API key and print it (shown once; the server stores only its hash).
    CreateApiKey {
        /// Unique name (letters, digits, '.', '_', '-'); also the user name for AUTH name key.
        #[arg(long)]
        name: String,
        /// admin, readwrite or readonly.
        #[arg(long)]
        role: String,
        /// Limit the key to keys matching this glob (repeatable); default every key.
        #[arg(long = "pattern", value_name = "GLOB")]
        patterns: Vec<String>,
    },
    /// List API keys (name, role, patterns, creation time; never the keys).
    ListApiKeys,
    /// Turn the replica at --host/--port into a master (REPLICAOF NO ONE: a new replication
    /// id, its data kept); point the other replicas at it with REPLICAOF.
    PromoteReplica,
    /// Revoke an API key: connections using it are refused at their next command.
    RevokeApiKey {
        /// The key to revoke.
        #[arg(long, required_unless_present = "name", conflicts_with = "name")]
        key: Option<String>,
        /// Or the name of the key to revoke.
        #[arg(long)]
        name: Option<String>,
    },
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect(cli: &Cli) -> Result<Box<dyn Stream>, String> {
    let (host, port) = (&cli.host, cli.port);
    let s = TcpStream::connect((host.as_str(), port))
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    if !cli.tls {
        return Ok(Box::new(s));
    }
    let identity = cli.cert.as_deref().zip(cli.key_file.as_deref());
    let config = synap::tls::client_config(cli.cacert.as_deref(), identity, cli.insecure)?;
    let name = cli.sni.clone().unwrap_or_else(|| host.clone());
    let name = rustls::pki_types::ServerName::try_from(name)
        .map_err(|e| format!("invalid TLS server name: {e}"))?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    Ok(Box::new(rustls::StreamOwned::new(conn, s)))
}

fn request(s: &mut dyn Stream, args: &[&str]) -> Result<Value, String> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    s.flush().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if let Some((v, _)) = read::decode(&out, 0) {
            return Ok(v);
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(match String::from_utf8_lossy(&out).trim() {
                "" => "the server closed the connection".to_string(),
                text => text.trim_start_matches('-').to_string(),
            });
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Simple(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for Unix seconds.
fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn print_keys(v: &Value) -> Result<(), String> {
    let Value::Array(keys) = v else {
        return Err("unexpected reply to APIKEY LIST".into());
    };
    println!("{:<24} {:<10} {:<24} CREATED", "NAME", "ROLE", "PATTERNS");
    for k in keys {
        let fields: Vec<(String, &Value)> = match k {
            Value::Array(f) => f.chunks(2).map(|p| (text(&p[0]), &p[1])).collect(),
            Value::Map(f) => f.iter().map(|(a, b)| (text(a), b)).collect(),
            _ => continue,
        };
        let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        let patterns = get("patterns").map(text).unwrap_or_default();
        let created = match get("created") {
            Some(Value::Int(t)) => utc(*t),
            _ => String::new(),
        };
        println!(
            "{:<24} {:<10} {:<24} {created}",
            get("name").map(text).unwrap_or_default(),
            get("role").map(text).unwrap_or_default(),
            if patterns.is_empty() {
                "*".into()
            } else {
                patterns
            },
        );
    }
    Ok(())
}

fn run(cli: &Cli) -> Result<(), String> {
    let mut s = connect(cli)?;
    if let Some(key) = &cli.api_key {
        if let Value::Error(e) = request(s.as_mut(), &["AUTH", key])? {
            return Err(e);
        }
    }
    let mut args: Vec<&str> = match &cli.cmd {
        Cmd::CheckAof { .. } | Cmd::Export(_) | Cmd::Import(_) => {
            return Err("handled before connecting".into())
        }
        Cmd::Ping => vec!["PING"],
        Cmd::Info { section } => {
            let mut a = vec!["INFO"];
            a.extend(section.as_deref());
            a
        }
        Cmd::CreateApiKey { name, role, .. } => vec!["APIKEY", "CREATE", name, role],
        Cmd::ListApiKeys => vec!["APIKEY", "LIST"],
        Cmd::PromoteReplica => vec!["REPLICAOF", "NO", "ONE"],
        Cmd::RevokeApiKey { key, name } => {
            vec![
                "APIKEY",
                "REVOKE",
                key.as_deref().or(name.as_deref()).unwrap_or(""),
            ]
        }
    };
    if let Cmd::CreateApiKey { patterns, .. } = &cli.cmd {
        args.extend(patterns.iter().map(String::as_str));
    }
    let reply = request(s.as_mut(), &args)?;
    if let Value::Error(e) = &reply {
        return Err(e.clone());
    }
    match &cli.cmd {
        Cmd::ListApiKeys => print_keys(&reply)?,
        Cmd::CreateApiKey { name, role, .. } => {
            eprintln!("API key {name:?} ({role}) created. Store it now: it cannot be shown again.");
            println!("{}", text(&reply));
        }
        Cmd::RevokeApiKey { .. } => println!("revoked"),
        Cmd::PromoteReplica => println!("promoted: {}:{} is a master now", cli.host, cli.port),
        _ => println!("{}", text(&reply)),
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let conn = synap::admin::Connect {
        host: cli.host.clone(),
        port: cli.port,
        api_key: cli.api_key.clone(),
    };
    match &cli.cmd {
        Cmd::CheckAof { fix, file } => return synap::admin::check_aof::main(file, *fix),
        Cmd::Export(a) => return synap::admin::export::main(&conn, a),
        Cmd::Import(a) => return synap::admin::import::main(&conn, a),
        _ => {}
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synap-admin: {e}");
            ExitCode::FAILURE
        }
    }
}
