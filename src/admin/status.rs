//! The config status actor: keeps the latest snapshot of the config directory for `/configz`
//! and records the config metrics of every update.

use std::sync::Arc;

use actix::prelude::*;
use arc_swap::ArcSwap;

use crate::config::{ConfigUpdate, Snapshot};
use crate::metrics::Metrics;

/// Receives every [`ConfigUpdate`] (as an observer of the config watcher).
pub struct ConfigStatus {
    current: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<Metrics>,
}

impl ConfigStatus {
    /// A status actor publishing into `current` and recording into `metrics`.
    pub fn new(current: Arc<ArcSwap<Snapshot>>, metrics: Arc<Metrics>) -> Self {
        ConfigStatus { current, metrics }
    }
}

impl Actor for ConfigStatus {
    type Context = Context<Self>;
}

impl Handler<ConfigUpdate> for ConfigStatus {
    type Result = ();

    fn handle(&mut self, update: ConfigUpdate, _: &mut Context<Self>) {
        self.metrics
            .config_reloaded(&update.snapshot, update.complete);
        self.current.store(update.snapshot);
    }
}
