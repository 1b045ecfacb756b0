//! The limit a server advertises in its answers' headers, read from the three forms in use:
//!
//! - GitHub's `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Reset:
//!   the Unix time, in seconds, at which the window resets);
//! - the IETF httpapi draft's `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
//!   (Reset: seconds from now), with the window where the draft's quota policy gives it
//!   (`RateLimit-Limit: 100, 100;w=60`, or a separate `RateLimit-Policy: 100;w=60`);
//! - the draft's newer structured fields, `RateLimit-Policy: "default";q=100;w=60` (quota
//!   `q` per window `w` seconds) and `RateLimit: "default";r=50;t=30` (`r` left, reset in `t`
//!   seconds). With several policies, the one with the lowest sustained rate (q / w) is
//!   kept, with its own `RateLimit` item when the names match.
//!
//! Pure: names and values in, an [`Advertised`] out (or `None`), so every form and every
//! hostile value is unit-tested without a network. Nothing a server sends is trusted: numbers
//! are capped (`MAX_COUNT`, `MAX_SPAN`), a quota or window of zero is ignored, garbage is
//! ignored, and nothing here can panic. Cost: one pass over the answer's header names (a
//! couple of byte comparisons each) when none of them is a rate-limit header.

use std::time::{Duration, SystemTime};

/// The largest count (limit, remaining) taken from a server; larger ones are cut to it.
pub const MAX_COUNT: u64 = 1_000_000_000;
/// The longest window or reset taken from a server (a day); longer ones are cut to it.
pub const MAX_SPAN: Duration = Duration::from_secs(24 * 60 * 60);

/// Which form the server used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds).
    Github,
    /// `RateLimit-Limit`, `-Remaining`, `-Reset` (seconds from now).
    Draft,
    /// `RateLimit-Policy: "name";q=..;w=..` and `RateLimit: "name";r=..;t=..`.
    Policy,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Github => "X-RateLimit-*",
            Family::Draft => "RateLimit-*",
            Family::Policy => "RateLimit-Policy",
        }
    }
}

/// What one answer advertised. Every field is optional: servers send subsets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Advertised {
    pub family: Family,
    /// Requests allowed per window (the quota); never 0.
    pub limit: Option<u64>,
    /// The window the quota is counted over, when the server says it; never zero.
    pub window: Option<Duration>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Time from this answer until the quota resets (at most `MAX_SPAN`).
    pub reset: Option<Duration>,
    /// How precise `reset` is: a whole number of seconds may be up to this early or late.
    pub reset_precision: Duration,
}

impl Advertised {
    /// The sustained rate the quota allows, requests per second, when both the quota and
    /// its window are known.
    pub fn per_second(&self) -> Option<f64> {
        Some(self.limit? as f64 / self.window?.as_secs_f64())
    }
}

