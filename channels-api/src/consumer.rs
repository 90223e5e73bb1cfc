//! The traits `#[derive(ModelConsumer)]` implements, and the built-in methods.
//!
//! [`Consumer`] is what the router needs: a resource name, its methods, and a dispatch
//! function. [`Model`] is what the built-in methods need: how to read input and how to
//! query the table, generated once per backend so each query is compiled for SQLite and for
//! PostgreSQL on its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use diesel::QueryResult;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::database::DbConnection;
use crate::error::{ApiError, Errors};
use crate::protocol::{Formatter, Payload, Reply};
use crate::schema::ResourceSchema;

/// The future a method returns.
pub type MethodFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>>;

/// The methods every model consumer can offer, in the order of the protocol reference.
pub const BUILTIN_METHODS: &[&str] = &["create", "retrieve", "update", "patch", "list", "delete"];

/// The methods a consumer offers when its `methods(...)` is left out.
pub const DEFAULT_METHODS: &[&str] = &["create", "retrieve", "update", "list", "delete"];

/// What the router asks of a method: run it for a request, or say which payload fields it
/// reads (for `api.schema`).
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// Run the method for a request.
    Run(&'a Context<'a>, &'a Payload<'a>),
    /// Describe the method's arguments.
    Describe,
}

/// The answer to a [`Call`].
pub enum Outcome<'a> {
    /// The running method.
    Running(MethodFuture<'a>),
    /// The payload fields the method reads, if it can tell.
    Arguments(Option<Vec<&'static str>>),
}

impl std::fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Running(_) => f.write_str("Running(..)"),
            Outcome::Arguments(arguments) => f.debug_tuple("Arguments").field(arguments).finish(),
        }
    }
}

/// A resource served over WebSockets: `question.create`, `question.invite`, ...
///
/// Implemented by `#[derive(ModelConsumer)]`; the router calls [`Consumer::dispatch`] with a
/// method already checked against [`Consumer::METHODS`].
pub trait Consumer: 'static {
    /// The resource name, the part before the dot in `question.create`.
    const RESOURCE: &'static str;

    /// Every method this resource answers, built-in and custom, known at compile time.
    const METHODS: &'static [&'static str];

    /// The formatter of this consumer's responses, when it has its own.
    fn formatter() -> Option<Arc<dyn Formatter>> {
        None
    }

    /// The resource's fields and methods, for `api.schema`. The arguments of custom
    /// methods are filled in from [`Call::Describe`].
    fn schema() -> ResourceSchema;

    /// Runs or describes `method` (one of [`Consumer::METHODS`]); `None` if the method is
    /// not one of them.
    fn dispatch<'a>(method: &'static str, call: Call<'a>) -> Option<Outcome<'a>>;
}

/// A Diesel model served by the built-in methods.
///
/// Implemented by `#[derive(ModelConsumer)]`. Its query functions are also handy in custom
/// methods:
///
/// ```no_run
/// # use channels_api::prelude::*;
/// # async fn f<M: Model<Pk = i32>>(ctx: &Context<'_>) -> Result<(), ApiError> {
/// let found = ctx.db().run(|conn| M::find(conn, &1)).await?;
/// # Ok(()) }
/// ```
pub trait Model: Serialize + Send + Sized + 'static {
    /// The primary key's type.
    type Pk: DeserializeOwned + Send + Sync + 'static;
    /// The values read from a `create` request.
    type NewRecord: Send + 'static;
    /// The values read from an `update` or `patch` request.
    type Changes: Send + 'static;

    /// The primary key's name on the wire (`id`).
    const PK: &'static str;

    /// Reads the writable fields of a `create` request; a missing or mistyped field is
    /// a 400 naming it, with every such field reported at once.
    fn new_record(payload: &Payload<'_>) -> Result<Self::NewRecord, ApiError>;

    /// Reads the writable fields of an `update` (`partial == false`: all required) or a
    /// `patch` (`partial == true`: any subset).
    fn changes(payload: &Payload<'_>, partial: bool) -> Result<Self::Changes, ApiError>;

    /// Whether `changes` sets no field at all.
    fn is_unchanged(changes: &Self::Changes) -> bool;

    /// Inserts a record and returns it as stored (defaults and the new key filled in).
    fn insert(conn: &mut DbConnection, record: Self::NewRecord) -> QueryResult<Self>;

    /// The record with key `pk`.
    fn find(conn: &mut DbConnection, pk: &Self::Pk) -> QueryResult<Option<Self>>;

    /// Applies `changes` to the record with key `pk` and returns it as stored.
    fn update(
        conn: &mut DbConnection,
        pk: &Self::Pk,
        changes: Self::Changes,
    ) -> QueryResult<Option<Self>>;

    /// Deletes the record with key `pk`; whether one existed.
    fn delete(conn: &mut DbConnection, pk: &Self::Pk) -> QueryResult<bool>;

    /// How many records there are.
    fn count(conn: &mut DbConnection) -> QueryResult<i64>;

    /// `limit` records from `offset`, in primary key order.
    fn page(conn: &mut DbConnection, offset: i64, limit: i64) -> QueryResult<Vec<Self>>;
}

/// Page sizes of a consumer's `list`.
#[derive(Debug, Clone, Copy)]
pub struct ListOptions {
    /// The page size when the request names none.
    pub page_size: u32,
    /// The largest page size a request may ask for.
    pub max_page_size: u32,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self {
            page_size: 50,
            max_page_size: 1000,
        }
    }
}

