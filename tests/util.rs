//! Helpers: a work directory, the binary, the imitation as a child process, the ledger.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub const KEY: &str = "test-key-0123456789";

/// The one HTTP client the tests use for their own requests to the imitation (stats,
/// admin routes, list pages, hand-made blocks): reqwest's blocking client, shared. It
/// never goes through a proxy: test traffic stays on 127.0.0.1.
pub fn http() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // reqwest is built without a default TLS provider and refuses to build a client
        // until one is installed, even for plain http (as src/net/client.rs does). Err
        // means one already is.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("the test HTTP client builds")
    })
}

/// One request with the key (`Authorization: Bearer KEY`) and, if given, a JSON body:
/// the status and the body parsed as JSON (the test fails on a body that is not JSON).
pub fn http_json(method: reqwest::Method, url: &str, body: Option<&Value>) -> (u16, Value) {
    let mut request = http().request(method.clone(), url).bearer_auth(KEY);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .text()
        .unwrap_or_else(|e| panic!("{method} {url}: reading the answer: {e}"));
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {url} answered {status}, not JSON ({e}): {text}"));
    (status, body)
}

/// The built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_blockade"))
}

/// The arguments of a 30-day `sync` of the emails in `emails.txt` (one per line).
pub const EMAIL_SYNC: [&str; 6] = [
    "--type",
    "email",
    "--no-header",
    "emails.txt",
    "--block-for",
    "30d",
];

/// The crate root (for fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary work directory that holds inputs and the ledger of one test.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write input");
        path
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.path("results.jsonl")
    }

    /// Every ledger line, parsed (the test fails on a line that is not JSON).
    pub fn ledger(&self) -> Vec<Value> {
        read_ledger(&self.ledger_path())
    }

    /// `blockade` in this directory, with no ACQUIRE_* variables from the outside.
    pub fn blockade(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.current_dir(self.dir.path())
            .env_remove("ACQUIRE_API_KEY")
            .env_remove("ACQUIRE_ACCOUNT")
            .env_remove("ACQUIRE_BASE_URL")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// `blockade block` against `mock`, with the key, the ledger in this directory, fast
    /// pacing (unless `args` set `--rate`) and short backoff; `args` come after.
    pub fn block(&self, mock: &Mock, args: &[&str]) -> Command {
        self.sending("block", mock, args)
    }

    /// `blockade COMMAND` (block, unblock) against `mock`, set up as [`Work::block`] is.
    pub fn sending(&self, command: &str, mock: &Mock, args: &[&str]) -> Command {
        let mut cmd = self.blockade();
        cmd.arg(command)
            .args(["--base-url", &mock.url, "--results"])
            .arg(self.ledger_path())
            .args(["--backoff-base", "1ms", "--backoff-max", "5ms"])
            .env("ACQUIRE_API_KEY", KEY);
        if !args.contains(&"--rate") {
            cmd.args(["--rate", "2000/s"]);
        }
        cmd.args(args);
        cmd
    }
}

/// The ledger's outcome lines (batches and rejects), without the run lines that open each
/// run (see `read_run_lines`).
pub fn read_ledger(path: &Path) -> Vec<Value> {
    read_all_ledger_lines(path)
        .into_iter()
        .filter(|line| line["status"] != "run")
        .collect()
}

/// Every line of the ledger, run lines included.
pub fn read_all_ledger_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("ledger line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// The run lines: one per run, naming its command and target.
pub fn read_run_lines(path: &Path) -> Vec<Value> {
    read_all_ledger_lines(path)
        .into_iter()
        .filter(|line| line["status"] == "run")
        .collect()
}

/// IDs in ledger lines with this status.
pub fn ledger_ids(lines: &[Value], status: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = lines
        .iter()
        .filter(|l| l["status"] == status)
        .flat_map(|l| l["ids"].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_u64().expect("ids are integers"))
        .collect();
    ids.sort_unstable();
    ids
}

pub fn lines_with_status<'a>(lines: &'a [Value], status: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["status"] == status).collect()
}

