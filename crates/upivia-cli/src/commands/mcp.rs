//! `upivia mcp`: the stdio bridge for MCP clients that launch a local
//! process. Each line on stdin is a JSON-RPC message, POSTed to the
//! server's `/mcp` with the agent key; each message the server answers
//! (JSON, or the events of an SSE answer) is written to stdout as one
//! line. Nothing else goes to stdout: logs go to stderr.
//!
//! The bridge is a relay, not an MCP implementation: it keeps only what
//! the streamable HTTP transport needs besides the body (the
//! `Mcp-Session-Id` the server gave on `initialize`, the negotiated
//! protocol version, and the `Mcp-Method`/`Mcp-Name` headers the
//! 2026-07-28 transport repeats from the body). It speaks HTTP itself
//! because the SDK has no MCP transport.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinSet;

use super::client::ClientArgs;

/// Bridge an MCP client on stdin/stdout to the server's /mcp (needs an
/// agent key).
///
/// Register it in an MCP client's configuration as the command `upivia`
/// with the arguments `mcp`, and UPIVIA_API_KEY and UPIVIA_BASE_URL in
/// its environment.
#[derive(Args, Debug)]
pub struct McpArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What the bridge learned from the server's answers.
#[derive(Default)]
struct Learned {
    session: Option<String>,
    protocol: Option<String>,
}

struct Bridge {
    http: reqwest::Client,
    url: String,
    key: String,
    learned: Mutex<Learned>,
    stdout: AsyncMutex<tokio::io::Stdout>,
}

pub async fn run(args: McpArgs) -> anyhow::Result<ExitCode> {
    args.client.require_api_key()?;
    let key = args.client.api_key.clone().unwrap_or_default();
    let url = format!("{}/mcp", args.client.base_url()?.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .user_agent(concat!("upivia-mcp-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("could not build the HTTP client")?;
    let bridge = Arc::new(Bridge {
        http,
        url,
        key,
        learned: Mutex::new(Learned::default()),
        stdout: AsyncMutex::new(tokio::io::stdout()),
    });
    tracing::info!(url = %bridge.url, "mcp bridge: relaying stdin/stdout");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut in_flight = JoinSet::new();
    while let Some(line) = lines.next_line().await.context("could not read stdin")? {
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(m) => m,
            Err(e) => {
                bridge
                    .write(&json!({"jsonrpc": "2.0", "id": null,
                        "error": {"code": -32700, "message": format!("parse error: {e}")}}))
                    .await?;
                continue;
            }
        };
        // The session begins with initialize's answer: what follows
        // must carry its id, so nothing is sent before it comes.
        if message["method"] == "initialize" {
            bridge.relay(message).await;
        } else {
            let bridge = bridge.clone();
            in_flight.spawn(async move { bridge.relay(message).await });
        }
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
    Ok(ExitCode::SUCCESS)
}

impl Bridge {
    async fn write(&self, message: &Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(message).expect("a JSON value prints");
        line.push(b'\n');
        let mut out = self.stdout.lock().await;
        out.write_all(&line)
            .await
            .context("could not write stdout")?;
        out.flush().await.context("could not write stdout")
    }

    /// Sends one message and writes what comes back; a failure is answered
    /// to a request as a JSON-RPC error, and logged for a notification.
    async fn relay(&self, message: Value) {
        let id = message
            .get("id")
            .cloned()
            .filter(|_| message.get("method").is_some());
        if let Err(e) = self.exchange(&message).await {
            tracing::warn!(error = %format!("{e:#}"), "mcp bridge: a message was not relayed");
            if let Some(id) = id {
                let _ = self
                    .write(&json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32603, "message": format!("{e:#}")}}))
                    .await;
            }
        }
    }

    async fn exchange(&self, message: &Value) -> anyhow::Result<()> {
        let mut req = self
            .http
            .post(&self.url)
            .bearer_auth(&self.key)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(message).expect("a JSON value prints"));
        let (session, protocol) = {
            let learned = self.learned.lock().expect("not poisoned");
            (learned.session.clone(), learned.protocol.clone())
        };
        if let Some(session) = session {
            req = req.header("mcp-session-id", session);
        }
        let protocol = message
            .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(protocol);
        if let Some(version) = &protocol {
            req = req.header("mcp-protocol-version", version);
        }
        for (name, value) in standard_headers(message) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                req = req.header(name, value);
            }
        }
        let resp = req.send().await.context("could not reach the server")?;
        let status = resp.status();
        if message["method"] == "initialize" && status.is_success() {
            let session = resp
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            self.learned.lock().expect("not poisoned").session = session;
        }
        let is_sse = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if status == reqwest::StatusCode::ACCEPTED {
            return Ok(());
        }
        if is_sse {
            let text = resp.text().await.context("could not read the answer")?;
            for data in sse_data(&text) {
                if let Ok(answer) = serde_json::from_str::<Value>(&data) {
                    self.learn(message, &answer);
                    self.write(&answer).await?;
                }
            }
            return Ok(());
        }
        let bytes = resp.bytes().await.context("could not read the answer")?;
        match serde_json::from_slice::<Value>(&bytes) {
            // A JSON-RPC answer, whatever the HTTP status.
            Ok(answer) if answer.get("jsonrpc").is_some() => {
                self.learn(message, &answer);
                self.write(&answer).await
            }
            Ok(envelope) if !status.is_success() => anyhow::bail!(
                "the server answered {status}: {}",
                envelope["error"]["message"]
                    .as_str()
                    .unwrap_or("no message")
            ),
            _ if !status.is_success() => anyhow::bail!("the server answered {status}"),
            _ => Ok(()),
        }
    }

    /// The protocol version initialize negotiated, for the header.
    fn learn(&self, sent: &Value, answer: &Value) {
        if sent["method"] == "initialize"
            && let Some(version) = answer
                .pointer("/result/protocolVersion")
                .and_then(Value::as_str)
        {
            self.learned.lock().expect("not poisoned").protocol = Some(version.to_owned());
        }
    }
}

/// `Mcp-Method` and `Mcp-Name` (SEP-2243): the method, and the tool,
/// prompt or resource it names.
fn standard_headers(message: &Value) -> Vec<(&'static str, String)> {
    let Some(method) = message["method"].as_str() else {
        return Vec::new();
    };
    let mut headers = vec![("mcp-method", method.to_owned())];
    let name = match method {
        "tools/call" | "prompts/get" => message["params"]["name"].as_str(),
        "resources/read" => message["params"]["uri"].as_str(),
        _ => None,
    };
    if let Some(name) = name {
        headers.push(("mcp-name", name.to_owned()));
    }
    headers
}

/// The `data` of each event of an SSE body (lines joined by newlines).
fn sse_data(text: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !data.is_empty() {
                events.push(data.join("\n"));
                data.clear();
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            data.push(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_into_messages() {
        let body = "id: 1\ndata: {\"a\":1}\n\n: ping\n\ndata: {\"b\":\ndata: 2}\n\n";
        assert_eq!(sse_data(body), vec!["{\"a\":1}", "{\"b\":\n2}"]);
        assert!(sse_data("retry: 3000\n\n").is_empty());
    }

    #[test]
    fn standard_headers_repeat_the_method_and_name() {
        let call = json!({"method": "tools/call", "params": {"name": "email_send"}});
        assert_eq!(
            standard_headers(&call),
            vec![
                ("mcp-method", "tools/call".to_owned()),
                ("mcp-name", "email_send".to_owned())
            ]
        );
        assert!(standard_headers(&json!({"id": 1, "result": {}})).is_empty());
    }
}
