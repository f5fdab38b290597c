//! `bluesky.post` on an AT Protocol PDS (bsky.social or a self-hosted
//! one): a session opened with the account's handle and app password
//! (`com.atproto.server.createSession`), then the post written as an
//! `app.bsky.feed.post` record (`com.atproto.repo.createRecord`). The
//! session is kept and reused, since opening one is tightly rate limited;
//! a refused session token opens a new one once.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::rest::{Call, Rest, RestOperation, text};
use super::{ProviderCall, ProviderError, timestamp};

pub const NAME: &str = "bluesky";
pub const WHAT: &str = "the Bluesky API";

struct Session {
    access: SecretString,
    did: String,
}

pub struct BlueskyPost {
    identifier: String,
    session: Mutex<Option<Session>>,
}

impl BlueskyPost {
    pub fn new(identifier: String) -> BlueskyPost {
        BlueskyPost {
            identifier,
            session: Mutex::new(None),
        }
    }

    async fn open(&self, api: &Rest) -> Result<Session, ProviderError> {
        let password = api.token().ok_or_else(|| {
            ProviderError::Adapter("bluesky.post: no app password is configured".into())
        })?;
        let body = json!({"identifier": self.identifier, "password": password.expose_secret()});
        let opened = api
            .send(Call::post("/xrpc/com.atproto.server.createSession", &body))
            .await?;
        Ok(Session {
            access: SecretString::from(text(&opened, "accessJwt", WHAT)?.to_owned()),
            did: text(&opened, "did", WHAT)?.to_owned(),
        })
    }
}

/// The kept session is no longer accepted (the PDS answers 400
/// `ExpiredToken`, or 401).
fn expired(error: &ProviderError) -> bool {
    match error {
        ProviderError::Adapter(m) => {
            m.contains("HTTP 401") || (m.contains("HTTP 400") && m.contains("ExpiredToken"))
        }
        ProviderError::Unavailable(_) => false,
    }
}

#[async_trait]
impl RestOperation for BlueskyPost {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        let created_at = timestamp(call.now);
        let mut record = json!({
            "$type": "app.bsky.feed.post",
            "text": p["text"],
            "createdAt": created_at,
        });
        if let Some(langs) = p.get("langs").filter(|l| !l.is_null()) {
            record["langs"] = langs.clone();
        }
        // One session at a time: posts queue behind its renewal.
        let mut session = self.session.lock().await;
        for attempt in 0..2 {
            if session.is_none() {
                *session = Some(self.open(api).await?);
            }
            let Some(current) = session.as_ref() else {
                continue;
            };
            let body = json!({
                "repo": current.did,
                "collection": "app.bsky.feed.post",
                "record": record,
            });
            let mut request = Call::post("/xrpc/com.atproto.repo.createRecord", &body);
            request.bearer = Some(&current.access);
            match api.send(request).await {
                Ok(written) => {
                    return Ok(json!({
                        "uri": text(&written, "uri", WHAT)?,
                        "cid": text(&written, "cid", WHAT)?,
                        "text": p["text"],
                        "created_at": created_at,
                    }));
                }
                Err(e) if attempt == 0 && expired(&e) => *session = None,
                Err(e) => return Err(e),
            }
        }
        Err(ProviderError::Unavailable(format!(
            "{WHAT} refused a fresh session"
        )))
    }
}
