//! What the providers of third-party JSON APIs share (search, GitHub,
//! Discord, Slack, Mastodon, Notion, X, Bluesky, Reddit): a call to a configured base URL with the provider's
//! token as a header the logs never show, and its JSON answer. Errors map
//! as everywhere (see `http.rs`): down, timeout or 5xx → unavailable; 4xx
//! or an answer that is not JSON → adapter error.

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::hosts::Reach;
use super::http::{HttpClient, Retry};
use super::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, list_price,
};
use crate::catalog::OperationSpec;
use crate::config::ApiSettings;
use crate::money::Cents;

/// One provider's API.
#[derive(Clone, Debug)]
pub struct Rest {
    settings: ApiSettings,
    http: HttpClient,
    /// Names the upstream in error messages.
    what: &'static str,
    /// How the token is sent: `Bearer`, `Bot`, … (`None`: no token).
    scheme: Option<&'static str>,
}

/// One request: where, and what is sent.
pub struct Call<'a> {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<&'a Value>,
    pub headers: Vec<(&'static str, &'a str)>,
    /// A bearer token for this call instead of the configured one (a
    /// session the provider opened).
    pub bearer: Option<&'a SecretString>,
    /// HTTP Basic credentials for this call instead of the token (an
    /// OAuth client asking for one).
    pub basic: Option<(&'a str, &'a SecretString)>,
    /// A form body (`application/x-www-form-urlencoded`) instead of JSON.
    pub form: Option<&'a [(&'a str, String)]>,
    pub retry: Retry,
}

impl<'a> Call<'a> {
    pub fn get(path: impl Into<String>) -> Call<'a> {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            bearer: None,
            basic: None,
            form: None,
            // Reading has no side effect to repeat.
            retry: Retry::RateLimitedAndServerErrors,
        }
    }

    /// A POST is not repeated on a 5xx, which may have come after the work.
    pub fn post(path: impl Into<String>, body: &'a Value) -> Call<'a> {
        Call {
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
            headers: Vec::new(),
            bearer: None,
            basic: None,
            form: None,
            retry: Retry::RateLimited,
        }
    }

    /// A form POST, not repeated on a 5xx either.
    pub fn post_form(path: impl Into<String>, form: &'a [(&'a str, String)]) -> Call<'a> {
        Call {
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            bearer: None,
            basic: None,
            form: Some(form),
            retry: Retry::RateLimited,
        }
    }
}

impl Rest {
    pub fn new(
        settings: ApiSettings,
        http: HttpClient,
        what: &'static str,
        scheme: Option<&'static str>,
    ) -> Rest {
        Rest {
            settings,
            http,
            what,
            scheme,
        }
    }

    pub fn describe(&self) -> String {
        self.settings.describe()
    }

    /// The configured token, for an API that takes it in a body (a
    /// password to open a session with).
    pub fn token(&self) -> Option<&SecretString> {
        self.settings.token.as_ref()
    }

    fn authorization(
        &self,
        bearer: Option<&SecretString>,
    ) -> Result<Option<HeaderValue>, ProviderError> {
        let (scheme, token) = match (bearer, self.scheme, &self.settings.token) {
            (Some(session), _, _) => ("Bearer", session),
            (None, Some(scheme), Some(token)) => (scheme, token),
            _ => return Ok(None),
        };
        let mut value = HeaderValue::try_from(format!("{scheme} {}", token.expose_secret()))
            .map_err(|_| {
                ProviderError::Adapter(format!(
                    "the token for {} holds characters a header cannot carry",
                    self.what
                ))
            })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// Sends `call`; the answer's JSON (`null` for an empty body).
    pub async fn send(&self, call: Call<'_>) -> Result<Value, ProviderError> {
        let what = self.what;
        let mut url = self.settings.url(&call.path).map_err(|e| {
            ProviderError::Adapter(format!("{what}: the request path is not valid: {e}"))
        })?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        let authorization = self.authorization(call.bearer)?;
        let body = match call.body {
            Some(body) => Some(serde_json::to_vec(body).map_err(|e| {
                ProviderError::Adapter(format!("{what}: the request cannot be sent: {e}"))
            })?),
            None => None,
        };
        // The base URL is the operator's own setting, not an agent's input.
        let reply = self
            .http
            .send(Reach::Trusted, what, call.retry, |client, _| {
                let mut req = client
                    .request(call.method.clone(), url.clone())
                    .header(reqwest::header::ACCEPT, "application/json");
                match (&authorization, call.basic) {
                    (_, Some((user, password))) => {
                        req = req.basic_auth(user, Some(password.expose_secret()));
                    }
                    (Some(value), None) => {
                        req = req.header(reqwest::header::AUTHORIZATION, value.clone());
                    }
                    (None, None) => {}
                }
                for (name, value) in &call.headers {
                    req = req.header(*name, *value);
                }
                if let Some(body) = &body {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone());
                } else if let Some(form) = call.form {
                    req = req.form(form);
                }
                req
            })
            .await?;
        let bytes = reply.body(what).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::Adapter(format!("{what} answered with something not JSON: {e}"))
        })
    }
}

/// A field of an upstream answer that must be there.
pub fn field<'v>(answer: &'v Value, name: &str, what: &str) -> Result<&'v Value, ProviderError> {
    answer
        .get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ProviderError::Adapter(format!("{what} answered without `{name}`")))
}

/// A string field of an upstream answer that must be there.
pub fn text<'v>(answer: &'v Value, name: &str, what: &str) -> Result<&'v str, ProviderError> {
    field(answer, name, what)?
        .as_str()
        .ok_or_else(|| ProviderError::Adapter(format!("{what} answered `{name}` not as text")))
}

/// One operation on a JSON API: what it sends and how the answer becomes
/// the result. It is charged its list price, on success only.
#[async_trait]
pub trait RestOperation: Send + Sync + 'static {
    /// The name requests report as their `provider`.
    fn name(&self) -> &'static str;

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError>;

    /// See [`Provider::replay_window`].
    fn replay_window(&self) -> Option<std::time::Duration> {
        None
    }

    /// See [`Provider::has_side_effects`]; false for a read.
    fn has_side_effects(&self) -> bool {
        true
    }
}

/// A [`RestOperation`] as a [`Provider`].
pub struct RestProvider {
    api: Rest,
    operation: Box<dyn RestOperation>,
}

impl RestProvider {
    pub fn new(api: Rest, operation: Box<dyn RestOperation>) -> RestProvider {
        RestProvider { api, operation }
    }
}

#[async_trait]
impl Provider for RestProvider {
    fn name(&self) -> &'static str {
        self.operation.name()
    }

    fn estimate(&self, operation: &OperationSpec, _payload: &Value) -> Cents {
        list_price(operation)
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let result = self.operation.run(&self.api, &call).await?;
        Ok(Execution::Completed {
            result,
            actual_cost: list_price(call.operation),
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(super::synchronous(poll))
    }

    fn replay_window(&self) -> Option<std::time::Duration> {
        self.operation.replay_window()
    }

    fn has_side_effects(&self) -> bool {
        self.operation.has_side_effects()
    }
}
