//! Query flags with fixed spellings (API.md §1.2): some flags go out as
//! `1`, others as `true`, and a reader accepts both.

use serde::{Deserialize, Deserializer, Serializer};

/// Serializes `true` as the string `"1"` and `false` as nothing.
pub(crate) fn one<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
    if *value {
        s.serialize_str("1")
    } else {
        s.serialize_none()
    }
}

/// Serializes `true` as the string `"true"` and `false` as nothing.
pub(crate) fn word<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
    if *value {
        s.serialize_str("true")
    } else {
        s.serialize_none()
    }
}

/// Reads a flag written as `1`, `true`, `0`, `false` (string or JSON value).
pub(crate) fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Int(i64),
        Str(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => false,
        Some(Raw::Bool(b)) => b,
        Some(Raw::Int(i)) => i != 0,
        Some(Raw::Str(s)) => matches!(s.as_str(), "1" | "true" | "True" | "TRUE" | "yes"),
    })
}
