//! `blockade mock`: a local imitation of Acquire's block endpoint, with fault injection.
//! It serves `--sandbox`, the integration tests and the benchmarks.
//!
//! Constraint: the mock must be able to drop a connection without answering (the reset
//! fault), which `axum::serve` cannot do, so this module runs its own accept loop and
//! drives each hyper connection itself: a response marked `DropConnection`
//! becomes a service error, and hyper closes the connection without writing anything.
//! The rest is an ordinary axum `Router`.
//!
//! The imitation is also an account with a state: records made by others (seeds),
//! expired records still listed, email/IP records holding several strings, and admin
//! routes (`/_mock/records`, `/_mock/unblock`, `/_mock/expire`, `/_mock/seed`; the same
//! as [`MockServer::records`] and its neighbours in-process) that act behind the
//! client's back.

mod admin;
mod blocklist;
mod endpoint;
mod faults;
mod limiter;
mod records;
mod router;
mod seed;
mod stats;
mod text;
mod tls;

#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use admin::{MockRecord, RecordQuery, RecordValues, Selector};
pub use blocklist::{
    AnswerMode, BLOCK_BY, BlockListOptions, Kind, OTHER_USER, OnDuplicate, TillRounding,
};
pub use endpoint::BLOCK_PATH;
pub use faults::Faults;
pub use limiter::{LimitKind, RateLimitHeaders};
pub use seed::{
    MAX_RANGE_VALUES, Seed, SeedFileError, SeedRange, SeedRecord, SeedTill, SeedValues,
    read_seed_file,
};
pub use stats::{RouteStats, Stats};
pub use tls::{LOOPBACK_NAMES, MockTls, TlsSetupError};

use endpoint::{DropConnection, MockState};

/// How the mock behaves: the key it expects, how much it records, which faults it injects.
#[derive(Clone)]
pub struct MockConfig {
    /// The expected Bearer key. Never printed: `Debug` shows it redacted.
    pub key: String,
    /// Keep per-ID counts and arrival times (tests); off is the fast path (benchmarks).
    pub record_ids: bool,
    pub faults: Faults,
    /// Records the account holds before the first request (made by others unless they
    /// say `blockBy` 1), in this order, ids from 1; any makes the imitation keep its
    /// block list.
    pub seeds: Vec<Seed>,
}

impl MockConfig {
    /// A well-behaved mock expecting `key`, recording IDs, with no faults.
    pub fn new(key: impl Into<String>) -> Self {
        MockConfig {
            key: key.into(),
            record_ids: true,
            faults: Faults::default(),
            seeds: Vec::new(),
        }
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockConfig")
            .field("key", &"[redacted]")
            .field("record_ids", &self.record_ids)
            .field("faults", &self.faults)
            .field("seeds", &self.seeds.len())
            .finish()
    }
}

