//! Opt-in, what a hit answers, how long entries live (`Cache-Control`, `maxAge`,
//! `denyMaxAge`), and what is never stored.

use super::*;
use std::time::Instant;

#[test]
fn without_cache_every_check_calls_as_in_gloo() {
    let srv = AuthServer::start(allow("alice"));
    let ext = serve(http(&srv, Value::Null));
    for _ in 0..3 {
        assert_eq!(check(&ext, "Bearer alice").status, 200);
    }
    assert_eq!(srv.count(), 3);
    assert_eq!(
        ext.metric("extauth_cache_lookups_total"),
        None,
        "no cache, no series"
    );
}

#[test]
fn a_hundred_identical_checks_make_one_call_and_get_the_same_answer() {
    let srv = AuthServer::start(allow("alice"));
    let ext = serve(http(&srv, json!({"maxAge": "60s"})));
    let first = check(&ext, "Bearer alice");
    assert_eq!(first.status, 200);
    assert_eq!(
        passed_on(&first),
        [
            ("set-cookie".to_string(), "s=alice".to_string()),
            ("x-role".into(), "role-of-alice".into()),
            ("x-user".into(), "alice".into()),
        ]
    );
    for _ in 1..100 {
        let again = check(&ext, "Bearer alice");
        assert_eq!(again.status, 200);
        assert_eq!(passed_on(&again), passed_on(&first));
        assert!(again.get("x-unlisted").is_none());
    }
    assert_eq!(srv.count(), 1, "one call, on whichever worker came first");
    assert_eq!(lookups(&ext, "ac", "hit"), 99.0);
    assert_eq!(lookups(&ext, "ac", "miss"), 1.0);
    ext.expect_log(&["decision cache hit", "config_0", "gloo-system/ac"]);
}

