//! End-to-end benchmark harness (`harness = false`): the real `blockade` binary against the
//! real imitation (`blockade mock`, each in its own process), measured from outside.
//!
//! For each scenario it generates the input into a temporary directory, starts a fresh
//! imitation (so its counters belong to that scenario only), runs `blockade block`, reaps the
//! client with `wait4` to get *its own* user+sys time and peak RSS (the imitation is a
//! separate process and never counted), checks that the imitation received every ID exactly
//! as expected, then prints a table and writes every figure to `target/bench-results.json`.
//!
//! Scenarios (targets from the "Performance" issue, see BENCHMARKS.md):
//! - `throughput`: 1M IDs, batch 100, concurrency 8 and 64, no latency; also gives CPU per
//!   million IDs. (The comparison with wrk is `benches/compare.sh`.)
//! - `latency`: imitation with `--latency 50ms`; requests/s ≥ 0.95 × concurrency / 50 ms.
//! - `rate`: `--rate 100/s` over 2,000 batches, imitation with `--record-ids`: achieved
//!   rate within ±1%, busiest sliding second ≤ rate + burst, no full second under 95.
//! - `memory`: peak RSS at 100k, 1M and 10M IDs (flat, under 50 MB at 10M).
//! - `startup`: a 1-batch run, process start to exit, 30 times.
//!
//! Usage: `cargo bench --bench end_to_end [-- NAME...] [-- --strict]`; NAMEs select
//! scenarios by substring. `--strict` exits 1 when a target is missed. Without `--bench`
//! (e.g. `cargo test --benches`) every scenario runs at a small size as a smoke test, and
//! only correctness is checked, never targets. A wrong count or a failed run always makes
//! the harness exit 1: a fast run that lost IDs is not a result.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key shared by the imitation and the client. A benchmark key, not a secret.
const KEY: &str = "bench-key";
const FIRST_ID: u64 = 1_000_001;
const BATCH: u64 = 100;

/// One scenario: runs what it measures and adds its rows (and any wrong run) to the report.
type Scenario = fn(&Bench, &mut Report);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(LAUNCH) {
        launch(&args[1..]);
    }
    let full = args.iter().any(|a| a == "--bench");
    let strict = args.iter().any(|a| a == "--strict");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let selected = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));

    let bench = Bench::new(full);
    eprintln!(
        "end_to_end: {} mode, binary {}, work dir {}",
        if full { "full" } else { "smoke" },
        bench.bin.display(),
        bench.dir.path().display()
    );
    let mut report = Report::default();
    let scenarios: [(&str, Scenario); 5] = [
        ("throughput", throughput),
        ("latency", latency),
        ("rate", rate),
        ("memory", memory),
        ("startup", startup),
    ];
    for (name, scenario) in scenarios {
        if selected(name) {
            eprintln!("end_to_end: running {name}");
            scenario(&bench, &mut report);
        }
    }

    report.print();
    let out = results_path(full);
    match report.write(&out, full) {
        Ok(()) => eprintln!("end_to_end: figures written to {}", out.display()),
        Err(error) => {
            eprintln!("end_to_end: cannot write {}: {error}", out.display());
            std::process::exit(1);
        }
    }
    if !report.errors.is_empty() {
        eprintln!("end_to_end: {} run(s) were WRONG:", report.errors.len());
        for error in &report.errors {
            eprintln!("  {error}");
        }
        std::process::exit(1);
    }
    if full && strict && report.rows.iter().any(|r| r.pass == Some(false)) {
        eprintln!("end_to_end: some targets were missed (--strict)");
        std::process::exit(1);
    }
}

/// `target/bench-results.json` (or `-smoke.json`), next to the binary under test.
fn results_path(full: bool) -> PathBuf {
    let name = if full {
        "bench-results.json"
    } else {
        "bench-results-smoke.json"
    };
    if let Some(path) = std::env::var_os("BLOCKADE_BENCH_OUT") {
        return PathBuf::from(path);
    }
    // The binary is target/<profile>/blockade: its grandparent is the target directory,
    // wherever CARGO_TARGET_DIR put it.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_blockade"));
    bin.parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from(name), |target| target.join(name))
}

// ---------------------------------------------------------------------------------------
// The scenarios

