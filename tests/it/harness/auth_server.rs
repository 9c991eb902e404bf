//! `AuthServer`: a real HTTP/1.1 server on 127.0.0.1 standing in for the user's auth service.
//!
//! Plain std sockets, one thread per connection, keep-alive honoured. It records every request
//! exactly as received and answers with a programmable [`Reply`]; it also counts accepted TCP
//! connections so tests can see whether extauth reuses its pool.

use super::http::{read_message, HeaderList, Headers};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the auth server answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// Sent in this order, repeats included; `content-length` is added unless present.
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Waited before answering.
    pub delay: Duration,
    /// If set, written instead of a well-formed answer (then the connection is closed).
    pub raw: Option<Vec<u8>>,
    /// Never answer: hold the connection until the peer closes it or the server stops.
    pub hang: bool,
    /// Close the connection right after answering, without saying so (`connection: close`
    /// is not sent), as a server does whose keep-alive expired between two requests.
    pub close_after: bool,
    /// End the connection with a TCP reset after writing `raw` (or the answer).
    pub reset: bool,
    /// If not empty, written instead of a well-formed answer, one write per piece with `pause`
    /// before each piece after the first; the connection then stays open for the next request
    /// (unless `close_after`).
    pub pieces: Vec<Vec<u8>>,
    /// Waited between two `pieces`.
    pub pause: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            raw: None,
            hang: false,
            close_after: false,
            reset: false,
            pieces: Vec::new(),
            pause: Duration::ZERO,
        }
    }
    pub fn ok() -> Self {
        Self::status(200)
    }
    /// The same answer with another status code.
    pub fn status_code(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    pub fn raw(bytes: &[u8]) -> Self {
        let mut r = Self::status(0);
        r.raw = Some(bytes.to_vec());
        r
    }
    /// Accepts the request and never answers (a blackhole).
    pub fn hang() -> Self {
        let mut r = Self::status(0);
        r.hang = true;
        r
    }
    /// Writes `bytes` (possibly nothing) and resets the connection.
    pub fn reset_after(bytes: &[u8]) -> Self {
        let mut r = Self::raw(bytes);
        r.reset = true;
        r
    }
    /// Writes `pieces` as they are (raw bytes, one write each, `pause` between two) and keeps
    /// the connection open: an answer in several packets, or more than one answer.
    pub fn pieces(pieces: &[&[u8]], pause: Duration) -> Self {
        let mut r = Self::status(0);
        r.pieces = pieces.iter().map(|p| p.to_vec()).collect();
        r.pause = pause;
        r
    }
    /// Closes the connection silently after this answer.
    pub fn then_close(mut self) -> Self {
        self.close_after = true;
        self
    }
}

/// One request as the auth server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query exactly as on the request line.
    pub target: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// 0 for the first request on its connection, 1 for the next, ...
    pub nth_on_connection: usize,
}

impl HeaderList for Recorded {
    fn header_list(&self) -> &Headers {
        &self.headers
    }
}

impl Recorded {
    /// The body parsed as JSON (panics if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "auth request body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

type Responder = dyn Fn(&Recorded) -> Reply + Send + Sync;

struct Inner {
    requests: Mutex<Vec<Recorded>>,
    responder: Mutex<Arc<Responder>>,
    connections: AtomicUsize,
    stop: AtomicBool,
    /// Connections whose serving thread still runs, by id (clones of the streams).
    live: Mutex<Vec<(u64, TcpStream)>>,
    next_id: AtomicU64,
    /// Most connections open at once, as seen at each accept.
    peak_open: AtomicUsize,
}

/// A running auth server; stops accepting on Drop.
pub struct AuthServer {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl AuthServer {
    /// A server answering `reply` to every request.
    pub fn start(reply: Reply) -> Self {
        Self::with(move |_| reply.clone())
    }

    /// A server answering whatever `f` returns for each request.
    pub fn with(f: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind auth server");
        Self::serve(listener, f)
    }

