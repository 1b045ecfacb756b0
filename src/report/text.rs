//! The text rendering of a [`Report`], as `blockade report` prints it.
//!
//! Constraint kept here: short, aligned, and safe for a terminal — text that came from
//! a server's error body or a file name is escaped, never printed raw, and long
//! messages are cut (the `--json` form keeps them whole).

use std::fmt::Write as _;

use super::{LedgerSummary, Report, RunSummary};
use crate::values::ValueType;
use crate::values::count::{group_digits, many, plural};

/// Longest message shown per line.
const MESSAGE_CHARS: usize = 72;

impl Report {
    /// The human summary `blockade report` prints: every figure is one of the JSON's.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for ledger in &self.ledgers {
            let _ = writeln!(
                out,
                "Ledger: {} ({}, {} unreadable)",
                printable(&ledger.path.display().to_string()),
                plural(ledger.lines, "line"),
                group_digits(ledger.unreadable_lines)
            );
        }
        out.push_str("Now (latest line per value; a block counts until its block-till):\n");
        if self.now.is_empty() {
            out.push_str("  nothing blocked or sent yet\n");
        }
        for (value_type, counts) in &self.now {
            let noun = ValueType::parse(value_type).map_or("value", ValueType::noun);
            let _ = writeln!(
                out,
                "  {:<12} blocked {}   expired {}   failed {}   refused {}   unblocked {}   unblock failed {}",
                many(noun),
                group_digits(counts.blocked),
                group_digits(counts.expired),
                group_digits(counts.failed),
                group_digits(counts.refused),
                group_digits(counts.unblocked),
                group_digits(counts.unblock_failed),
            );
        }
        out.push_str("History (every line):\n");
        for row in &self.history {
            let noun = ValueType::parse(&row.value_type).map_or("value", ValueType::noun);
            let statuses: Vec<String> = row
                .values
                .iter()
                .map(|(status, values)| {
                    format!(
                        "{} {} ({})",
                        status.replace('_', " "),
                        group_digits(*values),
                        plural(row.lines.get(status).copied().unwrap_or(0), "line")
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "  {:<8} {:<12} {}",
                row.op,
                many(noun),
                statuses.join("   ")
            );
            if row.already_blocked > 0 {
                let _ = writeln!(
                    out,
                    "  {:<8} {:<12} of which {} already blocked at the server",
                    "",
                    "",
                    group_digits(row.already_blocked)
                );
            }
        }
        let _ = writeln!(
            out,
            "  rows     rejected {}",
            group_digits(self.rejected_rows)
        );
        self.render_runs(&mut out);
        self.render_failures(&mut out);
        self.render_bad_lines(&mut out);
        self.render_next(&mut out);
        out
    }

    fn render_runs(&self, out: &mut String) {
        if self.runs.is_empty() {
            return;
        }
        out.push_str("Runs:\n");
        let rows: Vec<[String; 7]> = self.runs.iter().map(run_cells).collect();
        // Text columns align left, counts right, so that runs line up under each other.
        let align_right = [false, false, false, true, true, true, true];
        let widths: Vec<usize> = (0..7)
            .map(|column| {
                rows.iter()
                    .map(|row| row[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &rows {
            let mut line = String::from(" ");
            for (column, cell) in row.iter().enumerate() {
                let width = widths[column];
                if width == 0 {
                    continue;
                }
                let _ = if align_right[column] {
                    write!(line, " {cell:>width$}")
                } else {
                    write!(line, " {cell:<width$}")
                };
                line.push(' ');
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }

    fn render_failures(&self, out: &mut String) {
        if self.failures.is_empty() {
            return;
        }
        out.push_str("Failed lines by error:\n");
        let labels: Vec<String> = self
            .failures
            .iter()
            .map(|kind| format!("{} ({})", kind.kind, group_digits(kind.lines)))
            .collect();
        let label_width = labels
            .iter()
            .map(|label| label.chars().count())
            .max()
            .unwrap_or(0);
        let source_width = self
            .failures
            .iter()
            .flat_map(|kind| &kind.examples)
            .map(|example| printable(&example.source).chars().count())
            .max()
            .unwrap_or(0);
        for (kind, label) in self.failures.iter().zip(&labels) {
            for (index, example) in kind.examples.iter().enumerate() {
                let label = if index == 0 { label.as_str() } else { "" };
                let error = example.error.as_deref().map(quoted).unwrap_or_default();
                let line = format!(
                    "  {label:<label_width$}  {:<source_width$}  {error}",
                    printable(&example.source)
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
            let more = kind.lines.saturating_sub(kind.examples.len() as u64);
            if more > 0 {
                let _ = writeln!(
                    out,
                    "  {:<label_width$}  ... and {} more",
                    "",
                    group_digits(more)
                );
            }
        }
    }

    fn render_bad_lines(&self, out: &mut String) {
        let damaged: Vec<&LedgerSummary> = self
            .ledgers
            .iter()
            .filter(|ledger| ledger.unreadable_lines > 0)
            .collect();
        if damaged.is_empty() {
            return;
        }
        out.push_str("Unreadable ledger lines (skipped):\n");
        for ledger in damaged {
            let path = printable(&ledger.path.display().to_string());
            for bad in &ledger.bad_lines {
                let _ = writeln!(out, "  {path}:{}  {}", bad.line, truncate(&bad.reason));
            }
            let more = ledger
                .unreadable_lines
                .saturating_sub(ledger.bad_lines.len() as u64);
            if more > 0 {
                let _ = writeln!(out, "  {path}: ... and {} more", group_digits(more));
            }
        }
    }

    fn render_next(&self, out: &mut String) {
        let to_retry: Vec<&LedgerSummary> = self
            .ledgers
            .iter()
            .filter(|ledger| ledger.failed_ids > 0)
            .collect();
        if to_retry.is_empty() {
            out.push_str("Next: nothing to retry");
            if self.rejected_rows > 0 {
                out.push_str("; rejected rows are in the ledger with their source line, fix and block them again");
            }
            out.push('\n');
        }
        let target = self
            .target_flags()
            .map(|flags| format!(" {flags}"))
            .unwrap_or_else(|| " --account ACCOUNT".to_owned());
        // `retry` takes one type at a time when more than one failed: one line for each.
        let failed_types: Vec<&str> = self
            .now
            .iter()
            .filter(|(_, counts)| counts.failed > 0)
            .map(|(name, _)| name.as_str())
            .collect();
        let type_flags: Vec<String> = match failed_types.as_slice() {
            [_, _, ..] => failed_types
                .iter()
                .map(|t| format!(" --type {t}"))
                .collect(),
            _ => vec![String::new()],
        };
        for ledger in to_retry {
            let path = ledger.path.display().to_string();
            let program = crate::ui::program_name();
            for type_flag in &type_flags {
                let _ = writeln!(
                    out,
                    "Next: {} retry {}{type_flag}{target}",
                    shlex::try_quote(&program)
                        .map_or_else(|_| printable(&program), |q| printable(&q)),
                    shlex::try_quote(&path).map_or_else(|_| printable(&path), |q| printable(&q))
                );
            }
        }
        if self.refused_now() > 0 || self.rejected_rows > 0 {
            out.push_str(
                "      (blockade report --rejected lists rejected rows and refused values with their file:line)\n",
            );
        }
    }
}

/// One line of the runs table: id, what it did, time span, requests, values, rate,
/// rejected rows.
fn run_cells(run: &RunSummary) -> [String; 7] {
    const DAY_AND_TIME: &str = "%Y-%m-%d %H:%M:%S";
    let when = match (run.started_at, run.finished_at) {
        (Some(start), Some(end)) if start.date_naive() == end.date_naive() => {
            format!(
                "{} → {}",
                start.format(DAY_AND_TIME),
                end.format("%H:%M:%S")
            )
        }
        (Some(start), Some(end)) => {
            format!(
                "{} → {}",
                start.format(DAY_AND_TIME),
                end.format(DAY_AND_TIME)
            )
        }
        _ => "(sent nothing)".to_owned(),
    };
    let value_type = run.value_type.as_deref().and_then(ValueType::parse);
    let noun = value_type.map_or("value", ValueType::noun);
    let done = if run.unblocked.is_some() {
        "unblocked"
    } else {
        "blocked"
    };
    let rate = run
        .values_per_second
        .map(|rate| {
            format!(
                "{} {}/s {done}",
                group_digits(rate.round() as u64),
                many(noun)
            )
        })
        .unwrap_or_default();
    let rejected = match run.rejected_rows {
        0 => String::new(),
        rows => plural(rows, "rejected row"),
    };
    let what = [run.command.as_deref(), run.value_type.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let run_name = match &run.target {
        Some(target) => format!("{} → {target}", run.run),
        None => run.run.clone(),
    };
    [
        printable(&run_name),
        printable(&what),
        when,
        plural(run.requests, "request"),
        plural(run.values_sent, noun),
        rate,
        rejected,
    ]
}

/// Ledger text can come from a server's error body or a file name: escape control
/// characters so that none reaches the terminal raw.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An escaped rendering of a message, capped in length.
fn truncate(text: &str) -> String {
    let flat = printable(text);
    if flat.chars().count() <= MESSAGE_CHARS {
        flat
    } else {
        let head: String = flat.chars().take(MESSAGE_CHARS - 1).collect();
        format!("{head}…")
    }
}

/// An error text as shown in the failure list: escaped, capped and quoted.
fn quoted(text: &str) -> String {
    format!("\"{}\"", truncate(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::tests::at;
    use crate::report::build_report;
    use crate::report::tests::{blocked, failed, two_ledgers, write_ledger};
    use chrono::{DateTime, Utc};

    #[test]
    fn the_text_rendering_names_counts_runs_failures_and_next_steps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = two_ledgers(dir.path());
        let text = build_report(&paths, |_, _| {})
            .expect("report")
            .render_text();
        let a = paths[0].display().to_string();
        let b = paths[1].display().to_string();
        assert!(
            text.contains(&format!("Ledger: {a} (3 lines, 0 unreadable)\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("Ledger: {b} (3 lines, 1 unreadable)\n")),
            "{text}"
        );
        assert!(
            text.contains(
                "Now (latest line per value; a block counts until its block-till):\n  IDs          blocked 4   expired 0   failed 2   refused 0   unblocked 0   unblock failed 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("History (every line):\n  block    IDs          blocked 4 (2 lines)   failed 3 (2 lines)\n  rows     rejected 1\n"),
            "{text}"
        );
        assert!(
            text.contains("  run-1  contact  2026-11-18 11:06:40 → 11:06:42  2 requests  5 IDs  2 IDs/s blocked  1 rejected row\n\
                 \x20 run-2  contact  2026-11-18 11:08:20 → 11:08:22  2 requests  2 IDs  1 IDs/s blocked\n"),
            "{text}"
        );
        assert!(
            text.contains("  http 500 (1)  a.csv:4-5  \"server error: boom\"\n"),
            "{text}"
        );
        assert!(
            text.contains("  timeout (1)   b.csv:1-1  \"request timed out after 30s\"\n"),
            "{text}"
        );
        assert!(text.contains(&format!("  {b}:3  torn last line")), "{text}");
        // The hand-made ledgers have no run lines, so the target is left to fill in. The
        // program is named as it was started (here the test binary's path).
        let program = crate::ui::program_name();
        assert!(
            text.contains(&format!("Next: {program} retry {a} --account ACCOUNT\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("Next: {program} retry {b} --account ACCOUNT\n")),
            "{text}"
        );
        assert!(text.contains("report --rejected"), "{text}");
    }

    #[test]
    fn a_clean_ledger_says_there_is_nothing_to_retry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ok.jsonl");
        write_ledger(&path, &[blocked("r", &[1], "a.csv:1-1", 0, 1)], "");
        let report = build_report(std::slice::from_ref(&path), |_, _| {}).expect("report");
        let text = report.render_text();
        assert!(text.ends_with("Next: nothing to retry\n"), "{text}");
        assert!(!text.contains("Failed lines"), "{text}");
        assert_eq!(
            report
                .latest()
                .contact
                .count_where(|e| e.state == crate::ledger::State::Failed),
            0
        );
    }

    #[test]
    fn server_text_cannot_reach_the_terminal_raw() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.jsonl");
        let error = "bad\n\u{1b}[31mred";
        write_ledger(
            &path,
            &[failed(
                "r",
                &[1],
                at(9, 0),
                Some(503),
                error,
                "a.csv:1-1",
                0,
            )],
            "",
        );
        let text = build_report(&[path], |_, _| {})
            .expect("report")
            .render_text();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains(r#""bad\n\u{1b}[31mred""#), "{text}");
    }

    #[test]
    fn runs_of_different_sizes_line_up() {
        let run = |id: &str, values_sent: u64, started: Option<DateTime<Utc>>| RunSummary {
            command: Some("block".into()),
            target: None,
            value_type: Some("contact".into()),
            run: id.to_owned(),
            started_at: started,
            finished_at: started.map(|start| start + chrono::Duration::seconds(10)),
            requests: values_sent / 100,
            failed_requests: 0,
            values_sent,
            blocked: Some(values_sent),
            unblocked: None,
            rejected_rows: 0,
            values_per_second: started.map(|_| values_sent as f64 / 10.0),
        };
        let report = Report {
            ledgers: Vec::new(),
            now: Default::default(),
            history: Vec::new(),
            rejected_rows: 0,
            runs: vec![
                run("long-run-id", 1_234_500, Some(at(0, 0))),
                run("short", 700, Some(at(46_395, 0))),
                run("rejects-only", 0, None),
            ],
            failures: Vec::new(),
            latest: crate::report::AllKinds::default(),
        };
        let mut text = String::new();
        report.render_runs(&mut text);
        let column_of =
            |line: &str, word: &str| line.find(word).map(|byte| line[..byte].chars().count());
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            column_of(lines[0], " requests"),
            column_of(lines[1], " requests"),
            "{text}"
        );
        assert_eq!(
            column_of(lines[0], " IDs/s"),
            column_of(lines[1], " IDs/s"),
            "{text}"
        );
        assert!(
            lines[1].contains("2026-11-18 23:59:55 → 2026-11-19 00:00:05"),
            "{text}"
        );
        assert!(lines[2].contains("(sent nothing)"), "{text}");
        assert!(
            lines[0].contains("12,345 requests  1,234,500 IDs  123,450 IDs/s blocked"),
            "{text}"
        );
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
        assert_eq!(group_digits(120_000), "120,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }
}
