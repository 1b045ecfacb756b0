//! `blockade sync` against the imitation's account: what the account holds afterwards
//! (its admin route), what was written to it (its `writes`), and what the ledger says.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::util::*;

fn till(record: &Value) -> DateTime<Utc> {
    record["blockTill"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("a record without a blockTill: {record}"))
}

/// The live records holding `value` (of `value_type`).
fn live_records_of(mock: &Mock, value_type: &str, value: &str) -> Vec<Value> {
    mock.records(&format!("type={value_type}&value={value}&expired=false"))
}

/// Asserts `value` has exactly one live record, lasting at least `at_least` from now;
/// returns its blockTill.
fn held_once(mock: &Mock, value_type: &str, value: &str, at_least: Duration) -> DateTime<Utc> {
    let records = live_records_of(mock, value_type, value);
    assert_eq!(records.len(), 1, "{value}: {records:?}");
    held_for(mock, value_type, value, at_least)
}

/// Asserts some live record of `value` lasts at least `at_least` from now; returns the
/// latest blockTill.
fn held_for(mock: &Mock, value_type: &str, value: &str, at_least: Duration) -> DateTime<Utc> {
    let records = live_records_of(mock, value_type, value);
    let till = records.iter().map(till).max().unwrap_or_else(|| {
        panic!("{value} has no live record");
    });
    assert!(
        till > Utc::now() + at_least,
        "{value} is blocked only until {till}"
    );
    till
}

fn sync_lines<'a>(lines: &'a [Value], status: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["op"] == "sync" && l["status"] == status)
        .collect()
}

