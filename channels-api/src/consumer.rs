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
use crate::error::ApiError;
use crate::protocol::{Formatter, Payload, Reply};
use crate::query::{Filters, ListQuery};
use crate::schema::ResourceSchema;

/// The future a method returns.
pub type MethodFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>>;

/// A built-in method. `#[derive(ModelConsumer)]` generates each one's code from a match
/// on its own copy of this list, so no built-in can fall into another's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Builtin {
    /// `create`: insert a record.
    Create,
    /// `retrieve`: read one record by its key.
    Retrieve,
    /// `update`: change every writable field of a record.
    Update,
    /// `patch`: change some fields of a record.
    Patch,
    /// `list`: read a page of records.
    List,
    /// `delete`: remove a record.
    Delete,
    /// `subscribe`: events for every later change of the rows a connection asks for.
    Subscribe,
    /// `unsubscribe`: ends subscriptions.
    Unsubscribe,
}

impl Builtin {
    /// Every built-in method, in the order of the protocol reference.
    pub const ALL: [Builtin; 8] = [
        Builtin::Create,
        Builtin::Retrieve,
        Builtin::Update,
        Builtin::Patch,
        Builtin::List,
        Builtin::Delete,
        Builtin::Subscribe,
        Builtin::Unsubscribe,
    ];

    /// The method's name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Builtin::Create => "create",
            Builtin::Retrieve => "retrieve",
            Builtin::Update => "update",
            Builtin::Patch => "patch",
            Builtin::List => "list",
            Builtin::Delete => "delete",
            Builtin::Subscribe => "subscribe",
            Builtin::Unsubscribe => "unsubscribe",
        }
    }

    /// The built-in method called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether the method only reads.
    pub const fn is_read(self) -> bool {
        matches!(
            self,
            Builtin::Retrieve | Builtin::List | Builtin::Subscribe | Builtin::Unsubscribe
        )
    }
}

/// The names of the methods every model consumer can offer ([`Builtin::ALL`]).
pub const BUILTIN_METHODS: &[&str] = &[
    Builtin::Create.name(),
    Builtin::Retrieve.name(),
    Builtin::Update.name(),
    Builtin::Patch.name(),
    Builtin::List.name(),
    Builtin::Delete.name(),
    Builtin::Subscribe.name(),
    Builtin::Unsubscribe.name(),
];

/// The methods a consumer offers when its `methods(...)` is left out.
pub const DEFAULT_METHODS: &[&str] = &[
    Builtin::Create.name(),
    Builtin::Retrieve.name(),
    Builtin::Update.name(),
    Builtin::List.name(),
    Builtin::Delete.name(),
];

/// What the router asks of a method: run it for a request, or say which payload fields it
/// reads (for `api.schema`). Used by generated code; not a stable API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// Run the method for a request.
    Run(&'a Context<'a>, &'a Payload<'a>),
    /// Describe the method's arguments.
    Describe,
}

