//! The config directory as the server uses it: config/'s resources with every AuthConfig
//! compiled into a policy (policy/) and every VirtualService into routes (routing/). config/
//! is generic over its compiler so that it depends on neither; the rest of extauth names the
//! types here.

use std::path::Path;

use crate::config::dependency::FileStamp;
use crate::config::types::{AuthConfigSpec, VirtualServiceSpec};
use crate::config::{self, FieldError};
use crate::policy::{self, AuthPolicy};
use crate::routing::{self, CompiledVirtualService};

/// extauth's compiler: AuthConfigs by [`policy::compile_at`], VirtualServices by
/// [`routing::compile_virtual_service`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Compiler;

impl config::Compile for Compiler {
    type AuthConfig = AuthPolicy;
    type VirtualService = CompiledVirtualService;

    fn auth_config(
        spec: &AuthConfigSpec,
        base: &Path,
        read: &mut Vec<FileStamp>,
    ) -> Result<AuthPolicy, Vec<FieldError>> {
        policy::compile_at(spec, base, read)
    }

    fn virtual_service(
        namespace: &str,
        spec: &VirtualServiceSpec,
    ) -> Result<CompiledVirtualService, Vec<FieldError>> {
        routing::compile_virtual_service(namespace, spec)
    }
}

/// Everything in force after one reload.
pub type Snapshot = config::Snapshot<Compiler>;
/// A resource in force, with when this version was first loaded.
pub type Loaded = config::Loaded<Compiler>;
/// One valid resource.
pub type Resource = config::Resource<Compiler>;
/// The typed, compiled content of one valid document.
pub type Content = config::Content<Compiler>;
/// The config store: the files of the config directory turned into snapshots.
pub type Store = config::Store<Compiler>;
/// The result of one reload.
pub type Reload = config::Reload<Compiler>;
/// A new snapshot of the config directory, sent to every subscriber.
pub type ConfigUpdate = config::ConfigUpdate<Compiler>;
/// The config actor.
pub type ConfigWatcher = config::ConfigWatcher<Compiler>;

#[cfg(test)]
mod tls_tests;