/// A running mock server. Stop it with [`MockServer::shutdown`]; dropping it only asks
/// it to stop.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<MockState>,
    stop: CancellationToken,
    connections: TaskTracker,
    accept_loop: JoinHandle<()>,
    /// Set when serving https.
    tls: Option<MockTls>,
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Binds `addr` (port 0 picks a free port) and starts serving on the current tokio runtime.
    pub async fn start(addr: SocketAddr, config: MockConfig) -> std::io::Result<MockServer> {
        MockServer::start_inner(addr, config, None).await
    }

    /// Like [`MockServer::start`], serving https with `tls` (see [`MockTls::generate`]).
    pub async fn start_tls(
        addr: SocketAddr,
        config: MockConfig,
        tls: MockTls,
    ) -> std::io::Result<MockServer> {
        MockServer::start_inner(addr, config, Some(tls)).await
    }

    async fn start_inner(
        addr: SocketAddr,
        config: MockConfig,
        tls: Option<MockTls>,
    ) -> std::io::Result<MockServer> {
        let mut config = config;
        // The seeds go into the list once; the state does not keep a second copy.
        let seeds = std::mem::take(&mut config.seeds);
        config.faults.block_list.keep |= !seeds.is_empty();
        let state = Arc::new(MockState::new(config));
        if !seeds.is_empty() {
            admin::seed(&state, &seeds).map_err(|why| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("mock seeds: {why}"),
                )
            })?;
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let connections = TaskTracker::new();
        let accept_loop = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&state),
            router::router(Arc::clone(&state)),
            stop.clone(),
            connections.clone(),
            tls.as_ref().map(MockTls::acceptor),
        ));
        tracing::debug!(%addr, https = tls.is_some(), "Mock server listening.");
        Ok(MockServer {
            addr,
            state,
            stop,
            connections,
            accept_loop,
            tls,
        })
    }

    /// The PEM of the throwaway CA behind an https imitation that made its own
    /// certificate: what a client must trust. `None` for http or a certificate from files.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().and_then(MockTls::ca_pem)
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS); an unspecified bind address
    /// (0.0.0.0, ::) is given as loopback.
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// A snapshot of the counters, the same data as `GET /_mock/stats`.
    pub fn stats(&self) -> Stats {
        self.state.snapshot()
    }

    /// The account's records that `query` selects (all: `RecordQuery::default()`), in id
    /// order, the same data as `GET /_mock/records`. Empty when no list is kept.
    pub fn records(&self, query: &RecordQuery) -> Vec<MockRecord> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.state
            .block_list
            .as_ref()
            .map_or_else(Vec::new, |list| query.run(&blocklist::lock(list), now_ms).1)
    }

    /// The records holding `value` (a contact ID in decimal, an email, an IP) of `kind`.
    pub fn records_holding(&self, kind: Kind, value: &str) -> Vec<MockRecord> {
        self.records(&RecordQuery {
            kind: Some(kind),
            value: Some(value.to_owned()),
            ..RecordQuery::default()
        })
    }

    /// Deletes the records `selector` names behind the client's back, as an admin in the
    /// web app would (`POST /_mock/unblock`); returns them as they were.
    pub fn unblock(&self, selector: &Selector) -> Vec<MockRecord> {
        self.state.stats.on_admin();
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.state
            .block_list
            .as_ref()
            .map_or_else(Vec::new, |list| {
                admin::delete(&mut blocklist::lock(list), selector, now_ms)
            })
    }

    /// Gives the records `selector` names the `blockTill` `till` (`POST /_mock/expire`);
    /// returns them as they are now.
    pub fn expire(&self, selector: &Selector, till: SeedTill) -> Vec<MockRecord> {
        self.state.stats.on_admin();
        self.state
            .block_list
            .as_ref()
            .map_or_else(Vec::new, |list| {
                admin::retime(
                    &mut blocklist::lock(list),
                    selector,
                    till,
                    chrono::Utc::now(),
                )
            })
    }

    /// Adds records made by others (`POST /_mock/seed`); returns their ids. All or
    /// nothing; an error when no list is kept.
    pub fn seed(&self, seeds: &[Seed]) -> Result<Vec<u64>, String> {
        self.state.stats.on_admin();
        admin::seed(&self.state, seeds)
    }

    /// Stops accepting, lets requests being handled finish, closes idle connections.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Err(error) = (&mut self.accept_loop).await {
            tracing::warn!(%error, "Mock accept loop ended abnormally.");
        }
        self.connections.close();
        self.connections.wait().await;
        tracing::debug!(addr = %self.addr, "Mock server stopped.");
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // Without this a forgotten server would keep its port until the runtime ends.
        self.stop.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<MockState>,
    router: Router,
    stop: CancellationToken,
    connections: TaskTracker,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                state.stats.on_connection();
                stream
            }
            Err(error) => {
                // Typically out of file descriptors: pause instead of spinning on the error.
                tracing::warn!(%error, "Mock could not accept a connection; retrying shortly.");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small JSON answers must not wait for Nagle's algorithm.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "Mock could not set TCP_NODELAY.");
        }
        let Some(acceptor) = &tls else {
            connections.spawn(serve_connection(
                &http,
                stream,
                router.clone(),
                stop.clone(),
            ));
            continue;
        };
        // The handshake runs in the connection's own task, so that a slow or failing
        // client never holds up the accept loop.
        let handshake = acceptor.accept(stream);
        let serve = {
            let http = http.clone();
            let router = router.clone();
            let stop = stop.clone();
            async move {
                match handshake.await {
                    Ok(stream) => serve_connection(&http, stream, router, stop).await,
                    Err(error) => tracing::debug!(%error, "Mock TLS handshake failed."),
                }
            }
        };
        connections.spawn(serve);
    }
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose by the mock's reset fault")]
struct ResetFault;

fn serve_connection<S>(
    http: &hyper::server::conn::http1::Builder,
    stream: S,
    router: Router,
    stop: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let answer = hyper::service::Service::call(&router, request);
        async move {
            let response = answer
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ResetFault)
            } else {
                Ok(response)
            }
        }
    });
    let connection = http.serve_connection(TokioIo::new(stream), service);
    async move {
        let mut connection = std::pin::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stop.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "Mock connection ended with an error.");
        }
    }
}
