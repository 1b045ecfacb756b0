//! How counts of values are written for people: `1,234,567 IDs`, `1 batch`.

/// "1 request", "2 requests", "1,000 batches".
pub fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {}", group_digits(n), many(one))
    }
}

/// The plural of a noun: "requests", "batches", "IP addresses", "retries".
pub fn many(one: &str) -> String {
    let consonant_y = one.ends_with('y') && !one.ends_with("ay") && !one.ends_with("ey");
    if one.ends_with("ch") || one.ends_with('s') {
        format!("{one}es")
    } else if consonant_y {
        format!("{}ies", &one[..one.len() - 1])
    } else {
        format!("{one}s")
    }
}

/// 1234567 → "1,234,567".
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        crate::testing::assert_writes(
            group_digits,
            &[
                (0, "0"),
                (999, "999"),
                (1000, "1,000"),
                (1234567, "1,234,567"),
            ],
        );
    }

    #[test]
    fn plurals_agree_with_their_count() {
        assert_eq!(plural(1, "request"), "1 request");
        assert_eq!(plural(2, "request"), "2 requests");
        assert_eq!(plural(1, "batch"), "1 batch");
        assert_eq!(plural(1000, "batch"), "1,000 batches");
        assert_eq!(plural(0, "ID"), "0 IDs");
        assert_eq!(plural(3, "IP address"), "3 IP addresses");
        assert_eq!(plural(39, "retry"), "39 retries");
        assert_eq!(plural(2, "key"), "2 keys");
    }
}
