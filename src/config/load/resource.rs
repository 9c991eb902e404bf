//! What the loader yields: each document's resource (kind, key, source, hash, compiled content
//! and warnings) or its located errors, and a whole file's outcome.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::compile::Compile;
use crate::config::dependency::FileStamp;
use crate::config::error::ConfigError;
use crate::config::types::{AuthConfigSpec, ObjectKey};
use crate::config::upstream::UpstreamSpec;

/// The kinds of resource extauth reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Kind {
    /// `enterprise.gloo.solo.io/v1` AuthConfig.
    AuthConfig,
    /// `gateway.solo.io/v1` VirtualService.
    VirtualService,
    /// `gloo.solo.io/v1` Upstream (for `extauth envoy-config`; checks ignore it).
    Upstream,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Kind::AuthConfig => "AuthConfig",
            Kind::VirtualService => "VirtualService",
            Kind::Upstream => "Upstream",
        })
    }
}

/// A loaded AuthConfig: its spec as written and its compiled policy.
#[derive(Debug)]
pub struct AuthConfigResource<C: Compile> {
    /// The spec as written (for status pages and config generation).
    pub spec: AuthConfigSpec,
    /// The compiled policy the passthrough actor runs.
    pub policy: Arc<C::AuthConfig>,
}

/// The typed content of one valid document.
#[derive(Debug)]
pub enum Content<C: Compile> {
    /// An AuthConfig.
    AuthConfig(Arc<AuthConfigResource<C>>),
    /// A VirtualService, compiled.
    VirtualService(Arc<C::VirtualService>),
    /// An Upstream, as written.
    Upstream(Arc<UpstreamSpec>),
}

impl<C: Compile> Clone for Content<C> {
    fn clone(&self) -> Self {
        match self {
            Content::AuthConfig(ac) => Content::AuthConfig(ac.clone()),
            Content::VirtualService(vs) => Content::VirtualService(vs.clone()),
            Content::Upstream(up) => Content::Upstream(up.clone()),
        }
    }
}

/// Where a resource came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    /// The file.
    pub file: PathBuf,
    /// 1-based document index in the file.
    pub document: usize,
}

/// One valid resource.
#[derive(Clone, Debug)]
pub struct Resource<C: Compile> {
    /// Its kind.
    pub kind: Kind,
    /// Its namespace and name.
    pub key: ObjectKey,
    /// Where it was read.
    pub source: Source,
    /// SHA-256 of its spec, to tell real changes from rewrites.
    pub hash: String,
    /// The compiled content.
    pub content: Content<C>,
    /// What is accepted but not done as written: `extauth validate` prints these and the
    /// server logs them when the resource is loaded.
    pub warnings: Vec<ConfigError>,
}

/// One document's outcome: a resource, or errors plus whatever identity could be read.
#[derive(Debug)]
pub enum DocumentOutcome<C: Compile> {
    /// The document is valid.
    Valid(Resource<C>),
    /// The document is invalid; `identity` is known when kind and metadata could be read.
    Invalid {
        /// Kind and key, when readable.
        identity: Option<(Kind, ObjectKey)>,
        /// The domains an invalid VirtualService lists, when readable (lower-cased): while no
        /// version of it is in force, checks for them are denied rather than falling through
        /// to another virtual host.
        domains: Vec<String>,
        /// Every problem found.
        errors: Vec<ConfigError>,
    },
}

/// A whole file's outcome.
#[derive(Debug)]
pub struct FileOutcome<C: Compile> {
    /// Each document, in order (empty documents skipped).
    pub documents: Vec<DocumentOutcome<C>>,
    /// An error that made the rest of the file unreadable (syntax, encoding, size).
    pub fatal: Option<ConfigError>,
    /// The files its AuthConfigs read besides it (their TLS files), as they were when read:
    /// when one changes, the file is parsed again.
    pub dependencies: Vec<FileStamp>,
}
