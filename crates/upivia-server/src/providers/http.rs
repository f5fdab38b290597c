//! The outbound HTTP client every real provider shares, so they all time
//! out, retry, bound what they read and map failures the same way:
//!
//! | upstream | error |
//! |---|---|
//! | unreachable, timed out, 5xx | [`ProviderError::Unavailable`] (`provider_unavailable`) |
//! | 429 | retried after its `Retry-After` while the provider timeout allows, then `Unavailable` |
//! | other 4xx, a redirect, an answer over [`MAX_RESPONSE_BYTES`] | [`ProviderError::Adapter`] (`adapter_error`) |
//! | a 2xx the provider cannot read | `Adapter`, by the provider |
//!
//! Redirects are never followed: a receiver could point one inside the
//! network. One client per [`Reach`]: the direct one for upstreams the
//! operator configured, and a guarded one whose resolver connects only to
//! public addresses (see `hosts.rs`); both honour `HTTPS_PROXY`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use serde_json::Value;

use super::ProviderError;
use super::hosts::{BlockedAddress, GuardedResolver, Reach};

/// The most any upstream answer may be; a provider needs far less.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Sent on every request.
pub const USER_AGENT: &str = concat!("upivia/", env!("CARGO_PKG_VERSION"));
const MAX_ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Which answers are worth another attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// 429 only: a call with an upstream side effect or cost is not repeated
    /// on a 5xx, which may have come after the work was done.
    RateLimited,
    /// 429 and 5xx (webhooks: receivers deduplicate on `webhook-id`).
    RateLimitedAndServerErrors,
}

/// One request of a call: when it went out (from the call's start) and
/// what came of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: u32,
    pub after_ms: u64,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// Why no status came back (unreachable, timed out).
    pub error: Option<String>,
}

impl Attempt {
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "attempt": self.attempt,
            "after_ms": self.after_ms,
            "status_code": self.status,
            "error": self.error,
        })
    }
}

/// A 2xx answer, its body not read yet: a webhook receiver's is of no
/// interest, and a large one must not fail a delivery that happened.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// How many requests it took (1 without retries).
    pub attempts: u32,
    pub response: reqwest::Response,
}

impl Reply {
    /// The body, up to [`MAX_RESPONSE_BYTES`] (an adapter error past it).
    pub async fn body(self, what: &str) -> Result<Bytes, ProviderError> {
        read_bounded(self.response, MAX_RESPONSE_BYTES, what).await
    }
}

#[derive(Clone, Debug)]
pub struct HttpClient {
    direct: reqwest::Client,
    guarded: reqwest::Client,
    timeout: Duration,
}

impl HttpClient {
    /// A client whose calls, retries included, last at most `timeout`.
    pub fn new(timeout: Duration) -> Result<HttpClient, reqwest::Error> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(timeout)
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
        };
        Ok(HttpClient {
            direct: builder().build()?,
            guarded: builder().dns_resolver(Arc::new(GuardedResolver)).build()?,
            timeout,
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The underlying client for `reach`, for callers that stream.
    pub fn client(&self, reach: Reach) -> &reqwest::Client {
        match reach {
            Reach::Trusted => &self.direct,
            Reach::Guarded => &self.guarded,
        }
    }

    /// Sends the request `build` makes (again for each attempt, given its
    /// number from 1) until a final answer or the timeout; `what` names the
    /// upstream in error messages.
    pub async fn send(
        &self,
        reach: Reach,
        what: &str,
        retry: Retry,
        build: impl Fn(&reqwest::Client, u32) -> reqwest::RequestBuilder,
    ) -> Result<Reply, ProviderError> {
        self.send_logged(reach, what, retry, build, &mut Vec::new())
            .await
    }

    /// [`send`](Self::send), noting every attempt in `log`.
    pub async fn send_logged(
        &self,
        reach: Reach,
        what: &str,
        retry: Retry,
        build: impl Fn(&reqwest::Client, u32) -> reqwest::RequestBuilder,
        log: &mut Vec<Attempt>,
    ) -> Result<Reply, ProviderError> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let client = self.client(reach);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.timed_out(what));
            }
            let after_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let response = match build(client, attempt).timeout(remaining).send().await {
                Ok(response) => response,
                Err(e) => {
                    let error = self.request_error(what, e);
                    log.push(Attempt {
                        attempt,
                        after_ms,
                        status: None,
                        error: Some(error.to_string()),
                    });
                    return Err(error);
                }
            };
            let status = response.status();
            log.push(Attempt {
                attempt,
                after_ms,
                status: Some(status.as_u16()),
                error: None,
            });
            if status.is_success() {
                return Ok(Reply {
                    status: status.as_u16(),
                    attempts: attempt,
                    response,
                });
            }
            let retry_after = retry_after(response.headers());
            let remaining = deadline.saturating_duration_since(Instant::now());
            match next_attempt(status, retry_after, attempt, remaining, retry) {
                Some(wait) => {
                    tracing::debug!(
                        upstream = what,
                        status = status.as_u16(),
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                None => {
                    let detail = read_bounded(response, 16 * 1024, what)
                        .await
                        .ok()
                        .and_then(|body| error_detail(&body));
                    return Err(final_error(what, status, attempt, detail));
                }
            }
        }
    }

    fn timed_out(&self, what: &str) -> ProviderError {
        ProviderError::Unavailable(format!(
            "{what} did not answer within {} ms",
            self.timeout.as_millis()
        ))
    }

    fn request_error(&self, what: &str, error: reqwest::Error) -> ProviderError {
        if let Some(blocked) = find_source::<BlockedAddress>(&error) {
            return ProviderError::Adapter(format!(
                "refused to deliver: {blocked}; only hosts listed as an IP or http:// entry may \
                 be private"
            ));
        }
        if error.is_timeout() {
            return self.timed_out(what);
        }
        ProviderError::Unavailable(format!(
            "could not reach {what}: {}",
            chain(&error.without_url())
        ))
    }
}

