//! Transport refusals and the secret: what blockade will not do with the key, and where the
//! key must never show up.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::util::*;

/// A one-trick server on 127.0.0.1: reads the head of each request (the body does not
/// matter), hands it to `seen`, and answers with `answer`. Returns its URL.
fn one_answer_server(answer: String, seen: impl Fn(String) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                head.push_str(&line);
                line.clear();
            }
            seen(head);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

/// Answers every request with a redirect to `location`, counting them.
fn redirecting_server(location: String) -> (String, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    let answer = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let url = one_answer_server(answer, move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (url, hits)
}

#[test]
fn redirects_are_not_followed_so_the_key_cannot_travel() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    let elsewhere = Mock::start(&[]);
    let (url, hits) = redirecting_server(format!("{}/api/v1/crm/block-visitor", elsewhere.url));
    let ran = run(work
        .blockade()
        .args([
            "block",
            "--block-for",
            "1d",
            "--max-attempts",
            "1",
            "--base-url",
            &url,
            "--results",
        ])
        .arg(work.ledger_path())
        .env("ACQUIRE_API_KEY", KEY)
        .arg(&input));
    assert_eq!(ran.code, 1, "a redirect is a failed batch: {}", ran.all());
    assert!(hits.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        elsewhere.requests(),
        0,
        "the redirect target never saw the key"
    );
    let failed = lines_with_status(&work.ledger(), "failed").len();
    assert_eq!(failed, 1);
}

#[test]
fn base_urls_that_could_leak_the_key_are_refused_before_any_traffic() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    let cases = [
        ("http://example.com", "loopback"),
        ("http://192.168.1.10:8080", "loopback"),
        ("http://127.0.0.1.nip.io", "loopback"),
        ("ftp://127.0.0.1", "scheme"),
        ("https://user:pw@acme.acquire.io", "credentials"),
        ("not a url", "--base-url"),
    ];
    for (url, hint) in cases {
        let ran = run(work
            .blockade()
            .args(["block", "--block-for", "1d", "--base-url", url])
            .env("ACQUIRE_API_KEY", KEY)
            .arg(&input));
        assert_eq!(ran.code, 2, "{url}: {}", ran.all());
        assert!(
            ran.stderr.contains(hint),
            "{url}: expected {hint:?} in {}",
            ran.stderr
        );
    }
    for account in ["acme.evil.com", "acme/x", "a b", "-acme"] {
        let account = format!("--account={account}");
        let ran = run(work
            .blockade()
            .args(["block", "--block-for", "1d", &account])
            .env("ACQUIRE_API_KEY", KEY)
            .arg(&input));
        assert_eq!(ran.code, 2, "{account}: {}", ran.all());
        assert!(ran.stderr.contains("--account"), "{}", ran.stderr);
    }
    assert!(!work.ledger_path().exists());
}

#[test]
fn empty_or_malformed_keys_are_refused_with_exit_2() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    let mock = Mock::start(&[]);
    for key in ["", "   ", "two words", "tab\there"] {
        let mut cmd = work.block(&mock, &["--block-for", "1d"]);
        cmd.env("ACQUIRE_API_KEY", key).arg(&input);
        let ran = run(&mut cmd);
        assert_eq!(ran.code, 2, "{key:?}: {}", ran.all());
    }
    let key_file = work.write("key", "spaced key\n");
    let mut cmd = work.block(&mock, &["--block-for", "1d", "--api-key-file"]);
    cmd.arg(&key_file).arg(&input);
    assert_eq!(run(&mut cmd).code, 2);
    assert_eq!(mock.requests(), 0);
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_earns_a_warning_and_files_blockade_writes_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let work = Work::new();
    let input = work.write("a.csv", "id\n1\nbad\n");
    let mock = Mock::start(&[]);
    let key_file = work.write("key", format!("{KEY}\n"));
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let summary = work.path("summary.json");
    let mut cmd = work.block(&mock, &["--block-for", "1d", "--summary-json"]);
    cmd.arg(&summary)
        .arg("--api-key-file")
        .arg(&key_file)
        .env_remove("ACQUIRE_API_KEY")
        .arg(&input);
    let ran = run(&mut cmd);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stderr.contains("chmod 600"), "{}", ran.stderr);
    for file in [work.ledger_path(), summary] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is mode {mode:o}", file.display());
    }
}

