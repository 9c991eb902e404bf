//! The route table: every VirtualService's domains indexed for Envoy's lookup order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::config::types::ObjectKey;
use crate::config::{Compile, Content, Snapshot};

use super::matcher::RequestView;
use super::trace::{DomainMatch, NoTrace, RouteTracer, VirtualHost};
use super::virtual_service::{AuthTarget, CompiledVirtualService};

/// The outcome of routing one check.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteDecision<'a> {
    /// No virtual host, or no route in it, matches.
    NoMatch,
    /// A route matched; this is what it asks for.
    Matched {
        /// The VirtualService that matched.
        virtual_service: &'a ObjectKey,
        /// The route's name.
        route: &'a str,
        /// The effective auth setting.
        auth: &'a AuthTarget,
    },
    /// The host matched a domain that several VirtualServices claim: none of them is loaded,
    /// and the check is denied rather than handed to another virtual host.
    Contested {
        /// The domain pattern that matched.
        domain: &'a str,
        /// Every VirtualService claiming it.
        claimants: &'a BTreeSet<ObjectKey>,
    },
}

/// A virtual host in the table.
#[derive(Debug)]
enum Host {
    /// A VirtualService in force.
    Service(ObjectKey, Arc<CompiledVirtualService>),
    /// A domain denied because of a conflict, with its claimants.
    Contested(String, BTreeSet<ObjectKey>),
}

/// Domains of every VirtualService, indexed: exact, `*suffix`, `prefix*`, `*`.
#[derive(Default, Debug)]
pub struct RouteTable {
    hosts: Vec<Host>,
    exact: HashMap<String, usize>,
    /// (suffix without `*`, host index), longest first.
    suffixes: Vec<(String, usize)>,
    /// (prefix without `*`, host index), longest first.
    prefixes: Vec<(String, usize)>,
    any: Option<usize>,
    /// Route identities (see [`super::identity`]) of the VirtualServices in force: host index
    /// and route index.
    identities: HashMap<String, (usize, usize)>,
}

/// A domain claimed twice; the later VirtualService is left out of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConflict {
    /// The VirtualService left out.
    pub virtual_service: ObjectKey,
    /// The index of the conflicting domain in its `domains`.
    pub index: usize,
    /// The domain.
    pub domain: String,
    /// The VirtualService that keeps it.
    pub owner: ObjectKey,
}