/// Raw values found, before they are combined.
#[derive(Default)]
struct Found<'a> {
    github: [Option<&'a [u8]>; 3],
    draft: [Option<&'a [u8]>; 3],
    draft_policy: Option<&'a [u8]>,
    policy: Option<&'a [u8]>,
    state: Option<&'a [u8]>,
}

/// Reads the advertised limit from an answer's headers (`name` in lowercase, as hyper gives
/// it). `now` is called only when a GitHub-style reset needs the wall clock.
pub fn read<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    now: impl FnOnce() -> SystemTime,
) -> Option<Advertised> {
    let mut found = Found::default();
    let mut any = false;
    for (name, value) in headers {
        let bytes = name.as_bytes();
        // The common answer has no such header: two byte comparisons per name.
        let (github, rest) = match bytes {
            [b'x' | b'X', b'-', ..] => (true, &name[2..]),
            [b'r' | b'R', ..] => (false, name),
            _ => continue,
        };
        let Some(field) = strip_prefix_ignore_case(rest, "ratelimit") else {
            continue;
        };
        let slot = match (github, field.to_ascii_lowercase().as_str()) {
            (true, "-limit") => &mut found.github[0],
            (true, "-remaining") => &mut found.github[1],
            (true, "-reset") => &mut found.github[2],
            (false, "-limit") => &mut found.draft[0],
            (false, "-remaining") => &mut found.draft[1],
            (false, "-reset") => &mut found.draft[2],
            (false, "-policy") => {
                // Draft-03..06 wrote `100;w=60`; the structured form starts with a name.
                if value.trim_ascii_start().first() == Some(&b'"') {
                    &mut found.policy
                } else {
                    &mut found.draft_policy
                }
            }
            (false, "") => &mut found.state,
            _ => continue,
        };
        // The first of a repeated header wins: a later copy cannot override it.
        slot.get_or_insert(value);
        any = true;
    }
    if !any {
        return None;
    }
    policy(&found)
        .or_else(|| draft(&found))
        .or_else(|| github(&found, now))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A non-negative integer, capped at `MAX_COUNT`; `None` for anything else.
fn count(value: &[u8]) -> Option<u64> {
    Some(whole(value)?.min(MAX_COUNT))
}

/// A non-negative integer; a run of digits past u64 is "very many", not garbage.
fn whole(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.is_empty() || text.len() > 64 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// A whole number of seconds, capped at `MAX_SPAN`.
fn seconds(value: u64) -> Duration {
    Duration::from_secs(value.min(MAX_SPAN.as_secs()))
}

fn positive(value: Option<u64>) -> Option<u64> {
    value.filter(|&n| n > 0)
}

fn github(found: &Found<'_>, now: impl FnOnce() -> SystemTime) -> Option<Advertised> {
    let [limit, remaining, reset] = found.github;
    let limit = positive(limit.and_then(count));
    let remaining = remaining.and_then(count);
    let reset = reset.and_then(whole).map(|epoch| {
        let at = SystemTime::UNIX_EPOCH + seconds_epoch(epoch);
        at.duration_since(now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_SPAN)
    });
    (limit.is_some() || remaining.is_some()).then_some(Advertised {
        family: Family::Github,
        limit,
        window: None,
        remaining,
        reset,
        reset_precision: Duration::from_secs(1),
    })
}

/// A Unix time in seconds, as a span from the epoch (capped far in the future).
fn seconds_epoch(epoch: u64) -> Duration {
    Duration::from_secs(epoch.min(1 << 40))
}

fn draft(found: &Found<'_>) -> Option<Advertised> {
    let [limit, remaining, reset] = found.draft;
    // `RateLimit-Limit: 100` or `100, 100;w=60`: the first item is the quota; a policy with
    // `w` (here or in RateLimit-Policy) gives the window.
    let mut quota = None;
    let mut window = None;
    if let Some(limit) = limit {
        for (index, item) in items(limit).into_iter().enumerate() {
            let bare = item.bare.and_then(|b| count(b.as_bytes()));
            if index == 0 {
                quota = positive(bare);
            }
            if let Some(w) = item.param("w").and_then(|w| positive(count(w.as_bytes())))
                && bare == quota
            {
                window = Some(seconds(w));
            }
        }
    }
    if window.is_none()
        && let Some(policy) = found.draft_policy
    {
        for item in items(policy) {
            let bare = positive(item.bare.and_then(|b| count(b.as_bytes())));
            let w = item.param("w").and_then(|w| positive(count(w.as_bytes())));
            if let (Some(q), Some(w)) = (bare, w)
                && (quota.is_none() || quota == Some(q))
            {
                quota = Some(q);
                window = Some(seconds(w));
                break;
            }
        }
    }
    let remaining = remaining.and_then(count);
    let reset = reset.and_then(count).map(seconds);
    (quota.is_some() || remaining.is_some()).then_some(Advertised {
        family: Family::Draft,
        limit: quota,
        window,
        remaining,
        reset,
        reset_precision: Duration::from_secs(1),
    })
}

fn policy(found: &Found<'_>) -> Option<Advertised> {
    let policies = items(found.policy?);
    // The policy with the lowest sustained rate binds first.
    let chosen = policies
        .iter()
        .filter_map(|item| {
            let q = positive(item.param("q").and_then(|q| count(q.as_bytes())))?;
            let w = positive(item.param("w").and_then(|w| count(w.as_bytes()))).unwrap_or(1);
            Some((item.bare, q, seconds(w)))
        })
        .min_by(|a, b| {
            (a.1 as f64 / a.2.as_secs_f64()).total_cmp(&(b.1 as f64 / b.2.as_secs_f64()))
        })?;
    let (name, quota, window) = chosen;
    let states = found.state.map(items).unwrap_or_default();
    let state = states
        .iter()
        .find(|item| item.bare.is_some() && item.bare == name)
        .or(states.first());
    let remaining = state
        .and_then(|s| s.param("r"))
        .and_then(|r| count(r.as_bytes()));
    let reset = state
        .and_then(|s| s.param("t"))
        .and_then(|t| count(t.as_bytes()))
        .map(seconds);
    Some(Advertised {
        family: Family::Policy,
        limit: Some(quota),
        window: Some(window),
        remaining,
        reset,
        reset_precision: Duration::from_secs(1),
    })
}

/// One member of a structured-field list: its bare item and its parameters.
#[derive(Debug, Default)]
struct Item<'a> {
    /// The item itself: a string's contents without quotes, a token or a number.
    bare: Option<&'a str>,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> Item<'a> {
    fn param(&self, key: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|&(_, v)| v)
    }
}

/// At most this many list members or parameters are read from one header.
const MAX_ITEMS: usize = 16;

/// A tolerant reading of a structured-field list (`a;k=v, "b";k=v`): commas and semicolons
/// inside quoted strings do not split. Malformed parts are kept as they come; the callers
/// ignore what they cannot read.
fn items(value: &[u8]) -> Vec<Item<'_>> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Vec::new();
    };
    split_outside_quotes(text, ',')
        .take(MAX_ITEMS)
        .map(|member| {
            let mut parts = split_outside_quotes(member, ';');
            let bare = parts
                .next()
                .map(|b| b.trim().trim_matches('"'))
                .filter(|b| !b.is_empty());
            let params = parts
                .take(MAX_ITEMS)
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.trim(), v.trim().trim_matches('"')))
                })
                .collect();
            Item { bare, params }
        })
        .collect()
}

