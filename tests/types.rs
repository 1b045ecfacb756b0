//! `--type email|ip`: how emails and IP addresses are read (normal form, dedupe, rejects)
//! and a million of them in bounded memory. Everything after reading runs for every kind
//! in `every_kind.rs`.

use std::fs::File;
use std::io::{BufWriter, Write};

use serde_json::Value;

use crate::util::*;

/// The values of every live block record of `value_type`, as `blocked` exports them.
fn exported(work: &Work, mock: &Mock, value_type: &str) -> Vec<String> {
    let mut cmd = work.blockade();
    cmd.args(["blocked", "--base-url", &mock.url, "--rate", "2000/s"])
        .args(["--type", value_type, "--format", "jsonl"])
        .env("ACQUIRE_API_KEY", KEY);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let mut values: Vec<String> = ran
        .stdout
        .lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).expect("jsonl");
            row["value"].as_str().expect("value").to_owned()
        })
        .collect();
    values.sort();
    values
}

/// The strings of every ledger line of `status` and `value_type`, sorted.
fn ledger_values(lines: &[Value], status: &str, value_type: &str) -> Vec<String> {
    let mut values: Vec<String> = lines
        .iter()
        .filter(|line| line["status"] == status && line["type"] == value_type)
        .flat_map(|line| line["ids"].as_array().expect("ids").clone())
        .map(|id| id.as_str().expect("string ids").to_owned())
        .collect();
    values.sort();
    values
}

fn rejects(lines: &[Value]) -> Vec<(String, String)> {
    lines_with_status(lines, "rejected")
        .iter()
        .map(|line| {
            (
                line["source"].as_str().unwrap().to_owned(),
                line["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn emails_are_normalised_deduped_across_files_and_case_and_sent_once() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write(
        "a.csv",
        "name,email\nbob,Bob@Example.COM\nx,not-an-email\nalice, alice@example.org \n",
    );
    work.write("b.txt", "bob@example.com\nCAROL@X.io\n\nBOB@EXAMPLE.COM\n");
    work.write(
        "c.jsonl",
        "{\"email\": \"carol@x.io\"}\n{\"email\": 5}\n{\"email\": \"dave@y.org\"}\n",
    );
    let ran = run(&mut work.block(
        &mock,
        &[
            "--type",
            "email",
            "--block-for",
            "1d",
            "a.csv",
            "b.txt",
            "c.jsonl",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());

    let expected = [
        "alice@example.org",
        "bob@example.com",
        "carol@x.io",
        "dave@y.org",
    ];
    // What the imitation received: every value once, in its normal form.
    assert_eq!(exported(&work, &mock, "email"), expected);
    assert_eq!(mock.stats()["ids_blocked"], expected.len() as u64);
    assert_eq!(mock.stats()["live_by_type"]["email"], expected.len() as u64);

    let lines = work.ledger();
    assert_eq!(ledger_values(&lines, "blocked", "email"), expected);
    for line in batch_lines(&lines) {
        assert_eq!(line["type"], "email", "{line}");
    }
    let rejected = rejects(&lines);
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(rejected[0].0, "a.csv:3");
    assert!(
        rejected[0].1.contains("bad email \"not-an-email\""),
        "{rejected:?}"
    );
    assert_eq!(rejected[1].0, "c.jsonl:2");
    assert!(rejected[1].1.contains("not a string"), "{rejected:?}");
    // 7 valid rows, 3 of them duplicates (by case, across files and formats).
    assert!(ran.stdout.contains("3 duplicates"), "{}", ran.stdout);
    // The summary counts emails, not IDs.
    assert!(ran.stdout.contains("blocked   4 emails"), "{}", ran.stdout);
}

#[test]
fn ip_addresses_take_their_canonical_form_and_bad_ones_are_rejected() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write(
        "ips.csv",
        "ip\n2001:0db8:0000::1\n2001:DB8::1\n 10.0.0.1\n999.1.1.1\n10.0.0.1\n",
    );
    let ran = run(&mut work.block(&mock, &["--type", "ip", "--block-for", "1d", "ips.csv"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(exported(&work, &mock, "ip"), ["10.0.0.1", "2001:db8::1"]);
    assert_eq!(mock.stats()["ids_blocked"], 2);
    assert!(
        ran.stdout.contains("blocked   2 IP addresses"),
        "{}",
        ran.stdout
    );
    let lines = work.ledger();
    assert_eq!(
        ledger_values(&lines, "blocked", "ip"),
        ["10.0.0.1", "2001:db8::1"]
    );
    let rejected = rejects(&lines);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, "ips.csv:5");
    assert!(
        rejected[0].1.contains("not an IPv4 or IPv6 address"),
        "{rejected:?}"
    );
    for line in lines_with_status(&lines, "blocked") {
        assert_eq!(line["type"], "ip", "{line}");
    }
}

/// Peak RSS allowed for a dry run of a million distinct emails (issue 12).
const MAX_RSS_KB: u64 = 128 * 1024;

#[test]
fn a_million_email_dry_run_stays_within_128_mb() {
    let work = Work::new();
    let path = work.path("million.txt");
    {
        // Streamed: the test process never holds the list.
        let mut out = BufWriter::new(File::create(&path).expect("create"));
        for i in 0..1_000_000u32 {
            writeln!(out, "User.{i:07}@Example{}.com", i % 97).expect("write");
        }
        out.flush().expect("flush");
    }
    let mut cmd = work.blockade();
    cmd.args([
        "block",
        "--dry-run",
        "--offline",
        "--type",
        "email",
        "--block-for",
        "1d",
    ])
    .args(["--base-url", "http://127.0.0.1:9", "--results"])
    .arg(work.ledger_path())
    .arg(&path)
    .env("ACQUIRE_API_KEY", KEY);
    let (ran, rss_kb) = run_measured(&mut cmd);
    eprintln!("1M emails dry run: peak RSS {rss_kb} KiB");
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("1,000,000 valid") && ran.stdout.contains("0 duplicates"),
        "{}",
        ran.stdout
    );
    assert!(rss_kb > 0, "wait4 reported a peak RSS");
    assert!(rss_kb < MAX_RSS_KB, "peak RSS {rss_kb} KiB");
    assert!(!work.ledger_path().exists(), "a dry run writes no ledger");
}
