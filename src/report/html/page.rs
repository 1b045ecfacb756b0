//! The page around the panels: heading, legends, tables, the embedded series. Everything
//! is inline; the only `url(` is the stop hatching's `url(#stop-hatch)`, inside the page.

use std::fmt::Write;

use serde::Serialize;

use crate::values::count::{group_digits, plural};

use super::format::{escape, fmt_ms, fmt_rate, fmt_utc};
use super::svg::{self, Axis, Frame, outcome_color};
use super::windows::Series;
use super::{Episode, ErrorRow, Outcome, RunSpan, Stop, SummaryRow, Timeline};

const STYLE: &str = r#"
:root { color-scheme: light; }
body { margin: 0; padding: 16px 24px 40px; background: #fff; color: #1a1a1a;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 22px 0 2px; }
p.meta { margin: 0 0 8px; color: #444; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 2px 0 0 72px; font-size: 13px; color: #333; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.legend i { display: inline-block; width: 14px; height: 10px; border-radius: 2px; }
.legend i.line { height: 3px; }
.legend i.dash { height: 0; border-top: 3px dashed; background: none !important; }
.legend i.hatch { background: repeating-linear-gradient(45deg, #d55e00 0 2px, #fff 2px 5px); border: 1px solid #d55e00; }
svg.panel { display: block; width: 100%; height: auto; max-width: 1400px; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #333; }
svg text.unit { font-size: 12px; fill: #111; }
g.hover rect { fill: transparent; }
g.hover rect:hover { fill: #000; fill-opacity: 0.06; }
table { border-collapse: collapse; margin: 6px 0 0; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; }
td.n { text-align: right; }
td.err { max-width: 640px; overflow-wrap: anywhere; color: #444; }
.note { color: #555; font-size: 13px; max-width: 1100px; }
"#;

/// The whole page.
pub(super) fn render(timeline: &Timeline) -> String {
    let series = timeline.series();
    let runs = timeline.run_spans();
    let errors = timeline.top_errors();
    let mut out = String::with_capacity(64 * 1024);
    let title = if timeline.title.is_empty() {
        "blockade report"
    } else {
        timeline.title.as_str()
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(title)
    );
    // The stops' hatching, referenced by every panel.
    out.push_str(
        r##"<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs><pattern id="stop-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#d55e00" fill-opacity="0.08"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d55e00" stroke-width="2" stroke-opacity="0.45"/></pattern></defs></svg>"##,
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(title));
    heading(&mut out, &series, &runs, timeline);
    if series.windows == 0 {
        out.push_str("<p>No outcome lines: nothing to draw.</p>\n");
    } else {
        panels(
            &mut out,
            &series,
            &runs,
            &timeline.episodes,
            &timeline.stops,
        );
    }
    summary_table(&mut out, &timeline.summary);
    errors_table(&mut out, &errors);
    runs_table(&mut out, &runs);
    episodes_table(&mut out, &timeline.episodes, &timeline.stops);
    out.push_str(
        "<p class=\"note\">Made by <code>blockade report --html</code>. Times are UTC. Each \
         panel shares one time axis; a window counts the ledger lines that finished in it. \
         Requests are the lines' attempts (429 answers use none). Latency is each line's \
         <code>ms</code> (first send to outcome, retries included). Hover a window for its \
         figures. The series are embedded as JSON (<code>#blockade-series</code>).</p>\n",
    );
    embed_data(&mut out, &series, &runs, &errors, timeline);
    out.push_str("</body></html>\n");
    out
}

fn heading(out: &mut String, series: &Series, runs: &[RunSpan], timeline: &Timeline) {
    let mut meta = Vec::new();
    if series.windows > 0 {
        let span = (series.end_ms() - series.start_ms).max(0) as u64;
        meta.push(format!(
            "{} to {} UTC ({})",
            fmt_utc(series.start_ms),
            fmt_utc(series.end_ms()),
            fmt_ms(span)
        ));
        meta.push(format!(
            "{} windows of {}",
            group_digits(series.windows as u64),
            fmt_ms(series.window_ms as u64)
        ));
    }
    meta.push(match runs.len() {
        1 => "1 run".to_owned(),
        n => format!("{} runs", group_digits(n as u64)),
    });
    let mut ledgers: Vec<&str> = timeline
        .runs
        .iter()
        .map(|r| r.ledger.as_str())
        .filter(|l| !l.is_empty())
        .collect();
    ledgers.sort_unstable();
    ledgers.dedup();
    if ledgers.len() > 1 {
        meta.push(format!("{} ledgers merged", ledgers.len()));
    }
    let _ = writeln!(out, "<p class=\"meta\">{}</p>", escape(&meta.join(" · ")));
}

fn legend(out: &mut String, items: &[(&str, &str, &str)]) {
    out.push_str("<div class=\"legend\">");
    for (class, color, label) in items {
        let _ = write!(
            out,
            "<span><i class=\"{class}\" style=\"background:{color};border-color:{color}\"></i>{}</span>",
            escape(label)
        );
    }
    out.push_str("</div>\n");
}

fn panels(
    out: &mut String,
    series: &Series,
    runs: &[RunSpan],
    episodes: &[Episode],
    stops: &[Stop],
) {
    let frame = Frame {
        axis: Axis::new(series),
        series,
        episodes,
        stops,
    };
    let mut shading = Vec::new();
    if !episodes.is_empty() {
        shading.push(("", svg::EPISODE_SWATCH, "429 episode: the pool waiting"));
    }
    if !stops.is_empty() {
        shading.push(("hatch", svg::STOP_FILL, "stop (breaker, --max-wait, abort)"));
    }

    out.push_str("<h2>Runs</h2>\n");
    svg::runs_panel(&frame, runs, out);

    out.push_str("<h2>429 episodes and stops</h2>\n");
    if episodes.is_empty() && stops.is_empty() {
        out.push_str("<p class=\"note\">No 429 episode and no early stop.</p>\n");
    } else {
        legend(out, &shading);
        svg::events_panel(&frame, out);
    }

    out.push_str("<h2>Values done per second, by outcome</h2>\n");
    let mut items: Vec<(&str, &str, &str)> = Outcome::ALL
        .into_iter()
        .filter(|o| series.values.contains_key(o.as_str()))
        .map(|o| ("", outcome_color(o), o.as_str()))
        .collect();
    items.extend(&shading);
    legend(out, &items);
    svg::values_panel(&frame, out);

    out.push_str("<h2>Requests per second</h2>\n");
    let mut items = vec![
        ("", svg::REQUESTS_OK, "requests of lines that ended well"),
        (
            "",
            svg::REQUESTS_FAILED,
            "requests of failed or refused lines",
        ),
    ];
    if episodes.iter().any(|e| e.admitted_per_s.is_some()) {
        items.push(("", "#000", "▼ admitted rate measured at a 429"));
    }
    items.extend(&shading);
    legend(out, &items);
    svg::requests_panel(&frame, out);

    out.push_str("<h2>Latency per window (p50, p95, p99)</h2>\n");
    let mut items = vec![
        ("line", svg::P50, "p50"),
        ("line", svg::P95, "p95"),
        ("dash", svg::P99, "p99"),
    ];
    items.extend(&shading);
    legend(out, &items);
    svg::latency_panel(&frame, out);

    out.push_str("<h2>Progress</h2>\n");
    let mut items = vec![
        ("line", svg::DONE, "values done (any outcome)"),
        ("line", svg::SUCCEEDED, "values succeeded"),
    ];
    if series.total_values.is_some() {
        items.push(("dash", "#000", "total"));
    }
    items.extend(&shading);
    legend(out, &items);
    svg::progress_panel(&frame, out);
}

fn summary_table(out: &mut String, rows: &[SummaryRow]) {
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2>Summary</h2>\n<table><tbody>\n");
    for row in rows {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td></tr>",
            escape(&row.label),
            escape(&row.value)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn errors_table(out: &mut String, errors: &[ErrorRow]) {
    out.push_str("<h2>Top errors</h2>\n");
    if errors.is_empty() {
        out.push_str("<p class=\"note\">No failed or refused line.</p>\n");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>kind</th><th>values</th><th>lines</th><th>first (UTC)</th>\
         <th>last (UTC)</th><th>example</th></tr></thead><tbody>\n",
    );
    for error in errors {
        let example: String = error.example.chars().take(300).collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"err\">{}</td></tr>",
            escape(&error.kind),
            group_digits(error.values),
            group_digits(error.lines),
            fmt_utc(error.first_ms),
            fmt_utc(error.last_ms),
            escape(&example)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn runs_table(out: &mut String, runs: &[RunSpan]) {
    if runs.is_empty() {
        return;
    }
    out.push_str(
        "<h2>The runs</h2>\n<table><thead><tr><th>run</th><th>command</th><th>target</th>\
         <th>ledger</th><th>start (UTC)</th><th>last outcome (UTC)</th><th>requests</th>\
         <th>values by outcome</th></tr></thead><tbody>\n",
    );
    for run in runs {
        let values = run
            .values
            .iter()
            .map(|(outcome, n)| format!("{outcome} {}", group_digits(*n)))
            .collect::<Vec<_>>()
            .join(", ");
        let command = [run.command.as_str(), run.value_type.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&run.id),
            escape(&command),
            escape(&run.target),
            escape(&run.ledger),
            fmt_utc(run.start_ms),
            fmt_utc(run.end_ms),
            group_digits(run.requests),
            escape(&values)
        );
    }
    out.push_str("</tbody></table>\n");
}

/// The first episodes and stops, listed (the panel marks them all).
fn episodes_table(out: &mut String, episodes: &[Episode], stops: &[Stop]) {
    const ROWS: usize = 20;
    if episodes.is_empty() && stops.is_empty() {
        return;
    }
    out.push_str(
        "<h2>The 429 episodes and stops</h2>\n<table><thead><tr><th>at (UTC)</th><th>run</th>\
         <th>what</th></tr></thead><tbody>\n",
    );
    let mut rows: Vec<(i64, &str, String)> = episodes
        .iter()
        .map(|e| {
            let mut what = format!("429 episode: waited {}", fmt_ms(e.wait_ms));
            if let Some(rate) = e.admitted_per_s {
                let _ = write!(what, "; admitted {}/s measured", fmt_rate(rate));
            }
            if let Some(pace) = e.pace_per_s {
                let _ = write!(what, "; pace restarted at {}/s", fmt_rate(pace));
            }
            if let Some(answers) = e.answers {
                let _ = write!(what, "; {}", plural(answers, "answer") + " 429");
            }
            (e.started_at_ms, e.run.as_str(), what)
        })
        .collect();
    rows.extend(stops.iter().map(|s| {
        let mut what = format!("stopped: {}", s.reason.label());
        if let Some(until) = s.until_ms {
            let _ = write!(
                what,
                "; the server asks to come back at {} UTC",
                fmt_utc(until)
            );
        }
        if !s.detail.is_empty() {
            let _ = write!(what, "; {}", s.detail);
        }
        (s.at_ms, s.run.as_str(), what)
    }));
    rows.sort_by_key(|(at, _, _)| *at);
    let more = rows.len().saturating_sub(ROWS);
    for (at, run, what) in rows.into_iter().take(ROWS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            fmt_utc(at),
            escape(run),
            escape(&what)
        );
    }
    if more > 0 {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"3\">and {} more (in the embedded JSON)</td></tr>",
            group_digits(more as u64)
        );
    }
    out.push_str("</tbody></table>\n");
}

#[derive(Serialize)]
struct Embedded<'a> {
    series: &'a Series,
    runs: &'a [RunSpan],
    episodes: &'a [Episode],
    stops: &'a [Stop],
    top_errors: &'a [ErrorRow],
    summary: &'a [SummaryRow],
}

/// The series as JSON, inert (`type="application/json"`), with every `<` escaped so that
/// no text in it can close the element.
fn embed_data(
    out: &mut String,
    series: &Series,
    runs: &[RunSpan],
    errors: &[ErrorRow],
    timeline: &Timeline,
) {
    let data = Embedded {
        series,
        runs,
        episodes: &timeline.episodes,
        stops: &timeline.stops,
        top_errors: errors,
        summary: &timeline.summary,
    };
    let json = serde_json::to_string(&data).expect("plain data serializes");
    out.push_str("<script type=\"application/json\" id=\"blockade-series\">");
    out.push_str(&json.replace('<', "\\u003c"));
    out.push_str("</script>\n");
}
