//! The one place where a check's outcome becomes Envoy's answer: 200 allows, 401 denies,
//! 403 for no route or an unusable AuthConfig, 503 when the auth service could not decide.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use log::{error, warn};

use crate::config::types::ObjectKey;
use crate::passthrough::{CallError, Decision};

/// How a check ended.
#[derive(Debug)]
pub enum Outcome {
    /// No virtual host or route matched (or the path lacked `--path-prefix`).
    NoRoute,
    /// The matched route has no extauth, or disables it.
    Unprotected,
    /// The route's AuthConfig is missing or invalid.
    ConfigUnavailable(ObjectKey),
    /// The host matched a domain several VirtualServices claim (none of them is in force), or
    /// the domain of an invalid VirtualService no version of which is in force.
    Contested {
        /// The domain pattern.
        domain: String,
        /// Who claims it.
        claimants: Vec<ObjectKey>,
    },
    /// Envoy named a route (a trusted `x-extauth-route`) that no VirtualService in force has.
    UnknownRoute(String),
    /// Without a route identity, the request routes differently as sent and normalised.
    Ambiguous(String),
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
            Outcome::Contested { domain, claimants } if claimants.len() == 1 => write!(
                f,
                "domain `{domain}` belongs to VirtualService {}, which is invalid and not in force (403)",
                claimants[0]
            ),
            Outcome::Contested { domain, claimants } => {
                let list: Vec<String> = claimants.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "domain `{domain}` is claimed by several VirtualServices ({}) (403)",
                    list.join(", ")
                )
            }
            Outcome::UnknownRoute(id) => write!(f, "unknown route identity `{id}` (403)"),
            Outcome::Ambiguous(what) => write!(f, "ambiguous request: {what} (403)"),
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

/// Headers of Envoy's answer, in order.
pub type AnswerHeaders = Vec<(
    actix_web::http::header::HeaderName,
    actix_web::http::header::HeaderValue,
)>;

impl Outcome {
    /// Envoy's answer for this outcome, status and headers, without logging anything (what
    /// [`Outcome::into_response`] answers; `extauth check` and `/explain` show it).
    pub fn into_answer(self) -> (StatusCode, AnswerHeaders) {
        match self {
            Outcome::Unprotected => (StatusCode::OK, Vec::new()),
            Outcome::NoRoute
            | Outcome::ConfigUnavailable(_)
            | Outcome::Contested { .. }
            | Outcome::UnknownRoute(_)
            | Outcome::Ambiguous(_) => (StatusCode::FORBIDDEN, Vec::new()),
            Outcome::Decided { decision, .. } => match decision {
                Decision::Allow { headers, .. } => (StatusCode::OK, headers),
                Decision::Deny { headers, .. } => (StatusCode::UNAUTHORIZED, headers),
                Decision::Error { .. } => (StatusCode::SERVICE_UNAVAILABLE, Vec::new()),
            },
            Outcome::NotReady | Outcome::Internal(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, Vec::new())
            }
        }
    }

    /// Envoy's answer for this outcome; failures that are not denials are logged at warn.
    pub fn into_response(self, took: Duration) -> HttpResponse {
        self.log(took);
        let (status, headers) = self.into_answer();
        with_headers(status, headers)
    }

    /// Logs what deserves it about this outcome: failures that are not denials.
    fn log(&self, took: Duration) {
        // rounded to the microsecond: a field for programs, not a float artefact
        let ms = (took.as_secs_f64() * 1e6).round() / 1e3;
        match self {
            Outcome::NoRoute | Outcome::Unprotected | Outcome::ConfigUnavailable(_) => {}
            Outcome::Contested { .. } => {
                error!(
                    cause:% = self,
                    duration_ms = ms;
                    "check for a contested domain, or one whose VirtualService is invalid; answering 403 until one valid VirtualService claims it"
                );
            }
            Outcome::UnknownRoute(id) => {
                if first_time(id) {
                    error!(
                        route = id.as_str(),
                        duration_ms = ms;
                        "Envoy named a route extauth does not know (its configuration is older or newer than the config files); answering 403 on it: regenerate and restart Envoy (logged once per route)"
                    );
                }
            }
            Outcome::Ambiguous(what) => {
                // anyone who can reach the check port can send these: one line a second, with
                // how many were not logged (every one is counted in the metric)
                if let Some(unlogged) = AMBIGUOUS_LOG.allow() {
                    warn!(
                        cause = what.as_str(),
                        duration_ms = ms,
                        not_logged = unlogged;
                        "ambiguous request: it routes differently as sent and normalised; answering 403"
                    );
                }
            }
            Outcome::Decided { config, decision } => match decision {
                Decision::Allow { bypassed, .. } => {
                    for (step, cause) in bypassed {
                        let Some(unlogged) = failure_logged(cause) else {
                            continue;
                        };
                        warn!(
                            not_logged = unlogged,
                            auth_config:% = config,
                            step = step.as_str(),
                            cause:% = cause,
                            duration_ms = ms;
                            "auth service failed; allowed by failureModeAllow"
                        );
                    }
                }
                Decision::Deny {
                    step,
                    reason,
                    fault,
                    ..
                } => {
                    if *fault {
                        warn!(
                            auth_config:% = config,
                            step = step.as_str(),
                            cause = reason.as_str(),
                            duration_ms = ms;
                            "unusable answer from the auth service; denying"
                        );
                    }
                }
                Decision::Error { step, cause } => {
                    let Some(unlogged) = failure_logged(cause) else {
                        return;
                    };
                    warn!(
                        not_logged = unlogged,
                        auth_config:% = config,
                        step = step.as_str(),
                        cause:% = cause,
                        duration_ms = ms;
                        "auth service failed; answering 503"
                    );
                }
            },
            Outcome::NotReady => {
                warn!(
                    cause = "config not loaded yet",
                    duration_ms = ms;
                    "check before the config directory was loaded; answering 503"
                );
            }
            Outcome::Internal(why) => {
                error!(cause = why.as_str(), duration_ms = ms; "internal error; answering 503");
            }
        }
    }
}

