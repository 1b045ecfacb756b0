//! The end-of-run summary: what happened to every row, printed for people and written as
//! JSON (`--summary-json`) for monitoring. It also decides the exit code, in one place.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::counters::Counters;
use crate::exit::ExitStatus;
use crate::pool::{PoolCounters, PoolEnd, Stop};

/// What a sending run left behind for the summary (`pipeline::execute` returns it).
pub struct RunEnd {
    pub pool: PoolEnd,
    pub pool_counters: std::sync::Arc<PoolCounters>,
    pub elapsed: std::time::Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub command: &'static str,
    pub run: String,
    /// `sandbox`, or the API base URL.
    pub target: String,
    pub outcome: &'static str,
    pub exit_code: i32,
    pub rows_read: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Skipped by `--resume`: the ledger shows them blocked.
    pub already_blocked: u64,
    pub other_shards: u64,
    pub sent: u64,
    pub blocked: u64,
    /// Of `blocked`, those the server said were blocked already.
    pub blocked_already: u64,
    pub failed: u64,
    /// Refused by the server by name: `retry` skips them unless `--include-refused`.
    pub refused: u64,
    pub not_sent: u64,
    /// `unblock`: block records deleted (one per contact and record).
    pub unblocked: u64,
    /// `unblock`: contacts with no block record, or whose record was already gone.
    pub not_blocked: u64,
    /// `unblock`: requests that listed the block list (not in `requests`), and the
    /// records they listed.
    pub list_requests: u64,
    pub records_listed: u64,
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
    /// IDs blocked per second (failed ones are not throughput).
    pub ids_per_second: f64,
    pub ledger: PathBuf,
    /// Why the run stopped early, or why it is not a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// The sum check: valid rows read = blocked + failed + refused + duplicates + skipped
    /// by --resume + not sent. False is a bug (exit 70).
    pub accounted: bool,
    /// Commands to run next, runnable as printed.
    pub next: Vec<String>,
    /// `contact`, `email` or `ip`: what the counts count.
    #[serde(rename = "type")]
    pub value_type: &'static str,
}

/// The commands a summary may suggest, built by the command that ran (it knows its
/// flags): re-send failures, and pick up what was never sent.
#[derive(Clone, Debug, Default)]
pub struct NextCommands {
    /// `blockade retry LEDGER <target flags>`.
    pub retry: String,
    /// The same command again, with `--resume` where it has one.
    pub resume: String,
}

/// What a run did, as the summary needs it.
pub struct RunFacts<'a> {
    pub command: &'static str,
    pub value_type: crate::input::ValueType,
    pub run: &'a str,
    pub target: &'a str,
    pub ledger: &'a Path,
    pub next: &'a NextCommands,
}

