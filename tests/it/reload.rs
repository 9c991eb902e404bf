//! Hot reload of the config directory: every way files change on disk, applied within 1 s.

use crate::harness::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

/// Two allowing auth servers; the AuthConfig `ac` points at one of them.
struct Two {
    a: AuthServer,
    b: AuthServer,
}

impl Two {
    fn new() -> Self {
        Two {
            a: AuthServer::start(Reply::ok()),
            b: AuthServer::start(Reply::ok()),
        }
    }

    /// The AuthConfig `ac` calling `a` or `b`.
    fn ac(&self, which: &str) -> String {
        let srv = if which == "a" { &self.a } else { &self.b };
        yaml(&[auth_config(
            "ac",
            json!({"configs": [step("", json!({"url": srv.url("/auth")}))]}),
        )])
    }

    /// Which server a check on `foo-http` reached ("-" if none), and the status.
    fn served_by(&self, ext: &Extauth) -> (u16, &'static str) {
        let (a, b) = (self.a.count(), self.b.count());
        let status = ext.get("/posts/1", &[]).status;
        match (self.a.count() > a, self.b.count() > b) {
            (true, false) => (status, "a"),
            (false, true) => (status, "b"),
            (false, false) => (status, "-"),
            _ => panic!("both servers called"),
        }
    }
}

/// The VirtualService sending every `foo-http` check to AuthConfig `ac`.
fn vs() -> String {
    yaml(&[virtual_service(
        "vs",
        &["foo-http"],
        json!([route(json!([{"prefix": "/"}]), None)]),
        Some(cref("ac")),
    )])
}

/// Asserts that within 1.5 s extauth logged a new `got new config` and serves `expected`.
fn assert_applied(
    ext: &Extauth,
    two: &Two,
    reloads_before: usize,
    expected: (u16, &str),
    what: &str,
) {
    let mut last = (0, "?");
    let took = wait_for(
        || {
            last = two.served_by(ext);
            ext.reloads() > reloads_before && last == expected
        },
        Duration::from_millis(1500),
    );
    assert!(
        took.is_some(),
        "{what}: not applied within 1.5 s (last answer {last:?}, reloads {} -> {}); logs:\n{}",
        reloads_before,
        ext.reloads(),
        ext.logs()
    );
}

fn start(two: &Two) -> Extauth {
    let ext = Extauth::start(&[("ac.yaml", &two.ac("a")), ("vs.yaml", &vs())]);
    assert_eq!(two.served_by(&ext), (200, "a"));
    ext
}

#[test]
fn create_edit_in_place_and_delete() {
    let two = Two::new();
    let ext = Extauth::start(&[("vs.yaml", &vs())]);
    assert_eq!(
        two.served_by(&ext),
        (403, "-"),
        "configRef to a missing AuthConfig"
    );

    let n = ext.reloads();
    ext.write("ac.yaml", &two.ac("a"));
    assert_applied(&ext, &two, n, (200, "a"), "create");

    let n = ext.reloads();
    ext.write("ac.yaml", &two.ac("b"));
    assert_applied(&ext, &two, n, (200, "b"), "edit in place");

    let n = ext.reloads();
    fs::remove_file(ext.dir().join("ac.yaml")).unwrap();
    assert_applied(&ext, &two, n, (403, "-"), "delete");
}

