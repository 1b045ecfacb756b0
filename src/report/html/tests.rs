//! The picture's data against its input, the page's self-containment, its size bound,
//! and (ignored) the demo page and the measurements behind ARCHITECTURE.md.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::windows::WINDOWS_MAX;
use super::*;

/// 2026-11-24T02:00:00Z.
const T0: i64 = 1_795_485_600_000;

fn event(run: &str, finished_at_ms: i64, ms: u64, outcome: Outcome, values: u64) -> Event<'_> {
    Event {
        run,
        started_at_ms: finished_at_ms - ms as i64,
        finished_at_ms,
        ms,
        outcome,
        values,
        attempts: 1,
        kind: (!outcome.is_success()).then_some("http 503"),
        error: (!outcome.is_success()).then_some("server error"),
    }
}

/// The JSON the page embeds, parsed back.
fn embedded(html: &str) -> Value {
    let open = r#"<script type="application/json" id="blockade-series">"#;
    let start = html.find(open).expect("the series are embedded") + open.len();
    let end = start + html[start..].find("</script>").expect("closed");
    serde_json::from_str(&html[start..end]).expect("valid JSON")
}

fn numbers(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_u64().unwrap_or(0))
        .collect()
}

#[test]
fn values_and_requests_per_window_sum_to_the_input() {
    let mut timeline = Timeline::new("sums");
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut attempts = 0;
    let outcomes = [
        Outcome::Blocked,
        Outcome::Blocked,
        Outcome::Failed,
        Outcome::Refused,
        Outcome::Unblocked,
        Outcome::NotBlocked,
        Outcome::Renewed,
    ];
    for i in 0..5_000u64 {
        let outcome = outcomes[(i % 7) as usize];
        let mut e = event(
            "r1",
            T0 + (i * 37) as i64,
            100 + i % 50,
            outcome,
            1 + i % 100,
        );
        e.attempts = 1 + (i % 3) as u32;
        attempts += u64::from(e.attempts);
        *expected.entry(outcome.as_str()).or_default() += e.values;
        timeline.push(&e);
    }
    let data = embedded(&render(&timeline));
    let series = &data["series"];
    let windows = series["windows"].as_u64().unwrap() as usize;
    for (outcome, total) in &expected {
        let per_window = numbers(&series["values"][outcome]);
        assert_eq!(per_window.len(), windows);
        assert_eq!(per_window.iter().sum::<u64>(), *total, "{outcome}");
    }
    let requests: u64 = numbers(&series["requests_ok"]).iter().sum::<u64>()
        + numbers(&series["requests_failed"]).iter().sum::<u64>();
    assert_eq!(requests, attempts);
    assert_eq!(numbers(&series["lines"]).iter().sum::<u64>(), 5_000);
    let done = numbers(&series["done"]);
    assert_eq!(*done.last().unwrap(), expected.values().sum::<u64>());
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "cumulative");
    let ok: u64 = ["blocked", "unblocked", "not_blocked", "renewed"]
        .iter()
        .map(|o| expected[o])
        .sum();
    assert_eq!(*numbers(&series["succeeded"]).last().unwrap(), ok);
    // Each event sits in the window of its finish.
    let start = series["start_ms"].as_i64().unwrap();
    let width = series["window_ms"].as_i64().unwrap();
    assert_eq!(start, T0.div_euclid(width) * width);
}

