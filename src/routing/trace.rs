//! Watching a routing decision as it is made, for `extauth check` and `/explain`.
//!
//! The server routes through the very same functions with [`NoTrace`], whose methods are empty
//! and inlined away: there is one implementation of routing, traced or not.

use std::collections::BTreeSet;

use super::matcher::Condition;
use super::virtual_service::CompiledVirtualService;
use crate::config::types::ObjectKey;

/// How a host matched a domain pattern of a virtual host, in Envoy's lookup order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainMatch<'a> {
    /// The pattern is the host itself.
    Exact(&'a str),
    /// A `*suffix` pattern (the suffix, without `*`).
    Suffix(&'a str),
    /// A `prefix*` pattern (the prefix, without `*`).
    Prefix(&'a str),
    /// The `*` catch-all.
    Any,
}

impl DomainMatch<'_> {
    /// The domain pattern as written (`*.example.com`, `api.*`, `*`).
    pub fn pattern(&self) -> String {
        match self {
            DomainMatch::Exact(d) => (*d).to_string(),
            DomainMatch::Suffix(s) => format!("*{s}"),
            DomainMatch::Prefix(p) => format!("{p}*"),
            DomainMatch::Any => "*".into(),
        }
    }

    /// How it matched, in words.
    pub fn how(&self) -> &'static str {
        match self {
            DomainMatch::Exact(_) => "exact",
            DomainMatch::Suffix(_) => "wildcard suffix (longest first)",
            DomainMatch::Prefix(_) => "wildcard prefix (longest first)",
            DomainMatch::Any => "catch-all `*`",
        }
    }
}

/// What a matched domain leads to.
#[derive(Clone, Copy, Debug)]
pub enum VirtualHost<'a> {
    /// A VirtualService in force.
    Service(&'a ObjectKey, &'a CompiledVirtualService),
    /// A contested domain (or one of an invalid VirtualService), with its claimants.
    Contested(&'a BTreeSet<ObjectKey>),
}

/// Receives each step of a routing decision. Every method does nothing by default.
pub trait RouteTracer {
    /// A reading of the check is about to be routed (see [`super::route_checked`]): `label`
    /// is `as sent`, `normalised`, ...
    #[inline]
    fn reading(&mut self, label: &'static str, host: &str, path_and_query: &str) {
        let _ = (label, host, path_and_query);
    }

    /// The virtual host lookup for `host`: the domain that matched and how, and what it
    /// leads to; or `None`.
    #[inline]
    fn host(&mut self, host: &str, found: Option<(DomainMatch<'_>, VirtualHost<'_>)>) {
        let _ = (host, found);
    }

    /// Matcher `matcher` of route `route` (indices from 0) was evaluated: `Ok` when it
    /// matched, else the first condition that failed.
    #[inline]
    fn matcher(&mut self, route: usize, matcher: usize, result: Result<(), Condition>) {
        let _ = (route, matcher, result);
    }
}

/// The tracer of the server: records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl RouteTracer for NoTrace {}

#[cfg(test)]
mod tests;
