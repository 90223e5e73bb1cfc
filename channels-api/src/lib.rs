//! A REST-like streaming API over WebSockets for Diesel models.
//!
//! Annotate a model with `#[derive(ModelConsumer)]` and it answers `create`, `retrieve`,
//! `update`, `patch`, `list` and `delete` over one WebSocket, addressed as
//! `resource.method`; add methods of your own with `#[consumer_method]`. The methods a
//! resource offers are checked at compile time, and the runtime drives the socket loop,
//! the dispatch, the pagination and the database executor.
//!
//! ```no_run
//! use channels_api::prelude::*;
//!
//! mod schema {
//!     diesel::table! {
//!         questions (id) {
//!             id -> Integer,
//!             question_text -> Text,
//!         }
//!     }
//! }
//!
//! #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
//! #[diesel(table_name = schema::questions)]
//! #[consumer(resource = "question", methods(create, retrieve, update, list, delete, echo))]
//! pub struct Question {
//!     #[consumer(read_only)]
//!     pub id: i32,
//!     pub question_text: String,
//! }
//!
//! impl Question {
//!     /// `question.echo` answers with what it was sent.
//!     #[consumer_method]
//!     async fn echo(_ctx: &Context<'_>, args: serde_json::Value) -> Result<serde_json::Value, ApiError> {
//!         Ok(args)
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), channels_api::Error> {
//!     let db = Database::connect_from_env("sqlite://polls.sqlite3").await?;
//!     Router::new().consumer::<Question>().serve("127.0.0.1:8000", db).await
//! }
//! ```
//!
//! # Modules
//!
//! - [`consumer`]: the [`Consumer`] and [`Model`] traits the derive implements and the
//!   [`Builtin`] methods; their code is in the private `builtin` module (create,
//!   retrieve, update, patch, delete, list) and in [`live`] (subscribe, unsubscribe).
//! - [`protocol`]: requests, replies ([`Reply`]) and the [`Formatter`] of responses.
//! - [`query`]: filters and their [`Lookup`]s, ordering, and the [`Scope`] a consumer
//!   keeps a connection in. Inside, privately: `compare` (what each lookup means, in SQL
//!   and in a live query's match, for the derive's filters).
//! - [`auth`]: [`Permission`]s and the authenticator's user.
//! - [`context`]: what a method sees of its request ([`Context`]).
//! - [`database`]: SQLite and PostgreSQL, queries run on database threads that own their
//!   connections ([`Database`], [`DatabaseOptions`]).
//! - [`router`] and [`server`]: paths, the handshake, the accept loop and shutdown.
//!   Inside, privately: `handshake` (the HTTP head and upgrade), `connection` (one
//!   socket's loop: frames, requests in order, queued events, close codes) and
//!   `dispatch` (one request to its resource, method and answer).
//! - [`limits`]: what one connection may cost ([`Limits`]).
//! - [`live`]: `subscribe`, `unsubscribe` and the events of live data: the change log,
//!   its guarantees, and [`LiveOptions`].
//! - [`schema`]: what `api.schema` answers.
//! - [`error`]: the server's [`Error`] and the client's [`ApiError`].
//! - `validation` (feature `validator`): field rules of the `validator` crate.
//!
//! # Features
//!
//! - `sqlite` (on by default): the SQLite backend, with SQLite itself compiled in
//!   (bundled); nothing to install.
//! - `postgres` (on by default): the PostgreSQL backend; building links `libpq`.
//! - `validator`: `#[validate(...)]` field rules on models, checked on `create`, `update`
//!   and `patch` (off by default).
//!
//! At least one backend is needed. An application of one backend turns the default
//! features off and names it, `default-features = false, features = ["sqlite"]`: then
//! neither this crate, Diesel nor the code the derive generates holds the other backend's
//! code, and a SQLite-only binary does not link `libpq`. [`Database::connect`] refuses a
//! URL of a backend the build leaves out, naming the feature to enable.

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "channels-api needs a database backend: enable its `sqlite` or `postgres` feature (or both)"
);

pub mod auth;
pub mod consumer;
pub mod context;
pub mod database;
pub mod error;
pub mod limits;
pub mod live;
pub mod protocol;
pub mod query;
pub mod router;
pub mod schema;
pub mod server;
#[cfg(feature = "validator")]
pub mod validation;

mod builtin;
mod compare;
mod connection;
mod debugger;
mod dispatch;
mod handshake;

pub use auth::{
    AllowAny, AnyOf, Check, CheckObject, IsAuthenticated, IsAuthenticatedOrReadOnly, Permission,
    ReadOnly,
};
pub use channels_api_derive::{ModelConsumer, consumer_method};
pub use consumer::{Builtin, Consumer, CursorPage, ListOptions, Model, Page};
pub use context::{ConnectionInfo, Context};
pub use database::{Backend, Database, DatabaseOptions, DbConnection, DbError};
pub use error::{ApiError, Error, Errors, Result};
pub use limits::Limits;
pub use live::LiveOptions;
pub use protocol::{
    BareFormatter, Body, DefaultFormatter, Event, Formatter, Payload, Reply, Response,
};
pub use query::{Condition, Field, FieldValue, Lookup, Scope};
pub use router::Router;
pub use schema::{FieldSchema, FilterSchema, ListSchema, MethodSchema, ResourceSchema};
pub use server::Server;

pub use chrono;
pub use diesel;
pub use diesel_migrations;
pub use serde_json;
pub use tokio_tungstenite::tungstenite;

/// Everything a model file needs: `use channels_api::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AllowAny, AnyOf, ApiError, BareFormatter, Check, CheckObject, Consumer, Context, Database,
        DefaultFormatter, Formatter, IsAuthenticated, IsAuthenticatedOrReadOnly, Model,
        ModelConsumer, Permission, ReadOnly, Reply, Router, Scope, consumer_method,
    };
    pub use diesel::prelude::{Identifiable, Insertable, Queryable, Selectable};
    pub use serde::{Deserialize, Serialize};
}

/// What the fuzz targets in `fuzz/` reach: the parsers and the connection loop; not a
/// public API.
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

/// What the derive's output reaches; not a public API.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
