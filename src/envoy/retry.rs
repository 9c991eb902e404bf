//! How Envoy retries a check that could not reach an extauth replica: only onto *another*
//! replica, at most once per other replica, after a short back-off; with a single replica not
//! at all, so that a replica that is down costs each check one failed connection and no more.
//!
//! Envoy's own default back-off for `http_service.retry_policy` starts at one second (jittered,
//! growing tenfold), and with no other replica its previous-hosts predicate gives up and picks
//! the same one again: a single replica that was down held every check 0.8 to 2.2 s before its
//! 503. Hence no policy for one replica, and a back-off of milliseconds for several.

use serde::Serialize;

use super::envoy_duration;
use super::model::{Empty, Extension, Typed};
use std::time::Duration;

/// The most retries of one check, however many replicas there are: a check that found three
/// replicas unreachable in a row meets an outage, not a lost replica.
pub const MAX_RETRIES: u32 = 3;
/// First back-off before a retry (jittered by Envoy).
pub const BACK_OFF_BASE: Duration = Duration::from_millis(5);
/// Longest back-off before a retry.
pub const BACK_OFF_MAX: Duration = Duration::from_millis(50);
/// How often Envoy picks again when its pick is a replica this check already tried.
pub const HOST_SELECTION_ATTEMPTS: u32 = 10;

/// `config.core.v3.RetryPolicy` of the ext_authz `http_service`.
#[derive(Debug, Serialize)]
pub struct RetryPolicy {
    /// Retries after the first try: one per other replica, at most [`MAX_RETRIES`].
    pub num_retries: u32,
    /// Only failures to reach extauth (never a 5xx answer).
    pub retry_on: &'static str,
    /// Milliseconds, not Envoy's default of a second and more.
    pub retry_back_off: BackOff,
    /// Never a replica this check already tried.
    pub retry_host_predicate: Vec<Extension<Empty>>,
    /// Picks Envoy makes to find a replica not tried yet before it takes the last one picked.
    pub host_selection_retry_max_attempts: u32,
}

/// `config.core.v3.BackoffStrategy`.
#[derive(Debug, Serialize)]
pub struct BackOff {
    /// The first interval (jittered, then doubled per retry).
    pub base_interval: String,
    /// The cap on any interval.
    pub max_interval: String,
}

/// Retries a check gets with `replicas` replicas behind the extauth cluster.
pub fn retries(replicas: usize) -> u32 {
    u32::try_from(replicas.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(MAX_RETRIES)
}

/// The retry policy for `replicas` replicas; `None` (no retries) for a single one.
pub fn retry_policy(replicas: usize) -> Option<RetryPolicy> {
    let num_retries = retries(replicas);
    (num_retries > 0).then(|| RetryPolicy {
        num_retries,
        retry_on: "connect-failure,reset",
        retry_back_off: BackOff {
            base_interval: envoy_duration(BACK_OFF_BASE),
            max_interval: envoy_duration(BACK_OFF_MAX),
        },
        retry_host_predicate: vec![Extension {
            name: "envoy.retry_host_predicates.previous_hosts",
            typed_config: Typed {
                type_url: "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
                value: Empty {},
            },
        }],
        host_selection_retry_max_attempts: HOST_SELECTION_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_retry_per_other_replica_and_none_for_one() {
        assert!(retry_policy(1).is_none());
        assert!(retry_policy(0).is_none());
        assert_eq!(retry_policy(2).unwrap().num_retries, 1);
        assert_eq!(retry_policy(3).unwrap().num_retries, 2);
        assert_eq!(retry_policy(4).unwrap().num_retries, 3);
        assert_eq!(retry_policy(40).unwrap().num_retries, MAX_RETRIES);
        assert_eq!(retries(usize::MAX), MAX_RETRIES);
    }

    #[test]
    fn back_off_is_milliseconds_and_retries_avoid_tried_replicas() {
        let p = retry_policy(3).unwrap();
        assert_eq!(p.retry_back_off.base_interval, "0.005s");
        assert_eq!(p.retry_back_off.max_interval, "0.05s");
        assert_eq!(
            p.retry_host_predicate[0].name,
            "envoy.retry_host_predicates.previous_hosts"
        );
        assert!(p.host_selection_retry_max_attempts >= 3);
        assert_eq!(p.retry_on, "connect-failure,reset");
    }
}
