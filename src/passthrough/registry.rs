//! The registry actor: on each config update it keeps, starts or drops passthrough actors and
//! publishes a new [`Dispatch`] for the check endpoint.
//!
//! Each AuthConfig runs as one actor *shard* per check-server worker thread, so that a check
//! is decided on the thread that received it (no cross-thread hop) and a single hot AuthConfig
//! can use every core. The shards split the AuthConfig's `maxConns` budget between them. A
//! shard starts at the first check its worker sends it, on that worker's thread: an AuthConfig
//! a worker never serves costs that worker nothing (thousands of AuthConfigs stay cheap).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use actix::prelude::*;
use arc_swap::ArcSwap;

use super::actor::PassthroughActor;
use super::shared::StepShared;
use crate::compiled::{ConfigUpdate, Content};
use crate::config::types::ObjectKey;
use crate::config::Kind;
use crate::metrics::{ConfigMetrics, Metrics};
use crate::policy::AuthPolicy;
use crate::routing::RouteTable;

/// What the check endpoint needs to decide a check: the route table and the actor shards of
/// each valid AuthConfig. Replaced as a whole on every update, so a check sees one version.
#[derive(Default)]
pub struct Dispatch {
    /// False until the first complete load of the config directory is in force.
    pub loaded: bool,
    /// Host + path -> route -> AuthConfig.
    pub routes: Arc<RouteTable>,
    /// The shards of each valid AuthConfig, with its metric handles.
    pub actors: HashMap<ObjectKey, Arc<Target>>,
    /// AuthConfigs that exist but have never been valid.
    pub invalid: HashSet<ObjectKey>,
}

/// A valid AuthConfig version as the check endpoint reaches it. Shared by every dispatch table
/// that holds this version; once the last one lets go, its shards stop after their in-flight
/// checks.
pub struct Target {
    /// One actor per shard, started by the first check that needs it.
    shards: Box<[OnceLock<Addr<PassthroughActor>>]>,
    /// Its metric handles (shared by every shard and version of its actor).
    pub metrics: Arc<ConfigMetrics>,
    /// The compiled policy the shards run (for what the check endpoint needs of it).
    pub policy: Arc<AuthPolicy>,
    /// Per step, the state every shard shares (in step order).
    pub shared: Arc<[StepShared]>,
    /// Whether a step has a decision cache: then the check endpoint first tries to decide a
    /// check from the caches alone ([`decide_from_caches`](super::decide_from_caches)).
    pub cached: bool,
}

impl Target {
    /// A target for `policy` with `shards` shards, none started yet; `config_hash` is the
    /// content hash of its AuthConfig version (part of every decision cache key).
    pub fn new(
        policy: Arc<AuthPolicy>,
        metrics: Arc<ConfigMetrics>,
        shards: usize,
        config_hash: &str,
    ) -> Self {
        Target {
            shards: (0..shards.max(1)).map(|_| OnceLock::new()).collect(),
            shared: StepShared::for_policy(&policy, config_hash, &metrics),
            cached: policy.steps.iter().any(|s| s.cache.is_some()),
            metrics,
            policy,
        }
    }

    /// The shard for check worker `worker`, started on the calling thread if it is not running
    /// yet; must be called from a check worker (an actix arbiter).
    pub fn shard(&self, worker: usize) -> &Addr<PassthroughActor> {
        let count = self.shards.len();
        let index = worker % count;
        self.shards[index].get_or_init(|| {
            let budget = self
                .policy
                .steps
                .iter()
                .map(|s| share(s.max_conns, count, index))
                .collect();
            log::debug!(
                "AuthConfig {}: starting shard {index} of {count}",
                self.metrics.label()
            );
            PassthroughActor::new(
                self.policy.clone(),
                self.shared.clone(),
                self.metrics.clone(),
                budget,
            )
            .start()
        })
    }

    /// How many shards have started.
    #[cfg(test)]
    fn started_shards(&self) -> usize {
        self.shards.iter().filter(|s| s.get().is_some()).count()
    }
}

/// How many shards an AuthConfig gets: one per worker, but never more than its smallest
/// `maxConns`, so that every shard has at least one connection of the budget.
pub fn shard_count(policy: &AuthPolicy, workers: usize) -> usize {
    let smallest = policy.steps.iter().map(|s| s.max_conns).min().unwrap_or(1);
    workers.min(smallest).max(1)
}

/// Shard `index`'s part of a budget of `total` connections split over `shards` shards; the
/// parts add up to `total` exactly.
pub fn share(total: usize, shards: usize, index: usize) -> usize {
    total / shards + usize::from(index < total % shards)
}

/// A check-server worker thread has started: the server is ready once every worker runs.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerStarted {
    /// The worker's index, from 0.
    pub index: usize,
}

struct Running {
    hash: String,
    target: Arc<Target>,
}

