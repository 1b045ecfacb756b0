//! The words and numbers of the page and its pictures: HTML escaping, rates, durations
//! and times, formatted once for both.

use chrono::DateTime;

use crate::values::count::group_digits;

/// Text for HTML (element content and attribute values).
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A rate, with as many decimals as it needs.
pub(super) fn fmt_rate(rate: f64) -> String {
    if rate >= 100.0 {
        group_digits(rate.round() as u64)
    } else if rate >= 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}

/// A duration: "850 ms", "4.2 s", "3 min 20 s", "2 h 5 min".
pub(super) fn fmt_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => {
            let s = ms as f64 / 1000.0;
            if ms.is_multiple_of(1000) {
                format!("{} s", ms / 1000)
            } else {
                format!("{s:.1} s")
            }
        }
        60_000..3_600_000 => {
            let (min, s) = (ms / 60_000, ms % 60_000 / 1000);
            if s == 0 {
                format!("{min} min")
            } else {
                format!("{min} min {s} s")
            }
        }
        _ => {
            let (h, min) = (ms / 3_600_000, ms % 3_600_000 / 60_000);
            if min == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {min} min")
            }
        }
    }
}

/// A time of the ledger (Unix milliseconds) as the page shows it, in UTC.
pub(super) fn fmt_utc(at_ms: i64) -> String {
    DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::assert_writes;

    #[test]
    fn formats() {
        assert_writes(
            fmt_ms,
            &[
                (850, "850 ms"),
                (4_200, "4.2 s"),
                (2_000, "2 s"),
                (200_000, "3 min 20 s"),
                (7_500_000, "2 h 5 min"),
            ],
        );
        assert_writes(
            fmt_rate,
            &[(9.734, "9.73"), (97.34, "97.3"), (1234.4, "1,234")],
        );
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
