//! JSON bodies parsed into a `Value` that refuses duplicate object keys at
//! any depth. `serde_json` keeps the last of two equal keys, so
//! `{"amount_cents": 1, "amount_cents": 7}` would mean 7 to us and maybe 1
//! to a proxy or a log reader that validated the body before us.
//!
//! The visitor builds the same `Value` as serde_json's own, with the same
//! allocations and one map insert per key; the duplicate check is that
//! insert's return value, so the happy path costs nothing more. The path to
//! a duplicate is collected only while the error unwinds.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

#[derive(Debug)]
pub enum Error {
    /// `key` appears twice in the object at `path` (empty: the top level).
    Duplicate {
        key: String,
        path: String,
    },
    Syntax(serde_json::Error),
}

/// Parses `bytes`, refusing duplicate keys.
pub fn parse(bytes: &[u8]) -> Result<Value, Error> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = ValueSeed { found: &found }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match (parsed, found.into_inner()) {
        (_, Some(dup)) => Err(dup.into_error()),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(Error::Syntax(e)),
    }
}

/// The duplicate found, and the path segments above it, innermost first.
struct Found {
    key: String,
    above: Vec<Segment>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Found {
    fn into_error(self) -> Error {
        let mut path = String::new();
        for segment in self.above.iter().rev() {
            match segment {
                Segment::Key(k) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                }
                Segment::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        Error::Duplicate {
            key: self.key,
            path,
        }
    }
}

#[derive(Clone, Copy)]
struct ValueSeed<'a> {
    found: &'a RefCell<Option<Found>>,
}

impl ValueSeed<'_> {
    /// Notes where a failure below happened, if it is our duplicate.
    fn above(&self, segment: Segment) {
        if let Some(found) = self.found.borrow_mut().as_mut() {
            found.above.push(segment);
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(Value::Array(out)),
                Err(e) => {
                    self.above(Segment::Index(out.len()));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match map.next_value_seed(self) {
                Ok(v) => v,
                Err(e) => {
                    self.above(Segment::Key(key));
                    return Err(e);
                }
            };
            match out.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    *self.found.borrow_mut() = Some(Found {
                        key: slot.key().clone(),
                        above: Vec::new(),
                    });
                    return Err(de::Error::custom("duplicate key"));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests;
