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
}

impl Builtin {
    /// Every built-in method, in the order of the protocol reference.
    pub const ALL: [Builtin; 6] = [
        Builtin::Create,
        Builtin::Retrieve,
        Builtin::Update,
        Builtin::Patch,
        Builtin::List,
        Builtin::Delete,
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
        }
    }

    /// The built-in method called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether the method only reads.
    pub const fn is_read(self) -> bool {
        matches!(self, Builtin::Retrieve | Builtin::List)
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

/// The built-in methods, generic over the model. The derive's dispatch calls these.
pub mod builtin {
    use super::*;
    use crate::context::OwnedContext;
    use crate::query::{Lookup, parse_filters, parse_ordering};

    fn not_found() -> ApiError {
        ApiError::not_found("not found")
    }

    /// A 400 under each key of `payload` that is not one of [`Model::INPUT_KEYS`], with the
    /// keys that exist and the closest one. Read-only fields are known keys: a client may
    /// send back the object it read.
    fn reject_unknown_keys<M: Model>(payload: &Payload<'_>) -> Result<(), ApiError> {
        let mut errors = Errors::new();
        for (key, _) in payload.fields() {
            if !M::INPUT_KEYS.contains(&key) {
                let known = M::INPUT_KEYS.join(", ");
                let mut message = format!("no such field; fields: {known}");
                if let Some(close) = crate::protocol::closest(key, M::INPUT_KEYS) {
                    message = format!("no such field: did you mean `{close}`? fields: {known}");
                }
                errors.add(key.to_owned(), message);
            }
        }
        errors.into_result()
    }

    /// `create`: 201 with the stored record.
    pub async fn create<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
    ) -> Result<Reply, ApiError> {
        reject_unknown_keys::<M>(payload)?;
        let scope = M::scope(ctx)?;
        let record = M::new_record(payload, &scope)?;
        M::check_input(ctx, payload)?;
        let row = ctx.db().write(move |conn| M::insert(conn, record)).await?;
        Reply::created(&row)
    }

    /// `retrieve`: 200 with the record, 404 if there is none within the scope.
    pub async fn retrieve<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
    ) -> Result<Reply, ApiError> {
        reject_unknown_keys::<M>(payload)?;
        let scope = M::scope(ctx)?;
        let pk = payload.require::<M::Pk>(M::PK)?;
        let row = ctx
            .db()
            .read(move |conn| M::find(conn, &pk, &scope))
            .await?
            .ok_or_else(not_found)?;
        row.has_object_permission(ctx)?;
        Reply::ok(&row)
    }

    /// The permission check of a change, when the permission looks at single records: a
    /// copy of the context to check the record with inside the change's transaction.
    fn object_check<M: Model>(ctx: &Context<'_>) -> Option<OwnedContext> {
        M::CHECKS_OBJECTS.then(|| OwnedContext::new(ctx))
    }

    /// Reads the record a change is about and asks the permission about it; `Ok(Err(..))`
    /// when the change must not happen (nothing was written, so the transaction may
    /// commit).
    fn check_object<M: Model>(
        conn: &mut DbConnection,
        check: &OwnedContext,
        pk: &M::Pk,
        scope: &[M::Filter],
    ) -> QueryResult<Result<(), ApiError>> {
        Ok(match M::find(conn, pk, scope)? {
            Some(row) => row.has_object_permission(&check.context()),
            None => Err(not_found()),
        })
    }

    /// `update` (every writable field) or `patch` (some): 200 with the stored record.
    ///
    /// When the permission looks at single records, the read it needs and the change run
    /// in one transaction, so the record checked is the record changed.
    pub async fn update<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
        partial: bool,
    ) -> Result<Reply, ApiError> {
        reject_unknown_keys::<M>(payload)?;
        let scope = M::scope(ctx)?;
        let pk = payload.require::<M::Pk>(M::PK);
        let changes = M::changes(payload, partial, &scope);
        let (pk, changes) = match (pk, changes) {
            (Ok(pk), Ok(changes)) => (pk, changes),
            (pk, changes) => return Err(merge(pk.err(), changes.err())),
        };
        M::check_input(ctx, payload)?;
        let check = object_check::<M>(ctx);
        let row = ctx
            .db()
            .transaction_if(check.is_some(), move |conn| {
                if let Some(check) = &check
                    && let Err(denied) = check_object::<M>(conn, check, &pk, &scope)?
                {
                    return Ok(Err(denied));
                }
                if M::is_unchanged(&changes) {
                    M::find(conn, &pk, &scope).map(Ok)
                } else {
                    M::update(conn, &pk, changes, &scope).map(Ok)
                }
            })
            .await??;
        Reply::ok(&row.ok_or_else(not_found)?)
    }

    /// `delete`: 204, 404 if there was no such record within the scope.
    ///
    /// When the permission looks at single records, the read it needs and the delete run
    /// in one transaction.
    pub async fn delete<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
    ) -> Result<Reply, ApiError> {
        reject_unknown_keys::<M>(payload)?;
        let scope = M::scope(ctx)?;
        let pk = payload.require::<M::Pk>(M::PK)?;
        let check = object_check::<M>(ctx);
        let deleted = ctx
            .db()
            .transaction_if(check.is_some(), move |conn| {
                if let Some(check) = &check
                    && let Err(denied) = check_object::<M>(conn, check, &pk, &scope)?
                {
                    return Ok(Err(denied));
                }
                M::delete(conn, &pk, &scope).map(Ok)
            })
            .await??;
        if deleted {
            Ok(Reply::no_content())
        } else {
            Err(not_found())
        }
    }

    /// `list`: 200 with a [`Page`], or with a [`CursorPage`] when the request carries
    /// `cursor` (`null` for the first page). `page` counts from 1; a page past the end is
    /// empty. Filters and ordering apply on the fields the consumer allows.
    pub async fn list<M: Model>(
        ctx: &Context<'_>,
        payload: &Payload<'_>,
        options: ListOptions,
    ) -> Result<Reply, ApiError> {
        let mut filters = M::scope(ctx)?;
        let mut errors = Errors::new();
        let cursor_mode = payload.raw("cursor").is_some();
        let page = match payload.get::<i64>("page") {
            Ok(None) => 1,
            Ok(Some(page)) => match u32::try_from(page) {
                Ok(page) if page > 0 => page,
                _ if page < 1 => {
                    errors.add("page", "pages are numbered from 1");
                    1
                }
                _ => {
                    errors.add("page", format!("must be at most {}", u32::MAX));
                    1
                }
            },
            Err(e) => {
                errors.add("page", first_message(&e));
                1
            }
        };
        let page_size = match payload.get::<i64>("page_size") {
            Ok(None) => options.page_size,
            Ok(Some(size)) => match u32::try_from(size) {
                Ok(size) if (1..=options.max_page_size).contains(&size) => size,
                _ => {
                    errors.add(
                        "page_size",
                        format!("must be between 1 and {}", options.max_page_size),
                    );
                    options.page_size
                }
            },
            Err(e) => {
                errors.add("page_size", first_message(&e));
                options.page_size
            }
        };
        filters.extend(parse_filters::<M::Filter>(
            payload,
            M::FILTER_FIELDS,
            ctx.limits(),
            &mut errors,
        ));
        let ordering = parse_ordering(payload, M::ORDER_FIELDS, &mut errors);
        if cursor_mode {
            if payload.raw("page").is_some() {
                errors.add("page", "a `cursor` request pages by cursor, not by number");
            }
            if !ordering.is_empty() {
                errors.add(
                    "ordering",
                    "a `cursor` request follows the primary key's order; drop `ordering`",
                );
            }
            match payload.get::<Option<String>>("cursor") {
                Ok(Some(Some(cursor))) => match cursor_filter::<M>(&cursor) {
                    Some(filter) => filters.push(filter),
                    None => errors.add("cursor", "not a cursor this resource gave out"),
                },
                Ok(_) => {}
                Err(_) => errors.add("cursor", "expected the `next` string of a previous page"),
            }
        }
        errors.into_result()?;

        let query = ListQuery {
            filters,
            ordering,
            offset: if cursor_mode {
                0
            } else {
                i64::from(page - 1) * i64::from(page_size)
            },
            // One more row than asked tells whether a next page exists.
            limit: i64::from(page_size) + i64::from(cursor_mode),
            count: !cursor_mode,
        };
        let (count, mut results) = ctx.db().read(move |conn| M::list(conn, &query)).await?;
        if cursor_mode {
            let more = results.len() > page_size as usize;
            results.truncate(page_size as usize);
            let next = match (more, results.last()) {
                (true, Some(last)) => Some(cursor_of(last)?),
                _ => None,
            };
            return Reply::ok(&CursorPage {
                page_size,
                next,
                results,
            });
        }
        Reply::ok(&Page {
            count: count.unwrap_or_default(),
            page,
            page_size,
            results,
        })
    }

    /// The cursor after `row`: its primary key's JSON.
    fn cursor_of<M: Model>(row: &M) -> Result<String, ApiError> {
        let value = serde_json::to_value(row).map_err(|_| ApiError::internal())?;
        match value.get(M::PK) {
            Some(pk) => Ok(pk.to_string()),
            None => {
                tracing::error!(
                    pk = M::PK,
                    "the primary key is not serialized; cursors need it"
                );
                Err(ApiError::internal())
            }
        }
    }

    /// The filter "primary key after `cursor`".
    fn cursor_filter<M: Model>(cursor: &str) -> Option<M::Filter> {
        let raw = serde_json::from_str::<&serde_json::value::RawValue>(cursor).ok()?;
        M::Filter::parse(M::PK, Lookup::Gt, raw).ok()
    }

    fn first_message(error: &ApiError) -> String {
        error
            .errors()
            .iter()
            .flat_map(|(_, messages)| messages.iter().cloned())
            .next()
            .unwrap_or_default()
    }

    /// One 400 with the errors of both failed parts of a request.
    fn merge(a: Option<ApiError>, b: Option<ApiError>) -> ApiError {
        let mut errors = Errors::new();
        let mut status = 400;
        for error in a.into_iter().chain(b) {
            status = error.status();
            errors.extend(error.errors());
        }
        ApiError::with_errors(status, errors)
    }
}
