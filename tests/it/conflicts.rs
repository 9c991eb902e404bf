//! Conflicts between files: a domain claimed by two VirtualServices, a resource defined twice.
//! What is enforced depends only on the directory's content (never on which file came first,
//! on a rescan, or on a restart), and a conflict never opens anything: it answers 403.

use crate::harness::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// The protected site: AuthConfig `site-auth` calling `srv`, VirtualService `site` for
/// `site.example` and `www.site.example`.
fn site(srv: &AuthServer) -> String {
    yaml(&[
        auth_config(
            "site-auth",
            json!({"configs": [step("", json!({
                "url": srv.url("/auth"),
                "request": {"allowedHeaders": ["authorization"]},
            }))]}),
        ),
        virtual_service(
            "site",
            &["site.example", "www.site.example"],
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref("site-auth")),
        ),
    ])
}

/// An auth service allowing `authorization: good` only.
fn auth() -> AuthServer {
    AuthServer::with(|r| {
        if r.get("authorization").as_deref() == Some("good") {
            Reply::ok().header("x-user", "alice")
        } else {
            Reply::status(401)
        }
    })
}

/// A VirtualService in another namespace claiming `domain` with extauth disabled.
fn intruder(domain: &str) -> String {
    let mut vs = virtual_service(
        "aaa",
        &[domain],
        json!([route(json!([{"prefix": "/"}]), None)]),
        Some(json!({"disable": true})),
    );
    vs["metadata"]["namespace"] = json!("aaa");
    yaml(&[vs])
}

fn status(ext: &Extauth, host: &str, auth: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    ext.check("GET", host, "/", &headers, b"").status
}

/// `/configz`: the resources in force and the invalid ones, as `Kind ns/name` strings, and the
/// error messages.
fn configz(ext: &Extauth) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (code, body) = ext.admin_get("/configz");
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let ids = |list: &Value| -> Vec<String> {
        let mut out: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}/{}", r["kind"], r["namespace"], r["name"]).replace('"', ""))
            .collect();
        out.sort();
        out
    };
    let mut errors: Vec<String> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {} {}", e["file"], e["field"], e["message"]))
        .collect();
    errors.sort();
    (ids(&v["resources"]), ids(&v["invalid"]), errors)
}

