//! The ext_authz endpoint: reads Envoy's check, picks the AuthConfig by routing, asks that
//! config's actor, and turns the outcome into Envoy's answer (in [`answer`], the one place
//! where outcomes become HTTP statuses).

mod answer;
mod observe;

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::http::Method;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use arc_swap::ArcSwap;
use log::error;

pub use answer::{AnswerHeaders, Outcome};

use crate::config::types::ObjectKey;
use crate::metrics::{ConfigMetrics, Metrics};
use crate::passthrough::{decide_from_caches, Check, CheckRequest, Dispatch, HeaderList};
use crate::routing::identity::ROUTE_HEADER;
use crate::routing::{as_sent, route_checked, AuthTarget, RouteDecision};

/// Largest check body accepted (Envoy's `with_request_body.max_request_bytes` should be lower).
pub const MAX_CHECK_BODY: usize = 8 * 1024 * 1024;

/// How long a check's body may take to arrive once its head has (the head itself has actix-web's
/// 5 s request timeout): then 408 and the connection is closed.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Shared state of the check endpoint.
#[derive(Clone)]
pub struct CheckState {
    /// The current dispatch table, replaced on every config update.
    pub dispatch: Arc<ArcSwap<Dispatch>>,
    /// `--path-prefix`: what Envoy's `path_prefix` puts before the original path.
    pub path_prefix: Option<String>,
    /// Where checks are counted and timed.
    pub metrics: Arc<Metrics>,
    /// `--trust-route-header`: the route identity Envoy sets (`x-extauth-route`) decides the
    /// route; without it the header is ignored and extauth matches the request itself.
    pub trust_route_header: bool,
    /// Index of the worker thread serving this copy: picks the AuthConfig shard on the same
    /// thread.
    pub worker: usize,
}

/// Registers the catch-all check handler (any method, any path).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_CHECK_BODY))
        .default_service(web::to(handle));
}

async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<CheckState>,
) -> HttpResponse {
    let body = match read_body(&req, payload).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let started = Instant::now();
    let _in_flight = state.metrics.check_started();
    let raw = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let (outcome, config) = decide(&req, raw, body, &state, started).await;
    let took = started.elapsed();
    observe::record(&state.metrics, config.as_deref(), &outcome, took);
    observe::log(&req, raw, config.as_deref(), &outcome, took);
    outcome.into_response(took)
}

/// The check's body, up to [`MAX_CHECK_BODY`] (the `Bytes` extractor: 413 beyond, 400 when
/// it breaks off), within [`BODY_TIMEOUT`] (408 and the connection closed after). The body of
/// a WebSocket upgrade or a CONNECT only ends with the connection, and Envoy sends neither
/// with a body: those checks are decided on their head alone instead of waiting for it.
async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<Bytes, HttpResponse> {
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let websocket = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    if req.method() == Method::CONNECT || (websocket && !chunked) {
        return Ok(Bytes::new());
    }
    // HTTP/1 with no length and no chunking: there is no body (most checks), nothing to wait for
    let http1 = req.version() < actix_web::http::Version::HTTP_2;
    if http1 && !chunked && !req.headers().contains_key(header::CONTENT_LENGTH) {
        return Ok(Bytes::new());
    }
    let body = Bytes::from_request(req, &mut payload.into_inner());
    match actix_rt::time::timeout(BODY_TIMEOUT, body).await {
        Ok(read) => read.map_err(|e| e.error_response()),
        // a body that stops arriving would hold its connection (and a descriptor) forever
        Err(_) => Err(HttpResponse::RequestTimeout().force_close().finish()),
    }
}

/// Strips `prefix` (`--path-prefix`) from `path`; the remainder must itself be a path.
pub fn strip_prefix<'a>(path: &'a str, prefix: Option<&str>) -> Option<&'a str> {
    match prefix {
        None => Some(path),
        Some(p) => path.strip_prefix(p).filter(|rest| rest.starts_with('/')),
    }
}

