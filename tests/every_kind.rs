//! Every behaviour of the pipeline, written once and run for each kind of value (issue 15
//! §6): faults and retry, 429s, kill -9 and interrupts then `--resume`, `block_ids` from a
//! records answer, undo and unblock, and report. Each test is a `fn(Kind)` over a
//! [`Scenario`]; `for_kinds!` runs it for contacts and emails, and for IP addresses where
//! the normal form is at stake (the input spells IPv6 addresses written out in capitals,
//! the ledger and the account hold the canonical form). Emails and IPs share every stage
//! after reading (`values::Text`), so the faults run for contacts and emails.
//!
//! Every test checks both sides: what the imitation's account holds and accepted
//! (`/_mock/records`, `/_mock/stats`) and what the ledger says. No test times anything:
//! pacing is made fast with `--rate` and a 1–5 ms backoff, and tests count what arrived.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::scenario::*;
use crate::util::*;

const FUTURE: &str = "2099-01-01T00:00:00.000Z";
const PAST: &str = "2020-01-01T00:00:00.000Z";

// ---- 200 {"data": true}: blocked in one attempt, every value once, in normal form ----

fn blocked_in_one_attempt(kind: Kind) {
    let s = Scenario::new(kind, 250);
    // The first ten again, in normal form: duplicates of the spelled ones.
    let mut text = std::fs::read_to_string(&s.input).unwrap();
    for value in &s.values[..10] {
        text += &format!("{value},again\n");
    }
    std::fs::write(&s.input, text).unwrap();
    let mock = Mock::start(&[]);
    let ran = run(&mut s.block(&mock, &["--block-for", "1d", "--batch-size", "50"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("10 duplicates"),
        "two spellings of a value are one value: {}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains(&format!("blocked   250 {}", kind.plural())),
        "{}",
        ran.stdout
    );

    s.assert_blocked_exactly_once(&mock, &s.values);
    assert_eq!(mock.requests(), 5);
    assert_eq!(mock.answered(200), 5);
    let ledger = s.ledger();
    assert_eq!(ledger.len(), 5);
    for line in &ledger {
        assert!(kind.names(line), "{line}");
        assert_eq!(line["status"], "blocked", "{line}");
        assert_eq!(line["attempts"], 1, "{line}");
        assert_eq!(line["http_status"], 200, "{line}");
        assert!(line["error"].is_null(), "{line}");
    }
    assert_eq!(s.ledger_values("blocked"), s.all());
}
for_kinds!(blocked_in_one_attempt: contact, email, ip);

// ---- Faults: retried up to --max-attempts (an odd answer: not retried), then failed;
// ---- `retry` against the server, healthy again, blocks them ----

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 200 `{"data": false}`.
    DataFalse,
    /// 500 or 503.
    ServerError,
    /// The connection dropped without an answer.
    Reset,
    /// A 200 in neither documented form.
    OddAnswer,
}

impl Fault {
    fn mock_args(self) -> &'static [&'static str] {
        match self {
            Fault::DataFalse => &["--false-rate", "1"],
            Fault::ServerError => &["--fail-rate", "1", "--seed", "5"],
            Fault::Reset => &["--reset-rate", "1"],
            Fault::OddAnswer => &["--odd-answer-rate", "1"],
        }
    }

    /// Attempts per batch with `--max-attempts 3`.
    fn attempts(self) -> u64 {
        match self {
            Fault::OddAnswer => 1,
            _ => 3,
        }
    }
}

