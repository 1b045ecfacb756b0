//! `blockade report`: a summary of one or more results ledgers (this file: what is
//! counted), its text rendering (`text`), and the export of the IDs still failed
//! (`failed_ids`).
//!
//! Constraint kept here: everything is derived from the ledgers alone, streamed in
//! bounded memory (ID sets as roaring bitmaps; a few examples per failure kind), and
//! several ledgers (shards) merge as if their lines were read one file after another.
//! IDs are counted by their latest status, batches by line.

mod failed_ids;
pub(crate) mod html;
mod text;

pub use failed_ids::{write_failed_ids, write_failed_ids_csv};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use roaring::RoaringTreemap;
use serde::Serialize;

use crate::ledger::{self, LatestStatus, LedgerError, LedgerReadStats, Record, Status, timestamp};

/// How many failed batches are shown per kind of error.
const EXAMPLES_PER_KIND: usize = 3;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub ledgers: Vec<LedgerSummary>,
    pub ids: IdCounts,
    pub batches: BatchCounts,
    /// Ordered by when each run started.
    pub runs: Vec<RunSummary>,
    /// Every failed batch line, grouped by kind of error, most frequent kind first.
    pub failures: Vec<FailureKind>,
    /// Emails and IPs by their latest status, per type (`email`, `ip`); absent when the
    /// ledgers hold none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_type: BTreeMap<String, ledger::TextCounts>,
    #[serde(skip)]
    latest: LatestStatus,
}

