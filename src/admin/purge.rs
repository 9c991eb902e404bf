//! `POST /cache/purge`: empties the decision caches, for credentials revoked before their
//! cached answers expire. `?authConfig=NAMESPACE/NAME` empties one AuthConfig's; without it,
//! every cache. Answers 200 with `{"removed": N, "authConfigs": [...]}` once no check can be
//! decided from a removed entry any more; any other method gets 405.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::AdminState;
use crate::config::types::ObjectKey;
use crate::passthrough::Target;

/// Why a purge was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PurgeError {
    /// `authConfig` is not `NAMESPACE/NAME`.
    #[error("authConfig must be NAMESPACE/NAME, got `{0}`")]
    BadName(String),
    /// No AuthConfig of that name is in force.
    #[error("no AuthConfig {0} is in force")]
    Unknown(ObjectKey),
}

/// The query of a purge.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeQuery {
    /// `NAMESPACE/NAME` of the one AuthConfig whose caches to empty; unset: all of them.
    #[serde(rename = "authConfig")]
    pub auth_config: Option<String>,
}

/// Registers `/cache/purge`: POST purges, any other method is answered 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/cache/purge")
            .route(web::post().to(purge))
            .default_service(web::to(not_allowed)),
    );
}

async fn not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .content_type("text/plain")
        .body("use POST\n")
}

async fn purge(state: web::Data<AdminState>, query: web::Query<PurgeQuery>) -> HttpResponse {
    let dispatch = state.dispatch.load_full();
    let all = dispatch.actors.iter().map(|(k, t)| (k.clone(), t.clone()));
    let targets = match chosen(all, query.auth_config.as_deref()) {
        Ok(targets) => targets,
        Err(e) => {
            let body = json!({"error": e.to_string()});
            return match e {
                PurgeError::BadName(_) => HttpResponse::BadRequest().json(body),
                PurgeError::Unknown(_) => HttpResponse::NotFound().json(body),
            };
        }
    };
    // settling a large cache's pending work is not for the listener's thread
    let Some((removed, purged)) = super::off_thread(move || purge_all(&targets)).await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    log::info!(
        removed = removed,
        scope = query.auth_config.as_deref().unwrap_or("all");
        "decision cache purged: {removed} entries removed"
    );
    HttpResponse::Ok().json(json!({"removed": removed, "authConfigs": purged}))
}

/// The AuthConfigs among `all` that `auth_config` (`NAMESPACE/NAME`, or every one when
/// `None`) names.
pub fn chosen<T>(
    all: impl Iterator<Item = (ObjectKey, T)>,
    auth_config: Option<&str>,
) -> Result<Vec<(ObjectKey, T)>, PurgeError> {
    let Some(text) = auth_config else {
        return Ok(all.collect());
    };
    let key = match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            ObjectKey::new(ns, name)
        }
        _ => return Err(PurgeError::BadName(text.to_string())),
    };
    let found: Vec<_> = all.filter(|(k, _)| *k == key).collect();
    if found.is_empty() {
        return Err(PurgeError::Unknown(key));
    }
    Ok(found)
}

/// Empties every cache of `targets`: the entries removed, and the AuthConfigs that had a
/// cache (sorted).
fn purge_all(targets: &[(ObjectKey, Arc<Target>)]) -> (u64, Vec<String>) {
    let mut removed = 0;
    let mut purged = Vec::new();
    for (key, target) in targets {
        let caches: Vec<_> = target
            .shared
            .iter()
            .filter_map(|s| s.cache.as_ref())
            .collect();
        if caches.is_empty() {
            continue;
        }
        removed += caches.iter().map(|c| c.purge()).sum::<u64>();
        purged.push(key.to_string());
    }
    purged.sort();
    (removed, purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> impl Iterator<Item = (ObjectKey, u8)> {
        [
            (ObjectKey::new("ns", "a"), 1),
            (ObjectKey::new("ns", "b"), 2),
        ]
        .into_iter()
    }

    #[test]
    fn one_all_or_a_clear_refusal() {
        assert_eq!(chosen(all(), None).unwrap().len(), 2);
        assert_eq!(
            chosen(all(), Some("ns/b")).unwrap(),
            [(ObjectKey::new("ns", "b"), 2)]
        );
        assert_eq!(
            chosen(all(), Some("ns/c")),
            Err(PurgeError::Unknown(ObjectKey::new("ns", "c")))
        );
        for bad in ["b", "/b", "ns/", "ns/b/c", ""] {
            assert_eq!(
                chosen(all(), Some(bad)),
                Err(PurgeError::BadName(bad.into())),
                "{bad}"
            );
        }
    }
}
