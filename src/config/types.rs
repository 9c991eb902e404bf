//! The resource schema: Gloo's `AuthConfig` and `VirtualService` as their YAML is written.
//!
//! Every struct denies unknown fields, so a misspelling is an error rather than a silently
//! ignored setting. Gloo fields that extauth does not act on are listed as [`Ignored`].

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::duration::ConfigDuration;

/// A field that Gloo defines and extauth accepts without acting on it.
pub type Ignored = Option<IgnoredAny>;

/// `apiVersion` of `AuthConfig` resources.
pub const AUTH_CONFIG_API: &str = "enterprise.gloo.solo.io/v1";
/// `apiVersion` of `VirtualService` resources.
pub const VIRTUAL_SERVICE_API: &str = "gateway.solo.io/v1";

/// Namespace and name: how resources refer to each other.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// Kubernetes-style namespace (`default` when unset).
    pub namespace: String,
    /// The resource's name.
    pub name: String,
}

impl ObjectKey {
    /// A key from its parts.
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A resource document: the Kubernetes envelope around a kind-specific spec.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document<S> {
    /// Group and version; must match the kind's (see [`AUTH_CONFIG_API`]).
    pub api_version: String,
    /// `AuthConfig` or `VirtualService`.
    pub kind: String,
    /// Name and namespace that other resources refer to.
    pub metadata: Metadata,
    /// The kind-specific part.
    pub spec: S,
    /// Written by controllers in a cluster; ignored.
    #[serde(default)]
    pub status: Ignored,
}

/// Kubernetes object metadata; only name and namespace matter to extauth.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The resource's name, unique per kind and namespace.
    pub name: String,
    /// Defaults to `default`, as in Kubernetes.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Accepted for copy-pasted manifests; ignored.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Accepted for copy-pasted manifests; ignored.
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Cluster-managed fields of exported manifests; ignored.
    #[serde(default)]
    pub uid: Ignored,
    /// Cluster-managed; ignored.
    #[serde(default)]
    pub resource_version: Ignored,
    /// Cluster-managed; ignored.
    #[serde(default)]
    pub generation: Ignored,
    /// Cluster-managed; ignored.
    #[serde(default)]
    pub creation_timestamp: Ignored,
    /// Cluster-managed; ignored.
    #[serde(default)]
    pub managed_fields: Ignored,
    /// Cluster-managed; ignored.
    #[serde(default)]
    pub owner_references: Ignored,
}

// ---------------------------------------------------------------------------------------------
// AuthConfig

/// `AuthConfig.spec`: a chain of auth steps, optionally combined by a boolean expression.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfigSpec {
    /// The steps; without `booleanExpr` each must allow, in order.
    pub configs: Vec<AuthStep>,
    /// Combines the steps by name: `&&`, `||`, `!` and parentheses, left to right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boolean_expr: Option<String>,
    /// Gloo's OIDC redirect setting; meaningless for passthrough, ignored.
    #[serde(default, skip_serializing)]
    pub fail_on_redirect: Ignored,
}

/// One step of an AuthConfig. Only `passThroughAuth` is supported; the other Gloo auth kinds
/// are recognised so that they get a clear error instead of "unknown field".
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthStep {
    /// Name used by `booleanExpr` and in logs; defaults to `config_<index>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The passthrough step: ask the user's own auth service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_through_auth: Option<PassThroughAuth>,
    /// Unsupported Gloo auth kinds (rejected with a clear error).
    #[serde(default, skip_serializing)]
    pub basic_auth: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub oauth: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub oauth2: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub api_key_auth: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub plugin_auth: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub opa_auth: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub opa_server_auth: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub ldap: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub ldap_internal: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub jwt: Ignored,
    #[serde(default, skip_serializing)]
    #[allow(missing_docs)]
    pub hmac_auth: Ignored,
}

