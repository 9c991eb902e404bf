//! The registry actor: on each config update it keeps, starts or drops passthrough actors and
//! publishes a new [`Dispatch`] for the check endpoint.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use arc_swap::ArcSwap;

use super::actor::PassthroughActor;
use crate::config::types::ObjectKey;
use crate::config::{ConfigUpdate, Content, Kind};
use crate::metrics::{ConfigMetrics, Metrics};
use crate::routing::RouteTable;

/// What the check endpoint needs to decide a check: the route table and an actor per valid
/// AuthConfig. Replaced as a whole on every update, so a check sees one consistent version.
#[derive(Default)]
pub struct Dispatch {
    /// False until the first complete load of the config directory is in force.
    pub loaded: bool,
    /// Host + path -> route -> AuthConfig.
    pub routes: Arc<RouteTable>,
    /// The actor of each valid AuthConfig, with its metric handles.
    pub actors: HashMap<ObjectKey, Target>,
    /// AuthConfigs that exist but have never been valid.
    pub invalid: HashSet<ObjectKey>,
}

/// A valid AuthConfig as the check endpoint reaches it.
#[derive(Clone)]
pub struct Target {
    /// Its actor.
    pub actor: Addr<PassthroughActor>,
    /// Its metric handles (shared by every version of its actor).
    pub metrics: Arc<ConfigMetrics>,
}

/// Keeps one actor per AuthConfig version and publishes dispatch tables.
pub struct Registry {
    arbiters: Vec<ArbiterHandle>,
    next: usize,
    running: HashMap<ObjectKey, (String, Target)>,
    dispatch: Arc<ArcSwap<Dispatch>>,
    ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// A registry starting actors round-robin on `arbiters`, publishing into `dispatch` and
    /// raising `ready` after the first update; per-AuthConfig metrics come from `metrics`.
    pub fn new(
        arbiters: Vec<ArbiterHandle>,
        dispatch: Arc<ArcSwap<Dispatch>>,
        ready: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Registry {
            arbiters,
            next: 0,
            running: HashMap::new(),
            dispatch,
            ready,
            metrics,
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
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
            let target = match self.running.remove(key) {
                // unchanged content: keep the actor and its open connections
                Some((h, target)) if h == *hash => target,
                _ => {
                    let policy = ac.policy.clone();
                    let metrics = self.metrics.auth_config(key);
                    let handles = metrics.clone();
                    let arbiter = &self.arbiters[self.next % self.arbiters.len()];
                    self.next += 1;
                    let actor = PassthroughActor::start_in_arbiter(arbiter, move |_| {
                        PassthroughActor::new(policy, handles)
                    });
                    Target { actor, metrics }
                }
            };
            running.insert(key.clone(), (hash.clone(), target));
        }
        // actors left in self.running are dropped here: each stops once its in-flight checks,
        // which hold their own references, have finished
        self.running = running;
        self.metrics.forget_removed(snapshot);
        let dispatch = Dispatch {
            loaded: true,
            routes: snapshot.routes.clone(),
            actors: self
                .running
                .iter()
                .map(|(k, (_, t))| (k.clone(), t.clone()))
                .collect(),
            invalid: snapshot
                .invalid
                .iter()
                .filter(|(kind, _)| *kind == Kind::AuthConfig)
                .map(|(_, k)| k.clone())
                .collect(),
        };
        self.dispatch.store(Arc::new(dispatch));
        self.ready.store(true, Ordering::Release);
    }
}
