//! `blockade report`: a summary of one or more results ledgers (this file: what is
//! counted), its text rendering (`text`), and the export of the values still failed
//! (`failed_ids`).
//!
//! Constraint kept here: everything is derived from the ledgers alone, streamed in
//! bounded memory (the latest state per value of each kind in its compact map; a few
//! examples per failure kind), and several ledgers (shards) merge as if their lines were
//! read one file after another. Values are counted by their latest state (a block counts
//! as blocked only until its block-till), requests by line, for every kind of value.

mod failed_ids;
pub(crate) mod html;
mod text;

pub use failed_ids::{write_failed_ids, write_failed_ids_csv};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ledger::{
    self, Latest, LedgerError, LedgerReadStats, OutcomeRecord, Record, State, StateCounts, Status,
    timestamp,
};
use crate::values::{Contact, Kind, Text, ValueType};

/// How many failed batches are shown per kind of error.
const EXAMPLES_PER_KIND: usize = 3;

#[derive(Debug, Serialize)]
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
    pub by_type: BTreeMap<String, StateCounts>,
    #[serde(skip)]
    latest: AllKinds,
}

/// The latest state of every value of every kind, read in one pass.
pub struct AllKinds {
    pub contact: Latest<Contact>,
    /// One per string type (`ValueType::ALL` but contact).
    pub text: Vec<Latest<Text>>,
}

impl Default for AllKinds {
    fn default() -> Self {
        AllKinds {
            contact: Latest::new(Contact),
            text: ValueType::ALL
                .into_iter()
                .filter_map(ValueType::text_kind)
                .map(Latest::new)
                .collect(),
        }
    }
}

impl std::fmt::Debug for AllKinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllKinds").finish_non_exhaustive()
    }
}

impl AllKinds {
    pub fn apply(&mut self, record: &Record) {
        self.contact.apply(record);
        for latest in &mut self.text {
            latest.apply(record);
        }
    }

    /// Whether any value of `line` is still in `state` (its latest line set it).
    pub fn still(&self, line: &OutcomeRecord, state: State) -> bool {
        fn any<K: Kind>(latest: &Latest<K>, line: &OutcomeRecord, state: State) -> bool {
            latest
                .of_kind(line)
                .is_some_and(|values| values.iter().any(|v| latest.says(line, v, state)))
        }
        any(&self.contact, line, state) || self.text.iter().any(|l| any(l, line, state))
    }

