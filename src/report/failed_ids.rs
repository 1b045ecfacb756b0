//! The export of the values whose latest outcome is failed, as a CSV file, for one kind
//! of value (`contact_id`, `email` or `ip` in the first column: what `block` reads).
//!
//! Constraint kept here: each such value appears exactly once, with the block-till and
//! error of its latest line, and memory holds the failed values of that kind only (as
//! keys while reading); the file is private to its owner (mode 0600).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::{File, OpenOptions};
use std::io::BufReader;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::ledger::{self, Latest, LedgerError, Record, State, Status, timestamp};
use crate::values::sets::SeenSet;
use crate::values::{Kind, ValueType, with_kind};

/// Writes `contact_id,block_till,error` (or `email,...`, `ip,...`) for every value of
/// `value_type` whose latest outcome across `paths` is failed, with the block-till and
/// error of that latest line, in ledger order (file mode 0600). Returns the number of
/// rows. The output is valid input for `blockade block --block-till-field block_till`.
///
/// Two passes keep memory lean: the first learns the failed set and where each failed
/// line starts; the second walks failed lines newest first, so the first line met that
/// names a still-unassigned failed ID is that ID's latest line.
pub fn write_failed_ids_csv(
    paths: &[PathBuf],
    out: &Path,
    value_type: ValueType,
) -> Result<u64, LedgerError> {
    let export_error = |source: std::io::Error| LedgerError::Export {
        path: out.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .map_err(export_error)?;
    // `mode` only applies when the file is created; an existing file is narrowed too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(export_error)?;
    let (rows, file) = write_failed_ids(paths, file, out, value_type)?;
    file.sync_all().map_err(export_error)?;
    Ok(rows)
}

/// [`write_failed_ids_csv`] to any writer (`--failed-ids -`: standard output); `out` names
/// it in errors. Returns the number of rows and the writer.
pub fn write_failed_ids<W: std::io::Write>(
    paths: &[PathBuf],
    writer: W,
    out: &Path,
    value_type: ValueType,
) -> Result<(u64, W), LedgerError> {
    with_kind!(value_type, |kind| write_kind(kind, paths, writer, out))
}

fn write_kind<K: Kind, W: std::io::Write>(
    kind: K,
    paths: &[PathBuf],
    writer: W,
    out: &Path,
) -> Result<(u64, W), LedgerError> {
    let mut latest = Latest::new(kind);
    let mut failed_lines: Vec<(usize, u64)> = Vec::new();
    for (file_index, path) in paths.iter().enumerate() {
        ledger::read_records_at(path, |_, offset, record| {
            if record.status() == Status::Failed {
                failed_lines.push((file_index, offset));
            }
            latest.apply(&record);
        })?;
    }

    // Failed lines newest first: the first line met that names a still-unassigned failed
    // value is that value's latest line.
    let mut left = latest.count_where(|entry| entry.state == State::Failed);
    let mut assigned = K::Seen::default();
    let mut rows_newest_first: Vec<(DateTime<Utc>, String, Vec<K::Value>)> = Vec::new();
    let mut readers: HashMap<usize, BufReader<File>> = HashMap::new();
    for &(file_index, offset) in failed_lines.iter().rev() {
        if left == 0 {
            break;
        }
        let path = &paths[file_index];
        let reader = match readers.entry(file_index) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(BufReader::new(ledger::open_for_reading(path)?)),
        };
        let Some(Record::Outcome(line)) = ledger::read_record_at(reader, path, offset)? else {
            continue;
        };
        let (Some(values), Some(till)) = (latest.of_kind(&line), line.block_till) else {
            continue;
        };
        if !line.blocks() {
            continue;
        }
        let fresh: Vec<K::Value> = values
            .iter()
            .filter(|v| latest.says(&line, v, State::Failed) && assigned.insert(K::key(v)))
            .cloned()
            .collect();
        if !fresh.is_empty() {
            left = left.saturating_sub(fresh.len() as u64);
            rows_newest_first.push((till, line.error.unwrap_or_default(), fresh));
        }
    }
    if left > 0 {
        tracing::warn!(
            values = left,
            "The ledger changed while it was read; some failed values are not exported."
        );
    }

    let export_error = |source: std::io::Error| LedgerError::Export {
        path: out.to_owned(),
        source,
    };
    let column = match kind.value_type() {
        ValueType::Contact => "contact_id",
        other => other.as_str(),
    };
    let mut csv = csv::Writer::from_writer(writer);
    let mut rows = 0u64;
    csv.write_record([column, "block_till", "error"])
        .map_err(|error| export_error(error.into()))?;
    for (till, error, values) in rows_newest_first.iter().rev() {
        let till = timestamp::format(till);
        for value in values {
            csv.write_record([value.to_string().as_str(), till.as_str(), error.as_str()])
                .map_err(|error| export_error(error.into()))?;
            rows += 1;
        }
    }
    let writer = csv
        .into_inner()
        .map_err(|error| export_error(error.into_error()))?;
    Ok((rows, writer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::tests::at;
    use crate::report::tests::{blocked, failed, two_ledgers, write_ledger};

    #[test]
    fn failed_ids_csv_lists_each_latest_failure_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let (early, late) = (at(1_000, 0), at(2_000, 0));
        write_ledger(
            &path,
            &[
                failed(
                    "r1",
                    &[30, 10, 20],
                    early,
                    Some(500),
                    "first, \"quoted\" error",
                    "a.csv:1-3",
                    0,
                ),
                failed(
                    "r1",
                    &[40],
                    early,
                    None,
                    "connection refused",
                    "a.csv:4-4",
                    1,
                ),
                // 20 is blocked later: not exported. 10 fails again: the newer line wins.
                blocked("r2", &[20], "a.csv:2-2", 10, 1),
                failed("r2", &[10], late, Some(503), "maintenance", "a.csv:1-1", 11),
            ],
            "garbage",
        );
        let out = dir.path().join("failed.csv");
        std::fs::write(
            &out,
            "stale content that is longer than the export will be\n".repeat(20),
        )
        .expect("stale file");
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).expect("chmod");

        let rows = write_failed_ids_csv(std::slice::from_ref(&path), &out, ValueType::Contact)
            .expect("exported");
        assert_eq!(rows, 3);
        let text = std::fs::read_to_string(&out).expect("readable");
        assert_eq!(
            text,
            "contact_id,block_till,error\n\
             30,2026-11-18T11:23:20.000Z,\"first, \"\"quoted\"\" error\"\n\
             40,2026-11-18T11:23:20.000Z,connection refused\n\
             10,2026-11-18T11:40:00.000Z,maintenance\n"
        );
        crate::testing::assert_private(&out);
    }

    #[test]
    fn failed_ids_csv_merges_shards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = two_ledgers(dir.path());
        let out = dir.path().join("failed.csv");
        assert_eq!(
            write_failed_ids_csv(&paths, &out, ValueType::Contact).expect("exported"),
            2
        );
        let text = std::fs::read_to_string(&out).expect("readable");
        let ids: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').next())
            .collect();
        assert_eq!(ids, ["5", "6"]);
    }
}
