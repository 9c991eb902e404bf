//! The `AuthConfig` kind (`enterprise.gloo.solo.io/v1`): chains of passthrough steps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Ignored;
use crate::config::duration::ConfigDuration;

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
    /// TLS towards an https auth service, from files (an extauth extension: Gloo's names
    /// Kubernetes secrets); unset: the default trust roots, no client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// The decision cache of this step (an extauth extension, see docs/cache.md); unset:
    /// every check calls the auth service, as in Gloo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// Stop calling an auth service that keeps failing, for a while (an extauth extension);
    /// unset: every check calls it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreakerConfig>,
}

/// `passThroughAuth.http.circuitBreaker` (an extauth extension): after `consecutiveErrors`
/// errors in a row, checks fail at once (503, or allow with `failureModeAllow`) without calling
/// the auth service; after `openFor`, one probe call decides whether calls go out again.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Errors in a row (5xx, timeout, refused, reset, TLS failure) that open it; at least 1.
    pub consecutive_errors: u32,
    /// How long it stays open before one probe call goes out; more than 0.
    pub open_for: ConfigDuration,
}

/// `passThroughAuth.http.tlsConfig`: extauth's file-based form of Gloo's per-config TLS. Paths
/// are relative to the config directory. Only the paths are part of the AuthConfig (and of its
/// content hash): new contents of the files are picked up in place, keeping its connections.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM bundle of the CAs trusted for this auth service, instead of the default roots (the
    /// system's plus `HTTPS_PASSTHROUGH_CA_CERT`); unset: the default roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// PEM client certificate chain presented when the auth service asks for one (mTLS);
    /// needs `keyFile`; unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// PEM private key of `certFile` (PKCS#8, RSA or EC, unencrypted); needs `certFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Name sent as SNI and verified against the certificate; default the url's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Oldest TLS version offered: `TLSv1_2` (the default) or `TLSv1_3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_protocol_version: Option<String>,
    /// Gloo's reference to a Kubernetes secret; rejected with a pointer to the file fields.
    #[serde(default, skip_serializing)]
    pub secret_ref: Ignored,
    /// Gloo's `sslParams`; rejected with a pointer to `minimumProtocolVersion`.
    #[serde(default, skip_serializing)]
    pub ssl_params: Ignored,
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

/// `passThroughAuth.http.cache`: how long this step's answers are reused for identical auth
/// requests (an extauth extension). Only the settings are part of the AuthConfig: an edit
/// starts an empty cache.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CacheConfig {
    /// Lifetime of an allow when the auth service's `Cache-Control` says nothing, and the cap
    /// on the `max-age` it gives; required, more than 0.
    pub max_age: ConfigDuration,
    /// Lifetime (and cap) of a denial (a non-200, non-5xx answer); default 0: denials are
    /// never cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_max_age: Option<ConfigDuration>,
    /// How long past its expiry an entry may still answer while the auth service errs;
    /// default 0: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_if_error: Option<ConfigDuration>,
    /// Most entries kept for this step (the least useful are evicted first); default 10000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
}
