use time::macros::datetime;

use super::*;

#[test]
fn the_month_runs_from_its_first_midnight_to_the_next() {
    let (start, end) = month_bounds(datetime!(2024-02-10 12:00 UTC));
    assert_eq!(start, datetime!(2024-02-01 00:00 UTC));
    assert_eq!(end, datetime!(2024-03-01 00:00 UTC));
    let (start, end) = month_bounds(datetime!(2026-12-31 23:59 UTC));
    assert_eq!(
        (start, end),
        (
            datetime!(2026-12-01 00:00 UTC),
            datetime!(2027-01-01 00:00 UTC)
        )
    );
}

#[test]
fn the_forecast_carries_the_spend_to_the_month_end() {
    // Half of a 30-day month gone: twice what was spent.
    let now = datetime!(2026-11-16 00:00 UTC);
    assert_eq!(forecast_month(Cents::new(1_000), now), Cents::new(2_000));
    // A third of it: three times, rounded down.
    let now = datetime!(2026-11-11 00:00 UTC);
    assert_eq!(forecast_month(Cents::new(101), now), Cents::new(303));
    assert_eq!(forecast_month(Cents::ZERO, now), Cents::ZERO);
    // The first instant of a month divides by one second, not zero.
    let first = datetime!(2026-11-01 00:00 UTC);
    assert!(forecast_month(Cents::new(1), first) > Cents::ZERO);
}

#[test]
fn days_until_exhausted_divide_the_balance_by_the_daily_average() {
    // 700 cents over 7 days is 100 a day: 1,050 lasts 10 whole days.
    assert_eq!(
        days_until_exhausted(Cents::new(1_050), Cents::new(700)),
        Some(10)
    );
    assert_eq!(days_until_exhausted(Cents::new(1_050), Cents::ZERO), None);
    assert_eq!(days_until_exhausted(Cents::ZERO, Cents::new(700)), Some(0));
    assert_eq!(
        days_until_exhausted(Cents::new(-5), Cents::new(700)),
        Some(0)
    );
}
