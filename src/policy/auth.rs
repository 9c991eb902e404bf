//! Compiling an `AuthConfig` spec into an [`AuthPolicy`], checking every field on the way.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue, HOST};
use actix_web::http::Uri;

use super::breaker::{compile_breaker, BreakerSettings};
use super::cache::{compile_cache, CacheSettings};
use super::expr::Expr;
use super::headers::{header_names, never_copied, trusted_and_vouched};
use super::url::compile_endpoint;
use super::FieldError;
use crate::config::dependency::FileStamp;
use crate::config::types::{AuthConfigSpec, AuthStep};
use crate::config::CompiledAuthConfig;
use crate::tls::StepTls;

/// `connectionTimeout` when unset, as in Gloo.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// `connectionPool.maxConns` when unset.
pub const DEFAULT_MAX_CONNS: u32 = 100;

/// A compiled AuthConfig: its steps and how they combine.
#[derive(Debug)]
pub struct AuthPolicy {
    /// The steps, in the order written.
    pub steps: Vec<StepPolicy>,
    /// The `booleanExpr`, if any; without it every step must allow, in order.
    pub expr: Option<Expr>,
    /// Every step's `allowedHeaders`: the only check headers the policy ever reads.
    pub forwarded_headers: Vec<HeaderName>,
    /// What is accepted but not done as written (e.g. a never-copied header listed).
    pub warnings: Vec<FieldError>,
}

/// One compiled passthrough step.
#[derive(Debug)]
pub struct StepPolicy {
    /// `name`, or `config_<index>`.
    pub name: String,
    /// The auth service's address, path and query as written.
    pub url: Uri,
    /// Allow when the auth service errs.
    pub failure_mode_allow: bool,
    /// Sent as `config` in the JSON body.
    pub config: Option<serde_json::Value>,
    /// Check-request headers to copy, lower-case, hop-by-hop ones removed.
    pub allowed_headers: Vec<HeaderName>,
    /// Headers set on every call, overwriting copied ones.
    pub headers_to_add: Vec<(HeaderName, HeaderValue)>,
    /// Send `state` in the JSON body.
    pub pass_state: bool,
    /// Send `filterMetadata` (`{}`) in the JSON body.
    pub pass_filter_metadata: bool,
    /// Send `body` in the JSON body.
    pub pass_body: bool,
    /// Auth-answer headers returned to Envoy on allow (append list).
    pub upstream_headers: Vec<HeaderName>,
    /// Auth-answer headers returned to Envoy on allow (overwrite list).
    pub upstream_headers_to_overwrite: Vec<HeaderName>,
    /// Auth-answer headers returned to Envoy on allow, for the client.
    pub client_headers_on_success: Vec<HeaderName>,
    /// Auth-answer headers returned to Envoy on denial.
    pub client_headers_on_denied: Vec<HeaderName>,
    /// Replace the state with the answer's `{"state": {...}}`.
    pub read_state: bool,
    /// Budget of the whole call.
    pub timeout: Duration,
    /// Longest wait for the answer's headers, when shorter than `timeout`.
    pub response_header_timeout: Option<Duration>,
    /// Most connections to the auth service at once.
    pub max_conns: usize,
    /// Idle keep-alive expiry, if any.
    pub idle_timeout: Option<Duration>,
    /// TLS of an https url (its `tlsConfig`, or the default roots); `None` for http.
    pub tls: Option<Arc<StepTls>>,
    /// The step's decision cache (`cache`, an extauth extension); `None`: every check calls.
    pub cache: Option<CacheSettings>,
    /// The step's circuit breaker (`circuitBreaker`, an extauth extension); `None`: off.
    pub breaker: Option<BreakerSettings>,
}

impl CompiledAuthConfig for AuthPolicy {
    fn warnings(&self) -> &[FieldError] {
        &self.warnings
    }

    fn adopt_tls(&self, newer: &Self) -> bool {
        AuthPolicy::adopt_tls(self, newer)
    }
}

impl StepPolicy {
    /// Whether the call carries a JSON body.
    pub fn has_body(&self) -> bool {
        self.pass_state || self.pass_filter_metadata || self.pass_body || self.config.is_some()
    }
}

/// Compiles a spec, returning every problem found (not just the first); relative TLS file
/// paths are taken from the current directory.
pub fn compile(spec: &AuthConfigSpec) -> Result<AuthPolicy, Vec<FieldError>> {
    compile_at(spec, Path::new("."), &mut Vec::new())
}

