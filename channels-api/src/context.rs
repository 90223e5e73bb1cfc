//! What a method sees of its connection, its database and its request.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::User;
use crate::database::Database;
use crate::limits::Limits;
use crate::live::LiveConnection;
use crate::protocol::Formatter;

/// Facts about one WebSocket connection, fixed at the handshake.
#[derive(Clone)]
pub struct ConnectionInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) path: String,
    pub(crate) user: Option<User>,
}

impl fmt::Debug for ConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("peer", &self.peer)
            .field("path", &self.path)
            .field("authenticated", &self.user.is_some())
            .finish()
    }
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

    /// The user the router's authenticator returned for this connection, if it is of
    /// type `U`.
    pub fn user<U: Send + Sync + 'static>(&self) -> Option<&U> {
        self.user.as_deref()?.downcast_ref()
    }
}

/// The context of one request: the connection it came on, the database, and which
/// resource and method it addressed. Methods receive it by reference.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub(crate) db: &'a Database,
    pub(crate) connection: &'a ConnectionInfo,
    pub(crate) resource: &'static str,
    pub(crate) method: &'static str,
    pub(crate) limits: &'a Limits,
    /// The resource's formatter, which its events use too.
    pub(crate) formatter: &'a Arc<dyn Formatter>,
    /// The connection's live data, when the server runs it.
    pub(crate) live: Option<&'a LiveConnection>,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("connection", self.connection)
            .field("resource", &self.resource)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OwnedContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.context().fmt(f)
    }
}

impl<'a> Context<'a> {
    /// The database; run queries with [`Database::read`], [`Database::write`] or
    /// [`Database::transaction`].
    pub fn db(&self) -> &'a Database {
        self.db
    }

    /// The connection the request came on.
    pub fn connection(&self) -> &'a ConnectionInfo {
        self.connection
    }

    /// The connection's authenticated user, of the type the router's authenticator
    /// returns; `None` for an anonymous connection.
    pub fn user<U: Send + Sync + 'static>(&self) -> Option<&'a U> {
        self.connection.user()
    }

    /// Whether the connection is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.connection.user.is_some()
    }

    /// The resource the request addressed (`question` in `question.create`).
    pub fn resource(&self) -> &'static str {
        self.resource
    }

    /// The method the request addressed (`create` in `question.create`).
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The limits the server applies to this connection.
    pub fn limits(&self) -> &'a Limits {
        self.limits
    }
}

/// A [`Context`] that owns its parts, to carry into a closure that runs on a database
/// thread (the object permission check inside a transaction).
#[derive(Clone)]
pub(crate) struct OwnedContext {
    db: Database,
    connection: ConnectionInfo,
    resource: &'static str,
    method: &'static str,
    limits: Limits,
    formatter: Arc<dyn Formatter>,
}

impl OwnedContext {
    /// A copy of `ctx`'s parts.
    pub(crate) fn new(ctx: &Context<'_>) -> Self {
        Self {
            db: ctx.db.clone(),
            connection: ctx.connection.clone(),
            resource: ctx.resource,
            method: ctx.method,
            limits: ctx.limits.clone(),
            formatter: ctx.formatter.clone(),
        }
    }

    /// The context, borrowed from the parts.
    pub(crate) fn context(&self) -> Context<'_> {
        Context {
            db: &self.db,
            connection: &self.connection,
            resource: self.resource,
            method: self.method,
            limits: &self.limits,
            formatter: &self.formatter,
            live: None,
        }
    }
}
