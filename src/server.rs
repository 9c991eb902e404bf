//! Wiring of `serve` and `validate`: starts the actors and both listeners.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use arc_swap::ArcSwap;
use futures_util::future::Either;
use log::{info, warn};
use tokio::signal::unix::{signal, SignalKind};

use crate::admin::status::ConfigStatus;
use crate::admin::{self, AdminState};
use crate::check::{self, CheckState};
use crate::cli::ServeArgs;
use crate::compiled::{ConfigWatcher, Snapshot, Store};
use crate::config::Kind;
use crate::metrics::Metrics;
use crate::passthrough::{Dispatch, Registry, WorkerStarted};

/// Runs the server until SIGTERM/SIGINT; in-flight checks get `shutdown_grace` to finish.
pub async fn serve(args: ServeArgs) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = if args.workers == 0 {
        cores
    } else {
        args.workers
    };
    // HTTPS_PASSTHROUGH_CA_CERT and the system roots, read once: a broken variable is
    // reported now, before (and whether or not) an https AuthConfig needs it
    crate::tls::roots::report_environment();
    let dispatch = Arc::new(ArcSwap::from_pointee(Dispatch::default()));
    let ready = Arc::new(AtomicBool::new(false));
    let metrics = Arc::new(Metrics::new().map_err(io::Error::other)?);
    let config = Arc::new(ArcSwap::from_pointee(Snapshot::default()));
    let status = ConfigStatus::new(config.clone(), metrics.clone()).start();

    let registry = Registry::new(workers, dispatch.clone(), ready.clone(), metrics.clone()).start();

    let check_state = CheckState {
        dispatch: dispatch.clone(),
        path_prefix: args.normalized_prefix(),
        trust_route_header: args.trust_route_header,
        metrics: metrics.clone(),
        worker: 0,
    };
    let next_worker = Arc::new(AtomicUsize::new(0));
    let worker_registry = registry.clone();
    let checks = HttpServer::new(move || {
        // runs once on each worker thread: the AuthConfig shards it starts run on this thread
        let index = next_worker.fetch_add(1, Ordering::Relaxed) % workers;
        worker_registry.do_send(WorkerStarted { index });
        let state = CheckState {
            worker: index,
            ..check_state.clone()
        };
        App::new()
            .app_data(web::Data::new(state))
            .configure(check::configure)
    })
    .workers(workers)
    .backlog(4096)
    // a backstop only: `drain_on_signal` ends the process when the grace is over
    .shutdown_timeout(args.shutdown_grace.as_secs() + 1)
    .disable_signals()
    .bind(args.listen)
    .map_err(|e| listener_error("check", args.listen, e))?
    .run();

    let admin_state = AdminState {
        ready,
        metrics,
        config,
        dispatch,
        path_prefix: args.normalized_prefix(),
        trust_route_header: args.trust_route_header,
    };
    let admin = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(admin_state.clone()))
            .configure(admin::configure)
    })
    .workers(1)
    .shutdown_timeout(1)
    .disable_signals()
    .bind(args.admin_listen)
    .map_err(|e| listener_error("admin", args.admin_listen, e))?
    .run();

    // started only once both ports are bound: a bind failure exits cleanly
    let _watcher = ConfigWatcher::new(
        args.config_dir.clone(),
        vec![registry.recipient()],
        args.rescan_interval,
    )
    .observed_by(status.recipient())
    .settle_time(args.settle_time)
    .start();

    info!(
        "extauth {} serving checks on {} and admin on {}, config from {}",
        env!("CARGO_PKG_VERSION"),
        args.listen,
        args.admin_listen,
        args.config_dir.display()
    );
    let drain = drain_on_signal(checks.handle(), admin.handle(), args.shutdown_grace);
    let servers = futures_util::future::join(checks, admin);
    match futures_util::future::select(std::pin::pin!(servers), std::pin::pin!(drain)).await {
        Either::Left(((checks, admin), _)) => {
            info!("extauth stopped");
            checks.and(admin)
        }
        Either::Right((Ok(()), _)) => {
            warn!(
                "shutdown grace of {:?} is over; closing the checks still in flight",
                args.shutdown_grace
            );
            Ok(())
        }
        Either::Right((Err(e), _)) => Err(e),
    }
}

