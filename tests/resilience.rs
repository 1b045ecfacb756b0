//! Resilience, for what is about contacts or about no kind of value: 400s bisected to the
//! poisoned IDs (the imitation poisons contact IDs only), 401 and 404 aborts, the ledger
//! lock, retry of a past block-till, the report's failure table, and a property test of
//! the send stage in-process. The answers and faults every kind meets are in
//! `every_kind.rs`.
//!
//! Every test checks both sides: what the imitation recorded (`/_mock/stats`) and what the
//! ledger says. No test times anything: pacing is made fast with `--rate` and a 1–5 ms
//! backoff, and tests count what arrived instead.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

/// `n` distinct, non-sequential contact IDs.
fn contact_ids(n: u64) -> Vec<u64> {
    (1..=n).map(|i| 500_000 + i * 11).collect()
}

fn summary_json(work: &Work, name: &str) -> Value {
    let text = std::fs::read_to_string(work.path(name)).expect("--summary-json was written");
    serde_json::from_str(&text).expect("summary JSON parses")
}

fn report_json(work: &Work, ledgers: &[&std::path::Path]) -> Value {
    let mut cmd = work.report(&["--json"]);
    cmd.args(ledgers);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    serde_json::from_str(&ran.stdout).expect("report --json is JSON")
}

fn u(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

// The answers and faults every kind of value meets (200, {"data": false}, 5xx, resets,
// odd answers, 429s, kill -9, SIGINT) and `retry` after them are in `every_kind.rs`.

// ---- 400: bisect, only the poisoned IDs are refused ----

fn poison_leaves_only_poisoned_refused(poison: &[u64]) {
    let work = Work::new();
    let ids = contact_ids(1_000);
    let input = work.write("in.csv", csv_of(ids.iter().copied()));
    let list = poison
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mock = Mock::start(&["--poison", &list]);
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--batch-size", "100"])
        .arg(&input));
    assert_eq!(ran.code, 1, "{}", ran.all());

    let good: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !poison.contains(id))
        .collect();
    assert_blocked_exactly_once(&mock, good.iter().copied());
    let refusals = mock.answered(400);
    // Each poisoned ID costs at most one refusal per halving of its batch of 100.
    assert!(
        refusals >= poison.len() as u64 && refusals <= 8 * poison.len() as u64,
        "400s: {refusals}"
    );

    let ledger = work.ledger();
    assert_eq!(ledger_ids(&ledger, "blocked"), good);
    assert!(
        lines_with_status(&ledger, "failed").is_empty(),
        "{ledger:?}"
    );
    // A single ID the server still refuses is `refused`, not `failed`: retry leaves it.
    let refused = lines_with_status(&ledger, "refused");
    assert_eq!(refused.len(), poison.len(), "{refused:?}");
    for line in refused {
        let id = u(&line["ids"][0]);
        assert_eq!(line["ids"].as_array().unwrap().len(), 1, "{line}");
        assert!(poison.contains(&id), "{line}");
        assert_eq!(line["http_status"], 400, "{line}");
        let error = line["error"].as_str().unwrap();
        assert!(
            error.contains("poisoned in the mock") && error.contains(&id.to_string()),
            "the server's own error text is kept: {error}"
        );
    }
    assert!(ran.stdout.contains("refused"), "{}", ran.stdout);

    // A nightly retry leaves refused IDs alone; --include-refused sends them again.
    let requests_before = mock.requests();
    let retried = run(&mut work.retry(&mock, &work.ledger_path(), &[]));
    assert_eq!(retried.code, 0, "{}", retried.all());
    assert_eq!(mock.requests(), requests_before, "nothing re-sent");
    let retried = run(&mut work.retry(&mock, &work.ledger_path(), &["--include-refused"]));
    assert_eq!(retried.code, 1, "{}", retried.all());
    let resent = mock.requests() - requests_before;
    assert!(
        resent >= poison.len() as u64,
        "each refused ID was sent again: {resent}"
    );
    let latest = latest_status(&work.ledger());
    for id in poison {
        assert_eq!(latest[id], "refused", "{id}");
    }
}