#[test]
fn percentiles_are_those_of_each_window() {
    let mut timeline = Timeline::new("percentiles");
    // Window 0: 1..=100 ms, in a shuffled order. Window 5: 1..=1000 ms. Window 9: one line.
    let mut rng = StdRng::seed_from_u64(7);
    let mut first: Vec<u64> = (1..=100).collect();
    for i in (1..first.len()).rev() {
        first.swap(i, rng.random_range(0..=i));
    }
    for ms in first {
        timeline.push(&event("r", T0 + 10, ms, Outcome::Blocked, 1));
    }
    for ms in 1..=1000 {
        timeline.push(&event("r", T0 + 5_000 + 500, ms, Outcome::Blocked, 1));
    }
    timeline.push(&event("r", T0 + 9_000, 143, Outcome::Blocked, 1));
    let series = timeline.series();
    assert_eq!(series.window_ms, 1_000);
    assert_eq!(series.windows, 10);
    assert_eq!(
        (series.p50[0], series.p95[0], series.p99[0]),
        (Some(50), Some(95), Some(99))
    );
    let close = |got: Option<u64>, want: f64| {
        let got = got.unwrap() as f64;
        assert!((got - want).abs() <= want * 0.01, "{got} vs {want}");
    };
    close(series.p50[5], 500.0);
    close(series.p95[5], 950.0);
    close(series.p99[5], 990.0);
    assert_eq!(series.p50[9], Some(143));
    assert_eq!(series.p99[9], Some(143));
    // Windows without a line have no percentile (a gap, not a zero).
    assert_eq!(series.p50[3], None);
    // Lines without a request count values but no latency.
    let mut e = event("r", T0 + 3_000, 0, Outcome::NotBlocked, 4);
    e.attempts = 0;
    timeline.push(&e);
    let series = timeline.series();
    assert_eq!(series.p50[3], None);
    assert_eq!(series.values["not_blocked"][3], 4);
}

#[test]
fn windows_widen_by_merging_and_the_order_of_events_does_not_matter() {
    // Three hours at one line a second: 1 s windows would be 10,800.
    let events: Vec<(i64, u64)> = (0..10_800)
        .map(|s| (T0 + s * 1000 + 500, 50 + (s as u64 * 7919) % 200))
        .collect();
    let mut forward = Timeline::new("f");
    for &(at, ms) in &events {
        forward.push(&event("r", at, ms, Outcome::Blocked, 100));
    }
    let mut backward = Timeline::new("b");
    for &(at, ms) in events.iter().rev() {
        backward.push(&event("r", at, ms, Outcome::Blocked, 100));
    }
    let series = forward.series();
    assert_eq!(series, backward.series());
    assert!(series.windows <= WINDOWS_MAX);
    assert_eq!(series.window_ms, 30_000);
    assert_eq!(series.windows, 360);
    assert!(series.values["blocked"].iter().all(|&v| v == 3_000));
    // The percentiles of a merged window are those of its 30 lines, computed directly
    // (exact: below 256 ms the histogram has 1 ms buckets).
    let mut first: Vec<u64> = events[..30].iter().map(|&(_, ms)| ms).collect();
    first.sort_unstable();
    let rank = |q: f64| first[((q * 30.0).ceil() as usize).max(1) - 1];
    assert_eq!(series.p50[0], Some(rank(0.5)));
    assert_eq!(series.p95[0], Some(rank(0.95)));
    assert_eq!(series.p99[0], Some(rank(0.99)));
}

#[test]
fn episodes_and_stops_are_drawn_where_they_happened() {
    let mut timeline = Timeline::new("episodes");
    for s in 0..120 {
        timeline.push(&event("r", T0 + s * 1000, 120, Outcome::Blocked, 100));
    }
    timeline.episodes.push(Episode {
        run: "r".into(),
        started_at_ms: T0 + 30_000,
        wait_ms: 15_000,
        admitted_per_s: Some(8.6),
        pace_per_s: Some(8.3),
        answers: Some(3),
    });
    timeline.stops.push(Stop {
        run: "r".into(),
        reason: StopReason::MaxWait,
        at_ms: T0 + 110_000,
        since_ms: None,
        until_ms: Some(T0 + 7_200_000),
        detail: "429 asked to wait 2 h".into(),
    });
    let html = render(&timeline);
    let data = embedded(&html);
    assert_eq!(data["episodes"][0]["started_at_ms"], json!(T0 + 30_000));
    assert_eq!(data["episodes"][0]["wait_ms"], json!(15_000));
    assert_eq!(data["stops"][0]["reason"], json!("max_wait"));
    // The axis: 120 windows of 1 s from T0. The episode's band spans 30 s to 45 s, the
    // stop's hatching 110 s to the axis' end (its `until` is cut there).
    let series = timeline.series();
    let axis = svg::Axis::new(&series);
    let band = format!(
        r#"<rect x="{:.1}" y="8" width="{:.1}" height="200" fill="{}""#,
        axis_x(&axis, T0 + 30_000),
        axis_x(&axis, T0 + 45_000) - axis_x(&axis, T0 + 30_000),
        svg::EPISODE_FILL
    );
    assert!(html.contains(&band), "episode band {band}");
    let hatch = format!(
        r#"<rect x="{:.1}" y="8" width="{:.1}" height="200" fill="url(#stop-hatch)"/>"#,
        axis_x(&axis, T0 + 110_000),
        axis_x(&axis, series.end_ms()) - axis_x(&axis, T0 + 110_000)
    );
    assert!(html.contains(&hatch), "stop hatching {hatch}");
    assert!(html.contains("429: wait 15 s, admitted 8.60/s, 3 429s"));
    assert!(html.contains("stop: --max-wait"));
}

