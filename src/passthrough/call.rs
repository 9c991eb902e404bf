//! The HTTP call to the auth service over a connection-limited awc client (over TLS for an
//! https url: awc's rustls connector with the step's rustls config, see `crate::tls`).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::error::ParseError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use awc::error::{ConnectError, PayloadError, SendRequestError};
use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};

use super::answer::{interpret, AnswerHead, CallError, Called, StepOutcome};
use super::breaker::{self, Breaker};
use super::request::AuthRequest;
use super::shared::StepShared;
use crate::cache::{lifetime, Cacheable};
use crate::metrics::{CallOutcome, ConfigMetrics, GaugeGuard};
use crate::policy::StepPolicy;
use crate::tls::connect::NamedConnector;
use crate::tls::{rustls_error, TlsFailure};

/// Largest answer body read when the step needs it (`readStateFromResponse`).
const STATE_BODY_LIMIT: usize = 1024 * 1024;
/// Largest answer body drained otherwise, so the connection can be reused.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Keep-alive expiry when `idleTimeout` is unset or 0 ("none").
const NO_IDLE_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// One step's client: an awc client capped at `maxConns` connections, and a semaphore with
/// as many permits so that waiting for a connection is visible and bounded by the budget.
/// Permits in use are the AuthConfig's connections in use; tasks awaiting one are its checks
/// waiting for a connection.
pub struct StepClient {
    client: awc::Client,
    permits: Rc<Semaphore>,
    metrics: Arc<ConfigMetrics>,
    /// How long an exchange with this auth service typically takes (a moving average of the
    /// answered ones), so that a check whose wait for a connection left less than that does
    /// not start a call it cannot finish.
    typical: Cell<Duration>,
    /// The step's circuit breaker, shared with the other shards (`circuitBreaker`).
    breaker: Option<Arc<Breaker>>,
    /// Keep each answer's status and headers in [`Called::head`] (`extauth check --call`);
    /// the server does not.
    record_answers: bool,
}

/// What one exchange gave: the status, the outcome, its cache lifetime, and the answer's head
/// when the client records answers.
struct Exchanged {
    status: u16,
    outcome: StepOutcome,
    fresh_for: Option<Duration>,
    head: Option<AnswerHead>,
}

impl StepClient {
    /// Builds the client for `step` with at most `max_conns` connections (this shard's part
    /// of the step's `maxConns`), sharing `shared` with the other shards, recording into its
    /// AuthConfig's `metrics`; must run on the thread that will use it.
    pub fn new(
        step: &StepPolicy,
        shared: &StepShared,
        max_conns: usize,
        metrics: Arc<ConfigMetrics>,
    ) -> Self {
        let breaker = shared.breaker.clone();
        if let Some(b) = &breaker {
            metrics.watch_breaker(&(b.clone() as Arc<dyn crate::metrics::CircuitState>));
        }
        let connector = awc::Connector::new()
            .limit(max_conns)
            .timeout(step.timeout)
            .conn_keep_alive(step.idle_timeout.unwrap_or(NO_IDLE_EXPIRY))
            .conn_lifetime(NO_IDLE_EXPIRY);
        let client = match &step.tls {
            None => client(connector),
            Some(tls) => {
                // a handshake is bounded like the rest of the call
                let connector = connector
                    .handshake_timeout(step.timeout)
                    .rustls_0_23(tls.client_config());
                match tls.server_name().and_then(NamedConnector::new) {
                    Some(named) => client(connector.connector(named)),
                    None => client(connector),
                }
            }
        };
        StepClient {
            client,
            permits: Rc::new(Semaphore::new(max_conns)),
            metrics,
            typical: Cell::new(Duration::ZERO),
            breaker,
            record_answers: false,
        }
    }

    /// A permit to use one connection, counted as waiting while none is free and as in use
    /// while held.
    async fn permit(&self) -> Result<(SemaphorePermit<'_>, GaugeGuard<'_>), CallError> {
        let permit = match self.permits.try_acquire() {
            Ok(permit) => Ok(permit),
            Err(TryAcquireError::NoPermits) => {
                let _waiting = self.metrics.waiting();
                self.permits.acquire().await.map_err(drop)
            }
            Err(TryAcquireError::Closed) => Err(()),
        }
        .map_err(|()| CallError::Exchange("client closed".into()))?;
        Ok((permit, self.metrics.in_use()))
    }

