use serde_json::json;

use super::*;

#[test]
fn debug_output_redacts_credentials() {
    let builder = Client::builder()
        .base_url("http://localhost:1/")
        .api_key("agent_key_supersecret")
        .pat("upivia_pat_hidden")
        .default_header("cookie", "session=alsosecret");
    let text = format!("{builder:?}");
    assert!(
        !text.contains("supersecret") && !text.contains("hidden") && !text.contains("alsosecret"),
        "{text}"
    );
    let client = builder.build().unwrap();
    let text = format!("{client:?}");
    assert!(
        !text.contains("supersecret") && !text.contains("hidden"),
        "{text}"
    );
    assert!(text.contains("redacted"));
}

#[test]
fn trailing_slashes_are_stripped() {
    let client = Client::builder()
        .base_url("http://h:1/base//")
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "http://h:1/base");
}

#[test]
fn construction_fails_without_a_usable_base_url() {
    assert!(matches!(
        Client::builder().build(),
        Err(BuildError::MissingBaseUrl)
    ));
    assert!(matches!(
        Client::builder().base_url("/").build(),
        Err(BuildError::MissingBaseUrl)
    ));
    assert!(matches!(
        Client::builder().base_url("not a url").build(),
        Err(BuildError::InvalidBaseUrl { .. })
    ));
    assert!(matches!(
        Client::builder().base_url("ftp://h").build(),
        Err(BuildError::InvalidBaseUrl { .. })
    ));
    assert!(matches!(
        Client::builder()
            .base_url("http://h")
            .default_header("bad header", "v")
            .build(),
        Err(BuildError::InvalidHeader { .. })
    ));
}

#[test]
fn default_idempotency_keys_are_32_lowercase_hex() {
    let client = Client::builder().base_url("http://h").build().unwrap();
    let a = client.generate_idempotency_key();
    let b = client.generate_idempotency_key();
    assert_eq!(a.len(), 32);
    assert!(
        a.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{a}"
    );
    assert_ne!(a, b);
}

#[test]
fn auth_modes_pick_the_right_credential() {
    let both = Client::builder()
        .base_url("http://h")
        .api_key("K")
        .pat("P")
        .build()
        .unwrap();
    let pat_only = Client::builder()
        .base_url("http://h")
        .pat("P")
        .build()
        .unwrap();
    let none = Client::builder().base_url("http://h").build().unwrap();
    let auth = |c: &Client, m| c.authorization(m, "GET", "/p").map_err(|e| e.kind());
    assert_eq!(auth(&both, AuthMode::Agent), Ok(Some("Bearer K".into())));
    assert_eq!(
        auth(&both, AuthMode::Workspace),
        Ok(Some("Bearer P".into()))
    );
    assert_eq!(auth(&both, AuthMode::Any), Ok(Some("Bearer K".into())));
    assert_eq!(auth(&both, AuthMode::None), Ok(None));
    assert_eq!(auth(&pat_only, AuthMode::Any), Ok(Some("Bearer P".into())));
    assert_eq!(
        auth(&pat_only, AuthMode::Agent),
        Err(crate::ErrorKind::Unauthorized)
    );
    assert_eq!(auth(&none, AuthMode::Workspace), Ok(None));
    assert_eq!(auth(&none, AuthMode::Any), Ok(None));
}

#[test]
fn empty_credentials_count_as_missing() {
    let client = Client::builder()
        .base_url("http://h")
        .api_key("")
        .pat("")
        .build()
        .unwrap();
    assert!(!client.has_api_key());
    assert!(!client.has_pat());
}

#[test]
fn query_encoding_skips_nulls_and_joins_lists() {
    let spec = RequestSpec::new(HttpMethod::Get, "/p", AuthMode::None)
        .query(&json!({"a": null, "b": true, "c": 3, "d": "x", "e": ["a.b", "c.d"]}))
        .unwrap();
    let mut pairs = spec.query.clone();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("b".to_owned(), "true".to_owned()),
            ("c".to_owned(), "3".to_owned()),
            ("d".to_owned(), "x".to_owned()),
            ("e".to_owned(), "a.b,c.d".to_owned()),
        ]
    );
}

#[test]
fn empty_reply_is_null_and_garbage_is_invalid_response() {
    let reply = |body: &'static str| Reply {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from_static(body.as_bytes()),
    };
    assert_eq!(reply("").json("GET", "/p").unwrap(), Value::Null);
    assert_eq!(
        reply("{\"a\":1}").json("GET", "/p").unwrap(),
        json!({"a": 1})
    );
    let err = reply("<html>").json("GET", "/p").unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidResponse);
    assert_eq!(err.status(), Some(200));
}

#[test]
fn typed_decode_of_an_empty_or_wrong_body_is_invalid_response() {
    let err = decode::<crate::models::Balance>("GET", "/p", Value::Null).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidResponse);
    let err =
        decode::<crate::models::Balance>("GET", "/p", json!({"amount_cents": "x"})).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidResponse);
}
