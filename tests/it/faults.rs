//! The fault matrix: every way the auth service can misbehave, with `failureModeAllow` off and
//! on. Every check gets the right answer within `connectionTimeout` + 100 ms, nothing hangs,
//! and after 10,000 failed calls the pool still serves the next good call at once (awc has
//! leaked pool slots after errors before: actix-web #2249, #3152, #3574).
//!
//! `response.rs` pins the plain cases (each 5xx, a timeout, a refusal, three malformed answers);
//! here every fault runs against both failure modes, is timed per check, and is followed by a
//! good call on the same pool.

use crate::harness::load::{self, Until};
use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `connectionTimeout` of the AuthConfigs under test.
const BUDGET: Duration = Duration::from_millis(400);
/// What the issue allows on top of the budget.
const SLACK: Duration = Duration::from_millis(100);

/// What a check must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// The auth service's own allow: 200 carrying its `x-user`.
    Allow,
    /// A denial: 401.
    Deny,
    /// The auth service gave no usable answer: 503, or 200 without `x-user` when
    /// `failureModeAllow` is on.
    Error,
}

/// A 200 a genuine allow is told apart by: `x-user` is in `allowedUpstreamHeaders`.
fn good() -> Reply {
    Reply::ok().header("x-user", "alice")
}

/// Whether `a` is what `want` means under failure mode `fma`.
fn is_right(a: &Answer, want: Want, fma: bool) -> bool {
    let user = a.all("x-user");
    match want {
        Want::Allow => a.status == 200 && user == ["alice"],
        Want::Deny => a.status == 401 && user.is_empty(),
        Want::Error if fma => a.status == 200 && user.is_empty(),
        Want::Error => a.status == 503 && user.is_empty(),
    }
}

/// One fault: a name (its route is `/{name}`), the auth service's behaviour, what every check
/// must get, and whether each check is expected to use up the whole budget.
struct Fault {
    name: &'static str,
    reply: Reply,
    want: Want,
    waits_for_budget: bool,
}

fn fault(name: &'static str, reply: Reply, want: Want) -> Fault {
    Fault {
        name,
        reply,
        want,
        waits_for_budget: false,
    }
}

/// 100 KB of headers as 50 headers of 2 KB (within what an HTTP/1.1 client reads).
fn big_headers(reply: Reply) -> Reply {
    (0..50).fold(reply, |r, i| {
        r.header(&format!("x-big-{i}"), &"b".repeat(2000))
    })
}

/// 100 KB of headers as 2,000 small ones (more than any HTTP/1.1 client parses).
fn many_headers(reply: Reply) -> Reply {
    (0..2000).fold(reply, |r, i| {
        r.header(
            &format!("x-h{i}"),
            "0123456789abcdefghijklmnopqrstuvwxyz0123456789",
        )
    })
}

