//! Client certificates (mTLS), and `tlsConfig` blocks that are wrong.

use super::*;
use crate::harness::extauth::run;
use crate::harness::tls::{Ca, TlsAuthServer, TlsSetup};

/// A server demanding a client certificate from `client_ca`.
fn demanding(server_ca: &Ca, client_ca: &Ca) -> TlsAuthServer {
    let mut setup = TlsSetup::new(server_ca.leaf("auth", &["127.0.0.1"]));
    setup.client_ca = Some(client_ca.pem.clone());
    TlsAuthServer::start(setup)
}

#[test]
fn mtls_presents_the_client_certificate_and_fails_without_it() {
    let (server_ca, client_ca, stranger) = (
        Ca::new("server-ca"),
        Ca::new("client-ca"),
        Ca::new("stranger"),
    );
    let srv = demanding(&server_ca, &client_ca);
    let good = client_ca.leaf("extauth-client", &["extauth"]);
    let foreign = stranger.leaf("stranger", &["extauth"]);
    let files = [
        ("ca.pem", server_ca.pem.as_str()),
        ("client.pem", good.cert_pem.as_str()),
        ("client.key", good.key_pem.as_str()),
        ("foreign.pem", foreign.cert_pem.as_str()),
        ("foreign.key", foreign.key_pem.as_str()),
    ];
    let with = |tls: Value| {
        serve(
            http(&srv.url("/auth"), json!({"tlsConfig": tls})),
            &files,
            &[],
            &[],
        )
    };

    let ext = with(json!({"caFile": "ca.pem", "certFile": "client.pem", "keyFile": "client.key"}));
    assert_eq!(allowed(&ext).status, 200);
    let seen = srv.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].client_cn.as_deref(), Some("extauth-client"));
    assert_eq!(
        expiry(
            &ext,
            "client_cert",
            &ext.dir().join("client.pem").display().to_string()
        ),
        Some(good.not_after as f64)
    );
    assert!(
        !ext.logs().contains(good.key_pem.lines().nth(1).unwrap()),
        "the key is never logged"
    );

    // no client certificate: the server refuses (after the handshake, in TLS 1.3)
    let ext = with(json!({"caFile": "ca.pem"}));
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(tls_failures(&ext, "client_cert_required"), 1.0);
    assert!(
        srv.failed_handshakes()
            .iter()
            .any(|e| e.contains("NoCertificatesPresented") || e.contains("no certificates")),
        "the server refused a handshake without a client certificate: {:?}",
        srv.failed_handshakes()
    );
    let line = ext.expect_log(&["auth service failed", "client_cert_required"]);
    assert!(line.contains(&srv.url("/auth")), "{line}");
    // ... with failureModeAllow, bypassed
    let yaml = single(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem"}}),
        ),
        json!({"failureModeAllow": true}),
    );
    assert_eq!(allowed(&serve_yaml(&yaml, &files, &[], &[])).status, 200);

    // a certificate from a CA the server does not know: refused too
    let ext =
        with(json!({"caFile": "ca.pem", "certFile": "foreign.pem", "keyFile": "foreign.key"}));
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(tls_failures(&ext, "client_cert_rejected"), 1.0);
    assert_eq!(srv.count(), 1, "only the good client got through");
}

/// `(tlsConfig, field below the http block, words of the reason)`: each a config error.
fn broken_cases() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (
            json!({"certFile": "client.pem"}),
            "tlsConfig.keyFile",
            "certFile needs keyFile",
        ),
        (
            json!({"keyFile": "client.key"}),
            "tlsConfig.certFile",
            "keyFile needs certFile",
        ),
        (
            json!({"caFile": "missing.pem"}),
            "tlsConfig.caFile",
            "cannot read",
        ),
        (
            json!({"caFile": "client.key"}),
            "tlsConfig.caFile",
            "no PEM certificate",
        ),
        (
            json!({"certFile": "client.pem", "keyFile": "half.key"}),
            "tlsConfig.keyFile",
            "not whole",
        ),
        (
            json!({"certFile": "client.pem", "keyFile": "other.key"}),
            "tlsConfig.keyFile",
            "does not belong",
        ),
        (
            json!({"minimumProtocolVersion": "TLSv1_4"}),
            "tlsConfig.minimumProtocolVersion",
            "TLSv1_2 or TLSv1_3",
        ),
        (
            json!({"secretRef": {"name": "auth-tls", "namespace": "gloo-system"}}),
            "tlsConfig.secretRef",
            "caFile, certFile and keyFile",
        ),
        (
            json!({"insecureSkipVerify": true}),
            "tlsConfig",
            "unknown field `insecureSkipVerify`",
        ),
        (
            json!({"serverName": "not a name"}),
            "tlsConfig.serverName",
            "neither a DNS name",
        ),
    ]
}

