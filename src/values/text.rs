//! Emails and IP addresses in their normal forms, and the stable hash that stands for
//! them in memory.
//!
//! The constraint: two spellings of one address are one value. An email is trimmed and
//! lowercased as a whole (`Bob@Example.COM` is `bob@example.com`); an IP address is parsed
//! and written back in its canonical form (`2001:0db8:0000::1` is `2001:db8::1`). Dedupe,
//! `--shard`, `--resume` and the ledger all see the normal form only.

use std::net::IpAddr;

/// The longest email address SMTP allows.
const MAX_EMAIL: usize = 254;

/// Trims and lowercases an email address, and checks it looks like `local@domain.tld`.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    if email.is_empty() {
        return Err("empty email".into());
    }
    if email.len() > MAX_EMAIL {
        return Err(format!(
            "longer than {MAX_EMAIL} characters: not an email address"
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("an email address holds no spaces or control characters".into());
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("no '@': not an email address (expected local@domain.tld)".into());
    };
    if local.is_empty() || domain.contains('@') {
        return Err("not an email address (expected local@domain.tld)".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) || tld.len() < 2 {
        return Err(format!(
            "the domain {domain:?} is not of the form domain.tld: not an email address"
        ));
    }
    Ok(email.to_lowercase())
}

/// Parses an IPv4 or IPv6 address and writes it in its canonical form.
pub fn normalize_ip(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("empty IP address".into());
    }
    text.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| "not an IPv4 or IPv6 address".into())
}

/// A stable 128-bit hash of a normal form: what dedupe keeps instead of the string, and
/// what `--shard` splits on. xxh3 is fixed by its specification, so the hash is the same
/// on every machine and version.
pub fn value_hash(normal: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(normal.as_bytes())
}

/// `text` cut to `max` characters, with `…` when cut; for quoting values inside messages.
pub fn clip_str(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased_as_a_whole() {
        assert_eq!(
            normalize_email("  Bob.Smith@Example.COM ").unwrap(),
            "bob.smith@example.com"
        );
        assert_eq!(
            normalize_email("a+tag@sub.example.org").unwrap(),
            "a+tag@sub.example.org"
        );
    }

    #[test]
    fn what_is_not_local_at_domain_tld_is_refused_with_a_reason() {
        crate::testing::assert_refused(
            normalize_email,
            &[
                ("", "empty"),
                ("bob", "no '@'"),
                ("@example.com", "not an email"),
                ("bob@", "domain.tld"),
                ("bob@example", "domain.tld"),
                ("bob@example.c", "domain.tld"),
                ("bob@exa..mple.com", "domain.tld"),
                ("bob smith@example.com", "no spaces"),
                ("a@b@example.com", "not an email"),
            ],
        );
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(300))).is_err());
    }

    #[test]
    fn ip_addresses_take_their_canonical_form() {
        assert_eq!(normalize_ip("2001:0db8:0000::1").unwrap(), "2001:db8::1");
        assert_eq!(normalize_ip("2001:DB8::1").unwrap(), "2001:db8::1");
        assert_eq!(normalize_ip(" 192.0.2.7 ").unwrap(), "192.0.2.7");
        for bad in [
            "",
            "192.0.2",
            "192.0.2.256",
            "01.2.3.4",
            "fe80::1%eth0",
            "example.com",
        ] {
            assert!(normalize_ip(bad).is_err(), "{bad:?}");
        }
    }

    /// xxh3-128 of "bob@example.com", as computed when this was written.
    const GOLDEN: u128 = 0x03bf_fffd_e1b7_31f2_e048_904e_e81a_254f;

    #[test]
    fn the_hash_is_fixed_across_versions_and_machines() {
        // A change here re-deals every --shard of emails and IPs: don't.
        assert_eq!(value_hash("bob@example.com"), GOLDEN);
        assert_ne!(value_hash("a@b.co"), value_hash("a@b.cp"));
        assert_eq!(value_hash("a@b.co"), value_hash("a@b.co"));
    }
}
