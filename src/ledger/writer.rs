//! The single appender of a results ledger.
//!
//! Constraints kept here: each record lands as one whole line from one `write_all` on
//! an `O_APPEND` file (no buffered writer that could hold half a line at a crash); only
//! one process appends at a time (an exclusive advisory lock held for the writer's
//! life); a line torn by an earlier crash is closed off before the first new line; and
//! data reaches the disk at least every two seconds and on `sync()`. The writer is
//! synchronous and owned by one task (the collector): callers never share it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{LedgerError, Record};

/// How long appended lines may sit in the page cache before `append` syncs them.
const SYNC_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct LedgerWriter {
    path: PathBuf,
    file: File,
    /// Reused for every line so the hot path does not allocate.
    line: Vec<u8>,
    last_sync: Instant,
    /// Lines written since the last sync.
    unsynced: bool,
    /// A write failed part-way, so the file may end in a partial line: the next line
    /// must start with a newline to stay whole.
    maybe_torn: bool,
}

/// Whether the file is empty or its first line is a ledger line: a JSON object with
/// `run` and `status` (or, in a file of one torn line, the start of one). A user's CSV
/// given as `--results` by mistake is refused instead of appended to.
pub(super) fn starts_like_a_ledger(file: &File) -> std::io::Result<bool> {
    /// Longest first line looked at: a batch of 10,000 IDs is about 200 KiB.
    const MAX_FIRST_LINE: usize = 4 << 20;
    // Devices and pipes (/dev/full in a test, a FIFO) have no first line to check.
    if !file.metadata()?.is_file() {
        return Ok(true);
    }
    let mut head = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let line_end = loop {
        let read = file.read_at(&mut chunk, head.len() as u64)?;
        if read == 0 {
            break None;
        }
        let start = head.len();
        head.extend_from_slice(&chunk[..read]);
        if let Some(at) = memchr::memchr(b'\n', &head[start..]) {
            break Some(start + at);
        }
        if head.len() >= MAX_FIRST_LINE {
            break None;
        }
    };
    let Some(end) = line_end else {
        // One line and no newline: empty, or a first write torn by a crash.
        return Ok(head.is_empty() || head.starts_with(b"{"));
    };
    let first: Result<serde_json::Map<String, serde_json::Value>, _> =
        serde_json::from_slice(&head[..end]);
    Ok(first.is_ok_and(|line| line.contains_key("run") && line.contains_key("status")))
}

