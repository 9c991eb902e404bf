//! https auth services: TLS through awc's rustls connector, against real TLS servers on
//! 127.0.0.1 with certificates made by the tests (`harness::tls`).
//!
//! - `basics`: https answers as http does, over TLS 1.2 and 1.3, keep-alive, limits, time
//!   budget; the system roots by default.
//! - `trust`: `HTTPS_PASSTHROUGH_CA_CERT`, `caFile`, `serverName`, expiry, versions.
//! - `mtls`: client certificates; `tlsConfig` errors.
//! - `rotation`: new CA, certificate and key files while checks run.

mod basics;
mod metrics;
mod mtls;
mod rotation;
mod trust;

use crate::harness::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The header the sample rule allows.
pub const AUTHORIZE_ME: (&str, &str) = ("authorization", "authorize me");

/// The `http` block of a step calling `url` with `authorization` copied, plus `extra` fields.
pub fn http(url: &str, extra: Value) -> Value {
    let mut h = json!({
        "url": url,
        "connectionTimeout": "2s",
        "request": {"allowedHeaders": ["authorization"]},
    });
    merge(&mut h, extra);
    h
}

/// Serves one AuthConfig `ac` (every host) whose step is `http` (see [`single`]), with
/// `files` (e.g. PEM files) in the config directory, extauth's `args` and `env`.
pub fn serve(http: Value, files: &[(&str, &str)], args: &[&str], env: &[(&str, &str)]) -> Extauth {
    serve_yaml(&single(http, json!({})), files, args, env)
}

/// Serves `config.yaml` holding `yaml`, with `files` beside it.
pub fn serve_yaml(
    yaml: &str,
    files: &[(&str, &str)],
    args: &[&str],
    env: &[(&str, &str)],
) -> Extauth {
    let dir = tempfile::TempDir::new().unwrap();
    for (name, content) in files.iter().chain([&("config.yaml", yaml)]) {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        settled(&path);
    }
    Extauth::start_in_env(dir, args, env)
}

/// A check carrying the sample's credentials.
pub fn allowed(ext: &Extauth) -> Answer {
    ext.get("/posts/1", &[AUTHORIZE_ME])
}

/// The value of `extauth_passthrough_tls_handshake_failures_total` for AuthConfig `ac` and
/// `reason`.
pub fn tls_failures(ext: &Extauth, reason: &str) -> f64 {
    ext.metric(&format!(
        "extauth_passthrough_tls_handshake_failures_total{{auth_config=\"{NS}/ac\",reason=\"{reason}\"}}"
    ))
    .unwrap_or_else(|| panic!("no {reason} series; metrics:\n{}", ext.admin_get("/metrics").1))
}

/// The expiry gauge of AuthConfig `ac` for `kind` (`ca`, `client_cert`) and `source`.
pub fn expiry(ext: &Extauth, kind: &str, source: &str) -> Option<f64> {
    ext.metric(&format!(
        "extauth_passthrough_tls_cert_expiry_timestamp_seconds{{auth_config=\"{NS}/ac\",kind=\"{kind}\",source=\"{source}\""
    ))
}

/// The config errors `/configz` shows now: (field, message).
pub fn configz_errors(ext: &Extauth) -> Vec<(String, String)> {
    let (status, body) = ext.admin_get("/configz");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Checks sent one after the other on a keep-alive connection while a test changes files;
/// every answer's status is kept.
pub struct Continuous<'a> {
    ext: &'a Extauth,
    stop: AtomicBool,
}

impl<'a> Continuous<'a> {
    /// Checks against `ext`.
    pub fn new(ext: &'a Extauth) -> Self {
        Continuous {
            ext,
            stop: AtomicBool::new(false),
        }
    }

    /// Runs checks (one every 2 ms) while `during` runs, then returns every status (0 for a
    /// check that got no answer) and `during`'s result.
    pub fn during<T>(&self, during: impl FnOnce() -> T) -> (Vec<u16>, T) {
        std::thread::scope(|s| {
            let checks = s.spawn(|| {
                let mut conn = self.ext.client();
                let raw = check_request("GET", HOST, "/posts/1", &[AUTHORIZE_ME], b"");
                let mut statuses = Vec::new();
                while !self.stop.load(Ordering::SeqCst) {
                    let status = conn
                        .send(&raw)
                        .map(|m| m.first.parse().unwrap_or(0))
                        .unwrap_or(0);
                    statuses.push(status);
                    std::thread::sleep(Duration::from_millis(2));
                }
                statuses
            });
            // stops the checks however `during` ends (a failed assertion in it included)
            struct StopOnDrop<'s>(&'s AtomicBool);
            impl Drop for StopOnDrop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let stop = StopOnDrop(&self.stop);
            let result = during();
            drop(stop);
            (checks.join().unwrap(), result)
        })
    }
}

/// Asserts that every status is 200 and that there were at least `min` checks.
pub fn assert_all_allowed(statuses: &[u16], min: usize) {
    let failed: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} checks failed during the swap: {failed:?}",
        failed.len(),
        statuses.len()
    );
    assert!(
        statuses.len() >= min,
        "only {} checks ran during the swap",
        statuses.len()
    );
}
