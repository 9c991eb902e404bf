//! What may share an entry: only byte-identical auth requests of the same AuthConfig.

use super::*;

#[test]
fn two_users_tokens_never_share_an_entry() {
    let srv = by_token();
    let ext = serve(http(&srv, json!({"maxAge": "60s", "denyMaxAge": "60s"})));
    for _ in 0..3 {
        let alice = check(&ext, "Bearer alice");
        assert_eq!(alice.status, 200);
        assert_eq!(alice.get("x-user").as_deref(), Some("alice"));
        let carol = check(&ext, "Bearer carol");
        assert_eq!(carol.status, 200);
        assert_eq!(carol.get("x-user").as_deref(), Some("carol"));
        let mallory = check(&ext, "Bearer mallory");
        assert_eq!(mallory.status, 401);
        assert!(mallory.get("x-user").is_none());
    }
    let asked: Vec<String> = srv
        .requests()
        .iter()
        .map(|r| r.get("authorization").unwrap())
        .collect();
    assert_eq!(
        asked,
        ["Bearer alice", "Bearer carol", "Bearer mallory"],
        "each token asked once, and then answered from its own entry"
    );
}

#[test]
fn a_header_that_is_not_sent_cannot_change_or_poison_the_key() {
    let srv = by_token();
    let ext = serve(http(&srv, json!({"maxAge": "60s"})));
    // an attacker adds headers the auth service never sees, hoping for an entry of their own
    // or for one that later answers someone else
    let first = ext.get(
        "/",
        &[
            ("authorization", "Bearer alice"),
            ("x-user", "admin"),
            ("x-evil", "1"),
        ],
    );
    assert_eq!(first.status, 200);
    let r = srv.only_request();
    assert!(r.get("x-evil").is_none() && r.get("x-user").is_none());
    for evil in ["2", "3"] {
        let again = ext.get("/", &[("authorization", "Bearer alice"), ("x-evil", evil)]);
        assert_eq!(again.status, 200);
        assert_eq!(passed_on(&again), passed_on(&first));
    }
    let plain = check(&ext, "Bearer alice");
    assert_eq!(passed_on(&plain), passed_on(&first));
    assert_eq!(srv.count(), 1, "unsent headers are not part of the key");
    assert_eq!(plain.get("x-user").as_deref(), Some("alice"));
}

#[test]
fn entries_of_one_auth_config_never_answer_anothers_checks() {
    // two AuthConfigs with identical steps (same url, same lists) on two hosts
    let srv = AuthServer::start(allow("first"));
    let step = super::http(&srv, json!({"maxAge": "60s"}));
    let config = yaml(&[
        auth_config(
            "one",
            json!({"configs": [crate::harness::step("", step.clone())]}),
        ),
        auth_config("two", json!({"configs": [crate::harness::step("", step)]})),
        virtual_service(
            "one",
            &["one"],
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref("one")),
        ),
        virtual_service(
            "two",
            &["two"],
            json!([route(json!([{"prefix": "/"}]), None)]),
            Some(cref("two")),
        ),
    ]);
    let ext = Extauth::start(&[("config.yaml", &config)]);
    let on = |host: &str| {
        ext.check("GET", host, "/", &[("authorization", "Bearer x")], b"")
            .get("x-user")
    };
    assert_eq!(on("one").as_deref(), Some("first"));
    srv.set_reply(allow("second"));
    assert_eq!(on("two").as_deref(), Some("second"), "two asks for itself");
    assert_eq!(on("one").as_deref(), Some("first"));
    assert_eq!(on("two").as_deref(), Some("second"));
    assert_eq!(srv.count(), 2);
}

#[test]
fn a_denial_cached_for_one_token_never_denies_another() {
    let srv = by_token();
    let ext = serve(http(&srv, json!({"maxAge": "60s", "denyMaxAge": "60s"})));
    let denied = check(&ext, "Bearer mallory");
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.get("www-authenticate").as_deref(),
        Some("denied Bearer mallory")
    );
    assert_eq!(check(&ext, "Bearer mallory").status, 401);
    assert_eq!(srv.count(), 1, "the denial is cached");
    let alice = check(&ext, "Bearer alice");
    assert_eq!(alice.status, 200);
    assert!(alice.get("www-authenticate").is_none());
    assert_eq!(ext.get("/", &[]).status, 401, "no token at all");
    assert_eq!(srv.count(), 3);
}
