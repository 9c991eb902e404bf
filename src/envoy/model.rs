//! The slice of Envoy's v3 API that `extauth envoy-config` writes, as typed structs whose
//! field names are Envoy's own (serialized to YAML in declaration order).

use serde::Serialize;

use std::collections::BTreeMap;

use super::ext_authz::ExtAuthz;
use super::mutation::{HeaderMutation, HeaderMutationPerRoute};

/// A `typed_config`: the message's type URL, then its fields.
#[derive(Debug, Serialize)]
pub struct Typed<T> {
    /// `type.googleapis.com/<message>`.
    #[serde(rename = "@type")]
    pub type_url: &'static str,
    /// The message itself.
    #[serde(flatten)]
    pub value: T,
}

/// A named extension (filter, transport socket, resource monitor).
#[derive(Debug, Serialize)]
pub struct Extension<T> {
    /// The extension's well-known name.
    pub name: &'static str,
    /// Its configuration.
    pub typed_config: Typed<T>,
}

/// A message with no fields set.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

/// `config.bootstrap.v3.Bootstrap`.
#[derive(Debug, Serialize)]
pub struct Bootstrap {
    /// The admin interface.
    pub admin: Admin,
    /// A cap on downstream connections (Envoy warns at start-up without one).
    pub overload_manager: OverloadManager,
    /// Listener and clusters.
    pub static_resources: StaticResources,
}

/// `config.bootstrap.v3.Admin`.
#[derive(Debug, Serialize)]
pub struct Admin {
    /// Where it listens.
    pub address: Address,
}

/// `config.overload.v3.OverloadManager`.
#[derive(Debug, Serialize)]
pub struct OverloadManager {
    /// The downstream-connections monitor.
    pub resource_monitors: Vec<Extension<DownstreamConnections>>,
}

/// `extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig`.
#[derive(Debug, Serialize)]
pub struct DownstreamConnections {
    /// Connections accepted at most, over all listeners.
    pub max_active_downstream_connections: u64,
}

/// `config.bootstrap.v3.Bootstrap.StaticResources`.
#[derive(Debug, Serialize)]
pub struct StaticResources {
    /// The one HTTP listener.
    pub listeners: Vec<Listener>,
    /// The extauth cluster, then one per Upstream.
    pub clusters: Vec<Cluster>,
}

/// `config.core.v3.Address` (socket addresses only).
#[derive(Clone, Debug, Serialize)]
pub struct Address {
    /// Host and port.
    pub socket_address: SocketAddress,
}

/// `config.core.v3.SocketAddress`.
#[derive(Clone, Debug, Serialize)]
pub struct SocketAddress {
    /// IP address, or host name for DNS clusters.
    pub address: String,
    /// TCP port.
    pub port_value: u16,
}

/// `config.listener.v3.Listener`.
#[derive(Debug, Serialize)]
pub struct Listener {
    /// Listener name (also in stats).
    pub name: &'static str,
    /// Where it listens.
    pub address: Address,
    /// One chain holding the HTTP connection manager.
    pub filter_chains: Vec<FilterChain>,
}

/// `config.listener.v3.FilterChain`.
#[derive(Debug, Serialize)]
pub struct FilterChain {
    /// The HTTP connection manager.
    pub filters: Vec<Extension<HttpConnectionManager>>,
}

/// `extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`.
#[derive(Debug, Serialize)]
pub struct HttpConnectionManager {
    /// Prefix of this manager's stats.
    pub stat_prefix: &'static str,
    /// RFC 3986 path normalisation before filters and routing.
    pub normalize_path: bool,
    /// `//` becomes `/` before filters and routing.
    pub merge_slashes: bool,
    /// What to do with `%2F` / `%5C` in paths.
    pub path_with_escaped_slashes_action: &'static str,
    /// Drop any port from Host before routing (extauth does the same).
    pub strip_any_host_port: bool,
    /// Drop a trailing dot from Host before routing (`a.example.` is `a.example`).
    pub strip_trailing_host_dot: bool,
    /// The routes, generated from the VirtualServices.
    pub route_config: RouteConfiguration,
    /// ext_authz, then the router.
    pub http_filters: Vec<HttpFilter>,
}

