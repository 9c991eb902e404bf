//! The admin listener: liveness and readiness here, Prometheus metrics in `metrics`, config
//! status in [`configz`] (fed by the [`status`] actor), decision cache purges in [`purge`],
//! what a request would get in [`explain`].
//! Never served on the check port.

pub mod configz;
pub mod explain;
mod metrics;
pub mod purge;
pub mod status;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use arc_swap::ArcSwap;
use tokio::sync::Semaphore;

use crate::compiled::Snapshot;
use crate::metrics::Metrics;
use crate::passthrough::Dispatch;

/// Shared state of the admin endpoints.
#[derive(Clone)]
pub struct AdminState {
    /// Raised once the first complete load of the config directory is in force.
    pub ready: Arc<AtomicBool>,
    /// Every metric, rendered at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The config directory as last read, shown at `/configz`.
    pub config: Arc<ArcSwap<Snapshot>>,
    /// What the check endpoint decides with (routes, AuthConfig versions in force and their
    /// shared step state).
    pub dispatch: Arc<ArcSwap<Dispatch>>,
    /// `--path-prefix`, normalised: `/explain` strips it from the URL's path as checks do.
    pub path_prefix: Option<String>,
    /// `--trust-route-header`: `/explain` routes by the route identity as checks do.
    pub trust_route_header: bool,
}

/// How many large answers (`/configz`, `/metrics`) are rendered at once. Each renders on the
/// blocking pool, never on the admin listener's thread, and callers past this wait without
/// blocking it: `/healthz` and `/readyz` never queue behind them (a probe's 1 s timeout).
static HEAVY: Semaphore = Semaphore::const_new(2);

/// Renders a large answer with `render` off the listener's thread, at most [`HEAVY`] at once;
/// `None` if the blocking pool failed it.
async fn off_thread<T: Send + 'static>(render: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = HEAVY.acquire().await.ok()?;
    web::block(render).await.ok()
}

/// Registers the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/configz", web::get().to(configz::configz))
        .configure(explain::configure)
        .configure(purge::configure);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn readyz(state: web::Data<AdminState>) -> HttpResponse {
    if state.ready.load(Ordering::Acquire) {
        HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("config not loaded yet\n")
    }
}