#[test]
fn tls_config_errors_name_file_document_and_field() {
    let ca = Ca::new("ca");
    let client = ca.leaf("c", &["c"]);
    let other = ca.leaf("o", &["o"]);
    let half = &client.key_pem[..client.key_pem.len() / 2];
    let dir = tempfile::TempDir::new().unwrap();
    for (name, text) in [
        ("client.pem", client.cert_pem.as_str()),
        ("client.key", client.key_pem.as_str()),
        ("other.key", other.key_pem.as_str()),
        ("half.key", half),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    for (i, (tls, field, words)) in broken_cases().into_iter().enumerate() {
        // a VirtualService first: the AuthConfig is the file's second document
        let file = format!("case{i}.yaml");
        let vs = virtual_service(&format!("vs{i}"), &[&format!("h{i}")], json!([]), None);
        let ac = auth_config(
            &format!("ac{i}"),
            json!({"configs": [step("", json!({"url": "https://127.0.0.1:1/auth", "tlsConfig": tls}))]}),
        );
        std::fs::write(dir.path().join(&file), yaml(&[vs, ac])).unwrap();
        let out = run(&["validate", dir.path().to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let full = format!("spec.configs[0].passThroughAuth.http.{field}");
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("{file}: document 2"))
                    && l.contains(&full)
                    && l.contains(words)),
            "case {i}: no line with {file}, document 2, {full} and {words:?}:\n{stderr}"
        );
        assert!(
            !stderr.contains(half.lines().nth(1).unwrap()),
            "a key is quoted:\n{stderr}"
        );
        std::fs::remove_file(dir.path().join(&file)).unwrap();
    }
    // tlsConfig on an http url
    let ac = auth_config(
        "plain",
        json!({"configs": [step("", json!({"url": "http://127.0.0.1:1/auth", "tlsConfig": {"caFile": "client.pem"}}))]}),
    );
    std::fs::write(dir.path().join("plain.yaml"), yaml(&[ac])).unwrap();
    let out = run(&["validate", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("http.tlsConfig: tlsConfig applies to https urls only"),
        "{stderr}"
    );
}

#[test]
fn a_broken_tls_config_keeps_the_last_good_version_serving() {
    let (server_ca, client_ca) = (Ca::new("server-ca"), Ca::new("client-ca"));
    let srv = demanding(&server_ca, &client_ca);
    let client = client_ca.leaf("client", &["client"]);
    let good = single(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem", "certFile": "client.pem", "keyFile": "client.key"}}),
        ),
        json!({}),
    );
    let ext = serve_yaml(
        &good,
        &[
            ("ca.pem", &server_ca.pem),
            ("client.pem", &client.cert_pem),
            ("client.key", &client.key_pem),
        ],
        &[],
        &[],
    );
    assert_eq!(allowed(&ext).status, 200);
    // the new version names a key file that does not exist
    let reloads = ext.reloads();
    ext.write("config.yaml", &good.replace("client.key", "gone.key"));
    let err = ext.expect_log(&["config error", "tlsConfig.keyFile"]);
    assert!(
        err.contains("config.yaml") && err.contains("document 1") && err.contains("gone.key"),
        "{err}"
    );
    ext.expect_log(&[
        "AuthConfig gloo-system/ac",
        "last good version keeps serving",
    ]);
    assert_eq!(allowed(&ext).status, 200);
    assert_eq!(
        srv.requests().last().unwrap().client_cn.as_deref(),
        Some("client")
    );
    assert!(configz_errors(&ext)
        .iter()
        .any(|(f, _)| f == "spec.configs[0].passThroughAuth.http.tlsConfig.keyFile"));
    assert_eq!(ext.reloads(), reloads, "nothing new was applied");
}
