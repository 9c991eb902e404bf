//! Which AuthConfig applies to a check: VirtualService domains, route matchers, inheritance.
//!
//! Every AuthConfig `X` calls its own allowing auth server, so a check's outcome tells exactly
//! which AuthConfig applied (or none).

use crate::harness::*;
use serde_json::{json, Value};

/// Allowing auth servers, one per AuthConfig name.
struct Policies {
    servers: Vec<(&'static str, AuthServer)>,
}

impl Policies {
    fn new(names: &[&'static str]) -> Self {
        let servers = names
            .iter()
            .map(|n| (*n, AuthServer::start(Reply::ok())))
            .collect();
        Policies { servers }
    }

    /// One AuthConfig per server, named after it.
    fn auth_configs(&self) -> Vec<Value> {
        self.servers
            .iter()
            .map(|(n, s)| {
                auth_config(
                    n,
                    json!({"configs": [step("", json!({"url": s.url("/auth")}))]}),
                )
            })
            .collect()
    }

    /// Serves the AuthConfigs plus `vs_docs`, with extra `serve` arguments.
    fn serve(&self, vs_docs: Vec<Value>, args: &[&str]) -> Extauth {
        let files = [
            ("acs.yaml", yaml(&self.auth_configs())),
            ("vss.yaml", yaml(&vs_docs)),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
        Extauth::start_with(&files, args)
    }

    /// Sends a check; returns its status and the AuthConfig that was consulted ("-" if none).
    fn which(
        &self,
        ext: &Extauth,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, &str) {
        let before: Vec<usize> = self.servers.iter().map(|(_, s)| s.count()).collect();
        let a = ext.check(method, host, path, headers, b"");
        let called: Vec<&str> = self
            .servers
            .iter()
            .zip(before)
            .filter(|((_, s), b)| s.count() > *b)
            .map(|((n, _), _)| *n)
            .collect();
        assert!(
            called.len() <= 1,
            "{method} {host}{path}: several configs called: {called:?}"
        );
        (a.status, called.first().copied().unwrap_or("-"))
    }

    /// Asserts each `(host, path, status, config)` case for a GET without headers.
    fn expect(&self, ext: &Extauth, cases: &[(&str, &str, u16, &str)]) {
        for (host, path, status, config) in cases {
            let got = self.which(ext, "GET", host, path, &[]);
            assert_eq!(got, (*status, *config), "GET {path} with Host {host:?}");
        }
    }
}

/// A check (method, path, headers) and the AuthConfig expected to apply.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

fn any(extauth: Option<Value>) -> Value {
    json!([route(json!([{"prefix": "/"}]), extauth)])
}

#[test]
fn domains_exact_then_longest_suffix_then_prefix_then_star() {
    let p = Policies::new(&["exact", "suffix", "longsuffix", "prefix", "star"]);
    let ext = p.serve(
        vec![
            virtual_service("v1", &["*.example.com"], any(Some(cref("suffix"))), None),
            virtual_service(
                "v2",
                &["foo.example.com", "bar.test"],
                any(Some(cref("exact"))),
                None,
            ),
            virtual_service("v3", &["*"], any(Some(cref("star"))), None),
            virtual_service(
                "v4",
                &["*.b.example.com"],
                any(Some(cref("longsuffix"))),
                None,
            ),
            virtual_service("v5", &["foo.*"], any(Some(cref("prefix"))), None),
        ],
        &[],
    );
    p.expect(
        &ext,
        &[
            ("foo.example.com", "/", 200, "exact"),
            ("bar.test", "/", 200, "exact"),
            ("FOO.Example.COM", "/", 200, "exact"),
            // with its port the Host is `foo.*` as sent, `foo.example.com` once Envoy strips it
            ("foo.example.com:8080", "/", 403, "-"),
            // `*.example.com` as sent, `foo.example.com` normalised: refused
            ("foo.example.com.", "/", 403, "-"),
            ("x.example.com", "/", 200, "suffix"),
            ("x.y.example.com", "/", 200, "suffix"),
            ("x.b.example.com", "/", 200, "longsuffix"),
            ("example.com", "/", 200, "star"),
            ("foo.other", "/", 200, "prefix"),
            ("foo.b.example.com", "/", 200, "longsuffix"),
            ("other", "/", 200, "star"),
            ("127.0.0.1:9000", "/", 200, "star"),
        ],
    );
}

#[test]
fn no_virtual_host_or_route_match_answers_403() {
    let p = Policies::new(&["a"]);
    let routes = json!([route(json!([{"prefix": "/api"}]), None)]);
    let ext = p.serve(
        vec![virtual_service("v", &["foo-http"], routes, Some(cref("a")))],
        &[],
    );
    p.expect(
        &ext,
        &[
            ("foo-http", "/api/x", 200, "a"),
            ("foo-http", "/other", 403, "-"),
            ("bar-http", "/api/x", 403, "-"),
        ],
    );
    let a = ext.get("/other", &[]);
    assert!(a.body.is_empty(), "403 body must be empty");
}

#[test]
fn matchers_and_route_order() {
    let p = Policies::new(&["a", "b", "c", "d"]);
    let r = |m: Value, c: &str| route(m, Some(cref(c)));
    let routes = json!([
        r(json!([{"exact": "/exact"}]), "a"),
        r(json!([{"regex": "/re/[0-9]+"}]), "b"),
        r(json!([{"prefix": "/pre", "methods": ["POST", "PUT"]}]), "c"),
        r(json!([{"prefix": "/pre"}]), "d"),
        r(
            json!([{"prefix": "/h", "headers": [{"name": "x-tenant", "value": "gold"}]}]),
            "a"
        ),
        r(
            json!([{"prefix": "/h", "headers": [{"name": "x-tenant", "value": "s.*", "regex": true}]}]),
            "b"
        ),
        r(
            json!([{"prefix": "/h", "headers": [{"name": "x-tenant", "value": "bronze", "invertMatch": true}]}]),
            "c"
        ),
        r(json!([{"prefix": "/h"}]), "d"),
        r(
            json!([{"prefix": "/q", "queryParameters": [{"name": "debug", "value": "1"}]}]),
            "a"
        ),
        r(json!([{"prefix": "/ci/", "caseSensitive": false}]), "b"),
        r(json!([{"prefix": "/o"}]), "c"),
        r(json!([{"exact": "/o/x"}, {"prefix": "/multi"}]), "d"),
        r(json!([{"prefix": "/search?tab=a"}]), "a"),
        route(json!([{"prefix": "/"}]), Some(json!({"disable": true}))),
    ]);
    let ext = p.serve(
        vec![virtual_service("v", &["*"], routes, Some(cref("d")))],
        &[],
    );
    let cases: &[Case] = &[
        ("GET", "/exact", &[], "a"),
        ("GET", "/exact?x=1", &[], "a"),
        ("GET", "/exact/", &[], "-"),
        ("GET", "/EXACT", &[], "-"),
        ("GET", "/re/123", &[], "b"),
        ("GET", "/re/123?q=1", &[], "b"),
        ("GET", "/re/12a", &[], "-"),
        ("GET", "/x/re/1", &[], "-"),
        ("POST", "/pre/x", &[], "c"),
        ("PUT", "/prefix", &[], "c"),
        ("GET", "/pre/x", &[], "d"),
        ("GET", "/h", &[("x-tenant", "gold")], "a"),
        ("GET", "/h", &[("x-tenant", "silver")], "b"),
        ("GET", "/h", &[("x-tenant", "iron")], "c"),
        ("GET", "/h", &[("x-tenant", "bronze")], "d"),
        ("GET", "/q?debug=1", &[], "a"),
        ("GET", "/q?x=2&debug=1", &[], "a"),
        ("GET", "/q?debug=2", &[], "-"),
        ("GET", "/CI/x", &[], "b"),
        ("GET", "/Ci/y", &[], "b"),
        ("GET", "/o/x", &[], "c"),
        ("GET", "/multi/1", &[], "d"),
        ("GET", "/search?tab=abc", &[], "a"),
        ("GET", "/search?tab=b", &[], "-"),
        ("GET", "/search", &[], "-"),
    ];
    for (method, path, headers, config) in cases {
        let got = p.which(&ext, method, "foo-http", path, headers);
        assert_eq!(got, (200, *config), "{method} {path} {headers:?}");
    }
}

#[test]
fn route_without_matchers_matches_every_path() {
    let p = Policies::new(&["a"]);
    let routes = json!([{"routeAction": {"single": {"upstream": {"name": "u", "namespace": NS}}}}]);
    let ext = p.serve(
        vec![virtual_service("v", &["*"], routes, Some(cref("a")))],
        &[],
    );
    p.expect(
        &ext,
        &[("h", "/", 200, "a"), ("h", "/any/thing?x", 200, "a")],
    );
}

#[test]
fn virtual_host_config_is_inherited_unless_overridden_or_disabled() {
    let p = Policies::new(&["host", "own"]);
    let routes = json!([
        route(json!([{"prefix": "/own"}]), Some(cref("own"))),
        route(json!([{"prefix": "/off"}]), Some(json!({"disable": true}))),
        route(json!([{"prefix": "/"}]), None),
    ]);
    let open = json!([route(json!([{"prefix": "/"}]), None)]);
    let ext = p.serve(
        vec![
            virtual_service("v", &["foo-http"], routes, Some(cref("host"))),
            virtual_service("open", &["open-http"], open, None),
        ],
        &[],
    );
    p.expect(
        &ext,
        &[
            ("foo-http", "/own/1", 200, "own"),
            ("foo-http", "/off/1", 200, "-"),
            ("foo-http", "/posts/1", 200, "host"),
            ("open-http", "/posts/1", 200, "-"),
        ],
    );
}

#[test]
fn missing_or_invalid_auth_config_answers_403_and_is_logged() {
    let p = Policies::new(&["a"]);
    let routes = json!([
        route(
            json!([{"prefix": "/missing"}]),
            Some(cref("no-such-config"))
        ),
        route(json!([{"prefix": "/invalid"}]), Some(cref("broken-config"))),
        route(json!([{"prefix": "/"}]), None),
    ]);
    let broken = auth_config(
        "broken-config",
        json!({"configs": [step("", json!({"url": "not a url"}))]}),
    );
    let files = [
        ("acs.yaml", yaml(&p.auth_configs())),
        ("broken.yaml", yaml(&[broken])),
        (
            "vss.yaml",
            yaml(&[virtual_service("v", &["*"], routes, Some(cref("a")))]),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let ext = Extauth::start(&files);
    p.expect(
        &ext,
        &[
            ("h", "/missing/x", 403, "-"),
            ("h", "/invalid/x", 403, "-"),
            ("h", "/ok", 200, "a"),
        ],
    );
    ext.expect_log_matching(r"\bERROR\b.*no-such-config");
    ext.expect_log_matching(r"\bERROR\b.*broken-config");
}

#[test]
fn config_ref_without_namespace_uses_the_virtual_service_namespace() {
    let p = Policies::new(&["team-a", "gloo"]);
    let mut acs = p.auth_configs();
    acs[0]["metadata"] = json!({"name": "shared", "namespace": "team-a"});
    acs[1]["metadata"] = json!({"name": "shared", "namespace": NS});
    let mut vs = virtual_service(
        "v",
        &["*"],
        any(None),
        Some(json!({"configRef": {"name": "shared"}})),
    );
    vs["metadata"]["namespace"] = json!("team-a");
    let ext = Extauth::start(&[("all.yaml", &yaml(&[acs[0].clone(), acs[1].clone(), vs]))]);
    p.expect(&ext, &[("h", "/", 200, "team-a")]);
}

#[test]
fn path_prefix_is_stripped_once_and_required() {
    let p = Policies::new(&["strict", "weak"]);
    let routes = json!([
        route(json!([{"prefix": "/public/"}]), Some(cref("weak"))),
        route(json!([{"prefix": "/"}]), Some(cref("strict"))),
    ]);
    let ext = p.serve(
        vec![virtual_service("v", &["*"], routes, None)],
        &["--path-prefix", "/extauthz"],
    );
    p.expect(
        &ext,
        &[
            ("h", "/extauthz/public/x", 200, "weak"),
            ("h", "/extauthz/posts/1?x=1", 200, "strict"),
            ("h", "/extauthz/extauthz/public/x", 200, "strict"),
            ("h", "/public/x", 403, "-"),
            ("h", "/posts/1", 403, "-"),
            ("h", "/other/extauthz/public/x", 403, "-"),
        ],
    );
}

/// The `extauth_checks_total` series of refused ambiguous checks, and the log lines about them.
fn ambiguities(ext: &Extauth) -> (f64, usize) {
    let metric = ext
        .metric(r#"extauth_checks_total{auth_config="",decision="ambiguous"}"#)
        .unwrap_or(0.0);
    (
        metric,
        ext.count_log_matching(r"\bWARN\b.*ambiguous request"),
    )
}

/// Sends each `(host, path, status, config)` check and asserts its outcome; those answered
/// `(403, "-")` must be refused as ambiguous (each counted in the metric, and logged: at most a
/// line a second, so at least one new line), the others not.
fn expect_ambiguities(p: &Policies, ext: &Extauth, cases: &[(&str, &str, u16, &str)]) {
    let ambiguous = cases.iter().filter(|c| (c.2, c.3) == (403, "-")).count();
    let before = ambiguities(ext);
    p.expect(ext, cases);
    let counted = before.0 + ambiguous as f64;
    let logged = |now: (f64, usize)| (now.1 > before.1) == (ambiguous > 0);
    wait_for(
        || {
            let now = ambiguities(ext);
            now.0 == counted && logged(now)
        },
        std::time::Duration::from_secs(2),
    );
    let now = ambiguities(ext);
    assert_eq!(
        now.0,
        counted,
        "ambiguous checks counted; logs:\n{}",
        ext.logs()
    );
    assert!(
        logged(now),
        "ambiguous checks logged ({} lines before, {} after); logs:\n{}",
        before.1,
        now.1,
        ext.logs()
    );
}

/// Without a route identity, a path not in normal form is routed as sent and as the generated
/// Envoy normalises it; when the two ask for different policies, the check is refused.
#[test]
fn a_client_cannot_pick_a_weaker_config_with_path_tricks() {
    let p = Policies::new(&["strict", "weak"]);
    let routes = json!([
        route(
            json!([{"exact": "/health"}]),
            Some(json!({"disable": true}))
        ),
        route(json!([{"prefix": "/public/"}]), Some(cref("weak"))),
        route(json!([{"prefix": "/"}]), Some(cref("strict"))),
    ]);
    let ext = p.serve(vec![virtual_service("v", &["*"], routes, None)], &[]);
    let refused = (403, "-");
    let cases: Vec<(&str, &str, u16, &str)> = [
        ("/health", (200, "-")),
        ("/public/x", (200, "weak")),
        // normal form: matched as written
        ("/health/", (200, "strict")),
        ("/HEALTH", (200, "strict")),
        ("/health;x", (200, "strict")),
        ("/PUBLIC/x", (200, "strict")),
        ("/admin?/public/", (200, "strict")),
        ("/admin?/../health", (200, "strict")),
        ("/public/x?/../../admin", (200, "weak")),
        // not in normal form, both readings agree
        ("/health%2F", (200, "strict")),
        ("/health/.", (200, "strict")),
        ("//admin", (200, "strict")),
        ("/./admin", (200, "strict")),
        ("/x/../admin", (200, "strict")),
        ("/public/./x", (200, "weak")),
        ("/public//x", (200, "weak")),
        ("/public/%78", (200, "weak")),
        ("/admin%zz", (200, "strict")),
        // not in normal form, the readings disagree
        ("//health", refused),
        ("/./health", refused),
        ("/x/../health", refused),
        ("/%68ealth", refused),
        ("/%2Fhealth", refused),
        ("/%2fhealth", refused),
        ("/%5Chealth", refused),
        ("/x/%2e%2e/health", refused),
        ("/x/%2E%2E/health", refused),
        ("/x/.%2e/health", refused),
        ("/x/..;/health", refused),
        ("/x/..;y/health", refused),
        ("/.;/health", refused),
        ("/health/..;/health", refused),
        ("//public/x", refused),
        ("/./public/x", refused),
        ("/%70ublic/x", refused),
        ("/public%2Fx", refused),
        ("/public%2fx", refused),
        ("/public%5Cx", refused),
        ("/public/../admin", refused),
        ("/public/..%2Fadmin", refused),
        ("/public/%2e%2e/admin", refused),
        ("/public/..;/admin", refused),
        ("/x\\..\\health", refused),
        ("/public\\x", refused),
        // Envoy rejects a NUL: refused too
        ("/health%00", refused),
    ]
    .into_iter()
    .map(|(path, (status, config))| ("h", path, status, config))
    .collect();
    expect_ambiguities(&p, &ext, &cases);
}

/// Without a route identity, a Host with a trailing dot or a port (which the generated Envoy
/// strips and a plain one matches domains with) is refused when its readings ask for different
/// policies; forms that every reading keeps go where every Envoy sends them.
#[test]
fn a_client_cannot_pick_a_weaker_config_with_host_tricks() {
    let p = Policies::new(&["strict"]);
    let ext = p.serve(
        vec![
            virtual_service(
                "admin",
                &["admin.example.com"],
                any(Some(cref("strict"))),
                None,
            ),
            virtual_service("rest", &["*"], any(Some(json!({"disable": true}))), None),
        ],
        &[],
    );
    let refused = (403, "-");
    let cases: Vec<(&str, &str, u16, &str)> = [
        ("admin.example.com", (200, "strict")),
        ("ADMIN.EXAMPLE.COM", (200, "strict")),
        ("other.example.com", (200, "-")),
        // Envoy (strip_trailing_host_dot, strip_any_host_port) makes these admin.example.com,
        // an Envoy without them does not
        ("Admin.Example.Com:8443", refused),
        ("admin.example.com:80", refused),
        ("admin.example.com:0", refused),
        ("admin.example.com:65535", refused),
        ("admin.example.com.", refused),
        ("ADMIN.EXAMPLE.COM.", refused),
        ("admin.example.com.:80", refused),
        ("admin.example.com:65536", refused),
        ("admin.example.com:99999", refused),
        ("admin.example.com:4294967295", refused),
        ("admin.example.com:+80", refused),
        ("admin.example.com:000080", refused),
        // every reading keeps these: no virtual host has them, the catch-all takes them
        ("admin.example.com:", (200, "-")),
        ("admin.example.com.:", (200, "-")),
        ("admin.example.com:4294967296", (200, "-")),
        ("admin.example.com:abc", (200, "-")),
        ("admin.example.com:-1", (200, "-")),
        ("admin.example.com::80", (200, "-")),
        // the generated Envoy forwards `admin.example.com:80:80` as this, matched with its port
        ("admin.example.com:80:80", (200, "-")),
        ("admin.example.com..", (200, "-")),
        ("admin.example.com..:80", (200, "-")),
        // odd, but every reading ends in the catch-all
        ("other.example.com.", (200, "-")),
        ("other.example.com:99999", (200, "-")),
        ("other.example.com:80", (200, "-")),
    ]
    .into_iter()
    .map(|(host, (status, config))| (host, "/", status, config))
    .collect();
    expect_ambiguities(&p, &ext, &cases);
}

/// A host or path not in normal form whose readings ask for the same AuthConfig gets the
/// normal answer: that AuthConfig is consulted.
#[test]
fn odd_forms_whose_readings_agree_get_the_normal_answer() {
    let p = Policies::new(&["strict"]);
    let ext = p.serve(
        vec![
            virtual_service("admin", &["admin.example"], any(None), Some(cref("strict"))),
            virtual_service("rest", &["*"], any(None), Some(cref("strict"))),
        ],
        &[],
    );
    let cases: Vec<(&str, &str, u16, &str)> = [
        ("admin.example.", "/x"),
        ("admin.example:99999", "/x"),
        ("admin.example.:80", "//x/../y"),
        ("other.example.", "/%41"),
    ]
    .into_iter()
    .map(|(host, path)| (host, path, 200, "strict"))
    .collect();
    expect_ambiguities(&p, &ext, &cases);
}

/// Route matchers on `:method`, `:path` and `:authority` see what Envoy routes on: the check's
/// method, its path with query (`--path-prefix` removed), its Host (Envoy's `:authority`).
#[test]
fn pseudo_header_matchers_are_emulated() {
    let p = Policies::new(&["writes", "api", "admin", "port"]);
    let r = |m: Value, c: &str| route(m, Some(cref(c)));
    let routes = json!([
        r(
            json!([{"prefix": "/", "headers": [{"name": ":method", "value": "GET", "invertMatch": true}]}]),
            "writes"
        ),
        r(
            json!([{"prefix": "/", "headers": [{"name": ":path", "value": "/api/.*", "regex": true}]}]),
            "api"
        ),
        r(
            json!([{"prefix": "/", "headers": [{"name": ":authority", "value": "admin.example"}]}]),
            "admin"
        ),
        r(
            json!([{"prefix": "/", "headers": [{"name": "Host", "value": ".*:[0-9]*", "regex": true}]}]),
            "port"
        ),
        route(json!([{"prefix": "/"}]), Some(json!({"disable": true}))),
    ]);
    let vs = vec![virtual_service("v", &["*"], routes, None)];
    let cases: &[(&str, &str, &str, (u16, &str))] = &[
        ("POST", "h", "/x", (200, "writes")),
        ("DELETE", "h", "/api/v1", (200, "writes")),
        ("GET", "h", "/x", (200, "-")),
        ("PUT", "h", "/x", (200, "writes")),
        ("GET", "h", "/api/v1", (200, "api")),
        ("GET", "h", "/api/v1?x=1", (200, "api")),
        ("GET", "h", "/apix", (200, "-")),
        ("GET", "h", "/x?/api/", (200, "-")),
        ("GET", "admin.example", "/x", (200, "admin")),
        // Envoy compares the value as it is: case and port count
        ("GET", "Admin.Example", "/x", (200, "-")),
        ("GET", "h:", "/x", (200, "port")),
        // readings that disagree on what the matcher sees
        ("GET", "admin.example:80", "/x", (403, "-")),
        ("GET", "h:8443", "/x", (403, "-")),
        ("GET", "admin.example.", "/x", (403, "-")),
        ("GET", "h", "/x/../api/v1", (403, "-")),
        ("GET", "h", "/%61pi/v1", (403, "-")),
        ("GET", "h:99999", "/x", (403, "-")),
    ];
    let ext = p.serve(vs.clone(), &[]);
    for (method, host, path, want) in cases {
        let got = p.which(&ext, method, host, path, &[]);
        assert_eq!(got, *want, "{method} {path} with Host {host:?}");
    }
    // `:path` is the path Envoy routed on, without extauth's prefix
    let ext = p.serve(vs, &["--path-prefix", "/extauthz"]);
    assert_eq!(
        p.which(&ext, "GET", "h", "/extauthz/api/v1", &[]),
        (200, "api")
    );
    assert_eq!(
        p.which(&ext, "GET", "h", "/extauthz/x/../api/v1", &[]),
        (403, "-")
    );
}

/// A Host with one well-formed port: when no domain matches it with its port, it is what every
/// port-stripping Envoy routes as the bare host, so it gets that host's answer (a browser's
/// `Host: site.example:8080` through an Envoy configured by hand). When a catch-all matches it
/// with its port, the two readings must agree, and here they do not: 403.
#[test]
fn a_host_with_a_port_is_refused_only_when_the_port_could_change_the_route() {
    let auth = AuthServer::start(Reply::status(401));
    let protected = |name: &str, domains: &[&str]| {
        virtual_service(
            name,
            domains,
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref("ac")),
        )
    };
    let ac = auth_config(
        "ac",
        json!({"configs": [step("", json!({"url": auth.url("/auth")}))]}),
    );
    let alone = Extauth::start(&[(
        "c.yaml",
        &yaml(&[ac.clone(), protected("site", &["site.example"])]),
    )]);
    for host in ["site.example:8080", "site.example:80", "SITE.example:443"] {
        assert_eq!(
            alone.check("GET", host, "/", &[], b"").status,
            401,
            "{host}"
        );
    }
    let open = virtual_service(
        "rest",
        &["*"],
        json!([route(json!([{"prefix": "/"}]), None)]),
        None,
    );
    let with_catch_all = Extauth::start(&[(
        "c.yaml",
        &yaml(&[ac, protected("site", &["site.example"]), open]),
    )]);
    assert_eq!(
        with_catch_all
            .check("GET", "site.example", "/", &[], b"")
            .status,
        401
    );
    assert_eq!(
        with_catch_all
            .check("GET", "site.example:8080", "/", &[], b"")
            .status,
        403,
        "an Envoy that keeps ports routes it to the open catch-all"
    );
}
