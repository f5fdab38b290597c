use serde::Deserialize;
use serde_json::json;

use super::*;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Body {
    amount_cents: i64,
    count: Option<u32>,
    name: Option<String>,
    on: Option<bool>,
    items: Option<Vec<String>>,
    inner: Option<Inner>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Inner {
    id: String,
}

/// What a client reads for `body`, through the same path as `parse_json`.
fn words(body: serde_json::Value) -> (String, String) {
    let e = serde_path_to_error::deserialize::<_, Body>(body).unwrap_err();
    let path = e.path().to_string();
    let field = if path == "." { "body".to_owned() } else { path };
    describe(&field, &e.inner().to_string())
}

fn pair(field: &str, problem: &str) -> (String, String) {
    (field.into(), problem.into())
}

#[test]
fn serdes_messages_become_words_naming_the_field() {
    assert_eq!(
        words(json!({"amount_cents": "x"})),
        pair(
            "amount_cents",
            "must be a whole number of cents, not a string"
        )
    );
    assert_eq!(
        words(json!({"amount_cents": 1.5})),
        pair("amount_cents", "must be a whole number of cents, not 1.5")
    );
    assert_eq!(
        words(json!({"amount_cents": 1, "count": -1})),
        pair("count", "must be a whole number, zero or more, not -1")
    );
    assert_eq!(
        words(json!({"amount_cents": 1, "name": 5})),
        pair("name", "must be a string, not 5")
    );
    assert_eq!(
        words(json!({"amount_cents": 1, "on": "yes"})),
        pair("on", "must be true or false, not a string")
    );
    assert_eq!(
        words(json!({"amount_cents": 1, "items": {}})),
        pair("items", "must be a list, not an object")
    );
    assert_eq!(
        words(json!({"amount_cents": 1, "inner": {}})),
        pair("inner.id", "required")
    );
    assert_eq!(words(json!({})), pair("amount_cents", "required"));
    assert_eq!(words(json!([1])), pair("body", "must be an object"));
    assert_eq!(
        words(json!("s")),
        pair("body", "must be an object, not a string")
    );
}

#[test]
fn no_rust_type_names_are_left() {
    for body in [
        json!({"amount_cents": "x"}),
        json!({"amount_cents": 1e30}),
        json!({"amount_cents": true}),
        json!({"amount_cents": 1, "count": 5_000_000_000u64}),
        json!({"amount_cents": 1, "count": "5"}),
        json!("just a string"),
    ] {
        let (_, problem) = words(body.clone());
        for rust in [
            "i64",
            "u32",
            "u64",
            "struct",
            "Body",
            "invalid type",
            "expected",
        ] {
            assert!(!problem.contains(rust), "{body}: {problem}");
        }
    }
}
