//! What hostile clients cost a server's memory, framework and baseline side by side:
//! connections that each sent one large message and then sit idle, one client that
//! pipelines requests and never reads an answer, and half-open handshakes (slowloris)
//! while a normal client is served.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::load;
use crate::process::ServerProcess;

/// Connections that send one large message each.
pub(crate) const LARGE_CONNECTIONS: usize = 100;

/// The size of each large message, under the 1 MiB message limit of both servers.
pub(crate) const LARGE_BYTES: usize = 900 * 1024;

/// Requests the pipelining client tries to send without reading.
pub(crate) const PIPELINED: usize = 100_000;

/// Half-open handshakes held at once.
pub(crate) const HALF_OPEN: usize = 2_000;

/// The figures of one server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HostileStats {
    /// RSS growth per connection with [`LARGE_CONNECTIONS`] idle connections that each
    /// sent one [`LARGE_BYTES`] message and read its answer.
    pub(crate) after_large_bytes_per_connection: f64,
    /// Bytes of requests the server accepted from a client that never reads, before its
    /// socket stopped taking more (out of [`PIPELINED`] requests).
    pub(crate) pipelined_bytes_accepted: u64,
    /// RSS growth while that client holds its unread answers, in bytes.
    pub(crate) pipelined_rss_growth_bytes: i64,
    /// RSS growth per half-open handshake, [`HALF_OPEN`] of them held.
    pub(crate) half_open_bytes_per_connection: f64,
    /// How long a normal client's connect and first answer took meanwhile, in ms.
    pub(crate) served_during_half_open_ms: f64,
}

/// Runs the three scenarios against a fresh server, one after the other.
pub(crate) async fn measure(server: &mut ServerProcess) -> Result<HostileStats, String> {
    let addr = server.addr();
    let base = settled_rss(server).await?;

    // Large messages, then idle.
    let pad = "x".repeat(LARGE_BYTES);
    let request = format!(r#"{{"method":"bench.noop","request_id":1,"pad":"{pad}"}}"#);
    let mut idle = Vec::with_capacity(LARGE_CONNECTIONS);
    for _ in 0..LARGE_CONNECTIONS {
        let mut ws = load::connect(addr, None).await?;
        ws.send(Message::text(request.as_str()))
            .await
            .map_err(|e| format!("cannot send a large message: {e}"))?;
        load::next_text(&mut ws).await?;
        idle.push(ws);
    }
    drop(pad);
    let with_idle = settled_rss(server).await?;
    let after_large = (with_idle as f64 - base as f64) / LARGE_CONNECTIONS as f64;
    drop(idle);
    let base = settled_rss(server).await?;

    // A client that pipelines and never reads.
    let mut stream = raw_upgrade(addr).await?;
    let frame = client_frame(br#"{"method":"bench.noop","request_id":1}"#);
    let mut accepted = 0u64;
    let writing = async {
        for _ in 0..PIPELINED {
            stream.write_all(&frame).await?;
            accepted += frame.len() as u64;
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), writing).await;
    let holding = settled_rss(server).await?;
    drop(stream);
    let pipelined_growth = holding as i64 - base as i64;
    let base = settled_rss(server).await?;

    // Half-open handshakes while a normal client is served.
    let mut half_open = Vec::with_capacity(HALF_OPEN);
    for _ in 0..HALF_OPEN {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websock")
            .await
            .map_err(|e| format!("cannot write: {e}"))?;
        half_open.push(stream);
    }
    let started = Instant::now();
    let mut ws = load::connect(addr, None).await?;
    ws.send(Message::text(r#"{"method":"bench.noop","request_id":1}"#))
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    load::next_text(&mut ws).await?;
    let served_ms = started.elapsed().as_secs_f64() * 1e3;
    let with_half_open = settled_rss(server).await?;
    drop(ws);
    drop(half_open);
    Ok(HostileStats {
        after_large_bytes_per_connection: after_large,
        pipelined_bytes_accepted: accepted,
        pipelined_rss_growth_bytes: pipelined_growth,
        half_open_bytes_per_connection: (with_half_open as f64 - base as f64) / HALF_OPEN as f64,
        served_during_half_open_ms: served_ms,
    })
}

/// The server's RSS once it stops moving (or after 10 s).
async fn settled_rss(server: &mut ServerProcess) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = server.rss()?;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss = server.rss()?;
        if rss.abs_diff(last) <= 64 * 1024 || Instant::now() >= deadline {
            return Ok(rss);
        }
        last = rss;
    }
}

/// A TCP stream upgraded to a WebSocket by hand, for writing frames with no library
/// buffering in between.
async fn raw_upgrade(addr: std::net::SocketAddr) -> Result<TcpStream, String> {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let head = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("cannot write: {e}"))?;
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        let n = stream
            .read(&mut byte)
            .await
            .map_err(|e| format!("cannot read the handshake: {e}"))?;
        if n == 0 {
            return Err("the server closed during the handshake".into());
        }
        answer.push(byte[0]);
    }
    if !answer.starts_with(b"HTTP/1.1 101") {
        return Err(format!(
            "not upgraded: {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    Ok(stream)
}

/// One masked text frame.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_masked_text() {
        let frame = client_frame(b"ab");
        assert_eq!(&frame[..2], &[0x81, 0x82]);
        assert_eq!(frame[6] ^ frame[2], b'a');
        assert_eq!(frame[7] ^ frame[3], b'b');
    }
}
