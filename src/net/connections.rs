//! The HTTP client of a run: hyper-util's pooled client (kept-alive HTTP/1.1 connections)
//! over rustls with the platform's verifier plus `--ca-cert`, and an `HTTPS_PROXY` CONNECT
//! tunnel where one applies.
//!
//! An own stack of idle connections (hyper's connection API) replaced the pooled client
//! for a while; measured against it, it saved about 7 % of a run's CPU per million IDs on
//! loopback, under the 10 % that hand-written code must save to stay (BENCHMARKS.md,
//! "Hand-written pieces against their libraries").

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::Full;
use hyper::Uri;
use hyper::body::Bytes;
use hyper::http::uri::Scheme;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls_platform_verifier::Verifier;
use tokio::net::TcpStream;
use tower_service::Service;

/// The pooled client of one run: kept-alive connections to its one target.
pub type HttpClient = Client<HttpsConnector<Dialer>, Full<Bytes>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Builds the client for `target`. `max_idle` should be the most requests in flight, so
/// that no connection is closed only to be opened again. `extra_roots` (`--ca-cert`) are
/// trusted beside the platform's store, which on Linux is `SSL_CERT_FILE`/`SSL_CERT_DIR`
/// when either is set (rustls-native-certs, under the platform verifier), else the
/// system's CAs.
pub fn client(
    target: &Uri,
    connect_timeout: Duration,
    max_idle: usize,
    extra_roots: &[CertificateDer<'static>],
) -> Result<HttpClient, String> {
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
        // A plain-HTTP target (the imitation) never uses TLS: loading the system's roots
        // would only add a few milliseconds to every start.
        ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(Dialer::for_target(target, tcp));
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(max_idle.max(1))
        .build(connector))
}

/// Opens the TCP connection under TLS: directly, or, when `HTTPS_PROXY` (or `ALL_PROXY`)
/// names a proxy and `NO_PROXY` does not exempt the host, through a CONNECT tunnel.
/// Plain-HTTP targets (the imitation) are always reached directly.
#[derive(Clone)]
pub enum Dialer {
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
