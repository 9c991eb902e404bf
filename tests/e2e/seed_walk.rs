//! The seed tutorial, walked with plain HTTP requests through a real Envoy started from the
//! bootstrap extauth generates. Files stand in for `kubectl apply`, Envoy for Gloo's proxy.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::harness::envoy::{assert_no_warnings, Envoy};
use crate::harness::server::{header_auth_service, upstream, SEED_JSON};
use crate::harness::{extauth_serve_trusting, sample_auth_service, wait_for};

const HOST: &str = "foo-http";
const AUTHORIZE_ME: (&str, &str) = ("authorization", "authorize me");

/// `glooctl create upstream static --static-hosts 127.0.0.1:<port> --name json-upstream`.
pub(crate) fn upstream_yaml(port: u16) -> String {
    format!(
        "apiVersion: gloo.solo.io/v1
kind: Upstream
metadata:
  name: json-upstream
  namespace: gloo-system
spec:
  static:
    hosts:
    - addr: 127.0.0.1
      port: {port}
"
    )
}

/// The seed's VirtualService; `with_auth` adds the virtual host's extauth option.
pub(crate) fn virtual_service(with_auth: bool) -> String {
    let auth = if with_auth {
        "    options:
      extauth:
        configRef:
          name: http-passthrough-auth
          namespace: gloo-system
"
    } else {
        ""
    };
    format!(
        "apiVersion: gateway.solo.io/v1
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
        - prefix: /
        routeAction:
          single:
            upstream:
              name: json-upstream
              namespace: gloo-system
        options:
          autoHostRewrite: true
{auth}"
    )
}

/// The seed's AuthConfig with `extra` lines appended under `http:` (or `passThroughAuth:` for
/// lines starting with `failureModeAllow`).
fn auth_config(auth_port: u16, http_extra: &str, pta_extra: &str) -> String {
    format!(
        "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: http-passthrough-auth
  namespace: gloo-system
spec:
  configs:
  - passThroughAuth:
{pta_extra}      http:
        # Url of the http auth server to use for auth
        url: http://127.0.0.1:{auth_port}/auth
        # Set a connection timeout to external service, default is 5 seconds
        connectionTimeout: 3s
{http_extra}"
    )
}

const ALLOW_AUTHORIZATION: &str = "        request:
          allowedHeaders:
            - authorization
";

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

fn seed_json() -> Value {
    serde_json::from_str(SEED_JSON).unwrap()
}

/// Waits (extauth reloads on file events) until `GET /posts/1` answers `status`.
pub(crate) fn until(envoy: &Envoy, headers: &[(&str, &str)], status: u16) {
    let mut last = 0;
    let ok = wait_for(
        || {
            last = envoy.get("/posts/1", HOST, headers).status;
            last == status
        },
        Duration::from_secs(15),
    );
    assert!(ok, "expected {status} with {headers:?}, still {last}");
}

#[test]
fn seed_tutorial_through_envoy() {
    let work = TempDir::new().unwrap();
    let config = TempDir::new().unwrap();
    let cfg = config.path();
    let stand_in = upstream();
    let (mut auth, auth_port) = sample_auth_service(work.path());

    // the Upstream and the VirtualService without auth
    write(cfg, "upstream.yaml", &upstream_yaml(stand_in.port));
    write(cfg, "virtual-service.yaml", &virtual_service(false));
    let (_extauth, check_port, _) = extauth_serve_trusting(cfg, work.path());
    let mut envoy = Envoy::start(cfg, check_port, work.path(), "envoy");
    let pid = envoy.proc.pid();
    let r = envoy.get("/posts/1", HOST, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), seed_json());
    assert_eq!(
        r.header("echo-host"),
        Some("127.0.0.1"),
        "autoHostRewrite sends the upstream's own host name"
    );

    // the first AuthConfig, wired into the VirtualService: denied, even with the header
    write(cfg, "auth-config.yaml", &auth_config(auth_port, "", ""));
    write(cfg, "virtual-service.yaml", &virtual_service(true));
    until(&envoy, &[], 401);
    assert_eq!(envoy.get("/posts/1", HOST, &[AUTHORIZE_ME]).status, 401);

    // allowedHeaders: [authorization], the file edited in place; Envoy keeps running
    write(
        cfg,
        "auth-config.yaml",
        &auth_config(auth_port, ALLOW_AUTHORIZATION, ""),
    );
    until(&envoy, &[AUTHORIZE_ME], 200);
    let r = envoy.get("/posts/1", HOST, &[AUTHORIZE_ME]);
    assert_eq!(r.json(), seed_json());
    assert_eq!(envoy.get("/posts/1", HOST, &[]).status, 401);
    assert_eq!(
        envoy
            .get("/posts/1", HOST, &[("authorization", "let me in")])
            .status,
        401
    );

    // the auth service stops: fail closed; failureModeAllow lets requests pass
    auth.stop();
    assert_eq!(envoy.get("/posts/1", HOST, &[AUTHORIZE_ME]).status, 503);
    write(
        cfg,
        "auth-config.yaml",
        &auth_config(
            auth_port,
            ALLOW_AUTHORIZATION,
            "      failureModeAllow: true\n",
        ),
    );
    until(&envoy, &[AUTHORIZE_ME], 200);
    assert_eq!(
        envoy.get("/posts/1", HOST, &[AUTHORIZE_ME]).json(),
        seed_json()
    );
    assert!(envoy.proc.alive() && envoy.proc.pid() == pid);

    // response headers: an auth service that answers with headers
    let headers_auth = header_auth_service();
    let http_extra = format!(
        "{ALLOW_AUTHORIZATION}        response:
          allowedUpstreamHeaders: [x-auth-user]
          allowedUpstreamHeadersToOverwrite: [x-auth-role]
          allowedClientHeadersOnDenied: [x-auth-reason]
"
    );
    write(
        cfg,
        "auth-config.yaml",
        &auth_config(headers_auth.port, &http_extra, ""),
    );
    until(&envoy, &[], 401);
    // the running Envoy's filter does not list the new names yet: nothing gets through
    let r = envoy.get("/posts/1", HOST, &[AUTHORIZE_ME]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("echo-x-auth-user"), None);
    assert!(envoy.proc.alive() && envoy.proc.pid() == pid);
    assert_no_warnings(&envoy.proc.log());
    envoy.proc.stop();

    // regenerated from the same files, Envoy carries them
    let envoy = Envoy::start(cfg, check_port, work.path(), "envoy-regenerated");
    let r = envoy.get(
        "/posts/1",
        HOST,
        &[
            AUTHORIZE_ME,
            ("x-auth-role", "admin"),
            ("x-auth-user", "bob"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), seed_json());
    // appended, and the client's own `x-auth-user: bob` stripped before ext_authz: a client
    // cannot pre-seed a header the auth service vouches for
    assert_eq!(r.all("echo-x-auth-user"), ["alice"], "appended");
    assert_eq!(r.all("echo-x-auth-role"), ["user"], "overwritten");
    assert_eq!(r.header("echo-x-not-listed"), None);
    let denied = envoy.get("/posts/1", HOST, &[("x-auth-role", "admin")]);
    assert_eq!(denied.status, 401);
    assert_eq!(denied.header("x-auth-reason"), Some("no credentials"));
    assert_no_warnings(&envoy.proc.log());
}