fn throughput(bench: &Bench, report: &mut Report) {
    let ids = bench.scale(1_000_000);
    let input = bench.csv(ids);
    let mock = Mock::start(bench, &[]);
    // Interleave the two concurrencies, three rounds, and keep the median of each: noise
    // from other work on the machine then hits both alike.
    let mut runs: BTreeMap<usize, Vec<Measured>> = BTreeMap::new();
    for _round in 0..bench.rounds() {
        for concurrency in [8usize, 64] {
            let before = mock.stats();
            let run = bench.block(&mock, &input, &fast_args(concurrency));
            let after = mock.stats();
            report.check_run(
                &format!("throughput c={concurrency}"),
                &run,
                &delta(&before, &after),
                ids,
            );
            runs.entry(concurrency).or_default().push(run);
        }
    }
    mock.stop();
    for (concurrency, runs) in runs {
        let run = median_by(&runs, |r| r.wall.as_secs_f64());
        let requests = ids.div_ceil(BATCH) as f64;
        let rps = requests / run.wall.as_secs_f64();
        report.row(Row {
            scenario: format!("throughput c={concurrency}"),
            figure: format!(
                "{rps:.0} req/s ({:.0} IDs/s), wall {:.2}s",
                rps * BATCH as f64,
                run.wall.as_secs_f64()
            ),
            target: "≥ 0.5 × wrk (benches/compare.sh)".into(),
            pass: None,
            data: json!({
                "ids": ids, "batch": BATCH, "concurrency": concurrency,
                "requests_per_s": rps, "ids_per_s": rps * BATCH as f64,
                "runs": runs.iter().map(Measured::to_json).collect::<Vec<_>>(),
            }),
        });
        let cpu_per_million = run.cpu().as_secs_f64() * 1e6 / ids as f64;
        report.row(Row {
            scenario: format!("cpu per 1M IDs c={concurrency}"),
            figure: format!(
                "{cpu_per_million:.3}s (user {:.2}s + sys {:.2}s for {ids} IDs)",
                run.user.as_secs_f64(),
                run.sys.as_secs_f64()
            ),
            target: "< 0.3 s".into(),
            pass: bench.judge(cpu_per_million < 0.3),
            data: json!({ "ids": ids, "concurrency": concurrency, "cpu_s_per_million": cpu_per_million }),
        });
    }
}

fn latency(bench: &Bench, report: &mut Report) {
    const LATENCY: Duration = Duration::from_millis(50);
    let mock = Mock::start(bench, &["--latency", "50ms"]);
    for concurrency in [8u64, 64] {
        let ideal = concurrency as f64 / LATENCY.as_secs_f64();
        // About 5 s of requests at the ideal rate (0.5 s in smoke mode).
        let requests = (ideal * if bench.full { 5.0 } else { 0.5 }) as u64;
        let ids = requests * BATCH;
        let input = bench.csv(ids);
        let before = mock.stats();
        let run = bench.block(&mock, &input, &fast_args(concurrency as usize));
        let after = mock.stats();
        let seen = delta(&before, &after);
        report.check_run(&format!("latency c={concurrency}"), &run, &seen, ids);
        let rps = requests as f64 / run.wall.as_secs_f64();
        let ratio = rps / ideal;
        report.row(Row {
            scenario: format!("latency 50ms c={concurrency}"),
            figure: format!(
                "{rps:.1} req/s = {ratio:.3} × ideal {ideal:.0}/s (imitation max in flight {})",
                after["max_in_flight"]
            ),
            target: "≥ 0.95 × concurrency/latency".into(),
            pass: bench.judge(ratio >= 0.95),
            data: json!({
                "concurrency": concurrency, "latency_ms": 50, "requests": requests,
                "requests_per_s": rps, "ideal_per_s": ideal, "ratio": ratio,
                "max_in_flight": after["max_in_flight"], "run": run.to_json(),
            }),
        });
    }
    mock.stop();
}

