//! A tiny blocking HTTP/1.1 client (one request per connection, any Host and target sent as
//! given), a bare HTTP/2 GET, and request-head parsing shared with the stand-in servers.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An answer: status, headers (names lower-cased, in order) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in wire order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Reads a message head: the first line and the headers (names lower-cased).
pub fn read_head(r: &mut impl BufRead) -> io::Result<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    if r.read_line(&mut first)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no message"));
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok((first.trim_end().to_string(), headers))
}

fn read_body(r: &mut impl BufRead, headers: &[(String, String)]) -> io::Result<Vec<u8>> {
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// `GET path` to 127.0.0.1:`port` with `Host: host` and `headers`.
pub fn get(port: u16, path: &str, host: &str, headers: &[(&str, &str)]) -> io::Result<Response> {
    request(port, "GET", path, host, headers)
}

/// `method path` (no body) to 127.0.0.1:`port` with `Host: host` and `headers`.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    let mut r = BufReader::new(stream);
    let (first, headers) = read_head(&mut r)?;
    let status = first
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, first.clone()))?;
    let body = read_body(&mut r, &headers)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `GET path` over HTTP/2 without TLS (prior knowledge) to 127.0.0.1:`port`, with
/// `:authority` set to `authority` as is; returns the response body (its status is not
/// decoded: the stand-in servers' bodies tell who answered).
pub fn h2c_get_body(
    port: u16,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let pseudo = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", path),
        (":authority", authority),
    ];
    let mut block = Vec::new();
    for (name, value) in pseudo.iter().chain(headers) {
        // literal header field without indexing, new name, no Huffman coding
        block.push(0);
        hpack_string(&mut block, name);
        hpack_string(&mut block, value);
    }
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    h2_frame(&mut out, 4, 0, 0, &[]);
    // HEADERS on stream 1: END_STREAM | END_HEADERS
    h2_frame(&mut out, 1, 0x5, 1, &block);
    stream.write_all(&out)?;
    let mut body = Vec::new();
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head)?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0; len];
        stream.read_exact(&mut payload)?;
        let end_stream = flags & 0x1 != 0;
        match (kind, id) {
            // SETTINGS from the server: acknowledge
            (4, 0) if flags & 0x1 == 0 => {
                let mut ack = Vec::new();
                h2_frame(&mut ack, 4, 0x1, 0, &[]);
                stream.write_all(&ack)?;
            }
            (0, 1) => {
                let data = if flags & 0x8 != 0 {
                    let pad = usize::from(*payload.first().unwrap_or(&0));
                    &payload[1..payload.len().saturating_sub(pad).max(1)]
                } else {
                    &payload[..]
                };
                body.extend_from_slice(data);
                if end_stream {
                    return Ok(body);
                }
            }
            (1, 1) if end_stream => return Ok(body),
            (3, 1) | (7, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "HTTP/2 stream reset or connection closed",
                ))
            }
            _ => {}
        }
    }
}

fn h2_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// An HPACK string literal (RFC 7541 5.2) without Huffman coding.
fn hpack_string(out: &mut Vec<u8>, s: &str) {
    let mut n = s.len();
    if n < 127 {
        out.push(n as u8);
    } else {
        out.push(127);
        n -= 127;
        while n >= 128 {
            out.push((n % 128) as u8 | 0x80);
            n /= 128;
        }
        out.push(n as u8);
    }
    out.extend_from_slice(s.as_bytes());
}