fn faults() -> Vec<Fault> {
    let mb = vec![b'x'; 1024 * 1024];
    let mut slow_late = fault(
        "slow-after-budget",
        good().delay(BUDGET + Duration::from_millis(300)),
        Want::Error,
    );
    slow_late.waits_for_budget = true;
    let mut blackhole = fault("blackhole", Reply::hang(), Want::Error);
    blackhole.waits_for_budget = true;
    vec![
        blackhole,
        slow_late,
        fault(
            "slow-within-budget",
            good().delay(BUDGET - Duration::from_millis(150)),
            Want::Allow,
        ),
        fault("status-500", good().status_code(500), Want::Error),
        fault("status-502", good().status_code(502), Want::Error),
        fault("status-503", good().status_code(503), Want::Error),
        fault("status-504", good().status_code(504), Want::Error),
        fault("reset-before-answer", Reply::reset_after(b""), Want::Error),
        fault(
            "reset-in-status-line",
            Reply::reset_after(b"HTTP/1.1 20"),
            Want::Error,
        ),
        fault(
            "reset-in-headers",
            Reply::reset_after(b"HTTP/1.1 200 OK\r\nx-user: alice\r\ncontent-len"),
            Want::Error,
        ),
        fault(
            "reset-in-body",
            Reply::reset_after(
                b"HTTP/1.1 200 OK\r\nx-user: alice\r\ncontent-length: 100\r\n\r\nabc",
            ),
            Want::Error,
        ),
        fault(
            "closed-in-body",
            Reply::raw(b"HTTP/1.1 200 OK\r\nx-user: alice\r\ncontent-length: 100\r\n\r\nabc"),
            Want::Error,
        ),
        fault("closed-without-answer", Reply::raw(b""), Want::Error),
        fault(
            "status-line-garbage",
            Reply::raw(b"ICY 200 OK\r\n\r\n"),
            Want::Error,
        ),
        fault(
            "status-line-no-code",
            Reply::raw(b"HTTP/1.1 OK\r\ncontent-length: 0\r\n\r\n"),
            Want::Error,
        ),
        fault(
            "status-line-letters",
            Reply::raw(b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n"),
            Want::Error,
        ),
        fault(
            "status-line-four-digits",
            Reply::raw(b"HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n"),
            Want::Error,
        ),
        fault(
            "status-line-bad-version",
            Reply::raw(b"HTTP/7.1 200 OK\r\nx-user: alice\r\ncontent-length: 0\r\n\r\n"),
            Want::Error,
        ),
        fault(
            "header-line-without-colon",
            Reply::raw(b"HTTP/1.1 200 OK\r\nx-user alice\r\ncontent-length: 0\r\n\r\n"),
            Want::Error,
        ),
        fault("body-1mb-allow", good().body(mb.clone()), Want::Allow),
        fault(
            "body-1mb-deny",
            Reply::status(401).body(mb.clone()),
            Want::Deny,
        ),
        fault(
            "body-1mb-503",
            good().status_code(503).body(mb),
            Want::Error,
        ),
        fault("headers-100kb-large", big_headers(good()), Want::Allow),
        fault("headers-100kb-many", many_headers(good()), Want::Error),
        fault(
            "headers-100kb-large-503",
            big_headers(good().status_code(503)),
            Want::Error,
        ),
    ]
}

/// A running extauth with one AuthConfig (and route `/{name}`) per fault, each calling its own
/// auth server, plus `/healthy` calling a well-behaved one.
struct Matrix {
    faults: Vec<(Fault, AuthServer)>,
    healthy: AuthServer,
    refused_port: u16,
    ext: Extauth,
}

fn auth_config_for(name: &str, url: &str, fma: bool) -> Value {
    let mut s = step(
        "",
        json!({
            "url": url,
            "connectionTimeout": format!("{}ms", BUDGET.as_millis()),
            "response": {"allowedUpstreamHeaders": ["x-user"]},
        }),
    );
    s["passThroughAuth"]["failureModeAllow"] = json!(fma);
    auth_config(name, json!({"configs": [s]}))
}

impl Matrix {
    fn start(fma: bool) -> Self {
        let faults: Vec<(Fault, AuthServer)> = faults()
            .into_iter()
            .map(|f| {
                let srv = AuthServer::start(f.reply.clone());
                (f, srv)
            })
            .collect();
        let healthy = AuthServer::start(good());
        let refused_port = free_port();
        let mut docs = Vec::new();
        let mut routes = Vec::new();
        let mut add = |name: &str, url: String| {
            docs.push(auth_config_for(name, &url, fma));
            routes.push(route(
                json!([{"exact": format!("/{name}")}]),
                Some(cref(name)),
            ));
        };
        for (f, srv) in &faults {
            add(f.name, srv.url("/auth"));
        }
        add("healthy", healthy.url("/auth"));
        add("refused", format!("http://127.0.0.1:{refused_port}/auth"));
        docs.push(virtual_service("vs", &["*"], Value::Array(routes), None));
        let ext = Extauth::start(&[("faults.yaml", &yaml(&docs))]);
        Matrix {
            faults,
            healthy,
            refused_port,
            ext,
        }
    }
}

/// Sends `n` checks to `path` on one keep-alive connection; asserts each is `want` and within
/// the budget plus slack (and, if `waits`, not much before the budget). Returns the slowest.
fn expect_checks(
    ext: &Extauth,
    path: &str,
    n: usize,
    want: Want,
    fma: bool,
    waits: bool,
) -> Duration {
    let mut client = ext.client();
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let raw = check_request("GET", HOST, path, &[], b"");
        let sent = Instant::now();
        let msg = client
            .send(&raw)
            .unwrap_or_else(|e| panic!("{path} check {i}: no answer: {e}; logs:\n{}", ext.logs()));
        let took = sent.elapsed();
        let a = Answer::from_message(msg);
        assert!(
            is_right(&a, want, fma),
            "{path} check {i} (failureModeAllow={fma}): want {want:?}, got {a:?}; logs:\n{}",
            ext.logs()
        );
        assert!(
            took <= BUDGET + SLACK,
            "{path} check {i}: answered in {took:?}, over connectionTimeout {BUDGET:?} + {SLACK:?}"
        );
        if waits {
            assert!(
                took >= BUDGET - Duration::from_millis(20),
                "{path} check {i}: answered in {took:?}, before the budget ran out"
            );
        }
        slowest = slowest.max(took);
    }
    slowest
}

