//! The circuit breaker of a step (`circuitBreaker`, an extauth extension): it opens after
//! `consecutiveErrors` errors in a row, checks then fail at once (503, or allow with
//! `failureModeAllow`) without calling the auth service, one probe call goes out after
//! `openFor`, and its success closes it; shared by every worker; with its metrics and log lines.

use crate::harness::extauth::run;
use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const OPEN: &str = r#"extauth_passthrough_circuit_open{auth_config="gloo-system/ac"}"#;

/// `extauth_passthrough_circuit_transitions_total` of AuthConfig `ac` into state `to`.
fn transitions(ext: &Extauth, to: &str) -> Option<f64> {
    ext.metric(&format!(
        r#"extauth_passthrough_circuit_transitions_total{{auth_config="{NS}/ac",to="{to}"}}"#
    ))
}

/// `extauth_checks_total` of AuthConfig `ac` and `decision`.
fn checks(ext: &Extauth, decision: &str) -> Option<f64> {
    ext.metric(&format!(
        r#"extauth_checks_total{{auth_config="{NS}/ac",decision="{decision}"}}"#
    ))
}

/// extauth (4 workers, so that checks land on several shards) with AuthConfig `ac` calling
/// `srv` with `connectionTimeout` and `circuitBreaker` = `breaker`, failing open when `fma`.
fn start(srv: &AuthServer, timeout: &str, breaker: Value, fma: bool) -> Extauth {
    let http = json!({
        "url": srv.url("/auth"),
        "connectionTimeout": timeout,
        "circuitBreaker": breaker,
    });
    let config = single(http, json!({"failureModeAllow": fma}));
    Extauth::start_with(&[("config.yaml", &config)], &["--workers", "4"])
}

