//! What the derive's output reaches: re-exports under stable paths, and the glue between
//! generated code and the runtime. Not a public API.

pub use crate::auth::Permission;
/// The built-in methods, as generated dispatch calls them.
pub mod builtin {
    pub use crate::builtin::{create, delete, list, retrieve, update};
    pub use crate::live::{subscribe, unsubscribe};
}
pub use crate::compare::{Compare, Where, all_of, as_text, bind, not_text};
pub use crate::consumer::{Call, Consumer, ListOptions, MethodFuture, Model, Outcome};
pub use crate::context::Context;
pub use crate::database::DbConnection;
pub use crate::error::{ApiError, Errors};
pub use crate::live::LiveModel;
pub use crate::protocol::{Formatter, Payload, REQUIRED, Reply, field_value};
pub use crate::query::{Field, FilterError, Filters, ListQuery, Lookup, Scope, filter_value};
pub use crate::schema::struct_fields;
pub use crate::schema::{FieldSchema, FilterSchema, ListSchema, MethodSchema, ResourceSchema};
#[cfg(feature = "validator")]
pub use crate::validation::validate_fields;
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

// The backends in the derive's output follow this crate's features, not the features of
// the crate that uses the derive: the macros below are defined by this crate, once per set
// of backends, and generated code calls them.

/// `match conn { Postgres(c) => pg, Sqlite(c) => sqlite }` with the arms of the backends
/// this build has; the other arms' code is dropped unchecked.
#[cfg(all(feature = "postgres", feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __channels_api_per_backend {
    (match $conn:ident as $bind:ident { postgres => $pg:block sqlite => $sqlite:block }) => {
        match $conn {
            $crate::__private::DbConnection::Postgres($bind) => $pg,
            $crate::__private::DbConnection::Sqlite($bind) => $sqlite,
        }
    };
}

/// `match conn { Postgres(c) => pg }`: this build has no SQLite.
#[cfg(all(feature = "postgres", not(feature = "sqlite")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __channels_api_per_backend {
    (match $conn:ident as $bind:ident { postgres => $pg:block sqlite => $sqlite:block }) => {
        match $conn {
            $crate::__private::DbConnection::Postgres($bind) => $pg,
        }
    };
}

/// `match conn { Sqlite(c) => sqlite }`: this build has no PostgreSQL.
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __channels_api_per_backend {
    (match $conn:ident as $bind:ident { postgres => $pg:block sqlite => $sqlite:block }) => {
        match $conn {
            $crate::__private::DbConnection::Sqlite($bind) => $sqlite,
        }
    };
}

/// Its input when this build has PostgreSQL, else nothing.
#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __channels_api_if_postgres {
    ($($tokens:tt)*) => { $($tokens)* };
}

/// Its input when this build has PostgreSQL, else nothing.
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __channels_api_if_postgres {
    ($($tokens:tt)*) => {};
}

/// Its input when this build has SQLite, else nothing.
#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __channels_api_if_sqlite {
    ($($tokens:tt)*) => { $($tokens)* };
}

/// Its input when this build has SQLite, else nothing.
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __channels_api_if_sqlite {
    ($($tokens:tt)*) => {};
}

pub use __channels_api_if_postgres as if_postgres;
pub use __channels_api_if_sqlite as if_sqlite;
pub use __channels_api_per_backend as per_backend;

/// An `ORDER BY` list chosen at run time, written out flat: `a DESC, b ASC, id ASC`.
///
/// Diesel's `then_order_by` on a boxed query nests each key inside the previous ones, and
/// walking that nest costs time exponential in the number of keys; this list costs one
/// step per key. The generated `list` builds it from the model's own columns only.
pub struct OrderList<DB: diesel::backend::Backend>(
    pub Vec<Box<dyn diesel::query_builder::QueryFragment<DB> + Send>>,
);

impl<DB: diesel::backend::Backend> std::fmt::Debug for OrderList<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OrderList({} keys)", self.0.len())
    }
}

impl<DB: diesel::backend::Backend> diesel::Expression for OrderList<DB> {
    // An ordering has no SQL type of its own; Diesel asks for one all the same.
    type SqlType = diesel::sql_types::Bool;
}

impl<DB: diesel::backend::Backend, QS> diesel::AppearsOnTable<QS> for OrderList<DB> {}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryId for OrderList<DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for OrderList<DB> {
    fn walk_ast<'b>(
        &'b self,
        mut pass: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        for (index, key) in self.0.iter().enumerate() {
            if index > 0 {
                pass.push_sql(", ");
            }
            key.walk_ast(pass.reborrow())?;
        }
        Ok(())
    }
}