/// The output of a finished command.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

pub fn run(cmd: &mut Command) -> Ran {
    let out = cmd.output().expect("run blockade");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs with `stdin` as standard input.
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Ran {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn blockade");
    let mut pipe = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `blockade mock` as a child process on an ephemeral port, recording IDs.
pub struct Mock {
    child: Child,
    pub url: String,
}

impl Mock {
    pub fn start(args: &[&str]) -> Mock {
        Mock::start_on(0, args)
    }

    /// The imitation again at the address `earlier` had (which must be stopped): the
    /// same target for the ledger, as a real server that restarted would be.
    pub fn restart(earlier: Mock, args: &[&str]) -> Mock {
        let port: u16 = earlier
            .url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("the mock URL ends in its port");
        drop(earlier);
        Mock::start_on(port, args)
    }

    fn start_on(port: u16, args: &[&str]) -> Mock {
        let key: &[&str] = if args.contains(&"--key") {
            &[]
        } else {
            &["--key", KEY]
        };
        let port = port.to_string();
        let mut child = Command::new(bin())
            .args(["mock", "--port", &port, "--record-ids"])
            .args(key)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn blockade mock");
        let stdout = child.stdout.take().expect("mock stdout");
        let mut first = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut first).expect("mock prints its URL");
        // Keep reading what it prints so that it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = first
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("unexpected first line from blockade mock: {first:?}"))
            .to_owned();
        Mock { child, url }
    }

    /// `GET /_mock/stats`, parsed.
    pub fn stats(&self) -> Value {
        let (status, stats) = http_json(reqwest::Method::GET, &self.at("/_mock/stats"), None);
        assert_eq!(status, 200, "stats: {stats}");
        stats
    }

    /// Blocked ID → how many times the imitation blocked it.
    pub fn blocked_ids(&self) -> BTreeMap<u64, u64> {
        let stats = self.stats();
        stats["ids"]
            .as_object()
            .map(|ids| {
                ids.iter()
                    .map(|(id, n)| (id.parse().expect("id key"), n.as_u64().expect("count")))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn requests(&self) -> u64 {
        self.stats()["requests"].as_u64().expect("requests")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CSV with a header and these IDs, one per row, plus a second column.
pub fn csv_of(ids: impl IntoIterator<Item = u64>) -> String {
    let mut out = String::from("contact_id,name\n");
    for id in ids {
        out += &format!("{id},user {id}\n");
    }
    out
}

/// Asserts every one of `expected` was blocked exactly once and nothing else was.
pub fn assert_blocked_exactly_once(mock: &Mock, expected: impl IntoIterator<Item = u64>) {
    let blocked = mock.blocked_ids();
    let expected: Vec<u64> = expected.into_iter().collect();
    let mut missing = Vec::new();
    for id in &expected {
        match blocked.get(id) {
            Some(1) => {}
            Some(n) => panic!("ID {id} was blocked {n} times"),
            None => missing.push(*id),
        }
    }
    assert!(
        missing.is_empty(),
        "{} IDs never reached the imitation, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(
        blocked.len(),
        expected.len(),
        "the imitation blocked IDs that were not in the input"
    );
}

// ---- Helpers for the resilience tests (appended; nothing above changed). ----

impl Work {
    /// `blockade retry LEDGER` against `mock`, with the key, fast pacing (unless `args`
    /// set `--rate`) and short backoff; `args` come after.
    pub fn retry(&self, mock: &Mock, ledger: &Path, args: &[&str]) -> Command {
        let mut cmd = self.blockade();
        cmd.arg("retry")
            .arg(ledger)
            .args(["--base-url", &mock.url])
            .args(["--backoff-base", "1ms", "--backoff-max", "5ms"])
            .env("ACQUIRE_API_KEY", KEY)
            .args(args);
        if !args.contains(&"--rate") {
            cmd.args(["--rate", "2000/s"]);
        }
        cmd
    }

    /// `blockade report ARGS` in this directory.
    pub fn report(&self, args: &[&str]) -> Command {
        let mut cmd = self.blockade();
        cmd.arg("report").args(args);
        cmd
    }
}

/// Every ledger line that parses, and how many lines did not (a torn last line after a
/// crash is allowed to be one of those).
pub fn read_ledger_tolerant(path: &Path) -> (Vec<Value>, usize) {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let mut lines = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(value) if value["status"] == "run" => {}
            Ok(value) => lines.push(value),
            Err(_) => bad += 1,
        }
    }
    (lines, bad)
}

/// The latest status per ID (later lines win), as the ledger's contract defines it.
pub fn latest_status(lines: &[Value]) -> BTreeMap<u64, String> {
    let mut latest = BTreeMap::new();
    for line in lines {
        let status = line["status"].as_str().unwrap_or_default();
        for id in line["ids"].as_array().into_iter().flatten() {
            latest.insert(id.as_u64().expect("ids are integers"), status.to_owned());
        }
    }
    latest
}

/// How many ledger lines (of a batch kind) there are, whatever their status.
pub fn batch_lines(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["ids"].is_array()).collect()
}

impl Mock {
    /// How many answers the imitation gave with this status (0: connection dropped).
    pub fn answered(&self, status: u16) -> u64 {
        self.stats()["by_status"][status.to_string()]
            .as_u64()
            .unwrap_or(0)
    }
}

/// A `blockade` child whose output is collected in the background, so that it can be
/// signalled, polled and killed while it runs.
pub struct Running {
    pub child: Child,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    pub fn spawn(cmd: &mut Command) -> Running {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn blockade");
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = pipe.read_to_end(&mut text);
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let stdout = child.stdout.take().map(|p| drain(Box::new(p)));
        let stderr = child.stderr.take().map(|p| drain(Box::new(p)));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`INT`, `TERM`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Polls `condition` every 20 ms until it holds, as [`wait_until`] does, but fails at
    /// once, with what the child printed, if the child has exited before it held.
    pub fn wait_until(
        &mut self,
        limit: std::time::Duration,
        what: &str,
        mut condition: impl FnMut() -> bool,
    ) {
        let deadline = std::time::Instant::now() + limit;
        while !condition() {
            if let Ok(Some(status)) = self.child.try_wait() {
                if condition() {
                    return;
                }
                let take = |handle: Option<std::thread::JoinHandle<String>>| {
                    handle
                        .map(|h| h.join().unwrap_or_default())
                        .unwrap_or_default()
                };
                panic!(
                    "blockade exited ({status}) before {what}:\n{}\n{}",
                    take(self.stdout.take()),
                    take(self.stderr.take())
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {limit:?} waiting until {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits at most `limit` for the child to exit (killing it and failing the test
    /// past that), and returns what it printed.
    pub fn finish(mut self, limit: std::time::Duration) -> Ran {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("blockade did not exit within {limit:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let take = |handle: Option<std::thread::JoinHandle<String>>| {
            handle
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: take(self.stdout.take()),
            stderr: take(self.stderr.take()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a sender running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `condition` every 20 ms until it holds; fails the test after `limit`.
pub fn wait_until(limit: std::time::Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// 1234567 → "1,234,567", as the summary prints counts.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Reads a child's stdout and stderr on threads, so it never blocks on a full pipe.
fn drain_output(
    child: &mut Child,
) -> (
    std::thread::JoinHandle<String>,
    std::thread::JoinHandle<String>,
) {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    }
    (drain(child.stdout.take()), drain(child.stderr.take()))
}

/// Runs `cmd` to its end and also returns the child's peak resident memory in KiB.
/// Output is drained on threads so the child never blocks on a full pipe.
///
/// The figure is `ru_maxrss` from `wait4` (exact and race-free: the kernel keeps it until
/// the child is reaped), with one catch: Linux charges a child spawned by `vfork` (as
/// `Command` does) with this test process's own peak RSS at the `exec`. So when the
/// child's figure is not above this process's own peak (say, after another test's panic
/// loaded debug info for a backtrace), it may be ours, not the child's: then the child's
/// own high-water mark (`VmHWM`, which `exec` resets) is used, sampled every few
/// milliseconds while it ran. In that case the true peak is also at most our own peak,
/// so a bound checked against either figure still holds.
// The child is reaped by `wait4` below, which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_measured(cmd: &mut Command) -> (Ran, u64) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn blockade");
    let (stdout, stderr) = drain_output(&mut child);
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let sampled = sample_high_water_mark(pid);
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, zeroed is a valid value, and wait4 only writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: valid pointers to locals; `pid` is our own child, not yet reaped (the
        // `Child` is never waited on after this, so there is no double reap).
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        }
        break reaped;
    };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let ran = Ran {
        code,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    let reported = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    let sampled = sampled.join().expect("sampler");
    // SAFETY: as above; getrusage only writes the struct.
    let mut own: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut own) };
    let own_peak = u64::try_from(own.ru_maxrss).unwrap_or(0);
    let rss_kb = if reported > own_peak || sampled == 0 {
        reported
    } else {
        sampled
    };
    (ran, rss_kb)
}

/// Samples `VmHWM` (KiB) of process `pid` every 2 ms until it is gone, on a thread; the
/// thread returns the last value read (the mark only rises).
fn sample_high_water_mark(pid: libc::pid_t) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut last = 0;
        while let Ok(status) = std::fs::read_to_string(&path) {
            // A zombie (exited, not yet reaped) has no Vm lines: its last mark stands.
            let Some(kb) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            else {
                break;
            };
            last = kb;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        last
    })
}

/// Runs `cmd` like [`run`], but kills it and fails the test if it has not ended after
/// `limit`: for inputs (a FIFO) where a regression would hang the run forever. Not a
/// timing assertion: the limit is far above any normal run.
pub fn run_with_deadline(cmd: &mut Command, limit: std::time::Duration) -> Ran {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn blockade");
    let (stdout, stderr) = drain_output(&mut child);
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let ran = Ran {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    assert!(
        status.is_some(),
        "blockade did not end within {limit:?} (killed): {}",
        ran.all()
    );
    ran
}

/// A ledger's run line, for hand-written ledgers: it binds run `run`'s lines to `target`
/// (a mock's URL, as blockade names it), so that `retry` and `--resume` trust them.
pub fn run_line(run: &str, target: &str) -> String {
    serde_json::json!({
        "run": run, "status": "run", "command": "block", "target": target,
        "started_at": "2021-01-01T00:00:00.000Z", "version": "test"
    })
    .to_string()
}

// ---- Helpers for the truth tests (appended; nothing above changed). ----

impl Mock {
    /// `GET path` (with its query) with the key, as a client would call the list and get
    /// routes: the status and the body, parsed.
    pub fn get_json(&self, path: &str) -> (u16, Value) {
        http_json(reqwest::Method::GET, &self.at(path), None)
    }

    /// `POST path` with the key and `body` as JSON (a block, or an admin route): the
    /// status and the body, parsed.
    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        http_json(reqwest::Method::POST, &self.at(path), Some(body))
    }

    /// The full URL of `path` (with its query) at the imitation.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The port the imitation listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("the mock URL ends in its port")
    }
}

impl Work {
    /// A `--summary-json` file in this directory, parsed.
    pub fn summary(&self, name: &str) -> Value {
        let text = std::fs::read_to_string(self.path(name)).expect("--summary-json was written");
        serde_json::from_str(&text).expect("summary JSON parses")
    }

    /// The names of the files in this directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("read work dir")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// Fails the test if the key appears in any file of this directory.
    pub fn assert_key_nowhere(&self) {
        for name in self.files() {
            let bytes = std::fs::read(self.path(&name)).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(KEY),
                "the API key appears in {name}"
            );
        }
    }
}

impl Ran {
    /// Fails the test if the key appears in stdout or stderr.
    pub fn assert_no_key(&self) {
        assert!(!self.stdout.contains(KEY), "the API key is in stdout");
        assert!(!self.stderr.contains(KEY), "the API key is in stderr");
    }
}

/// A loopback port where nothing listens (bound, noted, released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Work {
    /// [`Work::block`] with the ledger at `results` (a path, or a name in this directory)
    /// instead of `results.jsonl`.
    pub fn block_into(
        &self,
        mock: &Mock,
        results: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
    ) -> Command {
        let mut cmd = self.blockade();
        cmd.arg("block")
            .args(["--base-url", &mock.url, "--results"])
            .arg(results)
            .args(["--backoff-base", "1ms", "--backoff-max", "5ms"])
            .env("ACQUIRE_API_KEY", KEY);
        if !args.contains(&"--rate") {
            cmd.args(["--rate", "2000/s"]);
        }
        cmd.args(args);
        cmd
    }
}

// ---- Next: hints (moved from truth.rs; used by every_kind.rs too) ----

/// The `Next:` lines a run printed (stdout or stderr), without the prefix.
pub fn next_lines(ran: &Ran) -> Vec<String> {
    ran.all()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Next: "))
        .map(str::to_owned)
        .collect()
}

/// Runs a printed command line, exactly as printed, through `sh -c` in the work
/// directory. It must start with the program as it was started (here the built binary's
/// path: `blockade` itself when it was found on the PATH).
pub fn run_printed(work: &Work, line: &str, key_in_env: bool) -> Ran {
    let program = bin().display().to_string();
    assert!(
        line.starts_with(&program) || line.starts_with(&format!("'{program}'")),
        "a Next: line starts with the program as it was started ({program}): {line}"
    );
    let script = line.to_owned();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .current_dir(work.dir.path())
        .env_remove("ACQUIRE_API_KEY")
        .env_remove("ACQUIRE_ACCOUNT")
        .env_remove("ACQUIRE_BASE_URL")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null());
    if key_in_env {
        cmd.env("ACQUIRE_API_KEY", KEY);
    }
    run(&mut cmd)
}

impl Mock {
    /// `POST path` of an admin route (`/_mock/unblock`, `/_mock/expire`, `/_mock/seed`)
    /// with the key and a JSON body: the answer, parsed.
    pub fn admin(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post_json(path, body);
        assert_eq!(status, 200, "{path} answered: {answer}");
        answer
    }

    /// The account's records (`GET /_mock/records?QUERY`), e.g. `type=email&expired=false`.
    pub fn records(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.get_json(&format!("/_mock/records?{query}"));
        assert_eq!(status, 200, "{body}");
        body["records"].as_array().cloned().unwrap_or_default()
    }

    /// Writes (POSTs and DELETEs) the imitation received from clients.
    pub fn writes(&self) -> u64 {
        self.stats()["writes"].as_u64().expect("stats has writes")
    }
}

impl Work {
    /// `blockade sync` against `mock`, set up as [`Work::block`] is; `args` come after.
    pub fn sync(&self, mock: &Mock, args: &[&str]) -> Command {
        self.sending("sync", mock, args)
    }

    /// `blockade verify LEDGER` against `mock` (read-only); `args` come after.
    pub fn verify(&self, mock: &Mock, args: &[&str]) -> Command {
        let mut cmd = self.blockade();
        cmd.arg("verify")
            .arg(self.ledger_path())
            .args(["--base-url", &mock.url])
            .args(["--backoff-base", "1ms", "--backoff-max", "5ms"])
            .env("ACQUIRE_API_KEY", KEY)
            .args(args);
        cmd
    }
}
