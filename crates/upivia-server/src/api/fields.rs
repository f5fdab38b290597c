//! Reading fields out of a JSON object body, each with the error that
//! names the field: a missing or null field is `None`, a wrong type or an
//! out-of-bounds value is 422.

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::money::Cents;

/// The largest amount a single money movement may carry: ten million
/// dollars, far above any budget and far below i64 overflow.
pub const MAX_MOVE_CENTS: i64 = 1_000_000_000;

/// A field that is present and not null.
pub fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// A string of at most `max` bytes, without NULs (PostgreSQL text cannot
/// hold one, so both backends refuse it).
pub fn string(
    body: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match field(body, name) {
        None => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(ApiError::Unprocessable(format!(
            "invalid field {name}: must not contain NUL characters"
        ))),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ApiError::Unprocessable(format!(
            "invalid field {name}: at most {max} bytes"
        ))),
        Some(_) => Err(ApiError::Unprocessable(format!(
            "invalid field {name}: must be a string"
        ))),
    }
}

/// A required amount of money to move: a whole number of cents from 1 to
/// [`MAX_MOVE_CENTS`].
pub fn amount(body: &Map<String, Value>, name: &str) -> Result<Cents, ApiError> {
    let Some(value) = field(body, name) else {
        return Err(ApiError::Unprocessable(format!(
            "invalid field {name}: required (a positive integer number of cents)"
        )));
    };
    value
        .as_i64()
        .filter(|n| (1..=MAX_MOVE_CENTS).contains(n))
        .map(Cents::new)
        .ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "invalid field {name}: must be an integer number of cents from 1 to {MAX_MOVE_CENTS}"
            ))
        })
}
