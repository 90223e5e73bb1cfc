//! The derive and attribute macros of `channels-api`. Use them through the runtime crate,
//! which re-exports them: `use channels_api::prelude::*;`.
//!
//! # `#[derive(ModelConsumer)]`
//!
//! Serves a Diesel model as a resource. The model must name its table with
//! `#[diesel(table_name = ...)]` and derive `Queryable`, `Selectable` and `Serialize`.
//!
//! ## Container attributes: `#[consumer(...)]`
//!
//! - `resource = "question"`: the name before the dot in `question.create`. Default: the
//!   struct's name in snake_case.
//! - `methods(create, retrieve, update, patch, list, delete, invite)`: the methods offered,
//!   built-in and custom side by side. Default: `create, retrieve, update, list, delete`.
//!   A custom name must be an associated function marked `#[consumer_method]`.
//! - `read_only(id, pub_date)`: fields never taken from client input, like the field
//!   attribute below.
//! - `page_size = 50`, `max_page_size = 1000`: the sizes of `list` pages.
//! - `formatter = BareFormatter`: an expression whose value implements `Formatter`, used
//!   for this resource's responses.
//! - `filter(question_text, pub_date)`, `ordering(id, pub_date)`: the fields `list` may
//!   filter on (with lookups such as `__gte`) and order by.
//! - `queryset = Question::visible`: a `fn(&Context) -> Result<Scope, ApiError>` whose scope
//!   surrounds every read and write of a connection.
//! - `permission = (IsAuthenticated, CheckObject(Question::owned))`: a `Permission` checked
//!   before every method, and on the record for retrieve, update, patch and delete.
//! - `validate = Question::check`: a `fn(&Context, &Payload) -> Result<(), ApiError>` run on
//!   each create, update and patch after its fields were read, for rules across fields.
//!
//! ## Field attributes: `#[consumer(...)]`
//!
//! - `read_only`: never taken from client input (ids, timestamps filled in by the database).
//! - `#[validate(...)]`: the `validator` crate's rules (`length`, `range`, `email`, `url`,
//!   `custom(function = ...)`, ...), run on what create, update and patch read. Needs the
//!   runtime's `validator` feature and `validator` among your dependencies.
//!
//! Also read: `#[diesel(table_name = ..., primary_key(...))]` on the struct,
//! `#[diesel(column_name = ...)]` on a field, and a field's `#[serde(rename = "...")]` (its
//! name on the wire) and `#[serde(default)]` (optional on create, `Default::default()`
//! when missing).
//!
//! # `#[consumer_method]`
//!
//! Marks an associated `async fn` as a custom method. It takes `&Context` and, optionally,
//! an argument of any `Deserialize` type built from the request's payload, and returns
//! `Result<T, ApiError>` with `T: Serialize`.
//!
//! The consumer's dispatch calls the function by the name listed in `methods(...)`, so a
//! name with no function behind it is a compile error on that name. The attribute checks
//! the signature where it is written: each misuse (not `async`, a `self` receiver, a
//! context taken by value, too many arguments, an argument that cannot be deserialized, a
//! result that cannot be serialized) is an error on the offending token.

mod attr;
mod ctxt;
mod expand;
mod method;
mod model;

use proc_macro::TokenStream;

/// Serves a Diesel model as a resource of the WebSocket API. See the crate documentation
/// for its attributes.
#[proc_macro_derive(ModelConsumer, attributes(consumer, diesel, validate))]
pub fn derive_model_consumer(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Marks an associated `async fn` as a custom method of the model's consumer and checks its
/// signature. Its name goes in the consumer's `methods(...)`.
#[proc_macro_attribute]
pub fn consumer_method(args: TokenStream, item: TokenStream) -> TokenStream {
    method::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
