//! Deciding a check from the decision caches alone, on the check endpoint's own thread: when
//! every step the chain needs has a fresh entry, the decision is made without a message to the
//! AuthConfig's actor (the hop, its boxed future and its reply cost about as much as the rest
//! of a hit). Any miss leaves the check to the actor, which looks again, coalesces and calls:
//! nothing is ever called from here.

use std::cell::{Cell, RefCell};

use futures_util::FutureExt;

use super::answer::{CallError, StepOutcome};
use super::chain::{run_chain, Decision, StepCaller};
use super::request::AuthRequest;
use super::shared::StepShared;
use super::CheckRequest;
use crate::policy::AuthPolicy;

/// The decision for `check` if every step `policy` needs for it is answered by a fresh entry
/// of its step's cache (`shared`, in step order); `None` as soon as one is not. Hits are
/// counted only when the check is decided here.
pub fn decide_from_caches(
    policy: &AuthPolicy,
    shared: &[StepShared],
    check: &CheckRequest,
) -> Option<Decision> {
    let caches = CacheOnly {
        shared,
        missed: Cell::new(false),
        hits: RefCell::new(Vec::new()),
    };
    // every "call" answers at once, so the chain finishes in one poll
    let decision = run_chain(policy, &caches, check).now_or_never()?;
    if caches.missed.get() {
        return None;
    }
    for index in caches.hits.into_inner() {
        if let Some(cache) = &shared[index].cache {
            cache.count_hit();
        }
    }
    Some(decision)
}

/// A [`StepCaller`] that only reads the steps' caches.
struct CacheOnly<'a> {
    shared: &'a [StepShared],
    /// A step the chain needed had no fresh entry (or no cache): the decision is void.
    missed: Cell<bool>,
    /// The steps answered from their caches, in order.
    hits: RefCell<Vec<usize>>,
}

impl StepCaller for CacheOnly<'_> {
    async fn call(&self, index: usize, request: AuthRequest) -> StepOutcome {
        let fresh = self.shared[index]
            .cache
            .as_ref()
            .and_then(|cache| cache.fresh(&cache.key(&request.headers, &request.body)));
        match fresh {
            Some(outcome) => {
                self.hits.borrow_mut().push(index);
                outcome
            }
            None => {
                self.missed.set(true);
                // never seen: a missed check goes to the actor
                StepOutcome::Error(CallError::Exchange(String::new()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::http::header::{HeaderName, HeaderValue};
    use actix_web::http::Method;
    use actix_web::web::Bytes;

    use super::*;
    use crate::config::types::{AuthConfigSpec, ObjectKey};
    use crate::metrics::Metrics;

    const TWO: &str = "configs: [{name: a, passThroughAuth: {http: {url: 'http://a/', request: {allowedHeaders: [authorization]}, cache: {maxAge: 30s}}}}, {name: b, passThroughAuth: {http: {url: 'http://b/', request: {allowedHeaders: [authorization]}, cache: {maxAge: 30s}}}}]";

    fn check(token: &'static str) -> CheckRequest {
        CheckRequest {
            method: Method::GET,
            path: "/".into(),
            headers: vec![(
                HeaderName::from_static("authorization"),
                HeaderValue::from_static(token),
            )],
            body: Bytes::new(),
        }
    }

    fn allow() -> StepOutcome {
        StepOutcome::Allow {
            headers: Vec::new(),
            state: None,
        }
    }

    /// Stores `outcome` in step `index`'s cache for the auth request `check` makes.
    async fn store(policy: &AuthPolicy, shared: &[StepShared], index: usize, check: &CheckRequest) {
        let request = super::super::build_request(&policy.steps[index], check, &Default::default());
        let cache = shared[index].cache.as_ref().unwrap();
        let key = cache.key(&request.headers, &request.body);
        let call = || async { (allow(), Some(Duration::from_secs(30))) };
        cache.answer(key, Duration::from_secs(1), call).await;
    }

    #[actix_rt::test]
    async fn only_a_chain_every_needed_step_of_which_is_cached_is_decided_here() {
        let spec: AuthConfigSpec = serde_norway::from_str(TWO).unwrap();
        let policy = crate::policy::compile(&spec).unwrap();
        let metrics = Metrics::new()
            .unwrap()
            .auth_config(&ObjectKey::new("ns", "ac"));
        let shared = StepShared::for_policy(&policy, "hash", &metrics);
        let alice = check("alice");
        assert_eq!(
            decide_from_caches(&policy, &shared, &alice),
            None,
            "nothing cached"
        );

        store(&policy, &shared, 0, &alice).await;
        let hits = || metrics.cache.lookup_counts()[0];
        let before = hits();
        assert_eq!(
            decide_from_caches(&policy, &shared, &alice),
            None,
            "step b is not cached yet: the actor decides"
        );
        assert_eq!(hits(), before, "a check not decided here counts no hit");

        store(&policy, &shared, 1, &alice).await;
        assert!(matches!(
            decide_from_caches(&policy, &shared, &alice),
            Some(Decision::Allow { .. })
        ));
        assert_eq!(hits(), before + 2, "both steps' hits counted");
        assert_eq!(
            decide_from_caches(&policy, &shared, &check("bob")),
            None,
            "another token is another key"
        );
    }
}
