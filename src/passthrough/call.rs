//! The HTTP call to the auth service over a connection-limited awc client.

use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use awc::error::{ConnectError, SendRequestError};
use tokio::sync::Semaphore;

use super::answer::{interpret, CallError, StepOutcome};
use super::request::AuthRequest;
use crate::policy::StepPolicy;

/// Largest answer body read when the step needs it (`readStateFromResponse`).
const STATE_BODY_LIMIT: usize = 1024 * 1024;
/// Largest answer body drained otherwise, so the connection can be reused.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Keep-alive expiry when `idleTimeout` is unset or 0 ("none").
const NO_IDLE_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// One step's client: an awc client capped at `maxConns` connections, and a semaphore with
/// as many permits so that waiting for a connection is visible and bounded by the budget.
pub struct StepClient {
    client: awc::Client,
    permits: Rc<Semaphore>,
}

impl StepClient {
    /// Builds the client for `step`; must run on the thread that will use it.
    pub fn new(step: &StepPolicy) -> Self {
        let connector = awc::Connector::new()
            .limit(step.max_conns)
            .timeout(step.timeout)
            .conn_keep_alive(step.idle_timeout.unwrap_or(NO_IDLE_EXPIRY))
            .conn_lifetime(NO_IDLE_EXPIRY);
        let client = awc::Client::builder()
            .connector(connector)
            .disable_redirects()
            .no_default_headers()
            .timeout(step.response_header_timeout.unwrap_or(step.timeout))
            .finish();
        StepClient {
            client,
            permits: Rc::new(Semaphore::new(step.max_conns)),
        }
    }

    /// Calls the auth service; the whole call, waiting for a connection included, is bounded
    /// by the step's `connectionTimeout`.
    pub async fn call(&self, step: &StepPolicy, request: AuthRequest) -> StepOutcome {
        let started = Instant::now();
        let budget = step.timeout;
        let attempt = async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| CallError::Exchange("client closed".into()))?;
            match self.exchange(step, &request).await {
                // a pooled keep-alive connection the server had closed: try once more, fresh
                Err(CallError::Exchange(_)) if started.elapsed() < budget / 2 => {
                    self.exchange(step, &request).await
                }
                other => other,
            }
        };
        match actix_rt::time::timeout(budget, attempt).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => StepOutcome::Error(e),
            Err(_) => StepOutcome::Error(CallError::Timeout {
                ms: budget.as_millis(),
            }),
        }
    }

    async fn exchange(
        &self,
        step: &StepPolicy,
        request: &AuthRequest,
    ) -> Result<StepOutcome, CallError> {
        let mut req = self.client.request(Method::POST, step.url.clone());
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
        let body = resp.body().limit(limit).await.map_err(|e| e.to_string());
        Ok(interpret(
            step,
            resp.status(),
            resp.headers(),
            body.as_deref().map_err(Clone::clone),
        ))
    }
}

fn classify(err: SendRequestError, step: &StepPolicy) -> CallError {
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
        SendRequestError::Connect(e) => CallError::Connect(e.to_string()),
        other => CallError::Exchange(other.to_string()),
    }
}
