//! One module per command; `run` dispatches.

pub(crate) mod admin;
pub(crate) mod agents;
mod amount;
pub(crate) mod approvals;
pub(crate) mod audit;
pub(crate) mod balance;
mod bench;
mod bench_echo;
pub(crate) mod chat;
mod client;
pub(crate) mod inbox;
pub(crate) mod knowledge;
pub(crate) mod login;
pub(crate) mod mcp;
pub(crate) mod migrate;
pub(crate) mod orgs;
mod output;
pub(crate) mod password;
pub(crate) mod people;
mod progress;
pub(crate) mod request;
pub(crate) mod schedules;
pub(crate) mod secrets;
mod serve;
pub(crate) mod services;
pub(crate) mod storage;
pub(crate) mod tasks;
pub(crate) mod teams;
pub(crate) mod triggers;
pub(crate) mod usage;
pub(crate) mod workflows;

use std::process::ExitCode;

use crate::cli::{AdminCommand, AuditCommand, Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Admin(AdminCommand::CheckLedger(args)) => admin::check_ledger(args).await,
            Command::Admin(AdminCommand::CreateOrg(args)) => orgs::create_org(args).await,
            Command::Admin(AdminCommand::Export(args)) => migrate::export(args).await,
            Command::Admin(AdminCommand::Import(args)) => migrate::import(args).await,
            Command::Audit(AuditCommand::Verify(args)) => admin::verify_audit(args).await,
            Command::Audit(AuditCommand::PublicKey(args)) => admin::public_key(args),
            Command::Audit(AuditCommand::Tail(args)) => audit::tail(args).await,
            Command::Audit(AuditCommand::List(args)) => audit::list(args).await,
            Command::Request(args) => request::run(args).await,
            Command::Services(args) => services::run(args).await,
            Command::Approvals(args) => approvals::run(args).await,
            Command::Agents(args) => agents::run(args).await,
            Command::Balance(args) => balance::run(args).await,
            Command::Usage(args) => usage::run(args).await,
            Command::Login(args) => login::login(args).await,
            Command::Logout(args) => login::logout(args),
            Command::Teams(args) => teams::run(args).await,
            Command::Secrets(args) => secrets::run(args).await,
            Command::Storage(args) => storage::run(args).await,
            Command::Chat(args) => chat::run(*args).await,
            Command::Knowledge(args) => knowledge::run(args).await,
            Command::Inbox(args) => inbox::run(args).await,
            Command::Tasks(args) => tasks::run(args).await,
            Command::Triggers(args) => triggers::run(args).await,
            Command::Schedules(args) => schedules::run(args).await,
            Command::Workflows(args) => workflows::run(args).await,
            Command::Password(args) => password::run(args).await,
            Command::Mcp(args) => mcp::run(args).await,
            Command::Tokens(args) => people::tokens(args).await,
            Command::Members(args) => people::members(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    })
}
