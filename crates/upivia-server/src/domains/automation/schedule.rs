//! When automation runs: cron expressions (5 fields, or 6 with seconds
//! first) and one-time instants, in UTC or an IANA time zone. `croner`
//! parses and walks the expression; `jiff` holds the time zone database
//! (bundled, so a host without tzdata behaves the same).
//!
//! Daylight saving time, for a wall-clock time that does not exist or
//! happens twice:
//! - in a gap (spring forward), a fixed time runs at the first valid
//!   instant after it, the same day (`30 2 * * *` on the day New York
//!   skips 02:00–03:00 runs at 03:00); a one-time `run_at` likewise;
//! - in a fold (fall back), a fixed time runs once, at its first
//!   occurrence; a one-time `run_at` at the earlier instant;
//! - interval fields (`*`, `*/N`) follow real time: the skipped hour has
//!   no ticks, the repeated hour has them twice.

use std::str::FromStr;

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use time::OffsetDateTime;

/// A parsed cron expression.
#[derive(Clone, Debug)]
pub struct CronExpr {
    cron: Cron,
}

impl CronExpr {
    /// Five fields (minute first) or six (second first); the message
    /// names what is wrong.
    pub fn parse(raw: &str) -> Result<CronExpr, String> {
        let fields = raw.split_whitespace().count();
        if fields != 5 && fields != 6 {
            return Err(format!(
                "a cron expression has 5 fields (minute hour day month weekday) or 6 with \
                 seconds first; {raw:?} has {fields}"
            ));
        }
        let parser = CronParser::builder().seconds(Seconds::Optional).build();
        let cron = parser
            .parse(raw)
            .map_err(|e| format!("{raw:?} is not a cron expression: {e}"))?;
        Ok(CronExpr { cron })
    }

    /// The first tick strictly after `after`, on the clock of `zone`;
    /// `None` when the expression never matches again.
    pub fn next_after(&self, zone: &Zone, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let start = to_timestamp(after)?.to_zoned(zone.tz.clone());
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        from_timestamp(next.timestamp())
    }
}

/// A time zone: `UTC` unless a schedule names an IANA zone.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// An IANA name (`Europe/Berlin`), `UTC`, or nothing (UTC).
    pub fn parse(raw: Option<&str>) -> Result<Zone, String> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Zone::utc()),
            Some(name) => TimeZone::get(name)
                .map(|tz| Zone {
                    name: name.to_owned(),
                    tz,
                })
                .map_err(|_| format!("{name:?} is not an IANA time zone (e.g. Europe/Berlin)")),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A one-time instant: RFC 3339 with an offset is taken as it is; a
    /// local date and time without one (`2026-03-08T02:30:00`) is read on
    /// this zone's clock, a gap moving it to the first valid instant after
    /// and a fold taking the earlier one.
    pub fn instant(&self, raw: &str) -> Result<OffsetDateTime, String> {
        if let Some(t) = crate::clock::parse_rfc3339(raw) {
            return Ok(t);
        }
        let local = DateTime::from_str(raw).map_err(|_| {
            format!("{raw:?} is not a time: use RFC 3339 (2026-03-08T09:00:00Z) or a local time (2026-03-08T09:00:00)")
        })?;
        let ambiguous = self.tz.to_ambiguous_timestamp(local);
        let ts = match ambiguous.offset() {
            AmbiguousOffset::Gap { .. } => {
                // The gap's local times, read with the offset after it, land
                // before the transition; the transition is the first valid one.
                let before_gap = ambiguous.earlier().map_err(|e| e.to_string())?;
                self.tz
                    .following(before_gap)
                    .next()
                    .map(|t| t.timestamp())
                    .ok_or_else(|| format!("{raw:?} falls in a gap with no end"))?
            }
            _ => ambiguous.earlier().map_err(|e| e.to_string())?,
        };
        from_timestamp(ts).ok_or_else(|| format!("{raw:?} is out of range"))
    }
}

fn to_timestamp(t: OffsetDateTime) -> Option<Timestamp> {
    Timestamp::from_nanosecond(t.unix_timestamp_nanos()).ok()
}

fn from_timestamp(t: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> OffsetDateTime {
        crate::clock::parse_rfc3339(raw).unwrap()
    }

    fn ticks(expr: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
        let cron = CronExpr::parse(expr).unwrap();
        let zone = Zone::parse(Some(zone)).unwrap();
        let mut t = at(from);
        (0..n)
            .map(|_| {
                t = cron.next_after(&zone, t).unwrap();
                crate::clock::rfc3339(t)
            })
            .collect()
    }

    #[test]
    fn five_and_six_fields_and_nothing_else() {
        assert!(CronExpr::parse("*/5 * * * *").is_ok());
        assert!(CronExpr::parse("* * * * * *").is_ok());
        let seven = CronExpr::parse("* * * * * * *").unwrap_err();
        assert!(seven.contains("has 7"), "{seven}");
        assert!(CronExpr::parse("61 * * * *").is_err());
        assert!(CronExpr::parse("").is_err());
        assert!(CronExpr::parse("every day").is_err());
    }

    #[test]
    fn seconds_first_ticks_every_second_in_utc() {
        assert_eq!(
            ticks("* * * * * *", "UTC", "2026-12-03T10:00:00.250Z", 2),
            ["2026-12-03T10:00:01.000000Z", "2026-12-03T10:00:02.000000Z"]
        );
    }

    #[test]
    fn a_fixed_time_in_a_spring_gap_runs_at_the_first_valid_instant() {
        // New York skips 02:00–03:00 on 2026-03-08 (07:00Z).
        assert_eq!(
            ticks("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            ["2026-03-08T07:00:00.000000Z", "2026-03-09T06:30:00.000000Z"]
        );
    }

    #[test]
    fn a_fixed_time_in_an_autumn_fold_runs_once() {
        // 01:00–02:00 happens twice on 2026-11-01 (EDT, then EST).
        assert_eq!(
            ticks("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            ["2026-11-01T05:30:00.000000Z", "2026-11-02T06:30:00.000000Z"]
        );
    }

    #[test]
    fn one_time_instants_in_gaps_and_folds() {
        let ny = Zone::parse(Some("America/New_York")).unwrap();
        let gap = ny.instant("2026-03-08T02:30:00").unwrap();
        assert_eq!(crate::clock::rfc3339(gap), "2026-03-08T07:00:00.000000Z");
        let fold = ny.instant("2026-11-01T01:30:00").unwrap();
        assert_eq!(crate::clock::rfc3339(fold), "2026-11-01T05:30:00.000000Z");
        let plain = ny.instant("2026-07-01T09:00:00").unwrap();
        assert_eq!(crate::clock::rfc3339(plain), "2026-07-01T13:00:00.000000Z");
        let absolute = ny.instant("2026-07-01T09:00:00Z").unwrap();
        assert_eq!(
            crate::clock::rfc3339(absolute),
            "2026-07-01T09:00:00.000000Z"
        );
        assert!(ny.instant("tomorrow").is_err());
    }

    #[test]
    fn zones_are_iana_names() {
        assert_eq!(Zone::parse(None).unwrap().name(), "UTC");
        assert!(Zone::parse(Some("Europe/Berlin")).is_ok());
        assert!(Zone::parse(Some("Mars/Olympus")).is_err());
    }
}