/// One page of a `list` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page<T> {
    /// How many records there are in all.
    pub count: i64,
    /// The page number, from 1.
    pub page: u32,
    /// The page size used.
    pub page_size: u32,
    /// The records of this page.
    pub results: Vec<T>,
}

/// The built-in methods, generic over the model. The derive's dispatch calls these.
pub mod builtin {
    use super::*;

    fn not_found() -> ApiError {
        ApiError::not_found("not found")
    }

    /// `create`: 201 with the stored record.
    pub async fn create<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
    ) -> Result<Reply, ApiError> {
        let record = M::new_record(payload)?;
        let row = ctx.db().run(move |conn| M::insert(conn, record)).await?;
        Reply::created(&row)
    }

    /// `retrieve`: 200 with the record, 404 if there is none.
    pub async fn retrieve<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
    ) -> Result<Reply, ApiError> {
        let pk = payload.require::<M::Pk>(M::PK)?;
        let row = ctx.db().run(move |conn| M::find(conn, &pk)).await?;
        Reply::ok(&row.ok_or_else(not_found)?)
    }

    /// `update` (every writable field) or `patch` (some): 200 with the stored record.
    pub async fn update<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
        partial: bool,
    ) -> Result<Reply, ApiError> {
        let pk = payload.require::<M::Pk>(M::PK);
        let changes = M::changes(payload, partial);
        let (pk, changes) = match (pk, changes) {
            (Ok(pk), Ok(changes)) => (pk, changes),
            (pk, changes) => return Err(merge(pk.err(), changes.err())),
        };
        let row = ctx
            .db()
            .run(move |conn| {
                if M::is_unchanged(&changes) {
                    M::find(conn, &pk)
                } else {
                    M::update(conn, &pk, changes)
                }
            })
            .await?;
        Reply::ok(&row.ok_or_else(not_found)?)
    }

    /// `delete`: 204, 404 if there was no such record.
    pub async fn delete<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
    ) -> Result<Reply, ApiError> {
        let pk = payload.require::<M::Pk>(M::PK)?;
        let deleted = ctx.db().run(move |conn| M::delete(conn, &pk)).await?;
        if deleted {
            Ok(Reply::no_content())
        } else {
            Err(not_found())
        }
    }

    /// `list`: 200 with a [`Page`]. `page` counts from 1; a page past the end is empty.
    pub async fn list<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
        options: ListOptions,
    ) -> Result<Reply, ApiError> {
        let mut errors = Errors::new();
        let page = match payload.get::<u32>("page") {
            Ok(Some(0)) => {
                errors.add("page", "pages are numbered from 1");
                1
            }
            Ok(page) => page.unwrap_or(1),
            Err(e) => return Err(e),
        };
        let page_size = match payload.get::<u32>("page_size")? {
            Some(size) if size == 0 || size > options.max_page_size => {
                errors.add(
                    "page_size",
                    format!("must be between 1 and {}", options.max_page_size),
                );
                size
            }
            Some(size) => size,
            None => options.page_size,
        };
        errors.into_result()?;
        let offset = i64::from(page - 1) * i64::from(page_size);
        let (count, results) = ctx
            .db()
            .run(move |conn| {
                Ok((
                    M::count(conn)?,
                    M::page(conn, offset, i64::from(page_size))?,
                ))
            })
            .await?;
        Reply::ok(&Page {
            count,
            page,
            page_size,
            results,
        })
    }

    /// One 400 with the errors of both failed parts of a request.
    fn merge(a: Option<ApiError>, b: Option<ApiError>) -> ApiError {
        let mut errors = Errors::new();
        let mut status = 400;
        for error in a.into_iter().chain(b) {
            status = error.status();
            for (field, messages) in error.errors().iter() {
                for message in messages {
                    errors.add(field.to_owned(), message.clone());
                }
            }
        }
        ApiError::with_errors(status, errors)
    }
}
