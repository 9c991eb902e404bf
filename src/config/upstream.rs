//! Gloo's `Upstream` (`gloo.solo.io/v1`) and the `routeAction` that points a route at one.
//!
//! extauth never sends traffic to upstreams: it accepts these resources so that the files a
//! Gloo user already has (including what `glooctl create upstream static` writes) load as they
//! are, and `extauth envoy-config --bootstrap` turns them into Envoy clusters and routes.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::types::{Ignored, ResourceRef};
use crate::config::FieldError;

/// `apiVersion` of `Upstream` resources.
pub const UPSTREAM_API: &str = "gloo.solo.io/v1";

/// `Upstream.spec`. Only `static` is read; Gloo's other upstream kinds and cluster settings
/// (`kube`, `sslConfig`, `circuitBreakers`, ...) are accepted, and `extauth envoy-config`
/// reports the ones it does not translate.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamSpec {
    /// A fixed list of hosts (`glooctl create upstream static`).
    #[serde(default, rename = "static")]
    pub static_hosts: Option<StaticUpstream>,
    /// Every other field, by name; accepted and not acted on.
    #[serde(flatten)]
    pub other: BTreeMap<String, IgnoredAny>,
}

/// `spec.static`: the hosts Envoy balances over.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticUpstream {
    /// At least one host.
    #[serde(default)]
    pub hosts: Vec<StaticHost>,
    /// TLS to the hosts; unset means TLS exactly when every host's port is 443 (as in Gloo).
    #[serde(default)]
    pub use_tls: Option<bool>,
    /// Gloo's SNI-from-Host switch; the generator sets SNI from `sniAddr` or `addr` instead.
    #[serde(default)]
    pub auto_sni_rewrite: Ignored,
    /// Gloo's service-spec (REST/gRPC descriptions); ignored.
    #[serde(default)]
    pub service_spec: Ignored,
}

/// One `spec.static.hosts[]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticHost {
    /// Host name or IP address.
    pub addr: String,
    /// TCP port.
    pub port: u32,
    /// SNI sent when TLS is used; `addr` when unset.
    #[serde(default)]
    pub sni_addr: Option<String>,
    /// Relative weight among the hosts.
    #[serde(default)]
    pub load_balancing_weight: Option<u32>,
    /// Gloo's per-host health-check path; ignored.
    #[serde(default)]
    pub health_check_config: Ignored,
    /// Gloo's per-host metadata; ignored.
    #[serde(default)]
    pub metadata: Ignored,
}

impl StaticUpstream {
    /// Whether Envoy should speak TLS to these hosts.
    pub fn tls(&self) -> bool {
        self.use_tls
            .unwrap_or_else(|| !self.hosts.is_empty() && self.hosts.iter().all(|h| h.port == 443))
    }
}

/// Checks what the resource schema cannot: ports in range, addresses present.
pub fn check(spec: &UpstreamSpec) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(st) = &spec.static_hosts {
        if st.hosts.is_empty() {
            errors.push(FieldError::new(
                "spec.static.hosts",
                "at least one host is required",
            ));
        }
        for (i, h) in st.hosts.iter().enumerate() {
            if h.addr.trim().is_empty() {
                errors.push(FieldError::new(
                    format!("spec.static.hosts[{i}].addr"),
                    "must not be empty",
                ));
            }
            if !(1..=65535).contains(&h.port) {
                errors.push(FieldError::new(
                    format!("spec.static.hosts[{i}].port"),
                    format!("{} is not a TCP port (1-65535)", h.port),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A route's `routeAction`. extauth does not act on it; `extauth envoy-config` reads
/// `single.upstream`. Other destinations (`multi`, `upstreamGroup`, ...) are accepted here and
/// reported by the generator.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteAction {
    /// One destination.
    #[serde(default)]
    pub single: Option<Destination>,
    /// Every other field, by name.
    #[serde(flatten)]
    pub other: BTreeMap<String, IgnoredAny>,
}

/// `routeAction.single`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// The Upstream resource; its namespace defaults to the VirtualService's.
    #[serde(default)]
    pub upstream: Option<ResourceRef>,
    /// Every other field (`kube`, `consul`, `subset`, ...), by name.
    #[serde(flatten)]
    pub other: BTreeMap<String, IgnoredAny>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> UpstreamSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn glooctl_static_upstream() {
        let s = spec("static: {hosts: [{addr: jsonplaceholder.typicode.com, port: 80}]}\ndiscoveryMetadata: {labels: {a: b}}");
        let st = s.static_hosts.as_ref().unwrap();
        assert_eq!(st.hosts[0].addr, "jsonplaceholder.typicode.com");
        assert!(!st.tls());
        assert!(s.other.contains_key("discoveryMetadata"));
        assert!(check(&s).is_ok());
    }

    #[test]
    fn tls_follows_port_443_unless_set() {
        assert!(spec("static: {hosts: [{addr: a, port: 443}]}")
            .static_hosts
            .unwrap()
            .tls());
        assert!(
            !spec("static: {hosts: [{addr: a, port: 443}], useTls: false}")
                .static_hosts
                .unwrap()
                .tls()
        );
    }

    #[test]
    fn bad_hosts_are_reported() {
        let errors = check(&spec("static: {hosts: [{addr: '', port: 70000}]}")).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(check(&spec("static: {hosts: []}")).is_err());
        assert!(
            serde_norway::from_str::<UpstreamSpec>("static: {hosts: [{adr: a, port: 1}]}").is_err()
        );
    }
}
