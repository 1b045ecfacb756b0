//! Serde helpers for the ledger's timestamps.
//!
//! Constraint kept here: every timestamp the tool writes is RFC 3339 in UTC with exactly
//! three fractional digits and a `Z` (`2026-12-01T00:00:00.000Z`), the form the Acquire
//! endpoint documents for `blockTill`. Reading accepts any RFC 3339 offset and converts
//! it to UTC, so a hand-edited ledger still loads.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats an instant the way the ledger and the endpoint expect it.
pub fn format(instant: &DateTime<Utc>) -> String {
    let mut out = Vec::with_capacity(24);
    write(&mut out, instant);
    String::from_utf8(out).expect("ASCII digits and punctuation")
}

/// Appends the instant in this format to `out`: what chrono's
/// `to_rfc3339_opts(SecondsFormat::Millis, true)` writes (tested), in ~100 instructions
/// instead of ~700. Every request and ledger line carries up to four of these.
pub fn write(out: &mut Vec<u8>, instant: &DateTime<Utc>) {
    let year = instant.year();
    let leap_second = instant.nanosecond() >= 1_000_000_000;
    if !(0..=9999).contains(&year) || leap_second {
        // chrono writes a sign and more digits, or second 60; let it.
        let text = instant.to_rfc3339_opts(SecondsFormat::Millis, true);
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let millis = instant.timestamp_subsec_millis();
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut value = value;
        for place in (at..at + digits).rev() {
            text[place] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, instant.month(), 2);
    put(8, instant.day(), 2);
    put(11, instant.hour(), 2);
    put(14, instant.minute(), 2);
    put(17, instant.second(), 2);
    put(20, millis, 3);
    out.extend_from_slice(&text);
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
    use proptest::prelude::*;

    fn by_chrono(instant: &DateTime<Utc>) -> String {
        instant.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    fn written(instant: &DateTime<Utc>) -> String {
        let mut out = b"x".to_vec();
        write(&mut out, instant);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn edges_are_written_as_chrono_writes_them() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1_500)
            .unwrap()
            .and_utc();
        for millis in [
            0,
            999,
            -1,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_001,
        ] {
            let instant = DateTime::from_timestamp_millis(millis).unwrap();
            assert_eq!(written(&instant), format!("x{}", by_chrono(&instant)));
        }
        assert_eq!(written(&leap), format!("x{}", by_chrono(&leap)));
    }

    proptest! {
        #[test]
        fn any_instant_is_written_as_chrono_writes_it(
            millis in -8_000_000_000_000_000i64..8_000_000_000_000_000,
            nanos in 0u32..1_000_000,
        ) {
            let instant = DateTime::from_timestamp_millis(millis).unwrap()
                + chrono::Duration::nanoseconds(i64::from(nanos));
            prop_assert_eq!(written(&instant), format!("x{}", by_chrono(&instant)));
        }
    }
}
