//! `--rate N/s|N/m|N/h`: a request rate, parsed; the gate (`gate/`) paces by its
//! interval.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Requests per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub per: Duration,
}

impl Rate {
    /// Time between two requests at this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.requests
    }

    /// Requests per second, for display and arithmetic.
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.per.as_secs_f64()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.requests)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const HINT: &str =
            "expected N/s, N/m or N/h with N a whole number from 1, e.g. 10/s or 600/m";
        let (count, unit) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("'{text}': {HINT}"))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(format!("'{text}': unknown unit '{unit}'; {HINT}")),
        };
        let requests: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("'{text}': {HINT}"))?;
        if requests == 0 || requests > 1_000_000_000 {
            return Err(format!("'{text}': {HINT}"));
        }
        Ok(Rate { requests, per })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(
            "10/s".parse::<Rate>().unwrap().interval(),
            Duration::from_millis(100)
        );
        assert_eq!(
            "600/m".parse::<Rate>().unwrap().interval(),
            Duration::from_millis(100)
        );
        assert_eq!(
            "3600/h".parse::<Rate>().unwrap().interval(),
            Duration::from_secs(1)
        );
        assert_eq!("7/s".parse::<Rate>().unwrap().to_string(), "7/s");
    }

    #[test]
    fn refuses_bad_rates_with_the_syntax() {
        for bad in ["10", "0/s", "-1/s", "ten/s", "10/d", "1.5/s", ""] {
            let err = bad.parse::<Rate>().unwrap_err();
            assert!(err.contains("N/s, N/m or N/h"), "{bad}: {err}");
        }
    }
}
