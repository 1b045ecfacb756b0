//! `blockade report`: summarize one or more ledgers (several shards' ledgers merge): values
//! by their latest state now, history per operation and type, runs and their throughput,
//! failed lines grouped by error; optionally the values still failed as CSV for another
//! tool (`--failed-ids -`: to stdout, the report to stderr), and one offline HTML picture
//! of the runs (`--html FILE|-`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::ReportArgs;
use crate::exit::ExitStatus;
use crate::report;
use crate::report::html::Timeline;
use crate::values::ValueType;

pub fn run(mut args: ReportArgs) -> anyhow::Result<ExitStatus> {
    if args.ledgers.is_empty() {
        let default = crate::job::target::default_results(false);
        if !default.exists() {
            bail!(
                "no RESULTS given, and the default ledger {} is not in this directory; give the ledger's path (blockade-sandbox.jsonl for --sandbox runs)",
                default.display()
            );
        }
        args.ledgers.push(default);
    }
    let mut picture = args.html.as_ref().map(|_| {
        let names: Vec<String> = args
            .ledgers
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Timeline::new(format!("blockade report: {}", names.join(", ")))
    });
    let built = report::build_report(&args.ledgers, |path, record| {
        if let Some(picture) = &mut picture {
            picture.push_record(path, record);
        }
    })?;
    if let (Some(path), Some(mut picture)) = (&args.html, picture) {
        picture.finish_with(&built);
        write_picture(path, &picture)?;
        if path == Path::new("-") {
            // The page is stdout: the text report is not printed on top of it.
            return Ok(ExitStatus::Success);
        }
    }
    let to_stdout = args.failed_ids.as_deref() == Some(Path::new("-"));
    let mut text = if args.json {
        let mut json = serde_json::to_value(&built).context("cannot encode the report")?;
        if args.rejected {
            let mut rows = Vec::new();
            report::for_each_rejected(&args.ledgers, built.latest(), |row| rows.push(row))?;
            json["rejected"] = serde_json::to_value(rows).context("cannot encode the report")?;
        }
        let json = serde_json::to_string_pretty(&json).context("cannot encode the report")?;
        format!("{json}\n")
    } else {
        built.render_text()
    };
    if args.rejected && !args.json {
        text.push_str("Rejected rows and refused IDs:\n");
        report::for_each_rejected(&args.ledgers, built.latest(), |row| {
            text.push_str(&format!(
                "  {}  {}  {:?}  {}\n",
                row.source, row.status, row.value, row.reason
            ));
        })?;
    }
    // With the failed IDs on stdout, the report goes to stderr so the CSV stays clean.
    if to_stdout {
        crate::ui::logging::event("INFO", &text, serde_json::json!({ "report": text }));
    } else {
        crate::job::output::print_stdout(&text);
    }
    if let Some(path) = &args.failed_ids {
        let value_type = match args.value_type {
            Some(value_type) => value_type,
            None => failed_type(&built)?,
        };
        let count = write_failed_ids(&args.ledgers, path, to_stdout, value_type)?;
        let place = if to_stdout {
            "standard output".to_owned()
        } else {
            path.display().to_string()
        };
        crate::ui::logging::event(
            "INFO",
            &format!(
                "Wrote {} to {place}",
                crate::ui::summary::plural(count, &format!("failed {}", value_type.noun()))
            ),
            serde_json::json!({ "failed_values": count, "type": value_type.as_str() }),
        );
    }
    Ok(ExitStatus::Success)
}

/// Writes the HTML picture to `path` (only its owner can read it), or stdout for `-`.
fn write_picture(path: &Path, picture: &Timeline) -> anyhow::Result<()> {
    let page = report::html::render(picture);
    if path == Path::new("-") {
        crate::job::output::print_stdout(&page);
        return Ok(());
    }
    crate::job::output::write_private(path, page.as_bytes())
        .with_context(|| format!("cannot write --html {}", path.display()))?;
    crate::ui::logging::event(
        "INFO",
        &format!(
            "Wrote the picture of the runs to {} (open it in a browser)",
            path.display()
        ),
        serde_json::json!({ "html": path.display().to_string() }),
    );
    Ok(())
}

/// The one type of value with failures (contact IDs when none failed), or an error that
/// names them and asks for `--type`.
fn failed_type(report: &report::Report) -> anyhow::Result<ValueType> {
    let failing: Vec<(ValueType, u64)> = report
        .latest()
        .counts(chrono::Utc::now())
        .into_iter()
        .filter(|(_, counts)| counts.failed > 0)
        .map(|(value_type, counts)| (value_type, counts.failed))
        .collect();
    match failing.as_slice() {
        [] => Ok(ValueType::Contact),
        [(value_type, _)] => Ok(*value_type),
        several => {
            let kinds: Vec<String> = several.iter().map(|(t, n)| format!("{n} {t}")).collect();
            bail!(
                "the ledgers have failures of more than one type ({}); write one type at a time: give --type contact, --type email or --type ip",
                kinds.join(", ")
            )
        }
    }
}

fn write_failed_ids(
    ledgers: &[PathBuf],
    path: &Path,
    to_stdout: bool,
    value_type: ValueType,
) -> anyhow::Result<u64> {
    if !to_stdout {
        return Ok(report::write_failed_ids_csv(ledgers, path, value_type)?);
    }
    // A closed pipe (`| head`) is not an error: the reader has what it wanted.
    let stdout = std::io::stdout().lock();
    match report::write_failed_ids(ledgers, stdout, path, value_type) {
        Ok((count, _)) => Ok(count),
        Err(crate::ledger::LedgerError::Export { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(0)
        }
        Err(error) => Err(error.into()),
    }
}
