//! `blockade mock`: serve the built-in imitation of the Acquire endpoint on loopback, with
//! fault injection, until Ctrl-C. Prints its URL on stdout (first line) so scripts and tests
//! can find an ephemeral port; `GET /_mock/stats` reports what it received. With `--tls`
//! or `--tls-cert/--tls-key` it serves https, so a client's TLS path can be tried locally.
//! `--seed-records` and `--seed-range` give the account records made by others.

use anyhow::{Context, bail};

use crate::cli::MockArgs;
use crate::exit::ExitStatus;
use crate::mock::{BlockListOptions, Faults, MockConfig, MockServer, MockTls, Seed};

/// The key the imitation accepts when none is given.
pub const DEFAULT_MOCK_KEY: &str = "test-key";

/// The block list's options from the flags.
fn block_list_options(args: &MockArgs) -> BlockListOptions {
    BlockListOptions {
        keep: args.block_list,
        answer: args.answer,
        on_duplicate: args.on_duplicate,
        on_expired_duplicate: args.on_expired_duplicate,
        values_per_record: args.values_per_record,
        list_ignores_offset: args.list_ignores_offset,
        block_till_rounding: args.block_till_rounding,
    }
}

/// The account's records before the first request: the seed files read, then the ranges.
fn seeds(args: &MockArgs) -> anyhow::Result<Vec<Seed>> {
    let mut seeds = Vec::new();
    for path in &args.seed_records {
        seeds.extend(crate::mock::read_seed_file(path)?);
    }
    seeds.extend(args.seed_range.iter().cloned().map(Seed::Range));
    Ok(seeds)
}

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
        .map(|key| key.0)
        .or_else(|| std::env::var(crate::net::api_key::KEY_ENV).ok())
        .unwrap_or_else(|| DEFAULT_MOCK_KEY.to_owned());
    // Seed files are read before the port is taken: a bad line is a usage error.
    let seeds = seeds(&args)?;
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
            block_list: block_list_options(&args),
        },
        seeds,
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
    let server = match started {
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => bail!("{error}"),
        started => started.with_context(|| {
            format!(
                "cannot listen on {}:{} (is the port in use? try --port 0)",
                args.host, args.port
            )
        })?,
    };
    let ca_file = match server.ca_pem() {
        Some(pem) => {
            let path = args.tls_ca_out.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("blockade-mock-ca-{}.pem", server.addr().port()))
            });
            crate::job::output::write_private(&path, pem.as_bytes()).with_context(|| {
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
        path = crate::net::endpoint::BLOCK_PATH
    );
    if let Some(path) = &ca_file {
        banner += &format!(
            "  trust its throwaway CA with: --ca-cert {}\n",
            path.display()
        );
    }
    let seeded = server.stats();
    if seeded.records_seeded > 0 {
        banner += &format!(
            "  account seeded with {} ({} expired)   GET {}/_mock/records\n",
            crate::values::count::plural(seeded.records_seeded, "record"),
            seeded.expired_records,
            server.base_url()
        );
    }
    crate::job::output::print_stdout(&banner);
    if let Some(path) = &ca_file {
        crate::ui::logging::event(
            "INFO",
            &format!(
                "blockade mock: throwaway CA certificate written to {} (give it to --ca-cert)",
                path.display()
            ),
            serde_json::json!({ "ca_certificate": path.display().to_string() }),
        );
    }
    tracing::info!(url = %server.base_url(), "Imitation ready; Ctrl-C stops it");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    let stats = server.stats();
    server.shutdown().await;
    crate::job::output::print_stdout(&format!(
        "blockade mock stopped after {} ({} blocked)\n",
        crate::ui::summary::plural(stats.api_calls(), "request"),
        crate::ui::summary::plural(stats.ids_blocked, "ID")
    ));
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::mock::{Kind, OnDuplicate, SeedRange, SeedRecord, SeedTill};
    use clap::Parser;

    fn options(flags: &[&str]) -> anyhow::Result<(BlockListOptions, Vec<Seed>)> {
        let cli = Cli::try_parse_from(["blockade", "mock"].iter().chain(flags))?;
        match cli.command {
            Command::Mock(args) => Ok((block_list_options(&args), seeds(&args)?)),
            _ => anyhow::bail!("not the mock command"),
        }
    }

    #[test]
    fn account_state_flags_reach_the_block_list_options() {
        let (_dir, file) = crate::testing::temp_file(
            "others.jsonl",
            "{\"type\":\"ip\",\"values\":[\"::1\"],\"blockTill\":\"-1d\"}\n",
        );
        let file = file.to_str().expect("UTF-8 path");
        let (options, seeds) = options(&[
            "--seed-records",
            file,
            "--seed-range",
            "contact:1-5,till=-1h",
            "--seed-range",
            "email:1-4,per=2",
            "--on-duplicate",
            "400",
            "--on-expired-duplicate",
            "add",
            "--values-per-record",
            "all",
            "--block-till-rounding",
            "end-of-day",
        ])
        .expect("valid flags");
        assert_eq!(options.on_duplicate, OnDuplicate::Reject);
        assert_eq!(options.on_expired_duplicate, Some(OnDuplicate::Add));
        assert_eq!(options.values_per_record, usize::MAX);
        assert_eq!(
            options.block_till_rounding,
            crate::mock::TillRounding::EndOfDay
        );
        assert_eq!(
            seeds,
            [
                Seed::Record(
                    SeedRecord::ips(["::1"]).till(SeedTill::FromNow(chrono::TimeDelta::days(-1)))
                ),
                Seed::Range(SeedRange {
                    block_till: SeedTill::FromNow(chrono::TimeDelta::hours(-1)),
                    ..SeedRange::contacts(1, 5)
                }),
                Seed::Range(SeedRange {
                    kind: Kind::Email,
                    per_record: 2,
                    ..SeedRange::contacts(1, 4)
                }),
            ]
        );
        assert!(options.keeps_list(false));
    }

    #[test]
    fn debug_of_the_flags_does_not_show_the_key() {
        let cli = Cli::try_parse_from(["blockade", "mock", "--key", "s3cret-mock-key"])
            .expect("valid flags");
        let shown = format!("{cli:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        let Command::Mock(args) = cli.command else {
            panic!("not the mock command");
        };
        assert_eq!(
            args.key.map(|key| key.0).as_deref(),
            Some("s3cret-mock-key")
        );
    }

    #[test]
    fn defaults_keep_the_fast_path_and_bad_values_are_refused() {
        let (plain, seeds) = options(&[]).expect("no flags");
        assert_eq!(plain, BlockListOptions::default());
        assert!(seeds.is_empty());
        assert!(!plain.keeps_list(false));
        assert_eq!(
            options(&["--values-per-record", "3"])
                .map(|(o, _)| o.values_per_record)
                .ok(),
            Some(3)
        );
        for bad in [
            &["--values-per-record", "0"][..],
            &["--seed-range", "contact:0-3"],
            &["--seed-range", "visitor:1-3"],
            &["--on-expired-duplicate", "ignore"],
            &["--seed-records", "/nonexistent/seed.jsonl"],
        ] {
            assert!(options(bad).is_err(), "{bad:?}");
        }
    }
}
