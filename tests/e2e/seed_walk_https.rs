//! The seed tutorial's https variant, through a real Envoy: the sample auth service serves
//! HTTPS (`TLS_CERT_FILE`), first trusted through `HTTPS_PASSTHROUGH_CA_CERT` as the guide
//! says, then through the AuthConfig's own `tlsConfig` with a client certificate (mTLS).
//! Certificates are made by the test (rcgen).

use std::path::Path;
use std::process::Command;

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tempfile::TempDir;

use crate::harness::envoy::{assert_no_warnings, Envoy};
use crate::harness::server::{upstream, SEED_JSON};
use crate::harness::{example_bin, extauth_serve_env, free_port, wait_listening, Proc};
use crate::seed_walk::{until, upstream_yaml, virtual_service};

const HOST: &str = "foo-http";
const AUTHORIZE_ME: (&str, &str) = ("authorization", "authorize me");

/// A CA made for the test: its PEM and what it needs to issue.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes a certificate for `names` and its key into `dir` as `NAME.pem` and `NAME.key`.
    fn issue(&self, dir: &Path, name: &str, names: &[&str]) {
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// The sample auth service over HTTPS with the certificate `tls/server.*`; demanding a client
/// certificate from `client_ca` when given.
fn https_auth_service(work: &Path, client_ca: Option<&Path>) -> (Proc, u16) {
    let port = free_port();
    let tls = work.join("tls");
    let mut cmd = Command::new(example_bin());
    cmd.env("PORT", port.to_string())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("TLS_CERT_FILE", tls.join("server.pem"))
        .env("TLS_KEY_FILE", tls.join("server.key"));
    if let Some(ca) = client_ca {
        cmd.env("TLS_CLIENT_CA_FILE", ca);
    }
    let proc = Proc::spawn("https-auth-service", cmd, work);
    wait_listening(port, "the https sample auth service");
    (proc, port)
}

/// The seed's files, the AuthConfig calling `url` with `tls_lines` under `http:`.
fn write_config(dir: &Path, upstream_port: u16, url: &str, tls_lines: &str) {
    std::fs::write(dir.join("upstream.yaml"), upstream_yaml(upstream_port)).unwrap();
    std::fs::write(dir.join("virtual-service.yaml"), virtual_service(true)).unwrap();
    std::fs::write(
        dir.join("auth-config.yaml"),
        format!(
            "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: http-passthrough-auth
  namespace: gloo-system
spec:
  configs:
  - passThroughAuth:
      http:
        url: {url}
        connectionTimeout: 3s
        request:
          allowedHeaders:
            - authorization
{tls_lines}"
        ),
    )
    .unwrap();
}

#[test]
fn seed_tutorial_with_an_https_auth_service_through_envoy() {
    let work = TempDir::new().unwrap();
    let config = TempDir::new().unwrap();
    let (cfg, tls) = (config.path(), work.path().join("tls"));
    std::fs::create_dir(&tls).unwrap();
    let (server_ca, client_ca) = (Ca::new("auth-service-ca"), Ca::new("extauth-client-ca"));
    server_ca.issue(&tls, "server", &["127.0.0.1", "localhost"]);
    client_ca.issue(&tls, "client", &["extauth"]);
    std::fs::write(tls.join("server-ca.pem"), &server_ca.pem).unwrap();
    std::fs::write(tls.join("client-ca.pem"), &client_ca.pem).unwrap();
    let stand_in = upstream();

    // the guide's way: the CA, base64-encoded, in HTTPS_PASSTHROUGH_CA_CERT
    let (mut auth, port) = https_auth_service(work.path(), None);
    let url = format!("https://localhost:{port}/auth");
    write_config(cfg, stand_in.port, &url, "");
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(&server_ca.pem);
    let (_extauth, check_port, _) = extauth_serve_env(
        cfg,
        work.path(),
        &["--trust-route-header"],
        &[("HTTPS_PASSTHROUGH_CA_CERT", ca_b64.as_str())],
    );
    let envoy = Envoy::start(cfg, check_port, work.path(), "envoy");
    assert_eq!(envoy.get("/posts/1", HOST, &[]).status, 401);
    let r = envoy.get("/posts/1", HOST, &[AUTHORIZE_ME]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::from_str::<serde_json::Value>(SEED_JSON).unwrap()
    );
    assert!(
        auth.log().contains("authorized"),
        "the sample service decided"
    );

    // per-config TLS with mTLS: the service now demands a client certificate
    auth.stop();
    let (_auth, port) = https_auth_service(work.path(), Some(&tls.join("client-ca.pem")));
    let url = format!("https://localhost:{port}/auth");
    write_config(cfg, stand_in.port, &url, "");
    until(&envoy, &[AUTHORIZE_ME], 503);
    let tls_lines = format!(
        "        tlsConfig:
          caFile: {}
          certFile: {}
          keyFile: {}
",
        tls.join("server-ca.pem").display(),
        tls.join("client.pem").display(),
        tls.join("client.key").display()
    );
    write_config(cfg, stand_in.port, &url, &tls_lines);
    until(&envoy, &[AUTHORIZE_ME], 200);
    assert_eq!(envoy.get("/posts/1", HOST, &[]).status, 401);
    assert_eq!(
        envoy
            .get("/posts/1", HOST, &[("authorization", "let me in")])
            .status,
        401
    );
    assert_no_warnings(&envoy.proc.log());
}