    /// Counts per type at `now`, for the types the ledgers name.
    pub fn counts(&self, now: DateTime<Utc>) -> Vec<(ValueType, StateCounts)> {
        let mut out = Vec::new();
        if !self.contact.is_empty() {
            out.push((ValueType::Contact, self.contact.counts(now)));
        }
        for latest in self.text.iter().filter(|l| !l.is_empty()) {
            out.push((latest.kind().value_type(), latest.counts(now)));
        }
        out
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LedgerSummary {
    pub path: PathBuf,
    pub lines: u64,
    pub unreadable_lines: u64,
    /// The first unreadable lines, with why each was skipped.
    pub bad_lines: Vec<BadLine>,
    /// Values (of every kind) whose latest outcome in this ledger alone is failed: what
    /// its `retry` would re-send.
    pub failed_ids: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IdCounts {
    /// IDs whose latest outcome is blocked, until a time still to come.
    pub blocked: u64,
    /// IDs blocked once, whose block has run out.
    pub expired: u64,
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
    let now = Utc::now();
    let mut report = Report {
        ledgers: Vec::with_capacity(paths.len()),
        ids: IdCounts::default(),
        batches: BatchCounts::default(),
        runs: Vec::new(),
        failures: Vec::new(),
        by_type: BTreeMap::new(),
        latest: AllKinds::default(),
    };
    let mut runs: HashMap<String, RunSummary> = HashMap::new();
    let mut failures: BTreeMap<String, FailureKind> = BTreeMap::new();
    for path in paths {
        let mut here = AllKinds::default();
        let mut latest = std::mem::take(&mut report.latest);
        let stats = ledger::read_records(path, |_, record| {
            here.apply(&record);
            latest.apply(&record);
            report.count(&record, &mut runs, &mut failures);
        })?;
        report.latest = latest;
        let failed_here = here.counts(now).iter().map(|(_, c)| c.failed).sum();
        report
            .ledgers
            .push(summarize_ledger(path, stats, failed_here));
    }
    for (value_type, counts) in report.latest.counts(now) {
        if value_type == ValueType::Contact {
            report.ids.blocked = counts.blocked;
            report.ids.expired = counts.expired;
            report.ids.failed = counts.failed;
            report.ids.refused = counts.refused;
            report.ids.unblocked = counts.unblocked;
            report.ids.unblock_failed = counts.unblock_failed;
        } else {
            report
                .by_type
                .insert(value_type.as_str().to_owned(), counts);
        }
    }

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
    /// The latest state of every value the ledgers name.
    pub fn latest(&self) -> &AllKinds {
        &self.latest
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
        let line = match record {
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
            Record::Outcome(line) => line,
        };
        let n = line.ids.len() as u64;
        let done = matches!(line.status, Status::Blocked | Status::Unblocked);
        run.add_requests(
            n as usize,
            u64::from(done) * n,
            line.started_at,
            line.finished_at,
        );
        // Unblock lines and other types change the current state (`latest`); the block
        // counts below are the contact blocks' (issue 17 gives every kind its own).
        if !line.op.blocks() || line.value_type != ValueType::Contact {
            return;
        }
        if line.already {
            self.ids.already_blocked += n;
        }
        match line.status {
            Status::Blocked => self.batches.blocked += 1,
            // Parsing turns every `rejected` line into a `Record::Reject`.
            Status::Rejected | Status::Run | Status::Unblocked | Status::NotBlocked => {}
            Status::Refused => self.batches.refused += 1,
            Status::Failed => {
                self.batches.failed += 1;
                run.failed_batches += 1;
                let kind = line
                    .kind
                    .clone()
                    .unwrap_or_else(|| failure_kind(line.http_status, line.error.as_deref()));
                let entry = failures.entry(kind.clone()).or_insert_with(|| FailureKind {
                    kind,
                    batches: 0,
                    ids: 0,
                    examples: Vec::new(),
                });
                entry.batches += 1;
                entry.ids += n;
                if entry.examples.len() < EXAMPLES_PER_KIND {
                    entry.examples.push(FailureExample {
                        run: line.run.clone(),
                        batch: line.batch,
                        source: line.source.clone(),
                        http_status: line.http_status,
                        error: line.error.clone(),
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

/// Streams the rejected rows and the lines of values still refused (their latest state),
/// of every kind, of `paths` to `each`, in ledger order: for `report --rejected`.
pub fn for_each_rejected(
    paths: &[PathBuf],
    latest: &AllKinds,
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
            Record::Outcome(line)
                if line.status == Status::Refused
                    && line.op.blocks()
                    && latest.still(&line, State::Refused) =>
            {
                each(RejectedLine {
                    status: "refused",
                    value: line.ids.texts().collect::<Vec<_>>().join(" "),
                    source: line.source,
                    reason: line.error.unwrap_or_default(),
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
    use crate::ledger::RejectRecord;
    use crate::ledger::record::tests::at;
    use crate::ledger::record::tests::batch;

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
        let mut record = batch(line.run, line.status, line.ids, line.till);
        record.batch = line.start as u64;
        record.http_status = line.http;
        record.error = line.error.map(str::to_owned);
        record.source = line.source.to_owned();
        record.started_at = at(line.start, 0);
        record.finished_at = at(line.start + line.seconds, 0);
        record.ms = (line.seconds * 1000) as u64;
        Record::Outcome(record)
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
            // Far ahead: a block counts as blocked only until its block-till.
            till: at(1_000_000_000, 0),
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
                expired: 0,
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

        assert_eq!(
            report.latest().contact.entry(5).map(|e| (e.state, e.till)),
            Some((State::Failed, Some(at(1_000_000, 0))))
        );
        assert_eq!(
            report.latest().contact.entry(6).map(|e| (e.state, e.till)),
            Some((State::Failed, Some(at(2_000_000, 0))))
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
