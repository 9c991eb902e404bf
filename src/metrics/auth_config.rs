//! Per-AuthConfig metrics: checks by decision, bypasses, passthrough call latency by outcome,
//! connections in use and checks waiting for one, and for https auth services failed TLS
//! handshakes by reason and the expiry of the certificates in use. Handles are resolved once
//! per AuthConfig and shared by every version of its actor; its series go away when it leaves
//! the config.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Registry};

use super::breaker::CircuitSeries;
use super::cache::CacheMetrics;
use super::checks::{CheckDecision, LATENCY_BUCKETS};
use super::export::ConfigExport;
use super::MetricsError;
use crate::compiled::{Content, Snapshot};
use crate::config::types::ObjectKey;
use crate::config::Kind;
use crate::policy::AuthPolicy;
use crate::tls::{Expiry, StepTls, TlsFailure};

/// How one call to the auth service ended, as the `outcome` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// It answered 1xx (as a final answer).
    Informational,
    /// It answered 2xx.
    Success,
    /// It answered 3xx.
    Redirection,
    /// It answered 4xx.
    ClientError,
    /// It answered 5xx.
    ServerError,
    /// No answer within `connectionTimeout` (or `responseHeaderTimeout`), waiting for a
    /// connection included.
    Timeout,
    /// The connection could not be made (refused, unresolvable, unreachable).
    ConnectError,
    /// The connection failed during the exchange (reset, closed, malformed answer).
    ExchangeError,
}

impl CallOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [CallOutcome; 8] = [
        CallOutcome::Informational,
        CallOutcome::Success,
        CallOutcome::Redirection,
        CallOutcome::ClientError,
        CallOutcome::ServerError,
        CallOutcome::Timeout,
        CallOutcome::ConnectError,
        CallOutcome::ExchangeError,
    ];

    /// The status class of an answer's status code.
    pub fn of_status(status: u16) -> Self {
        match status {
            100..=199 => CallOutcome::Informational,
            200..=299 => CallOutcome::Success,
            300..=399 => CallOutcome::Redirection,
            400..=499 => CallOutcome::ClientError,
            _ => CallOutcome::ServerError,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Informational => "1xx",
            CallOutcome::Success => "2xx",
            CallOutcome::Redirection => "3xx",
            CallOutcome::ClientError => "4xx",
            CallOutcome::ServerError => "5xx",
            CallOutcome::Timeout => "timeout",
            CallOutcome::ConnectError => "connect_error",
            CallOutcome::ExchangeError => "exchange_error",
        }
    }
}

/// Keeps a gauge raised by one while alive.
pub struct GaugeGuard<'a>(&'a AtomicI64);