#[test]
fn the_key_never_appears_anywhere_at_trace_verbosity_in_any_command() {
    let work = Work::new();
    let canary = "canary-5ecr3t-d00d";
    let input = work.write("a.csv", "id\n1\n2\n3\nnope\n");
    // The imitation accepts the canary, so requests succeed and fail with it in use.
    let mock = Mock::start(&["--key", canary, "--fail-rate", "0.5", "--seed", "3"]);
    let summary = work.path("summary.json");
    let failed = work.path("failed.csv");
    let mut outputs = String::new();
    let mut commands: Vec<std::process::Command> = Vec::new();
    let mut block = work.block(
        &mock,
        &[
            "--block-for",
            "1d",
            "--max-attempts",
            "1",
            "--batch-size",
            "1",
            "-vv",
        ],
    );
    block
        .arg("--summary-json")
        .arg(&summary)
        .arg(&input)
        .env("ACQUIRE_API_KEY", canary)
        .env("RUST_LOG", "trace");
    commands.push(block);
    let mut retry = work.blockade();
    retry
        .args([
            "retry",
            "--base-url",
            &mock.url,
            "--rate",
            "1000/s",
            "--max-attempts",
            "1",
            "-vv",
        ])
        .arg(work.ledger_path())
        .env("ACQUIRE_API_KEY", canary)
        .env("RUST_LOG", "trace");
    commands.push(retry);
    let mut report = work.blockade();
    report
        .args(["report", "-vv", "--failed-ids"])
        .arg(&failed)
        .arg(work.ledger_path())
        .env("RUST_LOG", "trace");
    commands.push(report);
    let mut wrong = work.block(&mock, &["--block-for", "1d", "-vv"]);
    wrong
        .arg(&input)
        .env("ACQUIRE_API_KEY", format!("{canary}-wrong"))
        .env("RUST_LOG", "trace");
    commands.push(wrong);
    for mut command in commands {
        let ran = run(&mut command);
        outputs += &ran.all();
    }
    assert!(
        outputs.contains("TRACE") || outputs.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(
        !outputs.contains(canary),
        "the key leaked into stdout/stderr"
    );
    for entry in std::fs::read_dir(work.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file()
            && path
                .extension()
                .is_some_and(|e| e != "csv" || path == failed)
        {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(canary),
                "the key leaked into {}",
                path.display()
            );
        }
    }
}

/// A proxy that refuses every tunnel: records what each client sent before the answer.
fn refusing_proxy() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let url = one_answer_server(answer.to_owned(), move |head| {
        record.lock().unwrap().push(head);
    });
    (url, seen)
}

#[test]
fn https_goes_through_https_proxy_as_a_tunnel_that_never_carries_the_key() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    let (proxy, seen) = refusing_proxy();
    let ran = run(work
        .blockade()
        .args(["block", "--block-for", "1d", "--max-attempts", "1"])
        .args(["--account", "demo", "--results"])
        .arg(work.ledger_path())
        .env("ACQUIRE_API_KEY", KEY)
        .env("HTTPS_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .arg(&input));
    assert_eq!(
        ran.code,
        1,
        "a refused tunnel is a failed batch: {}",
        ran.all()
    );
    let heads = seen.lock().unwrap().clone();
    assert!(!heads.is_empty(), "the proxy was never asked");
    for head in &heads {
        assert!(
            head.starts_with("CONNECT demo.acquire.io:443 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(!head.contains(KEY), "the key went to the proxy: {head}");
    }
    let ledger = work.ledger();
    let failed = lines_with_status(&ledger, "failed");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("tunnel"),
        "{}",
        failed[0]
    );
}
