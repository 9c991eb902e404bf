//! [`TlsAuthServer`], a real HTTPS/1.1 auth service on 127.0.0.1 (rustls over blocking std
//! sockets, one thread per connection) that records every request with the client certificate
//! and TLS version of its connection, and counts handshakes, so tests can see what reached it
//! and how. Its certificates come from [`super::certs`].

pub use super::certs::{self_signed, Ca, Leaf, SecretDir};
use super::http::{read_message, HeaderList, Headers};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which TLS versions a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// TLS 1.2 and 1.3.
    Both,
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// How a [`TlsAuthServer`] is set up.
pub struct TlsSetup {
    /// Its certificate.
    pub leaf: Leaf,
    /// The versions it speaks.
    pub versions: Versions,
    /// With a CA (PEM), it demands a client certificate issued by it.
    pub client_ca: Option<String>,
}

impl TlsSetup {
    /// A server presenting `leaf`, any version, no client certificate asked.
    pub fn new(leaf: Leaf) -> Self {
        TlsSetup {
            leaf,
            versions: Versions::Both,
            client_ca: None,
        }
    }
}

/// One request as the server received it, with what its connection was.
#[derive(Clone, Debug)]
pub struct TlsRequest {
    /// Path and query.
    pub target: String,
    /// Headers in wire order.
    pub headers: Headers,
    /// The common name of the client certificate of its connection.
    pub client_cn: Option<String>,
    /// The SNI the client sent.
    pub sni: Option<String>,
    /// `TLSv1_2` or `TLSv1_3`.
    pub version: String,
}

impl HeaderList for TlsRequest {
    fn header_list(&self) -> &Headers {
        &self.headers
    }
}

struct Inner {
    /// Replaced whole by `set_cert`, as a server redeployed with a new certificate: its
    /// sessions go with it.
    config: Mutex<Arc<ServerConfig>>,
    versions: Versions,
    client_ca: Option<String>,
    connections: AtomicUsize,
    handshakes: AtomicUsize,
    failed: Mutex<Vec<String>>,
    requests: Mutex<Vec<TlsRequest>>,
    close_each: AtomicBool,
    stop: AtomicBool,
}

/// An HTTPS auth service answering as the seed's sample does: 200 on `/auth` with
/// `authorization: authorize me`, 403 otherwise (`/status/N` answers N).
pub struct TlsAuthServer {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

/// A server config presenting `leaf`.
fn server_config(leaf: &Leaf, versions: Versions, client_ca: Option<&str>) -> Arc<ServerConfig> {
    let versions: &[&rustls::SupportedProtocolVersion] = match versions {
        Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Versions::Tls12 => &[&rustls::version::TLS12],
        Versions::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap();
    let builder = match client_ca {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
                .unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let chain = vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    Arc::new(builder.with_single_cert(chain, key).unwrap())
}

impl TlsAuthServer {
    /// Starts a server as `setup` says, on a free port.
    pub fn start(setup: TlsSetup) -> Self {
        let config = server_config(&setup.leaf, setup.versions, setup.client_ca.as_deref());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            config: Mutex::new(config),
            versions: setup.versions,
            client_ca: setup.client_ca,
            connections: AtomicUsize::new(0),
            handshakes: AtomicUsize::new(0),
            failed: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            close_each: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let acceptor = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if acceptor.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                acceptor.connections.fetch_add(1, Ordering::SeqCst);
                let conn = acceptor.clone();
                std::thread::spawn(move || serve(stream, &conn));
            }
        });
        TlsAuthServer { addr, inner }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Presents `leaf` on the handshakes from now on (as a server redeployed with it: the
    /// sessions it could resume are gone).
    pub fn set_cert(&self, leaf: &Leaf) {
        let config = server_config(leaf, self.inner.versions, self.inner.client_ca.as_deref());
        *self.inner.config.lock().unwrap() = config;
    }

    /// Closes each connection after its next answer (saying `connection: close`), so that
    /// every check makes a new handshake; or keeps them open again.
    pub fn close_each(&self, on: bool) {
        self.inner.close_each.store(on, Ordering::SeqCst);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<TlsRequest> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.inner.requests.lock().unwrap().len()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    /// Handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.inner.handshakes.load(Ordering::SeqCst)
    }

    /// Why the failed handshakes failed, as the server saw it.
    pub fn failed_handshakes(&self) -> Vec<String> {
        self.inner.failed.lock().unwrap().clone()
    }
}

impl Drop for TlsAuthServer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(mut tcp: TcpStream, inner: &Inner) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
    let config = inner.config.lock().unwrap().clone();
    let Ok(mut conn) = ServerConnection::new(config) else {
        return;
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            inner.failed.lock().unwrap().push(e.to_string());
            return;
        }
    }
    inner.handshakes.fetch_add(1, Ordering::SeqCst);
    let client_cn = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| common_name(c));
    let sni = conn.server_name().map(str::to_string);
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1_3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1_2",
        _ => "other",
    }
    .to_string();
    let mut reader = BufReader::new(StreamOwned::new(conn, tcp));
    while let Ok(Some(msg)) = read_message(&mut reader, true) {
        let req = TlsRequest {
            target: msg.second,
            headers: msg.headers,
            client_cn: client_cn.clone(),
            sni: sni.clone(),
            version: version.clone(),
        };
        let status = answer(&req);
        inner.requests.lock().unwrap().push(req);
        let close = inner.close_each.load(Ordering::SeqCst);
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\n{}\r\n",
            if close { "connection: close\r\n" } else { "" }
        );
        let stream = reader.get_mut();
        if stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        if close {
            stream.conn.send_close_notify();
            let _ = stream.flush();
            return;
        }
    }
}

/// The sample service's rule; `/status/N` answers N, `/slow` answers as `/auth` after 300 ms.
fn answer(req: &TlsRequest) -> u16 {
    if let Some(code) = req.target.strip_prefix("/status/") {
        return code.parse().unwrap_or(500);
    }
    if req.target == "/slow" {
        std::thread::sleep(Duration::from_millis(300));
    }
    let authorized = req.all("authorization").first().map(String::as_str) == Some("authorize me");
    if (req.target == "/auth" || req.target == "/slow") && authorized {
        200
    } else {
        403
    }
}

fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let cn = parsed.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// A TCP server that accepts connections and never says a word (a TLS handshake to it can
/// only time out); its address.
pub fn silent_server() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64).flatten() {
            held.push(stream);
        }
    });
    (addr, handle)
}
