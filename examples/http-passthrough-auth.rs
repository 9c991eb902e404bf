//! The sample auth service of the HTTP passthrough auth guide.
//!
//! A Rust twin of Gloo's Go example (`docs/examples/http-passthrough-auth` in solo-io/gloo):
//! extauth calls it for every check, and it answers
//! - `200` to any method on path `/auth` carrying the header `authorization: authorize me`;
//! - `403` with a hint in the body on `/auth` without that header;
//! - `403` on any other path, printing [`WRONG_PATH`] to stdout (the line the guide quotes).
//!
//! Run it with `cargo run --example http-passthrough-auth`. It listens on `0.0.0.0:9001`;
//! `PORT` changes the port, `--listen ADDR` the whole address (`--listen 127.0.0.1:9001`), and
//! `REQUEST_LOGGING=1` prints every request it receives.
//!
//! With `TLS_CERT_FILE` and `TLS_KEY_FILE` (PEM) it serves HTTPS instead (TLS 1.2 and 1.3),
//! for the https variant of the guide; with `TLS_CLIENT_CA_FILE` too it demands a client
//! certificate issued by that CA (mTLS).

use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Printed (and logged) when a request reaches any path but `/auth`.
const WRONG_PATH: &str = "Did not reach the right path, use the /auth to authenticate requests! \
Make sure to include the header 'authorization: authorize me' too.";

/// Body of the 403 answer on `/auth` when the `authorization` header is missing or wrong.
const MISSING_HEADER: &str = "Please also set the `authorization: authorize me` header.";

/// What the service answers, decided from the path and the first `authorization` value only.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// `/auth` with `authorization: authorize me`: 200.
    Authorized,
    /// `/auth` without the right `authorization` header: 403 with [`MISSING_HEADER`].
    MissingHeader,
    /// Any other path: 403, and [`WRONG_PATH`] is printed.
    WrongPath,
}

/// The whole policy of the sample service.
fn decide(path: &str, authorization: Option<&[u8]>) -> Decision {
    match (path, authorization) {
        ("/auth", Some(b"authorize me")) => Decision::Authorized,
        ("/auth", _) => Decision::MissingHeader,
        _ => Decision::WrongPath,
    }
}

/// Whether an environment variable is set to a truthy value (`1`, `true`, `yes`, `y`, `on`).
fn env_truthy(name: &str) -> bool {
    let v = std::env::var(name).unwrap_or_default().to_ascii_lowercase();
    matches!(v.as_str(), "1" | "true" | "yes" | "y" | "on")
}

/// Prints the method, path with query, every header (repeats included) and the body.
fn dump_request(req: &HttpRequest, body: &[u8]) {
    let mut dump = format!("request:\n{} {}\n", req.method(), req.uri());
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        dump.push_str(&format!("{name}: {value}\n"));
    }
    println!("{dump}\n{}", String::from_utf8_lossy(body));
}

/// Prints a line to stdout (as the Go example does) and logs it at info level.
fn say(line: &str) {
    println!("{line}");
    log::info!("{line}");
}

/// Answers every request, whatever its method or path.
async fn handle(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if env_truthy("REQUEST_LOGGING") {
        dump_request(&req, &body);
    }
    let authorization = req.headers().get("authorization").map(|v| v.as_bytes());
    match decide(req.path(), authorization) {
        Decision::Authorized => {
            say("authorized");
            HttpResponse::Ok().finish()
        }
        Decision::MissingHeader => {
            say(MISSING_HEADER);
            HttpResponse::Forbidden().body(MISSING_HEADER)
        }
        Decision::WrongPath => {
            say(WRONG_PATH);
            HttpResponse::Forbidden().finish()
        }
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("PORT={p}: {e}"))
        })?,
        Err(_) => 9001,
    };
    // `--listen ADDR` picks the address (tests bind 127.0.0.1); all interfaces by default
    let args: Vec<String> = std::env::args().collect();
    let listen: std::net::SocketAddr = match args.iter().position(|a| a == "--listen") {
        Some(i) => {
            let addr = args.get(i + 1).map(String::as_str).unwrap_or("");
            addr.parse().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("--listen {addr}: {e}"),
                )
            })?
        }
        None => std::net::SocketAddr::from(([0, 0, 0, 0], port)),
    };
    let port = listen.port();
    let server = HttpServer::new(|| App::new().default_service(web::to(handle)));
    let server = match tls_config()? {
        Some(tls) => {
            println!("Listening on port {port} for auth requests (HTTPS)");
            server.bind_rustls_0_23(listen, tls)?
        }
        None => {
            println!("Listening on port {port} for auth requests");
            server.bind(listen)?
        }
    };
    server.run().await
}

/// The TLS settings from `TLS_CERT_FILE`, `TLS_KEY_FILE` and `TLS_CLIENT_CA_FILE`; `None`
/// without a certificate.
fn tls_config() -> std::io::Result<Option<rustls::ServerConfig>> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let (Ok(cert), Ok(key)) = (
        std::env::var("TLS_CERT_FILE"),
        std::env::var("TLS_KEY_FILE"),
    ) else {
        return Ok(None);
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| invalid(format!("TLS_CERT_FILE={cert}: {e}")))?;
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| invalid(format!("TLS_KEY_FILE={key}: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?;
    let builder = match std::env::var("TLS_CLIENT_CA_FILE") {
        Ok(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(&ca)
                .map_err(|e| invalid(format!("TLS_CLIENT_CA_FILE={ca}: {e}")))?
            {
                let c = c.map_err(|e| invalid(format!("TLS_CLIENT_CA_FILE={ca}: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| invalid(format!("TLS_CLIENT_CA_FILE={ca}: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| invalid(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        Err(_) => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("TLS_CERT_FILE and TLS_KEY_FILE: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(decide("/auth", Some(b"authorize me")), Decision::Authorized);
        assert_eq!(decide("/auth", None), Decision::MissingHeader);
        assert_eq!(
            decide("/auth", Some(b"Authorize me")),
            Decision::MissingHeader
        );
        assert_eq!(decide("/auth/", Some(b"authorize me")), Decision::WrongPath);
    }
}
