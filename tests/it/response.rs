//! How the auth service's answer becomes extauth's answer to Envoy.

use crate::harness::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Response header lists used by most tests here.
fn response_lists() -> serde_json::Value {
    json!({
        "allowedUpstreamHeaders": ["X-User", "x-role", "x-missing"],
        "allowedUpstreamHeadersToOverwrite": ["x-overwrite"],
        "allowedClientHeadersOnSuccess": ["set-cookie"],
        "allowedClientHeadersOnDenied": ["www-authenticate", "x-reason", "location"],
    })
}

/// A reply carrying one header of every list, plus one unlisted header.
fn loaded(status: u16) -> Reply {
    Reply::status(status)
        .header("x-user", "alice")
        .header("x-role", "a")
        .header("X-Role", "b")
        .header("x-overwrite", "o")
        .header("set-cookie", "s=1; Path=/")
        .header("set-cookie", "t=2")
        .header("www-authenticate", "Basic realm=\"x\"")
        .header("x-reason", "no")
        .header("x-unlisted", "u")
        .body("auth body")
}

fn serve(
    srv: &AuthServer,
    extra_http: serde_json::Value,
    pass_through: serde_json::Value,
) -> Extauth {
    let mut http = json!({"url": srv.url("/auth"), "response": response_lists()});
    merge(&mut http, extra_http);
    Extauth::start(&[("c.yaml", &single(http, pass_through))])
}

const UNLISTED_OR_DENY_ONLY: [&str; 5] = [
    "x-missing",
    "x-unlisted",
    "www-authenticate",
    "x-reason",
    "location",
];
const ALLOW_ONLY: [&str; 4] = ["x-user", "x-role", "x-overwrite", "set-cookie"];

#[test]
fn allow_copies_the_listed_headers_only() {
    let srv = AuthServer::start(loaded(200));
    let ext = serve(&srv, json!({}), json!({}));
    let a = ext.get("/posts/1", &[]);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.all("x-user"),
        ["alice"],
        "list names are case-insensitive"
    );
    assert_eq!(
        a.joined("x-role").as_deref(),
        Some("a, b"),
        "all values, in order"
    );
    assert_eq!(a.all("x-overwrite"), ["o"]);
    assert_eq!(
        a.all("set-cookie"),
        ["s=1; Path=/", "t=2"],
        "set-cookie values stay separate"
    );
    for absent in UNLISTED_OR_DENY_ONLY {
        assert!(
            a.all(absent).is_empty(),
            "{absent} must be absent (not empty): {a:?}"
        );
    }
}

#[test]
fn every_non_200_non_5xx_status_denies_with_401_and_the_denied_headers() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve(&srv, json!({}), json!({"failureModeAllow": true}));
    for status in [401, 403, 400, 404, 429, 201, 204, 301, 302, 303, 307, 308] {
        let reply = loaded(status);
        srv.set_reply(if status == 204 { reply.body("") } else { reply });
        let a = ext.get("/posts/1", &[]);
        assert_eq!(
            a.status, 401,
            "auth status {status} (failureModeAllow does not apply): {a:?}"
        );
        assert!(a.body.is_empty(), "{status}: body must be empty");
        assert_eq!(a.all("www-authenticate"), ["Basic realm=\"x\""], "{status}");
        assert_eq!(a.all("x-reason"), ["no"], "{status}");
        for absent in ALLOW_ONLY.iter().chain(&["x-unlisted", "x-missing"]) {
            assert!(
                a.all(absent).is_empty(),
                "{status}: {absent} must be absent: {a:?}"
            );
        }
    }
}

