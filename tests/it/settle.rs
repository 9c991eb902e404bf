//! A config file is applied only whole: once its writer has closed it or renamed it into place,
//! never what has arrived so far of a file being written (a VirtualService cut before its
//! `options` parses, and is unprotected). Slow writers, against the real watcher.

use crate::harness::*;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The protected site in one file, the VirtualService's `options` after its `routes` (as the
/// example config writes it): cut before `options`, it is a valid VirtualService without
/// extauth.
fn site(url: &str) -> (String, usize) {
    let text = format!(
        "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {{name: site-auth, namespace: gloo-system}}
spec:
  configs:
  - passThroughAuth:
      http:
        url: {url}
        request: {{allowedHeaders: [authorization]}}
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: site, namespace: gloo-system}}
spec:
  virtualHost:
    domains: [site.example]
    routes:
    - matchers: [{{prefix: /}}]
      routeAction: {{single: {{upstream: {{name: json-upstream, namespace: gloo-system}}}}}}
    options:
      extauth:
        configRef: {{name: site-auth, namespace: gloo-system}}
"
    );
    let cut = text.find("    options:").unwrap();
    (text, cut)
}

fn auth() -> AuthServer {
    AuthServer::with(|r| {
        if r.get("authorization").as_deref() == Some("good") {
            Reply::ok()
        } else {
            Reply::status(401)
        }
    })
}

/// Checks `site.example` without credentials every few ms until `stop`; counts the 200s.
fn watch_for_allows<'a>(
    s: &'a std::thread::Scope<'a, '_>,
    ext: &'a Extauth,
    stop: &'a AtomicBool,
    allowed: &'a AtomicUsize,
    checks: &'a AtomicUsize,
) {
    s.spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if ext.check("GET", "site.example", "/", &[], b"").status == 200 {
                allowed.fetch_add(1, Ordering::SeqCst);
            }
            checks.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}

/// Rewrites `path` in place: the first `cut` bytes, a pause, the rest, then the close.
fn slow_rewrite(path: &Path, text: &str, cut: usize, pause: Duration) {
    let mut f = fs::File::create(path).unwrap();
    f.write_all(&text.as_bytes()[..cut]).unwrap();
    f.flush().unwrap();
    std::thread::sleep(pause);
    f.write_all(&text.as_bytes()[cut..]).unwrap();
    drop(f);
}

#[test]
fn a_file_caught_mid_write_is_never_applied_whatever_the_pause() {
    let srv = auth();
    let other = auth();
    let (text, _) = site(&srv.url("/auth"));
    let ext = Extauth::start_with(&[("site.yaml", &text)], &["--rescan-interval", "200ms"]);
    assert_eq!(ext.check("GET", "site.example", "/", &[], b"").status, 401);

    let (stop, allowed, checks) = (
        AtomicBool::new(false),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    // the new version calls another auth service: once whole, it must be applied at once
    let (new_text, new_cut) = site(&other.url("/auth"));
    let path = ext.dir().join("site.yaml");
    let mut applied_after = None;
    std::thread::scope(|s| {
        watch_for_allows(s, &ext, &stop, &allowed, &checks);
        // paused longer than the settle time and than several rescans
        slow_rewrite(&path, &new_text, new_cut, Duration::from_millis(2500));
        let closed = Instant::now();
        let reached = wait_for(
            || {
                let before = other.count();
                ext.check("GET", "site.example", "/", &[], b"");
                other.count() > before
            },
            Duration::from_secs(2),
        );
        applied_after = reached.map(|_| closed.elapsed());
        stop.store(true, Ordering::SeqCst);
    });
    assert_eq!(
        allowed.load(Ordering::SeqCst),
        0,
        "the cut VirtualService was applied during the pause ({} checks); logs:\n{}",
        checks.load(Ordering::SeqCst),
        ext.logs()
    );
    assert!(checks.load(Ordering::SeqCst) > 50);
    let took = applied_after.expect("the whole new file was not applied");
    assert!(
        took < Duration::from_secs(1),
        "applied {took:?} after its close"
    );
    assert!(ext.logs().contains("got new config"));
}

#[test]
fn the_first_load_waits_for_a_file_being_written() {
    let srv = auth();
    let (text, cut) = site(&srv.url("/auth"));
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("site.yaml");
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(&text.as_bytes()[..cut]).unwrap();
    f.flush().unwrap();
    // the writer finishes 1 s after extauth has started
    let rest = text.as_bytes()[cut..].to_vec();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        f.write_all(&rest).unwrap();
    });
    let ext = Extauth::start_in(dir, &[]);
    writer.join().unwrap();
    assert_eq!(
        ext.check("GET", "site.example", "/", &[], b"").status,
        401,
        "the first load applied a file being written; logs:\n{}",
        ext.logs()
    );
    assert!(ext
        .logs()
        .contains("waiting for config files being written before the first load"));
}

#[test]
fn a_rescan_never_applies_a_file_younger_than_the_settle_time() {
    // The config file is a symlink to a file outside the watched directory: writes to it make
    // no event there, so only the rescan finds them, and only the file's age tells that it
    // may still be being written.
    let srv = auth();
    let (text, cut) = site(&srv.url("/auth"));
    let outside = tempfile::TempDir::new().unwrap();
    let target = outside.path().join("site.yaml");
    fs::write(&target, "").unwrap();
    let ext = Extauth::start_with(&[], &["--rescan-interval", "100ms", "--settle-time", "3s"]);
    std::os::unix::fs::symlink(&target, ext.dir().join("site.yaml")).unwrap();
    let (stop, allowed, checks) = (
        AtomicBool::new(false),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    std::thread::scope(|s| {
        watch_for_allows(s, &ext, &stop, &allowed, &checks);
        std::thread::sleep(Duration::from_millis(100));
        slow_rewrite(&target, &text, cut, Duration::from_millis(1500));
        let protected = wait_for(
            || ext.check("GET", "site.example", "/", &[], b"").status == 401,
            Duration::from_secs(5),
        );
        stop.store(true, Ordering::SeqCst);
        assert!(protected.is_some(), "never applied; logs:\n{}", ext.logs());
    });
    assert_eq!(allowed.load(Ordering::SeqCst), 0, "logs:\n{}", ext.logs());
    assert!(checks.load(Ordering::SeqCst) > 50);
}