/// Whether `identity` is reported for the first time (at most [`REPORTED_ROUTES`] are
/// remembered; past that every one is reported).
fn first_time(identity: &str) -> bool {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(identity) {
        return false;
    }
    if seen.len() < REPORTED_ROUTES {
        seen.insert(identity.to_string());
    }
    true
}

/// At most one `ambiguous request` line a second.
static AMBIGUOUS_LOG: OncePerSecond = OncePerSecond::new();

/// At most one line a second for checks failed at once by an open circuit breaker: the
/// breaker logs when it opens and closes, and while it is open every check fails in
/// microseconds (a line each would flood the log).
static CIRCUIT_OPEN_LOG: OncePerSecond = OncePerSecond::new();

/// Whether a step failure with `cause` is logged, and how many like it were not logged
/// before it (0 for any failure but an open circuit breaker's, which are all logged).
fn failure_logged(cause: &CallError) -> Option<u64> {
    match cause {
        CallError::CircuitOpen { .. } => CIRCUIT_OPEN_LOG.allow(),
        _ => Some(0),
    }
}

/// Lets one event a second through, counting the others.
struct OncePerSecond {
    /// The second (since the epoch) of the last event let through.
    last: AtomicU64,
    /// Events not let through since.
    held: AtomicU64,
}

impl OncePerSecond {
    const fn new() -> Self {
        OncePerSecond {
            last: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// `Some(events held back since the last one let through)` when this one may go.
    fn allow(&self) -> Option<u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last.load(Ordering::Relaxed);
        if last != now
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.held.swap(0, Ordering::Relaxed));
        }
        self.held.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// How many unknown route identities are remembered as already logged.
const REPORTED_ROUTES: usize = 1024;

fn with_headers(status: StatusCode, headers: AnswerHeaders) -> HttpResponse {
    let mut resp = HttpResponse::build(status).finish();
    for (name, value) in headers {
        resp.headers_mut().append(name, value);
    }
    resp
}
