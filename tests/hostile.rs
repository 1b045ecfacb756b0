//! Hostile input (issue "Hardening"): one test per file of `fixtures/hostile/` and per large
//! or special input generated here at test time (lines past the readers' caps, gzip
//! bombs, random bytes, 100,000-deep JSON, a million CSV columns, a directory, a FIFO).
//! Each checks its expected outcome from `fixtures/hostile/EXPECTED.md`: a clear
//! `rejected` ledger line, or exit 2 with nothing sent; never a panic or a hang. Where the
//! input is large the child's peak memory (`ru_maxrss`, via `wait4`) is held under
//! [`MAX_RSS_KB`].
//!
//! Sizes sit just over the cap they test (the CSV record cap of 1 MiB, the JSONL skip cap
//! of 64 MiB): a cap that holds there holds further on, and the suite stays quick. The
//! nesting stays 100,000 deep: what it tests is that skipping does not recurse, which
//! only a depth a recursive parser would not survive shows.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

use crate::util::*;

/// Peak resident memory allowed for a run over a huge input. The readers hold a 1 MiB
/// line or record at most; the rest is the runtime, the HTTP client and the binary (about
/// 20 MB on its own).
const MAX_RSS_KB: u64 = 100 * 1024;

const MIB: usize = 1024 * 1024;
/// The CSV reader's record cap (`input::csv::MAX_RECORD_BYTES`).
const CSV_RECORD_CAP: usize = MIB;
/// Where the JSONL reader stops skipping a line (`input::jsonl::MAX_SKIP_BYTES`).
const JSONL_SKIP_CAP: usize = 64 * MIB;
/// How far past a cap the generated inputs go.
const PAST_CAP: usize = 64 * 1024;

fn hostile(name: &str) -> PathBuf {
    root().join("fixtures/hostile").join(name)
}

/// A run's rejected ledger lines as (source, error).
fn rejected(work: &Work) -> Vec<(String, String)> {
    lines_with_status(&work.ledger(), "rejected")
        .into_iter()
        .map(|line| {
            (
                line["source"].as_str().expect("source").to_owned(),
                line["error"].as_str().expect("error").to_owned(),
            )
        })
        .collect()
}

/// Asserts the rejected lines are exactly `expected` (line → part of the reason), in order.
fn assert_rejects(work: &Work, path: &Path, expected: &[(u64, &str)]) {
    let got = rejected(work);
    assert_eq!(
        got.len(),
        expected.len(),
        "{}: rejected lines {got:#?}",
        path.display()
    );
    for ((source, error), (line, reason)) in got.iter().zip(expected) {
        assert_eq!(source, &format!("{}:{line}", path.display()));
        assert!(
            error.contains(reason),
            "{source}: reason {error:?} lacks {reason:?}"
        );
    }
}

/// `blockade block --block-for 1d INPUT` against a fresh imitation; checks the valid IDs
/// were blocked exactly once, the rejects and the exit code.
fn check_file(path: &Path, valid: &[u64], rejects: &[(u64, &str)], code: i32) -> Work {
    let work = Work::new();
    let mock = Mock::start(&[]);
    let ran = run(work.block(&mock, &["--block-for", "1d"]).arg(path));
    assert_eq!(ran.code, code, "{}: {}", path.display(), ran.all());
    assert_blocked_exactly_once(&mock, valid.iter().copied());
    assert_rejects(&work, path, rejects);
    assert!(!ran.all().contains("panicked"), "{}", ran.all());
    work
}

/// Asserts exit 2, `message` in stderr, nothing sent and no ledger line.
fn check_refused(work: &Work, path: &Path, message: &str) {
    let mock = Mock::start(&[]);
    let ran = run(work.block(&mock, &["--block-for", "1d"]).arg(path));
    assert_eq!(ran.code, 2, "{}: {}", path.display(), ran.all());
    assert!(
        ran.stderr.contains(message),
        "{}: expected {message:?} in {}",
        path.display(),
        ran.stderr
    );
    assert_eq!(mock.requests(), 0, "nothing is sent");
    assert!(work.ledger().is_empty(), "no ledger line");
}