/// How long to wait before the next attempt, or `None` to give up with
/// the answer in hand. A wait that would end past the deadline gives up
/// now rather than sleep into the timeout.
pub fn next_attempt(
    status: StatusCode,
    retry_after: Option<Duration>,
    attempt: u32,
    remaining: Duration,
    retry: Retry,
) -> Option<Duration> {
    let retryable = status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error() && retry == Retry::RateLimitedAndServerErrors);
    if !retryable || attempt >= MAX_ATTEMPTS {
        return None;
    }
    let backoff = FIRST_BACKOFF
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(MAX_BACKOFF);
    let wait = retry_after.unwrap_or(backoff);
    // Leave the next attempt some time to be answered in.
    (wait + FIRST_BACKOFF <= remaining).then_some(wait)
}

fn final_error(
    what: &str,
    status: StatusCode,
    attempts: u32,
    detail: Option<String>,
) -> ProviderError {
    let tries = if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    };
    let detail = detail.map(|d| format!(": {d}")).unwrap_or_default();
    let code = status.as_u16();
    if status == StatusCode::TOO_MANY_REQUESTS {
        ProviderError::Unavailable(format!("{what} is rate limiting (HTTP 429){tries}{detail}"))
    } else if status.is_server_error() {
        ProviderError::Unavailable(format!("{what} answered HTTP {code}{tries}{detail}"))
    } else if status.is_redirection() {
        ProviderError::Adapter(format!(
            "{what} answered a redirect (HTTP {code}); redirects are not followed"
        ))
    } else {
        ProviderError::Adapter(format!("{what} refused the call: HTTP {code}{detail}"))
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The body, or an adapter error once it passes `limit` bytes; reads
/// chunk by chunk so an endless answer costs at most `limit` of memory.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Bytes, ProviderError> {
    let too_large =
        || ProviderError::Adapter(format!("{what} answered with more than {limit} bytes"));
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(e) if e.is_timeout() => {
                return Err(ProviderError::Unavailable(format!(
                    "{what} did not finish its answer in time"
                )));
            }
            Err(e) => {
                return Err(ProviderError::Unavailable(format!(
                    "{what} broke off its answer: {}",
                    chain(&e.without_url())
                )));
            }
        }
    }
}

/// The `error.message` (or `error`, `message`) of a JSON error body, one
/// line of at most 200 characters.
fn error_detail(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let message = json
        .pointer("/error/message")
        .or_else(|| json.get("error").filter(|e| e.is_string()))
        .or_else(|| json.get("message"))?
        .as_str()?;
    let line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    Some(line)
}

fn find_source<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        current = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    #[test]
    fn only_rate_limits_and_chosen_server_errors_are_retried() {
        let r = Retry::RateLimited;
        let both = Retry::RateLimitedAndServerErrors;
        assert_eq!(
            next_attempt(StatusCode::TOO_MANY_REQUESTS, None, 1, LONG, r),
            Some(FIRST_BACKOFF)
        );
        assert_eq!(
            next_attempt(StatusCode::BAD_GATEWAY, None, 1, LONG, r),
            None
        );
        assert_eq!(
            next_attempt(StatusCode::BAD_GATEWAY, None, 2, LONG, both),
            Some(Duration::from_millis(200))
        );
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::NOT_FOUND,
            StatusCode::FOUND,
        ] {
            assert_eq!(next_attempt(status, None, 1, LONG, both), None, "{status}");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_backoff_is_capped() {
        let r = Retry::RateLimitedAndServerErrors;
        assert_eq!(
            next_attempt(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(3)),
                1,
                LONG,
                r
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            next_attempt(StatusCode::SERVICE_UNAVAILABLE, None, 7, LONG, r),
            Some(MAX_BACKOFF)
        );
        assert_eq!(
            next_attempt(StatusCode::SERVICE_UNAVAILABLE, None, MAX_ATTEMPTS, LONG, r),
            None
        );
    }

    #[test]
    fn a_wait_past_the_deadline_gives_up_now() {
        let r = Retry::RateLimited;
        let wait = Some(Duration::from_secs(5));
        assert_eq!(
            next_attempt(
                StatusCode::TOO_MANY_REQUESTS,
                wait,
                1,
                Duration::from_secs(5),
                r
            ),
            None
        );
        assert_eq!(
            next_attempt(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                1,
                Duration::from_millis(150),
                r
            ),
            None
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn error_details_are_one_short_line() {
        assert_eq!(
            error_detail(br#"{"error":{"message":"bad\nmodel"}}"#).as_deref(),
            Some("bad model")
        );
        assert_eq!(
            error_detail(br#"{"error":"nope"}"#).as_deref(),
            Some("nope")
        );
        assert_eq!(error_detail(b"<html>").as_deref(), None);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(500));
        assert_eq!(error_detail(long.as_bytes()).map(|d| d.len()), Some(200));
    }
}
