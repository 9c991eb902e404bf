//! The routing section of a trace: a [`RouteTracer`] that writes down each reading, the domain
//! that matched (or the closest ones), and every matcher evaluated, while the server's own
//! routing function ([`route_checked_traced`]) decides.

use actix_web::http::header::HeaderMap;

use super::model::{
    Domain, ExtauthInfo, MatcherInfo, Reading, RouteInfo, Routing, VirtualHostInfo,
};
use crate::check::Outcome;
use crate::config::types::ObjectKey;
use crate::routing::trace::{DomainMatch, RouteTracer, VirtualHost};
use crate::routing::{
    as_sent, route_checked_traced, AuthFrom, AuthTarget, CompiledVirtualService, Condition,
    RouteDecision, RouteTable,
};

/// How many of the closest domains are shown when none matched.
const CLOSEST: usize = 3;

/// Writes the readings down as routing goes.
struct Recorder<'t> {
    table: &'t RouteTable,
    readings: Vec<Reading>,
    /// The VirtualService of the current reading's virtual host.
    service: Option<&'t CompiledVirtualService>,
}

impl<'t> RouteTracer for Recorder<'t> {
    fn reading(&mut self, label: &'static str, host: &str, path_and_query: &str) {
        self.service = None;
        self.readings.push(Reading {
            label: label.to_string(),
            host: host.to_string(),
            path: path_and_query.to_string(),
            ..Reading::default()
        });
    }

    fn host(&mut self, host: &str, found: Option<(DomainMatch<'_>, VirtualHost<'_>)>) {
        let vh = match found {
            None => VirtualHostInfo {
                closest: closest(self.table, host),
                ..VirtualHostInfo::default()
            },
            Some((how, VirtualHost::Service(key, _))) => VirtualHostInfo {
                matched: true,
                domain: Some(how.pattern()),
                how: Some(how.how().to_string()),
                virtual_service: Some(key.to_string()),
                ..VirtualHostInfo::default()
            },
            Some((how, VirtualHost::Contested(claimants))) => VirtualHostInfo {
                matched: true,
                domain: Some(how.pattern()),
                how: Some(how.how().to_string()),
                contested_by: claimants.iter().map(ToString::to_string).collect(),
                ..VirtualHostInfo::default()
            },
        };
        // the table lends the VirtualService for as long as the recorder lives
        self.service = match found {
            Some((_, VirtualHost::Service(key, _))) => {
                self.table.virtual_service(key).map(|vs| &**vs)
            }
            _ => None,
        };
        if let Some(reading) = self.readings.last_mut() {
            reading.virtual_host = vh;
        }
    }

    fn matcher(&mut self, route: usize, matcher: usize, result: Result<(), Condition>) {
        let (Some(vs), Some(reading)) = (self.service, self.readings.last_mut()) else {
            return;
        };
        let Some(rule) = vs.routes.get(route) else {
            return;
        };
        if reading.routes.last().map(|r| r.route.as_str()) != Some(&format!("routes[{route}]")) {
            reading.routes.push(RouteInfo {
                route: format!("routes[{route}]"),
                name: route_name(vs, route),
                matched: false,
                matchers: rule
                    .matchers
                    .iter()
                    .enumerate()
                    .map(|(j, m)| MatcherInfo {
                        matcher: format!("matchers[{j}]"),
                        conditions: m.conditions().into_iter().map(|c| m.describe(c)).collect(),
                        result: "not evaluated".into(),
                        failed: None,
                    })
                    .collect(),
            });
        }
        let Some(info) = reading.routes.last_mut() else {
            return;
        };
        let Some(m) = info.matchers.get_mut(matcher) else {
            return;
        };
        match result {
            Ok(()) => {
                m.result = "matched".into();
                info.matched = true;
            }
            Err(condition) => {
                m.result = "failed".into();
                m.failed = Some(format!(
                    "{}: {}",
                    condition.field(),
                    rule.matchers[matcher].describe(condition)
                ));
            }
        }
    }
}

/// The route's `name` as written, when it has one.
fn route_name(vs: &CompiledVirtualService, index: usize) -> Option<String> {
    vs.spec
        .virtual_host
        .routes
        .get(index)
        .and_then(|r| r.name.clone())
}

/// Routes the check with the server's function, recording each step; the outcome when the
/// route asks for no AuthConfig (or routing failed), else the AuthConfig to consult.
pub fn route(
    table: &RouteTable,
    method: &str,
    host: &str,
    path: Option<&str>,
    headers: &HeaderMap,
) -> (Routing, Result<ObjectKey, Outcome>) {
    let mut routing = Routing {
        path: path.map(str::to_string),
        ..Routing::default()
    };
    let Some(path) = path else {
        routing.result = "no_path_prefix".into();
        return (routing, Err(Outcome::NoRoute));
    };
    let mut recorder = Recorder {
        table,
        readings: Vec::new(),
        service: None,
    };
    let decision = route_checked_traced(table, method, host, path, headers, &mut recorder);
    routing.readings = recorder.readings;
    let decision = match decision {
        Ok(decision) => decision,
        Err(ambiguity) => {
            routing.result = "ambiguous".into();
            routing.ambiguity = Some(ambiguity.to_string());
            return (routing, Err(Outcome::Ambiguous(ambiguity.to_string())));
        }
    };
    routing.result = match &decision {
        RouteDecision::NoMatch
            if routing
                .readings
                .last()
                .is_some_and(|r| r.virtual_host.matched) =>
        {
            "no_route"
        }
        RouteDecision::NoMatch => "no_virtual_host",
        RouteDecision::Contested { .. } => "contested",
        RouteDecision::Matched { .. } => "matched",
    }
    .into();
    let index = matched_index(&routing);
    matched(&mut routing, table, &decision, index);
    let consulted = crate::check::consult(decision).map(|(key, _, _)| key.clone());
    (routing, consulted)
}

