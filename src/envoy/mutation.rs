//! The `header_mutation` filter, which runs before ext_authz: on every generated route it
//! removes the client's copies of the headers the route's auth service vouches for (see
//! [`super::vouched`]) and sets the route's identity for extauth (after Envoy's routing
//! decision, replacing any copy a client sent), so that extauth applies the policy of the route
//! Envoy took. The route configuration removes the identity again before a request goes
//! upstream.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Extension, Typed};
use crate::routing::identity::ROUTE_HEADER;

/// The filter's name, also the key of its per-route configuration.
pub const FILTER: &str = "envoy.filters.http.header_mutation";

/// `extensions.filters.http.header_mutation.v3.HeaderMutation`: nothing at the listener level;
/// every mutation is per route.
#[derive(Debug, Default, Serialize)]
pub struct HeaderMutation {}

/// `extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute`.
#[derive(Debug, Serialize)]
pub struct HeaderMutationPerRoute {
    /// The request mutations of this route.
    pub mutations: Mutations,
}

/// `extensions.filters.http.header_mutation.v3.Mutations`.
#[derive(Debug, Serialize)]
pub struct Mutations {
    /// Applied to the request in order, before ext_authz.
    pub request_mutations: Vec<HeaderMutationEntry>,
}

/// `config.common.mutation_rules.v3.HeaderMutation`: one header set or removed (exactly one
/// of the two fields).
#[derive(Debug, Default, Serialize)]
pub struct HeaderMutationEntry {
    /// Remove every copy of this header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove: Option<String>,
    /// Set this header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub append: Option<HeaderValueOption>,
}

/// `config.core.v3.HeaderValueOption`.
#[derive(Debug, Serialize)]
pub struct HeaderValueOption {
    /// The header.
    pub header: HeaderValue,
    /// `OVERWRITE_IF_EXISTS_OR_ADD`: every copy a client sent is replaced.
    pub append_action: &'static str,
}

/// `config.core.v3.HeaderValue`.
#[derive(Debug, Serialize)]
pub struct HeaderValue {
    /// Lower-case name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// The filter for `http_filters`, placed before ext_authz.
pub fn filter() -> Extension<HeaderMutation> {
    Extension {
        name: FILTER,
        typed_config: Typed {
            type_url:
                "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            value: HeaderMutation::default(),
        },
    }
}

/// A route's `typed_per_filter_config`: remove every client copy of the headers in `strip`
/// (those the route's auth service vouches for), then set the route identity `identity`.
pub fn per_route(
    identity: String,
    strip: &[String],
) -> BTreeMap<&'static str, Typed<HeaderMutationPerRoute>> {
    let mut request_mutations: Vec<HeaderMutationEntry> = strip
        .iter()
        .map(|name| HeaderMutationEntry {
            remove: Some(name.clone()),
            ..HeaderMutationEntry::default()
        })
        .collect();
    let set = HeaderMutationEntry {
        append: Some(HeaderValueOption {
            header: HeaderValue {
                key: ROUTE_HEADER.to_string(),
                value: identity,
            },
            append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
        }),
        ..HeaderMutationEntry::default()
    };
    request_mutations.push(set);
    BTreeMap::from([(
        FILTER,
        Typed {
            type_url: "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute",
            value: HeaderMutationPerRoute {
                mutations: Mutations { request_mutations },
            },
        },
    )])
}
