//! The `Mcp-Session-Id` this server hands out on `initialize`: not a key
//! into anything a node keeps, but the session itself, written into the id
//! (`mcs1.<agent id>.<nonce>.<client name, base64url>`), so any node reads
//! it back with no lookup.
//!
//! It is not signed, on purpose: the id only says which MCP client the
//! agent says it is (its `clientInfo`, self-reported anyway) and scopes the
//! idempotency keys of its calls, which belong to the agent already. What
//! is checked is its shape and that it names the agent whose key comes with
//! it, so one agent's session id is no use with another agent's key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "mcs1";

/// The longest client name kept (longer ones are cut, on a character
/// boundary): it travels in every idempotency key and audit entry.
const MAX_CLIENT_NAME: usize = 64;

/// What is audited when a client gave no name.
pub const UNNAMED_CLIENT: &str = "mcp";

/// One MCP session of one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub agent_id: String,
    /// Random, so two sessions of one client never share idempotency keys
    /// (MCP request ids are counters that start again in each session).
    pub nonce: String,
    pub client: String,
}

impl Session {
    /// A new session for `agent_id`, begun by the client named `client`.
    pub fn begin(agent_id: &str, client: Option<&str>) -> Session {
        Session {
            agent_id: agent_id.to_owned(),
            nonce: ulid::Ulid::new().to_string().to_ascii_lowercase(),
            client: client_name(client),
        }
    }

    /// The header value: visible ASCII only, as the transport requires.
    pub fn id(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}",
            self.agent_id,
            self.nonce,
            URL_SAFE_NO_PAD.encode(self.client.as_bytes())
        )
    }

    /// Reads an id back; `None` when it is not one of ours.
    pub fn parse(id: &str) -> Option<Session> {
        let mut parts = id.split('.');
        let (prefix, agent_id, nonce, client) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if prefix != PREFIX || parts.next().is_some() {
            return None;
        }
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if !plain(agent_id) || !plain(nonce) {
            return None;
        }
        let client = String::from_utf8(URL_SAFE_NO_PAD.decode(client).ok()?).ok()?;
        if client != client_name(Some(&client)) {
            return None;
        }
        Some(Session {
            agent_id: agent_id.to_owned(),
            nonce: nonce.to_owned(),
            client,
        })
    }
}

/// A client's name as kept: printable characters other than `:` (the
/// idempotency key's separator), at most 64 of them; `mcp` when nothing is
/// left.
pub fn client_name(raw: Option<&str>) -> String {
    let cleaned: String = raw
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != ':')
        .take(MAX_CLIENT_NAME)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        UNNAMED_CLIENT.to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_back_as_the_session() {
        let s = Session::begin("agt_01ABC", Some("Claude Desktop ✓"));
        let id = s.id();
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{id}");
        assert_eq!(Session::parse(&id), Some(s));
    }

    #[test]
    fn foreign_or_bent_ids_are_not_sessions() {
        let id = Session::begin("agt_1", Some("x")).id();
        assert_eq!(Session::parse("abc"), None);
        assert_eq!(Session::parse(&format!("{id}.extra")), None);
        assert_eq!(Session::parse(&id.replacen("mcs1", "mcs2", 1)), None);
        assert_eq!(Session::parse("mcs1.agt_1.n.%%%"), None);
        assert_eq!(Session::parse("mcs1.agt 1.n.eA"), None);
    }

    #[test]
    fn client_names_are_cleaned() {
        assert_eq!(client_name(None), "mcp");
        assert_eq!(client_name(Some("  \n ")), "mcp");
        assert_eq!(client_name(Some("a:b\u{7}c")), "abc");
        assert_eq!(client_name(Some(&"é".repeat(100))).chars().count(), 64);
    }
}
