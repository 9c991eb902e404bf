//! `GET /metrics`: every metric in Prometheus's text exposition format.

use actix_web::{web, HttpResponse};
use log::error;

use super::AdminState;

/// Content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders the registry; a rendering failure answers 500 and is logged.
pub async fn metrics(state: web::Data<AdminState>) -> HttpResponse {
    let metrics = state.metrics.clone();
    match super::off_thread(move || metrics.render()).await {
        Some(Ok(text)) => HttpResponse::Ok().content_type(TEXT_FORMAT).body(text),
        Some(Err(e)) => {
            error!("cannot render /metrics: {e}");
            HttpResponse::InternalServerError().finish()
        }
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}
