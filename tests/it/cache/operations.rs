//! Purge, edited and removed AuthConfigs, the entry bound, metrics, `/configz` and config
//! errors.

use super::*;
use crate::harness::extauth::run;

/// Two AuthConfigs, `one` and `two`, on hosts of the same names, both caching the answers of
/// `srv`.
fn two_configs(srv: &AuthServer, cache: Value) -> String {
    let step = crate::harness::step("", super::http(srv, cache));
    let mut docs = Vec::new();
    for name in ["one", "two"] {
        docs.push(auth_config(name, json!({"configs": [step.clone()]})));
        docs.push(virtual_service(
            name,
            &[name],
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref(name)),
        ));
    }
    yaml(&docs)
}

fn on(ext: &Extauth, host: &str, token: &str) -> u16 {
    ext.check("GET", host, "/", &[("authorization", token)], b"")
        .status
}

#[test]
fn purge_empties_every_cache_or_one_auth_configs() {
    let srv = AuthServer::start(allow("x"));
    let ext = Extauth::start(&[("c.yaml", &two_configs(&srv, json!({"maxAge": "60s"})))]);
    for host in ["one", "two"] {
        for t in ["Bearer a", "Bearer b"] {
            assert_eq!(on(&ext, host, t), 200);
        }
    }
    assert_eq!(srv.count(), 4);

    // a revoked token: the auth service now denies it, the cache still allows
    srv.set_reply(Reply::status(401));
    assert_eq!(on(&ext, "one", "Bearer a"), 200);
    let answer = purge(&ext, "?authConfig=gloo-system/one");
    assert_eq!(
        answer,
        json!({"removed": 2, "authConfigs": ["gloo-system/one"]})
    );
    assert_eq!(
        on(&ext, "one", "Bearer a"),
        401,
        "asked again after the purge"
    );
    assert_eq!(
        on(&ext, "two", "Bearer a"),
        200,
        "the other AuthConfig keeps its entries"
    );
    assert_eq!(srv.count(), 5);

    let answer = purge(&ext, "");
    assert_eq!(answer["removed"], 2);
    assert_eq!(
        answer["authConfigs"],
        json!(["gloo-system/one", "gloo-system/two"])
    );
    assert_eq!(on(&ext, "two", "Bearer b"), 401);
    assert_eq!(purge(&ext, "")["removed"], 0);
    ext.expect_log(&["decision cache purged"]);
}

#[test]
fn purge_takes_only_post_and_a_known_auth_config() {
    let srv = AuthServer::start(allow("x"));
    let ext = serve(http(&srv, json!({"maxAge": "60s"})));
    for method in ["GET", "PUT", "DELETE"] {
        let (status, answer) = admin(&ext, method, "/cache/purge");
        assert_eq!(status, 405, "{method}");
        assert_eq!(answer.get("allow").as_deref(), Some("POST"));
    }
    assert_eq!(
        admin(&ext, "POST", "/cache/purge?authConfig=gloo-system/nope").0,
        404
    );
    assert_eq!(admin(&ext, "POST", "/cache/purge?authConfig=nope").0, 400);
    assert_eq!(admin(&ext, "POST", "/cache/purge?authconfig=x/y").0, 400);
}

#[test]
fn an_edited_auth_config_starts_empty_and_a_removed_one_drops_its_entries() {
    let srv = AuthServer::start(allow("x"));
    let ext = serve(http(&srv, json!({"maxAge": "60s"})));
    assert_eq!(check(&ext, "Bearer a").status, 200);
    assert_eq!(check(&ext, "Bearer a").status, 200);
    assert_eq!(srv.count(), 1);
    let entries = || ext.metric("extauth_cache_entries{auth_config=\"gloo-system/ac\"}");
    assert_eq!(entries(), Some(1.0));

    // the same step with a longer lifetime: a new version, whose cache starts empty
    let n = ext.reloads();
    ext.write(
        "config.yaml",
        &single(http(&srv, json!({"maxAge": "90s"})), json!({})),
    );
    assert!(wait_for(|| ext.reloads() > n, Duration::from_secs(5)).is_some());
    assert_eq!(entries(), Some(0.0));
    assert_eq!(check(&ext, "Bearer a").status, 200);
    assert_eq!(
        srv.count(),
        2,
        "the previous version's entry does not answer"
    );
    assert_eq!(check(&ext, "Bearer a").status, 200);
    assert_eq!(srv.count(), 2);

    // without its cache block, it calls every time, and its cache series are gone
    let n = ext.reloads();
    ext.write("config.yaml", &single(http(&srv, Value::Null), json!({})));
    assert!(wait_for(|| ext.reloads() > n, Duration::from_secs(5)).is_some());
    assert_eq!(check(&ext, "Bearer a").status, 200);
    assert_eq!(srv.count(), 3);
    assert_eq!(entries(), None);
    assert_eq!(ext.metric("extauth_cache_lookups_total"), None);

    // cached again, then removed and added back: nothing of the removed one answers
    let cached = single(http(&srv, json!({"maxAge": "60s"})), json!({}));
    let n = ext.reloads();
    ext.write("config.yaml", &cached);
    assert!(wait_for(|| ext.reloads() > n, Duration::from_secs(5)).is_some());
    assert_eq!(check(&ext, "Bearer a").status, 200);
    assert_eq!(srv.count(), 4);
    let n = ext.reloads();
    std::fs::remove_file(ext.dir().join("config.yaml")).unwrap();
    assert!(wait_for(|| ext.reloads() > n, Duration::from_secs(5)).is_some());
    assert_eq!(check(&ext, "Bearer a").status, 403, "no route any more");
    assert_eq!(entries(), None);
    let n = ext.reloads();
    ext.write("config.yaml", &cached);
    assert!(wait_for(|| ext.reloads() > n, Duration::from_secs(5)).is_some());
    assert_eq!(check(&ext, "Bearer a").status, 200);
    assert_eq!(srv.count(), 5, "its entries went with it");
}

