//! `unblock --type email|ip` against the imitation's block list: what was deleted there
//! (its live records by type), what the ledger says, and the latest status per value.

use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// `blockade unblock` against `mock`, with the key, the ledger in this directory, fast
/// pacing and short backoff; `args` come after.
fn unblock(work: &Work, mock: &Mock, args: &[&str]) -> Command {
    let mut cmd = work.blockade();
    cmd.arg("unblock")
        .args(["--base-url", &mock.url, "--results"])
        .arg(work.ledger_path())
        .args(["--backoff-base", "1ms", "--backoff-max", "5ms"])
        .args(["--rate", "2000/s"])
        .env("ACQUIRE_API_KEY", KEY)
        .args(args);
    cmd
}

fn stat(mock: &Mock, key: &str) -> u64 {
    mock.stats()[key]
        .as_u64()
        .unwrap_or_else(|| panic!("stats has no {key}"))
}

fn live_of(mock: &Mock, value_type: &str) -> u64 {
    mock.stats()["live_by_type"][value_type]
        .as_u64()
        .unwrap_or(0)
}

/// The unblock lines of `status`: their strings, sorted.
fn unblock_values(lines: &[Value], status: &str) -> Vec<String> {
    let mut values: Vec<String> = lines
        .iter()
        .filter(|l| l["op"] == "unblock" && l["status"] == status)
        .flat_map(|l| l["ids"].as_array().expect("ids").clone())
        .map(|v| v.as_str().expect("string ids").to_owned())
        .collect();
    values.sort();
    values
}

fn run_id(work: &Work, n: usize) -> String {
    read_run_lines(&work.ledger_path())[n]["run"]
        .as_str()
        .expect("run id")
        .to_owned()
}