/// The answer to a [`Call`]. Used by generated code; not a stable API.
#[doc(hidden)]
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

    /// Whether the request may run at all (`#[consumer(permission = ...)]`): called before
    /// every method, built-in or custom.
    fn authorize(ctx: &Context<'_>) -> Result<(), ApiError> {
        let _ = ctx;
        Ok(())
    }

    /// The resource's fields and methods, for `api.schema`. The arguments of custom
    /// methods are filled in from [`Call::Describe`].
    fn schema() -> ResourceSchema;

    /// The table `subscribe` captures and the columns its model reads, when the consumer
    /// offers `subscribe`. Generated.
    #[doc(hidden)]
    fn live_table() -> Option<(&'static str, &'static [&'static str])> {
        None
    }

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
/// let found = ctx.db().run(|conn| M::find(conn, &1, &[])).await?;
/// # Ok(()) }
/// ```
pub trait Model: Serialize + Send + Sized + 'static {
    /// The primary key's type.
    type Pk: DeserializeOwned + Serialize + Clone + Send + Sync + 'static;
    /// The values read from a `create` request.
    type NewRecord: Send + 'static;
    /// The values read from an `update` or `patch` request.
    type Changes: Send + 'static;
    /// A typed filter on one of the model's fields.
    type Filter: Filters;

    /// The primary key's name on the wire (`id`), the same in requests and responses.
    const PK: &'static str;
    /// The name of each field a response may carry: serde's serialize-side names, without
    /// the fields serde never serializes.
    const FIELDS: &'static [&'static str];
    /// The keys a `create`, `retrieve`, `update`, `patch` or `delete` request may carry,
    /// and no others: each field's deserialize-side name and its aliases, and, for a field
    /// never read from input (read-only or `skip_deserializing`), its name in responses,
    /// so that a client may send back the object it read.
    const INPUT_KEYS: &'static [&'static str];
    /// The fields a `list` request may filter on, by their deserialize-side names.
    const FILTER_FIELDS: &'static [&'static str];
    /// The fields a `list` request may order by, by their deserialize-side names.
    const ORDER_FIELDS: &'static [&'static str];
    /// Whether the consumer's permission looks at single records, so that `update`,
    /// `patch` and `delete` must read the record before changing it.
    const CHECKS_OBJECTS: bool;

    /// Reads the writable fields of a `create` request; a missing or mistyped field is
    /// a 400 naming it, with every such field reported at once. Fields pinned by an
    /// equality in `scope` take the scope's value.
    fn new_record(
        payload: &Payload<'_>,
        scope: &[Self::Filter],
    ) -> Result<Self::NewRecord, ApiError>;

    /// Reads the writable fields of an `update` (`partial == false`: all required) or a
    /// `patch` (`partial == true`: any subset). Fields pinned by `scope` keep its value.
    fn changes(
        payload: &Payload<'_>,
        partial: bool,
        scope: &[Self::Filter],
    ) -> Result<Self::Changes, ApiError>;

    /// Checks a `create`, `update` or `patch` request as a whole, after its fields were
    /// read (`#[consumer(validate = ...)]`); errors go under their fields or under
    /// `non_field_errors`.
    fn check_input(ctx: &Context<'_>, payload: &Payload<'_>) -> Result<(), ApiError> {
        let _ = (ctx, payload);
        Ok(())
    }

    /// Whether `changes` sets no field at all.
    fn is_unchanged(changes: &Self::Changes) -> bool;

    /// The rows the connection may reach (`#[consumer(queryset = ...)]`); all by default.
    fn scope(ctx: &Context<'_>) -> Result<Vec<Self::Filter>, ApiError> {
        let _ = ctx;
        Ok(Vec::new())
    }

    /// Whether the connection may see or change `object`
    /// (`#[consumer(permission = ...)]`).
    fn has_object_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        let _ = ctx;
        Ok(())
    }

    /// Inserts a record and returns it as stored (defaults and the new key filled in).
    fn insert(conn: &mut DbConnection, record: Self::NewRecord) -> QueryResult<Self>;

    /// The record with key `pk` within `scope`.
    fn find(
        conn: &mut DbConnection,
        pk: &Self::Pk,
        scope: &[Self::Filter],
    ) -> QueryResult<Option<Self>>;

    /// Applies `changes` to the record with key `pk` within `scope`, and returns it as
    /// stored.
    fn update(
        conn: &mut DbConnection,
        pk: &Self::Pk,
        changes: Self::Changes,
        scope: &[Self::Filter],
    ) -> QueryResult<Option<Self>>;

    /// Deletes the record with key `pk` within `scope`; whether one existed.
    fn delete(conn: &mut DbConnection, pk: &Self::Pk, scope: &[Self::Filter]) -> QueryResult<bool>;

    /// The rows `query` selects, and their count when it asks for one.
    fn list(
        conn: &mut DbConnection,
        query: &ListQuery<Self::Filter>,
    ) -> QueryResult<(Option<i64>, Vec<Self>)>;
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
    /// How many records match, in all.
    pub count: i64,
    /// The page number, from 1.
    pub page: u32,
    /// The page size used.
    pub page_size: u32,
    /// The records of this page.
    pub results: Vec<T>,
}

/// One page of a `list` answer in cursor mode.
#[derive(Debug, Serialize, Deserialize)]
pub struct CursorPage<T> {
    /// The page size used.
    pub page_size: u32,
    /// The cursor of the next page, or `None` on the last one.
    pub next: Option<String>,
    /// The records of this page.
    pub results: Vec<T>,
}
