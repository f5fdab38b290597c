//! Dollar amounts as people type them (`25`, `12.50`, `$3.5`), read into
//! integer cents without a float; clap value parsers for money flags.

/// `25`, `12.5`, `12.50` or `$12.50` as cents. No sign, at most two
/// decimals: `1.005` is refused rather than rounded.
pub fn parse_dollars(raw: &str) -> Result<i64, String> {
    let text = raw.trim();
    let text = text.strip_prefix('$').unwrap_or(text);
    let refuse =
        || format!("{raw:?} is not a dollar amount: write it as 25, 12.5 or 12.50 (or pass cents)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(fraction)) {
        return Err(refuse());
    }
    if fraction.len() > 2 {
        return Err(format!(
            "{raw:?} has more than two decimals: amounts are whole cents"
        ));
    }
    let too_big = || format!("{raw:?} is too large");
    let dollars: i64 = whole.parse().map_err(|_| too_big())?;
    let cents: i64 = if fraction.is_empty() {
        0
    } else {
        // "5" is 50 cents, "05" is 5.
        let n: i64 = fraction.parse().map_err(|_| refuse())?;
        if fraction.len() == 1 { n * 10 } else { n }
    };
    dollars
        .checked_mul(100)
        .and_then(|c| c.checked_add(cents))
        .ok_or_else(too_big)
}

/// [`parse_dollars`], more than zero (a credit).
pub fn parse_positive_dollars(raw: &str) -> Result<i64, String> {
    let cents = parse_dollars(raw)?;
    if cents == 0 {
        return Err(format!("{raw:?}: the amount must be more than $0.00"));
    }
    Ok(cents)
}

#[cfg(test)]
mod tests;
