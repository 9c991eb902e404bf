//! The call extauth makes to the auth service: method, url, headers, body.

use crate::harness::*;
use serde_json::{json, Value};

#[test]
fn always_post_to_the_url_with_its_path_and_query_kept() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve_single(json!({"url": srv.url("/auth/v1?tenant=a&x=%2F")}));
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let a = ext.check(method, HOST, "/posts/1?y=2", &[], b"");
        assert_eq!(a.status, 200, "{method}: {a:?}");
    }
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 6);
    for r in reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.target, "/auth/v1?tenant=a&x=%2F",
            "url path/query must be kept as written"
        );
        srv.assert_headers(&r, &[]);
        assert!(r.body.is_empty());
    }
}

#[test]
fn url_without_path_calls_slash() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve_single(json!({"url": srv.url("")}));
    assert_eq!(ext.get("/posts/1", &[]).status, 200);
    assert_eq!(srv.only_request().target, "/");
}

#[test]
fn only_allowed_headers_are_copied_with_every_value() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve_single(json!({
        "url": srv.url("/auth"),
        "request": {"allowedHeaders": ["Authorization", "x-User-ID", "x-multi", "x-absent", "X-MULTI"]},
    }));
    let a = ext.check(
        "POST",
        HOST,
        "/posts/1",
        &[
            ("authorization", "Bearer t0k"),
            ("X-USER-ID", "42"),
            ("x-multi", "a"),
            ("x-secret", "s1"),
            ("X-Multi", "b"),
            ("cookie", "session=1"),
            ("user-agent", "curl/8"),
            ("accept", "*/*"),
        ],
        b"{}",
    );
    assert_eq!(a.status, 200);
    let r = srv.only_request();
    srv.assert_headers(&r, &["authorization", "x-multi", "x-user-id"]);
    assert_eq!(r.all("authorization"), ["Bearer t0k"]);
    assert_eq!(r.all("x-user-id"), ["42"]);
    assert_eq!(
        r.joined("x-multi").as_deref(),
        Some("a, b"),
        "every value, in order"
    );
    assert_eq!(
        r.get("content-length").as_deref(),
        Some("0"),
        "the check's length is not copied"
    );
    assert!(r.body.is_empty());
}

#[test]
fn an_unlisted_header_never_arrives_whatever_its_spelling() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve_single(json!({
        "url": srv.url("/auth"),
        "request": {"allowedHeaders": ["x-allowed"]},
    }));
    let tries: &[&[(&str, &str)]] = &[
        &[("x-secret", "1")],
        &[("X-Secret", "1"), ("X-SECRET", "2"), ("x-secret", "3")],
        &[
            ("x-allowed-not", "1"),
            ("x-allowe", "1"),
            ("xx-allowed", "1"),
        ],
        &[("authorization", "Bearer t"), ("Authorization", "Basic u")],
        &[("x_allowed", "1")],
    ];
    for headers in tries {
        let a = ext.check("GET", HOST, "/", headers, b"");
        assert_eq!(a.status, 200, "{headers:?}");
    }
    let reqs = srv.requests();
    assert_eq!(reqs.len(), tries.len());
    for (r, sent) in reqs.iter().zip(tries) {
        println!("sent {sent:?}");
        srv.assert_headers(r, &[]);
    }
}

#[test]
fn headers_to_add_overwrite_copied_headers() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve_single(json!({
        "url": srv.url("/auth"),
        "request": {
            "allowedHeaders": ["x-tenant", "authorization", "x-region"],
            "headersToAdd": {"X-Tenant": "fixed", "x-api-key": "k-123"},
        },
    }));
    let a = ext.get(
        "/",
        &[
            ("x-tenant", "evil"),
            ("authorization", "a"),
            ("X-Tenant", "evil2"),
            ("x-region", "eu"),
        ],
    );
    assert_eq!(a.status, 200);
    let r = srv.only_request();
    assert_eq!(
        r.all("x-tenant"),
        ["fixed"],
        "headersToAdd replaces every copied value"
    );
    assert_eq!(r.all("x-api-key"), ["k-123"]);
    assert_eq!(r.all("authorization"), ["a"]);
    assert_eq!(r.all("x-region"), ["eu"]);
    srv.assert_headers(&r, &["authorization", "x-api-key", "x-region", "x-tenant"]);

    // Without the header on the check, headersToAdd still sends it.
    ext.get("/", &[]);
    let r = srv.requests().pop().unwrap();
    assert_eq!(r.all("x-tenant"), ["fixed"]);
    srv.assert_headers(&r, &["x-api-key", "x-tenant"]);
}

#[test]
fn hop_by_hop_and_framing_headers_are_never_copied_even_when_listed() {
    let srv = AuthServer::start(Reply::ok());
    let listed = [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "x-ok",
    ];
    let ext = serve_single(json!({"url": srv.url("/auth"), "request": {"allowedHeaders": listed}}));
    let a = ext.check(
        "POST",
        HOST,
        "/upload",
        &[
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("upgrade", "foo/2"),
            ("proxy-connection", "keep-alive"),
            ("x-ok", "yes"),
        ],
        b"hello",
    );
    assert_eq!(a.status, 200, "{a:?}");
    let r = srv.only_request();
    srv.assert_headers(&r, &["x-ok"]);
    assert_eq!(
        r.get("host"),
        Some(srv.authority()),
        "host is the url's authority"
    );
    assert_eq!(
        r.get("content-length").as_deref(),
        Some("0"),
        "not the check's 5"
    );
    assert!(r.body.is_empty());
}

