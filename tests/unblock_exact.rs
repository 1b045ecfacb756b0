//! Exact unblock: a record that holds values not asked for (an email or IP record) is
//! deleted, and those values are blocked again at once with the record's blockTill.

use serde_json::Value;

use crate::util::*;

fn emails(line: &Value) -> Vec<String> {
    line["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("strings").to_owned())
        .collect()
}

#[test]
fn unblocking_3_of_a_records_100_emails_leaves_the_other_97_blocked_with_their_block_till() {
    let mock = Mock::start(&["--seed-range", "email:1-100,per=100,till=+10d"]);
    let work = Work::new();
    let seeded = mock.records("type=email");
    assert_eq!(seeded.len(), 1);
    let till = seeded[0]["blockTill"].as_str().unwrap().to_owned();
    work.write(
        "unblock.txt",
        "seed1@example.com\nSEED2@example.com\nseed50@example.com\n",
    );
    let unblock = |extra: &[&str]| {
        let mut args = vec!["--type", "email", "--no-header", "unblock.txt"];
        args.extend_from_slice(extra);
        run(&mut work.sending("unblock", &mock, &args))
    };

    let ran = unblock(&["--dry-run"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("re-block  97 emails not asked for"),
        "{}",
        ran.stdout
    );
    assert_eq!(mock.writes(), 0);

    let ran = unblock(&["--summary-json", "s.json"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    for asked in [
        "seed1@example.com",
        "seed2@example.com",
        "seed50@example.com",
    ] {
        assert!(
            mock.records(&format!("type=email&value={asked}"))
                .is_empty(),
            "{asked} is unblocked"
        );
    }
    let left = mock.records("type=email&expired=false");
    let mut still: Vec<String> = Vec::new();
    for record in &left {
        assert_eq!(record["blockTill"], till, "{record}");
        for value in record["values"].as_array().unwrap() {
            still.push(value.as_str().unwrap().to_owned());
        }
    }
    still.sort();
    let mut expected: Vec<String> = (1..=100)
        .filter(|n| ![1, 2, 50].contains(n))
        .map(|n| format!("seed{n}@example.com"))
        .collect();
    expected.sort();
    assert_eq!(still, expected, "exactly the other 97 are blocked");

    let lines = work.ledger();
    let reblocked: Vec<&Value> = lines.iter().filter(|l| l["reblocked"] == true).collect();
    assert_eq!(reblocked.len(), 1, "{lines:?}");
    assert_eq!(reblocked[0]["status"], "blocked");
    assert_eq!(reblocked[0]["block_till"], till);
    assert_eq!(emails(reblocked[0]).len(), 97);
    assert!(
        ran.stdout.contains("re-blocked 97 emails"),
        "{}",
        ran.stdout
    );
    let summary = work.summary("s.json");
    assert_eq!(summary["unblocked"], 3);
    assert_eq!(summary["reblocked"], 97);
    assert_eq!(summary["accounted"], true);

    // Undoing the unblock's ledger leaves the 97 alone: nobody asked to block them.
    let ledger = work.ledger_path();
    let ran = run(&mut work.sending(
        "unblock",
        &mock,
        &["--from-ledger", ledger.to_str().unwrap(), "--type", "email"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(mock.records("type=email&expired=false").len(), 97);
}

#[test]
fn a_record_the_ledger_names_is_looked_at_before_its_delete() {
    // A block answered with records: the ledger knows each email's record, but not what
    // else the record holds (here: an email blocked by someone else's request, merged).
    let mock = Mock::start(&["--answer", "records", "--values-per-record", "all"]);
    let work = Work::new();
    work.write("mine.txt", "a@x.io\nb@x.io\n");
    let ran = run(&mut work.block(
        &mock,
        &[
            "--type",
            "email",
            "--no-header",
            "mine.txt",
            "--block-for",
            "7d",
        ],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let ledger = work.ledger_path();
    let run_id = read_run_lines(&ledger)[0]["run"]
        .as_str()
        .unwrap()
        .to_owned();
    work.write("one.txt", "a@x.io\n");
    let ran = run(&mut work.sending(
        "unblock",
        &mock,
        &["--type", "email", "--no-header", "one.txt"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(mock.records("type=email&value=a@x.io").is_empty());
    assert_eq!(
        mock.records("type=email&value=b@x.io&expired=false").len(),
        1
    );

    // And by run: b@ is unblocked too now (its record is the re-blocked one, looked at).
    let ran = run(&mut work.sending(
        "unblock",
        &mock,
        &["--from-ledger", ledger.to_str().unwrap(), "--run", &run_id],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        mock.records("type=email&expired=false").is_empty(),
        "{:?}",
        mock.records("type=email")
    );
}

/// A block again that failed leaves values unblocked that nobody asked to unblock: the
/// summary said `LEFT UNBLOCKED`, and `blockade retry` (no `--type`: the failed line says
/// it) must send them again.
#[test]
fn a_failed_block_again_is_sent_again_by_retry_with_no_type_given() {
    let mock = Mock::start(&["--seed-range", "email:1-10,per=10,till=+10d"]);
    let work = Work::new();
    work.write("unblock.txt", "seed1@example.com\n");
    let ran = run(&mut work.sending(
        "unblock",
        &mock,
        &["--type", "email", "--no-header", "unblock.txt"],
    ));
    assert_eq!(ran.code, 0, "{}", ran.all());
    // The line the failing path writes: the block again, failed (the imitation answered
    // it; the account is then made to match, so that retry has something to restore).
    let ledger = work.ledger_path();
    let text = std::fs::read_to_string(&ledger).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let again = lines
        .iter_mut()
        .find(|l| l["reblocked"] == true)
        .expect("a block again line");
    again["status"] = "failed".into();
    again["error"] = "HTTP 503".into();
    let nine = emails(again);
    assert_eq!(nine.len(), 9);
    let rewritten: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&ledger, rewritten).unwrap();
    mock.admin(
        "/_mock/unblock",
        &serde_json::json!({"type": "email", "values": nine}),
    );
    assert!(mock.records("type=email&expired=false").is_empty());

    let ran = run(&mut work.retry(&mock, &ledger, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let mut held: Vec<String> = mock
        .records("type=email&expired=false")
        .iter()
        .flat_map(|r| r["values"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    held.sort();
    let mut expected = nine.clone();
    expected.sort();
    assert_eq!(held, expected, "exactly the nine are blocked again");
}
