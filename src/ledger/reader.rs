//! The tolerant ledger reader.
//!
//! Constraint kept here: a ledger is streamed line by line in bounded memory (lines
//! over 64 MiB are skipped unread), and nothing a line contains — a torn last line
//! from a crash, garbage, invalid UTF-8 — is an error or a panic: such lines are
//! counted, the first few remembered with their line numbers, and logged. Only a file
//! that cannot be opened or read is an error.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::{LedgerError, Record};

/// Longest line the reader will buffer; the writer never comes near it.
const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// How many unreadable lines are kept (and logged one by one) per ledger.
pub(crate) const MAX_KEPT_BAD_LINES: usize = 20;

/// What reading a ledger found besides its records.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LedgerReadStats {
    /// Every line in the file, blank and unreadable ones included.
    pub lines: u64,
    /// The first unreadable lines: (1-based line number, why it was skipped).
    pub bad_lines: Vec<(u64, String)>,
    /// All unreadable lines, including those past the first 20.
    pub bad_line_count: u64,
}

/// Streams every readable record of the ledger at `path` to `each`, with its 1-based
/// line number, in file order.
pub fn read_records(
    path: &Path,
    mut each: impl FnMut(u64, Record),
) -> Result<LedgerReadStats, LedgerError> {
    read_records_at(path, |line, _offset, record| each(line, record))
}

/// Like [`read_records`], also passing each line's byte offset so that a caller can
/// come back to it with [`read_record_at`].
pub(crate) fn read_records_at(
    path: &Path,
    each: impl FnMut(u64, u64, Record),
) -> Result<LedgerReadStats, LedgerError> {
    read_records_capped(path, MAX_LINE_BYTES, each)
}

fn read_records_capped(
    path: &Path,
    max_line_bytes: usize,
    mut each: impl FnMut(u64, u64, Record),
) -> Result<LedgerReadStats, LedgerError> {
    let read_error = |source| LedgerError::Read {
        path: path.to_owned(),
        source,
    };
    let file = open(path)?;
    // A file that does not start like a ledger (a CSV given by mistake) and holds no
    // ledger line at all is refused, not read as thousands of unreadable lines.
    if !super::writer::starts_like_a_ledger(&file).map_err(read_error)? {
        let (records, _) = read_lines(path, open(path)?, max_line_bytes, false, |_, _, _| {})?;
        if records == 0 {
            return Err(LedgerError::NotALedgerToRead {
                path: path.to_owned(),
            });
        }
    }
    let (_, stats) = read_lines(path, file, max_line_bytes, true, &mut each)?;
    Ok(stats)
}

/// Every line of `file`: records to `each`, unreadable lines counted (and, with `warn`,
/// the first ones logged). Returns the number of records.
fn read_lines(
    path: &Path,
    file: File,
    max_line_bytes: usize,
    warn: bool,
    mut each: impl FnMut(u64, u64, Record),
) -> Result<(u64, LedgerReadStats), LedgerError> {
    let read_error = |source| LedgerError::Read {
        path: path.to_owned(),
        source,
    };
    let mut records = 0u64;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut stats = LedgerReadStats::default();
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        let line_offset = offset;
        let read = next_line(&mut reader, &mut line, max_line_bytes).map_err(read_error)?;
        let outcome = match read {
            LineRead::End => break,
            LineRead::TooLong { bytes } => {
                offset += bytes;
                Err(format!(
                    "longer than {} MiB; skipped unread",
                    max_line_bytes >> 20
                ))
            }
            LineRead::Line { bytes, newline } => {
                offset += bytes;
                parse_line(&line, newline)
            }
        };
        stats.lines += 1;
        match outcome {
            Ok(Some(record)) => {
                records += 1;
                each(stats.lines, line_offset, record);
            }
            Ok(None) => {}
            Err(why) => note_bad_line(&mut stats, path, why, warn),
        }
    }
    if warn && stats.bad_line_count > MAX_KEPT_BAD_LINES as u64 {
        tracing::warn!(
            path = %path.display(),
            unreadable = stats.bad_line_count,
            "More unreadable ledger lines were skipped than were logged one by one."
        );
    }
    Ok((records, stats))
}

/// Reads the one record that starts at `offset` (from [`read_records_at`]) of an
/// already opened ledger; `None` if the line there is no longer readable.
pub(crate) fn read_record_at(
    reader: &mut BufReader<File>,
    path: &Path,
    offset: u64,
) -> Result<Option<Record>, LedgerError> {
    let read_error = |source| LedgerError::Read {
        path: path.to_owned(),
        source,
    };
    reader.seek(SeekFrom::Start(offset)).map_err(read_error)?;
    let mut line = Vec::new();
    match next_line(reader, &mut line, MAX_LINE_BYTES).map_err(read_error)? {
        LineRead::Line { newline, .. } => Ok(parse_line(&line, newline).ok().flatten()),
        LineRead::End | LineRead::TooLong { .. } => Ok(None),
    }
}

