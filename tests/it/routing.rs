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
            ("foo.example.com:8080", "/", 200, "exact"),
            ("foo.example.com.", "/", 200, "exact"),
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
    p.expect(
        &ext,
        &[("h", "/health", 200, "-"), ("h", "/public/x", 200, "weak")],
    );
    for path in [
        "//health",
        "/./health",
        "/%68ealth",
        "/health/",
        "/HEALTH",
        "/health%2F",
        "/%2Fhealth",
        "/health/.",
        "/health;x",
        "//public/x",
        "/./public/x",
        "/%70ublic/x",
        "/public%2Fx",
        "/PUBLIC/x",
        "/admin?/public/",
    ] {
        assert_eq!(
            p.which(&ext, "GET", "h", path, &[]),
            (200, "strict"),
            "{path}"
        );
    }
}

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
    for host in [
        "admin.example.com",
        "ADMIN.EXAMPLE.COM",
        "Admin.Example.Com:8443",
        "admin.example.com:80",
        "admin.example.com.",
    ] {
        assert_eq!(
            p.which(&ext, "GET", host, "/", &[]),
            (200, "strict"),
            "Host {host:?}"
        );
    }
    assert_eq!(
        p.which(&ext, "GET", "other.example.com", "/", &[]),
        (200, "-")
    );
}
