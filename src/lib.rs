//! blockade: block contacts in Acquire in bulk.
//!
//! The flow is one-way: inputs → read (`input`) → dedupe (`dedupe`) → chunk (`batch`) →
//! send (`pool`, `client`) → ledger (`ledger`), wired by `pipeline` and driven by one
//! module per subcommand under `cmd`. See ARCHITECTURE.md for the why.

pub mod api;
pub mod api_key;
pub mod batch;
pub(crate) mod breaker;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod concurrency;
pub(crate) mod config;
pub(crate) mod connections;
pub(crate) mod counters;
pub mod dedupe;
pub(crate) mod endpoint;
pub(crate) mod exit;
pub mod gate;
pub mod input;
pub(crate) mod ledger;
pub(crate) mod logging;
pub mod mock;
pub(crate) mod pipeline;
pub mod pool;
pub(crate) mod progress;
pub(crate) mod rate;
pub mod ratelimit_headers;
pub(crate) mod reject_limit;
pub(crate) mod report;
pub(crate) mod shard;
pub(crate) mod summary;
pub(crate) mod text_batch;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;

/// Runs one parsed command line to its exit status. Errors are printed here, so that the
/// caller only maps the status to a process exit code.
pub fn run(cli: Cli) -> ExitStatus {
    logging::init(&cli.log);
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
            eprintln!("error: {}", describe(&error));
            ExitStatus::of_error(&error)
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
