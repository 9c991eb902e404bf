//! The generated configuration, checked by a real Envoy: every Gloo matcher form, TLS and DNS
//! upstreams, several extauth replicas, a path prefix and body pass-through all load without a
//! warning; and the bundled example config generates a bootstrap Envoy accepts.

use tempfile::TempDir;

use crate::harness::envoy::{assert_no_warnings, validate};
use crate::harness::{extauth, root};

const RICH: &str = "
apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {name: strict, namespace: team}
spec:
  configs:
  - name: first
    passThroughAuth:
      http:
        url: http://auth.team.svc:9001/auth
        connectionTimeout: 2s
        request: {allowedHeaders: [authorization, x-api-key], passThroughBody: true}
        response:
          allowedUpstreamHeaders: [x-user]
          allowedUpstreamHeadersToOverwrite: [x-role]
          allowedClientHeadersOnDenied: [www-authenticate, x-reason]
          allowedClientHeadersOnSuccess: [x-session]
  - name: second
    passThroughAuth: {http: {url: 'http://10.0.0.9:9002/check'}}
  booleanExpr: first && second
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: shop, namespace: team}
spec:
  virtualHost:
    domains: [shop.example.com, '*.shop.example.com', 'shop.*']
    routes:
    - matchers:
      - exact: /health
        methods: [GET, HEAD]
      options: {extauth: {disable: true}}
      routeAction: {single: {upstream: {name: api}}}
    - matchers:
      - regex: '/orders/[0-9]+'
        caseSensitive: false
        headers:
        - {name: x-tenant, value: 'acme|globex', regex: true}
        - {name: x-debug, invertMatch: true}
        queryParameters:
        - {name: v, value: '2'}
      routeAction: {single: {upstream: {name: api, namespace: team}}}
      options: {prefixRewrite: /v2/orders, timeout: 30s, hostRewrite: api.internal}
    - matchers: [{prefix: /static}, {prefix: /assets, caseSensitive: false}]
      routeAction: {single: {upstream: {name: cdn}}}
      options: {autoHostRewrite: true}
    options:
      extauth: {configRef: {name: strict}}
---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: api, namespace: team}
spec:
  static:
    hosts:
    - {addr: 10.0.0.1, port: 8080, loadBalancingWeight: 2}
    - {addr: 10.0.0.2, port: 8080}
---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: cdn, namespace: team}
spec:
  discoveryMetadata: {}
  static:
    hosts: [{addr: cdn.example.net, port: 443}]
";

#[test]
fn rich_config_loads_in_envoy_without_warnings() {
    let config = TempDir::new().unwrap();
    std::fs::write(config.path().join("all.yaml"), RICH).unwrap();
    let dir = config.path().to_str().unwrap();
    let (ok, yaml, stderr) = extauth(&[
        "envoy-config",
        "--config-dir",
        dir,
        "--extauth-address",
        "extauth-0.extauth:8083",
        "--extauth-address",
        "10.1.0.7:8083",
        "--path-prefix",
        "/extauthz/",
        "--bootstrap",
    ]);
    assert!(ok, "{stderr}");
    assert!(stderr.is_empty(), "unexpected warnings: {stderr}");
    assert!(yaml.contains("path_prefix: /extauthz"));
    assert!(yaml.contains("with_request_body"));
    let work = TempDir::new().unwrap();
    let (valid, log) = validate(&yaml, work.path());
    assert!(valid, "Envoy rejected the bootstrap:\n{log}\n{yaml}");
    assert_no_warnings(&log);

    // the filter alone is what Envoy reads inside http_filters
    let (ok, filter, _) = extauth(&[
        "envoy-config",
        "--config-dir",
        dir,
        "--extauth-address",
        "10.1.0.7:8083",
    ]);
    assert!(ok);
    let filter: serde_json::Value = serde_norway::from_str(&filter).unwrap();
    assert_eq!(filter["name"], "envoy.filters.http.ext_authz");
    // 2s + the default 5s of the second step, plus the margin
    assert_eq!(
        filter["typed_config"]["http_service"]["server_uri"]["timeout"],
        "7.5s"
    );
}

#[test]
fn bundled_example_config_generates_a_valid_bootstrap() {
    let dir = root().join("config");
    let (ok, yaml, stderr) = extauth(&[
        "envoy-config",
        "--config-dir",
        dir.to_str().unwrap(),
        "--extauth-address",
        "127.0.0.1:8083",
        "--bootstrap",
    ]);
    assert!(ok && stderr.is_empty(), "{stderr}");
    let work = TempDir::new().unwrap();
    let (valid, log) = validate(&yaml, work.path());
    assert!(valid, "Envoy rejected the bootstrap:\n{log}");
    assert_no_warnings(&log);
}

#[test]
fn unsupported_resources_fail_with_a_reason() {
    let config = TempDir::new().unwrap();
    let rich = RICH.replace("spec:\n  discoveryMetadata: {}\n  static:\n    hosts: [{addr: cdn.example.net, port: 443}]", "spec:\n  kube: {serviceName: cdn, servicePort: 80}");
    std::fs::write(config.path().join("all.yaml"), rich).unwrap();
    let (ok, yaml, stderr) = extauth(&[
        "envoy-config",
        "--config-dir",
        config.path().to_str().unwrap(),
        "--extauth-address",
        "127.0.0.1:8083",
        "--bootstrap",
    ]);
    assert!(!ok && yaml.is_empty());
    assert!(
        stderr.contains("Upstream team/cdn: only static upstreams"),
        "{stderr}"
    );
}