/// Opens a ledger for reading, telling "missing" apart from other failures.
pub(crate) fn open(path: &Path) -> Result<File, LedgerError> {
    File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => LedgerError::NotFound {
            path: path.to_owned(),
        },
        _ => LedgerError::Read {
            path: path.to_owned(),
            source,
        },
    })
}

fn note_bad_line(stats: &mut LedgerReadStats, path: &Path, why: String, warn: bool) {
    stats.bad_line_count += 1;
    if stats.bad_lines.len() < MAX_KEPT_BAD_LINES {
        if !warn {
            stats.bad_lines.push((stats.lines, why));
            return;
        }
        tracing::warn!(line = stats.lines, path = %path.display(), reason = %why, "Skipped an unreadable ledger line.");
        stats.bad_lines.push((stats.lines, why));
    }
}

/// `Ok(None)` for a blank line, the record, or why the line cannot be read.
fn parse_line(line: &[u8], newline: bool) -> Result<Option<Record>, String> {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(error) => {
            return Err(format!(
                "not valid UTF-8 (bad byte at column {})",
                error.valid_up_to() + 1
            ));
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|error| {
        let error = plain_json_error(&error);
        if newline {
            format!("not a ledger record: {error}")
        } else {
            format!("torn last line (no newline at the end: an earlier run probably stopped mid-write): {error}")
        }
    })
}

enum LineRead {
    End,
    /// `line` holds the line without its terminator; `bytes` counts what was consumed.
    Line {
        bytes: u64,
        newline: bool,
    },
    TooLong {
        bytes: u64,
    },
}

/// Reads one line into `line` (without "\n" or "\r\n"), never buffering more than
/// `max_bytes` of it: a longer line is consumed and dropped.
fn next_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max_bytes: usize,
) -> io::Result<LineRead> {
    line.clear();
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let bytes = reader.by_ref().take(limit).read_until(b'\n', line)?;
    if bytes == 0 {
        return Ok(LineRead::End);
    }
    let newline = line.last() == Some(&b'\n');
    if newline {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() > max_bytes {
        line.clear();
        let skipped = skip_rest_of_line(reader)?;
        return Ok(LineRead::TooLong {
            bytes: bytes as u64 + skipped,
        });
    }
    Ok(LineRead::Line {
        bytes: bytes as u64,
        newline,
    })
}

/// Consumes input up to and including the next "\n", returning how many bytes.
fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok(skipped);
        }
        let (used, done) = match available.iter().position(|&byte| byte == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        reader.consume(used);
        skipped += used as u64;
        if done {
            return Ok(skipped);
        }
    }
}

