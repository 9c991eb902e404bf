//! `extauth healthcheck`: one plain HTTP/1.1 GET to the admin listener, for container health
//! checks in images that carry no HTTP client.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::cli::HealthcheckArgs;

/// Where to connect for an admin listener bound to `listen`: an unspecified IP (`0.0.0.0`,
/// `::`) becomes the loopback address of the same family.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// GETs `path` from `addr` and returns the status code.
pub fn get_status(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // one write: `write!` on the bare socket would send each piece of the format on its own
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let line = String::from_utf8_lossy(&head);
    line.strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}

/// Runs the check, prints the outcome and returns whether the answer was 200.
pub fn healthcheck(args: &HealthcheckArgs) -> bool {
    let addr = target(args.admin_listen);
    match get_status(addr, &args.path, args.timeout) {
        Ok(200) => {
            println!("{addr}{}: 200", args.path);
            true
        }
        Ok(status) => {
            eprintln!("{addr}{}: {status}", args.path);
            false
        }
        Err(e) => {
            eprintln!("{addr}{}: {e}", args.path);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn unspecified_becomes_loopback() {
        assert_eq!(
            target("0.0.0.0:9091".parse().unwrap()),
            "127.0.0.1:9091".parse().unwrap()
        );
        assert_eq!(
            target("[::]:9091".parse().unwrap()),
            "[::1]:9091".parse().unwrap()
        );
        assert_eq!(
            target("10.1.2.3:1".parse().unwrap()),
            "10.1.2.3:1".parse().unwrap()
        );
    }

    #[test]
    fn reads_the_status() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // the whole head, so that no unread byte turns the close into a reset
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"GET /readyz HTTP/1.1\r\n"));
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        });
        let status = get_status(addr, "/readyz", Duration::from_secs(2)).unwrap();
        assert_eq!(status, 503);
        server.join().unwrap();
    }
}
