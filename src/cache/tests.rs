//! The cache's flow with a scripted call: hits, misses, failures, stale answers, coalescing,
//! purges.

use std::cell::Cell;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};

use super::*;
use crate::config::types::ObjectKey;
use crate::metrics::Metrics;

/// A step outcome reduced to what the cache cares about.
#[derive(Clone, Debug, PartialEq)]
enum Out {
    Allow(&'static str),
    Deny,
    Failed,
    Late,
}

impl Cacheable for Out {
    fn verdict(&self) -> Verdict {
        match self {
            Out::Allow(_) => Verdict::Allow,
            Out::Deny => Verdict::Deny,
            Out::Failed | Out::Late => Verdict::Failed,
        }
    }
    fn timed_out(_: Duration) -> Self {
        Out::Late
    }
}

const MS: Duration = Duration::from_millis(1);

fn cache(stale_if_error: Duration) -> StepCache<Out> {
    let settings = CacheSettings {
        max_age: Duration::from_secs(60),
        deny_max_age: Duration::ZERO,
        stale_if_error,
        max_entries: 100,
    };
    let metrics = Metrics::new()
        .unwrap()
        .auth_config(&ObjectKey::new("ns", "ac"));
    StepCache::new(
        settings,
        KeyPrefix::new("h", 0, "POST", "http://a/"),
        "s",
        metrics,
    )
}

fn token(t: &'static str) -> Vec<(HeaderName, HeaderValue)> {
    vec![(AUTHORIZATION, HeaderValue::from_static(t))]
}

/// Asks `cache` for `t`'s answer; a call, if made, counts in `calls` and gives `out` fresh for
/// `fresh_for`.
async fn ask(
    cache: &StepCache<Out>,
    t: &'static str,
    calls: &Cell<usize>,
    out: Out,
    fresh_for: Option<Duration>,
) -> Out {
    cache
        .answer(
            cache.key(&token(t), b""),
            Duration::from_secs(1),
            || async {
                calls.set(calls.get() + 1);
                (out, fresh_for)
            },
        )
        .await
}

#[actix_rt::test]
async fn a_stored_answer_answers_the_same_request_only() {
    let c = cache(Duration::ZERO);
    let calls = Cell::new(0);
    let long = Some(Duration::from_secs(60));
    assert_eq!(
        ask(&c, "alice", &calls, Out::Allow("a"), long).await,
        Out::Allow("a")
    );
    assert_eq!(
        ask(&c, "alice", &calls, Out::Deny, long).await,
        Out::Allow("a")
    );
    assert_eq!(calls.get(), 1, "the second ask is a hit");
    assert_eq!(ask(&c, "bob", &calls, Out::Deny, long).await, Out::Deny);
    assert_eq!(calls.get(), 2, "another token is another request");
    let counts = c.inner.metrics.cache.lookup_counts();
    assert_eq!(counts, [1, 2, 0, 0], "hit, miss, coalesced, stale");
}

#[actix_rt::test]
async fn what_may_not_be_stored_is_asked_again() {
    let c = cache(Duration::ZERO);
    let calls = Cell::new(0);
    ask(&c, "a", &calls, Out::Failed, None).await;
    ask(&c, "a", &calls, Out::Allow("x"), None).await;
    ask(
        &c,
        "a",
        &calls,
        Out::Allow("x"),
        Some(Duration::from_secs(60)),
    )
    .await;
    ask(&c, "a", &calls, Out::Deny, None).await;
    assert_eq!(calls.get(), 3);
}

#[actix_rt::test]
async fn an_expired_entry_answers_only_when_the_call_fails_within_the_window() {
    let c = cache(Duration::from_secs(1));
    let calls = Cell::new(0);
    ask(&c, "a", &calls, Out::Allow("old"), Some(20 * MS)).await;
    actix_rt::time::sleep(40 * MS).await;
    let got = ask(&c, "a", &calls, Out::Failed, None).await;
    assert_eq!(got, Out::Allow("old"), "stale while the auth service errs");
    let got = ask(&c, "a", &calls, Out::Allow("new"), Some(20 * MS)).await;
    assert_eq!(got, Out::Allow("new"), "a good answer replaces it");
    assert_eq!(calls.get(), 3);
    actix_rt::time::sleep(1100 * MS).await;
    let got = ask(&c, "a", &calls, Out::Failed, None).await;
    assert_eq!(got, Out::Failed, "past the window the error stands");
    assert_eq!(c.inner.metrics.cache.lookup_counts(), [0, 3, 0, 1]);

    let strict = cache(Duration::ZERO);
    ask(&strict, "a", &calls, Out::Allow("old"), Some(20 * MS)).await;
    actix_rt::time::sleep(40 * MS).await;
    assert_eq!(
        ask(&strict, "a", &calls, Out::Failed, None).await,
        Out::Failed
    );
}

#[actix_rt::test]
async fn identical_misses_share_one_call_and_its_outcome() {
    let c = cache(Duration::ZERO);
    let calls = Cell::new(0);
    let slow = |out: Out| {
        let calls = &calls;
        let c = &c;
        async move {
            c.answer(
                c.key(&token("a"), b""),
                Duration::from_secs(1),
                || async move {
                    calls.set(calls.get() + 1);
                    actix_rt::time::sleep(50 * MS).await;
                    (out, None)
                },
            )
            .await
        }
    };
    let (a, b, d) =
        futures_util::future::join3(slow(Out::Failed), slow(Out::Allow("x")), slow(Out::Deny))
            .await;
    assert_eq!(calls.get(), 1);
    assert_eq!(
        [a, b, d],
        [Out::Failed, Out::Failed, Out::Failed],
        "an error is shared"
    );
    assert_eq!(c.inner.metrics.cache.lookup_counts(), [0, 1, 2, 0]);
    assert_eq!(c.inner.flights.in_flight(), 0);
    ask(&c, "a", &calls, Out::Allow("y"), None).await;
    assert_eq!(calls.get(), 2, "and not stored");
}

#[actix_rt::test]
async fn a_waiter_keeps_its_own_budget() {
    let c = cache(Duration::ZERO);
    let leader = c.answer(c.key(&token("a"), b""), Duration::from_secs(5), || async {
        actix_rt::time::sleep(300 * MS).await;
        (Out::Allow("late"), None)
    });
    let waiter = c.answer(c.key(&token("a"), b""), 50 * MS, || async {
        unreachable!("the waiter does not call")
    });
    let (l, w) = futures_util::future::join(leader, waiter).await;
    assert_eq!((l, w), (Out::Allow("late"), Out::Late));
}

#[actix_rt::test]
async fn a_purge_empties_the_cache_and_counts_what_it_removed() {
    let c = cache(Duration::ZERO);
    let calls = Cell::new(0);
    let long = Some(Duration::from_secs(60));
    ask(&c, "a", &calls, Out::Allow("x"), long).await;
    ask(&c, "b", &calls, Out::Allow("x"), long).await;
    assert_eq!(c.inner.entries(), 2);
    assert_eq!(c.purge(), 2);
    assert_eq!(c.inner.entries(), 0);
    assert_eq!(ask(&c, "a", &calls, Out::Deny, None).await, Out::Deny);
    assert_eq!(calls.get(), 3);
}

#[actix_rt::test]
async fn an_answer_to_a_call_made_before_a_purge_is_not_stored() {
    let c = cache(Duration::ZERO);
    let calls = Cell::new(0);
    let answer = c.answer(c.key(&token("a"), b""), Duration::from_secs(1), || async {
        actix_rt::time::sleep(50 * MS).await;
        (Out::Allow("before"), Some(Duration::from_secs(60)))
    });
    let purge = async {
        actix_rt::time::sleep(10 * MS).await;
        c.purge()
    };
    let (got, _) = futures_util::future::join(answer, purge).await;
    assert_eq!(got, Out::Allow("before"));
    assert_eq!(ask(&c, "a", &calls, Out::Deny, None).await, Out::Deny);
    assert_eq!(calls.get(), 1);
}

#[actix_rt::test]
async fn the_entry_bound_holds() {
    let c = cache(Duration::ZERO);
    let calls = Cell::new(0);
    let tokens: Vec<&'static str> = (0..1000)
        .map(|i| &*Box::leak(format!("t{i}").into_boxed_str()))
        .collect();
    for t in tokens {
        ask(
            &c,
            t,
            &calls,
            Out::Allow("x"),
            Some(Duration::from_secs(60)),
        )
        .await;
    }
    assert!(c.inner.entries() <= 100, "{}", c.inner.entries());
}
