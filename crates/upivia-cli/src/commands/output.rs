//! How client commands print: aligned tables and `key: value` blocks for
//! people, JSON for scripts (`--json`), money as dollars for people only.

use std::io::Write;

use serde_json::Value;
use upivia::models::ServiceRequestOutcome;

/// Integer cents as dollars, `$1.05` or `-$0.05`, without a float.
pub fn dollars(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", abs / 100, abs % 100)
}

/// A `*_cents` JSON value as dollars; `-` when absent or not an integer.
pub fn dollars_of(value: &Value) -> String {
    value.as_i64().map_or_else(|| "-".to_owned(), dollars)
}

/// A JSON value as table text: strings bare, null as `-`.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows under a header, columns padded to the widest cell.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let last = i + 1 == cells.len();
                if last {
                    out.push_str(cell);
                } else {
                    let pad = widths.get(i).copied().unwrap_or(0);
                    out.push_str(&format!("{cell:<pad$}  "));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&self.header);
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }
}

/// Prints a line on stdout. A closed pipe (`| head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Prints JSON, pretty, on stdout.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    print(&serde_json::to_string_pretty(value)?)
}

/// A service-request outcome as `key: value` lines, money in dollars.
pub fn outcome_text(outcome: &ServiceRequestOutcome) -> String {
    let mut lines = vec![format!("status: {}", outcome.status().unwrap_or("unknown"))];
    if let Some(id) = outcome.request_id() {
        lines.push(format!("request_id: {id}"));
    }
    match outcome {
        ServiceRequestOutcome::Executed(done) => {
            if let Some(cost) = done.cost_cents {
                lines.push(format!("cost: {}", dollars(cost.get())));
            }
            let result = serde_json::to_string_pretty(&done.result).unwrap_or_default();
            lines.push(format!("result: {result}"));
        }
        ServiceRequestOutcome::ApprovalRequired(gate) => {
            lines.push(format!("approval_id: {}", gate.approval_id));
            if let Some(cost) = gate.estimated_cost_cents {
                lines.push(format!("estimated cost: {}", dollars(cost.get())));
            }
            if let Some(expires) = &gate.expires_at {
                lines.push(format!("expires_at: {expires}"));
            }
            lines.push(format!(
                "a human must approve it: upivia approvals approve {}",
                gate.approval_id
            ));
        }
        ServiceRequestOutcome::Blocked(blocked) => {
            lines.push(format!(
                "reason: {}",
                blocked.reason_code.as_deref().unwrap_or("-")
            ));
            if let Some(message) = &blocked.message {
                lines.push(format!("message: {message}"));
            }
        }
        ServiceRequestOutcome::Failed(failed) => {
            lines.push(format!(
                "reason: {}",
                failed.reason_code.as_deref().unwrap_or("-")
            ));
            if let Some(message) = &failed.message {
                lines.push(format!("message: {message}"));
            }
        }
        ServiceRequestOutcome::Running(running) => {
            if let Some(cost) = running.initial_cost_cents {
                lines.push(format!("initial cost: {}", dollars(cost.get())));
            }
            if let Some(provider) = &running.provider {
                lines.push(format!("provider: {provider}"));
            }
            lines.push("still running: pass --wait to follow it to its final state".to_owned());
        }
        ServiceRequestOutcome::Unknown(unknown) => {
            lines.push(Value::Object(unknown.body.clone()).to_string());
        }
    }
    lines.join("\n")
}

/// Prints an outcome (JSON with `--json`) and picks the exit code: 0 for
/// executed, running and approval_required, 1 for blocked and failed.
pub fn report_outcome(
    outcome: &ServiceRequestOutcome,
    json: bool,
) -> anyhow::Result<std::process::ExitCode> {
    if json {
        print_json(&outcome.to_value()?)?;
    } else {
        print(&outcome_text(outcome))?;
    }
    Ok(match outcome {
        ServiceRequestOutcome::Blocked(_) | ServiceRequestOutcome::Failed(_) => {
            std::process::ExitCode::from(1)
        }
        _ => std::process::ExitCode::SUCCESS,
    })
}

#[cfg(test)]
mod tests;
