//! The end-of-run summary: what happened to every row, and why, in one structure. The
//! text summary, `--summary-json` and the JSON log's summary event are all drawn from it,
//! so people and monitoring read the same figures. It also decides the exit code, in one
//! place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::exit::ExitStatus;
use crate::ledger::{Op, timestamp};
use crate::send::counters::{Counters, FailureCount};
use crate::send::gate::AdvertisedLimit;
use crate::send::pipeline::RunEnd;
use crate::send::pool::Stop;
use crate::values::ValueType;
pub use crate::values::count::{group_digits, many, plural};

/// Failure kinds named in the summary, most values first.
const FAILURE_KINDS_SHOWN: usize = 5;

/// The limit a server advertised in its rate-limit headers, as the summary tells it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdvertisedSummary {
    /// The header family: `X-RateLimit-*`, `RateLimit-*` or `RateLimit-Policy`.
    pub headers: &'static str,
    /// Requests per window, and the window in seconds (as advertised, or learnt from the
    /// resets), when known.
    pub limit: Option<u64>,
    pub window_seconds: Option<f64>,
    /// Whether the window was said (`w=`) rather than learnt.
    pub window_advertised: bool,
    /// Requests that waited for the window to turn because its budget was spent.
    pub budget_waits: u64,
}

impl From<AdvertisedLimit> for AdvertisedSummary {
    fn from(advertised: AdvertisedLimit) -> Self {
        AdvertisedSummary {
            headers: advertised.family.as_str(),
            limit: advertised.limit,
            window_seconds: advertised.window.map(|window| window.as_secs_f64()),
            window_advertised: advertised.window_advertised,
            budget_waits: advertised.budget_waits,
        }
    }
}

