//! `email.send` over SMTP (lettre, Tokio, rustls), from one configured
//! sender. The Message-ID is `<request id@sender's domain>`, so the
//! governed request and the message it became can be matched in a mail
//! log, and the result carries it.
//!
//! SMTP answers map like HTTP ones: a permanent refusal (5xx: unknown
//! recipient, failed authentication) is an adapter error; a transient one
//! (4xx), a timeout or a broken connection is the provider being
//! unavailable.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, list_price,
};
use crate::catalog::OperationSpec;
use crate::clock::rfc3339;
use crate::config::SmtpSettings;
use crate::money::Cents;

/// The name requests report as their `provider`.
pub const NAME: &str = "smtp";
const MAX_RECIPIENTS: usize = 50;

pub struct SmtpProvider {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpProvider")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpProvider {
    /// A pooled transport to the configured server; it connects on first
    /// use, so a mail server that is down does not stop the platform.
    pub fn new(settings: &SmtpSettings, timeout: Duration) -> Result<SmtpProvider, String> {
        let url = lettre_url(settings.url().expose_secret())?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            // lettre's error names neither the URL nor the password.
            .map_err(|e| format!("UPIVIA_SMTP_URL: {e}"))?
            .timeout(Some(timeout))
            .build();
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("UPIVIA_SMTP_FROM: {e}"))?;
        Ok(SmtpProvider { transport, from })
    }
}

/// `?tls=starttls` is lettre's `?tls=required`.
fn lettre_url(raw: &str) -> Result<String, String> {
    let mut url = url::Url::parse(raw).map_err(|e| format!("UPIVIA_SMTP_URL: {e}"))?;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "tls" && v == "starttls" {
                "required".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Ok(url.to_string())
}

#[derive(Deserialize)]
struct EmailPayload {
    to: String,
    subject: String,
    body: String,
    html: Option<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    bcc: Vec<String>,
    reply_to: Option<String>,
}

fn invalid(message: impl std::fmt::Display) -> ProviderError {
    ProviderError::Adapter(format!("email.send: {message}"))
}

fn mailbox(field: &str, raw: &str) -> Result<Mailbox, ProviderError> {
    // A bare address only: a display name from an agent has no business in
    // the envelope, and `Name <a@b>` would hide the real recipient.
    let address = raw.parse::<lettre::Address>().map_err(|e| {
        invalid(format_args!(
            "`{field}` is not an email address ({e}): {raw:?}"
        ))
    })?;
    Ok(Mailbox::new(None, address))
}

impl SmtpProvider {
    fn message(
        &self,
        payload: &Value,
        call: &ProviderCall<'_>,
    ) -> Result<(Message, String), ProviderError> {
        let p: EmailPayload = serde_json::from_value(payload.clone())
            .map_err(|e| invalid(format_args!("the payload does not fit the schema: {e}")))?;
        if p.subject.contains(['\r', '\n']) {
            return Err(invalid("`subject` must be a single line"));
        }
        if p.subject.trim().is_empty() || p.body.trim().is_empty() {
            return Err(invalid("`subject` and `body` must not be empty"));
        }
        if 1 + p.cc.len() + p.bcc.len() > MAX_RECIPIENTS {
            return Err(invalid(format_args!(
                "at most {MAX_RECIPIENTS} recipients across to, cc and bcc"
            )));
        }
        let domain = self.from.email.domain().to_owned();
        let message_id = format!("<{}@{domain}>", call.request_id);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(mailbox("to", &p.to)?)
            .subject(p.subject)
            .message_id(Some(message_id.clone()))
            .date(SystemTime::from(call.now))
            .user_agent(super::http::USER_AGENT.to_owned());
        for cc in &p.cc {
            builder = builder.cc(mailbox("cc", cc)?);
        }
        for bcc in &p.bcc {
            builder = builder.bcc(mailbox("bcc", bcc)?);
        }
        if let Some(reply_to) = &p.reply_to {
            builder = builder.reply_to(mailbox("reply_to", reply_to)?);
        }
        let message = match p.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(p.body, html)),
            None => builder.header(ContentType::TEXT_PLAIN).body(p.body),
        }
        .map_err(|e| invalid(format_args!("the message cannot be built: {e}")))?;
        Ok((message, message_id))
    }
}

/// Permanent SMTP refusals (5xx) and client-side failures are the call's
/// fault; the rest is the mail server not being there.
fn smtp_error(error: lettre::transport::smtp::Error) -> ProviderError {
    let text = error.to_string();
    if error.is_permanent() || error.is_client() {
        ProviderError::Adapter(format!("the mail server refused the message: {text}"))
    } else {
        ProviderError::Unavailable(format!("the mail server is unavailable: {text}"))
    }
}

#[async_trait]
impl Provider for SmtpProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn estimate(&self, operation: &OperationSpec, _payload: &Value) -> Cents {
        list_price(operation)
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let (message, message_id) = self.message(call.payload, &call)?;
        let to = call.payload.get("to").cloned().unwrap_or(Value::Null);
        self.transport.send(message).await.map_err(smtp_error)?;
        let sent_at = rfc3339(call.now);
        Ok(Execution::Completed {
            result: json!({
                "id": message_id.trim_start_matches('<').trim_end_matches('>'),
                "message_id": message_id,
                "to": to,
                "status": "sent",
                "sent_at": sent_at,
            }),
            actual_cost: list_price(call.operation),
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(ProviderError::Adapter(format!(
            "{} completes synchronously; there is nothing to poll",
            poll.operation.full_name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_is_lettres_required() {
        assert_eq!(
            lettre_url("smtp://u:p@mail.example.com:587?tls=starttls").unwrap(),
            "smtp://u:p@mail.example.com:587?tls=required"
        );
        assert_eq!(
            lettre_url("smtps://mail.example.com").unwrap(),
            "smtps://mail.example.com"
        );
    }
}
