//! The results ledger: the tool's history, an append-only JSON Lines file with one line
//! per outcome (a request's, or a rejected input row's), each run's lines after a line
//! naming its command and target.
//!
//! Constraint kept here: a line is either written whole or recognisably torn, one
//! process writes a ledger at a time, and reading never fails because of what a line
//! contains — only because the file cannot be opened or read. `record` holds the line
//! types (one outcome type for every operation and kind), `op` the commands that write
//! them, `writer` the single appender, `reader` the tolerant line reader, `target` the
//! filter that keeps a command to its own target's lines, and `latest` the "latest state
//! per value" view that `--resume`, `retry`, `unblock`, `verify` and `report` rely on.

mod error;
mod latest;
mod op;
mod reader;
pub(crate) mod record;
mod target;
pub(crate) mod timestamp;
mod writer;

pub use error::LedgerError;
pub use latest::{Latest, State, StateCounts, to_retry};
pub use op::{Op, Resend};
pub use reader::{LedgerReadStats, read_records};
pub(crate) use reader::{open as open_for_reading, read_record_at, read_records_at};
pub use record::{OutcomeRecord, PauseRecord, Record, RejectRecord, RunRecord, Status, StopRecord};
pub use target::TargetFilter;
pub use writer::LedgerWriter;

use chrono::Utc;

/// A fresh run id such as `20261124T142001Z-4f2a`: the UTC start time to the second,
/// then four random hex digits so that two runs started in the same second differ.
pub fn new_run_id() -> String {
    let suffix: u16 = rand::random();
    format!("{}-{suffix:04x}", Utc::now().format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_has_the_documented_shape() {
        let id = new_run_id();
        let (stamp, suffix) = id.split_once('-').expect("run id has a dash");
        assert!(
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok(),
            "{id}"
        );
        assert_eq!(suffix.len(), 4, "{id}");
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
}
