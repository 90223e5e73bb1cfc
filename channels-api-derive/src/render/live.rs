//! The `LiveModel` impl of a model that offers `subscribe`: its table and columns for
//! the change log's triggers, the query that decodes row images, and its filters
//! evaluated in process on a row.

use proc_macro2::TokenStream;
use quote::quote;

use super::backend::{Backend, per_backend};
use super::filters::{is_text, variant};
use crate::model::{Builtin, Method, Model};

/// Whether the model offers live data.
fn is_live(model: &Model<'_>) -> bool {
    model.methods.iter().any(|m| {
        matches!(
            m,
            Method::Builtin(Builtin::Subscribe | Builtin::Unsubscribe, _)
        )
    })
}

/// `impl LiveModel`, or nothing for a model without `subscribe`.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
    if !is_live(model) {
        return TokenStream::new();
    }
    let ident = model.ident;
    let bounds = super::checks::bounds(model);
    let table = &model.table;
    let table_name = table
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let columns: Vec<_> = model
        .fields
        .iter()
        .map(|f| {
            let column = &f.column;
            quote!(<#table::#column as __cp::diesel::Column>::NAME)
        })
        .collect();
    let sql_types: Vec<_> = model
        .fields
        .iter()
        .map(|f| {
            let column = &f.column;
            quote!(<#table::#column as __cp::diesel::Expression>::SqlType)
        })
        .collect();
    let decode = per_backend(|backend| {
        let (head, tail) = match backend {
            Backend::Sqlite => (
                quote!(__cp::live_select_sqlite(<Self as __cp::LiveModel>::COLUMNS)),
                quote!(") ORDER BY key"),
            ),
            Backend::Postgres => (
                quote!(__cp::live_select_pg(
                    <Self as __cp::LiveModel>::TABLE,
                    <Self as __cp::LiveModel>::COLUMNS
                )),
                quote!("::jsonb) WITH ORDINALITY AS __e(value, ord)) __s ORDER BY ord"),
            ),
        };
        quote! {
            let __head = #head;
            __cp::diesel::select(
                __cp::diesel::dsl::sql::<( #( #sql_types, )* )>(&__head)
                    .bind::<__cp::diesel::sql_types::Text, _>(images)
                    .sql(#tail),
            )
            .load::<Self>(__conn)
        }
    });

    let arms = model.filterable().map(|(index, field)| {
        let name = field.ident;
        let v = variant(index);
        let value = if field.nullable {
            quote!(self.#name.as_ref())
        } else {
            quote!(__cp::Option::Some(&self.#name))
        };
        let text = if is_text(field) {
            quote!(__cp::as_text)
        } else {
            quote!(__cp::not_text)
        };
        quote!(__Filter::#v(__c) => __c.matches(#value, #text),)
    });
    let pk = model.pk().ident;
    quote! {
        #[automatically_derived]
        impl __cp::LiveModel for #ident #bounds {
            const TABLE: &'static str = #table_name;
            const COLUMNS: &'static [&'static str] = &[ #( #columns ),* ];

            fn decode_images(
                conn: &mut __cp::DbConnection,
                images: &str,
            ) -> __cp::QueryResult<__cp::Vec<Self>> {
                #decode
            }

            fn matches(&self, filters: &[__Filter]) -> bool {
                filters.iter().all(|__filter| match __filter {
                    #( #arms )*
                })
            }

            fn key(&self) -> <Self as __cp::Model>::Pk {
                ::std::clone::Clone::clone(&self.#pk)
            }
        }
    }
}

/// The `live_table` function of the `Consumer` impl, for a model with `subscribe`.
pub(super) fn render_live_table(model: &Model<'_>) -> TokenStream {
    if !is_live(model) {
        return TokenStream::new();
    }
    quote! {
        fn live_table() -> __cp::Option<(&'static str, &'static [&'static str])> {
            __cp::Option::Some((
                <Self as __cp::LiveModel>::TABLE,
                <Self as __cp::LiveModel>::COLUMNS,
            ))
        }
    }
}
