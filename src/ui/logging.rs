//! Logging setup: tracing to stderr, text or JSON, with `-v`/`-q`/`RUST_LOG`; and the
//! few things written to stderr outside tracing (errors, the summary event, notes), so
//! that with `--log-format json` every stderr line is one JSON object.
//!
//! The constraint: log lines must not garble the progress bar. Every line goes through
//! `progress::write_above_bar`, which hides the bar while the line is written.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::{LogArgs, LogFormat};
use crate::ui::progress;

/// Whether stderr carries JSON lines (`--log-format json`).
static JSON: AtomicBool = AtomicBool::new(false);

/// Whether stderr carries JSON lines.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// JSON lines on stderr before `init` (a usage error, seen before parsing finished).
pub fn force_json() {
    JSON.store(true, Ordering::Relaxed);
}

/// Writes one event to stderr outside tracing: with JSON logs, one object with the
/// tracing formatter's keys (`timestamp`, `level`, `fields.message`) and `fields` merged
/// in; else the text as it is.
pub fn event(level: &str, text: &str, fields: serde_json::Value) {
    let line = if json() {
        let mut all = serde_json::json!({ "message": text });
        if let (Some(all), serde_json::Value::Object(more)) = (all.as_object_mut(), fields) {
            all.extend(more);
        }
        let object = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": level,
            "fields": all,
            "target": "blockade",
        });
        format!("{object}\n")
    } else if text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    };
    let _ = progress::write_above_bar(line.as_bytes());
}

/// An error for the operator: `error: ...` on stderr, or a JSON error event.
pub fn error(message: &str) {
    if json() {
        event("ERROR", message, serde_json::json!({}));
    } else {
        event(
            "ERROR",
            &format!("error: {message}"),
            serde_json::Value::Null,
        );
    }
}

/// Whether raw command-line arguments ask for JSON logs (before clap has parsed them:
/// a usage error must still be one JSON line).
pub fn json_requested(args: &[std::ffi::OsString]) -> bool {
    args.iter().enumerate().any(|(i, arg)| match arg.to_str() {
        Some("--log-format=json") => true,
        Some("--log-format") => args.get(i + 1).and_then(|a| a.to_str()) == Some("json"),
        _ => false,
    })
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(args: &LogArgs) {
    JSON.store(args.log_format == LogFormat::Json, Ordering::Relaxed);
    let default = if args.quiet {
        "error"
    } else {
        match args.verbose {
            0 => "blockade=info,warn",
            1 => "blockade=debug,info",
            _ => "trace",
        }
    };
    // RUST_LOG wins when set, except that -q always means quiet.
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !args.quiet && !spec.trim().is_empty() => {
            EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new(default))
        }
        _ => EnvFilter::new(default),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAboveBar)
        .with_target(args.verbose > 0);
    let result = match args.log_format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Text => builder
            .with_ansi(args.color.stderr_colored())
            .without_time()
            .try_init(),
    };
    // Already installed (tests call `run` more than once in a process): keep the first.
    let _ = result;
}

/// A `MakeWriter` for stderr that keeps the progress bar intact.
#[derive(Clone, Copy)]
struct StderrAboveBar;

impl<'a> MakeWriter<'a> for StderrAboveBar {
    type Writer = StderrAboveBar;
    fn make_writer(&'a self) -> Self::Writer {
        StderrAboveBar
    }
}

impl Write for StderrAboveBar {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        progress::write_above_bar(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
