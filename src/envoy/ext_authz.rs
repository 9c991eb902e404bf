//! The ext_authz HTTP filter that sends every request to extauth: its header lists are the
//! unions of what the AuthConfigs (and route header matchers) need, its timeout just above the
//! longest chain.

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::http::header::HeaderName;
use serde::Serialize;

use super::model::{Extension, StringMatcher, Typed};
use super::retry::RetryPolicy;
use super::{envoy_duration, Options};
use crate::compiled::{Content, Snapshot};
use crate::policy::DEFAULT_CONNECTION_TIMEOUT;
use crate::routing::identity::ROUTE_HEADER;

/// What Envoy's check timeout adds to the longest chain's total `connectionTimeout`.
pub const TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

/// The header names each Envoy list must carry, and what else the filter depends on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Every `allowedHeaders` entry plus every route header-matcher name.
    pub allowed_headers: BTreeSet<String>,
    /// Every `allowedUpstreamHeaders` entry.
    pub upstream_append: BTreeSet<String>,
    /// Every `allowedUpstreamHeadersToOverwrite` entry.
    pub upstream_overwrite: BTreeSet<String>,
    /// Every `allowedClientHeadersOnDenied` entry.
    pub client_on_denied: BTreeSet<String>,
    /// Every `allowedClientHeadersOnSuccess` entry.
    pub client_on_success: BTreeSet<String>,
    /// Whether some AuthConfig sets `passThroughBody`.
    pub body: bool,
    /// The longest chain's total `connectionTimeout` (the default when there is no
    /// AuthConfig, so that a first one with default settings needs no new Envoy config).
    pub longest_chain: Duration,
}

/// Collects what the loaded resources need from Envoy's filter.
pub fn needs(snapshot: &Snapshot) -> Needs {
    let mut n = Needs::default();
    let mut longest = None;
    for loaded in snapshot.resources.values() {
        match &loaded.resource.content {
            Content::AuthConfig(ac) => {
                let steps = &ac.policy.steps;
                for s in steps {
                    add(&mut n.allowed_headers, &s.allowed_headers);
                    add(&mut n.upstream_append, &s.upstream_headers);
                    add(&mut n.upstream_overwrite, &s.upstream_headers_to_overwrite);
                    add(&mut n.client_on_denied, &s.client_headers_on_denied);
                    add(&mut n.client_on_success, &s.client_headers_on_success);
                }
                n.body |= steps.iter().any(|s| s.pass_body);
                // each timeout is at most a day (config::duration), and the sum saturates
                let total = steps
                    .iter()
                    .fold(Duration::ZERO, |sum, s| sum.saturating_add(s.timeout));
                longest = longest.max(Some(total));
            }
            Content::VirtualService(vs) => {
                let matchers = vs.spec.virtual_host.routes.iter().flat_map(|r| &r.matchers);
                n.allowed_headers.extend(
                    matchers
                        .flat_map(|m| &m.headers)
                        .map(|h| h.name.to_ascii_lowercase())
                        .filter(|name| !name.starts_with(':')),
                );
            }
            Content::Upstream(_) => {}
        }
    }
    n.longest_chain = longest.unwrap_or(DEFAULT_CONNECTION_TIMEOUT);
    n
}

fn add(set: &mut BTreeSet<String>, names: &[HeaderName]) {
    set.extend(names.iter().map(|h| h.as_str().to_string()));
}

/// The `envoy.filters.http.ext_authz` filter for the loaded resources; with `route_identity`
/// (the bootstrap, whose routes set it) it forwards the route identity header to extauth.
pub fn filter(snapshot: &Snapshot, opts: &Options, route_identity: bool) -> Extension<ExtAuthz> {
    let mut n = needs(snapshot);
    if route_identity {
        n.allowed_headers.insert(ROUTE_HEADER.to_string());
    }
    let first = opts
        .extauth
        .first()
        .map_or_else(|| "extauth:8083".to_string(), |a| a.to_string());
    Extension {
        name: "envoy.filters.http.ext_authz",
        typed_config: Typed {
            type_url: "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            value: ExtAuthz {
                transport_api_version: "V3",
                failure_mode_allow: false,
                status_on_error: HttpStatus {
                    code: "ServiceUnavailable",
                },
                clear_route_cache: false,
                allowed_headers: ListStringMatcher::exact(&n.allowed_headers),
                with_request_body: n.body.then_some(BufferSettings {
                    max_request_bytes: opts.max_request_bytes,
                    allow_partial_message: false,
                }),
                http_service: HttpService {
                    server_uri: HttpUri {
                        uri: format!("http://{first}"),
                        cluster: super::EXTAUTH_CLUSTER,
                        timeout: envoy_duration(n.longest_chain.saturating_add(TIMEOUT_MARGIN)),
                    },
                    path_prefix: opts.path_prefix.clone(),
                    retry_policy: super::retry::retry_policy(opts.replicas),
                    authorization_response: AuthorizationResponse {
                        allowed_upstream_headers: ListStringMatcher::exact(&n.upstream_overwrite),
                        allowed_upstream_headers_to_append: ListStringMatcher::exact(
                            &n.upstream_append,
                        ),
                        allowed_client_headers: ListStringMatcher::exact(&n.client_on_denied),
                        allowed_client_headers_on_success: ListStringMatcher::exact(
                            &n.client_on_success,
                        ),
                    },
                },
            },
        },
    }
}