/// Like [`check_file`] for huge inputs: also returns the child's peak RSS (KiB), checked
/// against [`MAX_RSS_KB`], and prints it with the time taken (for the record, not asserted:
/// machines are shared).
fn check_huge(
    name: &str,
    path: &Path,
    valid: &[u64],
    reject: (u64, &str),
    code: i32,
) -> (Work, u64) {
    let work = Work::new();
    let mock = Mock::start(&[]);
    let started = Instant::now();
    let (ran, rss_kb) = run_measured(work.block(&mock, &["--block-for", "1d"]).arg(path));
    eprintln!(
        "{name}: exit {}, peak RSS {} KiB, {:.2?}",
        ran.code,
        rss_kb,
        started.elapsed()
    );
    assert_eq!(ran.code, code, "{name}: {}", ran.all());
    assert_blocked_exactly_once(&mock, valid.iter().copied());
    assert_rejects(&work, path, &[reject]);
    assert!(rss_kb > 0, "wait4 reported a peak RSS");
    assert!(
        rss_kb < MAX_RSS_KB,
        "{name}: peak RSS {rss_kb} KiB is not bounded"
    );
    (work, rss_kb)
}

/// Writes `head`, then `repeat` copies of `chunk`, streaming (never all in memory).
fn write_streaming(path: &Path, head: &[u8], chunk: &[u8], repeat: usize) {
    let mut out = BufWriter::new(File::create(path).expect("create"));
    out.write_all(head).expect("write");
    for _ in 0..repeat {
        out.write_all(chunk).expect("write");
    }
    out.flush().expect("flush");
}

/// A gzip bomb: `head` as one gzip member, then `mib` members of 1 MiB of zeros each, about
/// 1 KB on disk per MiB of one line. Concatenated members are one valid gzip file (`gzip
/// -d` reads them all; so does blockade), and compressing the 1 MiB member once keeps the
/// test fast in a debug build.
fn gzip_bomb(path: &Path, head: &[u8], mib: usize) -> u64 {
    let gzip = |bytes: &[u8]| {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(bytes).expect("compress");
        encoder.finish().expect("compress")
    };
    let zeros = gzip(&vec![0u8; MIB]);
    write_streaming(path, &gzip(head), &zeros, mib);
    std::fs::metadata(path).expect("bomb").len()
}

/// Seeded random bytes (xorshift64*): the same "binary file" on every run.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

// ---------- committed files ----------

#[test]
fn invalid_utf8_csv_rejects_only_bad_ids() {
    let path = hostile("invalid-utf8.csv");
    check_file(
        &path,
        &[1, 3, 5],
        &[(3, "ID is not valid UTF-8"), (5, "ID is not valid UTF-8")],
        0,
    );
}

#[test]
fn invalid_utf8_jsonl_rejects_each_bad_line() {
    let path = hostile("invalid-utf8.jsonl");
    let work = check_file(
        &path,
        &[1, 3],
        &[
            (2, "line is not valid UTF-8"),
            (3, "line is not valid UTF-8"),
            (5, "line is not valid UTF-8"),
        ],
        0,
    );
    // The ledger stays valid JSON (checked by `ledger()`), the bad bytes shown as U+FFFD.
    let inputs: Vec<Value> = lines_with_status(&work.ledger(), "rejected")
        .iter()
        .map(|line| line["input"].clone())
        .collect();
    assert_eq!(inputs[0], "{\"id\": 2, \"name\": \"caf\u{fffd}\"}");
}

#[test]
fn nul_bytes_csv_are_data_outside_the_id() {
    let path = hostile("nul-bytes.csv");
    check_file(
        &path,
        &[1, 4],
        &[
            (3, "expected 2 fields, found 1"),
            (4, "not a whole number"),
            (6, "not a whole number"),
        ],
        0,
    );
}

