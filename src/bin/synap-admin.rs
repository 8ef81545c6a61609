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
    /// Check an AOF segment offline (no server needed); `--fix` cuts it at the first bad record.
    CheckAof {
        /// Truncate the file after its last good record.
        #[arg(long)]
        fix: bool,
        /// The segment (e.g. /var/lib/synap/n4/shard-0.000003.aof).
        file: std::path::PathBuf,
    },
}

fn check_aof(file: &std::path::Path, fix: bool) -> ExitCode {
    use synap::persist::aof::{scan, Tail};
    let buf = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("synap-admin: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let s = match scan(&buf) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("synap-admin: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let (what, at) = match s.tail {
        Tail::Clean => {
            println!(
                "{}: OK, {} records, {} bytes",
                file.display(),
                s.records,
                buf.len()
            );
            return ExitCode::SUCCESS;
        }
        Tail::Torn { at } => ("incomplete last record (torn write)", at),
        Tail::Corrupt { at } => ("bad record (checksum, length or content)", at),
    };
    println!(
        "{}: {what} at offset {at}; {} good records before it; {} bytes would be cut",
        file.display(),
        s.records,
        buf.len() as u64 - s.good_end
    );
    if !fix {
        println!(
            "run again with --fix to truncate the file at offset {}",
            s.good_end
        );
        return ExitCode::FAILURE;
    }
    let res = std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .and_then(|f| f.set_len(s.good_end).and_then(|_| f.sync_all()));
    match res {
        Ok(()) => {
            println!(
                "fixed: truncated to {} bytes ({} records kept)",
                s.good_end, s.records
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("synap-admin: {}: {e}", file.display());
            ExitCode::from(2)
        }
    }
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
    if let Cmd::CheckAof { fix, file } = &cli.cmd {
        return check_aof(file, *fix);
    }
    let args: Vec<&str> = match &cli.cmd {
        Cmd::CheckAof { .. } => return ExitCode::FAILURE,
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
