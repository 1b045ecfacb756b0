//! What a command learns from a ledger before it sends: the values blocked now (for
//! `--resume`), the latest state per value of a kind, and which kinds of value a ledger's
//! lines (of a run) hold. Every read keeps to the command's own target's lines.

use std::path::Path;

use anyhow::bail;
use chrono::{DateTime, Utc};

use crate::ledger::{
    Latest, LedgerError, LedgerReadStats, OutcomeRecord, Record, TargetFilter, read_records,
};
use crate::values::count::group_digits;
use crate::values::dedupe::Dedupe;
use crate::values::sets::SeenSet;
use crate::values::{Kind, ValueType};

/// The latest state of each value of `kind` in this target's lines of `ledger`, with the
/// filter that read them (it knows what other targets' lines it skipped).
pub fn latest<K: Kind>(
    ledger: &Path,
    target: &str,
    kind: K,
) -> Result<(Latest<K>, TargetFilter, LedgerReadStats), LedgerError> {
    let mut filter = TargetFilter::new(target);
    let (latest, stats) = Latest::load(ledger, &mut filter, kind)?;
    filter.warn_skipped(ledger);
    if stats.bad_line_count > 0 {
        tracing::warn!(
            ledger = %ledger.display(),
            unreadable_lines = stats.bad_line_count,
            "Some ledger lines could not be read and were skipped"
        );
    }
    Ok((latest, filter, stats))
}

/// `--resume`: a dedupe that skips the values this target's lines show blocked at `now`
/// (a block whose block-till has passed is blocked again). A ledger that does not exist
/// yet skips nothing.
pub fn resume_from<K: Kind>(
    ledger: &Path,
    target: &str,
    kind: K,
    now: DateTime<Utc>,
) -> anyhow::Result<Dedupe<K>> {
    if !ledger.exists() {
        return Ok(Dedupe::new());
    }
    let (latest, _, _) = latest(ledger, target, kind)?;
    let blocked = latest.blocked_at(now);
    let expired = latest.counts(now).expired;
    tracing::info!(
        already_blocked = blocked.count(),
        expired,
        "Resuming: values the ledger shows blocked now are skipped; expired blocks are sent again"
    );
    Ok(Dedupe::resuming(blocked))
}

/// The types of value `run` (or every run) blocked in this target's lines of `ledger`,
/// with how many values of each: what an unblock of it must undo, or what a retry finds.
pub fn types_in(
    ledger: &Path,
    run: Option<&str>,
    target: &str,
    keep: impl Fn(&OutcomeRecord) -> bool,
) -> anyhow::Result<Vec<(ValueType, u64)>> {
    let mut filter = TargetFilter::new(target);
    let mut counts = [0u64; ValueType::ALL.len()];
    read_records(ledger, |_, record| {
        if !filter.admits(&record) {
            return;
        }
        if let Record::Outcome(line) = &record
            && keep(line)
            && run.is_none_or(|run| run == line.run)
        {
            let slot = ValueType::ALL
                .iter()
                .position(|t| *t == line.value_type)
                .unwrap_or_default();
            counts[slot] += line.ids.len() as u64;
        }
    })?;
    Ok(ValueType::ALL
        .into_iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .collect())
}

/// The one type among `present`, or an error that names them and asks for `--type`.
pub fn one_type(present: &[(ValueType, u64)], what: &str) -> anyhow::Result<Option<ValueType>> {
    match present {
        [] => Ok(None),
        [(value_type, _)] => Ok(Some(*value_type)),
        several => {
            let kinds: Vec<String> = several
                .iter()
                .map(|(t, n)| format!("{} {t}", group_digits(*n)))
                .collect();
            bail!(
                "{what} more than one type ({}); take one type at a time: give --type contact, --type email or --type ip",
                kinds.join(", ")
            )
        }
    }
}

/// After reading a ledger to act on: refuses a `--run` the ledger does not hold for this
/// target, and a ledger that holds lines of other targets but none of this one (the wrong
/// target, or the wrong ledger).
pub fn check_ledger_read(
    ledger: &Path,
    filter: &TargetFilter,
    run: Option<&str>,
    run_seen: bool,
) -> anyhow::Result<()> {
    if let Some(run) = run
        && !run_seen
    {
        bail!(
            "{} has no run {run} against {}: see its run lines (\"status\":\"run\") for the run ids",
            ledger.display(),
            filter.target()
        );
    }
    Ok(())
}

/// A ledger with lines of other targets and none of this one: the command points at the
/// wrong target (or the wrong ledger). Nothing to retry would be a lie.
pub fn refuse_other_targets(ledger: &Path, target: &str) -> anyhow::Result<()> {
    let mut filter = TargetFilter::new(target);
    read_records(ledger, |_, record| {
        filter.admits(&record);
    })?;
    if filter.only_others() {
        bail!(
            "{} holds no line of runs against {target}, only of: {}; give the target those runs used (--sandbox, --account or --base-url)",
            ledger.display(),
            filter.skipped_list()
        );
    }
    Ok(())
}
