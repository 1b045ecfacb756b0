//! Goodput benchmark (`harness = false`): the release `blockade` binary against the real
//! imitation (`blockade mock --rate-limit R --limit-kind K`, its own process, on 127.0.0.1)
//! with 5–30 ms latency and 100-ID batches, for every row of issue 11's table and every kind
//! of limit (sliding window, fixed window, token bucket with a burst of R), plus 1/s and
//! 1,000/s.
//!
//! Each run is sized to last about `seconds` at the server's limit. It prints, per run:
//! goodput ÷ limit over the whole run (blocked requests ÷ the client's wall time) and once
//! settled (blocked requests whose answer came in the second half of the run, from the
//! ledger's `finished_at`), the share of requests answered 429, and the time to settle: the
//! start of the first window after which every window of the run held at least 0.9 × the
//! limit's worth of blocked requests (windows of max(1 s, 10 / limit)).
//!
//! Usage: `cargo bench --bench goodput [-- FILTER...]` (about 4 minutes; FILTERs select rows
//! by substring of "kind limit/rate", e.g. `sliding` or `50/100`). Without `--bench`
//! (`cargo test --benches`) one short run checks only that everything got blocked. A run
//! that did not block every ID makes the harness exit 1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The key shared by the imitation and the client. A benchmark key, not a secret.
const KEY: &str = "bench-key";
const BATCH: u64 = 100;
const KINDS: [&str; 3] = ["sliding", "fixed", "bucket"];

struct Case {
    limit: u64,
    rate: u64,
    seconds: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let cases: Vec<Case> = if full {
        vec![
            Case {
                limit: 50,
                rate: 100,
                seconds: 12,
            },
            Case {
                limit: 50,
                rate: 60,
                seconds: 12,
            },
            Case {
                limit: 20,
                rate: 40,
                seconds: 12,
            },
            Case {
                limit: 200,
                rate: 400,
                seconds: 12,
            },
            Case {
                limit: 1,
                rate: 2,
                seconds: 24,
            },
            Case {
                limit: 1000,
                rate: 2000,
                seconds: 8,
            },
        ]
    } else {
        vec![Case {
            limit: 50,
            rate: 100,
            seconds: 2,
        }]
    };
    let kinds: &[&str] = if full { &KINDS } else { &KINDS[..1] };
    let dir = tempfile::Builder::new()
        .prefix("blockade-goodput-")
        .tempdir()
        .expect("cannot create a temporary directory");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_blockade"));
    eprintln!(
        "goodput: {} mode, binary {}",
        if full { "full" } else { "smoke" },
        bin.display()
    );

    let mut rows = Vec::new();
    let mut wrong = Vec::new();
    for case in &cases {
        for kind in kinds {
            let name = format!("{kind} {}/{}", case.limit, case.rate);
            if !filters.is_empty() && !filters.iter().any(|f| name.contains(f)) {
                continue;
            }
            eprintln!("goodput: running {name}");
            match run_case(&bin, dir.path(), kind, case) {
                Ok(row) => rows.push(row),
                Err(error) => wrong.push(format!("{name}: {error}")),
            }
        }
    }

    println!(
        "\n| kind | limit | --rate | goodput ÷ limit, settled | goodput ÷ limit, whole run | 429 share | time to settle | server admitted (summary) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }
    if !wrong.is_empty() {
        eprintln!("goodput: {} run(s) were WRONG:", wrong.len());
        for error in &wrong {
            eprintln!("  {error}");
        }
        std::process::exit(1);
    }
}

struct Row {
    kind: String,
    limit: u64,
    rate: u64,
    settled: f64,
    whole: f64,
    share_429: f64,
    settle: Option<f64>,
    admitted: Option<f64>,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settle = self
            .settle
            .map_or_else(|| "never".to_owned(), |s| format!("{s:.1} s"));
        let admitted = self
            .admitted
            .map_or_else(|| "-".to_owned(), |a| format!("{a:.1}/s"));
        write!(
            f,
            "| {} | {}/s | {}/s | {:.3} | {:.3} | {:.2} % | {settle} | {admitted} |",
            self.kind,
            self.limit,
            self.rate,
            self.settled,
            self.whole,
            self.share_429 * 100.0
        )
    }
}

