//! Compiling a VirtualService into domains and ordered route rules, with Gloo's extauth
//! inheritance resolved once, at load time.

use crate::config::types::{ExtAuthExtension, ObjectKey, VirtualServiceSpec};
use crate::config::{FieldError, VirtualServiceClaims};

use super::matcher::MatcherRule;

/// What a matched route asks of extauth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthTarget {
    /// No extauth configured: allow.
    Unprotected,
    /// `disable: true`: allow.
    Disabled,
    /// Check with this AuthConfig.
    Config(ObjectKey),
}

/// A compiled route.
#[derive(Debug)]
pub struct RouteRule {
    /// The route's name, or `route[<index>]`.
    pub name: String,
    /// Any one matching selects the route.
    pub matchers: Vec<MatcherRule>,
    /// The effective auth setting, inheritance applied.
    pub auth: AuthTarget,
    /// Where [`RouteRule::auth`] comes from (for `extauth check` and `/explain`).
    pub auth_from: AuthFrom,
}

/// Where a route's effective auth setting comes from (Gloo's inheritance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthFrom {
    /// The route's own `options.extauth` (`configRef` or `disable`).
    Route,
    /// Inherited from `virtualHost.options.extauth`.
    VirtualHost,
    /// Neither sets extauth: the route is unprotected.
    Nowhere,
}

/// A compiled VirtualService.
#[derive(Debug)]
pub struct CompiledVirtualService {
    /// Domains, lower-cased.
    pub domains: Vec<String>,
    /// Routes in order.
    pub routes: Vec<RouteRule>,
    /// The spec as written (for `extauth envoy-config`).
    pub spec: VirtualServiceSpec,
}

impl VirtualServiceClaims for CompiledVirtualService {
    fn domains(&self) -> &[String] {
        &self.domains
    }

    fn config_refs(&self) -> Vec<(&str, &ObjectKey)> {
        CompiledVirtualService::config_refs(self).collect()
    }
}

impl CompiledVirtualService {
    /// Every AuthConfig the routes refer to, with the field path that refers to it.
    pub fn config_refs(&self) -> impl Iterator<Item = (&str, &ObjectKey)> {
        self.routes.iter().filter_map(|r| match &r.auth {
            AuthTarget::Config(key) => Some((r.name.as_str(), key)),
            _ => None,
        })
    }
}

fn resolve(
    ext: &ExtAuthExtension,
    namespace: &str,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<AuthTarget> {
    if ext.custom_auth.is_some() {
        errors.push(FieldError::new(
            format!("{path}.customAuth"),
            "customAuth is not supported; use configRef",
        ));
    }
    match (&ext.config_ref, ext.disable) {
        (Some(_), true) => {
            errors.push(FieldError::new(
                path,
                "set either configRef or disable, not both",
            ));
            None
        }
        (Some(r), false) => Some(AuthTarget::Config(ObjectKey::new(
            r.namespace.as_deref().unwrap_or(namespace),
            &r.name,
        ))),
        (None, true) => Some(AuthTarget::Disabled),
        (None, false) => None,
    }
}

fn check_domain(domain: &str, path: &str, errors: &mut Vec<FieldError>) {
    let stars = domain.matches('*').count();
    let ok = !domain.is_empty()
        && (stars == 0 || (stars == 1 && (domain.starts_with('*') || domain.ends_with('*'))));
    if !ok {
        errors.push(FieldError::new(
            path,
            format!("`{domain}` is not a valid domain: a `*` may only start or end it"),
        ));
    }
}

/// Compiles a VirtualService living in `namespace`.
pub fn compile_virtual_service(
    namespace: &str,
    spec: &VirtualServiceSpec,
) -> Result<CompiledVirtualService, Vec<FieldError>> {
    let mut errors = Vec::new();
    let vh = &spec.virtual_host;
    let domains: Vec<String> = if vh.domains.is_empty() {
        vec!["*".to_string()]
    } else {
        vh.domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .collect()
    };
    for (i, d) in domains.iter().enumerate() {
        check_domain(d, &format!("spec.virtualHost.domains[{i}]"), &mut errors);
    }
    let inherited = vh
        .options
        .as_ref()
        .and_then(|o| o.extauth.as_ref())
        .and_then(|e| {
            resolve(
                e,
                namespace,
                "spec.virtualHost.options.extauth",
                &mut errors,
            )
        })
        .unwrap_or(AuthTarget::Unprotected);
    let mut routes = Vec::new();
    for (i, route) in vh.routes.iter().enumerate() {
        let path = format!("spec.virtualHost.routes[{i}]");
        if route.delegate_action.is_some() {
            errors.push(FieldError::new(
                format!("{path}.delegateAction"),
                "delegateAction (RouteTables) is not supported; list the routes in the VirtualService",
            ));
        }
        let matchers = if route.matchers.is_empty() {
            vec![MatcherRule::any()]
        } else {
            route
                .matchers
                .iter()
                .enumerate()
                .map(|(j, m)| {
                    MatcherRule::compile(m, &format!("{path}.matchers[{j}]"), &mut errors)
                })
                .collect()
        };
        let own = route
            .options
            .as_ref()
            .and_then(|o| o.extauth.as_ref())
            .and_then(|e| {
                resolve(
                    e,
                    namespace,
                    &format!("{path}.options.extauth"),
                    &mut errors,
                )
            });
        let auth_from = match (&own, &inherited) {
            (Some(_), _) => AuthFrom::Route,
            (None, AuthTarget::Unprotected) => AuthFrom::Nowhere,
            (None, _) => AuthFrom::VirtualHost,
        };
        routes.push(RouteRule {
            name: route.name.clone().unwrap_or_else(|| format!("routes[{i}]")),
            matchers,
            auth: own.unwrap_or_else(|| inherited.clone()),
            auth_from,
        });
    }
    if errors.is_empty() {
        Ok(CompiledVirtualService {
            domains,
            routes,
            spec: spec.clone(),
        })
    } else {
        Err(errors)
    }
}
