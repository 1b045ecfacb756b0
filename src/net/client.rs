//! The HTTP client: sends one prepared request (`HttpCall`: method, target, body,
//! answer cap) to the endpoint and hands back the answer. It knows no operation and reads
//! no body: what an answer means is `api`'s (one `Step` per operation).
//!
//! The constraint kept here: the key goes only into a header marked sensitive, redirects
//! are never followed (the key must not travel to another host), at most `max_body` bytes
//! of any answer are read, and every transport failure is an `Answer`, never an error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, Response, Uri};
use url::Url;

use crate::net::api_key::ApiKey;
use crate::net::connections::{self, HttpClient};
use crate::net::ratelimit_headers::{self, Advertised};

/// Most bytes of an answer body read; the rest is dropped.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// One HTTP request as the client sends it: built once per operation, for all attempts.
#[derive(Clone, Debug)]
pub struct HttpCall {
    pub method: Method,
    /// Path and query; `None` is the endpoint's own path (`/api/v1/crm/block-visitor`).
    pub target: Option<Uri>,
    pub body: Bytes,
    /// Most bytes of the answer read (hostile servers are capped).
    pub max_body: usize,
}

/// What came back for one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// An HTTP answer: status, `Retry-After` if any, the (capped) body, and the limit
    /// the server advertised.
    Http {
        status: u16,
        retry_after: Option<RetryAfter>,
        body: Vec<u8>,
        /// The limit the server advertised in its rate-limit headers, if it did
        /// (`ratelimit_headers`; boxed: most answers carry none).
        advertised: Option<Box<Advertised>>,
    },
    /// No HTTP answer: timeout, refused, reset, broken body.
    Transport {
        kind: TransportKind,
        message: String,
    },
}

#[cfg(test)]
impl Answer {
    /// An HTTP answer with `status` and `body` and nothing else, as the operations' unit
    /// tests read them.
    pub fn of(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
            advertised: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Timeout,
    Connect,
    /// The server's certificate could not be verified (unknown issuer, another host's
    /// name, expired...): retrying cannot help, so the run stops.
    Certificate,
    Other,
}

/// The longest wait a server's `Retry-After` is taken to ask for: a day. The value is the
/// server's, not to be trusted; the gate's longest pause is the same.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A `Retry-After` header: seconds, or an HTTP date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    Delay(Duration),
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// Parses the header value; `None` when it is neither form. Delays are capped at
    /// [`MAX_RETRY_AFTER`] (a day): the value is the server's, not to be trusted.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Any run of digits, however long: a number past u64 is "very long", not junk.
            let secs = value.parse::<u64>().unwrap_or(u64::MAX);
            let delay = Duration::from_secs(secs).min(MAX_RETRY_AFTER);
            return Some(RetryAfter::Delay(delay));
        }
        DateTime::parse_from_rfc2822(value)
            .ok()
            .map(|t| RetryAfter::At(t.with_timezone(&Utc)))
    }

    /// How long to wait from `now`, at most [`MAX_RETRY_AFTER`].
    pub fn delay_from(&self, now: DateTime<Utc>) -> Duration {
        let delay = match self {
            RetryAfter::Delay(delay) => *delay,
            RetryAfter::At(at) => at
                .signed_duration_since(now)
                .to_std()
                .unwrap_or(Duration::ZERO),
        };
        delay.min(MAX_RETRY_AFTER)
    }
}

/// Sends requests to one endpoint with one key, over kept-alive connections
/// (`connections`).
///
/// Built on hyper rather than reqwest: reqwest's per-request layers (redirect policy, URL
/// re-parsing, default-header copies) were a tenth of a run's CPU, and this client needs
/// none of them. What reqwest gave that is kept: rustls with the platform's roots,
/// keep-alive, a timeout, and `HTTPS_PROXY`/`NO_PROXY`.
#[derive(Clone)]
pub struct Client {
    http: HttpClient,
    url: Url,
    /// The endpoint's URI, absolute (the pooled client sends its path and query).
    endpoint: Uri,
    host: HeaderValue,
    /// `Bearer <key>`, marked sensitive so hyper never shows it.
    auth: HeaderValue,
    timeout: Duration,
}

