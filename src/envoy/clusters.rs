//! Envoy clusters: one per `Upstream` resource, and the `extauth` cluster of every replica.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::model::{
    Address, CircuitBreakers, Cluster, ClusterLoadAssignment, Endpoint, Extension, LbEndpoint,
    LocalityLbEndpoints, OutlierDetection, SocketAddress, Thresholds, Typed, UpstreamTlsContext,
};
use super::{HostPort, Options, Report, EXTAUTH_CLUSTER};
use crate::compiled::{Content, Snapshot};
use crate::config::types::ObjectKey;
use crate::config::upstream::UpstreamSpec;

/// Upstream fields that describe where Gloo found the upstream, not how to reach it.
const HARMLESS_FIELDS: &[&str] = &["discoveryMetadata"];

/// The cluster name of an Upstream: `<name>_<namespace>`, as Gloo names it.
pub fn cluster_name(key: &ObjectKey) -> String {
    format!("{}_{}", key.name, key.namespace)
}

/// One cluster per static Upstream, and each Upstream's cluster name by key.
pub fn upstream_clusters(
    snapshot: &Snapshot,
    report: &mut Report,
) -> (Vec<Cluster>, BTreeMap<ObjectKey, String>) {
    let mut clusters = Vec::new();
    let mut names = BTreeMap::new();
    for ((_, key), loaded) in &snapshot.resources {
        let Content::Upstream(spec) = &loaded.resource.content else {
            continue;
        };
        let Some(cluster) = upstream_cluster(key, spec, report) else {
            continue;
        };
        if let Some((other, _)) = names.iter().find(|(_, n)| **n == cluster.name) {
            report.errors.push(format!(
                "Upstreams {other} and {key} would both be Envoy cluster `{}`; rename one",
                cluster.name
            ));
            continue;
        }
        names.insert(key.clone(), cluster.name.clone());
        clusters.push(cluster);
    }
    (clusters, names)
}

fn upstream_cluster(key: &ObjectKey, spec: &UpstreamSpec, report: &mut Report) -> Option<Cluster> {
    let Some(st) = &spec.static_hosts else {
        let kinds: Vec<&str> = spec.other.keys().map(String::as_str).collect();
        report.errors.push(format!(
            "Upstream {key}: only static upstreams (spec.static) can be generated; found [{}]",
            kinds.join(", ")
        ));
        return None;
    };
    for field in spec.other.keys() {
        if !HARMLESS_FIELDS.contains(&field.as_str()) {
            report.warnings.push(format!(
                "Upstream {key}: spec.{field} is not translated into the Envoy cluster"
            ));
        }
    }
    let name = cluster_name(key);
    let hosts: Vec<(HostPort, Option<u32>)> = st
        .hosts
        .iter()
        .map(|h| {
            let port = u16::try_from(h.port).unwrap_or(0);
            (HostPort::new(&h.addr, port), h.load_balancing_weight)
        })
        .collect();
    let mut cluster = cluster(name, &hosts, "5s");
    if st.tls() {
        let snis: Vec<&str> = st
            .hosts
            .iter()
            .map(|h| h.sni_addr.as_deref().unwrap_or(&h.addr))
            .collect();
        if snis.iter().any(|s| *s != snis[0]) {
            report.warnings.push(format!(
                "Upstream {key}: hosts want different SNI names; `{}` is used for all",
                snis[0]
            ));
        }
        cluster.transport_socket = Some(Extension {
            name: "envoy.transport_sockets.tls",
            typed_config: Typed {
                type_url:
                    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                value: UpstreamTlsContext {
                    sni: snis[0].to_string(),
                },
            },
        });
    }
    Some(cluster)
}

/// Retries outstanding at once towards the extauth cluster.
const EXTAUTH_MAX_RETRIES: u32 = 1024;

/// The cluster of extauth replicas: every `--extauth-address`, failures to connect eject a
/// replica for a while, extauth's own 5xx answers (your auth service failing) never do.
pub fn extauth_cluster(opts: &Options) -> Cluster {
    let hosts: Vec<(HostPort, Option<u32>)> =
        opts.extauth.iter().map(|h| (h.clone(), None)).collect();
    let mut cluster = cluster(EXTAUTH_CLUSTER.to_string(), &hosts, "1s");
    cluster.outlier_detection = Some(OutlierDetection {
        split_external_local_origin_errors: true,
        consecutive_local_origin_failure: 3,
        enforcing_consecutive_local_origin_failure: 100,
        enforcing_consecutive_5xx: 0,
        enforcing_consecutive_gateway_failure: 0,
        interval: "5s".into(),
        base_ejection_time: "10s".into(),
        max_ejection_percent: 50,
    });
    // retries only follow failures to reach a replica (connect-failure, reset): when replicas
    // go away under load, Envoy's default of 3 outstanding retries would fail checks instead
    cluster.circuit_breakers = Some(CircuitBreakers {
        thresholds: vec![Thresholds {
            max_retries: EXTAUTH_MAX_RETRIES,
        }],
    });
    cluster
}

/// A cluster over `hosts`: `STATIC` when every host is an IP address, else `STRICT_DNS`
/// (which resolves every address a name has, e.g. a headless Kubernetes Service).
fn cluster(name: String, hosts: &[(HostPort, Option<u32>)], connect_timeout: &str) -> Cluster {
    let all_ips = hosts.iter().all(|(h, _)| h.ip().is_some());
    let lb_endpoints = hosts
        .iter()
        .map(|(h, weight)| LbEndpoint {
            endpoint: Endpoint {
                address: Address {
                    socket_address: SocketAddress {
                        address: h.ip().map_or_else(|| h.host.clone(), |ip| ip.to_string()),
                        port_value: h.port,
                    },
                },
                hostname: Some(h.host.clone()),
            },
            load_balancing_weight: *weight,
        })
        .collect();
    Cluster {
        name: name.clone(),
        type_: if all_ips { "STATIC" } else { "STRICT_DNS" },
        connect_timeout: connect_timeout.to_string(),
        dns_lookup_family: (!all_ips).then_some("V4_PREFERRED"),
        load_assignment: ClusterLoadAssignment {
            cluster_name: name,
            endpoints: vec![LocalityLbEndpoints { lb_endpoints }],
        },
        outlier_detection: None,
        circuit_breakers: None,
        transport_socket: None,
    }
}

impl HostPort {
    /// The host as an IP address, if it is one (brackets of IPv6 literals removed).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()
    }
}
