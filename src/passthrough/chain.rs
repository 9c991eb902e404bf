//! Running an AuthConfig's steps: in order (each must allow) or by `booleanExpr`, with state
//! flowing from step to step and headers accumulating.

use std::cell::RefCell;
use std::future::Future;

use actix_web::http::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::answer::{CallError, StepOutcome};
use super::request::{build_request, AuthRequest};
use super::CheckRequest;
use crate::policy::expr::{ExprTrace, NoTrace};
use crate::policy::AuthPolicy;

/// The final answer for one check.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Allow, with the headers the allowing steps returned.
    Allow {
        /// Headers for Envoy (upstream and client-on-success lists).
        headers: Vec<(HeaderName, HeaderValue)>,
        /// Steps that erred and were allowed by `failureModeAllow`, with the cause.
        bypassed: Vec<(String, CallError)>,
    },
    /// Deny, with the denying step's client headers.
    Deny {
        /// Headers for the client.
        headers: Vec<(HeaderName, HeaderValue)>,
        /// The denying step.
        step: String,
        /// Why, for logs.
        reason: String,
        /// The auth service's answer was unusable; logged at warn.
        fault: bool,
    },
    /// A step erred without `failureModeAllow`.
    Error {
        /// The step.
        step: String,
        /// The cause.
        cause: CallError,
    },
}

/// Performs one step's call. The actor implements it with awc; tests with a script.
pub trait StepCaller {
    /// Calls step `index` with `request`.
    fn call(&self, index: usize, request: AuthRequest) -> impl Future<Output = StepOutcome>;
}

struct Run {
    state: Map<String, Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
    bypassed: Vec<(String, CallError)>,
    last_deny: Option<Decision>,
}

/// Runs the policy for `check`; steps are called only when needed for the result.
pub async fn run_chain<C: StepCaller>(
    policy: &AuthPolicy,
    caller: &C,
    check: &CheckRequest,
) -> Decision {
    run_chain_traced(policy, caller, check, &NoTrace).await
}

