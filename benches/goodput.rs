//! Goodput benchmark (`harness = false`): release `blockade` clients against the imitation
//! (`blockade mock --rate-limit R --limit-kind K --latency 5ms..30ms`, its own process, on
//! 127.0.0.1), 100-ID batches, each run sized to last `GOODPUT_SECONDS` (default 30) at the
//! server's limit. Rows (issue 18):
//!
//! - `limit KIND R`: sliding window, fixed window and token bucket (burst R) at 20, 50 and
//!   200/s, `--rate` twice the limit, no advertised limit;
//! - `headers FAMILY KIND`: a fixed and a sliding window of 50/s advertised in each header
//!   family (`--ratelimit-headers github|draft|policy`), `--rate 100/s`;
//! - `shards 3 × RATE`: three processes `--shard K/3` against one sliding window of 50/s,
//!   each `--rate` a third (17/s) or two thirds (34/s) of it.
//!
//! Per run it prints goodput ÷ limit over the whole run (blocked requests ÷ wall time from
//! the client's start to its exit; for shards, all of them ÷ the time from the first start
//! to the last exit), the share of requests answered 429 (the imitation's count), and the
//! estimate each summary gives (`server_admitted_per_second`, with its error against the
//! limit, or for shards against a third of it).
//!
//! Usage: `cargo bench --bench goodput [-- FILTER...]` (about 7 minutes; FILTERs select rows
//! by substring, e.g. `bucket`, `headers`, `shards`). `GOODPUT_CLIENTS=before=PATH,after=PATH`
//! runs each row with each client binary in turn (same imitation, the current build's),
//! for a side-by-side comparison in one run. Without `--bench` (`cargo test --benches`)
//! two 2 s runs check only that everything got blocked. A run that did not block every ID
//! makes the harness exit 1. No timing is asserted anywhere.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde_json::Value;

/// The key shared by the imitation and the client. A benchmark key, not a secret.
const KEY: &str = "bench-key";
const BATCH: u64 = 100;

/// One row: the imitation's limit and the clients run against it.
struct Case {
    name: String,
    /// `--rate-limit`, and the rest of the imitation's flags.
    limit: u64,
    mock: Vec<String>,
    /// `--rate` of each client process.
    rate: u64,
    /// 1, or the number of `--shard K/N` processes.
    shards: u64,
}

fn cases(full: bool) -> Vec<Case> {
    let case = |name: String, limit: u64, mock: &[&str], rate: u64, shards: u64| Case {
        name,
        limit,
        mock: mock.iter().map(|&s| s.to_owned()).collect(),
        rate,
        shards,
    };
    if !full {
        return vec![
            case(
                "limit sliding 50".into(),
                50,
                &["--limit-kind", "sliding"],
                100,
                1,
            ),
            case(
                "headers draft".into(),
                50,
                &["--limit-kind", "fixed", "--ratelimit-headers", "draft"],
                100,
                1,
            ),
        ];
    }
    let mut cases = Vec::new();
    for kind in ["sliding", "fixed", "bucket"] {
        for limit in [20, 50, 200] {
            cases.push(case(
                format!("limit {kind} {limit}"),
                limit,
                &["--limit-kind", kind],
                limit * 2,
                1,
            ));
        }
    }
    for kind in ["fixed", "sliding"] {
        for family in ["github", "draft", "policy"] {
            cases.push(case(
                format!("headers {family} {kind}"),
                50,
                &["--limit-kind", kind, "--ratelimit-headers", family],
                100,
                1,
            ));
        }
    }
    for rate in [17, 34] {
        cases.push(case(
            format!("shards 3 × {rate}/s"),
            50,
            &["--limit-kind", "sliding"],
            rate,
            3,
        ));
    }
    cases
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let seconds: u64 = if full {
        std::env::var("GOODPUT_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30)
    } else {
        2
    };
    let mock_bin = PathBuf::from(env!("CARGO_BIN_EXE_blockade"));
    let clients: Vec<(String, PathBuf)> = match std::env::var("GOODPUT_CLIENTS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|entry| {
                let (name, path) = entry.split_once('=').unwrap_or(("client", entry));
                (name.trim().to_owned(), PathBuf::from(path.trim()))
            })
            .collect(),
        _ => vec![("this build".to_owned(), mock_bin.clone())],
    };
    let dir = tempfile::Builder::new()
        .prefix("blockade-goodput-")
        .tempdir()
        .expect("cannot create a temporary directory");
    eprintln!(
        "goodput: {} mode, {seconds} s runs, imitation {}",
        if full { "full" } else { "smoke" },
        mock_bin.display()
    );

    let mut rows = Vec::new();
    let mut wrong = Vec::new();
    for case in cases(full) {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f)) {
            continue;
        }
        // Each row runs every client in turn, so that the machine's noise hits all alike.
        for (client, bin) in &clients {
            eprintln!("goodput: running {} with {client}", case.name);
            match run_case(&mock_bin, bin, dir.path(), &case, seconds) {
                Ok(row) => rows.push((case.name.clone(), client.clone(), row)),
                Err(error) => wrong.push(format!("{} ({client}): {error}", case.name)),
            }
        }
    }

    println!(
        "\n| row | client | goodput ÷ limit, whole run | 429 share | estimate (error) | wall |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, client, row) in &rows {
        println!("| {name} | {client} | {row} |");
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
    goodput: f64,
    share_429: f64,
    estimates: Vec<Option<f64>>,
    /// What each client's share of the limit is (the limit ÷ shards).
    share: f64,
    wall: f64,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let estimates: Vec<String> = self
            .estimates
            .iter()
            .map(|e| match e {
                Some(e) => format!("{e:.1}/s ({:+.1} %)", (e / self.share - 1.0) * 100.0),
                None => "-".to_owned(),
            })
            .collect();
        write!(
            f,
            "{:.3} | {:.2} % | {} | {:.1} s",
            self.goodput,
            self.share_429 * 100.0,
            estimates.join(", "),
            self.wall
        )
    }
}

