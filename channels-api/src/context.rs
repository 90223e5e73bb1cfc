//! What a method sees of its connection, its database and its request.

use std::net::SocketAddr;

use crate::database::Database;

/// Facts about one WebSocket connection, fixed at the handshake.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) path: String,
}

impl ConnectionInfo {
    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The path the client connected to (`/` by default).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The context of one request: the connection it came on, the database, and which
/// resource and method it addressed. Methods receive it by reference.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub(crate) db: &'a Database,
    pub(crate) connection: &'a ConnectionInfo,
    pub(crate) resource: &'static str,
    pub(crate) method: &'static str,
}

impl<'a> Context<'a> {
    /// The database pool; run queries with [`Database::run`].
    pub fn db(&self) -> &'a Database {
        self.db
    }

    /// The connection the request came on.
    pub fn connection(&self) -> &'a ConnectionInfo {
        self.connection
    }

    /// The resource the request addressed (`question` in `question.create`).
    pub fn resource(&self) -> &'static str {
        self.resource
    }

    /// The method the request addressed (`create` in `question.create`).
    pub fn method(&self) -> &'static str {
        self.method
    }
}