/// `expect` makes the HTTP client refuse a call without a body: copied, it would let any
/// client skip the auth service of a `failureModeAllow` step. It is never copied, so the
/// auth service decides (here: denies), with or without a body; listing it is warned about.
#[test]
fn expect_is_never_copied_so_the_auth_service_still_decides() {
    let srv = AuthServer::start(Reply::status(401));
    let ext = Extauth::start(&[(
        "config.yaml",
        &single(
            json!({"url": srv.url("/auth"), "request": {"allowedHeaders": ["authorization", "expect"]}}),
            json!({"failureModeAllow": true}),
        ),
    )]);
    for (expect, body) in [("foo", &b""[..]), ("foo", b"hello"), ("", b"")] {
        let before = srv.count();
        let a = ext.check(
            "POST",
            HOST,
            "/",
            &[("authorization", "Bearer t"), ("Expect", expect)],
            body,
        );
        assert_eq!(a.status, 401, "Expect: {expect}: the denial stands: {a:?}");
        assert_eq!(
            srv.count(),
            before + 1,
            "Expect: {expect}: the auth service decided"
        );
        let r = srv.requests().pop().unwrap();
        srv.assert_headers(&r, &["authorization"]);
    }
    ext.expect_log(&["warn", "allowedHeaders", "expect"]);
}

/// One extauth, one AuthConfig per passthrough option, each behind its own route.
fn body_cases(srv: &AuthServer) -> Extauth {
    let cases: [(&str, Value, Value); 7] = [
        ("none", json!({}), json!({})),
        (
            "all-false",
            json!({"passThroughState": false, "passThroughFilterMetadata": false, "passThroughBody": false}),
            json!({}),
        ),
        ("state", json!({"passThroughState": true}), json!({})),
        (
            "metadata",
            json!({"passThroughFilterMetadata": true}),
            json!({}),
        ),
        ("body", json!({"passThroughBody": true}), json!({})),
        (
            "config",
            json!({}),
            json!({"config": {"k": ["v", 1], "nested": {"x": true}}}),
        ),
        (
            "all",
            json!({"passThroughState": true, "passThroughFilterMetadata": true, "passThroughBody": true}),
            json!({"config": {"k": "v"}}),
        ),
    ];
    let mut docs = Vec::new();
    let mut routes = Vec::new();
    for (name, request, extra) in cases {
        let mut s = step(
            "",
            json!({"url": srv.url(&format!("/{name}")), "request": request}),
        );
        merge(&mut s["passThroughAuth"], extra);
        docs.push(auth_config(name, json!({"configs": [s]})));
        routes.push(route(
            json!([{"prefix": format!("/{name}/")}]),
            Some(cref(name)),
        ));
    }
    docs.push(virtual_service("vs", &["*"], Value::Array(routes), None));
    Extauth::start(&[("configs.yaml", &yaml(&docs))])
}

/// Checks `/{case}/x` with `body` and returns what the auth service received.
fn call(ext: &Extauth, srv: &AuthServer, case: &str, body: &[u8]) -> Recorded {
    let a = ext.check(
        "POST",
        HOST,
        &format!("/{case}/x"),
        &[("content-type", "text/plain")],
        body,
    );
    assert_eq!(a.status, 200, "{case}: {a:?}");
    let r = srv.requests().pop().unwrap();
    assert_eq!(r.target, format!("/{case}"));
    r
}

fn assert_json_body(r: &Recorded, expected: Value) {
    assert_eq!(r.json(), expected);
    assert_eq!(r.all("content-type"), ["application/json"]);
    assert_eq!(r.get("content-length"), Some(r.body.len().to_string()));
    assert_eq!(
        r.names(),
        [
            "accept-encoding",
            "content-length",
            "content-type",
            "date",
            "host"
        ]
    );
}

#[test]
fn body_is_empty_unless_a_passthrough_option_is_set() {
    let srv = AuthServer::start(Reply::ok());
    let ext = body_cases(&srv);
    for case in ["none", "all-false"] {
        let r = call(&ext, &srv, case, b"the checked body");
        assert!(r.body.is_empty(), "{case}: {r:#?}");
        srv.assert_headers(&r, &[]);
        assert_eq!(r.get("content-length").as_deref(), Some("0"));
    }
}

#[test]
fn json_body_holds_exactly_the_enabled_keys() {
    let srv = AuthServer::start(Reply::ok());
    let ext = body_cases(&srv);
    let checked = "{\"a\": \"b\\\"c\"}\n  ünïcode ✓";
    assert_json_body(
        &call(&ext, &srv, "state", checked.as_bytes()),
        json!({"state": {}}),
    );
    assert_json_body(
        &call(&ext, &srv, "metadata", checked.as_bytes()),
        json!({"filterMetadata": {}}),
    );
    assert_json_body(
        &call(&ext, &srv, "body", checked.as_bytes()),
        json!({"body": checked}),
    );
    assert_json_body(&call(&ext, &srv, "body", b""), json!({"body": ""}));
    assert_json_body(
        &call(&ext, &srv, "config", checked.as_bytes()),
        json!({"config": {"k": ["v", 1], "nested": {"x": true}}}),
    );
    assert_json_body(
        &call(&ext, &srv, "all", checked.as_bytes()),
        json!({"body": checked, "state": {}, "filterMetadata": {}, "config": {"k": "v"}}),
    );
}