/// 30 values in 3 batches of 10 against an imitation that always answers with `fault`.
fn fault_then_retry(kind: Kind, fault: Fault) {
    let s = Scenario::new(kind, 30);
    let mock = Mock::start(fault.mock_args());
    let ran = run(&mut s.block(
        &mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--max-attempts",
            "3",
        ],
    ));
    assert_eq!(ran.code, 1, "some batches failed: {}", ran.all());
    assert!(ran.stdout.contains("blockade retry"), "{}", ran.stdout);

    assert!(kind.at_account(&mock).is_empty(), "nothing may be blocked");
    assert_eq!(received(&mock), 0);
    let requests = 3 * fault.attempts();
    assert_eq!(mock.requests(), requests, "3 batches × attempts");
    match fault {
        Fault::DataFalse | Fault::OddAnswer => assert_eq!(mock.answered(200), requests),
        Fault::ServerError => assert_eq!(mock.answered(500) + mock.answered(503), requests),
        Fault::Reset => assert_eq!(mock.answered(0), requests, "every request dropped"),
    }
    let ledger = s.ledger();
    assert_eq!(ledger.len(), 3);
    for line in &ledger {
        assert!(kind.names(line), "{line}");
        assert_eq!(line["status"], "failed", "{line}");
        assert_eq!(line["attempts"], fault.attempts(), "{line}");
        let error = line["error"].as_str().unwrap_or_else(|| panic!("{line}"));
        match fault {
            Fault::DataFalse => {
                assert_eq!(line["http_status"], 200, "{line}");
                assert!(error.contains("not blocked"), "{error}");
            }
            Fault::ServerError => {
                let status = u(&line["http_status"]);
                assert!(status == 500 || status == 503, "{line}");
                assert!(error.contains(&format!("HTTP {status}")), "{error}");
            }
            Fault::Reset => assert!(line["http_status"].is_null(), "no answer: {line}"),
            Fault::OddAnswer => {
                assert_eq!(line["http_status"], 200, "{line}");
                assert_eq!(line["kind"], "unrecognized_answer", "{line}");
            }
        }
    }
    assert_eq!(s.ledger_values("failed"), s.all());

    // The same server, healthy again (retry trusts only lines of the same target).
    let healthy = Mock::restart(mock, &[]);
    let ran = run(&mut s.retry(&healthy, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    s.assert_blocked_exactly_once(&healthy, &s.values);
    let latest = s.latest();
    assert_eq!(latest.len(), s.values.len());
    assert!(
        latest.values().all(|status| status == "blocked"),
        "{latest:?}"
    );
    // Nothing is left to retry.
    let ran = run(&mut s.retry(&healthy, &["--dry-run"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("re-send   0 failed"), "{}", ran.stdout);
    ran.assert_no_key();
    s.work.assert_key_nowhere();
}

fn data_false_then_retry(kind: Kind) {
    fault_then_retry(kind, Fault::DataFalse);
}
for_kinds!(data_false_then_retry: contact, email);

fn server_errors_then_retry(kind: Kind) {
    fault_then_retry(kind, Fault::ServerError);
}
for_kinds!(server_errors_then_retry: contact, email);

fn resets_then_retry(kind: Kind) {
    fault_then_retry(kind, Fault::Reset);
}
for_kinds!(resets_then_retry: contact, email);

fn odd_answer_is_not_retried_then_retry(kind: Kind) {
    fault_then_retry(kind, Fault::OddAnswer);
}
for_kinds!(odd_answer_is_not_retried_then_retry: contact, email);

fn transient_faults_are_retried_until_blocked(kind: Kind) {
    // With 48% of answers good and 30 attempts, a batch failing for good is ~1e-9 likely.
    let s = Scenario::new(kind, 400);
    let mock = Mock::start(&["--false-rate", "0.4", "--fail-rate", "0.2", "--seed", "11"]);
    let ran = run(&mut s.block(
        &mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--max-attempts",
            "30",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    s.assert_blocked_exactly_once(&mock, &s.values);
    let ledger = s.ledger();
    assert_eq!(ledger.len(), 40);
    let attempts: u64 = ledger.iter().map(|l| u(&l["attempts"])).sum();
    assert_eq!(
        attempts,
        mock.requests(),
        "every attempt in the ledger is one request the imitation saw"
    );
    assert!(
        ledger.iter().any(|l| u(&l["attempts"]) > 1),
        "some batches needed a retry"
    );
}
for_kinds!(transient_faults_are_retried_until_blocked: contact, email);

/// Nothing lost under mixed faults; `retry` blocks exactly the rest; the report agrees.
fn faults_lose_nothing_and_retry_blocks_the_rest(kind: Kind) {
    let s = Scenario::new(kind, 1_000);
    let faulty = Mock::start(&["--fail-rate", "0.3", "--reset-rate", "0.05", "--seed", "42"]);
    // Two attempts leave ~11% of the 100 batches failed: some surely are.
    let ran = run(&mut s.block(
        &faulty,
        &[
            "--block-for",
            "7d",
            "--batch-size",
            "10",
            "--max-attempts",
            "2",
        ],
    ));
    assert_eq!(ran.code, 1, "{}", ran.all());

    let ledger = s.ledger();
    let blocked = s.ledger_values("blocked");
    let failed = s.ledger_values("failed");
    assert!(!failed.is_empty(), "the faults failed some batches");
    assert!(
        blocked.is_disjoint(&failed),
        "no value both blocked and failed"
    );
    s.assert_blocked_exactly_once(&faulty, &blocked);
    let covered: BTreeSet<String> = blocked.union(&failed).cloned().collect();
    assert_eq!(covered, s.all(), "every value blocked or failed: none lost");
    for line in lines_with_status(&ledger, "failed") {
        assert_eq!(line["attempts"], 2, "{line}");
        let status = &line["http_status"];
        assert!(status.is_null() || status == 500 || status == 503, "{line}");
    }
    let attempts: u64 = ledger.iter().map(|l| u(&l["attempts"])).sum();
    assert_eq!(attempts, faulty.requests());

    let healthy = Mock::restart(faulty, &[]);
    let ran = run(&mut s.retry(&healthy, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    s.assert_blocked_exactly_once(&healthy, &failed);

    let report = s.report_json(&[]);
    let counts = s.counts(&report);
    assert_eq!(counts["failed"], 0, "{report}");
    assert_eq!(u(&counts["blocked"]), s.values.len() as u64, "{report}");
    let latest = s.latest();
    assert_eq!(latest.len(), s.values.len());
    assert!(
        latest.values().all(|status| status == "blocked"),
        "{latest:?}"
    );
}
for_kinds!(faults_lose_nothing_and_retry_blocks_the_rest: contact, email);

// ---- 429: the pool waits, no attempt used; past --max-wait the run stops ----

fn a_429_episode_ends_all_blocked_without_using_attempts(kind: Kind) {
    let s = Scenario::new(kind, 100);
    let mock = Mock::start(&["--rate-limit", "5", "--retry-after", "1"]);
    let ran = run(&mut s.block(
        &mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--concurrency",
            "4",
            "--max-attempts",
            "1",
            "--summary-json",
            "summary.json",
        ],
    ));
    // `--max-attempts 1`: had a 429 used an attempt, batches would have failed.
    assert_eq!(ran.code, 0, "{}", ran.all());

    s.assert_blocked_exactly_once(&mock, &s.values);
    let storm = mock.answered(429);
    assert!(storm > 0, "the imitation answered 429s: {}", mock.stats());
    // The whole pool waits Retry-After (1 s) after a 429, so each wait costs at most the
    // requests already in flight (concurrency 4), once per second of the run. A pool that
    // did not wait would hammer the imitation with hundreds of 429s a second.
    let seconds = mock.stats()["per_second"].as_array().unwrap().len() as u64;
    assert!(
        storm <= 4 * (seconds + 1),
        "{storm} 429s over {seconds} s: the pool did not wait"
    );
    assert_eq!(mock.answered(200), 10);
    assert_eq!(mock.requests(), 10 + storm);
    let ledger = s.ledger();
    // A line per 429 episode, their answers the imitation's 429s; then the outcomes.
    let (pauses, outcomes): (Vec<&Value>, Vec<&Value>) = ledger
        .iter()
        .partition(|line| line["status"] == "rate_limited");
    assert!(!pauses.is_empty(), "{ledger:?}");
    let answers: u64 = pauses.iter().map(|p| p["answers"].as_u64().unwrap()).sum();
    assert_eq!(answers, storm, "{pauses:?}");
    assert_eq!(outcomes.len(), 10);
    for line in outcomes {
        assert_eq!(line["status"], "blocked", "{line}");
        assert_eq!(line["attempts"], 1, "a 429 does not use an attempt: {line}");
    }
    assert!(ran.stdout.contains("429s"), "summary: {}", ran.stdout);
    assert_eq!(
        s.work.summary("summary.json")["rate_limited"],
        storm,
        "the run counted every 429 the imitation sent"
    );
}
for_kinds!(a_429_episode_ends_all_blocked_without_using_attempts: contact, email);

fn a_429_wait_beyond_max_wait_stops_the_run_and_counts_the_rest_not_sent(kind: Kind) {
    let s = Scenario::new(kind, 50);
    // One request a second, and each 429 asks for a 1 s wait: over the 500 ms allowed.
    let mock = Mock::start(&["--rate-limit", "1", "--retry-after", "1"]);
    let ran = run(&mut s.block(
        &mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--concurrency",
            "5",
            "--max-wait",
            "500ms",
            "--summary-json",
            "summary.json",
        ],
    ));
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert!(
        ran.stdout.contains("--max-wait") && ran.stdout.contains("asked to wait until"),
        "says why it stopped and when to come back: {}",
        ran.stdout
    );
    assert!(ran.stdout.contains("--resume"), "{}", ran.stdout);

    // A batch turned away by a 429 was not acted on: it is not sent, not failed.
    let ledger = s.ledger();
    assert!(
        lines_with_status(&ledger, "failed").is_empty(),
        "{ledger:?}"
    );
    s.assert_blocked_exactly_once(&mock, &s.ledger_values("blocked"));
    let summary = s.work.summary("summary.json");
    assert_eq!(
        u(&summary["blocked"]) + u(&summary["not_sent"]),
        s.values.len() as u64,
        "every value blocked or counted as not sent: {summary}"
    );
    assert!(u(&summary["not_sent"]) > 0, "{summary}");
    assert_eq!(summary["accounted"], true, "{summary}");
    // The ledger says so too, with when to come back.
    let stops = lines_with_status(&ledger, "stopped");
    assert_eq!(stops.len(), 1, "{ledger:?}");
    assert_eq!(stops[0]["reason"], "max_wait");
    assert_eq!(summary["stopped_by"], "max_wait", "{summary}");
    assert!(stops[0]["until"].is_string(), "{:?}", stops[0]);
}
for_kinds!(a_429_wait_beyond_max_wait_stops_the_run_and_counts_the_rest_not_sent: contact, email);

// ---- kill -9 mid-run (and a torn last line), SIGINT: then --resume; nothing lost ----

const SLOW_VALUES: u64 = 5_000;
const SLOW_BATCH: u64 = 10;
const SLOW_CONCURRENCY: u64 = 4;

/// Starts a slow `block` of the scenario's values as a child and waits until the ledger
/// shows a few blocked batches.
fn start_slow_run(s: &Scenario, mock: &Mock) -> Running {
    let mut running = Running::spawn(&mut s.block(
        mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            &SLOW_BATCH.to_string(),
            "--concurrency",
            &SLOW_CONCURRENCY.to_string(),
            "--rate",
            "50/s",
            "--summary-json",
            "first.json",
        ],
    ));
    running.wait_until(
        Duration::from_secs(30),
        "the ledger has 3 blocked lines",
        || {
            let (lines, _) = read_ledger_tolerant(&s.work.ledger_path());
            lines_with_status(&lines, "blocked").len() >= 3
        },
    );
    running
}

fn kill_then_resume(kind: Kind, tear_last_line: bool) {
    let s = Scenario::new(kind, SLOW_VALUES);
    // Slow answers, so that some requests are in flight when the kill lands.
    let slow = Mock::start(&["--latency", "20ms..80ms"]);
    let mut running = start_slow_run(&s, &slow);
    running.child.kill().expect("SIGKILL the run");
    let status = running.child.wait().expect("reap");
    assert_eq!(status.code(), None, "killed by a signal");

    let last = s.values.last().unwrap().clone();
    if tear_last_line {
        // What a crash in the middle of a write would leave: half a line, no newline.
        // It names a value that was not sent yet; the reader must not trust it.
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(s.work.ledger_path())
            .unwrap();
        let mut torn = json!({"run": "torn", "batch": 999, "status": "blocked"});
        if kind != Kind::Contact {
            torn["type"] = json!(kind.name());
        }
        let torn = torn.to_string();
        let torn = torn.trim_end_matches('}');
        write!(file, r#"{torn},"ids":[{},"#, kind.json(&last)).unwrap();
    }
    let (before, bad_before) = read_ledger_tolerant(&s.work.ledger_path());
    assert_eq!(bad_before, usize::from(tear_last_line));
    let recorded = kind.values_with_status(&before, "blocked");
    assert!(!recorded.contains(&last), "the last value was not sent yet");

    // What the first run got blocked: what the ledger recorded, and what was in flight
    // at the kill (accepted, not recorded). The imitation may still be answering those
    // (its latency is at most 80 ms): let it finish before looking.
    std::thread::sleep(Duration::from_millis(300));
    let first: BTreeSet<String> = kind.at_account(&slow).into_keys().collect();
    assert_eq!(
        received(&slow),
        first.len() as u64,
        "nothing sent twice so far"
    );
    assert!(
        recorded.is_subset(&first),
        "the ledger claims only what was blocked"
    );
    let in_doubt: BTreeSet<String> = first.difference(&recorded).cloned().collect();
    assert!(
        in_doubt.len() as u64 <= SLOW_CONCURRENCY * SLOW_BATCH,
        "only the batches in flight at the kill are unrecorded: {}",
        in_doubt.len()
    );

    // The same target (address) again, now fast: a restarted server.
    let fast = Mock::restart(slow, &[]);
    let ran = run(&mut s.block(
        &fast,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--resume",
            "--summary-json",
            "resume.json",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let resumed = s.work.summary("resume.json");
    assert_eq!(
        u(&resumed["already_blocked"]),
        recorded.len() as u64,
        "--resume skipped exactly what the ledger showed blocked"
    );
    // Exactly what the ledger did not show blocked was sent, each once: every value is
    // blocked, and over both runs only the in-doubt ones were sent twice.
    let rest: BTreeSet<String> = s.all().difference(&recorded).cloned().collect();
    s.assert_blocked_exactly_once(&fast, &rest);
    assert!(rest.contains(&last));

    let (after, bad_after) = read_ledger_tolerant(&s.work.ledger_path());
    assert_eq!(bad_after, usize::from(tear_last_line), "only the torn line");
    let latest = kind.latest(&after);
    assert_eq!(latest.len(), s.values.len());
    assert!(latest.values().all(|status| status == "blocked"));
    let report = s.report_json(&[]);
    assert_eq!(
        u(&report["ledgers"][0]["unreadable_lines"]),
        u64::from(tear_last_line)
    );
    assert_eq!(u(&s.counts(&report)["blocked"]), SLOW_VALUES);
    assert_eq!(s.counts(&report)["failed"], 0);
}

fn kill_9_mid_run_then_resume_blocks_everything(kind: Kind) {
    kill_then_resume(kind, false);
}
for_kinds!(kill_9_mid_run_then_resume_blocks_everything: contact, email);

fn kill_9_with_a_torn_last_line_then_resume_blocks_everything(kind: Kind) {
    kill_then_resume(kind, true);
}
for_kinds!(kill_9_with_a_torn_last_line_then_resume_blocks_everything: contact, email);

fn sigint_exits_130_with_a_whole_ledger_and_resume_finishes(kind: Kind) {
    let s = Scenario::new(kind, SLOW_VALUES);
    // Slow answers, so that requests are surely in flight when the signal lands.
    let mock = Mock::start(&["--latency", "100ms..200ms"]);
    let running = start_slow_run(&s, &mock);
    running.signal("INT");
    let ran = running.finish(Duration::from_secs(30));
    assert_eq!(ran.code, 130, "{}", ran.all());
    assert!(ran.stdout.contains("not sent"), "{}", ran.stdout);
    assert!(ran.stdout.contains("--resume"), "{}", ran.stdout);

    // `ledger()` fails on any line that is not whole JSON.
    let ledger = s.ledger();
    assert!(
        lines_with_status(&ledger, "failed").is_empty(),
        "{ledger:?}"
    );
    let blocked = s.ledger_values("blocked");
    s.assert_blocked_exactly_once(&mock, &blocked);
    // The run's last line says how it stopped; every other is a request's.
    let stops = lines_with_status(&ledger, "stopped");
    assert_eq!(stops.len(), 1, "{ledger:?}");
    assert_eq!(stops[0]["reason"], "interrupted", "{ledger:?}");
    assert_eq!(
        mock.requests(),
        ledger.len() as u64 - 1,
        "every request that reached the imitation has its ledger line"
    );
    let first = s.work.summary("first.json");
    assert_eq!(first["exit_code"], 130, "{first}");
    assert!(u(&first["not_sent"]) > 0, "{first}");
    assert_eq!(u(&first["blocked"]), blocked.len() as u64);
    assert_eq!(
        u(&first["rows_read"]),
        u(&first["blocked"]) + u(&first["not_sent"]),
        "every row read is blocked or counted as not sent: {first}"
    );

    // The rest goes to the same address, restarted fast; --resume trusts only lines of
    // the same target. Nothing was in doubt at the interrupt, so nothing is sent twice.
    let fast = Mock::restart(mock, &[]);
    let ran = run(&mut s.block(&fast, &["--block-for", "1d", "--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains(&format!(
            "{} already blocked",
            grouped(blocked.len() as u64)
        )),
        "{}",
        ran.stdout
    );
    let rest: BTreeSet<String> = s.all().difference(&blocked).cloned().collect();
    s.assert_blocked_exactly_once(&fast, &rest);
    let latest = s.latest();
    assert_eq!(latest.len(), s.values.len());
    assert!(latest.values().all(|status| status == "blocked"));
}
for_kinds!(sigint_exits_130_with_a_whole_ledger_and_resume_finishes: contact, email);

// ---- --resume skips what the ledger shows blocked now, in normal form ----

fn resume_skips_only_values_blocked_now(kind: Kind) {
    let s = Scenario::new(kind, 250);
    let mock = Mock::start(&[]);
    let first = s.write("first.csv", &s.values[..100]);
    let ran = run(&mut s.block_file(&mock, &first, &["--block-for", "1d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // An earlier run of the same target blocked values 101..=120: the first ten until a
    // time now past, the next ten until one still to come.
    append_lines(
        &s.work.ledger_path(),
        &[
            run_line("old", &mock.url),
            outcome_line(
                kind,
                "old",
                "blocked",
                &s.values[100..110],
                PAST,
                Some(200),
                None,
            ),
            outcome_line(
                kind,
                "old",
                "blocked",
                &s.values[110..120],
                FUTURE,
                Some(200),
                None,
            ),
        ],
    );

    let ran = run(&mut s.block(&mock, &["--block-for", "1d", "--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("110 already blocked"), "{}", ran.stdout);
    // Sent: the first run's 100, then the expired ten and the 130 never blocked, each
    // once; the ten blocked until 2099 (at no account: a hand-written line) were skipped.
    let mut expected = s.all();
    for value in &s.values[110..120] {
        expected.remove(value);
    }
    s.assert_blocked_exactly_once(&mock, &expected);
    let latest = s.latest();
    assert_eq!(latest.len(), 250);
    assert!(
        latest.values().all(|status| status == "blocked"),
        "{latest:?}"
    );
}
for_kinds!(resume_skips_only_values_blocked_now: contact, email, ip);

// ---- 400 ERROR_DUPLICATE_RECORD_FOUND: already blocked, counted, exit 0 ----

fn duplicates_refused_with_400_are_already_blocked_and_counted(kind: Kind) {
    let s = Scenario::new(kind, 5);
    let mock = Mock::start(&["--on-duplicate", "400"]);
    let first = s.write("first.csv", &s.values[..3]);
    let second = s.write("second.csv", &s.values[1..]);
    let ran = run(&mut s.block_file(&mock, &first, &["--block-for", "1d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let ran = run(&mut s.block_file(
        &mock,
        &second,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--summary-json",
            "second.json",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    ran.assert_no_key();

    // Every value blocked once at the imitation: the new ones were not sent twice.
    s.assert_blocked_exactly_once(&mock, &s.values);
    let second_run = s.run_id(1);
    let ledger: Vec<Value> = s
        .ledger()
        .into_iter()
        .filter(|line| line["run"] == second_run.as_str())
        .collect();
    assert!(
        lines_with_status(&ledger, "failed").is_empty(),
        "{ledger:?}"
    );
    assert!(
        lines_with_status(&ledger, "refused").is_empty(),
        "{ledger:?}"
    );
    let already: BTreeSet<String> = ledger
        .iter()
        .filter(|line| line["already"] == true)
        .inspect(|line| assert_eq!(line["status"], "blocked", "{line}"))
        .flat_map(|line| kind.line_values(line))
        .collect();
    assert_eq!(already, set(&s.values[1..3]), "{ledger:?}");
    let fresh: BTreeSet<String> = ledger
        .iter()
        .filter(|line| line["status"] == "blocked" && line["already"] != true)
        .flat_map(|line| kind.line_values(line))
        .collect();
    assert_eq!(fresh, set(&s.values[3..]), "{ledger:?}");

    let summary = s.work.summary("second.json");
    assert_eq!(summary["exit_code"], 0, "{summary}");
    assert_eq!(u(&summary["blocked"]), 4, "{summary}");
    assert_eq!(u(&summary["blocked_already"]), 2, "{summary}");
    assert_eq!(u(&summary["failed"]), 0, "{summary}");
    assert_eq!(summary["accounted"], true, "{summary}");
}
for_kinds!(duplicates_refused_with_400_are_already_blocked_and_counted: contact, email);

// ---- {"data": [block record, ...]}: block_ids aligned by the values each record names ----

fn records_answer_gives_block_ids_aligned_by_the_values_each_record_names(kind: Kind) {
    let s = Scenario::new(kind, 11);
    // Someone else blocked values 5 and 2 before (an email or IP record holds them
    // both, with another value, in that order); blocking them again updates that record,
    // and the answer names it with its values in its own order, after the records the
    // request created (three values each, in request order).
    let other = kind.value(1_000);
    let seeds = match kind {
        Kind::Contact => [&s.values[4], &s.values[1]]
            .iter()
            .map(|v| json!({"type": "contact", "values": [kind.json(v)]}).to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => json!({
            "type": kind.name(),
            "values": [&s.values[4], &other, &s.values[1]],
        })
        .to_string(),
    };
    let seeds = s.work.write("seeds.jsonl", seeds + "\n");
    let mock = Mock::start(&[
        "--answer",
        "records",
        "--values-per-record",
        "3",
        "--seed-records",
        seeds.to_str().unwrap(),
    ]);
    let seeded: BTreeMap<u64, Vec<String>> = kind.records(&mock);
    let ran = run(&mut s.block(&mock, &["--block-for", "1d", "--batch-size", "4"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // One request per batch: nothing retried, no record created twice.
    assert_eq!(mock.requests(), 3);
    assert_eq!(received(&mock), 11);

    let records = kind.records(&mock);
    let ledger = s.ledger();
    let blocked = lines_with_status(&ledger, "blocked");
    assert_eq!(blocked.len(), 3, "{ledger:?}");
    let mut named = BTreeSet::new();
    for line in blocked {
        assert_eq!(line["attempts"], 1, "{line}");
        let values = kind.line_values(line);
        let block_ids = line["block_ids"]
            .as_array()
            .unwrap_or_else(|| panic!("a records answer keeps block_ids: {line}"));
        assert_eq!(values.len(), block_ids.len(), "aligned: {line}");
        for (value, block_id) in values.iter().zip(block_ids) {
            let record = &records[&u(block_id)];
            assert!(
                record.contains(value),
                "block id {block_id} is the record holding {value} ({record:?}): {line}"
            );
            named.insert(u(block_id));
        }
    }
    // The ledger names every record that holds an input value, the seeded ones too.
    assert_eq!(named, records.keys().copied().collect::<BTreeSet<_>>());
    for id in seeded.keys() {
        assert!(named.contains(id), "the updated record {id} is named");
    }
    assert!(
        !s.ledger_values("blocked").contains(&other),
        "the ledger names only the values sent"
    );
    if kind != Kind::Contact {
        // Three values a record: the 3 new values of each request make one record.
        assert_eq!(records.len(), 1 + 3, "{records:?}");
    }
    ran.assert_no_key();
    s.work.assert_key_nowhere();
}
for_kinds!(
    records_answer_gives_block_ids_aligned_by_the_values_each_record_names: contact,
    email,
    ip
);

// ---- Undo a run by its block_ids: no listing, exactly that run's values ----

fn undo_by_run_deletes_exactly_that_run_without_listing(kind: Kind) {
    let s = Scenario::new(kind, 40);
    // Emails and IPs: two values a record.
    let mock = Mock::start(&["--answer", "records", "--values-per-record", "2"]);
    let first = s.write("first.csv", &s.values[..30]);
    let second = s.write("second.csv", &s.values[30..]);
    for input in [&first, &second] {
        let ran = run(&mut s.block_file(
            &mock,
            input,
            &["--block-for", "7d", "-q", "--batch-size", "10"],
        ));
        assert_eq!(ran.code, 0, "{}", ran.all());
    }
    let first_run = s.run_id(0);
    // value → its record, as the first run's ledger lines say.
    let mut block_id_of = BTreeMap::new();
    for line in s
        .ledger()
        .iter()
        .filter(|l| l["status"] == "blocked" && l["run"] == first_run.as_str())
    {
        let block_ids = line["block_ids"].as_array().expect("block_ids");
        for (value, id) in kind.line_values(line).into_iter().zip(block_ids) {
            block_id_of.insert(value, u(id));
        }
    }
    assert_eq!(block_id_of.len(), 30);
    let records: BTreeSet<u64> = block_id_of.values().copied().collect();
    let per_record = if kind == Kind::Contact { 1 } else { 2 };
    assert_eq!(records.len(), 30 / per_record);
    assert_eq!(list_requests(&mock), 0);

    let ran = run(&mut s.unblock_run(&mock, &first_run, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // One DELETE per record, and no listing: the ledger named them all.
    assert_eq!(stat(&mock, "delete_requests"), records.len() as u64);
    assert_eq!(list_requests(&mock), 0, "block_ids made listing needless");
    assert!(
        mock.stats()["routes"]
            .get("GET /api/v1/crm/block-visitor")
            .is_none(),
        "{}",
        mock.stats()["routes"]
    );
    let held: BTreeSet<String> = kind.at_account(&mock).into_keys().collect();
    assert_eq!(
        held,
        set(&s.values[30..]),
        "exactly the first run's values were unblocked"
    );

    let ledger = s.ledger();
    let undo: Vec<&Value> = ledger.iter().filter(|l| l["op"] == "unblock").collect();
    assert_eq!(
        kind.values_with_status(&ledger, "unblocked"),
        set(&s.values[..30])
    );
    for line in &undo {
        assert!(kind.names(line), "{line}");
        assert_eq!(line["status"], "unblocked", "{line}");
        assert!(line.get("block_till").is_none(), "{line}");
        let block_ids = line["block_ids"].as_array().expect("block_ids");
        for (value, id) in kind.line_values(line).iter().zip(block_ids) {
            assert_eq!(
                u(id),
                block_id_of[value],
                "each line names the record deleted: {line}"
            );
        }
    }
    assert_eq!(
        read_run_lines(&s.work.ledger_path())[2]["command"],
        "unblock"
    );

    // The latest status says unblocked: the report counts them so, and a later
    // `block --resume` of the same list blocks them again.
    let report = s.report_json(&[]);
    assert_eq!(s.counts(&report)["unblocked"], 30, "{report}");
    assert_eq!(s.counts(&report)["blocked"], 10, "{report}");
    // The unblock run has its row in the runs table: 30 values, all unblocked.
    let undo = report["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|run| run["command"] == "unblock")
        .unwrap_or_else(|| panic!("an unblock run: {report}"));
    assert_eq!(undo["values_sent"], 30, "{undo}");
    assert_eq!(undo["unblocked"], 30, "{undo}");
    assert_eq!(undo["type"], kind.name(), "{undo}");
    // The text's history has a line per operation and type.
    let text = run(s.work.report(&[]).arg(s.work.ledger_path())).stdout;
    let unblock_line = text
        .lines()
        .find(|line| line.trim_start().starts_with("unblock") && line.contains(kind.plural()))
        .unwrap_or_else(|| panic!("an unblock history line for {}: {text}", kind.plural()));
    assert!(unblock_line.contains("unblocked 30 "), "{text}");
    let ran = run(&mut s.block_file(&mock, &first, &["--block-for", "7d", "-q", "--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(kind.at_account(&mock).len(), 40);
    s.work.assert_key_nowhere();
}
for_kinds!(undo_by_run_deletes_exactly_that_run_without_listing: contact, email, ip);

/// A run whose failures a `retry` blocked (its printed `Next:`) is undone whole: the
/// values the run failed and the retry blocked go with it, the other runs' stay.
fn undoing_a_run_undoes_what_its_retry_blocked(kind: Kind) {
    let s = Scenario::new(kind, 70);
    let mock = Mock::start(&["--answer", "records", "--fail-rate", "0.3", "--seed", "5"]);
    let first = s.write("first.csv", &s.values[..60]);
    let other = s.write("other.csv", &s.values[60..]);
    let ran = run(&mut s.block_file(
        &mock,
        &first,
        &[
            "--block-for",
            "7d",
            "-q",
            "--batch-size",
            "10",
            "--max-attempts",
            "1",
        ],
    ));
    assert_eq!(ran.code, 1, "some batches fail: {}", ran.all());
    let first_run = s.run_id(0);
    let ran = run(&mut s.retry(&mock, &["--max-attempts", "20", "-q"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let ran = run(&mut s.block_file(
        &mock,
        &other,
        &["--block-for", "7d", "-q", "--max-attempts", "20"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(kind.at_account(&mock).len(), 70);

    let ran = run(&mut s.unblock_run(&mock, &first_run, &["--max-attempts", "20"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let held: BTreeSet<String> = kind.at_account(&mock).into_keys().collect();
    assert_eq!(
        held,
        set(&s.values[60..]),
        "the run and its retry undone, no more"
    );
}
for_kinds!(undoing_a_run_undoes_what_its_retry_blocked: contact, email);

fn undoing_a_run_leaves_alone_what_was_blocked_already_before_it(kind: Kind) {
    let s = Scenario::new(kind, 10);
    let mock = Mock::start(&["--answer", "records", "--on-duplicate", "400"]);
    let early = s.write("early.csv", &s.values[..5]);
    for input in [&early, &s.input] {
        let ran = run(&mut s.block_file(&mock, input, &["--block-for", "7d", "-q"]));
        assert_eq!(ran.code, 0, "{}", ran.all());
    }
    assert!(
        s.ledger().iter().any(|l| l["already"] == true),
        "the second run met duplicates"
    );
    let ran = run(&mut s.unblock_run(&mock, &s.run_id(1), &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let held: BTreeSet<String> = kind.at_account(&mock).into_keys().collect();
    assert_eq!(
        held,
        set(&s.values[..5]),
        "only what the second run itself blocked was unblocked"
    );
    assert_eq!(
        kind.values_with_status(&s.ledger(), "unblocked"),
        set(&s.values[5..])
    );
}
for_kinds!(undoing_a_run_leaves_alone_what_was_blocked_already_before_it: contact, email);

// ---- Unblock a list: records found by paging, in normal form ----

fn unblock_of_a_list_finds_the_records_by_paging_in_normal_form(kind: Kind) {
    let s = Scenario::new(kind, 250);
    let mock = Mock::start(&["--block-list"]);
    let ran = run(&mut s.block(&mock, &["--block-for", "7d", "-q"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // A block of another kind: this unblock leaves it alone.
    let other_kind = if kind == Kind::Contact {
        Kind::Email
    } else {
        Kind::Contact
    };
    let (status, answer) = mock.post_json(
        "/api/v1/crm/block-visitor",
        &json!({"data": [other_kind.json(&other_kind.value(1))], "type": other_kind.name(),
                "blockTill": FUTURE}),
    );
    assert_eq!(status, 200, "{answer}");

    // 120 blocked values (spelled), one never blocked, a bad row, a duplicate.
    let never = kind.value(5_000);
    let mut wanted = s.values[..120].to_vec();
    wanted.push(never.clone());
    let mut text = kind.csv(&wanted);
    let (bad, _) = kind.bad_row();
    text += &format!("{bad},bad\n{},again\n", s.values[0]);
    let undo = s.work.write("undo.csv", text);
    let lists = list_requests(&mock);
    let ran = run(&mut s.unblock(&mock, &[undo.to_str().unwrap(), "--page-size", "50"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // 251 records in pages of 50: five full pages, then a short one.
    assert_eq!(list_requests(&mock) - lists, 6);
    assert_eq!(stat(&mock, "delete_requests"), 120);
    let held: BTreeSet<String> = kind.at_account(&mock).into_keys().collect();
    assert_eq!(held, set(&s.values[120..]));
    assert_eq!(
        other_kind.at_account(&mock).len(),
        1,
        "the other kind is left alone"
    );

    let lines = s.ledger();
    assert_eq!(
        kind.values_with_status(&lines, "unblocked"),
        set(&s.values[..120])
    );
    let not_blocked = lines_with_status(&lines, "not_blocked");
    assert_eq!(not_blocked.len(), 1, "{not_blocked:?}");
    assert_eq!(kind.line_values(not_blocked[0]), [never]);
    assert_eq!(
        not_blocked[0]["attempts"], 0,
        "no request for a value with no record"
    );
    assert!(not_blocked[0]["block_ids"].is_null(), "{}", not_blocked[0]);
    let rejected = lines_with_status(&lines, "rejected");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["source"], format!("{}:123", undo.display()));
    assert!(ran.stdout.contains("1 duplicate"), "{}", ran.stdout);

    // A dry run lists, names each record with its values, and deletes nothing.
    let again = s.write("again.csv", &s.values[120..130]);
    let before = std::fs::read(s.work.ledger_path()).unwrap();
    let account = kind.at_account(&mock);
    let ran = run(&mut s.unblock(&mock, &[again.to_str().unwrap(), "--dry-run"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("10 block records found by listing"),
        "{}",
        ran.stdout
    );
    for value in &s.values[120..130] {
        let line = format!("    {}: {value}\n", account[value][0]);
        assert!(ran.stdout.contains(&line), "{line:?} in {}", ran.stdout);
    }
    assert_eq!(stat(&mock, "delete_requests"), 120);
    assert_eq!(std::fs::read(s.work.ledger_path()).unwrap(), before);

    // --resume: nothing is left to do, nothing is sent again.
    let ran = run(&mut s.unblock(&mock, &[undo.to_str().unwrap(), "--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), 120);
    assert!(
        ran.stdout.contains("121 already unblocked"),
        "{}",
        ran.stdout
    );
}
for_kinds!(unblock_of_a_list_finds_the_records_by_paging_in_normal_form: contact, email, ip);

fn kill_9_during_an_unblock_then_resume_finishes_it(kind: Kind) {
    let s = Scenario::new(kind, 400);
    let mock = Mock::start(&["--answer", "records"]);
    let ran = run(&mut s.block(&mock, &["--block-for", "7d", "-q"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let first_run = s.run_id(0);
    let mut running = Running::spawn(&mut s.unblock_run(
        &mock,
        &first_run,
        &["--rate", "100/s", "--concurrency", "2"],
    ));
    running.wait_until(Duration::from_secs(20), "some unblocked lines", || {
        let (lines, _) = read_ledger_tolerant(&s.work.ledger_path());
        kind.values_with_status(&lines, "unblocked").len() >= 40
    });
    running.signal("KILL");
    let killed = running.finish(Duration::from_secs(10));
    assert_ne!(killed.code, 0);
    let (lines, _) = read_ledger_tolerant(&s.work.ledger_path());
    let done_before = kind.values_with_status(&lines, "unblocked");
    assert!(done_before.len() < 400);

    let ran = run(&mut s.unblock_run(&mock, &first_run, &["--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(kind.at_account(&mock).is_empty());
    let (lines, _) = read_ledger_tolerant(&s.work.ledger_path());
    let latest = kind.latest(&lines);
    // A DELETE in flight at the kill may have reached the server unrecorded: sent again,
    // it deletes nothing (not_blocked).
    assert!(
        s.values
            .iter()
            .all(|v| latest[v] == "unblocked" || latest[v] == "not_blocked"),
        "{latest:?}"
    );
    let again = s
        .values
        .iter()
        .filter(|v| latest[*v] == "not_blocked")
        .count();
    // At most the requests in flight (2) and the outcomes queued for the ledger (4).
    assert!(again <= 6, "{again} values whose delete was in flight");
    // Only what the first run had not recorded was sent again.
    let deletes = stat(&mock, "delete_requests");
    assert!(deletes <= 400 + 6, "{deletes} deletes");
    assert!(
        ran.stdout
            .contains(&format!("{} already unblocked", done_before.len())),
        "{}",
        ran.stdout
    );
}
for_kinds!(kill_9_during_an_unblock_then_resume_finishes_it: contact, email);

fn rate_limits_and_server_errors_while_listing_and_deleting_are_ridden_out(kind: Kind) {
    let s = Scenario::new(kind, 200);
    let mock = Mock::start(&[
        "--block-list",
        "--fail-rate",
        "0.2",
        "--rate-limit",
        "150",
        "--retry-after",
        "1",
        "--seed",
        "11",
    ]);
    let ran = run(&mut s.block(
        &mock,
        &[
            "--block-for",
            "7d",
            "-q",
            "--max-attempts",
            "30",
            "--batch-size",
            "20",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(kind.at_account(&mock).len(), 200);
    let ran = run(&mut s.unblock(
        &mock,
        &[
            s.input.to_str().unwrap(),
            "--page-size",
            "20",
            "--max-attempts",
            "30",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(kind.at_account(&mock).is_empty());
    assert!(mock.answered(429) > 0, "{}", mock.stats());
    assert!(mock.answered(500) + mock.answered(503) > 0);
    assert!(list_requests(&mock) > 11, "some pages were asked for again");
    assert_eq!(s.ledger_values("unblocked"), s.all());
}
for_kinds!(rate_limits_and_server_errors_while_listing_and_deleting_are_ridden_out: contact, email);

// ---- report: latest state, --failed-ids, --rejected, and the Next: hint, per kind ----

fn report_lists_failed_refused_and_rejected_values(kind: Kind) {
    let s = Scenario::new(kind, 13);
    // Run 1 blocks values 1..=6.
    let mut mock = Mock::start(&[]);
    let good = s.write("good.csv", &s.values[..6]);
    let ran = run(&mut s.block_file(&mock, &good, &["--block-for", "1d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // Run 2, the same server failing: values 7..=12 fail, and one row is bad.
    mock = Mock::restart(mock, &["--fail-rate", "1"]);
    let mut text = kind.csv(&s.values[6..12]);
    let (bad, reason) = kind.bad_row();
    text += &format!("{bad},bad\n");
    let input = s.work.write("more.csv", text);
    let ran = run(&mut s.block_file(
        &mock,
        &input,
        &[
            "--block-for",
            "1d",
            "--max-attempts",
            "1",
            "--batch-size",
            "2",
        ],
    ));
    assert_eq!(ran.code, 1, "{}", ran.all());
    // Value 13 is refused by name (a 400 for that value alone). The imitation refuses
    // (`--poison`) only contact IDs; for emails and IPs the line is written as blockade
    // writes one.
    let refused = s.values[12].clone();
    if kind == Kind::Contact {
        mock = Mock::restart(mock, &["--poison", &refused]);
        let alone = s.write("refused.csv", &s.values[12..]);
        let ran = run(&mut s.block_file(&mock, &alone, &["--block-for", "1d"]));
        assert_eq!(ran.code, 1, "{}", ran.all());
    } else {
        append_lines(
            &s.work.ledger_path(),
            &[
                run_line("hand", &mock.url),
                outcome_line(
                    kind,
                    "hand",
                    "refused",
                    &s.values[12..],
                    FUTURE,
                    Some(400),
                    Some("HTTP 400 invalid input: cannot be blocked"),
                ),
            ],
        );
    }
    assert_eq!(s.ledger_values("refused"), set(&s.values[12..]));

    let report = s.report_json(&[]);
    let counts = s.counts(&report);
    assert_eq!(counts["blocked"], 6, "{report}");
    assert_eq!(counts["failed"], 6, "{report}");
    assert_eq!(counts["refused"], 1, "{report}");
    assert_eq!(report["rejected_rows"], 1, "{report}");
    assert_eq!(report["runs"][0]["target"], mock.url.as_str(), "{report}");

    // --failed-ids: no --type needed, one type failed. Each failed value once, in normal
    // form, in the column `block` reads.
    let csv_path = s.work.path("failed.csv");
    let ran = run(s
        .work
        .report(&["--failed-ids"])
        .arg(&csv_path)
        .arg(s.work.ledger_path()));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stderr
            .contains(&format!("Wrote 6 failed {}", kind.plural())),
        "{}",
        ran.stderr
    );
    let mut reader = csv::Reader::from_path(&csv_path).expect("failed-ids CSV");
    assert_eq!(
        reader.headers().unwrap(),
        vec![kind.column(), "block_till", "error"]
    );
    let rows: Vec<String> = reader
        .records()
        .map(|r| r.expect("CSV row")[0].to_owned())
        .collect();
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert_eq!(set(&rows), set(&s.values[6..12]));

    // --rejected: the bad row with its file:line, and the refused value.
    let ran = run(s.work.report(&["--rejected"]).arg(s.work.ledger_path()));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let text = &ran.stdout;
    assert!(
        text.contains(&format!("{}:8  rejected  \"{bad},bad\"", input.display())),
        "{text}"
    );
    assert!(text.contains(reason), "{text}");
    assert!(text.contains(&format!("refused  \"{refused}\"")), "{text}");
    // What failed is to be retried, against the runs' target.
    let next = format!(
        "Next: {} retry {} --base-url {}",
        bin().display(),
        s.work.ledger_path().display(),
        mock.url
    );
    assert!(text.contains(&next), "{next:?} in {text}");
    let json = s.report_json(&["--rejected"]);
    let statuses: Vec<&str> = json["rejected"]
        .as_array()
        .expect("a rejected array")
        .iter()
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["rejected", "refused"], "{json}");

    // Retry blocks the failed values and leaves the refused one alone.
    mock = Mock::restart(mock, &[]);
    let ran = run(&mut s.retry(&mock, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    s.assert_blocked_exactly_once(&mock, &s.values[6..12]);
    let report = s.report_json(&[]);
    assert_eq!(s.counts(&report)["failed"], 0, "{report}");
    assert_eq!(s.counts(&report)["blocked"], 12, "{report}");
    assert_eq!(s.counts(&report)["refused"], 1, "{report}");
    // The refused value is left alone: nothing is left to retry.
    let ran = run(s.work.report(&[]).arg(s.work.ledger_path()));
    assert!(
        ran.stdout.contains("Next: nothing to retry"),
        "{}",
        ran.stdout
    );
}
for_kinds!(report_lists_failed_refused_and_rejected_values: contact, email, ip);

// ---- Two kinds failed in one ledger: --type chooses what --failed-ids writes ----

#[test]
fn failed_ids_of_a_ledger_where_two_kinds_failed_asks_for_the_type() {
    let contacts = Scenario::new(Kind::Contact, 4);
    let work = &contacts.work;
    let emails = Kind::Email.values(1, 3);
    let email_input = work.write("emails.csv", Kind::Email.csv(&emails));
    let mock = Mock::start(&["--fail-rate", "1"]);
    for (kind, input) in [
        (Kind::Contact, &contacts.input),
        (Kind::Email, &email_input),
    ] {
        let args = [
            "--block-for",
            "1d",
            "--max-attempts",
            "1",
            "--type",
            kind.name(),
        ];
        let ran = run(work.block(&mock, &args).arg(input));
        assert_eq!(ran.code, 1, "{}", ran.all());
    }

    let out = work.path("failed.csv");
    let ran = run(work
        .report(&["--failed-ids"])
        .arg(&out)
        .arg(work.ledger_path()));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("give --type"), "{}", ran.stderr);
    for (kind, values) in [(Kind::Contact, &contacts.values), (Kind::Email, &emails)] {
        let ran = run(work
            .report(&["--failed-ids"])
            .arg(&out)
            .args(["--type", kind.name()])
            .arg(work.ledger_path()));
        assert_eq!(ran.code, 0, "{}", ran.all());
        let mut reader = csv::Reader::from_path(&out).expect("failed-ids CSV");
        assert_eq!(
            reader.headers().unwrap(),
            vec![kind.column(), "block_till", "error"]
        );
        let rows: BTreeSet<String> = reader
            .records()
            .map(|r| r.expect("CSV row")[0].to_owned())
            .collect();
        assert_eq!(rows, set(values));
    }

    // The report's Next: lines work as printed: one retry per type (retry takes one at a
    // time), against the same server, healthy again.
    let report = run(work.report(&[]).arg(work.ledger_path()));
    let hints = next_lines(&report);
    assert_eq!(hints.len(), 2, "{}", report.stdout);
    let mock = Mock::restart(mock, &[]);
    for hint in &hints {
        let ran = run_printed(work, hint, true);
        assert_eq!(ran.code, 0, "`{hint}`: {}", ran.all());
    }
    for (kind, values) in [(Kind::Contact, &contacts.values), (Kind::Email, &emails)] {
        let held: BTreeSet<String> = kind.at_account(&mock).into_keys().collect();
        assert_eq!(held, set(values), "{}", kind.name());
    }
    assert_eq!(received(&mock), 4 + 3, "each value once");
}
