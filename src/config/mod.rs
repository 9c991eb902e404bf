//! Configuration: the resource schema, reading and validating the config directory, and the
//! config actor that watches it and broadcasts each new snapshot.

mod compile;
mod conflicts;
pub mod dependency;
pub mod duration;
mod error;
mod listing;
pub mod load;
mod read;
pub mod settle;
mod snapshot;
mod store;
mod strict;
pub mod types;
pub mod upstream;
mod watch;

pub use compile::{Compile, CompiledAuthConfig, VirtualServiceClaims};
pub use error::{ConfigError, FieldError};
pub use load::{Content, Kind, Resource, Source};
pub use snapshot::{Diff, Loaded, Reload, ResourceId, Snapshot};
pub use store::Store;
pub use watch::{ConfigUpdate, ConfigWatcher};
