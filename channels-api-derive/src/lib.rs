//! The derive and attribute macros of `channels-api`. Use them through the runtime crate,
//! which re-exports them: `use channels_api::prelude::*;`.
//!
//! The reference of each is on the macro itself: [`ModelConsumer`](derive@ModelConsumer)
//! and [`consumer_method`](macro@consumer_method).

mod attr;
mod ctxt;
mod method;
mod model;
mod render;

use proc_macro::TokenStream;

/// Serves a Diesel model as a resource of the WebSocket API.
///
/// Serves a Diesel model as a resource. The model must name its table with
/// `#[diesel(table_name = ...)]` and derive `Queryable`, `Selectable` and `Serialize`.
/// The derive checks this before anything else, so the first error says what is wrong:
/// "`Question` does not derive `Queryable`" (or `Selectable`) on the struct's name, or "a
/// field of type `i32` cannot hold its column's SQL type `Text`" on the field's type. A
/// missing derive is then the only error: the generated impls assume what was checked
/// instead of failing again in each query. A mismatched field that is written or filtered
/// on may still add Diesel's errors where its value is bound into a query.
///
/// ## Container attributes: `#[consumer(...)]`
///
/// - `resource = "question"`: the name before the dot in `question.create`. Default: the
///   struct's name in snake_case.
/// - `methods(create, retrieve, update, patch, list, delete, subscribe, unsubscribe,
///   invite)`: the methods offered, built-in and custom side by side. Default: `create,
///   retrieve, update, list, delete`. A custom name must be an associated function marked
///   `#[consumer_method]`. `subscribe` and `unsubscribe` are live data (see the runtime's
///   `live` module): the server captures the model's table and pushes events; the types
///   of the `filter(...)` fields must then implement `PartialOrd`, as live queries are
///   evaluated in process.
/// - `read_only(id, pub_date)`: fields never taken from client input, like the field
///   attribute below.
/// - `page_size = 50`, `max_page_size = 1000`: the sizes of `list` pages.
/// - `formatter = BareFormatter`: an expression whose value implements `Formatter`, used
///   for this resource's responses.
/// - `filter(question_text, pub_date)`, `ordering(id, pub_date)`: the fields `list` may
///   filter on (with lookups such as `__gte`) and order by.
/// - `queryset = Question::visible`: a `fn(&Context) -> Result<Scope, ApiError>` whose scope
///   surrounds every read and write of a connection. Build the scope from the typed
///   fields the derive generates (below), so the compiler checks each field and value.
/// - `scope(owner_id)`: the fields the `queryset` constrains besides the primary key and
///   the `filter(...)` fields. Filter code and typed fields are generated for these
///   three sets only, not for every field.
/// - `permission = (IsAuthenticated, CheckObject(Question::owned))`: a `Permission` checked
///   before every method, and on the record for retrieve, update, patch and delete.
/// - `validate = Question::check`: a `fn(&Context, &Payload) -> Result<(), ApiError>` run on
///   each create, update and patch after its fields were read, for rules across fields.
///
/// ## Field attributes: `#[consumer(...)]`
///
/// - `read_only`: never taken from client input (ids, timestamps filled in by the database).
/// - `#[validate(...)]`: the `validator` crate's rules (`length`, `range`, `email`, `url`,
///   `custom(function = ...)`, ...), run on what create, update and patch read. Needs the
///   runtime's `validator` feature and `validator` among your dependencies.
///
/// Also read: `#[diesel(table_name = ..., primary_key(...))]` on the struct and
/// `#[diesel(column_name = ...)]` on a field.
///
/// ## Serde's attributes: input means what serde says
///
/// `create`, `update` and `patch` read their fields through serde itself. The derive
/// generates the input shapes as structs that derive `Deserialize` (through the runtime's
/// re-export), with each field's own `#[serde(...)]` attributes and the container's
/// `rename_all` forwarded onto them, so `rename`, `rename(deserialize = ..)`, `alias`,
/// `default`, `default = "path"` (the function is called), `deserialize_with`, `with` and
/// `skip_deserializing` behave exactly as serde documents them. Each field is read through
/// a one-field shape of its own, so a request with several bad fields gets every field's
/// message at once, under the key it sent.
///
/// ```ignore
/// #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
/// #[diesel(table_name = schema::questions)]
/// #[serde(rename_all = "camelCase")]
/// pub struct Question {
///     #[consumer(read_only)]
///     pub id: i32,
///     #[serde(alias = "text", default = "untitled", deserialize_with = "trimmed")]
///     pub question_text: String,     // sent and read as `questionText`, or read as `text`
///     #[serde(rename(deserialize = "askedAt"), default = "today")]
///     pub pub_date: NaiveDateTime,   // sent as `pubDate`, read as `askedAt`
/// }
/// ```
///
/// The rule for names: **responses use each field's serialize-side name; requests use its
/// deserialize-side name**, and `create`, `update` and `patch` also accept its aliases.
/// Filters (`questionText__icontains`), `ordering`, error keys and the arguments in
/// `api.schema` are request names; `Model::FIELDS` lists response names,
/// `Model::INPUT_KEYS` request keys (a read-only field's response name is a known key
/// too, so a client may send back the object it read). The primary key has one name both
/// ways: a rename that splits it, or an alias on it, is a compile error.
///
/// On `create`, a field serde can fill in (an `Option`, a `default`) may be left out. On
/// `update` a field left out must be one serde can fill in, and is then left unchanged,
/// not reset to its default; on `patch` every field is optional. A nullable field sent as
/// `null` is set to null. `deny_unknown_fields` is not needed: unknown keys are a 400 with
/// a suggestion.
///
/// ## Generated: typed fields
///
/// `Model::fields()` (an inherent function on the model) has one method per field a scope
/// may name (the primary key, `filter(...)` and `scope(...)`) returning a `Field<T>`, with
/// `T` the field's type (the inner type of an `Option`).
/// Its comparisons build a `Scope`:
///
/// ```ignore
/// fn own(ctx: &Context<'_>) -> Result<Scope, ApiError> {
///     let account = ctx.user::<Account>().ok_or_else(|| ApiError::unauthorized("log in"))?;
///     Ok(Scope::all().and(Todo::fields().owner_id().eq(account.id)))
/// }
/// ```
///
/// A misspelled field, or one missing from `scope(...)`, is rustc's own "no method named
/// `ownr_id`" error, and a value of
/// another type says "a field of type `i32` cannot be compared with a value of type
/// `&str`" (both kept under the trybuild tests). A model that defines an inherent
/// `fields` function of its own cannot derive `ModelConsumer`.
///
#[proc_macro_derive(ModelConsumer, attributes(consumer, diesel, validate))]
pub fn derive_model_consumer(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    render::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Marks an associated `async fn` as a custom method of the model's consumer and checks its
/// signature. Its name goes in the consumer's `methods(...)`.
///
/// Marks an associated `async fn` as a custom method. It takes `&Context` and, optionally,
/// an argument of any `Deserialize` type built from the request's payload, and returns
/// `Result<T, ApiError>` with `T: Serialize`.
///
/// The consumer's dispatch calls the function by the name listed in `methods(...)`, so a
/// name with no function behind it is a compile error on that name. A name an edit or two
/// from a built-in's, with no function behind it, says so and suggests the built-in:
/// `methods(retreive)` is "no method `retreive`: did you mean `retrieve`?"; a function of
/// that name, if the model has one, is called as usual. The attribute checks
/// the signature where it is written: each misuse (not `async`, a `self` receiver, a
/// context taken by value, too many arguments, an argument that cannot be deserialized, a
/// result that cannot be serialized) is an error on the offending token.
#[proc_macro_attribute]
pub fn consumer_method(args: TokenStream, item: TokenStream) -> TokenStream {
    method::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
