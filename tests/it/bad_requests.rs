//! Bad check requests at the check endpoint: headers over the limit, invalid header bytes, a
//! huge path, a body nobody asked for, conflicting framing, hop-by-hop headers and CR/LF in
//! copied values. Each gets a clear 4xx or is handled safely, is never forwarded in a way that
//! changes its meaning, and never crashes or stalls the server.

use crate::harness::http::{read_message, request_bytes, Message};
use crate::harness::*;
use serde_json::json;
use std::io::{BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// extauth with `/` guarded by an auth service that records what it gets (allowing, copying
/// `x-allowed` and `authorization`), and `/smuggled` guarded by another (which must never be
/// called).
struct Target {
    srv: AuthServer,
    smuggled: AuthServer,
    ext: Extauth,
}

fn start() -> Target {
    let srv = AuthServer::start(Reply::ok());
    let smuggled = AuthServer::start(Reply::ok());
    let ac = |name: &str, s: &AuthServer| {
        auth_config(
            name,
            json!({"configs": [step("", json!({
                "url": s.url("/auth"),
                "request": {"allowedHeaders": ["x-allowed", "authorization", "connection", "upgrade", "te"]},
            }))]}),
        )
    };
    let docs = [
        ac("main", &srv),
        ac("smuggled", &smuggled),
        virtual_service(
            "vs",
            &["*"],
            json!([
                route(json!([{"prefix": "/smuggled"}]), Some(cref("smuggled"))),
                route(json!([{"regex": "/re/.*x"}]), Some(cref("main"))),
                route(json!([{"prefix": "/"}]), Some(cref("main"))),
            ]),
            None,
        ),
    ];
    let ext = Extauth::start(&[("c.yaml", &yaml(&docs))]);
    Target { srv, smuggled, ext }
}

/// What the check port answered on one connection.
struct Exchange {
    answers: Vec<Message>,
    /// How long the first answer took.
    first_after: Option<Duration>,
    /// The server closed (or reset) the connection.
    closed: bool,
}

/// Sends `raw` on a fresh connection and reads answers until the server closes it or 1 s goes
/// by without one.
fn send_raw(addr: &str, raw: &[u8]) -> Exchange {
    send_then(addr, raw, b"")
}

/// Like [`send_raw`], and sends `then` on the same connection after the first answer.
fn send_then(addr: &str, raw: &[u8], then: &[u8]) -> Exchange {
    let mut stream = TcpStream::connect(addr).expect("connect to the check port");
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let sent = Instant::now();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(raw);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut answers = Vec::new();
    let mut first_after = None;
    let closed = loop {
        match read_message(&mut reader, false) {
            Ok(Some(m)) => {
                if answers.is_empty() {
                    first_after = Some(sent.elapsed());
                    let _ = writer.write_all(then);
                }
                answers.push(m);
            }
            Ok(None) => break true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false
            }
            Err(_) => break true,
        }
    };
    Exchange {
        answers,
        first_after,
        closed,
    }
}

/// A well-formed check still gets a prompt, right answer, and the process still runs.
fn assert_still_serving(t: &mut Target, what: &str) {
    let before = t.srv.count();
    let sent = Instant::now();
    let a = t.ext.get("/after", &[("x-allowed", "ok")]);
    assert_eq!(a.status, 200, "{what}: a good check after it: {a:?}");
    assert!(
        sent.elapsed() < Duration::from_millis(500),
        "{what}: the good check took {:?}",
        sent.elapsed()
    );
    assert_eq!(t.srv.count(), before + 1, "{what}");
    assert!(t.ext.is_running(), "{what}: extauth exited");
}

/// Asserts the one answer is `status` (any of them) with an empty body, and that the auth
/// services were not called.
fn assert_rejected(t: &mut Target, raw: &[u8], statuses: &[u16], what: &str) -> Exchange {
    let (main, smuggled) = (t.srv.count(), t.smuggled.count());
    let x = send_raw(&t.ext.check_addr, raw);
    assert!(!x.answers.is_empty(), "{what}: no answer at all");
    let status: u16 = x.answers[0].first.parse().unwrap();
    assert!(
        statuses.contains(&status),
        "{what}: answered {status}, want one of {statuses:?}"
    );
    assert_eq!(
        x.answers.len(),
        1,
        "{what}: more than one answer: {:?}",
        x.answers
    );
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(t.srv.count(), main, "{what}: the auth service was called");
    assert_eq!(
        t.smuggled.count(),
        smuggled,
        "{what}: a smuggled request ran"
    );
    assert_still_serving(t, what);
    x
}

