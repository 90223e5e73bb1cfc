//! The queries of the `Model` impl (`insert`, `find`, `update`, `delete`, `list`), each
//! compiled once per backend, with the scope's and the request's filters.

use proc_macro2::TokenStream;
use quote::quote;

use super::backend::per_backend;
use crate::model::{Field, Model};

/// The `Model` functions that query the database.
pub(super) fn methods(model: &Model<'_>) -> TokenStream {
    let table = &model.table;
    let pk = model.pk();
    let pk_ty = pk.ty;
    let pk_col = &pk.column;
    // Values are bound through `__cp::bind`, which asks of their types only what the
    // impl's where-clause assumes (see `Bind`).
    let pk_eq = quote!(#table::#pk_col.eq(__cp::bind(#table::#pk_col, pk)));
    let writable_fields: Vec<&Field<'_>> = model.writable().collect();
    let changeable_fields: Vec<&Field<'_>> = model.changeable().collect();
    let new_idents: Vec<_> = writable_fields.iter().map(|f| f.ident).collect();
    let change_idents: Vec<_> = changeable_fields.iter().map(|f| f.ident).collect();
    let column = |f: &&Field<'_>| {
        let column = &f.column;
        quote!(#table::#column)
    };
    let new_columns: Vec<_> = writable_fields.iter().map(column).collect();
    let change_columns: Vec<_> = changeable_fields.iter().map(column).collect();

    let insert = per_backend(|backend| {
        let returning = backend.as_returning();
        if writable_fields.is_empty() {
            quote! {
                __cp::diesel::insert_into(#table::table)
                    .default_values()
                    .returning(#returning)
                    .get_result(__conn)
            }
        } else {
            quote! {
                __cp::diesel::insert_into(#table::table)
                    .values(( #( #new_columns.eq(__cp::bind(#new_columns, record.#new_idents)), )* ))
                    .returning(#returning)
                    .get_result(__conn)
            }
        }
    });

    // `get_result`, not `first`: the key is unique, and `first`'s bound `LIMIT ?` makes
    // SQLite re-prepare the statement on every call.
    let find = per_backend(|backend| {
        let where_fn = backend.where_fn();
        let select = backend.as_select();
        quote! {
            match #where_fn(scope) {
                __cp::Option::None => #table::table
                    .filter(#pk_eq)
                    .select(#select)
                    .get_result(__conn)
                    .optional(),
                __cp::Option::Some(__scope) => #table::table
                    .filter(#pk_eq)
                    .filter(__scope)
                    .select(#select)
                    .get_result(__conn)
                    .optional(),
            }
        }
    });

    let update = if changeable_fields.is_empty() {
        quote!(<Self as __cp::Model>::find(conn, pk, scope))
    } else {
        let values: Vec<_> = changeable_fields
            .iter()
            .map(|f| quote::format_ident!("__v_{}", f.ident))
            .collect();
        per_backend(|backend| {
            let where_fn = backend.where_fn();
            let returning = backend.as_returning();
            let finish = quote! {
                .returning(#returning)
                .get_result(__conn)
                .optional()
            };
            let target = quote!(#table::table.filter(#pk_eq));
            quote! {
                match #where_fn(scope) {
                    // Every field set (an update): a statement of one shape per model, kept
                    // prepared (Diesel prepares every UPDATE anew, since a changeset's SQL
                    // may change with its values); one of options is prepared each time.
                    __cp::Option::None => match ( #( changes.#change_idents, )* ) {
                        ( #( __cp::Option::Some(#values), )* ) => __cp::prepared::<__cp::UpdateOf<Self>, _>(
                            __cp::diesel::update(#target)
                                .set(( #( #change_columns.eq(__cp::bind(#change_columns, #values)), )* ))
                                .returning(#returning),
                        )
                        .get_result(__conn)
                        .optional(),
                        ( #( #values, )* ) => __cp::diesel::update(#target)
                            .set(( #( #values.map(|__value| #change_columns.eq(__cp::bind(#change_columns, __value))), )* ))
                            #finish,
                    },
                    __cp::Option::Some(__scope) => __cp::diesel::update(#target.filter(__scope))
                        .set(( #( changes.#change_idents.map(|__value| #change_columns.eq(__cp::bind(#change_columns, __value))), )* ))
                        #finish,
                }
            }
        })
    };

    let delete = per_backend(|backend| {
        let where_fn = backend.where_fn();
        quote! {
            match #where_fn(scope) {
                __cp::Option::None => __cp::diesel::delete(
                    #table::table.filter(#pk_eq),
                )
                .execute(__conn)
                .map(|n| n > 0),
                __cp::Option::Some(__scope) => __cp::diesel::delete(
                    #table::table.filter(#pk_eq).filter(__scope),
                )
                .execute(__conn)
                .map(|n| n > 0),
            }
        }
    });

    let order_arms: Vec<_> = model
        .ordering
        .iter()
        .map(|&index| {
            let field = &model.fields[index];
            let wire = &field.input;
            let column = &field.column;
            quote! {
                (#wire, false) => __order.push(__cp::Box::new(#table::#column.asc())),
                (#wire, true) => __order.push(__cp::Box::new(#table::#column.desc())),
            }
        })
        .collect();
    let list = per_backend(|backend| {
        let where_fn = backend.where_fn();
        let select = backend.as_select();
        let db = backend.ty();
        let plain_page = backend.page(quote!(__ordered.select(#select)));
        let counted_page = backend.page(quote! {
            __ordered.select((
                __all.select(__cp::diesel::dsl::count_star()).single_value(),
                #select,
            ))
        });
        let filtered_page = backend.page(quote!(__query.order(__cp::OrderList(__order))));
        quote! {
            if query.filters.is_empty() && query.ordering.is_empty() {
                let __ordered = #table::table.order(#table::#pk_col.asc());
                if !query.count {
                    let __rows = #plain_page.load(__conn)?;
                    return __cp::Result::Ok((__cp::Option::None, __rows));
                }
                // The count rides along with the page: one statement, not two.
                __cp::diesel::alias!(#table as __all: __All);
                let __rows: __cp::Vec<(__cp::Option<i64>, Self)> = #counted_page.load(__conn)?;
                let __count = match __rows.first() {
                    __cp::Option::Some((__count, _)) => __count.unwrap_or_default(),
                    // A page past the end has no row to carry it.
                    __cp::Option::None => #table::table.count().get_result::<i64>(__conn)?,
                };
                let __rows = __rows.into_iter().map(|(_, __row)| __row).collect();
                return __cp::Result::Ok((__cp::Option::Some(__count), __rows));
            }
            let mut __query = #table::table.select(#select).into_boxed();
            if let __cp::Option::Some(__where) = #where_fn(&query.filters) {
                __query = __query.filter(__where);
            }
            let mut __order: __cp::Vec<
                __cp::Box<dyn __cp::diesel::query_builder::QueryFragment<#db> + Send>,
            > = __cp::Vec::with_capacity(query.ordering.len() + 1);
            for __key in &query.ordering {
                #[allow(unreachable_patterns)]
                match (__key.field, __key.descending) {
                    #( #order_arms )*
                    _ => {}
                }
            }
            __order.push(__cp::Box::new(#table::#pk_col.asc()));
            let __rows = #filtered_page.load(__conn)?;
            let __count = if query.count {
                let mut __count = #table::table.count().into_boxed();
                if let __cp::Option::Some(__where) = #where_fn(&query.filters) {
                    __count = __count.filter(__where);
                }
                __cp::Option::Some(__count.get_result::<i64>(__conn)?)
            } else {
                __cp::Option::None
            };
            __cp::Result::Ok((__count, __rows))
        }
    });

    quote! {
        fn insert(
            conn: &mut __cp::DbConnection,
            record: __NewRecord,
        ) -> __cp::QueryResult<Self> {
            #insert
        }

        fn find(
            conn: &mut __cp::DbConnection,
            pk: &#pk_ty,
            scope: &[__Filter],
        ) -> __cp::QueryResult<__cp::Option<Self>> {
            #find
        }

        fn update(
            conn: &mut __cp::DbConnection,
            pk: &#pk_ty,
            changes: __Changes,
            scope: &[__Filter],
        ) -> __cp::QueryResult<__cp::Option<Self>> {
            #update
        }

        fn delete(
            conn: &mut __cp::DbConnection,
            pk: &#pk_ty,
            scope: &[__Filter],
        ) -> __cp::QueryResult<bool> {
            #delete
        }

        fn list(
            conn: &mut __cp::DbConnection,
            query: &__cp::ListQuery<__Filter>,
        ) -> __cp::QueryResult<(__cp::Option<i64>, __cp::Vec<Self>)> {
            #list
        }
    }
}
