//! `extauth check --call`: the calls made exactly as the server makes them (the server's
//! [`StepClient`], with the step's timeouts, connection settings and TLS, driven by the
//! server's [`run_chain_traced`]), each step's request, answer, time and outcome written down
//! on the way, and the `booleanExpr` evaluation node by node.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use super::model::{ExprStep, StepAnswer, StepInfo};
use super::redact::Redactor;
use super::steps;
use super::ExplainError;
use crate::config::types::ObjectKey;
use crate::metrics::Metrics;
use crate::passthrough::{
    run_chain_traced, AuthRequest, CheckRequest, Decision, StepCaller, StepClient, StepOutcome,
    StepShared,
};
use crate::policy::expr::{Expr, ExprTrace};
use crate::policy::AuthPolicy;

/// Calls each step with the server's client and writes down what happened.
struct Recording<'a> {
    policy: &'a AuthPolicy,
    clients: Vec<StepClient>,
    redact: Redactor,
    steps: RefCell<Vec<StepInfo>>,
}

impl StepCaller for Recording<'_> {
    async fn call(&self, index: usize, request: AuthRequest) -> StepOutcome {
        let step = &self.policy.steps[index];
        let shown = steps::shown(step, &request, self.redact);
        let started = Instant::now();
        let called = self.clients[index].call(step, request).await;
        let took = started.elapsed();
        let outcome = called.outcome;
        let mut answer = answer_of(step, &outcome, took.as_secs_f64() * 1e3, self.redact);
        if let Some(head) = called.head {
            answer.status = Some(head.status);
            answer.received = self
                .redact
                .headers(head.headers.iter().map(|(n, v)| (n, v)), &[]);
        }
        if let Some(info) = self.steps.borrow_mut().get_mut(index) {
            info.request = Some(shown);
            info.answer = Some(answer);
        }
        outcome
    }
}

/// A step's answer as extauth read it, from its outcome (the status and every header it
/// arrived with are filled in from the recorded answer).
fn answer_of(
    step: &crate::policy::StepPolicy,
    outcome: &StepOutcome,
    took_ms: f64,
    redact: Redactor,
) -> StepAnswer {
    let took_ms = (took_ms * 1e3).round() / 1e3;
    let headers = |list: &[(
        actix_web::http::header::HeaderName,
        actix_web::http::header::HeaderValue,
    )]| { redact.headers(list.iter().map(|(n, v)| (n, v)), &[]) };
    match outcome {
        StepOutcome::Allow { headers: h, state } => StepAnswer {
            status: Some(200),
            received: Vec::new(),
            headers: headers(h),
            state: state.clone().map(serde_json::Value::Object),
            took_ms,
            outcome: "allow".into(),
            cause: None,
            bypassed: false,
        },
        StepOutcome::Deny {
            headers: h,
            reason,
            fault,
        } => StepAnswer {
            received: Vec::new(),
            status: if *fault {
                Some(200)
            } else {
                reason
                    .strip_prefix("auth service answered ")
                    .and_then(|s| s.parse().ok())
            },
            headers: headers(h),
            state: None,
            took_ms,
            outcome: "deny".into(),
            cause: Some(reason.clone()),
            bypassed: false,
        },
        StepOutcome::Error(cause) => StepAnswer {
            received: Vec::new(),
            status: match cause {
                crate::passthrough::CallError::Status(s) => Some(*s),
                _ => None,
            },
            headers: Vec::new(),
            state: None,
            took_ms,
            outcome: "error".into(),
            cause: Some(cause.to_string()),
            bypassed: step.failure_mode_allow,
        },
    }
}

/// Records the `booleanExpr` evaluation: each node entered (indented by depth), its value when
/// left, and each right side a short-circuit skipped.
struct ExprRecorder<'a> {
    names: &'a [String],
    open: RefCell<Vec<usize>>,
    steps: RefCell<Vec<ExprStep>>,
}

impl ExprTrace for ExprRecorder<'_> {
    fn enter(&self, node: &Expr) {
        let depth = self.open.borrow().len();
        let mut steps = self.steps.borrow_mut();
        self.open.borrow_mut().push(steps.len());
        steps.push(ExprStep {
            depth,
            node: node.display(self.names).to_string(),
            value: None,
            skipped: false,
        });
    }

    fn leave(&self, _: &Expr, value: bool) {
        if let Some(i) = self.open.borrow_mut().pop() {
            self.steps.borrow_mut()[i].value = Some(value);
        }
    }

    fn skipped(&self, node: &Expr) {
        let depth = self.open.borrow().len();
        self.steps.borrow_mut().push(ExprStep {
            depth,
            node: node.display(self.names).to_string(),
            value: None,
            skipped: true,
        });
    }
}

/// What `--call` found: the steps (request and answer each), the evaluation, the decision.
pub struct Called {
    /// Every step, those not called with why.
    pub steps: Vec<StepInfo>,
    /// The `booleanExpr` evaluation, node by node.
    pub evaluation: Vec<ExprStep>,
    /// The chain's decision.
    pub decision: Decision,
}

/// Runs AuthConfig `key`'s chain (version `hash`) for `check` as the server does; must run
/// inside an actix system (the HTTP client lives on its thread).
pub async fn perform(
    key: &ObjectKey,
    hash: &str,
    policy: &Arc<AuthPolicy>,
    check: &CheckRequest,
    planned: Vec<StepInfo>,
    redact: Redactor,
) -> Result<Called, ExplainError> {
    let metrics = Metrics::new()
        .map_err(|e| ExplainError::Setup(format!("metrics: {e}")))?
        .auth_config(key);
    let shared = StepShared::for_policy(policy, hash, &metrics);
    let clients = policy
        .steps
        .iter()
        .zip(shared.iter())
        .map(|(step, shared)| {
            StepClient::new(step, shared, step.max_conns, metrics.clone()).recording_answers()
        })
        .collect();
    let recording = Recording {
        policy,
        clients,
        redact,
        steps: RefCell::new(planned),
    };
    let names: Vec<String> = policy.steps.iter().map(|s| s.name.clone()).collect();
    let expr = ExprRecorder {
        names: &names,
        open: RefCell::default(),
        steps: RefCell::default(),
    };
    let decision = run_chain_traced(policy, &recording, check, &expr).await;
    let mut steps = recording.steps.into_inner();
    let bypassed: Vec<&str> = match &decision {
        Decision::Allow { bypassed, .. } => bypassed.iter().map(|(s, _)| s.as_str()).collect(),
        _ => Vec::new(),
    };
    for step in &mut steps {
        match &mut step.answer {
            Some(answer) => answer.bypassed = bypassed.contains(&step.name.as_str()),
            None => {
                // never built: the state it would carry is unknown
                step.request = None;
                step.not_called = Some(if policy.expr.is_some() {
                    "not needed: booleanExpr was decided without it".into()
                } else {
                    "not called: an earlier step denied or failed".into()
                });
            }
        }
    }
    Ok(Called {
        steps,
        evaluation: expr.steps.into_inner(),
        decision,
    })
}