/// Keeps one set of shards per AuthConfig version and publishes dispatch tables.
pub struct Registry {
    workers: Vec<bool>,
    running: HashMap<ObjectKey, Running>,
    routes: Arc<RouteTable>,
    invalid: HashSet<ObjectKey>,
    loaded: bool,
    dispatch: Arc<ArcSwap<Dispatch>>,
    ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// A registry for `workers` check workers, publishing into `dispatch` and raising `ready`
    /// once the config is loaded and every worker runs.
    pub fn new(
        workers: usize,
        dispatch: Arc<ArcSwap<Dispatch>>,
        ready: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Registry {
            workers: vec![false; workers.max(1)],
            running: HashMap::new(),
            routes: Arc::default(),
            invalid: HashSet::new(),
            loaded: false,
            dispatch,
            ready,
            metrics,
        }
    }

    fn publish(&self) {
        let dispatch = Dispatch {
            loaded: self.loaded,
            routes: self.routes.clone(),
            actors: self
                .running
                .iter()
                .map(|(k, r)| (k.clone(), r.target.clone()))
                .collect(),
            invalid: self.invalid.clone(),
        };
        self.dispatch.store(Arc::new(dispatch));
        let all_workers = self.workers.iter().all(|w| *w);
        self.ready
            .store(self.loaded && all_workers, Ordering::Release);
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Handler<WorkerStarted> for Registry {
    type Result = ();

    fn handle(&mut self, msg: WorkerStarted, _: &mut Context<Self>) {
        let Some(slot) = self.workers.get_mut(msg.index) else {
            return;
        };
        *slot = true;
        self.publish();
    }
}

impl Handler<ConfigUpdate> for Registry {
    type Result = ();

    fn handle(&mut self, update: ConfigUpdate, _: &mut Context<Self>) {
        let snapshot = &update.snapshot;
        let mut running = HashMap::new();
        for (key, loaded) in snapshot.auth_configs() {
            let Content::AuthConfig(ac) = &loaded.resource.content else {
                continue;
            };
            let hash = &loaded.resource.hash;
            let entry = match self.running.remove(key) {
                // unchanged content: keep the shards and their open connections
                Some(r) if r.hash == *hash => r,
                _ => {
                    let metrics = self.metrics.auth_config(key);
                    metrics.use_tls(&ac.policy);
                    Running {
                        hash: hash.clone(),
                        target: Arc::new(Target::new(
                            ac.policy.clone(),
                            metrics,
                            shard_count(&ac.policy, self.workers.len()),
                            hash,
                        )),
                    }
                }
            };
            running.insert(key.clone(), entry);
        }
        // shards left in self.running are dropped here: each stops once its in-flight checks,
        // which hold their own references, have finished
        self.running = running;
        self.metrics.forget_removed(snapshot);
        self.routes = Arc::new(RouteTable::for_snapshot(snapshot));
        self.invalid = snapshot
            .invalid
            .iter()
            .filter(|(kind, _)| *kind == Kind::AuthConfig)
            .map(|(_, k)| k.clone())
            .collect();
        self.loaded = true;
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{shard_count, share, Target};
    use crate::config::types::{AuthConfigSpec, ObjectKey};
    use crate::metrics::Metrics;

    fn target(max_conns: usize, workers: usize) -> Target {
        let yaml = format!(
            "configs: [{{passThroughAuth: {{http: {{url: 'http://127.0.0.1:1/a', \
             connectionPool: {{maxConns: {max_conns}}}}}}}}}]"
        );
        let spec: AuthConfigSpec = serde_norway::from_str(&yaml).unwrap();
        let policy = Arc::new(crate::policy::compile(&spec).unwrap());
        let metrics = Metrics::new()
            .unwrap()
            .auth_config(&ObjectKey::new("ns", "ac"));
        let shards = shard_count(&policy, workers);
        Target::new(policy, metrics, shards, "hash")
    }

    #[actix_rt::test]
    async fn shards_start_at_their_first_check_and_only_once() {
        let t = target(8, 2);
        assert_eq!(t.started_shards(), 0, "no actor before a check needs one");
        let first = t.shard(1).clone();
        assert_eq!(t.started_shards(), 1);
        assert!(t.shard(1) == &first, "the same worker gets the same shard");
        assert!(t.shard(3) == &first, "worker 3 of 2 maps onto shard 1");
        t.shard(0);
        assert_eq!(t.started_shards(), 2);
    }

    #[actix_rt::test]
    async fn a_budget_smaller_than_the_workers_gets_fewer_shards() {
        let t = target(1, 4);
        let only = t.shard(2).clone();
        assert!(t.shard(0) == &only && t.shard(3) == &only);
        assert_eq!(t.started_shards(), 1);
    }

    #[test]
    fn shares_add_up_to_the_budget() {
        for total in 1..20 {
            for shards in 1..=total.min(8) {
                let parts: Vec<usize> = (0..shards).map(|i| share(total, shards, i)).collect();
                assert_eq!(parts.iter().sum::<usize>(), total);
                assert!(parts.iter().all(|p| *p >= 1));
            }
        }
    }
}
