//! Code generation for `#[derive(ModelConsumer)]`, one module per generated part, as the
//! input is parsed one module per attribute:
//!
//! - [`checks`]: assertions that a model Diesel cannot read fails first, precisely, and
//!   the where-clause that keeps the other parts from failing again on it;
//! - [`filters`]: the filter enum, its parser and the `WHERE` builder of each backend;
//! - [`input`]: the input shapes create, update and patch read, and the functions that
//!   read them;
//! - [`queries`]: the queries of the `Model` impl, one per backend;
//! - [`model_impl`]: the `Model` impl, assembling the three above;
//! - [`consumer`]: the `Consumer` impl: method list and dispatch;
//! - [`schema`]: the resource's `api.schema` description;
//! - [`fields`]: `Model::fields()`, the typed fields scopes are built from;
//! - [`live`]: the `LiveModel` impl of a model that offers `subscribe`: its table and
//!   columns for the change log, the query that decodes row images, and its filters
//!   evaluated in process.
//!
//! A new built-in method is a variant of [`Builtin`](crate::model::Builtin): the compiler
//! then points at each part that must say what it generates for it. A new generated part
//! is a module here, called from [`derive()`].

mod backend;
mod checks;
mod consumer;
mod fields;
mod filters;
mod input;
mod live;
mod model_impl;
mod queries;
mod schema;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::model::Model;

/// The whole expansion of `#[derive(ModelConsumer)]` on `input`.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let model = Model::from_ast(input)?;
    let checks = checks::render(&model);
    let model_impl = model_impl::render(&model);
    let consumer_impl = consumer::render(&model);
    let fields_impl = fields::render(&model);
    let live_impl = live::render(&model);
    Ok(quote! {
        const _: () = {
            #[allow(unused_imports)]
            use ::channels_api::__private::diesel::{
                ExpressionMethods as _, OptionalExtension as _, QueryDsl as _,
                RunQueryDsl as _,
            };
            #checks
            #model_impl
            #consumer_impl
            #fields_impl
            #live_impl
        };
    })
}
