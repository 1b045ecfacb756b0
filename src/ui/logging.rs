//! Logging setup: tracing to stderr, text or JSON, with `-v`/`-q`/`RUST_LOG`.
//!
//! The constraint: log lines must not garble the progress bar. Every line goes through
//! `progress::write_above_bar`, which hides the bar while the line is written.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::{LogArgs, LogFormat};
use crate::ui::progress;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(args: &LogArgs) {
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
