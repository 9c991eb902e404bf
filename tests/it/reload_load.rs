//! Reload under load: 100 rewrites of AuthConfig and VirtualService files (Kubernetes
//! ConfigMap symlink swaps, in-place writes, write-then-rename) while checks keep coming.
//! 0 errors, 0 wrong answers (each answer is the one of a config version in force while the
//! check ran), and an AuthConfig that did not change keeps its connections.

use crate::harness::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The AuthConfigs `ac-a`, `ac-b`, `ac-c`, each calling `/v/{name}-{version}`, whose answer
/// echoes that tag in `x-version`.
fn auth_configs(url: &str, version: usize) -> String {
    ["a", "b", "c"]
        .iter()
        .map(|t| {
            format!(
                "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {{name: ac-{t}, namespace: {NS}}}
spec:
  configs:
  - passThroughAuth:
      http:
        url: {url}/v/{t}-{version}
        response: {{allowedUpstreamHeaders: [x-version]}}
"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The VirtualService sending `load-http` to AuthConfig `ac-{target}`.
fn virtual_service_to(target: &str) -> String {
    format!(
        "apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {NS}}}
spec:
  virtualHost:
    domains: [load-http]
    options: {{extauth: {{configRef: {{name: ac-{target}, namespace: {NS}}}}}}}
    routes:
    - matchers: [{{prefix: /}}]
"
    )
}

/// An AuthConfig and VirtualService that never change (for `steady-http`).
fn steady(url: &str) -> String {
    format!(
        "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {{name: steady, namespace: {NS}}}
spec:
  configs:
  - passThroughAuth:
      http:
        url: {url}/steady
        response: {{allowedUpstreamHeaders: [x-version]}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: steady, namespace: {NS}}}
spec:
  virtualHost:
    domains: [steady-http]
    options: {{extauth: {{configRef: {{name: steady, namespace: {NS}}}}}}}
    routes:
    - matchers: [{{prefix: /}}]
"
    )
}

/// Writes ConfigMap version `..v{n}` holding the AuthConfigs and the steady file, and swaps
/// `..data` to it the way the kubelet does, removing the version it replaces.
fn configmap_swap(dir: &Path, n: usize, acs: &str, steady: &str) {
    let v = dir.join(format!("..v{n}"));
    fs::create_dir(&v).unwrap();
    fs::write(v.join("ac.yaml"), acs).unwrap();
    fs::write(v.join("steady.yaml"), steady).unwrap();
    let tmp = dir.join("..data_tmp");
    symlink(format!("..v{n}"), &tmp).unwrap();
    let old = fs::read_link(dir.join("..data")).ok();
    fs::rename(&tmp, dir.join("..data")).unwrap();
    if let Some(old) = old {
        fs::remove_dir_all(dir.join(old)).unwrap();
    }
}

/// One state of the config sequence: the answer it gives, when it was written and when a probe
/// first saw it served.
struct State {
    tag: String,
    written: Instant,
    confirmed: Option<Instant>,
}

/// One answered check on `load-http`.
struct Seen {
    sent: Instant,
    received: Instant,
    status: u16,
    tag: Option<String>,
}

fn tag_of(a: &Answer) -> Option<String> {
    let v = a.all("x-version");
    (v.len() == 1).then(|| v[0].clone())
}

#[test]
fn a_hundred_rewrites_under_load_give_no_error_and_no_wrong_answer() {
    let srv = AuthServer::with(|r| {
        let tag = r.target.trim_start_matches("/v/").to_string();
        Reply::ok().header("x-version", &tag)
    });
    let steady_srv = AuthServer::start(Reply::ok().header("x-version", "steady"));
    let url = format!("http://{}", srv.authority());
    let steady_yaml = steady(&format!("http://{}", steady_srv.authority()));

    // ac.yaml and steady.yaml come from a ConfigMap volume; vs.yaml is a plain file.
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path().to_path_buf();
    configmap_swap(&d, 0, &auth_configs(&url, 0), &steady_yaml);
    symlink("..data/ac.yaml", d.join("ac.yaml")).unwrap();
    symlink("..data/steady.yaml", d.join("steady.yaml")).unwrap();
    fs::write(d.join("vs.yaml"), virtual_service_to("a")).unwrap();
    let ext = Extauth::start_in(dir, &[]);

    let rewrites = 100 * soak() as usize;
    let targets = ["a", "b", "c"];
    let states = Mutex::new(vec![State {
        tag: "a-0".into(),
        written: Instant::now(),
        confirmed: Some(Instant::now()),
    }]);
    let seen = Mutex::new(Vec::<Seen>::new());
    let steady_wrong = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let steady_checks = AtomicUsize::new(0);

    // Warm up the steady AuthConfig on the one connection its client keeps.
    let mut steady_client = ext.client();
    for _ in 0..5 {
        let a = Answer::from_message(
            steady_client
                .send(&check_request("GET", "steady-http", "/", &[], b""))
                .unwrap(),
        );
        assert_eq!(tag_of(&a).as_deref(), Some("steady"));
    }
    let steady_conns = steady_srv.connections();

    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let started = Instant::now();
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for _ in 0..3 {
            s.spawn(|| {
                let mut client = ext.client();
                while !stop.load(Ordering::SeqCst) {
                    let sent = Instant::now();
                    let answer = client
                        .send(&check_request("GET", "load-http", "/", &[], b""))
                        .map(Answer::from_message);
                    let received = Instant::now();
                    let (status, tag) = match &answer {
                        Ok(a) => (a.status, tag_of(a)),
                        Err(_) => (0, None),
                    };
                    seen.lock().unwrap().push(Seen {
                        sent,
                        received,
                        status,
                        tag,
                    });
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        s.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let a = steady_client
                    .send(&check_request("GET", "steady-http", "/", &[], b""))
                    .map(Answer::from_message);
                match a {
                    Ok(a) if tag_of(&a).as_deref() == Some("steady") => {}
                    other => steady_wrong.lock().unwrap().push(format!("{other:?}")),
                }
                steady_checks.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        });

        // The writer: each step changes the config and waits until a probe sees it served.
        let mut probe = ext.client();
        let (mut version, mut target) = (0, 0);
        for step in 1..=rewrites {
            let kind = step % 3;
            if kind == 0 {
                version = step;
            } else {
                target = (target + 1) % 3;
            }
            let tag = format!("{}-{version}", targets[target]);
            states.lock().unwrap().push(State {
                tag: tag.clone(),
                written: Instant::now(),
                confirmed: None,
            });
            match kind {
                0 => configmap_swap(&d, step, &auth_configs(&url, version), &steady_yaml),
                1 => fs::write(d.join("vs.yaml"), virtual_service_to(targets[target])).unwrap(),
                _ => {
                    let tmp = d.join(".vs.yaml.tmp");
                    fs::write(&tmp, virtual_service_to(targets[target])).unwrap();
                    fs::rename(&tmp, d.join("vs.yaml")).unwrap();
                }
            }
            let mut last = None;
            let applied = wait_for(
                || {
                    let a = probe
                        .send(&check_request("GET", "load-http", "/", &[], b""))
                        .map(Answer::from_message);
                    last = a.as_ref().ok().and_then(tag_of);
                    last.as_deref() == Some(tag.as_str())
                },
                Duration::from_secs(5),
            );
            assert!(
                applied.is_some(),
                "rewrite {step} ({tag}) not served within 5 s (last answer {last:?}); logs:\n{}",
                ext.logs()
            );
            states.lock().unwrap().last_mut().unwrap().confirmed = Some(Instant::now());
        }
    });
    let took = started.elapsed();

    // Every answer: 200, and the tag of a state that was written before the answer came and
    // not yet replaced by a confirmed newer one when the check was sent.
    let states = states.into_inner().unwrap();
    let seen = seen.into_inner().unwrap();
    let mut wrong = Vec::new();
    for s in &seen {
        let k = s
            .tag
            .as_ref()
            .and_then(|t| states.iter().position(|st| &st.tag == t));
        let ok = match (s.status, k) {
            (200, Some(k)) => {
                let written_before = states[k].written <= s.received;
                let superseded = states
                    .get(k + 1..)
                    .unwrap_or_default()
                    .iter()
                    .any(|later| later.confirmed.is_some_and(|c| c < s.sent));
                written_before && !superseded
            }
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "status {} tag {:?} sent {:?} after the start",
                s.status,
                s.tag,
                s.sent - (states[0].written)
            ));
        }
    }
    let new_steady = steady_srv.connections() - steady_conns;
    println!(
        "{rewrites} rewrites in {took:?}: {} checks on load-http, {} on steady-http; auth \
         service: {} connections for the changing AuthConfigs, {new_steady} new for the steady one",
        seen.len(),
        steady_checks.load(Ordering::SeqCst),
        srv.connections(),
    );
    assert!(seen.len() > rewrites * 5, "the load was not sustained");
    assert!(
        wrong.is_empty(),
        "{} wrong answers or errors out of {}, e.g. {:?}",
        wrong.len(),
        seen.len(),
        &wrong[..wrong.len().min(5)]
    );
    let steady_wrong = steady_wrong.into_inner().unwrap();
    assert!(steady_wrong.is_empty(), "steady-http: {steady_wrong:?}");
    assert_eq!(
        new_steady, 0,
        "the unchanged AuthConfig opened new connections: its actor was restarted"
    );
    // Transient config errors (a file caught mid-write) are fine: they kept the last good
    // version, as the answers show.
    println!(
        "config errors logged meanwhile: {}",
        ext.count_log_matching(r"\bERROR\b")
    );
}
