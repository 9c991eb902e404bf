//! Wiring of `serve` and `validate`: starts the actors and both listeners.

use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use actix::prelude::*;
use actix_web::{web, App, HttpServer};
use arc_swap::ArcSwap;
use log::info;

use crate::admin::{self, AdminState};
use crate::check::{self, CheckState};
use crate::cli::ServeArgs;
use crate::config::{ConfigWatcher, Store};
use crate::passthrough::{Dispatch, Registry};

/// Runs the server until SIGTERM/SIGINT; in-flight checks get `shutdown_grace` to finish.
pub async fn serve(args: ServeArgs) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = if args.workers == 0 {
        cores
    } else {
        args.workers
    };
    let dispatch = Arc::new(ArcSwap::from_pointee(Dispatch::default()));
    let ready = Arc::new(AtomicBool::new(false));

    let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
    let handles = arbiters.iter().map(|a| a.handle()).collect();
    let registry = Registry::new(handles, dispatch.clone(), ready.clone()).start();
    let _watcher = ConfigWatcher::new(
        args.config_dir.clone(),
        vec![registry.recipient()],
        args.rescan_interval,
    )
    .start();

    let check_state = CheckState {
        dispatch,
        path_prefix: args.normalized_prefix(),
    };
    let checks = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(check_state.clone()))
            .configure(check::configure)
    })
    .workers(workers)
    .backlog(4096)
    .shutdown_timeout(args.shutdown_grace.as_secs().max(1))
    .bind(args.listen)?
    .run();

    let admin_state = AdminState { ready };
    let admin = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(admin_state.clone()))
            .configure(admin::configure)
    })
    .workers(1)
    .shutdown_timeout(1)
    .bind(args.admin_listen)?
    .run();

    info!(
        "extauth {} serving checks on {} and admin on {}, config from {}",
        env!("CARGO_PKG_VERSION"),
        args.listen,
        args.admin_listen,
        args.config_dir.display()
    );
    let (checks, admin) = futures_util::future::join(checks, admin).await;
    for arbiter in arbiters {
        arbiter.stop();
    }
    info!("extauth stopped");
    checks.and(admin)
}

/// Loads `dir` once and prints every error; returns whether it is free of errors.
pub fn validate(dir: &Path) -> bool {
    let mut store = Store::new(dir);
    let reload = store.reload();
    let snapshot = &reload.snapshot;
    for e in &snapshot.errors {
        eprintln!("{e}");
    }
    let configs = snapshot.auth_configs().count();
    let services = snapshot.resources.len() - configs;
    if snapshot.errors.is_empty() {
        println!(
            "{}: {configs} AuthConfig(s), {services} VirtualService(s), no errors",
            dir.display()
        );
        true
    } else {
        eprintln!("{}: {} error(s)", dir.display(), snapshot.errors.len());
        false
    }
}
