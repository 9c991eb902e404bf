//! Prometheus metrics: one [`Metrics`] value owns a registry and every metric family; the
//! check endpoint, the passthrough actors and the config status actor record into it through
//! handles resolved ahead of time, and the admin listener renders it at `/metrics`.
//!
//! Labels are bounded by the configuration: an AuthConfig's `namespace/name`, a decision, a
//! call outcome, a resource kind, a reload result. Never a path, a header value or a user.
//! `docs/metrics.md` describes every metric.

mod auth_config;
mod breaker;
mod cache;
mod checks;
mod export;
mod reload;

use std::sync::Arc;

use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

pub use auth_config::{CallOutcome, ConfigMetrics, GaugeGuard};
pub use breaker::{CircuitState, CircuitTo};
pub use cache::{CacheMetrics, EntryCount, Lookup};
pub use checks::{CheckDecision, InFlight};

use auth_config::ConfigFamilies;
use checks::CheckMetrics;
use reload::ReloadMetrics;

/// Name of the Gloo metric `extauth.solo.io/http_passthrough_bypass_failure` in Prometheus
/// naming: dots and slash become underscores, and counters end in `_total`.
pub const BYPASS_FAILURE: &str = "extauth_solo_io_http_passthrough_bypass_failure_total";

/// Why the metrics could not be set up or rendered.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A family could not be created or registered (a programming error: a bad name or a
    /// duplicate), or the scrape could not be encoded.
    #[error("prometheus: {0}")]
    Prometheus(#[from] prometheus::Error),
    /// The text encoder produced something that is not UTF-8.
    #[error("metric encoding: {0}")]
    Encoding(#[from] std::string::FromUtf8Error),
}

/// Every metric of one extauth process, and the registry that exports them.
pub struct Metrics {
    registry: Registry,
    checks: CheckMetrics,
    configs: Arc<ConfigFamilies>,
    reload: ReloadMetrics,
}

impl Metrics {
    /// Creates and registers every family; `extauth_build_info` is set at once.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let build = IntGaugeVec::new(
            Opts::new(
                "extauth_build_info",
                "Always 1; the version label is the running extauth's version.",
            ),
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry.register(Box::new(build))?;
        let checks = IntCounterVec::new(
            Opts::new(export::CHECKS.0, export::CHECKS.1),
            &["auth_config", "decision"],
        )?;
        registry.register(Box::new(checks.clone()))?;
        let configs = ConfigFamilies::new(&registry, checks.clone())?;
        registry.register(Box::new(breaker::CircuitExport::new(configs.clone())?))?;
        registry.register(Box::new(cache::CacheExport::new(configs.clone())?))?;
        Ok(Metrics {
            checks: CheckMetrics::new(&registry, &checks)?,
            configs,
            reload: ReloadMetrics::new(&registry)?,
            registry,
        })
    }

    /// The metrics in Prometheus's text exposition format.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }

    /// Counts a check in flight until the returned guard is dropped.
    pub fn check_started(&self) -> InFlight<'_> {
        self.checks.started()
    }

    /// Records a finished check's latency by decision. Counting it is up to the caller:
    /// [`ConfigMetrics::count`] when an AuthConfig decided it, [`Metrics::config_missing`]
    /// when its AuthConfig is missing, [`Metrics::unattributed`] otherwise.
    pub fn check_finished(&self, decision: CheckDecision, took: std::time::Duration) {
        self.checks.finished(decision, took);
    }

    /// Counts a check no AuthConfig decided (no route, unprotected route, not ready yet, ...),
    /// with an empty `auth_config` label.
    pub fn unattributed(&self, decision: CheckDecision) {
        self.checks.unattributed(decision);
    }

    /// Counts a check whose route refers to the AuthConfig `key`, which is missing or invalid.
    pub fn config_missing(&self, key: &crate::config::types::ObjectKey) {
        self.configs.config_missing(key);
    }

    /// The handles of the AuthConfig `key`: the same value for as long as the AuthConfig stays
    /// in force, so that successive versions of its actor share its gauges.
    pub fn auth_config(&self, key: &crate::config::types::ObjectKey) -> Arc<ConfigMetrics> {
        self.configs.handles(key)
    }

    /// Stops exporting the series of AuthConfigs that are no longer in force (and the
    /// `config_missing` counts of references no VirtualService makes any more).
    pub fn forget_removed(&self, snapshot: &crate::compiled::Snapshot) {
        self.configs.retain(snapshot);
    }

    /// Records one re-read of the config directory that changed what is in force or could not
    /// list the directory (`complete` false).
    pub fn config_reloaded(&self, snapshot: &crate::compiled::Snapshot, complete: bool) {
        self.reload.record(snapshot, complete);
    }
}

#[cfg(test)]
mod tests;