impl<'a> GaugeGuard<'a> {
    fn raise(gauge: &'a AtomicI64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The metric handles of one AuthConfig, resolved once. Its counters and gauges are plain
/// atomics that the scrape reads (see `export`); its call histograms are created at their first
/// call.
pub struct ConfigMetrics {
    label: String,
    decisions: [AtomicU64; 4],
    bypass: AtomicU64,
    in_use: AtomicI64,
    waiting: AtomicI64,
    calls: HistogramVec,
    call_handles: [OnceLock<Histogram>; 8],
    checks: IntCounterVec,
    tls_failures: [AtomicU64; TlsFailure::ALL.len()],
    /// The TLS of each https step of the version in force, by step name.
    tls: Mutex<Vec<(String, Arc<StepTls>)>>,
    /// Its circuit breakers' series (see `breaker`).
    pub(super) circuit: CircuitSeries,
    /// Its decision caches' series (see `cache`).
    pub cache: CacheMetrics,
}

/// The TLS series of an AuthConfig with https steps, as a scrape reads them.
pub(super) struct TlsSeries {
    /// Failed handshakes by reason, in [`TlsFailure::ALL`] order.
    pub failures: [u64; TlsFailure::ALL.len()],
    /// The expiry of every certificate source in use, with its step's name.
    pub expiries: Vec<(String, Expiry)>,
}

/// The decisions an AuthConfig's own counters are kept for, in `decisions` order.
pub(super) const OWN_DECISIONS: [CheckDecision; 4] = [
    CheckDecision::Allowed,
    CheckDecision::Denied,
    CheckDecision::Error,
    CheckDecision::FailureModeAllowed,
];

impl ConfigMetrics {
    fn new(families: &ConfigFamilies, key: &ObjectKey) -> Self {
        ConfigMetrics {
            label: key.to_string(),
            decisions: Default::default(),
            bypass: AtomicU64::new(0),
            in_use: AtomicI64::new(0),
            waiting: AtomicI64::new(0),
            calls: families.calls.clone(),
            call_handles: Default::default(),
            checks: families.checks.clone(),
            tls_failures: Default::default(),
            tls: Mutex::new(Vec::new()),
            circuit: CircuitSeries::default(),
            cache: CacheMetrics::default(),
        }
    }

    /// The `auth_config` label value: `namespace/name`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Counts a check this AuthConfig decided.
    pub fn count(&self, decision: CheckDecision) {
        match OWN_DECISIONS.iter().position(|d| *d == decision) {
            Some(i) => {
                self.decisions[i].fetch_add(1, Ordering::Relaxed);
            }
            None => self
                .checks
                .with_label_values(&[self.label.as_str(), decision.as_str()])
                .inc(),
        }
    }

    /// Counts steps whose failure `failureModeAllow` bypassed.
    pub fn bypassed(&self, steps: usize) {
        self.bypass.fetch_add(steps as u64, Ordering::Relaxed);
    }

    /// Records one call to the auth service.
    pub fn observe_call(&self, outcome: CallOutcome, took: Duration) {
        // declaration order is the order of CallOutcome::ALL, hence of call_handles
        self.call_handles[outcome as usize]
            .get_or_init(|| {
                self.calls
                    .with_label_values(&[self.label.as_str(), outcome.as_str()])
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a failed TLS handshake with an auth service.
    pub fn tls_failed(&self, reason: TlsFailure) {
        // declaration order is the order of TlsFailure::ALL
        self.tls_failures[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Follows the https steps of `policy`, the version now in force: their handshake
    /// failures and certificate expiries are exported from now on (none for an http-only one);
    /// and its circuit breakers' series, if a step has one.
    pub fn use_tls(&self, policy: &AuthPolicy) {
        self.circuit.follow(policy);
        let steps = policy
            .steps
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.tls.clone()?)))
            .collect();
        *self.tls.lock().unwrap_or_else(PoisonError::into_inner) = steps;
    }

    /// The TLS series now; `None` without https steps. For the scrape.
    pub(super) fn tls_now(&self) -> Option<TlsSeries> {
        let tls = self.tls.lock().unwrap_or_else(PoisonError::into_inner);
        if tls.is_empty() {
            return None;
        }
        let failures = self
            .tls_failures
            .each_ref()
            .map(|c| c.load(Ordering::Relaxed));
        let expiries = tls
            .iter()
            .flat_map(|(step, t)| t.expiries().into_iter().map(|e| (step.clone(), e)))
            .collect();
        Some(TlsSeries { failures, expiries })
    }

    /// Counts a check waiting for a connection while the guard is alive.
    pub fn waiting(&self) -> GaugeGuard<'_> {
        GaugeGuard::raise(&self.waiting)
    }

    /// Counts a connection in use while the guard is alive.
    pub fn in_use(&self) -> GaugeGuard<'_> {
        GaugeGuard::raise(&self.in_use)
    }

    /// The counts of [`OWN_DECISIONS`], for the scrape.
    pub(super) fn decision_counts(&self) -> [u64; 4] {
        self.decisions.each_ref().map(|c| c.load(Ordering::Relaxed))
    }

    /// Steps bypassed so far, for the scrape.
    pub(super) fn bypass_count(&self) -> u64 {
        self.bypass.load(Ordering::Relaxed)
    }

    /// Connections in use now, for the scrape.
    pub(super) fn in_use_now(&self) -> i64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Checks waiting for a connection now, for the scrape.
    pub(super) fn waiting_now(&self) -> i64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Removes the series the prometheus crate keeps for this AuthConfig (its call histograms
    /// and any decision beyond its own); the others leave the scrape with it.
    fn remove_series(&self, families: &ConfigFamilies) {
        let l = self.label.as_str();
        // a series that was never created is not an error worth reporting
        for d in CheckDecision::ALL {
            if !OWN_DECISIONS.contains(&d) && d != CheckDecision::ConfigMissing {
                let _ = families.checks.remove_label_values(&[l, d.as_str()]);
            }
        }
        for (outcome, handle) in CallOutcome::ALL.iter().zip(&self.call_handles) {
            if handle.get().is_some() {
                let _ = families.calls.remove_label_values(&[l, outcome.as_str()]);
            }
        }
    }
}

/// The per-AuthConfig families, and which AuthConfigs have series.
pub(super) struct ConfigFamilies {
    checks: IntCounterVec,
    calls: HistogramVec,
    live: Mutex<HashMap<ObjectKey, Arc<ConfigMetrics>>>,
    missing: Mutex<HashSet<ObjectKey>>,
}

impl ConfigFamilies {
    /// Registers the families; `checks` is `extauth_checks_total`, shared with the check
    /// endpoint's own counters. The series every AuthConfig has are exported by
    /// [`ConfigExport`], registered here too.
    pub(super) fn new(
        registry: &Registry,
        checks: IntCounterVec,
    ) -> Result<Arc<Self>, MetricsError> {
        let calls = HistogramVec::new(
            HistogramOpts::new(
                "extauth_passthrough_call_duration_seconds",
                "Time of one call to the auth service, waiting for a connection included, by \
                 AuthConfig and outcome (status class, timeout, connect_error, exchange_error).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["auth_config", "outcome"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        let families = Arc::new(ConfigFamilies {
            checks,
            calls,
            live: Mutex::new(HashMap::new()),
            missing: Mutex::new(HashSet::new()),
        });
        registry.register(Box::new(ConfigExport::new(families.clone())?))?;
        Ok(families)
    }

    /// The handles of every AuthConfig in force, for the scrape.
    pub(super) fn in_force(&self) -> Vec<Arc<ConfigMetrics>> {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.values().cloned().collect()
    }

    /// The handles of `key`, created on first use.
    pub(super) fn handles(&self, key: &ObjectKey) -> Arc<ConfigMetrics> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = live.get(key) {
            return m.clone();
        }
        let m = Arc::new(ConfigMetrics::new(self, key));
        live.insert(key.clone(), m.clone());
        m
    }

    /// Counts a check on a route whose AuthConfig `key` is missing or invalid.
    pub(super) fn config_missing(&self, key: &ObjectKey) {
        let label = key.to_string();
        self.checks
            .with_label_values(&[label.as_str(), CheckDecision::ConfigMissing.as_str()])
            .inc();
        self.missing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone());
    }

    /// Removes the series of AuthConfigs not in force in `snapshot`, and the `config_missing`
    /// series of references that no VirtualService makes any more.
    pub(super) fn retain(&self, snapshot: &Snapshot) {
        let in_force: HashSet<&ObjectKey> = snapshot.auth_configs().map(|(k, _)| k).collect();
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, m| {
                let keep = in_force.contains(key);
                if !keep {
                    m.remove_series(self);
                }
                keep
            });
        let referenced = referenced(snapshot);
        self.missing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key| {
                let keep = referenced.contains(&key);
                if !keep {
                    let label = key.to_string();
                    let _ = self.checks.remove_label_values(&[
                        label.as_str(),
                        CheckDecision::ConfigMissing.as_str(),
                    ]);
                }
                keep
            });
    }
}

/// Every AuthConfig a VirtualService in force refers to.
fn referenced(snapshot: &Snapshot) -> HashSet<&ObjectKey> {
    snapshot
        .resources
        .iter()
        .filter(|((kind, _), _)| *kind == Kind::VirtualService)
        .filter_map(|(_, loaded)| match &loaded.resource.content {
            Content::VirtualService(vs) => Some(vs.config_refs().map(|(_, key)| key)),
            _ => None,
        })
        .flatten()
        .collect()
}