#[test]
fn poison_bisects_so_only_the_poisoned_id_is_refused() {
    poison_leaves_only_poisoned_refused(&[contact_ids(1_000)[456]]);
}

#[test]
fn poison_in_one_batch_twice_and_in_another_refuses_only_those_ids() {
    let ids = contact_ids(1_000);
    poison_leaves_only_poisoned_refused(&[ids[3], ids[97], ids[620]]);
}

// ---- 401 / 404: abort with exit 3 ----

#[test]
fn a_revoked_key_aborts_with_exit_3_after_few_401s() {
    let work = Work::new();
    let ids = contact_ids(1_000);
    let input = work.write("in.csv", csv_of(ids.iter().copied()));
    let mock = Mock::start(&["--revoke-after", "5"]);
    let ran = run(work
        .block(
            &mock,
            &[
                "--block-for",
                "1d",
                "--batch-size",
                "10",
                "--concurrency",
                "4",
                "--summary-json",
                "summary.json",
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 3, "{}", ran.all());

    let unauthorized = mock.answered(401);
    assert!(
        (1..=4).contains(&unauthorized),
        "stops after the 401s of the requests in flight (concurrency 4): {unauthorized}"
    );
    assert_eq!(mock.answered(200), 5);
    assert_eq!(
        mock.requests(),
        5 + unauthorized,
        "nothing sent after the abort"
    );

    let ledger = work.ledger();
    let blocked = ledger_ids(&ledger, "blocked");
    assert_eq!(blocked.len(), 50);
    let at_mock: Vec<u64> = mock.blocked_ids().keys().copied().collect();
    assert_eq!(blocked, at_mock, "in-flight batches finished and recorded");
    let failed = lines_with_status(&ledger, "failed");
    assert_eq!(failed.len() as u64, unauthorized, "each 401 recorded");
    for line in failed {
        assert_eq!(line["http_status"], 401, "{line}");
    }

    let summary = summary_json(&work, "summary.json");
    let (blocked_n, failed_n, not_sent) = (
        u(&summary["blocked"]),
        u(&summary["failed"]),
        u(&summary["not_sent"]),
    );
    assert_eq!(blocked_n, 50);
    assert_eq!(failed_n, unauthorized * 10);
    assert!(not_sent > 0, "{summary}");
    assert_eq!(
        u(&summary["rows_read"]),
        blocked_n + failed_n + not_sent,
        "every row read is blocked, failed or counted as not sent: {summary}"
    );
    assert!(ran.stdout.contains("not sent"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("--resume"),
        "says how to resume: {}",
        ran.stdout
    );
}

#[test]
fn a_wrong_base_path_aborts_with_exit_3() {
    let work = Work::new();
    let ids = contact_ids(500);
    let input = work.write("in.csv", csv_of(ids.iter().copied()));
    let mock = Mock::start(&[]);
    let mut cmd = work.blockade();
    cmd.arg("block")
        .args(["--base-url", &format!("{}/nope", mock.url), "--results"])
        .arg(work.ledger_path())
        .args([
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--concurrency",
            "2",
        ])
        .args([
            "--rate",
            "2000/s",
            "--backoff-base",
            "1ms",
            "--backoff-max",
            "5ms",
        ])
        .env("ACQUIRE_API_KEY", KEY)
        .arg(&input);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 3, "{}", ran.all());
    assert!(ran.all().contains("404"), "{}", ran.all());
    assert!(ran.stdout.contains("--resume"), "{}", ran.stdout);

    // The imitation counts only requests to the real endpoint path.
    assert_eq!(mock.requests(), 0);
    assert!(mock.blocked_ids().is_empty());
    let ledger = work.ledger();
    assert!(lines_with_status(&ledger, "blocked").is_empty());
    let failed = lines_with_status(&ledger, "failed");
    assert!(
        (1..=2).contains(&failed.len()),
        "only the batches in flight: {failed:?}"
    );
    for line in failed {
        assert_eq!(line["http_status"], 404, "{line}");
        assert_eq!(line["attempts"], 1, "404 is not retried: {line}");
    }
}

// ---- Two processes on one ledger ----

const SLOW_IDS: u64 = 5_000;
/// Starts a slow `block` of 5,000 IDs as a child and waits until the ledger shows a few
/// blocked batches.
fn start_slow_run(work: &Work, mock: &Mock, input: &std::path::Path) -> Running {
    let mut cmd = work.block(
        mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--concurrency",
            "4",
            "--rate",
            "50/s",
            "--summary-json",
            "first.json",
        ],
    );
    cmd.arg(input);
    let running = Running::spawn(&mut cmd);
    wait_until(
        Duration::from_secs(30),
        "the ledger has 3 blocked lines",
        || {
            let (lines, _) = read_ledger_tolerant(&work.ledger_path());
            lines_with_status(&lines, "blocked").len() >= 3
        },
    );
    running
}

#[test]
fn a_second_run_on_a_ledger_in_use_is_refused_with_exit_2() {
    let work = Work::new();
    let ids = contact_ids(SLOW_IDS);
    let input = work.write("in.csv", csv_of(ids.iter().copied()));
    let mock = Mock::start(&[]);
    let first = start_slow_run(&work, &mock, &input);

    let other = Mock::start(&[]);
    let ran = run(work.block(&other, &["--block-for", "1d"]).arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
    let ledger = work.ledger_path().display().to_string();
    assert!(
        ran.stderr.contains(&ledger) && ran.stderr.contains("locked"),
        "names the ledger: {}",
        ran.stderr
    );
    assert_eq!(other.requests(), 0, "the refused run sent nothing");
    drop(first);
    let (_, bad) = read_ledger_tolerant(&work.ledger_path());
    assert_eq!(bad, 0, "the refused run wrote nothing into the ledger");
}

// ---- Scenario 8: retry and past block-till ----

fn batch_line(
    status: &str,
    ids: &[u64],
    till: &str,
    http: Option<u16>,
    error: Option<&str>,
) -> String {
    serde_json::json!({
        "run": "hand", "batch": 1, "status": status, "ids": ids, "block_till": till,
        "attempts": 1, "http_status": http, "error": error, "source": "hand.csv:1-9",
        "started_at": "2021-01-01T00:00:00.000Z", "finished_at": "2021-01-01T00:00:01.000Z",
        "ms": 1000
    })
    .to_string()
}

#[test]
fn retry_skips_a_past_block_till_unless_block_for_is_given() {
    let work = Work::new();
    let past = "2020-01-01T00:00:00.000Z";
    let future = "2099-01-01T00:00:00.000Z";
    let mock = Mock::start(&[]);
    let lines = [
        run_line("hand", &mock.url),
        batch_line(
            "failed",
            &[1, 2, 3],
            past,
            Some(500),
            Some("HTTP 500: boom"),
        ),
        batch_line(
            "failed",
            &[4, 5],
            future,
            Some(503),
            Some("HTTP 503: later"),
        ),
        batch_line("blocked", &[6], future, Some(200), None),
    ];
    let ledger = work.write("results.jsonl", lines.join("\n") + "\n");

    let ran = run(&mut work.retry(&mock, &ledger, &[]));
    assert_eq!(ran.code, 1, "the skipped IDs are not sent: {}", ran.all());
    assert!(
        ran.stderr.contains("already past") && ran.stderr.contains("--block-for"),
        "warns and says how to send them: {}",
        ran.stderr
    );
    assert_blocked_exactly_once(&mock, [4, 5]);
    assert_eq!(
        mock.stats()["block_tills"][future],
        2,
        "kept its block-till"
    );
    let latest = latest_status(&work.ledger());
    assert_eq!(latest[&1], "failed");
    assert_eq!(latest[&4], "blocked");

    let fresh = Mock::restart(mock, &[]);
    let ran = run(&mut work.retry(&fresh, &ledger, &["--block-for", "1d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&fresh, [1, 2, 3]);
    let tills = fresh.stats()["block_tills"].clone();
    assert!(
        tills.get(past).is_none(),
        "a new block-till was used: {tills}"
    );
    let latest = latest_status(&work.ledger());
    assert!(latest.values().all(|s| s == "blocked"), "{latest:?}");
}

// ---- Scenario 9: report ----

#[test]
fn report_counts_groups_failures_exports_failed_ids_and_merges_ledgers() {
    let work = Work::new();
    let till = "2099-01-01T00:00:00.000Z";
    let reject = serde_json::json!({
        "run": "hand", "status": "rejected", "source": "a.csv:4", "input": "abc",
        "error": "not a whole number"
    })
    .to_string();
    let a = work.write(
        "a.jsonl",
        [
            batch_line("blocked", &[1, 2, 3], till, Some(200), None),
            batch_line(
                "failed",
                &[4, 5],
                till,
                Some(500),
                Some("HTTP 500: internal"),
            ),
            batch_line(
                "failed",
                &[6],
                till,
                Some(400),
                Some("HTTP 400 invalid input: contact ID 6 cannot be blocked"),
            ),
            batch_line(
                "failed",
                &[7, 8],
                till,
                None,
                Some("network error: connection reset by peer"),
            ),
            reject,
        ]
        .join("\n")
            + "\n",
    );
    let b = work.write(
        "b.jsonl",
        [
            batch_line("blocked", &[4, 5], till, Some(200), None),
            batch_line(
                "failed",
                &[9],
                till,
                Some(503),
                Some("HTTP 503: maintenance"),
            ),
        ]
        .join("\n")
            + "\n",
    );

    let alone = report_json(&work, &[&a]);
    assert_eq!(alone["now"]["contact"]["blocked"], 3);
    assert_eq!(alone["now"]["contact"]["failed"], 5);

    let merged = report_json(&work, &[&a, &b]);
    assert_eq!(
        merged["now"]["contact"]["blocked"], 5,
        "4 and 5 are blocked later in b"
    );
    assert_eq!(merged["now"]["contact"]["failed"], 4);
    assert_eq!(merged["rejected_rows"], 1);
    let block = &merged["history"][0];
    assert_eq!(
        (block["op"].as_str(), block["type"].as_str()),
        (Some("block"), Some("contact"))
    );
    assert_eq!(block["lines"]["blocked"], 2);
    assert_eq!(block["lines"]["failed"], 4);
    assert_eq!(merged["ledgers"][0]["failed_ids"], 5);
    assert_eq!(merged["ledgers"][1]["failed_ids"], 1);
    let kinds: BTreeMap<String, (u64, u64)> = merged["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kind"].as_str().unwrap().to_owned(),
                (u(&k["lines"]), u(&k["values"])),
            )
        })
        .collect();
    let expected: BTreeMap<String, (u64, u64)> = [
        ("http 500", (1, 2)),
        ("invalid input", (1, 1)),
        ("connection reset", (1, 2)),
        ("http 503", (1, 1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(kinds, expected);

    let csv_path = work.path("failed.csv");
    let mut cmd = work.report(&["--failed-ids"]);
    cmd.arg(&csv_path).arg(&a).arg(&b);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("Failed lines by error"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("connection reset (1)"),
        "{}",
        ran.stdout
    );
    assert!(ran.stderr.contains("Wrote 4 failed IDs"), "{}", ran.stderr);
    let mut reader = csv::Reader::from_path(&csv_path).expect("failed-ids CSV");
    assert_eq!(
        reader.headers().unwrap(),
        vec!["contact_id", "block_till", "error"]
    );
    let rows: BTreeMap<u64, (String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("CSV row");
            (r[0].parse().unwrap(), (r[1].to_owned(), r[2].to_owned()))
        })
        .collect();
    let ids: Vec<u64> = rows.keys().copied().collect();
    assert_eq!(ids, [6, 7, 8, 9], "each latest-failed ID once");
    assert_eq!(rows[&7].0, till);
    assert_eq!(rows[&7].1, "network error: connection reset by peer");
    assert_eq!(rows[&9].1, "HTTP 503: maintenance");
}

// ---- Scenario 10: the send stage in-process, under random faults ----

mod send_stage {
    //! Drives `blockade::send::pool::run` against an in-process `MockServer` with random faults
    //! and random batches, and checks that no ID is lost or double-counted.

    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;
    use std::time::Duration;

    use blockade::mock::{Faults, MockConfig, MockServer};
    use blockade::net::api_key::ApiKey;
    use blockade::net::client::Client;
    use blockade::send::concurrency::Concurrency;
    use blockade::send::pool::{self, Backoff, BatchStatus, Outcome, PoolConfig, PoolCounters};
    use blockade::values::{Batch, Contact, Origin};
    use proptest::prelude::*;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use crate::util::KEY;

    #[derive(Debug, Clone)]
    struct Case {
        ids: u64,
        cuts: Vec<usize>,
        fail_rate: f64,
        false_rate: f64,
        reset_rate: f64,
        poison: Vec<usize>,
        seed: u64,
        max_attempts: u32,
        concurrency: usize,
    }

    fn cases() -> impl Strategy<Value = Case> {
        (
            1u64..=80,
            proptest::collection::vec(1usize..=12, 1..=10),
            0.0f64..0.4,
            0.0f64..0.3,
            0.0f64..0.15,
            proptest::collection::vec(0usize..80, 0..=2),
            any::<u64>(),
            1u32..=4,
            1usize..=4,
        )
            .prop_map(
                |(
                    ids,
                    cuts,
                    fail_rate,
                    false_rate,
                    reset_rate,
                    poison,
                    seed,
                    max_attempts,
                    concurrency,
                )| Case {
                    ids,
                    cuts,
                    fail_rate,
                    false_rate,
                    reset_rate,
                    poison,
                    seed,
                    max_attempts,
                    concurrency,
                },
            )
    }

    /// Cuts the IDs into batches whose sizes cycle through `cuts`.
    fn batches(ids: &[u64], cuts: &[usize]) -> Vec<Batch<Contact>> {
        let till = chrono::Utc::now() + chrono::Duration::days(1);
        let origin = |line| Origin {
            path: Arc::from("prop.csv"),
            line,
        };
        let mut out = Vec::new();
        let mut rest = ids;
        let mut i = 0;
        while !rest.is_empty() {
            let size = cuts[i % cuts.len()].min(rest.len());
            let (head, tail) = rest.split_at(size);
            out.push(Batch {
                seq: i as u64 + 1,
                kind: Contact,
                values: head.to_vec(),
                block_till: till,
                first: origin(1),
                last: origin(size as u64),
            });
            rest = tail;
            i += 1;
        }
        out
    }

    async fn send_all(
        case: &Case,
        input: Vec<Batch<Contact>>,
        poison: Vec<u64>,
    ) -> (
        Vec<Outcome<Batch<Contact>>>,
        pool::PoolEnd,
        blockade::mock::Stats,
        u64,
    ) {
        let server = MockServer::start(
            ([127, 0, 0, 1], 0).into(),
            MockConfig {
                faults: Faults {
                    fail_rate: case.fail_rate,
                    false_rate: case.false_rate,
                    reset_rate: case.reset_rate,
                    poison,
                    seed: Some(case.seed),
                    ..Faults::default()
                },
                ..MockConfig::new(KEY)
            },
        )
        .await
        .expect("start the imitation");
        let url = format!("{}/api/v1/crm/block-visitor", server.base_url())
            .parse()
            .expect("url");
        let key = ApiKey::new(KEY, "the test").expect("key");
        let client =
            Client::new(url, &key, Duration::from_secs(10), case.concurrency).expect("client");
        let config = PoolConfig {
            rate: "100000/s".parse().expect("rate"),
            burst: 100,
            concurrency: Concurrency::Fixed(case.concurrency),
            max_concurrency: case.concurrency,
            max_attempts: case.max_attempts,
            max_wait: Duration::from_secs(5),
            backoff: Backoff {
                base: Duration::from_millis(1),
                max: Duration::from_millis(5),
            },
            drain_deadline: Duration::from_secs(10),
            gate: Default::default(),
        };
        let (batch_tx, batch_rx) = mpsc::channel(2);
        let (outcome_tx, mut outcome_rx) = mpsc::channel(2);
        // The collector first, as the pipeline does: workers must never wait on a full channel.
        let collector = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(outcome) = outcome_rx.recv().await {
                all.push(outcome);
            }
            all
        });
        let feeder = tokio::spawn(async move {
            for batch in input {
                if batch_tx.send(vec![batch]).await.is_err() {
                    break;
                }
            }
        });
        let counters = Arc::new(PoolCounters::default());
        let end = pool::run(
            client,
            config,
            batch_rx,
            outcome_tx,
            counters.clone(),
            CancellationToken::new(),
        )
        .await;
        feeder.await.expect("feeder");
        let outcomes = collector.await.expect("collector");
        let stats = server.stats();
        server.shutdown().await;
        let requests = counters.requests.load(std::sync::atomic::Ordering::Relaxed);
        (outcomes, end, stats, requests)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        #[test]
        fn the_send_stage_loses_no_id_under_random_faults(case in cases()) {
            let ids: Vec<u64> = (1..=case.ids).map(|i| 9_000 + i * 7).collect();
            let poison: Vec<u64> = case.poison.iter().map(|&i| ids[i % ids.len()]).collect();
            let input = batches(&ids, &case.cuts);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let (outcomes, end, stats, requests) =
                runtime.block_on(send_all(&case, input.clone(), poison.clone()));

            prop_assert!(end.stop.is_none(), "{:?}", end.stop);
            prop_assert_eq!(end.ids_not_sent, 0);
            prop_assert_eq!(requests, stats.requests, "one request per attempt");

            // Every batch's IDs are in exactly one final outcome of that batch's pieces.
            let mut by_batch: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
            for outcome in &outcomes {
                by_batch.entry(outcome.batch.seq).or_default().extend(&outcome.batch.values);
                prop_assert!(outcome.attempts <= case.max_attempts, "{:?}", outcome);
            }
            for batch in &input {
                let mut got = by_batch.remove(&batch.seq).unwrap_or_default();
                got.sort_unstable();
                let mut want = batch.values.clone();
                want.sort_unstable();
                prop_assert_eq!(got, want, "batch {}", batch.seq);
            }
            prop_assert!(by_batch.is_empty(), "outcomes for unknown batches: {:?}", by_batch);

            let at_mock = stats.ids.clone().unwrap_or_default();
            let mut blocked = BTreeSet::new();
            let mut failed = BTreeSet::new();
            for outcome in &outcomes {
                let into = match outcome.status {
                    BatchStatus::Blocked => &mut blocked,
                    BatchStatus::Failed | BatchStatus::Refused => &mut failed,
                };
                into.extend(outcome.batch.values.iter().copied());
                if outcome.status == BatchStatus::Blocked {
                    for id in &outcome.batch.values {
                        prop_assert_eq!(at_mock.get(id), Some(&1), "blocked ID {} recorded once", id);
                    }
                }
            }
            for id in &ids {
                if !at_mock.contains_key(id) {
                    prop_assert!(failed.contains(id), "ID {} neither blocked nor failed", id);
                }
            }
            prop_assert_eq!(
                at_mock.keys().copied().collect::<BTreeSet<u64>>(),
                blocked,
                "the mock blocked exactly the IDs of blocked outcomes"
            );
            for id in &poison {
                prop_assert!(failed.contains(id), "poisoned ID {} failed", id);
            }
        }
    }
}