#[test]
fn an_email_run_blocked_with_records_is_undone_by_run_without_listing() {
    let mock = Mock::start(&["--answer", "records"]);
    let work = Work::new();
    work.write(
        "first.txt",
        "Bob@Example.COM\nalice@example.org\ncarol@x.io\n",
    );
    work.write("second.txt", "dave@y.org\n");
    for input in ["first.txt", "second.txt"] {
        let ran = run(&mut work.block(
            &mock,
            &["--type", "email", "--block-for", "7d", "-q", input],
        ));
        assert_eq!(ran.code, 0, "{}", ran.all());
    }
    assert_eq!(live_of(&mock, "email"), 4);
    let lines = work.ledger();
    let mut block_ids = std::collections::BTreeMap::new();
    for line in lines.iter().filter(|l| l["status"] == "blocked") {
        for (value, id) in line["ids"]
            .as_array()
            .unwrap()
            .iter()
            .zip(line["block_ids"].as_array().expect("block_ids"))
        {
            block_ids.insert(value.as_str().unwrap().to_owned(), id.as_u64().unwrap());
        }
    }
    let lists = stat(&mock, "list_requests");

    // The run's type is followed: no --type needed.
    let ledger = work.ledger_path();
    let first_run = run_id(&work, 0);
    let ran = run(&mut unblock(
        &work,
        &mock,
        &[
            "--from-ledger",
            ledger.to_str().unwrap(),
            "--run",
            &first_run,
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), 3);
    assert_eq!(
        stat(&mock, "list_requests"),
        lists,
        "block_ids made listing needless"
    );
    assert_eq!(
        live_of(&mock, "email"),
        1,
        "only the second run's email is left"
    );
    let (_, page) = mock.get_json("/api/v1/crm/block-visitor?offset=0&limit=100");
    assert_eq!(page["data"]["data"][0]["data"][0], "dave@y.org");

    let lines = work.ledger();
    assert_eq!(
        unblock_values(&lines, "unblocked"),
        ["alice@example.org", "bob@example.com", "carol@x.io"]
    );
    for line in lines.iter().filter(|l| l["op"] == "unblock") {
        assert_eq!(line["type"], "email", "{line}");
        let value = line["ids"][0].as_str().unwrap();
        assert_eq!(
            line["block_ids"][0].as_u64(),
            Some(block_ids[value]),
            "{line}"
        );
        assert!(line.get("block_till").is_none(), "{line}");
    }
    assert_eq!(read_run_lines(&ledger)[2]["command"], "unblock");

    // The latest status says unblocked: the report counts them so, and a later
    // `block --resume` of the same list blocks them again.
    let report = run(&mut work.report(&["--json", ledger.to_str().unwrap()]));
    assert_eq!(report.code, 0, "{}", report.all());
    let json: Value = serde_json::from_str(&report.stdout).expect("report json");
    assert_eq!(json["now"]["email"]["unblocked"], 3, "{json}");
    assert_eq!(json["now"]["email"]["blocked"], 1, "{json}");
    let ran = run(&mut work.block(
        &mock,
        &[
            "--type",
            "email",
            "--block-for",
            "7d",
            "-q",
            "--resume",
            "first.txt",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(live_of(&mock, "email"), 4);
    work.assert_key_nowhere();
}

#[test]
fn an_ip_list_is_unblocked_by_listing_in_normal_form_and_the_rest_is_not_blocked() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("blocked.txt", "2001:db8::1\n10.0.0.1\n10.0.0.2\n");
    let ran = run(&mut work.block(
        &mock,
        &["--type", "ip", "--block-for", "7d", "-q", "blocked.txt"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // A contact block too: an IP unblock leaves it alone.
    work.write("ids.csv", csv_of([7]));
    let ran = run(&mut work.block(&mock, &["--block-for", "7d", "-q", "ids.csv"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "live_records"), 4);

    work.write(
        "undo.csv",
        "ip\n2001:0DB8::1\n 10.0.0.1\n192.0.2.9\n999.1.1.1\n10.0.0.1\n",
    );
    let ran = run(&mut unblock(&work, &mock, &["--type", "ip", "undo.csv"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), 2);
    assert_eq!(live_of(&mock, "ip"), 1, "10.0.0.2 is left");
    assert_eq!(
        live_of(&mock, "contact"),
        1,
        "the contact block is left alone"
    );

    let lines = work.ledger();
    assert_eq!(
        unblock_values(&lines, "unblocked"),
        ["10.0.0.1", "2001:db8::1"]
    );
    assert_eq!(unblock_values(&lines, "not_blocked"), ["192.0.2.9"]);
    let not_blocked: Vec<&Value> = lines
        .iter()
        .filter(|l| l["status"] == "not_blocked")
        .collect();
    assert_eq!(not_blocked[0]["type"], "ip");
    assert!(not_blocked[0].get("block_ids").is_none());
    let rejected = lines_with_status(&lines, "rejected");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["source"], "undo.csv:5");
    assert!(ran.stdout.contains("1 duplicate"), "{}", ran.stdout);

    // --resume: nothing is left to do, nothing is sent again.
    let deletes = stat(&mock, "delete_requests");
    let ran = run(&mut unblock(
        &work,
        &mock,
        &["--type", "ip", "--resume", "undo.csv"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(stat(&mock, "delete_requests"), deletes);
}

#[test]
fn a_dry_run_lists_but_deletes_and_writes_nothing() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("emails.txt", "a@example.com\nb@example.com\n");
    let ran = run(&mut work.block(
        &mock,
        &["--type", "email", "--block-for", "7d", "-q", "emails.txt"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let before = std::fs::read(work.ledger_path()).unwrap();
    work.write("undo.txt", "A@Example.com\nnobody@example.com\n");
    let ran = run(&mut unblock(
        &work,
        &mock,
        &["--type", "email", "--no-header", "--dry-run", "undo.txt"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("1 block record found by listing"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("not blocked 1 email"), "{}", ran.stdout);
    assert!(ran.stdout.contains(": a@example.com"), "{}", ran.stdout);
    assert_eq!(stat(&mock, "delete_requests"), 0);
    assert_eq!(live_of(&mock, "email"), 2);
    assert_eq!(std::fs::read(work.ledger_path()).unwrap(), before);
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
    let ran = run(&mut unblock(
        &work,
        &mock,
        &["--from-ledger", ledger.to_str().unwrap()],
    ));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("give --type"), "{}", ran.stderr);
    assert_eq!(stat(&mock, "delete_requests"), 0);

    let ran = run(&mut unblock(
        &work,
        &mock,
        &["--from-ledger", ledger.to_str().unwrap(), "--type", "ip"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(live_of(&mock, "ip"), 0);
    assert_eq!(live_of(&mock, "contact"), 1);
}
