//! Plain lists, the usual file kinds and the conventions of a CLI (issue 12, sections 2
//! and 3): `--no-header`, `.txt`/`.tsv`, stdin when no INPUT is given, spreadsheets,
//! colour, `-` as stdout, and help that fits 80 columns.

use crate::util::*;

/// The `source` of every rejected line in the ledger.
fn rejected_sources(work: &Work) -> Vec<String> {
    lines_with_status(&work.ledger(), "rejected")
        .iter()
        .map(|line| line["source"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn no_header_reads_a_plain_list_with_rejects_at_their_line() {
    let work = Work::new();
    let input = work.write("ids.csv", "827\n828\n\nnope\n829\r\n827\n");
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--no-header"])
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, [827, 828, 829]);
    let sources = rejected_sources(&work);
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(sources[0].ends_with("ids.csv:4"), "{sources:?}");
}

#[test]
fn a_headerless_csv_without_the_flag_is_refused_with_the_hint() {
    let work = Work::new();
    let input = work.write("ids.csv", "827\n828\n");
    let mock = Mock::start(&[]);
    let ran = run(work.block(&mock, &["--block-for", "1d"]).arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stderr.contains("seems to have no header") && ran.stderr.contains("--no-header"),
        "{}",
        ran.stderr
    );
    assert_eq!(mock.requests(), 0, "nothing sent");
}

#[test]
fn a_headerless_email_list_gets_the_same_hint() {
    let work = Work::new();
    let input = work.write(
        "emails.csv",
        "bob@example.com
ann@example.org
",
    );
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(&mock, &["--block-for", "1d", "--type", "email"])
        .arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stderr.contains("its first line is itself a value")
            && ran.stderr.contains("--no-header"),
        "{}",
        ran.stderr
    );
    assert_eq!(mock.requests(), 0, "nothing sent");
}

#[test]
fn txt_is_a_plain_list_and_tsv_is_tab_separated() {
    let work = Work::new();
    let txt = work.write("list.txt", "900\n901\n");
    let tsv = work.write("list.tsv", "name\tid\nSmith, Jo\t902\nx\tbad\n");
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(&mock, &["--block-for", "1d"])
        .arg(&txt)
        .arg(&tsv));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, [900, 901, 902]);
    let sources = rejected_sources(&work);
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert!(sources[0].ends_with("list.tsv:3"), "{sources:?}");
}

#[test]
fn stdin_is_read_when_no_input_is_given() {
    let work = Work::new();
    let mock = Mock::start(&[]);
    let ran = run_with_stdin(
        &mut work.block(&mock, &["--block-for", "1d", "--no-header"]),
        b"827\n0\n828\n",
    );
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, [827, 828]);
    assert_eq!(rejected_sources(&work), ["<stdin>:2"]);

    // Without --no-header the format of stdin cannot be guessed: exit 2, nothing sent.
    let ran = run_with_stdin(&mut work.block(&mock, &["--block-for", "1d"]), b"827\n");
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("--format"), "{}", ran.stderr);
    assert_eq!(mock.requests(), 1, "only the first run sent");
}

