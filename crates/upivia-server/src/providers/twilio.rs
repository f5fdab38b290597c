//! Twilio: `sms.send` and `mms.send` on the Messages API, charged their
//! list price when Twilio accepts them, `sms.read` (inbound messages, free), and `voice_call.create` on the
//! Calls API, which runs asynchronously: the call is placed (`running`,
//! its first minute held as the initial cost) and settled per started
//! minute of its real length, told either by Twilio's status callback
//! (signed, verified over the configured public URL; see
//! `api/provider_callbacks.rs`) or by the reconciler polling the call.
//!
//! Every request is form-encoded with HTTP Basic auth (account SID and
//! auth token), as the 2010-04-01 API takes it.

use async_trait::async_trait;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha1::Sha1;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use super::hosts::Reach;
use super::http::{HttpClient, Retry};
use super::rest::text;
use super::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, call_units,
    list_price, timestamp, unit_price,
};
use crate::catalog::OperationSpec;
use crate::catalog::builtin::MAX_CALL_SECONDS;
use crate::config::ApiSettings;
use crate::money::Cents;

pub const NAME: &str = "twilio";
pub const WHAT: &str = "the Twilio API";
/// Where Twilio posts a call's status; the request id rides in the query.
pub const CALL_CALLBACK_PATH: &str = "/api/v1/providers/twilio/calls";

/// The account and where its API is (the token of `api` is the auth token).
#[derive(Clone, Debug)]
pub struct TwilioSettings {
    pub api: ApiSettings,
    pub account_sid: String,
}

impl TwilioSettings {
    pub fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: SecretString,
    ) -> Result<Self, String> {
        let sid = account_sid.trim();
        if !(sid.starts_with("AC")
            && sid.len() == 34
            && sid.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(
                "UPIVIA_TWILIO_ACCOUNT_SID must be an account SID: AC and 32 hex digits".into(),
            );
        }
        if auth_token.expose_secret().is_empty() {
            return Err("UPIVIA_TWILIO_AUTH_TOKEN is empty".into());
        }
        Ok(TwilioSettings {
            api: ApiSettings::new("UPIVIA_TWILIO_BASE_URL", base_url, Some(auth_token))?,
            account_sid: sid.to_owned(),
        })
    }

    fn auth_token(&self) -> &str {
        self.api.token.as_ref().map_or("", |t| t.expose_secret())
    }

    /// The HMAC-SHA1, keyed by the auth token, over the URL followed by
    /// every parameter's name and value in name order.
    fn mac(&self, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
        let mut mac = Hmac::<Sha1>::new_from_slice(self.auth_token().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(url.as_bytes());
        let mut sorted: Vec<&(String, String)> = params.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (name, value) in sorted {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
        mac
    }

    /// Whether `signature` (the `X-Twilio-Signature` header) is Twilio's,
    /// base64, for a POST to `url` with `params`; compared in constant
    /// time.
    pub fn verify_signature(
        &self,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> bool {
        match base64::engine::general_purpose::STANDARD.decode(signature.trim()) {
            Ok(expected) => self.mac(url, params).verify_slice(&expected).is_ok(),
            Err(_) => false,
        }
    }

    /// The signature Twilio sends, for tests and fakes that play Twilio.
    pub fn sign(&self, url: &str, params: &[(String, String)]) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(self.mac(url, params).finalize().into_bytes())
    }
}

/// The account's API, shared by the three operations.
#[derive(Clone, Debug)]
pub struct Twilio {
    settings: TwilioSettings,
    http: HttpClient,
    /// `{public URL}/api/v1/providers/twilio/calls`, when the server has a
    /// public URL Twilio can reach; without one calls are polled.
    callback: Option<url::Url>,
}

impl Twilio {
    pub fn new(settings: TwilioSettings, http: HttpClient, public_url: Option<&str>) -> Twilio {
        let callback = public_url.and_then(|base| {
            url::Url::parse(&format!(
                "{}{CALL_CALLBACK_PATH}",
                base.trim_end_matches('/')
            ))
            .ok()
        });
        Twilio {
            settings,
            http,
            callback,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} (account {})",
            self.settings.api.describe(),
            self.settings.account_sid
        )
    }

    /// `path` under the account.
    async fn send(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<Value, ProviderError> {
        let path = format!("/2010-04-01/Accounts/{}{path}", self.settings.account_sid);
        self.send_path(method, &path, form).await
    }

    /// `path` (with its query) under the base URL, as Twilio's
    /// `next_page_uri` names a page.
    async fn send_path(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<Value, ProviderError> {
        if !path.starts_with(&format!(
            "/2010-04-01/Accounts/{}/",
            self.settings.account_sid
        )) {
            return Err(ProviderError::Adapter(format!(
                "{WHAT} named a page outside the account: {path}"
            )));
        }
        let url = self.settings.api.url(path).map_err(|e| {
            ProviderError::Adapter(format!("{WHAT}: the request path is not valid: {e}"))
        })?;
        // Placing a message or a call is not repeated on a 5xx, which may
        // have come after Twilio acted; reading is.
        let retry = if method == Method::GET {
            Retry::RateLimitedAndServerErrors
        } else {
            Retry::RateLimited
        };
        let sid = &self.settings.account_sid;
        let token = self.settings.auth_token();
        let reply = self
            .http
            .send(Reach::Trusted, WHAT, retry, |client, _| {
                let req = client
                    .request(method.clone(), url.clone())
                    .basic_auth(sid, Some(token))
                    .header(reqwest::header::ACCEPT, "application/json");
                if method == Method::GET {
                    req
                } else {
                    req.form(form)
                }
            })
            .await?;
        let bytes = reply.body(WHAT).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::Adapter(format!("{WHAT} answered with something not JSON: {e}"))
        })
    }
}

