//! Reading the auth service's answer: only 200 allows, 5xx is an error, anything else denies.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use regex::Regex;
use serde_json::{Map, Value};

use crate::cache::{Cacheable, Verdict};
use crate::policy::StepPolicy;
use crate::tls::TlsFailure;

/// Why a call gave no usable answer. These are errors, not denials: they fail closed (503) or
/// allow with `failureModeAllow`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The auth service answered 5xx.
    #[error("auth service answered {0}")]
    Status(u16),
    /// The budget ran out (waiting for a connection, connecting, or waiting for the answer).
    #[error("no answer within {ms} ms")]
    Timeout {
        /// The budget, in milliseconds.
        ms: u128,
    },
    /// The connection could not be made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection failed during the exchange (reset, closed, malformed answer).
    #[error("exchange failed: {0}")]
    Exchange(String),
    /// TLS with the auth service failed: the handshake, or the server ending the connection
    /// over it right after (a refused client certificate).
    #[error("TLS with {url} failed ({reason}): {detail}")]
    Tls {
        /// The auth service's url, without its query.
        url: String,
        /// The reason, as the metric label says it.
        reason: TlsFailure,
        /// rustls' words.
        detail: String,
    },
    /// The step's circuit breaker is open: the auth service was not called.
    #[error("circuit open after {errors} errors in a row; {}", next_try(.retry_in_ms))]
    CircuitOpen {
        /// Errors in a row that opened it.
        errors: u32,
        /// Time until a probe call may go out, in milliseconds; `None` while one is out.
        retry_in_ms: Option<u128>,
    },
}

/// When an open circuit breaker lets a call out again, in words.
fn next_try(retry_in_ms: &Option<u128>) -> String {
    match retry_in_ms {
        Some(ms) => format!("next try in {ms} ms"),
        None => "a probe call is out".into(),
    }
}

/// One step's result.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// 200: the headers to pass on, and the new state if the step reads it.
    Allow {
        /// Values of the step's upstream and success header lists found in the answer.
        headers: Vec<(HeaderName, HeaderValue)>,
        /// Replacement state (with `readStateFromResponse`).
        state: Option<Map<String, Value>>,
    },
    /// A denial.
    Deny {
        /// Values of `allowedClientHeadersOnDenied` found in the answer.
        headers: Vec<(HeaderName, HeaderValue)>,
        /// Why, for logs.
        reason: String,
        /// The auth service's answer was unusable (an unreadable state): worth a warning,
        /// unlike an ordinary denial.
        fault: bool,
    },
    /// No decision.
    Error(CallError),
}

/// A step's outcome as its call gave it, with how long the step's decision cache may keep it
/// (`None`: not at all, or the step has no cache).
#[derive(Debug)]
pub struct Called {
    /// The outcome.
    pub outcome: StepOutcome,
    /// Its lifetime in the cache, from `Cache-Control` and the step's `cache` settings.
    pub fresh_for: Option<Duration>,
    /// The answer's status and every header, kept only by a client that records answers
    /// (`extauth check --call`); `None` otherwise or when nothing was answered.
    pub head: Option<AnswerHead>,
}

/// The status and headers of an auth service's answer, as they arrived.
#[derive(Debug, Clone)]
pub struct AnswerHead {
    /// The status code.
    pub status: u16,
    /// Every header, in order, repeats kept.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl From<StepOutcome> for Called {
    /// An outcome that is not cached (an error, or a step without a cache).
    fn from(outcome: StepOutcome) -> Self {
        Called {
            outcome,
            fresh_for: None,
            head: None,
        }
    }
}

impl Cacheable for StepOutcome {
    fn verdict(&self) -> Verdict {
        match self {
            StepOutcome::Allow { .. } => Verdict::Allow,
            StepOutcome::Deny { fault: false, .. } => Verdict::Deny,
            // an unreadable state is a broken answer, not a decision
            StepOutcome::Deny { fault: true, .. } | StepOutcome::Error(_) => Verdict::Failed,
        }
    }

    fn timed_out(budget: Duration) -> Self {
        StepOutcome::Error(CallError::Timeout {
            ms: budget.as_millis(),
        })
    }
}

fn pick(answer: &HeaderMap, lists: &[&[HeaderName]]) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for list in lists {
        for name in list.iter() {
            for value in answer.get_all(name) {
                out.push((name.clone(), value.clone()));
            }
        }
    }
    out
}