#[test]
fn nul_bytes_jsonl_are_rejected_with_their_line() {
    let path = hostile("nul-bytes.jsonl");
    check_file(
        &path,
        &[1, 5],
        &[
            (2, "broken JSON"),
            (3, "broken JSON"),
            (4, "not a JSON object"),
            (5, "not a whole number"),
        ],
        0,
    );
}

#[test]
fn huge_number_jsonl_is_too_large_not_rounded() {
    let path = hostile("huge-number.jsonl");
    let work = check_file(&path, &[6], &[(1, "too large"), (2, "too large")], 0);
    for line in lines_with_status(&work.ledger(), "rejected") {
        let input = line["input"].as_str().unwrap();
        assert!(
            input.chars().count() <= 201 && input.ends_with('…'),
            "{input}"
        );
    }
}

#[test]
fn huge_number_csv_is_too_large() {
    check_file(&hostile("huge-number.csv"), &[7], &[(2, "too large")], 0);
}

#[test]
fn empty_jsonl_is_exit_2() {
    check_refused(&Work::new(), &hostile("empty.jsonl"), "the input is empty");
}

#[test]
fn header_only_csv_sends_nothing_and_is_an_input_error() {
    check_file(&hostile("header-only.csv"), &[], &[], 2);
}

/// An input with no valid ID at all is an input error (exit 2), not "every ID blocked".
#[test]
fn blank_lines_jsonl_sends_nothing_and_is_an_input_error() {
    let work = check_file(&hostile("blank-lines.jsonl"), &[], &[], 2);
    assert!(work.ledger().is_empty(), "{:?}", work.ledger());
}

// ---------- generated: huge lines and a gzip bomb ----------

#[test]
fn csv_line_past_the_record_cap_without_newline_is_broken_in_bounded_memory() {
    let work = Work::new();
    let path = work.path("line.csv");
    write_streaming(
        &path,
        b"id,name\n1,a\n",
        &[b'7'; PAST_CAP],
        (CSV_RECORD_CAP + PAST_CAP) / PAST_CAP,
    );
    check_huge(
        "csv line past the cap",
        &path,
        &[1],
        (3, "longer than 1 MiB"),
        1,
    );
}

#[test]
fn jsonl_line_past_the_skip_cap_without_newline_is_broken_in_bounded_memory() {
    let work = Work::new();
    let path = work.path("line.jsonl");
    write_streaming(
        &path,
        b"{\"id\": 1}\n{\"id\": 2, \"pad\": \"",
        &[b'x'; MIB],
        (JSONL_SKIP_CAP + MIB) / MIB,
    );
    let (run, _) = check_huge(
        "jsonl line past the skip cap",
        &path,
        &[1],
        (2, "longer than 64 MiB"),
        1,
    );
    let ledger = run.ledger();
    let line = lines_with_status(&ledger, "rejected")[0];
    assert!(
        line["input"]
            .as_str()
            .unwrap()
            .starts_with("{\"id\": 2, \"pad\": \"xxx"),
        "the reject shows the start of the line: {line}"
    );
}

#[test]
fn csv_gzip_bomb_stops_at_the_record_cap_in_bounded_memory() {
    let work = Work::new();
    let path = work.path("bomb.csv.gz");
    let size = gzip_bomb(&path, b"id,name\n1,a\n", CSV_RECORD_CAP / MIB + 1);
    assert!(size < 2 * MIB as u64, "the bomb is small: {size} bytes");
    check_huge("csv gzip bomb", &path, &[1], (3, "longer than 1 MiB"), 1);
}

#[test]
fn jsonl_gzip_bomb_stops_at_the_skip_cap_in_bounded_memory() {
    let work = Work::new();
    let path = work.path("bomb.jsonl.gz");
    let size = gzip_bomb(&path, b"{\"id\": 1}\n", JSONL_SKIP_CAP / MIB + 1);
    assert!(size < 2 * MIB as u64, "the bomb is small: {size} bytes");
    check_huge("jsonl gzip bomb", &path, &[1], (2, "longer than 64 MiB"), 1);
}

