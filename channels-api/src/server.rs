//! The server: accepts TCP connections, completes the WebSocket handshake on a routed path,
//! and runs each connection's loop in its own task.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::http;

use crate::auth::User;
use crate::connection;
use crate::context::ConnectionInfo;
use crate::database::Database;
use crate::debugger;
use crate::error::Error;
use crate::handshake::{self, Head, HeadError, HttpResponse};
use crate::limits::Limits;
use crate::live::Hub;
use crate::router::{Endpoint, Gate, Live};

/// What every connection task shares.
struct Shared {
    endpoints: Vec<Endpoint>,
    db: Database,
    limits: Limits,
    gate: Gate,
    /// Live data, when a resource offers `subscribe`.
    hub: Option<Hub>,
}

/// A bound server. Made by [`Router::bind`](crate::Router::bind).
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    /// Stops the live-data hub when the server stops (or is dropped).
    _hub_stop: watch::Sender<bool>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(crate) async fn new(
        listener: TcpListener,
        endpoints: Vec<Endpoint>,
        db: Database,
        limits: Limits,
        gate: Gate,
        live: Live,
    ) -> Result<Self, Error> {
        let (hub_stop, hub_stopped) = watch::channel(false);
        let hub = if live.tables.is_empty() {
            None
        } else {
            let tables: Vec<&str> = live.tables.iter().map(|t| t.table).collect();
            let hub = Hub::start(db.clone(), live.tables, live.options, hub_stopped)
                .await
                .map_err(|error| {
                    Error::Config(format!(
                        "live data could not install its change log on {tables:?}: {error}"
                    ))
                })?;
            Some(hub)
        };
        let shared = Arc::new(Shared {
            endpoints,
            db,
            limits,
            gate,
            hub,
        });
        Ok(Self {
            listener,
            shared,
            _hub_stop: hub_stop,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped.
    pub async fn run(self) -> Result<(), Error> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `shutdown` resolves. Then it stops accepting, lets each connection
    /// finish the request it is answering, closes every connection with code 1001 (going
    /// away), and returns once they are all closed or [`Limits::shutdown_timeout`] has
    /// passed.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let (stop, stopped) = watch::channel(false);
        // Every connection task holds a sender; when the last one ends, `recv` says so.
        let (open, mut all_closed) = mpsc::channel::<()>(1);
        let slots = Arc::new(Semaphore::new(self.shared.limits.max_connections));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                        Ok(slot) => {
                            let shared = self.shared.clone();
                            let (stopped, open) = (stopped.clone(), open.clone());
                            tokio::spawn(async move {
                                connection(stream, peer, shared, stopped).await;
                                drop((slot, open));
                            });
                        }
                        Err(_) => {
                            tracing::warn!(%peer, "connection limit reached: refused");
                            tokio::spawn(refuse_busy(stream));
                        }
                    },
                    Err(error) => {
                        // Out of file descriptors, most often: wait for some to free up.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        let open_now = self.shared.limits.max_connections - slots.available_permits();
        tracing::info!(connections = open_now, "shutting down");
        let _ = stop.send(true);
        drop(open);
        let grace = self.shared.limits.shutdown_timeout;
        if tokio::time::timeout(grace, all_closed.recv())
            .await
            .is_err()
        {
            let left = self.shared.limits.max_connections - slots.available_permits();
            tracing::warn!(
                connections = left,
                "shutdown grace period over; leaving anyway"
            );
        }
        Ok(())
    }
}

/// Answers a client over the connection limit with HTTP 503 at once, without reading its
/// request, and closes.
async fn refuse_busy(mut stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\
        Content-Type: text/plain\r\nContent-Length: 21\r\nConnection: close\r\n\r\n\
        too many connections\n";
    let answer = async {
        let _ = stream.write_all(BUSY).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

/// Handshake, then the read-answer loop of one connection (see [`connection::serve`]).
/// Connections do not wait for each other: each has its own task, and database work runs
/// on the database threads (see [`Database`]).
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
    let info = ConnectionInfo {
        peer,
        path: endpoint.path.clone(),
        user,
    };
    tracing::debug!(%peer, path = %info.path, "connected");
    let served = connection::Served {
        endpoint,
        info: &info,
        db: &shared.db,
        limits: &shared.limits,
        hub: shared.hub.as_ref(),
    };
    connection::serve(stream, rest, served, stopped).await;
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
    let host = request.headers().get("host").and_then(|v| v.to_str().ok());
    if !shared.gate.serves_host(host) {
        tracing::debug!(?host, "host refused");
        let refusal = HttpResponse::text(421, "this server does not serve that host\n");
        handshake::respond(stream, &refusal, false).await?;
        return Ok(None);
    }
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
                            // The authenticator's own status: 401 or 403 for the client,
                            // 503 when it could not reach the database.
                            let refusal = match error.status() {
                                403 => HttpResponse::text(403, "forbidden\n"),
                                503 => HttpResponse::text(503, "service unavailable\n"),
                                500 => HttpResponse::text(500, "internal server error\n"),
                                _ => HttpResponse::text(401, "authentication failed\n"),
                            };
                            tracing::debug!(%error, "handshake refused by the authenticator");
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
            limits,
            gate: Gate {
                debugger: None,
                authenticate: None,
                origins: crate::router::Origins::Any,
                hosts: None,
            },
            hub: None,
        });
        let (_stop, stopped) = watch::channel(false);
        let task = connection(stream, peer, shared, stopped);
        let size = size_of(&task);
        assert!(size < 4096, "a connection's future takes {size} bytes");
    }
}
