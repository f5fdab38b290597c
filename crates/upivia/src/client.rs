//! [`Client`] and [`ClientBuilder`]: the only place a request is sent.
//!
//! Every resource method builds a [`RequestSpec`] from its
//! [`Endpoint`](crate::endpoints::Endpoint) and hands it to
//! [`Client::send`], which alone applies the auth mode, the common headers,
//! the retry policy and the error mapping. The chat-turn stream shares the
//! same request builder but has its own retry rule (API.md §1.7).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::endpoints::{AuthMode, Endpoint, HttpMethod};
use crate::error::{self, Error, NonJsonErrors, Result};
use crate::retry::{AttemptResult, Outcome, Retry, RetryPolicy};
use crate::transfer::{Observer, Payload, Progress};

/// `user-agent` of every request: `upivia-sdk-rs/<version>`.
pub const USER_AGENT: &str = concat!("upivia-sdk-rs/", env!("CARGO_PKG_VERSION"));

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A credential: kept out of `Debug` output.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

type KeyGenerator = Arc<dyn Fn() -> String + Send + Sync>;
type RetryHook = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

/// What [`ClientBuilder::on_retry`] is told before the client waits to
/// send a request again.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RetryNotice {
    /// HTTP method.
    pub method: &'static str,
    /// Request path.
    pub path: String,
    /// The retry about to be made (1 for the first retry).
    pub attempt: u32,
    /// How long the client waits first.
    pub delay: Duration,
    /// The status that caused it (429, 503, …); `None` for a network error.
    pub status: Option<u16>,
}

fn default_idempotency_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Why a [`Client`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No base URL was given (and none was found in the environment).
    #[error("a base URL is required (set it on the builder, or UPIVIA_BASE_URL)")]
    MissingBaseUrl,
    /// The base URL does not parse, or is not http(s).
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A default header has an invalid name or value.
    #[error("invalid default header {name:?}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    /// The blocking client's runtime could not be started.
    #[error("could not start the blocking client's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Configures a [`Client`]. Start from [`Client::builder`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: Option<String>,
    api_key: Option<Secret>,
    pat: Option<Secret>,
    timeout: Duration,
    retry: RetryPolicy,
    default_headers: Vec<(String, String)>,
    key_generator: Option<KeyGenerator>,
    on_retry: Option<RetryHook>,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("pat", &self.pat)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field(
                "default_headers",
                &self
                    .default_headers
                    .iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: None,
            api_key: None,
            pat: None,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            default_headers: Vec::new(),
            key_generator: None,
            on_retry: None,
            http: None,
        }
    }
}