fn head(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n\r\n");
    s.into_bytes()
}

#[test]
fn headers_over_the_limit_get_431() {
    let mut t = start();
    let many: Vec<String> = (0..200).map(|i| format!("x-h{i}: v")).collect();
    let mut lines = vec!["GET / HTTP/1.1", "host: foo-http"];
    lines.extend(many.iter().map(String::as_str));
    assert_rejected(&mut t, &head(&lines), &[431], "200 headers");

    let big = format!("x-allowed: {}", "a".repeat(200 * 1024));
    assert_rejected(
        &mut t,
        &head(&["GET / HTTP/1.1", "host: foo-http", &big]),
        &[431],
        "one 200 KB header",
    );

    let parts: Vec<String> = (0..60)
        .map(|i| format!("x-p{i}: {}", "b".repeat(2500)))
        .collect();
    let mut lines = vec!["GET / HTTP/1.1", "host: foo-http"];
    lines.extend(parts.iter().map(String::as_str));
    assert_rejected(&mut t, &head(&lines), &[431], "150 KB of headers");
}

#[test]
fn invalid_header_bytes_get_400() {
    let mut t = start();
    let cases: [(&str, &[u8]); 9] = [
        ("NUL in a value", b"x-allowed: a\0b"),
        ("DEL in a value", b"x-allowed: a\x7fb"),
        ("bare CR in a value", b"x-allowed: a\rinjected: b"),
        ("obs-fold continuation", b"x-allowed: a\r\n injected: b"),
        ("space in a name", b"x allowed: a"),
        ("space before the colon", b"x-allowed : a"),
        ("separator in a name", b"x(allowed): a"),
        ("empty name", b": a"),
        ("non-ASCII name", b"x-\xc3\xa9: a"),
    ];
    for (what, line) in cases {
        let mut raw = b"GET / HTTP/1.1\r\nhost: foo-http\r\n".to_vec();
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        assert_rejected(&mut t, &raw, &[400], what);
    }
}

#[test]
fn header_values_are_copied_byte_for_byte_and_nothing_is_injected() {
    let t = start();
    // A bare LF ends a header line for the HTTP/1.1 parser: two headers, and only the listed
    // one is copied, unchanged.
    let raw = b"GET / HTTP/1.1\r\nhost: foo-http\r\nx-allowed: a\ninjected: b\r\ncontent-length: 0\r\n\r\n";
    let x = send_raw(&t.ext.check_addr, raw);
    let status = x.answers.first().map(|m| m.first.clone());
    assert!(
        status.as_deref() == Some("200") || status.as_deref() == Some("400"),
        "bare LF: {status:?}"
    );
    if status.as_deref() == Some("200") {
        let r = t.srv.requests().pop().unwrap();
        assert_eq!(r.all("x-allowed"), ["a"]);
        assert!(r.all("injected").is_empty(), "{r:?}");
    }
    // Escaped CR/LF, quotes, commas and UTF-8 reach the auth service exactly as sent.
    for value in [
        "a%0d%0ainjected: b",
        "a\\r\\ninjected: b",
        "\"quoted, with comma\"",
        "ünïcödé ✓",
        "a\tb",
    ] {
        let a = t.ext.get("/", &[("x-allowed", value)]);
        assert_eq!(a.status, 200, "{value:?}");
        let r = t.srv.requests().pop().unwrap();
        assert_eq!(r.all("x-allowed"), [value], "copied unchanged");
        assert!(r.all("injected").is_empty(), "{r:?}");
        t.srv.assert_headers(&r, &["x-allowed"]);
    }
}

#[test]
fn a_huge_path_is_rejected_or_routed_safely() {
    let mut t = start();
    // Longer than any URI the HTTP stack takes: 400, nothing called.
    let path = format!("/{}", "a".repeat(100 * 1024));
    assert_rejected(
        &mut t,
        &head(&[&format!("GET {path} HTTP/1.1"), "host: foo-http"]),
        &[400, 414, 431],
        "a 100 KB path",
    );
    // Long but acceptable: routed like any other path, regex routes included, at once; one
    // that is `/smuggled…` as sent and `/` normalised is refused (403), at once too.
    for path in [
        format!("/{}", "a".repeat(60 * 1024)),
        format!("/re/{}x", "a".repeat(60 * 1024)),
        format!("/smuggled{}", "/..".repeat(20 * 1024)),
    ] {
        let (main, smuggled) = (t.srv.count(), t.smuggled.count());
        let sent = Instant::now();
        let a = t.ext.get(&path, &[]);
        let refused = path.starts_with("/smuggled");
        let status = if refused { 403 } else { 200 };
        assert_eq!(a.status, status, "{} bytes", path.len());
        assert!(
            sent.elapsed() < Duration::from_millis(500),
            "{:?}",
            sent.elapsed()
        );
        let called = (t.srv.count() - main, t.smuggled.count() - smuggled);
        let want = if refused { (0, 0) } else { (1, 0) };
        assert_eq!(called, want, "the route of a {} byte path", path.len());
    }
    assert_still_serving(&mut t, "long paths");
}

