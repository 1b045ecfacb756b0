//! A dry run's plan of a block: what a real run would send, learnt by reading, deduping
//! and chunking exactly as the real run does, with a sink that counts instead of sending.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::exit::ExitStatus;
use crate::input::Reject;
use crate::send::counters::Counters;
use crate::send::pipeline::Sink;
use crate::send::rate::Rate;
use crate::values::count::{group_digits, plural};
use crate::values::{Batch, Kind};

/// Rejected rows a plan shows.
const REJECTS_SHOWN: usize = 10;

/// What a dry run learns without sending.
#[derive(Default)]
pub struct Plan {
    batches: u64,
    values: u64,
    by_block_till: BTreeMap<DateTime<Utc>, (u64, u64)>,
    rejects: Vec<Reject>,
    reject_count: u64,
}

impl<K: Kind> Sink<Batch<K>> for Plan {
    fn batch(&mut self, batch: Batch<K>) -> bool {
        let size = batch.values.len() as u64;
        self.batches += 1;
        self.values += size;
        let group = self.by_block_till.entry(batch.block_till).or_default();
        group.0 += 1;
        group.1 += size;
        true
    }

    fn reject(&mut self, reject: Reject) {
        self.reject_count += 1;
        if self.rejects.len() < REJECTS_SHOWN {
            self.rejects.push(reject);
        }
    }

    fn stopping(&self) -> bool {
        false
    }
}

/// What the plan's header says of the run.
pub struct PlanHeader<'a> {
    /// What was checked of the target, and how.
    pub target: &'a str,
    pub ledger: &'a std::path::Path,
    pub noun: &'static str,
    pub batch_size: usize,
    pub rate: &'a Rate,
}

impl Plan {
    /// The plan, and the status the real run would end with where the dry run can tell
    /// (a broken input, or no valid value at all, is an input error: exit 2).
    pub fn render(&self, header: &PlanHeader<'_>, counters: &Counters) -> (String, ExitStatus) {
        let n = group_digits;
        let noun = header.noun;
        let mut out = format!(
            "Plan (dry run: nothing sent, no ledger written)\n  target    {}\n  ledger    {}\n  rows      {} valid, {} rejected, {} duplicates, {} already blocked per the ledger (--resume)\n  send      {} in {} of up to {}\n",
            header.target,
            header.ledger.display(),
            n(Counters::get(&counters.rows)),
            n(self.reject_count),
            n(Counters::get(&counters.duplicates)),
            n(Counters::get(&counters.already_blocked)),
            plural(self.values, noun),
            plural(self.batches, "batch"),
            header.batch_size,
        );
        for (till, (batches, values)) in &self.by_block_till {
            out += &format!(
                "  until     {}  {} in {}\n",
                till.to_rfc3339_opts(SecondsFormat::Millis, true),
                plural(*values, noun),
                plural(*batches, "batch")
            );
        }
        let seconds = self.batches as f64 / header.rate.per_second();
        out += &format!(
            "  time      about {} at {} (at least; retries add to it)\n",
            humantime::format_duration(Duration::from_secs(seconds.ceil() as u64)),
            header.rate
        );
        if !self.rejects.is_empty() {
            out += &format!("  rejected rows (first {REJECTS_SHOWN}):\n");
            for reject in &self.rejects {
                out += &format!(
                    "    {}  {}  {:?}\n",
                    reject.origin, reject.reason, reject.input
                );
            }
        }
        let broken = Counters::get(&counters.inputs_broken);
        if broken > 0 {
            out += &format!(
                "  broken    {broken} input(s) could not be read to the end (see the rejected rows): fix them before the real run\n"
            );
        }
        let nothing = Counters::get(&counters.rows) == 0;
        if nothing {
            out +=
                &format!("  nothing   no valid {noun} in the inputs: the real run would exit 2\n");
        }
        let status = if broken > 0 || nothing {
            ExitStatus::Usage
        } else {
            ExitStatus::Success
        };
        (out, status)
    }
}
