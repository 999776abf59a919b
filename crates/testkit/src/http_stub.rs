//! A minimal HTTP/1.1 server on 127.0.0.1 for tests that fetch from "the internet" (customer
//! photos): each request's path goes to a closure that says what to answer. It reads the
//! request head only and closes every connection after one answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the stub answers to one request.
pub struct StubResponse {
    /// Status line after `HTTP/1.1 `, e.g. `200 OK`.
    pub status: String,
    /// Extra header lines, e.g. `("Location", url)`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl StubResponse {
    pub fn ok(body: Vec<u8>) -> StubResponse {
        StubResponse {
            status: "200 OK".into(),
            headers: vec![],
            body,
        }
    }

    pub fn not_found() -> StubResponse {
        StubResponse {
            status: "404 Not Found".into(),
            headers: vec![],
            body: vec![],
        }
    }

    pub fn redirect(location: &str) -> StubResponse {
        StubResponse {
            status: "302 Found".into(),
            headers: vec![("Location".into(), location.into())],
            body: vec![],
        }
    }
}

/// A running stub: its base URL (`http://127.0.0.1:PORT`) and how many connections it took.
pub struct HttpStub {
    pub base_url: String,
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl HttpStub {
    /// Serve until the test's runtime ends; `answer` gets each request's path (with query).
    pub async fn start(
        answer: impl Fn(&str) -> StubResponse + Send + Sync + 'static,
    ) -> std::io::Result<HttpStub> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&request).to_string();
                    let path = request.split_whitespace().nth(1).unwrap_or("/");
                    let response = answer(path);
                    let mut head = format!(
                        "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                        response.status,
                        response.body.len()
                    );
                    for (name, value) in &response.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&response.body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Ok(HttpStub {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            hits,
        })
    }
}
