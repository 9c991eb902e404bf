//! Shutdown: SIGTERM stops accepting at once, lets in-flight checks finish within
//! `--shutdown-grace`, then the process exits 0; a check still running when the grace is over
//! is cut, and the process exits 0 all the same, without waiting for it. (Replicas behind a
//! real Envoy losing one of them under load: `tests/e2e/replicas.rs`.)

use crate::harness::*;
use serde_json::json;
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn start(delay: Duration, timeout: &str, grace: &str) -> (AuthServer, Extauth) {
    let srv = AuthServer::start(Reply::ok().header("x-user", "alice").delay(delay));
    let yaml = single(
        json!({
            "url": srv.url("/auth"),
            "connectionTimeout": timeout,
            "response": {"allowedUpstreamHeaders": ["x-user"]},
        }),
        json!({}),
    );
    let ext = Extauth::start_with(&[("c.yaml", &yaml)], &["--shutdown-grace", grace]);
    (srv, ext)
}

/// Whether a new connection to `addr` is refused (or reset) now.
fn refuses(addr: &str) -> bool {
    match TcpStream::connect(addr) {
        Err(_) => true,
        Ok(s) => {
            // accepted by the kernel backlog of a closing listener: no answer comes (the probe
            // lacks a Host, so if it is served it gets a 400 and never reaches an auth service)
            let raw = b"GET / HTTP/1.1\r\n\r\n";
            use std::io::{Read, Write};
            let mut s = s;
            let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
            let _ = s.write_all(raw);
            let mut buf = [0u8; 1];
            !matches!(s.read(&mut buf), Ok(n) if n > 0)
        }
    }
}

#[test]
fn sigterm_finishes_in_flight_checks_then_exits_0() {
    let (srv, mut ext) = start(Duration::from_millis(800), "5s", "5s");
    let in_flight = 5;
    std::thread::scope(|s| {
        let ext = &ext;
        let handles: Vec<_> = (0..in_flight)
            .map(|_| s.spawn(move || ext.get("/posts/1", &[])))
            .collect();
        let arrived = wait_for(|| srv.count() == in_flight, Duration::from_secs(2));
        assert!(
            arrived.is_some(),
            "the checks did not reach the auth service"
        );
        let term = Instant::now();
        ext.signal(libc::SIGTERM);
        // New connections are refused (or never answered) at once.
        let closed = wait_for(|| refuses(&ext.check_addr), Duration::from_millis(500));
        assert!(closed.is_some(), "still accepting checks after SIGTERM");
        for h in handles {
            let a = h.join().unwrap();
            assert_eq!(a.status, 200, "an in-flight check was cut: {a:?}");
            assert_eq!(a.all("x-user"), ["alice"]);
        }
        println!(
            "in-flight checks answered {:?} after SIGTERM; new connections refused after {:?}",
            term.elapsed(),
            closed.unwrap()
        );
    });
    let status = ext
        .wait_exit(Duration::from_secs(3))
        .expect("extauth still runs after its in-flight checks finished");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    assert_eq!(
        srv.count(),
        in_flight,
        "nothing else reached the auth service"
    );
}

#[test]
fn idle_keep_alive_connections_are_closed_at_once_and_the_process_exits() {
    let (_srv, mut ext) = start(Duration::ZERO, "5s", "10s");
    // An idle keep-alive connection, as Envoy keeps them, does not hold the shutdown: it is
    // closed at once (Envoy sees the close and uses another replica).
    let raw = check_request("GET", HOST, "/", &[], b"");
    let mut stream = TcpStream::connect(&ext.check_addr).unwrap();
    {
        use std::io::Write;
        stream.write_all(&raw).unwrap();
    }
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let first = crate::harness::http::read_message(&mut reader, false).unwrap();
    assert_eq!(first.map(|m| m.first).as_deref(), Some("200"));
    let term = Instant::now();
    ext.signal(libc::SIGTERM);
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let eof = crate::harness::http::read_message(&mut reader, false);
    assert!(
        matches!(eof, Ok(None)) || eof.is_err() && term.elapsed() < Duration::from_secs(1),
        "the idle connection was not closed: {eof:?}"
    );
    let status = ext
        .wait_exit(Duration::from_secs(2))
        .expect("extauth did not exit");
    assert_eq!(status.code(), Some(0));
    println!(
        "idle connection closed and extauth exited {:?} after SIGTERM",
        term.elapsed()
    );
}

#[test]
fn sigterm_when_idle_exits_0_at_once() {
    let (_srv, mut ext) = start(Duration::ZERO, "5s", "10s");
    assert_eq!(ext.get("/posts/1", &[]).status, 200);
    let term = Instant::now();
    ext.signal(libc::SIGTERM);
    let status = ext
        .wait_exit(Duration::from_secs(2))
        .expect("an idle extauth did not exit");
    assert_eq!(status.code(), Some(0));
    println!("idle extauth exited {:?} after SIGTERM", term.elapsed());
}

#[test]
fn a_check_longer_than_the_grace_is_cut_and_the_process_exits_0() {
    let (srv, mut ext) = start(Duration::from_secs(8), "10s", "1s");
    let addr = ext.check_addr.clone();
    let client = std::thread::spawn(move || {
        crate::harness::http::exchange(
            &addr,
            &check_request("GET", HOST, "/posts/1", &[], b""),
            Duration::from_secs(15),
        )
    });
    assert!(wait_for(|| srv.count() == 1, Duration::from_secs(2)).is_some());
    let term = Instant::now();
    ext.signal(libc::SIGTERM);
    let status = ext
        .wait_exit(Duration::from_secs(4))
        .expect("extauth outlived its grace");
    let took = term.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "exited {took:?} after SIGTERM with a 1 s grace"
    );
    // The cut check gets no answer (Envoy retries it on another replica).
    let answer = client.join().unwrap();
    assert!(answer.is_err(), "a cut check got an answer: {answer:?}");
}