fn split_outside_quotes(text: &str, at: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (index, c) in current.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == at && !quoted => {
                    rest = Some(&current[index + c.len_utf8()..]);
                    return Some(&current[..index]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(epoch)
    }

    fn read_pairs(pairs: &[(&str, &str)], now: u64) -> Option<Advertised> {
        read(pairs.iter().map(|(n, v)| (*n, v.as_bytes())), || at(now))
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn no_rate_limit_header_reads_nothing_and_never_asks_the_clock() {
        let headers = [
            ("content-type", "application/json"),
            ("content-length", "13"),
            ("x-request-id", "abc"),
            ("retry-after", "1"),
            ("ratelimited", "yes"),
        ];
        let read = super::read(headers.iter().map(|(n, v)| (*n, v.as_bytes())), || {
            panic!("the clock is not needed")
        });
        assert_eq!(read, None);
    }

    #[test]
    fn github_reset_is_unix_seconds() {
        let read = read_pairs(
            &[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "4999"),
                ("x-ratelimit-reset", "1372700873"),
                ("x-ratelimit-used", "1"),
            ],
            1_372_700_000,
        )
        .unwrap();
        assert_eq!(
            read,
            Advertised {
                family: Family::Github,
                limit: Some(5000),
                window: None,
                remaining: Some(4999),
                reset: Some(secs(873)),
                reset_precision: secs(1),
            }
        );
        assert_eq!(read.per_second(), None);
        // A reset in the past is now.
        let past = read_pairs(
            &[("X-RateLimit-Reset", "10"), ("X-RateLimit-Remaining", "0")],
            99,
        );
        assert_eq!(past.unwrap().reset, Some(Duration::ZERO));
    }

    #[test]
    fn draft_reset_is_seconds_from_now_and_the_window_comes_from_the_policy() {
        let read = read_pairs(
            &[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "50"),
                ("ratelimit-reset", "30"),
            ],
            0,
        )
        .unwrap();
        assert_eq!(read.family, Family::Draft);
        assert_eq!(
            (read.limit, read.window, read.remaining, read.reset),
            (Some(100), None, Some(50), Some(secs(30)))
        );
        let with_window = read_pairs(
            &[
                ("RateLimit-Limit", "10, 10;w=1, 50;w=60"),
                ("RateLimit-Remaining", "9"),
                ("RateLimit-Reset", "1"),
            ],
            0,
        )
        .unwrap();
        assert_eq!(with_window.limit, Some(10));
        assert_eq!(with_window.window, Some(secs(1)));
        assert_eq!(with_window.per_second(), Some(10.0));
        let separate = read_pairs(
            &[
                ("ratelimit-limit", "100"),
                ("ratelimit-policy", "100;w=60;comment=\"a, b\""),
            ],
            0,
        )
        .unwrap();
        assert_eq!(separate.window, Some(secs(60)));
    }

    #[test]
    fn structured_fields_pick_the_lowest_sustained_rate_and_its_state() {
        let read = read_pairs(
            &[
                (
                    "ratelimit-policy",
                    "\"burst\";q=100;w=1, \"daily\";q=1000;w=86400",
                ),
                ("ratelimit", "\"burst\";r=99;t=1, \"daily\";r=500;t=3600"),
            ],
            0,
        )
        .unwrap();
        assert_eq!(
            read,
            Advertised {
                family: Family::Policy,
                limit: Some(1000),
                window: Some(secs(86400)),
                remaining: Some(500),
                reset: Some(secs(3600)),
                reset_precision: secs(1),
            }
        );
        let simple = read_pairs(
            &[
                ("RateLimit-Policy", "\"default\";q=100;w=60"),
                ("RateLimit", "\"default\";r=50;t=30"),
            ],
            0,
        )
        .unwrap();
        assert_eq!(simple.per_second(), Some(100.0 / 60.0));
        assert_eq!((simple.remaining, simple.reset), (Some(50), Some(secs(30))));
    }

    #[test]
    fn the_structured_form_wins_over_the_older_ones() {
        let read = read_pairs(
            &[
                ("x-ratelimit-limit", "7"),
                ("ratelimit-limit", "8"),
                ("ratelimit-policy", "\"p\";q=9;w=2"),
            ],
            0,
        )
        .unwrap();
        assert_eq!((read.family, read.limit), (Family::Policy, Some(9)));
        let read = read_pairs(&[("x-ratelimit-limit", "7"), ("ratelimit-limit", "8")], 0).unwrap();
        assert_eq!((read.family, read.limit), (Family::Draft, Some(8)));
    }

    #[test]
    fn hostile_values_are_capped_or_ignored_and_never_panic() {
        let huge = "9".repeat(40);
        let read = read_pairs(
            &[
                ("x-ratelimit-limit", &huge),
                ("x-ratelimit-remaining", &huge),
                ("x-ratelimit-reset", &huge),
            ],
            1000,
        )
        .unwrap();
        assert_eq!(read.limit, Some(MAX_COUNT));
        assert_eq!(read.remaining, Some(MAX_COUNT));
        assert_eq!(read.reset, Some(MAX_SPAN));

        for garbage in [
            "-1",
            "1.5",
            "",
            " ",
            "ten",
            "0x10",
            "1e9",
            "\u{1F600}",
            "+5",
        ] {
            let read = read_pairs(
                &[
                    ("ratelimit-limit", garbage),
                    ("ratelimit-remaining", garbage),
                    ("ratelimit-reset", garbage),
                ],
                0,
            );
            assert_eq!(read, None, "{garbage:?}");
        }
        // A quota or window of zero says nothing usable; a policy without q is skipped.
        let zero = read_pairs(&[("ratelimit-policy", "\"a\";q=0;w=0, \"b\";w=5")], 0);
        assert_eq!(zero, None);
        let zero_window = read_pairs(&[("ratelimit-policy", "\"a\";q=10;w=0")], 0).unwrap();
        assert_eq!(zero_window.window, Some(secs(1)));
        assert_eq!(
            read_pairs(&[("ratelimit-limit", "0"), ("ratelimit-remaining", "3")], 0)
                .unwrap()
                .limit,
            None
        );
        // Broken structure: unbalanced quotes, stray separators, non-UTF-8, a flood of items.
        for broken in ["\"a;q=5", ";;;,,,", "\"\";q=;w=", "a=b=c;q==3"] {
            let _ = read_pairs(&[("ratelimit-policy", broken), ("ratelimit", broken)], 0);
        }
        let flood = vec!["\"x\";q=1;w=1"; 10_000].join(",");
        assert!(read_pairs(&[("ratelimit-policy", &flood)], 0).is_some());
        let bytes: &[u8] = &[0xff, 0xfe, b'1'];
        assert_eq!(super::read([("ratelimit-limit", bytes)], || at(0)), None);
        let window_huge = format!("\"a\";q=5;w={huge}");
        assert_eq!(
            read_pairs(&[("ratelimit-policy", &window_huge)], 0)
                .unwrap()
                .window,
            Some(MAX_SPAN)
        );
    }

    #[test]
    fn the_first_of_repeated_headers_counts() {
        let read = read_pairs(
            &[("ratelimit-remaining", "5"), ("ratelimit-remaining", "500")],
            0,
        )
        .unwrap();
        assert_eq!(read.remaining, Some(5));
    }
}
