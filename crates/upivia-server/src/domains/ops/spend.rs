//! The spend figures of the snapshot, as pure functions of what the
//! ledger and usage say, in integer cents.

use time::{Duration, OffsetDateTime, Time, UtcOffset};

use crate::money::Cents;

/// The days the average daily spend is taken over, today included.
pub const TREND_DAYS: i64 = 7;

/// The UTC calendar month `now` falls in: its first instant, and the
/// first instant of the next.
pub fn month_bounds(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let now = now.to_offset(UtcOffset::UTC);
    let days = now.month().length(now.year());
    let start = now
        .replace_day(1)
        .expect("every month has a first day")
        .replace_time(Time::MIDNIGHT);
    (start, start + Duration::days(i64::from(days)))
}

/// The month's spend so far carried to the month's end at the same rate:
/// `spent × month length ÷ time elapsed`, rounded down (to the second;
/// the first second of a month counts as one).
pub fn forecast_month(spent: Cents, now: OffsetDateTime) -> Cents {
    let (start, end) = month_bounds(now);
    let elapsed = (now - start).whole_seconds().max(1);
    let length = (end - start).whole_seconds();
    let forecast = i128::from(spent.get()) * i128::from(length) / i128::from(elapsed);
    Cents::new(i64::try_from(forecast).unwrap_or(i64::MAX))
}

/// Whole days until `balance` is spent at the average daily spend of the
/// last [`TREND_DAYS`] days (`spent_in_trend` over them); `None` with no
/// spend in them. A balance already at or below zero has 0 days.
pub fn days_until_exhausted(balance: Cents, spent_in_trend: Cents) -> Option<i64> {
    if spent_in_trend <= Cents::ZERO {
        return None;
    }
    if balance <= Cents::ZERO {
        return Some(0);
    }
    // balance ÷ (spent ÷ days) = balance × days ÷ spent.
    let days =
        i128::from(balance.get()) * i128::from(TREND_DAYS) / i128::from(spent_in_trend.get());
    Some(i64::try_from(days).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
