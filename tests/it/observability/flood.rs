//! Malformed requests on the check port do not flood the log: 200 of them leave one warning
//! (not 200 ERROR lines from the HTTP server), are counted in
//! `extauth_malformed_requests_total`, and checks go on being answered.

use crate::harness::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Raw bytes no HTTP/1.1 server can parse, sent on a connection of their own; waits for the
/// server to answer (400) or close.
fn garbage(addr: &str, i: usize) {
    let mut s = TcpStream::connect(addr).expect("connect to the check port");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let raw = format!("GARBAGE \x01\x02 {i} nonsense\r\nno header here\r\n\r\n");
    let _ = s.write_all(raw.as_bytes());
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
}

#[test]
fn malformed_requests_are_counted_and_summed_up_in_one_line() {
    let srv = AuthServer::start(Reply::ok());
    let ext = serve_single(serde_json::json!({"url": srv.url("/auth")}));
    for i in 0..200 {
        garbage(&ext.check_addr, i);
    }
    let counted = wait_for(
        || ext.metric("extauth_malformed_requests_total") == Some(200.0),
        Duration::from_secs(3),
    );
    assert!(
        counted.is_some(),
        "counted: {:?}",
        ext.metric("extauth_malformed_requests_total")
    );
    assert_eq!(ext.get("/", &[]).status, 200, "checks still work");
    let summary = ext.expect_log(&["warn", "malformed requests on the check or admin port"]);
    assert!(summary.contains("count=1"), "{summary}");
    assert!(
        summary.contains("invalid"),
        "says what was wrong: {summary}"
    );
    let about_it = ext.count_log_matching("stream error|parse error|malformed");
    assert!(about_it <= 2, "{about_it} lines about it:\n{}", ext.logs());
    assert_eq!(
        ext.count_log_matching(r"\berror\b.*actix_http"),
        0,
        "{}",
        ext.logs()
    );
}
