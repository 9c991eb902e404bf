//! Where one answer of the auth service ends and the next begins: every answer extauth acts
//! on is the answer to the call it made, never one the auth service sent for another.
//!
//! HTTP/1.1 answers are framed by their head: interim (1xx) answers come before the final one
//! (RFC 9110 §15.2), and a final answer with neither `content-length` nor `transfer-encoding`
//! ends only when the connection closes (RFC 9112 §6.3). awc 3.11 took a 1xx for the final
//! answer and a close-delimited answer for a bodiless one, and pooled the connection either
//! way, so the rest of one answer was read as the answer to the next call: with a shared
//! connection, a good check was denied and the bad check after it allowed. The fix is a patch
//! to awc (`vendor/awc/PATCHED.md`); these tests fail without it.
//!
//! Every auth service here shares one connection between checks (one worker, `maxConns` 1),
//! writes its answers raw, often in several writes with a pause between (as a server that
//! flushes early does), and picks its behaviour from the call's `authorization` (see
//! [`verdict`]).

use crate::harness::http::KeepAlive;
use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `connectionTimeout` of the AuthConfigs under test.
const BUDGET: Duration = Duration::from_millis(1000);
/// The pause between two writes of one answer.
const PAUSE: Duration = Duration::from_millis(30);

const EARLY_HINTS: &[u8] = b"HTTP/1.1 103 Early Hints\r\nlink: </app.css>; rel=preload; as=style\r\nx-user: hinted\r\n\r\n";
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
const PROCESSING: &[u8] = b"HTTP/1.1 102 Processing\r\n\r\n";
const SWITCHING: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n";
/// What an attacker wants read as the answer to someone else's call.
const SMUGGLED: &[u8] = b"HTTP/1.1 200 OK\r\nx-user: mallory\r\ncontent-length: 0\r\n\r\n";

/// The auth service's verdict for `authorization`: `good NAME` allows as `NAME`, anything else
/// denies (401).
fn verdict(authorization: &str) -> Vec<u8> {
    match authorization.strip_prefix("good ") {
        Some(user) => {
            format!("HTTP/1.1 200 OK\r\nx-user: {user}\r\ncontent-length: 0\r\n\r\n").into_bytes()
        }
        None => b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n".to_vec(),
    }
}

/// The call's `authorization`, or "" without one.
fn credentials(r: &Recorded) -> String {
    r.get("authorization").unwrap_or_default()
}

/// An auth service answering [`verdict`] to `good NAME` and `bad`, and `special` to any other
/// credentials (given the call).
fn auth_service(special: impl Fn(&str, &Recorded) -> Reply + Send + Sync + 'static) -> AuthServer {
    AuthServer::with(move |r| {
        let auth = credentials(r);
        if auth == "bad" || auth.starts_with("good ") {
            Reply::pieces(&[&verdict(&auth)], Duration::ZERO)
        } else {
            special(&auth, r)
        }
    })
}

/// Starts extauth with one worker and one AuthConfig calling `srv` over at most one
/// connection, plus `extra_http` fields; `fma` is `failureModeAllow`.
fn serve(srv: &AuthServer, extra_http: Value, fma: bool) -> Extauth {
    let mut http = json!({
        "url": srv.url("/auth"),
        "connectionTimeout": format!("{}ms", BUDGET.as_millis()),
        "connectionPool": {"maxConns": 1},
        "request": {"allowedHeaders": ["authorization"]},
        "response": {"allowedUpstreamHeaders": ["x-user"]},
    });
    merge(&mut http, extra_http);
    let config = single(http, json!({"failureModeAllow": fma}));
    Extauth::start_with(&[("c.yaml", &config)], &["--workers", "1"])
}

/// What a check must get.
#[derive(Clone, Copy, Debug)]
enum Want<'a> {
    /// The auth service's allow for this user: 200 with its `x-user`.
    Allow(&'a str),
    /// A denial: 401, no `x-user`.
    Deny,
    /// No usable answer: 503, or 200 without `x-user` under `failureModeAllow`.
    Error,
}