impl AuthStep {
    /// The name of the first unsupported Gloo auth kind this step sets, if any.
    pub fn unsupported_kind(&self) -> Option<&'static str> {
        [
            (self.basic_auth.is_some(), "basicAuth"),
            (self.oauth.is_some(), "oauth"),
            (self.oauth2.is_some(), "oauth2"),
            (self.api_key_auth.is_some(), "apiKeyAuth"),
            (self.plugin_auth.is_some(), "pluginAuth"),
            (self.opa_auth.is_some(), "opaAuth"),
            (self.opa_server_auth.is_some(), "opaServerAuth"),
            (self.ldap.is_some(), "ldap"),
            (self.ldap_internal.is_some(), "ldapInternal"),
            (self.jwt.is_some(), "jwt"),
            (self.hmac_auth.is_some(), "hmacAuth"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

/// `passThroughAuth`: delegate the decision to the user's own auth service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassThroughAuth {
    /// The HTTP auth service to call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<PassThroughHttp>,
    /// Gloo's gRPC passthrough; not supported (rejected with a clear error).
    #[serde(default, skip_serializing)]
    pub grpc: Ignored,
    /// Arbitrary settings sent to the auth service as `config` in the JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// Allow the request when the auth service errs (5xx, timeout, unreachable).
    #[serde(default)]
    pub failure_mode_allow: bool,
}

/// `passThroughAuth.http`: where and how to call the auth service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassThroughHttp {
    /// Address of the auth service; its path and query are used as written.
    pub url: String,
    /// What to send to the auth service.
    #[serde(default)]
    pub request: PassThroughRequest,
    /// What to take from the auth service's answer.
    #[serde(default)]
    pub response: PassThroughResponse,
    /// Budget for the whole call (waiting for a connection included); default 5s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_timeout: Option<ConfigDuration>,
    /// Longest wait for the answer's headers; 0 or unset means only `connectionTimeout` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_timeout: Option<ConfigDuration>,
    /// Connection limits towards this auth service.
    #[serde(default)]
    pub connection_pool: ConnectionPool,
    /// Per-config TLS (Gloo 2026 API); not supported yet, rejected with a clear error.
    #[serde(default, skip_serializing)]
    pub tls_config: Ignored,
}

/// `passThroughAuth.http.request`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassThroughRequest {
    /// Headers copied from the checked request (case-insensitive); none by default.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Headers set on every auth call, overwriting copied ones of the same name.
    #[serde(default)]
    pub headers_to_add: BTreeMap<String, String>,
    /// Send the chain's state as `state` in the JSON body.
    #[serde(default)]
    pub pass_through_state: bool,
    /// Send `filterMetadata` in the JSON body (always `{}`: Envoy's HTTP mode has none).
    #[serde(default)]
    pub pass_through_filter_metadata: bool,
    /// Send the checked request's body as `body` in the JSON body.
    #[serde(default)]
    pub pass_through_body: bool,
}

/// `passThroughAuth.http.response`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassThroughResponse {
    /// Auth-answer headers appended to the upstream request on allow.
    #[serde(default)]
    pub allowed_upstream_headers: Vec<String>,
    /// Auth-answer headers that overwrite upstream request headers on allow.
    #[serde(default)]
    pub allowed_upstream_headers_to_overwrite: Vec<String>,
    /// Auth-answer headers sent to the client on denial.
    #[serde(default)]
    pub allowed_client_headers_on_denied: Vec<String>,
    /// Auth-answer headers sent to the client on allow.
    #[serde(default)]
    pub allowed_client_headers_on_success: Vec<String>,
    /// Replace the chain's state with the answer body's `{"state": {...}}`.
    #[serde(default)]
    pub read_state_from_response: bool,
}

/// `passThroughAuth.http.connectionPool`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPool {
    /// Most connections open at once, in-flight calls included; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_conns: Option<u32>,
    /// Close a keep-alive connection idle this long; 0 or unset keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<ConfigDuration>,
}

// ---------------------------------------------------------------------------------------------
// VirtualService

/// `VirtualService.spec`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualServiceSpec {
    /// The domains and routes.
    pub virtual_host: VirtualHost,
    /// Shown in Gloo's UI; ignored.
    #[serde(default)]
    pub display_name: Ignored,
    /// TLS termination is Envoy's job; ignored.
    #[serde(default)]
    pub ssl_config: Ignored,
}

/// `spec.virtualHost`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualHost {
    /// Host names served: exact, `*.suffix`, `prefix.*` or `*`.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Tried in order; the first match wins.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Virtual-host options; `extauth` is inherited by every route.
    #[serde(default)]
    pub options: Option<VirtualHostOptions>,
}

/// A route: matchers, an action (ignored by extauth) and options.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// Any one matching selects the route; none means every path.
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    /// Route options; `extauth` overrides the virtual host's.
    #[serde(default)]
    pub options: Option<RouteOptions>,
    /// Route name, used in logs.
    #[serde(default)]
    pub name: Option<String>,
    /// Where Envoy sends the request; ignored by extauth, read by `extauth envoy-config`.
    #[serde(default)]
    pub route_action: Option<super::upstream::RouteAction>,
    /// Ignored by extauth.
    #[serde(default)]
    pub redirect_action: Ignored,
    /// Ignored by extauth.
    #[serde(default)]
    pub direct_response_action: Ignored,
    /// Delegation to RouteTables; not supported (rejected with a clear error).
    #[serde(default)]
    pub delegate_action: Ignored,
    /// Ignored by extauth.
    #[serde(default)]
    pub inheritable_matchers: Ignored,
    /// Ignored by extauth.
    #[serde(default)]
    pub inheritable_path_matchers: Ignored,
}

