//! Metrics of the check endpoint as a whole: checks in flight, check latency by decision, the
//! checks no AuthConfig decided, and malformed requests (counted by the logger, which sees
//! them).

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Registry,
};

use super::MetricsError;

/// Bucket bounds of check and call latency, in seconds: 0.5 ms to 10 s.
pub(super) const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How a check ended, as the `decision` label says it. Declared in the order of
/// [`CheckDecision::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckDecision {
    /// The auth service (or the whole chain) allowed: 200.
    Allowed,
    /// The auth service denied: 401.
    Denied,
    /// The auth service could not decide and no `failureModeAllow` applied, or extauth itself
    /// failed: 503.
    Error,
    /// A step failed and `failureModeAllow` let the check through: 200.
    FailureModeAllowed,
    /// No virtual host or route matched: 403.
    NoRoute,
    /// The route refers to a missing or invalid AuthConfig: 403.
    ConfigMissing,
    /// The matched route has no extauth or disables it: 200.
    Unprotected,
    /// The host matched a domain that several VirtualServices claim: 403.
    Conflict,
    /// Envoy named a route no VirtualService in force has (its configuration and the files
    /// disagree): 403.
    UnknownRoute,
    /// Without Envoy's route identity, the request routes differently as sent and normalised:
    /// 403.
    Ambiguous,
}

impl CheckDecision {
    /// Every decision, in label order.
    pub const ALL: [CheckDecision; 10] = [
        CheckDecision::Allowed,
        CheckDecision::Denied,
        CheckDecision::Error,
        CheckDecision::FailureModeAllowed,
        CheckDecision::NoRoute,
        CheckDecision::ConfigMissing,
        CheckDecision::Unprotected,
        CheckDecision::Conflict,
        CheckDecision::UnknownRoute,
        CheckDecision::Ambiguous,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckDecision::Allowed => "allowed",
            CheckDecision::Denied => "denied",
            CheckDecision::Error => "error",
            CheckDecision::FailureModeAllowed => "failure_mode_allowed",
            CheckDecision::NoRoute => "no_route",
            CheckDecision::ConfigMissing => "config_missing",
            CheckDecision::Unprotected => "unprotected",
            CheckDecision::Conflict => "conflict",
            CheckDecision::UnknownRoute => "unknown_route",
            CheckDecision::Ambiguous => "ambiguous",
        }
    }
}

/// Counts one check in flight while alive.
pub struct InFlight<'a>(&'a IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Decisions that happen without an AuthConfig, whose counters are resolved up front.
const UNATTRIBUTED: [CheckDecision; 3] = [
    CheckDecision::NoRoute,
    CheckDecision::Unprotected,
    CheckDecision::Error,
];

/// The process-wide check metrics, with a handle per decision resolved up front.
pub(super) struct CheckMetrics {
    in_flight: IntGauge,
    duration: Vec<Histogram>,
    checks: IntCounterVec,
    unattributed: [IntCounter; 3],
}

impl CheckMetrics {
    /// Registers the families; `checks` is `extauth_checks_total`, shared with the
    /// per-AuthConfig handles.
    pub(super) fn new(registry: &Registry, checks: &IntCounterVec) -> Result<Self, MetricsError> {
        let in_flight = IntGauge::new(
            "extauth_checks_in_flight",
            "Checks received from Envoy and not answered yet.",
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "extauth_check_duration_seconds",
                "Time from receiving a check to answering it, by decision.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["decision"],
        )?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(crate::logging::malformed_requests().clone()))?;
        Ok(CheckMetrics {
            in_flight,
            duration: CheckDecision::ALL
                .iter()
                .map(|d| duration.with_label_values(&[d.as_str()]))
                .collect(),
            unattributed: UNATTRIBUTED.map(|d| checks.with_label_values(&["", d.as_str()])),
            checks: checks.clone(),
        })
    }

    pub(super) fn started(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    pub(super) fn finished(&self, decision: CheckDecision, took: Duration) {
        // declaration order is the order of ALL, hence of `duration`
        self.duration[decision as usize].observe(took.as_secs_f64());
    }

    pub(super) fn unattributed(&self, decision: CheckDecision) {
        match UNATTRIBUTED.iter().position(|d| *d == decision) {
            Some(i) => self.unattributed[i].inc(),
            None => self
                .checks
                .with_label_values(&["", decision.as_str()])
                .inc(),
        }
    }
}