impl ClientBuilder {
    /// The server's base URL, e.g. `http://localhost:3000`. A trailing `/` is
    /// stripped. Required.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The agent API key (`agent_key_…`), sent on agent endpoints.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret(key.into()));
        self
    }

    /// The personal access token (`upivia_pat_…`), sent on workspace
    /// endpoints.
    pub fn pat(mut self, pat: impl Into<String>) -> Self {
        self.pat = Some(Secret(pat.into()));
        self
    }

    /// Per-request timeout (default 60 s). For the chat-turn stream it bounds
    /// connecting only; reading the stream has no timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries after the first attempt (default 2; 0 disables retries).
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.retry = RetryPolicy::new(max_retries);
        self
    }

    /// Replaces the whole retry policy (retries and backoff windows).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// A header added to every request, e.g. a session `cookie`. Later
    /// calls with the same name replace earlier ones.
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.default_headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.default_headers.push((name, value.into()));
        self
    }

    /// Generates idempotency keys for service-request creates that come
    /// without one (default: a random UUID as 32 lowercase hex characters).
    pub fn idempotency_key_generator(
        mut self,
        generate: impl Fn() -> String + Send + Sync + 'static,
    ) -> Self {
        self.key_generator = Some(Arc::new(generate));
        self
    }

    /// Called before each retry's wait (a rate limit's `Retry-After` may be
    /// long), so a program can tell its user why nothing happens.
    pub fn on_retry(mut self, notify: impl Fn(&RetryNotice) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(notify));
        self
    }

    /// Sends through this `reqwest::Client` instead of one the SDK builds.
    ///
    /// Its own settings then apply: build it with
    /// `redirect(reqwest::redirect::Policy::none())` (the storage download
    /// must see the 302) and without a total timeout (it would cut chat
    /// streams); the SDK still applies [`timeout`](Self::timeout) per request.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client.
    pub fn build(self) -> std::result::Result<Client, BuildError> {
        let raw = self.base_url.ok_or(BuildError::MissingBaseUrl)?;
        let base_url = raw.trim_end_matches('/').to_owned();
        if base_url.is_empty() {
            return Err(BuildError::MissingBaseUrl);
        }
        let parsed = url::Url::parse(&base_url).map_err(|e| BuildError::InvalidBaseUrl {
            url: raw.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BuildError::InvalidBaseUrl {
                url: raw,
                reason: "the scheme must be http or https".to_owned(),
            });
        }
        let mut default_headers = HeaderMap::new();
        for (name, value) in &self.default_headers {
            let invalid = || BuildError::InvalidHeader { name: name.clone() };
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let mut header_value = HeaderValue::from_str(value).map_err(|_| invalid())?;
            header_value.set_sensitive(true);
            default_headers.insert(header_name, header_value);
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.timeout)
                .build()
                .map_err(BuildError::Http)?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                base_url,
                api_key: self.api_key.filter(|k| !k.0.is_empty()),
                pat: self.pat.filter(|p| !p.0.is_empty()),
                timeout: self.timeout,
                retry: self.retry,
                default_headers,
                key_generator: self
                    .key_generator
                    .unwrap_or_else(|| Arc::new(default_idempotency_key)),
                on_retry: self.on_retry,
                http,
            }),
        })
    }
}

