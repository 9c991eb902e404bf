//! Envoy virtual hosts and routes from the VirtualServices, matching requests exactly as
//! extauth's routing table does (domains, then routes and matchers in order).

use std::collections::BTreeMap;

use super::model::{
    HeaderMatcher, QueryParameterMatcher, RegexMatcher, Route, RouteAction, RouteMatch,
    StringMatcher, VirtualHost,
};
use super::{envoy_duration, mutation, vouched, Report};
use crate::compiled::{Content, Snapshot};
use crate::config::types::{Matcher, ObjectKey, Route as GlooRoute};
use crate::routing::identity::route_identity;
use crate::routing::{AuthTarget, CompiledVirtualService};

/// One Envoy virtual host per VirtualService, in the order extauth's table is built.
/// `stripped` (unless `keep_client_identity_headers`) removes, on each route, the client's
/// copies of what its AuthConfig's auth service vouches for.
pub fn virtual_hosts(
    snapshot: &Snapshot,
    clusters: &BTreeMap<ObjectKey, String>,
    keep_client_identity_headers: bool,
    report: &mut Report,
) -> Vec<VirtualHost> {
    let mut hosts: Vec<VirtualHost> = Vec::new();
    let stripped = if keep_client_identity_headers {
        BTreeMap::new()
    } else {
        vouched::stripped(snapshot)
    };
    for ((_, key), loaded) in &snapshot.resources {
        let Content::VirtualService(vs) = &loaded.resource.content else {
            continue;
        };
        let host = virtual_host(key, vs, clusters, &stripped, report);
        if hosts.iter().any(|h| h.name == host.name) {
            report.errors.push(format!(
                "VirtualService {key} would share the Envoy virtual host name `{}` with another; rename one",
                host.name
            ));
            continue;
        }
        hosts.push(host);
    }
    hosts
}

fn virtual_host(
    key: &ObjectKey,
    vs: &CompiledVirtualService,
    clusters: &BTreeMap<ObjectKey, String>,
    stripped: &BTreeMap<ObjectKey, Vec<String>>,
    report: &mut Report,
) -> VirtualHost {
    let name = format!("{}_{}", key.namespace, key.name);
    let vh = &vs.spec.virtual_host;
    if vs.spec.ssl_config.is_some() {
        report.warnings.push(format!(
            "VirtualService {key}: sslConfig is not translated (terminate TLS in your own listener)"
        ));
    }
    if let Some(o) = &vh.options {
        let mut ignored: Vec<&str> = o.ignored_options();
        for (set, field) in [
            (o.auto_host_rewrite.is_some(), "auto_host_rewrite"),
            (o.host_rewrite.is_some(), "host_rewrite"),
            (o.prefix_rewrite.is_some(), "prefix_rewrite"),
            (o.timeout.is_some(), "timeout"),
        ] {
            if set {
                ignored.push(field);
            }
        }
        warn_ignored(report, key, "spec.virtualHost.options", &ignored);
    }
    let mut routes = Vec::new();
    for (i, route) in vh.routes.iter().enumerate() {
        let path = format!("spec.virtualHost.routes[{i}]");
        let Some(action) = route_action(key, route, &path, clusters, report) else {
            continue;
        };
        let strip: &[String] = match vs.routes.get(i).map(|r| &r.auth) {
            Some(AuthTarget::Config(config)) => stripped.get(config).map_or(&[], Vec::as_slice),
            _ => &[],
        };
        let default_matcher = [Matcher::default()];
        let matchers: &[Matcher] = if route.matchers.is_empty() {
            &default_matcher
        } else {
            &route.matchers
        };
        for (j, m) in matchers.iter().enumerate() {
            routes.push(Route {
                name: format!("{name}-route-{i}-matcher-{j}"),
                match_: route_match(m),
                route: RouteAction {
                    cluster: action.cluster.clone(),
                    auto_host_rewrite: action.auto_host_rewrite,
                    host_rewrite_literal: action.host_rewrite_literal.clone(),
                    prefix_rewrite: action.prefix_rewrite.clone(),
                    timeout: action.timeout.clone(),
                },
                typed_per_filter_config: mutation::per_route(route_identity(key, vs, i, j), strip),
            });
        }
    }
    let mut domains: Vec<String> = Vec::new();
    for d in &vs.domains {
        if !domains.contains(d) {
            domains.push(d.clone());
        }
    }
    VirtualHost {
        name,
        domains,
        routes,
    }
}

fn warn_ignored(report: &mut Report, key: &ObjectKey, path: &str, fields: &[&str]) {
    for field in fields {
        report.warnings.push(format!(
            "VirtualService {key}: {path}.{} is not translated into the Envoy config",
            camel(field)
        ));
    }
}

