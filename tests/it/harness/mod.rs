//! Shared test harness: real servers on 127.0.0.1 and config builders.

pub mod auth_server;
pub mod certs;
#[path = "../../shared/example.rs"]
mod example;
pub mod extauth;
pub mod http;
pub mod load;
pub mod tls;

pub use auth_server::{AuthServer, Recorded, Reply};
pub use extauth::{check_request, settled, Answer, Extauth, HOST};
pub use http::HeaderList;

use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Namespace used by the generated configs (the seed's).
pub const NS: &str = "gloo-system";

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How much longer and harder the reliability tests run: 1 under `cargo test`, `N` with
/// `EXTAUTH_SOAK=N` (as `scripts/soak` sets it).
pub fn soak() -> u32 {
    std::env::var("EXTAUTH_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// Polls `cond` every 20 ms until it holds (returns the time it took) or `timeout` passes.
pub fn wait_for(mut cond: impl FnMut() -> bool, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Merges `patch` into `base`: objects key by key (recursively), anything else replaced.
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// Serialises documents as one multi-document YAML file (block style).
pub fn yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_norway::to_string(d).expect("yaml"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// An AuthConfig `name` in [`NS`] with the given `spec` (e.g. `{"configs": [...]}`).
pub fn auth_config(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "enterprise.gloo.solo.io/v1",
        "kind": "AuthConfig",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// One chain step: `{"passThroughAuth": {"http": http}}`, with `name` if not empty.
pub fn step(name: &str, http: Value) -> Value {
    let mut s = json!({"passThroughAuth": {"http": http}});
    if !name.is_empty() {
        s["name"] = json!(name);
    }
    s
}

/// A route: `matchers`, a routeAction to a dummy upstream and, if given, `options.extauth`.
pub fn route(matchers: Value, extauth: Option<Value>) -> Value {
    let mut r = json!({
        "matchers": matchers,
        "routeAction": {"single": {"upstream": {"name": "json-upstream", "namespace": NS}}},
    });
    if let Some(e) = extauth {
        r["options"] = json!({"extauth": e});
    }
    r
}

/// `{"configRef": {"name": name, "namespace": NS}}`.
pub fn cref(name: &str) -> Value {
    json!({"configRef": {"name": name, "namespace": NS}})
}

/// A VirtualService `name` in [`NS`]; `vhost_extauth` goes to `virtualHost.options.extauth`.
pub fn virtual_service(
    name: &str,
    domains: &[&str],
    routes: Value,
    vhost_extauth: Option<Value>,
) -> Value {
    let mut vs = json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"virtualHost": {"domains": domains, "routes": routes}},
    });
    if let Some(e) = vhost_extauth {
        vs["spec"]["virtualHost"]["options"] = json!({"extauth": e});
    }
    vs
}

/// The common case: AuthConfig `ac` with `steps`, applied by a VirtualService for every host
/// and path.
pub fn guarded(spec: Value) -> String {
    yaml(&[
        auth_config("ac", spec),
        virtual_service(
            "vs",
            &["*"],
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref("ac")),
        ),
    ])
}

/// [`guarded`] with a single step whose `http` block is `http` (plus `passThroughAuth`-level
/// fields from `extra`, e.g. `failureModeAllow`).
pub fn single(http: Value, extra: Value) -> String {
    let mut s = step("", http);
    merge(&mut s["passThroughAuth"], extra);
    guarded(json!({"configs": [s]}))
}

/// Starts extauth with one AuthConfig calling `http` (see [`single`]).
pub fn serve_single(http: Value) -> Extauth {
    Extauth::start(&[("config.yaml", &single(http, json!({})))])
}

/// Path of the seed's sample auth service, built once per test run.
pub fn example_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| example::build_example(extauth::binary().parent().unwrap()))
        .clone()
}