/// Compiles a spec read from a file of the config directory `base` (where relative TLS file
/// paths lead), returning every problem found; every TLS file read, or tried, goes into
/// `read`, so that a change to one brings the spec to be compiled again.
pub fn compile_at(
    spec: &AuthConfigSpec,
    base: &Path,
    read: &mut Vec<FileStamp>,
) -> Result<AuthPolicy, Vec<FieldError>> {
    let mut errors = Vec::new();
    if spec.configs.is_empty() {
        errors.push(FieldError::new(
            "spec.configs",
            "at least one config is required",
        ));
    }
    let mut names = HashSet::new();
    let mut steps = Vec::new();
    let mut warnings = Vec::new();
    for (i, step) in spec.configs.iter().enumerate() {
        let path = format!("spec.configs[{i}]");
        let name = step.name.clone().unwrap_or_else(|| format!("config_{i}"));
        if !names.insert(name.clone()) {
            errors.push(FieldError::new(
                format!("{path}.name"),
                format!("duplicate config name `{name}`"),
            ));
        }
        let context = Context {
            base,
            read: &mut *read,
        };
        if let Some(step) = compile_step(step, name, &path, context, &mut errors, &mut warnings) {
            steps.push(step);
        }
    }
    let expr = spec.boolean_expr.as_deref().and_then(|text| {
        let names: Vec<String> = spec
            .configs
            .iter()
            .enumerate()
            .map(|(i, s)| s.name.clone().unwrap_or_else(|| format!("config_{i}")))
            .collect();
        Expr::parse(text, |n| names.iter().position(|x| x == n))
            .map_err(|e| errors.push(FieldError::new("spec.booleanExpr", e.to_string())))
            .ok()
    });
    trusted_and_vouched(&steps, &mut warnings);
    if errors.is_empty() {
        let mut forwarded_headers: Vec<HeaderName> = Vec::new();
        for name in steps.iter().flat_map(|s| &s.allowed_headers) {
            if !forwarded_headers.contains(name) {
                forwarded_headers.push(name.clone());
            }
        }
        Ok(AuthPolicy {
            steps,
            expr,
            forwarded_headers,
            warnings,
        })
    } else {
        Err(errors)
    }
}

/// What compiling a step needs beyond the step: where its TLS files are, and the record of
/// those read.
struct Context<'a> {
    base: &'a Path,
    read: &'a mut Vec<FileStamp>,
}

