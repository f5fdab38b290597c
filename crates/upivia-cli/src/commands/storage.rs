//! `upivia storage put|get|ls|show|rm|restore`: the organisation's stored
//! objects (PAT). Files stream from and to disk, with a progress bar on a
//! terminal; `get` writes through a temporary file, so an interrupted
//! download never leaves a partial file under the target name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;
use upivia::models::PageQuery;
use upivia::resources::{ByteRange, UploadObject};

use super::client::ClientArgs;
use super::output::{self, Table};
use super::progress;

/// The direct (multipart) upload's limit; larger files take the presigned
/// way, which has its own.
const DIRECT_UPLOAD_MAX: u64 = 100 * 1024 * 1024;

/// Stored objects: upload, download, list, delete, restore.
#[derive(Args, Debug)]
pub struct StorageArgs {
    #[command(subcommand)]
    pub command: StorageCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum StorageCommand {
    /// Upload a file; prints the object's id, size and SHA-256.
    Put {
        /// The file to upload.
        file: PathBuf,
        /// Its content type (default: guessed from the extension).
        #[arg(long)]
        content_type: Option<String>,
        /// Store it under this name instead of the file's own.
        #[arg(long)]
        name: Option<String>,
        /// Upload through a presigned URL (presign, PUT, confirm with the
        /// SHA-256) even when a direct upload would do; files over 100 MB
        /// always go this way.
        #[arg(long)]
        presign: bool,
    },
    /// Download an object's bytes.
    Get {
        /// The object's id.
        id: String,
        /// Where to write: a file, or `-` for stdout (default: the object's
        /// file name, in the current directory).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Live objects, newest first.
    Ls {
        /// Most objects to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Every page, not only the first.
        #[arg(long)]
        all: bool,
    },
    /// One object's details.
    Show {
        /// The object's id.
        id: String,
    },
    /// Delete an object; it can be restored for 7 days.
    Rm {
        /// The object's id.
        id: String,
    },
    /// Undo a delete within its window.
    Restore {
        /// The object's id.
        id: String,
    },
}

pub async fn run(args: StorageArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let json = args.client.json;
    let objects = client.storage().objects();
    let answer = match args.command {
        StorageCommand::Put {
            file,
            content_type,
            name,
            presign,
        } => {
            let sealed = put(&client, &file, content_type, name, presign).await?;
            if !json {
                let o = &sealed["object"];
                output::print(&format!(
                    "{}  {}  {} bytes  sha256 {}",
                    output::text(&o["id"]),
                    output::text(&o["filename"]),
                    output::text(&o["size_bytes"]),
                    output::text(&o["sha256"])
                ))?;
                return Ok(ExitCode::SUCCESS);
            }
            sealed
        }
        StorageCommand::Get { id, output, force } => {
            let written = get(&client, &id, output, force).await?;
            if json {
                serde_json::json!({"id": id, "path": written.0, "bytes": written.1})
            } else {
                if written.0 != "-" {
                    eprintln!("wrote {} bytes to {}", written.1, written.0);
                }
                return Ok(ExitCode::SUCCESS);
            }
        }
        StorageCommand::Ls { limit, all } => {
            let mut rows = Vec::new();
            let mut cursor = None;
            loop {
                let page = objects
                    .list(PageQuery {
                        cursor: cursor.take(),
                        limit: Some(limit),
                    })
                    .await?;
                rows.extend(page.items);
                match page.next_cursor {
                    Some(next) if all => cursor = Some(next),
                    _ => break,
                }
            }
            if !json {
                let mut table = Table::new(["ID", "NAME", "SIZE", "TYPE", "CREATED"]);
                for o in &rows {
                    table.row(vec![
                        o.id.clone(),
                        o.filename.clone().unwrap_or_else(|| "-".into()),
                        o.size_bytes.map_or_else(|| "-".into(), human_bytes),
                        o.content_type.clone().unwrap_or_else(|| "-".into()),
                        o.created_at.clone().unwrap_or_else(|| "-".into()),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            serde_json::json!({ "objects": rows })
        }
        StorageCommand::Show { id } => {
            let shown = objects.get(&id).await?;
            if !json {
                output::print(&key_values(&shown["object"]))?;
                return Ok(ExitCode::SUCCESS);
            }
            shown
        }
        StorageCommand::Rm { id } => {
            let deleted = objects.delete(&id).await?;
            if !json {
                let until = deleted["object"]["restorable_until"]
                    .as_str()
                    .map(|t| format!("; restorable until {t} with `upivia storage restore {id}`"))
                    .unwrap_or_default();
                output::print(&format!("deleted {id}{until}"))?;
                return Ok(ExitCode::SUCCESS);
            }
            deleted
        }
        StorageCommand::Restore { id } => {
            let restored = objects.restore(&id).await?;
            if !json {
                output::print(&format!("restored {id}"))?;
                return Ok(ExitCode::SUCCESS);
            }
            restored
        }
    };
    output::print_json(&answer)?;
    Ok(ExitCode::SUCCESS)
}

/// A file as an upload: its name (or `name`), its content type (given, or
/// guessed from the extension), and a byte progress bar.
pub(super) fn upload_object(
    file: &Path,
    content_type: Option<String>,
    name: Option<String>,
) -> anyhow::Result<(UploadObject, indicatif::ProgressBar)> {
    let mut upload = UploadObject::from_path(file)?;
    if let Some(name) = name {
        upload = upload.with_filename(name);
    }
    let content_type = content_type.unwrap_or_else(|| {
        mime_guess::from_path(file)
            .first_or_octet_stream()
            .essence_str()
            .to_owned()
    });
    let len = upload.len()?;
    let bar = progress::bytes(len, format!("uploading {}", file.display()));
    let upload = upload
        .with_content_type(content_type)
        .with_progress(progress::reporter(&bar));
    Ok((upload, bar))
}

async fn put(
    client: &upivia::Client,
    file: &Path,
    content_type: Option<String>,
    name: Option<String>,
    presign: bool,
) -> anyhow::Result<Value> {
    let (upload, bar) = upload_object(file, content_type, name)?;
    let objects = client.storage().objects();
    let sent = if presign || upload.len()? > DIRECT_UPLOAD_MAX {
        objects.upload_presigned(upload).await
    } else {
        objects.upload(upload).await
    };
    bar.finish_and_clear();
    Ok(sent?)
}

/// Downloads `id`; returns where it went (`-` for stdout) and the bytes.
async fn get(
    client: &upivia::Client,
    id: &str,
    output: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<(String, u64)> {
    let objects = client.storage().objects();
    let target = match output {
        Some(path) => path,
        None => {
            let shown = objects.get(id).await?;
            shown["object"]["filename"]
                .as_str()
                .and_then(|n| Path::new(n).file_name())
                .map(PathBuf::from)
                .with_context(|| format!("{id} has no file name: pass --output"))?
        }
    };
    let to_stdout = target.as_os_str() == "-";
    if !to_stdout && !force && target.exists() {
        anyhow::bail!(
            "{} exists: pass --force to replace it, or --output",
            target.display()
        );
    }
    let download = objects.open(id, ByteRange::All).await?;
    let bar = progress::bytes(
        download.content_length().unwrap_or(0),
        format!("downloading {id}"),
    );
    let reporter = Some(progress::reporter(&bar));
    let written = if to_stdout {
        let mut stdout = tokio::io::stdout();
        download.write_to(&mut stdout, reporter).await
    } else {
        download.save(&target, reporter).await
    };
    bar.finish_and_clear();
    let written = written?;
    if to_stdout {
        std::io::stdout().flush().ok();
    }
    Ok((target.display().to_string(), written))
}

/// `1.5 MiB`-style sizes for tables.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An object as `key: value` lines, in a fixed order.
fn key_values(o: &Value) -> String {
    [
        "id",
        "filename",
        "status",
        "content_type",
        "size_bytes",
        "sha256",
        "created_at",
        "deleted_at",
    ]
    .iter()
    .filter(|k| !o[**k].is_null())
    .map(|k| format!("{k}: {}", output::text(&o[*k])))
    .collect::<Vec<_>>()
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(100 * 1024 * 1024), "100.0 MiB");
    }
}