/// Interprets an answer: status, headers and (when the step reads state) body.
pub fn interpret(
    step: &StepPolicy,
    status: StatusCode,
    headers: &HeaderMap,
    body: Result<&[u8], String>,
) -> StepOutcome {
    if status.is_server_error() {
        return StepOutcome::Error(CallError::Status(status.as_u16()));
    }
    if status != StatusCode::OK {
        return StepOutcome::Deny {
            headers: pick(headers, &[&step.client_headers_on_denied]),
            reason: format!("auth service answered {}", status.as_u16()),
            fault: false,
        };
    }
    let state = if step.read_state {
        match body
            .map_err(|e| format!("cannot read the answer body: {e}"))
            .and_then(parse_state)
        {
            Ok(state) => Some(state),
            Err(reason) => {
                return StepOutcome::Deny {
                    headers: Vec::new(),
                    reason: format!("readStateFromResponse: {reason}"),
                    fault: true,
                }
            }
        }
    } else {
        None
    };
    StepOutcome::Allow {
        headers: pick(
            headers,
            &[
                &step.upstream_headers,
                &step.upstream_headers_to_overwrite,
                &step.client_headers_on_success,
            ],
        ),
        state,
    }
}

/// Parses `{"state": {...}}`.
fn parse_state(body: &[u8]) -> Result<Map<String, Value>, String> {
    #[derive(serde::Deserialize)]
    struct WithState {
        state: Map<String, Value>,
    }
    // serde quotes the offending value, which may be a secret meant for the next step: the
    // reason and the position are kept, quoted values are not
    static QUOTED: OnceLock<Regex> = OnceLock::new();
    let quoted = QUOTED.get_or_init(|| Regex::new(r#""(?:[^"\\]|\\.)*""#).unwrap());
    serde_json::from_slice::<WithState>(body)
        .map(|w| w.state)
        .map_err(|e| {
            let reason = e.to_string();
            let reason = quoted.replace_all(&reason, "\"<redacted>\"");
            format!("the answer body is not {{\"state\": {{...}}}}: {reason}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::AuthConfigSpec;

    fn step(extra: &str) -> StepPolicy {
        let yaml = format!(
            "configs: [{{passThroughAuth: {{http: {{url: 'http://a/', response: {{{extra}}}}}}}}}]"
        );
        let spec: AuthConfigSpec = serde_norway::from_str(&yaml).unwrap();
        crate::policy::compile(&spec).unwrap().steps.remove(0)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn status_classes() {
        let s = step("allowedClientHeadersOnDenied: [www-authenticate]");
        let h = headers(&[("www-authenticate", "Basic"), ("x-other", "1")]);
        assert_eq!(
            interpret(&s, StatusCode::BAD_GATEWAY, &h, Ok(b"")),
            StepOutcome::Error(CallError::Status(502))
        );
        for code in [201u16, 204, 302, 401, 403, 404] {
            match interpret(&s, StatusCode::from_u16(code).unwrap(), &h, Ok(b"")) {
                StepOutcome::Deny { headers, .. } => assert_eq!(headers.len(), 1, "{code}"),
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[test]
    fn allow_picks_listed_headers_only() {
        let s = step("allowedUpstreamHeaders: [x-user, x-absent], allowedUpstreamHeadersToOverwrite: [x-role], allowedClientHeadersOnSuccess: [set-cookie]");
        let h = headers(&[
            ("x-user", "bob"),
            ("x-role", "admin"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-secret", "no"),
        ]);
        let StepOutcome::Allow { headers, state } = interpret(&s, StatusCode::OK, &h, Ok(b""))
        else {
            panic!()
        };
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["x-user", "x-role", "set-cookie", "set-cookie"]);
        assert!(state.is_none());
    }

    #[test]
    fn state_errors_quote_no_value_of_the_body() {
        let s = step("readStateFromResponse: true");
        let body = br#"{"state": "S3CRET-TOKEN"}"#;
        match interpret(&s, StatusCode::OK, &HeaderMap::new(), Ok(body)) {
            StepOutcome::Deny { reason, .. } => {
                assert!(!reason.contains("S3CRET"), "{reason}");
                assert!(
                    reason.contains("invalid type"),
                    "the reason stays: {reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_must_parse() {
        let s = step("readStateFromResponse: true");
        let h = HeaderMap::new();
        assert!(matches!(
            interpret(&s, StatusCode::OK, &h, Ok(br#"{"state": {"a": 1}}"#)),
            StepOutcome::Allow { state: Some(_), .. }
        ));
        for bad in [&b"not json"[..], b"{}", br#"{"state": 3}"#, b""] {
            assert!(matches!(
                interpret(&s, StatusCode::OK, &h, Ok(bad)),
                StepOutcome::Deny { .. }
            ));
        }
    }
}
