//! `hop`: throwaway reference prototypes for the benchmark (bench/run), not the product.
//!
//! Each mode is the least an actix-web server can do for one step of extauth's work, so that
//! the benchmark can show what the server framework and the HTTP client cost by themselves:
//!
//! - `none`: actix-web answers 200 itself (the framework's floor, no upstream call);
//! - `awc`: forwards each request as `POST <upstream>` with only `authorization` copied and no
//!   body, drains the answer and says 200 if the upstream said 200, else 403 (503 when the call
//!   fails); awc is the client extauth itself uses;
//! - `hyper`: the same with hyper 1 and hyper-util's legacy pooled client, for comparison.
//!
//! One client per worker thread, built in the App factory, as extauth does.

use std::time::Duration;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

/// Bounds each upstream call, connecting and reading the answer included.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Keep-alive of pooled connections: longer than any bench run.
const KEEP_ALIVE: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    None,
    Awc,
    Hyper,
}

#[derive(Parser)]
#[command(about = "Reference prototypes for the benchmark: actix-web alone, + awc, + hyper")]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// e.g. http://127.0.0.1:9001/auth (awc and hyper modes)
    #[arg(long, default_value = "http://127.0.0.1:9001/auth")]
    upstream: String,
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[arg(long, default_value_t = 64)]
    max_conns: usize,
}

struct AwcHop {
    client: awc::Client,
    url: awc::http::Uri,
}

struct HyperHop {
    client: HyperClient<HttpConnector, Empty<Bytes>>,
    url: hyper::Uri,
}

fn verdict(upstream_ok: Option<bool>) -> HttpResponse {
    match upstream_ok {
        Some(true) => HttpResponse::Ok().finish(),
        Some(false) => HttpResponse::Forbidden().finish(),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

async fn answer() -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn via_awc(req: HttpRequest, hop: web::Data<AwcHop>) -> HttpResponse {
    let mut call = hop.client.post(hop.url.clone());
    if let Some(v) = req.headers().get(AUTHORIZATION) {
        call = call.insert_header((AUTHORIZATION, v.clone()));
    }
    let ok = match call.send_body(Bytes::new()).await {
        Ok(mut resp) => match resp.body().limit(64 * 1024).await {
            Ok(_) => Some(resp.status().as_u16() == 200),
            Err(_) => None,
        },
        Err(_) => None,
    };
    verdict(ok)
}

async fn via_hyper(req: HttpRequest, hop: web::Data<HyperHop>) -> HttpResponse {
    // content-length: 0 as awc, extauth and nginx (c) send it; hyper leaves it out otherwise
    let mut call = hyper::Request::post(hop.url.clone()).header(hyper::header::CONTENT_LENGTH, 0);
    if let Some(v) = req.headers().get(AUTHORIZATION) {
        call = call.header(hyper::header::AUTHORIZATION, v.as_bytes());
    }
    let Ok(call) = call.body(Empty::<Bytes>::new()) else {
        return verdict(None);
    };
    let exchange = async {
        let resp = hop.client.request(call).await.ok()?;
        let ok = resp.status().as_u16() == 200;
        resp.into_body().collect().await.ok()?;
        Some(ok)
    };
    verdict(tokio::time::timeout(TIMEOUT, exchange).await.ok().flatten())
}

fn awc_hop(url: &str, max_conns: usize) -> AwcHop {
    let connector = awc::Connector::new()
        .limit(max_conns)
        .timeout(TIMEOUT)
        .conn_keep_alive(KEEP_ALIVE)
        .conn_lifetime(KEEP_ALIVE);
    let client = awc::Client::builder()
        .connector(connector)
        .no_default_headers()
        .disable_redirects()
        .timeout(TIMEOUT)
        .finish();
    AwcHop {
        client,
        url: url.parse().expect("--upstream: a URL"),
    }
}

fn hyper_hop(url: &str, max_conns: usize) -> HyperHop {
    // TokioExecutor spawns the connection tasks with tokio::spawn: on this worker's runtime
    let client = HyperClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(max_conns)
        .pool_idle_timeout(KEEP_ALIVE)
        .build_http();
    HyperHop {
        client,
        url: url.parse().expect("--upstream: a URL"),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let (mode, upstream, max_conns) = (args.mode, args.upstream.clone(), args.max_conns);
    HttpServer::new(move || {
        // runs once per worker thread: one client per worker
        let app = App::new();
        match mode {
            Mode::None => app.default_service(web::to(answer)),
            Mode::Awc => app
                .app_data(web::Data::new(awc_hop(&upstream, max_conns)))
                .default_service(web::to(via_awc)),
            Mode::Hyper => app
                .app_data(web::Data::new(hyper_hop(&upstream, max_conns)))
                .default_service(web::to(via_hyper)),
        }
    })
    .workers(args.workers)
    .bind(&args.listen)?
    .run()
    .await
}