/// A keep-alive client of one extauth, checking what each answer is.
struct Checks<'a> {
    ext: &'a Extauth,
    client: KeepAlive,
    fma: bool,
}

impl<'a> Checks<'a> {
    fn new(ext: &'a Extauth, fma: bool) -> Self {
        Checks {
            ext,
            client: ext.client(),
            fma,
        }
    }

    /// Sends a check with `authorization` and `body`; asserts its answer is `want`; returns
    /// how long it took.
    fn expect(&mut self, authorization: &str, body: &[u8], want: Want) -> Duration {
        let raw = check_request(
            "POST",
            HOST,
            "/api",
            &[("authorization", authorization)],
            body,
        );
        let sent = Instant::now();
        let msg = self.client.send(&raw).unwrap_or_else(|e| {
            panic!(
                "check {authorization:?}: no answer: {e}; logs:\n{}",
                self.ext.logs()
            )
        });
        let took = sent.elapsed();
        let a = Answer::from_message(msg);
        let user = a.all("x-user");
        let right = match want {
            Want::Allow(name) => a.status == 200 && user == [name],
            Want::Deny => a.status == 401 && user.is_empty(),
            Want::Error if self.fma => a.status == 200 && user.is_empty(),
            Want::Error => a.status == 503 && user.is_empty(),
        };
        assert!(
            right,
            "check {authorization:?} (failureModeAllow={}): want {want:?}, got {a:?}; logs:\n{}",
            self.fma,
            self.ext.logs()
        );
        took
    }
}

/// Asserts that every call `srv` received right after one whose credentials `closes` picks
/// came on a new connection (calls are made one at a time over at most one connection, so a
/// pooled connection would have carried it).
fn assert_closed_after(srv: &AuthServer, closes: impl Fn(&str) -> bool, what: &str) {
    let calls = srv.requests();
    for pair in calls.windows(2) {
        assert!(
            !closes(&credentials(&pair[0])) || pair[1].nth_on_connection == 0,
            "{what}: the connection of a call answered {:?} was reused: {:?}",
            credentials(&pair[0]),
            calls
                .iter()
                .map(|r| (credentials(r), r.nth_on_connection))
                .collect::<Vec<_>>()
        );
    }
}

/// The `nth_on_connection` of the last call `srv` received.
fn last_call_position(srv: &AuthServer) -> usize {
    srv.requests().last().expect("a call").nth_on_connection
}

#[test]
fn interim_answers_are_read_past_and_every_answer_goes_to_its_own_check() {
    let one_write = [CONTINUE, PROCESSING, EARLY_HINTS, EARLY_HINTS].concat();
    let cases: [(&str, Vec<&[u8]>); 5] = [
        ("103 Early Hints", vec![EARLY_HINTS]),
        ("100 Continue", vec![CONTINUE]),
        ("102 Processing", vec![PROCESSING]),
        (
            "several, one write each",
            vec![CONTINUE, PROCESSING, EARLY_HINTS, EARLY_HINTS],
        ),
        ("several in the final answer's write", vec![]),
    ];
    for (case, interims) in cases {
        let interims: Vec<Vec<u8>> = interims.iter().map(|i| i.to_vec()).collect();
        let in_one_write = interims.is_empty();
        let one_write = one_write.clone();
        // every answer, good or bad, comes after its interim answers
        let srv = AuthServer::with(move |r| {
            let fin = verdict(&credentials(r));
            if in_one_write {
                return Reply::pieces(&[&[one_write.as_slice(), &fin].concat()], PAUSE);
            }
            let mut pieces: Vec<&[u8]> = interims.iter().map(Vec::as_slice).collect();
            pieces.push(&fin);
            Reply::pieces(&pieces, PAUSE)
        });
        let ext = serve(&srv, json!({}), false);
        let mut checks = Checks::new(&ext, false);
        for round in 0..4 {
            let user = format!("user-{round}");
            checks.expect(&format!("good {user}"), b"", Want::Allow(&user));
            checks.expect("bad", b"", Want::Deny);
        }
        assert_eq!(srv.count(), 8, "{case}: one call per check");
        assert_eq!(
            srv.connections(),
            1,
            "{case}: a connection whose answers were whole is reused"
        );
    }
}

