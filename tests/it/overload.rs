//! Overload: 10× the concurrency that `maxConns` connections can serve. Never more than
//! `maxConns` connections are open to the auth service (counted on its side); a check waiting
//! for a connection waits at most what is left of its budget, then fails as the failure mode
//! says; memory stays bounded; and once the load stops, extauth serves at full speed again.

use crate::harness::load::{self, Sample, Until};
use crate::harness::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MAX_CONNS: usize = 4;
/// How long the auth service takes per call: each connection serves 10 calls a second.
const SERVICE_TIME: Duration = Duration::from_millis(100);
const BUDGET: Duration = Duration::from_millis(500);
const SLACK: Duration = Duration::from_millis(100);
/// Concurrent checks: 10× what `MAX_CONNS` connections serve at once.
const CLIENTS: usize = 10 * MAX_CONNS;

struct Setup {
    strict: AuthServer,
    lenient: AuthServer,
    ext: Extauth,
}

fn start() -> Setup {
    let strict = AuthServer::start(Reply::ok().header("x-user", "alice").delay(SERVICE_TIME));
    let lenient = AuthServer::start(Reply::ok().header("x-user", "alice").delay(SERVICE_TIME));
    let ac = |name: &str, srv: &AuthServer, fma: bool| {
        let mut s = step(
            "",
            json!({
                "url": srv.url("/auth"),
                "connectionTimeout": format!("{}ms", BUDGET.as_millis()),
                "connectionPool": {"maxConns": MAX_CONNS},
                "response": {"allowedUpstreamHeaders": ["x-user"]},
            }),
        );
        s["passThroughAuth"]["failureModeAllow"] = json!(fma);
        auth_config(name, json!({"configs": [s]}))
    };
    let docs = [
        ac("strict", &strict, false),
        ac("lenient", &lenient, true),
        virtual_service(
            "vs",
            &["*"],
            json!([
                route(json!([{"prefix": "/strict"}]), Some(cref("strict"))),
                route(json!([{"prefix": "/lenient"}]), Some(cref("lenient"))),
            ]),
            None,
        ),
    ];
    let ext = Extauth::start(&[("c.yaml", &yaml(&docs))]);
    Setup {
        strict,
        lenient,
        ext,
    }
}

/// What one overload round showed.
struct Round {
    allowed: usize,
    failed: usize,
    slowest: Duration,
    peak_rss_kib: u64,
    peak_open_sampled: usize,
}

/// Runs `CLIENTS` clients against `path` for `duration`, sampling extauth's memory and the
/// auth service's open connections meanwhile; checks every answer and its latency.
fn round(s: &Setup, srv: &AuthServer, path: &str, fma: bool, duration: Duration) -> Round {
    let stop = AtomicBool::new(false);
    let peak_rss = AtomicUsize::new(0);
    let peak_open = AtomicUsize::new(0);
    let samples: Vec<Sample> = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                peak_rss.fetch_max(s.ext.rss_kib() as usize, Ordering::SeqCst);
                peak_open.fetch_max(srv.open_connections(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let samples = load::run(
            &s.ext.check_addr,
            CLIENTS,
            Until::Elapsed(duration),
            |_, _| check_request("GET", HOST, path, &[], b""),
        );
        stop.store(true, Ordering::SeqCst);
        samples
    });
    let (mut allowed, mut failed) = (0, 0);
    for sample in &samples {
        let a = sample
            .answer
            .as_ref()
            .unwrap_or_else(|e| panic!("{path}: a check got no answer: {e}"));
        let genuine = a.status == 200 && a.all("x-user") == ["alice"];
        let failure = a.all("x-user").is_empty() && a.status == if fma { 200 } else { 503 };
        assert!(
            genuine || failure,
            "{path} (failureModeAllow={fma}): wrong answer {a:?}"
        );
        if genuine {
            allowed += 1;
        } else {
            failed += 1;
        }
        assert!(
            sample.took <= BUDGET + SLACK,
            "{path}: a check took {:?}, over connectionTimeout {BUDGET:?} + {SLACK:?}",
            sample.took
        );
    }
    Round {
        allowed,
        failed,
        slowest: load::slowest(&samples),
        peak_rss_kib: peak_rss.load(Ordering::SeqCst) as u64,
        peak_open_sampled: peak_open.load(Ordering::SeqCst),
    }
}