fn run_matrix(fma: bool) {
    let m = Matrix::start(fma);
    let mut report = Vec::new();
    for (f, srv) in &m.faults {
        let path = format!("/{}", f.name);
        let slowest = expect_checks(&m.ext, &path, 3, f.want, fma, f.waits_for_budget);
        assert!(srv.count() >= 3, "{}: the auth service was called", f.name);
        report.push(format!("{}: slowest {slowest:?}", f.name));
        // The same AuthConfig's pool serves a good answer right after the faults.
        srv.set_reply(good());
        expect_checks(&m.ext, &path, 2, Want::Allow, fma, false);
        // Other AuthConfigs are not affected.
        expect_checks(&m.ext, "/healthy", 1, Want::Allow, fma, false);
    }
    let slowest = expect_checks(&m.ext, "/refused", 3, Want::Error, fma, false);
    report.push(format!("refused: slowest {slowest:?}"));
    let srv = AuthServer::start_on(m.refused_port, good());
    expect_checks(&m.ext, "/refused", 2, Want::Allow, fma, false);
    assert_eq!(srv.count(), 2);
    assert!(m.healthy.count() >= m.faults.len());
    println!("failureModeAllow={fma}:\n  {}", report.join("\n  "));
}

#[test]
fn fault_matrix_without_failure_mode_allow() {
    run_matrix(false);
}

#[test]
fn fault_matrix_with_failure_mode_allow() {
    run_matrix(true);
}

