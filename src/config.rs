//! Turns raw command-line values into checked, ready objects, in one fallible step.
//!
//! Everything that can be wrong with options (key, URL, account, block-till) is found
//! here, before any traffic, so "exit 2, nothing sent" holds by construction.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::Url;

use crate::cli::{BlockFor, BlockTillArgs, ConnectionArgs};
use crate::ledger::timestamp;
use crate::net::api_key::{ApiKey, KeyError};
use crate::net::endpoint::{self, EndpointError};
use crate::send::pool::{Backoff, PoolConfig};

/// How long in-flight requests may run on after SIGINT/SIGTERM.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error("{what} is in the past: give a future instant, or --block-for 30d")]
    BlockTillPast { what: String },
    #[error(
        "{what} ends {until}, less than a minute from now: a block that short protects nothing; give at least 1min (e.g. --block-for 30d)"
    )]
    BlockTooShort { what: String, until: String },
    #[error(
        "{what} ends {until}, more than 10 years from now; give at most 10y (10 years), or a date before {limit}"
    )]
    BlockTooLong {
        what: String,
        until: String,
        limit: String,
    },
    #[error(
        "no block-till: give --block-till TIME, --block-for DURATION (e.g. 30d) or --block-till-field NAME"
    )]
    NoBlockTill,
    #[error("--backoff-base is above --backoff-max: give a base no longer than the maximum")]
    Backoff,
    #[error("--ca-cert {}: {why}", path.display())]
    CaCert { path: PathBuf, why: String },
}

/// Where requests go and with which key.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: Url,
    pub key: ApiKey,
    /// What the ledger binds a run to: `sandbox`, or the base URL.
    pub name: String,
    /// CA certificates from `--ca-cert`, trusted beside the system's store.
    pub ca_certs: Vec<CertificateDer<'static>>,
}

/// The name the ledger uses for the built-in imitation, whatever its port.
pub const SANDBOX_TARGET: &str = "sandbox";

/// Where `--account`/`--base-url` and their environment variables point. A flag beats
/// the environment (so `ACQUIRE_ACCOUNT` in a profile never makes `--base-url` or
/// `--sandbox` an error); two flags, or two variables with no flag, are an error.
pub fn base_url(args: &ConnectionArgs) -> Result<Url, ConfigError> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (account, base_url) = match (&args.account, &args.base_url) {
        (Some(_), Some(_)) => return Err(EndpointError::Both.into()),
        (Some(account), None) => (Some(account.clone()), None),
        (None, Some(url)) => (None, Some(url.clone())),
        (None, None) => match (from_env("ACQUIRE_ACCOUNT"), from_env("ACQUIRE_BASE_URL")) {
            (Some(_), Some(_)) => return Err(EndpointError::BothInEnv.into()),
            pair => pair,
        },
    };
    Ok(match (account, base_url) {
        (Some(account), _) => endpoint::account_base_url(&account)?,
        (None, Some(url)) => endpoint::check_base_url(&url)?,
        (None, None) => return Err(EndpointError::NoTarget.into()),
    })
}

impl Target {
    /// From `--account`/`--base-url` (or the environment) and the key. Not for `--sandbox`.
    pub fn from_args(args: &ConnectionArgs) -> Result<Target, ConfigError> {
        let base = base_url(args)?;
        let key = ApiKey::load(args.api_key_file.as_deref())?;
        let ca_certs = match &args.ca_cert {
            Some(path) => load_ca_certs(path)?,
            None => Vec::new(),
        };
        Ok(Target {
            url: endpoint::block_url(&base),
            key,
            name: endpoint::target_name(&base),
            ca_certs,
        })
    }

    /// The HTTP client for this target: `max_in_flight` connections kept open between
    /// requests, `--ca-cert` trusted beside the system's store.
    pub fn client(
        &self,
        timeout: std::time::Duration,
        max_in_flight: usize,
    ) -> Result<crate::net::client::Client, crate::net::client::ClientError> {
        crate::net::client::Client::with_extra_roots(
            self.url.clone(),
            &self.key,
            timeout,
            max_in_flight,
            &self.ca_certs,
        )
    }
}

/// Reads `--ca-cert`: one or more PEM certificates, each one usable as a trust anchor.
/// Checked here, so that a wrong file is exit 2 before any traffic rather than a failed
/// handshake later.
pub fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bad = |why: String| ConfigError::CaCert {
        path: path.to_owned(),
        why,
    };
    let text = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let mut certs = Vec::new();
    for (n, cert) in CertificateDer::pem_slice_iter(&text).enumerate() {
        let cert = cert.map_err(|e| bad(format!("certificate {} is not valid PEM: {e}", n + 1)))?;
        // The verifier turns each certificate into a trust anchor; one it cannot parse
        // would otherwise fail every connection instead of the start.
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| {
                bad(format!(
                    "certificate {} is not a usable CA certificate: {e}",
                    n + 1
                ))
            })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(bad(
            "no certificate in it: expected PEM (-----BEGIN CERTIFICATE-----), e.g. your proxy's CA"
                .into(),
        ));
    }
    Ok(certs)
}

