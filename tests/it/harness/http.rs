//! Minimal, exact HTTP/1.1 reading and writing over blocking std sockets.
//!
//! Both ends of every test exchange go through here, so the tests control and see every byte:
//! header names keep their case and order, repeated headers stay separate.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A header list in wire order, repeats included.
pub type Headers = Vec<(String, String)>;

/// One parsed HTTP/1.1 message head plus its body.
#[derive(Clone, Debug, Default)]
pub struct Message {
    /// Request: method. Response: the status code as text.
    pub first: String,
    /// Request: path with query, exactly as sent. Response: the reason phrase.
    pub second: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// Header lookups shared by recorded requests and check answers.
pub trait HeaderList {
    fn header_list(&self) -> &Headers;

    /// Every value of `name` (case-insensitive), in order.
    fn all(&self, name: &str) -> Vec<String> {
        self.header_list()
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The single value of `name`; panics if the header is repeated.
    fn get(&self, name: &str) -> Option<String> {
        let all = self.all(name);
        assert!(all.len() <= 1, "header {name} repeated: {all:?}");
        all.into_iter().next()
    }

    /// All values of `name` joined with ", " (the HTTP-equivalent single-line form).
    fn joined(&self, name: &str) -> Option<String> {
        let all = self.all(name);
        (!all.is_empty()).then(|| all.join(", "))
    }

    /// Lower-cased header names, sorted and deduplicated.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .header_list()
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

impl HeaderList for Message {
    fn header_list(&self) -> &Headers {
        &self.headers
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line without its CRLF; `Ok(None)` on a clean EOF before any byte.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if buf.ends_with(b"\n") {
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
    } else {
        return Err(bad("connection closed mid-line"));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| bad("non UTF-8 head"))
}

/// Reads a message (request when `is_request`), or `Ok(None)` on EOF before its first byte.
pub fn read_message(r: &mut impl BufRead, is_request: bool) -> io::Result<Option<Message>> {
    let Some(line) = read_line(r)? else {
        return Ok(None);
    };
    let mut parts = line.splitn(3, ' ');
    let (a, b, c) = (parts.next(), parts.next(), parts.next());
    let (first, second) = if is_request {
        (a.unwrap_or_default(), b.unwrap_or_default())
    } else {
        (b.unwrap_or_default(), c.unwrap_or_default())
    };
    let mut msg = Message {
        first: first.to_string(),
        second: second.to_string(),
        ..Message::default()
    };
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("EOF in headers"))?;
        if line.is_empty() {
            break;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header {line}")))?;
        msg.headers.push((n.to_string(), v.trim().to_string()));
    }
    let chunked = msg
        .all("transfer-encoding")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size = read_line(r)?.ok_or_else(|| bad("EOF in chunk size"))?;
            let size = size.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                while read_line(r)?.is_some_and(|l| !l.is_empty()) {}
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            msg.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = msg.all("content-length").first() {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        msg.body = vec![0; len];
        r.read_exact(&mut msg.body)?;
    } else if !is_request && !matches!(msg.first.as_str(), "204" | "304") {
        r.read_to_end(&mut msg.body)?;
    }
    Ok(Some(msg))
}

/// Serialises a request: the given headers in order, nothing added.
pub fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Sends raw request bytes on a new connection and reads one response.
pub fn exchange(addr: &str, raw: &[u8], timeout: Duration) -> io::Result<Message> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(raw)?;
    let mut reader = BufReader::new(stream);
    read_message(&mut reader, false)?.ok_or_else(|| bad("connection closed without answer"))
}

/// `GET path` with `connection: close`; returns (status, body) or an error.
pub fn simple_get(addr: &str, path: &str) -> io::Result<(u16, String)> {
    let host = addr.to_string();
    let raw = request_bytes(
        "GET",
        path,
        &[("host", &host), ("connection", "close")],
        b"",
    );
    let msg = exchange(addr, &raw, Duration::from_secs(5))?;
    let status = msg.first.parse().map_err(|_| bad("bad status"))?;
    Ok((status, String::from_utf8_lossy(&msg.body).into_owned()))
}

/// A keep-alive HTTP/1.1 client connection, reopened after an error or a `connection: close`.
pub struct KeepAlive {
    addr: String,
    timeout: Duration,
    conn: Option<(TcpStream, BufReader<TcpStream>)>,
    /// Connections opened so far.
    pub opened: usize,
}

impl KeepAlive {
    /// A client of `addr` whose exchanges give up after `timeout`; connects lazily.
    pub fn new(addr: &str, timeout: Duration) -> Self {
        KeepAlive {
            addr: addr.to_string(),
            timeout,
            conn: None,
            opened: 0,
        }
    }

    /// Sends `raw` (one complete request) and reads the answer; an error drops the connection.
    pub fn send(&mut self, raw: &[u8]) -> io::Result<Message> {
        let result = self.try_send(raw);
        match &result {
            Ok(msg)
                if !msg
                    .all("connection")
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case("close")) => {}
            _ => self.conn = None,
        }
        result
    }

    fn try_send(&mut self, raw: &[u8]) -> io::Result<Message> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            stream.set_nodelay(true)?;
            let reader = BufReader::new(stream.try_clone()?);
            self.conn = Some((stream, reader));
            self.opened += 1;
        }
        let (stream, reader) = self.conn.as_mut().unwrap();
        stream.write_all(raw)?;
        read_message(reader, false)?.ok_or_else(|| bad("connection closed without answer"))
    }
}
