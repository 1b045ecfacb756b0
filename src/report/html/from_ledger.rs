//! The ledger's records as the picture's [`Timeline`]: run lines become runs, outcome
//! lines events, and the summary rows are the report's own figures (the same ones the
//! text and `--json` show).

use std::path::Path;

use super::{Episode, Event, Outcome, RunInfo, Stop, StopReason, SummaryRow, Timeline};
use crate::api::failure_kind;
use crate::ledger::{Record, Status};
use crate::report::Report;
use crate::values::count::group_digits;

impl Timeline {
    /// Folds one ledger record (of the ledger at `path`) into the picture.
    pub fn push_record(&mut self, path: &Path, record: &Record) {
        match record {
            Record::Run(line) => self.runs.push(RunInfo {
                id: line.run.clone(),
                command: line.command.clone(),
                target: line.target.clone(),
                value_type: String::new(),
                started_at_ms: Some(line.started_at.timestamp_millis()),
                ledger: path.display().to_string(),
            }),
            Record::Reject(_) => {}
            Record::Pause(pause) => self.episodes.push(Episode {
                run: pause.run.clone(),
                started_at_ms: pause.started_at.timestamp_millis(),
                wait_ms: pause.wait_ms,
                admitted_per_s: Some(pause.admitted_per_s),
                pace_per_s: Some(pause.pace_per_s),
                answers: Some(pause.answers),
            }),
            Record::Stop(stop) => self.stops.push(Stop {
                run: stop.run.clone(),
                reason: StopReason::from_ledger(&stop.reason),
                at_ms: stop.at.timestamp_millis(),
                since_ms: None,
                until_ms: stop.until.map(|until| until.timestamp_millis()),
                detail: stop.detail.clone(),
            }),
            Record::Outcome(line) => {
                let outcome = match line.status {
                    Status::Blocked => Outcome::Blocked,
                    Status::Failed => Outcome::Failed,
                    Status::Refused => Outcome::Refused,
                    Status::Unblocked => Outcome::Unblocked,
                    Status::NotBlocked => Outcome::NotBlocked,
                    Status::Renewed => Outcome::Renewed,
                    Status::Rejected | Status::Run | Status::RateLimited | Status::Stopped => {
                        return;
                    }
                };
                let kind = (!outcome.is_success()).then(|| match &line.kind {
                    Some(kind) => kind.clone(),
                    None => failure_kind(line.http_status, line.error.as_deref()),
                });
                self.push(&Event {
                    run: &line.run,
                    started_at_ms: line.started_at.timestamp_millis(),
                    finished_at_ms: line.finished_at.timestamp_millis(),
                    ms: line.ms,
                    outcome,
                    values: line.ids.len() as u64,
                    attempts: line.attempts,
                    kind: kind.as_deref(),
                    error: line.error.as_deref(),
                });
            }
        }
    }

    /// The report's figures as the summary table, the runs' types, and the total the
    /// progress panel draws against (every value sent).
    pub fn finish_with(&mut self, report: &Report) {
        for run in &mut self.runs {
            if let Some(summary) = report.runs.iter().find(|r| r.run == run.id) {
                run.value_type = summary.value_type.clone().unwrap_or_default();
            }
        }
        self.total_values = Some(report.runs.iter().map(|run| run.values_sent).sum());
        for (value_type, counts) in &report.now {
            for (what, n) in [
                ("blocked now", counts.blocked),
                ("expired", counts.expired),
                ("failed", counts.failed),
                ("refused", counts.refused),
                ("unblocked", counts.unblocked),
            ] {
                if n > 0 {
                    self.summary.push(SummaryRow::new(
                        format!("{value_type}: {what}"),
                        group_digits(n),
                    ));
                }
            }
        }
        self.summary.push(SummaryRow::new(
            "rows rejected",
            group_digits(report.rejected_rows),
        ));
    }
}