fn input(dir: &Path, ids: u64) -> Result<PathBuf, String> {
    let path = dir.join(format!("ids-{ids}.csv"));
    if !path.exists() {
        let mut text = String::with_capacity(ids as usize * 9 + 3);
        text.push_str("id\n");
        for id in 1_000_001..1_000_001 + ids {
            text.push_str(&id.to_string());
            text.push('\n');
        }
        std::fs::write(&path, text).map_err(|e| format!("write the input: {e}"))?;
    }
    Ok(path)
}

fn run_case(
    mock_bin: &Path,
    bin: &Path,
    dir: &Path,
    case: &Case,
    seconds: u64,
) -> Result<Row, String> {
    let requests = case.limit * seconds;
    let ids = requests * BATCH;
    let input = input(dir, ids)?;
    let limit = case.limit.to_string();
    let mut mock_args = vec!["--rate-limit", &limit, "--latency", "5ms..30ms"];
    mock_args.extend(case.mock.iter().map(String::as_str));
    let mock = Mock::start(mock_bin, &mock_args);

    let started = Instant::now();
    let mut children = Vec::new();
    for shard in 1..=case.shards {
        let ledger = dir.join(format!("results-{shard}.jsonl"));
        let summary = dir.join(format!("summary-{shard}.json"));
        let _ = std::fs::remove_file(&ledger);
        let _ = std::fs::remove_file(&summary);
        let mut command = Command::new(bin);
        command
            .arg("block")
            .args(["--base-url", &mock.url, "--block-for", "1d", "-q"])
            .args(["--rate", &format!("{}/s", case.rate)])
            .args(["--batch-size", &BATCH.to_string()])
            .arg("--results")
            .arg(&ledger)
            .arg("--summary-json")
            .arg(&summary);
        if case.shards > 1 {
            command.args(["--shard", &format!("{shard}/{}", case.shards)]);
        }
        let child = command
            .arg(&input)
            .env("ACQUIRE_API_KEY", KEY)
            .env_remove("ACQUIRE_ACCOUNT")
            .env_remove("ACQUIRE_BASE_URL")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        children.push((child, summary));
    }
    let mut summaries = Vec::new();
    for (mut child, summary) in children {
        let status = child
            .wait()
            .map_err(|e| format!("cannot wait for blockade: {e}"))?;
        if !status.success() {
            return Err(format!("blockade exited with {status}"));
        }
        let text =
            std::fs::read_to_string(&summary).map_err(|e| format!("read the summary: {e}"))?;
        summaries.push(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("the summary is not JSON: {e}"))?,
        );
    }
    let wall = started.elapsed().as_secs_f64();
    let stats = mock.stats();
    drop(mock);

    let field = |summary: &Value, name: &str| summary[name].as_u64().unwrap_or(0);
    let blocked: u64 = summaries.iter().map(|s| field(s, "blocked")).sum();
    if blocked != ids || stats["ids_blocked"].as_u64() != Some(ids) {
        return Err(format!(
            "not everything was blocked once: {blocked} of {ids} IDs, the imitation counted {}",
            stats["ids_blocked"]
        ));
    }
    let answered = |status: &str| stats["by_status"][status].as_u64().unwrap_or(0);
    let all = stats["requests"].as_u64().unwrap_or(0).max(1);
    Ok(Row {
        // Values blocked per second, in requests' worth (shards' last batches are partial).
        goodput: ids as f64 / BATCH as f64 / wall / case.limit as f64,
        share_429: answered("429") as f64 / all as f64,
        estimates: summaries
            .iter()
            .map(|s| s["server_admitted_per_second"].as_f64())
            .collect(),
        share: case.limit as f64 / case.shards as f64,
        wall,
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

    /// The imitation's counters (`GET /_mock/stats`, over plain loopback HTTP).
    fn stats(&self) -> Value {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            return Value::Null;
        };
        let _ = write!(
            stream,
            "GET /_mock/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        );
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let start = body.find('{').unwrap_or(0);
        let end = body.rfind('}').map_or(body.len(), |e| e + 1);
        serde_json::from_str(&body[start..end]).unwrap_or(Value::Null)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
