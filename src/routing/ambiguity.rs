//! Matching a check without Envoy's route identity (an Envoy configured by hand): a request
//! Envoy and extauth could read differently (a host with a trailing dot or an odd port, a path
//! not in normal form) is routed both as sent and normalised, and refused when the two
//! disagree, instead of guessing which one Envoy took.

use std::fmt;

use actix_web::http::header::HeaderMap;

use super::{normalize_host, RequestView, RouteDecision, RouteTable};

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

/// Routes a check from what it carries: `raw_host` as sent, `path_and_query` with
/// `--path-prefix` removed.
pub fn route_checked<'a>(
    table: &'a RouteTable,
    method: &str,
    raw_host: &str,
    path_and_query: &str,
    headers: &HeaderMap,
) -> Result<RouteDecision<'a>, Ambiguity> {
    let host = normalize_host(raw_host);
    Ok(table.route(&RequestView {
        method,
        host: &host,
        path_and_query,
        headers,
    }))
}
