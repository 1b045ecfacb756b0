//! What the operator sees: the progress bar or lines, the logs, the end-of-run summary.

pub(crate) mod logging;
pub(crate) mod progress;
pub(crate) mod summary;

/// How to call this program again in a printed `Next:` command: the path it was started
/// by when that names a file (`target/release/blockade` under `cargo run`,
/// `/usr/local/bin/blockade` from cron), so the hint runs as printed from the same place;
/// else `blockade`, found on the PATH as it was.
pub fn program_name() -> String {
    std::env::args()
        .next()
        .filter(|arg0| arg0.contains('/'))
        .unwrap_or_else(|| "blockade".to_owned())
}

/// The error and its causes on one line, skipping a cause the message already quotes
/// (several error types put their source's text in their own message).
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}
