//! serde's messages in words a client can act on. serde writes
//! "invalid type: string \"x\", expected i64"; a client should read
//! "amount_cents: must be a whole number of cents, not a string". The
//! messages serde builds are a fixed set of forms (`de::Error`'s provided
//! methods), so they are matched here by form; anything else (a custom
//! message) passes through, without the Rust type names serde would add.

/// The field to name and what is wrong with it, for serde's `message`
/// about `field` (a path such as `payload.to`, or `body`).
pub fn describe(field: &str, message: &str) -> (String, String) {
    if let Some(name) = between(message, "missing field `", "`") {
        return (join(field, name), "required".into());
    }
    if let Some(name) = between(message, "unknown field `", "`") {
        return (join(field, name), "not a known field".into());
    }
    if let Some(name) = between(message, "duplicate field `", "`") {
        return (join(field, name), "given twice".into());
    }
    if let Some(variant) = between(message, "unknown variant `", "`") {
        return (
            field.into(),
            format!("{variant:?} is not one of the accepted values"),
        );
    }
    for form in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(form)
            && let Some((unexpected, expected)) = rest.rsplit_once(", expected ")
        {
            return (
                field.into(),
                format!("{}, not {}", wanted(field, expected), got(unexpected)),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        return (field.into(), format!("must be {}", plain(expected)));
    }
    (field.into(), message.into())
}

fn between<'m>(message: &'m str, start: &str, end: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(start)?;
    rest.split_once(end).map(|(name, _)| name)
}

fn join(parent: &str, name: &str) -> String {
    if parent == "body" {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// "must be …" for what serde expected.
fn wanted(field: &str, expected: &str) -> String {
    let expected = expected.trim_start_matches("option ");
    let integer = matches!(
        expected,
        "i8" | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
    );
    if integer && field.ends_with("_cents") {
        return "must be a whole number of cents".into();
    }
    if integer && expected.starts_with('u') {
        return "must be a whole number, zero or more".into();
    }
    format!("must be {}", plain(expected))
}

/// Rust's names for what serde expected, in words.
fn plain(expected: &str) -> String {
    let words = match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, zero or more",
        "f32" | "f64" => "a number",
        "a string" | "a borrowed string" | "string" | "a string or bytes" => "a string",
        "a boolean" | "bool" => "true or false",
        "a map" | "a JSON object" | "map" => "an object",
        "a sequence" | "sequence" => "a list",
        "a character" | "char" => "a single character",
        "unit" => "null",
        other if other.starts_with("struct ") => "an object",
        other if other.starts_with("tuple") || other.starts_with("an array of length") => "a list",
        other if other.starts_with("a sequence") => "a list",
        other => return other.to_owned(),
    };
    words.into()
}

/// What the client sent, in words (strings are not echoed back).
fn got(unexpected: &str) -> String {
    if unexpected.starts_with("string ") || unexpected == "string" {
        return "a string".into();
    }
    for prefix in ["floating point `", "integer `"] {
        if let Some(v) = between(unexpected, prefix, "`") {
            return v.to_owned();
        }
    }
    match unexpected {
        "map" => "an object".into(),
        "sequence" => "a list".into(),
        "null" | "unit value" => "null".into(),
        other if other.starts_with("boolean `") => between(other, "boolean `", "`")
            .unwrap_or("a boolean")
            .to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests;