/// A page of `query`: `query LIMIT ? + 0 OFFSET ?`, both bound.
///
/// SQLite reads a bare bound `LIMIT ?` while it plans the statement and so marks the
/// statement stale whenever the value is bound again: every page would prepare the whole
/// query anew (Diesel binds on each run). `? + 0` is not a bare parameter: the statement
/// stays prepared, and the limit still applies. Used on SQLite only.
#[derive(Debug, Clone, Copy)]
pub struct Page<Q> {
    query: Q,
    limit: i64,
    offset: i64,
}

/// `query`, limited to `limit` rows from `offset`.
pub fn page<Q>(query: Q, limit: i64, offset: i64) -> Page<Q> {
    Page {
        query,
        limit,
        offset,
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Page<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: diesel::query_builder::QueryId> diesel::query_builder::QueryId for Page<Q> {
    type QueryId = Page<Q::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Page<Q>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>,
    Q: diesel::query_builder::QueryFragment<DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut pass: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        self.query.walk_ast(pass.reborrow())?;
        pass.push_sql(" LIMIT ");
        pass.push_bind_param::<diesel::sql_types::BigInt, _>(&self.limit)?;
        pass.push_sql(" + 0 OFFSET ");
        pass.push_bind_param::<diesel::sql_types::BigInt, _>(&self.offset)
    }
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for Page<Q> {}

/// A statement whose SQL is the same on every run, identified by the type `Id`: kept
/// prepared by Diesel's statement cache, which otherwise prepares every `UPDATE` anew (a
/// changeset's SQL may change with its values). The derive uses it for the one statement
/// of fixed shape it knows of this kind: an update of every writable field by key.
#[derive(Debug)]
pub struct Prepared<Q, Id> {
    query: Q,
    id: std::marker::PhantomData<Id>,
}

/// `query`, whose SQL `Id` identifies.
pub fn prepared<Id, Q>(query: Q) -> Prepared<Q, Id> {
    Prepared {
        query,
        id: std::marker::PhantomData,
    }
}

/// The [`Prepared`] identity of the update of every writable field of model `M`.
#[derive(Debug)]
pub struct UpdateOf<M>(std::marker::PhantomData<M>);

impl<Q: diesel::query_builder::Query, Id> diesel::query_builder::Query for Prepared<Q, Id> {
    type SqlType = Q::SqlType;
}

impl<Q, Id: 'static> diesel::query_builder::QueryId for Prepared<Q, Id> {
    type QueryId = Id;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Q, Id, DB> diesel::query_builder::QueryFragment<DB> for Prepared<Q, Id>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q, Id, Conn> diesel::RunQueryDsl<Conn> for Prepared<Q, Id> {}

/// Which request a model's input is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// `create`: every field, with serde's defaults for those not sent.
    Create,
    /// `update`: a field sent is changed; one serde requires must be sent.
    Update,
    /// `patch`: a field sent is changed; none is required.
    Patch,
}

/// The keys an input shape `S` reads: serde's deserialize-side names and aliases of its
/// fields.
pub fn input_keys<S: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    crate::schema::struct_fields::<S>().unwrap_or_default()
}

/// Reads the whole input shape `S` from the keys it names, or `None` on any error (the
/// caller then reads field by field, to report every error).
pub fn read_all<S: serde::de::DeserializeOwned>(payload: &Payload<'_>) -> Option<S> {
    payload.deserialize_only(input_keys::<S>()).ok()
}

/// Reads one field's input shape `S`, a struct of that one field carrying the field's own
/// serde attributes, from the keys serde's derive gave it; each error goes into `errors`
/// under the key it concerns. `None` when the field is not to be set: an error, or an
/// `update` or `patch` that did not send it.
pub fn read_field<S: serde::de::DeserializeOwned>(
    payload: &Payload<'_>,
    mode: ReadMode,
    errors: &mut Errors,
) -> Option<S> {
    let keys = input_keys::<S>();
    let sent = payload.fields().any(|(key, _)| keys.contains(&key));
    if mode == ReadMode::Patch && !sent {
        return None;
    }
    // An `update` that did not send the field still asks serde, which says whether it
    // was required; a default it fills in is not applied.
    match payload.deserialize_only::<S>(keys) {
        Ok(value) => (sent || mode == ReadMode::Create).then_some(value),
        Err(error) => {
            errors.extend(error.errors());
            None
        }
    }
}

/// Reads the connection's scope from the function named in `queryset = ...`.
pub fn scope_filters<F: Filters>(
    scope: Result<Scope, ApiError>,
    resource: &str,
) -> Result<Vec<F>, ApiError> {
    scope?.to_filters(resource)
}

/// What a consumer method may return: `Result<T, E>` with `T: Serialize` (answered with
/// status 200) or `T = Reply` (any status), and an error that converts into [`ApiError`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid return type for a consumer method",
    note = "a consumer method returns `Result<T, ApiError>` where `T: Serialize`, or `Result<Reply, ApiError>` to choose the status"
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