fn strings(line: &Value) -> Vec<String> {
    line["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

#[test]
fn a_second_sync_right_after_sends_no_write() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("list.csv", csv_of(1..=250));
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(mock.writes(), 3, "three batches of at most 100");
    assert_eq!(
        ledger_ids(&work.ledger(), "blocked"),
        (1..=250).collect::<Vec<_>>()
    );
    for line in work.ledger() {
        assert_eq!(line["op"], "sync", "{line}");
        assert!(line["block_till"].is_string(), "{line}");
    }
    let lines_before = work.ledger().len();

    let ran = run(&mut work.sync(
        &mock,
        &["list.csv", "--block-for", "30d", "--summary-json", "s.json"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(
        mock.writes(),
        3,
        "the second sync wrote nothing: {}",
        ran.all()
    );
    assert_eq!(work.ledger().len(), lines_before, "and no outcome line");
    let summary = work.summary("s.json");
    assert_eq!(summary["held"], 250);
    assert_eq!(summary["sent"], 0);
    assert_eq!(summary["accounted"], true);
    assert!(
        ran.stdout.contains("250 IDs blocked long enough"),
        "{}",
        ran.stdout
    );
}

/// A sync blocks 1..=3 for two days (their blocks end soon, as after four weeks of a
/// 30-day block); the next one, of 1..=5 for 30 days, renews them: every value ends with
/// one live record lasting about 30 days, whatever the server does with a value that
/// already has a record.
fn renewal_under(on_duplicate: &str, extra: &[&str]) -> (Mock, Work) {
    let mut args = vec!["--on-duplicate", on_duplicate];
    args.extend_from_slice(extra);
    let mock = Mock::start(&args);
    let work = Work::new();
    work.write("first.csv", csv_of(1..=3));
    let ran = run(&mut work.sync(&mock, &["first.csv", "--block-for", "2d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    work.write("list.csv", csv_of(1..=5));
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d"]));
    assert_eq!(ran.code, 0, "{on_duplicate}: {}", ran.all());
    for contact in 1..=5 {
        held_once(&mock, "contact", &contact.to_string(), Duration::days(29));
    }
    assert!(ran.stdout.contains("2 new, 3 renewed"), "{}", ran.stdout);
    let lines = work.ledger();
    let renewed: Vec<u64> = ledger_ids(&lines, "renewed").into_iter().collect();
    assert!(
        [1, 2, 3].iter().all(|c| renewed.contains(c)),
        "{on_duplicate}: renewed lines name 1, 2 and 3: {renewed:?}"
    );

    // Nothing left to do.
    let writes = mock.writes();
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(mock.writes(), writes, "{on_duplicate}: {}", ran.all());
    (mock, work)
}

#[test]
fn renewal_when_the_server_updates_the_record() {
    let (mock, work) = renewal_under("update", &[]);
    // The same three records, given the new blockTill: no delete.
    assert_eq!(mock.stats()["records_deleted"], 0);
    assert_eq!(mock.stats()["values_updated"], 3);
    assert!(sync_lines(&work.ledger(), "unblocked").is_empty());
}

#[test]
fn renewal_when_the_server_refuses_a_second_record() {
    let (mock, work) = renewal_under("400", &[]);
    assert_eq!(mock.stats()["records_deleted"], 3);
    let lines = work.ledger();
    // Said in the ledger: the refusal, the delete, and the block again right after.
    let refused = sync_lines(&lines, "refused");
    assert_eq!(refused.len(), 1, "{lines:?}");
    assert_eq!(refused[0]["kind"], "duplicate");
    let unblocked = sync_lines(&lines, "unblocked");
    assert_eq!(unblocked.len(), 3);
    for line in &unblocked {
        assert!(
            line["source"]
                .as_str()
                .unwrap()
                .contains("ERROR_DUPLICATE_RECORD_FOUND"),
            "{line}"
        );
        // The renewed line of the same contact comes after its delete.
        let contact = &line["ids"][0];
        let at = lines.iter().position(|l| std::ptr::eq(l, *line)).unwrap();
        assert!(
            lines[at..]
                .iter()
                .any(|l| l["status"] == "renewed" && l["ids"][0] == *contact),
            "{contact} renewed after its delete"
        );
    }
}

#[test]
fn renewal_when_the_server_adds_a_second_record() {
    let (mock, work) = renewal_under("add", &[]);
    // The old records are deleted; the renewed values keep their new ones.
    assert_eq!(mock.stats()["records_deleted"], 3);
    let lines = work.ledger();
    assert!(
        sync_lines(&lines, "unblocked").is_empty(),
        "no value was left unblocked: {lines:?}"
    );
    // A record answer tells it without a look.
    let (mock, _) = renewal_under("add", &["--answer", "records"]);
    assert_eq!(mock.stats()["records_deleted"], 3);
}

/// An imitation whose account holds one email record someone else made, holding a@, b@
/// and c@ until `till` (an offset from now, such as `+1d` or `-1d`).
fn shared_email_record(work: &Work, till: &str, on_duplicate: &str) -> Mock {
    work.write(
        "seed.jsonl",
        format!(
            r#"{{"type":"email","values":["a@x.io","b@x.io","c@x.io"],"blockTill":"{till}","blockBy":2}}"#
        ),
    );
    let seed = work.path("seed.jsonl");
    Mock::start(&[
        "--on-duplicate",
        on_duplicate,
        "--seed-records",
        seed.to_str().unwrap(),
    ])
}

/// Runs the same sync again: it must find nothing to write.
fn again_writes_nothing(work: &Work, mock: &Mock, args: &[&str], on_duplicate: &str) {
    let writes = mock.writes();
    let ran = run(&mut work.sync(mock, args));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(mock.writes(), writes, "{on_duplicate}: {}", ran.all());
}

/// An email record someone else made holds a@, b@ and c@ and ends tomorrow; the list
/// names a@ only. Renewing a@ must leave b@ and c@ blocked until tomorrow, whatever the
/// server does.
fn shared_record_renewal(on_duplicate: &str) {
    let work = Work::new();
    let mock = shared_email_record(&work, "+1d", on_duplicate);
    let before = till(&live_records_of(&mock, "email", "b@x.io")[0]);
    work.write("emails.txt", "A@x.io\nd@x.io\n");
    let ran = run(&mut work.sync(&mock, &EMAIL_SYNC));
    assert_eq!(ran.code, 0, "{on_duplicate}: {}", ran.all());
    // Added: someone else's old record is left to expire on its own.
    held_for(&mock, "email", "a@x.io", Duration::days(29));
    held_once(&mock, "email", "d@x.io", Duration::days(29));
    for other in ["b@x.io", "c@x.io"] {
        let records = live_records_of(&mock, "email", other);
        assert!(
            !records.is_empty(),
            "{on_duplicate}: {other} was left unblocked"
        );
        let kept = records.iter().map(till).max().unwrap();
        assert!(
            kept >= before,
            "{on_duplicate}: {other} is blocked until {kept}, was {before}"
        );
    }
    let lines = work.ledger();
    if on_duplicate == "400" {
        let reblocked: Vec<&Value> = lines.iter().filter(|l| l["reblocked"] == true).collect();
        assert_eq!(reblocked.len(), 1, "{on_duplicate}: {lines:?}");
        assert_eq!(strings(reblocked[0]), ["b@x.io", "c@x.io"]);
        assert!(ran.stdout.contains("re-blocked 2 emails"), "{}", ran.stdout);
    }
    again_writes_nothing(&work, &mock, &EMAIL_SYNC, on_duplicate);
}

#[test]
fn renewing_an_email_of_a_shared_record_keeps_its_other_values_blocked() {
    for on_duplicate in ["update", "400", "add"] {
        shared_record_renewal(on_duplicate);
    }
}

#[test]
fn prune_unblocks_what_syncs_blocked_and_leaves_others_records_alone() {
    let work = Work::new();
    // Someone else's records: 7 (not on the list), 3 (on the list, held long enough, so
    // the sync never blocks it), and 4 (which the sync also blocks: two records).
    work.write(
        "seed.jsonl",
        "{\"type\":\"contact\",\"values\":[7],\"blockBy\":2,\"blockTill\":\"+60d\"}\n\
         {\"type\":\"contact\",\"values\":[3],\"blockBy\":2,\"blockTill\":\"+60d\"}\n\
         {\"type\":\"contact\",\"values\":[4],\"blockBy\":2,\"blockTill\":\"+2d\"}\n",
    );
    let seed = work.path("seed.jsonl");
    let mock = Mock::start(&[
        "--on-duplicate",
        "add",
        "--seed-records",
        seed.to_str().unwrap(),
    ]);
    work.write("all.csv", csv_of(1..=6));
    let ran = run(&mut work.sync(&mock, &["all.csv", "--block-for", "30d", "--prune"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("1 ID blocked long enough"),
        "{}",
        ran.stdout
    );

    // The list shrinks to 1 and 2: 3 to 6 leave it.
    work.write("some.csv", csv_of(1..=2));
    let ran = run(&mut work.sync(
        &mock,
        &["some.csv", "--block-for", "30d", "--prune", "--dry-run"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("prune     3 IDs"), "{}", ran.stdout);
    let ran = run(&mut work.sync(&mock, &["some.csv", "--block-for", "30d", "--prune"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    for contact in [1, 2] {
        held_once(&mock, "contact", &contact.to_string(), Duration::days(29));
    }
    for contact in [5, 6] {
        assert!(
            live_records_of(&mock, "contact", &contact.to_string()).is_empty(),
            "{contact} pruned"
        );
    }
    // Others' records are untouched: 7 and 3 whole, and 4 keeps theirs.
    let theirs: Vec<(String, u64)> = mock
        .records("blockBy=2")
        .iter()
        .map(|r| (r["values"][0].to_string(), r["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(theirs.len(), 3, "{theirs:?}");
    assert_eq!(ledger_ids(&work.ledger(), "unblocked"), [4, 5, 6]);
    assert!(
        ran.stdout.contains("pruned    3 of 3 IDs"),
        "{}",
        ran.stdout
    );
    // The rows read are the list's; the values pruned are not rows. A sync has no
    // --resume, and its summary does not offer one.
    assert!(
        ran.stdout
            .contains("read      2 rows: 2 valid, 0 rejected, 0 duplicates\n"),
        "{}",
        ran.stdout
    );

    // A prune is done once.
    let writes = mock.writes();
    let ran = run(&mut work.sync(&mock, &["some.csv", "--block-for", "30d", "--prune"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(mock.writes(), writes, "{}", ran.all());
}

#[test]
fn a_value_whose_record_has_expired_is_blocked_again_even_when_a_duplicate_is_refused() {
    let work = Work::new();
    work.write(
        "seed.jsonl",
        r#"{"type":"contact","values":[9],"blockTill":"-1d","blockBy":2}"#,
    );
    let seed = work.path("seed.jsonl");
    let mock = Mock::start(&[
        "--on-duplicate",
        "400",
        "--seed-records",
        seed.to_str().unwrap(),
    ]);
    work.write("list.csv", csv_of([9, 10]));
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    held_once(&mock, "contact", "9", Duration::days(29));
    held_once(&mock, "contact", "10", Duration::days(29));
    let latest = latest_status(&work.ledger());
    assert_eq!(latest[&9], "blocked");
    assert_eq!(latest[&10], "blocked");
}

/// An expired email record someone else made holds a@, b@ and c@; the list names a@
/// only. The sync blocks a@ again, and nothing else: b@ and c@ stay unblocked, whatever
/// the server does with a second block (an update in place would renew all three).
fn expired_shared_record(on_duplicate: &str) {
    let work = Work::new();
    let mock = shared_email_record(&work, "-1d", on_duplicate);
    work.write("emails.txt", "a@x.io\n");
    let mut dry: Vec<&str> = EMAIL_SYNC.to_vec();
    dry.push("--dry-run");
    let ran = run(&mut work.sync(&mock, &dry));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout
            .contains("re-block  1 email whose every record has expired")
            && ran
                .stdout
                .contains("1 expired record also holding values not listed"),
        "{on_duplicate}: {}",
        ran.stdout
    );
    let ran = run(&mut work.sync(&mock, &EMAIL_SYNC));
    assert_eq!(ran.code, 0, "{on_duplicate}: {}", ran.all());
    held_once(&mock, "email", "a@x.io", Duration::days(29));
    for other in ["b@x.io", "c@x.io"] {
        let records = live_records_of(&mock, "email", other);
        assert!(
            records.is_empty(),
            "{on_duplicate}: {other} was blocked again: {records:?}"
        );
    }
    let latest = work.ledger();
    let blocked = sync_lines(&latest, "blocked");
    assert_eq!(blocked.len(), 1, "{on_duplicate}: {latest:?}");
    assert_eq!(strings(blocked[0]), ["a@x.io"]);
    again_writes_nothing(&work, &mock, &EMAIL_SYNC, on_duplicate);
}

#[test]
fn blocking_again_a_value_of_an_expired_shared_record_blocks_only_that_value() {
    for on_duplicate in ["update", "400", "add"] {
        expired_shared_record(on_duplicate);
    }
}

#[test]
fn a_list_that_could_not_be_read_to_its_end_prunes_nothing() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("all.csv", csv_of(601..=700));
    let ran = run(&mut work.sync(&mock, &["all.csv", "--block-for", "30d", "--prune"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // Tonight's export is cut short: 601 to 650 are read, then the gzip ends.
    let cut = root().join("fixtures/bad/truncated.csv.gz");
    let cut = cut.to_str().unwrap();
    let ran = run(&mut work.sync(&mock, &[cut, "--block-for", "30d", "--prune", "--dry-run"]));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stdout
            .contains("prune     none: 1 input could not be read to the end"),
        "{}",
        ran.stdout
    );
    let writes = mock.writes();
    let ran = run(&mut work.sync(&mock, &[cut, "--block-for", "30d", "--prune"]));
    assert_eq!(
        ran.code,
        1,
        "an input cut short is not a clean run: {}",
        ran.all()
    );
    assert!(
        ran.stderr.contains("nothing is pruned this run"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stdout
            .contains("inputs    1 could not be read to the end"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        mock.writes(),
        writes,
        "nothing to block, nothing pruned: {}",
        ran.all()
    );
    for contact in [651, 700] {
        held_once(&mock, "contact", &contact.to_string(), Duration::days(29));
    }
}

#[test]
fn more_bad_rows_than_max_rejects_sends_nothing() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("list.csv", "id\n1\n2\nthree\n4\nfive\n");
    let ran = run(&mut work.sync(
        &mock,
        &[
            "list.csv",
            "--block-for",
            "30d",
            "--prune",
            "--max-rejects",
            "1",
        ],
    ));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stderr
            .contains("bad rows: 2 of 5, more than --max-rejects 1 row")
            && ran.stderr.contains("list.csv:4"),
        "{}",
        ran.stderr
    );
    assert_eq!(mock.stats()["requests"], 0, "nothing listed, nothing sent");
    // Within the limit, the sync goes on.
    let ran = run(&mut work.sync(
        &mock,
        &["list.csv", "--block-for", "30d", "--max-rejects", "0.5"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // With no limit, a prune warns that a bad row's value counts as no longer listed.
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d", "--prune"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stderr
            .contains("the value of a rejected row counts as no longer listed"),
        "{}",
        ran.stderr
    );
    for contact in [1, 2, 4] {
        held_once(&mock, "contact", &contact.to_string(), Duration::days(29));
    }
}

#[test]
fn a_dry_run_lists_the_account_and_writes_nothing() {
    let mock = Mock::start(&["--block-list", "--seed-range", "contact:1-3,till=+1d"]);
    let work = Work::new();
    work.write("list.csv", csv_of(1..=6));
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d", "--dry-run"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    for expected in [
        "block     3 IDs with no block record",
        "e.g. 4, 5, 6",
        "renew     3 IDs whose block ends too soon",
        "listed    3 block records",
    ] {
        assert!(ran.stdout.contains(expected), "{expected}: {}", ran.stdout);
    }
    assert_eq!(mock.writes(), 0);
    assert!(!work.ledger_path().exists(), "a dry run writes no ledger");
}

#[test]
fn usage_errors_are_exit_2_before_anything_is_sent() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("list.csv", csv_of(1..=3));
    let ran = run(&mut work.sync(&mock, &["list.csv"]));
    assert_eq!(ran.code, 2, "--block-for is required: {}", ran.all());
    let ran = run(&mut work.sync(
        &mock,
        &["list.csv", "--block-for", "7d", "--renew-within", "8d"],
    ));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("--renew-within"), "{}", ran.stderr);
    work.write("bad.csv", "contact_id\nnope\n");
    let ran = run(&mut work.sync(&mock, &["bad.csv", "--block-for", "7d", "--prune"]));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("prune everything"), "{}", ran.stderr);
    assert_eq!(mock.writes(), 0);
}

#[test]
fn an_old_record_of_ours_left_beside_a_new_one_is_deleted_and_its_other_values_blocked_again() {
    // Records of three emails each; the server adds a second record on renewal.
    let mock = Mock::start(&["--on-duplicate", "add", "--values-per-record", "3"]);
    let work = Work::new();
    work.write("three.txt", "a@x.io\nb@x.io\nc@x.io\n");
    let email = |args: &[&str]| {
        let mut all = vec!["--type", "email", "--no-header"];
        all.extend_from_slice(args);
        run(&mut work.sync(&mock, &all))
    };
    let ran = email(&["three.txt", "--block-for", "2d"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let before = till(&live_records_of(&mock, "email", "b@x.io")[0]);
    work.write("one.txt", "a@x.io\n");
    let ran = email(&["one.txt", "--block-for", "30d"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    held_once(&mock, "email", "a@x.io", Duration::days(29));
    for other in ["b@x.io", "c@x.io"] {
        let records = live_records_of(&mock, "email", other);
        assert_eq!(records.len(), 1, "{other}: {records:?}");
        assert_eq!(till(&records[0]), before, "{other} keeps its blockTill");
    }
    let lines = work.ledger();
    let reblocked: Vec<&Value> = lines.iter().filter(|l| l["reblocked"] == true).collect();
    assert_eq!(reblocked.len(), 1, "{lines:?}");
    assert_eq!(strings(reblocked[0]), ["b@x.io", "c@x.io"]);
    // The delete's line names only what it left unblocked until the block again.
    let unblocked = sync_lines(&lines, "unblocked");
    assert_eq!(unblocked.len(), 1);
    assert_eq!(strings(unblocked[0]), ["b@x.io", "c@x.io"]);
    assert_eq!(latest_string_status(&lines, "a@x.io"), "renewed");
    assert_eq!(latest_string_status(&lines, "b@x.io"), "blocked");
}

/// The status of the latest line naming `value`.
fn latest_string_status(lines: &[Value], value: &str) -> String {
    lines
        .iter()
        .rev()
        .find(|l| strings(l).iter().any(|v| v == value))
        .map(|l| l["status"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[test]
fn an_interrupted_renewal_leaves_no_value_unblocked_and_the_same_sync_finishes_it() {
    // Every renewal is a delete and a block again (duplicates refused), slowly.
    let mock = Mock::start(&["--on-duplicate", "400", "--latency", "20ms"]);
    let work = Work::new();
    work.write("list.csv", csv_of(1..=200));
    let ran = run(&mut work.sync(
        &mock,
        &["list.csv", "--block-for", "2d", "--batch-size", "50"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let running = Running::spawn(&mut work.sync(
        &mock,
        &["list.csv", "--block-for", "30d", "--rate", "100/s"],
    ));
    wait_until(
        std::time::Duration::from_secs(30),
        "some records were replaced",
        || {
            read_ledger_tolerant(&work.ledger_path())
                .0
                .iter()
                .filter(|l| l["status"] == "unblocked")
                .count()
                >= 10
        },
    );
    running.signal("INT");
    let ran = running.finish(std::time::Duration::from_secs(60));
    assert_eq!(ran.code, 130, "{}", ran.all());
    for contact in 1..=200 {
        assert!(
            !live_records_of(&mock, "contact", &contact.to_string()).is_empty(),
            "{contact} was left unblocked by the interrupt"
        );
    }
    // Every delete's values were blocked again: the latest line of each is a block.
    let latest = latest_status(&work.ledger());
    assert!(
        latest.values().all(|status| status != "unblocked"),
        "{latest:?}"
    );
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    for contact in 1..=200 {
        held_once(&mock, "contact", &contact.to_string(), Duration::days(29));
    }
}

/// A sync that cannot list the account writes nothing, exits 1 (3 for a refused key) and
/// still leaves its `--summary-json`, with the reason, for the nightly job's alert.
#[test]
fn a_sync_that_cannot_list_the_account_writes_nothing_and_says_why_in_its_summary() {
    let failing = Mock::start(&["--block-list", "--fail-rate", "1.0"]);
    let work = Work::new();
    work.write("list.txt", "1\n2\n3\n");
    let ran = run(&mut work.sync(
        &failing,
        &[
            "--block-for",
            "30d",
            "--no-header",
            "list.txt",
            "--max-attempts",
            "1",
            "--summary-json",
            "s.json",
        ],
    ));
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert_eq!(failing.writes(), 0);
    let summary = work.summary("s.json");
    assert_eq!(summary["exit_code"], 1);
    let reason = summary["stop_reason"].as_str().expect("a reason");
    assert!(reason.contains("could not be read to its end"), "{reason}");

    let refusing = Mock::start(&["--block-list", "--key", "another-key"]);
    let ran = run(&mut work.sync(
        &refusing,
        &[
            "--block-for",
            "30d",
            "--no-header",
            "list.txt",
            "--summary-json",
            "s.json",
        ],
    ));
    assert_eq!(ran.code, 3, "{}", ran.all());
    assert_eq!(refusing.writes(), 0);
    let summary = work.summary("s.json");
    assert_eq!(summary["exit_code"], 3);
    assert!(
        summary["stop_reason"]
            .as_str()
            .is_some_and(|r| r.contains("before any write")),
        "{summary}"
    );
}