impl Summary {
    pub fn new(facts: RunFacts<'_>, counters: &Counters, end: &RunEnd) -> Summary {
        let stop = end.pool.stop.as_ref();
        let requests = Counters::get(&end.pool_counters.requests);
        let rate_limited = Counters::get(&end.pool_counters.rate_limited);
        let elapsed = end.elapsed;
        let get = Counters::get;
        let (blocked, failed, refused) = (
            get(&counters.ids_blocked),
            get(&counters.ids_failed),
            get(&counters.ids_refused),
        );
        let not_sent = get(&counters.not_sent);
        let inputs_broken = get(&counters.inputs_broken);
        let rows_read = get(&counters.rows);
        let (duplicates, already_blocked) =
            (get(&counters.duplicates), get(&counters.already_blocked));
        let (unblocked, not_blocked) =
            (get(&counters.ids_unblocked), get(&counters.ids_not_blocked));
        let accounted = rows_read
            == blocked
                + failed
                + refused
                + unblocked
                + not_blocked
                + duplicates
                + already_blocked
                + not_sent;
        let rejected = get(&counters.rejected);
        // Nothing valid at all (rows left to other shards are this shard's choice, not
        // a bad input).
        let no_valid_id = facts.command == "block"
            && rows_read == 0
            && get(&counters.other_shards) == 0
            && stop.is_none();
        let done = if facts.command == "unblock" {
            unblocked
        } else {
            blocked
        };
        let status = if !accounted {
            ExitStatus::Internal
        } else if no_valid_id {
            ExitStatus::Usage
        } else {
            exit_status(stop, failed + refused, not_sent, inputs_broken)
        };
        let seconds = elapsed.as_secs_f64();
        let stop_reason = match stop {
            Some(Stop::Aborted(reason)) => Some(reason.clone()),
            Some(Stop::Interrupted) => Some(status.word().to_owned()),
            Some(Stop::Unreachable(reason)) => Some(format!(
                "the server is unreachable or failing every request, so the run stopped sending: {reason}"
            )),
            Some(Stop::RateLimited { until, reason }) => Some(format!(
                "the server asked to wait until {} (longer than --max-wait), so the run stopped sending: {reason}",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            None if no_valid_id => Some(format!(
                "no valid ID in the inputs ({} rejected): nothing was sent; check the file, --id-field and --format (--no-header for a plain list)",
                plural(rejected, "row")
            )),
            None => None,
        };
        let mut summary = Summary {
            command: facts.command,
            run: facts.run.to_owned(),
            target: facts.target.to_owned(),
            outcome: if facts.command == "unblock" && status == ExitStatus::Success {
                "done, every valid ID unblocked (or found not blocked)"
            } else {
                status.word()
            },
            exit_code: status.code(),
            rows_read,
            rejected,
            duplicates,
            already_blocked,
            other_shards: get(&counters.other_shards),
            sent: blocked + failed + refused + unblocked + not_blocked,
            blocked,
            blocked_already: get(&counters.ids_already),
            failed,
            refused,
            not_sent,
            unblocked,
            not_blocked,
            list_requests: get(&counters.list_requests),
            records_listed: get(&counters.records_listed),
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
                done as f64 / seconds
            } else {
                0.0
            },
            ledger: facts.ledger.to_owned(),
            stop_reason,
            accounted,
            next: Vec::new(),
            value_type: facts.value_type.as_str(),
        };
        summary.next = summary.next_commands(facts.next);
        summary
    }

    /// What one value of an unblock is called.
    fn unblock_noun(&self) -> &'static str {
        match self.value_type {
            "email" => "email",
            "ip" => "IP address",
            _ => "contact",
        }
    }

    /// What one counted value is called: an ID, an email, an IP address.
    fn noun(&self) -> &'static str {
        match self.value_type {
            "email" => "email",
            "ip" => "IP address",
            _ => "ID",
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::from_code(self.exit_code)
    }

    /// What to run next: `retry` for failures, the same command with `--resume` for what
    /// was never sent (or never read).
    fn next_commands(&self, next: &NextCommands) -> Vec<String> {
        let mut out = Vec::new();
        if self.exit_status() == ExitStatus::Internal || self.exit_status() == ExitStatus::Usage {
            return out;
        }
        if self.failed > 0 {
            out.push(next.retry.clone());
        }
        let left = self.not_sent > 0 || self.unread_rows > 0 || self.unread_uncounted;
        if left && next.resume != next.retry {
            out.push(next.resume.clone());
        }
        out
    }