    /// A server on `127.0.0.1:port` (for a port that refused connections until now); retries
    /// the bind for up to 2 s.
    pub fn start_on(port: u16, reply: Reply) -> Self {
        let deadline = Instant::now() + Duration::from_secs(2);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => break l,
                Err(e) if Instant::now() > deadline => panic!("bind 127.0.0.1:{port}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        Self::serve(listener, move |_| reply.clone())
    }

    fn serve(
        listener: TcpListener,
        f: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            requests: Mutex::new(Vec::new()),
            responder: Mutex::new(Arc::new(f)),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            peak_open: AtomicUsize::new(0),
        });
        let acceptor = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if acceptor.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                acceptor.connections.fetch_add(1, Ordering::SeqCst);
                let id = acceptor.next_id.fetch_add(1, Ordering::SeqCst);
                {
                    let mut live = acceptor.live.lock().unwrap();
                    // the accepted connection counts only if its peer has not closed it while
                    // it waited in the backlog (under load, extauth may have given up on it)
                    let open = live.iter().filter(|(_, s)| !peer_closed(s)).count()
                        + usize::from(!peer_closed(&stream));
                    acceptor.peak_open.fetch_max(open, Ordering::SeqCst);
                    if let Ok(clone) = stream.try_clone() {
                        live.push((id, clone));
                    }
                }
                let conn = acceptor.clone();
                std::thread::spawn(move || {
                    serve_connection(stream, &conn);
                    conn.live.lock().unwrap().retain(|(i, _)| *i != id);
                });
            }
        });
        AuthServer { addr, inner }
    }

    /// The sample service of the guide: 200 for `/auth` with `authorization: authorize me`.
    pub fn sample() -> Self {
        Self::with(|r| {
            let path = r.target.split('?').next().unwrap_or_default();
            if path == "/auth"
                && r.all("authorization").first().map(String::as_str) == Some("authorize me")
            {
                Reply::ok()
            } else {
                Reply::status(403)
            }
        })
    }

    /// Replaces the answer for the following requests.
    pub fn set_reply(&self, reply: Reply) {
        *self.inner.responder.lock().unwrap() = Arc::new(move |_: &Recorded| reply.clone());
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `127.0.0.1:PORT`, the value extauth must send as `host`.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Number of requests received so far.
    pub fn count(&self) -> usize {
        self.inner.requests.lock().unwrap().len()
    }

    /// The one request received; panics unless exactly one arrived.
    pub fn only_request(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(
            all.len(),
            1,
            "expected exactly one auth request, got {all:#?}"
        );
        all.into_iter().next().unwrap()
    }

    /// Asserts `r` carries exactly the headers every call has (`host` = this server's authority,
    /// `content-length` = the body's, `date`, `accept-encoding: identity`, and `content-type:
    /// application/json` when there is a body) plus the headers named in `extra`, nothing else.
    pub fn assert_headers(&self, r: &Recorded, extra: &[&str]) {
        let mut expected: Vec<String> = ["accept-encoding", "content-length", "date", "host"]
            .iter()
            .chain(extra)
            .map(|n| n.to_string())
            .collect();
        if !r.body.is_empty() {
            expected.push("content-type".into());
        }
        expected.sort();
        expected.dedup();
        assert_eq!(r.names(), expected, "headers of the auth call: {r:#?}");
        assert_eq!(
            r.get("host"),
            Some(self.authority()),
            "host is the url's authority"
        );
        assert_eq!(r.get("content-length"), Some(r.body.len().to_string()));
        assert_eq!(r.all("accept-encoding"), ["identity"]);
        let date = r.get("date").unwrap();
        let imf =
            regex::Regex::new(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$");
        assert!(
            imf.unwrap().is_match(&date),
            "date is an HTTP date: {date:?}"
        );
        if !r.body.is_empty() {
            assert_eq!(r.all("content-type"), ["application/json"]);
        }
    }

    /// Number of TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    /// Connections open right now: accepted and still established (a connection whose peer
    /// sent FIN or RST no longer counts, even before this server notices).
    pub fn open_connections(&self) -> usize {
        let live = self.inner.live.lock().unwrap();
        live.iter().filter(|(_, s)| !peer_closed(s)).count()
    }

    /// The most connections that were open at once (counted at every accept).
    pub fn peak_open(&self) -> usize {
        self.inner.peak_open.load(Ordering::SeqCst)
    }
}

/// Whether `stream` is no longer an established connection: the peer closed or reset it (the
/// kernel's TCP state, so unread data on a closed connection does not hide the close).
///
/// The state is read twice because one read can be stale: a FIN or RST that arrives while a
/// serving thread is inside a `write` on the same socket waits in the socket's backlog until
/// that write lets go of the socket, and `getsockopt(TCP_INFO)` reads the state before it takes
/// the socket's lock. The first call waits for that lock, so the backlog is processed before
/// the second reads the state. (Without it, a connection extauth had reset while this server
/// was writing a 100 KB answer on it was counted as open at the next accept.)
fn peer_closed(stream: &TcpStream) -> bool {
    const TCP_ESTABLISHED: u8 = 1;
    tcp_state(stream);
    tcp_state(stream) != Some(TCP_ESTABLISHED)
}

/// The kernel's TCP state of `stream` (`tcpi_state`), `None` if it cannot be read.
fn tcp_state(stream: &TcpStream) -> Option<u8> {
    // SAFETY: an all-zero `tcp_info` is a valid value to be overwritten.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt(TCP_INFO) into a buffer of the size passed, on a valid socket.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(info.tcpi_state)
}

/// Makes closing `stream` send a TCP reset instead of a FIN.
fn set_reset_on_close(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a properly sized `linger` on a valid socket descriptor.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Waits `delay`, or less if the peer closes the connection or the server stops; returns
/// whether the connection is still worth answering.
fn wait_unless_gone(stream: &TcpStream, inner: &Inner, delay: Duration) -> bool {
    let until = Instant::now() + delay;
    loop {
        if peer_closed(stream) || inner.stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(2)));
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Whatever",
    }
}

