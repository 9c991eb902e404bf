//! A client cannot pre-seed the headers the auth service vouches for: the generated routes
//! strip every client copy of an AuthConfig's `allowedUpstreamHeaders` and
//! `allowedUpstreamHeadersToOverwrite` before ext_authz, so the upstream gets exactly the auth
//! service's values, or none. Through a real Envoy with the generated bootstrap.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;

use crate::harness::envoy::{self, Envoy};
use crate::harness::server::{upstream, Reply, Request, Server};
use crate::harness::{extauth, extauth_serve_trusting, free_port, wait_for};

const HOST: &str = "identity.example";

/// What the auth service received: the `x-user-*` headers of each request, in order.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// An auth service: `authorization: good` → 200 with `x-user-id: 42`, `x-user-email: a@x`;
/// `authorization: anon` → 200 with no header; anything else → 401. It records the `x-user-*`
/// headers each request carried.
fn auth_service() -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let server = Server::start(move |req: &Request| -> Reply {
        let user: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(n, _)| n.starts_with("x-user"))
            .cloned()
            .collect();
        record.lock().unwrap().push(user);
        match req.header("authorization") {
            Some("good") => {
                let headers = vec![
                    ("x-user-id".into(), "42".into()),
                    ("x-user-email".into(), "a@x".into()),
                ];
                (200, headers, String::new())
            }
            Some("anon") => (200, Vec::new(), String::new()),
            _ => (401, Vec::new(), String::new()),
        }
    });
    (server, seen)
}

/// The `x-user-*` headers of the last request the auth service received.
fn last_seen(seen: &Seen) -> Vec<(String, String)> {
    seen.lock().unwrap().last().cloned().unwrap_or_default()
}

fn auth_config(name: &str, auth_port: u16, request: &str, response: &str) -> String {
    format!(
        "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {{name: {name}, namespace: gloo-system}}
spec:
  configs:
  - passThroughAuth:
      http:
        url: http://127.0.0.1:{auth_port}/auth
        request: {request}
        response: {response}
---
"
    )
}

fn route(prefix: &str, config: &str) -> String {
    format!(
        "    - matchers: [{{prefix: {prefix}}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
      options: {{extauth: {{configRef: {{name: {config}}}}}}}
"
    )
}

/// `append` vouches for x-user-id (appended), `overwrite` for x-user-email (overwritten),
/// `trusting` vouches for x-user-id but also trusts it from the client, `plain` vouches for
/// nothing.
fn config(auth_port: u16, upstream_port: u16) -> String {
    let allowed = "{allowedHeaders: [authorization]}";
    let mut s = String::new();
    s += &auth_config(
        "append",
        auth_port,
        allowed,
        "{allowedUpstreamHeaders: [x-user-id]}",
    );
    s += &auth_config(
        "overwrite",
        auth_port,
        allowed,
        "{allowedUpstreamHeadersToOverwrite: [x-user-email]}",
    );
    s += &auth_config(
        "trusting",
        auth_port,
        "{allowedHeaders: [authorization, x-user-id]}",
        "{allowedUpstreamHeaders: [x-user-id]}",
    );
    s += &auth_config("plain", auth_port, allowed, "{}");
    s += &format!(
        "apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: identity, namespace: gloo-system}}
spec:
  virtualHost:
    domains: [{HOST}]
    routes:
{}{}{}{}{}---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {{name: backend, namespace: gloo-system}}
spec:
  static:
    hosts: [{{addr: 127.0.0.1, port: {upstream_port}}}]
",
        route("/append", "append"),
        route("/overwrite", "overwrite"),
        route("/trusting", "trusting"),
        route("/plain", "plain"),
        route("/", "append"),
    );
    s
}

fn write_config(dir: &Path, auth: u16, up: u16) {
    std::fs::write(dir.join("all.yaml"), config(auth, up)).unwrap();
}