#[test]
fn a_body_without_with_request_body_is_read_and_not_forwarded() {
    let mut t = start();
    for body in [&b"hello"[..], &vec![b'x'; 1024 * 1024]] {
        let a = t.ext.check("POST", HOST, "/", &[], body);
        assert_eq!(a.status, 200);
        let r = t.srv.requests().pop().unwrap();
        assert!(r.body.is_empty(), "no passThroughBody: nothing sent");
        assert_eq!(r.get("content-length").as_deref(), Some("0"));
    }
    // Chunked bodies too.
    let raw = b"POST / HTTP/1.1\r\nhost: foo-http\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let x = send_raw(&t.ext.check_addr, raw);
    assert_eq!(x.answers.len(), 1);
    assert_eq!(x.answers[0].first, "200");
    // Over the body limit: 413 at once, without reading the body; what the client sends next
    // is the body, never a request of its own.
    let raw = head(&[
        "POST / HTTP/1.1",
        "host: foo-http",
        &format!("content-length: {}", 9 * 1024 * 1024),
    ]);
    let x = assert_rejected(&mut t, &raw, &[413], "a 9 MB body");
    assert!(
        x.first_after.unwrap() < Duration::from_millis(500),
        "{:?}",
        x.first_after
    );
    let smuggled = b"GET /smuggled HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 0\r\n\r\n";
    let x = send_then(&t.ext.check_addr, &raw, smuggled);
    assert_eq!(x.answers.len(), 1, "{:?}", x.answers);
    assert_eq!(x.answers[0].first, "413");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        t.smuggled.count(),
        0,
        "the body after a 413 ran as a request"
    );
    assert_still_serving(&mut t, "after a 413");
}

