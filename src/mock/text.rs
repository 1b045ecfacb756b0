//! How the imitation quotes what a client sent, in its error messages.

/// Longest value quoted back in an error message: a hostile body cannot make the
/// answer as large as itself.
const QUOTED_MAX: usize = 80;

/// `value` for an error message, cut at `QUOTED_MAX` characters.
pub(crate) fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTED_MAX) {
        Some((cut, _)) => format!("{:?}...", &value[..cut]),
        None => format!("{value:?}"),
    }
}