    /// Calls the auth service; the whole call, waiting for a connection included, is bounded
    /// by the step's `connectionTimeout`. With an open circuit breaker, fails at once.
    pub async fn call(&self, step: &StepPolicy, request: AuthRequest) -> Called {
        let permit = match self.breaker.as_ref().map(Breaker::admit).transpose() {
            Ok(permit) => permit,
            Err(refused) => return StepOutcome::Error(refused.into()).into(),
        };
        if let Some(t) = permit.as_ref().and_then(|p| p.transition) {
            breaker::report(t, step, &self.metrics);
        }
        let started = Instant::now();
        let timed_out = || CallError::Timeout {
            ms: step.timeout.as_millis(),
        };
        // set once the call gets one of this client's connections and goes out: a call that
        // ended before (waiting past its budget) tells the breaker nothing of the auth service
        let went_out = Cell::new(false);
        let attempt = self.attempt(step, &request, started, timed_out, &went_out);
        let answered = actix_rt::time::timeout(step.timeout, attempt).await;
        let (class, outcome, fresh_for, head) = match answered {
            Ok(Ok(x)) => (
                CallOutcome::of_status(x.status),
                x.outcome,
                x.fresh_for,
                x.head,
            ),
            Ok(Err(e)) => (outcome_of(&e), StepOutcome::Error(e), None, None),
            Err(_) => (
                CallOutcome::Timeout,
                StepOutcome::Error(timed_out()),
                None,
                None,
            ),
        };
        if let StepOutcome::Error(CallError::Tls { reason, .. }) = &outcome {
            self.metrics.tls_failed(*reason);
        }
        self.metrics.observe_call(class, started.elapsed());
        match permit {
            Some(permit) if !went_out.get() => permit.not_called(),
            Some(permit) => {
                if let Some(t) = permit.record(!matches!(outcome, StepOutcome::Error(_))) {
                    breaker::report(t, step, &self.metrics);
                }
            }
            None => {}
        }
        Called {
            outcome,
            fresh_for,
            head,
        }
    }

    /// This client, keeping each answer's status and headers in [`Called::head`].
    pub fn recording_answers(mut self) -> Self {
        self.record_answers = true;
        self
    }

    /// A connection, then the exchange (once more on a fresh connection when a pooled one
    /// turns out closed); `timed_out` is the error when the budget left cannot cover it, and
    /// `went_out` is set once the call has a connection and goes out.
    async fn attempt(
        &self,
        step: &StepPolicy,
        request: &AuthRequest,
        started: Instant,
        timed_out: impl Fn() -> CallError,
        went_out: &Cell<bool>,
    ) -> Result<Exchanged, CallError> {
        let budget = step.timeout;
        let _permit = self.permit().await?;
        // under overload, a call started with less budget than an exchange takes would only
        // time out, holding a connection (which is then lost) that a younger check could use
        if !worth_starting(budget.saturating_sub(started.elapsed()), self.typical.get()) {
            return Err(timed_out());
        }
        went_out.set(true);
        let exchange_started = Instant::now();
        let result = match self.exchange(step, request).await {
            // a pooled keep-alive connection the server had closed: try once more, fresh
            Err(CallError::Exchange(_)) if started.elapsed() < budget / 2 => {
                self.exchange(step, request).await
            }
            other => other,
        };
        if result.is_ok() {
            let took = exchange_started.elapsed();
            self.typical.set(moving_average(self.typical.get(), took));
        }
        result
    }

