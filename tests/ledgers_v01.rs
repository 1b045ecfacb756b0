//! Ledgers written by blockade 0.1.0 (`fixtures/ledgers/v0.1-*.jsonl`) still drive
//! `--resume`, `retry`, `unblock --from-ledger` and `report`. 0.1.0 wrote them against an
//! imitation at `http://127.0.0.1:PORT` (their run lines' `target`); each test copies
//! one into its work directory, points its run lines at the current imitation (the only
//! bytes changed, unless a test says so), and gives that imitation the account the
//! ledger describes (seeded records, in the order 0.1.0's imitation numbered them).
//!
//! The rule for time: a `blocked` line counts as blocked only while its `block_till` is
//! to come, so `--resume` sends again the values whose latest block has run out. The
//! tests work out which those are from the lines and the clock, so they hold whatever
//! the date.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::scenario::*;
use crate::util::*;

/// Copies fixture `name` to the work directory's ledger, with every run line's target
/// made `url`.
fn copy_v01(work: &Work, name: &str, url: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("fixtures/ledgers").join(name))
        .expect("read the fixture");
    let mut out = String::new();
    for line in text.lines() {
        let parsed: Value = serde_json::from_str(line).expect("fixture lines are JSON");
        if parsed["status"] == "run" {
            let old = parsed["target"]
                .as_str()
                .expect("a run line names its target");
            let rewritten = line.replace(
                &format!(r#""target":"{old}""#),
                &format!(r#""target":"{url}""#),
            );
            assert_ne!(rewritten, line, "{line}");
            out += &rewritten;
        } else {
            out += line;
        }
        out.push('\n');
    }
    work.write("results.jsonl", out)
}

/// The id of the fixture's run number `n` (from 0).
fn run_of(work: &Work, n: usize) -> String {
    read_run_lines(&work.ledger_path())[n]["run"]
        .as_str()
        .expect("run id")
        .to_owned()
}

/// The values of `kind` that `--resume` must still send: those whose latest line is not
/// a `blocked` one with a block-till to come.
fn not_blocked_now(kind: Kind, lines: &[Value], values: &[String]) -> BTreeSet<String> {
    let now = Utc::now();
    let mut till: BTreeMap<String, Option<DateTime<Utc>>> = BTreeMap::new();
    for line in lines {
        let blocked_till = (line["status"] == "blocked")
            .then(|| line["block_till"].as_str().and_then(|t| t.parse().ok()))
            .flatten();
        for value in kind.line_values(line) {
            till.insert(value, blocked_till);
        }
    }
    values
        .iter()
        .filter(|v| !matches!(till.get(*v), Some(Some(t)) if *t > now))
        .cloned()
        .collect()
}

/// Seeds (blocked through the API, `blockBy` 1) for these values, one record each, in
/// order: the imitation numbers them 1, 2, ...
fn seeds(work: &Work, records: &[(Kind, &str)]) -> PathBuf {
    let lines: Vec<String> = records
        .iter()
        .map(|(kind, value)| {
            json!({"type": kind.name(), "values": [kind.json(value)], "blockBy": 1}).to_string()
        })
        .collect();
    work.write("seeds.jsonl", lines.join("\n") + "\n")
}

/// The account 0.1.0's imitation held when it wrote v0.1-contacts, -emails and -ips (one
/// session, one port): block records 1 to 16.
fn session_account(work: &Work) -> PathBuf {
    let c = Kind::Contact;
    let (e, i) = (Kind::Email, Kind::Ip);
    seeds(
        work,
        &[
            (c, "1"),
            (c, "2"),
            (c, "3"),
            (c, "4"),
            (c, "9"),
            (c, "10"),
            (c, "6"),
            (c, "7"),
            (c, "8"),
            (e, "a@x.io"),
            (e, "b@x.io"),
            (e, "c@x.io"),
            (e, "d@x.io"),
            (i, "10.0.0.1"),
            (i, "2001:db8::1"),
            (i, "10.0.0.2"),
        ],
    )
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

#[test]
fn a_v01_contact_ledger_reports_its_rejects_and_refusals_and_its_undo_resumes() {
    let work = Work::new();
    let seeds = session_account(&work);
    let mock = Mock::start(&["--seed-records", seeds.to_str().unwrap()]);
    let ledger = copy_v01(&work, "v0.1-contacts.jsonl", &mock.url);

    // Blocked 1-4 and 6-10 (5 refused, "abc" rejected), then all nine unblocked.
    let ran = run(work.report(&["--json", "--rejected"]).arg(&ledger));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let report: Value = serde_json::from_str(&ran.stdout).expect("JSON");
    assert_eq!(report["ledgers"][0]["unreadable_lines"], 0, "{report}");
    assert_eq!(report["now"]["contact"]["unblocked"], 9, "{report}");
    assert_eq!(report["now"]["contact"]["refused"], 1, "{report}");
    assert_eq!(report["now"]["contact"]["blocked"], 0, "{report}");
    assert_eq!(report["rejected_rows"], 1, "{report}");
    let rejected: Vec<(&str, &str)> = report["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|row| {
            (
                row["status"].as_str().unwrap(),
                row["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [("rejected", "abc"), ("refused", "5")],
        "{report}"
    );
    assert_eq!(report["runs"][0]["target"], mock.url.as_str(), "{report}");

    // The undo's lines are read: --resume sends nothing.
    let mut cmd = work.sending("unblock", &mock, &["--from-ledger"]);
    cmd.arg(&ledger)
        .args(["--run", &run_of(&work, 0), "--resume"]);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("9 already unblocked"), "{}", ran.stdout);
    assert_eq!(stat(&mock, "writes"), 0);
    assert_eq!(list_requests(&mock), 0);

    // And a block --resume of the list sends all ten again: none is blocked now.
    let ids: Vec<String> = (1..=10).map(|i: u64| i.to_string()).collect();
    let input = work.write("c.csv", Kind::Contact.csv(&ids));
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--resume"])
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("0 already blocked"), "{}", ran.stdout);
    assert_eq!(received(&mock), 10);
}

#[test]
fn a_v01_ledger_drives_resume_which_sends_again_what_has_expired_and_undo_by_listing() {
    let work = Work::new();
    // 0.1.0 blocked 1-10 until 2027-01-03 (no block_ids: its imitation answered
    // {"data": true}), then again (the second run: all already blocked).
    let mock = Mock::start(&["--seed-range", "contact:1-10,by=1"]);
    let ledger = copy_v01(&work, "v0.1-dup.jsonl", &mock.url);
    // Say the second run's lines for 1 to 4 blocked them until 2021: those blocks have
    // run out (the only other bytes changed).
    let text = std::fs::read_to_string(&ledger).unwrap();
    let mut aged = 0;
    let text: Vec<String> = text
        .lines()
        .map(|line| {
            let parsed: Value = serde_json::from_str(line).unwrap();
            if parsed["already"] == true && parsed["ids"][0].as_u64().is_some_and(|id| id <= 4) {
                aged += 1;
                line.replace("\"block_till\":\"2027-01-03", "\"block_till\":\"2021-01-03")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_eq!(aged, 4);
    std::fs::write(&ledger, text.join("\n") + "\n").unwrap();

    let lines = read_ledger(&ledger);
    let ids: Vec<String> = (1..=12).map(|i: u64| i.to_string()).collect();
    let to_send = not_blocked_now(Kind::Contact, &lines, &ids);
    for id in ["1", "2", "3", "4", "11", "12"] {
        assert!(to_send.contains(id), "{id} is not blocked now: {to_send:?}");
    }
    let input = work.write("c.csv", Kind::Contact.csv(&ids));
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--resume"])
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout
            .contains(&format!("{} already blocked", 12 - to_send.len())),
        "{}",
        ran.stdout
    );
    assert_eq!(received(&mock), to_send.len() as u64, "sent: {to_send:?}");
    let latest = Kind::Contact.latest(&read_ledger(&ledger));
    assert!(ids.iter().all(|id| latest[id] == "blocked"), "{latest:?}");

    // Undo 0.1.0's first run: no block_ids, so the records are found by listing.
    let deletes_before = stat(&mock, "delete_requests");
    let mut cmd = work.sending("unblock", &mock, &["--from-ledger"]);
    cmd.arg(&ledger).args(["--run", &run_of(&work, 0)]);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(list_requests(&mock) > 0, "listed");
    assert_eq!(stat(&mock, "delete_requests") - deletes_before, 10);
    let held: Vec<String> = Kind::Contact.at_account(&mock).into_keys().collect();
    assert_eq!(held, ["11", "12"], "the first run's ten are unblocked");
}

#[test]
fn v01_email_and_ip_ledgers_drive_undo_by_their_block_ids_resume_and_report() {
    let work = Work::new();
    let seeds = session_account(&work);
    let mock = Mock::start(&["--seed-records", seeds.to_str().unwrap()]);

    // Emails a-d blocked as records 10-13, then unblocked by 0.1.0.
    let ledger = copy_v01(&work, "v0.1-emails.jsonl", &mock.url);
    let block_run = run_of(&work, 0);
    let undo = |args: &[&str]| {
        let mut cmd = work.sending("unblock", &mock, &["--from-ledger"]);
        cmd.arg(&ledger).args(["--run", &block_run]).args(args);
        run(&mut cmd)
    };
    let ran = undo(&["--resume"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("4 already unblocked"), "{}", ran.stdout);
    assert_eq!(stat(&mock, "writes"), 0);
    // Again without --resume: the records its block_ids name are deleted, no listing.
    let ran = undo(&[]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), 4);
    assert_eq!(list_requests(&mock), 0, "block_ids made listing needless");
    assert!(Kind::Email.at_account(&mock).is_empty());
    assert_eq!(
        Kind::Contact.at_account(&mock).len(),
        9,
        "contacts left alone"
    );
    let last_run = read_run_lines(&ledger).last().unwrap()["run"].clone();
    let deleted: BTreeSet<u64> = read_ledger(&ledger)
        .iter()
        .filter(|l| l["run"] == last_run)
        .flat_map(|l| l["block_ids"].as_array().unwrap().clone())
        .map(|id| u(&id))
        .collect();
    assert_eq!(
        deleted,
        BTreeSet::from([10, 11, 12, 13]),
        "the ids 0.1.0 recorded"
    );
    let ran = run(work.report(&["--json"]).arg(&ledger));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let json: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(Kind::Email.counts(&json)["unblocked"], 4, "{json}");
    assert_eq!(json["rejected_rows"], 1, "{json}");

    // IPs 10.0.0.1, 2001:db8::1, 10.0.0.2 blocked (records 14-16), then unblocked:
    // `block --resume` of them, written otherwise, sends all three again.
    let ledger = copy_v01(&work, "v0.1-ips.jsonl", &mock.url);
    let ips = strings(&["10.0.0.1", "2001:db8::1", "10.0.0.2"]);
    let to_send = not_blocked_now(Kind::Ip, &read_ledger(&ledger), &ips);
    assert_eq!(to_send.len(), 3);
    let input = work.write("i.csv", Kind::Ip.csv(&ips));
    assert!(
        std::fs::read_to_string(&input)
            .unwrap()
            .contains("2001:0DB8:")
    );
    let received_before = received(&mock);
    let ran = run(work
        .block(&mock, &["--type", "ip", "--block-for", "1d", "--resume"])
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(received(&mock) - received_before, 3);
    let latest = Kind::Ip.latest(&read_ledger(&ledger));
    assert!(ips.iter().all(|ip| latest[ip] == "blocked"), "{latest:?}");
    let ran = run(work.report(&["--json"]).arg(&ledger));
    let json: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(json["now"]["ip"]["blocked"], 3, "{json}");
}

#[test]
fn v01_ledgers_of_failures_drive_retry() {
    for (name, kind, values) in [
        (
            "v0.1-retry.jsonl",
            Kind::Contact,
            (1..=10).map(|i: u64| i.to_string()).collect::<Vec<_>>(),
        ),
        (
            "v0.1-retry-email.jsonl",
            Kind::Email,
            strings(&["a@x.io", "b@x.io", "c@x.io", "d@x.io"]),
        ),
    ] {
        let s = Scenario::new(kind, 0);
        let mock = Mock::start(&[]);
        let ledger = copy_v01(&s.work, name, &mock.url);
        let report = s.report_json(&[]);
        assert_eq!(
            u(&s.counts(&report)["failed"]),
            values.len() as u64,
            "{name}: {report}"
        );
        let ran = run(&mut s.retry(&mock, &[]));
        assert_eq!(ran.code, 0, "{name}: {}", ran.all());
        s.assert_blocked_exactly_once(&mock, &values);
        let latest = kind.latest(&read_ledger(&ledger));
        assert!(
            values.iter().all(|v| latest[v] == "blocked"),
            "{name}: {latest:?}"
        );
        let report = s.report_json(&[]);
        assert_eq!(s.counts(&report)["failed"], 0, "{name}: {report}");
        assert_eq!(
            u(&s.counts(&report)["blocked"]),
            values.len() as u64,
            "{name}"
        );
    }
}
