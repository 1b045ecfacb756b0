//! A small adapter from ledger lines (as `serde_json::Value`) to a [`Timeline`], for the
//! tests and the demo page. The command's own adapter reads the ledger's record types;
//! this one reads the JSON shapes of README "The ledger", including the two lines about
//! no value (`since` on a stop line is read when present; blockade does not write it):
//!
//! ```json
//! {"run":"…","status":"rate_limited","started_at":"…","wait_ms":15000,"until":"…","admitted_per_s":9.7,"pace_per_s":9.4,"answers":3}
//! {"run":"…","status":"stopped","reason":"breaker","at":"…","since":"…","until":null,"detail":"connection refused"}
//! ```

use chrono::DateTime;
use serde_json::Value;

use super::{Episode, Event, Outcome, RunInfo, Stop, StopReason, SummaryRow, Timeline};
use crate::api::failure_kind;

fn ms(value: &Value) -> Option<i64> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn text(line: &Value, key: &str) -> String {
    line[key].as_str().unwrap_or_default().to_owned()
}

/// Every line of every ledger (`(ledger name, line)`), in any order. The summary rows
/// are the ones this adapter can count (values by outcome, rejected rows); the
/// command's adapter gives the report's.
pub(super) fn timeline<'a>(
    title: &str,
    lines: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Timeline {
    let mut timeline = Timeline::new(title);
    let mut rejected = 0u64;
    let mut values = [0u64; 6];
    for (ledger, line) in lines {
        let status = line["status"].as_str().unwrap_or_default();
        let run = line["run"].as_str().unwrap_or_default();
        match status {
            "run" => timeline.runs.push(RunInfo {
                id: run.to_owned(),
                command: text(line, "command"),
                target: text(line, "target"),
                value_type: line["type"].as_str().unwrap_or("contact").to_owned(),
                started_at_ms: ms(&line["started_at"]),
                ledger: ledger.to_owned(),
            }),
            "rejected" => rejected += 1,
            "rate_limited" => timeline.episodes.push(Episode {
                run: run.to_owned(),
                started_at_ms: ms(&line["started_at"]).unwrap_or_default(),
                wait_ms: line["wait_ms"].as_u64().unwrap_or_default(),
                admitted_per_s: line["admitted_per_s"].as_f64(),
                pace_per_s: line["pace_per_s"].as_f64(),
                answers: line["answers"].as_u64(),
            }),
            "stopped" => {
                let reason = StopReason::from_ledger(line["reason"].as_str().unwrap_or_default());
                timeline.stops.push(Stop {
                    run: run.to_owned(),
                    reason,
                    at_ms: ms(&line["at"]).unwrap_or_default(),
                    since_ms: ms(&line["since"]),
                    until_ms: ms(&line["until"]),
                    detail: text(line, "detail"),
                });
            }
            status => {
                let Some(outcome) = Outcome::from_status(status) else {
                    continue;
                };
                let (Some(started), Some(finished)) =
                    (ms(&line["started_at"]), ms(&line["finished_at"]))
                else {
                    continue;
                };
                let http_status = line["http_status"].as_u64().map(|s| s as u16);
                let error = line["error"].as_str();
                let kind = (!outcome.is_success()).then(|| match line["kind"].as_str() {
                    Some(kind) => kind.to_owned(),
                    None => failure_kind(http_status, error),
                });
                let event = Event {
                    run,
                    started_at_ms: started,
                    finished_at_ms: finished,
                    ms: line["ms"].as_u64().unwrap_or_default(),
                    outcome,
                    values: line["ids"].as_array().map_or(0, |ids| ids.len() as u64),
                    attempts: line["attempts"].as_u64().unwrap_or(1) as u32,
                    kind: kind.as_deref(),
                    error,
                };
                values[outcome.index()] += event.values;
                timeline.push(&event);
            }
        }
    }
    for outcome in Outcome::ALL {
        let n = values[outcome.index()];
        if n > 0 {
            timeline.summary.push(SummaryRow::new(
                format!("values {} (lines)", outcome.as_str()),
                crate::values::count::group_digits(n),
            ));
        }
    }
    timeline.summary.push(SummaryRow::new(
        "rows rejected",
        crate::values::count::group_digits(rejected),
    ));
    timeline
}