/// "200 requests per 1s, advertised in RateLimit-* headers; 3 requests waited for the window
/// to turn".
impl std::fmt::Display for AdvertisedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.limit, self.window_seconds) {
            (Some(limit), Some(window)) => write!(
                f,
                "{} per {window}s{}",
                plural(limit, "request"),
                if self.window_advertised {
                    ""
                } else {
                    " (window learnt)"
                }
            )?,
            (Some(limit), None) => write!(f, "{} per window", plural(limit, "request"))?,
            (None, _) => write!(f, "no quota")?,
        }
        write!(f, ", advertised in {} headers", self.headers)?;
        if self.budget_waits > 0 {
            write!(
                f,
                "; {} waited for the window to turn",
                plural(self.budget_waits, "request")
            )?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    #[serde(skip)]
    pub op: Op,
    #[serde(skip)]
    pub kind: ValueType,
    pub command: &'static str,
    /// `contact`, `email` or `ip`: what the counts count.
    #[serde(rename = "type")]
    pub value_type: &'static str,
    pub run: String,
    /// `sandbox`, or the API base URL.
    pub target: String,
    pub outcome: String,
    pub exit_code: i32,
    /// Every row read: valid ones, rejected ones and those left to other shards.
    pub rows_read: u64,
    /// Valid rows read (duplicates and those skipped by `--resume` included).
    pub valid_rows: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Skipped by `--resume`: the ledger shows them done (blocked now; unblocked).
    pub already_blocked: u64,
    pub other_shards: u64,
    /// Values whose outcome a request settled (not those decided with no request: no
    /// record to delete, not listed).
    pub sent: u64,
    pub blocked: u64,
    /// Of `blocked`, those the server said were blocked already.
    pub blocked_already: u64,
    pub failed: u64,
    /// Refused by the server by name: `retry` skips them unless `--include-refused`.
    pub refused: u64,
    pub not_sent: u64,
    /// `unblock`: values whose block record was deleted.
    pub unblocked: u64,
    /// `unblock`: values with no block record, or whose record was already gone.
    pub not_blocked: u64,
    /// `unblock`: block records deleted (a record may hold several values).
    pub records_deleted: u64,
    /// `sync`: of `blocked`, the blocks renewed (they were about to end).
    pub renewed: u64,
    /// `sync`: listed values the account already blocks long enough (nothing sent).
    pub held: u64,
    /// `sync --prune`: values to unblock that the inputs no longer name (not rows read:
    /// outside `rows_read` and `valid_rows`, inside the sum of outcomes).
    pub to_prune: u64,
    /// Values not asked for that a deleted record also held, blocked again at once
    /// (outside the sums: they are not rows).
    pub reblocked: u64,
    /// Of those, the ones that could not be blocked again: left unblocked (exit 1).
    pub reblock_failed: u64,
    /// Requests that listed the block list (not in `requests`), and the records listed.
    pub list_requests: u64,
    pub records_listed: u64,
    /// Rows not read because the run stopped early.
    pub unread_rows: u64,
    /// Whether some unread input could not be counted (stdin, or too long to count).
    pub unread_uncounted: bool,
    pub inputs_broken: u64,
    pub batches_blocked: u64,
    pub batches_failed: u64,
    /// Requests sent (every attempt; not the list's).
    pub requests: u64,
    /// Attempts whose answer was worth another attempt, in all and by kind.
    pub retries: u64,
    pub retried_by_kind: BTreeMap<String, u64>,
    /// Answers that were 429.
    pub rate_limited: u64,
    /// Failed and refused values by kind of failure, most first (at most 5 kinds).
    pub failure_kinds: Vec<FailureCount>,
    /// The earliest and latest block-till of what was blocked.
    #[serde(with = "timestamp::option")]
    pub block_till_first: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option")]
    pub block_till_last: Option<DateTime<Utc>>,
    /// What the server admitted (requests/s) as the pool measured it, when it answered 429s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_admitted_per_second: Option<f64>,
    /// That estimate's own error, requests/s either way (one request in its count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_admitted_plus_minus: Option<f64>,
    /// 429 episodes: each one pause of the whole pool, however many requests it refused.
    pub rate_limit_episodes: u64,
    /// The limit the server advertised in its rate-limit headers, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_advertised: Option<AdvertisedSummary>,
    /// From the command's start to its end (listing included).
    pub seconds: f64,
    /// Values done (blocked, or unblocked) per second; failed ones are not throughput.
    pub values_per_second: f64,
    pub ledger: PathBuf,
    /// How the run stopped early, if it did: `aborted`, `interrupted`, `unreachable`,
    /// `max_wait`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<&'static str>,
    /// Why the run stopped early, or why it is not a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// The sum check: valid rows read = blocked + unblocked + not blocked + failed +
    /// refused + duplicates + skipped by --resume + held (sync) + not sent. False is a
    /// bug (exit 70).
    pub accounted: bool,
    /// Commands to run next, runnable as printed.
    pub next: Vec<String>,
}

/// The commands a summary may suggest, built by the command that ran (it knows its
/// flags): re-send failures, and pick up what was never sent.
#[derive(Clone, Debug, Default)]
pub struct NextCommands {
    /// What sends this run's failures again: `blockade retry LEDGER --type T <target
    /// flags>`, or for an unblock the same command with `--resume`.
    pub retry: String,
    /// `blockade retry LEDGER --type T <target flags>`: blocks a failed block again of
    /// values a deleted record also held.
    pub block_again: String,
    /// The same command again, with `--resume` where it has one.
    pub resume: String,
}

/// What a run did, as the summary needs it.
pub struct RunFacts<'a> {
    pub op: Op,
    pub value_type: ValueType,
    pub run: &'a str,
    pub target: &'a str,
    pub ledger: &'a Path,
    pub next: &'a NextCommands,
    /// Since the command started (listing included).
    pub elapsed: Duration,
}

