//! `blockade mock`: serve the built-in imitation of the Acquire endpoint on loopback, with
//! fault injection, until Ctrl-C. Prints its URL on stdout (first line) so scripts and tests
//! can find an ephemeral port; `GET /_mock/stats` reports what it received.

use anyhow::{Context, bail};

use crate::cli::MockArgs;
use crate::cmd;
use crate::exit::ExitStatus;
use crate::mock::{Faults, MockConfig, MockServer};

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
            fail_rate: args.fail_rate,
            false_rate: args.false_rate,
            latency: args.latency,
            reset_rate: args.reset_rate,
            poison: args.poison.clone(),
            revoke_after: args.revoke_after,
            seed: args.seed,
        },
    };
    let server = MockServer::start((args.host, args.port).into(), config)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (is the port in use? try --port 0)",
                args.host, args.port
            )
        })?;
    // The first line is what scripts and tests read to find the port. Printing must not
    // take the server down when whoever started it stopped reading stdout.
    cmd::print_stdout(&format!(
        "blockade mock listening on {url}\n  POST {url}{path}   GET {url}/_mock/stats\n",
        url = server.base_url(),
        path = crate::endpoint::BLOCK_PATH
    ));
    tracing::info!(url = %server.base_url(), "Imitation ready; Ctrl-C stops it");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    let stats = server.stats();
    server.shutdown().await;
    cmd::print_stdout(&format!(
        "blockade mock stopped after {} requests ({} IDs blocked)\n",
        stats.requests, stats.ids_blocked
    ));
    Ok(ExitStatus::Success)
}
