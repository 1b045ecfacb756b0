//! HTTPS end to end (issue 9): the path every real user takes. The real binary talks to the
//! imitation serving TLS on 127.0.0.1 with a throwaway CA: trust through `--ca-cert` and
//! through `SSL_CERT_FILE`, keep-alive over TLS, a certificate the client must refuse (an
//! unknown issuer, another host's name) ending the run at once with exit 3, and a CONNECT
//! tunnel through a small proxy that carries the requests without ever seeing the key.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use blockade::mock::{MockConfig, MockServer, MockTls, Stats};

use crate::util::*;

/// The imitation serving https in this process (its counters are read directly), with
/// its CA certificate written to a file of the test's work directory.
struct TlsMock {
    runtime: tokio::runtime::Runtime,
    server: Option<MockServer>,
    url: String,
    ca: PathBuf,
}

impl TlsMock {
    /// Serves a certificate for loopback names, signed by a new throwaway CA.
    fn start(work: &Work) -> TlsMock {
        TlsMock::with(work, MockTls::generate().expect("make a certificate"))
    }

    fn with(work: &Work, tls: MockTls) -> TlsMock {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let ca = work.write(
            &format!("ca-{}.pem", next_file_number()),
            tls.ca_pem().expect("a generated CA"),
        );
        let server = runtime
            .block_on(MockServer::start_tls(
                ([127, 0, 0, 1], 0).into(),
                MockConfig::new(KEY),
                tls,
            ))
            .expect("start the TLS imitation");
        let url = server.base_url();
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        TlsMock {
            runtime,
            server: Some(server),
            url,
            ca,
        }
    }

    fn stats(&self) -> Stats {
        self.server.as_ref().expect("running").stats()
    }

    fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").addr()
    }
}

impl Drop for TlsMock {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

fn next_file_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `blockade block` to `url` with the key and fast pacing, and nothing from the outside
/// that would change which certificates are trusted or where the connection goes.
fn block_to(work: &Work, url: &str) -> Command {
    let mut cmd = work.blockade();
    cmd.arg("block")
        .args(["--base-url", url, "--results"])
        .arg(work.ledger_path())
        .args(["--backoff-base", "1ms", "--backoff-max", "5ms"])
        .args(["--rate", "2000/s", "--block-for", "1d"])
        .env("ACQUIRE_API_KEY", KEY);
    for name in [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

/// Every blocked ID exactly once, and nothing else.
fn assert_each_blocked_once(stats: &Stats, ids: impl IntoIterator<Item = u64>) {
    let blocked = stats.ids.clone().expect("the imitation records IDs");
    let expected: Vec<u64> = ids.into_iter().collect();
    assert_eq!(blocked.len(), expected.len(), "distinct IDs blocked");
    for id in expected {
        assert_eq!(blocked.get(&id), Some(&1), "ID {id}");
    }
}

#[test]
fn a_ca_given_with_ca_cert_is_trusted_and_connections_are_kept_alive_over_tls() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=2_000));
    let mock = TlsMock::start(&work);
    let ran = run(block_to(&work, &mock.url)
        .args(["--concurrency", "4", "--ca-cert"])
        .arg(&mock.ca)
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let stats = mock.stats();
    assert_each_blocked_once(&stats, 1..=2_000);
    assert_eq!(stats.requests, 20, "100 IDs per request");
    // At most twice the concurrency: see `connections_are_kept_alive_and_reused`.
    assert!(
        (1..=8).contains(&stats.connections),
        "keep-alive over TLS: {} connections for 20 requests at concurrency 4",
        stats.connections
    );
    assert_eq!(
        ledger_ids(&work.ledger(), "blocked"),
        (1..=2_000).collect::<Vec<_>>()
    );
}

#[test]
fn a_ca_in_ssl_cert_file_is_trusted() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=250));
    let mock = TlsMock::start(&work);
    let ran = run(block_to(&work, &mock.url)
        .env("SSL_CERT_FILE", &mock.ca)
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_each_blocked_once(&mock.stats(), 1..=250);
}

