//! `/explain` on a running server: the same trace as `extauth check`, from the configuration
//! in force, and the decision the server really makes for the same request.

use super::{check_json, dir};
use crate::harness::http::{exchange, request_bytes};
use crate::harness::*;
use crate::seed::{seed_v2, VIRTUAL_SERVICE};
use serde_json::{json, Value};
use std::time::Duration;

/// `GET /explain` on `ext`'s admin port, parsed.
fn explain(ext: &Extauth, query: &str) -> Value {
    let (status, body) = ext.admin_get(&format!("/explain?{query}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn explain_agrees_with_check_and_with_what_the_server_decides() {
    let srv = AuthServer::sample();
    let files = [
        ("authconfig.yaml", seed_v2(&srv.url("/auth"))),
        ("virtualservice.yaml", VIRTUAL_SERVICE.to_string()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let ext = Extauth::start_with(&files, &["--path-prefix", "/ext"]);
    let d = dir(&files);
    for (auth, path, want) in [
        ("authorize me", "/ext/posts/1", 200),
        ("let me in", "/ext/posts/1", 401),
        ("authorize me", "/posts/1", 403),
    ] {
        let url = format!("http://foo-http{path}");
        let query = format!(
            "url={}&header=authorization:%20{}",
            url.replace('/', "%2F").replace(':', "%3A"),
            auth.replace(' ', "%20")
        );
        let live = explain(&ext, &query);
        let header = format!("authorization: {auth}");
        let (_, local) = check_json(&d, &[&url, "-H", &header, "--path-prefix", "/ext"]);
        let (mut live, mut local) = (live, local);
        // the same files, in two directories
        for t in [&mut live, &mut local] {
            if t["auth_config"].is_object() {
                t["auth_config"]["source"] = Value::Null;
            }
        }
        for key in [
            "request",
            "routing",
            "auth_config",
            "steps",
            "boolean_expr",
            "called",
        ] {
            assert_eq!(live[key], local[key], "{key} differs for {path} {auth}");
        }
        assert_eq!(live["config"]["dir"], Value::Null);
        assert_eq!(live["answer"], local["answer"]);
        let before = srv.count();
        let (code, called) = check_json(
            &d,
            &[&url, "-H", &header, "--path-prefix", "/ext", "--call"],
        );
        let real = ext.check("GET", HOST, path, &[("authorization", auth)], b"");
        assert_eq!(real.status, want, "{path} {auth}");
        assert_eq!(called["answer"]["status"], real.status, "{path} {auth}");
        assert_eq!(code, if want == 200 { 0 } else { 1 });
        if want == 403 {
            assert_eq!(live["routing"]["result"], "no_path_prefix");
            assert_eq!(srv.count(), before, "no call for a path without the prefix");
        } else {
            // one call by `check --call`, one by the server: the same request
            let calls = srv.requests();
            assert_eq!(calls.len(), before + 2);
            let (a, b) = (&calls[before], &calls[before + 1]);
            assert_eq!(
                (&a.method, &a.target, a.all("authorization")),
                (&b.method, &b.target, b.all("authorization"))
            );
        }
    }
    // always redacted
    let live = explain(
        &ext,
        "url=http%3A%2F%2Ffoo-http%2Fext%2Fa&header=authorization:%20secret",
    );
    assert!(!live.to_string().contains("secret"), "{live}");
}

#[test]
fn explain_refuses_other_methods_and_bad_queries() {
    let ext = serve_single(json!({"url": "http://127.0.0.1:1/"}));
    for query in [
        "",
        "?url=ftp%3A%2F%2Fh%2F",
        "?url=http%3A%2F%2Fh%2F&header=nocolon",
        "?url=a&bogus=1",
    ] {
        let (status, body) = ext.admin_get(&format!("/explain{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(!body.trim().is_empty(), "a reason: {query}");
    }
    let raw = request_bytes(
        "POST",
        "/explain?url=http%3A%2F%2Fh%2F",
        &[
            ("host", "admin"),
            ("content-length", "0"),
            ("connection", "close"),
        ],
        b"",
    );
    let answer = exchange(&ext.admin_addr, &raw, Duration::from_secs(5)).unwrap();
    assert_eq!(answer.first, "405");
}

/// The seed's VirtualService with a route before the protected one that turns extauth off
/// for `/public`, and its Upstream (which `envoy-config --bootstrap` needs).
const TWO_ROUTES: &str = r#"apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata:
  name: http-auth-tutorial
  namespace: gloo-system
spec:
  virtualHost:
    domains:
      - 'foo-http'
    routes:
      - matchers:
        - prefix: /public
        routeAction:
          single:
            upstream: {name: json-upstream, namespace: gloo-system}
        options:
          extauth: {disable: true}
      - matchers:
        - prefix: /
        routeAction:
          single:
            upstream: {name: json-upstream, namespace: gloo-system}
    options:
      extauth:
        configRef:
          name: http-passthrough-auth
          namespace: gloo-system
---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata:
  name: json-upstream
  namespace: gloo-system
spec:
  static:
    hosts: [{addr: 127.0.0.1, port: 9}]
"#;

/// The route identities `extauth envoy-config --bootstrap` sets on the routes of the files in
/// `dir`, in order.
fn identities(dir: &tempfile::TempDir) -> Vec<String> {
    let out = std::process::Command::new(extauth::binary())
        .args([
            "envoy-config",
            "--bootstrap",
            "--extauth-address",
            "127.0.0.1:8083",
        ])
        .arg("--config-dir")
        .arg(dir.path())
        .output()
        .expect("run envoy-config");
    assert!(out.status.success(), "{out:?}");
    let yaml = String::from_utf8(out.stdout).unwrap();
    let id = regex::Regex::new(r"gloo-system/http-auth-tutorial/\d+/\d+/[0-9a-f]{16}").unwrap();
    let mut found: Vec<String> = id
        .find_iter(&yaml)
        .map(|m| m.as_str().to_string())
        .collect();
    found.dedup();
    found
}

/// `url`, form-encoded for a query.
fn encoded(url: &str) -> String {
    url.replace('/', "%2F").replace(':', "%3A")
}

#[test]
fn with_trust_route_header_explain_routes_by_the_identity_as_the_server_does() {
    let srv = AuthServer::sample();
    let files = [
        ("authconfig.yaml", seed_v2(&srv.url("/auth"))),
        ("virtualservice.yaml", TWO_ROUTES.to_string()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let d = dir(&files);
    let ids = identities(&d);
    assert_eq!(ids.len(), 2, "one identity a route: {ids:?}");
    let protected = &ids[1];
    assert!(protected.starts_with("gloo-system/http-auth-tutorial/1/0/"));
    let ext = Extauth::start_with(&files, &["--trust-route-header"]);
    let public = "http://foo-http/public/a";

    // Envoy took the protected route (its own routing): the identity decides, not the path
    let query = format!(
        "url={}&header=x-extauth-route:%20{protected}",
        encoded(public)
    );
    let live = explain(&ext, &query);
    let routing = &live["routing"];
    assert_eq!(routing["identity"], protected.as_str(), "{live}");
    assert_eq!(routing["result"], "matched");
    assert_eq!(routing["route"], "routes[1]");
    assert_eq!(routing["virtual_service"], "gloo-system/http-auth-tutorial");
    assert_eq!(
        live["auth_config"]["key"],
        "gloo-system/http-passthrough-auth"
    );
    let header = format!("x-extauth-route: {protected}");
    let (_, local) = check_json(&d, &[public, "-H", &header, "--trust-route-header"]);
    assert_eq!(live["routing"], local["routing"], "the CLI agrees");
    // and the server does the same: the auth service is called, and denies (401)
    let real = ext.check(
        "GET",
        HOST,
        "/public/a",
        &[("x-extauth-route", protected)],
        b"",
    );
    assert_eq!(real.status, 401);
    assert_eq!(
        srv.count(),
        1,
        "the protected route's AuthConfig was consulted"
    );

    // an identity no route in force has: 403, nothing called, in both
    let unknown = "gloo-system/http-auth-tutorial/1/0/0000000000000000";
    let live = explain(
        &ext,
        &format!(
            "url={}&header=x-extauth-route:%20{unknown}",
            encoded(public)
        ),
    );
    assert_eq!(live["routing"]["result"], "unknown_route", "{live}");
    assert_eq!(live["routing"]["identity"], unknown);
    assert_eq!(live["answer"]["status"], 403, "{live}");
    assert_eq!(live["auth_config"], Value::Null);
    let real = ext.check(
        "GET",
        HOST,
        "/public/a",
        &[("x-extauth-route", unknown)],
        b"",
    );
    assert_eq!(real.status, 403);
    assert_eq!(srv.count(), 1);

    // without --trust-route-header the header is ignored: the path picks the open route
    let untrusting = Extauth::start(&files);
    let live = explain(&untrusting, &query);
    assert_eq!(live["routing"]["identity"], Value::Null, "{live}");
    assert_eq!(live["routing"]["route"], "routes[0]");
    assert_eq!(live["answer"]["status"], 200, "{live}");
    let real = untrusting.check(
        "GET",
        HOST,
        "/public/a",
        &[("x-extauth-route", protected)],
        b"",
    );
    assert_eq!(real.status, 200);
    assert_eq!(srv.count(), 1);
}