const USER_AGENT_VALUE: &str = concat!("blockade/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// Builds the client. `max_in_flight` is the most requests at once: that many
    /// connections are kept open between requests.
    pub fn new(
        url: Url,
        key: &ApiKey,
        timeout: Duration,
        max_in_flight: usize,
    ) -> Result<Client, ClientError> {
        Client::with_extra_roots(url, key, timeout, max_in_flight, &[])
    }

    /// [`Client::new`], also trusting `extra_roots` (`--ca-cert`) beside the platform's
    /// certificate store.
    pub fn with_extra_roots(
        url: Url,
        key: &ApiKey,
        timeout: Duration,
        max_in_flight: usize,
        extra_roots: &[rustls::pki_types::CertificateDer<'static>],
    ) -> Result<Client, ClientError> {
        // rustls is built with ring only (see DEPENDENCIES.md): install it as the process
        // default. An error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| ClientError::Build("the API key is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let unusable =
            |what: String| ClientError::Build(format!("the URL {url} is not usable: {what}"));
        let uri: Uri = url.as_str().parse().map_err(|e| unusable(format!("{e}")))?;
        let host = uri
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
            .ok_or_else(|| unusable("no host".into()))?;
        let connect_timeout = timeout.min(Duration::from_secs(10));
        let http = connections::client(&uri, connect_timeout, max_in_flight, extra_roots)
            .map_err(ClientError::Build)?;
        Ok(Client {
            http,
            url,
            endpoint: uri,
            host,
            auth,
            timeout,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends one prepared call of any operation.
    pub async fn send_call(&self, call: &HttpCall) -> Answer {
        self.send_http(
            &call.method,
            call.target.as_ref(),
            call.body.clone(),
            call.max_body,
        )
        .await
    }

    /// Sends `method` to `target` (path and query; `None` = the endpoint's path) with
    /// `body`, reading at most `max_body` bytes of the answer. Never fails: transport
    /// trouble is an `Answer`.
    pub async fn send_http(
        &self,
        method: &Method,
        target: Option<&Uri>,
        body: Bytes,
        max_body: usize,
    ) -> Answer {
        let target = target.unwrap_or(&self.endpoint);
        match tokio::time::timeout(self.timeout, self.exchange(method, target, body, max_body))
            .await
        {
            Ok(answer) => answer,
            Err(_) => Answer::Transport {
                kind: TransportKind::Timeout,
                message: format!(
                    "no whole answer within {} (--timeout)",
                    humantime::format_duration(self.timeout)
                ),
            },
        }
    }

    /// The endpoint's path with `query` (`id=6`, `offset=0&limit=1000`), as a request
    /// target; `sub` is a path below it (`/6`), or empty.
    pub fn target(&self, sub: &str, query: &str) -> Uri {
        let mut url = self.url.clone();
        let path = format!("{}{sub}", url.path());
        url.set_path(&path);
        url.set_query((!query.is_empty()).then_some(query));
        // Built from a valid URL and URL-safe parts (digits, `&`, `=`).
        url.as_str()
            .parse()
            .unwrap_or_else(|_| self.endpoint.clone())
    }

    /// A kept-alive connection the server closed just as the request was handed to it
    /// (nothing written) is retried on another by the pooled client: not an attempt.
    async fn exchange(
        &self,
        method: &Method,
        target: &Uri,
        body: Bytes,
        max_body: usize,
    ) -> Answer {
        match self.http.request(self.request(method, target, body)).await {
            Ok(response) => read_answer(response, max_body).await,
            Err(error) => {
                let (kind, what) = if certificate_error(&error).is_some() {
                    (TransportKind::Certificate, "connection failed")
                } else if error.is_connect() {
                    (TransportKind::Connect, "connection failed")
                } else {
                    (TransportKind::Other, "request failed")
                };
                Answer::Transport {
                    kind,
                    message: error_chain(what, &error),
                }
            }
        }
    }

    fn request(&self, method: &Method, target: &Uri, body: Bytes) -> Request<Full<Bytes>> {
        let has_body = !body.is_empty();
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = target.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(AUTHORIZATION, self.auth.clone());
        if has_body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        request
    }
}

/// The answer, its body capped at `max_body`; a body not read to the end closes its
/// connection.
async fn read_answer(response: Response<Incoming>, max_body: usize) -> Answer {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(RetryAfter::parse);
    let advertised = ratelimit_headers::read(
        response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
        std::time::SystemTime::now,
    )
    .map(Box::new);
    let mut incoming = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        match frame {
            Ok(frame) => {
                let Ok(chunk) = frame.into_data() else {
                    continue; // trailers
                };
                let room = max_body - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= max_body {
                    break;
                }
            }
            // A body cut off mid-way is no answer at all: the server may or may not have
            // acted, and blocking is idempotent, so it is retried like a reset.
            Err(error) => {
                return Answer::Transport {
                    kind: TransportKind::Other,
                    message: error_chain("the answer broke off", &error),
                };
            }
        }
    }
    Answer::Http {
        status: status.as_u16(),
        retry_after,
        body,
        advertised,
    }
}

/// The certificate error somewhere in `error`'s causes, if the handshake failed on the
/// server's certificate. `io::Error::source` skips the error it wraps (tokio-rustls hands
/// rustls's error over inside an `io::Error`), so each `io::Error` is opened by hand.
pub fn certificate_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::CertificateError> {
    let mut next = Some(error);
    // Bounded: a cause chain is short, and a cyclic one must not hang the run.
    for _ in 0..32 {
        let current = next?;
        if let Some(rustls::Error::InvalidCertificate(cause)) =
            current.downcast_ref::<rustls::Error>()
        {
            return Some(cause);
        }
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => current.source(),
        };
    }
    None
}

/// The error and its causes on one line (hyper's own message is terse, the cause says
/// what happened). None of them holds a header: the key cannot appear here.
fn error_chain(what: &str, error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = format!("{what}: {error}");
    let mut source = error.source();
    while let Some(inner) = source {
        message = format!("{message}: {inner}");
        source = inner.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now: DateTime<Utc> = "2015-10-21T07:28:00Z".parse().unwrap();
        let date = RetryAfter::parse("Wed, 21 Oct 2015 07:28:05 GMT").unwrap();
        assert_eq!(date.delay_from(now), Duration::from_secs(5));
        assert_eq!(
            RetryAfter::parse(" 7 ").unwrap().delay_from(now),
            Duration::from_secs(7)
        );
        assert_eq!(RetryAfter::parse("soon"), None);
        let past = RetryAfter::parse("Wed, 21 Oct 2015 07:27:00 GMT").unwrap();
        assert_eq!(past.delay_from(now), Duration::ZERO);
    }

    #[test]
    fn a_huge_retry_after_is_capped_at_a_day() {
        let now: DateTime<Utc> = "2015-10-21T07:28:00Z".parse().unwrap();
        let day = Duration::from_secs(24 * 60 * 60);
        for huge in [
            "10000000000000000000",
            "18446744073709551615",
            "99999999999999999999999",
        ] {
            let parsed = RetryAfter::parse(huge).unwrap();
            assert_eq!(parsed.delay_from(now), day, "{huge}");
        }
        let far = RetryAfter::parse("Fri, 31 Dec 9999 23:59:59 GMT").unwrap();
        assert_eq!(far.delay_from(now), day);
        // And the gate takes it without overflowing its instants.
        let gate = crate::send::gate::Gate::new("10/s".parse().unwrap(), 1);
        gate.rate_limited(
            tokio::time::Instant::now(),
            parsed_delay("10000000000000000000", now),
        );
        assert!(gate.admitted_per_second().is_some());
    }

    fn parsed_delay(value: &str, now: DateTime<Utc>) -> Duration {
        RetryAfter::parse(value).unwrap().delay_from(now)
    }

    #[test]
    fn builds_an_https_client_with_the_ring_provider() {
        // reqwest is built without a TLS provider of its own: building must install one
        // rather than panic, and it must work twice (tests build many clients).
        let key = ApiKey::new("k", "test").unwrap();
        let url: Url = "https://acme.acquire.io/api/v1/crm/block-visitor"
            .parse()
            .unwrap();
        for _ in 0..2 {
            let client = Client::new(url.clone(), &key, Duration::from_secs(1), 4).unwrap();
            assert_eq!(client.url().scheme(), "https");
        }
    }

    /// How hyper-rustls reports a refused certificate: rustls's error inside an
    /// `io::Error` (whose `source()` skips it), inside the connector's boxed error.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect")]
    struct Wrapper(#[source] Box<dyn std::error::Error + Send + Sync>);

    #[test]
    fn certificate_errors_are_found_inside_io_errors_in_the_cause_chain() {
        use rustls::CertificateError;
        let wrap = |inner: rustls::Error| {
            Wrapper(Box::new(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                inner,
            )))
        };
        let unknown = wrap(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(
            certificate_error(&unknown),
            Some(&CertificateError::UnknownIssuer)
        );
        let expired = wrap(rustls::Error::InvalidCertificate(CertificateError::Expired));
        assert_eq!(
            certificate_error(&expired),
            Some(&CertificateError::Expired)
        );
        // Other TLS failures and plain network errors are not certificate errors.
        let alert = wrap(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert_eq!(certificate_error(&alert), None);
        let refused = Wrapper(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(certificate_error(&refused), None);
    }
}
