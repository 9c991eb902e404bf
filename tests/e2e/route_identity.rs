//! Envoy names the route it took: the generated bootstrap sets `x-extauth-route` on every
//! check after Envoy's routing decision, extauth (trusting it) applies that route's policy from
//! the files in force, a client can never choose the route, and an Envoy whose routes are older
//! than the files fails closed on the routes that changed.

use std::time::Duration;

use tempfile::TempDir;

use crate::harness::envoy::Envoy;
use crate::harness::server::{header_auth_service, upstream};
use crate::harness::{extauth_serve_trusting, extauth_serve_with, http, wait_for};

const HOST: &str = "routes.example";

/// VirtualService `routes` for HOST: `/admin` (its extauth a parameter), a protected route
/// whose prefix is a parameter, an open catch-all; VirtualService `other` for OTHER_HOST,
/// protected.
fn config(auth_port: u16, upstream_port: u16, private: &str, admin_extauth: &str) -> String {
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
        response: {{allowedUpstreamHeaders: [x-auth-user]}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: routes, namespace: gloo-system}}
spec:
  virtualHost:
    domains: [{HOST}]
    routes:
    - matchers: [{{prefix: /admin}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
      options: {{extauth: {admin_extauth}}}
    - matchers: [{{prefix: {private}}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
      options: {{extauth: {{configRef: {{name: strict}}}}}}
    - matchers: [{{prefix: /}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: other, namespace: gloo-system}}
spec:
  virtualHost:
    domains: [{OTHER_HOST}]
    routes:
    - matchers: [{{prefix: /}}]
      routeAction: {{single: {{upstream: {{name: backend}}}}}}
    options: {{extauth: {{configRef: {{name: strict}}}}}}
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

const OTHER_HOST: &str = "other.example";

const PROTECTED: &str = "{configRef: {name: strict}}";

/// The identity the generated bootstrap sets on the catch-all route (read from the bootstrap).
fn open_route_identity(yaml: &str) -> String {
    let v: serde_json::Value = serde_norway::from_str(yaml).unwrap();
    let hosts = &v["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"]["route_config"]["virtual_hosts"];
    let host = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "gloo-system_routes")
        .unwrap();
    let routes = &host["routes"];
    let last = routes.as_array().unwrap().last().unwrap();
    last["typed_per_filter_config"]["envoy.filters.http.header_mutation"]["mutations"]
        ["request_mutations"][0]["append"]["header"]["value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn extauth_applies_the_route_envoy_took_and_a_client_cannot_choose_it() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let (auth, backend) = (header_auth_service(), upstream());
    let file = cfg.path().join("all.yaml");
    std::fs::write(
        &file,
        config(auth.port, backend.port, "/private", PROTECTED),
    )
    .unwrap();
    let (extauth, check_port, admin) = extauth_serve_trusting(cfg.path(), work.path());
    let envoy = Envoy::start(cfg.path(), check_port, work.path(), "envoy-identity");
    let yaml = std::fs::read_to_string(work.path().join("envoy-identity.yaml")).unwrap();
    let open_id = open_route_identity(&yaml);
    assert!(open_id.starts_with("gloo-system/routes/2/0/"), "{open_id}");
    let status = |path: &str, headers: &[(&str, &str)]| envoy.get(path, HOST, headers).status;
    assert!(wait_for(
        || status("/public", &[]) == 200,
        Duration::from_secs(10)
    ));

    // the open route's upstream never sees the identity
    let open = envoy.get("/public", HOST, &[]);
    assert_eq!(open.header("echo-x-extauth-route"), None);
    assert_eq!(status("/private", &[]), 401);
    let allowed = envoy.get("/private", HOST, &[("authorization", "authorize me")]);
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.header("echo-x-auth-user"), Some("alice"));
    assert_eq!(allowed.header("echo-x-extauth-route"), None);

    // a client naming the open route (once, twice, or with junk) gets the route Envoy took
    for forged in [
        vec![("x-extauth-route", open_id.as_str())],
        vec![
            ("x-extauth-route", open_id.as_str()),
            ("x-extauth-route", open_id.as_str()),
        ],
        vec![("X-Extauth-Route", "nonsense")],
    ] {
        assert_eq!(status("/private", &forged), 401, "{forged:?}");
        assert_eq!(status("/admin", &forged), 401, "{forged:?}");
        assert_eq!(status("/public", &forged), 200, "{forged:?}");
    }
    let log = extauth.log();
    assert!(
        !log.contains("does not know"),
        "no unknown identity came from the generated Envoy:\n{log}"
    );

    // Policy changes apply at once, without Envoy: /admin becomes open.
    let write = |private: &str, admin_extauth: &str| {
        let tmp = cfg.path().join(".all.yaml.tmp");
        std::fs::write(
            &tmp,
            config(auth.port, backend.port, private, admin_extauth),
        )
        .unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    write("/private", "{disable: true}");
    assert!(wait_for(
        || status("/admin", &[]) == 200,
        Duration::from_secs(5)
    ));

    // Stale Envoy: the protected route's matcher is edited and Envoy is not restarted. Envoy
    // still routes /private/x to its old route, and / to the catch-all after it: extauth no
    // longer has their identities (the first match decides, so an edit changes every route
    // tried after it): 403, however good the credentials. The route before the edit and the
    // other VirtualService keep serving.
    write("/secret", "{disable: true}");
    assert!(wait_for(
        || status("/private/x", &[("authorization", "authorize me")]) == 403,
        Duration::from_secs(5)
    ));
    assert_eq!(status("/private/x", &[]), 403);
    assert_eq!(status("/public", &[]), 403);
    assert_eq!(status("/admin", &[]), 200);
    assert_eq!(envoy.get("/", OTHER_HOST, &[]).status, 401);
    let with_credentials = [("authorization", "authorize me")];
    assert_eq!(envoy.get("/", OTHER_HOST, &with_credentials).status, 200);
    let log = extauth.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("regenerate and restart Envoy"))
        .collect();
    assert_eq!(lines.len(), 2, "logged once per route:\n{log}");
    assert!(lines.iter().any(|l| l.contains("gloo-system/routes/1/0/")));
    assert!(lines.iter().any(|l| l.contains("gloo-system/routes/2/0/")));
    let metrics = http::get(admin, "/metrics", "localhost", &[]).unwrap();
    let text = String::from_utf8_lossy(&metrics.body);
    let unknown = text
        .lines()
        .find(|l| l.starts_with("extauth_checks_total") && l.contains("unknown_route"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(unknown >= Some(3.0), "{text}");
}

#[test]
fn without_trust_a_forged_identity_changes_nothing() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let (auth, backend) = (header_auth_service(), upstream());
    std::fs::write(
        cfg.path().join("all.yaml"),
        config(auth.port, backend.port, "/private", PROTECTED),
    )
    .unwrap();
    // extauth does not trust the header: it matches each check itself
    let (_extauth, check_port, _) = extauth_serve_with(cfg.path(), work.path(), &[]);
    let envoy = Envoy::start(cfg.path(), check_port, work.path(), "envoy-untrusted");
    let yaml = std::fs::read_to_string(work.path().join("envoy-untrusted.yaml")).unwrap();
    let open_id = open_route_identity(&yaml);
    let status = |path: &str, headers: &[(&str, &str)]| envoy.get(path, HOST, headers).status;
    assert!(wait_for(
        || status("/public", &[]) == 200,
        Duration::from_secs(10)
    ));
    let forged = [("x-extauth-route", open_id.as_str())];
    assert_eq!(status("/private", &forged), 401);
    assert_eq!(status("/public", &forged), 200);
    // and straight to extauth, bypassing Envoy
    let direct = http::get(check_port, "/private", HOST, &forged).unwrap();
    assert_eq!(direct.status, 401);
}
