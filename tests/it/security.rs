//! Security, beyond what `request.rs`, `routing.rs` and `observability/logs.rs` pin: no header
//! outside `allowedHeaders` reaches the auth service in any spelling or number; no spelling of
//! the host, path, prefix or method makes another AuthConfig apply; and no secret reaches the
//! logs when things fail.

use crate::harness::http::request_bytes;
use crate::harness::*;
use serde_json::{json, Value};

/// Every spelling of `name` with its letters in upper or lower case.
fn case_variants(name: &str) -> Vec<String> {
    let letters: Vec<usize> = name
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .collect();
    (0..1u32 << letters.len())
        .map(|mask| {
            let mut s: Vec<u8> = name.bytes().collect();
            for (bit, &i) in letters.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    s[i] = s[i].to_ascii_uppercase();
                }
            }
            String::from_utf8(s).unwrap()
        })
        .collect()
}

#[test]
fn an_unlisted_header_never_arrives_in_any_case_or_number() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve_single(json!({
        "url": srv.url("/auth"),
        "request": {
            "allowedHeaders": ["X-Allowed"],
            "passThroughState": true,
            "passThroughBody": true,
        },
    }));
    // All 128 spellings of `x-secret`, each sent once, in one check (under the 96-header
    // limit per check, so in two checks), and lookalike names.
    let spellings = case_variants("x-secret");
    assert_eq!(spellings.len(), 128);
    for chunk in spellings.chunks(64) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("s{i}")).collect();
        let mut headers: Vec<(&str, &str)> = chunk
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(String::as_str))
            .collect();
        headers.extend([
            ("x-allowed-secret", "1"),
            ("x_allowed", "1"),
            ("xx-allowed", "1"),
            ("x-allowe", "1"),
        ]);
        let a = ext.check("POST", HOST, "/", &headers, b"body");
        assert_eq!(a.status, 200);
        let r = srv.requests().pop().unwrap();
        srv.assert_headers(&r, &[]);
        let body = String::from_utf8_lossy(&r.body).to_lowercase();
        assert!(
            !body.contains("x-secret") && !body.contains("\"s1\""),
            "no header in the JSON body: {body}"
        );
        assert_eq!(r.json(), json!({"body": "body", "state": {}}));
    }
    // The allowed header in every spelling and many times: every value, in order, under its
    // lower-case name.
    let spellings = case_variants("x-allowed");
    let values: Vec<String> = (0..spellings.len().min(80))
        .map(|i| format!("v{i}"))
        .collect();
    let headers: Vec<(&str, &str)> = spellings
        .iter()
        .map(String::as_str)
        .zip(values.iter().map(String::as_str))
        .collect();
    let a = ext.check("GET", HOST, "/", &headers, b"");
    assert_eq!(a.status, 200);
    let r = srv.requests().pop().unwrap();
    srv.assert_headers(&r, &["x-allowed"]);
    assert_eq!(r.all("x-allowed"), values);
    assert!(r.headers.iter().all(|(n, _)| n == &n.to_ascii_lowercase()));
}

/// One allowing auth server per AuthConfig; a check's outcome tells which one applied.
struct Configs {
    strict: AuthServer,
    weak: AuthServer,
    ext: Extauth,
}

impl Configs {
    /// `strict` protects everything on `admin.example.com` and `/` elsewhere; `weak` only
    /// `/public/` and GETs of `/read`; `/health` is open. Served behind `--path-prefix`.
    fn start() -> Self {
        let strict = AuthServer::start(Reply::ok());
        let weak = AuthServer::start(Reply::ok());
        let ac = |name: &str, srv: &AuthServer| {
            auth_config(
                name,
                json!({"configs": [step("", json!({"url": srv.url("/auth")}))]}),
            )
        };
        let routes = json!([
            route(
                json!([{"exact": "/health"}]),
                Some(json!({"disable": true}))
            ),
            route(json!([{"prefix": "/public/"}]), Some(cref("weak"))),
            route(
                json!([{"prefix": "/read", "methods": ["GET"]}]),
                Some(cref("weak"))
            ),
            route(json!([{"prefix": "/"}]), Some(cref("strict"))),
        ]);
        let docs = [
            ac("strict", &strict),
            ac("weak", &weak),
            virtual_service(
                "admin",
                &["admin.example.com"],
                json!([route(json!([{"prefix": "/"}]), None)]),
                Some(cref("strict")),
            ),
            virtual_service("rest", &["*"], routes, None),
        ];
        let ext = Extauth::start_with(&[("c.yaml", &yaml(&docs))], &["--path-prefix", "/authz"]);
        Configs { strict, weak, ext }
    }

