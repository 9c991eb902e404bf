//! What config/ asks of the layers that compile its resources. A file is applied only whole,
//! so a document counts as valid only once it compiles: the loader calls the compiler while it
//! reads a file, and keeps the compiled form with the resource. What the compiled forms are is
//! up to the layers that use them (policy/ for AuthConfigs, routing/ for VirtualServices);
//! config/ sees them only through these traits.

use std::fmt::Debug;
use std::path::Path;

use super::dependency::FileStamp;
use super::error::FieldError;
use super::types::{AuthConfigSpec, ObjectKey, VirtualServiceSpec};

/// Compiles the resources of a config directory; the server's implementation is a marker type
/// of the layer above policy/ and routing/, and every config type is generic over it.
pub trait Compile: Debug + Default + Clone + Send + Sync + 'static {
    /// What an AuthConfig compiles into.
    type AuthConfig: CompiledAuthConfig;
    /// What a VirtualService compiles into.
    type VirtualService: VirtualServiceClaims;

    /// Compiles an AuthConfig's spec; relative file paths (TLS files) are relative to
    /// `base`, and every file read besides the config file is added to `read`, so that the
    /// config file is read again when one of them changes.
    fn auth_config(
        spec: &AuthConfigSpec,
        base: &Path,
        read: &mut Vec<FileStamp>,
    ) -> Result<Self::AuthConfig, Vec<FieldError>>;

    /// Compiles a VirtualService's spec; `namespace` is its own, the default for the
    /// AuthConfigs it names without one.
    fn virtual_service(
        namespace: &str,
        spec: &VirtualServiceSpec,
    ) -> Result<Self::VirtualService, Vec<FieldError>>;
}

/// What config/ needs of a compiled AuthConfig.
pub trait CompiledAuthConfig: Debug + Send + Sync + 'static {
    /// What is accepted but not done as written (`extauth validate` prints these).
    fn warnings(&self) -> &[FieldError];

    /// Takes the TLS material of `newer`, the same spec compiled again because one of its TLS
    /// files changed, so that the version in force keeps its connections; true when the
    /// material changed.
    fn adopt_tls(&self, newer: &Self) -> bool;
}

/// What config/ needs of a compiled VirtualService: whom it claims and whom it names.
pub trait VirtualServiceClaims: Debug + Send + Sync + 'static {
    /// Its domains, lower-cased: two VirtualServices claiming one domain are both rejected.
    fn domains(&self) -> &[String];

    /// Every AuthConfig its routes name, with the route's name: a name that resolves to no
    /// AuthConfig is reported.
    fn config_refs(&self) -> Vec<(&str, &ObjectKey)>;
}
