//! Envoys that extauth cannot trust to name the route (configured by hand; extauth runs without
//! `--trust-route-header`): extauth matches each check itself, and whatever such an Envoy makes
//! of an odd Host or path, no request reaches a protected route's upstream without the auth
//! service allowing it. Four Envoys share one extauth: the generated bootstrap, and copies of it
//! without the path settings, without the host settings, and without either.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

use crate::harness::envoy::{bootstrap, run_bootstrap, Envoy};
use crate::harness::http::{self, h2c_get_body};
use crate::harness::server::{header_auth_service, Server};
use crate::harness::{extauth_serve, extauth_serve_trusting, free_port, wait_for};

/// What the protected upstream answers: it must never be seen without credentials.
const SECRET: &str = "SECRET-CONTENT";
/// What the open upstream answers.
const OPEN: &str = "OPEN-CONTENT";
const CREDENTIALS: (&str, &str) = ("authorization", "authorize me");

/// - `public.example`: open; anything else falls to the protected catch-all `*`.
/// - `protected.example`: protected but `/open`; `protected.example*` (a look-alike prefix
///   wildcard) is open, so a Host Envoy strips to `protected.example` is open as sent.
/// - `pseudo.example`: protected when `:method` is not GET, `:path` is `/admin…`, or
///   `:authority` is `secret.pseudo.example`; open otherwise.
fn config(auth_port: u16, secret_port: u16, open_port: u16) -> String {
    let upstream = |name: &str, port: u16| {
        format!(
            "apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {{name: {name}, namespace: gloo-system}}
spec:
  static:
    hosts: [{{addr: 127.0.0.1, port: {port}}}]
"
        )
    };
    let vs = |name: &str, domains: &str, routes: &str, protected: bool| {
        let options = if protected {
            "\n    options: {extauth: {configRef: {name: strict}}}"
        } else {
            ""
        };
        format!(
            "apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: gloo-system}}
spec:
  virtualHost:
    domains: {domains}
    routes:{routes}{options}
"
        )
    };
    let to =
        |upstream: &str| format!("routeAction: {{single: {{upstream: {{name: {upstream}}}}}}}");
    let open = format!(
        "{}\n      options: {{extauth: {{disable: true}}}}",
        to("open")
    );
    let secret = to("secret");
    let docs = [
        format!(
            "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {{name: strict, namespace: gloo-system}}
spec:
  configs:
  - passThroughAuth:
      http:
        url: http://127.0.0.1:{auth_port}/auth
        request: {{allowedHeaders: [authorization]}}
"
        ),
        upstream("secret", secret_port),
        upstream("open", open_port),
        vs(
            "public",
            "[public.example]",
            &format!("\n    - matchers: [{{prefix: /}}]\n      {open}"),
            false,
        ),
        vs(
            "protected",
            "[protected.example]",
            &format!(
                "\n    - matchers: [{{prefix: /open}}]\n      {open}\n    - matchers: [{{prefix: /}}]\n      {secret}"
            ),
            true,
        ),
        vs(
            "lookalike",
            "['protected.example*']",
            &format!("\n    - matchers: [{{prefix: /}}]\n      {open}"),
            false,
        ),
        vs(
            "pseudo",
            "[pseudo.example, secret.pseudo.example]",
            &format!(
                "
    - matchers: [{{prefix: /, headers: [{{name: ':method', value: GET, invertMatch: true}}]}}]
      {secret}
    - matchers: [{{prefix: /, headers: [{{name: ':path', value: '/admin.*', regex: true}}]}}]
      {secret}
    - matchers: [{{prefix: /, headers: [{{name: ':authority', value: secret.pseudo.example}}]}}]
      {secret}
    - matchers: [{{prefix: /}}]
      {open}"
            ),
            true,
        ),
        vs(
            "rest",
            "['*']",
            &format!("\n    - matchers: [{{prefix: /}}]\n      {secret}"),
            true,
        ),
    ];
    docs.join("---\n")
}

