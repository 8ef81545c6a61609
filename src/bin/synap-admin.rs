//! `synap-admin`: administration from the command line. Today: `ping` and `info` against a
//! running server; export/import, API keys and promotion arrive with their issues.

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
    let args: Vec<&str> = match &cli.cmd {
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