/// serde's message as a sentence for people: no "at line 1 column 9" (a ledger line is one
/// line), and no Rust type names ("expected struct RawRecord"; issue 12).
fn plain_json_error(error: &serde_json::Error) -> String {
    let mut text = error.to_string();
    if let Some(at) = text.find(" at line ") {
        text.truncate(at);
    }
    if let Some(at) = text
        .find("expected struct ")
        .or_else(|| text.find("expected enum "))
    {
        text.truncate(at);
        text.push_str("expected a JSON object with the ledger's fields");
    }
    match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not JSON at column {} ({text})", error.column())
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Status;
    use crate::ledger::record::tests::{at, batch};
    use proptest::prelude::*;

    fn line_of(ids: &[u64]) -> String {
        serde_json::to_string(&Record::Outcome(batch(
            "r1",
            Status::Blocked,
            ids,
            at(0, 0),
        )))
        .expect("serializes")
    }

    fn read_all(path: &Path) -> (Vec<(u64, Record)>, LedgerReadStats) {
        let mut records = Vec::new();
        let stats =
            read_records(path, |line, record| records.push((line, record))).expect("readable");
        (records, stats)
    }

    fn ids_of(records: &[(u64, Record)]) -> Vec<(u64, Vec<u64>)> {
        records
            .iter()
            .map(|(line, record)| match record {
                Record::Outcome(line_record) => match &line_record.ids {
                    crate::values::Values::Contacts(ids) => (*line, ids.clone()),
                    crate::values::Values::Strings(_) => (*line, Vec::new()),
                },
                _ => (*line, Vec::new()),
            })
            .collect()
    }

    #[test]
    fn damaged_lines_are_skipped_with_their_line_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let mut content = Vec::new();
        content.extend_from_slice(format!("{}\n", line_of(&[1])).as_bytes()); // 1
        content.extend_from_slice(b"\n   \n"); // 2, 3: blank
        content.extend_from_slice(b"garbage here\n"); // 4
        content.extend_from_slice(b"{\"run\":\"\xff\xfe\"}\n"); // 5: invalid UTF-8
        content.extend_from_slice(format!("{}\r\n", line_of(&[2])).as_bytes()); // 6: CRLF is fine
        content.extend_from_slice(br#"{"run":"r1","batch":3,"sta"#); // 7: torn, no newline
        std::fs::write(&path, content).expect("seeded");

        let (records, stats) = read_all(&path);
        assert_eq!(ids_of(&records), [(1, vec![1]), (6, vec![2])]);
        assert_eq!(stats.lines, 7);
        assert_eq!(stats.bad_line_count, 3);
        let numbers: Vec<u64> = stats.bad_lines.iter().map(|(line, _)| *line).collect();
        assert_eq!(numbers, [4, 5, 7]);
        assert!(
            stats.bad_lines[0].1.starts_with("not a ledger record"),
            "{:?}",
            stats.bad_lines
        );
        assert!(
            stats.bad_lines[1].1.contains("UTF-8"),
            "{:?}",
            stats.bad_lines
        );
        assert!(
            stats.bad_lines[2].1.starts_with("torn last line"),
            "{:?}",
            stats.bad_lines
        );
    }

    #[test]
    fn a_complete_last_line_without_newline_is_still_read() {
        let (_dir, path) = crate::testing::temp_file(
            "ledger.jsonl",
            format!("{}\n{}", line_of(&[1]), line_of(&[2])),
        );
        let (records, stats) = read_all(&path);
        assert_eq!(ids_of(&records), [(1, vec![1]), (2, vec![2])]);
        assert_eq!(stats.bad_line_count, 0);
    }

    #[test]
    fn only_the_first_twenty_bad_lines_are_kept_but_all_are_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let mut content = "x\n".repeat(25);
        content.push_str(&line_of(&[9]));
        content.push('\n');
        std::fs::write(&path, content).expect("seeded");
        let (records, stats) = read_all(&path);
        assert_eq!(ids_of(&records), [(26, vec![9])]);
        assert_eq!(stats.bad_line_count, 25);
        assert_eq!(stats.bad_lines.len(), MAX_KEPT_BAD_LINES);
        assert_eq!(stats.bad_lines.last().map(|(line, _)| *line), Some(20));
    }

    #[test]
    fn an_overlong_line_is_skipped_and_the_next_one_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let long = "y".repeat(5000);
        std::fs::write(&path, format!("{long}\n{}\n", line_of(&[3]))).expect("seeded");
        let mut seen = Vec::new();
        let stats = read_records_capped(&path, 1000, |line, offset, record| {
            seen.push((line, offset, record))
        })
        .expect("readable");
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].0, seen[0].1), (2, 5001));
        assert_eq!(stats.bad_lines.len(), 1);
        assert!(
            stats.bad_lines[0].1.contains("longer than"),
            "{:?}",
            stats.bad_lines
        );
    }

    #[test]
    fn a_record_can_be_read_again_at_its_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        std::fs::write(
            &path,
            format!("{}\njunk\n{}\n", line_of(&[1]), line_of(&[2, 3])),
        )
        .expect("seeded");
        let mut offsets = Vec::new();
        read_records_at(&path, |_, offset, record| offsets.push((offset, record)))
            .expect("readable");
        let mut reader = BufReader::new(open(&path).expect("opens"));
        for (offset, record) in offsets.iter().rev() {
            let again = read_record_at(&mut reader, &path, *offset).expect("readable");
            assert_eq!(again.as_ref(), Some(record));
        }
    }

    #[test]
    fn a_missing_ledger_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope.jsonl");
        let error = read_records(&path, |_, _| {}).expect_err("missing");
        assert!(matches!(error, LedgerError::NotFound { .. }), "{error:?}");
        assert!(error.to_string().contains("nope.jsonl"), "{error}");
        assert!(error.to_string().contains("does not exist"), "{error}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Whatever bytes a ledger holds, reading it neither panics nor fails, and
        /// every line is accounted for as a record, a blank or a counted bad line.
        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..64),
                Just(line_of(&[1, 2]).into_bytes()),
                Just(b"\n".to_vec()),
            ],
            0..12,
        )) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("ledger.jsonl");
            let bytes = chunks.concat();
            std::fs::write(&path, &bytes).expect("seeded");
            let mut records = 0u64;
            let stats = match read_records(&path, |_, _| records += 1) {
                Ok(stats) => stats,
                // Only a file with no ledger line at all is refused.
                Err(LedgerError::NotALedgerToRead { .. }) => {
                    let parses = |line: &[u8]| serde_json::from_slice::<Record>(line).is_ok();
                    prop_assert!(!bytes.split(|&b| b == b'\n').any(parses));
                    return Ok(());
                }
                Err(error) => panic!("content is never an error but for a non-ledger: {error}"),
            };
            let expected_lines = bytes.split(|&b| b == b'\n').count() as u64
                - u64::from(bytes.is_empty() || bytes.ends_with(b"\n"));
            prop_assert_eq!(stats.lines, expected_lines);
            prop_assert!(records + stats.bad_line_count <= stats.lines);
        }
    }
}
