use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn map(status: u16, body: &str) -> Error {
    from_reply(
        "GET",
        "/x",
        StatusCode::from_u16(status).unwrap(),
        &HeaderMap::new(),
        body.as_bytes(),
        NonJsonErrors::Reject,
    )
}

fn envelope(code: &str) -> String {
    json!({"error": {"code": code, "message": "m"}}).to_string()
}

#[test]
fn status_decides_before_code() {
    let cases = [
        (401, "unauthorized", ErrorKind::Unauthorized),
        (403, "forbidden", ErrorKind::Unauthorized),
        (429, "rate_limited", ErrorKind::RateLimited),
        (
            409,
            "idempotency_key_payload_mismatch",
            ErrorKind::IdempotencyConflict,
        ),
        (409, "conflict", ErrorKind::Http),
        (404, "not_found", ErrorKind::Http),
        (500, "internal_error", ErrorKind::Http),
        // The status wins over the pinned code.
        (
            403,
            "idempotency_key_payload_mismatch",
            ErrorKind::Unauthorized,
        ),
        (
            429,
            "idempotency_key_payload_mismatch",
            ErrorKind::RateLimited,
        ),
        // Any other status with that code is a conflict.
        (
            400,
            "idempotency_key_payload_mismatch",
            ErrorKind::IdempotencyConflict,
        ),
    ];
    for (status, code, kind) in cases {
        let err = map(status, &envelope(code));
        assert_eq!(err.kind(), kind, "{status} {code}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.server_message(), Some("m"));
    }
}

#[test]
fn non_json_body_is_invalid_response_whatever_the_status() {
    for status in [400, 401, 429, 500] {
        let err = map(status, "<html>oops</html>");
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{status}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.body(), Some(&json!("<html>oops</html>")));
    }
}

#[test]
fn non_json_body_is_classified_by_status_on_lenient_paths() {
    let err = from_reply(
        "POST",
        "/api/v1/chat/turn",
        StatusCode::FORBIDDEN,
        &HeaderMap::new(),
        b"nope",
        NonJsonErrors::ByStatus,
    );
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.server_message(), Some("HTTP 403"));
    assert_eq!(err.body(), Some(&json!("nope")));
}

#[test]
fn message_defaults_to_http_status_and_code_must_be_a_string() {
    let err = map(502, r#"{"error": {"code": 7, "message": null}}"#);
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.code(), None);
    assert_eq!(err.server_message(), Some("HTTP 502"));
    let err = map(500, r#"{"error": "flat string"}"#);
    assert_eq!(err.server_message(), Some("HTTP 500"));
    assert_eq!(err.body(), Some(&json!({"error": "flat string"})));
    let err = map(500, "");
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.body(), None);
}

#[test]
fn retry_after_and_request_id_are_read_from_headers() {
    let h = headers(&[("retry-after", "2.5"), ("x-request-id", "rid_1")]);
    let err = api_error(StatusCode::TOO_MANY_REQUESTS, &h, None);
    assert_eq!(err.retry_after(), Some(Duration::from_millis(2500)));
    assert_eq!(err.request_id(), Some("rid_1"));
    assert!(err.is_retryable());
}

#[test]
fn retry_after_ignores_dates_and_negatives() {
    assert_eq!(
        parse_retry_after(&headers(&[("retry-after", "7")])),
        Some(Duration::from_secs(7))
    );
    assert_eq!(
        parse_retry_after(&headers(&[(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT"
        )])),
        None
    );
    assert_eq!(parse_retry_after(&headers(&[("retry-after", "-1")])), None);
    assert_eq!(parse_retry_after(&headers(&[("retry-after", "NaN")])), None);
    assert_eq!(parse_retry_after(&HeaderMap::new()), None);
}

#[test]
fn kinds_spell_like_the_reference_sdk() {
    assert_eq!(ErrorKind::InvalidResponse.to_string(), "invalid_response");
    assert_eq!(
        ErrorKind::IdempotencyConflict.as_str(),
        "idempotency_conflict"
    );
    let missing = Error::MissingApiKey {
        method: "GET".into(),
        path: "/p".into(),
    };
    assert_eq!(missing.kind(), ErrorKind::Unauthorized);
    let timeout = Error::WaitTimeout {
        what: "x".into(),
        after: Duration::from_secs(1),
    };
    assert_eq!(timeout.kind(), ErrorKind::Http);
}
