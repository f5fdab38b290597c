//! `reddit.submit_post` as a Reddit "script" app acting for one account:
//! an access token from the password grant
//! (`POST {auth}/api/v1/access_token`, the app's id and secret as HTTP
//! Basic), kept until shortly before it expires and renewed once when the
//! API refuses it, then `POST {base}/api/submit` as a form with
//! `api_type=json`. Reddit answers refusals (no such subreddit, a title it
//! rejects) inside a 200, as `json.errors`: those are the adapter's error,
//! except its rate limit, which is unavailable. Every call carries the
//! User-Agent Reddit's API rules ask for.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::rest::{Call, Rest, RestOperation, text};
use super::{ProviderCall, ProviderError, timestamp};

pub const NAME: &str = "reddit";
pub const WHAT: &str = "the Reddit API";
/// A token is renewed this long before Reddit says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The account and the app it acts through.
#[derive(Clone)]
pub struct RedditAccount {
    pub client_id: String,
    pub client_secret: SecretString,
    pub username: String,
    pub password: SecretString,
}

impl std::fmt::Debug for RedditAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedditAccount")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Where the API and its tokens are, and the account.
#[derive(Clone, Debug)]
pub struct RedditSettings {
    /// `https://oauth.reddit.com`
    pub api: crate::config::ApiSettings,
    /// `https://www.reddit.com`
    pub auth: crate::config::ApiSettings,
    pub account: RedditAccount,
}

struct Token {
    access: SecretString,
    until: Instant,
}

pub struct RedditPost {
    /// Where tokens come from (`https://www.reddit.com`).
    auth: Rest,
    account: RedditAccount,
    user_agent: String,
    token: Mutex<Option<Token>>,
}

impl RedditPost {
    pub fn new(auth: Rest, account: RedditAccount) -> RedditPost {
        let user_agent = format!(
            "server:upivia:{} (by /u/{})",
            env!("CARGO_PKG_VERSION"),
            account.username
        );
        RedditPost {
            auth,
            account,
            user_agent,
            token: Mutex::new(None),
        }
    }

    async fn fetch_token(&self) -> Result<Token, ProviderError> {
        let form = [
            ("grant_type", "password".to_owned()),
            ("username", self.account.username.clone()),
            (
                "password",
                secrecy::ExposeSecret::expose_secret(&self.account.password).to_owned(),
            ),
        ];
        let mut call = Call::post_form("/api/v1/access_token", &form);
        call.basic = Some((&self.account.client_id, &self.account.client_secret));
        call.headers = vec![("user-agent", &self.user_agent)];
        let answer = self.auth.send(call).await?;
        // A wrong password is a 200 with `error`.
        if let Some(error) = answer["error"].as_str() {
            return Err(ProviderError::Adapter(format!(
                "{WHAT} refused the account's credentials: {error}"
            )));
        }
        let lifetime = answer["expires_in"].as_u64().unwrap_or(3600);
        Ok(Token {
            access: SecretString::from(text(&answer, "access_token", WHAT)?.to_owned()),
            until: Instant::now() + Duration::from_secs(lifetime).saturating_sub(EXPIRY_MARGIN),
        })
    }
}

fn refused_token(error: &ProviderError) -> bool {
    matches!(error, ProviderError::Adapter(m) if m.contains("HTTP 401"))
}

/// `json.errors` of an answer: `[[code, message, field], …]`.
fn answer_errors(answer: &Value) -> Result<(), ProviderError> {
    let Some(errors) = answer["json"]["errors"]
        .as_array()
        .filter(|e| !e.is_empty())
    else {
        return Ok(());
    };
    let described: Vec<String> = errors
        .iter()
        .map(|e| {
            let code = e[0].as_str().unwrap_or("ERROR");
            let message = e[1].as_str().unwrap_or_default();
            format!("{code}: {message}")
        })
        .collect();
    let text = described.join("; ");
    if errors.iter().any(|e| e[0] == "RATELIMIT") {
        Err(ProviderError::Unavailable(format!(
            "{WHAT} is rate limiting: {text}"
        )))
    } else {
        Err(ProviderError::Adapter(format!(
            "{WHAT} refused the post: {text}"
        )))
    }
}

#[async_trait]
impl RestOperation for RedditPost {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        let raw = p["subreddit"].as_str().unwrap_or_default();
        let subreddit = raw.strip_prefix("r/").unwrap_or(raw);
        let title = p["title"].as_str().unwrap_or_default();
        let (kind, content) = match (p["text"].as_str(), p["url"].as_str()) {
            (_, Some(url)) => ("link", ("url", url.to_owned())),
            (text, None) => ("self", ("text", text.unwrap_or_default().to_owned())),
        };
        let flag = |name: &str| p[name].as_bool().unwrap_or(false).to_string();
        let form = [
            ("api_type", "json".to_owned()),
            ("sr", subreddit.to_owned()),
            ("kind", kind.to_owned()),
            ("title", title.to_owned()),
            content,
            ("nsfw", flag("nsfw")),
            ("spoiler", flag("spoiler")),
            ("resubmit", "true".to_owned()),
        ];
        // One token at a time: posts queue behind its renewal.
        let mut token = self.token.lock().await;
        for attempt in 0..2 {
            if token.as_ref().is_none_or(|t| Instant::now() >= t.until) {
                *token = Some(self.fetch_token().await?);
            }
            let Some(current) = token.as_ref() else {
                continue;
            };
            let mut request = Call::post_form("/api/submit", &form);
            request.bearer = Some(&current.access);
            request.headers = vec![("user-agent", &self.user_agent)];
            match api.send(request).await {
                Ok(answer) => {
                    answer_errors(&answer)?;
                    let data = &answer["json"]["data"];
                    let id = text(data, "id", WHAT)?;
                    return Ok(json!({
                        "id": id,
                        "name": data["name"].as_str().map_or_else(|| format!("t3_{id}"), str::to_owned),
                        "kind": kind,
                        "subreddit": subreddit,
                        "title": title,
                        "url": text(data, "url", WHAT)?,
                        "created_at": timestamp(call.now),
                    }));
                }
                Err(e) if attempt == 0 && refused_token(&e) => *token = None,
                Err(e) => return Err(e),
            }
        }
        Err(ProviderError::Unavailable(format!(
            "{WHAT} refused a fresh token"
        )))
    }
}
