//! The circuit breaker of one step (`circuitBreaker`, an extauth extension): after
//! `consecutiveErrors` errors in a row it opens, and checks fail at once without calling the
//! auth service; after `openFor`, one probe call goes out while the others still fail at once;
//! the probe's success closes it, its error opens it again for `openFor`.
//!
//! One [`Breaker`] serves every worker shard of the step (it is shared across threads), so a
//! small mutex guards its state, held only to read or change it. Time is passed in by the
//! callers (`*_at` methods), so the state machine is tested without waiting.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::answer::CallError;
use crate::metrics::{CircuitState, CircuitTo, ConfigMetrics};
use crate::policy::{BreakerSettings, StepPolicy};

/// Where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Calls go out; `errors` in a row so far.
    Closed { errors: u32 },
    /// Calls fail at once until `until`; opened after `errors` in a row.
    Open { until: Instant, errors: u32 },
    /// One probe call is out; the others fail at once until it ends.
    HalfOpen { errors: u32 },
}

/// A change of state worth a metric and a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// It opened (from closed, or again after a failed probe), after `errors` in a row.
    Opened {
        /// Errors in a row that opened it (a failed probe adds one).
        errors: u32,
    },
    /// `openFor` is over: one probe call goes out.
    HalfOpened,
    /// A probe succeeded: calls go out again.
    Closed,
}

/// Why a check may not call the auth service now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Errors in a row that opened the breaker.
    pub errors: u32,
    /// Time until a probe may go out; `None` while a probe is out.
    pub retry_in: Option<Duration>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// Bumped at every change of state, so that the result of a call admitted in an earlier
    /// state (still in flight when the breaker opened) changes nothing.
    generation: u64,
}

/// The circuit breaker of one step, shared by every shard of its AuthConfig version.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

/// A call the breaker let through. Record its result with [`Permit::record`]; a probe's
/// permit dropped without a result (its check was cancelled) counts as an error, so that the
/// breaker never stays half-open.
#[must_use = "record the call's result"]
pub struct Permit {
    breaker: Arc<Breaker>,
    generation: u64,
    probe: bool,
    done: bool,
    /// The transition that admitting this call caused (open to half-open), if any.
    pub transition: Option<Transition>,
}

impl Breaker {
    /// A closed breaker with `settings`.
    pub fn new(settings: BreakerSettings) -> Self {
        Breaker {
            settings,
            inner: Mutex::new(Inner {
                state: State::Closed { errors: 0 },
                generation: 0,
            }),
        }
    }

    /// Whether a call may go out now; see [`Breaker::admit_at`].
    pub fn admit(self: &Arc<Self>) -> Result<Permit, Refusal> {
        self.admit_at(Instant::now())
    }

    /// Whether a call may go out at `now`: a permit when closed, or as the one probe once
    /// `openFor` is over; a refusal while open or while a probe is out.
    pub fn admit_at(self: &Arc<Self>, now: Instant) -> Result<Permit, Refusal> {
        let mut inner = self.lock();
        let (probe, transition) = match inner.state {
            State::Closed { .. } => (false, None),
            State::Open { until, errors } if now < until => {
                return Err(Refusal {
                    errors,
                    retry_in: Some(until - now),
                })
            }
            State::Open { errors, .. } => {
                inner.state = State::HalfOpen { errors };
                inner.generation += 1;
                (true, Some(Transition::HalfOpened))
            }
            State::HalfOpen { errors } => {
                return Err(Refusal {
                    errors,
                    retry_in: None,
                })
            }
        };
        Ok(Permit {
            breaker: self.clone(),
            generation: inner.generation,
            probe,
            done: false,
            transition,
        })
    }

    /// Applies the result (`ok`) of a call admitted at `generation`, at `now`.
    fn settle(&self, generation: u64, ok: bool, now: Instant) -> Option<Transition> {
        let mut inner = self.lock();
        if inner.generation != generation {
            // admitted before the last change of state: its news is stale
            return None;
        }
        let (state, transition) = match (inner.state, ok) {
            (State::Closed { .. }, true) => (State::Closed { errors: 0 }, None),
            (State::Closed { errors }, false) => {
                let errors = errors.saturating_add(1);
                if errors >= self.settings.consecutive_errors {
                    (self.open(now, errors), Some(Transition::Opened { errors }))
                } else {
                    (State::Closed { errors }, None)
                }
            }
            (State::HalfOpen { .. }, true) => {
                (State::Closed { errors: 0 }, Some(Transition::Closed))
            }
            (State::HalfOpen { errors }, false) => {
                let errors = errors.saturating_add(1);
                (self.open(now, errors), Some(Transition::Opened { errors }))
            }
            // only a probe is admitted while not closed, and it is half-open meanwhile
            (State::Open { .. }, _) => return None,
        };
        if transition.is_some() {
            inner.generation += 1;
        }
        inner.state = state;
        transition
    }