fn axis_x(axis: &svg::Axis, at: i64) -> f64 {
    // Rounded as the page writes it.
    (axis.x(at) * 10.0).round() / 10.0
}

/// Everything in `html` that would make a browser fetch something: attributes that load
/// (`src`, `href`, ... unless `#fragment`), `url(` other than `url(#`, `@import`, and
/// elements that load or navigate.
fn outside_references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    for word in [
        "@import",
        "<link",
        "<base",
        "<iframe",
        "<img",
        "<object",
        "<embed",
        "<audio",
        "<video",
        "http-equiv",
    ] {
        if lower.contains(word) {
            found.push(word.to_owned());
        }
    }
    for (at, _) in lower.match_indices("url(") {
        let rest = lower[at + 4..].trim_start_matches(['\'', '"', ' ']);
        if !rest.starts_with('#') {
            found.push(lower[at..(at + 40).min(lower.len())].to_owned());
        }
    }
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..at + lower[at..].find('>').unwrap_or(0)];
        if !tag.contains(r#"type="application/json""#) || tag.contains("src") {
            found.push(tag.to_owned());
        }
    }
    // Attributes inside tags.
    let mut rest = lower.as_str();
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c);
        let tag = &rest[open..close];
        for name in [
            "src",
            "href",
            "srcset",
            "action",
            "formaction",
            "poster",
            "background",
            "data",
            "ping",
        ] {
            for pattern in [
                format!(" {name}=\""),
                format!(" {name}='"),
                format!(":{name}=\""),
            ] {
                if let Some(at) = tag.find(&pattern) {
                    let value = &tag[at + pattern.len()..];
                    if !value.starts_with('#') {
                        found.push(tag.to_owned());
                    }
                }
            }
        }
        rest = &rest[close..];
        // Skip the inert JSON: it is data, not markup.
        if tag.starts_with("<script") {
            rest = &rest[rest.find("</script>").unwrap_or(0)..];
        }
    }
    found
}

#[test]
fn the_page_references_nothing_outside_itself() {
    let lines = demo_ledgers();
    let timeline = ledger_lines::timeline(
        "demo",
        lines
            .iter()
            .flat_map(|(ledger, lines)| lines.iter().map(move |l| (ledger.as_str(), l))),
    );
    let html = render(&timeline);
    assert_eq!(outside_references(&html), Vec::<String>::new());
    // Every URL in it is text (the runs' target), never a place to load from.
    for (at, _) in html.match_indices("https://") {
        let before = &html[at.saturating_sub(12)..at];
        assert!(
            before.ends_with('>') || before.ends_with("\":\"") || before.ends_with(' '),
            "a URL in markup: {}",
            &html[at.saturating_sub(60)..at + 40]
        );
    }
    assert!(!html.contains("http://"));
    // The checker finds what it must.
    for bad in [
        r#"<img src="https://x.test/a.png">"#,
        r#"<link rel="stylesheet" href="s.css">"#,
        r#"<style>@import "x.css";</style>"#,
        r#"<div style="background:url(https://x.test/b.png)"></div>"#,
        r#"<script src="//cdn.test/u.js"></script>"#,
        r#"<a href="https://x.test/">x</a>"#,
        r#"<svg><image href="b.png"/></svg>"#,
    ] {
        assert!(!outside_references(bad).is_empty(), "{bad}");
    }
}

