//! One module per command; `run` dispatches.

mod admin;
mod serve;

use std::process::ExitCode;

use crate::cli::{AdminCommand, AuditCommand, Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Admin(AdminCommand::CheckLedger(args)) => admin::check_ledger(args).await,
            Command::Audit(AuditCommand::Verify(args)) => admin::verify_audit(args).await,
        }
    })
}
