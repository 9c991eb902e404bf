//! `extauth envoy-config`: Envoy configuration generated from the very config directory extauth
//! serves, so the two cannot drift apart.
//!
//! - [`ext_authz`]: the `ext_authz` HTTP filter. Envoy calls extauth for *every* request and
//!   extauth decides (routes without auth get a 200), so changes to AuthConfigs or to a
//!   VirtualService's extauth options never need a new Envoy configuration, except when they
//!   add a header name to one of the filter's lists, lengthen the longest chain beyond the
//!   check timeout, or turn `passThroughBody` on.
//! - [`bootstrap`]: a whole Envoy bootstrap: a listener whose routes mirror the VirtualServices,
//!   one cluster per `Upstream`, the extauth cluster and the admin interface.

mod clusters;
pub mod ext_authz;
pub mod model;
pub mod mutation;
pub mod retry;
mod routes;
pub mod vouched;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::config::ConfigError;

use crate::compiled::{Snapshot, Store};
use crate::routing::identity::ROUTE_HEADER;
use model::{
    Address, Admin, Bootstrap, DownstreamConnections, Empty, Extension, FilterChain,
    HttpConnectionManager, HttpFilter, Listener, OverloadManager, RouteConfiguration,
    SocketAddress, StaticResources, Typed,
};

/// Name of the cluster of extauth replicas.
pub const EXTAUTH_CLUSTER: &str = "extauth";
/// Envoy's cap on downstream connections (Envoy warns at start-up without one).
pub const MAX_DOWNSTREAM_CONNECTIONS: u64 = 50_000;

/// A `HOST:PORT` (or `[IPv6]:PORT`) address of an extauth replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP address (IPv6 in brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl HostPort {
    /// An address from its parts.
    pub fn new(host: &str, port: u16) -> Self {
        HostPort {
            host: host.to_string(),
            port,
        }
    }
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("`{s}` is not HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{port}` is not a TCP port"))?;
        let bad_v6 = host.contains(':') && !(host.starts_with('[') && host.ends_with(']'));
        if host.is_empty() || bad_v6 {
            return Err(format!("`{s}` is not HOST:PORT (write IPv6 as [::1]:8083)"));
        }
        Ok(HostPort::new(host, port))
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What the generated configuration depends on besides the config directory.
#[derive(Clone, Debug)]
pub struct Options {
    /// Every extauth replica (at least one).
    pub extauth: Vec<HostPort>,
    /// How many replicas serve behind `extauth` (`--extauth-replicas`; by default one per
    /// address): a check is retried at most once per other replica, never with just one.
    pub replicas: usize,
    /// extauth's `--path-prefix`, normalised (`/x`, no trailing slash), if any.
    pub path_prefix: Option<String>,
    /// The Envoy listener's address (`--bootstrap` only).
    pub listen: SocketAddr,
    /// Envoy's admin address (`--bootstrap` only).
    pub admin: SocketAddr,
    /// Largest body buffered for checks when an AuthConfig sets `passThroughBody`.
    pub max_request_bytes: u32,
    /// Keep client-sent copies of the headers auth services vouch for (Gloo's behaviour;
    /// unsafe: a client can then pre-seed an identity header).
    pub keep_client_identity_headers: bool,
}

/// What a generation found besides the configuration: things it left out.
#[derive(Debug, Default)]
pub struct Report {
    /// Resources or fields that cannot be generated; no output is produced.
    pub errors: Vec<String>,
    /// Fields accepted but not translated.
    pub warnings: Vec<String>,
}

/// Generated YAML and the warnings to show with it.
#[derive(Debug)]
pub struct Generated {
    /// The Envoy YAML.
    pub yaml: String,
    /// Fields left out of it.
    pub warnings: Vec<String>,
}

/// Why nothing was generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The config directory has errors (`extauth validate` shows the same).
    #[error("the config directory has {} error(s):\n{}", .0.len(), join(.0))]
    Config(Vec<ConfigError>),
    /// Resources that cannot be expressed in Envoy by this generator.
    #[error("cannot generate the Envoy configuration:\n{}", join(.0))]
    Unsupported(Vec<String>),
    /// Serialisation failed (a bug).
    #[error("cannot write YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An Envoy duration: seconds with a fractional part (`3.5s`).