// ---------- generated: binary, nesting, wide and tall CSV ----------

#[test]
fn random_bytes_named_csv_is_exit_2_saying_it_is_not_text() {
    let work = Work::new();
    let path = work.write("binary.csv", random_bytes(0x5eed, 256 * 1024));
    check_refused(&work, &path, "no ID column");
    check_refused(&work, &path, "the first line is not text");
}

#[test]
fn random_bytes_named_jsonl_rejects_every_non_blank_line() {
    let work = Work::new();
    let bytes = random_bytes(0x5eed, 256 * 1024);
    let path = work.write("binary.jsonl", &bytes);
    // What the reader must see: every physical line that is not blank text is one reject.
    let expected: Vec<u64> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| std::str::from_utf8(line).map_or(true, |t| !t.trim().is_empty()))
        .map(|(index, _)| index as u64 + 1)
        .collect();
    assert!(expected.len() > 500, "random bytes hold many lines");
    let mock = Mock::start(&[]);
    let ran = run(work.block(&mock, &["--block-for", "1d"]).arg(&path));
    assert_eq!(ran.code, 2, "no valid ID is an input error: {}", ran.all());
    assert!(ran.stdout.contains("no valid ID"), "{}", ran.stdout);
    assert_eq!(mock.requests(), 0, "nothing valid, nothing sent");
    let lines: Vec<u64> = rejected(&work)
        .iter()
        .map(|(source, _)| source.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, expected, "one reject per non-blank line, in order");
}

#[test]
fn deeply_nested_jsonl_gives_clear_rejects_and_keeps_good_rows() {
    const DEPTH: usize = 100_000;
    let open = "[".repeat(DEPTH);
    let close = "]".repeat(DEPTH);
    let objects = format!("{}1{}", "{\"a\": ".repeat(DEPTH), "}".repeat(DEPTH));
    let text = [
        format!("{{\"id\": {open}"),
        format!("{{\"x\": {open}{close}, \"id\": 5}}"),
        format!("{{\"id\": {open}{close}}}"),
        open.clone(),
        format!("{{\"id\": 6, \"deep\": {objects}}}"),
        format!("{{\"id\": {objects}}}"),
    ]
    .join("\n");
    let work = Work::new();
    let path = work.write("deep.jsonl", text);
    check_file(
        &path,
        &[5, 6],
        &[
            (1, "broken JSON"),
            (3, "ID is an array"),
            (4, "not a JSON object"),
            (6, "ID is an object"),
        ],
        0,
    );
}

#[test]
fn csv_header_of_many_columns_past_the_record_cap_is_exit_2() {
    let work = Work::new();
    let path = work.path("wide.csv");
    let mut header = String::from("id");
    let mut column = 0;
    while header.len() <= CSV_RECORD_CAP + PAST_CAP {
        column += 1;
        header += &format!(",c{column}");
    }
    write_streaming(&path, header.as_bytes(), b"\n1\n", 1);
    check_refused(
        &work,
        &path,
        "the first line (the CSV header) is longer than 1 MiB",
    );
}

#[test]
fn csv_a_million_empty_columns_reads_rows_in_bounded_memory() {
    let work = Work::new();
    let path = work.path("wide.csv");
    let commas = ",".repeat(999_999);
    let text = format!("id{commas}\n2\n1{commas}\n");
    std::fs::write(&path, text).unwrap();
    check_huge(
        "csv 1,000,000 columns",
        &path,
        &[1],
        (2, "expected 1000000 fields, found 1"),
        0,
    );
}

#[test]
fn csv_id_column_of_500_kib_is_too_large_and_the_next_row_is_read() {
    let work = Work::new();
    let id = "9".repeat(500 * 1024);
    let path = work.write("tall.csv", format!("id,name\n1,a\n{id},b\n2,c\n"));
    let ran = check_file(&path, &[1, 2], &[(3, "too large")], 0);
    let input = lines_with_status(&ran.ledger(), "rejected")[0]["input"].clone();
    assert_eq!(input.as_str().unwrap().chars().count(), 201, "{input}");
}

