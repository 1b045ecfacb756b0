//! Serde helpers for the ledger's timestamps.
//!
//! Constraint kept here: every timestamp the tool writes is RFC 3339 in UTC with exactly
//! three fractional digits and a `Z` (`2026-12-01T00:00:00.000Z`), the form the Acquire
//! endpoint documents for `blockTill`. Reading accepts any RFC 3339 offset and converts
//! it to UTC, so a hand-edited ledger still loads.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats an instant the way the ledger and the endpoint expect it.
pub fn format(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Appends the instant in this format to `out`.
pub fn write(out: &mut Vec<u8>, instant: &DateTime<Utc>) {
    out.extend_from_slice(format(instant).as_bytes());
}

pub fn serialize<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(instant))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|error| {
            serde::de::Error::custom(format_args!(
                "`{text}` is not an RFC 3339 timestamp ({error})"
            ))
        })
}

/// The same format for optional timestamps (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        instant: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => super::serialize(instant, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super")] DateTime<Utc>);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(instant)| instant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn milliseconds_and_z_always() {
        let at = |h, ms| {
            NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_milli_opt(h, 0, 0, ms)
                .unwrap()
                .and_utc()
        };
        assert_eq!(format(&at(0, 0)), "2026-12-01T00:00:00.000Z");
        assert_eq!(format(&at(7, 658)), "2026-12-01T07:00:00.658Z");
        let mut out = b"x".to_vec();
        write(&mut out, &at(23, 5));
        assert_eq!(out, b"x2026-12-01T23:00:00.005Z");
    }
}
