//! The operator's view (issue 17): one set of numbers in the text summary and
//! `--summary-json`, every stderr line a JSON object under `--log-format json`, reasons in
//! the summary, and hints that hold.

use serde_json::Value;

use crate::util::*;

/// The number after `label` on the summary line that starts with `  {line}`.
fn figure(text: &str, line: &str, label: &str) -> u64 {
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(line))
        .unwrap_or_else(|| panic!("no `{line}` line: {text}"));
    let after = row
        .split_once(label)
        .unwrap_or_else(|| panic!("no `{label}` in `{row}`"))
        .1;
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after `{label}` in `{row}`"))
}

/// The figures the text summary prints, and the JSON's, are the same.
fn assert_text_matches_json(text: &str, json: &Value, blocks: bool) {
    let u = |key: &str| {
        json[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {json}"))
    };
    assert_eq!(figure(text, "read", "read"), u("rows_read"), "{text}");
    assert_eq!(figure(text, "read", ":"), u("valid_rows"), "{text}");
    assert_eq!(figure(text, "read", "valid,"), u("rejected"), "{text}");
    assert_eq!(figure(text, "read", "rejected,"), u("duplicates"), "{text}");
    // Only the commands that take --resume say what it skipped.
    if json["command"] == "block" || json["command"] == "unblock" {
        assert_eq!(
            figure(text, "read", "duplicates,"),
            u("already_blocked"),
            "{text}"
        );
    } else {
        assert_eq!(u("already_blocked"), 0, "{json}");
        assert!(!text.contains("(--resume)"), "{text}");
    }
    assert_eq!(figure(text, "sent", "sent"), u("sent"), "{text}");
    assert_eq!(figure(text, "sent", " in "), u("requests"), "{text}");
    assert_eq!(figure(text, "failed", "failed"), u("failed"), "{text}");
    if blocks {
        assert_eq!(figure(text, "blocked", "blocked"), u("blocked"), "{text}");
    } else {
        assert_eq!(
            figure(text, "unblocked", "unblocked"),
            u("unblocked"),
            "{text}"
        );
        assert_eq!(
            figure(text, "unblocked", "("),
            u("records_deleted"),
            "{text}"
        );
        assert_eq!(
            figure(text, "not blocked", "not blocked"),
            u("not_blocked"),
            "{text}"
        );
    }
    if u("retries") > 0 {
        assert_eq!(figure(text, "sent", "("), u("retries"), "{text}");
    }
}

#[test]
fn text_and_json_give_the_same_figures_for_every_command() {
    let work = Work::new();
    // 2 rejected rows, 1 duplicate, 40 valid IDs; every other request fails.
    let mut rows = String::from("id\n");
    for id in 1..=40 {
        rows += &format!("{id}\n");
    }
    rows += "abc\n7\n-3\n";
    let input = work.write("in.csv", rows);
    let flaky = Mock::start(&[
        "--fail-rate",
        "0.5",
        "--seed",
        "7",
        "--block-list",
        "--answer",
        "records",
    ]);
    let ran = run(work
        .block(
            &flaky,
            &[
                "--block-for",
                "1d",
                "--batch-size",
                "5",
                "--max-attempts",
                "2",
                "--summary-json",
                "block.json",
            ],
        )
        .arg(&input));
    assert!(ran.code == 0 || ran.code == 1, "{}", ran.all());
    let json = work.summary("block.json");
    assert_eq!(
        (json["rows_read"].as_u64(), json["valid_rows"].as_u64()),
        (Some(43), Some(41))
    );
    assert_text_matches_json(&ran.stdout, &json, true);
    assert!(json["retries"].as_u64() > Some(0), "{json}");

    // Retry what failed, against the same flaky server.
    let ran = run(&mut work.retry(
        &flaky,
        &work.ledger_path(),
        &["--summary-json", "retry.json"],
    ));
    let json = work.summary("retry.json");
    if json["sent"].as_u64() > Some(0) {
        assert_text_matches_json(&ran.stdout, &json, true);
    }

    // Undo the run: values unblocked and records deleted apart.
    let ran = run(work
        .sending("unblock", &flaky, &["--from-ledger"])
        .arg(work.ledger_path())
        .args(["--summary-json", "unblock.json"]));
    let json = work.summary("unblock.json");
    assert_text_matches_json(&ran.stdout, &json, false);
    assert_eq!(json["command"], "unblock");
    // Records deleted, as the imitation counted its deletes that removed one.
    assert_eq!(
        json["records_deleted"],
        flaky.stats()["records_deleted"],
        "{json}"
    );
    assert!(json["records_deleted"].as_u64() > Some(0), "{json}");

    // Sync the list again: what it read, sent, blocked (new and renewed) and held.
    let ran = run(work
        .sync(
            &flaky,
            &["--block-for", "30d", "--summary-json", "sync.json"],
        )
        .arg(&input));
    assert!(ran.code == 0 || ran.code == 1, "{}", ran.all());
    let json = work.summary("sync.json");
    let u = |key: &str| {
        json[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {json}"))
    };
    let text = &ran.stdout;
    assert_eq!(figure(text, "read", "read"), u("rows_read"), "{text}");
    assert_eq!(figure(text, "read", ":"), u("valid_rows"), "{text}");
    assert_eq!(figure(text, "sent", "sent"), u("sent"), "{text}");
    assert_eq!(figure(text, "sent", " in "), u("requests"), "{text}");
    assert_eq!(figure(text, "blocked", "blocked"), u("blocked"), "{text}");
    assert_eq!(figure(text, "held", "held"), u("held"), "{text}");
    if text.lines().any(|l| l.trim_start().starts_with("failed")) {
        assert_eq!(figure(text, "failed", "failed"), u("failed"), "{text}");
    } else {
        assert_eq!(u("failed"), 0, "{text}");
    }

    // Verify the account against the ledger: each mark's count, in both.
    let ran = run(&mut work.verify(&flaky, &["--summary-json", "verify.json"]));
    assert!(ran.code == 0 || ran.code == 1, "{}", ran.all());
    let json = work.summary("verify.json");
    let total = |key: &str| {
        json["total"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {json}"))
    };
    let text = &ran.stdout;
    assert_eq!(
        figure(text, "contact", "contact"),
        total("claimed"),
        "{text}"
    );
    assert_eq!(figure(text, "contact", "="), total("held"), "{text}");
    assert_eq!(
        figure(text, "contact", "held, *"),
        total("held_longer"),
        "{text}"
    );
    assert_eq!(
        figure(text, "contact", "longer, *"),
        total("held_shorter"),
        "{text}"
    );
    assert_eq!(
        figure(text, "contact", "shorter, -"),
        total("missing"),
        "{text}"
    );
    assert_eq!(
        figure(text, "contact", "missing; +"),
        total("unexpected"),
        "{text}"
    );

    // The report's runs, read from the ledger, give each run's figures as its summary did.
    let report = run(work.report(&["--json"]).arg(work.ledger_path()));
    let report: Value = serde_json::from_str(&report.stdout).expect("report --json");
    let runs = report["runs"].as_array().expect("runs");
    for (name, file) in [
        ("block", "block.json"),
        ("retry", "retry.json"),
        ("unblock", "unblock.json"),
    ] {
        let summary = work.summary(file);
        let row = runs
            .iter()
            .find(|row| row["run"] == summary["run"])
            .unwrap_or_else(|| panic!("the {name} run in the report: {report}"));
        assert_eq!(
            row["requests"], summary["requests"],
            "{name}: {row} {summary}"
        );
        assert_eq!(
            row["values_sent"], summary["sent"],
            "{name}: {row} {summary}"
        );
    }
}

/// Every stderr line parses as JSON under `--log-format json`: a run that works, one that
/// fails on an unreachable server, an input error and a usage error clap refuses.
#[test]
fn every_stderr_line_is_json_with_json_logs() {
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=20));
    let mock = Mock::start(&[]);
    let assert_json_lines = |ran: &Ran, what: &str| {
        assert!(!ran.stderr.trim().is_empty(), "{what}: nothing on stderr");
        for line in ran.stderr.lines().filter(|l| !l.trim().is_empty()) {
            let parsed: Result<Value, _> = serde_json::from_str(line);
            assert!(
                parsed.is_ok(),
                "{what}: a stderr line is not JSON: {line}\n{}",
                ran.stderr
            );
        }
    };
    // Success: the summary is one event with the summary's fields.
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--log-format", "json"])
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_json_lines(&ran, "a run that works");
    let summary: Value = ran
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "Summary")
        .unwrap_or_else(|| panic!("no summary event: {}", ran.stderr));
    assert_eq!(summary["fields"]["blocked"], 20, "{summary}");
    assert_eq!(summary["fields"]["rows_read"], 20, "{summary}");

    // A server that cannot be reached.
    let mut unreachable = work.blockade();
    unreachable
        .args([
            "block",
            "--block-for",
            "1d",
            "--log-format",
            "json",
            "--max-attempts",
            "1",
        ])
        .args([
            "--backoff-base",
            "1ms",
            "--backoff-max",
            "2ms",
            "--base-url",
        ])
        .arg(format!("http://127.0.0.1:{}", free_port()))
        .arg(&input)
        .env("ACQUIRE_API_KEY", KEY);
    let ran = run(&mut unreachable);
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert_json_lines(&ran, "an unreachable server");
    assert!(
        ran.stdout.contains("connection refused"),
        "the reason is in the summary: {}",
        ran.stdout
    );

    // An input error (exit 2) and a usage error clap refuses (exit 2).
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--log-format", "json"])
        .arg("nosuch.csv"));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert_json_lines(&ran, "a missing input");
    assert!(ran.stderr.contains("nosuch.csv"), "{}", ran.stderr);
    let ran = run(work
        .block(&mock, &["--block-for", "6m", "--log-format", "json"])
        .arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert_json_lines(&ran, "a usage error");
    assert!(ran.stderr.contains("6min"), "{}", ran.stderr);
}

