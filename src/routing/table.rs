//! The route table: every VirtualService's domains indexed for Envoy's lookup order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::config::types::ObjectKey;
use crate::config::{Content, Snapshot};

use super::matcher::RequestView;
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
    pub fn for_snapshot(snapshot: &Snapshot) -> RouteTable {
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
        self.exact
            .get(host)
            .copied()
            .or_else(|| {
                self.suffixes
                    .iter()
                    .find(|(s, _)| host.len() > s.len() && host.ends_with(s.as_str()))
                    .map(|(_, i)| *i)
            })
            .or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(p, _)| host.len() > p.len() && host.starts_with(p.as_str()))
                    .map(|(_, i)| *i)
            })
            .or(self.any)
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
    pub fn route<'a>(&'a self, req: &RequestView<'_>) -> RouteDecision<'a> {
        let Some(idx) = self.host_index(req.host) else {
            return RouteDecision::NoMatch;
        };
        let (key, vs) = match &self.hosts[idx] {
            Host::Service(key, vs) => (key, vs),
            Host::Contested(domain, claimants) => {
                return RouteDecision::Contested { domain, claimants }
            }
        };
        vs.routes
            .iter()
            .find(|r| r.matchers.iter().any(|m| m.matches(req)))
            .map_or(RouteDecision::NoMatch, |r| RouteDecision::Matched {
                virtual_service: key,
                route: &r.name,
                auth: &r.auth,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::compile_virtual_service;
    use actix_web::http::header::HeaderMap;

    fn vs(yaml: &str) -> Arc<CompiledVirtualService> {
        let spec = serde_norway::from_str(yaml).unwrap();
        Arc::new(compile_virtual_service("ns", &spec).unwrap())
    }

    fn decide<'a>(table: &'a RouteTable, host: &str, path: &str) -> RouteDecision<'a> {
        let headers = HeaderMap::new();
        let host = crate::routing::normalize_host(host);
        table.route(&RequestView {
            method: "GET",
            host: &host,
            path_and_query: path,
            headers: &headers,
        })
    }

    fn config_of(d: RouteDecision<'_>) -> Option<String> {
        match d {
            RouteDecision::Matched {
                auth: AuthTarget::Config(k),
                ..
            } => Some(k.to_string()),
            RouteDecision::Matched { .. } => Some("none".into()),
            RouteDecision::NoMatch => None,
            RouteDecision::Contested { .. } => Some("contested".into()),
        }
    }

    #[test]
    fn domain_order_and_inheritance() {
        let a = vs("virtualHost: {domains: [foo.com], routes: [{matchers: [{prefix: /open}], options: {extauth: {disable: true}}}, {matchers: [{prefix: /}]}], options: {extauth: {configRef: {name: strict}}}}");
        let b = vs("virtualHost: {domains: ['*.com'], routes: [{matchers: [{prefix: /}], options: {extauth: {configRef: {name: other, namespace: x}}}}]}");
        let c = vs("virtualHost: {domains: ['*'], routes: [{matchers: [{exact: /only}]}]}");
        let keys = [
            ObjectKey::new("ns", "a"),
            ObjectKey::new("ns", "b"),
            ObjectKey::new("ns", "c"),
        ];
        let (table, conflicts) = RouteTable::build(keys.iter().zip([&a, &b, &c]), &BTreeMap::new());
        assert!(conflicts.is_empty());
        assert_eq!(
            config_of(decide(&table, "FOO.com:8080", "/x")).as_deref(),
            Some("ns/strict")
        );
        assert_eq!(
            config_of(decide(&table, "foo.com", "/open/1")).as_deref(),
            Some("none")
        );
        assert_eq!(
            config_of(decide(&table, "bar.com", "/x")).as_deref(),
            Some("x/other")
        );
        assert_eq!(config_of(decide(&table, ".com", "/x")), None);
        assert_eq!(
            config_of(decide(&table, "other", "/only")).as_deref(),
            Some("none")
        );
        assert_eq!(config_of(decide(&table, "other", "/only/x")), None);
    }

    #[test]
    fn a_contested_domain_denies_in_its_place_in_envoys_order() {
        let exact =
            vs("virtualHost: {domains: [site.example], routes: [{matchers: [{prefix: /}]}]}");
        let any = vs("virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /}]}]}");
        let keys = [ObjectKey::new("ns", "exact"), ObjectKey::new("ns", "any")];
        let denied = BTreeMap::from([(
            "*.site.example".to_string(),
            BTreeSet::from([ObjectKey::new("ns", "x"), ObjectKey::new("ns", "y")]),
        )]);
        let (table, conflicts) = RouteTable::build(keys.iter().zip([&exact, &any]), &denied);
        assert!(conflicts.is_empty());
        assert_eq!(
            config_of(decide(&table, "a.site.example", "/")).as_deref(),
            Some("contested")
        );
        assert_eq!(
            config_of(decide(&table, "site.example", "/")).as_deref(),
            Some("none")
        );
        assert_eq!(
            config_of(decide(&table, "elsewhere", "/")).as_deref(),
            Some("none")
        );
    }

    #[test]
    fn a_route_is_found_by_its_identity_with_the_policy_in_force() {
        let a = vs("virtualHost: {domains: [foo.com], routes: [{matchers: [{prefix: /open}], options: {extauth: {disable: true}}}, {matchers: [{prefix: /}]}], options: {extauth: {configRef: {name: strict}}}}");
        let key = ObjectKey::new("ns", "a");
        let (table, _) = RouteTable::build([(&key, &a)], &BTreeMap::new());
        let ids: Vec<(String, usize)> = crate::routing::identity::identities(&key, &a).collect();
        let decide = |id: &str| table.route_by_identity(id, "foo.com").map(config_of);
        assert_eq!(decide(&ids[0].0), Some(Some("none".into())));
        assert_eq!(decide(&ids[1].0), Some(Some("ns/strict".into())));
        assert_eq!(decide("ns/a/1/0/0000000000000000"), None);
        assert_eq!(decide(""), None);
        // the files send another host elsewhere: drift
        assert_eq!(
            table.route_by_identity(&ids[1].0, "bar.com").map(config_of),
            None
        );
    }

    #[test]
    fn conflicting_domain_leaves_later_out() {
        let a = vs("virtualHost: {domains: [foo], routes: []}");
        let b = vs("virtualHost: {domains: [bar, foo], routes: []}");
        let keys = [ObjectKey::new("ns", "a"), ObjectKey::new("ns", "b")];
        let (_, conflicts) = RouteTable::build(keys.iter().zip([&a, &b]), &BTreeMap::new());
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].index, 1);
        assert_eq!(conflicts[0].owner, keys[0]);
    }
}