/// [`run_chain`], telling `trace` each step of the `booleanExpr` evaluation (when the policy
/// has one), for `extauth check`.
pub async fn run_chain_traced<C: StepCaller, T: ExprTrace>(
    policy: &AuthPolicy,
    caller: &C,
    check: &CheckRequest,
    trace: &T,
) -> Decision {
    let run = RefCell::new(Run {
        state: Map::new(),
        headers: Vec::new(),
        bypassed: Vec::new(),
        last_deny: None,
    });
    let step = |index: usize| {
        let run = &run;
        async move {
            let policy_step = &policy.steps[index];
            let request = build_request(policy_step, check, &run.borrow().state);
            let outcome = caller.call(index, request).await;
            let mut run = run.borrow_mut();
            match outcome {
                StepOutcome::Allow { headers, state } => {
                    run.headers.extend(headers);
                    if let Some(state) = state {
                        run.state = state;
                    }
                    Ok(true)
                }
                StepOutcome::Deny {
                    headers,
                    reason,
                    fault,
                } => {
                    let step = policy_step.name.clone();
                    run.last_deny = Some(Decision::Deny {
                        headers,
                        step,
                        reason,
                        fault,
                    });
                    Ok(false)
                }
                StepOutcome::Error(cause) if policy_step.failure_mode_allow => {
                    run.bypassed.push((policy_step.name.clone(), cause));
                    Ok(true)
                }
                StepOutcome::Error(cause) => Err((policy_step.name.clone(), cause)),
            }
        }
    };
    let result = match &policy.expr {
        Some(expr) => expr.eval_traced(&step, trace).await,
        None => {
            let mut all = Ok(true);
            for i in 0..policy.steps.len() {
                match step(i).await {
                    Ok(true) => {}
                    other => {
                        all = other;
                        break;
                    }
                }
            }
            all
        }
    };
    let run = run.into_inner();
    match result {
        Ok(true) => Decision::Allow {
            headers: run.headers,
            bypassed: run.bypassed,
        },
        Ok(false) => run.last_deny.unwrap_or_else(|| Decision::Deny {
            headers: Vec::new(),
            step: "booleanExpr".into(),
            reason: "booleanExpr is false".into(),
            fault: false,
        }),
        Err((step, cause)) => Decision::Error { step, cause },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::AuthConfigSpec;
    use actix_web::http::Method;
    use actix_web::web::Bytes;
    use std::cell::RefCell;

    struct Script {
        outcomes: Vec<StepOutcome>,
        calls: RefCell<Vec<(usize, AuthRequest)>>,
    }

    impl StepCaller for Script {
        async fn call(&self, index: usize, request: AuthRequest) -> StepOutcome {
            self.calls.borrow_mut().push((index, request));
            self.outcomes[index].clone()
        }
    }

    fn policy(yaml: &str) -> AuthPolicy {
        let spec: AuthConfigSpec = serde_norway::from_str(yaml).unwrap();
        crate::policy::compile(&spec).unwrap()
    }

    fn check() -> CheckRequest {
        CheckRequest {
            method: Method::GET,
            path: "/".into(),
            headers: Default::default(),
            body: Bytes::new(),
        }
    }

    fn allow(h: &'static str, state: Option<Value>) -> StepOutcome {
        StepOutcome::Allow {
            headers: vec![(
                HeaderName::from_static("x-step"),
                HeaderValue::from_static(h),
            )],
            state: state.map(|s| s.as_object().unwrap().clone()),
        }
    }

    fn deny() -> StepOutcome {
        StepOutcome::Deny {
            headers: Vec::new(),
            reason: "no".into(),
            fault: false,
        }
    }

    fn run(p: &AuthPolicy, outcomes: Vec<StepOutcome>) -> (Decision, Vec<usize>, Vec<AuthRequest>) {
        let script = Script {
            outcomes,
            calls: RefCell::new(Vec::new()),
        };
        let d = futures_util::FutureExt::now_or_never(run_chain(p, &script, &check())).unwrap();
        let calls = script.calls.into_inner();
        (
            d,
            calls.iter().map(|c| c.0).collect(),
            calls.into_iter().map(|c| c.1).collect(),
        )
    }

    const THREE: &str = "configs: [{name: a, passThroughAuth: {http: {url: 'http://a/', request: {passThroughState: true}, response: {readStateFromResponse: true}}}}, {name: b, passThroughAuth: {http: {url: 'http://b/', request: {passThroughState: true}}}}, {passThroughAuth: {failureModeAllow: true, http: {url: 'http://c/'}}}]";

    #[test]
    fn sequential_state_headers_and_stop_on_deny() {
        let p = policy(THREE);
        let (d, called, reqs) = run(
            &p,
            vec![
                allow("1", Some(serde_json::json!({"u": "bob"}))),
                allow("2", None),
                StepOutcome::Error(CallError::Status(503)),
            ],
        );
        assert_eq!(called, [0, 1, 2]);
        assert_eq!(
            serde_json::from_slice::<Value>(&reqs[1].body).unwrap(),
            serde_json::json!({"state": {"u": "bob"}})
        );
        match d {
            Decision::Allow { headers, bypassed } => {
                assert_eq!(headers.len(), 2);
                assert_eq!(
                    bypassed,
                    vec![("config_2".to_string(), CallError::Status(503))]
                );
            }
            other => panic!("{other:?}"),
        }
        let (d, called, _) = run(&p, vec![deny(), allow("2", None), allow("3", None)]);
        assert_eq!(called, [0]);
        assert!(matches!(d, Decision::Deny { step, .. } if step == "a"));
    }

    #[test]
    fn error_without_failure_mode_allow_ends_the_check() {
        let p = policy(THREE);
        let (d, called, _) = run(
            &p,
            vec![
                StepOutcome::Error(CallError::Timeout { ms: 5 }),
                allow("2", None),
                allow("3", None),
            ],
        );
        assert_eq!(called, [0]);
        assert_eq!(
            d,
            Decision::Error {
                step: "a".into(),
                cause: CallError::Timeout { ms: 5 }
            }
        );
    }

    #[test]
    fn boolean_expr_short_circuits() {
        let p = policy(&format!("{THREE}\nbooleanExpr: 'a || (b && !config_2)'"));
        let (d, called, _) = run(&p, vec![allow("1", None), deny(), deny()]);
        assert_eq!(called, [0]);
        assert!(matches!(d, Decision::Allow { .. }));
        let (d, called, _) = run(&p, vec![deny(), allow("2", None), deny()]);
        assert_eq!(called, [0, 1, 2]);
        assert!(matches!(d, Decision::Allow { .. }));
        let (d, _, _) = run(&p, vec![deny(), allow("2", None), allow("3", None)]);
        assert!(matches!(d, Decision::Deny { .. }));
    }
}