impl Summary {
    pub fn new(facts: RunFacts<'_>, counters: &Counters, end: &RunEnd) -> Summary {
        let stop = end.pool.stop.as_ref();
        let get = Counters::get;
        let (blocked, failed, refused) = (
            get(&counters.ids_blocked),
            get(&counters.ids_failed),
            get(&counters.ids_refused),
        );
        let not_sent = get(&counters.not_sent);
        let inputs_broken = get(&counters.inputs_broken);
        let valid_rows = get(&counters.rows);
        let (duplicates, already_blocked) =
            (get(&counters.duplicates), get(&counters.already_blocked));
        let (unblocked, not_blocked) =
            (get(&counters.ids_unblocked), get(&counters.ids_not_blocked));
        let held = get(&counters.ids_held);
        let reblock_failed = get(&counters.reblock_failed);
        let to_prune = get(&counters.ids_to_prune);
        let settled = blocked + failed + refused + unblocked + not_blocked;
        let accounted =
            valid_rows + to_prune == settled + duplicates + already_blocked + held + not_sent;
        let (rejected, other_shards) = (get(&counters.rejected), get(&counters.other_shards));
        // Nothing valid at all (rows left to other shards are this shard's choice, not
        // a bad input).
        let no_valid_value =
            facts.op == Op::Block && valid_rows == 0 && other_shards == 0 && stop.is_none();
        let done = if facts.op.blocks() {
            blocked
        } else {
            unblocked
        };
        let status = if !accounted {
            ExitStatus::Internal
        } else if no_valid_value {
            ExitStatus::Usage
        } else {
            exit_status(
                stop,
                failed + refused + reblock_failed,
                not_sent,
                inputs_broken,
            )
        };
        let seconds = facts.elapsed.as_secs_f64();
        let stopped_by = stop.map(Stop::name);
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
            None if no_valid_value => Some(format!(
                "no valid {} in the inputs ({} rejected): nothing was sent; check the file, --type, --id-field and --format (--no-header for a plain list)",
                facts.value_type.noun(),
                plural(rejected, "row")
            )),
            None => None,
        };
        let retried = end.pool_counters.retried();
        let till = counters.block_till_range();
        let mut summary = Summary {
            op: facts.op,
            kind: facts.value_type,
            command: facts.op.command(),
            value_type: facts.value_type.as_str(),
            run: facts.run.to_owned(),
            target: facts.target.to_owned(),
            outcome: outcome_word(facts.op, facts.value_type, status),
            exit_code: status.code(),
            rows_read: valid_rows + rejected + other_shards,
            valid_rows,
            rejected,
            duplicates,
            already_blocked,
            other_shards,
            sent: settled.saturating_sub(get(&counters.ids_unsent)),
            blocked,
            blocked_already: get(&counters.ids_already),
            failed,
            refused,
            not_sent,
            unblocked,
            not_blocked,
            records_deleted: get(&counters.records_deleted),
            renewed: get(&counters.ids_renewed),
            held,
            to_prune,
            reblocked: get(&counters.ids_reblocked),
            reblock_failed,
            list_requests: get(&counters.list_requests),
            records_listed: get(&counters.records_listed),
            unread_rows: get(&counters.unread),
            unread_uncounted: get(&counters.unread_uncounted) > 0,
            inputs_broken,
            batches_blocked: get(&counters.batches_blocked),
            batches_failed: get(&counters.batches_failed),
            requests: get(&end.pool_counters.requests),
            retries: retried.iter().map(|(_, n)| n).sum(),
            retried_by_kind: retried.into_iter().collect(),
            rate_limited: get(&end.pool_counters.rate_limited),
            failure_kinds: counters
                .failures()
                .into_iter()
                .take(FAILURE_KINDS_SHOWN)
                .collect(),
            block_till_first: till.map(|(first, _)| first),
            block_till_last: till.map(|(_, last)| last),
            server_admitted_per_second: end.pool.admitted_per_second,
            server_admitted_plus_minus: end.pool.estimate.map(|estimate| estimate.plus_minus),
            rate_limit_episodes: end.pool.estimate.map_or(0, |estimate| estimate.episodes),
            server_advertised: end.pool.advertised.map(AdvertisedSummary::from),
            seconds,
            values_per_second: if seconds > 0.0 {
                done as f64 / seconds
            } else {
                0.0
            },
            ledger: facts.ledger.to_owned(),
            stopped_by,
            stop_reason,
            accounted,
            next: Vec::new(),
        };
        summary.next = summary.next_commands(facts.next);
        summary
    }

    /// What one counted value is called: an ID, an email, an IP address; a contact when
    /// it is unblocked.
    fn noun(&self) -> &'static str {
        if self.op.blocks() {
            self.kind.noun()
        } else {
            self.kind.thing()
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::from_code(self.exit_code)
    }

    /// What to run next: `retry` for failures, the same command with `--resume` for what
    /// was never sent (or never read).
    fn next_commands(&self, next: &NextCommands) -> Vec<String> {
        let mut out = Vec::new();
        if matches!(
            self.exit_status(),
            ExitStatus::Internal | ExitStatus::Usage | ExitStatus::Aborted
        ) {
            // After a refused key or account, the same command fails the same way: the
            // summary says what to check instead.
            return out;
        }
        if self.failed > 0 {
            out.push(next.retry.clone());
        }
        if self.reblock_failed > 0 && !out.contains(&next.block_again) {
            out.push(next.block_again.clone());
        }
        let left = self.not_sent > 0 || self.unread_rows > 0 || self.unread_uncounted;
        // A sync is picked up by the same command: said once, for failures or the rest.
        let again = self.op == Op::Sync && self.failed == 0;
        if left && (next.resume != next.retry || again) {
            out.push(next.resume.clone());
        }
        out
    }

    /// The text summary, for stdout: every figure is one of the JSON's.
    pub fn render(&self) -> String {
        let n = group_digits;
        let noun = self.noun();
        let mut out = format!("blockade {}: {}\n", self.command, self.outcome);
        let mut read = format!(
            "  read      {}: {} valid, {} rejected, {} duplicates",
            plural(self.rows_read, "row"),
            n(self.valid_rows),
            n(self.rejected),
            n(self.duplicates),
        );
        // A sync has no --resume: it plans from the account each time.
        if self.op.resumes() {
            read += &format!(
                ", {} {} per the ledger (--resume)",
                n(self.already_blocked),
                if self.op.blocks() {
                    "already blocked"
                } else {
                    "already unblocked"
                },
            );
        }
        if self.other_shards > 0 {
            read += &format!(", {} left to the other shards", n(self.other_shards));
        }
        out += &read;
        out += "\n";
        if self.list_requests > 0 {
            out += &format!(
                "  listed    {} in {}\n",
                plural(self.records_listed, "block record"),
                plural(self.list_requests, "request")
            );
        }
        if self.op == Op::Sync {
            out += &format!(
                "  held      {} blocked long enough (nothing sent)\n",
                plural(self.held, noun)
            );
        }
        let requests = plural(self.requests, "request");
        out += &format!(
            "  sent      {} in {requests}{}\n",
            plural(self.sent, noun),
            self.retries_text()
        );
        if self.op == Op::Sync {
            out += &format!(
                "  blocked   {} ({} new, {} renewed){}\n",
                plural(self.blocked, noun),
                n(self.blocked - self.renewed),
                n(self.renewed),
                self.till_text()
            );
            if self.to_prune > 0 {
                out += &format!(
                    "  pruned    {} of {} the list no longer names ({} found not blocked)\n",
                    n(self.unblocked),
                    plural(self.to_prune, noun),
                    n(self.not_blocked)
                );
            }
        } else if self.op.blocks() {
            out += &format!(
                "  blocked   {} ({}){}\n",
                plural(self.blocked, noun),
                plural(self.batches_blocked, "batch"),
                self.till_text()
            );
            if self.blocked_already > 0 {
                out += &format!(
                    "            of which {} already blocked at the server\n",
                    n(self.blocked_already)
                );
            }
        } else {
            out += &format!(
                "  unblocked {} ({} deleted)\n  not blocked {} (no block record, or it was gone already)\n",
                plural(self.unblocked, noun),
                plural(self.records_deleted, "block record"),
                plural(self.not_blocked, noun),
            );
        }
        if self.reblocked > 0 {
            out += &format!(
                "  re-blocked {} not asked for that deleted records also held, each until its record's blockTill\n",
                plural(self.reblocked, noun)
            );
        }
        if self.reblock_failed > 0 {
            out += &format!(
                "  LEFT UNBLOCKED {} not asked for that deleted records also held: blocking them again failed (see the ledger's failed lines)\n",
                plural(self.reblock_failed, noun)
            );
        }
        out += &format!("  failed    {}", plural(self.failed, noun));
        if self.op.blocks() {
            out += &format!(" ({})", plural(self.batches_failed, "batch"));
        }
        out += &self.failure_text();
        out += "\n";
        if self.refused > 0 {
            out += &format!(
                "  refused   {} (the server refused each by name; retry skips them unless --include-refused)\n",
                plural(self.refused, noun)
            );
        }
        if self.not_sent > 0 {
            out += &format!(
                "  not sent  {} read but not sent (stopped early)\n",
                plural(self.not_sent, noun)
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
            let what = if self.stopped_by == Some("max_wait") {
                "the server asked to wait longer than --max-wait: the run stopped"
            } else {
                "the pool waited and slowed down"
            };
            out += &format!("  429s      {} ({what})\n", n(self.rate_limited));
        }
        if let Some(admitted) = self.server_admitted_per_second {
            let plus_minus = self.server_admitted_plus_minus.unwrap_or(0.0);
            out += &format!(
                "  limit     {} ({})\n",
                crate::send::gate::limit_hint(admitted, plus_minus),
                plural(self.rate_limit_episodes, "429 episode")
            );
        }
        if let Some(advertised) = &self.server_advertised {
            out += &format!("  limit     {advertised}\n");
        }
        out += &format!(
            "  time      {:.1}s ({} {}/s {})\n  ledger    {} (run {}, target {})\n",
            self.seconds,
            per_second_text(self.values_per_second),
            many(noun),
            if self.op.blocks() {
                "blocked"
            } else {
                "unblocked"
            },
            self.ledger.display(),
            self.run,
            self.target,
        );
        if let Some(reason) = &self.stop_reason {
            out += &format!("  stopped   {reason}\n");
        }
        if !self.accounted {
            let sum =
                self.sent + self.duplicates + self.already_blocked + self.held + self.not_sent;
            out += &format!(
                "  BUG       the counts do not add up: {} valid rows read, but {} blocked + {} unblocked + {} not blocked + {} failed + {} refused + {} duplicates + {} skipped by --resume + {} held + {} not sent = {sum}. Please report this with the ledger.\n",
                self.valid_rows,
                self.blocked,
                self.unblocked,
                self.not_blocked,
                self.failed,
                self.refused,
                self.duplicates,
                self.already_blocked,
                self.held,
                self.not_sent,
            );
        }
        for command in &self.next {
            out += &format!("Next: {command}\n");
        }
        out
    }

    /// ` (9 retries: 6 http 503, 3 connection reset)`, or nothing.
    fn retries_text(&self) -> String {
        if self.retries == 0 {
            return String::new();
        }
        let mut kinds: Vec<(&String, &u64)> = self.retried_by_kind.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let kinds: Vec<String> = kinds
            .iter()
            .map(|(k, n)| format!("{} {k}", group_digits(**n)))
            .collect();
        format!(" ({}: {})", plural(self.retries, "retry"), kinds.join(", "))
    }

    /// `, until 2027-01-03T23:35:27.831Z` (or a range), or nothing.
    fn till_text(&self) -> String {
        match (self.block_till_first, self.block_till_last) {
            (Some(first), Some(last)) if first == last => {
                format!(", until {}", timestamp::format(&first))
            }
            (Some(first), Some(last)) => format!(
                ", until {} to {}",
                timestamp::format(&first),
                timestamp::format(&last)
            ),
            _ => String::new(),
        }
    }

    /// `: 400 dns ("connection failed: ..."), 200 timeout`, or nothing.
    fn failure_text(&self) -> String {
        if self.failure_kinds.is_empty() {
            return String::new();
        }
        let kinds: Vec<String> = self
            .failure_kinds
            .iter()
            .enumerate()
            .map(|(i, failure)| {
                let example = if i == 0 && !failure.example.is_empty() {
                    format!(
                        " ({:?})",
                        crate::values::text::clip_str(&failure.example, 120)
                    )
                } else {
                    String::new()
                };
                format!("{} {}{example}", group_digits(failure.values), failure.kind)
            })
            .collect();
        format!(": {}", kinds.join(", "))
    }
}

