//! The model's filters: the `__Filter` enum (one variant per field and lookup), its parser,
//! and the function of each backend that turns filters into a `WHERE` expression
//! (`__where_pg`, `__where_sqlite`).

use proc_macro2::TokenStream;
use quote::quote;

use super::backend::Backend;
use crate::model::{Field, Model, json_type, option_inner};

/// The lookups a field supports: the variant suffix (also the runtime's `Lookup`
/// variant) and the name a request writes after `__`.
pub(super) fn lookups(field: &Field<'_>) -> Vec<(&'static str, &'static str)> {
    let mut lookups = vec![
        ("Exact", "exact"),
        ("Gt", "gt"),
        ("Gte", "gte"),
        ("Lt", "lt"),
        ("Lte", "lte"),
        ("In", "in"),
        ("IsNull", "isnull"),
    ];
    if json_type(field.ty) == ("string", None) {
        lookups.push(("Contains", "contains"));
        lookups.push(("IContains", "icontains"));
    }
    lookups
}

pub(super) fn variant(index: usize, lookup: &str) -> syn::Ident {
    quote::format_ident!("F{}{}", index, lookup)
}

/// The model's filter enum, its parser, and one `WHERE` builder per backend.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
    let table = &model.table;
    let mut variants = Vec::new();
    let mut parse_arms = Vec::new();
    let mut where_arms = [Vec::new(), Vec::new()];
    for (index, field) in model.filterable() {
        let inner = option_inner(field.ty).unwrap_or(field.ty);
        let wire = &field.input;
        let column = &field.column;
        let col = quote!(#table::#column);
        let nn = if field.nullable {
            quote!()
        } else {
            quote!(.nullable())
        };
        for (name, _) in lookups(field) {
            let variant = variant(index, name);
            let lookup_ident = quote::format_ident!("{}", name);
            let value_ty = match name {
                "In" => quote!(::std::vec::Vec<#inner>),
                "IsNull" => quote!(bool),
                "Contains" | "IContains" => quote!(::std::string::String),
                _ => quote!(#inner),
            };
            variants.push(quote!(#variant(#value_ty)));
            parse_arms.push(quote! {
                (#wire, __cp::Lookup::#lookup_ident) => {
                    __cp::filter_value::<#value_ty>(raw).map(__Filter::#variant)
                }
            });
            for (slot, backend) in Backend::ALL.iter().enumerate() {
                let expr = match (name, backend) {
                    ("Exact", _) => quote!(__cp::Box::new(#col.eq(__v.clone())#nn)),
                    ("Gt", _) => quote!(__cp::Box::new(#col.gt(__v.clone())#nn)),
                    ("Gte", _) => quote!(__cp::Box::new(#col.ge(__v.clone())#nn)),
                    ("Lt", _) => quote!(__cp::Box::new(#col.lt(__v.clone())#nn)),
                    ("Lte", _) => quote!(__cp::Box::new(#col.le(__v.clone())#nn)),
                    ("In", _) => quote!(__cp::Box::new(#col.eq_any(__v.clone())#nn)),
                    ("IsNull", _) => quote! {
                        if *__v {
                            __cp::Box::new(#col.is_null().nullable())
                        } else {
                            __cp::Box::new(#col.is_not_null().nullable())
                        }
                    },
                    ("Contains", Backend::Postgres) => quote! {
                        __cp::Box::new(#col.like(__cp::contains_pattern(__v)).escape('\\')#nn)
                    },
                    ("Contains", Backend::Sqlite) => {
                        let haystack = if field.nullable {
                            col.clone()
                        } else {
                            quote!(#col.nullable())
                        };
                        quote!(__cp::Box::new(__cp::instr(#haystack, __v.clone()).gt(0)))
                    }
                    ("IContains", Backend::Postgres) => quote! {
                        __cp::Box::new(#col.ilike(__cp::contains_pattern(__v)).escape('\\')#nn)
                    },
                    _ => quote! {
                        __cp::Box::new(#col.like(__cp::contains_pattern(__v)).escape('\\')#nn)
                    },
                };
                where_arms[slot].push(quote!(__Filter::#variant(__v) => #expr,));
            }
        }
        parse_arms.push(quote!((#wire, _) => __cp::Result::Err(__cp::FilterError::Lookup),));
    }
    // Each builder only where the runtime has its backend (`if_postgres!`, `if_sqlite!`).
    let where_fns = Backend::ALL.iter().zip(where_arms).map(|(backend, arms)| {
        let name = backend.where_fn();
        let db = backend.ty();
        let (gate, uses) = match backend {
            Backend::Postgres => (
                quote!(__cp::if_postgres!),
                quote! {
                    #[allow(unused_imports)]
                    use ::channels_api::__private::diesel::PgTextExpressionMethods as _;
                },
            ),
            Backend::Sqlite => (quote!(__cp::if_sqlite!), quote!()),
        };
        quote! { #gate {
            fn #name(
                filters: &[__Filter],
            ) -> __cp::Option<
                __cp::Box<
                    dyn __cp::diesel::BoxableExpression<
                        #table::table,
                        #db,
                        SqlType = __cp::diesel::sql_types::Nullable<__cp::diesel::sql_types::Bool>,
                    >,
                >,
            > {
                #uses
                let mut __out: __cp::Option<__cp::Box<dyn __cp::diesel::BoxableExpression<
                    #table::table,
                    #db,
                    SqlType = __cp::diesel::sql_types::Nullable<__cp::diesel::sql_types::Bool>,
                >>> = __cp::Option::None;
                for __filter in filters {
                    let __next: __cp::Box<dyn __cp::diesel::BoxableExpression<
                        #table::table,
                        #db,
                        SqlType = __cp::diesel::sql_types::Nullable<__cp::diesel::sql_types::Bool>,
                    >> = match __filter {
                        #( #arms )*
                    };
                    __out = __cp::Option::Some(match __out {
                        __cp::Option::None => __next,
                        __cp::Option::Some(__prev) => __cp::Box::new(__prev.and(__next)),
                    });
                }
                __out
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
                match (field, lookup) {
                    #( #parse_arms )*
                    _ => __cp::Result::Err(__cp::FilterError::UnknownField),
                }
            }
        }

        #( #where_fns )*
    }
}
