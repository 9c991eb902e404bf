//! State of one AuthConfig version's step that every worker shard shares (the shards
//! themselves are bound to their threads): built once per version by the registry, dropped
//! with the version.

use std::sync::Arc;

use crate::policy::AuthPolicy;

/// What the shards of one AuthConfig version share about one of its steps.
#[derive(Debug, Default)]
pub struct StepShared {}

impl StepShared {
    /// The shared state of each step of `policy`, in step order.
    pub fn for_policy(policy: &AuthPolicy) -> Arc<[StepShared]> {
        policy.steps.iter().map(|_| StepShared::default()).collect()
    }
}
