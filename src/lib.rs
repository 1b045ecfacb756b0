//! blockade: block contacts in Acquire in bulk.
//!
//! The flow is one-way: inputs → read (`input`) → dedupe, shard and chunk (`values`) →
//! send (`send`, over `net`, each answer read by its operation in `api`) → ledger
//! (`ledger`), wired in `job` and driven by one module per subcommand under `cmd`; `ui`
//! shows progress and the summary, `report` reads ledgers back, `mock` imitates the API.
//! Every stage is written once, generic over the kind of value (`values::Kind`). See
//! ARCHITECTURE.md for the why.

pub mod api;
pub mod cli;
pub mod cmd;
pub(crate) mod config;
pub(crate) mod exit;
pub mod input;
pub(crate) mod job;
pub(crate) mod ledger;
pub mod mock;
pub mod net;
pub(crate) mod report;
pub mod send;
#[cfg(test)]
mod testing;
pub(crate) mod ui;
pub mod values;

use clap::CommandFactory;

pub use crate::job::output::write_error_summary;
pub use crate::ledger::Op;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;

/// Runs one parsed command line to its exit status. Errors are printed here, so that the
/// caller only maps the status to a process exit code.
pub fn run(cli: Cli) -> ExitStatus {
    ui::logging::init(&cli.log);
    // One thread runs every async task of a sending run (the pool, the connections, the
    // collector); the reader has its own. On two cores this halved the CPU per request
    // compared with a multi-threaded runtime (fewer cross-thread wake-ups; BENCHMARKS.md).
    // The imitation, which serves many clients, gets the multi-threaded one.
    let mut builder = match cli.command {
        Command::Mock(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            ui::logging::error(&format!("cannot start the async runtime: {error}"));
            return ExitStatus::Failed;
        }
    };
    let log = cli.log;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Block(args) => cmd::block::run(args, &log).await,
            Command::Retry(args) => cmd::retry::run(args, &log).await,
            Command::Unblock(args) => cmd::unblock::run(args, &log).await,
            Command::Sync(args) => cmd::sync::run(args, &log).await,
            Command::Verify(args) => cmd::verify::run(args, &log).await,
            Command::Blocked(args) => cmd::blocked::run(args, &log).await,
            Command::Report(args) => cmd::report::run(args),
            Command::Mock(args) => cmd::mock::run(args).await,
            Command::Completions { shell } => {
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "blockade",
                    &mut std::io::stdout(),
                );
                Ok(ExitStatus::Success)
            }
        }
    });
    // Do not wait for a reader thread stuck on stdin after an interrupt.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(status) => status,
        Err(error) => {
            ui::logging::error(&ui::describe(&error));
            ExitStatus::of_error(&error)
        }
    }
}

/// Reports a command line clap refused: its message on stderr (one JSON object when the
/// raw arguments ask for `--log-format json`), and `--summary-json` if the arguments name
/// one, found by a plain scan (nothing else of them can be trusted).
pub fn usage_error(error: &clap::Error) {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The message is the first paragraph (then come Usage and the --help hint).
    let text = error.to_string();
    let reason = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let reason = reason.trim_start_matches("error: ");
    if ui::logging::json_requested(&args) {
        ui::logging::force_json();
        ui::logging::error(&format!("{reason} (see --help)"));
    } else {
        let _ = error.print();
    }
    let path = args.iter().enumerate().find_map(|(i, arg)| {
        let text = arg.to_str()?;
        if text == "--summary-json" {
            args.get(i + 1).map(std::path::PathBuf::from)
        } else {
            text.strip_prefix("--summary-json=")
                .map(std::path::PathBuf::from)
        }
    });
    let Some(path) = path else { return };
    let command = args
        .iter()
        .filter_map(|arg| arg.to_str())
        .find_map(Op::from_command)
        .map_or("blockade", Op::command);
    write_error_summary(Some(&path), command, &anyhow::anyhow!("{reason}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::describe;

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::IsADirectory, "Is a directory");
        let quoted = anyhow::Error::new(ledger::LedgerError::Read {
            path: "x".into(),
            source: io,
        });
        assert_eq!(describe(&quoted).matches("Is a directory").count(), 1);
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&plain), "outer: inner");
    }
}
