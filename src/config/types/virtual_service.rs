//! The `VirtualService` kind (`gateway.solo.io/v1`): domains and routes, and which AuthConfig
//! each route uses.

use serde::Deserialize;

use super::Ignored;
use crate::config::duration::ConfigDuration;

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
    pub route_action: Option<crate::config::upstream::RouteAction>,
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
