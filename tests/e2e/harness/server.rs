//! In-process HTTP/1.1 servers on 127.0.0.1: the stand-in for the seed's upstream
//! (jsonplaceholder) and an auth service that answers with headers.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::http::read_head;

/// What the seed's upstream answers on `/posts/1`.
pub const SEED_JSON: &str = r#"{
  "userId": 1,
  "id": 1,
  "title": "sunt aut facere repellat provident occaecati excepturi optio reprehenderit",
  "body": "quia et suscipit\nsuscipit recusandae consequuntur expedita et cum\nreprehenderit molestiae ut ut quas totam\nnostrum rerum est autem sunt rem eveniet architecto"
}"#;

/// A request as a server received it.
pub struct Request {
    /// Method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, String);

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A server answering every request with its handler (one request per connection); it stops
/// accepting when dropped.
pub struct Server {
    /// Its port on 127.0.0.1.
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Starts a server on a free port.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                std::thread::spawn(move || serve(stream, &*handler));
            }
        });
        Server { port, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, handler: &(dyn Fn(&Request) -> Reply + Send + Sync)) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Ok((first, headers)) = read_head(&mut reader) else {
        return;
    };
    let mut parts = first.split(' ');
    let req = Request {
        method: parts.next().unwrap_or("").to_string(),
        path: parts.next().unwrap_or("").to_string(),
        headers,
    };
    let (status, headers, body) = handler(&req);
    let mut out = format!("HTTP/1.1 {status} X\r\n");
    for (n, v) in &headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
}

/// The stand-in for jsonplaceholder.typicode.com: `GET /posts/1` answers the seed's JSON, any
/// other request `{"method", "path"}` as received; every answer echoes each request header `h`
/// as `echo-h`.
pub fn upstream() -> Server {
    Server::start(|req| {
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(n, v)| (format!("echo-{n}"), v.clone()))
            .collect();
        headers.push(("content-type".into(), "application/json".into()));
        if req.method == "GET" && req.path == "/posts/1" {
            (200, headers, SEED_JSON.to_string())
        } else {
            let body = serde_json::json!({"method": req.method, "path": req.path});
            (200, headers, body.to_string())
        }
    })
}

/// An auth service that allows `authorization: authorize me` with `x-auth-user: alice` and
/// `x-auth-role: user`, and denies anything else (401) with `x-auth-reason`.
pub fn header_auth_service() -> Server {
    Server::start(|req| {
        if req.header("authorization") == Some("authorize me") {
            let headers = vec![
                ("x-auth-user".into(), "alice".into()),
                ("x-auth-role".into(), "user".into()),
                ("x-not-listed".into(), "leak".into()),
            ];
            (200, headers, String::new())
        } else {
            let headers = vec![("x-auth-reason".into(), "no credentials".into())];
            (401, headers, String::new())
        }
    })
}
