//! The `upivia` command. `serve` and `admin` drive the server library;
//! client commands reach a server only through the SDK.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config_file;
mod credentials;

use std::io::IsTerminal;
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
    // Colour only for a person at a terminal: log files and collectors
    // get plain text, or one JSON object a line with UPIVIA_LOG_FORMAT=json.
    let ansi = std::io::stderr().is_terminal();
    match std::env::var("UPIVIA_LOG_FORMAT").as_deref() {
        Ok("json") => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        _ => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .init(),
    }
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each said once: errors that
/// already print their source (the SDK's network error does) are not
/// followed by it again.
fn describe(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::describe;

    /// Prints its source in its own message, as the SDK's network error.
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "outer: {}", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_the_message_already_holds_is_not_repeated() {
        let err =
            anyhow::Error::new(Outer(std::io::Error::other("inner"))).context("could not list");
        assert_eq!(describe(&err), "could not list: outer: inner");
    }
}