/// A method that builds its own [`Reply`](crate::Reply) chooses its status: 201, 202, 204.
impl<E: Into<ApiError>> MethodOutput for Result<crate::Reply, E> {
    fn into_reply(self) -> Result<crate::Reply, ApiError> {
        self.map_err(Into::into)
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

// What the derive checks of a model and its fields, and what its generated impls assume.
//
// Each trait holds on every backend this build has at once (the macro is expanded once per
// set of backends), and its impl is `do_not_recommend`: a mistake is one unmet obligation,
// one error with the trait's own message. Its requirements are where-clauses on `Self`,
// which rustc treats as supertraits, so that an impl whose where-clause names the trait
// may use them. The derive writes those where-clauses under `for<'__b>`: a bound with a
// binder is not checked where it is written, only where the impl is used, and the impl's
// body is checked assuming it. A model Diesel cannot read is then reported once, by the
// checks, instead of in every query that reads it; where an impl proves the bound (a
// correct model), rustc prefers the impl, so correct code is checked as before.
macro_rules! model_bounds {
    ($($db:ty),+) => {
        /// A model whose rows Diesel can read: it derives `Queryable` for the SQL types `ST`
        /// of its columns.
        #[diagnostic::on_unimplemented(
            message = "`{Self}` does not derive `Queryable`",
            label = "`ModelConsumer` reads rows through Diesel's `Queryable`",
            note = "derive it: `#[derive(Queryable, Selectable, Serialize, ModelConsumer)]`"
        )]
        pub trait DerivesQueryable<ST>
        where
            $(Self: diesel::deserialize::FromSqlRow<ST, $db>,)+
        {
        }

        #[diagnostic::do_not_recommend]
        impl<T, ST> DerivesQueryable<ST> for T where $(T: diesel::deserialize::FromSqlRow<ST, $db>,)+ {}

        /// A model whose columns Diesel can select: it derives `Selectable`, which selects
        /// `SE`, the columns of its fields.
        #[diagnostic::on_unimplemented(
            message = "`{Self}` does not derive `Selectable`",
            label = "`ModelConsumer` selects columns through Diesel's `Selectable`",
            note = "derive it: `#[derive(Queryable, Selectable, Serialize, ModelConsumer)]`"
        )]
        pub trait DerivesSelectable<SE>
        where
            $(Self: diesel::Selectable<$db, SelectExpression = SE>,)+
        {
        }

        #[diagnostic::do_not_recommend]
        impl<T, SE> DerivesSelectable<SE> for T
        where
            $(T: diesel::Selectable<$db, SelectExpression = SE>,)+
        {
        }

        /// A field's Rust type that can hold its column's SQL type `ST`.
        #[diagnostic::on_unimplemented(
            message = "a field of type `{Self}` cannot hold its column's SQL type `{ST}`",
            label = "does not match the column's SQL type `{ST}`",
            note = "see the Rust types `{ST}` maps to in Diesel's documentation; a nullable \
                    column needs an `Option`"
        )]
        pub trait HoldsColumn<ST>
        where
            $(Self: diesel::deserialize::FromSql<ST, $db>,)+
        {
        }

        #[diagnostic::do_not_recommend]
        impl<T, ST> HoldsColumn<ST> for T where $(T: diesel::deserialize::FromSql<ST, $db>,)+ {}

        /// A tuple of a model's field types that can hold a row of the SQL types `ST`, as
        /// the model's derived `Queryable` reads it. Not checked itself: it holds when each
        /// field holds its column ([`HoldsColumn`]), which is checked.
        pub trait HoldsRow<ST>
        where
            $(Self: diesel::deserialize::FromStaticSqlRow<ST, $db>,)+
        {
        }

        impl<T, ST> HoldsRow<ST> for T where $(T: diesel::deserialize::FromStaticSqlRow<ST, $db>,)+ {}

        /// A value that queries can bind as SQL type `ST`.
        #[diagnostic::on_unimplemented(
            message = "a value of type `{Self}` cannot be bound as SQL type `{ST}`",
            label = "does not match the column's SQL type `{ST}`",
            note = "see the Rust types `{ST}` maps to in Diesel's documentation"
        )]
        pub trait BindsColumn<ST>
        where
            $(Self: diesel::serialize::ToSql<ST, $db>,)+
        {
        }

        #[diagnostic::do_not_recommend]
        impl<T, ST> BindsColumn<ST> for T where $(T: diesel::serialize::ToSql<ST, $db>,)+ {}

        /// A field's Rust type that can hold its column's SQL type `ST`, and be bound as it:
        /// the type of a field written or filtered on.
        #[diagnostic::on_unimplemented(
            message = "a field of type `{Self}` cannot hold its column's SQL type `{ST}`",
            label = "does not match the column's SQL type `{ST}`",
            note = "see the Rust types `{ST}` maps to in Diesel's documentation; a nullable \
                    column needs an `Option`"
        )]
        pub trait StoresColumn<ST>: HoldsColumn<ST> + BindsColumn<ST> {}

        #[diagnostic::do_not_recommend]
        impl<T: HoldsColumn<ST> + BindsColumn<ST>, ST> StoresColumn<ST> for T {}
    };
}