/// `auto_host_rewrite` -> `autoHostRewrite`.
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The Envoy action of a route: `routeAction.single.upstream` plus the rewrite and timeout
/// options; anything else is reported as unsupported.
fn route_action(
    key: &ObjectKey,
    route: &GlooRoute,
    path: &str,
    clusters: &BTreeMap<ObjectKey, String>,
    report: &mut Report,
) -> Option<RouteAction> {
    let unsupported = |what: &str| {
        format!("VirtualService {key}: {path}: {what}; envoy-config supports routeAction.single.upstream only")
    };
    if route.redirect_action.is_some() || route.direct_response_action.is_some() {
        report
            .errors
            .push(unsupported("redirectAction/directResponseAction"));
        return None;
    }
    let ra = route.route_action.as_ref();
    let single = ra.and_then(|ra| ra.single.as_ref());
    let upstream = single.and_then(|d| d.upstream.as_ref());
    let (Some(ra), Some(single), Some(upstream)) = (ra, single, upstream) else {
        let found: Vec<&str> = ra
            .map(|ra| ra.other.keys().map(String::as_str).collect())
            .unwrap_or_default();
        report.errors.push(unsupported(&format!(
            "no routeAction.single.upstream (found [{}])",
            found.join(", ")
        )));
        return None;
    };
    let mut extra: Vec<String> = ra
        .other
        .keys()
        .map(|k| format!("routeAction.{k}"))
        .collect();
    extra.extend(
        single
            .other
            .keys()
            .map(|k| format!("routeAction.single.{k}")),
    );
    for field in extra {
        report.warnings.push(format!(
            "VirtualService {key}: {path}.{field} is not translated into the Envoy config"
        ));
    }
    let target = ObjectKey::new(
        upstream.namespace.as_deref().unwrap_or(&key.namespace),
        &upstream.name,
    );
    let Some(cluster) = clusters.get(&target) else {
        report.errors.push(format!(
            "VirtualService {key}: {path}.routeAction.single.upstream: Upstream {target} does not exist (or is not static)"
        ));
        return None;
    };
    let options = route.options.clone().unwrap_or_default();
    warn_ignored(
        report,
        key,
        &format!("{path}.options"),
        &options.ignored_options(),
    );
    Some(RouteAction {
        cluster: cluster.clone(),
        auto_host_rewrite: options.auto_host_rewrite,
        host_rewrite_literal: options.host_rewrite,
        prefix_rewrite: options.prefix_rewrite,
        timeout: options.timeout.map(|t| envoy_duration(t.0)),
    })
}

/// A Gloo matcher as an Envoy `RouteMatch` with the same meaning as extauth's matcher.
pub fn route_match(m: &Matcher) -> RouteMatch {
    let insensitive = m.case_sensitive == Some(false);
    let mut out = RouteMatch {
        case_sensitive: insensitive.then_some(false),
        ..RouteMatch::default()
    };
    if let Some(exact) = &m.exact {
        out.path = Some(exact.clone());
    } else if let Some(regex) = &m.regex {
        // Envoy (and so Gloo) ignores case_sensitive for regexes, and extauth does the same:
        // both sides must pick the same route
        out.safe_regex = Some(RegexMatcher {
            regex: regex.clone(),
        });
        out.case_sensitive = None;
    } else {
        out.prefix = Some(m.prefix.clone().unwrap_or_else(|| "/".into()));
    }
    if !m.methods.is_empty() {
        let methods: Vec<String> = m
            .methods
            .iter()
            .map(|s| regex::escape(&s.to_ascii_uppercase()))
            .collect();
        out.headers.push(HeaderMatcher {
            name: ":method".into(),
            string_match: Some(StringMatcher::regex(methods.join("|"))),
            present_match: None,
            invert_match: false,
        });
    }
    for h in &m.headers {
        let (string_match, present_match) = value_match(&h.value, h.regex);
        out.headers.push(HeaderMatcher {
            name: h.name.to_ascii_lowercase(),
            string_match,
            present_match,
            invert_match: h.invert_match,
        });
    }
    for q in &m.query_parameters {
        let (string_match, present_match) = value_match(&q.value, q.regex);
        out.query_parameters.push(QueryParameterMatcher {
            name: q.name.clone(),
            string_match,
            present_match,
        });
    }
    out
}

/// Gloo's value condition: no value (or an empty literal) means "present".
fn value_match(value: &Option<String>, regex: bool) -> (Option<StringMatcher>, Option<bool>) {
    match value {
        None => (None, Some(true)),
        Some(v) if v.is_empty() && !regex => (None, Some(true)),
        Some(v) if regex => (Some(StringMatcher::regex(v.clone())), None),
        Some(v) => (Some(StringMatcher::exact(v)), None),
    }
}