/// `extensions.filters.http.ext_authz.v3.ExtAuthz`.
#[derive(Debug, Serialize)]
pub struct ExtAuthz {
    /// Always `V3`.
    pub transport_api_version: &'static str,
    /// Envoy lets requests through when extauth fails; always false (extauth decides
    /// `failureModeAllow` per AuthConfig and answers 200 itself).
    pub failure_mode_allow: bool,
    /// What the client gets when extauth errs or answers 5xx.
    pub status_on_error: HttpStatus,
    /// Keep the route chosen before the check (so extauth's choice is the one enforced).
    pub clear_route_cache: bool,
    /// Client headers sent to extauth besides Host, method, path, Content-Length and
    /// Authorization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_headers: Option<ListStringMatcher>,
    /// Buffer the request body for the check (when an AuthConfig passes the body through).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_request_body: Option<BufferSettings>,
    /// The extauth service.
    pub http_service: HttpService,
}

/// `type.v3.HttpStatus`.
#[derive(Debug, Serialize)]
pub struct HttpStatus {
    /// An `envoy.type.v3.StatusCode` name.
    pub code: &'static str,
}

/// `type.matcher.v3.ListStringMatcher` of exact, lower-case header names.
#[derive(Debug, Serialize)]
pub struct ListStringMatcher {
    /// One matcher per name.
    pub patterns: Vec<StringMatcher>,
}

impl ListStringMatcher {
    /// `None` for an empty list (Envoy's default then applies), else exact matchers.
    pub fn exact<'a>(names: impl IntoIterator<Item = &'a String>) -> Option<Self> {
        let patterns: Vec<StringMatcher> =
            names.into_iter().map(|n| StringMatcher::exact(n)).collect();
        (!patterns.is_empty()).then_some(ListStringMatcher { patterns })
    }
}

/// `extensions.filters.http.ext_authz.v3.BufferSettings`.
#[derive(Debug, Serialize)]
pub struct BufferSettings {
    /// Larger bodies get 413 from Envoy.
    pub max_request_bytes: u32,
    /// Send a truncated body instead of answering 413.
    pub allow_partial_message: bool,
}

/// `extensions.filters.http.ext_authz.v3.HttpService`.
#[derive(Debug, Serialize)]
pub struct HttpService {
    /// extauth's address, cluster and the check timeout.
    pub server_uri: HttpUri,
    /// Put before the original path of each check (extauth's `--path-prefix`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Retry a check on another replica when one cannot be reached; none with a single
    /// replica (see [`super::retry`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// Which headers of extauth's answer Envoy uses.
    pub authorization_response: AuthorizationResponse,
}

/// `config.core.v3.HttpUri`.
#[derive(Debug, Serialize)]
pub struct HttpUri {
    /// `http://<first extauth address>` (Envoy requires it; the cluster decides).
    pub uri: String,
    /// The extauth cluster.
    pub cluster: &'static str,
    /// The whole check's budget.
    pub timeout: String,
}

/// `extensions.filters.http.ext_authz.v3.AuthorizationResponse`.
#[derive(Debug, Default, Serialize)]
pub struct AuthorizationResponse {
    /// On 200: set on the upstream request, replacing same-named headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_upstream_headers: Option<ListStringMatcher>,
    /// On 200: appended to the upstream request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_upstream_headers_to_append: Option<ListStringMatcher>,
    /// On denial: sent to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_client_headers: Option<ListStringMatcher>,
    /// On 200: added to the response to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_client_headers_on_success: Option<ListStringMatcher>,
}
