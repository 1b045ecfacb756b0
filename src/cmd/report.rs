//! `blockade report`: summarize one or more ledgers (several shards' ledgers merge): counts
//! by status, runs and their throughput, failed batches grouped by error; optionally write
//! the failed IDs as CSV for another tool.

use anyhow::Context;

use crate::cli::ReportArgs;
use crate::cmd;
use crate::exit::ExitStatus;
use crate::report;

pub fn run(args: ReportArgs) -> anyhow::Result<ExitStatus> {
    let built = report::build_report(&args.ledgers)?;
    if args.json {
        let mut json = serde_json::to_value(&built).context("cannot encode the report")?;
        if args.rejected {
            let mut rows = Vec::new();
            report::for_each_rejected(&args.ledgers, built.refused_ids(), |row| rows.push(row))?;
            json["rejected"] = serde_json::to_value(rows).context("cannot encode the report")?;
        }
        let text = serde_json::to_string_pretty(&json).context("cannot encode the report")?;
        cmd::print_stdout(&format!("{text}\n"));
    } else {
        cmd::print_stdout(&built.render_text());
        if args.rejected {
            cmd::print_stdout("Rejected rows and refused IDs:\n");
            report::for_each_rejected(&args.ledgers, built.refused_ids(), |row| {
                cmd::print_stdout(&format!(
                    "  {}  {}  {:?}  {}\n",
                    row.source, row.status, row.value, row.reason
                ));
            })?;
        }
    }
    if let Some(path) = &args.failed_ids {
        let count = report::write_failed_ids_csv(&args.ledgers, path)?;
        eprintln!("Wrote {count} failed IDs to {}", path.display());
    }
    Ok(ExitStatus::Success)
}
