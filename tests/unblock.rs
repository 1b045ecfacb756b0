//! `unblock` and `blocked` against the imitation's block list: what was deleted at the
//! imitation (its live records, listed), what the ledger says, and the exit codes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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
fn the_records_answer_gives_block_ids_and_undo_by_run_deletes_exactly_that_run() {
    let mock = Mock::start(&["--answer", "records"]);
    let work = Work::new();
    let first = work.write("first.csv", csv_of(1..=300));
    let second = work.write("second.csv", csv_of(1001..=1100));
    block(&work, &mock, &first, &[]);
    block(&work, &mock, &second, &[]);
    let lines = work.ledger();
    let blocked = lines_with_status(&lines, "blocked");
    for line in &blocked {
        let ids = line["ids"].as_array().expect("ids");
        let block_ids = line["block_ids"]
            .as_array()
            .expect("block_ids on a records answer");
        assert_eq!(ids.len(), block_ids.len());
    }
    let before = live_contacts(&mock);
    assert_eq!(before.len(), 400);
    let first_run = run_id(&work, 0);
    // (This test's own look at the list is a list request too.)
    let lists = stat(&mock, "list_requests");

    let ran = run(&mut work.unblock_run(&mock, &first_run, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), 300);
    assert_eq!(
        stat(&mock, "list_requests"),
        lists,
        "block_ids made listing needless"
    );
    let live = live_contacts(&mock);
    assert_eq!(
        live.keys().copied().collect::<Vec<_>>(),
        (1001..=1100).collect::<Vec<_>>(),
        "exactly the first run's contacts were unblocked"
    );

    let lines = work.ledger();
    let unblocked = unblock_lines(&lines, "unblocked");
    assert_eq!(ids_of(&unblocked), (1..=300).collect::<Vec<_>>());
    for line in &unblocked {
        let contact = line["ids"][0].as_u64().expect("contact");
        assert_eq!(
            line["block_ids"][0].as_u64(),
            before[&contact].first().copied(),
            "each line names the record deleted"
        );
    }
    assert_eq!(read_run_lines(&work.ledger_path())[2]["command"], "unblock");
    let latest = latest_status(&lines);
    assert!((1..=300).all(|id| latest[&id] == "unblocked"));

    let report = run(&mut work.report(&[work.ledger_path().to_str().unwrap()]));
    assert!(
        report
            .stdout
            .contains("Unblock:  unblocked or not blocked 300   failed 0"),
        "{}",
        report.stdout
    );
    // The unblock run has its row in the runs table: 300 contacts, all unblocked.
    let json = run(&mut work.report(&["--json", work.ledger_path().to_str().unwrap()]));
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("report JSON");
    let undo = json["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|run| run["command"] == "unblock")
        .unwrap_or_else(|| panic!("an unblock run: {json}"));
    assert_eq!(undo["ids_sent"], 300, "{undo}");
    assert_eq!(
        undo["ids_blocked"], 300,
        "unblocked, for an unblock run: {undo}"
    );

    // A later `block --resume` of the same list blocks them again.
    block(&work, &mock, &first, &["--resume"]);
    assert_eq!(live_contacts(&mock).len(), 400);
}

#[test]
fn unblock_of_a_list_finds_the_records_by_paging() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    block(&work, &mock, &work.write("all.csv", csv_of(1..=250)), &[]);
    let wanted = work.write("wanted.csv", csv_of((1..=120).chain([5000])));
    let lists = stat(&mock, "list_requests");
    let ran = run(&mut work.unblock(&mock, &[wanted.to_str().unwrap(), "--page-size", "50"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // 250 records in pages of 50: five full pages, then an empty one.
    assert_eq!(stat(&mock, "list_requests") - lists, 6);
    let live = live_contacts(&mock);
    assert_eq!(
        live.keys().copied().collect::<Vec<_>>(),
        (121..=250).collect::<Vec<_>>()
    );
    assert_eq!(stat(&mock, "delete_requests"), 120);
    let lines = work.ledger();
    assert_eq!(
        ids_of(&unblock_lines(&lines, "unblocked")),
        (1..=120).collect::<Vec<_>>()
    );
    let not_blocked = unblock_lines(&lines, "not_blocked");
    assert_eq!(ids_of(&not_blocked), [5000]);
    assert_eq!(
        not_blocked[0]["attempts"], 0,
        "no request for a contact with no record"
    );
    assert!(
        ran.stdout.contains("not blocked 1 contact"),
        "{}",
        ran.stdout
    );

    // A dry run lists, and deletes nothing.
    let again = work.write("again.csv", csv_of(121..=130));
    let before_dry = live_contacts(&mock);
    let ran = run(&mut work.unblock(&mock, &[again.to_str().unwrap(), "--dry-run"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("10 block records found by listing"),
        "{}",
        ran.stdout
    );
    let named = |contact: u64| format!("    {contact}: {}\n", before_dry[&contact][0]);
    assert!(
        (121..=130).all(|c| ran.stdout.contains(&named(c))),
        "{}",
        ran.stdout
    );
    assert_eq!(stat(&mock, "delete_requests"), 120);
    assert_eq!(live_contacts(&mock).len(), 130);
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
fn rate_limits_and_server_errors_while_listing_and_deleting_are_ridden_out() {
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
    let work = Work::new();
    let input = work.write("ids.csv", csv_of(1..=200));
    block(
        &work,
        &mock,
        &input,
        &["--max-attempts", "30", "--batch-size", "20"],
    );
    assert_eq!(live_contacts(&mock).len(), 200);
    let ran = run(&mut work.unblock(
        &mock,
        &[
            input.to_str().unwrap(),
            "--page-size",
            "20",
            "--max-attempts",
            "30",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(live_contacts(&mock).is_empty());
    assert!(mock.answered(429) > 0, "{}", mock.stats());
    assert!(mock.answered(500) + mock.answered(503) > 0);
    assert!(
        stat(&mock, "list_requests") > 11,
        "some pages were asked for again"
    );
    let lines = work.ledger();
    assert_eq!(
        ids_of(&unblock_lines(&lines, "unblocked")),
        (1..=200).collect::<Vec<_>>()
    );
}

#[test]
fn kill_9_during_an_unblock_then_resume_finishes_it() {
    let mock = Mock::start(&["--answer", "records"]);
    let work = Work::new();
    block(&work, &mock, &work.write("ids.csv", csv_of(1..=400)), &[]);
    let first_run = run_id(&work, 0);
    let running = Running::spawn(&mut work.unblock_run(
        &mock,
        &first_run,
        &["--rate", "100/s", "--concurrency", "2"],
    ));
    wait_until(Duration::from_secs(20), "some unblocked lines", || {
        unblock_lines(&read_ledger_tolerant(&work.ledger_path()).0, "unblocked").len() >= 40
    });
    running.signal("KILL");
    let killed = running.finish(Duration::from_secs(10));
    assert_ne!(killed.code, 0);
    let (lines, _) = read_ledger_tolerant(&work.ledger_path());
    let done_before = ids_of(&unblock_lines(&lines, "unblocked"));
    assert!(done_before.len() < 400);

    let ran = run(&mut work.unblock_run(&mock, &first_run, &["--resume"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(live_contacts(&mock).is_empty());
    let (lines, _) = read_ledger_tolerant(&work.ledger_path());
    let latest = latest_status(&lines);
    // A DELETE in flight at the kill may have reached the server unrecorded: sent again,
    // it deletes nothing (not_blocked).
    assert!(
        (1..=400).all(|id| latest[&id] == "unblocked" || latest[&id] == "not_blocked"),
        "{latest:?}"
    );
    let again = (1..=400).filter(|id| latest[id] == "not_blocked").count();
    // At most the requests in flight (2) and the outcomes queued for the ledger (4).
    assert!(again <= 6, "{again} contacts whose delete was in flight");
    // Only what the first run had not recorded was sent again (what was in flight or
    // queued for the ledger at the kill answers affected 0 now).
    let deletes = stat(&mock, "delete_requests");
    assert!(deletes <= 400 + 6, "{deletes} deletes");
    assert!(
        ran.stdout
            .contains(&format!("{} already unblocked", done_before.len())),
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

#[test]
fn undoing_a_run_leaves_alone_what_was_blocked_already_before_it() {
    let mock = Mock::start(&["--answer", "records", "--on-duplicate", "400"]);
    let work = Work::new();
    block(&work, &mock, &work.write("early.csv", csv_of(1..=5)), &[]);
    block(&work, &mock, &work.write("late.csv", csv_of(1..=10)), &[]);
    let lines = work.ledger();
    assert!(
        lines.iter().any(|l| l["already"] == true),
        "the second run met duplicates"
    );
    let second = run_id(&work, 1);
    let ran = run(&mut work.unblock_run(&mock, &second, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(
        live_contacts(&mock).keys().copied().collect::<Vec<_>>(),
        (1..=5).collect::<Vec<_>>(),
        "only what the second run itself blocked was unblocked"
    );
    assert_eq!(
        ids_of(&unblock_lines(&work.ledger(), "unblocked")),
        (6..=10).collect::<Vec<_>>()
    );
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
