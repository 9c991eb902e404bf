//! The command line: a subcommand reads only the variables of its own flags.

use crate::harness::*;
use std::process::Command;

/// `validate`, `envoy-config` and `healthcheck` never read `serve`'s variables: a bad
/// `EXTAUTH_LISTEN` (or admin address, or duration) left in the environment fails nothing but
/// `serve`.
#[test]
fn a_subcommand_ignores_the_variables_of_serve() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        single(
            serde_json::json!({"url": "http://127.0.0.1:9/auth"}),
            serde_json::json!({}),
        ),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let bad = [
        ("EXTAUTH_LISTEN", "not-an-address"),
        ("EXTAUTH_ADMIN_LISTEN", "nowhere"),
        ("EXTAUTH_RESCAN_INTERVAL", "soon"),
        ("EXTAUTH_WORKERS", "many"),
    ];
    let run_with = |args: &[&str]| {
        let out = Command::new(crate::harness::extauth::binary())
            .args(args)
            .envs(bad)
            .output()
            .expect("run extauth");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run_with(&["validate", d]);
    assert_eq!(code, Some(0), "validate: {stderr}");
    let (code, stderr) = run_with(&[
        "envoy-config",
        "--config-dir",
        d,
        "--extauth-address",
        "127.0.0.1:8083",
    ]);
    assert_eq!(code, Some(0), "envoy-config: {stderr}");
    // serve does read them, and says which
    let (code, stderr) = run_with(&["serve", "--config-dir", d]);
    assert_eq!(code, Some(2), "serve: {stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");
}

/// A listener that cannot bind says which one and on which address.
#[test]
fn a_port_in_use_names_the_listener_and_the_address() {
    let dir = tempfile::TempDir::new().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let free = format!("127.0.0.1:{}", free_port());
    for (listen, admin, flag, which) in [
        (taken_addr.as_str(), free.as_str(), "--listen", "check"),
        (
            free.as_str(),
            taken_addr.as_str(),
            "--admin-listen",
            "admin",
        ),
    ] {
        let out = Command::new(crate::harness::extauth::binary())
            .args(["serve", "--config-dir", dir.path().to_str().unwrap()])
            .args(["--listen", listen, "--admin-listen", admin])
            .output()
            .expect("run extauth");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want = format!("cannot listen for {which} requests on {taken_addr} ({flag})");
        assert!(stderr.contains(&want), "{want}\n{stderr}");
    }
}