#[test]
fn redirects_are_never_followed() {
    let target = AuthServer::start(Reply::ok());
    let srv = AuthServer::start(Reply::ok());
    let ext = serve(&srv, json!({}), json!({}));
    for status in [301, 302, 303, 307, 308] {
        srv.set_reply(Reply::status(status).header("location", &target.url("/auth")));
        let a = ext.get("/posts/1", &[]);
        assert_eq!(a.status, 401, "{status}");
        assert_eq!(a.all("location"), [target.url("/auth")], "{status}");
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(target.count(), 0, "the redirect target must get nothing");
    assert_eq!(srv.count(), 5);
}

/// Waits for a WARN line that mentions `cause` (a regex, case-insensitive).
fn expect_warning(ext: &Extauth, cause: &str) {
    ext.expect_log_matching(&format!(r"\bWARN\b.*({cause})"));
}

#[test]
fn server_errors_answer_503_and_are_logged() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve(&srv, json!({}), json!({}));
    for status in [500, 502, 503, 504] {
        srv.set_reply(loaded(status));
        let a = ext.get("/posts/1", &[]);
        assert_eq!(a.status, 503, "auth status {status}: {a:?}");
        assert!(a.body.is_empty());
        for absent in ALLOW_ONLY.iter().chain(&UNLISTED_OR_DENY_ONLY) {
            assert!(
                a.all(absent).is_empty(),
                "{status}: {absent} must be absent"
            );
        }
        expect_warning(&ext, &format!(r"\b{status}\b"));
    }
}

#[test]
fn server_errors_with_failure_mode_allow_answer_200_without_headers() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve(&srv, json!({}), json!({"failureModeAllow": true}));
    for status in [500, 502, 503, 504] {
        srv.set_reply(loaded(status));
        let a = ext.get("/posts/1", &[]);
        assert_eq!(a.status, 200, "auth status {status}: {a:?}");
        for absent in ALLOW_ONLY.iter().chain(&UNLISTED_OR_DENY_ONLY) {
            assert!(
                a.all(absent).is_empty(),
                "{status}: {absent} must be absent: {a:?}"
            );
        }
    }
    assert_eq!(srv.count(), 4);
}

#[test]
fn timeout_answers_503_within_the_connection_timeout() {
    for (fma, expected) in [(false, 503), (true, 200)] {
        let srv = AuthServer::start(loaded(200).delay(Duration::from_secs(4)));
        let ext = serve(
            &srv,
            json!({"connectionTimeout": "500ms"}),
            json!({"failureModeAllow": fma}),
        );
        let start = Instant::now();
        let a = ext.get("/posts/1", &[]);
        let took = start.elapsed();
        assert_eq!(a.status, expected, "failureModeAllow={fma}: {a:?}");
        assert!(a.all("x-user").is_empty(), "a late answer adds nothing");
        assert!(
            took >= Duration::from_millis(450),
            "answered before the timeout: {took:?}"
        );
        assert!(
            took < Duration::from_millis(1000),
            "timeout not enforced: {took:?}"
        );
        assert_eq!(srv.count(), 1);
        if !fma {
            expect_warning(
                &ext,
                r"time.?out|timed out|deadline|no answer within 500 ?ms",
            );
        }
    }
}

#[test]
fn connection_refused_answers_503_or_200_with_failure_mode_allow() {
    let url = format!("http://127.0.0.1:{}/auth", free_port());
    for (fma, expected) in [(false, 503), (true, 200)] {
        let yaml = single(
            json!({"url": url, "connectionTimeout": "2s"}),
            json!({"failureModeAllow": fma}),
        );
        let ext = Extauth::start(&[("c.yaml", &yaml)]);
        let start = Instant::now();
        let a = ext.get("/posts/1", &[]);
        assert_eq!(a.status, expected, "failureModeAllow={fma}: {a:?}");
        assert!(a.body.is_empty());
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "refusal must not wait for the timeout"
        );
        if !fma {
            expect_warning(&ext, "refused|connect");
        }
    }
}

#[test]
fn malformed_or_reset_answers_are_errors() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve(&srv, json!({}), json!({}));
    for raw in [
        &b"this is not http\r\n\r\n"[..],
        b"",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
    ] {
        srv.set_reply(Reply::raw(raw));
        let a = ext.get("/posts/1", &[]);
        assert_eq!(
            a.status,
            503,
            "answer {:?}: {a:?}",
            String::from_utf8_lossy(raw)
        );
    }
    // And the pool recovers: the next well-formed answer allows.
    srv.set_reply(loaded(200));
    assert_eq!(ext.get("/posts/1", &[]).status, 200);
}

#[test]
fn a_slow_but_timely_answer_allows() {
    let srv = AuthServer::start(loaded(200).delay(Duration::from_millis(300)));
    let ext = serve(&srv, json!({"connectionTimeout": "1s"}), json!({}));
    let a = ext.get("/posts/1", &[]);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.all("x-user"), ["alice"]);
}
