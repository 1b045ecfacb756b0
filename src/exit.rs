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
    /// 70: the run's accounting did not add up (a bug); the summary shows the sums.
    Internal,
    /// 130: SIGINT; in-flight batches finished and recorded.
    Interrupted,
    /// 143: SIGTERM; in-flight batches finished and recorded.
    Terminated,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Aborted => 3,
            ExitStatus::Internal => 70,
            ExitStatus::Interrupted => 130,
            ExitStatus::Terminated => 143,
        }
    }

    pub fn from_code(code: i32) -> ExitStatus {
        match code {
            0 => ExitStatus::Success,
            2 => ExitStatus::Usage,
            3 => ExitStatus::Aborted,
            70 => ExitStatus::Internal,
            130 => ExitStatus::Interrupted,
            143 => ExitStatus::Terminated,
            _ => ExitStatus::Failed,
        }
    }

    /// One word for the summary.
    pub fn word(self) -> &'static str {
        match self {
            ExitStatus::Success => "done, every valid ID blocked",
            ExitStatus::Failed => "not done: some IDs failed or were not sent",
            ExitStatus::Usage => "not started",
            ExitStatus::Aborted => {
                "aborted: the server refused the credentials or the account, or its certificate could not be verified"
            }
            ExitStatus::Internal => "internal error: the counts do not add up",
            ExitStatus::Interrupted => "interrupted (SIGINT)",
            ExitStatus::Terminated => "terminated (SIGTERM)",
        }
    }

    /// The status of a command that ended with `error`: 1 once sending may have begun
    /// (`RuntimeError`), else 2 (usage, configuration or input; nothing sent).
    pub fn of_error(error: &anyhow::Error) -> ExitStatus {
        if let Some(stopped) = error.downcast_ref::<Stopped>() {
            stopped.status
        } else if error.downcast_ref::<RuntimeError>().is_some() {
            ExitStatus::Failed
        } else {
            ExitStatus::Usage
        }
    }
}

/// The signal that stopped the run, if one did (process-wide, as signals are).
static SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Remembers that SIGINT (2) or SIGTERM (15) asked the run to stop.
pub fn note_signal(signal: i32) {
    let _ = SIGNAL.compare_exchange(
        0,
        signal,
        std::sync::atomic::Ordering::Relaxed,
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The exit status for an interrupted run: 143 after SIGTERM, else 130.
pub fn interrupted_status() -> ExitStatus {
    if SIGNAL.load(std::sync::atomic::Ordering::Relaxed) == 15 {
        ExitStatus::Terminated
    } else {
        ExitStatus::Interrupted
    }
}

/// An error that happened after sending began (the ledger could not be written, say):
/// exit 1, not 2, because something may have been sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(pub String);

/// A command that stopped before its first write, with the status to exit with (the
/// account refused the key: 3; the server could not be listed to the end: 1): an error,
/// so that `--summary-json` says why as for any other error.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Stopped {
    pub status: ExitStatus,
    pub reason: String,
}
