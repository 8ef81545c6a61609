//! `synap-admin check-aof [--fix] FILE`: reads an AOF segment offline, reports where its good
//! records end and what follows (a torn write or a bad record), and with `--fix` truncates it
//! there (what follows is lost, as with Redis's `redis-check-aof --fix`).

use crate::persist::aof::{scan, Tail};
use std::process::ExitCode;

/// Runs the check; exit 0 when the file is clean or was fixed, 1 when it needs `--fix`, 2 when
/// it cannot be read or is not an AOF.
pub fn main(file: &std::path::Path, fix: bool) -> ExitCode {
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
