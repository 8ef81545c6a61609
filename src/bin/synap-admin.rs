//! `synap-admin`: administration from the command line against a running server: `ping`,
//! `info`, `export`/`import` (logic in `synap::admin`); API keys and promotion arrive with their
//! issues.

use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "synap-admin", version, about = "Synap administration")]
struct Cli {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    host: String,
    /// Server RESP port.
    #[arg(long, default_value_t = 6379, global = true)]
    port: u16,
    /// API key: sent as `AUTH <key>` before anything else (export, import).
    #[arg(long, env = "SYNAP_API_KEY", hide_env_values = true, global = true)]
    api_key: Option<String>,
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
}

fn request(host: &str, port: u16, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect((host, port))
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if synap::protocol::read::skip(&out, 0).is_some_and(|end| end <= out.len()) {
            break;
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let conn = synap::admin::Connect {
        host: cli.host.clone(),
        port: cli.port,
        api_key: cli.api_key.clone(),
    };
    let args: Vec<&str> = match &cli.cmd {
        Cmd::CheckAof { fix, file } => return synap::admin::check_aof::main(file, *fix),
        Cmd::Export(a) => return synap::admin::export::main(&conn, a),
        Cmd::Import(a) => return synap::admin::import::main(&conn, a),
        Cmd::Ping => vec!["PING"],
        Cmd::Info { section: Some(s) } => vec!["INFO", s.as_str()],
        Cmd::Info { section: None } => vec!["INFO"],
    };
    match request(&cli.host, cli.port, &args) {
        Ok(reply) => match synap::protocol::read::decode(&reply, 0) {
            Some((synap::protocol::read::Value::Error(e), _)) => {
                eprintln!("synap-admin: {e}");
                ExitCode::FAILURE
            }
            Some((synap::protocol::read::Value::Bulk(b), _)) => {
                println!("{}", String::from_utf8_lossy(&b));
                ExitCode::SUCCESS
            }
            Some((synap::protocol::read::Value::Simple(s), _)) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            _ => {
                eprintln!("synap-admin: unexpected reply");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("synap-admin: {e}");
            ExitCode::FAILURE
        }
    }
}
