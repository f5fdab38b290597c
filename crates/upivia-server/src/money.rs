//! Money is integer cents. There is deliberately no float conversion and no
//! operator that could wrap silently: every sum is checked.

use std::fmt;

/// An amount of money in integer cents. May be negative only where a caller
/// computes a difference (for example "remaining"); ledger amounts are never
/// negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(i64);

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub const fn new(cents: i64) -> Self {
        Cents(cents)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, rhs: Cents) -> Option<Cents> {
        self.0.checked_add(rhs.0).map(Cents)
    }

    pub fn checked_sub(self, rhs: Cents) -> Option<Cents> {
        self.0.checked_sub(rhs.0).map(Cents)
    }

    /// `self + rhs`, saturating; for display-only figures such as "remaining".
    pub fn saturating_add(self, rhs: Cents) -> Cents {
        Cents(self.0.saturating_add(rhs.0))
    }

    pub fn saturating_sub(self, rhs: Cents) -> Cents {
        Cents(self.0.saturating_sub(rhs.0))
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Dollars as a float, only for the budget-check response whose wire
    /// format the official SDK pins as dollars.
    pub fn to_dollars_for_wire(self) -> f64 {
        // i64 cents up to 2^53 are exact in f64; beyond that nobody has that much.
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}¢", self.0)
    }
}
