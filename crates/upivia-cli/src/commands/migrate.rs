//! `upivia admin export` and `upivia admin import`: moving a SQLite
//! deployment to PostgreSQL. The export writes the data directory's
//! database (and its signed checkpoints) to stdout as JSON lines, from one
//! snapshot, safe beside a running server; the import reads them from
//! stdin into an empty PostgreSQL database in one transaction.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use upivia_server::store::transfer::{CHECKPOINTS, TransferSummary};

use crate::cli::DataDirArg;

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// The checkpoint file [default: <data-dir>/audit-checkpoints.jsonl].
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The PostgreSQL database to fill (`postgres://user@host:port/db`); it
    /// must be empty (a new database: the import migrates it).
    #[arg(long, env = "UPIVIA_DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: SecretString,
}

fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let dir = args.data.data_dir.clone();
    let db = dir.join("upivia.db");
    let checkpoints = args
        .checkpoints
        .unwrap_or_else(|| dir.join("audit-checkpoints.jsonl"));
    let now = time::OffsetDateTime::now_utc();
    let summary = tokio::task::spawn_blocking(move || {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let summary =
            upivia_server::store::sqlite::export::export(&db, &checkpoints, &mut out, now)?;
        out.flush()?;
        Ok::<_, anyhow::Error>(summary)
    })
    .await
    .context("the export stopped")?
    .with_context(|| format!("could not export {}", dir.display()))?;
    eprintln!("exported {}", describe(&summary));
    Ok(ExitCode::SUCCESS)
}

pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    let summary =
        upivia_server::store::postgres::import::import(args.database_url.expose_secret(), input)
            .await
            .context("the import failed; the database is as it was")?;
    println!("imported {}", describe(&summary));
    Ok(ExitCode::SUCCESS)
}

fn describe(summary: &TransferSummary) -> String {
    let checkpoints = summary.rows.get(CHECKPOINTS).copied().unwrap_or(0);
    let tables = summary.rows.keys().filter(|t| *t != CHECKPOINTS).count();
    let per_table: Vec<String> = summary
        .rows
        .iter()
        .filter(|(t, _)| *t != CHECKPOINTS)
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    format!(
        "{} rows of {tables} tables and {checkpoints} signed checkpoints ({})",
        summary.total() - checkpoints,
        per_table.join(", ")
    )
}
