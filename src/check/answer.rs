//! The one place where a check's outcome becomes Envoy's answer: 200 allows, 401 denies,
//! 403 for no route or an unusable AuthConfig, 503 when the auth service could not decide.

use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use log::{error, warn};

use crate::config::types::ObjectKey;
use crate::passthrough::Decision;

/// How a check ended.
#[derive(Debug)]
pub enum Outcome {
    /// No virtual host or route matched (or the path lacked `--path-prefix`).
    NoRoute,
    /// The matched route has no extauth, or disables it.
    Unprotected,
    /// The route's AuthConfig is missing or invalid.
    ConfigUnavailable(ObjectKey),
    /// The host matched a domain several VirtualServices claim; none of them is in force.
    Contested {
        /// The domain pattern.
        domain: String,
        /// Who claims it.
        claimants: Vec<ObjectKey>,
    },
    /// The AuthConfig's chain decided.
    Decided {
        /// The AuthConfig.
        config: ObjectKey,
        /// Its decision.
        decision: Decision,
    },
    /// The config directory has not been loaded yet; fails closed with 503 so that Envoy's
    /// own failure handling applies (Gloo answered 403 here, see docs).
    NotReady,
    /// extauth itself failed (an actor was gone); fails closed.
    Internal(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Outcome::NoRoute => f.write_str("no route (403)"),
            Outcome::Unprotected => f.write_str("route without extauth (200)"),
            Outcome::ConfigUnavailable(key) => {
                write!(f, "AuthConfig {key} missing or invalid (403)")
            }
            Outcome::Contested { domain, claimants } => {
                let list: Vec<String> = claimants.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "domain `{domain}` is claimed by several VirtualServices ({}) (403)",
                    list.join(", ")
                )
            }
            Outcome::Decided {
                config,
                decision: Decision::Allow { bypassed, .. },
            } if bypassed.is_empty() => {
                write!(f, "AuthConfig {config}: allowed (200)")
            }
            Outcome::Decided {
                config,
                decision: Decision::Allow { .. },
            } => {
                write!(f, "AuthConfig {config}: allowed by failureModeAllow (200)")
            }
            Outcome::Decided {
                config,
                decision: Decision::Deny { step, reason, .. },
            } => {
                write!(f, "AuthConfig {config}: denied by {step}: {reason} (401)")
            }
            Outcome::Decided {
                config,
                decision: Decision::Error { step, cause },
            } => {
                write!(f, "AuthConfig {config}: {step} failed: {cause} (503)")
            }
            Outcome::NotReady => f.write_str("config not loaded yet (503)"),
            Outcome::Internal(why) => write!(f, "internal error: {why} (503)"),
        }
    }
}

impl Outcome {
    /// Envoy's answer for this outcome; failures that are not denials are logged at warn.
    pub fn into_response(self, took: Duration) -> HttpResponse {
        // rounded to the microsecond: a field for programs, not a float artefact
        let ms = (took.as_secs_f64() * 1e6).round() / 1e3;
        match self {
            Outcome::NoRoute => HttpResponse::Forbidden().finish(),
            Outcome::Unprotected => HttpResponse::Ok().finish(),
            Outcome::ConfigUnavailable(_) => HttpResponse::Forbidden().finish(),
            Outcome::Contested { .. } => {
                error!(
                    cause:% = self,
                    duration_ms = ms;
                    "check for a contested domain; answering 403 until only one VirtualService claims it"
                );
                HttpResponse::Forbidden().finish()
            }
            Outcome::Decided { config, decision } => match decision {
                Decision::Allow { headers, bypassed } => {
                    for (step, cause) in &bypassed {
                        warn!(
                            auth_config:% = config,
                            step = step.as_str(),
                            cause:% = cause,
                            duration_ms = ms;
                            "auth service failed; allowed by failureModeAllow"
                        );
                    }
                    with_headers(StatusCode::OK, headers)
                }
                Decision::Deny {
                    headers,
                    step,
                    reason,
                    fault,
                } => {
                    if fault {
                        warn!(
                            auth_config:% = config,
                            step = step.as_str(),
                            cause = reason.as_str(),
                            duration_ms = ms;
                            "unusable answer from the auth service; denying"
                        );
                    }
                    with_headers(StatusCode::UNAUTHORIZED, headers)
                }
                Decision::Error { step, cause } => {
                    warn!(
                        auth_config:% = config,
                        step = step.as_str(),
                        cause:% = cause,
                        duration_ms = ms;
                        "auth service failed; answering 503"
                    );
                    HttpResponse::ServiceUnavailable().finish()
                }
            },
            Outcome::NotReady => {
                warn!(
                    cause = "config not loaded yet",
                    duration_ms = ms;
                    "check before the config directory was loaded; answering 503"
                );
                HttpResponse::ServiceUnavailable().finish()
            }
            Outcome::Internal(why) => {
                error!(cause = why.as_str(), duration_ms = ms; "internal error; answering 503");
                HttpResponse::ServiceUnavailable().finish()
            }
        }
    }
}

fn with_headers(
    status: StatusCode,
    headers: Vec<(
        actix_web::http::header::HeaderName,
        actix_web::http::header::HeaderValue,
    )>,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status).finish();
    for (name, value) in headers {
        resp.headers_mut().append(name, value);
    }
    resp
}
