//! https answers as http does: the same call, the same answers, keep-alive, connection limits
//! and time budget; the system's roots when nothing else is said.

use super::*;
use crate::harness::tls::{self_signed, silent_server, Ca, TlsAuthServer, TlsSetup, Versions};
use std::time::Instant;

#[test]
fn https_calls_and_answers_as_http_does_over_tls_1_2_and_1_3() {
    for versions in [Versions::Tls12, Versions::Tls13] {
        let ca = Ca::new("auth-ca");
        let mut setup = TlsSetup::new(ca.leaf("auth", &["127.0.0.1"]));
        setup.versions = versions;
        let srv = TlsAuthServer::start(setup);
        let ext = serve(
            http(
                &srv.url("/auth"),
                json!({"tlsConfig": {"caFile": "ca.pem"}}),
            ),
            &[("ca.pem", &ca.pem)],
            &[],
            &[],
        );
        assert_eq!(allowed(&ext).status, 200, "{versions:?}");
        assert_eq!(ext.get("/posts/1", &[]).status, 401, "a 403 denies");
        let seen = srv.requests();
        assert_eq!(seen.len(), 2);
        let want = if versions == Versions::Tls12 {
            "TLSv1_2"
        } else {
            "TLSv1_3"
        };
        assert!(seen.iter().all(|r| r.version == want), "{seen:?}");
        // the call is the same as over http: POST to the url's path, host = its authority,
        // only the allowed header copied
        let r = &seen[0];
        assert_eq!(r.target, "/auth");
        assert_eq!(
            r.get("host").as_deref(),
            Some(srv.url("").trim_start_matches("https://"))
        );
        assert_eq!(r.all("authorization"), ["authorize me"]);
        assert_eq!(
            r.names(),
            [
                "accept-encoding",
                "authorization",
                "content-length",
                "date",
                "host"
            ]
        );
        assert_eq!(r.sni, None, "no SNI for an IP address");
    }
}

#[test]
fn server_errors_over_tls_fail_closed_or_open_as_over_http() {
    let ca = Ca::new("auth-ca");
    let srv = TlsAuthServer::start(TlsSetup::new(ca.leaf("auth", &["127.0.0.1"])));
    for (fma, want) in [(false, 503), (true, 200)] {
        let yaml = single(
            http(
                &srv.url("/status/503"),
                json!({"tlsConfig": {"caFile": "ca.pem"}}),
            ),
            json!({"failureModeAllow": fma}),
        );
        let ext = serve_yaml(&yaml, &[("ca.pem", &ca.pem)], &[], &[]);
        assert_eq!(allowed(&ext).status, want, "failureModeAllow {fma}");
    }
}

#[test]
fn keep_alive_reuses_tls_connections() {
    let ca = Ca::new("auth-ca");
    let srv = TlsAuthServer::start(TlsSetup::new(ca.leaf("auth", &["127.0.0.1"])));
    let ext = serve(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem"}}),
        ),
        &[("ca.pem", &ca.pem)],
        &["--workers", "1"],
        &[],
    );
    let mut conn = ext.client();
    let raw = check_request("GET", HOST, "/posts/1", &[AUTHORIZE_ME], b"");
    for i in 0..300 {
        let status: u16 = conn.send(&raw).unwrap().first.parse().unwrap();
        assert_eq!(status, 200, "check {i}");
    }
    assert_eq!(srv.count(), 300);
    assert_eq!(
        (srv.connections(), srv.handshakes()),
        (1, 1),
        "300 sequential checks, one TLS connection"
    );
}

#[test]
fn max_conns_caps_tls_connections() {
    let ca = Ca::new("auth-ca");
    let srv = TlsAuthServer::start(TlsSetup::new(ca.leaf("auth", &["127.0.0.1"])));
    let ext = serve(
        http(
            &srv.url("/slow"),
            json!({"tlsConfig": {"caFile": "ca.pem"}, "connectionTimeout": "5s", "connectionPool": {"maxConns": 2}}),
        ),
        &[("ca.pem", &ca.pem)],
        &[],
        &[],
    );
    std::thread::scope(|s| {
        let checks: Vec<_> = (0..6).map(|_| s.spawn(|| allowed(&ext).status)).collect();
        for c in checks {
            assert_eq!(c.join().unwrap(), 200);
        }
    });
    assert_eq!(srv.count(), 6);
    assert!(
        srv.connections() <= 2,
        "at most maxConns TLS connections, saw {}",
        srv.connections()
    );
}

#[test]
fn the_system_roots_are_the_default_and_an_untrusted_server_fails_closed() {
    // a self-signed server: the system's roots do not trust it
    let srv = TlsAuthServer::start(TlsSetup::new(self_signed(&["127.0.0.1"])));
    let ext = serve(http(&srv.url("/auth"), json!({})), &[], &[], &[]);
    let started = Instant::now();
    assert_eq!(allowed(&ext).status, 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(srv.count(), 0, "nothing reached the untrusted server");
    let line = ext.expect_log(&["auth service failed", "unknown_ca"]);
    for needle in [format!("{NS}/ac"), srv.url("/auth"), "UnknownIssuer".into()] {
        assert!(line.contains(&needle), "{needle} missing: {line}");
    }
    assert_eq!(tls_failures(&ext, "unknown_ca"), 1.0);
    assert_eq!(tls_failures(&ext, "bad_name"), 0.0);

    // failureModeAllow lets it through, counted as a bypass
    let yaml = single(
        http(&srv.url("/auth"), json!({})),
        json!({"failureModeAllow": true}),
    );
    let ext = serve_yaml(&yaml, &[], &[], &[]);
    assert_eq!(allowed(&ext).status, 200);
    let bypass =
        format!("extauth_solo_io_http_passthrough_bypass_failure_total{{auth_config=\"{NS}/ac\"}}");
    assert_eq!(ext.metric(&bypass), Some(1.0));

    // a server whose CA is among the system's roots: SSL_CERT_FILE is where
    // rustls-native-certs reads them from (as OpenSSL-based programs do)
    let ca = Ca::new("system-ca");
    let trusted = TlsAuthServer::start(TlsSetup::new(ca.leaf("auth", &["127.0.0.1"])));
    let roots = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(roots.path(), &ca.pem).unwrap();
    let env = [("SSL_CERT_FILE", roots.path().to_str().unwrap())];
    let ext = serve(http(&trusted.url("/auth"), json!({})), &[], &[], &env);
    assert_eq!(allowed(&ext).status, 200);
    assert_eq!(trusted.count(), 1);
    // ... and only those: the self-signed server is still refused
    let yaml = single(http(&srv.url("/auth"), json!({})), json!({}));
    let ext = serve_yaml(&yaml, &[], &[], &env);
    assert_eq!(allowed(&ext).status, 503);
}

#[test]
fn a_handshake_never_outlasts_connection_timeout() {
    let (addr, _server) = silent_server();
    let ext = serve(
        http(
            &format!("https://{addr}/auth"),
            json!({"connectionTimeout": "400ms"}),
        ),
        &[],
        &[],
        &[],
    );
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(allowed(&ext).status, 503);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(380) && took < Duration::from_millis(500),
            "answered after {took:?}: the 400 ms budget covers the handshake"
        );
    }
    ext.expect_log(&["auth service failed", "400 ms"]);
}