/// Which of the account's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwilioOperation {
    Sms,
    /// Inbound messages since a point in time, free.
    SmsRead,
    Mms,
    VoiceCall,
}

/// At most this many pages of 100 messages are read for one `sms.read`.
const MAX_READ_PAGES: usize = 5;

/// One operation as a [`Provider`].
pub struct TwilioProvider {
    api: Twilio,
    operation: TwilioOperation,
}

impl TwilioProvider {
    pub fn new(api: Twilio, operation: TwilioOperation) -> TwilioProvider {
        TwilioProvider { api, operation }
    }
}

fn payload_text<'p>(payload: &'p Value, name: &str) -> Result<&'p str, ProviderError> {
    payload[name]
        .as_str()
        .ok_or_else(|| ProviderError::Adapter(format!("invalid field {name}: must be text")))
}

/// Twilio's RFC 2822 times (`Thu, 03 Dec 2026 10:00:00 +0000`) as results
/// show time; `now` when absent or unreadable.
fn twilio_time(raw: Option<&str>, now: OffsetDateTime) -> String {
    let at = raw
        .and_then(|raw| OffsetDateTime::parse(raw, &Rfc2822).ok())
        .unwrap_or(now);
    timestamp(at)
}

/// Twilio reports a message `queued` or `accepted` until it leaves, then
/// `sending` / `sent`.
fn message_status(answer: &Value) -> &'static str {
    match answer["status"].as_str() {
        Some("sent" | "sending" | "delivered") => "sent",
        _ => "queued",
    }
}

/// The longest the call may last (Twilio's `TimeLimit`).
fn max_duration(payload: &Value) -> u64 {
    payload["max_duration_seconds"]
        .as_u64()
        .unwrap_or(MAX_CALL_SECONDS)
        .min(MAX_CALL_SECONDS)
}

/// TwiML that reads `say` aloud once.
fn twiml(say: &str) -> String {
    let mut escaped = String::with_capacity(say.len());
    for c in say.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    format!("<Response><Say>{escaped}</Say></Response>")
}

/// A call's state as Twilio reports it, in its API (`status`, `duration`)
/// or its status callback (`CallStatus`, `CallDuration`), as the
/// reconciler's answer.
pub struct CallState<'a> {
    pub sid: &'a str,
    pub status: &'a str,
    pub duration_seconds: Option<u64>,
    pub to: &'a str,
    pub from: &'a str,
    pub ended_at: Option<&'a str>,
}

