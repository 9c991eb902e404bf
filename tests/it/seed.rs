//! The seed guide (`shared/seed/http-passthrough-auth.md`) followed step by step, with its YAML
//! copied verbatim (only the auth service url changed), and its sample auth service.

use crate::harness::extauth::pump;
use crate::harness::http::{exchange, request_bytes};
use crate::harness::*;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SEED_URL: &str = "http://example-http-auth-service.default.svc.cluster.local:9001/auth";

/// The guide's first AuthConfig (no `request.allowedHeaders`).
const AUTH_CONFIG_V1: &str = r#"apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: http-passthrough-auth
  namespace: gloo-system
spec:
  configs:
  - passThroughAuth:
      http:
        # Url of the http auth server to use for auth
        url: http://example-http-auth-service.default.svc.cluster.local:9001/auth
        # Set a connection timeout to external service, default is 5 seconds
        connectionTimeout: 3s
"#;

/// The guide's final AuthConfig (`allowedHeaders: [authorization]`).
const AUTH_CONFIG_V2: &str = r#"apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: http-passthrough-auth
  namespace: gloo-system
spec:
  configs:
  - passThroughAuth:
      http:
        # Url of the http auth server to use for auth
        url: http://example-http-auth-service.default.svc.cluster.local:9001/auth
        # Set a connection timeout to external service, default is 5 seconds
        connectionTimeout: 3s
        request:
          allowedHeaders:
            - authorization
"#;

/// The guide's VirtualService, securing every route of `foo-http`.
pub const VIRTUAL_SERVICE: &str = r#"apiVersion: gateway.solo.io/v1
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
    options:
      extauth:
        configRef:
          name: http-passthrough-auth
          namespace: gloo-system
"#;

/// The guide's AuthConfig versions with the url pointed at `url`.
pub fn seed_v1(url: &str) -> String {
    AUTH_CONFIG_V1.replace(SEED_URL, url)
}
pub fn seed_v2(url: &str) -> String {
    AUTH_CONFIG_V2.replace(SEED_URL, url)
}

const AUTHORIZE_ME: (&str, &str) = ("authorization", "authorize me");

/// Asserts `r` is the bare call of the first AuthConfig: POST /auth, no client header, no body.
fn assert_bare_call(srv: &AuthServer, r: &Recorded) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/auth");
    srv.assert_headers(r, &[]);
    assert!(r.body.is_empty());
}

#[test]
fn guide_first_version_denies_even_with_the_header_then_final_version_allows() {
    let srv = AuthServer::sample();
    let ext = Extauth::start(&[
        ("authconfig.yaml", &seed_v1(&srv.url("/auth"))),
        ("virtualservice.yaml", VIRTUAL_SERVICE),
    ]);
    ext.expect_log(&["got new config"]);

    // Step 1: without allowedHeaders the authorization header never reaches the auth service.
    let a = ext.get("/posts/1", &[AUTHORIZE_ME]);
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a.body.is_empty());
    assert_bare_call(&srv, &srv.only_request());

    // Step 2: the guide's `kubectl apply` of the final AuthConfig.
    let before = ext.reloads();
    ext.write("authconfig.yaml", &seed_v2(&srv.url("/auth")));
    let took = wait_for(
        || ext.reloads() > before && ext.get("/posts/1", &[AUTHORIZE_ME]).status == 200,
        Duration::from_millis(1500),
    );
    assert!(
        took.is_some(),
        "final AuthConfig not applied within 1.5 s:\n{}",
        ext.logs()
    );
    let last = srv.requests().pop().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.target, "/auth");
    assert_eq!(last.all("authorization"), ["authorize me"]);
    srv.assert_headers(&last, &["authorization"]);
}

#[test]
fn guide_final_version_allows_only_with_the_header() {
    let srv = AuthServer::sample();
    let ext = Extauth::start(&[
        ("authconfig.yaml", &seed_v2(&srv.url("/auth"))),
        ("virtualservice.yaml", VIRTUAL_SERVICE),
    ]);
    let a = ext.get("/posts/1", &[AUTHORIZE_ME]);
    assert_eq!(a.status, 200, "{a:?}");
    let r = srv.only_request();
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/auth"));
    assert_eq!(r.all("authorization"), ["authorize me"]);

    let a = ext.get("/posts/1", &[("authorization", "let me in")]);
    assert_eq!(a.status, 401);
    assert_eq!(ext.get("/posts/1", &[]).status, 401);
    assert_bare_call(&srv, &srv.requests()[2]);
    // Another host is not covered by the guide's VirtualService.
    assert_eq!(
        ext.check("GET", "bar-http", "/posts/1", &[AUTHORIZE_ME], b"")
            .status,
        403
    );
    assert_eq!(srv.count(), 3);
}

/// The sample auth service, running as a real process.
struct Example {
    child: Child,
    addr: String,
    out: Arc<Mutex<String>>,
}