/// A retry against a target that wrote no line of the ledger, while the ledger holds
/// failures of another target, is exit 2 naming the ledger's targets, not "done".
#[test]
fn retry_against_the_wrong_target_is_an_error_naming_the_targets() {
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=10));
    let failing = Mock::start(&["--fail-rate", "1", "--seed", "1"]);
    let ran = run(work
        .block(&failing, &["--block-for", "1d", "--max-attempts", "1"])
        .arg(&input));
    assert_eq!(ran.code, 1, "{}", ran.all());
    let other = Mock::start(&[]);
    let ran = run(&mut work.retry(&other, &work.ledger_path(), &[]));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stderr.contains(&failing.url),
        "names the ledger's target: {}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("--base-url"),
        "names the flag: {}",
        ran.stderr
    );
    assert_eq!(other.requests(), 0);
}

/// After a refused key, the summary says what to check and suggests no command that
/// would fail the same way.
#[test]
fn a_refused_key_gets_no_hint_to_run_the_same_again() {
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=10));
    let mock = Mock::start(&[]);
    let mut cmd = work.block(&mock, &["--block-for", "1d"]);
    cmd.env("ACQUIRE_API_KEY", "the-wrong-key").arg(&input);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 3, "{}", ran.all());
    assert!(!ran.stdout.contains("Next:"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("ACQUIRE_API_KEY"),
        "says what to check: {}",
        ran.stdout
    );
}

