//! Envoy and extauth pick the same route for every request, so a client cannot reach a route's
//! upstream under a weaker policy than that route's: header matchers see the headers Envoy
//! routes on (the generated filter forwards them), paths are normalised before both look at
//! them, and host names are compared without case or port.

use tempfile::TempDir;

use crate::harness::envoy::Envoy;
use crate::harness::server::{header_auth_service, upstream};
use crate::harness::{extauth_serve_trusting, wait_for};

const HOST: &str = "parity.example";

fn config(auth_port: u16, upstream_port: u16) -> String {
    format!(
        "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {{name: strict, namespace: gloo-system}}
spec:
  configs:
  - passThroughAuth:
      http:
        url: http://127.0.0.1:{auth_port}/auth
        request: {{allowedHeaders: [authorization]}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: parity, namespace: gloo-system}}
spec:
  virtualHost:
    domains: [{HOST}]
    routes:
    - matchers: [{{prefix: /private}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
    - matchers: [{{prefix: /, headers: [{{name: X-Tenant, value: acme}}]}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
    - matchers: [{{prefix: /, methods: [DELETE]}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
    - matchers: [{{prefix: /}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
      options: {{extauth: {{disable: true}}}}
    options:
      extauth: {{configRef: {{name: strict}}}}
---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {{name: backend, namespace: gloo-system}}
spec:
  static:
    hosts: [{{addr: 127.0.0.1, port: {upstream_port}}}]
"
    )
}

#[test]
fn envoy_and_extauth_agree_on_the_route() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let (auth, backend) = (header_auth_service(), upstream());
    std::fs::write(cfg.path().join("all.yaml"), config(auth.port, backend.port)).unwrap();
    let (_extauth, check_port, _) = extauth_serve_trusting(cfg.path(), work.path());
    let envoy = Envoy::start(cfg.path(), check_port, work.path(), "envoy-parity");
    let status = |method: &str, path: &str, host: &str, headers: &[(&str, &str)]| {
        envoy.request(method, path, host, headers).status
    };
    assert!(wait_for(
        || status("GET", "/public", HOST, &[]) == 200,
        std::time::Duration::from_secs(10)
    ));

    let open = envoy.get("/public/x?y=1", HOST, &[]);
    assert_eq!(open.json()["path"], "/public/x?y=1");
    assert_eq!(status("GET", "/private", HOST, &[]), 401);
    assert_eq!(
        status(
            "GET",
            "/private",
            HOST,
            &[("authorization", "authorize me")]
        ),
        200
    );
    // the header matcher's header reaches extauth: no fall-through to the open route
    assert_eq!(status("GET", "/public", HOST, &[("x-tenant", "acme")]), 401);
    assert_eq!(
        status("GET", "/public", HOST, &[("x-tenant", "other")]),
        200
    );
    assert_eq!(status("DELETE", "/public", HOST, &[]), 401);
    // normalised paths: what Envoy routes on is what extauth matched
    assert_eq!(status("GET", "/public/../private", HOST, &[]), 401);
    assert_eq!(status("GET", "/./private", HOST, &[]), 401);
    assert_eq!(status("GET", "//private", HOST, &[]), 401);
    // escaped slashes are never forwarded as is: the client is redirected to the plain path
    let escaped = envoy.get("/%2Fprivate", HOST, &[]);
    assert_eq!(escaped.status, 307);
    assert_eq!(escaped.header("location"), Some("/private"));
    // host names without case or port
    assert_eq!(status("GET", "/private", "PARITY.Example:8080", &[]), 401);
    assert_eq!(status("GET", "/public", "Parity.Example", &[]), 200);
    // an unknown host has no route: Envoy answers 404 itself
    assert_eq!(status("GET", "/private", "other.example", &[]), 404);
}
