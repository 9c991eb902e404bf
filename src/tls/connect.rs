//! `serverName`: connect to the url's host, but speak TLS to another name.
//!
//! awc's TLS layer takes the name to send as SNI and to verify from the connection's request
//! (the url). This TCP connector connects to the url's address as awc's own does, and hands
//! the TLS layer a request naming `serverName` instead. The HTTP request itself is untouched:
//! its `Host` header is still the url's authority, and awc's pool still keys on the url.

use actix_rt::net::TcpStream;
use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use actix_web::http::Uri;
use futures_util::future::LocalBoxFuture;

/// A TCP connector whose connections carry `name` as their TLS name.
#[derive(Clone)]
pub struct NamedConnector {
    inner: ConnectorService,
    name: Uri,
}

impl NamedConnector {
    /// Connects as awc does (system resolver), naming `server_name` to the TLS layer; `None`
    /// when the name cannot stand in a URL's host (it was checked when the config loaded).
    pub fn new(server_name: &str) -> Option<Self> {
        let name = format!("https://{server_name}/").parse().ok()?;
        Some(NamedConnector {
            inner: actix_tls::connect::Connector::default().service(),
            name,
        })
    }
}

impl Service<ConnectInfo<Uri>> for NamedConnector {
    type Response = Connection<Uri, TcpStream>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        <ConnectorService as Service<ConnectInfo<Uri>>>::poll_ready(&self.inner, cx)
    }

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        let connecting = self.inner.call(req);
        let name = self.name.clone();
        Box::pin(async move {
            let (io, _url) = connecting.await?.into_parts();
            Ok(Connection::new(name, io))
        })
    }
}
