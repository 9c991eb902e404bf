//! The connection settings of `passThroughAuth.http`: `responseHeaderTimeout` and
//! `connectionPool.idleTimeout`, observed at a real auth service.

use crate::harness::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// One worker, so that every check uses the same shard and pool.
fn serve_one_worker(http: serde_json::Value) -> Extauth {
    Extauth::start_with(&[("c.yaml", &single(http, json!({})))], &["--workers", "1"])
}

#[test]
fn response_header_timeout_cuts_the_wait_short() {
    let slow = AuthServer::start(Reply::ok().delay(Duration::from_millis(1500)));
    let ext = serve_one_worker(json!({
        "url": slow.url("/auth"),
        "connectionTimeout": "4s",
        "responseHeaderTimeout": "300ms",
    }));
    let started = Instant::now();
    let a = ext.get("/posts/1", &[]);
    let took = started.elapsed();
    assert_eq!(a.status, 503, "{a:?}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1400),
        "answered after {took:?}: the 300 ms header timeout must apply, not the 4 s budget"
    );
    ext.expect_log_matching("300 ms");
    assert_eq!(slow.count(), 1, "the call was made once");

    // with failureModeAllow the same timeout allows
    let ext = Extauth::start_with(
        &[(
            "c.yaml",
            &single(
                json!({"url": slow.url("/auth"), "connectionTimeout": "4s", "responseHeaderTimeout": "300ms"}),
                json!({"failureModeAllow": true}),
            ),
        )],
        &["--workers", "1"],
    );
    assert_eq!(ext.get("/posts/1", &[]).status, 200);
}

#[test]
fn idle_timeout_closes_idle_connections_and_unset_keeps_them() {
    for (idle, pause_ms, expected) in [(Some("200ms"), 600, 2), (None, 600, 1)] {
        let srv = AuthServer::start(Reply::ok());
        let mut http = json!({"url": srv.url("/auth")});
        if let Some(idle) = idle {
            http["connectionPool"] = json!({"idleTimeout": idle});
        }
        let ext = serve_one_worker(http);
        assert_eq!(ext.get("/posts/1", &[]).status, 200);
        std::thread::sleep(Duration::from_millis(pause_ms));
        assert_eq!(ext.get("/posts/1", &[]).status, 200);
        assert_eq!(
            srv.connections(),
            expected,
            "idleTimeout {idle:?}: connections opened to the auth service"
        );
    }
}

#[test]
fn max_conns_caps_connections_per_auth_service() {
    let slow = AuthServer::start(Reply::ok().delay(Duration::from_millis(300)));
    let ext = Extauth::start(&[(
        "c.yaml",
        &single(
            json!({"url": slow.url("/auth"), "connectionTimeout": "5s", "connectionPool": {"maxConns": 2}}),
            json!({}),
        ),
    )]);
    std::thread::scope(|s| {
        let checks: Vec<_> = (0..6)
            .map(|_| s.spawn(|| ext.get("/posts/1", &[]).status))
            .collect();
        for c in checks {
            assert_eq!(c.join().unwrap(), 200);
        }
    });
    assert_eq!(slow.count(), 6);
    assert!(
        slow.peak_open() <= 2,
        "at most maxConns connections at once, saw {}",
        slow.peak_open()
    );
}
