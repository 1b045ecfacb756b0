//! `blockade verify` against the imitation's account: a clean account passes (exit 0),
//! and what changed behind the tool's back is found (exit 1), with its mark.

use serde_json::json;

use crate::util::*;

#[test]
fn verify_passes_on_a_clean_account_and_finds_an_unblock_behind_the_back() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("list.csv", csv_of(1..=50));
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let writes = mock.writes();

    let ran = run(&mut work.verify(&mock, &["--summary-json", "v.json"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("every claim holds"), "{}", ran.stdout);
    let summary = work.summary("v.json");
    assert_eq!(summary["total"]["claimed"], 50);
    assert_eq!(summary["total"]["held"], 50);
    assert_eq!(mock.writes(), writes, "verify only reads");

    // An admin unblocks 7 in the web app.
    mock.admin("/_mock/unblock", &json!({"type": "contact", "values": [7]}));
    let ran = run(&mut work.verify(
        &mock,
        &["--combined", "diff.txt", "--summary-json", "v.json"],
    ));
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert!(
        ran.stdout.contains("some claims do not hold"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        std::fs::read_to_string(work.path("diff.txt")).unwrap(),
        "- 7\n"
    );
    let summary = work.summary("v.json");
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["total"]["missing"], 1);
    assert_eq!(summary["total"]["held"], 49);

    // The next sync blocks it again, and the claim holds again.
    let ran = run(&mut work.sync(&mock, &["list.csv", "--block-for", "30d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(mock.writes(), writes + 1);
    let ran = run(&mut work.verify(&mock, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
}

#[test]
fn verify_checks_every_type_and_marks_other_block_tills_and_unexpected_blocks() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("ids.csv", csv_of(1..=3));
    work.write("emails.txt", "a@x.io\nb@x.io\nc@x.io\n");
    let ran = run(&mut work.block(&mock, &["ids.csv", "--block-for", "7d"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let ran = run(&mut work.sync(&mock, &EMAIL_SYNC));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let ran = run(&mut work.verify(&mock, &[]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("contact   3 IDs claimed"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("email     3 emails claimed"),
        "{}",
        ran.stdout
    );

    let id_of = |value_type: &str, value: &str| {
        mock.records(&format!("type={value_type}&value={value}"))[0]["id"]
            .as_u64()
            .unwrap()
    };
    // Longer (still holds), shorter (does not), and an unblocked value blocked again.
    mock.admin(
        "/_mock/expire",
        &json!({"ids": [id_of("email", "a@x.io")], "blockTill": "+90d"}),
    );
    mock.admin(
        "/_mock/expire",
        &json!({"ids": [id_of("contact", "2")], "blockTill": "+1d"}),
    );
    work.write("unblock.txt", "c@x.io\n");
    let mut unblock = work.sending(
        "unblock",
        &mock,
        &["--type", "email", "--no-header", "unblock.txt"],
    );
    let ran = run(&mut unblock);
    assert_eq!(ran.code, 0, "{}", ran.all());
    mock.admin(
        "/_mock/seed",
        &json!({"type": "email", "values": ["c@x.io"]}),
    );

    let ran = run(&mut work.verify(&mock, &["--combined", "-"]));
    assert_eq!(ran.code, 1, "{}", ran.all());
    let mut marks: Vec<&str> = ran.stdout.lines().collect();
    marks.sort_unstable();
    assert_eq!(marks, ["* 2", "* a@x.io", "+ c@x.io"], "{}", ran.all());
    assert!(ran.stderr.contains("* 1 held longer"), "{}", ran.stderr);
    assert!(ran.stderr.contains("* 1 held shorter"), "{}", ran.stderr);
}

#[test]
fn verify_of_one_run_and_of_a_ledger_of_another_target() {
    let mock = Mock::start(&["--block-list"]);
    let work = Work::new();
    work.write("first.csv", csv_of(1..=2));
    work.write("second.csv", csv_of(3..=4));
    for input in ["first.csv", "second.csv"] {
        let ran = run(&mut work.block(&mock, &[input, "--block-for", "7d"]));
        assert_eq!(ran.code, 0, "{}", ran.all());
    }
    let first = read_run_lines(&work.ledger_path())[0]["run"]
        .as_str()
        .unwrap()
        .to_owned();
    mock.admin("/_mock/unblock", &json!({"type": "contact", "values": [4]}));
    let ran = run(&mut work.verify(&mock, &["--run", &first]));
    assert_eq!(
        ran.code,
        0,
        "run {first} claims 1 and 2 only: {}",
        ran.all()
    );
    let ran = run(&mut work.verify(&mock, &["--run", "nosuch"]));
    assert_eq!(ran.code, 2, "{}", ran.all());

    let other = Mock::start(&["--block-list"]);
    let ran = run(&mut work.verify(&other, &[]));
    assert_eq!(ran.code, 2, "another target's ledger: {}", ran.all());
    assert!(
        ran.stderr.contains("holds no line of runs against"),
        "{}",
        ran.stderr
    );
}