fn serve_connection(stream: TcpStream, inner: &Inner) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut nth = 0;
    while let Ok(Some(msg)) = read_message(&mut reader, true) {
        let req = Recorded {
            method: msg.first,
            target: msg.second,
            headers: msg.headers,
            body: msg.body,
            nth_on_connection: nth,
        };
        nth += 1;
        let close = req
            .all("connection")
            .iter()
            .any(|v| v.eq_ignore_ascii_case("close"));
        let responder = inner.responder.lock().unwrap().clone();
        let reply = responder(&req);
        inner.requests.lock().unwrap().push(req);
        if reply.hang {
            wait_unless_gone(&writer, inner, Duration::from_secs(3600));
            return;
        }
        if !reply.delay.is_zero() && !wait_unless_gone(&writer, inner, reply.delay) {
            return;
        }
        if reply.reset {
            set_reset_on_close(&writer);
        }
        if let Some(raw) = &reply.raw {
            let _ = writer.write_all(raw);
            return;
        }
        if !reply.pieces.is_empty() {
            for (i, piece) in reply.pieces.iter().enumerate() {
                if i > 0 && !wait_unless_gone(&writer, inner, reply.pause) {
                    return;
                }
                if writer
                    .write_all(piece)
                    .and_then(|()| writer.flush())
                    .is_err()
                {
                    return;
                }
            }
            if close || reply.close_after || reply.reset {
                return;
            }
            continue;
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
        for (n, v) in &reply.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        let has_len = reply.headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
        });
        if !has_len && !matches!(reply.status, 100..=199 | 204 | 304) {
            head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&reply.body);
        if writer.write_all(&out).is_err() || close || reply.close_after || reply.reset {
            return;
        }
    }
}