#[test]
fn the_entry_bound_holds_with_ten_times_as_many_tokens() {
    let srv = AuthServer::start(allow("x"));
    let ext = serve(http(&srv, json!({"maxAge": "60s", "maxEntries": 20})));
    for i in 0..200 {
        assert_eq!(check(&ext, &format!("Bearer user-{i}")).status, 200);
    }
    assert_eq!(srv.count(), 200);
    let entries = ext
        .metric("extauth_cache_entries{auth_config=\"gloo-system/ac\"}")
        .unwrap();
    assert!((1.0..=20.0).contains(&entries), "entries: {entries}");
    let evicted = ext
        .metric("extauth_cache_evictions_total{auth_config=\"gloo-system/ac\"}")
        .unwrap();
    assert!(evicted >= 100.0, "evictions: {evicted}");
}

#[test]
fn the_cache_series_pass_promtool_and_configz_shows_the_settings() {
    let srv = AuthServer::start(allow("x"));
    let cache =
        json!({"maxAge": "30s", "denyMaxAge": "5s", "staleIfError": "10s", "maxEntries": 100});
    let mut h = http(&srv, cache);
    h["request"]["headersToAdd"] = json!({"x-api-key": "s3cret"});
    let ext = serve(h);
    for t in ["Bearer a", "Bearer a", "Bearer b"] {
        check(&ext, t);
    }
    let (status, scrape) = ext.admin_get("/metrics");
    assert_eq!(status, 200);
    for family in [
        "# TYPE extauth_cache_lookups_total counter",
        "# TYPE extauth_cache_entries gauge",
        "# TYPE extauth_cache_evictions_total counter",
    ] {
        assert!(scrape.contains(family), "{family} missing:\n{scrape}");
    }
    let (ok, said) = crate::observability::prom::promtool_check(&scrape);
    assert!(ok, "promtool: {said}\n{scrape}");
    assert_eq!(lookups(&ext, "ac", "hit"), 1.0);
    assert_eq!(lookups(&ext, "ac", "miss"), 2.0);
    assert_eq!(lookups(&ext, "ac", "coalesced"), 0.0);
    assert_eq!(lookups(&ext, "ac", "stale"), 0.0);

    let ac = ext.configz_auth_config();
    let configz = ac.to_string();
    assert_eq!(
        ac["spec"]["configs"][0]["passThroughAuth"]["http"]["cache"],
        json!({"maxAge": "30s", "denyMaxAge": "5s", "staleIfError": "10s", "maxEntries": 100})
    );
    assert!(!configz.contains("Bearer") && !configz.contains("s3cret"));
    assert!(!ext.logs().contains("s3cret"));
}

#[test]
fn bad_cache_settings_are_config_errors_naming_file_document_and_field() {
    let srv = AuthServer::start(allow("x"));
    let field = "spec.configs[0].passThroughAuth.http.cache";
    let cases = [
        (json!({"maxAge": "30s", "ttl": "5s"}), field, "ttl"),
        (json!({"maxAge": "-1s"}), &*format!("{field}.maxAge"), "-1s"),
        (
            json!({"maxAge": 30}),
            &*format!("{field}.maxAge"),
            "duration",
        ),
        (
            json!({"maxAge": "soon"}),
            &*format!("{field}.maxAge"),
            "soon",
        ),
        (
            json!({"maxAge": "0s"}),
            &*format!("{field}.maxAge"),
            "greater than 0",
        ),
        (
            json!({"maxAge": "1s", "denyMaxAge": "-5s"}),
            &*format!("{field}.denyMaxAge"),
            "-5s",
        ),
        (
            json!({"maxAge": "1s", "staleIfError": "x"}),
            &*format!("{field}.staleIfError"),
            "x",
        ),
        (
            json!({"maxAge": "1s", "maxEntries": 0}),
            &*format!("{field}.maxEntries"),
            "at least 1",
        ),
        (
            json!({"maxAge": "1s", "maxEntries": -3}),
            &*format!("{field}.maxEntries"),
            "-3",
        ),
        (json!({"denyMaxAge": "1s"}), field, "maxAge"),
    ]
    .map(|(c, f, m)| (c, f.to_string(), m));
    for (cache, field, words) in cases {
        let dir = tempfile::TempDir::new().unwrap();
        let text = single(http(&srv, cache.clone()), json!({}));
        std::fs::write(dir.path().join("bad.yaml"), text).unwrap();
        let out = run(&["validate", dir.path().to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cache}: {err}");
        let line = err
            .lines()
            .find(|l| l.contains("bad.yaml") && l.contains(&field))
            .unwrap_or_else(|| panic!("{cache}: no line naming bad.yaml and {field}:\n{err}"));
        assert!(line.contains("document 1"), "{line}");
        assert!(line.contains(words), "{cache}: {line}");
    }
}