#[test]
fn a_hit_passes_on_the_state_to_later_steps() {
    let a = AuthServer::start(Reply::ok().body(r#"{"state": {"user": "alice"}}"#));
    let b = AuthServer::start(Reply::ok());
    let cached = json!({
        "url": a.url("/a"),
        "request": {"allowedHeaders": ["authorization"]},
        "response": {"readStateFromResponse": true},
        "cache": {"maxAge": "60s"},
    });
    let next = json!({"url": b.url("/b"), "request": {"passThroughState": true}});
    let spec = json!({"configs": [step("a", cached), step("b", next)]});
    let ext = Extauth::start(&[("chain.yaml", &guarded(spec))]);
    for _ in 0..3 {
        assert_eq!(check(&ext, "Bearer alice").status, 200);
    }
    assert_eq!(a.count(), 1);
    let states: Vec<Value> = b.requests().iter().map(|r| r.json()).collect();
    assert_eq!(states, vec![json!({"state": {"user": "alice"}}); 3]);
}

#[test]
fn a_cached_denial_answers_its_status_and_client_headers() {
    let srv = AuthServer::start(
        Reply::status(403)
            .header("www-authenticate", "Bearer realm=x")
            .header("x-user", "not on a denial"),
    );
    let ext = serve(http(&srv, json!({"maxAge": "60s", "denyMaxAge": "60s"})));
    let first = check(&ext, "Bearer bob");
    for _ in 0..3 {
        let again = check(&ext, "Bearer bob");
        assert_eq!(again.status, 401);
        assert_eq!(passed_on(&again), passed_on(&first));
        assert_eq!(again.body, first.body);
    }
    assert_eq!(
        passed_on(&first),
        [("www-authenticate".to_string(), "Bearer realm=x".to_string())]
    );
    assert_eq!(srv.count(), 1);
}

#[test]
fn denials_are_not_cached_unless_asked() {
    let srv = AuthServer::start(Reply::status(401));
    let ext = serve(http(&srv, json!({"maxAge": "60s"})));
    for _ in 0..3 {
        assert_eq!(check(&ext, "Bearer bob").status, 401);
    }
    assert_eq!(srv.count(), 3, "denyMaxAge defaults to 0");
}

#[test]
fn entries_expire_and_cache_control_sets_or_forbids_their_lifetime() {
    // maxAge 4s caps every lifetime; each token gets its own Cache-Control
    let srv = AuthServer::with(|r| {
        let token = r.get("authorization").unwrap_or_default();
        let reply = Reply::ok().header("x-user", &token);
        match token.as_str() {
            "none" => reply,
            "short" => reply.header("cache-control", "public, max-age=1"),
            "long" => reply.header("Cache-Control", "max-age=3600"),
            "zero" => reply.header("cache-control", "max-age=0"),
            "no-store" => reply.header("cache-control", "no-store"),
            "no-cache" => reply.header("cache-control", "no-cache"),
            "private" => reply.header("cache-control", "private, max-age=60"),
            _ => reply.header("cache-control", "max-age=oops"),
        }
    });
    let ext = serve(http(&srv, json!({"maxAge": "4s"})));
    let calls_for = |token: &str| {
        srv.requests()
            .iter()
            .filter(|r| r.get("authorization").as_deref() == Some(token))
            .count()
    };
    let tokens = [
        "short",
        "none",
        "long",
        "zero",
        "no-store",
        "no-cache",
        "private",
        "malformed",
    ];
    let start = Instant::now();
    for t in tokens {
        // twice in a row: well within a second of each other
        for _ in 0..2 {
            assert_eq!(check(&ext, t).get("x-user").as_deref(), Some(t));
        }
    }
    let calls: Vec<usize> = tokens.iter().map(|t| calls_for(t)).collect();
    assert_eq!(calls, [1, 1, 1, 2, 2, 2, 2, 2], "{tokens:?}");

    // past max-age=1, within maxAge
    std::thread::sleep(Duration::from_millis(1300).saturating_sub(start.elapsed()));
    for t in ["none", "short", "long"] {
        check(&ext, t);
    }
    assert_eq!(
        [calls_for("none"), calls_for("short"), calls_for("long")],
        [1, 2, 1]
    );
    assert!(
        start.elapsed() < Duration::from_millis(3500),
        "too slow to tell"
    );

    // past maxAge: the cap holds even for max-age=3600
    std::thread::sleep(Duration::from_millis(4300).saturating_sub(start.elapsed()));
    for t in ["none", "long"] {
        check(&ext, t);
    }
    assert_eq!([calls_for("none"), calls_for("long")], [2, 2]);
}

#[test]
fn failures_are_never_cached() {
    let srv = AuthServer::start(Reply::status(503));
    let http = json!({
        "url": srv.url("/auth"),
        "connectionTimeout": "300ms",
        "response": {"readStateFromResponse": true},
        "cache": {"maxAge": "60s", "denyMaxAge": "60s"},
    });
    let ext = serve(http);
    let failures = [
        (Reply::status(503), 503),
        (
            Reply::status(500).header("cache-control", "max-age=60"),
            503,
        ),
        (Reply::ok().delay(Duration::from_millis(600)), 503),
        (Reply::reset_after(b""), 503),
        (
            Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort"),
            503,
        ),
        (Reply::raw(b"not http at all\r\n\r\n"), 503),
        (Reply::ok().body("no state here"), 401),
    ];
    for (reply, status) in failures {
        let before = srv.count();
        srv.set_reply(reply.clone());
        assert_eq!(ext.get("/", &[]).status, status, "{reply:?}");
        assert_eq!(ext.get("/", &[]).status, status, "{reply:?}");
        assert!(srv.count() >= before + 2, "{reply:?} was cached");
    }
    // and then a good answer is, as usual
    srv.set_reply(Reply::ok().body(r#"{"state": {}}"#));
    let before = srv.count();
    for _ in 0..3 {
        assert_eq!(ext.get("/", &[]).status, 200);
    }
    assert_eq!(srv.count(), before + 1);
}

#[test]
fn a_refused_connection_is_not_cached() {
    let port = free_port();
    let http = json!({
        "url": format!("http://127.0.0.1:{port}/auth"),
        "cache": {"maxAge": "60s", "denyMaxAge": "60s"},
    });
    let ext = serve(http);
    assert_eq!(ext.get("/", &[]).status, 503);
    let srv = AuthServer::start_on(port, Reply::ok());
    assert_eq!(ext.get("/", &[]).status, 200, "asked again once it listens");
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(srv.count(), 1);
}