    /// Status and which config applied ("strict", "weak" or "-") for raw check bytes.
    fn which_raw(&self, raw: &[u8]) -> (u16, &'static str) {
        let (s, w) = (self.strict.count(), self.weak.count());
        let status = self.ext.check_raw(raw).status;
        let called = match (self.strict.count() > s, self.weak.count() > w) {
            (true, false) => "strict",
            (false, true) => "weak",
            (false, false) => "-",
            (true, true) => panic!("both configs called"),
        };
        (status, called)
    }

    fn which(&self, method: &str, host: &str, path: &str) -> (u16, &'static str) {
        self.which_raw(&check_request(method, host, path, &[], b""))
    }
}

#[test]
fn no_host_path_prefix_or_method_spelling_picks_a_weaker_config() {
    let c = Configs::start();
    // The reference answers.
    assert_eq!(c.which("GET", "h", "/authz/health"), (200, "-"));
    assert_eq!(c.which("GET", "h", "/authz/public/x"), (200, "weak"));
    assert_eq!(c.which("GET", "h", "/authz/read/x"), (200, "weak"));
    assert_eq!(c.which("GET", "h", "/authz/admin"), (200, "strict"));
    assert_eq!(
        c.which("GET", "admin.example.com", "/authz/public/x"),
        (200, "strict")
    );

    // Hosts that are admin.example.com get strict; with a port or a trailing dot (which the
    // generated Envoy strips and a plain one routes on) they are refused, `*` being weaker.
    for (host, want) in [
        ("ADMIN.example.COM", (200, "strict")),
        (" admin.example.com", (200, "strict")),
        ("admin.example.com\t", (200, "strict")),
        ("admin.example.com:443", (403, "-")),
        ("admin.example.com.:8443", (403, "-")),
        ("Admin.Example.Com.", (403, "-")),
    ] {
        assert_eq!(
            c.which("GET", host, "/authz/public/x"),
            want,
            "Host {host:?}"
        );
    }
    // Host-like tricks that are not admin.example.com are routed as Envoy routes them (the
    // `*` virtual host), never to something weaker than that virtual host's route.
    for host in [
        "evil@admin.example.com",
        "admin.example.com@evil",
        "admin.example.com.evil",
        "xadmin.example.com",
        "[::1]:8080",
    ] {
        assert_eq!(
            c.which("GET", host, "/authz/admin"),
            (200, "strict"),
            "{host:?}"
        );
        assert_eq!(
            c.which("GET", host, "/authz/health"),
            (200, "-"),
            "{host:?}"
        );
    }
    // The path prefix Envoy adds must be there exactly once, as written; what the client adds
    // in front of or after it never selects the weak routes.
    for (path, want) in [
        ("/AUTHZ/public/x", (403, "-")),
        ("/%61uthz/public/x", (403, "-")),
        ("/authz%2Fpublic/x", (403, "-")),
        ("//authz/public/x", (403, "-")),
        ("/./authz/public/x", (403, "-")),
        ("/authzpublic/x", (403, "-")),
        ("/authz?/public/x", (403, "-")),
        ("/x/authz/public/x", (403, "-")),
        ("/authz/authz/public/x", (200, "strict")),
        // not in normal form, and weak once normalised (as the generated Envoy sends it):
        // refused
        ("/authz//public/x", (403, "-")),
        ("/authz/./public/x", (403, "-")),
        ("/authz/%70ublic/x", (403, "-")),
        ("/authz/PUBLIC/x", (200, "strict")),
        ("/authz/public%2Fx", (403, "-")),
        ("/authz/x/../public/x", (403, "-")),
        ("/authz/public\\x", (403, "-")),
        ("/authz/health/", (200, "strict")),
        ("/authz/health?", (200, "-")),
        // a fragment is not part of the path (Envoy strips or rejects it too)
        ("/authz/health#x", (200, "-")),
        ("/authz/health%3F", (200, "strict")),
        ("/authz/HEALTH", (200, "strict")),
        ("/authz/admin?x=/public/", (200, "strict")),
        ("/authz/admin#/public/", (200, "strict")),
    ] {
        assert_eq!(c.which("GET", "h", path), want, "{path}");
    }
    // Methods are compared as Envoy compares them: exactly.
    for method in ["get", "Get", "POST", "HEAD", "GETX"] {
        assert_eq!(
            c.which(method, "h", "/authz/read/x"),
            (200, "strict"),
            "{method}"
        );
    }
    // An absolute-form request target is routed on its path and on the Host header, as
    // Envoy sends it: its own authority does not choose the virtual host.
    let raw = request_bytes(
        "GET",
        "http://other.example.com/authz/public/x",
        &[("host", "admin.example.com"), ("content-length", "0")],
        b"",
    );
    assert_eq!(c.which_raw(&raw), (200, "strict"));
}

