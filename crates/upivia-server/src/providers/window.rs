//! The start of a read window (`since` of `chat.read` and `sms.read`):
//! `30m`, `24h`, `7d` back from now, or an RFC 3339 timestamp, at most
//! [`HISTORY_DAYS`] back. The sandbox and the live providers read it alike.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How far back a read may reach.
pub const HISTORY_DAYS: i64 = 90;

/// The instant `raw` names, or why it names none.
pub fn since(raw: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let relative = raw.char_indices().last().and_then(|(at, unit)| {
        let seconds_per_unit = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let digits = &raw[..at];
        let ok = (1..=6).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit());
        let n: i64 = if ok {
            digits.parse().ok()?
        } else {
            return None;
        };
        Some(n * seconds_per_unit)
    });
    let start = match relative {
        Some(seconds) => now.checked_sub(time::Duration::seconds(seconds)),
        None => OffsetDateTime::parse(raw, &Rfc3339).ok(),
    }
    .ok_or_else(|| {
        format!(
            "`since` must be a window such as 24h, 30m or 7d, or an RFC 3339 timestamp; got {raw:?}"
        )
    })?;
    if now - start > time::Duration::days(HISTORY_DAYS) {
        return Err(format!(
            "`since` reaches back more than {HISTORY_DAYS} days; older history is not kept"
        ));
    }
    Ok(start)
}
