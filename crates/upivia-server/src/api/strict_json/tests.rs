use serde_json::json;

use super::*;

fn duplicate(body: &str) -> (String, String) {
    match parse(body.as_bytes()) {
        Err(Error::Duplicate { key, path }) => (key, path),
        other => panic!("{body}: {other:?}"),
    }
}

#[test]
fn duplicate_keys_are_found_at_any_depth_with_their_path() {
    assert_eq!(
        duplicate(r#"{"amount_cents":1,"amount_cents":7}"#),
        ("amount_cents".into(), "".into())
    );
    assert_eq!(
        duplicate(r#"{"payload": {"to": "a", "to": "b"}}"#),
        ("to".into(), "payload".into())
    );
    assert_eq!(
        duplicate(r#"{"a": [1, {"b": {"c": 1, "c": 2}}]}"#),
        ("c".into(), "a[1].b".into())
    );
    // Keys are compared after unescaping: these are the same key.
    assert_eq!(duplicate(r#"{"k": 1, "\u006b": 2}"#).0, "k");
}

#[test]
fn bodies_without_duplicates_parse_as_serde_json_does() {
    // About 1 KB, nested, with every kind of value.
    let mut items = Vec::new();
    for i in 0..20 {
        items.push(json!({"id": i, "name": format!("item {i}"), "price": 1.5, "tags": ["a", "b"], "ok": i % 2 == 0, "none": null}));
    }
    let body = serde_json::to_vec(
        &json!({"service": "email", "payload": {"items": items, "n": -3, "big": u64::MAX}}),
    )
    .unwrap();
    assert!(body.len() > 1000, "{}", body.len());
    let ours = parse(&body).unwrap();
    let theirs: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ours, theirs);
    // The same key in sibling objects is not a duplicate.
    assert!(parse(br#"{"a": {"k": 1}, "b": {"k": 1}}"#).is_ok());
}

#[test]
fn syntax_errors_stay_syntax_errors() {
    for bad in [&b"{\"a\": "[..], b"{} {}", b"[1,]", b"\xff"] {
        assert!(matches!(parse(bad), Err(Error::Syntax(_))), "{bad:?}");
    }
    // serde_json's depth limit still applies.
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(matches!(parse(deep.as_bytes()), Err(Error::Syntax(_))));
}