/// The async Upivia client. Cheap to clone (one `Arc`); each resource
/// accessor (`client.approvals()`, ...) borrows it.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = upivia::Client::builder()
///     .base_url("http://localhost:3000")
///     .api_key("agent_key_...")
///     .build()?;
/// let services = client.services().list().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    base_url: String,
    api_key: Option<Secret>,
    pat: Option<Secret>,
    pub(crate) timeout: Duration,
    retry: RetryPolicy,
    default_headers: HeaderMap,
    key_generator: KeyGenerator,
    on_retry: Option<RetryHook>,
    // Signed storage URLs are fetched through it directly: they carry
    // their own credentials and must not get the client's.
    pub(crate) http: reqwest::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &self.inner.api_key)
            .field("pat", &self.inner.pat)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Reads a variable, treating unset and empty alike.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Client {
    /// A builder with the defaults: 60 s timeout, 2 retries.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A builder configured from the environment: `UPIVIA_API_KEY` (else
    /// `AGENTWALLET_API_KEY`), `UPIVIA_PAT`, and `UPIVIA_BASE_URL` (else
    /// `AGENTWALLET_BASE_URL`). Unset or empty variables are skipped.
    pub fn builder_from_env() -> ClientBuilder {
        let mut builder = ClientBuilder::default();
        if let Some(key) = env_var("UPIVIA_API_KEY").or_else(|| env_var("AGENTWALLET_API_KEY")) {
            builder = builder.api_key(key);
        }
        if let Some(pat) = env_var("UPIVIA_PAT") {
            builder = builder.pat(pat);
        }
        if let Some(url) = env_var("UPIVIA_BASE_URL").or_else(|| env_var("AGENTWALLET_BASE_URL")) {
            builder = builder.base_url(url);
        }
        builder
    }

    /// A client configured from the environment (see
    /// [`builder_from_env`](Self::builder_from_env)). Fails with
    /// [`BuildError::MissingBaseUrl`] when no base URL is set.
    pub fn from_env() -> std::result::Result<Client, BuildError> {
        Client::builder_from_env().build()
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// `true` when an agent key is configured.
    pub fn has_api_key(&self) -> bool {
        self.inner.api_key.is_some()
    }

    /// `true` when a PAT is configured.
    pub fn has_pat(&self) -> bool {
        self.inner.pat.is_some()
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    pub(crate) fn generate_idempotency_key(&self) -> String {
        (self.inner.key_generator)()
    }

    /// The `Authorization` value for `auth`, or `Ok(None)` for no header.
    fn authorization(&self, auth: AuthMode, method: &str, path: &str) -> Result<Option<String>> {
        let bearer = |s: &Secret| Some(format!("Bearer {}", s.expose()));
        Ok(match auth {
            AuthMode::Agent => match &self.inner.api_key {
                Some(key) => bearer(key),
                None => {
                    return Err(Error::MissingApiKey {
                        method: method.to_owned(),
                        path: path.to_owned(),
                    });
                }
            },
            AuthMode::Workspace => self.inner.pat.as_ref().and_then(bearer),
            AuthMode::Any => self
                .inner
                .api_key
                .as_ref()
                .or(self.inner.pat.as_ref())
                .and_then(bearer),
            AuthMode::None => None,
        })
    }

    /// Headers in the reference order: accept and user-agent, then the
    /// caller's defaults, then the request's own, then content-type unless
    /// already set (never for multipart), and the auth header last.
    fn headers(&self, spec: &RequestSpec, authorization: Option<String>) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        let accept = if spec.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        for (name, value) in &self.inner.default_headers {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &spec.headers {
            let invalid = || Error::InvalidArgument(format!("header {name:?} is not valid"));
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
            headers.insert(name, value);
        }
        if !matches!(spec.body, Body::Multipart(_)) && !headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(auth) = authorization {
            let mut value = HeaderValue::from_str(&auth).map_err(|_| {
                Error::InvalidArgument("credential contains invalid characters".to_owned())
            })?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        Ok(headers)
    }

    /// Builds one attempt's request. Called afresh for every attempt, so a
    /// retry resends identical bytes and headers.
    fn build_request(
        &self,
        spec: &RequestSpec,
        headers: &HeaderMap,
    ) -> Result<reqwest::RequestBuilder> {
        let url = format!("{}{}", self.inner.base_url, spec.path);
        let mut request = self
            .inner
            .http
            .request(spec.method.to_reqwest(), url)
            .headers(headers.clone());
        if !spec.query.is_empty() {
            request = request.query(&spec.query);
        }
        // A file streamed from disk may rightly take longer than any fixed
        // total; the connect timeout still applies, and the server bounds
        // an upload's duration itself.
        let file_upload =
            matches!(&spec.body, Body::Multipart(m) if matches!(m.content, Payload::File(_)));
        if !spec.stream && !file_upload {
            request = request.timeout(self.inner.timeout);
        }
        request = match &spec.body {
            Body::Empty => request,
            Body::Json(bytes) | Body::Raw(bytes) => request.body(bytes.clone()),
            Body::Multipart(form) => request.multipart(form.to_form()?),
        };
        Ok(request)
    }

    /// Sends `spec` with auth, headers and retries, and returns the reply
    /// when its status is a success (2xx, or 3xx when the spec allows
    /// redirects). Any other status becomes an [`Error`] per API.md §1.6.
    pub async fn send(&self, spec: RequestSpec) -> Result<Reply> {
        let method = spec.method.as_str();
        let authorization = self.authorization(spec.auth, method, &spec.path)?;
        let headers = self.headers(&spec, authorization)?;
        let replayable = spec.method == HttpMethod::Get || spec.idempotent;
        let mut attempt: u32 = 0;
        loop {
            let request = self.build_request(&spec, &headers)?;
            let sent = match request.send().await {
                Ok(response) => read_reply(response).await,
                Err(e) => Err(e),
            };
            let result = match &sent {
                Ok(reply) => AttemptResult::Status {
                    status: reply.status.as_u16(),
                    retry_after: if reply.status == StatusCode::TOO_MANY_REQUESTS {
                        error::parse_retry_after(&reply.headers)
                    } else {
                        None
                    },
                },
                Err(_) => AttemptResult::Network,
            };
            let decision = self
                .inner
                .retry
                .decide(attempt, &Outcome { replayable, result });
            if let Retry::After(delay) = decision {
                tracing::debug!(method, path = %spec.path, attempt, ?delay, "retrying request");
                if let Some(notify) = &self.inner.on_retry {
                    notify(&RetryNotice {
                        method,
                        path: spec.path.clone(),
                        attempt: attempt + 1,
                        delay,
                        status: sent.as_ref().ok().map(|r| r.status.as_u16()),
                    });
                }
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            let reply = sent.map_err(|source| Error::Network {
                method: method.to_owned(),
                path: spec.path.clone(),
                source,
            })?;
            let ok =
                reply.status.is_success() || (spec.allow_redirect && reply.status.is_redirection());
            if ok {
                return Ok(reply);
            }
            return Err(error::from_reply(
                method,
                &spec.path,
                reply.status,
                &reply.headers,
                &reply.body,
                spec.non_json_errors,
            ));
        }
    }

    /// [`send`](Self::send), then the body as JSON: `Value::Null` for an
    /// empty body, [`ErrorKind::InvalidResponse`](crate::ErrorKind) for one
    /// that is not JSON.
    pub async fn send_json(&self, spec: RequestSpec) -> Result<Value> {
        let method = spec.method;
        let path = spec.path.clone();
        let reply = self.send(spec).await?;
        reply.json(method.as_str(), &path)
    }

    /// [`send_json`](Self::send_json), then decoded into `T`; an empty or
    /// mismatched body is an `InvalidResponse` error.
    pub(crate) async fn send_typed<T: DeserializeOwned>(&self, spec: RequestSpec) -> Result<T> {
        let method = spec.method;
        let path = spec.path.clone();
        let value = self.send_json(spec).await?;
        decode(method.as_str(), &path, value)
    }

    /// [`send_json`](Self::send_json) for routes that answer 204: any body is
    /// checked, then dropped.
    pub(crate) async fn send_unit(&self, spec: RequestSpec) -> Result<()> {
        self.send_json(spec).await.map(drop)
    }

    /// Opens a streaming request: same headers and auth as [`send`](Self::send),
    /// no read timeout, no retry policy, no status mapping.
    pub(crate) async fn open_stream(&self, spec: &RequestSpec) -> Result<reqwest::Response> {
        let method = spec.method.as_str();
        let authorization = self.authorization(spec.auth, method, &spec.path)?;
        let headers = self.headers(spec, authorization)?;
        let request = self.build_request(spec, &headers)?;
        request.send().await.map_err(|source| Error::Network {
            method: method.to_owned(),
            path: spec.path.clone(),
            source,
        })
    }
}

/// Decodes a JSON value into `T`, as an `InvalidResponse` error on mismatch.
pub(crate) fn decode<T: DeserializeOwned>(method: &str, path: &str, value: Value) -> Result<T> {
    if value.is_null() {
        return Err(Error::InvalidResponse {
            request: format!("{method} {path}"),
            reason: "empty body where a JSON object was expected".to_owned(),
            status: None,
            body: None,
            request_id: None,
        });
    }
    serde_json::from_value::<T>(value.clone()).map_err(|e| Error::InvalidResponse {
        request: format!("{method} {path}"),
        reason: e.to_string(),
        status: None,
        body: Some(value),
        request_id: None,
    })
}

async fn read_reply(response: reqwest::Response) -> reqwest::Result<Reply> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A complete reply: status, headers and the whole body.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON: `Value::Null` when empty; `InvalidResponse` when it
    /// is not JSON (even on a 2xx).
    pub fn json(&self, method: &str, path: &str) -> Result<Value> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|_| Error::InvalidResponse {
            request: format!("{method} {path}"),
            reason: "non-JSON body".to_owned(),
            status: Some(self.status.as_u16()),
            body: Some(Value::String(
                String::from_utf8_lossy(&self.body).into_owned(),
            )),
            request_id: error::request_id(&self.headers),
        })
    }
}

impl HttpMethod {
    fn to_reqwest(self) -> Method {
        match self {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
            HttpMethod::Patch => Method::PATCH,
            HttpMethod::Delete => Method::DELETE,
            HttpMethod::Put => Method::PUT,
        }
    }
}

/// A request body.
#[derive(Clone, Debug, Default)]
pub enum Body {
    /// No body (every GET and DELETE).
    #[default]
    Empty,
    /// Serialized JSON.
    Json(Bytes),
    /// Exact bytes, sent as given (the trigger fire).
    Raw(Bytes),
    /// `multipart/form-data`.
    Multipart(MultipartBody),
}

/// A multipart upload: text fields plus one file part named `file`. Kept as
/// plain data so every attempt can rebuild the form (and reopen a file).
#[derive(Clone, Debug)]
pub struct MultipartBody {
    /// Text fields, in order.
    pub fields: Vec<(String, String)>,
    /// The file's name.
    pub filename: String,
    /// The file part's content type.
    pub content_type: String,
    /// The file's bytes, in memory or streamed from disk.
    pub content: Payload,
    /// Told how many of the file's bytes have been sent.
    pub progress: Option<Progress>,
}

impl MultipartBody {
    fn to_form(&self) -> Result<reqwest::multipart::Form> {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in &self.fields {
            form = form.text(name.clone(), value.clone());
        }
        let observer = Observer {
            progress: self.progress.clone(),
            hasher: None,
        };
        let (body, length) = self.content.open(observer)?;
        let part = reqwest::multipart::Part::stream_with_length(body, length)
            .file_name(self.filename.clone())
            .mime_str(&self.content_type)
            .map_err(|_| {
                Error::InvalidArgument(format!(
                    "content type {:?} is not a MIME type",
                    self.content_type
                ))
            })?;
        Ok(form.part("file", part))
    }
}

/// Everything [`Client::send`] needs to send one request.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    /// HTTP method.
    pub method: HttpMethod,
    /// Path below the base URL, starting with `/`.
    pub path: String,
    /// Query parameters, already encoded as strings.
    pub query: Vec<(String, String)>,
    /// The body.
    pub body: Body,
    /// Which credential to send.
    pub auth: AuthMode,
    /// Whether a non-GET may be retried.
    pub idempotent: bool,
    /// Extra headers for this request.
    pub headers: Vec<(String, String)>,
    pub(crate) stream: bool,
    pub(crate) allow_redirect: bool,
    pub(crate) non_json_errors: NonJsonErrors,
}

