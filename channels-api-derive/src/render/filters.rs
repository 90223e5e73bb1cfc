//! The model's filters: the `__Filter` enum (one variant per filterable field, holding the
//! runtime's `Compare` of the field's type), its parser, and the function of each backend
//! that turns filters into a `WHERE` expression (`__where_pg`, `__where_sqlite`). What each
//! lookup means is written once, in the runtime's `Compare`.

use proc_macro2::TokenStream;
use quote::quote;

use super::backend::Backend;
use crate::model::{Field, Model, json_type, option_inner};

/// Whether a field is text, the only kind with the `contains` and `icontains` lookups.
pub(super) fn is_text(field: &Field<'_>) -> bool {
    json_type(field.ty) == ("string", None)
}

/// The lookups a field supports, as a request writes them after `__`.
pub(super) fn lookups(field: &Field<'_>) -> Vec<&'static str> {
    let mut lookups = vec!["exact", "gt", "gte", "lt", "lte", "in", "isnull"];
    if is_text(field) {
        lookups.extend(["contains", "icontains"]);
    }
    lookups
}

/// The `__Filter` variant of the field at `index`.
pub(super) fn variant(index: usize) -> syn::Ident {
    quote::format_ident!("F{}", index)
}

/// The model's filter enum, its parser, and one `WHERE` builder per backend.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
    let table = &model.table;
    let mut variants = Vec::new();
    let mut parse_arms = Vec::new();
    let mut where_arms = Vec::new();
    for (index, field) in model.filterable() {
        let inner = option_inner(field.ty).unwrap_or(field.ty);
        let wire = &field.input;
        let column = &field.column;
        let variant = variant(index);
        let text = is_text(field);
        // Values are bound as the field's own type (an `Option` for a nullable column),
        // which the builders' where-clause assumes can be bound.
        let wrap = if field.nullable {
            quote!(__cp::Option::Some)
        } else {
            quote!(::std::convert::identity)
        };
        variants.push(quote!(#variant(__cp::Compare<#inner>)));
        parse_arms.push(quote! {
            #wire => __cp::Compare::parse(lookup, raw, #text).map(__Filter::#variant),
        });
        where_arms.push(quote!(__Filter::#variant(__c) => __c.condition(#table::#column, #wrap),));
    }
    let binds = super::checks::binds(model);
    // Each builder only where the runtime has its backend (`if_postgres!`, `if_sqlite!`).
    let where_fns = Backend::ALL.iter().map(|backend| {
        let name = backend.where_fn();
        let db = backend.ty();
        let gate = match backend {
            Backend::Postgres => quote!(__cp::if_postgres!),
            Backend::Sqlite => quote!(__cp::if_sqlite!),
        };
        quote! { #gate {
            fn #name(filters: &[__Filter]) -> __cp::Option<__cp::Where<#table::table, #db>>
            where
                #binds
            {
                __cp::all_of(filters, |__filter| match __filter {
                    #( #where_arms )*
                })
            }
        }}
    });
    quote! {
        #[doc(hidden)]
        #[derive(Clone, Debug)]
        pub enum __Filter {
            #( #variants, )*
        }

        #[automatically_derived]
        impl __cp::Filters for __Filter {
            fn parse(
                field: &str,
                lookup: __cp::Lookup,
                raw: &__cp::RawValue,
            ) -> __cp::Result<Self, __cp::FilterError> {
                match field {
                    #( #parse_arms )*
                    _ => __cp::Result::Err(__cp::FilterError::UnknownField),
                }
            }
        }

        #( #where_fns )*
    }
}