#[test]
fn a_newcomer_never_takes_over_a_domain_not_even_at_the_rescan() {
    let srv = auth();
    let ext = Extauth::start_with(
        &[("site.yaml", &site(&srv))],
        &["--rescan-interval", "200ms"],
    );
    assert_eq!(status(&ext, "site.example", None), 401);
    assert_eq!(status(&ext, "site.example", Some("good")), 200);

    ext.write("aaa.yaml", &intruder("site.example"));
    // through several rescans: the contested domain, and every other domain of its claimants,
    // is denied; nothing is ever allowed without credentials
    let mut seen = Vec::new();
    for _ in 0..40 {
        for host in ["site.example", "www.site.example"] {
            let s = status(&ext, host, None);
            assert_ne!(
                s,
                200,
                "{host} opened after {seen:?}; logs:\n{}",
                ext.logs()
            );
            seen.push(s);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(
        status(&ext, "site.example", Some("good")),
        403,
        "a contested domain is denied, whoever asks"
    );
    assert_eq!(status(&ext, "www.site.example", Some("good")), 403);
    let (resources, invalid, errors) = configz(&ext);
    assert!(
        !resources.iter().any(|r| r.contains("VirtualService")),
        "neither claimant is in force: {resources:?}"
    );
    assert_eq!(
        invalid,
        ["VirtualService aaa/aaa", "VirtualService gloo-system/site"]
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let (_, body) = ext.admin_get("/configz");
    let contested: Value = serde_json::from_str::<Value>(&body).unwrap()["contested"].clone();
    assert_eq!(
        contested,
        json!([
            {"domain": "site.example", "claimants": ["aaa/aaa", "gloo-system/site"]},
            {"domain": "www.site.example", "claimants": ["gloo-system/site"]},
        ])
    );
    assert!(errors
        .iter()
        .all(|e| e.contains("spec.virtualHost.domains[0]") && e.contains("site.example")));
    assert_eq!(
        ext.metric(r#"extauth_config_resources{kind="VirtualService"}"#),
        Some(0.0)
    );
    assert!(
        ext.log_lines(&["got new config", "added", "aaa/aaa"])
            .is_empty(),
        "the rejected VirtualService is not reported as added"
    );
    assert!(!ext
        .log_lines(&["ERROR", "contested domain", "403"])
        .is_empty());
    assert!(ext.metric(r#"extauth_checks_total{auth_config="",decision="conflict"}"#) > Some(0.0));

    // removing the newcomer gives the domain back to its VirtualService
    fs::remove_file(ext.dir().join("aaa.yaml")).unwrap();
    let back = wait_for(
        || status(&ext, "site.example", None) == 401,
        Duration::from_secs(2),
    );
    assert!(back.is_some());
    assert_eq!(status(&ext, "www.site.example", Some("good")), 200);
}

/// The same directory content, reached by edits while running and by a fresh start, gives the
/// same resources in force, the same errors and the same answers.
#[test]
fn duplicates_and_contested_domains_fail_closed_whatever_the_history() {
    let srv = auth();
    let rival = AuthServer::start(Reply::ok().header("x-user", "mallory"));
    let rival_ac = yaml(&[auth_config(
        "site-auth",
        json!({"configs": [step("", json!({"url": rival.url("/auth")}))]}),
    )]);
    // (file, content) steps, each applied on top of the previous directory
    let steps: Vec<(&str, Option<String>, [u16; 2])> = vec![
        // [without credentials, with good credentials] for site.example
        ("zz-site.yaml", Some(site(&srv)), [401, 200]),
        // a second copy of the AuthConfig, in a file sorting first, then last
        ("aa-dup.yaml", Some(rival_ac.clone()), [403, 403]),
        ("aa-dup.yaml", None, [401, 200]),
        ("zzz-dup.yaml", Some(rival_ac.clone()), [403, 403]),
        ("zzz-dup.yaml", None, [401, 200]),
        // a second copy of the VirtualService
        (
            "aa-vs.yaml",
            Some(yaml(&[virtual_service(
                "site",
                &["site.example"],
                json!([route(json!([{"prefix": "/"}]), None)]),
                None,
            )])),
            [403, 403],
        ),
        ("aa-vs.yaml", None, [401, 200]),
        // another VirtualService claiming one of the domains
        (
            "aa-intruder.yaml",
            Some(intruder("www.site.example")),
            [403, 403],
        ),
    ];
    let ext = Extauth::start_with(&[], &[]);
    for (i, (file, content, want)) in steps.iter().enumerate() {
        let before = ext.reloads();
        match content {
            Some(c) => ext.write(file, c),
            None => fs::remove_file(ext.dir().join(file)).unwrap(),
        }
        let applied = wait_for(|| ext.reloads() > before, Duration::from_secs(3));
        assert!(applied.is_some(), "step {i}: no reload");
        let got = [
            status(&ext, "site.example", None),
            status(&ext, "site.example", Some("good")),
        ];
        assert_eq!(got, *want, "step {i} ({file}) while running");
        // a replica started now on the same files agrees in every respect
        let fresh = Extauth::start_in(copy_of(ext.dir()), &[]);
        let got_fresh = [
            status(&fresh, "site.example", None),
            status(&fresh, "site.example", Some("good")),
        ];
        assert_eq!(got_fresh, *want, "step {i} ({file}) after a restart");
        let (running, fresh_state) = (configz(&ext), configz(&fresh));
        let relative = |v: Vec<String>, dir: &Path| -> Vec<String> {
            v.into_iter()
                .map(|e| e.replace(&dir.display().to_string(), "DIR"))
                .collect()
        };
        assert_eq!(running.0, fresh_state.0, "step {i}: resources in force");
        assert_eq!(running.1, fresh_state.1, "step {i}: invalid resources");
        assert_eq!(
            relative(running.2, ext.dir()),
            relative(fresh_state.2, fresh.dir()),
            "step {i}: errors"
        );
    }
    assert_eq!(
        rival.count(),
        0,
        "the duplicate AuthConfig was never called"
    );
}

/// A copy of `dir`'s files in a new temp dir, dated a minute back.
fn copy_of(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::TempDir::new().unwrap();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let to = copy.path().join(path.file_name().unwrap());
        fs::copy(&path, &to).unwrap();
        settled(&to);
    }
    copy
}

/// A sibling: a VirtualService whose file turns invalid keeps its last good version while
/// running, but a replica started on that file has no good version. Its domains must not then
/// fall through to a catch-all VirtualService: they are denied until the file is fixed.
#[test]
fn an_invalid_virtual_service_never_lets_its_domains_fall_through() {
    let srv = auth();
    let catch_all = yaml(&[virtual_service(
        "catch-all",
        &["*"],
        json!([route(json!([{"prefix": "/"}]), None)]),
        None,
    )]);
    let ext = Extauth::start(&[("site.yaml", &site(&srv)), ("all.yaml", &catch_all)]);
    assert_eq!(status(&ext, "site.example", None), 401);
    assert_eq!(status(&ext, "elsewhere.example", None), 200);

    let broken = site(&srv).replace("prefix: /", "regex: '(['");
    assert_ne!(broken, site(&srv), "test bug: nothing broken");
    let before = ext.reloads();
    ext.write("site.yaml", &broken);
    assert!(wait_for(
        || ext.reloads() > before || !configz(&ext).2.is_empty(),
        Duration::from_secs(3)
    )
    .is_some());
    // running: the last good version keeps serving
    assert_eq!(status(&ext, "site.example", None), 401);

    // a replica started now: no good version; its domains are denied, not open
    let fresh = Extauth::start_in(copy_of(ext.dir()), &[]);
    for host in ["site.example", "www.site.example"] {
        assert_eq!(status(&fresh, host, None), 403, "{host}");
        assert_eq!(status(&fresh, host, Some("good")), 403, "{host}");
    }
    assert_eq!(status(&fresh, "elsewhere.example", None), 200);
    assert!(!fresh
        .log_lines(&["ERROR", "invalid and not in force", "site.example"])
        .is_empty());
    // fixing the file gives the domains back
    fresh.write("site.yaml", &site(&srv));
    assert!(wait_for(
        || status(&fresh, "site.example", None) == 401,
        Duration::from_secs(3)
    )
    .is_some());
}
