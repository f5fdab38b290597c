//! `upivia bench echo-server`: POST /echo answers the JSON it was sent.
//! It is the HTTP ceiling of the machine for `bench/ratio.sh`: the same
//! binary (allocator, tokio runtime), the same axum, hyper and accept loop
//! (`upivia_server::http_server::run`, with the connection limits `upivia
//! serve` starts with), so a governed request's figures divided by its
//! figures leave only what governance costs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use upivia_server::config::Config;
use upivia_server::http_server::{self, Limits};

use crate::cli::EchoServerArgs;

pub async fn run(args: EchoServerArgs) -> anyhow::Result<ExitCode> {
    let listener = http_server::bind(args.listen)
        .with_context(|| format!("could not listen on {}", args.listen))?;
    // `Config::new` only fills in defaults; nothing is opened at that path.
    let limits = Limits::api(&Config::new(args.listen, PathBuf::new()));
    let app = Router::new().route("/echo", post(echo));
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        signal.cancel();
    });
    tracing::info!(address = %listener.local_addr()?, "echo server is serving");
    http_server::run(listener, app, limits, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// Parsed and serialised again, as a real handler's JSON would be.
async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(body)
}

/// Ctrl-C or SIGTERM: callgrind writes its counts only when the process
/// exits normally, so the scripts stop it with SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