#[cfg(all(feature = "postgres", feature = "sqlite"))]
model_bounds!(diesel::pg::Pg, diesel::sqlite::Sqlite);
#[cfg(all(feature = "postgres", not(feature = "sqlite")))]
model_bounds!(diesel::pg::Pg);
#[cfg(not(feature = "postgres"))]
model_bounds!(diesel::sqlite::Sqlite);

/// Checks, where the derive puts it, that a field can hold its column's values.
pub fn assert_field<T: HoldsColumn<ST>, ST>() {}

/// Checks, where the derive puts it, that a field can hold its column's values and be
/// bound as its column's type.
pub fn assert_stored_field<T: StoresColumn<ST>, ST>() {}

/// Checks, where the derive puts it, that the model derives `Selectable` (selecting `SE`)
/// and `Queryable` (for the SQL types `ST`).
pub fn assert_model<T: DerivesSelectable<SE> + DerivesQueryable<ST>, ST, SE>() {}

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
pub fn builtin_call<'a, Fut>(
    call: Call<'a>,
    run: impl FnOnce(&'a Context<'a>, &'a Payload<'a>) -> Fut,
) -> Outcome<'a>
where
    Fut: Future<Output = Result<Reply, ApiError>> + Send + 'a,
{
    match call {
        Call::Run(ctx, payload) => Outcome::Running(Box::pin(run(ctx, payload))),
        Call::Describe => Outcome::Arguments(None),
    }
}

/// Wraps a formatter for a consumer's `formatter = ...` option.
pub fn formatter_arc(formatter: impl Formatter) -> Arc<dyn Formatter> {
    Arc::new(formatter)
}

/// The head of SQLite's query that decodes a JSON array of row images, up to its bound
/// parameter: each column read from the image by `json_extract`, in order.
pub fn live_select_sqlite(columns: &[&str]) -> String {
    let mut sql = String::new();
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("json_extract(value, '$.\"");
        sql.push_str(&column.replace('\'', "''").replace('"', "\\\""));
        sql.push_str("\"')");
    }
    sql.push_str(" FROM json_each(");
    sql
}

/// The head of PostgreSQL's query that decodes a JSON array of row images: each image
/// turned back into a row of the table by `jsonb_populate_record`, its columns in order.
pub fn live_select_pg(table: &str, columns: &[&str]) -> String {
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let mut sql = String::new();
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(__s.__r).");
        sql.push_str(&quote(column));
    }
    sql.push_str(" FROM (SELECT jsonb_populate_record(NULL::");
    sql.push_str(&quote(table));
    sql.push_str(", value) AS __r, ord FROM jsonb_array_elements(");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    /// A one-field input shape of a nullable column, as the derive generates it.
    #[derive(serde::Deserialize)]
    struct Note {
        note: Option<String>,
    }

    fn read(text: &str, mode: ReadMode) -> (Option<Option<String>>, Errors) {
        let request = crate::protocol::Request::parse(text, &Limits::default()).unwrap();
        let mut errors = Errors::new();
        let value = read_field::<Note>(&request.payload, mode, &mut errors).map(|n| n.note);
        (value, errors)
    }

    #[test]
    fn tells_a_field_left_out_from_a_null() {
        let modes = [ReadMode::Update, ReadMode::Patch];
        for mode in modes {
            assert_eq!(read(r#"{"id":1}"#, mode).0, None, "left out: unchanged");
            assert_eq!(
                read(r#"{"note":null}"#, mode).0,
                Some(None),
                "null: cleared"
            );
            assert_eq!(read(r#"{"note":"a"}"#, mode).0, Some(Some("a".into())));
        }
        assert_eq!(read(r#"{"id":1}"#, ReadMode::Create).0, Some(None));
        let (value, errors) = read(r#"{"note":3}"#, ReadMode::Patch);
        assert_eq!(value, None);
        assert_eq!(
            errors.get("note").unwrap(),
            ["expected a string, got the number 3"]
        );
        let (_, errors) = read(r#"{"note":"a\u0000"}"#, ReadMode::Create);
        assert!(errors.get("note").unwrap()[0].contains("NUL"));
        // Only the field's own keys are read: another key's NUL is not its error.
        let (value, errors) = read(r#"{"other":"\u0000","note":"a"}"#, ReadMode::Create);
        assert_eq!(value, Some(Some("a".into())));
        assert!(errors.is_empty());
    }
}
