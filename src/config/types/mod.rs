//! The resource schema: Gloo's `AuthConfig` and `VirtualService` as their YAML is written.
//!
//! Every struct denies unknown fields, so a misspelling is an error rather than a silently
//! ignored setting. Gloo fields that extauth does not act on are listed as [`Ignored`].

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

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

/// The namespace of a resource whose metadata names none, as in Kubernetes.
pub const DEFAULT_NAMESPACE: &str = "default";

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

mod auth_config;
mod virtual_service;

pub use auth_config::*;
pub use virtual_service::*;

impl Metadata {
    /// The namespace, [`DEFAULT_NAMESPACE`] when unset.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}