#[test]
fn rename_within_out_of_and_into_the_directory() {
    let two = Two::new();
    let ext = start(&two);
    let elsewhere = tempfile::TempDir::new().unwrap();
    let dir = ext.dir().to_path_buf();

    let n = ext.reloads();
    fs::rename(dir.join("ac.yaml"), elsewhere.path().join("ac.yaml")).unwrap();
    assert_applied(&ext, &two, n, (403, "-"), "rename out of the directory");

    let n = ext.reloads();
    fs::rename(elsewhere.path().join("ac.yaml"), dir.join("renamed.yaml")).unwrap();
    assert_applied(&ext, &two, n, (200, "a"), "rename into the directory");

    // A rename within the directory: same content under a new name keeps serving, with no gap.
    fs::rename(dir.join("renamed.yaml"), dir.join("ac.yaml")).unwrap();
    for _ in 0..20 {
        assert_eq!(
            two.served_by(&ext),
            (200, "a"),
            "rename within the directory"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn editor_save_by_rename() {
    let two = Two::new();
    let ext = start(&two);
    let dir = ext.dir();
    let n = ext.reloads();
    fs::write(dir.join(".ac.yaml.swp"), two.ac("b")).unwrap();
    fs::rename(dir.join(".ac.yaml.swp"), dir.join("ac.yaml")).unwrap();
    assert_applied(&ext, &two, n, (200, "b"), "write tmp then rename over");

    // vim's default: move the original away as a backup, write a new file, delete the backup.
    let n = ext.reloads();
    fs::rename(dir.join("ac.yaml"), dir.join("ac.yaml~")).unwrap();
    fs::write(dir.join("ac.yaml"), two.ac("a")).unwrap();
    fs::remove_file(dir.join("ac.yaml~")).unwrap();
    assert_applied(&ext, &two, n, (200, "a"), "backup, write, delete");
}

/// Lays out a Kubernetes ConfigMap volume version `..{version}` holding `files`.
fn configmap_version(dir: &Path, version: &str, files: &[(&str, String)]) {
    let v = dir.join(format!("..{version}"));
    fs::create_dir(&v).unwrap();
    for (name, content) in files {
        fs::write(v.join(name), content).unwrap();
    }
}

#[test]
fn kubernetes_configmap_symlink_swap() {
    let two = Two::new();
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path().to_path_buf();
    configmap_version(&d, "2026_a", &[("ac.yaml", two.ac("a")), ("vs.yaml", vs())]);
    symlink("..2026_a", d.join("..data")).unwrap();
    symlink("..data/ac.yaml", d.join("ac.yaml")).unwrap();
    symlink("..data/vs.yaml", d.join("vs.yaml")).unwrap();
    let ext = Extauth::start_in(dir, &[]);
    assert_eq!(two.served_by(&ext), (200, "a"));

    // What the kubelet does on a ConfigMap update.
    let n = ext.reloads();
    configmap_version(&d, "2026_b", &[("ac.yaml", two.ac("b")), ("vs.yaml", vs())]);
    symlink("..2026_b", d.join("..data_tmp")).unwrap();
    fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    fs::remove_dir_all(d.join("..2026_a")).unwrap();
    assert_applied(&ext, &two, n, (200, "b"), "..data symlink swap");
    assert!(
        ext.count_log_matching(r"\b(WARN|ERROR)\b.*\.\.2026_") == 0,
        "the ..versioned directories are not config files"
    );
}

#[test]
fn a_file_turning_invalid_keeps_the_last_good_version() {
    let two = Two::new();
    let ext = start(&two);
    let broken = [
        "spec: [unclosed\n".to_string(),
        two.ac("a").replace(&two.a.url("/auth"), "not a url"),
        two.ac("a").replace("url:", "urll:"),
    ];
    for (i, content) in broken.iter().enumerate() {
        let errors = ext.count_log_matching(r"\bERROR\b.*ac\.yaml");
        ext.write("ac.yaml", content);
        let logged = wait_for(
            || ext.count_log_matching(r"\bERROR\b.*ac\.yaml") > errors,
            Duration::from_millis(1500),
        );
        assert!(
            logged.is_some(),
            "case {i}: no error naming ac.yaml; logs:\n{}",
            ext.logs()
        );
        for _ in 0..5 {
            assert_eq!(
                two.served_by(&ext),
                (200, "a"),
                "case {i}: last good version keeps serving"
            );
        }
    }
    let n = ext.reloads();
    ext.write("ac.yaml", &two.ac("b"));
    assert_applied(&ext, &two, n, (200, "b"), "fixed again");
    // the recovery is logged, naming the file and what is in force from it
    let fixed = wait_for(
        || {
            !ext.log_lines(&[
                "config file is valid again",
                "ac.yaml",
                "AuthConfig gloo-system/ac",
            ])
            .is_empty()
        },
        Duration::from_secs(2),
    );
    assert!(fixed.is_some(), "no recovery line; logs:\n{}", ext.logs());
}

#[test]
fn an_unchanged_auth_config_keeps_its_connections() {
    let two = Two::new();
    let ext = start(&two);
    // each check-server worker runs its own shard of the AuthConfig, with its own pool
    for _ in 0..6 {
        assert_eq!(two.served_by(&ext), (200, "a"));
    }
    let warm = two.a.connections();
    assert!(
        (1..=2).contains(&warm),
        "sequential checks reuse one pooled connection per worker, got {warm}"
    );

    // An unrelated AuthConfig and VirtualService appear.
    let n = ext.reloads();
    let other = yaml(&[
        auth_config(
            "other",
            json!({"configs": [step("", json!({"url": two.b.url("/auth")}))]}),
        ),
        virtual_service(
            "other",
            &["other-http"],
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref("other")),
        ),
    ]);
    ext.write("other.yaml", &other);
    let applied = wait_for(
        || ext.reloads() > n && ext.check("GET", "other-http", "/", &[], b"").status == 200,
        Duration::from_millis(1500),
    );
    assert!(
        applied.is_some(),
        "unrelated config not applied; logs:\n{}",
        ext.logs()
    );

    // The VirtualService file is rewritten with an extra route, and ac.yaml with the same bytes.
    let n = ext.reloads();
    let routes = json!([
        route(json!([{"prefix": "/new"}]), None),
        route(json!([{"prefix": "/"}]), None)
    ]);
    ext.write(
        "vs.yaml",
        &yaml(&[virtual_service(
            "vs",
            &["foo-http"],
            routes,
            Some(cref("ac")),
        )]),
    );
    ext.write("ac.yaml", &two.ac("a"));
    assert!(wait_for(|| ext.reloads() > n, Duration::from_millis(1500)).is_some());
    std::thread::sleep(Duration::from_millis(300));

    for _ in 0..6 {
        assert_eq!(two.served_by(&ext), (200, "a"));
    }
    assert_eq!(
        two.a.connections(),
        warm,
        "reloads must not restart an unchanged AuthConfig"
    );
}

#[test]
fn a_removed_auth_config_finishes_its_in_flight_checks() {
    let slow = AuthServer::start(Reply::ok().delay(Duration::from_millis(700)));
    let ac = yaml(&[auth_config(
        "ac",
        json!({"configs": [step("", json!({"url": slow.url("/auth"), "connectionTimeout": "3s"}))]}),
    )]);
    let ext = Extauth::start(&[("ac.yaml", &ac), ("vs.yaml", &vs())]);
    std::thread::scope(|s| {
        let in_flight = s.spawn(|| ext.get("/posts/1", &[]));
        // the check is waiting on the slow auth service when its AuthConfig disappears
        assert!(wait_for(|| slow.count() == 1, Duration::from_millis(1000)).is_some());
        let n = ext.reloads();
        fs::remove_file(ext.dir().join("ac.yaml")).unwrap();
        assert!(
            wait_for(|| ext.reloads() > n, Duration::from_millis(1500)).is_some(),
            "removal not applied; logs:\n{}",
            ext.logs()
        );
        let answer = in_flight.join().unwrap();
        assert_eq!(
            answer.status, 200,
            "the in-flight check must finish: {answer:?}"
        );
    });
    ext.expect_log(&["got new config", "removed", "AuthConfig gloo-system/ac"]);
    // new checks on the route now find no AuthConfig: 403, and the auth service is not called
    assert_eq!(ext.get("/posts/1", &[]).status, 403);
    assert_eq!(slow.count(), 1);
}

/// A config directory deleted and created again (or missing at start-up) is found by the
/// rescan, and from then on watched again: later edits apply at once, not at the next rescan.
#[test]
fn a_config_directory_created_again_is_watched_again() {
    let two = Two::new();
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().to_path_buf();
    let ext = Extauth::start_in(dir, &["--rescan-interval", "5s"]);
    fs::remove_dir_all(&path).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    fs::create_dir(&path).unwrap();
    fs::write(path.join("ac.yaml"), two.ac("a")).unwrap();
    fs::write(path.join("vs.yaml"), vs()).unwrap();
    // picked up by a rescan...
    let found = wait_for(|| two.served_by(&ext) == (200, "a"), Duration::from_secs(8));
    assert!(found.is_some(), "never picked up; logs:\n{}", ext.logs());
    // ... right after which an edit must not wait for the next one, 5 s later
    let n = ext.reloads();
    ext.write("ac.yaml", &two.ac("b"));
    assert_applied(
        &ext,
        &two,
        n,
        (200, "b"),
        "edit after the directory came back",
    );
    assert!(!ext.log_lines(&["watching", "for changes"]).is_empty());
}