/// Hosts Envoy and extauth could read as `public.example` or `protected.example`.
fn odd_hosts(name: &str) -> Vec<String> {
    [
        "",
        ".",
        "..",
        ".:80",
        "..:80",
        ":",
        ".:",
        ":80",
        ":0",
        ":65535",
        ":65536",
        ":99999",
        ":4294967295",
        ":4294967296",
        ":+80",
        ":0080",
        ":abc",
        ":-1",
        "::80",
        ":80:80",
        ".:abc",
    ]
    .iter()
    .map(|suffix| format!("{name}{suffix}"))
    .chain([name.to_ascii_uppercase() + ".", format!("{name}.:99999")])
    .collect()
}

/// Paths Envoy and extauth could read as `/admin` on `protected.example`, where `/open` is open.
const ODD_PATHS: &[&str] = &[
    "/admin",
    "/open/../admin",
    "/open/./../admin",
    "/open/%2e%2e/admin",
    "/open/%2E%2E/admin",
    "/open/.%2e/admin",
    "/open/..;/admin",
    "/open/..;x/admin",
    "/open/.;/../admin",
    "/open%2F..%2Fadmin",
    "/open%2f..%2fadmin",
    "/open/..%2Fadmin",
    "/open/..%5Cadmin",
    "/open\\..\\admin",
    "/open/x/../../admin",
    "/open//../admin",
    "//admin",
    "/./admin",
    "/%2e/admin",
    "/%6Fpen/../admin",
    "/%6fpen/%2e%2e/admin",
    "/OPEN/../admin",
    "/open/..?/open",
    "/open?/../admin",
];

/// Paths that match `pseudo.example`'s `:path` matcher only when normalised.
const PSEUDO_PATHS: &[&str] = &[
    "/admin",
    "/x/../admin",
    "/%61dmin",
    "//admin",
    "/x/..;/admin",
];

