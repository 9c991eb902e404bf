//! The TLS series pass Prometheus's own checks, and so do the alert rules docs/metrics.md
//! gives for them.

use super::*;
use crate::harness::tls::{Ca, TlsAuthServer, TlsSetup};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `promtool ARGS` with `input` on stdin (or as the file `input_file`); its success and
/// what it printed.
fn promtool(args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; ./scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn tls_series_and_their_alert_rules_pass_promtool() {
    let (server_ca, client_ca) = (Ca::new("server-ca"), Ca::new("client-ca"));
    let srv = TlsAuthServer::start(TlsSetup::new(server_ca.leaf("auth", &["127.0.0.1"])));
    let client = client_ca.leaf("client", &["client"]);
    let ext = serve(
        http(
            &srv.url("/auth"),
            json!({"tlsConfig": {"caFile": "ca.pem", "certFile": "c.pem", "keyFile": "c.key"}}),
        ),
        &[
            ("ca.pem", &server_ca.pem),
            ("c.pem", &client.cert_pem),
            ("c.key", &client.key_pem),
        ],
        &[],
        &[],
    );
    assert_eq!(allowed(&ext).status, 200);
    srv.set_cert(&client_ca.leaf("auth", &["127.0.0.1"]));
    assert_eq!(allowed(&ext).status, 503);
    let (_, scrape) = ext.admin_get("/metrics");
    for reason in [
        "unknown_ca",
        "bad_name",
        "expired",
        "client_cert_required",
        "client_cert_rejected",
        "protocol_version",
        "other",
    ] {
        let want = if reason == "unknown_ca" { 1.0 } else { 0.0 };
        assert_eq!(tls_failures(&ext, reason), want, "{reason}");
    }
    let ca_file = ext.dir().join("ca.pem").display().to_string();
    assert_eq!(
        expiry(&ext, "ca", &ca_file),
        Some(server_ca.not_after as f64)
    );
    let (ok, report) = promtool(&["check", "metrics"], &scrape);
    assert!(
        ok && report.trim().is_empty(),
        "promtool: {report}\n{scrape}"
    );

    // the alert rules of docs/metrics.md, TLS ones included
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    let section = doc.split("## What to alert on").nth(1).unwrap();
    let rules = section
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    assert!(rules.contains("extauth_passthrough_tls_cert_expiry_timestamp_seconds"));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), rules).unwrap();
    let (ok, report) = promtool(&["check", "rules", file.path().to_str().unwrap()], "");
    assert!(ok, "promtool check rules: {report}");
}