/// A ledger that holds failures of two types: the summary's `Next: ... retry` line names
/// the run's type, so it runs as printed (without it `retry` would ask which type).
#[test]
fn the_retry_hint_names_the_type_when_the_ledger_holds_failures_of_two() {
    let failing = Mock::start(&["--block-list", "--fail-rate", "1"]);
    let work = Work::new();
    work.write("ids.txt", "1\n2\n");
    work.write("emails.txt", "a@example.com\nb@example.com\n");
    let args = |extra: &'static [&'static str]| {
        let mut args = vec!["--block-for", "1d", "--max-attempts", "1", "--no-header"];
        args.extend_from_slice(extra);
        args
    };
    let ran = run(&mut work.block(&failing, &args(&["ids.txt"])));
    assert_eq!(ran.code, 1, "{}", ran.all());
    let ran = run(&mut work.block(&failing, &args(&["--type", "email", "emails.txt"])));
    assert_eq!(ran.code, 1, "{}", ran.all());
    let retry = next_lines(&ran)
        .into_iter()
        .find(|line| line.contains(" retry "))
        .unwrap_or_else(|| panic!("a retry hint: {}", ran.all()));
    assert!(retry.contains("--type email"), "{retry}");

    // The same target, healthy now: the hint as printed blocks the two emails.
    let healthy = Mock::restart(failing, &["--block-list"]);
    let ran = run_printed(&work, &retry, true);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let held: Vec<Value> = healthy.records("type=email");
    assert_eq!(held.len(), 2, "{held:?}");
}

/// A fault on the last attempt is a failure, not a retry: the summary counts only the
/// attempts that were followed by another.
#[test]
fn the_last_attempts_fault_is_not_counted_as_a_retry() {
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=10));
    let failing = Mock::start(&["--fail-rate", "1"]);
    let ran = run(work
        .block(
            &failing,
            &[
                "--block-for",
                "1d",
                "--max-attempts",
                "2",
                "--summary-json",
                "s.json",
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 1, "{}", ran.all());
    let summary = work.summary("s.json");
    assert_eq!(summary["requests"], 2, "{summary}");
    assert_eq!(
        summary["retries"], 1,
        "two attempts are one retry: {summary}"
    );
    assert!(ran.stdout.contains("(1 retry:"), "{}", ran.stdout);
}
