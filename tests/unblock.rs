//! `unblock` and `blocked` against the imitation's block list: what was deleted at the
//! imitation (its live records, listed), what the ledger says, and the exit codes. Undo by
//! run, unblock of a list, kill -9 and faults while unblocking run for every kind of
//! value in `every_kind.rs`; these are the rest (paging faults, duplicates, affected 0,
//! the export, several types in one ledger).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

impl Work {
    /// `blockade unblock` against `mock`, with the key, the ledger in this directory, fast
    /// pacing and short backoff; `args` come after.
    fn unblock(&self, mock: &Mock, args: &[&str]) -> Command {
        self.sending("unblock", mock, args)
    }

    fn unblock_run(&self, mock: &Mock, run: &str, args: &[&str]) -> Command {
        let ledger = self.ledger_path();
        let ledger = ledger.to_str().expect("utf-8 path");
        let mut all = vec!["--from-ledger", ledger, "--run", run];
        all.extend_from_slice(args);
        self.unblock(mock, &all)
    }
}

/// One authenticated GET to the imitation, its body parsed.
fn get(mock: &Mock, path: &str) -> Value {
    let (status, body) = mock.get_json(path);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The imitation's live contact records: contact → its block record ids.
fn live_contacts(mock: &Mock) -> BTreeMap<u64, Vec<u64>> {
    let mut out: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut offset = 0;
    loop {
        let page = get(
            mock,
            &format!("/api/v1/crm/block-visitor?offset={offset}&limit=1000"),
        );
        let records = page["data"]["data"].as_array().expect("records").clone();
        for record in &records {
            let contact = record["data"]["id"].as_u64().expect("contact id");
            out.entry(contact)
                .or_default()
                .push(record["id"].as_u64().expect("record id"));
        }
        if records.len() < 1000 {
            return out;
        }
        offset += 1000;
    }
}

fn stat(mock: &Mock, key: &str) -> u64 {
    mock.stats()[key]
        .as_u64()
        .unwrap_or_else(|| panic!("stats has no {key}"))
}

/// The run id of the `n`th run line (from 0).
fn run_id(work: &Work, n: usize) -> String {
    read_run_lines(&work.ledger_path())[n]["run"]
        .as_str()
        .expect("run id")
        .to_owned()
}

fn unblock_lines(lines: &[Value], status: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["op"] == "unblock" && l["status"] == status)
        .cloned()
        .collect()
}

