//! `GET /metrics`: every metric in Prometheus's text exposition format.

use actix_web::{web, HttpResponse};
use log::error;

use super::AdminState;

/// Content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders the registry; a rendering failure answers 500 and is logged.
pub async fn metrics(state: web::Data<AdminState>) -> HttpResponse {
    match state.metrics.render() {
        Ok(text) => HttpResponse::Ok().content_type(TEXT_FORMAT).body(text),
        Err(e) => {
            error!("cannot render /metrics: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}
