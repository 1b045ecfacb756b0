//! Contact ID validation: turns the raw text of one ID field into a `u64`.
//!
//! Constraint kept: this is a pure function with no allocation on the accepted path, because
//! it runs once per input row in the hot loop; every refusal has its own reason so that a
//! rejected row in the ledger tells the user exactly what to fix.

use thiserror::Error;

/// Why a raw ID was refused. `Display` is the reject reason written to the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("empty ID")]
    Empty,
    #[error("not a whole number (an ID is digits 0-9 only, no sign, decimal point or exponent)")]
    NotWholeNumber,
    #[error("negative number (contact IDs are positive)")]
    Negative,
    #[error("zero is not a contact ID (IDs start at 1)")]
    Zero,
    #[error("too large (a contact ID is at most 18446744073709551615)")]
    TooLarge,
    #[error("an email address, not a contact ID: to block emails, add --type email")]
    Email,
    #[error("an IP address, not a contact ID: to block IP addresses, add --type ip")]
    Ip,
}

/// Parses one contact ID: surrounding whitespace (ASCII or Unicode) is ignored, then only
/// ASCII digits are accepted, with a value from 1 to `u64::MAX`. Leading zeros are fine
/// (`007` is 7).
pub fn parse_id(raw: &str) -> Result<u64, IdError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    let bytes = text.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) {
        // A minus sign followed by a digit reads as a negative number (`-5`, `-1.5`), which
        // deserves its own reason; anything else (`abc`, `1.5`, `1e5`, `+5`) is not a whole number.
        // (The cold path: a list of emails or IPs read as contact IDs says what to pass.)
        return Err(match bytes {
            [b'-', second, ..] if second.is_ascii_digit() => IdError::Negative,
            _ if text.contains('@') => IdError::Email,
            _ if text.parse::<std::net::IpAddr>().is_ok() => IdError::Ip,
            _ => IdError::NotWholeNumber,
        });
    }
    let mut value: u64 = 0;
    for &digit in bytes {
        value = value
            .checked_mul(10)
            .and_then(|tens| tens.checked_add(u64::from(digit - b'0')))
            .ok_or(IdError::TooLarge)?;
    }
    if value == 0 {
        return Err(IdError::Zero);
    }
    Ok(value)
}

/// The reject reason for an ID that `parse_id` refused, quoting the value when there is one.
pub fn id_reason(text: &str, err: &IdError) -> String {
    match err {
        IdError::Empty => err.to_string(),
        _ => format!("bad ID {:?}: {err}", super::text::clip_str(text.trim(), 40)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_padded_and_leading_zero_ids() {
        assert_eq!(parse_id("827"), Ok(827));
        assert_eq!(parse_id("  828\t"), Ok(828));
        assert_eq!(parse_id("\u{a0}\u{2003}829\u{3000}"), Ok(829));
        assert_eq!(parse_id("007"), Ok(7));
        assert_eq!(parse_id("1"), Ok(1));
        assert_eq!(parse_id("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_id("00018446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn empty_and_whitespace_only_are_empty() {
        assert_eq!(parse_id(""), Err(IdError::Empty));
        assert_eq!(parse_id("   \t "), Err(IdError::Empty));
        assert_eq!(parse_id("\u{2003}"), Err(IdError::Empty));
    }

    #[test]
    fn non_digits_are_not_whole_numbers() {
        for raw in [
            "abc", "1.5", "1e5", "+5", "12a", "0x10", "1 2", "١٢٣", "-", "- 5", "NaN",
        ] {
            assert_eq!(parse_id(raw), Err(IdError::NotWholeNumber), "input {raw:?}");
        }
    }

    #[test]
    fn emails_and_ip_addresses_say_which_type_to_pass() {
        assert_eq!(parse_id("bob@example.com"), Err(IdError::Email));
        assert_eq!(parse_id(" 10.0.0.1 "), Err(IdError::Ip));
        assert_eq!(parse_id("2001:db8::1"), Err(IdError::Ip));
        assert!(IdError::Email.to_string().contains("--type email"));
        assert!(IdError::Ip.to_string().contains("--type ip"));
    }

    #[test]
    fn minus_sign_is_negative() {
        assert_eq!(parse_id("-5"), Err(IdError::Negative));
        assert_eq!(parse_id(" -1.5 "), Err(IdError::Negative));
    }

    #[test]
    fn zero_in_any_spelling_is_zero() {
        assert_eq!(parse_id("0"), Err(IdError::Zero));
        assert_eq!(parse_id("0000"), Err(IdError::Zero));
    }

    #[test]
    fn overflow_is_too_large_even_when_huge() {
        assert_eq!(parse_id("18446744073709551616"), Err(IdError::TooLarge));
        assert_eq!(parse_id(&"9".repeat(5_000)), Err(IdError::TooLarge));
    }

    #[test]
    fn every_reason_reads_differently() {
        let reasons = [
            IdError::Empty,
            IdError::NotWholeNumber,
            IdError::Negative,
            IdError::Zero,
            IdError::TooLarge,
            IdError::Email,
            IdError::Ip,
        ]
        .map(|e| e.to_string());
        for (i, a) in reasons.iter().enumerate() {
            for b in &reasons[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