fn ids_of(lines: &[Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = lines
        .iter()
        .flat_map(|l| l["ids"].as_array().expect("ids").clone())
        .map(|id| id.as_u64().expect("id"))
        .collect();
    ids.sort_unstable();
    ids
}

fn block(work: &Work, mock: &Mock, input: &Path, args: &[&str]) {
    let mut all = vec![input.to_str().expect("utf-8"), "--block-for", "7d", "-q"];
    all.extend_from_slice(args);
    let ran = run(&mut work.block(mock, &all));
    assert_eq!(ran.code, 0, "{}", ran.all());
}

#[test]
fn a_server_that_ignores_offset_does_not_loop_and_unknowns_are_failed() {
    let mock = Mock::start(&["--list-ignores-offset"]);
    let work = Work::new();
    block(&work, &mock, &work.write("all.csv", csv_of(1..=120)), &[]);
    let ran = run(&mut work.unblock(
        &mock,
        &[work.path("all.csv").to_str().unwrap(), "--page-size", "50"],
    ));
    assert_eq!(ran.code, 1, "{}", ran.all());
    // Page one, then page one again: stop.
    assert_eq!(stat(&mock, "list_requests"), 2);
    let live = live_contacts(&mock);
    assert_eq!(
        live.keys().copied().collect::<Vec<_>>(),
        (51..=120).collect::<Vec<_>>()
    );
    let lines = work.ledger();
    let failed = unblock_lines(&lines, "failed");
    assert_eq!(ids_of(&failed), (51..=120).collect::<Vec<_>>());
    assert!(failed.iter().all(|l| l["kind"] == "not_listed"));
    assert!(
        ran.stdout.contains("Next:") && ran.stdout.contains("--resume"),
        "{}",
        ran.stdout
    );
    // `retry` does not block what was meant to be unblocked.
    let ran = run(&mut work.retry(&mock, &work.ledger_path(), &[]));
    assert!(ran.stdout.contains("sent      0 IDs"), "{}", ran.all());
}

#[test]
fn a_contact_with_two_records_gets_both_deleted() {
    let mock = Mock::start(&["--answer", "records", "--on-duplicate", "add"]);
    let work = Work::new();
    let input = work.write("ids.csv", csv_of(1..=10));
    block(&work, &mock, &input, &[]);
    block(&work, &mock, &input, &[]);
    let before = live_contacts(&mock);
    assert!(
        before.values().all(|records| records.len() == 2),
        "{before:?}"
    );
    let ran = run(&mut work.unblock(&mock, &[input.to_str().unwrap()]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(live_contacts(&mock).is_empty());
    assert_eq!(stat(&mock, "delete_requests"), 20);
    let lines = work.ledger();
    let unblocked = unblock_lines(&lines, "unblocked");
    assert_eq!(unblocked.len(), 20);
    let mut deleted: Vec<u64> = unblocked
        .iter()
        .map(|l| l["block_ids"][0].as_u64().expect("block id"))
        .collect();
    deleted.sort_unstable();
    let mut expected: Vec<u64> = before.values().flatten().copied().collect();
    expected.sort_unstable();
    assert_eq!(deleted, expected);
}

#[test]
fn affected_zero_is_not_blocked_and_not_a_failure() {
    let mock = Mock::start(&["--answer", "records"]);
    let work = Work::new();
    block(&work, &mock, &work.write("ids.csv", csv_of(1..=20)), &[]);
    let first_run = run_id(&work, 0);
    let ran = run(&mut work.unblock_run(&mock, &first_run, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // Again, without --resume: every record is gone, the server deletes nothing.
    let ran = run(&mut work.unblock_run(&mock, &first_run, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), 40);
    let lines = work.ledger();
    let second = run_id(&work, 2);
    let not_blocked: Vec<Value> = unblock_lines(&lines, "not_blocked")
        .into_iter()
        .filter(|l| l["run"] == second.as_str())
        .collect();
    assert_eq!(ids_of(&not_blocked), (1..=20).collect::<Vec<_>>());
    assert!(
        not_blocked
            .iter()
            .all(|l| l["attempts"] == 1 && l["http_status"] == 200)
    );
    // With --resume nothing is sent at all.
    let ran = run(&mut work.unblock_run(&mock, &first_run, &["--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), 40);
    assert!(
        ran.stdout.contains("20 already unblocked"),
        "{}",
        ran.stdout
    );
}

#[test]
fn blocked_exports_the_list_and_feeds_unblock() {
    let mock = Mock::start(&["--answer", "records"]);
    let work = Work::new();
    block(&work, &mock, &work.write("ids.csv", csv_of(1..=150)), &[]);
    let before = live_contacts(&mock);
    let mut cmd = work.blockade();
    cmd.args([
        "blocked",
        "--base-url",
        &mock.url,
        "--output",
        "blocked.csv",
    ])
    .args(["--page-size", "40", "--rate", "2000/s"])
    .env("ACQUIRE_API_KEY", KEY);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let csv = std::fs::read_to_string(work.path("blocked.csv")).expect("export");
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("block_id,type,contact_id,value,block_till,date_created,blocked_by")
    );
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), 150);
    for row in &rows {
        let contact: u64 = row[2].parse().expect("contact id");
        assert_eq!(row[1], "contact");
        assert_eq!(
            Some(row[0].parse::<u64>().unwrap()),
            before[&contact].first().copied()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(work.path("blocked.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // JSONL on stdout, filtered to nothing by an expiry before any block-till.
    let mut cmd = work.blockade();
    cmd.args(["blocked", "--base-url", &mock.url, "--format", "jsonl"])
        .args(["--expiring-before", "2000-01-01T00:00:00Z"])
        .env("ACQUIRE_API_KEY", KEY);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(ran.stdout.trim(), "");

    let ran = run(&mut work.unblock(&mock, &["blocked.csv", "--id-field", "contact_id"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(live_contacts(&mock).is_empty());
    assert_eq!(stat(&mock, "delete_requests"), 150);
}

#[test]
fn resume_still_deletes_a_live_record_of_a_contact_the_ledger_shows_unblocked() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    let input = work.write("ids.csv", csv_of(1..=10));
    block(&work, &mock, &input, &[]);
    let ran = run(&mut work.unblock(&mock, &[input.to_str().unwrap()]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(live_contacts(&mock).is_empty());
    // Contacts 1 to 3 get a record again, out of this ledger's sight (as if the run had
    // been killed between a contact's two deletes); 11 and 12 are new to the list.
    let mut cmd = work.blockade();
    cmd.args(["block", "--base-url", &mock.url, "--results", "other.jsonl"])
        .args(["--block-for", "7d", "-q"])
        .arg(work.write("again.csv", csv_of([1, 2, 3])))
        .env("ACQUIRE_API_KEY", KEY);
    assert_eq!(run(&mut cmd).code, 0);
    let more = work.write("more.csv", csv_of(1..=12));
    let deletes = stat(&mock, "delete_requests");
    let ran = run(&mut work.unblock(&mock, &[more.to_str().unwrap(), "--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(live_contacts(&mock).is_empty());
    assert_eq!(stat(&mock, "delete_requests") - deletes, 3);
    assert!(ran.stdout.contains("7 already unblocked"), "{}", ran.stdout);
    let lines = work.ledger();
    let last_run = run_id(&work, 2);
    let of_last = |status| -> Vec<u64> {
        ids_of(
            &unblock_lines(&lines, status)
                .into_iter()
                .filter(|l| l["run"] == last_run.as_str())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(of_last("unblocked"), [1, 2, 3]);
    assert_eq!(of_last("not_blocked"), [11, 12]);
}

/// One authenticated POST of a block to the imitation, behind the tool's back (no ledger
/// line names it).
fn post_block(mock: &Mock, body: Value) {
    let (status, answer) = mock.post_json("/api/v1/crm/block-visitor", &body);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn blocked_filters_by_type_and_expiry_and_unblock_lists_only_contacts() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    block(&work, &mock, &work.write("ids.csv", csv_of(1..=3)), &[]);
    post_block(
        &mock,
        serde_json::json!({
            "data": ["spam@example.com"], "type": "email", "blockTill": "2030-01-01T00:00:00.000Z"
        }),
    );
    let export = |args: &[&str]| {
        let mut cmd = work.blockade();
        cmd.args(["blocked", "--base-url", &mock.url, "--rate", "2000/s"])
            .args(args)
            .env("ACQUIRE_API_KEY", KEY);
        let ran = run(&mut cmd);
        assert_eq!(ran.code, 0, "{}", ran.all());
        ran.stdout
    };
    let emails = export(&["--type", "email", "--format", "jsonl"]);
    let rows: Vec<Value> = emails
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(rows.len(), 1, "{emails}");
    assert_eq!(rows[0]["type"], "email");
    assert_eq!(rows[0]["value"], "spam@example.com");
    assert_eq!(rows[0]["contact_id"], Value::Null);
    let contacts = export(&["--type", "contact"]);
    assert_eq!(
        contacts.lines().count(),
        4,
        "header and three contacts: {contacts}"
    );
    // The contacts' blocks end in 7 days, the email's in 2030.
    let soon = export(&["--expiring-before", "2029-01-01T00:00:00Z"]);
    assert_eq!(soon.lines().count(), 4, "{soon}");
    // Unblocking everything leaves the email block alone.
    let ran = run(&mut work.unblock(&mock, &["ids.csv"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout
            .contains("listed    4 block records in 1 request"),
        "{}",
        ran.stdout
    );
    assert_eq!(stat(&mock, "live_records"), 1);
}

fn live_of(mock: &Mock, value_type: &str) -> u64 {
    mock.stats()["live_by_type"][value_type]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_ledger_of_several_types_asks_which_to_undo() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("ips.txt", "10.0.0.1\n");
    work.write("ids.csv", csv_of([7]));
    for args in [
        &["--type", "ip", "--block-for", "7d", "-q", "ips.txt"][..],
        &["--block-for", "7d", "-q", "ids.csv"][..],
    ] {
        let ran = run(&mut work.block(&mock, args));
        assert_eq!(ran.code, 0, "{}", ran.all());
    }
    let ledger = work.ledger_path();
    let ran = run(&mut work.unblock(&mock, &["--from-ledger", ledger.to_str().unwrap()]));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("give --type"), "{}", ran.stderr);
    assert_eq!(stat(&mock, "delete_requests"), 0);

    let ran = run(&mut work.unblock(
        &mock,
        &["--from-ledger", ledger.to_str().unwrap(), "--type", "ip"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(live_of(&mock, "ip"), 0);
    assert_eq!(live_of(&mock, "contact"), 1);
}
