//! Where requests go: `--account`, `--base-url` or the sandbox, checked before any traffic.
//!
//! The constraint: no option value can steer the key to another host. An account name is
//! letters, digits and `-` only; a base URL is `https://` anywhere or plain `http://` to a
//! loopback address only (127.0.0.0/8, ::1, `localhost`).

use std::net::IpAddr;

use url::Url;

/// Path of the block endpoint, appended to the base URL.
pub const BLOCK_PATH: &str = "/api/v1/crm/block-visitor";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error(
        "no target: give --account ACCOUNT (or env ACQUIRE_ACCOUNT), --base-url URL, \
         or --sandbox to try the built-in imitation"
    )]
    NoTarget,
    #[error("--account and --base-url both given: use one")]
    Both,
    #[error(
        "both ACQUIRE_ACCOUNT and ACQUIRE_BASE_URL are set: unset one, or give --account or --base-url to choose"
    )]
    BothInEnv,
    #[error(
        "invalid --account '{0}': use the account name only (letters, digits and '-', \
         at most 63, not starting or ending with '-'), e.g. --account acme"
    )]
    BadAccount(String),
    #[error("invalid --base-url '{url}': {why}")]
    BadUrl { url: String, why: String },
}

/// Checks an account name and returns its base URL.
pub fn account_base_url(account: &str) -> Result<Url, EndpointError> {
    let ok = !account.is_empty()
        && account.len() <= 63
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !account.starts_with('-')
        && !account.ends_with('-');
    if !ok {
        return Err(EndpointError::BadAccount(account.into()));
    }
    Url::parse(&format!(
        "https://{}.acquire.io",
        account.to_ascii_lowercase()
    ))
    .map_err(|e| EndpointError::BadAccount(format!("{account} ({e})")))
}

/// Checks a `--base-url`: https anywhere, http only to loopback, nothing else.
pub fn check_base_url(text: &str) -> Result<Url, EndpointError> {
    let bad = |why: &str| EndpointError::BadUrl {
        url: text.into(),
        why: why.into(),
    };
    let url = Url::parse(text.trim())
        .map_err(|e| bad(&format!("{e}; expected e.g. https://acme.acquire.io")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials in the URL are not allowed; the key comes from ACQUIRE_API_KEY or --api-key-file",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "a query or fragment is not allowed; give the base only, e.g. https://acme.acquire.io",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                "plain http:// is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https://",
            ));
        }
        other => {
            return Err(bad(&format!(
                "scheme '{other}' is not supported; use https://"
            )));
        }
    }
    if url.host().is_none() {
        return Err(bad("no host"));
    }
    Ok(url)
}

/// The full endpoint URL for a base (keeping any path prefix the base has).
pub fn block_url(base: &Url) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{BLOCK_PATH}"));
    url
}

/// The name a ledger binds a run to: the base URL without a trailing slash
/// (`https://acme.acquire.io`), the same whether it came from `--account` or `--base-url`.
pub fn target_name(base: &Url) -> String {
    base.as_str().trim_end_matches('/').to_owned()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_letters_digits_and_dashes() {
        assert_eq!(
            account_base_url("acme").unwrap().as_str(),
            "https://acme.acquire.io/"
        );
        assert_eq!(
            account_base_url("Acme-2").unwrap().as_str(),
            "https://acme-2.acquire.io/"
        );
        for bad in [
            "",
            "-acme",
            "acme-",
            "acme.evil.com",
            "acme/..",
            "evil.com#",
            "a b",
            "acme@x",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(account_base_url(bad), Err(EndpointError::BadAccount(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.5.5.5",
            "http://[::1]:9",
            "http://localhost:1",
            "https://acme.acquire.io",
            "https://10.0.0.1",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://example.com",
            "http://127.0.0.1.evil.com",
            "ftp://127.0.0.1",
            "file:///etc/passwd",
            "https://user:pw@acme.acquire.io",
            "https://acme.acquire.io/?x=1",
            "acme.acquire.io",
            "",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoint_keeps_a_base_path_prefix() {
        let base = check_base_url("http://127.0.0.1:9/prefix/").unwrap();
        assert_eq!(
            block_url(&base).as_str(),
            "http://127.0.0.1:9/prefix/api/v1/crm/block-visitor"
        );
        let base = check_base_url("https://acme.acquire.io").unwrap();
        assert_eq!(
            block_url(&base).as_str(),
            "https://acme.acquire.io/api/v1/crm/block-visitor"
        );
    }
}