/// A bind failure that says which listener and which address (`--listen`, `--admin-listen`).
fn listener_error(which: &str, addr: std::net::SocketAddr, e: io::Error) -> io::Error {
    let flag = if which == "check" {
        "--listen"
    } else {
        "--admin-listen"
    };
    io::Error::new(
        e.kind(),
        format!("cannot listen for {which} requests on {addr} ({flag}): {e}"),
    )
}

/// Waits for SIGTERM or SIGINT, then stops both listeners gracefully: no new connection is
/// accepted, checks in flight (and on open connections) go on; resolves `grace` later. The
/// servers' own signal handling is off: each would stop the whole actor system as soon as it
/// alone was done (the idle admin listener at once), cutting the checks in flight.
async fn drain_on_signal(
    checks: ServerHandle,
    admin: ServerHandle,
    grace: Duration,
) -> io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (term, int) = (std::pin::pin!(term.recv()), std::pin::pin!(int.recv()));
    let name = match futures_util::future::select(term, int).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    };
    info!("{name} received; draining: in-flight checks get {grace:?}");
    // both stop commands are sent at once; their completion is what `serve` awaits
    drop(checks.stop(true));
    drop(admin.stop(true));
    actix_rt::time::sleep(grace).await;
    Ok(())
}

/// Loads `dir` once and prints every error and warning; returns whether it is free of errors
/// (warnings do not fail it).
pub fn validate(dir: &Path) -> bool {
    let mut store = Store::new(dir);
    let reload = store.reload();
    let snapshot = &reload.snapshot;
    for e in &snapshot.errors {
        eprintln!("{e}");
    }
    // what no generated Envoy configuration can express is an error here too
    let envoy = crate::envoy::vouched::list_conflicts(snapshot);
    for e in &envoy {
        eprintln!("{}: {e}", dir.display());
    }
    for w in snapshot
        .resources
        .values()
        .flat_map(|l| &l.resource.warnings)
    {
        eprintln!("warning: {w}");
    }
    let configs = snapshot.count(Kind::AuthConfig);
    let services = snapshot.count(Kind::VirtualService);
    let upstreams = snapshot.count(Kind::Upstream);
    let errors = snapshot.errors.len() + envoy.len();
    if errors == 0 {
        println!(
            "{}: {configs} AuthConfig(s), {services} VirtualService(s), {upstreams} Upstream(s), no errors",
            dir.display()
        );
        true
    } else {
        eprintln!("{}: {errors} error(s)", dir.display());
        false
    }
}

/// `extauth envoy-config`: prints the Envoy YAML for `args.config_dir` to stdout, warnings and
/// errors to stderr; returns whether it succeeded.
pub fn envoy_config(args: &crate::cli::EnvoyConfigArgs) -> bool {
    let opts = crate::envoy::Options {
        extauth: args.extauth_address.clone(),
        replicas: args
            .extauth_replicas
            .map_or(args.extauth_address.len(), |n| n as usize),
        path_prefix: crate::cli::normalize_prefix(args.path_prefix.as_deref()),
        listen: args.listen,
        admin: args.admin,
        max_request_bytes: args.max_request_bytes,
        keep_client_identity_headers: args.keep_client_identity_headers,
    };
    match crate::envoy::generate_from_dir(&args.config_dir, &opts, args.bootstrap) {
        Ok(generated) => {
            for w in &generated.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", generated.yaml);
            true
        }
        Err(e) => {
            eprintln!("{}: {e}", args.config_dir.display());
            false
        }
    }
}
