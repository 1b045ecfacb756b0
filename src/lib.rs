//! blockade: block contacts in Acquire in bulk.
//!
//! The flow is one-way: inputs → read (`input`) → dedupe (`dedupe`) → chunk (`batch`) →
//! send (`pool`, `client`) → ledger (`ledger`), wired by `pipeline` and driven by one
//! module per subcommand under `cmd`. See ARCHITECTURE.md for the why.

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
            eprintln!("error: cannot start the async runtime: {error}");
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
            eprintln!("error: {}", ui::describe(&error));
            ExitStatus::of_error(&error)
        }
    }
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