fn run_case(bin: &Path, dir: &Path, kind: &str, case: &Case) -> Result<Row, String> {
    let requests = case.limit * case.seconds;
    let ids = requests * BATCH;
    let input = dir.join(format!("ids-{ids}.csv"));
    if !input.exists() {
        let mut text = String::with_capacity(ids as usize * 9 + 3);
        text.push_str("id\n");
        for id in 1_000_001..1_000_001 + ids {
            text.push_str(&id.to_string());
            text.push('\n');
        }
        std::fs::write(&input, text).map_err(|e| format!("write the input: {e}"))?;
    }
    let ledger = dir.join("results.jsonl");
    let summary = dir.join("summary.json");
    let _ = std::fs::remove_file(&ledger);
    let _ = std::fs::remove_file(&summary);

    let mock = Mock::start(
        bin,
        &[
            "--rate-limit",
            &case.limit.to_string(),
            "--limit-kind",
            kind,
            "--latency",
            "5ms..30ms",
        ],
    );
    let started = Instant::now();
    let status = Command::new(bin)
        .arg("block")
        .args(["--base-url", &mock.url, "--block-for", "1d", "-q"])
        .args(["--rate", &format!("{}/s", case.rate)])
        .args(["--batch-size", &BATCH.to_string()])
        .arg("--results")
        .arg(&ledger)
        .arg("--summary-json")
        .arg(&summary)
        .arg(&input)
        .env("ACQUIRE_API_KEY", KEY)
        .env_remove("ACQUIRE_ACCOUNT")
        .env_remove("ACQUIRE_BASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run blockade: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    drop(mock);
    if !status.success() {
        return Err(format!("blockade exited with {status}"));
    }
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(&summary).map_err(|e| format!("read the summary: {e}"))?,
    )
    .map_err(|e| format!("the summary is not JSON: {e}"))?;
    let field = |name: &str| summary[name].as_u64().unwrap_or(0);
    if field("blocked") != ids || field("batches_blocked") != requests {
        return Err(format!("not everything was blocked: {summary}"));
    }

    // When each blocked request's answer came, from the ledger.
    let text = std::fs::read_to_string(&ledger).map_err(|e| format!("read the ledger: {e}"))?;
    let mut finished: Vec<DateTime<Utc>> = Vec::new();
    let mut first_start: Option<DateTime<Utc>> = None;
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if record["status"] != "blocked" {
            continue;
        }
        let time = |name: &str| {
            record[name]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        };
        if let Some(start) = time("started_at") {
            first_start = Some(first_start.map_or(start, |f| f.min(start)));
        }
        if let Some(end) = time("finished_at") {
            finished.push(end);
        }
    }
    let origin = first_start.ok_or("no blocked line in the ledger")?;
    let mut offsets: Vec<f64> = finished
        .iter()
        .map(|t| (*t - origin).num_microseconds().unwrap_or(0) as f64 / 1e6)
        .collect();
    offsets.sort_by(f64::total_cmp);
    let span = offsets.last().copied().unwrap_or(0.0);
    let limit = case.limit as f64;

    let half = span / 2.0;
    let in_second_half = offsets.iter().filter(|&&t| t >= half).count() as f64;
    let settled = in_second_half / (span - half).max(1e-9) / limit;
    let whole = requests as f64 / wall / limit;

    // Time to settle: windows of max(1 s, 10 requests at the limit).
    let window = (10.0 / limit).max(1.0);
    let windows = (span / window).floor() as usize;
    let mut counts = vec![0u64; windows];
    for &t in &offsets {
        let index = (t / window) as usize;
        if let Some(count) = counts.get_mut(index) {
            *count += 1;
        }
    }
    let good = |count: u64| count as f64 >= 0.9 * limit * window;
    let settle = (0..windows)
        .find(|&k| counts[k..].iter().all(|&c| good(c)))
        .map(|k| k as f64 * window);

    Ok(Row {
        kind: kind.to_owned(),
        limit: case.limit,
        rate: case.rate,
        settled,
        whole,
        share_429: field("rate_limited") as f64 / field("requests").max(1) as f64,
        settle,
        admitted: summary["server_admitted_per_second"].as_f64(),
    })
}

/// `blockade mock` as a child process on an ephemeral loopback port; killed when dropped.
struct Mock {
    child: Child,
    url: String,
}

impl Mock {
    fn start(bin: &Path, extra: &[&str]) -> Mock {
        let mut child = Command::new(bin)
            .args(["mock", "--host", "127.0.0.1", "--port", "0", "--key", KEY])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start blockade mock");
        let stdout = child.stdout.take().expect("the mock's stdout is piped");
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let url = first
            .split_whitespace()
            .last()
            .filter(|word| word.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("blockade mock did not print its URL: {first:?}"))
            .to_owned();
        Mock { child, url }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
