//! Config metrics: reloads by result, resources in force by kind, current config errors and
//! the time of the last successful reload.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::{Gauge, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::MetricsError;
use crate::compiled::Snapshot;
use crate::config::Kind;

/// How a reload ended, as the `result` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadResult {
    /// Every file was read and is valid.
    Success,
    /// The directory was read and its valid resources applied, but some file, document or
    /// reference has an error (those resources keep their last good version, or are absent).
    Partial,
    /// The directory could not be listed; nothing changed.
    Failure,
}

impl ReloadResult {
    /// Every result.
    pub const ALL: [ReloadResult; 3] = [
        ReloadResult::Success,
        ReloadResult::Partial,
        ReloadResult::Failure,
    ];

    /// The result of a reload that produced `snapshot`; `complete` is false when the
    /// directory could not be listed.
    pub fn of(snapshot: &Snapshot, complete: bool) -> Self {
        if !complete {
            ReloadResult::Failure
        } else if snapshot.errors.is_empty() {
            ReloadResult::Success
        } else {
            ReloadResult::Partial
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Success => "success",
            ReloadResult::Partial => "partial",
            ReloadResult::Failure => "failure",
        }
    }
}

/// The config families.
pub(super) struct ReloadMetrics {
    reloads: IntCounterVec,
    resources: IntGaugeVec,
    errors: IntGauge,
    last_success: Gauge,
    /// Kinds exported so far, so that a kind whose last resource went away reads 0.
    kinds: Mutex<BTreeMap<String, i64>>,
}

impl ReloadMetrics {
    pub(super) fn new(registry: &Registry) -> Result<Self, MetricsError> {
        let reloads = IntCounterVec::new(
            Opts::new(
                "extauth_config_reloads_total",
                "Re-reads of the config directory that changed what is in force (success, \
                 partial: some resources invalid) or could not list it (failure).",
            ),
            &["result"],
        )?;
        let resources = IntGaugeVec::new(
            Opts::new(
                "extauth_config_resources",
                "Resources in force, by kind (last good versions of invalid ones included).",
            ),
            &["kind"],
        )?;
        let errors = IntGauge::new(
            "extauth_config_errors",
            "Current config errors (as listed by /configz).",
        )?;
        let last_success = Gauge::new(
            "extauth_config_last_reload_success_timestamp_seconds",
            "Unix time of the last reload that read the directory and applied its valid \
             resources (0 before the first).",
        )?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(resources.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        for result in ReloadResult::ALL {
            reloads.with_label_values(&[result.as_str()]);
        }
        let kinds = [Kind::AuthConfig, Kind::VirtualService]
            .iter()
            .map(|k| (k.to_string(), 0))
            .collect();
        let metrics = ReloadMetrics {
            reloads,
            resources,
            errors,
            last_success,
            kinds: Mutex::new(kinds),
        };
        metrics.export_kinds(&metrics.kinds.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(metrics)
    }

    /// Records a reload that produced `snapshot`.
    pub(super) fn record(&self, snapshot: &Snapshot, complete: bool) {
        let result = ReloadResult::of(snapshot, complete);
        self.reloads.with_label_values(&[result.as_str()]).inc();
        self.errors.set(snapshot.errors.len() as i64);
        if result != ReloadResult::Failure {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.last_success.set(now);
        }
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        for count in kinds.values_mut() {
            *count = 0;
        }
        for (kind, _) in snapshot.resources.keys() {
            *kinds.entry(kind.to_string()).or_insert(0) += 1;
        }
        self.export_kinds(&kinds);
    }

    fn export_kinds(&self, kinds: &BTreeMap<String, i64>) {
        for (kind, count) in kinds {
            self.resources
                .with_label_values(&[kind.as_str()])
                .set(*count);
        }
    }
}