/// The pool's pacing and retry settings.
pub fn pool_config(args: &ConnectionArgs) -> Result<PoolConfig, ConfigError> {
    if args.backoff_base > args.backoff_max {
        return Err(ConfigError::Backoff);
    }
    Ok(PoolConfig {
        rate: args.rate,
        burst: args.burst,
        concurrency: args.concurrency,
        max_concurrency: args.max_concurrency as usize,
        max_attempts: args.max_attempts,
        max_wait: args.max_wait,
        backoff: Backoff {
            base: args.backoff_base,
            max: args.backoff_max,
        },
        drain_deadline: DRAIN_DEADLINE,
        gate: Default::default(),
    })
}

/// The longest block: 10 years.
pub const MAX_BLOCK_MONTHS: u32 = 120;

/// The run-wide block-till from `--block-till` or `--block-for`, if either is given: at
/// least a minute and at most 10 years from `now`.
pub fn block_till(
    args: &BlockTillArgs,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ConfigError> {
    let (what, till) = match (args.block_till, args.block_for) {
        (Some(till), _) => (
            format!("--block-till {}", timestamp::format(&till)),
            Some(till),
        ),
        (None, Some(BlockFor::Months(months))) => (
            format!("--block-for {months}mo"),
            now.checked_add_months(chrono::Months::new(months)),
        ),
        (None, Some(BlockFor::Span(span))) => (
            format!("--block-for {}", humantime::format_duration(span)),
            chrono::Duration::from_std(span)
                .ok()
                .and_then(|span| now.checked_add_signed(span)),
        ),
        (None, None) => return Ok(None),
    };
    let limit = latest_block_till(now);
    let too_long = |until: String| ConfigError::BlockTooLong {
        what: what.clone(),
        until,
        limit: timestamp::format(&limit),
    };
    let Some(till) = till else {
        return Err(too_long("beyond any date".to_owned()));
    };
    if args.block_till.is_some() && till <= now {
        return Err(ConfigError::BlockTillPast { what });
    }
    if till < now + chrono::Duration::minutes(1) {
        return Err(ConfigError::BlockTooShort {
            what,
            until: timestamp::format(&till),
        });
    }
    if till > limit {
        return Err(too_long(timestamp::format(&till)));
    }
    Ok(Some(till))
}

/// The latest block-till a block may have: 10 years from `now`.
pub fn latest_block_till(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_add_months(chrono::Months::new(MAX_BLOCK_MONTHS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn till_args(block_till: Option<&str>, block_for: Option<Duration>) -> BlockTillArgs {
        BlockTillArgs {
            block_till: block_till.map(|t| t.parse().unwrap()),
            block_for: block_for.map(BlockFor::Span),
        }
    }

    #[test]
    fn months_are_calendar_months_and_zero_is_refused() {
        let now: DateTime<Utc> = "2026-01-31T12:00:00Z".parse().unwrap();
        let args = BlockTillArgs {
            block_till: None,
            block_for: Some(BlockFor::Months(1)),
        };
        // January 31st plus one calendar month is the last day of February.
        assert_eq!(
            block_till(&args, now).unwrap().unwrap().to_rfc3339(),
            "2026-02-28T12:00:00+00:00"
        );
        for zero in [BlockFor::Months(0), BlockFor::Span(Duration::ZERO)] {
            let args = BlockTillArgs {
                block_till: None,
                block_for: Some(zero),
            };
            assert!(matches!(
                block_till(&args, now),
                Err(ConfigError::BlockTooShort { .. })
            ));
        }
    }

    #[test]
    fn a_block_lasts_a_minute_to_ten_years() {
        let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let span = |secs: u64| till_args(None, Some(Duration::from_secs(secs)));
        let error = block_till(&span(30), now).unwrap_err();
        assert!(error.to_string().contains("less than a minute"), "{error}");
        assert!(block_till(&span(60), now).is_ok());
        let ten_years = BlockTillArgs {
            block_till: None,
            block_for: Some(BlockFor::Months(120)),
        };
        assert!(block_till(&ten_years, now).is_ok());
        let longer = BlockTillArgs {
            block_till: None,
            block_for: Some(BlockFor::Months(121)),
        };
        let error = block_till(&longer, now).unwrap_err();
        assert!(error.to_string().contains("more than 10 years"), "{error}");
        let error = block_till(&till_args(Some("2040-01-01T00:00:00Z"), None), now).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("--block-till 2040-01-01T00:00:00.000Z"),
            "{error}"
        );
    }

    #[test]
    fn block_for_is_added_to_now() {
        let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let till = block_till(&till_args(None, Some(Duration::from_secs(7 * 86400))), now).unwrap();
        assert_eq!(till.unwrap().to_rfc3339(), "2026-12-01T12:00:00+00:00");
        assert_eq!(block_till(&till_args(None, None), now).unwrap(), None);
    }

    #[test]
    fn block_till_in_the_past_is_refused() {
        let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let err = block_till(&till_args(Some("2020-01-01T00:00:00Z"), None), now).unwrap_err();
        assert!(err.to_string().contains("in the past"), "{err}");
        assert!(block_till(&till_args(Some("2030-01-01T00:00:00Z"), None), now).is_ok());
    }

    #[test]
    fn absurd_block_for_is_an_error_not_a_panic() {
        let now = Utc::now();
        assert!(
            block_till(
                &till_args(None, Some(Duration::from_secs(u64::MAX / 4))),
                now
            )
            .is_err()
        );
    }
}