struct Setup {
    _extauth: crate::harness::Proc,
    envoys: Vec<(&'static str, Envoy)>,
    secret_hits: Arc<AtomicUsize>,
    _servers: Vec<Server>,
}

/// Removes the connection manager settings named in `keys` from a generated bootstrap.
fn without(yaml: &str, keys: &[&str]) -> String {
    let kept: Vec<&str> = yaml
        .lines()
        .filter(|l| {
            !keys
                .iter()
                .any(|k| l.trim_start().starts_with(&format!("{k}:")))
        })
        .collect();
    kept.join("\n") + "\n"
}

const PATH_SETTINGS: [&str; 3] = [
    "normalize_path",
    "merge_slashes",
    "path_with_escaped_slashes_action",
];
const HOST_SETTINGS: [&str; 3] = [
    "strip_any_host_port",
    "strip_matching_host_port",
    "strip_trailing_host_dot",
];

fn start_envoy(cfg: &Path, check: u16, work: &Path, name: &'static str, drop: &[&str]) -> Envoy {
    let (port, admin) = (free_port(), free_port());
    let yaml = without(&bootstrap(cfg, check, port, admin), drop);
    let proc = run_bootstrap(&yaml, admin, work, name);
    Envoy { proc, port }
}

fn setup(work: &Path, cfg: &Path) -> Setup {
    let secret_hits = Arc::new(AtomicUsize::new(0));
    let hits = secret_hits.clone();
    let secret = Server::start(move |_| {
        hits.fetch_add(1, Ordering::SeqCst);
        (200, vec![], SECRET.to_string())
    });
    let open = Server::start(|_| (200, vec![], OPEN.to_string()));
    let auth = header_auth_service();
    std::fs::write(
        cfg.join("all.yaml"),
        config(auth.port, secret.port, open.port),
    )
    .unwrap();
    let (extauth, check, _) = extauth_serve(cfg, work);
    let both: Vec<&str> = PATH_SETTINGS
        .iter()
        .chain(&HOST_SETTINGS)
        .copied()
        .collect();
    let envoys = vec![
        (
            "generated",
            Envoy::start(cfg, check, work, "envoy-generated"),
        ),
        (
            "no-path-settings",
            start_envoy(cfg, check, work, "envoy-hosts-only", &PATH_SETTINGS),
        ),
        (
            "no-host-settings",
            start_envoy(cfg, check, work, "envoy-paths-only", &HOST_SETTINGS),
        ),
        ("plain", start_envoy(cfg, check, work, "envoy-plain", &both)),
    ];
    for (name, envoy) in &envoys {
        let ready = wait_for(
            || envoy.get("/", "public.example", &[]).status == 200,
            Duration::from_secs(10),
        );
        assert!(
            ready,
            "Envoy {name} does not pass requests to the open upstream"
        );
    }
    Setup {
        _extauth: extauth,
        envoys,
        secret_hits,
        _servers: vec![secret, open, auth],
    }
}

/// The body as text.
fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[test]
fn no_odd_host_path_or_pseudo_header_reaches_a_protected_upstream_without_credentials() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let mut s = setup(work.path(), cfg.path());
    // and the documented setup: the generated bootstrap, extauth trusting the route it names
    let (trusting, check, _) = extauth_serve_trusting(cfg.path(), work.path());
    let envoy = Envoy::start(cfg.path(), check, work.path(), "envoy-generated-trusted");
    assert!(wait_for(
        || envoy.get("/", "public.example", &[]).status == 200,
        Duration::from_secs(10),
    ));
    s.envoys.push(("generated, route identity trusted", envoy));
    let mut requests: Vec<(&str, String, String)> = Vec::new();
    for host in odd_hosts("public.example")
        .into_iter()
        .chain(odd_hosts("protected.example"))
    {
        requests.push(("GET", host, "/admin".into()));
    }
    for path in ODD_PATHS {
        requests.push(("GET", "protected.example".into(), path.to_string()));
        requests.push(("GET", "protected.example.".into(), path.to_string()));
    }
    for path in PSEUDO_PATHS {
        requests.push(("GET", "pseudo.example".into(), path.to_string()));
    }
    for method in ["POST", "DELETE", "PUT", "OPTIONS"] {
        requests.push((method, "pseudo.example".into(), "/x".into()));
    }
    for host in odd_hosts("secret.pseudo.example") {
        requests.push(("GET", host, "/x".into()));
    }
    // absolute-form: Envoy routes on the URI's authority, whatever the Host header says
    for host in odd_hosts("public.example") {
        requests.push((
            "GET",
            "other.example".into(),
            format!("http://{host}/admin"),
        ));
    }
    for (name, envoy) in &s.envoys {
        for (method, host, path) in &requests {
            let r = http::request(envoy.port, method, path, host, &[]);
            if let Ok(r) = r {
                assert!(
                    !text(&r.body).contains(SECRET),
                    "Envoy {name}: {method} {path} with Host {host:?} reached the protected upstream \
                     without credentials ({})",
                    r.status
                );
            }
        }
        // HTTP/2: the authority travels as `:authority`
        for host in odd_hosts("public.example") {
            for path in ["/admin", "/open/../admin"] {
                if let Ok(body) = h2c_get_body(envoy.port, &host, path, &[]) {
                    assert!(
                        !text(&body).contains(SECRET),
                        "Envoy {name}: HTTP/2 GET {path} with :authority {host:?} reached the \
                         protected upstream without credentials"
                    );
                }
            }
        }
    }
    assert_eq!(
        s.secret_hits.load(Ordering::SeqCst),
        0,
        "the protected upstream was reached without credentials"
    );

    // with credentials the protected upstream is reached, through every Envoy
    for (name, envoy) in &s.envoys {
        let r = envoy.get("/admin", "protected.example", &[CREDENTIALS]);
        assert_eq!(
            (r.status, text(&r.body)),
            (200, SECRET.to_string()),
            "Envoy {name}"
        );
        let r = envoy.get("/admin", "protected.example", &[]);
        assert_eq!(r.status, 401, "Envoy {name}");
        let r = envoy.request("DELETE", "/x", "pseudo.example", &[CREDENTIALS]);
        assert_eq!(text(&r.body), SECRET, "Envoy {name}");
        let r = envoy.get("/x", "pseudo.example", &[]);
        assert_eq!(text(&r.body), OPEN, "Envoy {name}");
    }
    drop(trusting);
}

