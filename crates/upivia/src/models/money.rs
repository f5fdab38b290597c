//! Money: integer cents, never a float.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in integer cents (every `*_cents` field on the wire).
///
/// There is deliberately no `From<f64>` and no operator that could wrap
/// silently; arithmetic is checked.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(i64);

impl Cents {
    /// Zero cents.
    pub const ZERO: Cents = Cents(0);

    /// Wraps a number of cents.
    pub const fn new(cents: i64) -> Self {
        Cents(cents)
    }

    /// The number of cents.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `self + rhs`, or `None` on overflow.
    pub const fn checked_add(self, rhs: Cents) -> Option<Cents> {
        match self.0.checked_add(rhs.0) {
            Some(v) => Some(Cents(v)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` on overflow.
    pub const fn checked_sub(self, rhs: Cents) -> Option<Cents> {
        match self.0.checked_sub(rhs.0) {
            Some(v) => Some(Cents(v)),
            None => None,
        }
    }

    /// Converts a dollar amount the way the reference SDK does for its
    /// `budget_dollars` arguments: `round(dollars * 100)` with ties to even.
    ///
    /// This is the one place a float meets money, and only on input.
    /// Returns `None` for NaN, infinities and out-of-range values.
    pub fn from_dollars_rounded(dollars: f64) -> Option<Cents> {
        let cents = (dollars * 100.0).round_ties_even();
        // i64::MAX is not exactly representable; stay strictly inside.
        if cents.is_finite() && cents > -9.2e18 && cents < 9.2e18 {
            // The range check above makes this conversion exact and lossless.
            Some(Cents(cents as i64))
        } else {
            None
        }
    }
}

impl From<i64> for Cents {
    fn from(cents: i64) -> Self {
        Cents(cents)
    }
}

impl From<Cents> for i64 {
    fn from(cents: Cents) -> Self {
        cents.0
    }
}

impl fmt::Display for Cents {
    /// Prints the integer number of cents; formatting as dollars is the
    /// caller's business.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests;
