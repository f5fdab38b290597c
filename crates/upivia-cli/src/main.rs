//! The `upivia` command. `serve` and `admin` drive the server library;
//! client commands reach a server only through the SDK.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config_file;

use std::process::ExitCode;

use clap::Parser;

// The server allocates many small short-lived objects per request (JSON,
// SQL parameters); mimalloc handles that pattern better than glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let (argv, warnings) = match config_file::with_config_file(std::env::args_os().collect()) {
        Ok(read) => read,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let cli = cli::Cli::parse_from(argv);
    let filter = tracing_subscriber::EnvFilter::try_from_env("UPIVIA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // rmcp logs whole JSON-RPC messages (tool arguments, which may hold
    // secrets) at debug and trace: never below info, whatever UPIVIA_LOG says.
    let filter = match "rmcp=info".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
