//! What a finished check leaves behind: its metrics and, at debug, one log line.

use std::time::Duration;

use actix_web::http::header;
use actix_web::HttpRequest;
use log::{debug, log_enabled, Level};

use super::Outcome;
use crate::logging::redacted_headers;
use crate::metrics::{CheckDecision, ConfigMetrics, Metrics};
use crate::passthrough::Decision;

/// The `decision` label of an outcome.
pub(super) fn decision(outcome: &Outcome) -> CheckDecision {
    match outcome {
        Outcome::NoRoute => CheckDecision::NoRoute,
        Outcome::Unprotected => CheckDecision::Unprotected,
        Outcome::ConfigUnavailable(_) => CheckDecision::ConfigMissing,
        Outcome::Contested { .. } => CheckDecision::Conflict,
        Outcome::UnknownRoute(_) => CheckDecision::UnknownRoute,
        Outcome::Ambiguous(_) => CheckDecision::Ambiguous,
        Outcome::Decided { decision, .. } => match decision {
            Decision::Allow { bypassed, .. } if bypassed.is_empty() => CheckDecision::Allowed,
            Decision::Allow { .. } => CheckDecision::FailureModeAllowed,
            Decision::Deny { .. } => CheckDecision::Denied,
            Decision::Error { .. } => CheckDecision::Error,
        },
        Outcome::NotReady | Outcome::Internal(_) => CheckDecision::Error,
    }
}

/// Counts and times a check; `config` is the AuthConfig that decided it, if any.
pub(super) fn record(
    metrics: &Metrics,
    config: Option<&ConfigMetrics>,
    outcome: &Outcome,
    took: Duration,
) {
    let decision = decision(outcome);
    metrics.check_finished(decision, took);
    match (outcome, config) {
        (Outcome::ConfigUnavailable(key), _) => metrics.config_missing(key),
        (_, Some(config)) => {
            config.count(decision);
            if let Outcome::Decided {
                decision: Decision::Allow { bypassed, .. },
                ..
            } = outcome
            {
                if !bypassed.is_empty() {
                    config.bypassed(bypassed.len());
                }
            }
        }
        (_, None) => metrics.unattributed(decision),
    }
}

/// The debug line of a check: the outcome, the path without its query, the host, and the
/// headers Envoy forwarded with the values of `--redact-headers` masked.
pub(super) fn log(
    req: &HttpRequest,
    raw: &str,
    config: Option<&ConfigMetrics>,
    outcome: &Outcome,
    took: Duration,
) {
    if !log_enabled!(Level::Debug) {
        return;
    }
    let auth_config = match outcome {
        Outcome::Decided { config, .. } | Outcome::ConfigUnavailable(config) => config.to_string(),
        _ => config.map(|c| c.label().to_string()).unwrap_or_default(),
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    debug!(
        method = req.method().as_str(),
        path = raw.split('?').next().unwrap_or(""),
        host = host,
        auth_config = auth_config.as_str(),
        decision = decision(outcome).as_str(),
        duration_ms = (took.as_secs_f64() * 1e6).round() / 1e3,
        headers:% = redacted_headers(req.headers());
        "check: {outcome}"
    );
}
