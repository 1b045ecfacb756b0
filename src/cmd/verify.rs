//! `blockade verify`: compare the account with what the ledger says is blocked. What a
//! cron job runs after `sync`.
//!
//! Read-only. Every value type present in this target's lines of the ledger is checked
//! (each dispatched once to its kind), against one listing of the account, through the
//! pool, in constant memory (`job/verify.rs`). The summary counts each mark (`=`, `-`,
//! `*`, `+`); `--combined` writes one line per differing value; exit 0 when every claim
//! holds, 1 otherwise.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Utc;
use serde::Serialize;

use crate::cli::{LogArgs, VerifyArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::job::history::{refuse_other_targets, types_in};
use crate::job::listing::list_account;
use crate::job::output::{print_stdout, summarising_errors, write_private, write_summary_json};
use crate::job::signals::watch_signals;
use crate::job::target::{connect, default_results, target_name};
use crate::job::verify::{Check, Claims, VerifyCounts};
use crate::ledger::{LedgerError, Record, read_records};
use crate::values::count::{group_digits, plural};
use crate::values::{ValueType, with_kind};

/// The command's name, in summaries.
const COMMAND: &str = "verify";

pub async fn run(args: VerifyArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    summarising_errors(args.summary_json.clone(), COMMAND, verify(args, log)).await
}

/// The figures of one type, for the summary.
#[derive(Serialize)]
struct TypeCounts {
    #[serde(rename = "type")]
    value_type: &'static str,
    #[serde(flatten)]
    counts: VerifyCounts,
}

/// What `--summary-json` holds.
#[derive(Serialize)]
struct VerifySummary {
    command: &'static str,
    outcome: &'static str,
    exit_code: i32,
    target: String,
    ledger: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<String>,
    records_listed: u64,
    list_requests: u64,
    pages: u64,
    types: Vec<TypeCounts>,
    total: VerifyCounts,
    seconds: f64,
}

async fn verify(args: VerifyArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let now = Utc::now();
    let ledger = args
        .ledger
        .clone()
        .unwrap_or_else(|| default_results(args.connection.sandbox));
    if !ledger.exists() {
        return Err(LedgerError::NotFound { path: ledger }.into());
    }
    let pool_config = config::pool_config(&args.connection)?;
    let target = target_name(&args.connection)?;
    refuse_other_targets(&ledger, &target)?;
    if let Some(run) = &args.run
        && !has_run(&ledger, run, &target)?
    {
        bail!(
            "{} has no run {run} against {target}: see its run lines (\"status\":\"run\") for the run ids",
            ledger.display()
        );
    }
    // Every type this target's lines name, each checked by its kind.
    let present = types_in(&ledger, None, &target, |_| true)?;
    let mut checks: Vec<Box<dyn Check>> = Vec::new();
    for (value_type, _) in &present {
        let check: Box<dyn Check> = with_kind!(*value_type, |kind| Box::new(Claims::load(
            kind,
            &ledger,
            &target,
            args.run.as_deref(),
            now
        )?));
        checks.push(check);
    }

    let mut combined: Box<dyn Write> = match &args.combined {
        None => Box::new(std::io::sink()),
        Some(path) if path == Path::new("-") => Box::new(std::io::stdout()),
        Some(path) => {
            write_private(path, b"").with_context(|| format!("cannot write {}", path.display()))?;
            Box::new(BufWriter::new(
                File::options()
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            ))
        }
    };

    if args.connection.sandbox {
        tracing::warn!(
            "Each --sandbox run starts a fresh imitation whose account is empty: every claim is missing there. Verify a real account, or a `blockade mock` kept running (--base-url)"
        );
    }
    let connected = connect(&args.connection).await?;
    let interrupt = watch_signals();
    let end = list_account(
        &connected,
        &args.connection,
        &pool_config,
        args.page_size,
        interrupt,
        log,
        |records| {
            for check in &mut checks {
                check.page(records, &mut combined)?;
            }
            Ok(())
        },
    )
    .await?;
    let mut types = Vec::new();
    let mut total = VerifyCounts::default();
    for check in checks {
        let value_type = check.value_type();
        let counts = check.finish(&ledger, &target, &mut combined)?;
        total.add(&counts);
        types.push(TypeCounts {
            value_type: value_type.as_str(),
            counts,
        });
    }
    combined.flush().context("cannot write --combined")?;
    drop(combined);
    let (status, outcome) = match &end.incomplete {
        Some(_) => (
            ExitStatus::Failed,
            "unknown: the list could not be read to its end",
        ),
        None if total.clean() => (ExitStatus::Success, "every claim holds"),
        None => (ExitStatus::Failed, "some claims do not hold"),
    };
    let summary = VerifySummary {
        command: COMMAND,
        outcome,
        exit_code: status.code(),
        target: connected.target.name.clone(),
        ledger: ledger.clone(),
        run: args.run.clone(),
        records_listed: end.records,
        list_requests: end.requests,
        pages: end.pages,
        types,
        total,
        seconds: started.elapsed().as_secs_f64(),
    };
    let text = render(
        &summary,
        end.incomplete.as_deref(),
        args.combined.as_deref(),
    );
    let to_stderr = [args.combined.as_deref(), args.summary_json.as_deref()]
        .into_iter()
        .flatten()
        .any(|path| path == Path::new("-"));
    if to_stderr {
        eprint!("{text}");
    } else {
        print_stdout(&text);
    }
    if let Some(path) = &args.summary_json {
        let json = serde_json::to_vec_pretty(&summary).context("cannot encode the summary")?;
        write_summary_json(path, &json)?;
    }
    connected.close().await;
    Ok(status)
}

/// Whether the ledger holds run `run` against `target`.
fn has_run(ledger: &Path, run: &str, target: &str) -> Result<bool, LedgerError> {
    let mut seen = false;
    read_records(ledger, |_, record| {
        if let Record::Run(line) = &record
            && line.run == run
            && line.target == target
        {
            seen = true;
        }
    })?;
    Ok(seen)
}

fn render(summary: &VerifySummary, incomplete: Option<&str>, combined: Option<&Path>) -> String {
    let n = group_digits;
    let mut out = format!(
        "blockade verify: {}\n  target    {}\n  ledger    {}{}\n  listed    {} in {}\n",
        summary.outcome,
        summary.target,
        summary.ledger.display(),
        summary
            .run
            .as_ref()
            .map_or_else(String::new, |run| format!(" (run {run})")),
        plural(summary.records_listed, "block record"),
        plural(summary.list_requests, "request"),
    );
    let line = |label: &str, counts: &VerifyCounts, noun: &str| {
        format!(
            "  {label:<9} {} claimed: = {} held, * {} held longer, * {} held shorter, - {} missing; + {} held though unblocked per the ledger\n",
            plural(counts.claimed, noun),
            n(counts.held),
            n(counts.held_longer),
            n(counts.held_shorter),
            n(counts.missing),
            n(counts.unexpected),
        )
    };
    for types in &summary.types {
        let value_type = ValueType::parse(types.value_type).unwrap_or_default();
        out += &line(types.value_type, &types.counts, value_type.noun());
    }
    if summary.types.is_empty() {
        out += "  claims    none: the ledger has no value lines of this target\n";
    } else if summary.types.len() > 1 {
        out += &line("total", &summary.total, "value");
    }
    if let Some(why) = incomplete {
        out += &format!("  stopped   the list could not be read to its end: {why}\n");
    }
    out += &format!("  time      {:.1}s\n", summary.seconds);
    if !summary.total.clean()
        && let Some(path) = combined
        && path != Path::new("-")
    {
        out += &format!(
            "  combined  {} (one line per differing value)\n",
            path.display()
        );
    }
    if summary.total.missing + summary.total.held_shorter > 0 {
        out += "Next: run the sync (or block) again to block what is missing, then verify again\n";
    }
    out
}
