//! Checks that come first in the expansion, so that a model Diesel cannot read is one
//! precise error before any other: a field whose type does not match its column, spanned
//! on the field, and a missing `Queryable` or `Selectable` derive, spanned on the name.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::backend::Backend;
use crate::model::Model;

/// The assertions, in a closure that is never called.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let table = &model.table;
    let sql_type = |column: &syn::Ident| quote!(__cp::diesel::dsl::SqlTypeOf<#table::#column>);
    // A field's type may map on one backend and not on another: checked on each the
    // runtime was built with.
    let fields = Backend::ALL.iter().map(|backend| {
        let db = backend.ty();
        let gate = match backend {
            Backend::Postgres => quote!(__cp::if_postgres!),
            Backend::Sqlite => quote!(__cp::if_sqlite!),
        };
        let checks = model.fields.iter().map(move |f| {
            let ty = f.ty;
            let st = sql_type(&f.column);
            quote_spanned! {ty.span()=>
                __cp::assert_field::<#ty, #st, #db>();
            }
        });
        quote!(#gate { #( #checks )* })
    });
    // A missing derive is missing on every backend: checked on one, one error.
    let row = model.fields.iter().map(|f| sql_type(&f.column));
    let derives = quote_spanned! {ident.span()=>
        __cp::assert_model::<#ident, ( #( #row, )* ), __cp::FirstBackend>();
    };
    quote! {
        const _: fn() = || {
            #( #fields )*
            #derives
        };
    }
}