/// What each Envoy does with the odd forms, and extauth's answer: the generated Envoy
/// normalises both (and extauth agrees with it), a plain one routes them as sent (and extauth,
/// unable to tell, refuses them when the readings ask for different policies).
#[test]
fn extauth_agrees_with_the_generated_envoy_and_refuses_what_it_cannot_tell() {
    let work = TempDir::new().unwrap();
    let cfg = TempDir::new().unwrap();
    let s = setup(work.path(), cfg.path());
    let envoy = |name: &str| &s.envoys.iter().find(|(n, _)| *n == name).unwrap().1;
    let outcome = |name: &str, host: &str, path: &str| {
        let r = envoy(name).get(path, host, &[]);
        let body = text(&r.body);
        match body.as_str() {
            OPEN => "open".to_string(),
            SECRET => "SECRET".to_string(),
            _ => r.status.to_string(),
        }
    };
    // (host, path, generated, no-path-settings, no-host-settings, plain)
    let cases: &[(&str, &str, [&str; 4])] = &[
        ("public.example", "/admin", ["open"; 4]),
        // the generated Envoy strips the dot and the port: public.example, open; Envoys that
        // keep them route to the protected catch-all, where extauth refuses the check
        ("public.example.", "/admin", ["open", "open", "403", "403"]),
        (
            "public.example.:80",
            "/admin",
            ["open", "open", "403", "403"],
        ),
        (
            "public.example:99999",
            "/admin",
            ["open", "open", "403", "403"],
        ),
        (
            "public.example:80",
            "/admin",
            ["open", "open", "403", "403"],
        ),
        // the generated Envoy strips one port and matches `public.example:80` with its port:
        // extauth cannot tell that from a Host sent so, and refuses
        (
            "public.example:80:80",
            "/admin",
            ["403", "403", "401", "401"],
        ),
        // a port no Envoy strips: the catch-all everywhere, and extauth agrees
        ("public.example:", "/admin", ["401"; 4]),
        ("public.example:4294967296", "/admin", ["401"; 4]),
        ("public.example::80", "/admin", ["401"; 4]),
        // Envoy strips one dot of two and routes `public.example.` to the catch-all: extauth
        // cannot tell it from a Host sent with one dot, and refuses
        ("public.example..", "/admin", ["403", "403", "401", "401"]),
        // a path Envoy normalises into the protected route
        (
            "protected.example",
            "/open/../admin",
            ["401", "403", "401", "403"],
        ),
        (
            "protected.example",
            "/open/..;/admin",
            ["401", "403", "401", "403"],
        ),
        ("protected.example", "/%6Fpen/../admin", ["401"; 4]),
        ("protected.example", "//admin", ["401"; 4]),
        ("protected.example", "/open//x", ["open"; 4]),
        // escaped slashes: the generated Envoy redirects to the plain path
        (
            "protected.example",
            "/open%2F..%2Fadmin",
            ["307", "403", "307", "403"],
        ),
        // the look-alike wildcard takes what a plain Envoy does not strip
        (
            "protected.example:99999",
            "/admin",
            ["401", "401", "403", "403"],
        ),
        (
            "pseudo.example",
            "/x/../admin",
            ["401", "403", "401", "403"],
        ),
        ("secret.pseudo.example", "/x", ["401"; 4]),
        ("Secret.Pseudo.Example", "/x", ["open"; 4]),
    ];
    let names = ["generated", "no-path-settings", "no-host-settings", "plain"];
    let mut mismatches = Vec::new();
    for (host, path, want) in cases {
        for (name, want) in names.iter().zip(want) {
            let got = outcome(name, host, path);
            if got != *want {
                mismatches.push(format!(
                    "Envoy {name}: GET {path} Host {host:?}: {got}, want {want}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(s.secret_hits.load(Ordering::SeqCst), 0);
}
