//! AuthConfigs with several steps: order, state, accumulated headers, booleanExpr.

use crate::harness::*;
use serde_json::{json, Value};

/// Three auth services `a`, `b`, `c`, all allowing until told otherwise.
struct Trio {
    a: AuthServer,
    b: AuthServer,
    c: AuthServer,
}

impl Trio {
    fn new() -> Self {
        Trio {
            a: AuthServer::start(Reply::ok()),
            b: AuthServer::start(Reply::ok()),
            c: AuthServer::start(Reply::ok()),
        }
    }

    /// A step calling server `name` with extra `http` fields.
    fn step(&self, name: &str, http: Value) -> Value {
        let srv = match name {
            "a" => &self.a,
            "b" => &self.b,
            _ => &self.c,
        };
        let mut h = json!({"url": srv.url(&format!("/{name}")), "response": {
            "allowedUpstreamHeaders": ["x-up"],
            "allowedClientHeadersOnSuccess": ["set-cookie"],
            "allowedClientHeadersOnDenied": ["x-denied"],
        }});
        merge(&mut h, http);
        step(name, h)
    }

    fn counts(&self) -> [usize; 3] {
        [self.a.count(), self.b.count(), self.c.count()]
    }
}

fn serve(steps: Vec<Value>, expr: Option<&str>) -> Extauth {
    let mut spec = json!({"configs": steps});
    if let Some(e) = expr {
        spec["booleanExpr"] = json!(e);
    }
    Extauth::start(&[("chain.yaml", &guarded(spec))])
}

fn allow(tag: &str) -> Reply {
    Reply::ok()
        .header("x-up", tag)
        .header("set-cookie", &format!("{tag}=1"))
}

fn deny(tag: &str) -> Reply {
    Reply::status(403)
        .header("x-denied", tag)
        .header("x-up", tag)
}

/// `http` fields of a step that sends the state and reads the new one from its answer.
fn stateful() -> Value {
    json!({"request": {"passThroughState": true}, "response": {"readStateFromResponse": true}})
}

