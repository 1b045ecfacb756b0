//! `blockade mock`: serve the built-in imitation of the Acquire endpoint on loopback, with
//! fault injection, until Ctrl-C. Prints its URL on stdout (first line) so scripts and tests
//! can find an ephemeral port; `GET /_mock/stats` reports what it received. With `--tls`
//! or `--tls-cert/--tls-key` it serves https, so a client's TLS path can be tried locally.

use anyhow::{Context, bail};

use crate::cli::MockArgs;
use crate::cmd;
use crate::exit::ExitStatus;
use crate::mock::{BlockListOptions, Faults, MockConfig, MockServer, MockTls};

/// The key the imitation accepts when none is given.
pub const DEFAULT_MOCK_KEY: &str = "test-key";

pub async fn run(args: MockArgs) -> anyhow::Result<ExitStatus> {
    if !args.host.is_loopback() {
        bail!(
            "--host {} is not a loopback address: the imitation serves 127.0.0.1 or ::1 only",
            args.host
        );
    }
    let key = args
        .key
        .clone()
        .or_else(|| std::env::var(crate::api_key::KEY_ENV).ok())
        .unwrap_or_else(|| DEFAULT_MOCK_KEY.to_owned());
    let config = MockConfig {
        key,
        record_ids: args.record_ids,
        faults: Faults {
            rate_limit: args.rate_limit,
            limit_kind: args.limit_kind,
            limit_burst: args.limit_burst,
            retry_after_secs: args.retry_after,
            ratelimit_headers: args.ratelimit_headers,
            fail_rate: args.fail_rate,
            false_rate: args.false_rate,
            odd_answer_rate: args.odd_answer_rate,
            latency: args.latency,
            reset_rate: args.reset_rate,
            poison: args.poison.clone(),
            revoke_after: args.revoke_after,
            seed: args.seed,
            block_list: BlockListOptions {
                keep: args.block_list,
                answer: args.answer,
                on_duplicate: args.on_duplicate,
                list_ignores_offset: args.list_ignores_offset,
            },
        },
    };
    // Certificates are read (or made) before the port is taken: a bad file is a usage error.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(MockTls::from_pem_files(cert, key)?),
        _ if args.tls || args.tls_ca_out.is_some() => Some(MockTls::generate()?),
        _ => None,
    };
    let addr = (args.host, args.port).into();
    let started = match tls.clone() {
        Some(tls) => MockServer::start_tls(addr, config, tls).await,
        None => MockServer::start(addr, config).await,
    };
    let server = started.with_context(|| {
        format!(
            "cannot listen on {}:{} (is the port in use? try --port 0)",
            args.host, args.port
        )
    })?;
    let ca_file = match server.ca_pem() {
        Some(pem) => {
            let path = args.tls_ca_out.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("blockade-mock-ca-{}.pem", server.addr().port()))
            });
            cmd::write_private(&path, pem.as_bytes()).with_context(|| {
                format!(
                    "cannot write the mock's CA certificate to {}",
                    path.display()
                )
            })?;
            Some(path)
        }
        None => None,
    };
    // The first line is what scripts and tests read to find the port. Printing must not
    // take the server down when whoever started it stopped reading stdout.
    let mut banner = format!(
        "blockade mock listening on {url}\n  POST {url}{path}   GET {url}/_mock/stats\n",
        url = server.base_url(),
        path = crate::endpoint::BLOCK_PATH
    );
    if let Some(path) = &ca_file {
        banner += &format!(
            "  trust its throwaway CA with: --ca-cert {}\n",
            path.display()
        );
    }
    cmd::print_stdout(&banner);
    if let Some(path) = &ca_file {
        eprintln!(
            "blockade mock: throwaway CA certificate written to {} (give it to --ca-cert)",
            path.display()
        );
    }
    tracing::info!(url = %server.base_url(), "Imitation ready; Ctrl-C stops it");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    let stats = server.stats();
    server.shutdown().await;
    cmd::print_stdout(&format!(
        "blockade mock stopped after {} ({} blocked)\n",
        crate::summary::plural(stats.requests, "request"),
        crate::summary::plural(stats.ids_blocked, "ID")
    ));
    Ok(ExitStatus::Success)
}