    /// A probe admitted at `generation` that did not call: open with `openFor` already over,
    /// so that the next check becomes the probe.
    fn hand_over_probe(&self, generation: u64, now: Instant) {
        let mut inner = self.lock();
        if let (true, State::HalfOpen { errors }) = (inner.generation == generation, inner.state) {
            inner.state = State::Open { until: now, errors };
            inner.generation += 1;
        }
    }

    fn open(&self, now: Instant, errors: u32) -> State {
        State::Open {
            until: now + self.settings.open_for,
            errors,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CircuitState for Breaker {
    fn is_open(&self) -> bool {
        !matches!(self.lock().state, State::Closed { .. })
    }
}

impl Permit {
    /// Records the call's result (`ok`: the auth service decided); returns the transition it
    /// caused, if any.
    pub fn record(self, ok: bool) -> Option<Transition> {
        self.record_at(ok, Instant::now())
    }

    /// [`Permit::record`] at `now`.
    pub fn record_at(mut self, ok: bool, now: Instant) -> Option<Transition> {
        self.done = true;
        self.breaker.settle(self.generation, ok, now)
    }

    /// Records that the call never reached the auth service: it waited past its budget for
    /// one of extauth's own connections (or had too little budget left to start), which says
    /// nothing of the auth service. A row of errors goes on unchanged; a probe gives its turn
    /// to the next check.
    pub fn not_called(self) {
        self.not_called_at(Instant::now());
    }

    /// [`Permit::not_called`] at `now`.
    pub fn not_called_at(mut self, now: Instant) {
        self.done = true;
        if self.probe {
            self.breaker.hand_over_probe(self.generation, now);
        }
    }

    /// Whether this call is the probe after `openFor`.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        // a check cancelled mid-call: only a probe must report, or no other would go out
        if !self.done && self.probe {
            self.breaker.settle(self.generation, false, Instant::now());
        }
    }
}

impl From<Refusal> for CallError {
    fn from(r: Refusal) -> Self {
        CallError::CircuitOpen {
            errors: r.errors,
            retry_in_ms: r.retry_in.map(|d| d.as_millis().max(1)),
        }
    }
}

/// Counts `transition` of `step`'s breaker in its AuthConfig's `metrics`, and logs it: a
/// warning when it opens, an info line when it closes.
pub fn report(transition: Transition, step: &StepPolicy, metrics: &ConfigMetrics) {
    let open_for_ms = step.breaker.map_or(0, |b| b.open_for.as_millis() as u64);
    match transition {
        Transition::Opened { errors } => {
            metrics.circuit_entered(CircuitTo::Open);
            log::warn!(
                auth_config = metrics.label(),
                step = step.name.as_str(),
                errors,
                open_for_ms;
                "circuit breaker opened: checks fail at once without calling the auth service until a probe call succeeds"
            );
        }
        Transition::HalfOpened => {
            metrics.circuit_entered(CircuitTo::HalfOpen);
            log::debug!(
                auth_config = metrics.label(),
                step = step.name.as_str();
                "circuit breaker half-open: one probe call goes out"
            );
        }
        Transition::Closed => {
            metrics.circuit_entered(CircuitTo::Closed);
            log::info!(
                auth_config = metrics.label(),
                step = step.name.as_str();
                "circuit breaker closed: the probe call succeeded, calls go out again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn breaker(errors: u32, open_for: Duration) -> Arc<Breaker> {
        Arc::new(Breaker::new(BreakerSettings {
            consecutive_errors: errors,
            open_for,
        }))
    }

    /// One call admitted and recorded at `now`.
    fn call(b: &Arc<Breaker>, ok: bool, now: Instant) -> Option<Transition> {
        b.admit_at(now).expect("admitted").record_at(ok, now)
    }

    #[test]
    fn opens_after_errors_in_a_row_only() {
        let b = breaker(3, 10 * SEC);
        let t = Instant::now();
        assert_eq!(call(&b, false, t), None);
        assert_eq!(call(&b, false, t), None);
        assert_eq!(call(&b, true, t), None, "a success resets the count");
        assert_eq!(call(&b, false, t), None);
        assert_eq!(call(&b, false, t), None);
        assert!(!b.is_open());
        assert_eq!(call(&b, false, t), Some(Transition::Opened { errors: 3 }));
        assert!(b.is_open());
        let refused = b.admit_at(t + 4 * SEC).err().expect("refused while open");
        assert_eq!(refused.errors, 3);
        assert_eq!(refused.retry_in, Some(6 * SEC));
    }

    #[test]
    fn one_probe_after_open_for_closes_it_on_success() {
        let b = breaker(1, 10 * SEC);
        let t = Instant::now();
        assert_eq!(call(&b, false, t), Some(Transition::Opened { errors: 1 }));
        let probe = b.admit_at(t + 10 * SEC).expect("the probe");
        assert!(probe.is_probe());
        assert_eq!(probe.transition, Some(Transition::HalfOpened));
        for later in [10, 11, 100] {
            let refused = b
                .admit_at(t + later * SEC)
                .err()
                .expect("one probe at a time");
            assert_eq!(refused.retry_in, None);
        }
        assert_eq!(
            probe.record_at(true, t + 11 * SEC),
            Some(Transition::Closed)
        );
        assert!(!b.is_open());
        let next = b.admit_at(t + 11 * SEC).expect("closed again");
        assert!(!next.is_probe());
        assert_eq!(next.transition, None);
    }

    #[test]
    fn a_failed_probe_opens_it_again_for_open_for() {
        let b = breaker(2, 5 * SEC);
        let t = Instant::now();
        call(&b, false, t);
        call(&b, false, t);
        let probe = b.admit_at(t + 5 * SEC).unwrap();
        assert_eq!(
            probe.record_at(false, t + 6 * SEC),
            Some(Transition::Opened { errors: 3 })
        );
        let refused = b.admit_at(t + 10 * SEC).err().unwrap();
        assert_eq!(
            refused.retry_in,
            Some(SEC),
            "open for 5 s from the failed probe"
        );
        assert!(b.admit_at(t + 11 * SEC).unwrap().is_probe());
    }

    #[test]
    fn a_dropped_probe_counts_as_an_error() {
        let b = breaker(1, SEC);
        let t = Instant::now();
        call(&b, false, t);
        drop(b.admit_at(t + SEC).unwrap());
        assert!(b.is_open());
        // opened again at the drop (now), so a probe goes out a second later, not earlier
        let later = Instant::now() + SEC;
        assert!(
            b.admit_at(later).unwrap().is_probe(),
            "not wedged half-open"
        );
    }

    #[test]
    fn a_dropped_ordinary_call_changes_nothing() {
        let b = breaker(2, SEC);
        let t = Instant::now();
        call(&b, false, t);
        drop(b.admit_at(t).unwrap());
        assert_eq!(call(&b, false, t), Some(Transition::Opened { errors: 2 }));
    }

    #[test]
    fn a_call_that_never_reached_the_auth_service_neither_adds_to_nor_breaks_the_row() {
        let b = breaker(2, SEC);
        let t = Instant::now();
        call(&b, false, t);
        for _ in 0..10 {
            b.admit_at(t).unwrap().not_called_at(t);
        }
        assert!(!b.is_open(), "waits for a connection are not errors");
        assert_eq!(
            call(&b, false, t),
            Some(Transition::Opened { errors: 2 }),
            "nor do they break the row"
        );
    }

    #[test]
    fn a_probe_that_did_not_call_hands_its_turn_to_the_next_check() {
        let b = breaker(1, 10 * SEC);
        let t = Instant::now();
        call(&b, false, t);
        let probe = b.admit_at(t + 10 * SEC).unwrap();
        assert!(probe.is_probe());
        probe.not_called_at(t + 11 * SEC);
        assert!(b.is_open(), "still not closed");
        let next = b
            .admit_at(t + 11 * SEC)
            .expect("not open for another openFor");
        assert!(next.is_probe());
        assert_eq!(next.record_at(true, t + 11 * SEC), Some(Transition::Closed));
    }

    #[test]
    fn calls_admitted_before_it_opened_change_nothing() {
        let b = breaker(2, 10 * SEC);
        let t = Instant::now();
        let slow_ok = b.admit_at(t).unwrap();
        let slow_err = b.admit_at(t).unwrap();
        call(&b, false, t);
        call(&b, false, t);
        assert_eq!(slow_ok.record_at(true, t + SEC), None);
        assert_eq!(slow_err.record_at(false, t + SEC), None);
        let refused = b.admit_at(t + SEC).err().unwrap();
        assert_eq!(
            refused.retry_in,
            Some(9 * SEC),
            "neither closed nor extended it"
        );
    }

    #[test]
    fn shared_across_threads() {
        let b = breaker(50, 10 * SEC);
        let t = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    (0..25)
                        .filter_map(|_| b.admit_at(t).ok()?.record_at(false, t))
                        .count()
                })
            })
            .collect();
        let opened: usize = threads.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(opened, 1, "50 errors from any thread open it, once");
        assert!(b.is_open());
    }
}