/// Routes by the identity Envoy named (`identity`, trusted under `--trust-route-header`) as
/// the server does: the route with that identity when it is in force and `host` still leads
/// to its VirtualService; otherwise `unknown_route` (403).
pub fn by_identity(
    table: &RouteTable,
    identity: Result<&str, ()>,
    host: &str,
    path: Option<&str>,
) -> (Routing, Result<ObjectKey, Outcome>) {
    let shown = identity.unwrap_or("<unreadable>").to_string();
    let mut routing = Routing {
        path: path.map(str::to_string),
        identity: Some(shown.clone()),
        ..Routing::default()
    };
    if path.is_none() {
        routing.result = "no_path_prefix".into();
        return (routing, Err(Outcome::NoRoute));
    }
    let Some(decision) = identity
        .ok()
        .and_then(|id| table.route_by_identity(id, &as_sent(host)))
    else {
        routing.result = "unknown_route".into();
        return (routing, Err(Outcome::UnknownRoute(shown)));
    };
    routing.result = "matched".into();
    // `namespace/name/route/matcher/fingerprint`: the route's index is third from the end
    let index = shown.rsplit('/').nth(2).and_then(|i| i.parse().ok());
    matched(&mut routing, table, &decision, index);
    let consulted = crate::check::consult(decision).map(|(key, _, _)| key.clone());
    (routing, consulted)
}

/// Fills in the VirtualService, the route (`index`) and what it asks of extauth, when
/// `decision` matched a route.
fn matched(
    routing: &mut Routing,
    table: &RouteTable,
    decision: &RouteDecision<'_>,
    index: Option<usize>,
) {
    if let RouteDecision::Matched {
        virtual_service,
        route,
        auth,
    } = decision
    {
        routing.virtual_service = Some(virtual_service.to_string());
        routing.route = index.map(|i| format!("routes[{i}]"));
        routing.route_name = Some(route.to_string()).filter(|r| Some(r) != routing.route.as_ref());
        let from = index
            .and_then(|i| table.virtual_service(virtual_service)?.routes.get(i))
            .map_or(AuthFrom::Nowhere, |r| r.auth_from);
        routing.extauth = Some(extauth(auth, from));
    }
}

/// The index of the route that matched in the decisive (last) reading.
fn matched_index(routing: &Routing) -> Option<usize> {
    let route = routing.readings.last()?.routes.iter().find(|r| r.matched)?;
    route
        .route
        .strip_prefix("routes[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// What the route asks of extauth, in words.
fn extauth(auth: &AuthTarget, from: AuthFrom) -> ExtauthInfo {
    let (from_key, from_words) = match from {
        AuthFrom::Route => ("route", "set on the route (options.extauth)"),
        AuthFrom::VirtualHost => (
            "virtualHost",
            "inherited from the virtual host (virtualHost.options.extauth)",
        ),
        AuthFrom::Nowhere => (
            "nowhere",
            "neither the route nor the virtual host sets extauth",
        ),
    };
    let (target, config, summary) = match auth {
        AuthTarget::Config(key) => (
            "auth_config",
            Some(key.to_string()),
            format!("AuthConfig {key}, {from_words}"),
        ),
        AuthTarget::Disabled => (
            "disabled",
            None,
            format!("extauth disabled (disable: true), {from_words}: allowed without a call"),
        ),
        AuthTarget::Unprotected => (
            "unprotected",
            None,
            format!("unprotected: {from_words}; allowed without a call"),
        ),
    };
    ExtauthInfo {
        target: target.into(),
        from: from_key.into(),
        auth_config: config,
        summary,
    }
}

/// The domains closest to `host` (by edit distance, ties by name), when none matched.
fn closest(table: &RouteTable, host: &str) -> Vec<Domain> {
    let mut all: Vec<(usize, Domain)> = table
        .domains()
        .into_iter()
        .map(|(domain, owner)| {
            let bare = domain.trim_matches('*');
            (distance(host, bare), Domain { domain, owner })
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.domain.cmp(&b.1.domain)));
    all.into_iter().take(CLOSEST).map(|(_, d)| d).collect()
}

/// Levenshtein distance between two strings, by character.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("foo-http", "foo-http"), 0);
        assert_eq!(distance("foo-htp", "foo-http"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