impl CallState<'_> {
    pub fn poll_status(&self, operation: &OperationSpec, now: OffsetDateTime) -> PollStatus {
        match self.status {
            "queued" | "initiated" | "ringing" | "in-progress" => PollStatus::Pending,
            "completed" => {
                let duration = self.duration_seconds.unwrap_or(0);
                PollStatus::Completed {
                    result: json!({
                        "call_id": self.sid,
                        "status": "completed",
                        "duration_seconds": duration,
                        "to": self.to,
                        "from": self.from,
                        "ended_at": twilio_time(self.ended_at, now),
                    }),
                    actual_cost: unit_price(operation, call_units(duration)),
                }
            }
            // busy, no-answer, canceled, failed: nobody was reached and
            // Twilio charges nothing.
            other => PollStatus::Failed(ProviderError::Unavailable(format!(
                "the call to {} ended {other}",
                self.to
            ))),
        }
    }
}

/// `To` and `From` of a message or a call.
fn endpoints(payload: &Value) -> Result<Vec<(&'static str, String)>, ProviderError> {
    Ok(vec![
        ("To", payload_text(payload, "to")?.to_owned()),
        ("From", payload_text(payload, "from")?.to_owned()),
    ])
}

impl TwilioProvider {
    /// `sms.send` / `mms.send`: charged their list price once Twilio
    /// accepts them.
    async fn message(&self, call: &ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let payload = call.payload;
        let mut form = endpoints(payload)?;
        form.push((
            "Body",
            payload["body"].as_str().unwrap_or_default().to_owned(),
        ));
        if self.operation == TwilioOperation::Mms {
            form.push(("MediaUrl", payload_text(payload, "media_url")?.to_owned()));
        }
        let answer = self.api.send(Method::POST, "/Messages.json", &form).await?;
        let mut result = json!({
            "id": text(&answer, "sid", WHAT)?,
            "to": answer["to"].as_str().unwrap_or(&form[0].1),
            "from": answer["from"].as_str().unwrap_or(&form[1].1),
            "status": message_status(&answer),
            "sent_at": twilio_time(answer["date_created"].as_str(), call.now),
        });
        if self.operation == TwilioOperation::Sms {
            let segments = answer["num_segments"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(1)
                .max(1);
            result["segments"] = json!(segments);
        } else {
            result["media_url"] = payload["media_url"].clone();
        }
        Ok(Execution::Completed {
            result,
            actual_cost: list_price(call.operation),
        })
    }

    /// `voice_call.create`: placed, its first minute the initial cost;
    /// settled when the call ends (callback or poll).
    async fn place_call(&self, call: &ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let payload = call.payload;
        let mut form = endpoints(payload)?;
        form.push(("Twiml", twiml(payload_text(payload, "say")?)));
        form.push(("TimeLimit", max_duration(payload).to_string()));
        if let Some(callback) = &self.api.callback {
            let mut url = callback.clone();
            url.query_pairs_mut()
                .append_pair("request_id", call.request_id);
            form.push(("StatusCallback", url.to_string()));
            form.push(("StatusCallbackMethod", "POST".to_owned()));
        }
        let answer = self.api.send(Method::POST, "/Calls.json", &form).await?;
        Ok(Execution::Started {
            external_id: text(&answer, "sid", WHAT)?.to_owned(),
            initial_cost: unit_price(call.operation, 1),
        })
    }

    /// `sms.read`: the account's inbound messages sent since the window
    /// opened, newest first (as Twilio lists them), filtered by `from` and
    /// `to`. Twilio filters by day (`DateSent>=`); the exact instant is
    /// applied here.
    async fn read(&self, call: &ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let p = call.payload;
        let start = super::window::since(p["since"].as_str().unwrap_or("24h"), call.now)
            .map_err(|why| ProviderError::Adapter(format!("sms.read: {why}")))?;
        let limit = usize::try_from(p["limit"].as_u64().unwrap_or(20)).unwrap_or(20);
        // The serializer is dropped before anything is awaited.
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("PageSize", "100");
            let day = timestamp(start);
            query.append_pair("DateSent>", day.get(..10).unwrap_or(&day));
            for (field, param) in [("to", "To"), ("from", "From")] {
                if let Some(value) = p[field].as_str() {
                    query.append_pair(param, value);
                }
            }
            query.finish()
        };
        let mut path = format!(
            "/2010-04-01/Accounts/{}/Messages.json?{query}",
            self.api.settings.account_sid,
        );
        let mut messages = Vec::new();
        for _ in 0..MAX_READ_PAGES {
            let page = self.api.send_path(Method::GET, &path, &[]).await?;
            for m in page["messages"].as_array().map_or(&[][..], Vec::as_slice) {
                if m["direction"] != "inbound" {
                    continue;
                }
                let Some(sent) = m["date_sent"]
                    .as_str()
                    .and_then(|raw| OffsetDateTime::parse(raw, &Rfc2822).ok())
                else {
                    continue;
                };
                if sent < start {
                    continue;
                }
                messages.push(json!({
                    "id": text(m, "sid", WHAT)?,
                    "from": m["from"].as_str().unwrap_or_default(),
                    "to": m["to"].as_str().unwrap_or_default(),
                    "body": m["body"].as_str().unwrap_or_default(),
                    "received_at": timestamp(sent),
                }));
                if messages.len() == limit {
                    break;
                }
            }
            match page["next_page_uri"].as_str() {
                Some(next) if messages.len() < limit && !next.is_empty() => path = next.to_owned(),
                _ => break,
            }
        }
        Ok(Execution::Completed {
            result: json!({"since": timestamp(start), "messages": messages}),
            actual_cost: list_price(call.operation),
        })
    }
}

