//! Circuit breaker series of the AuthConfigs whose steps have a `circuitBreaker`: whether one
//! is open now (`extauth_passthrough_circuit_open`) and its changes of state
//! (`extauth_passthrough_circuit_transitions_total`), read from plain atomics and the live
//! breakers at scrape time, like the other per-AuthConfig series (see `export`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{MetricFamily, MetricType};

use super::auth_config::{ConfigFamilies, ConfigMetrics};
use super::export::{counter, family, gauge, label};
use super::MetricsError;
use crate::policy::AuthPolicy;

const OPEN: (&str, &str) = (
    "extauth_passthrough_circuit_open",
    "1 while the circuit breaker of a step of an AuthConfig is open (checks fail at once \
     without calling its auth service, or only a probe call is out), else 0.",
);
const TRANSITIONS: (&str, &str) = (
    "extauth_passthrough_circuit_transitions_total",
    "Changes of state of the circuit breakers of an AuthConfig's steps, by the state entered \
     (open, half_open, closed).",
);

/// What a scrape reads of a live circuit breaker.
pub trait CircuitState: Send + Sync {
    /// Whether it is open or half-open (not every check calls the auth service).
    fn is_open(&self) -> bool;
}

/// A state a circuit breaker entered, as the `to` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitTo {
    /// Checks fail at once.
    Open,
    /// One probe call is out.
    HalfOpen,
    /// Calls go out again.
    Closed,
}

impl CircuitTo {
    /// Every state, in declaration order.
    const ALL: [CircuitTo; 3] = [CircuitTo::Open, CircuitTo::HalfOpen, CircuitTo::Closed];

    fn as_str(self) -> &'static str {
        match self {
            CircuitTo::Open => "open",
            CircuitTo::HalfOpen => "half_open",
            CircuitTo::Closed => "closed",
        }
    }
}

/// The circuit breaker series of one AuthConfig, kept in its `ConfigMetrics`.
#[derive(Default)]
pub(super) struct CircuitSeries {
    /// Whether the version in force has a step with a breaker (only then is it exported).
    configured: AtomicBool,
    /// Transitions by state entered, in [`CircuitTo::ALL`] order.
    transitions: [AtomicU64; 3],
    /// The breakers in use by its shards (of any version still running).
    breakers: Mutex<Vec<Weak<dyn CircuitState>>>,
}

impl CircuitSeries {
    /// Follows the version now in force: exported if one of its steps has a breaker.
    pub(super) fn follow(&self, policy: &AuthPolicy) {
        let any = policy.steps.iter().any(|s| s.breaker.is_some());
        self.configured.store(any, Ordering::Relaxed);
    }

    /// Reads `breaker`'s state at each scrape from now on, for as long as it lives.
    pub(super) fn watch(&self, breaker: &Arc<dyn CircuitState>) {
        let weak = Arc::downgrade(breaker);
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        breakers.retain(|b| b.strong_count() > 0);
        if !breakers.iter().any(|b| b.ptr_eq(&weak)) {
            breakers.push(weak);
        }
    }

    /// Counts one transition.
    pub(super) fn record(&self, to: CircuitTo) {
        // declaration order is the order of ALL, hence of `transitions`
        self.transitions[to as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn is_open(&self) -> bool {
        let breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        breakers
            .iter()
            .filter_map(Weak::upgrade)
            .any(|b| b.is_open())
    }
}

impl ConfigMetrics {
    /// Reads `breaker`'s state (open or not) at every scrape, for as long as it lives.
    pub fn watch_breaker(&self, breaker: &Arc<dyn CircuitState>) {
        self.circuit.watch(breaker);
    }

    /// Counts a circuit breaker of this AuthConfig entering state `to`.
    pub fn circuit_entered(&self, to: CircuitTo) {
        self.circuit.record(to);
    }
}

/// The collector of the circuit breaker families, over the AuthConfigs in force.
pub(super) struct CircuitExport {
    families: Arc<ConfigFamilies>,
    descs: Vec<Desc>,
}

impl CircuitExport {
    /// A collector over `families`.
    pub(super) fn new(families: Arc<ConfigFamilies>) -> Result<Self, MetricsError> {
        let descs = vec![
            Desc::new(
                OPEN.0.into(),
                OPEN.1.into(),
                vec!["auth_config".into()],
                Default::default(),
            )?,
            Desc::new(
                TRANSITIONS.0.into(),
                TRANSITIONS.1.into(),
                vec!["auth_config".into(), "to".into()],
                Default::default(),
            )?,
        ];
        Ok(CircuitExport { families, descs })
    }
}

impl Collector for CircuitExport {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (mut open, mut transitions) = (vec![], vec![]);
        for m in self.families.in_force() {
            let series = &m.circuit;
            if !series.configured.load(Ordering::Relaxed) {
                continue;
            }
            let labels = vec![label("auth_config", m.label())];
            open.push(gauge(labels, i64::from(series.is_open())));
            for (to, count) in CircuitTo::ALL.iter().zip(&series.transitions) {
                let labels = vec![label("auth_config", m.label()), label("to", to.as_str())];
                transitions.push(counter(labels, count.load(Ordering::Relaxed)));
            }
        }
        vec![
            family(OPEN, MetricType::GAUGE, open),
            family(TRANSITIONS, MetricType::COUNTER, transitions),
        ]
    }
}
