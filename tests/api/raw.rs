//! Raw TCP to the test server, for what no HTTP client will send: stalled and partial heads,
//! bodies that stop, oversized heads, malformed request lines.

use std::time::Duration;

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::{Instant, timeout},
};

/// Every wait in these tests is bounded by this, so a broken server fails a test, never hangs it.
pub const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the error envelope with `code`, its request id equal to `X-Request-Id`.
    pub fn assert_envelope(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        let body = self.json();
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        let id = self.header("x-request-id").expect("X-Request-Id");
        assert_eq!(body["error"]["request_id"], id, "{body}");
    }
}

pub async fn connect(address: &str) -> TcpStream {
    TcpStream::connect(address).await.expect("connect")
}

/// Sends `request` on a new connection and reads one response.
pub async fn exchange(address: &str, request: &[u8]) -> RawResponse {
    let mut stream = connect(address).await;
    stream.write_all(request).await.expect("send");
    read_response(&mut stream).await.expect("a response")
}

/// Reads one response (`Content-Length` framed, or up to the end of the connection).
pub async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut buffer = Vec::new();
    let read = async {
        loop {
            if let Some(response) = parse(&buffer) {
                return Some(response);
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return parse_until_eof(&buffer),
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    timeout(PATIENCE, read)
        .await
        .expect("response within PATIENCE")
}

fn parse(buffer: &[u8]) -> Option<RawResponse> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buffer[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")?
        .1
        .parse()
        .ok()?;
    let body = buffer.get(end..end + length)?.to_vec();
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

fn parse_until_eof(buffer: &[u8]) -> Option<RawResponse> {
    parse(buffer).or_else(|| {
        let mut with_length = buffer.to_vec();
        let end = with_length.windows(4).position(|w| w == b"\r\n\r\n")?;
        let body_len = with_length.len() - end - 4;
        let header = format!("\r\ncontent-length: {body_len}");
        with_length.splice(end..end, header.bytes());
        parse(&with_length)
    })
}

/// Waits until the server closes `stream` (end of file or reset), discarding anything it sends,
/// and returns how long that took; `None` if it is still open after `PATIENCE`.
pub async fn time_to_close(stream: &mut TcpStream) -> Option<Duration> {
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    timeout(PATIENCE, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}