#[test]
fn an_untrusted_certificate_stops_the_run_at_once_with_exit_3_and_what_to_check() {
    // Before: every batch spent its 5 attempts on the same handshake failure (2,000 IDs:
    // 100 handshakes, exit 1, "Next: retry"). Now the first failure ends the run.
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=2_000));
    let mock = TlsMock::start(&work);
    // The client trusts another CA only: a deterministic store, whatever the machine has.
    let other = TlsMock::start(&work);
    let summary = work.path("summary.json");
    let ran = run(block_to(&work, &mock.url)
        .args(["--concurrency", "1", "--summary-json"])
        .arg(&summary)
        .env("SSL_CERT_FILE", &other.ca)
        .arg(&input));
    assert_eq!(ran.code, 3, "{}", ran.all());
    let stats = mock.stats();
    assert_eq!(
        stats.connections, 1,
        "one handshake tried, not one per attempt"
    );
    assert_eq!(
        stats.requests, 0,
        "no request went over an untrusted connection"
    );
    for hint in ["--ca-cert", "SSL_CERT_FILE", "clock", "UnknownIssuer"] {
        assert!(
            ran.stdout.contains(hint),
            "{hint} in the summary: {}",
            ran.stdout
        );
    }
    // The rest is not sent (read, then dropped at the abort) or not read at all.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(summary["failed"], 100, "{summary}");
    assert_eq!(summary["blocked"], 0, "{summary}");
    assert_eq!(
        summary["not_sent"].as_u64().unwrap() + summary["unread_rows"].as_u64().unwrap(),
        1_900,
        "{summary}"
    );
    assert_eq!(summary["unread_uncounted"], false, "{summary}");
    assert!(
        ran.stdout.contains("not sent ") || ran.stdout.contains("not read "),
        "{}",
        ran.stdout
    );
    assert!(!ran.all().contains(KEY));

    // The ledger: the one batch tried is failed after one attempt; the rest was never sent.
    let ledger = work.ledger();
    let failed = lines_with_status(&ledger, "failed");
    assert_eq!(failed.len(), 1, "{ledger:?}");
    assert_eq!(failed[0]["attempts"], 1);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("certificate could not be verified"),
        "{}",
        failed[0]
    );
    assert_eq!(ledger_ids(&ledger, "failed"), (1..=100).collect::<Vec<_>>());
    assert!(ledger_ids(&ledger, "blocked").is_empty());
}

#[test]
fn a_certificate_for_another_host_name_stops_the_run_with_exit_3() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=300));
    let tls = MockTls::generate_for(&["acme.example"]).expect("certificate");
    let mock = TlsMock::with(&work, tls);
    let ran = run(block_to(&work, &mock.url)
        .args(["--concurrency", "2", "--ca-cert"])
        .arg(&mock.ca)
        .arg(&input));
    assert_eq!(ran.code, 3, "{}", ran.all());
    assert!(ran.stdout.contains("--base-url"), "{}", ran.stdout);
    assert!(
        ran.stdout.to_lowercase().contains("not valid for name"),
        "{}",
        ran.stdout
    );
    let stats = mock.stats();
    assert_eq!(stats.requests, 0);
    assert!(stats.connections <= 2, "{} handshakes", stats.connections);
    assert!(ledger_ids(&work.ledger(), "blocked").is_empty());
}

/// What the test proxy saw: each CONNECT request's head, and every byte the client sent
/// through the tunnels.
#[derive(Default)]
struct ProxyLog {
    heads: Vec<String>,
    tunnelled: Vec<u8>,
}

/// A CONNECT proxy on 127.0.0.1 that opens tunnels to `allowed` only (any other target
/// gets 403) and copies bytes both ways.
fn tunnel_proxy(allowed: SocketAddr) -> (String, Arc<Mutex<ProxyLog>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(ProxyLog::default()));
    let shared = log.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().take(50) {
            let Ok(client) = client else { continue };
            let log = shared.clone();
            std::thread::spawn(move || tunnel(client, allowed, log));
        }
    });
    (url, log)
}

