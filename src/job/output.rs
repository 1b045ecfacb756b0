//! Writing what a command produces: stdout that tolerates a closed pipe, files only their
//! owner can read, and `--summary-json` on every exit.

use std::path::Path;

use anyhow::Context;

use crate::exit::ExitStatus;

/// Prints to stdout. A closed pipe (`blockade report | head`) is not an error: the reader
/// has what it wanted, and a run must not fail over its summary.
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes a file only its owner can read (summaries, failed-ID lists).
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // The mode above applies only to a new file: an existing one is made private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)
}

/// Writes `--summary-json`: to stdout for `-`, else to a file only its owner can read.
pub fn write_summary_json(path: &Path, json: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        print_stdout(&format!("{}\n", String::from_utf8_lossy(json)));
        return Ok(());
    }
    write_private(path, json)
        .with_context(|| format!("cannot write --summary-json {}", path.display()))
}

/// Runs a command's `work`; when it ends in an error, writes that error's summary to
/// `--summary-json` (see [`write_error_summary`]) before handing the error on.
pub async fn summarising_errors<F>(
    summary_json: Option<std::path::PathBuf>,
    command: &str,
    work: F,
) -> anyhow::Result<ExitStatus>
where
    F: std::future::Future<Output = anyhow::Result<ExitStatus>>,
{
    let result = work.await;
    if let Err(error) = &result {
        write_error_summary(summary_json.as_deref(), command, error);
    }
    result
}

/// The summary of a command that stopped on an error before or while sending, for
/// `--summary-json`: monitoring learns of every exit, 2 and 3 included, and why.
pub fn write_error_summary(path: Option<&Path>, command: &str, error: &anyhow::Error) {
    let Some(path) = path else { return };
    let status = ExitStatus::of_error(error);
    let json = serde_json::json!({
        "command": command,
        "outcome": status.word(),
        "exit_code": status.code(),
        "stop_reason": crate::ui::describe(error),
    });
    let text = serde_json::to_vec_pretty(&json).unwrap_or_default();
    if let Err(error) = write_summary_json(path, &text) {
        crate::ui::logging::error(&crate::ui::describe(&error));
    }
}
