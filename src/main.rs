//! `synap-server`: parses the command line and configuration, sets up logging, and runs.

use clap::Parser;
use std::process::ExitCode;
use synap::config::{Cli, Config, LogFormat};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc options: freed pages go back to the OS at once (no decay), as RSS is a target.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"dirty_decay_ms:0,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |k: &str| std::env::var(k).ok();
    let config = match Config::load(cli.config.as_deref(), &cli.overrides(), &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("synap-server: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        // What start-up loads besides the file: the TLS certificate and the API key file.
        if config.server.tls.enabled {
            if let Err(e) = synap::tls::server_config(&config.server.tls) {
                eprintln!("synap-server: configuration error: server.tls: {e}");
                return ExitCode::from(2);
            }
        }
        let keys = synap::auth::keys_path(&config.persistence.data_dir);
        if let Err(e) = synap::auth::Registry::open(keys) {
            eprintln!("synap-server: configuration error: {e}");
            return ExitCode::from(2);
        }
        println!(
            "configuration OK: {} (role {:?}, RESP {}:{}, HTTP {}:{})",
            cli.config
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "built-in defaults".into()),
            config.server.role,
            config.server.host,
            config.server.port,
            config.server.host,
            config.server.http_port
        );
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{},glommio=warn", config.logging.level))
    });
    // No colour codes when the output is not a terminal (journald, files).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    match config.logging.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let file = cli
        .config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    match synap::runtime::run(config, file) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("synap-server: {e}");
            ExitCode::FAILURE
        }
    }
}
