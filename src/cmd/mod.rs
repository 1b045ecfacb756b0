//! One module per subcommand, each the same shape: a doc block saying what the command does,
//! and `run(args) -> Result<ExitStatus>`. Shared wiring (target, signals) lives here.

pub mod block;
pub mod mock;
pub mod report;
pub mod retry;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::api_key::ApiKey;
use crate::cli::{ConnectionArgs, LogArgs, LogFormat};
use crate::client::Client;
use crate::config::Target;
use crate::counters::Counters;
use crate::endpoint;
use crate::exit::ExitStatus;
use crate::ledger::{LedgerWriter, new_run_id};
use crate::mock::{MockConfig, MockServer};
use crate::pipeline::{self, ChannelSink, Run};
use crate::pool::PoolConfig;
use crate::progress;
use crate::summary::{Summary, group_digits};

/// Where a sending command goes: the real target, or the in-process imitation.
pub struct Connected {
    pub target: Target,
    /// Kept alive for the run with `--sandbox`.
    pub sandbox: Option<MockServer>,
}

/// Resolves the target from the options; with `--sandbox`, starts the imitation on an
/// ephemeral loopback port with a generated key.
pub async fn connect(args: &ConnectionArgs) -> anyhow::Result<Connected> {
    if !args.sandbox {
        return Ok(Connected {
            target: Target::from_args(args)?,
            sandbox: None,
        });
    }
    let key_text = format!("sandbox-{:032x}", rand::random::<u128>());
    let key = ApiKey::new(&key_text, "the sandbox")?;
    let server = MockServer::start(
        ([127, 0, 0, 1], 0).into(),
        MockConfig {
            key: key_text,
            record_ids: false,
            faults: Default::default(),
        },
    )
    .await
    .context("cannot start the sandbox imitation on 127.0.0.1")?;
    let base = endpoint::check_base_url(&server.base_url())?;
    tracing::info!(url = %server.base_url(), "Sandbox: sending to the built-in imitation; no real contact is blocked");
    Ok(Connected {
        target: Target {
            url: endpoint::block_url(&base),
            key,
            ca_certs: Vec::new(),
        },
        sandbox: Some(server),
    })
}

/// What a sending command (`block`, `retry`) hands to `send`.
pub struct SendJob<'a> {
    pub command: &'static str,
    pub connected: Connected,
    pub connection: &'a ConnectionArgs,
    pub pool: PoolConfig,
    pub ledger: LedgerWriter,
    pub results: &'a Path,
    pub expected_rows: Option<u64>,
    pub summary_json: Option<&'a Path>,
    pub log: &'a LogArgs,
}

/// The part `block` and `retry` share: build the client, run the pipeline with `produce`
/// as its producer, then print the summary, write `--summary-json` and stop the sandbox.
pub async fn send<P>(
    job: SendJob<'_>,
    counters: Arc<Counters>,
    produce: P,
) -> anyhow::Result<ExitStatus>
where
    P: FnOnce(&mut ChannelSink) + Send + 'static,
{
    let target = &job.connected.target;
    let client = Client::with_extra_roots(
        target.url.clone(),
        &target.key,
        job.connection.timeout,
        job.pool.max_in_flight(),
        &target.ca_certs,
    )?;
    let run_id = new_run_id();
    tracing::info!(run = %run_id, url = %target.url, rate = %job.pool.rate, concurrency = %job.pool.concurrency, "Starting");
    let run = Run {
        run_id: run_id.clone(),
        client,
        pool: job.pool,
        ledger: job.ledger,
        progress: progress::Mode::pick(job.log.quiet, job.log.log_format == LogFormat::Json),
        expected_rows: job.expected_rows,
        interrupt: watch_signals(),
    };
    let end = pipeline::execute(run, counters.clone(), produce).await?;
    Counters::add(&counters.not_sent, end.pool.ids_not_sent);
    let summary = Summary::new(job.command, &run_id, &counters, &end, job.results);
    let status = summary.exit_status();
    print_stdout(&summary.render());
    if let Some(server) = job.connected.sandbox {
        let stats = server.stats();
        print_stdout(&format!(
            "  sandbox   the imitation answered {} requests\n",
            group_digits(stats.requests)
        ));
        server.shutdown().await;
    }
    if let Some(path) = job.summary_json {
        let json = serde_json::to_vec_pretty(&summary).context("cannot encode the summary")?;
        write_private(path, &json)
            .with_context(|| format!("cannot write --summary-json {}", path.display()))?;
    }
    Ok(status)
}

/// First SIGINT/SIGTERM cancels the returned token (finish in-flight work, record it,
/// exit 130); a second SIGINT exits at once.
pub fn watch_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let first = wait_for_signal().await;
        if first.is_err() {
            return;
        }
        tracing::warn!(
            "Interrupted: finishing in-flight requests and recording them; press Ctrl-C again to exit at once"
        );
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            // Every ledger line already written is whole: each is one write.
            std::process::exit(crate::exit::ExitStatus::Interrupted.code());
        }
    });
    token
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

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
    options.open(path)?.write_all(contents)
}