/// One entry of `http_filters`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum HttpFilter {
    /// `envoy.filters.http.header_mutation` (sets each route's identity before ext_authz).
    HeaderMutation(Extension<HeaderMutation>),
    /// `envoy.filters.http.ext_authz`.
    ExtAuthz(Box<Extension<ExtAuthz>>),
    /// `envoy.filters.http.router`.
    Router(Extension<Empty>),
}

/// `config.route.v3.RouteConfiguration`.
#[derive(Debug, Serialize)]
pub struct RouteConfiguration {
    /// Name (in stats and logs).
    pub name: &'static str,
    /// One per VirtualService.
    pub virtual_hosts: Vec<VirtualHost>,
    /// Removed from every request before it goes upstream (the route identity is for
    /// extauth alone).
    pub request_headers_to_remove: Vec<&'static str>,
}

/// `config.route.v3.VirtualHost`.
#[derive(Debug, Serialize)]
pub struct VirtualHost {
    /// `<namespace>_<name>` of the VirtualService.
    pub name: String,
    /// The VirtualService's domains.
    pub domains: Vec<String>,
    /// One per route matcher, in order.
    pub routes: Vec<Route>,
}

/// `config.route.v3.Route`.
#[derive(Debug, Serialize)]
pub struct Route {
    /// `<namespace>_<name>-route-<i>-matcher-<j>`, as Gloo names them.
    pub name: String,
    /// What the request must look like.
    #[serde(rename = "match")]
    pub match_: RouteMatch,
    /// Where it goes.
    pub route: RouteAction,
    /// Per-filter settings: the header mutation that names this route for extauth.
    pub typed_per_filter_config: BTreeMap<&'static str, Typed<HeaderMutationPerRoute>>,
}

/// `config.route.v3.RouteMatch`.
#[derive(Debug, Default, Serialize)]
pub struct RouteMatch {
    /// Path (with query) starts with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Path (without query) equals this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Path (without query) fully matches this RE2 expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe_regex: Option<RegexMatcher>,
    /// Case-sensitivity of `prefix` and `path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_sensitive: Option<bool>,
    /// Header conditions (methods become a `:method` condition).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatcher>,
    /// Query parameter conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_parameters: Vec<QueryParameterMatcher>,
}

/// `type.matcher.v3.RegexMatcher` (RE2).
#[derive(Debug, Serialize)]
pub struct RegexMatcher {
    /// The expression.
    pub regex: String,
}

/// `type.matcher.v3.StringMatcher` (the two forms generated).
#[derive(Debug, Serialize)]
pub struct StringMatcher {
    /// Equal to this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// Fully matches this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe_regex: Option<RegexMatcher>,
}

impl StringMatcher {
    /// `{exact: value}`.
    pub fn exact(value: &str) -> Self {
        StringMatcher {
            exact: Some(value.to_string()),
            safe_regex: None,
        }
    }

    /// `{safe_regex: {regex}}`.
    pub fn regex(regex: String) -> Self {
        StringMatcher {
            exact: None,
            safe_regex: Some(RegexMatcher { regex }),
        }
    }
}

/// `config.route.v3.HeaderMatcher`.
#[derive(Debug, Serialize)]
pub struct HeaderMatcher {
    /// Lower-case header name.
    pub name: String,
    /// The value condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_match: Option<StringMatcher>,
    /// Only presence is checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present_match: Option<bool>,
    /// Negates the condition.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub invert_match: bool,
}

/// `config.route.v3.QueryParameterMatcher`.
#[derive(Debug, Serialize)]
pub struct QueryParameterMatcher {
    /// Parameter name.
    pub name: String,
    /// The value condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_match: Option<StringMatcher>,
    /// Only presence is checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present_match: Option<bool>,
}