#[test]
fn an_interim_answer_then_a_close_is_an_error() {
    for fma in [false, true] {
        let srv =
            auth_service(|_, _| Reply::pieces(&[EARLY_HINTS, PROCESSING], PAUSE).then_close());
        let ext = serve(&srv, json!({}), fma);
        let mut checks = Checks::new(&ext, fma);
        for _ in 0..3 {
            checks.expect("hints then close", b"", Want::Error);
            checks.expect("good alice", b"", Want::Allow("alice"));
        }
    }
}

#[test]
fn more_than_32_interim_answers_are_an_error() {
    let srv = auth_service(|auth, _| {
        let n: usize = auth.strip_prefix("hints ").unwrap().parse().unwrap();
        let answer = [EARLY_HINTS.repeat(n), verdict("good alice")].concat();
        Reply::pieces(&[&answer], PAUSE)
    });
    let ext = serve(&srv, json!({}), false);
    let mut checks = Checks::new(&ext, false);
    checks.expect("hints 32", b"", Want::Allow("alice"));
    checks.expect("hints 33", b"", Want::Error);
    checks.expect("good bob", b"", Want::Allow("bob"));
    assert_eq!(
        last_call_position(&srv),
        0,
        "the connection given up on is closed"
    );
}

#[test]
fn switching_protocols_is_an_error_and_its_connection_is_never_reused() {
    for fma in [false, true] {
        let srv = auth_service(|auth, _| match auth {
            "switch then close" => Reply::pieces(&[SWITCHING], PAUSE).then_close(),
            // the "new protocol" speaks HTTP/1.1 and allows
            _ => Reply::pieces(&[SWITCHING, SMUGGLED], PAUSE),
        });
        let ext = serve(&srv, json!({}), fma);
        let mut checks = Checks::new(&ext, fma);
        for _ in 0..3 {
            checks.expect("switch then close", b"", Want::Error);
            let took = checks.expect("switch then allow", b"", Want::Error);
            assert!(
                took < BUDGET / 2,
                "the 101 is an error at once, not a body read until the budget ends: {took:?}"
            );
            checks.expect("bad", b"", Want::Deny);
            checks.expect("good alice", b"", Want::Allow("alice"));
        }
        assert_closed_after(
            &srv,
            |auth| auth.starts_with("switch"),
            &format!("failureModeAllow={fma}"),
        );
    }
}

#[test]
fn a_close_delimited_answer_is_read_to_the_close_and_its_connection_not_reused() {
    let srv = auth_service(|auth, _| {
        let user = auth.strip_prefix("streaming ").unwrap();
        let head = format!("HTTP/1.1 200 OK\r\nx-user: {user}\r\n\r\n");
        Reply::pieces(&[head.as_bytes(), b"welcome, ", user.as_bytes()], PAUSE).then_close()
    });
    let ext = serve(&srv, json!({}), false);
    let mut checks = Checks::new(&ext, false);
    for round in 0..3 {
        let user = format!("user-{round}");
        let took = checks.expect(&format!("streaming {user}"), b"", Want::Allow(&user));
        assert!(
            took >= PAUSE * 2,
            "the answer ends at the close, after its whole body: answered in {took:?}"
        );
        checks.expect("bad", b"", Want::Deny);
        assert_eq!(
            last_call_position(&srv),
            0,
            "a new connection after the close"
        );
        checks.expect("good alice", b"", Want::Allow("alice"));
    }
    // each streaming answer ends its connection; the next one serves `bad` and `good`
    assert_eq!(srv.connections(), 4);
}

