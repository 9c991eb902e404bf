//! Coalescing of identical checks in flight, and stale-if-error.

use super::*;
use std::time::Instant;

/// Sends `n` identical checks at once (one connection each); their answers and how long the
/// slowest took.
fn at_once(ext: &Extauth, n: usize, token: &str) -> (Vec<Answer>, Duration) {
    let barrier = std::sync::Barrier::new(n);
    let started = Instant::now();
    let answers = std::thread::scope(|s| {
        let threads: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    check(ext, token)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    (answers, started.elapsed())
}

#[test]
fn fifty_concurrent_checks_against_a_slow_auth_service_make_one_call() {
    let srv = AuthServer::start(allow("alice").delay(Duration::from_millis(300)));
    let ext = serve(http(&srv, json!({"maxAge": "60s"})));
    let (answers, took) = at_once(&ext, 50, "Bearer alice");
    assert_eq!(srv.count(), 1, "one call for all 50");
    for a in &answers {
        assert_eq!(a.status, 200);
        assert_eq!(passed_on(a), passed_on(&answers[0]));
    }
    assert!(
        took < Duration::from_secs(3),
        "well under connectionTimeout (5s): {took:?}"
    );
    let (miss, coalesced, hit) = (
        lookups(&ext, "ac", "miss"),
        lookups(&ext, "ac", "coalesced"),
        lookups(&ext, "ac", "hit"),
    );
    assert_eq!(miss, 1.0);
    assert_eq!(coalesced + hit, 49.0);
    assert!(
        coalesced >= 1.0,
        "at least one waited for the call in flight"
    );
}

#[test]
fn an_error_is_shared_by_the_waiters_but_not_cached() {
    let srv = AuthServer::start(Reply::status(503).delay(Duration::from_millis(300)));
    let ext = serve(http(&srv, json!({"maxAge": "60s", "denyMaxAge": "60s"})));
    let (answers, _) = at_once(&ext, 20, "Bearer alice");
    assert!(answers.iter().all(|a| a.status == 503));
    assert_eq!(srv.count(), 1, "the waiters share the failed call");
    srv.set_reply(allow("alice"));
    assert_eq!(check(&ext, "Bearer alice").status, 200, "not cached");
    assert_eq!(srv.count(), 2);
}

#[test]
fn different_tokens_in_flight_are_not_coalesced() {
    let srv = by_token();
    let ext = serve(http(&srv, json!({"maxAge": "60s", "denyMaxAge": "60s"})));
    let answers = std::thread::scope(|s| {
        let threads: Vec<_> = ["Bearer alice", "Bearer mallory", "Bearer carol"]
            .into_iter()
            .map(|t| s.spawn(|| check(&ext, t)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap().status)
            .collect::<Vec<_>>()
    });
    assert_eq!(answers, [200, 401, 200]);
    assert_eq!(srv.count(), 3);
}

#[test]
fn an_expired_entry_answers_while_the_auth_service_errs_within_the_window_only() {
    let srv = AuthServer::start(allow("alice"));
    let ext = serve(http(&srv, json!({"maxAge": "1s", "staleIfError": "3s"})));
    let fresh = check(&ext, "Bearer alice");
    let start = Instant::now();
    assert_eq!(fresh.status, 200);
    srv.set_reply(Reply::status(503));

    // expired 0.3 s ago, within staleIfError: the auth service is asked, errs, and the
    // entry answers
    std::thread::sleep(Duration::from_millis(1300));
    let stale = check(&ext, "Bearer alice");
    assert_eq!(stale.status, 200);
    assert_eq!(passed_on(&stale), passed_on(&fresh));
    assert_eq!(srv.count(), 2, "it was asked first");
    assert_eq!(lookups(&ext, "ac", "stale"), 1.0);
    assert!(
        start.elapsed() < Duration::from_millis(3500),
        "too slow to tell"
    );

    // expired longer ago than staleIfError: the error stands
    std::thread::sleep(Duration::from_millis(4300).saturating_sub(start.elapsed()));
    assert_eq!(check(&ext, "Bearer alice").status, 503);
    assert_eq!(lookups(&ext, "ac", "stale"), 1.0);

    // a denial is an answer, not an error: no stale allow over it
    srv.set_reply(allow("alice"));
    assert_eq!(check(&ext, "Bearer alice").status, 200);
    std::thread::sleep(Duration::from_millis(1200));
    srv.set_reply(Reply::status(403));
    assert_eq!(check(&ext, "Bearer alice").status, 401);
}

#[test]
fn without_stale_if_error_an_expired_entry_never_answers() {
    let srv = AuthServer::start(allow("alice"));
    let ext = serve(http(&srv, json!({"maxAge": "1s"})));
    assert_eq!(check(&ext, "Bearer alice").status, 200);
    srv.set_reply(Reply::status(503));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(check(&ext, "Bearer alice").status, 503);
}