#[test]
fn state_flows_from_step_to_step_and_is_replaced() {
    let t = Trio::new();
    t.a.set_reply(Reply::ok().body(r#"{"state": {"user": "alice", "n": 1}}"#));
    t.b.set_reply(Reply::ok().body(r#"{"state": {"role": "admin"}}"#));
    t.c.set_reply(Reply::ok().body("not json, and not read"));
    let ext = serve(
        vec![
            t.step("a", stateful()),
            t.step("b", stateful()),
            t.step("c", json!({"request": {"passThroughState": true}})),
        ],
        None,
    );
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(t.a.only_request().json(), json!({"state": {}}));
    assert_eq!(
        t.b.only_request().json(),
        json!({"state": {"user": "alice", "n": 1}})
    );
    assert_eq!(
        t.c.only_request().json(),
        json!({"state": {"role": "admin"}}),
        "replaced, not merged"
    );

    // State does not leak from one check to the next.
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(t.a.requests()[1].json(), json!({"state": {}}));
}

#[test]
fn an_unreadable_state_body_denies_and_ends_the_chain() {
    let t = Trio::new();
    let ext = serve(vec![t.step("a", stateful()), t.step("b", json!({}))], None);
    for body in [
        "nope",
        "",
        "{}",
        r#"{"state": 1}"#,
        r#"{"state": "x"}"#,
        r#"["state"]"#,
    ] {
        t.a.set_reply(Reply::ok().header("x-up", "a").body(body));
        let a = ext.get("/", &[]);
        assert_eq!(a.status, 401, "state body {body:?}: {a:?}");
        assert!(a.all("x-up").is_empty());
    }
    assert_eq!(t.b.count(), 0, "the chain ends at the unreadable state");
    // Gloo logs an error when the state cannot be set; a DEBUG line is invisible by default.
    ext.expect_log_matching(r"\b(WARN|ERROR)\b.*state");
}

#[test]
fn headers_of_allowing_steps_accumulate_in_step_order() {
    let t = Trio::new();
    t.a.set_reply(allow("a"));
    t.b.set_reply(allow("b").header("x-up", "b2"));
    t.c.set_reply(allow("c"));
    let ext = serve(
        vec![
            t.step("a", json!({})),
            t.step("b", json!({})),
            t.step("c", json!({})),
        ],
        None,
    );
    let a = ext.get("/", &[]);
    assert_eq!(a.status, 200);
    assert_eq!(a.joined("x-up").as_deref(), Some("a, b, b2, c"));
    assert_eq!(a.all("set-cookie"), ["a=1", "b=1", "c=1"]);
    assert_eq!(t.counts(), [1, 1, 1]);
}

#[test]
fn the_first_denial_ends_the_chain_with_its_own_headers() {
    let t = Trio::new();
    t.a.set_reply(allow("a"));
    t.b.set_reply(deny("b"));
    let ext = serve(
        vec![
            t.step("a", json!({})),
            t.step("b", json!({})),
            t.step("c", json!({})),
        ],
        None,
    );
    let a = ext.get("/", &[]);
    assert_eq!(a.status, 401);
    assert_eq!(a.all("x-denied"), ["b"]);
    assert!(
        a.all("x-up").is_empty() && a.all("set-cookie").is_empty(),
        "{a:?}"
    );
    assert_eq!(t.counts(), [1, 1, 0], "c must not be called");

    t.b.set_reply(Reply::status(500));
    assert_eq!(ext.get("/", &[]).status, 503);
    assert_eq!(t.counts(), [2, 2, 0], "an error ends the chain too");
}

#[test]
fn or_short_circuits() {
    let t = Trio::new();
    let ext = serve(
        vec![t.step("a", json!({})), t.step("b", json!({}))],
        Some("a || b"),
    );
    t.a.set_reply(allow("a"));
    let a = ext.get("/", &[]);
    assert_eq!((a.status, a.all("x-up")), (200, vec!["a".to_string()]));
    assert_eq!(t.counts(), [1, 0, 0], "b is not needed");

    t.a.set_reply(deny("a"));
    t.b.set_reply(allow("b"));
    let a = ext.get("/", &[]);
    assert_eq!((a.status, a.all("x-up")), (200, vec!["b".to_string()]));
    assert!(a.all("x-denied").is_empty());
    assert_eq!(t.counts(), [2, 1, 0]);

    t.b.set_reply(deny("b"));
    assert_eq!(ext.get("/", &[]).status, 401);
    assert_eq!(t.counts(), [3, 2, 0]);
}

#[test]
fn and_not() {
    let t = Trio::new();
    let ext = serve(
        vec![t.step("a", json!({})), t.step("b", json!({}))],
        Some("a && !b"),
    );
    t.a.set_reply(allow("a"));
    t.b.set_reply(deny("b"));
    let a = ext.get("/", &[]);
    assert_eq!(a.status, 200, "a allows and b denies: {a:?}");
    assert_eq!(a.all("x-up"), ["a"], "only allowing steps add headers");
    assert!(a.all("x-denied").is_empty());
    assert_eq!(t.counts(), [1, 1, 0]);

    t.b.set_reply(allow("b"));
    assert_eq!(ext.get("/", &[]).status, 401, "b allows, so !b fails");
    assert_eq!(t.counts(), [2, 2, 0]);

    t.a.set_reply(deny("a"));
    let a = ext.get("/", &[]);
    assert_eq!(a.status, 401);
    assert_eq!(a.all("x-denied"), ["a"]);
    assert_eq!(t.counts(), [3, 2, 0], "b is not needed once a denied");
}

#[test]
fn parentheses_and_precedence() {
    let t = Trio::new();
    let steps = || {
        vec![
            t.step("a", json!({})),
            t.step("b", json!({})),
            t.step("c", json!({})),
        ]
    };
    t.a.set_reply(deny("a"));
    t.b.set_reply(allow("b"));
    t.c.set_reply(deny("c"));
    let ext = serve(steps(), Some("(a || b) && c"));
    assert_eq!(ext.get("/", &[]).status, 401);
    assert_eq!(t.counts(), [1, 1, 1]);

    let ext = serve(steps(), Some("a || (b && !c)"));
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(t.counts(), [2, 2, 2]);

    // `&&` binds tighter than `||`: a || (b && c), so an allowing `a` settles it.
    t.a.set_reply(allow("a"));
    let ext = serve(steps(), Some("a || b && c"));
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(t.counts(), [3, 2, 2], "neither b nor c is needed");
}

#[test]
fn state_follows_the_evaluation_order_of_the_expression() {
    let t = Trio::new();
    t.a.set_reply(Reply::ok().body(r#"{"state": {"by": "a"}}"#));
    t.b.set_reply(Reply::ok().body(r#"{"state": {"by": "b"}}"#));
    let ext = serve(
        vec![t.step("a", stateful()), t.step("b", stateful())],
        Some("b && a"),
    );
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(
        t.b.only_request().json(),
        json!({"state": {}}),
        "b is evaluated first"
    );
    assert_eq!(t.a.only_request().json(), json!({"state": {"by": "b"}}));
}

#[test]
fn unnamed_configs_are_called_config_index() {
    let t = Trio::new();
    let unnamed = |srv: &AuthServer| step("", json!({"url": srv.url("/x")}));
    t.a.set_reply(deny("a"));
    let ext = serve(
        vec![t.step("a", json!({})), unnamed(&t.b)],
        Some("a || config_1"),
    );
    assert_eq!(ext.get("/", &[]).status, 200);
    assert_eq!(t.counts(), [1, 1, 0]);

    let ext = serve(
        vec![unnamed(&t.b), unnamed(&t.c)],
        Some("!config_0 || config_1"),
    );
    t.c.set_reply(deny("c"));
    assert_eq!(ext.get("/", &[]).status, 401);
    assert_eq!(t.counts(), [1, 2, 1]);
}

#[test]
fn errors_end_the_check_whatever_the_expression_unless_failure_mode_allow() {
    let t = Trio::new();
    t.a.set_reply(Reply::status(500).header("x-up", "a"));
    let ext = serve(
        vec![t.step("a", json!({})), t.step("b", json!({}))],
        Some("a || b"),
    );
    assert_eq!(ext.get("/", &[]).status, 503);
    assert_eq!(t.counts(), [1, 0, 0]);

    // With failureModeAllow the failed step counts as an allow that adds nothing, state kept.
    let mut a = t.step("a", stateful());
    a["passThroughAuth"]["failureModeAllow"] = json!(true);
    t.b.set_reply(allow("b").body(r#"{"state": {"from": "b"}}"#));
    let c = t.step("c", json!({"request": {"passThroughState": true}}));
    let ext = serve(vec![a, t.step("b", stateful()), c], Some("a && b && c"));
    let ans = ext.get("/", &[]);
    assert_eq!(ans.status, 200);
    assert_eq!(
        ans.all("x-up"),
        ["b"],
        "the failed step adds nothing: {ans:?}"
    );
    assert_eq!(t.b.requests().last().unwrap().json(), json!({"state": {}}));
    assert_eq!(
        t.c.requests().last().unwrap().json(),
        json!({"state": {"from": "b"}})
    );
}
