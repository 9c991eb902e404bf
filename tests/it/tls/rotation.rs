//! Rotation without restart: new CA, certificate and key files are used by new connections
//! within 2 s while checks keep flowing (0 failures); the AuthConfig and its pooled
//! connections stay; a half-written or invalid file keeps the previous material, reported.

use super::*;
use crate::harness::tls::{Ca, Leaf, SecretDir, TlsAuthServer, TlsSetup};
use std::io::Write;
use std::time::Instant;

/// Waits up to `limit` for `cond`; the time it took, or a panic saying `what`.
fn within(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    wait_for(&mut cond, limit).unwrap_or_else(|| panic!("{what}: not within {limit:?}"))
}

fn client_files(leaf: &Leaf) -> [(&'static str, String); 2] {
    [
        ("tls.crt", leaf.cert_pem.clone()),
        ("tls.key", leaf.key_pem.clone()),
    ]
}

fn as_refs<'a>(files: &'a [(&'static str, String); 2]) -> [(&'static str, &'a str); 2] {
    [
        (files[0].0, files[0].1.as_str()),
        (files[1].0, files[1].1.as_str()),
    ]
}

#[test]
fn a_client_certificate_rotated_through_a_secret_mount_is_used_within_2_s() {
    let (server_ca, client_ca) = (Ca::new("server-ca"), Ca::new("client-ca"));
    let mut setup = TlsSetup::new(server_ca.leaf("auth", &["127.0.0.1"]));
    setup.client_ca = Some(client_ca.pem.clone());
    let srv = TlsAuthServer::start(setup);
    // the Secret mounted outside the config directory, as Kubernetes does
    let mount = tempfile::TempDir::new().unwrap();
    let first = client_ca.leaf("client-1", &["extauth"]);
    let mut secret = SecretDir::new(
        &mount.path().join("client-tls"),
        &as_refs(&client_files(&first)),
    );
    let cert = secret.path.join("tls.crt").display().to_string();
    let key = secret.path.join("tls.key").display().to_string();
    let ext = serve(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem", "certFile": cert, "keyFile": key}}),
        ),
        &[("ca.pem", &server_ca.pem)],
        &["--workers", "1"],
        &[],
    );
    assert_eq!(allowed(&ext).status, 200);
    assert_eq!(srv.requests()[0].client_cn.as_deref(), Some("client-1"));
    let handshakes = srv.handshakes();

    // swap in client-2: the pooled connection (made with client-1) stays in use
    let second = client_ca.leaf_valid("client-2", &["extauth"], (2020, 2036));
    let reloads = ext.reloads();
    let (statuses, took) = Continuous::new(&ext).during(|| {
        std::thread::sleep(Duration::from_millis(200));
        let swapped = Instant::now();
        secret.swap(&as_refs(&client_files(&second)));
        within(
            Duration::from_secs(2),
            "the new client certificate's expiry exported",
            || expiry(&ext, "client_cert", &cert) == Some(second.not_after as f64),
        );
        let took = swapped.elapsed();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(srv.handshakes(), handshakes, "pooled connections are kept");
        // new connections present client-2
        srv.close_each(true);
        within(Duration::from_secs(2), "the server sees client-2", || {
            srv.requests()
                .last()
                .and_then(|r| r.client_cn.clone())
                .as_deref()
                == Some("client-2")
        });
        std::thread::sleep(Duration::from_millis(200));
        took
    });
    assert_all_allowed(&statuses, 30);
    assert!(took < Duration::from_secs(2), "{took:?}");
    eprintln!(
        "client certificate swapped: in use after {took:?}; {} checks, all allowed",
        statuses.len()
    );
    assert_eq!(
        ext.reloads(),
        reloads,
        "the AuthConfig itself did not change"
    );
    ext.expect_log(&[
        "AuthConfig gloo-system/ac",
        "new connections use the new material",
    ]);
    let after: Vec<_> = srv
        .requests()
        .into_iter()
        .skip_while(|r| r.client_cn.as_deref() != Some("client-2"))
        .collect();
    assert!(
        after
            .iter()
            .all(|r| r.client_cn.as_deref() == Some("client-2")),
        "never client-1 again"
    );
}

#[test]
fn a_ca_rotated_with_an_overlap_bundle_keeps_every_check_flowing() {
    let (old, new) = (Ca::until("old-ca", 2040), Ca::until("new-ca", 2037));
    let srv = TlsAuthServer::start(TlsSetup::new(old.leaf("auth", &["127.0.0.1"])));
    let ext = serve(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem"}}),
        ),
        &[("ca.pem", &old.pem)],
        &[],
        &[],
    );
    let ca_file = ext.dir().join("ca.pem");
    let source = ca_file.display().to_string();
    assert_eq!(expiry(&ext, "ca", &source), Some(old.not_after as f64));
    // written as editors and cert-manager write: a new file renamed into place
    let replace = |text: &str| {
        let tmp = ext.dir().join(".ca.pem.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &ca_file).unwrap();
    };
    let (statuses, took) = Continuous::new(&ext).during(|| {
        std::thread::sleep(Duration::from_millis(200));
        // 1. trust both
        replace(&format!("{}{}", old.pem, new.pem));
        let took = within(Duration::from_secs(2), "the bundle in use", || {
            expiry(&ext, "ca", &source) == Some(new.not_after as f64)
        });
        // 2. the server moves to a certificate of the new CA; every check a new handshake
        srv.set_cert(&new.leaf("auth", &["127.0.0.1"]));
        srv.close_each(true);
        let served = srv.count();
        within(
            Duration::from_secs(2),
            "checks on the new certificate",
            || srv.count() > served + 20,
        );
        // 3. the old CA goes
        replace(&new.pem);
        std::thread::sleep(Duration::from_millis(500));
        took
    });
    assert_all_allowed(&statuses, 30);
    assert!(took < Duration::from_secs(2), "{took:?}");
    eprintln!(
        "CA bundle rewritten: in use after {took:?}; {} checks, all allowed",
        statuses.len()
    );
    // the old CA is no longer trusted: a server back on its certificate is refused
    srv.set_cert(&old.leaf("auth", &["127.0.0.1"]));
    assert_eq!(allowed(&ext).status, 503);
    assert_eq!(tls_failures(&ext, "unknown_ca"), 1.0);
}

#[test]
fn a_half_written_or_invalid_tls_file_keeps_the_previous_material() {
    let (one, two) = (Ca::until("one", 2039), Ca::until("two", 2034));
    let srv = TlsAuthServer::start(TlsSetup::new(one.leaf("auth", &["127.0.0.1"])));
    let ext = serve(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem"}}),
        ),
        &[("ca.pem", &one.pem)],
        &[],
        &[],
    );
    srv.close_each(true);
    let ca_file = ext.dir().join("ca.pem");
    let source = ca_file.display().to_string();
    let field = "spec.configs[0].passThroughAuth.http.tlsConfig.caFile";
    let bundle = format!("{}{}", one.pem, two.pem);
    let (statuses, ()) = Continuous::new(&ext).during(|| {
        // a writer that stops half-way and keeps the file open: nothing changes, no error
        let mut writer = std::fs::File::create(&ca_file).unwrap();
        writer
            .write_all(&bundle.as_bytes()[..bundle.len() - 300])
            .unwrap();
        writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(expiry(&ext, "ca", &source), Some(one.not_after as f64));
        assert!(
            configz_errors(&ext).is_empty(),
            "{:?}",
            configz_errors(&ext)
        );
        // the rest, and the close: the bundle is used
        writer
            .write_all(&bundle.as_bytes()[bundle.len() - 300..])
            .unwrap();
        drop(writer);
        within(Duration::from_secs(2), "the whole bundle in use", || {
            expiry(&ext, "ca", &source) == Some(two.not_after as f64)
        });
        srv.set_cert(&two.leaf("auth", &["127.0.0.1"]));

        // an invalid file, closed: reported, the bundle stays in use
        std::fs::write(&ca_file, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n").unwrap();
        within(Duration::from_secs(2), "the error on /configz", || {
            configz_errors(&ext)
                .iter()
                .any(|(f, m)| f == field && m.contains("not whole"))
        });
        ext.expect_log(&["config error", "tlsConfig.caFile", "ca.pem"]);
        assert_eq!(expiry(&ext, "ca", &source), Some(two.not_after as f64));
        std::thread::sleep(Duration::from_millis(300));

        // fixed: the error goes, the new file is used
        std::fs::write(&ca_file, &two.pem).unwrap();
        within(Duration::from_secs(2), "the error gone", || {
            configz_errors(&ext).is_empty()
        });
    });
    assert_all_allowed(&statuses, 30);
    assert_eq!(expiry(&ext, "ca", &source), Some(two.not_after as f64));
    srv.set_cert(&one.leaf("auth", &["127.0.0.1"]));
    assert_eq!(allowed(&ext).status, 503, "`one` is no longer trusted");
}
