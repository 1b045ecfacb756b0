//! Keep-alive connections to the one target: idle HTTP/1.1 connections on a stack, a new
//! one opened when none is idle.
//!
//! Why not hyper-util's pooled client: it is built for many hosts (a hashed pool key per
//! request) and hands every used connection to a freshly spawned task to wait until it
//! can be reused. A run talks to one host, and by the time an answer's body has been read
//! the connection is ready again, so here a connection simply goes back on the stack.
//! That was about a fifth of the sending thread's work.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::Full;
use hyper::Uri;
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::http::uri::Scheme;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls_platform_verifier::Verifier;
use tokio::net::TcpStream;
use tower_service::Service;

/// One HTTP/1.1 connection, ready for a request or busy with one.
pub type Connection = SendRequest<Full<Bytes>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The connections of one run to its target.
pub struct Connections {
    target: Uri,
    connector: HttpsConnector<Dialer>,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl Connections {
    /// `max_idle` should be the most requests in flight, so that no connection is closed
    /// only to be opened again. `extra_roots` (`--ca-cert`) are trusted beside the
    /// platform's store, which on Linux is `SSL_CERT_FILE`/`SSL_CERT_DIR` when either is
    /// set (rustls-native-certs, under the platform verifier), else the system's CAs.
    pub fn new(
        target: Uri,
        connect_timeout: Duration,
        max_idle: usize,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<Self, String> {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        let tls = if target.scheme() == Some(&Scheme::HTTPS) {
            let builder = ClientConfig::builder();
            let verifier = Verifier::new_with_extra_roots(
                extra_roots.iter().cloned(),
                builder.crypto_provider().clone(),
            )
            .map_err(|e| {
                format!(
                    "cannot load the TLS roots: {e} (check SSL_CERT_FILE, or install the system's CA certificates, or give --ca-cert)"
                )
            })?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        } else {
            // A plain-HTTP target (the imitation) never uses TLS: loading the system's
            // roots would only add a few milliseconds to every start.
            ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(Dialer::for_target(&target, tcp));
        Ok(Connections {
            target,
            connector,
            idle: Mutex::new(Vec::with_capacity(max_idle)),
            max_idle: max_idle.max(1),
        })
    }

    /// A connection ready for a request: an idle one that is still open, or a new one.
    /// The `bool` says whether it was reused (a reused one may have been closed by the
    /// server a moment ago; see `Client::send`).
    pub async fn checkout(&self) -> Result<(Connection, bool), OpenError> {
        while let Some(mut connection) = self.pop_idle() {
            // Ready at once, unless its connection task has not yet seen the end of the
            // last answer; an error means the server closed it.
            match connection.ready().await {
                Ok(()) => return Ok((connection, true)),
                Err(error) => tracing::debug!(%error, "An idle connection was closed"),
            }
        }
        self.open().await.map(|connection| (connection, false))
    }

    /// Puts back a connection whose last answer was read to the end.
    pub fn checkin(&self, connection: Connection) {
        if connection.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().expect("idle connections lock");
        if idle.len() < self.max_idle {
            idle.push(connection);
        }
    }

    fn pop_idle(&self) -> Option<Connection> {
        self.idle.lock().expect("idle connections lock").pop()
    }

    async fn open(&self) -> Result<Connection, OpenError> {
        tracing::debug!("Opening a connection");
        let io = self
            .connector
            .clone()
            .call(self.target.clone())
            .await
            .map_err(OpenError)?;
        let (connection, driver) = http1::handshake(io)
            .await
            .map_err(|e| OpenError(e.into()))?;
        // The connection's own task: reads and writes the socket until it closes.
        tokio::spawn(async move {
            if let Err(error) = driver.await {
                tracing::debug!(%error, "Connection closed");
            }
        });
        Ok(connection)
    }
}

/// No connection could be opened (refused, DNS, TLS, proxy).
#[derive(Debug, thiserror::Error)]
#[error("cannot connect")]
pub struct OpenError(#[source] BoxError);

/// Opens the TCP connection under TLS: directly, or, when `HTTPS_PROXY` (or `ALL_PROXY`)
/// names a proxy and `NO_PROXY` does not exempt the host, through a CONNECT tunnel.
/// Plain-HTTP targets (the imitation) are always reached directly.
#[derive(Clone)]
enum Dialer {
    Direct(HttpConnector),
    Tunnel(Tunnel<HttpConnector>),
}

impl Dialer {
    fn for_target(target: &Uri, tcp: HttpConnector) -> Dialer {
        if target.scheme() != Some(&Scheme::HTTPS) {
            return Dialer::Direct(tcp);
        }
        match Matcher::from_env().intercept(target) {
            Some(proxy) => {
                tracing::info!(proxy = %proxy_without_credentials(proxy.uri()), "Connecting through a proxy");
                let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Dialer::Tunnel(tunnel)
            }
            None => Dialer::Direct(tcp),
        }
    }
}

/// A proxy URL for the log, without any `user:password@`.
fn proxy_without_credentials(uri: &Uri) -> String {
    let host = uri.host().unwrap_or("?");
    match uri.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

impl Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Dialer::Direct(tcp) => tcp.poll_ready(cx).map_err(Into::into),
            Dialer::Tunnel(tunnel) => tunnel.poll_ready(cx).map_err(Into::into),
        }
    }

    // Called once per new connection, not per request.
    fn call(&mut self, target: Uri) -> Self::Future {
        match self {
            Dialer::Direct(tcp) => {
                let connecting = tcp.call(target);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Dialer::Tunnel(tunnel) => {
                let connecting = tunnel.call(target);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}