#[test]
fn conflicting_framing_gets_400_and_smuggles_nothing() {
    let mut t = start();
    let smuggled = "GET /smuggled HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 0\r\n\r\n";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "content-length and chunked",
            format!(
                "POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "chunked and content-length",
            format!(
                "POST / HTTP/1.1\r\nhost: foo-http\r\ntransfer-encoding: chunked\r\ncontent-length: 60\r\n\r\n0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "two different content-lengths",
            format!(
                "POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 0\r\ncontent-length: 61\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "two equal content-lengths",
            format!(
                "POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 0\r\ncontent-length: 0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "content-length list",
            format!("POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 0, 61\r\n\r\n{smuggled}")
                .into_bytes(),
        ),
        (
            "signed content-length",
            format!("POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: +0\r\n\r\n{smuggled}")
                .into_bytes(),
        ),
        (
            "transfer-encoding gzip, chunked",
            format!(
                "POST / HTTP/1.1\r\nhost: foo-http\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "two transfer-encodings",
            format!(
                "POST / HTTP/1.1\r\nhost: foo-http\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "chunked in HTTP/1.0",
            format!(
                "POST / HTTP/1.0\r\nhost: foo-http\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "two hosts",
            format!(
                "GET / HTTP/1.1\r\nhost: foo-http\r\nhost: other\r\ncontent-length: 0\r\n\r\n{smuggled}"
            )
            .into_bytes(),
        ),
        (
            "no host in HTTP/1.1",
            format!("GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n{smuggled}").into_bytes(),
        ),
    ];
    for (what, raw) in cases {
        let x = assert_rejected(&mut t, &raw, &[400], what);
        assert!(
            x.closed,
            "{what}: the connection must be closed after a 400"
        );
    }
}

#[test]
fn hop_by_hop_headers_are_answered_normally_and_never_forwarded() {
    let t = start();
    // `connection`, `upgrade` and `te` are listed in allowedHeaders: still never copied.
    for (what, headers) in [
        (
            "upgrade to websocket",
            vec![("connection", "upgrade"), ("upgrade", "websocket")],
        ),
        (
            "upgrade to h2c",
            vec![
                ("connection", "upgrade, http2-settings"),
                ("upgrade", "h2c"),
                ("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
            ],
        ),
        ("te trailers", vec![("te", "trailers")]),
        (
            "keep-alive",
            vec![("connection", "keep-alive"), ("keep-alive", "timeout=5")],
        ),
        ("proxy-connection", vec![("proxy-connection", "keep-alive")]),
    ] {
        let mut all = vec![("host", HOST), ("x-allowed", "v")];
        all.extend(headers.iter().copied());
        all.push(("content-length", "0"));
        let raw = request_bytes("GET", "/", &all, b"");
        let mut client = t.ext.client();
        let sent = Instant::now();
        let first = client.send(&raw).map(Answer::from_message);
        assert!(
            sent.elapsed() < Duration::from_millis(500),
            "{what}: took {:?}",
            sent.elapsed()
        );
        let first = first.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_eq!(first.status, 200, "{what}: {first:?}");
        let r = t.srv.requests().pop().unwrap();
        t.srv.assert_headers(&r, &["x-allowed"]);
        // Nothing was upgraded: the connection serves the next check as HTTP/1.1, or (after
        // an upgrade request) is closed and a new one does.
        let next = client
            .send(&check_request("GET", HOST, "/", &[], b""))
            .or_else(|_| client.send(&check_request("GET", HOST, "/", &[], b"")))
            .map(Answer::from_message);
        assert_eq!(
            next.map(|a| a.status).ok(),
            Some(200),
            "{what}: the next check"
        );
    }
    // `connection: close` is honoured.
    let x = send_raw(
        &t.ext.check_addr,
        &head(&["GET / HTTP/1.1", "host: foo-http", "connection: close"]),
    );
    assert_eq!(x.answers.len(), 1);
    assert!(x.closed, "connection: close");
}

#[test]
fn slow_and_stalled_clients_do_not_stall_the_server() {
    let mut t = start();
    let addr = t.ext.check_addr.clone();
    // 100 connections that stop mid-head, and 100 that announce a body and stop mid-body.
    let mut stalled = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(&addr).unwrap();
        let part: &[u8] = if i % 2 == 0 {
            b"GET / HTTP/1.1\r\nhost: foo-h"
        } else {
            b"POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 1000\r\n\r\nabc"
        };
        s.write_all(part).unwrap();
        stalled.push(s);
    }
    let mut client = t.ext.client();
    for i in 0..50 {
        let sent = Instant::now();
        let a = client
            .send(&check_request("GET", HOST, "/", &[], b""))
            .map(Answer::from_message)
            .expect("answer");
        assert_eq!(a.status, 200);
        assert!(
            sent.elapsed() < Duration::from_millis(100),
            "check {i} with 200 stalled connections took {:?}",
            sent.elapsed()
        );
    }
    assert_still_serving(&mut t, "stalled clients");
    drop(stalled);
    assert_still_serving(&mut t, "stalled clients gone");
}

/// A check whose body never arrives (its head announces a length, or chunking, then silence)
/// gets 408 once the body timeout is over, and its connection is closed: such connections
/// used to be kept forever (600 of them exhausted a 512-descriptor limit).
#[test]
fn a_body_that_never_arrives_gets_408_and_the_connection_closes() {
    let t = start();
    let stalls: [(&str, &[u8]); 3] = [
        (
            "length, no body",
            b"POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 1000\r\n\r\n",
        ),
        (
            "length, part of the body",
            b"POST / HTTP/1.1\r\nhost: foo-http\r\ncontent-length: 1000\r\n\r\nabc",
        ),
        (
            "chunked, one chunk",
            b"POST / HTTP/1.1\r\nhost: foo-http\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n",
        ),
    ];
    std::thread::scope(|s| {
        for (what, raw) in stalls {
            let addr = t.ext.check_addr.clone();
            s.spawn(move || {
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(15)))
                    .unwrap();
                let sent = Instant::now();
                stream.write_all(raw).unwrap();
                let mut reader = BufReader::new(stream);
                let answer = read_message(&mut reader, false)
                    .unwrap_or_else(|e| panic!("{what}: no answer within 15 s: {e}"))
                    .unwrap_or_else(|| panic!("{what}: closed without an answer"));
                let took = sent.elapsed();
                assert_eq!(Answer::from_message(answer).status, 408, "{what}");
                assert!(
                    took >= Duration::from_secs(4) && took < Duration::from_secs(8),
                    "{what}: answered after {took:?}"
                );
                // and the connection is closed
                let next = read_message(&mut reader, false);
                assert!(
                    matches!(next, Ok(None) | Err(_)),
                    "{what}: still open: {next:?}"
                );
            });
        }
    });
}
