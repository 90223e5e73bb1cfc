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
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, http};

use crate::auth::User;
use crate::context::ConnectionInfo;
use crate::database::Database;
use crate::debugger;
use crate::error::{ApiError, Error};
use crate::handshake::{self, Head, HeadError, HttpResponse};
use crate::limits::Limits;
use crate::router::{Endpoint, Gate};

/// What every connection task shares.
struct Shared {
    endpoints: Vec<Endpoint>,
    db: Database,
    limits: Limits,
    websocket: WebSocketConfig,
    gate: Gate,
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
        gate: Gate,
    ) -> Self {
        let websocket = limits.websocket_config();
        let shared = Arc::new(Shared {
            endpoints,
            db,
            limits,
            websocket,
            gate,
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
/// task, and database work runs on the database threads (see [`Database`]).
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let limit = shared.limits.handshake_timeout;
    let routed = match tokio::time::timeout(limit, route(&mut stream, &shared)).await {
        Ok(Ok(routed)) => routed,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
    };
    let Some((endpoint, rest, user)) = routed else {
        return;
    };
    let ws =
        WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(shared.websocket))
            .await;
    let info = ConnectionInfo {
        peer,
        path: endpoint.path.clone(),
        user,
    };
    tracing::debug!(%peer, path = %info.path, "connected");
    serve(ws, endpoint, &info, &shared, stopped).await;
    tracing::debug!(%peer, "disconnected");
}

/// An open connection's endpoint, the bytes read past the handshake, and its user.
type Routed<'s> = (&'s Endpoint, Vec<u8>, Option<User>);

/// Reads the request head and either completes the upgrade on a routed path (after the
/// origin check and the authenticator), or answers over plain HTTP.
async fn route<'s>(
    stream: &mut TcpStream,
    shared: &'s Shared,
) -> std::io::Result<Option<Routed<'s>>> {
    let head = match handshake::read_head(stream).await {
        Ok(head) => head,
        Err(HeadError::Io(error)) => return Err(error),
        Err(HeadError::Refuse(response)) => {
            handshake::respond(stream, &response, false).await?;
            return Ok(None);
        }
    };
    let (request, rest) = match head {
        Head::Upgrade { request, rest } => (request, Some(rest)),
        Head::Plain { request } => (request, None),
    };
    let path = request.uri().path();
    let endpoint = shared.endpoints.iter().find(|e| e.path == path);
    let response = match (endpoint, rest) {
        (Some(endpoint), Some(rest)) => {
            let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
            if !shared.gate.origins.allow(header("origin"), header("host")) {
                tracing::debug!(origin = ?header("origin"), "origin refused");
                let refusal = HttpResponse::text(403, "origin not allowed\n");
                handshake::respond(stream, &refusal, false).await?;
                return Ok(None);
            }
            let user = match &shared.gate.authenticate {
                None => None,
                Some(authenticate) => {
                    match authenticate(request.clone(), shared.db.clone()).await {
                        Ok(user) => user,
                        Err(error) => {
                            tracing::debug!(%error, "authentication refused");
                            let refusal = HttpResponse::text(401, "authentication failed\n");
                            handshake::respond(stream, &refusal, false).await?;
                            return Ok(None);
                        }
                    }
                }
            };
            handshake::accept(stream, &request).await?;
            return Ok(Some((endpoint, rest, user)));
        }
        (Some(_), None) => HttpResponse::text(426, "this path speaks WebSocket\n"),
        (None, _) => {
            let page = shared
                .gate
                .debugger
                .as_deref()
                .and_then(|base| debugger::asset(base, path));
            match page {
                Some(page)
                    if matches!(*request.method(), http::Method::GET | http::Method::HEAD) =>
                {
                    page
                }
                Some(_) => HttpResponse::text(405, "method not allowed\n"),
                None => HttpResponse::text(404, "not found\n"),
            }
        }
    };
    let head_only = request.method() == http::Method::HEAD;
    handshake::respond(stream, &response, head_only).await?;
    Ok(None)
}

/// The read-answer loop of an open WebSocket.
async fn serve(
    mut ws: WebSocketStream<TcpStream>,
    endpoint: &Endpoint,
    info: &ConnectionInfo,
    shared: &Shared,
    mut stopped: watch::Receiver<bool>,
) {
    let peer = info.peer;
    // Registered once for the connection's life: polling a fresh `changed()` per message
    // would take the channel's shared lock twice per request, across all connections.
    let shutdown = stopped.changed();
    tokio::pin!(shutdown);
    loop {
        let message = tokio::select! {
            biased;
            message = ws.next() => message,
            _ = &mut shutdown => {
                close(&mut ws, CloseCode::Away, "server shutting down").await;
                break;
            }
        };
        let mut out = String::with_capacity(256);
        match message {
            None => break,
            Some(Ok(Message::Text(text))) => {
                endpoint
                    .handle(text.as_str(), &shared.db, info, &shared.limits, &mut out)
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
        // On the heap: a buffer in the future itself would enlarge every connection's task.
        let mut buf = vec![0u8; 8192];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every open connection holds its task's future: it must stay small, or idle
    /// connections grow expensive (a buffer held in the future once cost 8 KiB each).
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        fn size_of<F: Future>(_: &F) -> usize {
            std::mem::size_of::<F>()
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let limits = Limits::default();
        let shared = Arc::new(Shared {
            endpoints: Vec::new(),
            db: Database::connect("sqlite::memory:").await.unwrap(),
            websocket: limits.websocket_config(),
            limits,
            gate: Gate {
                debugger: None,
                authenticate: None,
                origins: crate::router::Origins::Any,
            },
        });
        let (_stop, stopped) = watch::channel(false);
        let task = connection(stream, peer, shared, stopped);
        let size = size_of(&task);
        assert!(size < 4096, "a connection's future takes {size} bytes");
    }
}