/// Every secret of this test carries this marker.
const SECRET: &str = "S3CRET";

#[test]
fn no_secret_reaches_the_logs_when_the_auth_service_fails() {
    // Each route reaches an auth service failing one way; every check carries credentials,
    // every AuthConfig has a secret header and config, and the state answers quote secrets.
    let faults: Vec<(&str, Reply)> = vec![
        (
            "unavailable",
            Reply::status(503).body(format!("{SECRET}-BODY")),
        ),
        (
            "slow",
            Reply::ok().delay(std::time::Duration::from_millis(800)),
        ),
        ("reset", Reply::reset_after(b"HTTP/1.1 200 OK\r\n")),
        (
            "malformed",
            Reply::raw(format!("HTTP/1.1 2{SECRET} OK\r\n\r\n").as_bytes()),
        ),
        (
            "cut-short",
            Reply::raw(format!("HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n{SECRET}").as_bytes()),
        ),
        (
            "bad-state",
            Reply::ok().body(format!("{{\"state\": \"{SECRET}-STATE\"}}")),
        ),
        (
            "bad-state-json",
            Reply::ok().body(format!("{{\"state\": {{\"t\": \"{SECRET}-STATE\"")),
        ),
        (
            "denied",
            Reply::status(401).header("www-authenticate", &format!("Bearer {SECRET}-CHALLENGE")),
        ),
        (
            "allowed",
            Reply::ok().header("x-token", &format!("{SECRET}-UPSTREAM")),
        ),
    ];
    let servers: Vec<(&str, AuthServer)> = faults
        .into_iter()
        .map(|(n, r)| (n, AuthServer::start(r)))
        .collect();
    let mut docs = Vec::new();
    let mut routes = Vec::new();
    for (name, srv) in &servers {
        let mut s = step(
            "",
            json!({
                "url": srv.url("/auth"),
                "connectionTimeout": "400ms",
                "request": {
                    "allowedHeaders": ["authorization", "cookie", "x-api-token"],
                    "headersToAdd": {"x-api-key": format!("{SECRET}-ADDED")},
                    "passThroughState": true,
                },
                "response": {
                    "readStateFromResponse": name.starts_with("bad-state"),
                    "allowedUpstreamHeaders": ["x-token"],
                    "allowedClientHeadersOnDenied": ["www-authenticate"],
                },
            }),
        );
        s["passThroughAuth"]["config"] = json!({"password": format!("{SECRET}-CONFIG")});
        docs.push(auth_config(name, json!({"configs": [s]})));
        routes.push(route(
            json!([{"exact": format!("/{name}")}]),
            Some(cref(name)),
        ));
    }
    let refused = free_port();
    docs.push(auth_config(
        "refused",
        json!({"configs": [step("", json!({
            "url": format!("http://127.0.0.1:{refused}/auth"),
            "request": {"headersToAdd": {"x-api-key": format!("{SECRET}-ADDED")}},
        }))]}),
    ));
    routes.push(route(
        json!([{"prefix": "/refused"}]),
        Some(cref("refused")),
    ));
    docs.push(virtual_service("vs", &["*"], Value::Array(routes), None));
    let yaml_text = yaml(&docs);
    let credentials = [
        ("authorization", "Bearer S3CRET-AUTHZ"),
        ("cookie", "session=S3CRET-COOKIE"),
        ("proxy-authorization", "Basic S3CRET-PROXY"),
    ];
    for args in [vec![], vec!["--log-format", "json"]] {
        let ext = Extauth::start_with(&[("c.yaml", &yaml_text)], &args);
        for (name, srv) in &servers {
            let before = srv.count();
            let a = ext.check(
                "POST",
                HOST,
                &format!("/{name}"),
                &credentials,
                SECRET.as_bytes(),
            );
            let want = match *name {
                "denied" | "bad-state" | "bad-state-json" => 401,
                "allowed" => 200,
                _ => 503,
            };
            assert_eq!(a.status, want, "{name}: {a:?}");
            assert!(srv.count() > before, "{name}: the auth service was called");
        }
        assert_eq!(ext.get("/refused", &credentials).status, 503);
        // The failures were logged, with their causes.
        ext.expect_log(&["warn", "answered 503"]);
        ext.expect_log(&["warn", "no answer within 400"]);
        ext.expect_log(&["warn", "readStateFromResponse"]);
        ext.expect_log(&["warn", "connect"]);
        let logs = ext.logs();
        assert!(
            !logs.contains(SECRET),
            "a secret in the logs ({args:?}): {:?}",
            logs.lines()
                .filter(|l| l.contains(SECRET))
                .collect::<Vec<_>>()
        );
    }
}
