//! One module per subcommand, each the same shape: a doc block saying what the command does,
//! and `run(args) -> Result<ExitStatus>`. Shared wiring (target, signals) lives here.

pub mod block;
pub mod block_text;
pub mod blocked;
pub mod listing;
pub mod mock;
pub mod report;
pub mod retry;
pub mod retry_text;
pub mod unblock;
pub mod unblock_text;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cli::{ConnectionArgs, LogArgs, LogFormat};
use crate::config::{SANDBOX_TARGET, Target};
use crate::exit::ExitStatus;
use crate::ledger::{LedgerWriter, Record, RunRecord, Status, new_run_id};
use crate::mock::{MockConfig, MockServer};
use crate::net::api_key::ApiKey;
use crate::net::client::Client;
use crate::net::endpoint;
use crate::send::counters::Counters;
use crate::send::pipeline::{self, ChannelSink, Recorded, Run};
use crate::send::pool::PoolConfig;
use crate::ui::progress;
use crate::ui::summary::{NextCommands, RunFacts, Summary};

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
            // The block list is kept, so that `unblock` and `blocked` work in the sandbox.
            faults: crate::mock::Faults {
                block_list: crate::mock::BlockListOptions {
                    keep: true,
                    ..Default::default()
                },
                ..Default::default()
            },
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
            name: SANDBOX_TARGET.to_owned(),
            ca_certs: Vec::new(),
        },
        sandbox: Some(server),
    })
}

/// The ledger name of the target the options point at, checking it and that a key is
/// there, without sending anything or starting the sandbox (for dry runs).
pub fn target_name(args: &ConnectionArgs) -> anyhow::Result<String> {
    if args.sandbox {
        return Ok(SANDBOX_TARGET.to_owned());
    }
    Ok(Target::from_args(args)?.name)
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
    pub next: NextCommands,
    /// What the run's values are: the summary names them (IDs, emails, IP addresses).
    pub value_type: crate::input::ValueType,
}

/// The part `block` and `retry` share: build the client, run the pipeline with `produce`
/// as its producer, then print the summary, write `--summary-json` and stop the sandbox.
pub async fn send<W, P>(
    job: SendJob<'_>,
    counters: Arc<Counters>,
    produce: P,
) -> anyhow::Result<ExitStatus>
where
    W: Recorded,
    P: FnOnce(&mut ChannelSink<W>) + Send + 'static,
{
    send_with_interrupt(job, counters, produce, watch_signals()).await
}

