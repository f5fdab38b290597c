//! Cross-site request forgery defence for cookie sessions.
//!
//! A browser attaches the session cookie to requests another site makes,
//! and `SameSite=Lax` does not stop a sibling subdomain or another port of
//! the same host. So a mutation carried by the cookie must show it comes
//! from this server's own origin and is not something a foreign page can
//! send without a CORS preflight (which this server never grants):
//!
//! 1. `Sec-Fetch-Site`, when sent, is `same-origin` or `none`;
//! 2. `Origin`, when sent, is the server's public origin (scheme, host and
//!    port of the public base URL; the `Host` header is not trusted, since it
//!    says nothing about which page made the request);
//! 3. the request carries this session's CSRF token in `x-csrf-token`, or
//!    its body is JSON (`application/json` or `application/*+json`), or it
//!    has no body and no content type at all. Forms can send only
//!    `application/x-www-form-urlencoded`, `multipart/form-data` or
//!    `text/plain`; every browser API that sends a body with no content
//!    type (`fetch` with a typeless Blob) also sends `Origin`.
//!
//! Clients that are not browsers (the SDKs, curl) send no `Origin` and no
//! `Sec-Fetch-Site`, and send JSON: they pass without a token. Bearer
//! credentials never reach this check; a page cannot set `Authorization`
//! on a cross-site request without a preflight.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: HMAC-SHA256 keyed by the session token.
/// Deterministic, so the server stores nothing; unforgeable without the
/// (HttpOnly) session token; and distinct from the stored session hash, so
/// a database leak does not yield tokens.
pub fn csrf_token(session_token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(session_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"upivia csrf token v1");
    hex::encode(mac.finalize().into_bytes())
}

/// What a request says about where it comes from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signals<'a> {
    pub origin: Option<&'a str>,
    pub fetch_site: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// Whether the request declares a body (a non-zero length or chunked).
    pub has_body: bool,
    pub token: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrfRefusal {
    #[error(
        "cross-site request refused (Sec-Fetch-Site: {0}); a session cookie is accepted for changes only from this server's own origin"
    )]
    CrossSite(String),
    #[error(
        "cross-origin request refused: Origin {origin} is not this server's origin ({expected}); a session cookie is accepted for changes only from its own origin"
    )]
    ForeignOrigin { origin: String, expected: String },
    #[error("the x-csrf-token header does not match this session's token")]
    TokenMismatch,
    #[error(
        "a change made with the session cookie must send a JSON body (content-type: application/json) or this session's x-csrf-token header"
    )]
    NotJson,
}

/// The ASCII serialisation of a URL's origin (`https://host[:port]`, the
/// default port left out, as browsers send `Origin`); `null` if the URL
/// has no tuple origin.
pub fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "null".to_owned())
}

/// Decides whether a cookie-authenticated mutation may proceed.
pub fn check(
    signals: Signals<'_>,
    public_origin: &str,
    session_token: &str,
) -> Result<(), CsrfRefusal> {
    if let Some(site) = signals.fetch_site {
        let site = site.trim().to_ascii_lowercase();
        if site != "same-origin" && site != "none" {
            return Err(CsrfRefusal::CrossSite(site));
        }
    }
    if let Some(origin) = signals.origin {
        let normalised = origin_of(origin.trim());
        if normalised == "null" || normalised != public_origin {
            return Err(CsrfRefusal::ForeignOrigin {
                origin: origin.chars().take(200).collect(),
                expected: public_origin.to_owned(),
            });
        }
    }
    if let Some(token) = signals.token {
        let expected = csrf_token(session_token);
        return if bool::from(token.trim().as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(CsrfRefusal::TokenMismatch)
        };
    }
    match signals.content_type {
        Some(ct) if is_json(ct) => Ok(()),
        None if !signals.has_body => Ok(()),
        _ => Err(CsrfRefusal::NotJson),
    }
}

/// `application/json` or `application/<something>+json`, any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

#[cfg(test)]
mod tests;
