//! The HTTP side of a connection: reads the request head, completes the WebSocket upgrade
//! on a routed path (RFC 6455, section 4.2), and answers plain HTTP requests (the debugger
//! page, refusals) itself.
//!
//! Reading the head here rather than inside the WebSocket library lets one port serve both
//! WebSockets and the debugger page, and hands the whole handshake request (headers,
//! cookies, query string) to the application.

use std::borrow::Cow;
use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::{self, HeaderMap, HeaderValue, Request};

/// The largest request head accepted, in bytes.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// The most headers accepted.
const MAX_HEADERS: usize = 64;

/// A plain HTTP response, written whole and followed by closing the connection.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'static [u8],
    pub(crate) extra_headers: Cow<'static, str>,
}

impl HttpResponse {
    /// A short plain-text answer.
    pub(crate) fn text(status: u16, body: &'static str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes(),
            extra_headers: Cow::Borrowed(""),
        }
    }

    /// A permanent redirect to `location`.
    pub(crate) fn redirect(location: &str) -> Self {
        Self {
            status: 308,
            content_type: "text/plain; charset=utf-8",
            body: b"moved\n",
            extra_headers: Cow::Owned(format!("Location: {location}\r\n")),
        }
    }
}

/// What the head of a request asks for.
#[derive(Debug)]
pub(crate) enum Head {
    /// A valid WebSocket upgrade request; `rest` holds any bytes read past the head.
    Upgrade { request: Request<()>, rest: Vec<u8> },
    /// Any other HTTP request.
    Plain { request: Request<()> },
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The peer closed or failed before sending a whole head.
    Io(io::Error),
    /// The head is malformed or too large: answer with this and close.
    Refuse(HttpResponse),
}

impl From<io::Error> for HeadError {
    fn from(error: io::Error) -> Self {
        HeadError::Io(error)
    }
}

/// Reads and parses one request head.
pub(crate) async fn read_head(stream: &mut TcpStream) -> Result<Head, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        let before = buf.len();
        if buf.capacity() - before < 512 {
            buf.reserve(1024);
        }
        let n = stream.read_buf(&mut buf).await?;
        if n == 0 {
            return Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        // Look for the blank line from a little before the new bytes.
        let from = before.saturating_sub(3);
        let end = find(&buf[from..], b"\r\n\r\n").map(|at| from + at + 4);
        if end.unwrap_or(buf.len()) > MAX_HEAD {
            return Err(HeadError::Refuse(HttpResponse::text(
                431,
                "request header fields too large\n",
            )));
        }
        if let Some(end) = end {
            break end;
        }
    };
    parse_head(&buf, end).map_err(HeadError::Refuse)
}

/// Parses the request head `buf[..end]` (`end` is just past its blank line); any bytes
/// after it are the first bytes of the WebSocket stream.
pub(crate) fn parse_head(buf: &[u8], end: usize) -> Result<Head, HttpResponse> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) | Err(_) => {
            return Err(HttpResponse::text(400, "bad request\n"));
        }
    }
    let request = to_request(&parsed).ok_or_else(|| HttpResponse::text(400, "bad request\n"))?;
    if is_upgrade(request.headers()) {
        if request.method() != http::Method::GET || parsed.version != Some(1) {
            return Err(HttpResponse::text(
                400,
                "a WebSocket upgrade is a GET request over HTTP/1.1\n",
            ));
        }
        if request.headers().get("sec-websocket-version") != Some(&HeaderValue::from_static("13")) {
            return Err(HttpResponse {
                status: 426,
                content_type: "text/plain; charset=utf-8",
                body: b"unsupported WebSocket version: this server speaks version 13\n",
                extra_headers: Cow::Borrowed("Sec-WebSocket-Version: 13\r\n"),
            });
        }
        if request.headers().get("sec-websocket-key").is_none() {
            return Err(HttpResponse::text(400, "missing Sec-WebSocket-Key\n"));
        }
        let rest = buf[end..].to_vec();
        Ok(Head::Upgrade { request, rest })
    } else {
        Ok(Head::Plain { request })
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn to_request(parsed: &httparse::Request<'_, '_>) -> Option<Request<()>> {
    let mut builder = Request::builder()
        .method(parsed.method?)
        .uri(parsed.path?)
        .version(http::Version::HTTP_11);
    for header in parsed.headers.iter() {
        builder = builder.header(header.name, header.value);
    }
    builder.body(()).ok()
}

/// Whether the head asks for a WebSocket: `Upgrade: websocket` and `Connection: upgrade`.
fn is_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name: &str, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    has_token("upgrade", "websocket") && has_token("connection", "upgrade")
}

/// Writes the `101 Switching Protocols` answer to an upgrade request.
pub(crate) async fn accept(stream: &mut TcpStream, request: &Request<()>) -> io::Result<()> {
    let key = request
        .headers()
        .get("sec-websocket-key")
        .map(|v| derive_accept_key(v.as_bytes()))
        .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {key}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await
}

/// Writes a whole plain response; the caller closes the connection after it. A `HEAD`
/// request gets the headers only.
pub(crate) async fn respond(
    stream: &mut TcpStream,
    response: &HttpResponse,
    head_only: bool,
) -> io::Result<()> {
    let reason = http::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n{}Connection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len(),
        response.extra_headers,
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(response.body).await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_upgrades() {
        let mut headers = HeaderMap::new();
        headers.insert("upgrade", HeaderValue::from_static("WebSocket"));
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert!(is_upgrade(&headers));
        headers.insert("connection", HeaderValue::from_static("keep-alive"));
        assert!(!is_upgrade(&headers));
    }

    #[test]
    fn finds_the_end_of_the_head() {
        assert_eq!(find(b"GET / HTTP/1.1\r\n\r\nrest", b"\r\n\r\n"), Some(14));
        assert_eq!(find(b"GET / HTTP/1.1\r\n", b"\r\n\r\n"), None);
    }
}