/// Waits until nothing is in use or waiting, then asserts checks are served at once again.
fn assert_recovered(s: &Setup, srv: &AuthServer, path: &str) {
    let idle = wait_for(
        || {
            s.ext.metric("extauth_passthrough_connections_in_use") == Some(0.0)
                && s.ext
                    .metric("extauth_passthrough_checks_waiting_for_connection")
                    == Some(0.0)
        },
        Duration::from_secs(2),
    );
    assert!(
        idle.is_some(),
        "{path}: connections still in use after the load"
    );
    srv.set_reply(Reply::ok().header("x-user", "alice"));
    let mut client = s.ext.client();
    for i in 0..50 {
        let sent = Instant::now();
        let a = Answer::from_message(
            client
                .send(&check_request("GET", HOST, path, &[], b""))
                .expect("answer"),
        );
        let took = sent.elapsed();
        assert!(
            a.status == 200 && a.all("x-user") == ["alice"],
            "{path}: check {i} after the load: {a:?}"
        );
        assert!(
            took < Duration::from_millis(50),
            "{path}: check {i} after the load took {took:?}"
        );
    }
    srv.set_reply(Reply::ok().header("x-user", "alice").delay(SERVICE_TIME));
}

#[test]
fn ten_times_what_max_conns_serves() {
    let s = start();
    let duration = Duration::from_secs(2) * soak();
    // What a check costs when nothing waits.
    let warm = load::run(&s.ext.check_addr, 2, Until::Count(20), |_, _| {
        check_request("GET", HOST, "/strict", &[], b"")
    });
    assert!(warm
        .iter()
        .all(|w| w.answer.as_ref().is_ok_and(|a| a.status == 200)));
    let baseline_kib = s.ext.rss_kib();

    let mut rss_after = Vec::new();
    for (srv, path, fma) in [
        (&s.strict, "/strict", false),
        (&s.lenient, "/lenient", true),
        (&s.strict, "/strict", false),
    ] {
        let before = srv.connections();
        let r = round(&s, srv, path, fma, duration);
        let capacity = (MAX_CONNS as f64 / SERVICE_TIME.as_secs_f64()) * duration.as_secs_f64();
        println!(
            "{path} (failureModeAllow={fma}), {CLIENTS} clients for {duration:?}: {} allowed \
             ({:.0}% of capacity {capacity:.0}), {} failed, slowest {:?}; auth service: {} new \
             connections, at most {} open at once ({} sampled); extauth RSS {} KiB at peak \
             (baseline {baseline_kib} KiB)",
            r.allowed,
            100.0 * r.allowed as f64 / capacity,
            r.failed,
            r.slowest,
            srv.connections() - before,
            srv.peak_open(),
            r.peak_open_sampled,
            r.peak_rss_kib,
        );
        assert!(
            srv.peak_open() <= MAX_CONNS,
            "{path}: {} connections open at once at the auth service, maxConns is {MAX_CONNS}",
            srv.peak_open()
        );
        assert!(r.failed > 0, "{path}: the load did not overload");
        assert!(
            r.allowed as f64 >= 0.25 * capacity,
            "{path}: only {} allowed; {MAX_CONNS} connections serve {capacity:.0} in {duration:?}",
            r.allowed
        );
        assert!(
            r.peak_rss_kib < baseline_kib + 64 * 1024,
            "{path}: extauth grew from {baseline_kib} KiB to {} KiB under load",
            r.peak_rss_kib
        );
        assert_recovered(&s, srv, path);
        rss_after.push(s.ext.rss_kib());
    }
    // A third round of the same load leaves memory where the first left it: nothing piles up.
    assert!(
        rss_after[2] <= rss_after[0] + 8 * 1024,
        "extauth memory after each round (KiB): {rss_after:?}"
    );
}