/// `n` checks at once, each on its own connection: their statuses and how long each took.
fn at_once(ext: &Extauth, n: usize) -> Vec<(u16, Duration)> {
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let started = Instant::now();
                    (ext.get("/", &[]).status, started.elapsed())
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// promtool finds nothing to say about a scrape with the circuit breaker series, and
/// docs/metrics.md describes them.
fn promtool_and_docs_agree(ext: &Extauth) {
    let (_, scrape) = ext.admin_get("/metrics");
    let (ok, report) = crate::observability::prom::promtool_check(&scrape);
    assert!(
        ok && report.trim().is_empty(),
        "promtool: {report}\n{scrape}"
    );
    let docs = include_str!("../../docs/metrics.md");
    for family in [
        "extauth_passthrough_circuit_open",
        "extauth_passthrough_circuit_transitions_total",
    ] {
        assert!(scrape.contains(&format!("# TYPE {family} ")), "{scrape}");
        assert!(
            docs.contains(&format!("`{family}`")),
            "docs/metrics.md lacks {family}"
        );
    }
}

#[test]
fn a_blackholed_auth_service_opens_it_and_checks_fail_at_once_until_it_returns() {
    let srv = AuthServer::start(Reply::hang());
    let breaker = json!({"consecutiveErrors": 3, "openFor": "3s"});
    let ext = start(&srv, "2s", breaker, false);
    assert_eq!(
        ext.metric(OPEN),
        Some(0.0),
        "exported, closed, before any check"
    );

    // three checks time out (on different workers): the third error opens the breaker
    for (status, _) in at_once(&ext, 3) {
        assert_eq!(status, 503);
    }
    let opened = Instant::now();
    assert_eq!(srv.count(), 3);
    let line = ext.expect_log(&["warn", "circuit breaker opened"]);
    assert!(
        line.contains("auth_config=gloo-system/ac") && line.contains("errors=3"),
        "{line}"
    );
    assert_eq!(ext.metric(OPEN), Some(1.0));
    assert_eq!(transitions(&ext, "open"), Some(1.0));
    promtool_and_docs_agree(&ext);

    // while open: answered at once, the auth service is not called
    let started = Instant::now();
    for _ in 0..100 {
        assert_eq!(ext.get("/", &[]).status, 503);
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "100 checks took {took:?}, connectionTimeout is 2s"
    );
    assert_eq!(srv.count(), 3, "no call while open");
    assert_eq!(checks(&ext, "error"), Some(103.0));
    ext.expect_log(&["circuit open after 3 errors in a row; next try in"]);
    // the breaker said it opened; its fast failures are logged once a second, not each
    let lines = ext
        .log_lines(&["answering 503", "circuit open after"])
        .len();
    assert!(
        (1..=3).contains(&lines),
        "{lines} lines for 100 fast failures"
    );

    // the auth service is back; after openFor the first check probes it, and succeeds
    srv.set_reply(Reply::ok());
    std::thread::sleep(
        (opened + Duration::from_millis(3200)).saturating_duration_since(Instant::now()),
    );
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(srv.count(), 4);
    let line = ext.expect_log(&["info", "circuit breaker closed"]);
    assert!(line.contains("auth_config=gloo-system/ac"), "{line}");
    assert_eq!(ext.metric(OPEN), Some(0.0));
    assert_eq!(transitions(&ext, "half_open"), Some(1.0));
    assert_eq!(transitions(&ext, "closed"), Some(1.0));
    for _ in 0..5 {
        assert_eq!(ext.get("/", &[]).status, 200);
    }
    assert_eq!(srv.count(), 9, "closed: every check calls");
}

#[test]
fn five_hundreds_in_a_row_open_it_and_a_denial_breaks_the_row() {
    let srv = AuthServer::start(Reply::status(500));
    let breaker = json!({"consecutiveErrors": 3, "openFor": "60s"});
    let ext = start(&srv, "2s", breaker, false);
    let answers = |n: usize| (0..n).map(|_| ext.get("/", &[]).status).collect::<Vec<_>>();
    assert_eq!(answers(2), [503, 503]);
    srv.set_reply(Reply::status(403));
    assert_eq!(
        answers(1),
        [401],
        "a denial is an answer: the row starts again"
    );
    srv.set_reply(Reply::status(502));
    assert_eq!(answers(2), [503, 503]);
    assert_eq!(ext.metric(OPEN), Some(0.0));
    assert_eq!(srv.count(), 5);
    assert_eq!(answers(1), [503], "the third error in a row");
    assert_eq!(ext.metric(OPEN), Some(1.0));

    srv.set_reply(Reply::ok());
    assert_eq!(
        answers(20),
        [503; 20],
        "open for 60s: the auth service is not asked"
    );
    assert_eq!(srv.count(), 6);
    ext.expect_log(&[
        "warn",
        "answering 503",
        "circuit open after 3 errors in a row",
    ]);
}

#[test]
fn checks_that_time_out_waiting_for_a_connection_do_not_open_it() {
    // a healthy but busy auth service: one connection, 200 ms an answer, 300 ms a check
    let srv = AuthServer::start(Reply::ok().delay(Duration::from_millis(200)));
    let http = json!({
        "url": srv.url("/auth"),
        "connectionTimeout": "300ms",
        "connectionPool": {"maxConns": 1},
        "circuitBreaker": {"consecutiveErrors": 2, "openFor": "10s"},
    });
    let config = single(http, json!({}));
    let ext = Extauth::start_with(&[("config.yaml", &config)], &["--workers", "1"]);

    // eight at once: at most two fit on the one connection within their 300 ms; the others
    // time out waiting for it, extauth's own limit, which says nothing of the auth service
    let answers = at_once(&ext, 8);
    let waited_out = answers.iter().filter(|(s, _)| *s == 503).count();
    let allowed = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(waited_out + allowed, 8, "{answers:?}");
    assert!(waited_out >= 6, "{answers:?}");
    assert_eq!(
        srv.count(),
        allowed,
        "every 503 was a check that never called"
    );

    assert_eq!(ext.metric(OPEN), Some(0.0), "not opened by waits");
    assert_eq!(transitions(&ext, "open"), Some(0.0));
    // the next check calls the auth service and is allowed
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(srv.count(), allowed + 1);
}

#[test]
fn with_failure_mode_allow_checks_are_allowed_while_open_and_counted_as_bypasses() {
    let srv = AuthServer::start(Reply::status(503));
    let breaker = json!({"consecutiveErrors": 2, "openFor": "60s"});
    let ext = start(&srv, "2s", breaker, true);
    for _ in 0..12 {
        assert_eq!(ext.get("/", &[]).status, 200);
    }
    assert_eq!(
        srv.count(),
        2,
        "only the two errors that opened it were calls"
    );
    let bypass = format!(
        r#"extauth_solo_io_http_passthrough_bypass_failure_total{{auth_config="{NS}/ac"}}"#
    );
    assert_eq!(ext.metric(&bypass), Some(12.0));
    assert_eq!(checks(&ext, "failure_mode_allowed"), Some(12.0));
    assert_eq!(ext.metric(OPEN), Some(1.0));
    ext.expect_log(&["allowed by failureModeAllow", "circuit open after 2 errors"]);
}

#[test]
fn after_open_for_one_probe_goes_out_and_its_failure_opens_it_again() {
    let srv = AuthServer::start(Reply::hang());
    let breaker = json!({"consecutiveErrors": 1, "openFor": "1s"});
    let ext = start(&srv, "1s", breaker, false);
    assert_eq!(ext.get("/", &[]).status, 503);
    let opened = Instant::now();
    assert_eq!(srv.count(), 1);

    // openFor is over: of 20 checks arriving together, exactly one calls (and times out)
    std::thread::sleep(
        (opened + Duration::from_millis(1100)).saturating_duration_since(Instant::now()),
    );
    let answers = at_once(&ext, 20);
    assert!(
        answers.iter().all(|(status, _)| *status == 503),
        "{answers:?}"
    );
    assert_eq!(srv.count(), 2, "one probe at a time");
    let fast = answers
        .iter()
        .filter(|(_, took)| *took < Duration::from_millis(500))
        .count();
    assert_eq!(fast, 19, "all but the probe answered at once: {answers:?}");
    let probe_failed = Instant::now();
    assert_eq!(transitions(&ext, "half_open"), Some(1.0));
    assert_eq!(
        transitions(&ext, "open"),
        Some(2.0),
        "opened again by the probe"
    );
    ext.expect_log(&["circuit open after 1 errors in a row; a probe call is out"]);

    // open again for openFor from the failed probe
    for _ in 0..5 {
        assert_eq!(ext.get("/", &[]).status, 503);
    }
    assert!(probe_failed.elapsed() < Duration::from_millis(900));
    assert_eq!(srv.count(), 2);

    srv.set_reply(Reply::ok());
    std::thread::sleep(
        (probe_failed + Duration::from_millis(1100)).saturating_duration_since(Instant::now()),
    );
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(srv.count(), 3);
    assert_eq!(transitions(&ext, "closed"), Some(1.0));
    assert_eq!(ext.metric(OPEN), Some(0.0));
}

#[test]
fn without_circuit_breaker_every_check_calls_and_no_series_is_exported() {
    let srv = AuthServer::start(Reply::status(500));
    let ext = serve_single(json!({"url": srv.url("/auth")}));
    for _ in 0..20 {
        assert_eq!(ext.get("/", &[]).status, 503);
    }
    assert_eq!(srv.count(), 20);
    let (_, scrape) = ext.admin_get("/metrics");
    assert!(!scrape.contains("extauth_passthrough_circuit"), "{scrape}");
}

#[test]
fn bad_circuit_breaker_settings_name_file_document_and_field() {
    let cases = [
        (
            json!({"consecutiveErrors": 0, "openFor": "10s"}),
            "circuitBreaker.consecutiveErrors",
            "at least 1",
        ),
        (
            json!({"consecutiveErrors": 5, "openFor": "0s"}),
            "circuitBreaker.openFor",
            "greater than 0",
        ),
        (
            json!({"consecutiveErrors": 5, "openFor": "10s", "halfOpen": 1}),
            "circuitBreaker",
            "halfOpen",
        ),
        (json!({"consecutiveErrors": 5}), "circuitBreaker", "openFor"),
    ];
    for (breaker, field, reason) in cases {
        let http = json!({"url": "http://127.0.0.1:1/auth", "circuitBreaker": breaker});
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("ac.yaml"), single(http, json!({}))).unwrap();
        let out = run(&["validate", dir.path().to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{breaker}: {err}");
        let path = format!("spec.configs[0].passThroughAuth.http.{field}");
        let needles = ["ac.yaml", "document 1", path.as_str(), reason];
        assert!(
            err.lines().any(|l| needles.iter().all(|n| l.contains(n))),
            "{breaker}: no line with {needles:?}:\n{err}"
        );
    }
}

#[test]
fn configz_shows_the_settings() {
    let srv = AuthServer::start(Reply::ok());
    let ext = start(
        &srv,
        "2s",
        json!({"consecutiveErrors": 5, "openFor": "10s"}),
        false,
    );
    let ac = ext.configz_auth_config();
    let breaker = &ac["spec"]["configs"][0]["passThroughAuth"]["http"]["circuitBreaker"];
    assert_eq!(breaker["consecutiveErrors"], 5, "{ac}");
    assert_eq!(breaker["openFor"], "10s", "{ac}");
}
