//! Assembling a trace from the configuration: the load result, the routing (the server's own
//! function, traced), the AuthConfig and the call each step would make; and, once the calls
//! are made (`--call`), the answer extauth gives Envoy, from the server's own
//! [`Outcome::into_answer`].

use std::sync::Arc;

use super::call::Called;
use super::input::Input;
use super::model::{AnswerInfo, AuthConfigInfo, ConfigInfo, ExprInfo, RequestInfo, Trace};
use super::redact::Redactor;
use super::{route, steps};
use crate::check::{forwarded_headers, strip_prefix, trusted_route, Outcome};
use crate::compiled::{Content, Snapshot};
use crate::config::types::ObjectKey;
use crate::config::Kind;
use crate::passthrough::CheckRequest;
use crate::policy::AuthPolicy;
use crate::routing::RouteTable;

/// The configuration a trace is computed from.
pub struct Sources<'a> {
    /// The route table (the server's in force, or built from the directory).
    pub table: &'a RouteTable,
    /// The resources, errors and contested domains.
    pub snapshot: &'a Snapshot,
    /// Whether a complete load is in force.
    pub loaded: bool,
    /// The config directory, for `extauth check`.
    pub dir: Option<String>,
    /// `--path-prefix`, normalised.
    pub path_prefix: Option<&'a str>,
    /// `--trust-route-header`: the route identity a check carries picks its route.
    pub trust_route_header: bool,
}

/// A trace, and the chain still to run when the route is protected.
pub struct Explained {
    /// The trace so far.
    pub trace: Trace,
    /// The AuthConfig to consult, its policy and the check its actor would receive.
    pub pending: Option<Pending>,
}

/// A protected route's AuthConfig, not called yet.
pub struct Pending {
    /// The AuthConfig.
    pub key: ObjectKey,
    /// Its content hash.
    pub hash: String,
    /// Its policy.
    pub policy: Arc<AuthPolicy>,
    /// The check as its actor would receive it.
    pub check: CheckRequest,
}

/// Explains `input` against `sources`, without calling anything.
pub fn explain(input: &Input, sources: &Sources<'_>, redact: Redactor) -> Explained {
    let mut trace = Trace {
        request: RequestInfo {
            method: input.method.to_string(),
            url: redact.url_text(&input.url),
            host: input.host.clone(),
            path: input.path.clone(),
            path_prefix: sources.path_prefix.map(str::to_string),
            headers: redact.headers(input.list.iter().map(|(n, v)| (n, v)), &[]),
            body_bytes: input.body.len(),
        },
        config: config_info(sources),
        ..Trace::default()
    };
    if !sources.loaded {
        finish(&mut trace, Outcome::NotReady, redact);
        return Explained {
            trace,
            pending: None,
        };
    }
    let path = strip_prefix(&input.path, sources.path_prefix);
    let (routing, consulted) = match trusted_route(&input.headers, sources.trust_route_header) {
        Some(identity) => route::by_identity(sources.table, identity, &input.host, path),
        None => route::route(
            sources.table,
            input.method.as_str(),
            &input.host,
            path,
            &input.headers,
        ),
    };
    trace.routing = routing;
    let key = match consulted {
        Ok(key) => key,
        Err(outcome) => {
            finish(&mut trace, outcome, redact);
            return Explained {
                trace,
                pending: None,
            };
        }
    };
    let id = (Kind::AuthConfig, key.clone());
    let in_force = sources.snapshot.resources.get(&id);
    let policy = in_force.and_then(|l| match &l.resource.content {
        Content::AuthConfig(ac) => Some(ac.policy.clone()),
        _ => None,
    });
    trace.auth_config = Some(AuthConfigInfo {
        key: key.to_string(),
        available: policy.is_some(),
        cause: policy.is_none().then(|| {
            if sources.snapshot.invalid.contains(&id) {
                "invalid".to_string()
            } else {
                "missing".to_string()
            }
        }),
        hash: in_force.map(|l| l.resource.hash.clone()),
        source: in_force.map(|l| {
            format!(
                "{}: document {}",
                l.resource.source.file.display(),
                l.resource.source.document
            )
        }),
    });
    let Some(policy) = policy else {
        finish(&mut trace, Outcome::ConfigUnavailable(key), redact);
        return Explained {
            trace,
            pending: None,
        };
    };
    let check = CheckRequest {
        method: input.method.clone(),
        path: path.unwrap_or_default().to_string(),
        headers: forwarded_headers(&input.headers, &policy.forwarded_headers),
        body: input.body.clone(),
    };
    trace.steps = steps::planned(&policy, &check, redact);
    let names: Vec<String> = policy.steps.iter().map(|s| s.name.clone()).collect();
    trace.boolean_expr = policy.expr.as_ref().map(|e| ExprInfo {
        expr: e.display(&names).to_string(),
        evaluation: Vec::new(),
    });
    trace.verdict = format!(
        "protected by AuthConfig {key}: no call made (with --call, extauth calls the auth service and shows its answer)"
    );
    trace.exit_code = 0;
    Explained {
        trace,
        pending: Some(Pending {
            key,
            hash: in_force
                .map(|l| l.resource.hash.clone())
                .unwrap_or_default(),
            policy,
            check,
        }),
    }
}

/// Adds what the calls found, and the answer to Envoy they lead to.
pub fn called(trace: &mut Trace, key: ObjectKey, called: Called, redact: Redactor) {
    trace.called = true;
    trace.steps = called.steps;
    if let Some(expr) = &mut trace.boolean_expr {
        expr.evaluation = called.evaluation;
    }
    let outcome = Outcome::Decided {
        config: key,
        decision: called.decision,
    };
    finish(trace, outcome, redact);
}

/// Sets the answer to Envoy for `outcome`, the verdict and the exit status.
pub fn finish(trace: &mut Trace, outcome: Outcome, redact: Redactor) {
    let reason = outcome.to_string();
    let (status, headers) = outcome.into_answer();
    let status = status.as_u16();
    trace.exit_code = exit_code(status);
    trace.verdict = format!("extauth answers Envoy {status}: {reason}");
    trace.answer = Some(AnswerInfo {
        status,
        headers: redact.headers(headers.iter().map(|(n, v)| (n, v)), &[]),
        reason,
    });
}

/// `extauth check`'s exit status for Envoy's answer `status`.
pub fn exit_code(status: u16) -> u8 {
    match status {
        200 => 0,
        401 | 403 => 1,
        _ => 2,
    }
}

fn config_info(sources: &Sources<'_>) -> ConfigInfo {
    let s = sources.snapshot;
    ConfigInfo {
        dir: sources.dir.clone(),
        loaded: sources.loaded,
        auth_configs: s.count(Kind::AuthConfig),
        virtual_services: s.count(Kind::VirtualService),
        upstreams: s.count(Kind::Upstream),
        errors: s.errors.iter().map(ToString::to_string).collect(),
    }
}
