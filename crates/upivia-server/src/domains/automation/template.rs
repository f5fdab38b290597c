//! Payload templates: strings of a JSON template may hold `{{name}}` or
//! `{{a.b.0}}` placeholders (spaces inside the braces allowed), each a
//! dotted path into the values given (object keys, or array indexes).
//!
//! - A string that is one placeholder and nothing else becomes the value
//!   itself, whatever its type (`"{{count}}"` → `3`); a missing value
//!   becomes `null`.
//! - A placeholder inside longer text becomes the value's text (a string
//!   as it is, anything else as compact JSON); a missing value becomes
//!   the empty string, as in Mustache.
//! - Object keys are never templated, and a value filled in is never read
//!   for placeholders again.
//!
//! A missing value is therefore not an error here: the operation's schema
//! refuses the payload if the field was required, and that refusal is the
//! dispatch's outcome.

use serde_json::{Map, Value};

/// `template` with its placeholders filled from `values`.
pub fn fill(template: &Value, values: &Value) -> Value {
    match template {
        Value::String(s) => fill_string(s, values),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, values)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), fill(v, values)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// Every placeholder path in `template`, in the template's key order.
pub fn placeholders(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(template, &mut out);
    out
}

fn collect(template: &Value, out: &mut Vec<String>) {
    match template {
        Value::String(s) => {
            for piece in pieces(s) {
                if let Piece::Path(p) = piece {
                    out.push(p.to_owned());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// The value at a dotted path.
pub fn lookup<'v>(values: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(values, |at, segment| match at {
        Value::Object(fields) => fields.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

enum Piece<'s> {
    Text(&'s str),
    Path(&'s str),
}

/// Splits text into literal runs and placeholder paths. `{{` without a
/// closing `}}`, or with something that is not a path inside, is text.
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        let path = after[..close].trim();
        if is_path(path) {
            if open > 0 {
                out.push(Piece::Text(&rest[..open]));
            }
            out.push(Piece::Path(path));
        } else {
            out.push(Piece::Text(&rest[..open + 2 + close + 2]));
        }
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

fn is_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

fn fill_string(s: &str, values: &Value) -> Value {
    let parts = pieces(s);
    if let [Piece::Path(path)] = parts.as_slice() {
        return lookup(values, path).cloned().unwrap_or(Value::Null);
    }
    if !parts.iter().any(|p| matches!(p, Piece::Path(_))) {
        return Value::String(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    for part in parts {
        match part {
            Piece::Text(t) => out.push_str(t),
            Piece::Path(path) => match lookup(values, path) {
                None | Some(Value::Null) => {}
                Some(Value::String(v)) => out.push_str(v),
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_whole_placeholder_keeps_the_type_and_text_interpolates() {
        let values = json!({"count": 3, "alert": {"name": "disk", "tags": ["a", "b"]}});
        let filled = fill(
            &json!({
                "n": "{{count}}",
                "subject": "Alert {{ alert.name }} ({{count}})",
                "first": "{{alert.tags.0}}",
                "obj": "{{alert}}",
                "list": ["{{alert.name}}", 1, true],
                "{{key}}": "kept"
            }),
            &values,
        );
        assert_eq!(
            filled,
            json!({
                "n": 3,
                "subject": "Alert disk (3)",
                "first": "a",
                "obj": {"name": "disk", "tags": ["a", "b"]},
                "list": ["disk", 1, true],
                "{{key}}": "kept"
            })
        );
    }

    #[test]
    fn missing_values_are_null_alone_and_empty_in_text() {
        let filled = fill(
            &json!({"a": "{{nope}}", "b": "x{{nope.deeper}}y"}),
            &json!({}),
        );
        assert_eq!(filled, json!({"a": null, "b": "xy"}));
    }

    #[test]
    fn filled_values_are_not_read_again_and_odd_braces_are_text() {
        let filled = fill(
            &json!({"a": "{{v}}", "b": "{{ not a path }} {{", "c": "}}{{v}}"}),
            &json!({"v": "{{secret}}", "secret": "leaked"}),
        );
        assert_eq!(
            filled,
            json!({"a": "{{secret}}", "b": "{{ not a path }} {{", "c": "}}{{secret}}"})
        );
    }

    #[test]
    fn placeholders_are_listed() {
        let t =
            json!({"to": "{{input.to}}", "body": "see {{steps.a.result.url}} and {{input.to}}"});
        assert_eq!(
            placeholders(&t),
            ["steps.a.result.url", "input.to", "input.to"]
        );
    }
}
