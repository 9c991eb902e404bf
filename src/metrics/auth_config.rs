//! Per-AuthConfig metrics: checks by decision, bypasses, passthrough call latency by outcome,
//! connections in use and checks waiting for one. Handles are resolved once per AuthConfig and
//! shared by every version of its actor; its series go away when it leaves the config.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use super::checks::{CheckDecision, LATENCY_BUCKETS};
use super::{MetricsError, BYPASS_FAILURE};
use crate::config::types::ObjectKey;
use crate::config::{Content, Kind, Snapshot};

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
pub struct GaugeGuard<'a>(&'a IntGauge);

impl<'a> GaugeGuard<'a> {
    fn raise(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The metric handles of one AuthConfig, resolved once.
pub struct ConfigMetrics {
    label: String,
    decisions: [IntCounter; 4],
    bypass: IntCounter,
    in_use: IntGauge,
    waiting: IntGauge,
    calls: HistogramVec,
    call_handles: [OnceLock<Histogram>; 8],
    checks: IntCounterVec,
}

/// The decisions an AuthConfig's own counters are resolved for, in `decisions` order.
const OWN_DECISIONS: [CheckDecision; 4] = [
    CheckDecision::Allowed,
    CheckDecision::Denied,
    CheckDecision::Error,
    CheckDecision::FailureModeAllowed,
];

impl ConfigMetrics {
    fn new(families: &ConfigFamilies, key: &ObjectKey) -> Self {
        let label = key.to_string();
        let l = label.as_str();
        ConfigMetrics {
            decisions: OWN_DECISIONS.map(|d| families.checks.with_label_values(&[l, d.as_str()])),
            bypass: families.bypass.with_label_values(&[l]),
            in_use: families.in_use.with_label_values(&[l]),
            waiting: families.waiting.with_label_values(&[l]),
            calls: families.calls.clone(),
            call_handles: Default::default(),
            checks: families.checks.clone(),
            label,
        }
    }

    /// The `auth_config` label value: `namespace/name`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Counts a check this AuthConfig decided.
    pub fn count(&self, decision: CheckDecision) {
        match OWN_DECISIONS.iter().position(|d| *d == decision) {
            Some(i) => self.decisions[i].inc(),
            None => self
                .checks
                .with_label_values(&[self.label.as_str(), decision.as_str()])
                .inc(),
        }
    }

    /// Counts steps whose failure `failureModeAllow` bypassed.
    pub fn bypassed(&self, steps: usize) {
        self.bypass.inc_by(steps as u64);
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

    /// Counts a check waiting for a connection while the guard is alive.
    pub fn waiting(&self) -> GaugeGuard<'_> {
        GaugeGuard::raise(&self.waiting)
    }

    /// Counts a connection in use while the guard is alive.
    pub fn in_use(&self) -> GaugeGuard<'_> {
        GaugeGuard::raise(&self.in_use)
    }

    fn remove_series(&self, families: &ConfigFamilies) {
        let l = self.label.as_str();
        // a series that was never created is not an error worth reporting
        for d in OWN_DECISIONS {
            let _ = families.checks.remove_label_values(&[l, d.as_str()]);
        }
        let _ = families.bypass.remove_label_values(&[l]);
        let _ = families.in_use.remove_label_values(&[l]);
        let _ = families.waiting.remove_label_values(&[l]);
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
    bypass: IntCounterVec,
    calls: HistogramVec,
    in_use: IntGaugeVec,
    waiting: IntGaugeVec,
    live: Mutex<HashMap<ObjectKey, Arc<ConfigMetrics>>>,
    missing: Mutex<HashSet<ObjectKey>>,
}

impl ConfigFamilies {
    /// Registers the families; `checks` is `extauth_checks_total`, shared with the check
    /// endpoint's own counters.
    pub(super) fn new(registry: &Registry, checks: IntCounterVec) -> Result<Self, MetricsError> {
        let bypass = IntCounterVec::new(
            Opts::new(
                BYPASS_FAILURE,
                "Auth service errors (5xx, timeout, connection failure) that failureModeAllow \
                 turned into an allow; Gloo's extauth.solo.io/http_passthrough_bypass_failure.",
            ),
            &["auth_config"],
        )?;
        let calls = HistogramVec::new(
            HistogramOpts::new(
                "extauth_passthrough_call_duration_seconds",
                "Time of one call to the auth service, waiting for a connection included, by \
                 AuthConfig and outcome (status class, timeout, connect_error, exchange_error).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["auth_config", "outcome"],
        )?;
        let in_use = IntGaugeVec::new(
            Opts::new(
                "extauth_passthrough_connections_in_use",
                "Connections to the auth services of an AuthConfig carrying a call now.",
            ),
            &["auth_config"],
        )?;
        let waiting = IntGaugeVec::new(
            Opts::new(
                "extauth_passthrough_checks_waiting_for_connection",
                "Checks waiting for a connection to an auth service of an AuthConfig \
                 (connectionPool.maxConns reached).",
            ),
            &["auth_config"],
        )?;
        registry.register(Box::new(bypass.clone()))?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(in_use.clone()))?;
        registry.register(Box::new(waiting.clone()))?;
        Ok(ConfigFamilies {
            checks,
            bypass,
            calls,
            in_use,
            waiting,
            live: Mutex::new(HashMap::new()),
            missing: Mutex::new(HashSet::new()),
        })
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