impl RequestSpec {
    /// A request with no body, query or extra headers.
    pub fn new(method: HttpMethod, path: impl Into<String>, auth: AuthMode) -> Self {
        RequestSpec {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::Empty,
            auth,
            idempotent: false,
            headers: Vec::new(),
            stream: false,
            allow_redirect: false,
            non_json_errors: NonJsonErrors::Reject,
        }
    }

    /// The request for `endpoint`, its placeholders filled with `args`.
    pub fn endpoint(endpoint: &Endpoint, args: &[&str]) -> Self {
        RequestSpec::new(endpoint.method, endpoint.render(args), endpoint.auth)
    }

    /// Adds the query parameters of a serializable filter: `null`s are
    /// left out, booleans become `true`/`false`, lists are joined with
    /// commas.
    pub fn query<Q: Serialize + ?Sized>(mut self, query: &Q) -> Result<Self> {
        let value =
            serde_json::to_value(query).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        if let Value::Object(map) = value {
            for (key, value) in map {
                if let Some(text) = query_text(&value) {
                    self.query.push((key, text));
                }
            }
        }
        Ok(self)
    }

    /// Adds one query parameter.
    pub fn query_pair(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.body = Body::Json(Bytes::from(bytes));
        Ok(self)
    }

    /// Sets a raw body.
    pub fn raw(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Raw(body.into());
        self
    }

    /// Sets a multipart body.
    pub fn multipart(mut self, body: MultipartBody) -> Self {
        self.body = Body::Multipart(body);
        self
    }

    /// Marks a mutation as safe to retry.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn streaming(mut self) -> Self {
        self.stream = true;
        self.non_json_errors = NonJsonErrors::ByStatus;
        self
    }

    pub(crate) fn redirect_is_success(mut self) -> Self {
        self.allow_redirect = true;
        self.non_json_errors = NonJsonErrors::ByStatus;
        self
    }
}

fn query_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(query_text)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(_) => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests;