    /// The text summary, for stdout.
    pub fn render(&self) -> String {
        let n = group_digits;
        if self.command == "unblock" {
            return self.render_unblock();
        }
        let mut out = format!(
            "blockade {}: {}\n  read      {} ({} rejected, {} duplicates, {} already blocked per the ledger)\n  sent      {} in {}\n",
            self.command,
            self.outcome,
            plural(self.rows_read + self.rejected + self.other_shards, "row"),
            n(self.rejected),
            n(self.duplicates),
            n(self.already_blocked),
            plural(self.sent, self.noun()),
            plural(self.requests, "request"),
        );
        out += &format!(
            "  blocked   {} ({})\n",
            plural(self.blocked, self.noun()),
            plural(self.batches_blocked, "batch")
        );
        if self.blocked_already > 0 {
            out += &format!(
                "            of which {} already blocked at the server\n",
                n(self.blocked_already)
            );
        }
        out += &format!(
            "  failed    {} ({})\n",
            plural(self.failed, self.noun()),
            plural(self.batches_failed, "batch")
        );
        if self.refused > 0 {
            out += &format!(
                "  refused   {} (the server refused each by name; retry skips them unless --include-refused)\n",
                plural(self.refused, self.noun())
            );
        }
        if self.other_shards > 0 {
            out += &format!(
                "  shards    {} left to the other shards\n",
                plural(self.other_shards, "row")
            );
        }
        if self.not_sent > 0 {
            out += &format!(
                "  not sent  {} read but not sent (stopped early)\n",
                plural(self.not_sent, self.noun())
            );
        }
        if self.unread_rows > 0 || self.unread_uncounted {
            let more = if self.unread_uncounted {
                " and more not counted (stdin or a long input)"
            } else {
                ""
            };
            out += &format!(
                "  not read  {}{more} (stopped early)\n",
                plural(self.unread_rows, "row")
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
        out += &self.render_end("blocked");
        out
    }

    /// The text summary of `unblock`: per block record deleted, per contact not blocked.
    fn render_unblock(&self) -> String {
        let n = group_digits;
        let mut out = format!(
            "blockade unblock: {}\n  values    {} to unblock ({} rejected rows, {} duplicates, {} already unblocked per the ledger)\n  sent      {}\n",
            self.outcome,
            n(self.rows_read - self.duplicates - self.already_blocked),
            n(self.rejected),
            n(self.duplicates),
            n(self.already_blocked),
            plural(self.requests, "DELETE request"),
        );
        if self.list_requests > 0 {
            out += &format!(
                "  listed    {} block records in {}\n",
                n(self.records_listed),
                plural(self.list_requests, "request")
            );
        }
        out += &format!(
            "  unblocked {} deleted\n  not blocked {} (no block record, or it was gone already)\n  failed    {}\n",
            plural(self.unblocked, "block record"),
            plural(self.not_blocked, self.unblock_noun()),
            plural(self.failed + self.refused, self.unblock_noun()),
        );
        if self.not_sent > 0 {
            out += &format!(
                "  not sent  {} (stopped early)\n",
                plural(self.not_sent, self.unblock_noun())
            );
        }
        if self.rate_limited > 0 {
            out += &format!(
                "  429s      {} (the pool waited and slowed down)\n",
                n(self.rate_limited)
            );
        }
        out += &self.render_end("unblocked");
        out
    }

    /// Time, ledger, why it stopped, the sum check and the next commands.
    fn render_end(&self, done: &str) -> String {
        let n = group_digits;
        let mut out = format!(
            "  time      {:.1}s ({} {}/s {done})\n  ledger    {} (run {}, target {})\n",
            self.seconds,
            n(self.ids_per_second.round() as u64),
            many(if done == "unblocked" {
                self.unblock_noun()
            } else {
                self.noun()
            }),
            self.ledger.display(),
            self.run,
            self.target,
        );
        if let Some(reason) = &self.stop_reason {
            out += &format!("  stopped   {reason}\n");
        }
        if !self.accounted {
            out += &format!(
                "  BUG       the counts do not add up: {} valid rows read, but {} blocked + {} unblocked + {} not blocked + {} failed + {} refused + {} duplicates + {} skipped by --resume + {} not sent = {}. Please report this with the ledger.\n",
                self.rows_read,
                self.blocked,
                self.unblocked,
                self.not_blocked,
                self.failed,
                self.refused,
                self.duplicates,
                self.already_blocked,
                self.not_sent,
                self.blocked
                    + self.unblocked
                    + self.not_blocked
                    + self.failed
                    + self.refused
                    + self.duplicates
                    + self.already_blocked
                    + self.not_sent
            );
        }
        for command in &self.next {
            out += &format!("Next: {command}\n");
        }
        out
    }
}

fn exit_status(stop: Option<&Stop>, failed: u64, not_sent: u64, inputs_broken: u64) -> ExitStatus {
    match stop {
        Some(Stop::Aborted(_)) => ExitStatus::Aborted,
        Some(Stop::Interrupted) => crate::exit::interrupted_status(),
        Some(Stop::Unreachable(_) | Stop::RateLimited { .. }) => ExitStatus::Failed,
        None if failed > 0 || not_sent > 0 || inputs_broken > 0 => ExitStatus::Failed,
        None => ExitStatus::Success,
    }
}

/// "1 request", "2 requests", "1,000 batches".
pub fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {}", group_digits(n), many(one))
    }
}