#[test]
fn a_client_forged_identity_header_never_reaches_the_upstream() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let ((auth, seen), backend) = (auth_service(), upstream());
    write_config(cfg.path(), auth.port, backend.port);
    let (extauth, check_port, _) = extauth_serve_trusting(cfg.path(), work.path());
    let envoy = Envoy::start(
        cfg.path(),
        check_port,
        work.path(),
        "envoy-identity-headers",
    );
    assert!(wait_for(
        || envoy
            .get("/plain", HOST, &[("authorization", "good")])
            .status
            == 200,
        Duration::from_secs(10)
    ));
    let forged = [
        ("authorization", "good"),
        ("x-user-id", "7"),
        ("x-user-id", "8"),
        ("x-user-email", "evil@x"),
    ];
    let anon_forged = [
        ("authorization", "anon"),
        ("x-user-id", "7"),
        ("x-user-email", "evil@x"),
    ];
    let unknown = [("x-user-id", "7"), ("x-user-email", "evil@x")];

    // append: exactly the auth service's value, never the client's before it
    let r = envoy.get("/append", HOST, &forged);
    assert_eq!(r.status, 200, "{}", extauth.log());
    assert_eq!(r.all("echo-x-user-id"), ["42"]);
    assert_eq!(last_seen(&seen), [], "the auth service never sees them");
    // ... and nothing when the auth service returns nothing
    let r = envoy.get("/append", HOST, &anon_forged);
    assert_eq!(r.status, 200);
    assert_eq!(r.all("echo-x-user-id"), Vec::<&str>::new());
    // a header this AuthConfig does not vouch for keeps append semantics: the client's copy
    assert_eq!(r.all("echo-x-user-email"), ["evil@x"]);

    // overwrite: the same, for the overwrite list
    let r = envoy.get("/overwrite", HOST, &forged);
    assert_eq!(r.status, 200);
    assert_eq!(r.all("echo-x-user-email"), ["a@x"]);
    let r = envoy.get("/overwrite", HOST, &anon_forged);
    assert_eq!(r.all("echo-x-user-email"), Vec::<&str>::new());
    assert_eq!(r.all("echo-x-user-id"), ["7"]);

    // trusted from the client and vouched for: the owner's choice, not stripped
    let r = envoy.get("/trusting", HOST, &forged);
    assert_eq!(r.status, 200);
    let copied = [("x-user-id".to_string(), "7,8".to_string())];
    assert_eq!(last_seen(&seen), copied, "allowedHeaders copies it");
    assert_eq!(r.all("echo-x-user-id"), ["7", "8", "42"]);

    // an AuthConfig that vouches for nothing keeps every client header
    let r = envoy.get("/plain", HOST, &forged);
    assert_eq!(r.status, 200);
    assert_eq!(r.all("echo-x-user-id"), ["7", "8"]);
    assert_eq!(r.all("echo-x-user-email"), ["evil@x"]);

    // a denial is a denial: nothing forged helps
    assert_eq!(envoy.get("/append", HOST, &unknown).status, 401);
}

#[test]
fn gloos_behaviour_on_request_and_the_warning_for_a_trusted_vouched_header() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    write_config(cfg.path(), free_port(), free_port());
    let dir = cfg.path().to_str().unwrap();
    let (ok, _, stderr) = extauth(&["validate", dir]);
    assert!(ok, "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("trusting"), "{}", warnings[0]);
    assert!(warnings[0].contains("`x-user-id` is both trusted from the client"));

    let args = |keep: bool| {
        let mut a = vec![
            "envoy-config",
            "--config-dir",
            dir,
            "--extauth-address",
            "127.0.0.1:8083",
            "--bootstrap",
        ];
        if keep {
            a.push("--keep-client-identity-headers");
        }
        a
    };
    let (ok, yaml, stderr) = extauth(&args(false));
    assert!(ok, "{stderr}");
    assert!(yaml.contains("- remove: x-user-id"));
    let (ok, yaml, stderr) = extauth(&args(true));
    assert!(ok, "{stderr}");
    assert!(!yaml.contains("- remove:"), "{yaml}");
    let (valid, log) = envoy::validate(&yaml, work.path());
    assert!(valid, "{log}");
}

#[test]
fn appending_and_overwriting_one_header_in_two_auth_configs_is_refused() {
    let cfg = TempDir::new().unwrap();
    let (auth, up) = (free_port(), free_port());
    let both = config(auth, up).replace(
        "{allowedUpstreamHeadersToOverwrite: [x-user-email]}",
        "{allowedUpstreamHeadersToOverwrite: [x-user-id]}",
    );
    std::fs::write(cfg.path().join("all.yaml"), both).unwrap();
    let dir = cfg.path().to_str().unwrap();
    for args in [
        vec!["validate", dir],
        vec![
            "envoy-config",
            "--config-dir",
            dir,
            "--extauth-address",
            "127.0.0.1:8083",
            "--bootstrap",
        ],
    ] {
        let (ok, _, stderr) = extauth(&args);
        assert!(!ok, "{args:?} accepted it");
        let line = stderr
            .lines()
            .find(|l| l.contains("`x-user-id` is appended"))
            .unwrap_or_else(|| panic!("{args:?}: {stderr}"));
        for name in [
            "gloo-system/append",
            "gloo-system/trusting",
            "gloo-system/overwrite",
        ] {
            assert!(line.contains(name), "{line}");
        }
    }
}
