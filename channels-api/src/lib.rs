//! A REST-like streaming API over WebSockets for Diesel models.
//!
//! Annotate a model with `#[derive(ModelConsumer)]` and it answers `create`, `retrieve`,
//! `update`, `patch`, `list` and `delete` over one WebSocket, addressed as
//! `resource.method`; add methods of your own with `#[consumer_method]`. The methods a
//! resource offers are checked at compile time, and the runtime drives the socket loop,
//! the dispatch, the pagination and the database pool.
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
//! - [`consumer`]: the [`Consumer`] and [`Model`] traits the derive implements, and the
//!   built-in methods.
//! - [`protocol`]: requests, replies and the [`Formatter`] of responses.
//! - [`database`]: the connection pool over SQLite and PostgreSQL.
//! - [`router`] and [`server`]: paths, the accept loop and each connection's loop.
//! - [`limits`]: what one connection may cost.
//! - [`error`]: the server's [`Error`] and the client's [`ApiError`].

pub mod auth;
pub mod consumer;
pub mod context;
pub mod database;
pub mod error;
pub mod limits;
pub mod protocol;
pub mod query;
pub mod router;
pub mod schema;
pub mod server;
#[cfg(feature = "validator")]
pub mod validation;

mod debugger;
mod handshake;

pub use auth::{
    AllowAny, AnyOf, Check, CheckObject, IsAuthenticated, IsAuthenticatedOrReadOnly, Permission,
    ReadOnly,
};
pub use channels_api_derive::{ModelConsumer, consumer_method};
pub use consumer::{Call, Consumer, CursorPage, ListOptions, Model, Outcome, Page};
pub use context::{ConnectionInfo, Context};
pub use database::{Backend, Database, DatabaseOptions, DbConnection, DbError};
pub use error::{ApiError, Error, Errors, Result};
pub use limits::Limits;
pub use protocol::{BareFormatter, Body, DefaultFormatter, Formatter, Payload, Reply, Response};
pub use query::{Lookup, Scope};
pub use router::Router;
pub use schema::{FieldSchema, MethodSchema, ResourceSchema};
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
        ModelConsumer, Permission, ReadOnly, Router, Scope, consumer_method,
    };
    pub use diesel::prelude::{Identifiable, Insertable, Queryable, Selectable};
    pub use serde::{Deserialize, Serialize};
}