/// The plural of a noun: "requests", "batches", "IP addresses".
fn many(one: &str) -> String {
    if one.ends_with("ch") || one.ends_with('s') {
        format!("{one}es")
    } else {
        format!("{one}s")
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

    fn summary_of(counters: &Counters, stop: Option<Stop>) -> Summary {
        let end = RunEnd {
            pool: crate::pool::PoolEnd {
                ids_not_sent: 0,
                stop,
                ..Default::default()
            },
            pool_counters: Default::default(),
            elapsed: std::time::Duration::from_secs(1),
        };
        let next = NextCommands {
            retry: "blockade retry r.jsonl --sandbox".into(),
            resume: "blockade block in.csv --sandbox --resume".into(),
        };
        let facts = RunFacts {
            command: "block",
            value_type: crate::input::ValueType::Contact,
            run: "r1",
            target: "sandbox",
            ledger: Path::new("r.jsonl"),
            next: &next,
        };
        Summary::new(facts, counters, &end)
    }

    #[test]
    fn a_sum_that_does_not_add_up_is_exit_70_and_shows_the_sums() {
        let counters = Counters::default();
        Counters::add(&counters.rows, 10);
        Counters::add(&counters.ids_blocked, 7);
        Counters::add(&counters.ids_failed, 1);
        // Two IDs unaccounted for: a batch lost somewhere.
        let summary = summary_of(&counters, None);
        assert!(!summary.accounted);
        assert_eq!(summary.exit_status(), ExitStatus::Internal);
        assert_eq!(summary.exit_code, 70);
        let text = summary.render();
        assert!(text.contains("BUG"), "{text}");
        assert!(text.contains("10 valid rows read"), "{text}");
        assert!(
            summary.next.is_empty(),
            "no hint after a bug: {:?}",
            summary.next
        );

        Counters::add(&counters.not_sent, 2);
        let summary = summary_of(&counters, Some(Stop::Interrupted));
        assert!(summary.accounted);
        assert_eq!(summary.exit_status(), ExitStatus::Interrupted);
        // Failures and unsent IDs: both hints, each a command to run as printed.
        assert_eq!(
            summary.next,
            [
                "blockade retry r.jsonl --sandbox",
                "blockade block in.csv --sandbox --resume"
            ]
        );
    }

    #[test]
    fn no_valid_id_is_an_input_error_but_another_shard_s_rows_are_not() {
        let counters = Counters::default();
        Counters::add(&counters.rejected, 3);
        let summary = summary_of(&counters, None);
        assert_eq!(summary.exit_status(), ExitStatus::Usage);
        assert!(summary.render().contains("no valid ID"));

        let counters = Counters::default();
        Counters::add(&counters.other_shards, 3);
        assert_eq!(
            summary_of(&counters, None).exit_status(),
            ExitStatus::Success
        );
    }

    #[test]
    fn plurals_agree_with_their_count() {
        assert_eq!(plural(1, "request"), "1 request");
        assert_eq!(plural(2, "request"), "2 requests");
        assert_eq!(plural(1, "batch"), "1 batch");
        assert_eq!(plural(1000, "batch"), "1,000 batches");
        assert_eq!(plural(0, "ID"), "0 IDs");
        assert_eq!(plural(3, "IP address"), "3 IP addresses");
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
        assert_eq!(
            exit_status(Some(&Stop::Unreachable("refused".into())), 0, 9, 0),
            ExitStatus::Failed
        );
    }
}