#[test]
fn csv_id_column_past_the_record_cap_breaks_the_file_off_with_a_reject() {
    // Past the 1 MiB record cap the CSV reader cannot tell a huge field from an unclosed
    // quote swallowing the file, so it stops: the rows after are not read, the ledger
    // says so and the exit code is 1.
    let work = Work::new();
    let path = work.path("tall.csv");
    write_streaming(
        &path,
        b"id,name\n1,a\n",
        &[b'9'; PAST_CAP],
        (CSV_RECORD_CAP + PAST_CAP) / PAST_CAP,
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b",b\n2,c\n")
        .unwrap();
    check_file(&path, &[1], &[(3, "the rest of the file was not read")], 1);
}

// ---------- generated: not regular files ----------

#[test]
fn a_directory_as_input_is_exit_2() {
    let work = Work::new();
    let path = work.path("list.csv");
    std::fs::create_dir(&path).unwrap();
    check_refused(&work, &path, "is a directory");
}

#[test]
fn a_fifo_with_a_writer_is_read_to_its_end() {
    // Guards `estimate_rows`: it used to open every input a second time to count lines,
    // which on a FIFO (or `<(zcat …)`) stole rows from the reader or blocked forever.
    let work = Work::new();
    let path = work.path("list.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    // Under the 64 KiB pipe buffer, so that the writer never blocks once the FIFO is open.
    let ids: Vec<u64> = (1..=3000).collect();
    let body = csv_of(ids.iter().copied());
    assert!(body.len() < 64 * 1024);
    // Opening a FIFO's write end blocks until a reader opens it: do it on a thread.
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        let mut fifo = File::options().write(true).open(writer_path)?;
        fifo.write_all(body.as_bytes())
    });
    let mock = Mock::start(&[]);
    let ran = run_with_deadline(
        work.block(&mock, &["--block-for", "1d"]).arg(&path),
        Duration::from_secs(60),
    );
    if !writer.is_finished() {
        // blockade never opened the FIFO: open the read end ourselves (without blocking)
        // so the writer thread can finish and the test fails instead of hanging.
        use std::os::unix::fs::OpenOptionsExt;
        let _unblock = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path);
    }
    writer
        .join()
        .expect("writer thread")
        .expect("write the FIFO");
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, ids);
    assert!(rejected(&work).is_empty());
}

// ---------- blockade report on ledgers it cannot read ----------

fn check_report_refuses(path: &Path) {
    let work = Work::new();
    let ran = run(work.blockade().arg("report").arg(path));
    assert_eq!(ran.code, 2, "{}: {}", path.display(), ran.all());
    assert!(
        ran.stderr.contains("cannot read the results ledger")
            && ran.stderr.contains(&path.display().to_string()),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.is_empty(), "no report: {}", ran.stdout);
}

#[test]
fn report_on_a_directory_is_exit_2() {
    let work = Work::new();
    let path = work.path("results.jsonl");
    std::fs::create_dir(&path).unwrap();
    check_report_refuses(&path);
}

#[test]
fn report_on_an_unreadable_ledger_is_exit_2() {
    let work = Work::new();
    // A symlink loop cannot be opened, even by root.
    let looped = work.path("loop.jsonl");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    check_report_refuses(&looped);
    // No read permission: only meaningful when not root (root reads it anyway).
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let locked = work.write("locked.jsonl", "");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        check_report_refuses(&locked);
    }
}

#[test]
fn block_with_a_directory_as_ledger_is_exit_2_and_sends_nothing() {
    let work = Work::new();
    std::fs::create_dir(work.ledger_path()).unwrap();
    let input = work.write("a.csv", csv_of(1..=5));
    let mock = Mock::start(&[]);
    let ran = run(work.block(&mock, &["--block-for", "1d"]).arg(&input));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(
        ran.stderr.contains("results ledger"),
        "the error names the ledger: {}",
        ran.stderr
    );
    assert_eq!(mock.requests(), 0);
}
