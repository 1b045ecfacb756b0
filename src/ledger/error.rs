//! The ledger layer's one error type.
//!
//! Constraint kept here: every message names the file and tells the user what to do.
//! Content problems (a torn or garbled line) are never errors: the reader counts and
//! skips them. Only opening, locking, reading and writing files fail.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "the results ledger {} does not exist; check the path (a ledger is written by `blockade block --results PATH`)",
        path.display()
    )]
    NotFound { path: PathBuf },

    #[error(
        "cannot open the results ledger {}: {source}; check that its directory exists and is writable, or pass another file with --results",
        path.display()
    )]
    Open { path: PathBuf, source: io::Error },

    #[error(
        "{} is not a blockade results ledger (its first line is not a ledger line), and blockade appends only to its own ledgers; pass another file with --results",
        path.display()
    )]
    NotALedger { path: PathBuf },

    #[error(
        "{} is not a blockade results ledger (its first line is not a ledger line); give the ledger a blockade run wrote (blockade-results.jsonl, or its --results)",
        path.display()
    )]
    NotALedgerToRead { path: PathBuf },

    #[error(
        "the results ledger {} is locked: another blockade run is writing it; wait for that run to finish, or pass another file with --results",
        path.display()
    )]
    Locked { path: PathBuf },

    #[error(
        "cannot read the results ledger {}: {source}; check the file and its permissions, then run again",
        path.display()
    )]
    Read { path: PathBuf, source: io::Error },

    #[error(
        "cannot write to the results ledger {}: {source}; free disk space or fix permissions, then run again with --resume (lines already written are kept)",
        path.display()
    )]
    Write { path: PathBuf, source: io::Error },

    #[error("cannot encode a ledger line for {}: {source}; this is a bug in blockade, please report it", path.display())]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },

    #[error(
        "cannot write the failed-IDs file {}: {source}; check that its directory exists and is writable, or choose another output path",
        path.display()
    )]
    Export { path: PathBuf, source: io::Error },
}