#[test]
fn a_spreadsheet_is_told_to_export_to_csv() {
    let work = Work::new();
    let input = work.write("abusers.xlsx", b"PK\x03\x04not really a spreadsheet");
    let mock = Mock::start(&[]);
    let ran = run(work.block(&mock, &["--block-for", "1d"]).arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("export it to CSV"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("give --format"), "{}", ran.stderr);
    assert_eq!(mock.requests(), 0);
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let work = Work::new();
    let input = work.write("ids.txt", "827\n");
    let mock = Mock::start(&[]);
    let esc = |ran: &Ran| ran.stderr.contains('\u{1b}');

    let always = run(work
        .block(&mock, &["--block-for", "1d", "--color", "always"])
        .arg(&input));
    assert_eq!(always.code, 0, "{}", always.all());
    assert!(
        esc(&always),
        "--color always colours the logs: {}",
        always.stderr
    );
    // A flag beats the environment.
    let forced = run(work
        .block(&mock, &["--block-for", "1d", "--color", "always"])
        .env("NO_COLOR", "1")
        .arg(&input));
    assert!(esc(&forced), "{}", forced.stderr);

    for (flags, no_color) in [(&["--color", "never"][..], None), (&[][..], Some("1"))] {
        let mut cmd = work.block(&mock, &["--block-for", "1d"]);
        cmd.args(flags).arg(&input);
        if let Some(value) = no_color {
            cmd.env("NO_COLOR", value);
        }
        let ran = run(&mut cmd);
        assert_eq!(ran.code, 0, "{}", ran.all());
        assert!(ran.stderr.contains("INFO"), "{}", ran.stderr);
        assert!(
            !esc(&ran),
            "{flags:?} NO_COLOR={no_color:?}: {}",
            ran.stderr
        );
        assert!(!ran.stdout.contains('\u{1b}'), "{}", ran.stdout);
    }
}

#[test]
fn failed_ids_dash_writes_the_csv_to_stdout_and_report_finds_the_default_ledger() {
    let work = Work::new();
    let input = work.write("ids.txt", "827\n828\n");
    let mock = Mock::start(&["--fail-rate", "1"]);
    let mut cmd = work.block(&mock, &["--block-for", "1d", "--max-attempts", "1"]);
    let ran = run(cmd.arg(&input));
    assert_eq!(ran.code, 1, "{}", ran.all());
    std::fs::copy(work.ledger_path(), work.path("blockade-results.jsonl")).unwrap();

    let ran = run(&mut work.report(&["--failed-ids", "-"]));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let mut lines = ran.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("contact_id,block_till,error"),
        "{}",
        ran.stdout
    );
    let mut ids: Vec<&str> = lines.map(|line| line.split(',').next().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["827", "828"], "{}", ran.stdout);
    assert!(!work.path("-").exists(), "no file named -");
    assert!(
        ran.stderr.contains("Ledger: blockade-results.jsonl"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("Wrote 2 failed IDs to standard output"),
        "{}",
        ran.stderr
    );

    std::fs::remove_file(work.path("blockade-results.jsonl")).unwrap();
    let ran = run(&mut work.report(&[]));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stderr.contains("blockade-results.jsonl"),
        "{}",
        ran.stderr
    );
}

#[test]
fn help_groups_global_flags_and_fits_80_columns() {
    let work = Work::new();
    for command in [&[][..], &["block"], &["retry"], &["report"], &["mock"]] {
        let ran = run(work
            .blockade()
            .args(command)
            .arg("--help")
            .env("COLUMNS", "80"));
        assert_eq!(ran.code, 0, "{}", ran.all());
        assert!(ran.stdout.contains("Global options:"), "{}", ran.stdout);
        assert!(ran.stdout.contains("--color <WHEN>"), "{}", ran.stdout);
        for line in ran.stdout.lines() {
            assert!(line.chars().count() <= 80, "{command:?}: {line:?}");
        }
        // An example wrapped mid-command leaves a line that starts with an argument; a
        // command continued on purpose ends its line with a backslash.
        let examples = ran.stdout.split("Examples:").nth(1).unwrap_or_default();
        let mut previous = "";
        // The examples are indented; the prose after them (mock's "Block list:") is not.
        let indented = examples
            .lines()
            .skip(1)
            .take_while(|line| line.is_empty() || line.starts_with(' '));
        for line in indented {
            let text = line.trim_start();
            if text.starts_with("--") || text.starts_with('|') {
                assert!(
                    previous.ends_with('\\'),
                    "{command:?}: {previous:?} / {line:?}"
                );
            }
            assert!(!text.starts_with("7d"), "{command:?}: {line:?}");
            previous = line;
        }
    }
}
