//! `blockade block` end to end: every ID once, in the requested batches, and a ledger that
//! covers exactly the input.

use crate::util::*;

#[test]
fn ten_thousand_ids_arrive_exactly_once_in_batches_of_the_requested_size() {
    let work = Work::new();
    let ids: Vec<u64> = (1..=10_000).map(|i| 1_000_000 + i * 7).collect();
    let input = work.write("contacts.csv", csv_of(ids.iter().copied()));
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(
            &mock,
            &[
                "--block-for",
                "7d",
                "--batch-size",
                "250",
                "--concurrency",
                "8",
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());

    assert_blocked_exactly_once(&mock, ids.iter().copied());
    let stats = mock.stats();
    assert_eq!(
        stats["batch_sizes"]["250"], 40,
        "batch sizes: {}",
        stats["batch_sizes"]
    );
    assert_eq!(stats["requests"], 40);

    let ledger = work.ledger();
    let blocked = lines_with_status(&ledger, "blocked");
    assert_eq!(blocked.len(), 40);
    assert_eq!(ledger_ids(&ledger, "blocked"), ids);
    assert!(lines_with_status(&ledger, "failed").is_empty());
    for line in blocked {
        assert_eq!(line["http_status"], 200);
        assert_eq!(line["attempts"], 1);
        assert!(line["error"].is_null());
        let source = line["source"].as_str().unwrap();
        assert!(source.starts_with(&input.display().to_string()), "{source}");
        assert!(line["run"].is_string() && line["started_at"].is_string() && line["ms"].is_u64());
    }
    assert!(ran.stdout.contains("10,000"), "summary: {}", ran.stdout);
}

#[test]
fn connections_are_kept_alive_and_reused() {
    let work = Work::new();
    let input = work.write("contacts.csv", csv_of(1..=3_000));
    let mock = Mock::start(&[]);
    // Every look at the stats is a connection of its own, counted as it is accepted.
    let before = mock.stats()["connections"].as_u64().unwrap();
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
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let stats = mock.stats();
    assert_eq!(stats["requests"], 300);
    let connections = stats["connections"].as_u64().unwrap() - before - 1;
    // hyper-util's pool gets a connection back only once its task has seen the answer's
    // end, so a request sent at that moment may open one more: at most twice the
    // concurrency, where a client without keep-alive would open 300.
    assert!(
        (1..=8).contains(&connections),
        "300 requests at concurrency 4 opened {connections} connections"
    );
    assert_blocked_exactly_once(&mock, 1..=3_000);
}

#[test]
fn ledger_lines_follow_the_contract_schema() {
    let work = Work::new();
    let input = work.write("a.csv", "id\n5\nabc\n6\n");
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(&mock, &["--block-till", "2031-01-02T03:04:05Z"])
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let ledger = work.ledger();
    let batch = lines_with_status(&ledger, "blocked")[0];
    let keys: Vec<&str> = batch
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "run",
        "batch",
        "status",
        "ids",
        "block_till",
        "attempts",
        "http_status",
        "error",
        "source",
        "started_at",
        "finished_at",
        "ms",
    ] {
        assert!(keys.contains(&key), "missing {key} in {batch}");
    }
    assert_eq!(batch["block_till"], "2031-01-02T03:04:05.000Z");
    assert_eq!(batch["ids"], serde_json::json!([5, 6]));
    let reject = lines_with_status(&ledger, "rejected")[0];
    assert_eq!(reject["source"], format!("{}:3", input.display()));
    assert_eq!(reject["input"], "abc");
    assert!(reject["error"].is_string());
    let tills = mock.stats()["block_tills"].clone();
    assert_eq!(tills["2031-01-02T03:04:05.000Z"], 2, "{tills}");
}

#[test]
fn duplicates_across_files_are_sent_once_and_counted() {
    let work = Work::new();
    let a = work.write("a.csv", csv_of(1..=300));
    let b = work.write(
        "b.jsonl",
        (200..=500)
            .map(|i| format!("{{\"id\": {i}}}\n"))
            .collect::<String>(),
    );
    let mock = Mock::start(&[]);
    let ran = run(work.block(&mock, &["--block-for", "1d"]).arg(&a).arg(&b));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, 1..=500);
    assert_eq!(
        ledger_ids(&work.ledger(), "blocked"),
        (1..=500).collect::<Vec<_>>()
    );
    assert!(
        ran.stdout.contains("101 duplicates"),
        "summary: {}",
        ran.stdout
    );
}

