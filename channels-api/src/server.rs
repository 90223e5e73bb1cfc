//! The server: accepts TCP connections, completes the WebSocket handshake on a routed path,
//! and runs each connection's loop in its own task.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, http};
use tokio_tungstenite::{WebSocketStream, accept_hdr_async_with_config};

use crate::context::ConnectionInfo;
use crate::database::Database;
use crate::error::{ApiError, Error};
use crate::limits::Limits;
use crate::router::Endpoint;

/// What every connection task shares.
struct Shared {
    endpoints: Vec<Endpoint>,
    db: Database,
    limits: Limits,
    websocket: WebSocketConfig,
}

/// A bound server. Made by [`Router::bind`](crate::Router::bind).
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(crate) fn new(
        listener: TcpListener,
        endpoints: Vec<Endpoint>,
        db: Database,
        limits: Limits,
    ) -> Self {
        let websocket = limits.websocket_config();
        let shared = Arc::new(Shared {
            endpoints,
            db,
            limits,
            websocket,
        });
        Self { listener, shared }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped.
    pub async fn run(self) -> Result<(), Error> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `shutdown` resolves; then stops accepting and closes every open
    /// connection with code 1001 (going away).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let (stop, stopped) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let shared = self.shared.clone();
                        tokio::spawn(connection(stream, peer, shared, stopped.clone()));
                    }
                    Err(error) => {
                        // Out of file descriptors, most often: wait for some to free up.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        tracing::info!("shutting down");
        let _ = stop.send(true);
        Ok(())
    }
}

/// Handshake, then the read-answer loop of one connection.
///
/// Requests on one connection are answered one at a time, in the order they arrive, so a
/// client's `create` is always visible to its next `retrieve`; pipelined requests wait in
/// the socket's buffer meanwhile. Connections do not wait for each other: each has its own
/// task, and database work runs on the blocking pool.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut routed = None;
    // The callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    let route = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let path = request.uri().path();
        match shared.endpoints.iter().position(|e| e.path == path) {
            Some(index) => {
                routed = Some(index);
                Ok(response)
            }
            None => {
                let mut refusal =
                    ErrorResponse::new(Some(format!("no WebSocket endpoint at {path}")));
                *refusal.status_mut() = http::StatusCode::NOT_FOUND;
                Err(refusal)
            }
        }
    };
    let handshake = accept_hdr_async_with_config(stream, route, Some(shared.websocket));
    let mut ws = match tokio::time::timeout(shared.limits.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "handshake refused");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
    };
    let Some(endpoint) = routed.and_then(|index| shared.endpoints.get(index)) else {
        return;
    };
    let info = ConnectionInfo {
        peer,
        path: endpoint.path.clone(),
    };
    tracing::debug!(%peer, path = %info.path, "connected");
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = stopped.changed() => {
                close(&mut ws, CloseCode::Away, "server shutting down").await;
                break;
            }
        };
        let mut out = String::with_capacity(256);
        match message {
            None => break,
            Some(Ok(Message::Text(text))) => {
                endpoint
                    .handle(text.as_str(), &shared.db, &info, &shared.limits, &mut out)
                    .await;
            }
            Some(Ok(Message::Binary(_))) => {
                let error = ApiError::bad_request(
                    "binary frames are not supported: send each request as a JSON text frame",
                );
                endpoint.format_error(&error, &mut out);
            }
            // Pings are answered by the WebSocket layer; a close is answered there too, and
            // the stream then ends.
            Some(Ok(_)) => continue,
            Some(Err(WsError::Capacity(error))) => {
                tracing::debug!(%peer, %error, "message over the size limit");
                close_after_overflow(&mut ws, &shared.limits).await;
                break;
            }
            Some(Err(WsError::Utf8(_))) => {
                close(&mut ws, CloseCode::Invalid, "text frame is not valid UTF-8").await;
                break;
            }
            Some(Err(error)) => {
                tracing::debug!(%peer, %error, "connection error");
                break;
            }
        }
        if ws.send(Message::text(out)).await.is_err() {
            break;
        }
    }
    tracing::debug!(%peer, "disconnected");
}

/// Closes with code 1009 after a message over the size limit. The rest of that message is
/// still on its way, and cannot be read as frames, so it is read as raw bytes and dropped
/// (for a bounded time and amount): closing a socket with unread data would reset it, and
/// the client might never see why.
async fn close_after_overflow(ws: &mut WebSocketStream<TcpStream>, limits: &Limits) {
    use tokio::io::AsyncReadExt;
    let frame = CloseFrame {
        code: CloseCode::Size,
        reason: "message too big".into(),
    };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    let budget = limits.max_message_size.saturating_mul(4);
    let drain = async {
        let mut buf = [0u8; 8192];
        let mut total = 0usize;
        while total < budget {
            match ws.get_mut().read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Sends a close frame, then reads until the client's close arrives (or a second passes),
/// so the close handshake completes.
async fn close(ws: &mut WebSocketStream<TcpStream>, code: CloseCode, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}