impl LedgerWriter {
    /// Opens (creating with mode 0600 if missing) the ledger for appending and locks it.
    pub fn open(path: &Path) -> Result<LedgerWriter, LedgerError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| LedgerError::Open {
                path: path.to_owned(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LedgerError::Locked {
                    path: path.to_owned(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(LedgerError::Open {
                    path: path.to_owned(),
                    source,
                });
            }
        }
        if !starts_like_a_ledger(&file).map_err(|source| LedgerError::Read {
            path: path.to_owned(),
            source,
        })? {
            return Err(LedgerError::NotALedger {
                path: path.to_owned(),
            });
        }
        let mut writer = LedgerWriter {
            path: path.to_owned(),
            file,
            line: Vec::with_capacity(4096),
            last_sync: Instant::now(),
            unsynced: false,
            maybe_torn: false,
        };
        writer.close_torn_last_line()?;
        Ok(writer)
    }

    /// Appends one record as one whole line.
    pub fn append(&mut self, record: &Record) -> Result<(), LedgerError> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends records as whole lines, all in one write: at tens of thousands of batches a
    /// second, one write per line was a visible share of a run's CPU. A crash mid-write can
    /// tear only the last line, which the reader skips and the next open closes off.
    pub fn append_all(&mut self, records: &[Record]) -> Result<(), LedgerError> {
        self.line.clear();
        if self.maybe_torn {
            self.line.push(b'\n');
        }
        for record in records {
            record
                .write_json(&mut self.line)
                .map_err(|source| LedgerError::Encode {
                    path: self.path.clone(),
                    source,
                })?;
            self.line.push(b'\n');
        }
        if let Err(source) = self.file.write_all(&self.line) {
            self.maybe_torn = true;
            return Err(self.write_error(source));
        }
        self.maybe_torn = false;
        self.unsynced = true;
        if self.last_sync.elapsed() >= SYNC_INTERVAL {
            self.sync()?;
        }
        Ok(())
    }

    /// Forces every appended line to disk.
    pub fn sync(&mut self) -> Result<(), LedgerError> {
        if self.unsynced {
            self.file
                .sync_data()
                .map_err(|source| self.write_error(source))?;
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// A crash mid-write can leave the file ending without '\n'. Appending straight
    /// after it would glue the next record onto the torn one and lose both, so start
    /// with a newline: the torn line stays unreadable (the reader skips it with a
    /// warning) and every new line stays whole.
    fn close_torn_last_line(&mut self) -> Result<(), LedgerError> {
        let len = self
            .file
            .metadata()
            .map_err(|source| LedgerError::Read {
                path: self.path.clone(),
                source,
            })?
            .len();
        if len == 0 {
            return Ok(());
        }
        let mut last = [0u8; 1];
        self.file
            .read_exact_at(&mut last, len - 1)
            .map_err(|source| LedgerError::Read {
                path: self.path.clone(),
                source,
            })?;
        if last[0] != b'\n' {
            tracing::warn!(
                path = %self.path.display(),
                "The results ledger ends in a torn line (an earlier run stopped mid-write); starting a new line after it."
            );
            self.file
                .write_all(b"\n")
                .map_err(|source| self.write_error(source))?;
            self.unsynced = true;
        }
        Ok(())
    }

    fn write_error(&self, source: std::io::Error) -> LedgerError {
        LedgerError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for LedgerWriter {
    /// Best effort only: the collector calls `sync()` at the end and reports its error;
    /// this catches early returns so that nothing written stays unsynced at exit.
    fn drop(&mut self) {
        if self.unsynced
            && let Err(error) = self.file.sync_data()
        {
            tracing::error!(path = %self.path.display(), %error, "Could not sync the results ledger to disk.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::tests::{at, batch};
    use crate::ledger::{RejectRecord, Status};

    fn reject(input: &str) -> Record {
        Record::Reject(RejectRecord {
            run: "r1".to_owned(),
            status: Status::Rejected,
            source: "a.csv:3".to_owned(),
            input: input.to_owned(),
            error: "not a positive integer".to_owned(),
        })
    }

    fn parse_lines(path: &Path) -> Vec<Record> {
        std::fs::read_to_string(path)
            .expect("ledger readable")
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_str(line).expect("every line whole"))
            .collect()
    }

    #[test]
    fn each_record_is_one_whole_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let records = vec![
            Record::Outcome(batch("r1", Status::Blocked, &[1, 2, 3], at(0, 0))),
            reject("a\nb \"quoted\""),
            Record::Outcome(batch("r1", Status::Failed, &[4], at(0, 0))),
        ];
        let mut writer = LedgerWriter::open(&path).expect("opens");
        for record in &records {
            writer.append(record).expect("appends");
        }
        writer.sync().expect("syncs");
        let text = std::fs::read_to_string(&path).expect("readable");
        assert_eq!(text.matches('\n').count(), 3, "{text}");
        assert!(text.ends_with('\n'));
        assert_eq!(parse_lines(&path), records);
        assert_eq!(writer.path, path);
    }

    #[test]
    fn a_file_that_is_not_a_ledger_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("contacts.csv");
        std::fs::write(&path, "id\n1\n2\n").expect("seeded");
        let error = LedgerWriter::open(&path).expect_err("not a ledger");
        assert!(matches!(error, LedgerError::NotALedger { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "id\n1\n2\n");
    }

    #[test]
    fn reopening_appends_after_existing_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let first = Record::Outcome(batch("r1", Status::Failed, &[7], at(0, 0)));
        let second = Record::Outcome(batch("r2", Status::Blocked, &[7], at(0, 0)));
        LedgerWriter::open(&path)
            .expect("opens")
            .append(&first)
            .expect("appends");
        LedgerWriter::open(&path)
            .expect("reopens")
            .append(&second)
            .expect("appends");
        assert_eq!(parse_lines(&path), [first, second]);
    }

    #[test]
    fn a_new_ledger_is_private_to_its_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        drop(LedgerWriter::open(&path).expect("opens"));
        crate::testing::assert_private(&path);
    }

    /// flock(2) locks belong to the open file description, so a second `open` of the
    /// same path conflicts even inside one process: this is what stops two runs (or two
    /// commands of one test binary) from interleaving lines in one ledger.
    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let first = LedgerWriter::open(&path).expect("opens");
        let error = LedgerWriter::open(&path).expect_err("second open must be refused");
        assert!(matches!(error, LedgerError::Locked { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("another blockade run"), "{message}");
        drop(first);
        LedgerWriter::open(&path).expect("the lock is released with the writer");
    }

    #[test]
    fn a_torn_last_line_is_closed_before_the_next_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let whole = Record::Outcome(batch("r1", Status::Blocked, &[1], at(0, 0)));
        let whole_line = serde_json::to_string(&whole).expect("serializes");
        std::fs::write(&path, format!("{whole_line}\n{{\"run\":\"r1\",\"bat")).expect("seeded");
        let next = Record::Outcome(batch("r2", Status::Failed, &[2], at(0, 0)));
        LedgerWriter::open(&path)
            .expect("opens")
            .append(&next)
            .expect("appends");
        let text = std::fs::read_to_string(&path).expect("readable");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[1], r#"{"run":"r1","bat"#);
        assert_eq!(
            serde_json::from_str::<Record>(lines[2]).expect("whole"),
            next
        );
    }

    /// /dev/full accepts the open and fails every write with ENOSPC: the error must say
    /// which file and what to do, not just "No space left on device".
    #[test]
    fn a_failed_write_names_the_ledger_and_the_way_out() {
        let path = Path::new("/dev/full");
        let mut writer = LedgerWriter::open(path).expect("/dev/full opens");
        let record = Record::Outcome(batch("r1", Status::Blocked, &[1], at(0, 0)));
        let error = writer
            .append(&record)
            .expect_err("a full device refuses the write");
        assert!(matches!(error, LedgerError::Write { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("/dev/full"), "{message}");
        assert!(message.contains("--resume"), "{message}");
    }

    #[test]
    fn a_ledger_in_a_missing_directory_names_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no-such-dir").join("ledger.jsonl");
        let error = LedgerWriter::open(&path).expect_err("cannot create");
        assert!(matches!(error, LedgerError::Open { .. }), "{error:?}");
        assert!(error.to_string().contains("no-such-dir"), "{error}");
    }
}
