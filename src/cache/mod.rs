//! The decision cache of a step (`passThroughAuth.http.cache`, an extauth extension): the
//! same auth request is asked once, not once per check.
//!
//! The key is the auth request itself ([`key`]), so an entry only ever answers a check whose
//! auth request is byte-identical. Lifetimes come from the auth service's `Cache-Control`,
//! capped by the settings ([`control`]); identical misses in flight share one call
//! ([`flight`]); an expired entry may answer while the auth service errs (`staleIfError`,
//! [`entry`]). One [`StepCache`] serves every worker thread of its AuthConfig version; memory
//! is bounded by moka's size-bounded cache (TinyLFU admission, LRU eviction).
//!
//! The cache is generic over what it stores ([`Cacheable`]), so it knows nothing of HTTP
//! clients or chains; the passthrough actor plugs it in front of its step call.

pub mod control;
pub mod entry;
pub mod flight;
pub mod key;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use moka::notification::RemovalCause;

pub use control::{lifetime, Verdict};
pub use key::{CacheKey, KeyPrefix};

use crate::metrics::{ConfigMetrics, EntryCount, Lookup};
use crate::policy::CacheSettings;
use entry::{Age, Entry, KeepFor};
use flight::{Flights, Role};

/// What a step's cache stores: a step's outcome.
pub trait Cacheable: Clone + Send + Sync + 'static {
    /// What kind of answer this is (only allows and denials are stored).
    fn verdict(&self) -> Verdict;
    /// The outcome of a check whose own budget ran out while it waited for an identical call.
    fn timed_out(budget: Duration) -> Self;
}

/// One step's decision cache, shared by every worker shard of its AuthConfig version.
pub struct StepCache<V: Cacheable> {
    inner: Arc<Inner<V>>,
}

struct Inner<V: Cacheable> {
    settings: CacheSettings,
    prefix: KeyPrefix,
    entries: moka::sync::Cache<CacheKey, Arc<Entry<V>>>,
    flights: Flights<V>,
    /// Bumped by every purge: entries and flights of an earlier one never answer.
    generation: AtomicU64,
    metrics: Arc<ConfigMetrics>,
    step: String,
}

