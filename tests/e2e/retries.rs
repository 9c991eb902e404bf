//! Envoy's retries of checks when an extauth replica cannot be reached, through the bootstrap
//! `extauth envoy-config` generates: a check is retried only onto *another* replica, at most
//! once per other replica, after a short back-off; with a single replica nothing is retried,
//! and a check whose replica is down is answered 503 at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::harness::server::{upstream, Server};
use crate::harness::{extauth_serve_trusting, free_port, http, Proc};
use crate::replicas::{config, envoy_stat, start_envoy};

const HOST: &str = "foo-http";
const RETRIES: &str = "cluster.extauth.upstream_rq_retry";

/// An auth service that allows `authorization: authorize me`, and how many calls it got.
fn auth_service() -> (Server, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let server = Server::start(move |req| {
        counted.fetch_add(1, Ordering::SeqCst);
        if req.header("authorization") == Some("authorize me") {
            (200, Vec::new(), String::new())
        } else {
            (401, Vec::new(), String::new())
        }
    });
    (server, calls)
}

fn authorized(port: u16) -> (u16, Duration) {
    let t = Instant::now();
    let r = http::get(port, "/posts/1", HOST, &[("authorization", "authorize me")])
        .expect("Envoy answers");
    (r.status, t.elapsed())
}

/// One replica, not running: every request is refused (503, fail closed) promptly, and Envoy
/// retried none of the checks (there is no other replica to try).
#[test]
fn with_one_replica_down_every_request_fails_at_once_without_retries() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let ((auth, calls), backend) = (auth_service(), upstream());
    config(cfg.path(), auth.port, backend.port);
    let down = free_port();
    let (mut envoy, port, admin) = start_envoy(cfg.path(), &[down], work.path());
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let (status, took) = authorized(port);
        assert_eq!(status, 503, "a check extauth cannot answer fails closed");
        slowest = slowest.max(took);
    }
    println!(
        "one replica down: 20 requests, slowest 503 in {slowest:?}, {} check retries",
        envoy_stat(admin, RETRIES)
    );
    assert_eq!(
        envoy_stat(admin, RETRIES),
        0,
        "a single replica is never retried"
    );
    // a generous bound: the complaint was 0.8 to 2.2 s per request
    assert!(
        slowest < Duration::from_millis(500),
        "slowest 503 took {slowest:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(envoy.alive());
}

/// Three replicas, one of them not running: every request is allowed (its check retried onto a
/// replica that runs), with at most two retries per request.
#[test]
fn with_one_of_three_replicas_down_checks_are_retried_onto_another() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let ((auth, calls), backend) = (auth_service(), upstream());
    config(cfg.path(), auth.port, backend.port);
    let mut replicas: Vec<(Proc, u16, u16)> = (0..2)
        .map(|i| {
            let dir = work.path().join(format!("replica-{i}"));
            std::fs::create_dir(&dir).unwrap();
            extauth_serve_trusting(cfg.path(), &dir)
        })
        .collect();
    let ports = [free_port(), replicas[0].1, replicas[1].1];
    let (mut envoy, port, admin) = start_envoy(cfg.path(), &ports, work.path());
    let requests = 30;
    let mut slowest = Duration::ZERO;
    for _ in 0..requests {
        let (status, took) = authorized(port);
        assert_eq!(status, 200, "the check reached a running replica");
        slowest = slowest.max(took);
    }
    let retries = envoy_stat(admin, RETRIES);
    println!("one of three replicas down: {requests} requests allowed, slowest {slowest:?}, {retries} check retries");
    assert!(
        retries >= 1,
        "the replica that is down was tried and the check retried"
    );
    assert!(
        retries <= 2 * requests,
        "{retries} retries for {requests} requests"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        requests as usize,
        "every request was checked once"
    );
    assert!(envoy.alive());
    for r in &mut replicas {
        assert!(r.0.alive());
    }
}
