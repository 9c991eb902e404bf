//! What a step trusts and verifies: `HTTPS_PASSTHROUGH_CA_CERT` (as in Gloo), `caFile`,
//! `serverName`, validity dates, and the oldest TLS version.

use super::*;
use crate::harness::extauth::run;
use crate::harness::tls::{Ca, TlsAuthServer, TlsSetup, Versions};
use base64::Engine;

const ENV_CA: &str = "HTTPS_PASSTHROUGH_CA_CERT";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn the_environment_ca_is_trusted_for_every_https_auth_service() {
    let ca = Ca::until("env-ca", 2037);
    let srv = TlsAuthServer::start(TlsSetup::new(ca.leaf("auth", &["127.0.0.1"])));
    let value = b64(&ca.pem);
    let ext = serve(
        http(&srv.url("/auth"), json!({})),
        &[],
        &[],
        &[(ENV_CA, &value)],
    );
    assert_eq!(allowed(&ext).status, 200);
    assert_eq!(srv.count(), 1);
    assert_eq!(
        expiry(&ext, "ca", ENV_CA),
        Some(ca.not_after as f64),
        "the expiry of the variable's CA is exported"
    );
    ext.expect_log(&[ENV_CA, "1 CA certificate(s) trusted"]);
    // without the variable, the same server is unknown
    let ext = serve(http(&srv.url("/auth"), json!({})), &[], &[], &[]);
    assert_eq!(allowed(&ext).status, 503);
}

#[test]
fn a_malformed_environment_ca_rejects_the_https_auth_configs_only() {
    let ca = Ca::new("env-ca");
    let tls_srv = TlsAuthServer::start(TlsSetup::new(ca.leaf("auth", &["127.0.0.1"])));
    let plain = AuthServer::sample();
    let vs = |name: &str, domain: &str| {
        virtual_service(
            name,
            &[domain],
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref(name)),
        )
    };
    let step_of = |url: &str| json!({"configs": [step("", http(url, json!({})))]});
    let yaml = yaml(&[
        auth_config("secure", step_of(&tls_srv.url("/auth"))),
        vs("secure", "secure.example"),
        auth_config("plain", step_of(&plain.url("/auth"))),
        vs("plain", "plain.example"),
    ]);
    for value in ["%%%", &b64("no certificate in here")] {
        let ext = serve_yaml(&yaml, &[], &[], &[(ENV_CA, value)]);
        let check = |host: &str| ext.check("GET", host, "/x", &[AUTHORIZE_ME], b"").status;
        assert_eq!(check("plain.example"), 200, "http AuthConfigs keep working");
        assert_eq!(
            check("secure.example"),
            403,
            "the https AuthConfig is not loaded"
        );
        assert_eq!(tls_srv.count(), 0);
        let errors = configz_errors(&ext);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "spec.configs[0].passThroughAuth.http.url");
        assert!(errors[0].1.contains(ENV_CA), "{errors:?}");
        ext.expect_log(&["config error", ENV_CA]);
        assert!(!ext.logs().contains(value), "the value is never quoted");

        // `extauth validate` says the same
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("c.yaml"), &yaml).unwrap();
        let out = std::process::Command::new(crate::harness::extauth::binary())
            .args(["validate", dir.path().to_str().unwrap()])
            .env(ENV_CA, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.lines().any(|l| l.contains("c.yaml: document 1")
                && l.contains("http.url")
                && l.contains(ENV_CA)),
            "{stderr}"
        );
    }
    // and without the variable, validate passes
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("c.yaml"), &yaml).unwrap();
    assert!(run(&["validate", dir.path().to_str().unwrap()])
        .status
        .success());
}

#[test]
fn ca_file_replaces_the_default_roots() {
    let (trusted, other) = (Ca::new("trusted"), Ca::new("other"));
    let srv = TlsAuthServer::start(TlsSetup::new(trusted.leaf("auth", &["127.0.0.1"])));
    let files = [
        ("trusted.pem", trusted.pem.as_str()),
        ("other.pem", other.pem.as_str()),
    ];
    let with = |ca_file: &str, env: &[(&str, &str)]| {
        serve(
            http(&srv.url("/auth"), json!({"tlsConfig": {"caFile": ca_file}})),
            &files,
            &[],
            env,
        )
    };
    assert_eq!(allowed(&with("trusted.pem", &[])).status, 200);
    let ext = with("other.pem", &[]);
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(tls_failures(&ext, "unknown_ca"), 1.0);
    // the environment's CA does not widen a step's own caFile
    let ext = with("other.pem", &[(ENV_CA, &b64(&trusted.pem))]);
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(srv.count(), 1);
}