#[test]
fn a_close_delimited_answer_over_the_body_limit_is_decided_by_its_status_and_closed() {
    // 100 KB, over the 64 KB read of an answer whose body is not needed; the connection is
    // then left open, as if more were to come
    let srv = auth_service(|_, _| {
        let head = b"HTTP/1.1 200 OK\r\nx-user: alice\r\n\r\n";
        Reply::pieces(&[head, &[b'x'; 100 * 1024]], PAUSE)
    });
    let ext = serve(&srv, json!({}), false);
    let mut checks = Checks::new(&ext, false);
    for _ in 0..3 {
        let took = checks.expect("endless", b"", Want::Allow("alice"));
        assert!(took < BUDGET / 2, "the status decides at once: {took:?}");
        checks.expect("bad", b"", Want::Deny);
        checks.expect("good bob", b"", Want::Allow("bob"));
    }
    assert_closed_after(&srv, |auth| auth == "endless", "an answer cut at the limit");
}

#[test]
fn a_close_delimited_state_is_read() {
    let a = AuthServer::start(
        Reply::pieces(
            &[
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n",
                br#"{"state": {"user": "alice","#,
                br#" "n": 1}}"#,
            ],
            PAUSE,
        )
        .then_close(),
    );
    let b = AuthServer::start(Reply::ok());
    let spec = json!({"configs": [
        step("a", json!({"url": a.url("/a"), "response": {"readStateFromResponse": true}})),
        step("b", json!({"url": b.url("/b"), "request": {"passThroughState": true}})),
    ]});
    let ext = Extauth::start(&[("c.yaml", &guarded(spec))]);
    for _ in 0..2 {
        assert_eq!(ext.get("/api", &[]).status, 200);
        assert_eq!(
            b.requests().last().unwrap().json()["state"],
            json!({"user": "alice", "n": 1}),
        );
    }
}

#[test]
fn attacker_text_echoed_in_a_close_delimited_body_is_never_an_answer() {
    // an auth service that explains its refusals by echoing the request, and flushes the head
    // and its first line before the rest
    let srv = auth_service(|_, r| {
        let echoed = r.json()["body"].as_str().unwrap_or_default().to_string();
        Reply::pieces(
            &[
                b"HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\n\r\nrefused:\n",
                echoed.as_bytes(),
            ],
            PAUSE,
        )
        .then_close()
    });
    let ext = serve(&srv, json!({"request": {"passThroughBody": true}}), false);
    let mut checks = Checks::new(&ext, false);
    for _ in 0..3 {
        checks.expect("forged", SMUGGLED, Want::Deny);
        checks.expect("bad", b"", Want::Deny);
        checks.expect("good alice", b"", Want::Allow("alice"));
    }
}

#[test]
fn bytes_past_a_complete_answer_are_never_the_next_answer() {
    let srv = auth_service(|auth, _| {
        let denial: &[u8] = match auth {
            "after bodiless" => b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
            "after body" => b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 5\r\n\r\nnope!",
            "after chunked" => {
                b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n\r\n"
            }
            _ => b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
        };
        if auth == "later" {
            Reply::pieces(&[denial, SMUGGLED], PAUSE)
        } else {
            Reply::pieces(&[&[denial, SMUGGLED].concat()], PAUSE)
        }
    });
    let ext = serve(&srv, json!({}), false);
    let mut checks = Checks::new(&ext, false);
    for surplus in ["after bodiless", "after body", "after chunked", "later"] {
        checks.expect(surplus, b"", Want::Deny);
        if surplus == "later" {
            // the extra answer has arrived by the next call (one arriving after the next
            // call was sent is indistinguishable from its answer: no client can tell)
            std::thread::sleep(PAUSE * 10);
        }
        checks.expect("bad", b"", Want::Deny);
        assert_eq!(
            last_call_position(&srv),
            0,
            "{surplus}: a connection that carried more than its answer is closed"
        );
        checks.expect("good alice", b"", Want::Allow("alice"));
    }
}
