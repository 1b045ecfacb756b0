//! Pieces shared by the CSV and JSONL readers: resolving a row's block-till and cutting the
//! raw text of a rejected row down to a short, printable snippet.
//!
//! Constraint kept: both helpers are bounded. The snippet never holds more than
//! [`SNIPPET_CHARS`] characters however long the row is, and block-till resolution allocates
//! only when it refuses a row.

use chrono::{DateTime, Utc};

use crate::values::text::clip_str;

/// Most characters of a rejected row kept in `Reject::input`.
pub const SNIPPET_CHARS: usize = 200;
/// Raw bytes that always hold at least [`SNIPPET_CHARS`] characters (UTF-8 is at most 4 bytes
/// per character, and an invalid byte becomes one replacement character).
pub const SNIPPET_BYTES: usize = SNIPPET_CHARS * 4;

/// Where each row's block-till comes from.
#[derive(Debug, Clone)]
pub enum BlockTill {
    /// Every row gets the same instant (`--block-till` / `--block-for`).
    Fixed(DateTime<Utc>),
    /// Each row names its own in `field`; empty or missing falls back to `default`.
    PerRow {
        field: String,
        default: Option<DateTime<Utc>>,
    },
}

impl BlockTill {
    /// The per-row field name, if rows carry their own block-till.
    pub fn field(&self) -> Option<&str> {
        match self {
            BlockTill::Fixed(_) => None,
            BlockTill::PerRow { field, .. } => Some(field),
        }
    }

    /// Resolves the block-till of one row from the raw value of the block-till field
    /// (`None` when the row has no such field). `Err` is the reject reason.
    pub fn resolve(&self, raw: Option<&str>) -> Result<DateTime<Utc>, String> {
        let (field, default) = match self {
            BlockTill::Fixed(at) => return Ok(*at),
            BlockTill::PerRow { field, default } => (field, default),
        };
        let text = raw.map(str::trim).unwrap_or("");
        if text.is_empty() {
            return default.ok_or_else(|| {
                format!(
                    "no block-till: `{field}` is empty on this row and no --block-till/--block-for \
                     was given; fill `{field}` with an RFC 3339 time or give --block-till/--block-for"
                )
            });
        }
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|err| {
                format!(
                    "block-till {:?} in `{field}` is not an RFC 3339 time with an offset \
                     (like 2025-06-30T00:00:00Z): {err}",
                    clip_str(text, 60)
                )
            })
    }
}

/// The names tried for the value's column or key, for messages: `` `id`, `contact_id` or
/// `contactId` ``.
pub fn field_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Collects the raw text of a rejected row, keeping only its first [`SNIPPET_BYTES`] bytes.
#[derive(Debug, Default)]
pub struct Snippet {
    bytes: Vec<u8>,
    cut: bool,
}

impl Snippet {
    pub fn push(&mut self, piece: &[u8]) {
        let room = SNIPPET_BYTES.saturating_sub(self.bytes.len());
        if piece.len() > room {
            self.cut = true;
        }
        self.bytes
            .extend_from_slice(&piece[..piece.len().min(room)]);
    }

    /// Marks the text as longer than what was pushed (the rest was skipped unread).
    pub fn mark_cut(&mut self) {
        self.cut = true;
    }

    /// The text as lossy UTF-8, at most [`SNIPPET_CHARS`] characters, ending in `…` if cut.
    pub fn finish(self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut out: String = text.chars().take(SNIPPET_CHARS).collect();
        if self.cut || text.chars().nth(SNIPPET_CHARS).is_some() {
            out.push('…');
        }
        out
    }
}

/// The snippet of one piece of raw text.
pub fn snippet_of(raw: &[u8]) -> String {
    let mut snippet = Snippet::default();
    snippet.push(raw);
    snippet.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn per_row(default: Option<DateTime<Utc>>) -> BlockTill {
        BlockTill::PerRow {
            field: "until".into(),
            default,
        }
    }

    #[test]
    fn fixed_ignores_the_row() {
        let at = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(BlockTill::Fixed(at).resolve(Some("garbage")), Ok(at));
    }

    #[test]
    fn per_row_converts_offsets_to_utc() {
        let got = per_row(None).resolve(Some(" 2030-01-02T05:04:05+02:00 "));
        assert_eq!(got, Ok(Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap()));
    }

    #[test]
    fn empty_or_missing_falls_back_to_default_or_refuses() {
        let default = Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(per_row(Some(default)).resolve(Some("  ")), Ok(default));
        assert_eq!(per_row(Some(default)).resolve(None), Ok(default));
        let err = per_row(None).resolve(None).unwrap_err();
        assert!(err.starts_with("no block-till"), "{err}");
        assert!(
            err.contains("--block-till/--block-for") && err.contains("`until`"),
            "{err}"
        );
    }

    #[test]
    fn unparsable_time_is_refused_with_the_value() {
        let err = per_row(None).resolve(Some("next tuesday")).unwrap_err();
        assert!(
            err.contains("\"next tuesday\"") && err.contains("RFC 3339"),
            "{err}"
        );
        // RFC 3339 needs an offset; a naive time must not be guessed into UTC.
        assert!(per_row(None).resolve(Some("2030-01-02T03:04:05")).is_err());
    }

    #[test]
    fn snippet_is_cut_at_200_chars_with_ellipsis() {
        assert_eq!(snippet_of(b"abc"), "abc");
        let long = "é".repeat(500);
        let cut = snippet_of(long.as_bytes());
        assert_eq!(cut.chars().count(), SNIPPET_CHARS + 1);
        assert!(cut.ends_with('…'));
        let exact = "x".repeat(SNIPPET_CHARS);
        assert_eq!(snippet_of(exact.as_bytes()), exact);
    }

    #[test]
    fn snippet_of_invalid_utf8_is_lossy() {
        assert_eq!(snippet_of(b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn snippet_marked_cut_gets_ellipsis() {
        let mut snippet = Snippet::default();
        snippet.push(b"head");
        snippet.mark_cut();
        assert_eq!(snippet.finish(), "head…");
    }
}