/// What the derive's output reaches; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::auth::Permission;
    pub use crate::consumer::{Call, Consumer, ListOptions, MethodFuture, Model, Outcome, builtin};
    pub use crate::context::Context;
    pub use crate::database::DbConnection;
    pub use crate::error::{ApiError, Errors};
    pub use crate::formatter_arc;
    pub use crate::protocol::{Formatter, Payload, REQUIRED, Reply, field_value};
    pub use crate::query::{
        FilterError, Filters, ListQuery, Lookup, OrderKey, Scope, contains_pattern, filter_value,
    };
    #[cfg(feature = "validator")]
    pub use crate::validation::validate_fields;

    diesel::define_sql_function! {
        /// SQLite's `instr`: where `needle` first occurs in `haystack`, from 1; 0 if nowhere.
        fn instr(haystack: diesel::sql_types::Nullable<diesel::sql_types::Text>, needle: diesel::sql_types::Text) -> diesel::sql_types::Nullable<diesel::sql_types::Integer>;
    }

    /// Reads the connection's scope from the function named in `queryset = ...`.
    pub fn scope_filters<F: Filters>(
        scope: Result<Scope, ApiError>,
        resource: &str,
    ) -> Result<Vec<F>, ApiError> {
        scope?.to_filters(resource)
    }
    pub use crate::schema::{FieldSchema, MethodSchema, ResourceSchema};
    pub use diesel;
    pub use diesel::QueryResult;
    pub use serde;
    pub use serde_json::value::RawValue;
    pub use std::boxed::Box;
    pub use std::future::Future;
    pub use std::option::Option;
    pub use std::result::Result;
    pub use std::sync::Arc;
    pub use std::vec::Vec;

    /// What a consumer method may return: `Result<T, E>` with `T: Serialize` and an error
    /// that converts into [`ApiError`].
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a valid return type for a consumer method",
        note = "a consumer method returns `Result<T, ApiError>` where `T: Serialize`"
    )]
    pub trait MethodOutput {
        /// The reply, or the error to send.
        fn into_reply(self) -> Result<crate::Reply, ApiError>;
    }

    impl<T: serde::Serialize, E: Into<ApiError>> MethodOutput for Result<T, E> {
        fn into_reply(self) -> Result<crate::Reply, ApiError> {
            match self {
                Ok(value) => crate::Reply::ok(&value),
                Err(error) => Err(error.into()),
            }
        }
    }

    /// What a consumer method may take besides its context: a value read from the payload.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be read from a request's payload",
        note = "derive `Deserialize` for it, or take `serde_json::Value`"
    )]
    pub trait MethodArgument: serde::de::DeserializeOwned {}

    impl<T: serde::de::DeserializeOwned> MethodArgument for T {}

    /// Checks, where `#[consumer_method]` puts it, that `T` may be returned.
    pub fn assert_output<T: MethodOutput>() {}

    /// Checks, where `#[consumer_method]` puts it, that `T` may be taken as the argument.
    pub fn assert_argument<T: MethodArgument>() {}

    /// An associated `async fn` that can serve as a custom method: it takes the context
    /// (`Args = ()`), or the context and a value read from the payload (`Args = (A,)`).
    #[diagnostic::on_unimplemented(
        message = "this function cannot serve as a consumer method",
        label = "not a consumer method",
        note = "a consumer method is `async fn name(ctx: &Context<'_>, args: A) -> Result<T, ApiError>` \
                with `A: Deserialize` (or no `args`) and `T: Serialize`; mark it \
                `#[consumer_method]` to have its signature checked"
    )]
    pub trait MethodFn<'a, Args>: Send + 'a {
        /// Reads the argument, calls the method and serializes its answer.
        fn call(self, ctx: &'a Context<'a>, payload: &'a Payload<'a>) -> MethodFuture<'a>;

        /// The payload fields the argument reads, when its type tells.
        fn arguments() -> Option<Vec<&'static str>>;
    }

    impl<'a, F, Fut> MethodFn<'a, ()> for F
    where
        F: FnOnce(&'a Context<'a>) -> Fut + Send + 'a,
        Fut: Future<Output: MethodOutput> + Send + 'a,
    {
        fn call(self, ctx: &'a Context<'a>, _payload: &'a Payload<'a>) -> MethodFuture<'a> {
            Box::pin(async move { self(ctx).await.into_reply() })
        }

        fn arguments() -> Option<Vec<&'static str>> {
            Some(Vec::new())
        }
    }

    impl<'a, F, A, Fut> MethodFn<'a, (A,)> for F
    where
        F: FnOnce(&'a Context<'a>, A) -> Fut + Send + 'a,
        A: MethodArgument,
        Fut: Future<Output: MethodOutput> + Send + 'a,
    {
        fn call(self, ctx: &'a Context<'a>, payload: &'a Payload<'a>) -> MethodFuture<'a> {
            Box::pin(async move {
                let args = payload.deserialize::<A>()?;
                self(ctx, args).await.into_reply()
            })
        }

        fn arguments() -> Option<Vec<&'static str>> {
            crate::schema::argument_fields::<A>()
        }
    }

    /// Runs or describes custom method `method`.
    pub fn custom_call<'a, Args, F: MethodFn<'a, Args>>(method: F, call: Call<'a>) -> Outcome<'a> {
        match call {
            Call::Run(ctx, payload) => Outcome::Running(method.call(ctx, payload)),
            Call::Describe => Outcome::Arguments(F::arguments()),
        }
    }

    /// Runs a built-in method; its arguments are described by the resource's schema.
    pub fn builtin_call<'a>(
        call: Call<'a>,
        run: impl FnOnce(&'a Context<'a>, &'a Payload<'a>) -> MethodFuture<'a>,
    ) -> Outcome<'a> {
        match call {
            Call::Run(ctx, payload) => Outcome::Running(run(ctx, payload)),
            Call::Describe => Outcome::Arguments(None),
        }
    }
}

/// Wraps a formatter for a consumer's `formatter = ...` option.
#[doc(hidden)]
pub fn formatter_arc(
    formatter: impl protocol::Formatter,
) -> std::sync::Arc<dyn protocol::Formatter> {
    std::sync::Arc::new(formatter)
}
