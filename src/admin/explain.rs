//! `GET /explain?url=URL&method=M&header=Name:value...`: what the running server would decide
//! for a request, computed from the configuration in force with the same code as
//! `extauth check`, without calling any auth service and always redacted; JSON (the keys of
//! `extauth check --output json`). Any other method gets 405, a bad query 400 with the reason.

use actix_web::http::header::{ContentType, ALLOW};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::{off_thread, AdminState};
use crate::explain::{explain, ExplainError, Input, Redactor, Sources};

/// Registers `/explain`: GET only.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/explain")
            .route(web::get().to(handle))
            .default_service(web::to(not_allowed)),
    );
}

async fn not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((ALLOW, "GET"))
        .content_type(ContentType::plaintext())
        .body("/explain answers GET only\n")
}

/// What the query asks.
#[derive(Debug, Default, PartialEq, Eq)]
struct Query {
    url: String,
    method: String,
    headers: Vec<String>,
}

/// Reads `url` (required, once), `method` (once, GET by default) and `header` (repeated).
fn parse_query(query: &str) -> Result<Query, String> {
    let mut url = None;
    let mut method = None;
    let mut headers = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "url" if url.is_none() => url = Some(value.into_owned()),
            "method" if method.is_none() => method = Some(value.into_owned()),
            "url" | "method" => return Err(format!("`{key}` is given more than once")),
            "header" => headers.push(value.into_owned()),
            other => {
                return Err(format!(
                    "unknown parameter `{other}` (expected url, method, header)"
                ))
            }
        }
    }
    Ok(Query {
        url: url.ok_or("`url` is required: /explain?url=http://HOST/path")?,
        method: method.unwrap_or_else(|| "GET".into()),
        headers,
    })
}

fn bad_request(reason: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type(ContentType::plaintext())
        .body(format!("{reason}\n"))
}

async fn handle(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    let query = match parse_query(req.query_string()) {
        Ok(q) => q,
        Err(reason) => return bad_request(&reason),
    };
    let input = match Input::parse(&query.url, &query.method, &query.headers, Bytes::new()) {
        Ok(input) => input,
        Err(ExplainError::Usage(reason) | ExplainError::Setup(reason)) => {
            return bad_request(&reason)
        }
    };
    let dispatch = state.dispatch.load_full();
    let snapshot = state.config.load_full();
    let prefix = state.path_prefix.clone();
    let trust_route_header = state.trust_route_header;
    let rendered = off_thread(move || {
        let sources = Sources {
            table: &dispatch.routes,
            snapshot: &snapshot,
            loaded: dispatch.loaded,
            dir: None,
            path_prefix: prefix.as_deref(),
            trust_route_header,
        };
        let trace = explain(&input, &sources, Redactor::default()).trace;
        serde_json::to_vec_pretty(&trace)
    })
    .await;
    match rendered {
        Some(Ok(json)) => HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(json),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let q =
            parse_query("url=http%3A%2F%2Ffoo%2Fa%3Fb%3Dc&header=authorization:%20x&header=x-a:1")
                .unwrap();
        assert_eq!(q.url, "http://foo/a?b=c");
        assert_eq!(q.method, "GET");
        assert_eq!(q.headers, ["authorization: x", "x-a:1"]);
        assert!(parse_query("").unwrap_err().contains("`url` is required"));
        assert!(parse_query("url=a&url=b")
            .unwrap_err()
            .contains("more than once"));
        assert!(parse_query("url=a&x=1")
            .unwrap_err()
            .contains("unknown parameter `x`"));
    }
}