#[test]
fn server_name_is_sent_and_verified_for_an_ip_url() {
    let ca = Ca::new("ca");
    let srv = TlsAuthServer::start(TlsSetup::new(ca.leaf("auth", &["auth.internal"])));
    let with = |tls: Value| {
        let mut tls_config = json!({"caFile": "ca.pem"});
        merge(&mut tls_config, tls);
        serve(
            http(&srv.url("/auth"), json!({"tlsConfig": tls_config})),
            &[("ca.pem", &ca.pem)],
            &[],
            &[],
        )
    };
    // the certificate does not name 127.0.0.1
    let ext = with(json!({}));
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(tls_failures(&ext, "bad_name"), 1.0);
    let ext = with(json!({"serverName": "wrong.internal"}));
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(tls_failures(&ext, "bad_name"), 1.0);
    ext.expect_log(&["auth service failed", "bad_name"]);
    assert_eq!(srv.count(), 0);

    let ext = with(json!({"serverName": "auth.internal"}));
    assert_eq!(allowed(&ext).status, 200);
    let r = &srv.requests()[0];
    assert_eq!(
        r.sni.as_deref(),
        Some("auth.internal"),
        "serverName is the SNI"
    );
    assert_eq!(
        r.get("host").as_deref(),
        Some(srv.url("").trim_start_matches("https://")),
        "the Host header stays the url's authority"
    );
}

#[test]
fn an_expired_or_not_yet_valid_server_certificate_fails() {
    let ca = Ca::new("ca");
    for (valid, what) in [((2019, 2020), "expired"), ((2099, 2100), "not yet valid")] {
        let srv = TlsAuthServer::start(TlsSetup::new(ca.leaf_valid("auth", &["127.0.0.1"], valid)));
        let ext = serve(
            http(
                &srv.url("/auth"),
                json!({"tlsConfig": {"caFile": "ca.pem"}}),
            ),
            &[("ca.pem", &ca.pem)],
            &[],
            &[],
        );
        assert_eq!(allowed(&ext).status, 503, "{what}");
        assert_eq!(tls_failures(&ext, "expired"), 1.0, "{what}");
    }
}

#[test]
fn minimum_protocol_version_tls13_refuses_a_tls12_only_server() {
    let ca = Ca::new("ca");
    let mut setup = TlsSetup::new(ca.leaf("auth", &["127.0.0.1"]));
    setup.versions = Versions::Tls12;
    let srv = TlsAuthServer::start(setup);
    let with = |version: &str| {
        serve(
            http(
                &srv.url("/auth"),
                json!({"tlsConfig": {"caFile": "ca.pem", "minimumProtocolVersion": version}}),
            ),
            &[("ca.pem", &ca.pem)],
            &[],
            &[],
        )
    };
    let ext = with("TLSv1_3");
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(tls_failures(&ext, "protocol_version"), 1.0);
    assert_eq!(srv.count(), 0);
    let ext = with("TLSv1_2");
    assert_eq!(allowed(&ext).status, 200);
    assert_eq!(srv.requests()[0].version, "TLSv1_2");
}

#[test]
fn failed_handshakes_leave_the_pool_whole() {
    // one connection allowed: a slot lost to a failed handshake would stall every later call
    let (untrusted, trusted) = (Ca::new("untrusted"), Ca::new("trusted"));
    let srv = TlsAuthServer::start(TlsSetup::new(untrusted.leaf("auth", &["127.0.0.1"])));
    let ext = serve(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem"}, "connectionPool": {"maxConns": 1}}),
        ),
        &[("ca.pem", &trusted.pem)],
        &["--workers", "1"],
        &[],
    );
    for _ in 0..30 {
        assert_eq!(allowed(&ext).status, 503);
    }
    assert_eq!(tls_failures(&ext, "unknown_ca"), 30.0);
    srv.set_cert(&trusted.leaf("auth", &["127.0.0.1"]));
    let started = std::time::Instant::now();
    assert_eq!(allowed(&ext).status, 200);
    assert!(started.elapsed() < Duration::from_millis(500));
}
