//! Exit codes and refusals: 1 when batches fail, 2 before anything is sent, 3 on a refused
//! key; and the key never shows up anywhere.

use crate::util::*;

#[test]
fn exit_2_without_a_key_and_nothing_sent() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    let mock = Mock::start(&[]);
    let mut cmd = work.block(&mock, &["--block-for", "1d"]);
    cmd.env_remove("ACQUIRE_API_KEY").arg(&input);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("ACQUIRE_API_KEY"), "{}", ran.stderr);
    assert_eq!(mock.requests(), 0);
    assert!(!work.ledger_path().exists());
}

#[test]
fn exit_2_for_bad_options_with_a_hint() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    let mock = Mock::start(&[]);
    let cases: &[(&[&str], &str)] = &[
        (&["--block-for", "1d", "--rate", "10/d"], "N/s, N/m or N/h"),
        (&["--block-for", "soon"], "30d"),
        (&["--block-till", "2001-01-01T00:00:00Z"], "in the past"),
        (&[], "--block-for"),
        (&["--block-for", "1d", "--batch-size", "0"], "batch-size"),
    ];
    for (args, hint) in cases {
        let ran = run(work.block(&mock, args).arg(&input));
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.all());
        assert!(
            ran.stderr.contains(hint),
            "{args:?} should hint {hint:?}: {}",
            ran.stderr
        );
    }
    assert_eq!(mock.requests(), 0);
}

#[test]
fn exit_2_for_an_unreadable_file_before_anything_is_sent() {
    let work = Work::new();
    let good = work.write("good.csv", csv_of(1..=5));
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(&mock, &["--block-for", "1d"])
        .arg(&good)
        .arg(work.path("missing.csv")));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("missing.csv"), "{}", ran.stderr);
    assert_eq!(
        mock.requests(),
        0,
        "nothing is sent when any input cannot be opened"
    );
}

#[test]
fn exit_2_for_a_base_url_that_is_not_loopback_http() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    for url in [
        "http://example.com",
        "http://10.1.2.3:8080",
        "ftp://127.0.0.1",
    ] {
        let ran = run(work
            .blockade()
            .args(["block", "--block-for", "1d", "--base-url", url])
            .env("ACQUIRE_API_KEY", KEY)
            .arg(&input));
        assert_eq!(ran.code, 2, "{url}: {}", ran.all());
        assert!(ran.stderr.contains("--base-url"), "{}", ran.stderr);
    }
    let ran = run(work
        .blockade()
        .args(["block", "--block-for", "1d", "--account", "acme.evil.com"])
        .env("ACQUIRE_API_KEY", KEY)
        .arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
}

#[test]
fn exit_3_when_the_key_is_refused() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5000));
    let mock = Mock::start(&[]);
    let summary = work.path("summary.json");
    let mut cmd = work.block(
        &mock,
        &[
            "--block-for",
            "1d",
            "--batch-size",
            "10",
            "--concurrency",
            "2",
            "--summary-json",
        ],
    );
    cmd.arg(&summary)
        .env("ACQUIRE_API_KEY", "wrong-key")
        .arg(&input);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 3, "{}", ran.all());
    let requests = mock.requests();
    assert!(
        requests <= 4,
        "the run stops after the first 401s, sent {requests}"
    );
    assert!(ran.stdout.contains("--resume"), "{}", ran.stdout);
    // Nothing lost from sight: every row is failed, not sent, or counted as not read.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let accounted: u64 = ["blocked", "failed", "not_sent", "unread_rows"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap())
        .sum();
    assert_eq!(accounted, 5000, "{summary:#}");
    assert!(summary["unread_rows"].as_u64().unwrap() > 0, "{summary:#}");
    assert_eq!(summary["unread_uncounted"], false);
}

#[test]
fn the_key_never_appears_in_output_or_the_ledger_at_trace_level() {
    let work = Work::new();
    let input = work.write("a.csv", "id\n1\n2\nnope\n");
    let canary = "canary-key-7f3a9c";
    let mock = Mock::start(&[]);
    for (extra, env) in [(&["-vv"][..], None), (&[][..], Some("trace"))] {
        let mut cmd = work.block(&mock, &["--block-for", "1d"]);
        cmd.env("ACQUIRE_API_KEY", canary).args(extra).arg(&input);
        if let Some(filter) = env {
            cmd.env("RUST_LOG", filter);
        }
        let ran = run(&mut cmd);
        assert_eq!(ran.code, 3, "the mock refuses the canary: {}", ran.all());
        assert!(
            !ran.all().contains(canary),
            "the key leaked into the output"
        );
    }
    let ledger = std::fs::read_to_string(work.ledger_path()).unwrap();
    assert!(!ledger.contains(canary));
}

#[test]
fn max_rejects_stops_a_mostly_garbage_input_before_sending() {
    let work = Work::new();
    let mut csv = String::from("id,name\n1,a\n2,b\n");
    for i in 0..8 {
        csv += &format!("x{i},junk\n");
    }
    let input = work.write("garbage.csv", csv);
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--max-rejects", "0.5"])
        .arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("bad rows: 8 of 10"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("garbage.csv:4"),
        "the first bad rows are shown: {}",
        ran.stderr
    );
    assert_eq!(mock.requests(), 0);
    assert!(!work.ledger_path().exists());

    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--max-rejects", "10"])
        .arg(&input));
    assert_eq!(
        ran.code,
        0,
        "under the limit the run goes on: {}",
        ran.all()
    );
    assert_blocked_exactly_once(&mock, [1, 2]);
}

#[test]
fn help_teaches_with_examples_and_completions_are_generated() {
    let work = Work::new();
    let ran = run(work.blockade().args(["block", "--help"]));
    assert_eq!(ran.code, 0);
    assert!(
        ran.stdout.contains("Examples:") && ran.stdout.contains("--sandbox"),
        "{}",
        ran.stdout
    );
    for shell in ["bash", "zsh", "fish"] {
        let ran = run(work.blockade().args(["completions", shell]));
        assert_eq!(ran.code, 0, "{shell}: {}", ran.all());
        assert!(
            ran.stdout.contains("--block-for"),
            "{shell} completions name the options"
        );
    }
    let ran = run(work.blockade().args(["completions", "tcsh"]));
    assert_eq!(
        ran.code,
        2,
        "an unknown shell is a usage error: {}",
        ran.all()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_ledger_that_cannot_be_written_stops_the_run() {
    // Nothing may be sent that cannot be recorded: on a full disk the run stops at once.
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=2000));
    let mock = Mock::start(&[]);
    let mut cmd = work.blockade();
    cmd.args([
        "block",
        "--base-url",
        &mock.url,
        "--block-for",
        "1d",
        "--rate",
        "200/s",
        "--batch-size",
        "10",
        "--results",
        "/dev/full",
    ])
    .env("ACQUIRE_API_KEY", KEY)
    .arg(&input);
    let ran = run(&mut cmd);
    // The run line is written before anything is sent: its failure stops the run with
    // nothing sent (exit 2), and says what to do.
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stderr
            .contains("cannot write to the results ledger /dev/full")
            && ran.stderr.contains("free disk space"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        mock.requests(),
        0,
        "nothing sent that could not be recorded"
    );
}
