//! Checks that come first in the expansion, so that a model Diesel cannot read is one
//! precise error: a field whose type does not match its column, spanned on the field, and
//! a missing `Queryable` or `Selectable` derive, spanned on the name.
//!
//! The generated impls assume what these checks check ([`bounds`]), so that a model they
//! reject is not rejected again in every query the impls build.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Field, Model};

/// The SQL type of a field's column.
fn sql_type(model: &Model<'_>, field: &Field<'_>) -> TokenStream {
    let table = &model.table;
    let column = &field.column;
    quote!(__cp::diesel::dsl::SqlTypeOf<#table::#column>)
}

/// The SQL types of the model's columns, the row its `Queryable` reads.
fn row(model: &Model<'_>) -> TokenStream {
    let types = model.fields.iter().map(|f| sql_type(model, f));
    quote!(( #( #types, )* ))
}

/// The model's columns, what its `Selectable` selects.
fn columns(model: &Model<'_>) -> TokenStream {
    let table = &model.table;
    let columns = model.fields.iter().map(|f| &f.column);
    quote!(( #( #table::#columns, )* ))
}

/// Whether queries bind values of field `index`: it is written, or filtered on.
fn is_bound(model: &Model<'_>, index: usize) -> bool {
    !model.fields[index].read_only || model.is_filterable(index)
}

/// The assertions: each field's type against its column, in a closure that is never
/// called, then the model's derives.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    // Checked on every backend the runtime was built with at once: one error per field.
    let fields = model.fields.iter().enumerate().map(|(index, f)| {
        let ty = f.ty;
        let st = sql_type(model, f);
        let assert = if is_bound(model, index) {
            quote!(assert_stored_field)
        } else {
            quote!(assert_field)
        };
        quote_spanned! {ty.span()=>
            __cp::#assert::<#ty, #st>();
        }
    });
    let holds = holds(model);
    let row = row(model);
    let columns = columns(model);
    let derives = quote_spanned! {ident.span()=>
        __cp::assert_model::<#ident, #row, #columns>();
    };
    quote! {
        const _: fn() = || {
            #( #fields )*
        };
        // Assuming the fields' types, checked above: a derived `Queryable` that fails on
        // a mismatched field is that field's error only.
        #[allow(dead_code)]
        fn __check_derives()
        where
            #holds
        {
            #derives
        }
    }
}

/// That the model's field types hold a row of its columns' SQL types, as its derived
/// `Queryable` reads them: what [`render`] checks field by field, as a where-clause
/// predicate under `for<'__b>`.
fn holds(model: &Model<'_>) -> TokenStream {
    let types = model.fields.iter().map(|f| f.ty);
    let row = row(model);
    quote!(for<'__b> ( #( #types, )* ): __cp::HoldsRow<#row>,)
}

/// The where-clause of the generated impls: that the model derives what [`render`]
/// checks, and that its fields hold their columns. Under `for<'__b>`, a
/// predicate is not checked where it is written, only where the impl is used, and the body
/// is checked assuming it: the impls of a model the checks reject apply nowhere, instead
/// of failing in each query that reads its rows. Where an impl proves a predicate (the
/// model is correct), rustc prefers the impl, so correct code is checked as before.
pub(super) fn bounds(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let row = row(model);
    let columns = columns(model);
    let holds = holds(model);
    let binds = binds(model);
    quote! {
        where
            for<'__b> #ident: __cp::DerivesQueryable<#row> + __cp::DerivesSelectable<#columns>,
            #holds
            #binds
    }
}

/// That the types of the fields queries bind can be bound as their columns' SQL types, as
/// [`render`] checks: where-clause predicates under `for<'__b>`, for the impls and the
/// `WHERE` builders, whose queries bind values through `__cp::bind`.
pub(super) fn binds(model: &Model<'_>) -> TokenStream {
    let predicates = model
        .fields
        .iter()
        .enumerate()
        .filter(|&(index, _)| is_bound(model, index))
        .map(|(_, f)| {
            let ty = f.ty;
            let st = sql_type(model, f);
            quote!(for<'__b> #ty: __cp::BindsColumn<#st>,)
        });
    quote!( #( #predicates )* )
}