impl RouteTable {
    /// Builds the table from the VirtualServices in force and the `denied` domains (each with
    /// the VirtualServices that contest it). VirtualServices are taken in the given order, and
    /// one whose domain is already claimed is left out entirely and reported (the config layer
    /// resolves conflicts before, so this is a backstop).
    pub fn build<'a>(
        services: impl IntoIterator<Item = (&'a ObjectKey, &'a Arc<CompiledVirtualService>)>,
        denied: &BTreeMap<String, BTreeSet<ObjectKey>>,
    ) -> (RouteTable, Vec<DomainConflict>) {
        let mut table = RouteTable::default();
        let mut owners: HashMap<String, ObjectKey> = HashMap::new();
        let mut conflicts = Vec::new();
        for (domain, claimants) in denied {
            let idx = table.hosts.len();
            table
                .hosts
                .push(Host::Contested(domain.clone(), claimants.clone()));
            table.index(domain, idx);
            if let Some(first) = claimants.first() {
                owners.insert(domain.clone(), first.clone());
            }
        }
        for (key, vs) in services {
            let clash = vs.domains.iter().enumerate().find_map(|(i, d)| {
                owners.get(d).map(|owner| DomainConflict {
                    virtual_service: key.clone(),
                    index: i,
                    domain: d.clone(),
                    owner: owner.clone(),
                })
            });
            if let Some(conflict) = clash {
                conflicts.push(conflict);
                continue;
            }
            let idx = table.hosts.len();
            table.hosts.push(Host::Service(key.clone(), vs.clone()));
            for (id, route) in super::identity::identities(key, vs) {
                table.identities.insert(id, (idx, route));
            }
            for d in &vs.domains {
                owners.insert(d.clone(), key.clone());
                table.index(d, idx);
            }
        }
        table
            .suffixes
            .sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        table
            .prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        (table, conflicts)
    }

    /// The table of the VirtualServices in force in `snapshot` and its contested domains. The
    /// config layer has resolved every domain conflict, so none is left out here; if one were,
    /// it would be logged and left out (never served by the wrong VirtualService).
    pub fn for_snapshot<C>(snapshot: &Snapshot<C>) -> RouteTable
    where
        C: Compile<VirtualService = CompiledVirtualService>,
    {
        let services =
            snapshot
                .resources
                .iter()
                .filter_map(|((_, key), l)| match &l.resource.content {
                    Content::VirtualService(vs) => Some((key, vs)),
                    Content::AuthConfig(_) | Content::Upstream(_) => None,
                });
        let (table, left_out) = RouteTable::build(services, &snapshot.contested);
        for c in left_out {
            log::error!(
                "VirtualService {}: domain `{}` is already served by VirtualService {}; it is not served",
                c.virtual_service,
                c.domain,
                c.owner
            );
        }
        table
    }

    /// Indexes domain pattern `d` as host `idx`.
    fn index(&mut self, d: &str, idx: usize) {
        if d == "*" {
            self.any = Some(idx);
        } else if let Some(suffix) = d.strip_prefix('*') {
            self.suffixes.push((suffix.to_string(), idx));
        } else if let Some(prefix) = d.strip_suffix('*') {
            self.prefixes.push((prefix.to_string(), idx));
        } else {
            self.exact.insert(d.to_string(), idx);
        }
    }

    /// The virtual host for a normalised host name, in Envoy's order. A wildcard must match at
    /// least one character.
    fn host_index(&self, host: &str) -> Option<usize> {
        self.host_lookup(host).map(|(i, _)| i)
    }

    /// [`RouteTable::host_index`], with the domain pattern that matched and how.
    fn host_lookup(&self, host: &str) -> Option<(usize, DomainMatch<'_>)> {
        if let Some((d, i)) = self.exact.get_key_value(host) {
            return Some((*i, DomainMatch::Exact(d)));
        }
        if let Some((s, i)) = self
            .suffixes
            .iter()
            .find(|(s, _)| host.len() > s.len() && host.ends_with(s.as_str()))
        {
            return Some((*i, DomainMatch::Suffix(s)));
        }
        if let Some((p, i)) = self
            .prefixes
            .iter()
            .find(|(p, _)| host.len() > p.len() && host.starts_with(p.as_str()))
        {
            return Some((*i, DomainMatch::Prefix(p)));
        }
        self.any.map(|i| (i, DomainMatch::Any))
    }

    /// Every domain pattern in the table with who serves it: the VirtualService, or the
    /// claimants of a contested domain (for `extauth check`'s closest domains).
    pub fn domains(&self) -> Vec<(String, String)> {
        let owner = |i: usize| match &self.hosts[i] {
            Host::Service(key, _) => format!("VirtualService {key}"),
            Host::Contested(_, claimants) => {
                let list: Vec<String> = claimants.iter().map(ToString::to_string).collect();
                format!("contested by {}", list.join(", "))
            }
        };
        let mut all: Vec<(String, String)> = self
            .exact
            .iter()
            .map(|(d, i)| (d.clone(), owner(*i)))
            .chain(
                self.suffixes
                    .iter()
                    .map(|(s, i)| (format!("*{s}"), owner(*i))),
            )
            .chain(
                self.prefixes
                    .iter()
                    .map(|(p, i)| (format!("{p}*"), owner(*i))),
            )
            .chain(self.any.map(|i| ("*".to_string(), owner(i))))
            .collect();
        all.sort();
        all
    }

    /// The VirtualService in force under `key`, if the table serves it.
    pub fn virtual_service(&self, key: &ObjectKey) -> Option<&Arc<CompiledVirtualService>> {
        self.hosts.iter().find_map(|h| match h {
            Host::Service(k, vs) if k == key => Some(vs),
            _ => None,
        })
    }

    /// The route Envoy named by its identity, with its policy from the files in force, for a
    /// check whose normalised host is `host`; `None` when no route in force has that identity
    /// (Envoy's configuration is older or newer than the files, or names a VirtualService that
    /// is not in force), or when the files now send `host` to another virtual host.
    pub fn route_by_identity<'a>(
        &'a self,
        identity: &str,
        host: &str,
    ) -> Option<RouteDecision<'a>> {
        let (index, route) = *self.identities.get(identity)?;
        if self.host_index(host) != Some(index) {
            return None;
        }
        let Host::Service(key, vs) = &self.hosts[index] else {
            return None;
        };
        let r = vs.routes.get(route)?;
        Some(RouteDecision::Matched {
            virtual_service: key,
            route: &r.name,
            auth: &r.auth,
        })
    }

    /// Routes one check: the virtual host by `req.host` (already normalised), then the first
    /// route whose any matcher matches.
    #[inline]
    pub fn route<'a>(&'a self, req: &RequestView<'_>) -> RouteDecision<'a> {
        self.route_traced(req, &mut NoTrace)
    }

    /// [`RouteTable::route`], telling `tracer` each step: the domain lookup, then each matcher
    /// evaluated, in order, until one matches.
    pub fn route_traced<'a, T: RouteTracer>(
        &'a self,
        req: &RequestView<'_>,
        tracer: &mut T,
    ) -> RouteDecision<'a> {
        let Some((idx, how)) = self.host_lookup(req.host) else {
            tracer.host(req.host, None);
            return RouteDecision::NoMatch;
        };
        let (key, vs) = match &self.hosts[idx] {
            Host::Service(key, vs) => {
                tracer.host(req.host, Some((how, VirtualHost::Service(key, vs))));
                (key, vs)
            }
            Host::Contested(domain, claimants) => {
                tracer.host(req.host, Some((how, VirtualHost::Contested(claimants))));
                return RouteDecision::Contested { domain, claimants };
            }
        };
        for (i, r) in vs.routes.iter().enumerate() {
            for (j, m) in r.matchers.iter().enumerate() {
                let result = m.check(req);
                tracer.matcher(i, j, result);
                if result.is_ok() {
                    return RouteDecision::Matched {
                        virtual_service: key,
                        route: &r.name,
                        auth: &r.auth,
                    };
                }
            }
        }
        RouteDecision::NoMatch
    }
}

#[cfg(test)]
mod tests;
