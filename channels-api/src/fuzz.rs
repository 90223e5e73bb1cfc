//! Entry points for the fuzz targets in `fuzz/`: thin wrappers over the request parser,
//! the handshake parser and the connection loop, which are otherwise private. Not a public
//! API: nothing here is stable, and each wrapper only calls the code the server runs.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::context::ConnectionInfo;
use crate::database::Database;
use crate::error::Error;
use crate::handshake::{self, Head};
use crate::limits::Limits;
use crate::protocol::Request;
use crate::router::{Endpoint, Router};

/// Parses `text` as a request frame with the default limits, as the server does before
/// dispatch; returns whether it is a request with a well-formed `method`.
pub fn parse_request(text: &str) -> bool {
    match Request::parse(text, &Limits::default()) {
        Ok(request) => request.method().is_ok(),
        Err(_) => false,
    }
}

/// What the handshake parser made of a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadOutcome {
    /// No complete head (no blank line): the server would read more.
    Incomplete,
    /// A WebSocket upgrade request, with this many bytes after the head.
    Upgrade(usize),
    /// A plain HTTP request.
    Plain,
    /// Refused with this HTTP status.
    Refused(u16),
}

/// Parses `bytes` as the start of a connection: the request head up to its blank line, the
/// way the server's handshake reads it.
pub fn parse_head(bytes: &[u8]) -> HeadOutcome {
    let Some(end) = handshake::find(bytes, b"\r\n\r\n").map(|at| at + 4) else {
        return HeadOutcome::Incomplete;
    };
    if end > handshake::MAX_HEAD {
        return HeadOutcome::Refused(431);
    }
    match handshake::parse_head(bytes, end) {
        Ok(Head::Upgrade { rest, .. }) => HeadOutcome::Upgrade(rest.len()),
        Ok(Head::Plain { .. }) => HeadOutcome::Plain,
        Err(response) => HeadOutcome::Refused(response.status),
    }
}

/// A router's first WebSocket path, ready to take frames without a network.
pub struct Harness {
    endpoint: Endpoint,
    db: Database,
    limits: Limits,
    info: ConnectionInfo,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("path", &self.endpoint.path)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Builds `router` as [`Router::bind`] would, without binding, and keeps its first
    /// path.
    pub fn new(router: Router, db: Database) -> Result<Self, Error> {
        let (endpoints, limits, _gate, _live) = router.build()?;
        let endpoint = endpoints
            .into_iter()
            .next()
            .ok_or_else(|| Error::Config("the router has no paths".into()))?;
        let info = ConnectionInfo {
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            path: endpoint.path.clone(),
            user: None,
        };
        Ok(Self {
            endpoint,
            db,
            limits,
            info,
        })
    }

    /// Answers one text frame, as the connection loop does; returns the answer's text.
    pub async fn answer(&self, text: &str) -> String {
        let mut out = String::new();
        self.endpoint
            .handle(text, &self.db, &self.info, &self.limits, None, &mut out)
            .await;
        out
    }

    /// Runs the connection loop over an in-memory stream: `input` is everything the client
    /// sends after the handshake, then it closes its side. Returns what the server wrote.
    pub async fn serve(&self, input: &[u8]) -> Vec<u8> {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut from_server, mut to_server) = tokio::io::split(client);
        // Kept until the loop ends: a dropped sender would read as a shutdown.
        let (_running, stopped) = watch::channel(false);
        let served = crate::connection::Served {
            endpoint: &self.endpoint,
            info: &self.info,
            db: &self.db,
            limits: &self.limits,
            hub: None,
        };
        let serve = crate::connection::serve(server, Vec::new(), served, stopped);
        let send = async {
            let _ = to_server.write_all(input).await;
            let _ = to_server.shutdown().await;
        };
        let receive = async {
            let mut out = Vec::new();
            let _ = from_server.read_to_end(&mut out).await;
            out
        };
        let ((), (), out) = tokio::join!(serve, send, receive);
        out
    }
}