fn rate(bench: &Bench, report: &mut Report) {
    const RATE: u64 = 100;
    const BURST: u64 = 1;
    let batches = if bench.full { 2_000 } else { 100 };
    let ids = batches * BATCH;
    let input = bench.csv(ids);
    let mock = Mock::start(bench, &["--record-ids"]);
    let run = bench.block(
        &mock,
        &input,
        &[
            "--rate",
            &format!("{RATE}/s"),
            "--burst",
            &BURST.to_string(),
            "--concurrency",
            "8",
        ],
    );
    let stats = mock.stats();
    mock.stop();
    report.check_run("rate 100/s", &run, &stats, ids);

    let per_second: Vec<u64> = stats["per_second"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let max_window = stats["max_per_second"].as_u64().unwrap_or(0);
    // The last entry is a partial second (the run ends inside it): only whole seconds count.
    let whole = per_second.len().saturating_sub(1);
    let whole_seconds = &per_second[..whole];
    let achieved = if whole == 0 {
        0.0
    } else {
        whole_seconds.iter().sum::<u64>() as f64 / whole as f64
    };
    let lowest = whole_seconds.iter().copied().min().unwrap_or(0);
    let error = (achieved - RATE as f64) / RATE as f64;
    report.row(Row {
        scenario: "rate 100/s achieved".into(),
        figure: format!(
            "{achieved:.2}/s over {whole} whole seconds ({:+.2}%); wall {:.2}s for {batches}",
            error * 100.0,
            run.wall.as_secs_f64()
        ),
        target: "100/s ± 1%".into(),
        pass: bench.judge(error.abs() <= 0.01 && whole > 0),
        data: json!({ "rate": RATE, "batches": batches, "achieved_per_s": achieved,
                      "whole_seconds": whole, "per_second": per_second, "run": run.to_json() }),
    });
    report.row(Row {
        scenario: "rate 100/s busiest 1s window".into(),
        figure: format!("{max_window} requests"),
        target: format!("≤ rate + burst = {}", RATE + BURST),
        pass: bench.judge(max_window > 0 && max_window <= RATE + BURST),
        data: json!({ "max_per_second": max_window }),
    });
    report.row(Row {
        scenario: "rate 100/s slowest whole second".into(),
        figure: format!("{lowest} requests"),
        target: "≥ 95".into(),
        pass: bench.judge(lowest >= 95 && whole > 0),
        data: json!({ "min_whole_second": lowest }),
    });
}

fn memory(bench: &Bench, report: &mut Report) {
    let mock = Mock::start(bench, &[]);
    let mut peaks = Vec::new();
    for full_ids in [100_000u64, 1_000_000, 10_000_000] {
        let ids = bench.scale(full_ids);
        let input = bench.csv(ids);
        let before = mock.stats();
        let run = bench.block(&mock, &input, &fast_args(64));
        let after = mock.stats();
        report.check_run(&format!("memory {ids}"), &run, &delta(&before, &after), ids);
        // The 10M-line CSV is ~90 MB: do not keep the inputs around.
        let _ = std::fs::remove_file(&input);
        let mb = run.max_rss_kb as f64 / 1024.0;
        report.row(Row {
            scenario: format!("peak RSS {ids} IDs"),
            figure: format!(
                "{mb:.1} MB (cpu {:.2}s, wall {:.2}s)",
                run.cpu().as_secs_f64(),
                run.wall.as_secs_f64()
            ),
            target: if full_ids == 10_000_000 {
                "< 50 MB, < 2 × RSS(100k)".into()
            } else {
                "flat".into()
            },
            pass: if full_ids == 10_000_000 {
                bench.judge(mb < 50.0)
            } else {
                None
            },
            data: json!({ "ids": ids, "max_rss_kb": run.max_rss_kb, "run": run.to_json() }),
        });
        peaks.push(run.max_rss_kb);
    }
    mock.stop();
    if let [small, _, large] = peaks[..] {
        let ratio = large as f64 / small.max(1) as f64;
        report.row(Row {
            scenario: "RSS(10M) / RSS(100k)".into(),
            figure: format!("{ratio:.2}"),
            target: "< 2".into(),
            pass: bench.judge(ratio < 2.0),
            data: json!({ "ratio": ratio }),
        });
    }
}

fn startup(bench: &Bench, report: &mut Report) {
    let input = bench.csv(BATCH);
    let mock = Mock::start(bench, &[]);
    let runs = if bench.full { 30 } else { 3 };
    let mut walls = Vec::new();
    for _ in 0..runs {
        let before = mock.stats();
        let run = bench.block(&mock, &input, &fast_args(8));
        let after = mock.stats();
        report.check_run("startup", &run, &delta(&before, &after), BATCH);
        walls.push(run.wall.as_secs_f64() * 1e3);
    }
    mock.stop();
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    report.row(Row {
        scenario: "1-batch run, start to exit".into(),
        figure: format!(
            "median {median:.1} ms (min {:.1}, max {:.1}, {runs} runs)",
            walls[0],
            walls[walls.len() - 1]
        ),
        target: "< 20 ms".into(),
        pass: bench.judge(median < 20.0),
        data: json!({ "runs": runs, "median_ms": median, "walls_ms": walls }),
    });
}

/// `block` options for "as fast as the client can go": no rate limit in practice.
fn fast_args(concurrency: usize) -> Vec<String> {
    [
        "--rate",
        "1000000/s",
        "--burst",
        "1000",
        "--concurrency",
        &concurrency.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

// ---------------------------------------------------------------------------------------
// Running the binary

/// Where and how a scenario runs.
struct Bench {
    bin: PathBuf,
    dir: tempfile::TempDir,
    full: bool,
}

impl Bench {
    fn new(full: bool) -> Bench {
        let dir = tempfile::Builder::new()
            .prefix("blockade-bench-")
            .tempdir()
            .expect("cannot create a temporary directory for the benchmark inputs");
        Bench {
            bin: PathBuf::from(env!("CARGO_BIN_EXE_blockade")),
            dir,
            full,
        }
    }

    /// The full size under `cargo bench`, a hundredth in smoke mode.
    fn scale(&self, ids: u64) -> u64 {
        if self.full {
            ids
        } else {
            (ids / 100).max(BATCH)
        }
    }

    fn rounds(&self) -> usize {
        if self.full { 3 } else { 1 }
    }

    /// A verdict only in full mode; smoke runs are too small to judge.
    fn judge(&self, ok: bool) -> Option<bool> {
        self.full.then_some(ok)
    }

    /// `ids.csv` with `ids` ascending IDs under a header, written once per size.
    fn csv(&self, ids: u64) -> PathBuf {
        let path = self.dir.path().join(format!("ids-{ids}.csv"));
        if path.exists() {
            return path;
        }
        let file = File::create(&path).expect("cannot create a benchmark input");
        let mut out = BufWriter::with_capacity(1 << 20, file);
        writeln!(out, "id").expect("write input");
        for id in FIRST_ID..FIRST_ID + ids {
            writeln!(out, "{id}").expect("write input");
        }
        out.flush().expect("write input");
        path
    }

    /// Runs `blockade block` on `input` against `mock`, quiet, with a fresh ledger, and
    /// measures it.
    fn block(&self, mock: &Mock, input: &Path, extra: &[impl AsRef<str>]) -> Measured {
        let ledger = self.dir.path().join("results.jsonl");
        let stderr_path = self.dir.path().join("client.stderr");
        let _ = std::fs::remove_file(&ledger);
        let mut cmd = Command::new(&self.bin);
        cmd.arg("block")
            .args(["--base-url", &mock.url, "--block-for", "1d", "--results"])
            .arg(&ledger)
            .arg("-q")
            .args(extra.iter().map(AsRef::as_ref))
            .arg(input)
            .env("ACQUIRE_API_KEY", KEY)
            .env_remove("ACQUIRE_ACCOUNT")
            .env_remove("ACQUIRE_BASE_URL")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        let stderr_file = File::create(&stderr_path).expect("create the client's stderr file");
        let measured = run_measured(cmd, Stdio::null(), stderr_file.into());
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let _ = std::fs::remove_file(&ledger);
        Measured { stderr, ..measured }
    }
}

/// What one client run cost, as the kernel counted it for that process alone.
#[derive(Clone, Debug)]
struct Measured {
    wall: Duration,
    user: Duration,
    sys: Duration,
    max_rss_kb: u64,
    exit_code: Option<i32>,
    stderr: String,
}

impl Measured {
    fn cpu(&self) -> Duration {
        self.user + self.sys
    }

    fn to_json(&self) -> Value {
        json!({
            "wall_s": self.wall.as_secs_f64(),
            "user_s": self.user.as_secs_f64(),
            "sys_s": self.sys.as_secs_f64(),
            "max_rss_kb": self.max_rss_kb,
            "exit_code": self.exit_code,
        })
    }
}

/// The first argument that turns this binary into the measuring launcher (see [`launch`]).
const LAUNCH: &str = "--launch-measured";

/// Runs `cmd` through a fresh copy of this binary in launcher mode and returns what the
/// launcher measured.
///
/// Why not reap `cmd` here directly: Linux charges a child's `ru_maxrss` with the peak RSS of
/// the memory it ran in before `exec`, and `std::process::Command` spawns with `vfork`
/// semantics, so that memory is *this* harness (tens of MB once it has parsed a large
/// `--record-ids` stats answer). Every client then looked 34 MB big, whatever its input. A
/// freshly started launcher is a few MB, so the client's own peak shows through.
fn run_measured(cmd: Command, stdout: Stdio, stderr: Stdio) -> Measured {
    let report = tempfile::NamedTempFile::new().expect("create the launcher's report file");
    let mut launcher = Command::new(std::env::current_exe().expect("the harness's own path"));
    launcher
        .arg(LAUNCH)
        .arg(report.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => launcher.env(name, value),
            None => launcher.env_remove(name),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        launcher.current_dir(dir);
    }
    // The client inherits the launcher's standard streams.
    let status = launcher
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .expect("cannot start the measuring launcher");
    assert!(status.success(), "the measuring launcher failed: {status}");
    let text = std::fs::read_to_string(report.path()).expect("read the launcher's report");
    let value: Value = serde_json::from_str(&text).expect("the launcher's report is JSON");
    let secs = |name: &str| Duration::from_secs_f64(value[name].as_f64().unwrap_or(0.0));
    Measured {
        wall: secs("wall_s"),
        user: secs("user_s"),
        sys: secs("sys_s"),
        max_rss_kb: value["max_rss_kb"].as_u64().unwrap_or(0),
        exit_code: value["exit_code"]
            .as_i64()
            .and_then(|code| i32::try_from(code).ok()),
        stderr: String::new(),
    }
}

/// Launcher mode: `--launch-measured REPORT PROGRAM ARGS...` runs PROGRAM, reaps it and
/// writes its wall time, user and system time, peak RSS and exit code to REPORT as JSON.
fn launch(args: &[String]) -> ! {
    let [report, program, rest @ ..] = args else {
        eprintln!("usage: end_to_end {LAUNCH} REPORT PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    let measured = reap_measured(cmd);
    let text = measured.to_json().to_string();
    if let Err(error) = std::fs::write(report, text) {
        eprintln!("end_to_end launcher: cannot write {report}: {error}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

/// Spawns `cmd` and reaps it with `wait4`, which returns the resource usage of that child
/// alone (unlike `getrusage(RUSAGE_CHILDREN)`, which would add up every child so far,
/// imitations included).
fn reap_measured(mut cmd: Command) -> Measured {
    let started = Instant::now();
    let child = cmd.spawn().expect("cannot start blockade");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits in pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; both pointers are to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        assert!(
            error.kind() == std::io::ErrorKind::Interrupted,
            "wait4 failed: {error}"
        );
    }
    let wall = started.elapsed();
    // The child is reaped already; dropping the handle neither waits nor kills.
    drop(child);
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        wall,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        // Linux reports ru_maxrss in kilobytes.
        max_rss_kb: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        exit_code,
        stderr: String::new(),
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

fn median_by<T: Clone>(items: &[T], key: impl Fn(&T) -> f64) -> T {
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| key(a).total_cmp(&key(b)));
    sorted[sorted.len() / 2].clone()
}

// ---------------------------------------------------------------------------------------
// The imitation

/// `blockade mock` as a child process on an ephemeral loopback port.
struct Mock {
    child: Child,
    url: String,
}

impl Mock {
    fn start(bench: &Bench, extra: &[&str]) -> Mock {
        let mut child = Command::new(&bench.bin)
            .args(["mock", "--port", "0", "--key", KEY])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start blockade mock");
        let stdout = child.stdout.take().expect("the mock's stdout is piped");
        let mut first = String::new();
        // Bounded: the line comes once the port is bound, or EOF if the mock dies.
        let _ = BufReader::new(stdout).read_line(&mut first);
        let url = first
            .split_whitespace()
            .last()
            .filter(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("blockade mock did not print its URL: {first:?}"))
            .to_owned();
        Mock { child, url }
    }

    /// `GET /_mock/stats`, parsed.
    fn stats(&self) -> Value {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connect to the mock");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set a read timeout");
        write!(
            stream,
            "GET /_mock/stats HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .expect("ask the mock for its stats");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .expect("read the mock's stats");
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer has a blank line after its headers");
        let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "stats answer: {head}");
        let body = &response[split + 4..];
        let body = if head.contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_vec()
        };
        serde_json::from_slice(&body).expect("the stats are JSON")
    }

    /// Interrupts the mock (it stops on SIGINT) and reaps it; kills it after 5 s.
    fn stop(mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Drop kills and reaps it.
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Decodes a chunked HTTP/1.1 body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("a chunk size in hex");
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// The counters of one run: the stats after minus the stats before, for the fields the
/// checks use (the imitation is shared by the runs of a scenario).
fn delta(before: &Value, after: &Value) -> Value {
    let field = |v: &Value, name: &str| v[name].as_u64().unwrap_or(0);
    let status_200 = |v: &Value| v["by_status"]["200"].as_u64().unwrap_or(0);
    json!({
        "requests": field(after, "requests") - field(before, "requests"),
        "ids_blocked": field(after, "ids_blocked") - field(before, "ids_blocked"),
        "by_status": { "200": status_200(after) - status_200(before) },
        "unique_ids_blocked": field(after, "unique_ids_blocked") - field(before, "unique_ids_blocked"),
    })
}

// ---------------------------------------------------------------------------------------
// The report

struct Row {
    scenario: String,
    figure: String,
    target: String,
    /// `None`: informative only (or smoke mode).
    pass: Option<bool>,
    data: Value,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    /// Runs that did not do what they should: a wrong exit code or a wrong count.
    errors: Vec<String>,
}

impl Report {
    fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Exit 0 and the imitation saw every ID once, in full batches of 100 (the last one
    /// maybe shorter), all answered 200.
    fn check_run(&mut self, what: &str, run: &Measured, seen: &Value, ids: u64) {
        let requests = ids.div_ceil(BATCH);
        let mut wrong = Vec::new();
        if run.exit_code != Some(0) {
            wrong.push(format!("exit code {:?}", run.exit_code));
        }
        if seen["ids_blocked"].as_u64() != Some(ids) {
            wrong.push(format!(
                "{} IDs blocked, expected {ids}",
                seen["ids_blocked"]
            ));
        }
        if seen["requests"].as_u64() != Some(requests)
            || seen["by_status"]["200"].as_u64() != Some(requests)
        {
            wrong.push(format!(
                "{} requests ({} answered 200), expected {requests}",
                seen["requests"], seen["by_status"]["200"]
            ));
        }
        // With --record-ids the imitation also counts distinct IDs: each must arrive once.
        if let Some(unique) = seen["unique_ids_blocked"].as_u64().filter(|&u| u > 0)
            && unique != ids
        {
            wrong.push(format!("{unique} distinct IDs blocked, expected {ids}"));
        }
        if !wrong.is_empty() {
            let tail: String = run
                .stderr
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ");
            self.errors.push(format!(
                "{what}: {}; client stderr: {tail}",
                wrong.join(", ")
            ));
        }
    }

    fn print(&self) {
        let width = |f: fn(&Row) -> &str, title: &str| {
            self.rows
                .iter()
                .map(|r| f(r).chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        };
        let (w1, w2, w3) = (
            width(|r| &r.scenario, "scenario"),
            width(|r| &r.figure, "measured"),
            width(|r| &r.target, "target"),
        );
        println!();
        println!(
            "{:w1$}  {:w2$}  {:w3$}  verdict",
            "scenario", "measured", "target"
        );
        for row in &self.rows {
            let verdict = match row.pass {
                Some(true) => "ok",
                Some(false) => "MISSED",
                None => "-",
            };
            println!(
                "{}  {}  {}  {verdict}",
                pad(&row.scenario, w1),
                pad(&row.figure, w2),
                pad(&row.target, w3)
            );
        }
        println!();
    }

    fn write(&self, path: &Path, full: bool) -> std::io::Result<()> {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "scenario": r.scenario, "measured": r.figure, "target": r.target,
                    "pass": r.pass, "data": r.data,
                })
            })
            .collect();
        let document = json!({
            "mode": if full { "full" } else { "smoke" },
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "results": rows,
            "errors": self.errors,
        });
        let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

/// Pads to `width` characters (not bytes: the targets contain `≥` and `×`).
fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}