#[async_trait]
impl Provider for TwilioProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn has_side_effects(&self) -> bool {
        self.operation != TwilioOperation::SmsRead
    }

    fn estimate(&self, operation: &OperationSpec, payload: &Value) -> Cents {
        match self.operation {
            TwilioOperation::VoiceCall => unit_price(operation, call_units(max_duration(payload))),
            _ => list_price(operation),
        }
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        match self.operation {
            TwilioOperation::SmsRead => self.read(&call).await,
            TwilioOperation::Sms | TwilioOperation::Mms => self.message(&call).await,
            TwilioOperation::VoiceCall => self.place_call(&call).await,
        }
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        if self.operation != TwilioOperation::VoiceCall {
            return Err(super::synchronous(poll));
        }
        let answer = self
            .api
            .send(
                Method::GET,
                &format!("/Calls/{}.json", poll.external_id),
                &[],
            )
            .await?;
        let state = CallState {
            sid: poll.external_id,
            status: text(&answer, "status", WHAT)?,
            duration_seconds: answer["duration"].as_str().and_then(|d| d.parse().ok()),
            to: answer["to"].as_str().unwrap_or_default(),
            from: answer["from"].as_str().unwrap_or_default(),
            ended_at: answer["end_time"].as_str(),
        };
        Ok(state.poll_status(poll.operation, poll.now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TwilioSettings {
        TwilioSettings::new(
            "https://api.twilio.com",
            "AC0123456789abcdef0123456789abcdef",
            SecretString::from("12345"),
        )
        .unwrap()
    }

    #[test]
    fn the_signature_of_twilios_own_example_verifies() {
        // Twilio's published example: auth token 12345.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let s = settings();
        assert_eq!(s.sign(url, &params), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert!(s.verify_signature(url, &params, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    }

    #[test]
    fn a_signature_is_checked_over_the_url_and_the_sorted_parameters() {
        let s = settings();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = vec![
            ("To".to_owned(), "+14158675310".to_owned()),
            ("CallSid".to_owned(), "CA1234567890ABCDE".to_owned()),
            ("From".to_owned(), "+12349013030".to_owned()),
        ];
        let signature = s.sign(url, &params);
        assert!(s.verify_signature(url, &params, &signature));
        // Parameter order on the wire does not matter; contents do.
        let mut reordered = params.clone();
        reordered.reverse();
        assert!(s.verify_signature(url, &reordered, &signature));
        let mut tampered = params.clone();
        tampered[0].1 = "+14158675311".to_owned();
        assert!(!s.verify_signature(url, &tampered, &signature));
        assert!(!s.verify_signature("https://mycompany.com/other", &params, &signature));
        assert!(!s.verify_signature(url, &params, "not base64!"));
        assert!(!s.verify_signature(url, &params, ""));
    }

    #[test]
    fn account_sids_are_checked_and_twiml_is_escaped() {
        assert!(
            TwilioSettings::new("https://api.twilio.com", "AC12", SecretString::from("t")).is_err()
        );
        assert!(
            TwilioSettings::new(
                "https://api.twilio.com",
                "AC0123456789abcdef0123456789abcdef",
                SecretString::from("")
            )
            .is_err()
        );
        assert_eq!(
            twiml("a < b & \"c\""),
            "<Response><Say>a &lt; b &amp; &quot;c&quot;</Say></Response>"
        );
    }
}