/// A rate as the summary writes it: whole numbers, grouped; under 10 a second, one
/// decimal, so that a slow run does not read "0 IDs/s".
fn per_second_text(rate: f64) -> String {
    if rate > 0.0 && rate < 9.95 {
        format!("{rate:.1}")
    } else {
        group_digits(rate.round() as u64)
    }
}

/// The summary's first words.
fn outcome_word(op: Op, value_type: ValueType, status: ExitStatus) -> String {
    if op == Op::Sync && status == ExitStatus::Success {
        return format!(
            "done, the account blocks every {} listed long enough",
            value_type.noun()
        );
    }
    match (op.blocks(), status) {
        (true, ExitStatus::Success) => format!("done, every valid {} blocked", value_type.noun()),
        (false, ExitStatus::Success) => format!(
            "done, every valid {} unblocked (or found not blocked)",
            value_type.thing()
        ),
        (_, ExitStatus::Failed) => format!(
            "not done: some {} failed or were not sent",
            many(value_type.noun())
        ),
        (_, status) => status.word().to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_rate_keeps_a_decimal_and_a_fast_one_is_grouped() {
        assert_eq!(per_second_text(0.0), "0");
        assert_eq!(per_second_text(0.38), "0.4");
        assert_eq!(per_second_text(9.94), "9.9");
        assert_eq!(per_second_text(9.96), "10");
        assert_eq!(per_second_text(17_759.4), "17,759");
    }

    fn summary_of(counters: &Counters, stop: Option<Stop>) -> Summary {
        let end = RunEnd {
            pool: crate::send::pool::PoolEnd {
                stop,
                ..Default::default()
            },
            pool_counters: Default::default(),
        };
        let next = NextCommands {
            retry: "blockade retry r.jsonl --type contact --sandbox".into(),
            block_again: "blockade retry r.jsonl --type contact --sandbox".into(),
            resume: "blockade block in.csv --sandbox --resume".into(),
        };
        let facts = RunFacts {
            op: Op::Block,
            value_type: ValueType::Contact,
            run: "r1",
            target: "sandbox",
            ledger: Path::new("r.jsonl"),
            next: &next,
            elapsed: Duration::from_secs(1),
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
                "blockade retry r.jsonl --type contact --sandbox",
                "blockade block in.csv --sandbox --resume"
            ]
        );
    }

    #[test]
    fn a_refused_key_suggests_nothing_to_run_again() {
        let counters = Counters::default();
        Counters::add(&counters.rows, 10);
        Counters::add(&counters.ids_failed, 10);
        let summary = summary_of(
            &counters,
            Some(Stop::Aborted("HTTP 401: check the key".into())),
        );
        assert_eq!(summary.exit_status(), ExitStatus::Aborted);
        assert!(summary.next.is_empty(), "{:?}", summary.next);
        assert!(summary.render().contains("check the key"));
    }

    #[test]
    fn rows_read_count_every_row_and_failures_say_why() {
        let counters = Counters::default();
        Counters::add(&counters.rows, 10);
        Counters::add(&counters.rejected, 2);
        Counters::add(&counters.duplicates, 1);
        Counters::add(&counters.ids_blocked, 6);
        Counters::add(&counters.ids_failed, 3);
        counters.note_failure("dns".into(), 3, Some("dns error: no such host"));
        let summary = summary_of(&counters, None);
        assert_eq!((summary.rows_read, summary.valid_rows), (12, 10));
        let text = summary.render();
        assert!(
            text.contains("read      12 rows: 10 valid, 2 rejected"),
            "{text}"
        );
        assert!(
            text.contains("failed    3 IDs (0 batches): 3 dns (\"dns error"),
            "{text}"
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
