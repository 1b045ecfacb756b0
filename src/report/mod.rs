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
pub mod html;
mod text;

pub use failed_ids::{write_failed_ids, write_failed_ids_csv};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::failure_kind;
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
    /// Values by their latest state now, per type the ledgers name (`contact`, `email`,
    /// `ip`): a block counts as blocked only until its block-till.
    pub now: BTreeMap<String, StateCounts>,
    /// Every outcome line, per operation (`block`, `unblock`) and type.
    pub history: Vec<HistoryRow>,
    /// Input rows rejected (they carry no valid value, so they are counted by line).
    pub rejected_rows: u64,
    /// Ordered by when each run started.
    pub runs: Vec<RunSummary>,
    /// Every failed line (of every operation and type), grouped by kind of error, most
    /// frequent kind first.
    pub failures: Vec<FailureKind>,
    #[serde(skip)]
    latest: AllKinds,
}

/// What the lines of one operation on one type of value said, in all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// `block` (retries included) or `unblock`.
    pub op: String,
    #[serde(rename = "type")]
    pub value_type: String,
    /// Lines by status (`blocked`, `failed`, `refused`, `unblocked`, `not_blocked`).
    pub lines: BTreeMap<String, u64>,
    /// Values on those lines, by status.
    pub values: BTreeMap<String, u64>,
    /// Values the server said were blocked already (part of the blocked ones).
    pub already_blocked: u64,
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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    pub run: String,
    /// The command and target from the run's run line (`None`: the run has none, as in
    /// ledgers written before run lines existed).
    pub command: Option<String>,
    pub target: Option<String>,
    /// The type of value its lines name (`None`: it wrote none).
    #[serde(rename = "type")]
    pub value_type: Option<String>,
    /// The earliest `started_at` of the run's lines (`None`: the run sent nothing).
    #[serde(with = "timestamp::option")]
    pub started_at: Option<DateTime<Utc>>,
    /// The latest `finished_at` of the run's lines.
    #[serde(with = "timestamp::option")]
    pub finished_at: Option<DateTime<Utc>>,
    /// HTTP requests the run's lines say were made (their attempts: retries count; a
    /// line decided with no request, such as a value with no record to delete, none).
    pub requests: u64,
    pub failed_requests: u64,
    pub values_sent: u64,
    /// Values blocked, for a run that blocks (failed ones are not throughput).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<u64>,
    /// Values unblocked, for a run that unblocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unblocked: Option<u64>,
    pub rejected_rows: u64,
    /// Values done (blocked, or unblocked) per second between the first start and the
    /// last finish.
    pub values_per_second: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureKind {
    /// `http 500`, `timeout`, `dns`, `connection refused`, `invalid input`, `not
    /// blocked`, `unrecognized_answer`, `internal`, `not_listed`, ...
    pub kind: String,
    pub lines: u64,
    pub values: u64,
    /// The first few failed batches of this kind, in ledger order.
    pub examples: Vec<FailureExample>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureExample {
    pub run: String,
    pub op: String,
    #[serde(rename = "type")]
    pub value_type: String,
    pub batch: u64,
    pub source: String,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// Reads every ledger in `paths`, in order, into one report; `also` sees every record
/// on the way (the HTML picture folds them).
pub fn build_report(
    paths: &[PathBuf],
    mut also: impl FnMut(&Path, &Record),
) -> Result<Report, LedgerError> {
    let now = Utc::now();
    let mut report = Report {
        ledgers: Vec::with_capacity(paths.len()),
        now: BTreeMap::new(),
        history: Vec::new(),
        rejected_rows: 0,
        runs: Vec::new(),
        failures: Vec::new(),
        latest: AllKinds::default(),
    };
    let mut runs: HashMap<String, RunSummary> = HashMap::new();
    let mut history: BTreeMap<(String, String), HistoryRow> = BTreeMap::new();
    let mut failures: BTreeMap<String, FailureKind> = BTreeMap::new();
    for path in paths {
        let mut here = AllKinds::default();
        let mut latest = std::mem::take(&mut report.latest);
        let stats = ledger::read_records(path, |_, record| {
            here.apply(&record);
            latest.apply(&record);
            also(path, &record);
            report.count(&record, &mut runs, &mut history, &mut failures);
        })?;
        report.latest = latest;
        let failed_here = here.counts(now).iter().map(|(_, c)| c.failed).sum();
        report
            .ledgers
            .push(summarize_ledger(path, stats, failed_here));
    }
    report.now = report
        .latest
        .counts(now)
        .into_iter()
        .map(|(value_type, counts)| (value_type.as_str().to_owned(), counts))
        .collect();
    report.history = history.into_values().collect();
    report.runs = runs.into_values().collect();
    for run in &mut report.runs {
        run.values_per_second = throughput(run);
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
        .sort_by(|a, b| b.lines.cmp(&a.lines).then_with(|| a.kind.cmp(&b.kind)));
    Ok(report)
}

impl Report {
    /// The latest state of every value the ledgers name.
    pub fn latest(&self) -> &AllKinds {
        &self.latest
    }

    /// Values the server still refuses by name, every type.
    pub fn refused_now(&self) -> u64 {
        self.now.values().map(|counts| counts.refused).sum()
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
        history: &mut BTreeMap<(String, String), HistoryRow>,
        failures: &mut BTreeMap<String, FailureKind>,
    ) {
        let run = runs
            .entry(record.run().to_owned())
            .or_insert_with(|| RunSummary {
                run: record.run().to_owned(),
                command: None,
                target: None,
                value_type: None,
                started_at: None,
                finished_at: None,
                requests: 0,
                failed_requests: 0,
                values_sent: 0,
                blocked: None,
                unblocked: None,
                rejected_rows: 0,
                values_per_second: None,
            });
        let line = match record {
            Record::Run(line) => {
                run.command = Some(line.command.clone());
                run.target = Some(line.target.clone());
                return;
            }
            Record::Reject(_) => {
                self.rejected_rows += 1;
                run.rejected_rows += 1;
                return;
            }
            Record::Pause(_) | Record::Stop(_) => return,
            Record::Outcome(line) => line,
        };
        let n = line.ids.len() as u64;
        let op = line.op.ledger_op().unwrap_or("block");
        run.add_line(line, n);
        let row = history
            .entry((op.to_owned(), line.value_type.as_str().to_owned()))
            .or_insert_with(|| HistoryRow {
                op: op.to_owned(),
                value_type: line.value_type.as_str().to_owned(),
                ..HistoryRow::default()
            });
        *row.lines
            .entry(line.status.as_str().to_owned())
            .or_default() += 1;
        *row.values
            .entry(line.status.as_str().to_owned())
            .or_default() += n;
        if line.already {
            row.already_blocked += n;
        }
        if line.status != Status::Failed {
            return;
        }
        let kind = line
            .kind
            .clone()
            .unwrap_or_else(|| failure_kind(line.http_status, line.error.as_deref()));
        let entry = failures.entry(kind.clone()).or_insert_with(|| FailureKind {
            kind,
            lines: 0,
            values: 0,
            examples: Vec::new(),
        });
        entry.lines += 1;
        entry.values += n;
        if entry.examples.len() < EXAMPLES_PER_KIND {
            entry.examples.push(FailureExample {
                run: line.run.clone(),
                op: op.to_owned(),
                value_type: line.value_type.as_str().to_owned(),
                batch: line.batch,
                source: line.source.clone(),
                http_status: line.http_status,
                error: line.error.clone(),
            });
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
                    && line.blocks()
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
    /// Folds one outcome line into the run: its values, those done (blocked, or unblocked
    /// for a run that unblocks), its type and its time span.
    fn add_line(&mut self, line: &OutcomeRecord, n: u64) {
        self.requests += u64::from(line.attempts);
        if line.attempts > 0 {
            self.values_sent += n;
        }
        if line.status == Status::Failed {
            self.failed_requests += 1;
        }
        self.value_type
            .get_or_insert_with(|| line.value_type.as_str().to_owned());
        let (slot, done) = if line.op.blocks() {
            (
                &mut self.blocked,
                matches!(line.status, Status::Blocked | Status::Renewed),
            )
        } else {
            (&mut self.unblocked, line.status == Status::Unblocked)
        };
        *slot.get_or_insert(0) += u64::from(done) * n;
        self.started_at = Some(
            self.started_at
                .map_or(line.started_at, |at| at.min(line.started_at)),
        );
        self.finished_at = Some(
            self.finished_at
                .map_or(line.finished_at, |at| at.max(line.finished_at)),
        );
    }

    /// Values done, whatever the operation.
    pub fn done(&self) -> u64 {
        self.blocked.unwrap_or(0) + self.unblocked.unwrap_or(0)
    }
}

/// Values done per second over the run's lines; none for a run of less than a second (one
/// request of 1 ms is no rate: it read as "100,000 IDs/s").
fn throughput(run: &RunSummary) -> Option<f64> {
    let (start, end) = (run.started_at?, run.finished_at?);
    let millis = (end - start).num_milliseconds();
    (millis >= 1000).then(|| run.done() as f64 * 1000.0 / millis as f64)
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
        let report = build_report(&paths, |_, _| {}).expect("report");

        let contacts = &report.now["contact"];
        assert_eq!(
            (
                contacts.blocked,
                contacts.expired,
                contacts.failed,
                contacts.refused
            ),
            (4, 0, 2, 0)
        );
        assert_eq!(report.rejected_rows, 1);
        assert_eq!(report.history.len(), 1);
        let history = &report.history[0];
        assert_eq!(
            (history.op.as_str(), history.value_type.as_str()),
            ("block", "contact")
        );
        assert_eq!(history.lines["blocked"], 2);
        assert_eq!(history.lines["failed"], 2);
        assert_eq!(history.values["blocked"], 4);
        assert_eq!(history.values["failed"], 3);
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
                    run.requests,
                    run.values_sent,
                    run.rejected_rows,
                )
            })
            .collect();
        assert_eq!(runs, [("run-1", 2, 5, 1), ("run-2", 2, 2, 0)]);
        // run-1 blocked 3 of its 5 IDs between second 0 and second 2: the 2 failed ones
        // are not throughput.
        assert_eq!(report.runs[0].blocked, Some(3));
        assert_eq!(report.runs[0].unblocked, None);
        assert_eq!(report.runs[0].value_type.as_deref(), Some("contact"));
        assert_eq!(report.runs[0].values_per_second, Some(1.5));
        assert_eq!(report.runs[0].finished_at, Some(at(2, 0)));
        // A run whose lines span less than a second has no rate.
        let mut quick = report.runs[1].clone();
        assert_eq!(throughput(&quick), Some(0.5));
        quick.finished_at = quick
            .started_at
            .map(|at| at + chrono::Duration::milliseconds(999));
        assert_eq!(throughput(&quick), None);

        let kinds: Vec<(&str, u64, u64)> = report
            .failures
            .iter()
            .map(|kind| (kind.kind.as_str(), kind.lines, kind.values))
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
        let json = serde_json::to_value(build_report(&paths, |_, _| {}).expect("report"))
            .expect("serializes");
        assert_eq!(json["now"]["contact"]["failed"], 2);
        assert_eq!(json["runs"][0]["blocked"], 3);
        assert!(json["runs"][0].get("unblocked").is_none());
        assert_eq!(json["runs"][0]["started_at"], "2026-11-18T11:06:40.000Z");
        assert_eq!(json["failures"][0]["kind"], "http 500");
        assert_eq!(json["ledgers"][1]["bad_lines"][0]["line"], 3);
    }

    #[test]
    fn a_missing_ledger_fails_the_report_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = build_report(&[dir.path().join("gone.jsonl")], |_, _| {}).expect_err("missing");
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
                "connection refused",
            ),
            (None, Some("connection reset by peer"), "connection reset"),
            (
                None,
                Some(
                    "connection failed: client error (Connect): dns error: failed to lookup address information: Name or service not known",
                ),
                "dns",
            ),
            (
                None,
                Some(
                    "the server's certificate could not be verified (invalid peer certificate: UnknownIssuer)",
                ),
                "tls",
            ),
            (
                None,
                Some("no whole answer within 30s (--timeout)"),
                "timeout",
            ),
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