    async fn exchange(
        &self,
        step: &StepPolicy,
        request: &AuthRequest,
    ) -> Result<Exchanged, CallError> {
        let mut req = self.client.request(Method::POST, step.url.clone());
        if let Some(limit) = step.response_header_timeout {
            req = req.timeout(limit);
        }
        for (name, value) in &request.headers {
            req.headers_mut().append(name.clone(), value.clone());
        }
        if request.is_json() {
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        let mut resp = req
            .send_body(request.body.clone())
            .await
            .map_err(|e| classify(e, step))?;
        let limit = if step.read_state {
            STATE_BODY_LIMIT
        } else {
            DRAIN_LIMIT
        };
        let body = match resp.body().limit(limit).await {
            // awc ends the body quietly when the connection closes early: compare with the
            // announced length so that a cut-short answer is an error, not an allow
            Ok(body) if declared_length(resp.headers()).is_some_and(|n| n != body.len()) => {
                return Err(CallError::Exchange(format!(
                    "answer body cut short: {} of {} bytes",
                    body.len(),
                    declared_length(resp.headers()).unwrap_or_default()
                )));
            }
            Ok(body) => Ok(body),
            // too large to keep: the status decides, the connection is not reused
            Err(PayloadError::Overflow) => Err(format!("answer body larger than {limit} bytes")),
            // cut short or broken: the answer is incomplete, whatever its status said
            Err(e) => return Err(CallError::Exchange(format!("reading the answer body: {e}"))),
        };
        let status = resp.status();
        let outcome = interpret(
            step,
            status,
            resp.headers(),
            body.as_deref().map_err(Clone::clone),
        );
        // how long the decision cache may keep it (`None` for a step without one)
        let fresh_for = step
            .cache
            .and_then(|c| lifetime(&c, outcome.verdict(), resp.headers()));
        let head = self.record_answers.then(|| AnswerHead {
            status: status.as_u16(),
            headers: resp
                .headers()
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
        });
        Ok(Exchanged {
            status: status.as_u16(),
            outcome,
            fresh_for,
            head,
        })
    }
}

/// The client over `connector`: the whole call is bounded by `connectionTimeout` in `call`;
/// awc's own per-request timer is only armed when `responseHeaderTimeout` asks for a tighter
/// bound.
fn client<S, Io>(connector: awc::Connector<S>) -> awc::Client
where
    S: actix_service::Service<
            actix_tls::connect::ConnectInfo<actix_web::http::Uri>,
            Response = actix_tls::connect::Connection<actix_web::http::Uri, Io>,
            Error = actix_tls::connect::ConnectError,
        > + Clone
        + 'static,
    Io: actix_rt::net::ActixStream + std::fmt::Debug + 'static,
{
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .no_default_headers()
        .disable_timeout()
        .finish()
}

/// Whether a call is worth starting with `remaining` budget when an exchange typically takes
/// `typical` (zero until one has been answered).
fn worth_starting(remaining: Duration, typical: Duration) -> bool {
    remaining >= typical
}

/// The moving average of exchange times after one more, `took`: each new one weighs 1/8.
fn moving_average(average: Duration, took: Duration) -> Duration {
    if average.is_zero() {
        took
    } else {
        (average * 7 + took) / 8
    }
}

/// The `outcome` label of a call that got no answer.
fn outcome_of(err: &CallError) -> CallOutcome {
    match err {
        CallError::Status(status) => CallOutcome::of_status(*status),
        CallError::Timeout { .. } => CallOutcome::Timeout,
        CallError::Connect(_) | CallError::Tls { .. } => CallOutcome::ConnectError,
        CallError::Exchange(_) => CallOutcome::ExchangeError,
        // refused before any call (not observed as one): no connection was made
        CallError::CircuitOpen { .. } => CallOutcome::ConnectError,
    }
}

fn classify(err: SendRequestError, step: &StepPolicy) -> CallError {
    if let Some(tls) = tls_error(&err) {
        return CallError::Tls {
            url: origin_and_path(&step.url),
            reason: TlsFailure::of(tls),
            detail: tls.to_string(),
        };
    }
    match err {
        SendRequestError::Timeout => CallError::Timeout {
            ms: step
                .response_header_timeout
                .unwrap_or(step.timeout)
                .as_millis(),
        },
        SendRequestError::Connect(ConnectError::Timeout) => CallError::Timeout {
            ms: step.timeout.as_millis(),
        },
        // awc's name for a connection that closed before the answer's head: the request was
        // sent, so this is an exchange failure (a pooled keep-alive connection the auth
        // service had closed meanwhile), which deserves the fresh-connection retry
        SendRequestError::Connect(ConnectError::Disconnected) => {
            CallError::Exchange("the connection closed before the answer".into())
        }
        SendRequestError::Connect(e) => CallError::Connect(e.to_string()),
        other => CallError::Exchange(other.to_string()),
    }
}

/// The rustls error behind a failed call: a failed handshake, or an alert met on the first
/// read or write (a TLS 1.3 server refusing a missing or unknown client certificate says so
/// only after the handshake).
fn tls_error(err: &SendRequestError) -> Option<&rustls::Error> {
    match err {
        SendRequestError::Connect(ConnectError::Io(e))
        | SendRequestError::Send(e)
        | SendRequestError::Response(ParseError::Io(e)) => rustls_error(e),
        _ => None,
    }
}

/// `scheme://authority/path` of `url`, for logs: the query, which may carry a key, is left out.
fn origin_and_path(url: &actix_web::http::Uri) -> String {
    format!(
        "{}://{}{}",
        url.scheme_str().unwrap_or("https"),
        url.authority().map_or("", |a| a.as_str()),
        url.path()
    )
}

/// The answer's `content-length`, when present and well-formed.
fn declared_length(headers: &header::HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{moving_average, worth_starting};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_call_starts_only_with_the_budget_an_exchange_takes() {
        assert!(
            worth_starting(400 * MS, Duration::ZERO),
            "nothing known yet"
        );
        assert!(worth_starting(100 * MS, 100 * MS));
        assert!(!worth_starting(99 * MS, 100 * MS));
    }

    #[test]
    fn the_average_starts_at_the_first_exchange_and_moves_by_an_eighth() {
        assert_eq!(moving_average(Duration::ZERO, 80 * MS), 80 * MS);
        assert_eq!(moving_average(80 * MS, 160 * MS), 90 * MS);
    }
}