#[test]
fn keep_alive_connections_closed_by_the_auth_service_between_requests_are_not_errors() {
    for fma in [false, true] {
        // Each auth service answers the first request of a connection; on a reused connection
        // it closes (or resets) as the request arrives: its keep-alive ran out at that moment.
        let closing = AuthServer::with(|r| {
            if r.nth_on_connection == 0 {
                good()
            } else {
                Reply::raw(b"")
            }
        });
        let resetting = AuthServer::with(|r| {
            if r.nth_on_connection == 0 {
                good()
            } else {
                Reply::reset_after(b"")
            }
        });
        // And one closes each connection right after answering.
        let at_once = AuthServer::start(good().then_close());
        let docs = vec![
            auth_config_for("closing", &closing.url("/auth"), fma),
            auth_config_for("resetting", &resetting.url("/auth"), fma),
            auth_config_for("at-once", &at_once.url("/auth"), fma),
            virtual_service(
                "vs",
                &["*"],
                json!([
                    route(json!([{"prefix": "/closing"}]), Some(cref("closing"))),
                    route(json!([{"prefix": "/resetting"}]), Some(cref("resetting"))),
                    route(json!([{"prefix": "/at-once"}]), Some(cref("at-once"))),
                ]),
                None,
            ),
        ];
        let ext = Extauth::start(&[("c.yaml", &yaml(&docs))]);
        let n = 20;
        for i in 0..n {
            for path in ["/closing", "/resetting", "/at-once"] {
                expect_checks(&ext, path, 1, Want::Allow, fma, false);
            }
            if i % 5 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        for srv in [&closing, &resetting, &at_once] {
            assert!(srv.connections() >= n, "one connection per answer at least");
        }
        assert!(
            closing.count() > n && resetting.count() > n,
            "pooled connections were tried first"
        );
    }
}

/// The answer of call `n` in the mixed failure run: mostly 503, and every other way an
/// exchange can fail, including a timeout now and then.
fn mixed_failure(n: usize) -> Reply {
    if n % 500 == 250 {
        return Reply::hang();
    }
    match n % 10 {
        0..=3 => Reply::status(503),
        4 => Reply::status(503).then_close(),
        5 => Reply::raw(b"HTTP/1.1 2x0 OK\r\n\r\n"),
        6 => Reply::reset_after(b""),
        7 => Reply::reset_after(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab"),
        8 => Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"),
        _ => Reply::status(500).body(vec![b'e'; 100 * 1024]),
    }
}

/// Sends `total` checks from 8 clients to `ext` (route `/`), all of which must fail (503)
/// within the budget; returns the slowest.
fn fail_many(ext: &Extauth, total: usize, budget: Duration) -> Duration {
    let clients = 8;
    let started = Instant::now();
    let samples = load::run(
        &ext.check_addr,
        clients,
        Until::Count(total / clients),
        |_, _| check_request("GET", HOST, "/", &[], b""),
    );
    assert_eq!(samples.len(), total);
    let mut wrong = Vec::new();
    let mut late = 0;
    for s in &samples {
        match &s.answer {
            Ok(a) if a.status == 503 => {}
            other => wrong.push(format!("{other:?}")),
        }
        if s.took > budget + SLACK {
            late += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {total} failed calls were not answered 503, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(3)]
    );
    let slowest = load::slowest(&samples);
    assert_eq!(
        late, 0,
        "{late} checks over the budget {budget:?} + {SLACK:?} (slowest {slowest:?})"
    );
    println!(
        "{total} failed calls in {:?}, slowest {slowest:?}",
        started.elapsed()
    );
    slowest
}

/// The good call after the failures: allowed, and at once (no wait for a connection slot).
fn assert_next_good_call_is_immediate(ext: &Extauth, what: &str) {
    let mut client = ext.client();
    for i in 0..5 {
        let sent = Instant::now();
        let a = Answer::from_message(
            client
                .send(&check_request("GET", HOST, "/", &[], b""))
                .expect("answer"),
        );
        let took = sent.elapsed();
        assert!(
            is_right(&a, Want::Allow, false),
            "{what}: good call {i}: {a:?}"
        );
        assert!(
            took < Duration::from_millis(100),
            "{what}: good call {i} took {took:?}: a connection slot leaked?"
        );
    }
    // Nothing is left in use or waiting once the calls are done.
    let in_use = wait_for(
        || ext.metric("extauth_passthrough_connections_in_use") == Some(0.0),
        Duration::from_secs(1),
    );
    assert!(in_use.is_some(), "{what}: connections still in use");
    assert_eq!(
        ext.metric("extauth_passthrough_checks_waiting_for_connection"),
        Some(0.0),
        "{what}"
    );
}

#[test]
fn after_10000_failed_calls_the_next_good_call_succeeds_at_once() {
    let budget = Duration::from_millis(300);
    let max_conns = 4;
    let n = std::sync::atomic::AtomicUsize::new(0);
    let srv = AuthServer::with(move |_| {
        mixed_failure(n.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    });
    let ext = Extauth::start(&[(
        "c.yaml",
        &single(
            json!({
                "url": srv.url("/auth"),
                "connectionTimeout": "300ms",
                "connectionPool": {"maxConns": max_conns},
                "response": {"allowedUpstreamHeaders": ["x-user"]},
            }),
            json!({}),
        ),
    )]);
    fail_many(&ext, 10_000 * soak() as usize, budget);
    assert!(
        srv.peak_open() <= max_conns,
        "{} connections open at once, maxConns is {max_conns}",
        srv.peak_open()
    );
    srv.set_reply(good());
    assert_next_good_call_is_immediate(&ext, "after mixed failures");
    println!(
        "auth service: {} calls on {} connections, at most {} open at once",
        srv.count(),
        srv.connections(),
        srv.peak_open()
    );
}

#[test]
fn after_10000_refused_calls_the_next_good_call_succeeds_at_once() {
    let port = free_port();
    let ext = Extauth::start(&[(
        "c.yaml",
        &single(
            json!({
                "url": format!("http://127.0.0.1:{port}/auth"),
                "connectionTimeout": "300ms",
                "connectionPool": {"maxConns": 4},
                "response": {"allowedUpstreamHeaders": ["x-user"]},
            }),
            json!({}),
        ),
    )]);
    fail_many(&ext, 10_000 * soak() as usize, Duration::from_millis(300));
    let _srv = AuthServer::start_on(port, good());
    assert_next_good_call_is_immediate(&ext, "after refusals");
}
