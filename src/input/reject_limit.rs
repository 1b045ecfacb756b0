//! `--max-rejects N|FRACTION`: refuse to send anything when an input is mostly garbage.
//!
//! A nightly job fed a wrong file (an export in another format, a truncated download)
//! should stop with exit 2 and say why, not block the handful of numbers that happen to
//! parse. The check is a pure decision on two counts.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RejectLimit {
    /// More than this many rejected rows is too many.
    Count(u64),
    /// More than this share of all rows (0 to 1) rejected is too many.
    Fraction(f64),
}

impl RejectLimit {
    /// Whether `rejected` of `rows` (rejected included) is over the limit.
    pub fn exceeded(&self, rejected: u64, rows: u64) -> bool {
        match *self {
            RejectLimit::Count(max) => rejected > max,
            RejectLimit::Fraction(share) => rows > 0 && rejected as f64 > share * rows as f64,
        }
    }
}

impl FromStr for RejectLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const HINT: &str = "expected a count of rows (e.g. 100) or a fraction below 1 (e.g. 0.05)";
        let text = text.trim();
        if let Ok(count) = text.parse::<u64>() {
            return Ok(RejectLimit::Count(count));
        }
        match text.parse::<f64>() {
            Ok(share) if (0.0..1.0).contains(&share) => Ok(RejectLimit::Fraction(share)),
            _ => Err(format!("'{text}': {HINT}")),
        }
    }
}

impl fmt::Display for RejectLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectLimit::Count(n) => write!(f, "{}", crate::values::count::plural(*n, "row")),
            RejectLimit::Fraction(share) => write!(f, "{}% of rows", share * 100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_fractions() {
        assert_eq!("10".parse(), Ok(RejectLimit::Count(10)));
        assert_eq!("0.25".parse(), Ok(RejectLimit::Fraction(0.25)));
        for bad in ["1.5", "-1", "lots", ""] {
            assert!(
                bad.parse::<RejectLimit>().unwrap_err().contains("fraction"),
                "{bad}"
            );
        }
    }

    #[test]
    fn exceeded_only_past_the_limit() {
        assert!(!RejectLimit::Count(10).exceeded(10, 1000));
        assert!(RejectLimit::Count(10).exceeded(11, 1000));
        assert!(!RejectLimit::Count(0).exceeded(0, 0));
        assert!(!RejectLimit::Fraction(0.5).exceeded(50, 100));
        assert!(RejectLimit::Fraction(0.5).exceeded(51, 100));
        assert!(!RejectLimit::Fraction(0.0).exceeded(0, 0));
    }
}