impl Example {
    fn start(request_logging: bool) -> Self {
        let port = free_port();
        let mut cmd = Command::new(example_binary());
        cmd.env("PORT", port.to_string())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "info")
            .env_remove("REQUEST_LOGGING")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if request_logging {
            cmd.env("REQUEST_LOGGING", "1");
        }
        let mut child = cmd.spawn().expect("spawn example");
        let out = Arc::new(Mutex::new(String::new()));
        pump(child.stdout.take().unwrap(), out.clone());
        pump(child.stderr.take().unwrap(), out.clone());
        let addr = format!("127.0.0.1:{port}");
        let up = wait_for(
            || std::net::TcpStream::connect(&addr).is_ok(),
            Duration::from_secs(10),
        );
        assert!(
            up.is_some(),
            "example did not listen on {addr}: {}",
            out.lock().unwrap()
        );
        Example { child, addr, out }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let len = body.len().to_string();
        let mut all = vec![
            ("host", self.addr.as_str()),
            ("content-length", len.as_str()),
        ];
        all.extend_from_slice(headers);
        let m = exchange(
            &self.addr,
            &request_bytes(method, path, &all, body),
            Duration::from_secs(5),
        )
        .expect("call example");
        (
            m.first.parse().unwrap(),
            String::from_utf8_lossy(&m.body).into_owned(),
        )
    }

    fn wait_output(&self, needle: &str) -> String {
        wait_for(
            || self.out.lock().unwrap().contains(needle),
            Duration::from_secs(5),
        );
        self.out.lock().unwrap().clone()
    }

    /// Waits for a whole line equal to `line`: stdout and the log lines on stderr arrive
    /// through separate pipes, so a log line quoting the text can come first.
    fn wait_line(&self, line: &str) -> String {
        wait_for(
            || self.out.lock().unwrap().lines().any(|l| l == line),
            Duration::from_secs(5),
        );
        self.out.lock().unwrap().clone()
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WRONG_PATH: &str = "Did not reach the right path, use the /auth to authenticate requests! \
Make sure to include the header 'authorization: authorize me' too.";

#[test]
fn sample_service_answers_like_the_guide_says() {
    let ex = Example::start(false);
    assert_eq!(ex.call("POST", "/auth", &[AUTHORIZE_ME], b"").0, 200);
    assert_eq!(ex.call("GET", "/auth?x=1", &[AUTHORIZE_ME], b"").0, 200);
    assert_eq!(ex.call("DELETE", "/auth", &[AUTHORIZE_ME], b"").0, 200);
    let out = ex.wait_line("authorized");
    assert!(out.lines().any(|l| l == "authorized"), "{out}");

    let (status, body) = ex.call("POST", "/auth", &[], b"");
    assert_eq!(status, 403);
    assert!(body.contains("authorization: authorize me"), "{body}");
    assert_eq!(
        ex.call(
            "POST",
            "/auth",
            &[("authorization", "authorize me too")],
            b""
        )
        .0,
        403
    );
    assert!(!ex.out.lock().unwrap().contains(WRONG_PATH));

    let (status, body) = ex.call("POST", "/posts/1", &[AUTHORIZE_ME], b"");
    assert_eq!((status, body.as_str()), (403, ""));
    let out = ex.wait_line(WRONG_PATH);
    assert!(
        out.lines().any(|l| l == WRONG_PATH),
        "stdout lacks the guide's line:\n{out}"
    );
}

#[test]
fn sample_service_dumps_requests_with_request_logging() {
    let ex = Example::start(true);
    let (status, _) = ex.call(
        "PUT",
        "/auth?q=1",
        &[AUTHORIZE_ME, ("x-one", "1"), ("x-one", "2")],
        b"hello body",
    );
    assert_eq!(status, 200);
    let out = ex.wait_output("hello body");
    for needle in [
        "PUT",
        "/auth?q=1",
        "authorization: authorize me",
        "x-one: 1",
        "x-one: 2",
        "hello body",
    ] {
        assert!(out.contains(needle), "dump lacks {needle:?}:\n{out}");
    }
}

#[test]
fn guide_end_to_end_with_the_sample_service() {
    let ex = Example::start(false);
    let url = format!("http://{}/auth", ex.addr);
    let ext = Extauth::start(&[
        ("authconfig.yaml", &seed_v2(&url)),
        ("vs.yaml", VIRTUAL_SERVICE),
    ]);
    assert_eq!(ext.get("/posts/1", &[AUTHORIZE_ME]).status, 200);
    assert!(ex
        .wait_line("authorized")
        .lines()
        .any(|l| l == "authorized"));
    assert_eq!(ext.get("/posts/1", &[]).status, 401);

    // The guide's first version: the header is not passed, so the sample service refuses.
    let ext = Extauth::start(&[
        ("authconfig.yaml", &seed_v1(&url)),
        ("vs.yaml", VIRTUAL_SERVICE),
    ]);
    assert_eq!(ext.get("/posts/1", &[AUTHORIZE_ME]).status, 401);
    // With the url's path dropped, the sample service would print the guide's line instead.
    let ext = Extauth::start(&[
        ("authconfig.yaml", &seed_v2(&format!("http://{}/", ex.addr))),
        ("vs.yaml", VIRTUAL_SERVICE),
    ]);
    assert_eq!(ext.get("/posts/1", &[AUTHORIZE_ME]).status, 401);
    ex.wait_line(WRONG_PATH);
    assert!(ex.out.lock().unwrap().lines().any(|l| l == WRONG_PATH));
}

/// `--listen` picks the sample service's address: on 127.0.0.2 it answers there and nowhere
/// else (it used to bind every interface, whatever the tests wanted).
#[test]
fn the_sample_service_listens_where_it_is_told() {
    let port = free_port();
    let mut child = Command::new(example_binary())
        .args(["--listen", &format!("127.0.0.2:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the sample service");
    let up = wait_for(
        || std::net::TcpStream::connect(("127.0.0.2", port)).is_ok(),
        std::time::Duration::from_secs(10),
    );
    let elsewhere = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    let _ = child.kill();
    let _ = child.wait();
    assert!(up.is_some(), "not listening on 127.0.0.2:{port}");
    assert!(!elsewhere, "also listening on 127.0.0.1:{port}");
}
