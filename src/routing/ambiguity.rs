//! Matching a check without Envoy's route identity (an Envoy configured by hand, or
//! `--trust-route-header` unset): a request that Envoy and extauth could read differently is
//! routed both as sent and normalised, and refused when the readings disagree, instead of
//! guessing which one Envoy took.
//!
//! - **Host** ([`super::host`]): in normal form when it has no port (no `:` outside an IPv6
//!   literal) and no trailing dot. As sent: lower-cased, nothing removed (a port included: an
//!   Envoy that does not strip ports matches domains with it, and the generated Envoy, which
//!   strips one, matched `a.example:80:80` as `a.example:80`). Normalised: what the generated
//!   Envoy does (`strip_trailing_host_dot`, then `strip_any_host_port`: one trailing dot, then
//!   any port that fits in 32 bits), lower-cased. `:authority` matchers see the Host as sent, or
//!   Envoy's normalised `:authority` in the normalised reading.
//! - **Path** ([`super::path`]): as sent is the check's path with query, `--path-prefix` removed.
//!   Normalised: what the generated Envoy routes on (`UNESCAPE_AND_REDIRECT` of `%2F` and `%5C`,
//!   `normalize_path`, `merge_slashes`); the query is never touched. A path Envoy's
//!   normalisation rejects (a NUL, a `#`) is refused outright.
//!
//! When host and path are both in normal form (nearly every check, and every check a generated
//! Envoy sends for a well-formed request) the table is looked up once and nothing is allocated
//! beyond lower-casing. Otherwise every combination of the host readings and the path readings
//! is routed (up to four lookups; an Envoy by hand may normalise the one and not the other), and
//! they must all ask for the same policy:
//! - the same AuthConfig, whatever the route or VirtualService;
//! - or all no AuthConfig to consult (unprotected or `disable: true`);
//! - or all no route (extauth answers 403; a route of one reading and none of another is a
//!   disagreement: an Envoy by hand may route that request somewhere extauth does not know);
//! - or all the same contested domain;
//! - except that a Host as sent with one well-formed port (`a.example:8080`) that no domain
//!   matches with its port agrees with its normalised reading: a port-stripping Envoy (as every
//!   Envoy in front of extauth should be) routes it as `a.example`, and an Envoy that does not
//!   strip ports finds no virtual host for it either. When a domain does match it with its
//!   port (a `*` catch-all), the readings must agree as above.
//!
//! Anything else (a contested domain against anything else included) is an [`Ambiguity`]: 403,
//! logged and counted. When they agree, the normalised reading's route is the answer.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::header::{HeaderMap, HeaderValue, HOST};

use super::trace::{NoTrace, RouteTracer};
use super::virtual_service::AuthTarget;
use super::{host, path, RequestView, RouteDecision, RouteTable};

/// Why a check could not be routed with certainty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguity {
    /// What differs, for the log line.
    pub what: String,
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// One way to read the check.
struct Reading<'r> {
    label: &'static str,
    host: &'r str,
    path_and_query: &'r str,
    headers: &'r HeaderMap,
}

/// Routes a check from what it carries: `raw_host` as sent, `path_and_query` with
/// `--path-prefix` removed.
#[inline]
pub fn route_checked<'a>(
    table: &'a RouteTable,
    method: &str,
    raw_host: &str,
    path_and_query: &str,
    headers: &HeaderMap,
) -> Result<RouteDecision<'a>, Ambiguity> {
    route_checked_traced(
        table,
        method,
        raw_host,
        path_and_query,
        headers,
        &mut NoTrace,
    )
}