/// The outcome, and the metric handles of the AuthConfig that decided it, if any.
async fn decide(
    req: &HttpRequest,
    raw: &str,
    body: Bytes,
    state: &CheckState,
    started: Instant,
) -> (Outcome, Option<Arc<ConfigMetrics>>) {
    let Some(path) = strip_prefix(raw, state.path_prefix.as_deref()) else {
        return (Outcome::NoRoute, None);
    };
    let dispatch = state.dispatch.load_full();
    if !dispatch.loaded {
        return (Outcome::NotReady, None);
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    // with a trusted identity, the Host is the one the generated Envoy routed on and forwards
    // (port and trailing dot already stripped): compared as sent
    let decision = match trusted_route(req.headers(), state.trust_route_header) {
        Some(Ok(identity)) => match dispatch.routes.route_by_identity(identity, &as_sent(host)) {
            Some(decision) => decision,
            None => return (Outcome::UnknownRoute(identity.to_string()), None),
        },
        Some(Err(())) => return (Outcome::UnknownRoute("<unreadable>".into()), None),
        None => {
            let method = req.method().as_str();
            match route_checked(&dispatch.routes, method, host, path, req.headers()) {
                Ok(decision) => decision,
                Err(ambiguity) => return (Outcome::Ambiguous(ambiguity.to_string()), None),
            }
        }
    };
    let (key, virtual_service, route) = match consult(decision) {
        Ok(consulted) => consulted,
        Err(outcome) => return (outcome, None),
    };
    let Some(target) = dispatch.actors.get(key) else {
        let cause = if dispatch.invalid.contains(key) {
            "invalid"
        } else {
            "missing"
        };
        error!(
            auth_config:% = key,
            virtual_service:% = virtual_service,
            route:% = route,
            cause = cause,
            duration_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
            "VirtualService {virtual_service} route {route} refers to AuthConfig {key}, which is {cause}; answering 403"
        );
        return (Outcome::ConfigUnavailable(key.clone()), None);
    };
    let config = key.clone();
    let check = CheckRequest {
        method: req.method().clone(),
        path: path.to_string(),
        headers: forwarded_headers(req.headers(), &target.policy.forwarded_headers),
        body,
    };
    // a check every needed step's decision cache answers is decided here, without the actor
    if target.cached {
        if let Some(decision) = decide_from_caches(&target.policy, &target.shared, &check) {
            return (
                Outcome::Decided { config, decision },
                Some(target.metrics.clone()),
            );
        }
    }
    let outcome = match target
        .shard(state.worker)
        .send(Check(Arc::new(check)))
        .await
    {
        Ok(decision) => Outcome::Decided { config, decision },
        Err(e) => Outcome::Internal(format!("AuthConfig {config}: actor unavailable: {e}")),
    };
    (outcome, Some(target.metrics.clone()))
}

/// What a route decision asks of the check: the AuthConfig to consult, with the
/// VirtualService and the route that name it; or the outcome, when no AuthConfig is to be
/// consulted (no route, a contested domain, a route without extauth or disabling it).
// the outcome is returned to the caller at once, never carried around: boxing it would only add
// an allocation to the checks of unprotected routes
#[allow(clippy::result_large_err)]
pub fn consult(decision: RouteDecision<'_>) -> Result<(&ObjectKey, &ObjectKey, &str), Outcome> {
    match decision {
        RouteDecision::NoMatch => Err(Outcome::NoRoute),
        RouteDecision::Contested { domain, claimants } => Err(Outcome::Contested {
            domain: domain.to_string(),
            claimants: claimants.iter().cloned().collect(),
        }),
        RouteDecision::Matched {
            auth: AuthTarget::Unprotected | AuthTarget::Disabled,
            ..
        } => Err(Outcome::Unprotected),
        RouteDecision::Matched {
            auth: AuthTarget::Config(key),
            virtual_service,
            route,
        } => Ok((key, virtual_service, route)),
    }
}

/// The route identity Envoy set, when it is trusted (`--trust-route-header`): `Some(Err(()))`
/// when it is there but not exactly one readable value (a generated Envoy sends exactly one).
pub fn trusted_route(headers: &HeaderMap, trusted: bool) -> Option<Result<&str, ()>> {
    if !trusted {
        return None;
    }
    let mut values = headers.get_all(ROUTE_HEADER);
    let first = values.next()?;
    if values.next().is_some() {
        return Some(Err(()));
    }
    Some(first.to_str().map_err(drop))
}

/// The check headers a policy can use (its steps' `allowedHeaders`), and no other: the only
/// ones that travel to the AuthConfig's actor.
pub fn forwarded_headers(all: &HeaderMap, names: &[HeaderName]) -> HeaderList {
    let mut out = HeaderList::with_capacity(names.len());
    for name in names {
        for value in all.get_all(name) {
            out.push((name.clone(), value.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_prefix;

    #[test]
    fn prefix_must_be_followed_by_a_path() {
        assert_eq!(strip_prefix("/ext/a", Some("/ext")), Some("/a"));
        assert_eq!(strip_prefix("/ext", Some("/ext")), None);
        assert_eq!(strip_prefix("/extra/a", Some("/ext")), None);
        assert_eq!(strip_prefix("/a", Some("/ext")), None);
        assert_eq!(strip_prefix("/a?b", None), Some("/a?b"));
    }
}
