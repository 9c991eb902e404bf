//! The registry actor: on each config update it keeps, starts or drops passthrough actors and
//! publishes a new [`Dispatch`] for the check endpoint.
//!
//! Each AuthConfig runs as one actor *shard* per check-server worker thread, so that a check
//! is decided on the thread that received it (no cross-thread hop) and a single hot AuthConfig
//! can use every core. The shards split the AuthConfig's `maxConns` budget between them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use arc_swap::ArcSwap;

use super::actor::PassthroughActor;
use crate::config::types::ObjectKey;
use crate::config::{ConfigUpdate, Content, Kind};
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
    pub actors: HashMap<ObjectKey, Target>,
    /// AuthConfigs that exist but have never been valid.
    pub invalid: HashSet<ObjectKey>,
}

/// A valid AuthConfig as the check endpoint reaches it.
#[derive(Clone)]
pub struct Target {
    /// One actor per shard; shard `i` runs on check worker `i` (absent until that worker runs).
    pub shards: Vec<Option<Addr<PassthroughActor>>>,
    /// Its metric handles (shared by every shard and version of its actor).
    pub metrics: Arc<ConfigMetrics>,
    /// The compiled policy the shards run (for what the check endpoint needs of it).
    pub policy: Arc<AuthPolicy>,
}

impl Target {
    /// The shard for check worker `worker`: its own when it has one, else any running shard.
    pub fn shard(&self, worker: usize) -> Option<&Addr<PassthroughActor>> {
        let own = self.shards.get(worker % self.shards.len().max(1))?;
        own.as_ref().or_else(|| self.shards.iter().flatten().next())
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

/// A check-server worker thread has started; its shards can be started on it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerStarted {
    /// The worker's index, from 0.
    pub index: usize,
    /// Its arbiter, on which its shards run.
    pub arbiter: ArbiterHandle,
}

struct Running {
    hash: String,
    policy: Arc<AuthPolicy>,
    target: Target,
}

/// Keeps one set of shards per AuthConfig version and publishes dispatch tables.
pub struct Registry {
    workers: Vec<Option<ArbiterHandle>>,
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
    /// once the config is loaded and every worker runs its shards.
    pub fn new(
        workers: usize,
        dispatch: Arc<ArcSwap<Dispatch>>,
        ready: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Registry {
            workers: vec![None; workers.max(1)],
            running: HashMap::new(),
            routes: Arc::default(),
            invalid: HashSet::new(),
            loaded: false,
            dispatch,
            ready,
            metrics,
        }
    }

    /// Starts shard `index` of `running` if its worker runs and it is not started yet.
    fn start_shard(
        workers: &[Option<ArbiterHandle>],
        key: &ObjectKey,
        running: &mut Running,
        index: usize,
    ) {
        let Some(Some(arbiter)) = workers.get(index) else {
            return;
        };
        let count = running.target.shards.len();
        if running.target.shards[index].is_some() {
            return;
        }
        let policy = running.policy.clone();
        let metrics = running.target.metrics.clone();
        let budget: Vec<usize> = policy
            .steps
            .iter()
            .map(|s| share(s.max_conns, count, index))
            .collect();
        log::debug!("AuthConfig {key}: starting shard {index} of {count}");
        running.target.shards[index] =
            Some(PassthroughActor::start_in_arbiter(arbiter, move |_| {
                PassthroughActor::new(policy, metrics, budget)
            }));
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
        let all_workers = self.workers.iter().all(Option::is_some);
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
        *slot = Some(msg.arbiter);
        for (key, running) in &mut self.running {
            if msg.index < running.target.shards.len() {
                Self::start_shard(&self.workers, key, running, msg.index);
            }
        }
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
                    let count = shard_count(&ac.policy, self.workers.len());
                    let mut r = Running {
                        hash: hash.clone(),
                        policy: ac.policy.clone(),
                        target: Target {
                            shards: vec![None; count],
                            metrics: self.metrics.auth_config(key),
                            policy: ac.policy.clone(),
                        },
                    };
                    for index in 0..count {
                        Self::start_shard(&self.workers, key, &mut r, index);
                    }
                    r
                }
            };
            running.insert(key.clone(), entry);
        }
        // shards left in self.running are dropped here: each stops once its in-flight checks,
        // which hold their own references, have finished
        self.running = running;
        self.metrics.forget_removed(snapshot);
        self.routes = snapshot.routes.clone();
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
    use super::share;

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