fn compile_step(
    step: &AuthStep,
    name: String,
    path: &str,
    context: Context<'_>,
    errors: &mut Vec<FieldError>,
    warnings: &mut Vec<FieldError>,
) -> Option<StepPolicy> {
    if let Some(kind) = step.unsupported_kind() {
        errors.push(FieldError::new(
            format!("{path}.{kind}"),
            format!("{kind} is not supported by extauth; only passThroughAuth.http is"),
        ));
        return None;
    }
    let Some(pta) = &step.pass_through_auth else {
        errors.push(FieldError::new(
            format!("{path}.passThroughAuth"),
            "each config needs passThroughAuth",
        ));
        return None;
    };
    let path = format!("{path}.passThroughAuth");
    if pta.grpc.is_some() {
        errors.push(FieldError::new(
            format!("{path}.grpc"),
            "passThroughAuth.grpc is not supported by extauth; use passThroughAuth.http",
        ));
        return None;
    }
    let Some(http) = &pta.http else {
        errors.push(FieldError::new(
            format!("{path}.http"),
            "passThroughAuth.http is required",
        ));
        return None;
    };
    let before = errors.len();
    let path = format!("{path}.http");
    let endpoint = compile_endpoint(http, &path, context.base, context.read, errors);
    let req = &http.request;
    let resp = &http.response;
    let rpath = format!("{path}.request");
    for (i, raw) in req.allowed_headers.iter().enumerate() {
        if let Some(name) = never_copied(raw) {
            warnings.push(FieldError::new(
                format!("{rpath}.allowedHeaders[{i}]"),
                format!("`{name}` is never copied to the auth service (it is about one hop's connection or framing, or changes how the call is sent); remove it"),
            ));
        }
    }
    let allowed_headers = header_names(
        &req.allowed_headers,
        &format!("{rpath}.allowedHeaders"),
        errors,
    )
    .into_iter()
    .filter(|h| never_copied(h.as_str()).is_none())
    .collect();
    let mut headers_to_add: Vec<(HeaderName, HeaderValue)> = Vec::new();
    for (k, v) in &req.headers_to_add {
        let field = format!("{rpath}.headersToAdd.{k}");
        match (HeaderName::from_str(k), HeaderValue::from_str(v)) {
            // names are case-insensitive: of `X-Key` and `x-key`, one would silently win
            (Ok(name), Ok(_)) if headers_to_add.iter().any(|(n, _)| *n == name) => errors.push(
                FieldError::new(field, format!("`{name}` is set twice (header names are case-insensitive)")),
            ),
            // awc drops or misuses them (`expect` fails every call); `host` is honoured
            (Ok(name), Ok(_)) if name != HOST && never_copied(name.as_str()).is_some() => {
                warnings.push(FieldError::new(
                    field,
                    format!("`{name}` is never sent to the auth service (the HTTP client sets the call's connection and framing headers); remove it"),
                ))
            }
            (Ok(name), Ok(value)) => headers_to_add.push((name, value)),
            (Err(_), _) => errors.push(FieldError::new(
                field,
                format!("`{k}` is not a valid header name"),
            )),
            (_, Err(_)) => errors.push(FieldError::new(
                field,
                "the value is not a valid header value",
            )),
        }
    }
    let spath = format!("{path}.response");
    let upstream_headers = header_names(
        &resp.allowed_upstream_headers,
        &format!("{spath}.allowedUpstreamHeaders"),
        errors,
    );
    let upstream_headers_to_overwrite = header_names(
        &resp.allowed_upstream_headers_to_overwrite,
        &format!("{spath}.allowedUpstreamHeadersToOverwrite"),
        errors,
    );
    for name in &upstream_headers_to_overwrite {
        if upstream_headers.contains(name) {
            errors.push(FieldError::new(
                format!("{spath}.allowedUpstreamHeadersToOverwrite"),
                format!("`{name}` is also in allowedUpstreamHeaders; a header may be in only one of the two lists"),
            ));
        }
    }
    let client_headers_on_success = header_names(
        &resp.allowed_client_headers_on_success,
        &format!("{spath}.allowedClientHeadersOnSuccess"),
        errors,
    );
    let client_headers_on_denied = header_names(
        &resp.allowed_client_headers_on_denied,
        &format!("{spath}.allowedClientHeadersOnDenied"),
        errors,
    );
    let timeout = http
        .connection_timeout
        .map_or(DEFAULT_CONNECTION_TIMEOUT, |d| d.0);
    if timeout.is_zero() {
        errors.push(FieldError::new(
            format!("{path}.connectionTimeout"),
            "must be greater than 0",
        ));
    }
    let response_header_timeout = http
        .response_header_timeout
        .map(|d| d.0)
        .filter(|d| !d.is_zero() && *d < timeout);
    let max_conns = http.connection_pool.max_conns.unwrap_or(DEFAULT_MAX_CONNS);
    if max_conns == 0 {
        errors.push(FieldError::new(
            format!("{path}.connectionPool.maxConns"),
            "must be at least 1",
        ));
    }
    let idle_timeout = http
        .connection_pool
        .idle_timeout
        .map(|d| d.0)
        .filter(|d| !d.is_zero());
    let breaker = compile_breaker(http.circuit_breaker.as_ref(), &path, errors);
    let cache = http
        .cache
        .as_ref()
        .and_then(|c| compile_cache(c, &format!("{path}.cache"), errors));
    if errors.len() > before {
        return None;
    }
    let endpoint = endpoint?;
    Some(StepPolicy {
        name,
        url: endpoint.url,
        failure_mode_allow: pta.failure_mode_allow,
        config: pta.config.clone(),
        allowed_headers,
        headers_to_add,
        pass_state: req.pass_through_state,
        pass_filter_metadata: req.pass_through_filter_metadata,
        pass_body: req.pass_through_body,
        upstream_headers,
        upstream_headers_to_overwrite,
        client_headers_on_success,
        client_headers_on_denied,
        read_state: resp.read_state_from_response,
        timeout,
        response_header_timeout,
        max_conns: max_conns as usize,
        idle_timeout,
        tls: endpoint.tls,
        cache,
        breaker,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(request: &str) -> Result<AuthPolicy, Vec<FieldError>> {
        let yaml = format!(
            "configs: [{{passThroughAuth: {{http: {{url: 'http://a/x', request: {request}}}}}}}]"
        );
        compile(&serde_norway::from_str(&yaml).unwrap())
    }

    #[test]
    fn never_copied_headers_are_dropped_with_a_warning() {
        let p =
            compiled("{allowedHeaders: [authorization, Expect, host, transfer-encoding]}").unwrap();
        let kept: Vec<&str> = p.steps[0]
            .allowed_headers
            .iter()
            .map(|h| h.as_str())
            .collect();
        assert_eq!(kept, ["authorization"]);
        assert_eq!(p.forwarded_headers, kept);
        let fields: Vec<&str> = p.warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(
            fields,
            [1, 2, 3].map(|i| format!(
                "spec.configs[0].passThroughAuth.http.request.allowedHeaders[{i}]"
            ))
        );
        assert!(
            p.warnings[0].message.contains("`expect`"),
            "{:?}",
            p.warnings
        );
        assert!(compiled("{allowedHeaders: [authorization]}")
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn headers_to_add_never_sets_framing_headers_and_names_once() {
        let p =
            compiled("{headersToAdd: {expect: x, Connection: close, host: auth.internal, x-k: v}}")
                .unwrap();
        let sent: Vec<&str> = p.steps[0]
            .headers_to_add
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(sent, ["host", "x-k"]);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.path.ends_with("headersToAdd.expect")));

        let errors = compiled("{headersToAdd: {X-Key: a, x-key: b}}").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("`x-key`"), "{errors:?}");
    }
}
