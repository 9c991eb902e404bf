//! State of one AuthConfig version's step that every worker shard shares (the shards
//! themselves are bound to their threads): built once per version by the registry, dropped
//! with the version.

use std::sync::Arc;

use super::answer::StepOutcome;
use super::breaker::Breaker;
use crate::cache::{KeyPrefix, StepCache};
use crate::metrics::ConfigMetrics;
use crate::policy::{AuthPolicy, StepPolicy};

/// What the shards of one AuthConfig version share about one of its steps.
#[derive(Debug, Default)]
pub struct StepShared {
    /// The step's circuit breaker, when it has a `circuitBreaker`: one for all shards, so
    /// that errors seen by any of them count.
    pub breaker: Option<Arc<Breaker>>,
    /// The step's decision cache, when it has a `cache`: one for all shards, so that an
    /// answer fetched on one worker thread serves the others.
    pub cache: Option<StepCache<StepOutcome>>,
}

impl StepShared {
    /// The shared state of each step of `policy`, in step order, for the AuthConfig version
    /// whose content hash is `config_hash` (part of every cache key), recording into its
    /// `metrics` (which follow this version's caches from now on).
    pub fn for_policy(
        policy: &AuthPolicy,
        config_hash: &str,
        metrics: &Arc<ConfigMetrics>,
    ) -> Arc<[StepShared]> {
        let shared: Arc<[StepShared]> = policy
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| StepShared {
                breaker: step.breaker.map(|b| Arc::new(Breaker::new(b))),
                cache: cache(step, index, config_hash, metrics),
            })
            .collect();
        let caches = shared
            .iter()
            .filter_map(|s| Some(s.cache.as_ref()?.entry_count()));
        metrics.cache.follow(caches.collect());
        shared
    }
}

/// The decision cache of `step` (the `index`-th), if it has one.
fn cache(
    step: &StepPolicy,
    index: usize,
    config_hash: &str,
    metrics: &Arc<ConfigMetrics>,
) -> Option<StepCache<StepOutcome>> {
    let settings = step.cache?;
    // every call is a POST to the step's url
    let prefix = KeyPrefix::new(config_hash, index, "POST", &step.url.to_string());
    Some(StepCache::new(
        settings,
        prefix,
        &step.name,
        metrics.clone(),
    ))
}