pub fn envoy_duration(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Loads `dir` once and generates from it; any config error stops the generation.
pub fn generate_from_dir(
    dir: &Path,
    opts: &Options,
    bootstrap: bool,
) -> Result<Generated, GenerateError> {
    let mut store = Store::new(dir);
    let reload = store.reload();
    if !reload.snapshot.errors.is_empty() {
        return Err(GenerateError::Config(reload.snapshot.errors.clone()));
    }
    generate(&reload.snapshot, opts, bootstrap)
}

/// The ext_authz filter (`bootstrap == false`) or a whole bootstrap for `snapshot`.
pub fn generate(
    snapshot: &Snapshot,
    opts: &Options,
    bootstrap: bool,
) -> Result<Generated, GenerateError> {
    let mut report = Report::default();
    report.errors.extend(vouched::list_conflicts(snapshot));
    // only the bootstrap's routes name themselves; a filter for hand-written routes does not
    // forward the identity header, so a client cannot send one through
    let filter = ext_authz::filter(snapshot, opts, bootstrap);
    let yaml = if bootstrap {
        let doc = build_bootstrap(snapshot, opts, filter, &mut report);
        serde_norway::to_string(&doc)?
    } else {
        serde_norway::to_string(&filter)?
    };
    if report.errors.is_empty() {
        Ok(Generated {
            yaml,
            warnings: report.warnings,
        })
    } else {
        Err(GenerateError::Unsupported(report.errors))
    }
}

fn address(addr: SocketAddr) -> Address {
    Address {
        socket_address: SocketAddress {
            address: addr.ip().to_string(),
            port_value: addr.port(),
        },
    }
}

fn build_bootstrap(
    snapshot: &Snapshot,
    opts: &Options,
    filter: Extension<ext_authz::ExtAuthz>,
    report: &mut Report,
) -> Bootstrap {
    let (upstreams, names) = clusters::upstream_clusters(snapshot, report);
    let virtual_hosts =
        routes::virtual_hosts(snapshot, &names, opts.keep_client_identity_headers, report);
    let hcm = HttpConnectionManager {
        stat_prefix: "http",
        normalize_path: true,
        merge_slashes: true,
        path_with_escaped_slashes_action: "UNESCAPE_AND_REDIRECT",
        strip_any_host_port: true,
        strip_trailing_host_dot: true,
        route_config: RouteConfiguration {
            name: "extauth_routes",
            virtual_hosts,
            request_headers_to_remove: vec![ROUTE_HEADER],
        },
        http_filters: vec![
            HttpFilter::HeaderMutation(mutation::filter()),
            HttpFilter::ExtAuthz(Box::new(filter)),
            HttpFilter::Router(Extension {
                name: "envoy.filters.http.router",
                typed_config: Typed {
                    type_url: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                    value: Empty {},
                },
            }),
        ],
    };
    let mut clusters = vec![clusters::extauth_cluster(opts)];
    clusters.extend(upstreams);
    Bootstrap {
        admin: Admin {
            address: address(opts.admin),
        },
        overload_manager: OverloadManager {
            resource_monitors: vec![Extension {
                name: "envoy.resource_monitors.global_downstream_max_connections",
                typed_config: Typed {
                    type_url: "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                    value: DownstreamConnections {
                        max_active_downstream_connections: MAX_DOWNSTREAM_CONNECTIONS,
                    },
                },
            }],
        },
        static_resources: StaticResources {
            listeners: vec![Listener {
                name: "http",
                address: address(opts.listen),
                filter_chains: vec![FilterChain {
                    filters: vec![Extension {
                        name: "envoy.filters.network.http_connection_manager",
                        typed_config: Typed {
                            type_url: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                            value: hcm,
                        },
                    }],
                }],
            }],
            clusters,
        },
    }
}

#[cfg(test)]
mod tests;