impl<V: Cacheable> StepCache<V> {
    /// An empty cache for the step named `step`, keyed under `prefix`, recording into its
    /// AuthConfig's `metrics`.
    pub fn new(
        settings: CacheSettings,
        prefix: KeyPrefix,
        step: &str,
        metrics: Arc<ConfigMetrics>,
    ) -> Self {
        let evictions = metrics.clone();
        let entries = moka::sync::Cache::builder()
            .max_capacity(settings.max_entries)
            .expire_after(KeepFor)
            .eviction_listener(move |_, _, cause| {
                if cause == RemovalCause::Size {
                    evictions.cache.evicted();
                }
            })
            .build();
        StepCache {
            inner: Arc::new(Inner {
                settings,
                prefix,
                entries,
                flights: Flights::default(),
                generation: AtomicU64::new(0),
                metrics,
                step: step.to_string(),
            }),
        }
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &CacheSettings {
        &self.inner.settings
    }

    /// Its entry count, for the metrics of the version in force.
    pub fn entry_count(&self) -> Weak<dyn EntryCount> {
        let weak: Weak<dyn EntryCount> = Arc::downgrade(&self.inner) as _;
        weak
    }

    /// The key of an auth request sending `headers` and `body`.
    pub fn key(&self, headers: &[(HeaderName, HeaderValue)], body: &[u8]) -> CacheKey {
        self.inner.prefix.key(headers, body)
    }

    /// Answers the auth request of `key`: from a fresh entry, from an identical call in
    /// flight (waiting at most `budget`), or by `call`, which gives the outcome and how long
    /// it stays fresh (`None`: not stored). A failed call is answered by an entry that expired
    /// less than `staleIfError` ago, if there is one.
    pub async fn answer<F, Fut>(&self, key: CacheKey, budget: Duration, call: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, Option<Duration>)>,
    {
        let (result, value) = self.inner.decide(key, budget, call).await;
        self.counted(result);
        value
    }

    /// The value of a fresh entry for `key`, if there is one, without counting a lookup: for
    /// deciding a whole check from the caches before anything is called (a check that then
    /// is decided this way counts its hits with [`StepCache::count_hit`]).
    pub fn fresh(&self, key: &CacheKey) -> Option<V> {
        let inner = &self.inner;
        let generation = inner.generation.load(Ordering::Acquire);
        let entry = inner.lookup(key, generation)?;
        (entry.age(Instant::now()) == Age::Fresh).then(|| entry.value.clone())
    }

    /// Counts a hit found by [`StepCache::fresh`].
    pub fn count_hit(&self) {
        self.counted(Lookup::Hit);
    }

    /// Counts a lookup that ended as `result`, with its debug line.
    fn counted(&self, result: Lookup) {
        let inner = &self.inner;
        inner.metrics.cache.lookup(result);
        log::debug!(
            auth_config = inner.metrics.label(),
            step = inner.step.as_str(),
            cache = result.as_str();
            "decision cache {}: step {} of AuthConfig {}",
            result.as_str(),
            inner.step,
            inner.metrics.label()
        );
    }

    /// Empties the cache: no check is answered from an entry stored before, nor joins a call
    /// that started before. Returns the number of entries removed.
    pub fn purge(&self) -> u64 {
        let inner = &self.inner;
        inner.generation.fetch_add(1, Ordering::AcqRel);
        let held = inner.entries();
        inner.entries.invalidate_all();
        inner.entries.run_pending_tasks();
        held
    }
}

impl<V: Cacheable> std::fmt::Debug for StepCache<V> {
    /// Its step and settings; never an entry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepCache")
            .field("step", &self.inner.step)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl<V: Cacheable> EntryCount for Inner<V> {
    fn entries(&self) -> u64 {
        // moka applies evictions and expiries lazily: settle them before counting
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

impl<V: Cacheable> Inner<V> {
    /// The entry of `key` stored in `generation`, if the cache still keeps it.
    fn lookup(&self, key: &CacheKey, generation: u64) -> Option<Arc<Entry<V>>> {
        self.entries.get(key).filter(|e| e.generation == generation)
    }

    /// Stores `value` under `key` for `fresh_for`, unless a purge came since `generation`.
    fn store(&self, key: CacheKey, generation: u64, value: &V, fresh_for: Option<Duration>) {
        let Some(fresh_for) = fresh_for else { return };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let stale_for = self.settings.stale_if_error;
        let entry = Entry::new(
            value.clone(),
            generation,
            Instant::now(),
            fresh_for,
            stale_for,
        );
        self.entries.insert(key, Arc::new(entry));
    }

    async fn decide<F, Fut>(&self, key: CacheKey, budget: Duration, call: F) -> (Lookup, V)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, Option<Duration>)>,
    {
        let generation = self.generation.load(Ordering::Acquire);
        let stale = match self.lookup(&key, generation) {
            Some(e) => match e.age(Instant::now()) {
                Age::Fresh => return (Lookup::Hit, e.value.clone()),
                Age::Stale => Some(e),
                Age::Dead => None,
            },
            None => None,
        };
        let recheck = || {
            let e = self.lookup(&key, generation)?;
            (e.age(Instant::now()) == Age::Fresh).then(|| e.value.clone())
        };
        let (result, value) = match self.flights.join(key, generation, recheck) {
            Role::Found(value) => return (Lookup::Hit, value),
            Role::Lead(leader) => {
                let (value, fresh_for) = call().await;
                self.store(key, generation, &value, fresh_for);
                leader.finish(value.clone());
                (Lookup::Miss, value)
            }
            Role::Follow(mut outcome) => {
                let waited = actix_rt::time::timeout(budget, async {
                    outcome.wait_for(Option::is_some).await.ok()?.clone()
                })
                .await;
                match waited {
                    Ok(Some(value)) => (Lookup::Coalesced, value),
                    // the leader went away without an outcome: call for ourselves
                    Ok(None) => {
                        let (value, fresh_for) = call().await;
                        self.store(key, generation, &value, fresh_for);
                        (Lookup::Miss, value)
                    }
                    Err(_) => (Lookup::Coalesced, V::timed_out(budget)),
                }
            }
        };
        match stale {
            Some(e) if value.verdict() == Verdict::Failed && e.age(Instant::now()) != Age::Dead => {
                (Lookup::Stale, e.value.clone())
            }
            _ => (result, value),
        }
    }
}

#[cfg(test)]
mod tests;