/// [`send`], stopped by `interrupt` (a command that sent something before, such as
/// `unblock`'s listing, watches the signals once for both).
pub async fn send_with_interrupt<W, P>(
    job: SendJob<'_>,
    counters: Arc<Counters>,
    produce: P,
    interrupt: CancellationToken,
) -> anyhow::Result<ExitStatus>
where
    W: Recorded,
    P: FnOnce(&mut ChannelSink<W>) + Send + 'static,
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
    // The run line first: it binds every later line of this run to its target.
    let mut ledger = job.ledger;
    ledger.append(&Record::Run(RunRecord {
        run: run_id.clone(),
        status: Status::Run,
        command: job.command.to_owned(),
        target: target.name.clone(),
        started_at: chrono::Utc::now(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))?;
    let target_name = target.name.clone();
    let run = Run {
        run_id: run_id.clone(),
        client,
        pool: job.pool,
        ledger,
        progress: progress::Mode::pick(job.log.quiet, job.log.log_format == LogFormat::Json),
        expected_rows: job.expected_rows,
        interrupt,
    };
    let end = pipeline::execute(run, counters.clone(), produce).await?;
    Counters::add(&counters.not_sent, end.pool.ids_not_sent);
    let facts = RunFacts {
        command: job.command,
        run: &run_id,
        target: &target_name,
        ledger: job.results,
        next: &job.next,
        value_type: job.value_type,
    };
    let summary = Summary::new(facts, &counters, &end);
    let status = summary.exit_status();
    // With `--summary-json -` stdout is the JSON alone (for a pipe into jq); the text
    // summary goes to stderr instead.
    let say = |text: &str| match job.summary_json {
        Some(path) if path == Path::new("-") => eprint!("{text}"),
        _ => print_stdout(text),
    };
    say(&summary.render());
    if let Some(server) = job.connected.sandbox {
        let stats = server.stats();
        say(&format!(
            "  sandbox   the imitation answered {}\n",
            crate::ui::summary::plural(stats.requests, "request")
        ));
        server.shutdown().await;
    }
    if let Some(path) = job.summary_json {
        let json = serde_json::to_vec_pretty(&summary).context("cannot encode the summary")?;
        write_summary_json(path, &json)?;
    }
    Ok(status)
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

/// The summary of a command that stopped on an error before or while sending, for
/// `--summary-json`: monitoring learns of every exit, 2 and 3 included, and why.
pub fn write_error_summary(path: Option<&Path>, command: &str, error: &anyhow::Error) {
    let Some(path) = path else { return };
    let status = ExitStatus::of_error(error);
    let json = serde_json::json!({
        "command": command,
        "outcome": status.word(),
        "exit_code": status.code(),
        "stop_reason": crate::describe(error),
    });
    let text = serde_json::to_vec_pretty(&json).unwrap_or_default();
    if let Err(error) = write_summary_json(path, &text) {
        eprintln!("error: {}", crate::describe(&error));
    }
}

/// The target flags of a run, as a later command needs them to reach the same target:
/// never the key, only where it comes from.
pub fn target_flags(args: &ConnectionArgs) -> Vec<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut flags = Vec::new();
    if args.sandbox {
        flags.push("--sandbox".to_owned());
    } else if let Some(account) = args.account.clone().or_else(|| {
        args.base_url
            .is_none()
            .then(|| env("ACQUIRE_ACCOUNT"))
            .flatten()
    }) {
        flags.extend(["--account".to_owned(), account]);
    } else if let Some(url) = args.base_url.clone().or_else(|| env("ACQUIRE_BASE_URL")) {
        flags.extend(["--base-url".to_owned(), url]);
    }
    if let Some(file) = &args.api_key_file {
        flags.extend(["--api-key-file".to_owned(), file.display().to_string()]);
    }
    flags
}

/// The "Next:" commands of a sending run: `retry` of its ledger against the same
/// target, and this very command line again with `--resume` (for `block`; `retry` is
/// simply run again, and `unblock` with `--resume` serves for both).
pub fn next_commands(command: &str, args: &ConnectionArgs, ledger: &Path) -> NextCommands {
    let mut retry = vec![
        crate::program_name(),
        "retry".to_owned(),
        ledger.display().to_string(),
    ];
    retry.extend(target_flags(args));
    let mut again: Vec<String> = std::iter::once(crate::program_name())
        .chain(std::env::args().skip(1))
        .collect();
    if (command == "block" || command == "unblock") && !again.iter().any(|arg| arg == "--resume") {
        again.push("--resume".to_owned());
    }
    let quote = |words: Vec<String>| {
        words
            .iter()
            .map(|word| {
                shlex::try_quote(word).map_or_else(|_| word.clone(), |quoted| quoted.into_owned())
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    if command == "retry" || command == "unblock" {
        // `retry` has no --resume: running it again re-sends what is still failed. Failed
        // deletes are sent again by the same unblock with --resume (`retry` re-sends
        // blocks, never unblocks).
        let again = quote(again);
        return NextCommands {
            retry: again.clone(),
            resume: again,
        };
    }
    NextCommands {
        retry: quote(retry),
        resume: quote(again),
    }
}

/// The default ledger: the sandbox keeps its own, so that its lines never sit in the
/// real one.
pub fn default_results(sandbox: bool) -> std::path::PathBuf {
    if sandbox {
        "blockade-sandbox.jsonl".into()
    } else {
        "blockade-results.jsonl".into()
    }
}

/// First SIGINT/SIGTERM cancels the returned token (finish in-flight work, record it,
/// exit 130); a second SIGINT exits at once.
pub fn watch_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let Ok(signal) = wait_for_signal().await else {
            return;
        };
        crate::exit::note_signal(signal);
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

/// Waits for SIGINT or SIGTERM and says which (2 or 15).
async fn wait_for_signal() -> std::io::Result<i32> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| 2),
            _ = term.recv() => Ok(15),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| 2)
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
    let mut file = options.open(path)?;
    // The mode above applies only to a new file: an existing one is made private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)
}
