//! The config status actor: keeps the latest snapshot of the config directory for `/configz`,
//! records the config metrics of every update and logs the warnings of what it loaded.

use std::sync::Arc;

use actix::prelude::*;
use arc_swap::ArcSwap;
use log::warn;

use crate::compiled::{ConfigUpdate, Snapshot};
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
        log_warnings(&update);
        self.metrics
            .config_reloaded(&update.snapshot, update.complete);
        self.current.store(update.snapshot);
    }
}

/// One line per warning of each resource this update added or changed (the ones in force
/// before were logged when they were loaded).
fn log_warnings(update: &ConfigUpdate) {
    let diff = &update.diff;
    let loaded = diff
        .added
        .iter()
        .chain(&diff.changed)
        .filter_map(|id| update.snapshot.resources.get(id));
    for w in loaded.flat_map(|l| &l.resource.warnings) {
        warn!(
            file:% = w.file.display(),
            field = w.field.as_deref().unwrap_or("");
            "config warning: {w}"
        );
    }
}