/// [`route_checked`], telling `tracer` each reading routed and each step of its routing.
pub fn route_checked_traced<'a, T: RouteTracer>(
    table: &'a RouteTable,
    method: &str,
    raw_host: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    tracer: &mut T,
) -> Result<RouteDecision<'a>, Ambiguity> {
    let sent_host = host::as_sent(raw_host);
    let normalised_host = if host::is_normal(raw_host) {
        None
    } else {
        Some(host::normalize_host(raw_host)).filter(|h| *h != sent_host)
    };
    let normalised_path = if path::is_normal(path_and_query) {
        None
    } else {
        match path::normalize(path_and_query) {
            None => {
                return Err(Ambiguity {
                    what: format!(
                        "path `{}` is one Envoy's path normalisation rejects",
                        shown(path_and_query)
                    ),
                })
            }
            Some(p) => Some(p).filter(|p| *p != path_and_query),
        }
    };
    // `:authority` matchers read `host`: a check over HTTP/2 carries it in its URI only
    let with_host;
    let headers = if raw_host.is_empty() || headers.contains_key(HOST) {
        headers
    } else {
        with_host = with_authority(headers, raw_host);
        &with_host
    };
    if normalised_host.is_none() && normalised_path.is_none() {
        tracer.reading("as sent", &sent_host, path_and_query);
        let view = RequestView {
            method,
            host: &sent_host,
            path_and_query,
            headers,
        };
        return Ok(table.route_traced(&view, tracer));
    }
    let normalised_headers = normalised_host
        .as_ref()
        .map(|_| with_authority(headers, &host::envoy_authority(raw_host)));
    let hosts: Vec<(&str, &HeaderMap)> = std::iter::once((&*sent_host, headers))
        .chain(normalised_host.as_deref().zip(normalised_headers.as_ref()))
        .collect();
    let paths: Vec<&str> = std::iter::once(path_and_query)
        .chain(normalised_path.as_deref())
        .collect();
    let (last_host, last_path) = (hosts.len() - 1, paths.len() - 1);
    let readings: Vec<Reading<'_>> = hosts
        .iter()
        .enumerate()
        .flat_map(|(h, &(host, headers))| {
            paths
                .iter()
                .enumerate()
                .map(move |(p, &path_and_query)| Reading {
                    label: match (h, p) {
                        _ if (h, p) == (last_host, last_path) => "normalised",
                        (0, 0) => "as sent",
                        (0, _) => "with the path normalised",
                        _ => "with the host normalised",
                    },
                    host,
                    path_and_query,
                    headers,
                })
        })
        .collect();
    let mut route = |r: &Reading<'_>| {
        tracer.reading(r.label, r.host, r.path_and_query);
        let view = RequestView {
            method,
            host: r.host,
            path_and_query: r.path_and_query,
            headers: r.headers,
        };
        table.route_traced(&view, tracer)
    };
    // the fully normalised reading comes last: it is the answer when every other agrees
    let Some((last, others)) = readings.split_last() else {
        return Ok(table.route(&RequestView {
            method,
            host: &sent_host,
            path_and_query,
            headers,
        }));
    };
    let answer = route(last);
    for reading in others {
        let decision = route(reading);
        // `host:8080` that no domain matches with its port is what every port-stripping Envoy
        // routes as `host`; one that matches (a `*` catch-all) must still agree
        let stripped_port_only = matches!(decision, RouteDecision::NoMatch)
            && differs_by_a_port(reading.host, last.host);
        if !stripped_port_only && !same_policy(&decision, &answer) {
            return Err(Ambiguity {
                what: format!(
                    "{} routes {}; {} routes {}",
                    describe_reading(reading),
                    describe(&decision),
                    describe_reading(last),
                    describe(&answer)
                ),
            });
        }
    }
    Ok(answer)
}

/// Whether `sent` is `normalised` plus one well-formed port (`:1` to `:65535`).
fn differs_by_a_port(sent: &str, normalised: &str) -> bool {
    sent.strip_prefix(normalised)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|port| {
            !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        })
}

/// Whether two decisions ask for the same policy (see the module doc).
fn same_policy(a: &RouteDecision<'_>, b: &RouteDecision<'_>) -> bool {
    use RouteDecision::*;
    match (a, b) {
        (NoMatch, NoMatch) => true,
        (Matched { auth: x, .. }, Matched { auth: y, .. }) => match (x, y) {
            (AuthTarget::Config(k), AuthTarget::Config(l)) => k == l,
            (AuthTarget::Config(_), _) | (_, AuthTarget::Config(_)) => false,
            _ => true,
        },
        (Contested { domain: d, .. }, Contested { domain: e, .. }) => d == e,
        _ => false,
    }
}

/// `headers` with `host` set to `authority` (what `:authority` matchers read).
fn with_authority(headers: &HeaderMap, authority: &str) -> HeaderMap {
    let mut out = headers.clone();
    match HeaderValue::from_str(authority) {
        Ok(v) => {
            out.insert(HOST, v);
        }
        Err(_) => {
            out.remove(HOST);
        }
    }
    out
}

fn describe_reading(r: &Reading<'_>) -> String {
    format!(
        "{} (Host `{}`, path `{}`)",
        r.label,
        shown(r.host),
        shown(r.path_and_query)
    )
}

fn describe(d: &RouteDecision<'_>) -> String {
    match d {
        RouteDecision::NoMatch => "nowhere".into(),
        RouteDecision::Matched {
            virtual_service,
            route,
            auth,
        } => {
            let policy: Cow<'_, str> = match auth {
                AuthTarget::Config(k) => format!("AuthConfig {k}").into(),
                AuthTarget::Unprotected | AuthTarget::Disabled => "no AuthConfig".into(),
            };
            format!("to VirtualService {virtual_service} route `{route}` ({policy})")
        }
        RouteDecision::Contested { domain, .. } => format!("to contested domain `{domain}`"),
    }
}

/// At most [`SHOWN`] bytes of a host or path, without the query (which may carry secrets).
fn shown(s: &str) -> Cow<'_, str> {
    let s = s.split('?').next().unwrap_or("");
    if s.len() <= SHOWN {
        return Cow::Borrowed(s);
    }
    let mut end = SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// How much of a host or path an ambiguity quotes.
const SHOWN: usize = 120;

#[cfg(test)]
mod tests;