#[test]
fn dry_run_sends_nothing_and_writes_no_ledger() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=1234));
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--dry-run"])
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(mock.requests(), 0);
    assert!(!work.ledger_path().exists());
    assert!(
        ran.stdout.contains("1,234 IDs in 13 batches"),
        "plan: {}",
        ran.stdout
    );
}

#[test]
fn per_row_block_till_groups_batches() {
    let work = Work::new();
    let mut csv = String::from("id,until\n");
    for i in 1..=30u64 {
        let until = if i % 3 == 0 {
            ""
        } else if i % 3 == 1 {
            "2031-01-01T00:00:00Z"
        } else {
            "2032-06-01T12:00:00+02:00"
        };
        csv += &format!("{i},{until}\n");
    }
    let input = work.write("tills.csv", csv);
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(
            &mock,
            &[
                "--block-till-field",
                "until",
                "--block-till",
                "2030-01-01T00:00:00Z",
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let tills = mock.stats()["block_tills"].clone();
    assert_eq!(tills["2031-01-01T00:00:00.000Z"], 10, "{tills}");
    assert_eq!(tills["2032-06-01T10:00:00.000Z"], 10, "{tills}");
    assert_eq!(tills["2030-01-01T00:00:00.000Z"], 10, "{tills}");
    assert_blocked_exactly_once(&mock, 1..=30);
}

#[test]
fn rate_limit_holds_in_every_one_second_window_the_imitation_saw() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=600));
    let mock = Mock::start(&[]);
    let mut cmd = work.block(
        &mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--concurrency",
            "16",
            "--rate",
            "20/s",
        ],
    );
    cmd.args(["--burst", "1"]).arg(&input);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let stats = mock.stats();
    assert_eq!(stats["requests"], 60);
    let busiest = stats["max_per_second"].as_u64().unwrap();
    // The gate lets at most rate + burst (21) through in any second. The bound here has a
    // little slack because on a shared machine the imitation itself can be paused for a
    // moment, and requests it timestamps after a pause bunch up; the exact figure is
    // measured in benches/ (BENCHMARKS.md). An unpaced run would put all 60 requests in
    // one second, a burst of `rate` 40.
    assert!(
        busiest <= 24,
        "busiest 1 s window held {busiest} requests at --rate 20/s: {stats}"
    );
    assert!(busiest >= 2, "the imitation did not count windows: {stats}");
    // 60 requests at 20/s span three seconds of the imitation's clock.
    let seconds = stats["per_second"].as_array().unwrap().len();
    assert!(
        seconds >= 3,
        "60 requests at 20/s arrived within {seconds} s: {stats}"
    );
}

#[test]
fn stdin_and_gzip_inputs_are_read() {
    let work = Work::new();
    let mock = Mock::start(&[]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, csv_of(101..=200).as_bytes()).unwrap();
    let gz_path = work.write("more.csv.gz", gz.finish().unwrap());
    let ran = run_with_stdin(
        work.block(&mock, &["--block-for", "1d", "--format", "csv", "-"])
            .arg(&gz_path),
        csv_of(1..=100).as_bytes(),
    );
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, 1..=200);
    let ledger = work.ledger();
    assert!(
        ledger
            .iter()
            .any(|l| l["source"].as_str().unwrap_or("").starts_with("<stdin>:")),
        "{ledger:?}"
    );
}

#[test]
fn sandbox_runs_the_readme_command() {
    let work = Work::new();
    let fixture = root().join("fixtures/contacts.csv");
    let ran = run(work
        .blockade()
        .args([
            "block",
            "--block-for",
            "7d",
            "--sandbox",
            "--rate",
            "1000/s",
            "--results",
        ])
        .arg(work.ledger_path())
        .arg(&fixture));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let ledger = work.ledger();
    let blocked = ledger_ids(&ledger, "blocked");
    assert_eq!(blocked.len(), 3000, "every fixture row is blocked");
    assert!(ran.stdout.contains("3,000 IDs"), "{}", ran.stdout);
    assert!(ran.stdout.contains("sandbox"), "{}", ran.stdout);
}

#[test]
fn dry_run_of_a_broken_input_is_an_input_error() {
    let work = Work::new();
    let bad = root().join("fixtures/bad/truncated.csv.gz");
    let ran = run(work
        .blockade()
        .args(["block", "--block-for", "1d", "--dry-run", "--sandbox"])
        .arg(&bad));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stdout.contains("could not be read to the end"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("50 valid"),
        "the plan still counts the rows read: {}",
        ran.stdout
    );
}