#[test]
fn hostile_text_stays_text() {
    let mut timeline = Timeline::new("<script>alert(1)</script>");
    let mut e = event("r", T0, 10, Outcome::Failed, 1);
    e.kind = Some("</script><script src=\"https://evil.test/x.js\"></script>");
    e.error = Some("<img src=x onerror=alert(1)>");
    timeline.push(&e);
    timeline.summary.push(SummaryRow::new("a <b>", "</td>"));
    let html = render(&timeline);
    assert_eq!(outside_references(&html), Vec::<String>::new());
    assert!(!html.contains("<script>alert"));
    let data = embedded(&html);
    assert_eq!(
        data["top_errors"][0]["example"],
        json!("<img src=x onerror=alert(1)>")
    );
}

#[test]
fn ledger_lines_give_the_series_and_the_tables() {
    let lines = demo_ledgers();
    let mut blocked_by_run: BTreeMap<String, u64> = BTreeMap::new();
    let mut failed = 0;
    let mut episodes = 0;
    for line in lines.iter().flat_map(|(_, lines)| lines) {
        match line["status"].as_str().unwrap() {
            "blocked" => {
                *blocked_by_run
                    .entry(line["run"].as_str().unwrap().to_owned())
                    .or_default() += line["ids"].as_array().unwrap().len() as u64
            }
            "failed" => failed += line["ids"].as_array().unwrap().len() as u64,
            "rate_limited" => episodes += 1,
            _ => {}
        }
    }
    let timeline = ledger_lines::timeline(
        "demo",
        lines
            .iter()
            .flat_map(|(ledger, lines)| lines.iter().map(move |l| (ledger.as_str(), l))),
    );
    let data = embedded(&render(&timeline));
    let blocked: u64 = numbers(&data["series"]["values"]["blocked"]).iter().sum();
    assert_eq!(blocked, blocked_by_run.values().sum::<u64>());
    let failed_drawn: u64 = numbers(&data["series"]["values"]["failed"]).iter().sum();
    assert_eq!(failed_drawn, failed);
    assert_eq!(data["episodes"].as_array().unwrap().len(), episodes);
    // Shards and the retry: three runs, each with its values.
    let runs = data["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        let id = run["id"].as_str().unwrap();
        let blocked = run["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair[0] == "blocked")
            .map_or(0, |pair| pair[1].as_u64().unwrap());
        assert_eq!(blocked, blocked_by_run[id], "{id}");
    }
    // The failures of the burst lead the top errors.
    let top = &data["top_errors"][0];
    assert_eq!(top["kind"], json!("http 503"));
    let first = top["first_ms"].as_i64().unwrap();
    assert!((T0 + 170_000..T0 + 205_000).contains(&first), "{first}");
}

/// A synthetic 1M-ID run: `lines` lines of `ids` IDs at `per_second` lines a second.
fn synthetic(timeline: &mut Timeline, lines: u64, ids: u64, per_second: u64) {
    let mut rng = StdRng::seed_from_u64(lines);
    let mut at = T0 * 1000; // µs
    let step = 1_000_000 / per_second as i64;
    for i in 0..lines {
        at += step;
        let ms = 60 + rng.random_range(0..80) + if i % 100 == 0 { 900 } else { 0 };
        let outcome = if i % 1000 == 7 {
            Outcome::Failed
        } else {
            Outcome::Blocked
        };
        timeline.push(&event("r", at / 1000 + ms as i64, ms, outcome, ids));
    }
    timeline.total_values = Some(lines * ids);
}

#[test]
fn a_million_ids_stay_under_two_megabytes() {
    for (lines, ids, rate) in [(10_000, 100, 10), (1_000_000, 1, 200)] {
        let mut timeline = Timeline::new("1M");
        synthetic(&mut timeline, lines, ids, rate);
        let html = render(&timeline);
        assert!(
            html.len() < 2_000_000,
            "{lines} lines: {} bytes",
            html.len()
        );
        let data = embedded(&html);
        let values: u64 = ["blocked", "failed"]
            .iter()
            .map(|o| numbers(&data["series"]["values"][o]).iter().sum::<u64>())
            .sum();
        assert_eq!(values, 1_000_000);
        assert!(data["series"]["windows"].as_u64().unwrap() <= WINDOWS_MAX as u64);
    }
}

#[test]
fn runs_weeks_apart_share_one_bounded_axis() {
    let mut timeline = Timeline::new("nights");
    let day = 86_400_000;
    for night in 0..60 {
        let run = format!("night-{night}");
        timeline.runs.push(RunInfo {
            id: run.clone(),
            command: "block".into(),
            started_at_ms: Some(T0 + night * day),
            ..RunInfo::default()
        });
        for s in 0..100 {
            timeline.push(&event(
                &run,
                T0 + night * day + s * 1000,
                100,
                Outcome::Blocked,
                10,
            ));
        }
    }
    // Described twice (the same ledger given twice), and a run with no run line.
    timeline.runs.push(timeline.runs[0].clone());
    timeline.push(&event("no-run-line", T0 + 5_000, 100, Outcome::Failed, 3));
    let series = timeline.series();
    assert!(series.windows <= WINDOWS_MAX);
    assert_eq!(series.values["blocked"].iter().sum::<u64>(), 60_000);
    let spans = timeline.run_spans();
    assert_eq!(spans.len(), 61);
    let orphan = spans.iter().find(|s| s.id == "no-run-line").unwrap();
    assert_eq!(orphan.values, vec![("failed".to_owned(), 3)]);
    let html = render(&timeline);
    assert!(html.len() < 2_000_000);
    // Dated tick labels, a dozen or so per panel, not thousands.
    let ticks = html.matches(r#"class="tick" text-anchor="middle""#).count();
    assert!(ticks < 6 * 20, "{ticks} tick labels");
    // Weekly ticks at midnight, labelled with their date (`12-03 00:00`).
    let label = |at: i64| {
        DateTime::<Utc>::from_timestamp_millis(at)
            .unwrap()
            .format(">%m-%d %H:%M<")
            .to_string()
    };
    let week = 7 * day;
    let first_tick = (T0 + week - 1).div_euclid(week) * week;
    assert!(html.contains(&label(first_tick)), "{}", label(first_tick));
}

#[test]
fn an_empty_timeline_renders() {
    let html = render(&Timeline::new("nothing"));
    assert!(html.contains("No outcome lines"));
    assert_eq!(embedded(&html)["series"]["windows"], json!(0));
}

fn utc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A night's run, as ledger lines: two shards of 250,000 contact IDs (100 per request,
/// 10 requests a second each, about 140 ms), a 429 episode in each (15 s pause, then the
/// pace restarts at 97 % of what was admitted and grows back), a 30-second burst where
/// half the requests fail (503 after three attempts, or timeouts), a few refused IDs,
/// and a `retry` two minutes later that re-sends the failures until a 429 asks to wait
/// two hours (beyond `--max-wait`) and it stops.
pub(super) fn demo_ledgers() -> Vec<(String, Vec<Value>)> {
    let mut ledgers = Vec::new();
    let mut failed_ids: Vec<u64> = Vec::new();
    let mut end = T0;
    for (shard, run, episode_at) in [
        (0u64, "20261124T020000Z-a1f3", 90_000),
        (1, "20261124T020000Z-b7c2", 96_500),
    ] {
        let mut rng = StdRng::seed_from_u64(shard + 1);
        let mut lines = vec![
            json!({"run": run, "status": "run", "command": "block", "target": "https://acme.acquire.io/api/v1", "started_at": utc(T0 + shard as i64 * 40), "version": "0.1.0"}),
        ];
        let ids: Vec<u64> = (0..250_000).map(|i| 1_000_000 + i * 2 + shard).collect();
        let mut sent_at = T0 + 300 + shard as i64 * 40;
        let mut pace = 10.0f64;
        let mut resume: Option<(i64, f64)> = None;
        let mut episode_done = false;
        for (batch, chunk) in ids.chunks(100).enumerate() {
            let since_start = sent_at - T0;
            if !episode_done && since_start >= episode_at {
                episode_done = true;
                let admitted = 8.6 + shard as f64 * 0.3;
                lines.push(json!({"run": run, "status": "rate_limited", "started_at": utc(sent_at), "wait_ms": 15_000, "until": utc(sent_at + 15_000), "admitted_per_s": admitted, "pace_per_s": (admitted * 0.97 * 100.0).round() / 100.0, "answers": 3}));
                sent_at += 15_000;
                resume = Some((sent_at, admitted * 0.97));
            }
            if let Some((from, start)) = resume {
                // Cubic growth back to the ceiling over a minute.
                let t = ((sent_at - from) as f64 / 60_000.0).min(1.0);
                pace = start + (10.0 - start) * t.powi(3);
            }
            sent_at += (1000.0 / pace) as i64 + rng.random_range(-8..=8);
            let base = (140.0 * (0.3 * gaussian(&mut rng)).exp()) as u64;
            let latency = if rng.random_range(0..100) == 0 {
                base + rng.random_range(300..900)
            } else {
                base
            };
            let in_burst = (170_000..200_000).contains(&(sent_at - T0));
            let source = format!("lists/night.csv:{}-{}", batch * 100 + 2, batch * 100 + 101);
            let common = |status: &str,
                          ids: &[u64],
                          attempts: u32,
                          http: Option<u16>,
                          error: Option<&str>,
                          ms: u64| {
                json!({"run": run, "batch": batch, "status": status, "ids": ids, "block_till": "2026-12-24T02:00:00.000Z", "attempts": attempts, "http_status": http, "error": error, "source": source, "started_at": utc(sent_at), "finished_at": utc(sent_at + ms as i64), "ms": ms})
            };
            if in_burst && rng.random_bool(0.5) {
                let line = if rng.random_bool(0.7) {
                    common(
                        "failed",
                        chunk,
                        3,
                        Some(503),
                        Some("503 Service Unavailable: maintenance"),
                        1_500 + latency * 3,
                    )
                } else {
                    common(
                        "failed",
                        chunk,
                        3,
                        None,
                        Some("operation timed out after 10s"),
                        31_500,
                    )
                };
                failed_ids.extend(chunk);
                lines.push(line);
            } else if batch % 400 == 17 {
                // A 400 bisected: one ID refused, the rest blocked.
                let (refused, rest) = chunk.split_at(1);
                lines.push(common("blocked", rest, 1, Some(200), None, latency * 4));
                lines.push(common(
                    "refused",
                    refused,
                    1,
                    Some(400),
                    Some("ERROR_INVALID_INPUT: no such contact"),
                    latency * 4,
                ));
            } else {
                lines.push(common("blocked", chunk, 1, Some(200), None, latency));
            }
            end = end.max(sent_at + latency as i64);
        }
        ledgers.push((format!("shard-{}-of-2.jsonl", shard + 1), lines));
    }
    // The retry, two minutes after the shards ended, into the first ledger.
    let run = "20261124T021330Z-c4d9";
    let start = (end + 120_000).div_euclid(1000) * 1000;
    let mut rng = StdRng::seed_from_u64(99);
    let lines = &mut ledgers[0].1;
    lines.push(json!({"run": run, "status": "run", "command": "retry", "target": "https://acme.acquire.io/api/v1", "started_at": utc(start), "version": "0.1.0"}));
    let mut sent_at = start + 200;
    let chunks: Vec<&[u64]> = failed_ids.chunks(100).collect();
    let stop_after = chunks.len() * 4 / 5;
    for (batch, chunk) in chunks.into_iter().enumerate() {
        sent_at += 100 + rng.random_range(-8..=8);
        if batch == stop_after {
            lines.push(json!({"run": run, "status": "rate_limited", "started_at": utc(sent_at), "wait_ms": 7_200_000, "until": utc(sent_at + 7_200_000), "admitted_per_s": 9.9, "pace_per_s": 9.6, "answers": 2}));
            lines.push(json!({"run": run, "status": "stopped", "reason": "max_wait", "at": utc(sent_at), "since": null, "until": utc(sent_at + 7_200_000), "detail": "a 429 asked to wait 2 h, beyond --max-wait 15 min"}));
            break;
        }
        let ms = (150.0 * (0.3 * gaussian(&mut rng)).exp()) as u64;
        lines.push(json!({"run": run, "batch": batch, "status": "blocked", "ids": chunk, "block_till": "2026-12-24T02:13:30.000Z", "attempts": 1, "http_status": 200, "error": null, "source": "retry of shard-1-of-2.jsonl", "started_at": utc(sent_at), "finished_at": utc(sent_at + ms as i64), "ms": ms}));
    }
    ledgers
}

fn gaussian(rng: &mut StdRng) -> f64 {
    // Box-Muller.
    let (u, v): (f64, f64) = (rng.random_range(1e-9..1.0), rng.random_range(0.0..1.0));
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The demo page: `BLOCKADE_HTML_DEMO=/tmp/demo.html cargo test --lib
/// report::html::tests::demo_page -- --ignored`.
#[test]
#[ignore = "writes the demo page where BLOCKADE_HTML_DEMO says"]
fn demo_page() {
    let path = std::env::var("BLOCKADE_HTML_DEMO").unwrap_or_else(|_| "report-demo.html".into());
    let lines = demo_ledgers();
    let mut timeline = ledger_lines::timeline(
        "blockade report: shard-1-of-2.jsonl, shard-2-of-2.jsonl",
        lines
            .iter()
            .flat_map(|(ledger, lines)| lines.iter().map(move |l| (ledger.as_str(), l))),
    );
    timeline.total_values = Some(500_000);
    std::fs::write(&path, render(&timeline)).unwrap();
    // And the ledgers themselves, beside it.
    for (name, lines) in &lines {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(std::path::Path::new(&path).with_file_name(name), text).unwrap();
    }
}

/// The measurement behind docs/report-html.md: for 1M and 10M IDs (in lines of 100 and
/// of 1), the time to fold the events and to render, and the page's size; the pages are
/// written to `BLOCKADE_HTML_MEASURE` (a folder) for the browser's timing
/// (docs/report-html-measure.js). Run in release: `cargo test --release --lib
/// report::html::tests::measure -- --ignored --nocapture`. (The uPlot page it was
/// compared with is in this file's history, with the vendored library.)
#[test]
#[ignore = "a measurement: slow in debug builds, prints a table"]
fn measure() {
    use std::time::Instant;
    let dir = std::env::var("BLOCKADE_HTML_MEASURE").unwrap_or_else(|_| "/tmp".into());
    println!("| input | lines | fold events | render | page |");
    println!("|---|---:|---:|---:|---:|");
    for (name, lines, ids, rate) in [
        ("1M-100", 10_000, 100, 10),
        ("1M-1", 1_000_000, 1, 200),
        ("10M-100", 100_000, 100, 10),
        ("10M-1", 10_000_000, 1, 200),
    ] {
        let started = Instant::now();
        let mut timeline = Timeline::new(format!("synthetic {name}"));
        synthetic(&mut timeline, lines, ids, rate);
        let fold = started.elapsed();
        timeline.episodes.push(Episode {
            run: "r".into(),
            started_at_ms: T0 + (lines as i64 * 1000 / rate as i64) / 3,
            wait_ms: 15_000,
            admitted_per_s: Some(rate as f64 * 0.9),
            pace_per_s: Some(rate as f64 * 0.87),
            answers: Some(3),
        });
        let started = Instant::now();
        let svg = render(&timeline);
        let svg_time = started.elapsed();
        std::fs::write(format!("{dir}/{name}-svg.html"), &svg).unwrap();
        println!(
            "| {name} | {lines} | {:.2} s | {:.1} ms | {} KB |",
            fold.as_secs_f64(),
            svg_time.as_secs_f64() * 1000.0,
            svg.len() / 1024,
        );
    }
}