#[derive(Clone, Debug, Serialize)]
pub struct LedgerSummary {
    pub path: PathBuf,
    pub lines: u64,
    pub unreadable_lines: u64,
    /// The first unreadable lines, with why each was skipped.
    pub bad_lines: Vec<BadLine>,
    /// IDs whose latest outcome in this ledger alone is failed.
    pub failed_ids: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IdCounts {
    /// IDs whose latest outcome is blocked.
    pub blocked: u64,
    /// Lines (IDs) the server said were blocked already (history, not current state).
    pub already_blocked_lines: u64,
    /// IDs whose latest outcome is failed (refused ones not included).
    pub failed: u64,
    /// IDs whose latest outcome is refused: the server refused each by name.
    pub refused: u64,
    /// Input rows rejected (they carry no valid ID, so they are counted by line).
    pub rejected_rows: u64,
    /// IDs on blocked lines the server said were blocked already (by line: an ID
    /// re-blocked twice counts twice). Part of the blocked lines, counted apart.
    pub already_blocked: u64,
    /// IDs whose latest outcome is an unblock's `unblocked` or `not_blocked`.
    pub unblocked: u64,
    /// IDs whose latest outcome is a failed unblock.
    pub unblock_failed: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    pub blocked: u64,
    pub failed: u64,
    pub refused: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    pub run: String,
    /// The command and target from the run's run line (`None`: the run has none, as in
    /// ledgers written before run lines existed).
    pub command: Option<String>,
    pub target: Option<String>,
    /// The earliest `started_at` of the run's batches (`None`: the run sent nothing).
    #[serde(with = "timestamp::option")]
    pub started_at: Option<DateTime<Utc>>,
    /// The latest `finished_at` of the run's batches.
    #[serde(with = "timestamp::option")]
    pub finished_at: Option<DateTime<Utc>>,
    pub batches: u64,
    pub failed_batches: u64,
    pub ids_sent: u64,
    /// IDs of the run's blocked batches: failed ones are not throughput (issue 12).
    pub ids_blocked: u64,
    pub rejected_rows: u64,
    /// IDs blocked per second between the first start and the last finish.
    pub ids_per_second: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureKind {
    /// `http 500`, `timeout`, `connection`, `invalid input`, `not blocked`,
    /// `unrecognized_answer`, `internal`, ...
    pub kind: String,
    pub batches: u64,
    pub ids: u64,
    /// The first few failed batches of this kind, in ledger order.
    pub examples: Vec<FailureExample>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureExample {
    pub run: String,
    pub batch: u64,
    pub source: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// Reads every ledger in `paths`, in order, into one report.
pub fn build_report(paths: &[PathBuf]) -> Result<Report, LedgerError> {
    let mut report = Report {
        ledgers: Vec::with_capacity(paths.len()),
        ids: IdCounts::default(),
        batches: BatchCounts::default(),
        runs: Vec::new(),
        failures: Vec::new(),
        by_type: BTreeMap::new(),
        latest: LatestStatus::default(),
    };
    let mut texts = [
        ledger::LatestText::new(crate::input::ValueType::Email),
        ledger::LatestText::new(crate::input::ValueType::Ip),
    ];
    let mut runs: HashMap<String, RunSummary> = HashMap::new();
    let mut failures: BTreeMap<String, FailureKind> = BTreeMap::new();
    for path in paths {
        let mut latest_here = LatestStatus::default();
        let mut texts_here = texts
            .each_ref()
            .map(|text| ledger::LatestText::new(text.value_type()));
        let stats = ledger::read_records(path, |line, record| {
            latest_here.apply(&record);
            if matches!(record, Record::Text(_)) {
                texts_here
                    .iter_mut()
                    .for_each(|text| text.apply(line, &record));
            }
            report.count(&record, &mut runs, &mut failures);
        })?;
        report.ledgers.push(summarize_ledger(
            path,
            stats,
            latest_here.failed_count() - latest_here.refused().len(),
        ));
        report.latest.merge_later(latest_here);
        for (text, here) in texts.iter_mut().zip(texts_here) {
            text.merge_later(here);
        }
    }
    for text in texts.iter().filter(|text| !text.is_empty()) {
        report
            .by_type
            .insert(text.value_type().as_str().to_owned(), text.counts());
    }
    report.ids.blocked = report.latest.blocked().len();
    report.ids.unblocked = report.latest.unblocked().len();
    report.ids.unblock_failed = report.latest.unblock_failed().len();
    report.ids.refused = report.latest.refused().len();
    report.ids.failed = report.latest.failed_count() - report.ids.refused;

    report.runs = runs.into_values().collect();
    for run in &mut report.runs {
        run.ids_per_second = throughput(run);
    }
    // Runs that sent nothing have no start; they sort last, by id.
    report.runs.sort_by(|a, b| {
        (a.started_at.is_none(), a.started_at, &a.run).cmp(&(
            b.started_at.is_none(),
            b.started_at,
            &b.run,
        ))
    });
    report.failures = failures.into_values().collect();
    report
        .failures
        .sort_by(|a, b| b.batches.cmp(&a.batches).then_with(|| a.kind.cmp(&b.kind)));
    Ok(report)
}

impl Report {
    /// IDs whose latest outcome is failed, grouped by `block_till`, earliest first.
    #[cfg(test)]
    pub fn failed_ids(&self) -> Vec<(DateTime<Utc>, RoaringTreemap)> {
        self.latest.failed_by_block_till()
    }

    /// IDs whose latest outcome is refused.
    pub fn refused_ids(&self) -> &RoaringTreemap {
        self.latest.refused()
    }

    /// The flags that reach the ledgers' target, when all their runs name one and the
    /// same (`--sandbox`, `--account NAME` or `--base-url URL`).
    pub fn target_flags(&self) -> Option<String> {
        let mut targets = self.runs.iter().filter_map(|run| run.target.as_deref());
        let first = targets.next()?;
        if targets.any(|other| other != first) {
            return None;
        }
        Some(target_flags(first))
    }

    fn count(
        &mut self,
        record: &Record,
        runs: &mut HashMap<String, RunSummary>,
        failures: &mut BTreeMap<String, FailureKind>,
    ) {
        let run = runs
            .entry(record.run().to_owned())
            .or_insert_with(|| RunSummary {
                run: record.run().to_owned(),
                command: None,
                target: None,
                started_at: None,
                finished_at: None,
                batches: 0,
                failed_batches: 0,
                ids_sent: 0,
                ids_blocked: 0,
                rejected_rows: 0,
                ids_per_second: None,
            });
        let batch = match record {
            Record::Run(line) => {
                run.command = Some(line.command.clone());
                run.target = Some(line.target.clone());
                return;
            }
            Record::Reject(_) => {
                self.ids.rejected_rows += 1;
                run.rejected_rows += 1;
                return;
            }
            // Unblock lines change the current state (`latest`), not the block counts; in
            // the runs table they count as their run's requests.
            Record::Unblock(line) => {
                let done = u64::from(line.status == Status::Unblocked) * line.ids.len() as u64;
                run.add_requests(line.ids.len(), done, line.started_at, line.finished_at);
                return;
            }
            // Emails and IPs are counted per type (`by_type`), and in their run's row.
            Record::Text(line) => {
                let done = matches!(line.status, Status::Blocked | Status::Unblocked);
                let done = u64::from(done) * line.ids.len() as u64;
                run.add_requests(line.ids.len(), done, line.started_at, line.finished_at);
                return;
            }
            Record::Batch(batch) => batch,
        };
        let blocked = u64::from(batch.status == Status::Blocked) * batch.ids.len() as u64;
        run.add_requests(
            batch.ids.len(),
            blocked,
            batch.started_at,
            batch.finished_at,
        );
        if batch.already {
            self.ids.already_blocked += batch.ids.len() as u64;
        }
        match batch.status {
            Status::Blocked => self.batches.blocked += 1,
            // Parsing turns every `rejected` line into a `Record::Reject`, so a batch
            // line here is blocked or failed.
            Status::Rejected | Status::Run | Status::Unblocked | Status::NotBlocked => {}
            Status::Refused => self.batches.refused += 1,
            Status::Failed => {
                self.batches.failed += 1;
                run.failed_batches += 1;
                let kind = batch
                    .kind
                    .clone()
                    .unwrap_or_else(|| failure_kind(batch.http_status, batch.error.as_deref()));
                let entry = failures.entry(kind.clone()).or_insert_with(|| FailureKind {
                    kind,
                    batches: 0,
                    ids: 0,
                    examples: Vec::new(),
                });
                entry.batches += 1;
                entry.ids += batch.ids.len() as u64;
                if entry.examples.len() < EXAMPLES_PER_KIND {
                    entry.examples.push(FailureExample {
                        run: batch.run.clone(),
                        batch: batch.batch,
                        source: batch.source.clone(),
                        http_status: batch.http_status,
                        error: batch.error.clone(),
                    });
                }
            }
        }
    }
}

/// The command-line flags that name `target` (a run line's target).
pub fn target_flags(target: &str) -> String {
    if target == crate::config::SANDBOX_TARGET {
        return "--sandbox".to_owned();
    }
    let account = target
        .strip_prefix("https://")
        .and_then(|host| host.strip_suffix(".acquire.io"))
        .filter(|name| name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    match account {
        Some(name) => format!("--account {name}"),
        None => format!(
            "--base-url {}",
            shlex::try_quote(target).map_or_else(|_| target.to_owned(), |q| q.into_owned())
        ),
    }
}

/// Streams the rejected rows and the lines of IDs still refused (their latest status)
/// of `paths` to `each`, in ledger order: for `report --rejected`.
pub fn for_each_rejected(
    paths: &[PathBuf],
    latest_refused: &RoaringTreemap,
    mut each: impl FnMut(RejectedLine),
) -> Result<(), LedgerError> {
    for path in paths {
        ledger::read_records(path, |_, record| match record {
            Record::Reject(reject) => each(RejectedLine {
                status: "rejected",
                source: reject.source,
                value: reject.input,
                reason: reject.error,
            }),
            Record::Batch(batch)
                if batch.status == Status::Refused
                    && batch.ids.iter().any(|id| latest_refused.contains(*id)) =>
            {
                each(RejectedLine {
                    status: "refused",
                    source: batch.source,
                    value: batch
                        .ids
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                    reason: batch.error.unwrap_or_default(),
                })
            }
            _ => {}
        })?;
    }
    Ok(())
}

/// One row of `report --rejected`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    pub status: &'static str,
    /// `path:line` (rejected) or `path:first-last` (the refused ID's batch).
    pub source: String,
    pub value: String,
    pub reason: String,
}

/// Names the kind of a failure for grouping: the HTTP status, or for failures without
/// an answer a normalised class read from the error text.
pub fn failure_kind(http_status: Option<u16>, error: Option<&str>) -> String {
    let error = error.unwrap_or_default().to_ascii_lowercase();
    match http_status {
        Some(200) => "not blocked".to_owned(),
        Some(400) if error.contains("invalid") => "invalid input".to_owned(),
        Some(status) => format!("http {status}"),
        None if error.contains("timed out") || error.contains("timeout") => "timeout".to_owned(),
        None if [
            "connect",
            "dns",
            "reset",
            "refused",
            "broken pipe",
            "unreachable",
        ]
        .iter()
        .any(|word| error.contains(word)) =>
        {
            "connection".to_owned()
        }
        None if error.contains("interrupt") || error.contains("cancel") => "interrupted".to_owned(),
        None if error.trim().is_empty() => "unknown".to_owned(),
        None => "other".to_owned(),
    }
}

fn summarize_ledger(path: &Path, stats: LedgerReadStats, failed_ids: u64) -> LedgerSummary {
    LedgerSummary {
        path: path.to_owned(),
        lines: stats.lines,
        unreadable_lines: stats.bad_line_count,
        bad_lines: stats
            .bad_lines
            .into_iter()
            .map(|(line, reason)| BadLine { line, reason })
            .collect(),
        failed_ids,
    }
}
impl RunSummary {
    /// Folds one request's line into the run: its values, those done (blocked, or
    /// unblocked for an unblock run), and its time span.
    fn add_requests(
        &mut self,
        values: usize,
        done: u64,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) {
        self.batches += 1;
        self.ids_sent += values as u64;
        self.ids_blocked += done;
        self.started_at = Some(self.started_at.map_or(started_at, |at| at.min(started_at)));
        self.finished_at = Some(
            self.finished_at
                .map_or(finished_at, |at| at.max(finished_at)),
        );
    }
}

fn throughput(run: &RunSummary) -> Option<f64> {
    let (start, end) = (run.started_at?, run.finished_at?);
    let millis = (end - start).num_milliseconds();
    (millis > 0).then(|| run.ids_blocked as f64 * 1000.0 / millis as f64)
}

#[cfg(test)]
pub(super) mod tests {
    //! Shared ledger fixtures for the report's tests, and the tests of what is counted.
    use super::*;
    use crate::ledger::record::tests::at;
    use crate::ledger::{BatchRecord, RejectRecord};

    pub(super) struct Line {
        run: &'static str,
        status: Status,
        ids: &'static [u64],
        till: DateTime<Utc>,
        http: Option<u16>,
        error: Option<&'static str>,
        source: &'static str,
        start: i64,
        seconds: i64,
    }

    #[test]
    fn target_flags_name_the_sandbox_an_account_or_a_base_url() {
        assert_eq!(target_flags("sandbox"), "--sandbox");
        assert_eq!(target_flags("https://acme.acquire.io"), "--account acme");
        assert_eq!(
            target_flags("http://127.0.0.1:8080"),
            "--base-url http://127.0.0.1:8080"
        );
    }

    pub(super) fn record(line: Line) -> Record {
        Record::Batch(BatchRecord {
            run: line.run.to_owned(),
            batch: line.start as u64,
            status: line.status,
            ids: line.ids.to_vec(),
            block_till: line.till,
            attempts: 1,
            http_status: line.http,
            error: line.error.map(str::to_owned),
            kind: None,
            block_ids: None,
            already: false,
            source: line.source.to_owned(),
            started_at: at(line.start, 0),
            finished_at: at(line.start + line.seconds, 0),
            ms: (line.seconds * 1000) as u64,
        })
    }

    pub(super) fn blocked(
        run: &'static str,
        ids: &'static [u64],
        source: &'static str,
        start: i64,
        seconds: i64,
    ) -> Record {
        record(Line {
            run,
            status: Status::Blocked,
            ids,
            till: at(1_000_000, 0),
            http: Some(200),
            error: None,
            source,
            start,
            seconds,
        })
    }

    pub(super) fn failed(
        run: &'static str,
        ids: &'static [u64],
        till: DateTime<Utc>,
        http: Option<u16>,
        error: &'static str,
        source: &'static str,
        start: i64,
    ) -> Record {
        record(Line {
            run,
            status: Status::Failed,
            ids,
            till,
            http,
            error: Some(error),
            source,
            start,
            seconds: 1,
        })
    }

    pub(super) fn write_ledger(path: &Path, records: &[Record], tail: &str) {
        let mut text: String = records
            .iter()
            .map(|record| serde_json::to_string(record).expect("serializes") + "\n")
            .collect();
        text.push_str(tail);
        std::fs::write(path, text).expect("ledger written");
    }

    /// Two shards: the second retries part of the first's failures.
    pub(super) fn two_ledgers(dir: &Path) -> Vec<PathBuf> {
        let first = dir.join("a.jsonl");
        let second = dir.join("b.jsonl");
        write_ledger(
            &first,
            &[
                blocked("run-1", &[1, 2, 3], "a.csv:1-3", 0, 2),
                failed(
                    "run-1",
                    &[4, 5],
                    at(1_000_000, 0),
                    Some(500),
                    "server error: boom",
                    "a.csv:4-5",
                    1,
                ),
                Record::Reject(RejectRecord {
                    run: "run-1".to_owned(),
                    status: Status::Rejected,
                    source: "a.csv:6".to_owned(),
                    input: "abc".to_owned(),
                    error: "not a positive integer".to_owned(),
                }),
            ],
            "",
        );
        write_ledger(
            &second,
            &[
                blocked("run-2", &[4], "retry of a.csv:4-5", 100, 1),
                failed(
                    "run-2",
                    &[6],
                    at(2_000_000, 0),
                    None,
                    "request timed out after 30s",
                    "b.csv:1-1",
                    101,
                ),
            ],
            "{\"run\":\"run-2\",\"ba",
        );
        vec![first, second]
    }

    #[test]
    fn two_ledgers_merge_into_one_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = two_ledgers(dir.path());
        let report = build_report(&paths).expect("report");

        assert_eq!(
            report.ids,
            IdCounts {
                blocked: 4,
                already_blocked_lines: 0,
                failed: 2,
                refused: 0,
                rejected_rows: 1,
                already_blocked: 0,
                unblocked: 0,
                unblock_failed: 0,
            }
        );
        assert_eq!(
            report.batches,
            BatchCounts {
                blocked: 2,
                failed: 2,
                refused: 0
            }
        );
        let lines: Vec<(u64, u64, u64)> = report
            .ledgers
            .iter()
            .map(|l| (l.lines, l.unreadable_lines, l.failed_ids))
            .collect();
        assert_eq!(lines, [(3, 0, 2), (3, 1, 1)]);
        assert_eq!(report.ledgers[1].bad_lines[0].line, 3);

        let runs: Vec<(&str, u64, u64, u64)> = report
            .runs
            .iter()
            .map(|run| {
                (
                    run.run.as_str(),
                    run.batches,
                    run.ids_sent,
                    run.rejected_rows,
                )
            })
            .collect();
        assert_eq!(runs, [("run-1", 2, 5, 1), ("run-2", 2, 2, 0)]);
        // run-1 blocked 3 of its 5 IDs between second 0 and second 2: the 2 failed ones
        // are not throughput.
        assert_eq!(report.runs[0].ids_blocked, 3);
        assert_eq!(report.runs[0].ids_per_second, Some(1.5));
        assert_eq!(report.runs[0].finished_at, Some(at(2, 0)));

        let kinds: Vec<(&str, u64, u64)> = report
            .failures
            .iter()
            .map(|kind| (kind.kind.as_str(), kind.batches, kind.ids))
            .collect();
        assert_eq!(kinds, [("http 500", 1, 2), ("timeout", 1, 1)]);
        assert_eq!(report.failures[0].examples[0].source, "a.csv:4-5");

        let failed: Vec<(DateTime<Utc>, Vec<u64>)> = report
            .failed_ids()
            .into_iter()
            .map(|(till, ids)| (till, ids.iter().collect()))
            .collect();
        assert_eq!(
            failed,
            [(at(1_000_000, 0), vec![5]), (at(2_000_000, 0), vec![6])]
        );
    }

    #[test]
    fn the_json_form_keeps_contract_timestamps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = two_ledgers(dir.path());
        let json = serde_json::to_value(build_report(&paths).expect("report")).expect("serializes");
        assert_eq!(json["ids"]["failed"], 2);
        assert_eq!(json["runs"][0]["started_at"], "2026-11-18T11:06:40.000Z");
        assert_eq!(json["failures"][0]["kind"], "http 500");
        assert_eq!(json["ledgers"][1]["bad_lines"][0]["line"], 3);
    }

    #[test]
    fn a_missing_ledger_fails_the_report_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = build_report(&[dir.path().join("gone.jsonl")]).expect_err("missing");
        assert!(error.to_string().contains("gone.jsonl"), "{error}");
    }

    #[test]
    fn failure_kinds_are_normalised() {
        let cases = [
            (Some(500), Some("server error"), "http 500"),
            (Some(429), Some("waited 15m on 429"), "http 429"),
            (
                Some(400),
                Some("ERROR_INVALID_INPUT: id 0"),
                "invalid input",
            ),
            (Some(400), Some("bad request"), "http 400"),
            (
                Some(200),
                Some("the endpoint answered {\"data\": false}"),
                "not blocked",
            ),
            (None, Some("operation timed out"), "timeout"),
            (None, Some("Timeout after 30s"), "timeout"),
            (
                None,
                Some("error trying to connect: Connection refused"),
                "connection",
            ),
            (None, Some("connection reset by peer"), "connection"),
            (None, Some("cancelled by SIGINT"), "interrupted"),
            (None, None, "unknown"),
            (None, Some("something odd"), "other"),
        ];
        for (status, error, expected) in cases {
            assert_eq!(
                failure_kind(status, error),
                expected,
                "{status:?} {error:?}"
            );
        }
    }
}
