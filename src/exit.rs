//! Exit codes, from the contract: what a cron job reads.

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every valid ID blocked.
    Success,
    /// 1: some batches failed (the ledger names them; `blockade retry` re-sends them).
    Failed,
    /// 2: usage, configuration or input error; nothing sent.
    Usage,
    /// 3: the server refused the credentials or the account, or its certificate could not
    /// be verified.
    Aborted,
    /// 130: SIGINT/SIGTERM; in-flight batches finished and recorded.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Aborted => 3,
            ExitStatus::Interrupted => 130,
        }
    }

    pub fn from_code(code: i32) -> ExitStatus {
        match code {
            0 => ExitStatus::Success,
            2 => ExitStatus::Usage,
            3 => ExitStatus::Aborted,
            130 => ExitStatus::Interrupted,
            _ => ExitStatus::Failed,
        }
    }

    /// One word for the summary.
    pub fn word(self) -> &'static str {
        match self {
            ExitStatus::Success => "done, every valid ID blocked",
            ExitStatus::Failed => "done with failures",
            ExitStatus::Usage => "not started",
            ExitStatus::Aborted => {
                "aborted: the server refused the credentials or the account, or its certificate could not be verified"
            }
            ExitStatus::Interrupted => "interrupted",
        }
    }
}

/// An error that happened after sending began (the ledger could not be written, say):
/// exit 1, not 2, because something may have been sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(pub String);