fn tunnel(mut client: TcpStream, allowed: SocketAddr, log: Arc<Mutex<ProxyLog>>) {
    // The head, a byte at a time: nothing after it may be swallowed by a buffer.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    log.lock().unwrap().heads.push(head.clone());
    let target = head
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|authority| authority.parse::<SocketAddr>().ok());
    if target != Some(allowed) {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let Ok(server) = TcpStream::connect(allowed) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upstream = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from_client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    log.lock().unwrap().tunnelled.extend_from_slice(&buf[..n]);
                    if to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let (mut from_server, mut to_client) = (server, client);
    let _ = std::io::copy(&mut from_server, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    let _ = upstream.join();
}

#[test]
fn https_through_a_connect_tunnel_reaches_the_imitation_and_the_proxy_never_sees_the_key() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=500));
    let mock = TlsMock::start(&work);
    let (proxy, log) = tunnel_proxy(mock.addr());
    let ran = run(block_to(&work, &mock.url)
        .args(["--concurrency", "2", "--ca-cert"])
        .arg(&mock.ca)
        .env("HTTPS_PROXY", &proxy)
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let stats = mock.stats();
    assert_each_blocked_once(&stats, 1..=500);
    let log = log.lock().unwrap();
    assert!(!log.heads.is_empty(), "the proxy was never asked");
    assert_eq!(
        log.heads.len() as u64,
        stats.connections,
        "every connection to the imitation came through the proxy"
    );
    let connect = format!("CONNECT {} HTTP/1.1\r\n", mock.addr());
    for head in &log.heads {
        assert!(head.starts_with(&connect), "{head}");
        assert!(!head.contains(KEY), "the key went to the proxy: {head}");
    }
    assert!(!log.tunnelled.is_empty());
    assert!(
        !log.tunnelled
            .windows(KEY.len())
            .any(|w| w == KEY.as_bytes()),
        "the key crossed the proxy in clear"
    );
}

#[test]
fn a_ca_cert_that_is_missing_or_not_pem_is_exit_2_naming_the_file() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=5));
    let mock = TlsMock::start(&work);
    let junk = work.write("junk.pem", "this is not a certificate\n");
    let key_only = work.write(
        "key-only.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    );
    let broken = work.write(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    );
    let missing = work.path("missing.pem");
    for (file, why) in [
        (&missing, "cannot read"),
        (&junk, "no certificate"),
        (&key_only, "no certificate"),
        (&broken, "not a usable CA certificate"),
    ] {
        let ran = run(block_to(&work, &mock.url)
            .arg("--ca-cert")
            .arg(file)
            .arg(&input));
        assert_eq!(ran.code, 2, "{}: {}", file.display(), ran.all());
        assert!(
            ran.stderr.contains(&file.display().to_string()) && ran.stderr.contains(why),
            "{why}: {}",
            ran.stderr
        );
    }
    assert_eq!(mock.stats().connections, 0, "nothing sent");
    assert!(!work.ledger_path().exists());
}

/// `blockade mock` as a child with extra arguments; returns it and its URL (first line).
fn mock_child(args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    let mut child = Command::new(bin())
        .args(["mock", "--port", "0", "--record-ids", "--key", KEY])
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn blockade mock");
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut reader, &mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    (child, url)
}

#[test]
fn blockade_mock_serves_https_with_its_own_ca_or_with_pem_files() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=120));

    // --tls: a throwaway CA, written where --tls-ca-out says.
    let ca = work.path("mock-ca.pem");
    let (mut child, url) = mock_child(&["--tls-ca-out".as_ref(), ca.as_os_str()]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ran = run(block_to(&work, &url).arg("--ca-cert").arg(&ca).arg(&input));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(
        ledger_ids(&work.ledger(), "blocked"),
        (1..=120).collect::<Vec<_>>()
    );

    // --tls-cert/--tls-key: a certificate made elsewhere (here by rcgen, as a CA would).
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let cert = work.write("leaf.pem", leaf.pem());
    let key = work.write("leaf.key", leaf_key.serialize_pem());
    let ca = work.write("their-ca.pem", issuer.pem());
    let (mut child, url) = mock_child(&[
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let input = work.write("b.csv", csv_of(200..=209));
    let ran = run(block_to(&work, &url).arg("--ca-cert").arg(&ca).arg(&input));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(
        ledger_ids(&work.ledger(), "blocked"),
        (1..=120).chain(200..=209).collect::<Vec<_>>()
    );

    // A key file that holds no key is a usage error, before listening.
    let ran = run(Command::new(bin())
        .args(["mock", "--port", "0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&cert));
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("--tls-key"), "{}", ran.stderr);
}
