//! The end-of-run summary: what happened to every row, printed for people and written as
//! JSON (`--summary-json`) for monitoring. It also decides the exit code, in one place.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::counters::Counters;
use crate::exit::ExitStatus;
use crate::pipeline::RunEnd;
use crate::pool::Stop;

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub command: &'static str,
    pub run: String,
    pub outcome: &'static str,
    pub exit_code: i32,
    pub rows_read: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub already_blocked: u64,
    pub other_shards: u64,
    pub sent: u64,
    pub blocked: u64,
    pub failed: u64,
    pub not_sent: u64,
    /// Rows not read because the run stopped early.
    pub unread_rows: u64,
    /// Whether some unread input could not be counted (stdin, or too long to count).
    pub unread_uncounted: bool,
    pub inputs_broken: u64,
    pub batches_blocked: u64,
    pub batches_failed: u64,
    pub requests: u64,
    pub rate_limited: u64,
    /// What the server admitted (requests/s) as the pool measured it, when it answered 429s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_admitted_per_second: Option<f64>,
    pub seconds: f64,
    pub ids_per_second: f64,
    pub ledger: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

impl Summary {
    pub fn new(
        command: &'static str,
        run: &str,
        counters: &Counters,
        end: &RunEnd,
        ledger: &Path,
    ) -> Summary {
        let stop = end.pool.stop.as_ref();
        let requests = Counters::get(&end.pool_counters.requests);
        let rate_limited = Counters::get(&end.pool_counters.rate_limited);
        let elapsed = end.elapsed;
        let get = Counters::get;
        let (blocked, failed) = (get(&counters.ids_blocked), get(&counters.ids_failed));
        let not_sent = get(&counters.not_sent);
        let inputs_broken = get(&counters.inputs_broken);
        let status = exit_status(stop, failed, not_sent, inputs_broken);
        let seconds = elapsed.as_secs_f64();
        Summary {
            command,
            run: run.to_owned(),
            outcome: status.word(),
            exit_code: status.code(),
            rows_read: get(&counters.rows),
            rejected: get(&counters.rejected),
            duplicates: get(&counters.duplicates),
            already_blocked: get(&counters.already_blocked),
            other_shards: get(&counters.other_shards),
            sent: blocked + failed,
            blocked,
            failed,
            not_sent,
            unread_rows: get(&counters.unread),
            unread_uncounted: get(&counters.unread_uncounted) > 0,
            inputs_broken,
            batches_blocked: get(&counters.batches_blocked),
            batches_failed: get(&counters.batches_failed),
            requests,
            rate_limited,
            server_admitted_per_second: end.pool.admitted_per_second,
            seconds,
            ids_per_second: if seconds > 0.0 {
                (blocked + failed) as f64 / seconds
            } else {
                0.0
            },
            ledger: ledger.to_owned(),
            stop_reason: match stop {
                Some(Stop::Aborted(reason)) => Some(reason.clone()),
                Some(Stop::Interrupted) => Some("interrupted".into()),
                None => None,
            },
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::from_code(self.exit_code)
    }

    /// The text summary, for stdout.
    pub fn render(&self) -> String {
        let n = group_digits;
        let mut out = format!(
            "blockade {}: {}\n  read      {} rows ({} rejected, {} duplicates, {} already blocked)\n  sent      {} IDs in {} requests\n  blocked   {} IDs ({} batches)\n  failed    {} IDs ({} batches)\n",
            self.command,
            self.outcome,
            n(self.rows_read + self.rejected + self.other_shards),
            n(self.rejected),
            n(self.duplicates),
            n(self.already_blocked),
            n(self.sent),
            n(self.requests),
            n(self.blocked),
            n(self.batches_blocked),
            n(self.failed),
            n(self.batches_failed),
        );
        if self.other_shards > 0 {
            out += &format!(
                "  shards    {} rows left to the other shards\n",
                n(self.other_shards)
            );
        }
        if self.not_sent > 0 {
            out += &format!(
                "  not sent  {} IDs read but not sent (stopped early)\n",
                n(self.not_sent)
            );
        }
        if self.unread_rows > 0 || self.unread_uncounted {
            let more = if self.unread_uncounted {
                " and more not counted (stdin or a long input)"
            } else {
                ""
            };
            out += &format!(
                "  not read  {} rows{more} (stopped early)\n",
                n(self.unread_rows)
            );
        }
        if self.inputs_broken > 0 {
            out += &format!(
                "  inputs    {} could not be read to the end (see the rejected lines)\n",
                self.inputs_broken
            );
        }
        if self.rate_limited > 0 {
            out += &format!(
                "  429s      {} (the pool waited and slowed down)\n",
                n(self.rate_limited)
            );
        }
        if let Some(admitted) = self.server_admitted_per_second {
            out += &format!("  limit     {}\n", crate::gate::limit_hint(admitted));
        }
        out += &format!(
            "  time      {:.1}s ({} IDs/s)\n  ledger    {} (run {})\n",
            self.seconds,
            n(self.ids_per_second.round() as u64),
            self.ledger.display(),
            self.run
        );
        if let Some(reason) = &self.stop_reason {
            out += &format!("  stopped   {reason}\n");
        }
        let ledger = self.ledger.display();
        match self.exit_status() {
            ExitStatus::Failed if self.failed > 0 => {
                out += &format!("Next: blockade retry {ledger}   (re-sends the failed IDs)\n")
            }
            ExitStatus::Failed | ExitStatus::Interrupted | ExitStatus::Aborted => {
                out += "Next: run the same command again with --resume to send what is left\n"
            }
            _ => {}
        }
        out
    }
}

fn exit_status(stop: Option<&Stop>, failed: u64, not_sent: u64, inputs_broken: u64) -> ExitStatus {
    match stop {
        Some(Stop::Aborted(_)) => ExitStatus::Aborted,
        Some(Stop::Interrupted) => ExitStatus::Interrupted,
        None if failed > 0 || not_sent > 0 || inputs_broken > 0 => ExitStatus::Failed,
        None => ExitStatus::Success,
    }
}

/// 1234567 → "1,234,567".
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
    }

    #[test]
    fn exit_status_follows_the_contract() {
        assert_eq!(exit_status(None, 0, 0, 0), ExitStatus::Success);
        assert_eq!(exit_status(None, 1, 0, 0), ExitStatus::Failed);
        assert_eq!(exit_status(None, 0, 5, 0), ExitStatus::Failed);
        assert_eq!(exit_status(None, 0, 0, 1), ExitStatus::Failed);
        assert_eq!(
            exit_status(Some(&Stop::Aborted("401".into())), 3, 0, 0),
            ExitStatus::Aborted
        );
        assert_eq!(
            exit_status(Some(&Stop::Interrupted), 0, 9, 0),
            ExitStatus::Interrupted
        );
    }
}
