//! Headers the auth service vouches for: the names in an AuthConfig's `allowedUpstreamHeaders`
//! and `allowedUpstreamHeadersToOverwrite` usually carry identity (`x-user-id`, `x-tenant`).
//! The generated routes strip every client-sent copy of them before ext_authz, so the upstream
//! only ever sees values that came from the auth service (and the auth service is never shown a
//! client's copy). A header the same AuthConfig also trusts from the client (`allowedHeaders`)
//! is kept, as its owner chose (a warning at load says so). `--keep-client-identity-headers`
//! keeps Gloo's behaviour: nothing stripped.
//!
//! One ext_authz filter serves every route, so its upstream header lists are unions: a header
//! one AuthConfig appends and another overwrites would get both treatments on every answer.
//! That combination cannot be expressed and is refused.

use std::collections::{BTreeMap, BTreeSet};

use crate::compiled::{Content, Snapshot};
use crate::config::types::ObjectKey;
use crate::policy::AuthPolicy;

/// The headers to strip on the routes of each AuthConfig (lower-case, sorted).
pub fn stripped(snapshot: &Snapshot) -> BTreeMap<ObjectKey, Vec<String>> {
    snapshot
        .auth_configs()
        .filter_map(|(key, loaded)| match &loaded.resource.content {
            Content::AuthConfig(ac) => Some((key.clone(), of_policy(&ac.policy))),
            _ => None,
        })
        .filter(|(_, names)| !names.is_empty())
        .collect()
}

/// What one AuthConfig vouches for and does not trust from the client.
fn of_policy(policy: &AuthPolicy) -> Vec<String> {
    let trusted: BTreeSet<&str> = policy
        .steps
        .iter()
        .flat_map(|s| &s.allowed_headers)
        .map(|h| h.as_str())
        .collect();
    let vouched: BTreeSet<&str> = policy
        .steps
        .iter()
        .flat_map(|s| {
            s.upstream_headers
                .iter()
                .chain(&s.upstream_headers_to_overwrite)
        })
        .map(|h| h.as_str())
        .collect();
    vouched
        .difference(&trusted)
        .map(|h| h.to_string())
        .collect()
}

/// Every header appended by one AuthConfig and overwritten by another, as an error naming both
/// AuthConfigs and the header.
pub fn list_conflicts(snapshot: &Snapshot) -> Vec<String> {
    let mut appended: BTreeMap<&str, Vec<&ObjectKey>> = BTreeMap::new();
    let mut overwritten: BTreeMap<&str, Vec<&ObjectKey>> = BTreeMap::new();
    for (key, loaded) in snapshot.auth_configs() {
        let Content::AuthConfig(ac) = &loaded.resource.content else {
            continue;
        };
        for step in &ac.policy.steps {
            for h in &step.upstream_headers {
                appended.entry(h.as_str()).or_default().push(key);
            }
            for h in &step.upstream_headers_to_overwrite {
                overwritten.entry(h.as_str()).or_default().push(key);
            }
        }
    }
    let mut errors = Vec::new();
    for (header, appenders) in &appended {
        let Some(overwriters) = overwritten.get(header) else {
            continue;
        };
        let (a, o) = (dedup(appenders), dedup(overwriters));
        errors.push(format!(
            "header `{header}` is appended by AuthConfig {a} (allowedUpstreamHeaders) and overwritten by AuthConfig {o} (allowedUpstreamHeadersToOverwrite): Envoy's one ext_authz filter applies both lists to every answer, so the upstream would receive the value twice; list `{header}` the same way in both"
        ));
    }
    errors
}

fn dedup(keys: &[&ObjectKey]) -> String {
    let set: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}