/// `options.extauth`: which AuthConfig applies, or none.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtAuthExtension {
    /// The AuthConfig to apply.
    #[serde(default)]
    pub config_ref: Option<ResourceRef>,
    /// Turn auth off for this route.
    #[serde(default)]
    pub disable: bool,
    /// Gloo's custom auth server; not supported (rejected with a clear error).
    #[serde(default)]
    pub custom_auth: Ignored,
}

/// A reference to another resource; the namespace defaults to the referrer's.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRef {
    /// The resource's name.
    pub name: String,
    /// The resource's namespace; the referring resource's when unset.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A route matcher, as Gloo's `matchers[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Matcher {
    /// The path (with its query) starts with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The path (without its query) equals this.
    #[serde(default)]
    pub exact: Option<String>,
    /// The whole path (without its query) matches this regular expression.
    #[serde(default)]
    pub regex: Option<String>,
    /// Envoy's CONNECT matcher; not supported (rejected).
    #[serde(default)]
    pub connect_path: Ignored,
    /// Path comparison is case-sensitive unless this is false.
    #[serde(default)]
    pub case_sensitive: Option<bool>,
    /// Header conditions, all of which must hold.
    #[serde(default)]
    pub headers: Vec<HeaderMatcher>,
    /// Query parameter conditions, all of which must hold.
    #[serde(default)]
    pub query_parameters: Vec<QueryParameterMatcher>,
    /// The request method is one of these (any when empty).
    #[serde(default)]
    pub methods: Vec<String>,
}

/// A header condition of a matcher.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderMatcher {
    /// Header name (case-insensitive).
    pub name: String,
    /// Expected value; unset means the header must be present.
    #[serde(default)]
    pub value: Option<String>,
    /// Treat `value` as a regular expression matching the whole value.
    #[serde(default)]
    pub regex: bool,
    /// Invert the condition.
    #[serde(default)]
    pub invert_match: bool,
}

/// A query parameter condition of a matcher.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryParameterMatcher {
    /// Parameter name.
    pub name: String,
    /// Expected value; unset means the parameter must be present.
    #[serde(default)]
    pub value: Option<String>,
    /// Treat `value` as a regular expression matching the whole value.
    #[serde(default)]
    pub regex: bool,
}

/// Declares an options struct: `extauth`, which extauth acts on, plus Gloo's other options,
/// which Envoy acts on and extauth accepts and ignores.
macro_rules! options_struct {
    ($(#[$doc:meta])* $name:ident { $($ignored:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// Which AuthConfig applies (or none).
            #[serde(default)]
            pub extauth: Option<ExtAuthExtension>,
            /// Envoy's `auto_host_rewrite` (routes only; read by `extauth envoy-config`).
            #[serde(default)]
            pub auto_host_rewrite: Option<bool>,
            /// Envoy's `host_rewrite_literal` (routes only; read by `extauth envoy-config`).
            #[serde(default)]
            pub host_rewrite: Option<String>,
            /// Envoy's `prefix_rewrite` (routes only; read by `extauth envoy-config`).
            #[serde(default)]
            pub prefix_rewrite: Option<String>,
            /// Envoy's route `timeout` (routes only; read by `extauth envoy-config`).
            #[serde(default)]
            pub timeout: Option<ConfigDuration>,
            $(
                /// A Gloo option Envoy acts on; ignored by extauth.
                #[serde(default)]
                pub $ignored: Ignored,
            )*
        }

        impl $name {
            /// The options set here that neither extauth nor `extauth envoy-config` acts on.
            pub fn ignored_options(&self) -> Vec<&'static str> {
                let mut set = Vec::new();
                $(
                    if self.$ignored.is_some() {
                        set.push(stringify!($ignored));
                    }
                )*
                set
            }
        }
    };
}

options_struct! {
    /// `virtualHost.options`: `extauth` is inherited by every route.
    VirtualHostOptions { regex_rewrite, retries, cors, header_manipulation, transformations, staged_transformations, faults, tracing, shadowing, lb_hash, upgrades, append_x_forwarded_host, ratelimit, ratelimit_basic, rate_limit_configs, waf, jwt, jwt_staged, rbac, dlp, csrf, buffer_per_route, include_request_attempt_count, include_attempt_count_in_response, max_stream_duration, idle_timeout, envoy_metadata, stats, extensions, header_validation_settings }
}

options_struct! {
    /// `route.options`: `extauth` overrides the virtual host's.
    RouteOptions { regex_rewrite, retries, cors, header_manipulation, transformations, staged_transformations, faults, tracing, shadowing, lb_hash, upgrades, append_x_forwarded_host, ratelimit, ratelimit_basic, rate_limit_configs, waf, jwt, jwt_staged, rbac, dlp, csrf, buffer_per_route, include_request_attempt_count, include_attempt_count_in_response, max_stream_duration, idle_timeout, envoy_metadata, stats, extensions, header_validation_settings }
}