/// `config.route.v3.RouteAction`.
#[derive(Debug, Serialize)]
pub struct RouteAction {
    /// The Upstream's cluster.
    pub cluster: String,
    /// Host becomes the chosen endpoint's host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_host_rewrite: Option<bool>,
    /// Host becomes this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_rewrite_literal: Option<String>,
    /// The matched prefix becomes this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_rewrite: Option<String>,
    /// Upstream timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// `config.cluster.v3.Cluster`.
#[derive(Debug, Serialize)]
pub struct Cluster {
    /// `extauth`, or `<name>_<namespace>` of the Upstream.
    pub name: String,
    /// `STATIC` for IP addresses, `STRICT_DNS` otherwise.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// TCP connect timeout.
    pub connect_timeout: String,
    /// For DNS clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_lookup_family: Option<&'static str>,
    /// The hosts.
    pub load_assignment: ClusterLoadAssignment,
    /// Ejects hosts that stop answering (extauth cluster only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    /// Raised retry limit (extauth cluster only), so that losing replicas under load does not
    /// exhaust Envoy's default of 3 concurrent retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breakers: Option<CircuitBreakers>,
    /// TLS to the hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<Extension<UpstreamTlsContext>>,
}

/// `config.endpoint.v3.ClusterLoadAssignment`.
#[derive(Debug, Serialize)]
pub struct ClusterLoadAssignment {
    /// Same as the cluster's name.
    pub cluster_name: String,
    /// One locality holding every host.
    pub endpoints: Vec<LocalityLbEndpoints>,
}

/// `config.endpoint.v3.LocalityLbEndpoints`.
#[derive(Debug, Serialize)]
pub struct LocalityLbEndpoints {
    /// The hosts.
    pub lb_endpoints: Vec<LbEndpoint>,
}

/// `config.endpoint.v3.LbEndpoint`.
#[derive(Debug, Serialize)]
pub struct LbEndpoint {
    /// The host.
    pub endpoint: Endpoint,
    /// Relative weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancing_weight: Option<u32>,
}

/// `config.endpoint.v3.Endpoint`.
#[derive(Debug, Serialize)]
pub struct Endpoint {
    /// Address and port.
    pub address: Address,
    /// What `auto_host_rewrite` puts in Host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// `config.cluster.v3.CircuitBreakers`.
#[derive(Debug, Serialize)]
pub struct CircuitBreakers {
    /// One threshold set, for the default priority.
    pub thresholds: Vec<Thresholds>,
}

/// `config.cluster.v3.CircuitBreakers.Thresholds`.
#[derive(Debug, Serialize)]
pub struct Thresholds {
    /// Most retries outstanding at once towards the cluster.
    pub max_retries: u32,
}

/// `config.cluster.v3.OutlierDetection`, counting only failures to reach a host.
#[derive(Debug, Serialize)]
pub struct OutlierDetection {
    /// Keep a host's own connection failures apart from the 5xx it answers.
    pub split_external_local_origin_errors: bool,
    /// Connection failures in a row that eject a host.
    pub consecutive_local_origin_failure: u32,
    /// Percentage of such ejections enforced.
    pub enforcing_consecutive_local_origin_failure: u32,
    /// 5xx answers never eject (extauth answers 503 when *your* auth service fails).
    pub enforcing_consecutive_5xx: u32,
    /// Same for 502/503/504.
    pub enforcing_consecutive_gateway_failure: u32,
    /// Evaluation period.
    pub interval: String,
    /// Base ejection time.
    pub base_ejection_time: String,
    /// Most hosts ejected at once, in percent.
    pub max_ejection_percent: u32,
}

/// `extensions.transport_sockets.tls.v3.UpstreamTlsContext`.
#[derive(Debug, Serialize)]
pub struct UpstreamTlsContext {
    /// Server name sent in the TLS handshake.
    pub sni: String,
}
