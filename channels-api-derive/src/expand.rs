//! Code generation for `#[derive(ModelConsumer)]`: the `Model` impl (input shapes and one
//! query per backend) and the `Consumer` impl (method list and dispatch).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use crate::model::{Builtin, Field, Method, Model, json_type, option_inner};

pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let model = Model::from_ast(input)?;
    let model_impl = expand_model(&model);
    let consumer_impl = expand_consumer(&model);
    let fields_impl = expand_fields(&model);
    let live_impl = crate::live::expand_live(&model);
    Ok(quote! {
        const _: () = {
            #[allow(unused_imports)]
            use ::channels_api::__private::diesel::{
                ExpressionMethods as _, OptionalExtension as _, QueryDsl as _,
                RunQueryDsl as _, SelectableHelper as _,
            };
            #model_impl
            #consumer_impl
            #fields_impl
            #live_impl
        };
    })
}

/// `let mut __f_x = None;` for each field.
fn declare_locals(fields: &[&Field<'_>]) -> TokenStream {
    let locals = fields.iter().map(|f| local(f));
    let tys = fields.iter().map(|f| f.ty);
    quote!(#( let mut #locals: __cp::Option<#tys> = __cp::Option::None; )*)
}

/// The derive and container attributes of a generated input shape: serde's derive through
/// the runtime's re-export, with the model's deserialize-side `rename_all`. No
/// `deny_unknown_fields`: unknown keys are reported by the runtime, with suggestions.
fn input_shape_attrs(model: &Model<'_>) -> TokenStream {
    let rename_all = model
        .rename_all
        .as_ref()
        .map(|rule| quote!(#[serde(rename_all(deserialize = #rule))]));
    quote! {
        #[derive(__cp::serde::Deserialize)]
        #[serde(crate = "::channels_api::__private::serde")]
        #rename_all
    }
}

/// The name of the one-field input shape of field `index`.
fn input_shape(index: usize) -> syn::Ident {
    quote::format_ident!("__Input{}", index)
}

/// One struct per writable field, holding that field alone with its own serde attributes,
/// so serde reads each field as it would in the model and its errors are collected field
/// by field.
fn input_shapes(model: &Model<'_>, fields: &[(usize, &Field<'_>)]) -> TokenStream {
    let attrs = input_shape_attrs(model);
    let shapes = fields.iter().map(|(index, f)| {
        let name = input_shape(*index);
        let ident = f.ident;
        let ty = f.ty;
        let serde = &f.serde;
        quote! {
            #attrs
            struct #name {
                #( #serde )*
                #ident: #ty,
            }
        }
    });
    quote!(#( #shapes )*)
}

/// Reads each field not pinned by the scope through its one-field shape, collecting every
/// error in `__errors`.
fn read_fields(
    fields: &[(usize, &Field<'_>)],
    pinned: &[syn::Ident],
    mode: TokenStream,
) -> TokenStream {
    let reads = fields.iter().zip(pinned).map(|((index, f), pinned)| {
        let local = local(f);
        let shape = input_shape(*index);
        let ident = f.ident;
        quote! {
            if !#pinned {
                #local = __cp::read_field::<#shape>(payload, #mode, &mut __errors)
                    .map(|__shape| __shape.#ident);
            }
        }
    });
    quote!(#( #reads )*)
}

fn local(field: &Field<'_>) -> syn::Ident {
    quote::format_ident!("__f_{}", field.ident)
}

/// The two backends, as the generated code names them.
#[derive(Clone, Copy)]
pub(crate) enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    const ALL: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];

    fn ty(self) -> TokenStream {
        match self {
            Backend::Postgres => quote!(__cp::diesel::pg::Pg),
            Backend::Sqlite => quote!(__cp::diesel::sqlite::Sqlite),
        }
    }

    /// The function that turns filters into a `WHERE` expression on this backend.
    fn where_fn(self) -> syn::Ident {
        match self {
            Backend::Postgres => quote::format_ident!("__where_pg"),
            Backend::Sqlite => quote::format_ident!("__where_sqlite"),
        }
    }
}

/// `match conn { Postgres(__conn) => body, Sqlite(__conn) => body }`: each query compiled
/// against the concrete connection, where Diesel caches its prepared statement. The match
/// is written by the runtime's `per_backend!`, which keeps the arms of the backends the
/// runtime was built with (its features), so a backend left out costs no generated code.
pub(crate) fn per_backend(body: impl Fn(Backend) -> TokenStream) -> TokenStream {
    let postgres = body(Backend::Postgres);
    let sqlite = body(Backend::Sqlite);
    quote! {
        __cp::per_backend!(match conn as __conn {
            postgres => { #postgres }
            sqlite => { #sqlite }
        })
    }
}

/// The lookups a field supports: the variant suffix (also the runtime's `Lookup`
/// variant) and the name a request writes after `__`.
pub(crate) fn lookups(field: &Field<'_>) -> Vec<(&'static str, &'static str)> {
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

pub(crate) fn variant(index: usize, lookup: &str) -> syn::Ident {
    quote::format_ident!("F{}{}", index, lookup)
}

/// The model's filter enum, its parser, and one `WHERE` builder per backend.
fn expand_filters(model: &Model<'_>) -> TokenStream {
    let table = &model.table;
    let mut variants = Vec::new();
    let mut parse_arms = Vec::new();
    let mut where_arms = [Vec::new(), Vec::new()];
    for (index, field) in model.fields.iter().enumerate() {
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

/// Sets the locals of fields that an equality of the scope pins, before the payload is
/// read; returns the flags that make the payload's values for them ignored.
fn pin_fields(fields: &[(usize, &Field<'_>)]) -> (TokenStream, Vec<syn::Ident>) {
    let flags: Vec<_> = fields
        .iter()
        .map(|(_, f)| quote::format_ident!("__pinned_{}", f.ident))
        .collect();
    let arms = fields.iter().map(|(index, f)| {
        let local = local(f);
        let variant = variant(*index, "Exact");
        let value = if f.nullable {
            quote!(__cp::Option::Some(__cp::Option::Some(__v.clone())))
        } else {
            quote!(__cp::Option::Some(__v.clone()))
        };
        quote!(__Filter::#variant(__v) => #local = #value,)
    });
    let locals = fields.iter().map(|(_, f)| local(f));
    let tokens = quote! {
        for __filter in scope {
            #[allow(unreachable_patterns)]
            match __filter {
                #( #arms )*
                _ => {}
            }
        }
        #( let #flags = #locals.is_some(); )*
    };
    (tokens, flags)
}

fn expand_model(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let table = &model.table;
    let pk = model.pk();
    let pk_ty = pk.ty;
    let pk_col = &pk.column;
    let pk_wire = &pk.input;

    let indexed = |f: &Field<'_>| {
        model
            .fields
            .iter()
            .position(|g| g.ident == f.ident)
            .unwrap_or_default()
    };
    let writable: Vec<(usize, &Field<'_>)> = model.writable().map(|f| (indexed(f), f)).collect();
    let changeable: Vec<(usize, &Field<'_>)> =
        model.changeable().map(|f| (indexed(f), f)).collect();
    let writable_fields: Vec<&Field<'_>> = writable.iter().map(|(_, f)| *f).collect();
    let changeable_fields: Vec<&Field<'_>> = changeable.iter().map(|(_, f)| *f).collect();

    // What create reads.
    let new_idents: Vec<_> = writable_fields.iter().map(|f| f.ident).collect();
    let new_locals: Vec<_> = writable_fields.iter().map(|f| local(f)).collect();
    let new_tys = writable_fields.iter().map(|f| f.ty);
    let read_new_locals = declare_locals(&writable_fields);
    let (pin_new, pinned_new) = pin_fields(&writable);
    let read_new = read_fields(&writable, &pinned_new, quote!(__cp::ReadMode::Create));
    let finish_new = writable_fields.iter().map(|f| {
        let ident = f.ident;
        let local = local(f);
        let input = &f.input;
        // Every field was read or pinned once no error was recorded.
        quote! {
            #ident: match #local {
                __cp::Option::Some(__value) => __value,
                __cp::Option::None => {
                    return __cp::Result::Err(__cp::ApiError::field(400, #input, __cp::REQUIRED));
                }
            }
        }
    });

    // What update and patch read.
    let change_idents: Vec<_> = changeable_fields.iter().map(|f| f.ident).collect();
    let change_locals: Vec<_> = changeable_fields.iter().map(|f| local(f)).collect();
    let change_tys = changeable_fields.iter().map(|f| f.ty);
    let read_change_locals = declare_locals(&changeable_fields);
    let (pin_changes, pinned_changes) = pin_fields(&changeable);
    let read_changes = read_fields(&changeable, &pinned_changes, quote!(__mode));
    let shapes = input_shapes(model, &writable);
    let shape_attrs = input_shape_attrs(model);

    let column = |f: &&Field<'_>| {
        let column = &f.column;
        quote!(#table::#column)
    };
    let new_columns: Vec<_> = writable_fields.iter().map(column).collect();
    let change_columns: Vec<_> = changeable_fields.iter().map(column).collect();

    let insert = if writable.is_empty() {
        quote! {
            __cp::diesel::insert_into(#table::table)
                .default_values()
                .returning(Self::as_returning())
                .get_result(__conn)
        }
    } else {
        quote! {
            __cp::diesel::insert_into(#table::table)
                .values(( #( #new_columns.eq(record.#new_idents), )* ))
                .returning(Self::as_returning())
                .get_result(__conn)
        }
    };
    let insert = per_backend(|_| insert.clone());

    // `get_result`, not `first`: the key is unique, and `first`'s bound `LIMIT ?` makes
    // SQLite re-prepare the statement on every call.
    let find = per_backend(|backend| {
        let where_fn = backend.where_fn();
        quote! {
            match #where_fn(scope) {
                __cp::Option::None => #table::table
                    .filter(#table::#pk_col.eq(pk))
                    .select(Self::as_select())
                    .get_result(__conn)
                    .optional(),
                __cp::Option::Some(__scope) => #table::table
                    .filter(#table::#pk_col.eq(pk))
                    .filter(__scope)
                    .select(Self::as_select())
                    .get_result(__conn)
                    .optional(),
            }
        }
    });

    let update = if changeable.is_empty() {
        quote!(<Self as __cp::Model>::find(conn, pk, scope))
    } else {
        let values: Vec<_> = changeable_fields
            .iter()
            .map(|f| quote::format_ident!("__v_{}", f.ident))
            .collect();
        let finish = quote! {
            .returning(Self::as_returning())
            .get_result(__conn)
            .optional()
        };
        per_backend(|backend| {
            let where_fn = backend.where_fn();
            let target = quote!(#table::table.filter(#table::#pk_col.eq(pk)));
            quote! {
                match #where_fn(scope) {
                    // Every field set (an update): a statement of fixed shape, which Diesel
                    // keeps prepared; a changeset of options is prepared anew each time.
                    __cp::Option::None => match ( #( changes.#change_idents, )* ) {
                        ( #( __cp::Option::Some(#values), )* ) => __cp::diesel::update(#target)
                            .set(( #( #change_columns.eq(#values), )* ))
                            #finish,
                        ( #( #values, )* ) => __cp::diesel::update(#target)
                            .set(( #( #values.map(|__value| #change_columns.eq(__value)), )* ))
                            #finish,
                    },
                    __cp::Option::Some(__scope) => __cp::diesel::update(#target.filter(__scope))
                        .set(( #( changes.#change_idents.map(|__value| #change_columns.eq(__value)), )* ))
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
                    #table::table.filter(#table::#pk_col.eq(pk)),
                )
                .execute(__conn)
                .map(|n| n > 0),
                __cp::Option::Some(__scope) => __cp::diesel::delete(
                    #table::table.filter(#table::#pk_col.eq(pk)).filter(__scope),
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
        let db = backend.ty();
        quote! {
            if query.filters.is_empty() && query.ordering.is_empty() {
                let __rows = #table::table
                    .order(#table::#pk_col.asc())
                    .limit(query.limit)
                    .offset(query.offset)
                    .select(Self::as_select())
                    .load(__conn)?;
                let __count = if query.count {
                    __cp::Option::Some(#table::table.count().get_result::<i64>(__conn)?)
                } else {
                    __cp::Option::None
                };
                return __cp::Result::Ok((__count, __rows));
            }
            let mut __query = #table::table.select(Self::as_select()).into_boxed();
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
            let __rows = __query
                .order(__cp::OrderList(__order))
                .limit(query.limit)
                .offset(query.offset)
                .load(__conn)?;
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

    let output_fields = model
        .fields
        .iter()
        .filter(|f| !f.write_only)
        .map(|f| &f.name);
    let input_keys = input_keys(model);
    let filter_fields = model.filter.iter().map(|&i| &model.fields[i].input);
    let order_fields = model.ordering.iter().map(|&i| &model.fields[i].input);
    let resource = &model.resource;
    let scope = model.queryset.as_ref().map(|queryset| {
        let call = quote_spanned!(queryset.span()=> (#queryset)(ctx));
        quote! {
            fn scope(
                ctx: &__cp::Context<'_>,
            ) -> __cp::Result<__cp::Vec<__Filter>, __cp::ApiError> {
                __cp::scope_filters(#call, #resource)
            }
        }
    });
    let checks_objects = model.permission.is_some();
    let object_permission = model.permission.as_ref().map(|permission| {
        let check = quote_spanned! {permission.span()=>
            __cp::Permission::<Self>::has_object_permission(&(#permission), ctx, self)
        };
        quote! {
            fn has_object_permission(
                &self,
                ctx: &__cp::Context<'_>,
            ) -> __cp::Result<(), __cp::ApiError> {
                #check
            }
        }
    });
    let filters = expand_filters(model);
    let validates = model.fields.iter().any(|f| !f.validate.is_empty());
    let validator_derive = validates.then(|| quote!(#[derive(::validator::Validate)]));
    let new_validate: Vec<_> = writable_fields.iter().map(|f| &f.validate).collect();
    let new_serde: Vec<_> = writable_fields.iter().map(|f| &f.serde).collect();
    let change_validate: Vec<_> = changeable_fields.iter().map(|f| &f.validate).collect();
    let validate_record = validates.then(|| {
        let names = model.fields.iter().map(|f| {
            let rust = f.ident.to_string();
            let input = &f.input;
            quote!((#rust, #input))
        });
        quote!(__cp::validate_fields(&__record, &[#( #names ),*])?;)
    });
    let check_input = model.validate.as_ref().map(|check| {
        let call = quote_spanned!(check.span()=> (#check)(ctx, payload));
        quote! {
            fn check_input(
                ctx: &__cp::Context<'_>,
                payload: &__cp::Payload<'_>,
            ) -> __cp::Result<(), __cp::ApiError> {
                #call
            }
        }
    });

    quote! {
        use ::channels_api::__private as __cp;
        #[allow(unused_imports)]
        use ::channels_api::__private::diesel::{
            BoolExpressionMethods as _, EscapeExpressionMethods as _,
            NullableExpressionMethods as _, TextExpressionMethods as _,
        };

        #filters

        #shapes

        #[doc(hidden)]
        #shape_attrs
        #validator_derive
        pub struct __NewRecord {
            #( #(#new_serde)* #(#new_validate)* #new_idents: #new_tys, )*
        }

        #[doc(hidden)]
        #validator_derive
        pub struct __Changes {
            #( #(#change_validate)* #change_idents: __cp::Option<#change_tys>, )*
        }

        #[automatically_derived]
        impl __cp::Model for #ident {
            type Pk = #pk_ty;
            type NewRecord = __NewRecord;
            type Changes = __Changes;
            type Filter = __Filter;

            const PK: &'static str = #pk_wire;
            const FIELDS: &'static [&'static str] = &[#( #output_fields ),*];
            const INPUT_KEYS: &'static [&'static str] = &[#( #input_keys ),*];
            const FILTER_FIELDS: &'static [&'static str] = &[#( #filter_fields ),*];
            const ORDER_FIELDS: &'static [&'static str] = &[#( #order_fields ),*];
            const CHECKS_OBJECTS: bool = #checks_objects;

            fn new_record(
                payload: &__cp::Payload<'_>,
                scope: &[__Filter],
            ) -> __cp::Result<__NewRecord, __cp::ApiError> {
                #read_new_locals
                #pin_new
                // The whole shape in one pass; when serde refuses it, field by field, so
                // that every field's error is reported, and pinned fields are not read.
                let __record = match __cp::read_all::<__NewRecord>(payload) {
                    __cp::Option::Some(mut __record) => {
                        #(
                            if let __cp::Option::Some(__value) = #new_locals {
                                __record.#new_idents = __value;
                            }
                        )*
                        __record
                    }
                    __cp::Option::None => {
                        let mut __errors = __cp::Errors::new();
                        #read_new
                        __errors.into_result()?;
                        __NewRecord { #( #finish_new, )* }
                    }
                };
                #validate_record
                __cp::Result::Ok(__record)
            }

            fn changes(
                payload: &__cp::Payload<'_>,
                partial: bool,
                scope: &[__Filter],
            ) -> __cp::Result<__Changes, __cp::ApiError> {
                let mut __errors = __cp::Errors::new();
                let __mode = if partial {
                    __cp::ReadMode::Patch
                } else {
                    __cp::ReadMode::Update
                };
                #read_change_locals
                #pin_changes
                #read_changes
                __errors.into_result()?;
                let __record = __Changes { #( #change_idents: #change_locals, )* };
                #validate_record
                __cp::Result::Ok(__record)
            }

            fn is_unchanged(changes: &__Changes) -> bool {
                true #( && changes.#change_idents.is_none() )*
            }

            #scope

            #object_permission

            #check_input

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
}

/// `Model::fields()`: one typed accessor per field, for scopes the compiler checks
/// (`Todo::fields().owner_id().eq(7)`). A misspelled field is rustc's "no method named"
/// error; a value of another type, a type mismatch.
fn expand_fields(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let accessors = model.fields.iter().map(|f| {
        let name = f.ident;
        let input = &f.input;
        let ty = option_inner(f.ty).unwrap_or(f.ty);
        let doc = format!("`{input}`, typed: compare it to build a `Scope`.");
        quote! {
            #[doc = #doc]
            pub fn #name(&self) -> __cp::Field<#ty> {
                __cp::Field::new(#input)
            }
        }
    });
    let doc = format!(
        "The fields of `{ident}`, typed, for building a `Scope`: \
         `Scope::all().and({ident}::fields().{}().eq(...))`.",
        model.pk().ident
    );
    quote! {
        #[doc(hidden)]
        #[derive(Debug, Clone, Copy)]
        pub struct __Fields;

        #[allow(clippy::wrong_self_convention, clippy::new_ret_no_self)]
        impl __Fields {
            #( #accessors )*
        }

        #[automatically_derived]
        impl #ident {
            #[doc = #doc]
            pub fn fields() -> __Fields {
                __Fields
            }
        }
    }
}

/// The keys a create, retrieve, update, patch or delete request may carry: each field's
/// deserialize-side name and aliases; for a field never read from input (read-only or
/// `skip_deserializing`), its name in responses too, so that a client may send back the
/// object it read.
fn input_keys<'m>(model: &'m Model<'_>) -> Vec<&'m str> {
    let mut keys: Vec<&str> = Vec::new();
    for f in &model.fields {
        let mut names = vec![f.input.as_str()];
        names.extend(f.aliases.iter().map(String::as_str));
        if f.read_only || f.skip_input {
            names.push(&f.name);
        }
        for name in names {
            if !keys.contains(&name) {
                keys.push(name);
            }
        }
    }
    keys
}

fn expand_consumer(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let resource = &model.resource;
    let names = model.methods.iter().map(|m| m.ident().to_string());
    let page_size = model.page_size;
    let max_page_size = model.max_page_size;

    let arms = model.methods.iter().map(|method| {
        let name = method.ident().to_string();
        let run = |body: TokenStream| {
            quote! {
                __cp::builtin_call(call, |ctx, payload| __cp::Box::pin(#body))
            }
        };
        let call = match method {
            Method::Builtin(builtin, _) => match builtin {
                Builtin::Create => run(quote!(__cp::builtin::create::<Self>(ctx, payload))),
                Builtin::Retrieve => run(quote!(__cp::builtin::retrieve::<Self>(ctx, payload))),
                Builtin::Update => run(quote!(__cp::builtin::update::<Self>(ctx, payload, false))),
                Builtin::Patch => run(quote!(__cp::builtin::update::<Self>(ctx, payload, true))),
                Builtin::Delete => run(quote!(__cp::builtin::delete::<Self>(ctx, payload))),
                Builtin::List => run(quote! {
                    __cp::builtin::list::<Self>(ctx, payload, __cp::ListOptions {
                        page_size: #page_size,
                        max_page_size: #max_page_size,
                    })
                }),
                Builtin::Subscribe => run(quote! {
                    __cp::builtin::subscribe::<Self>(ctx, payload, __cp::ListOptions {
                        page_size: #page_size,
                        max_page_size: #max_page_size,
                    })
                }),
                Builtin::Unsubscribe => {
                    run(quote!(__cp::builtin::unsubscribe::<Self>(ctx, payload)))
                }
            },
            // Spanned on the name in `methods(...)`: a missing function is reported there.
            Method::Custom(custom) => quote_spanned! {custom.span()=>
                __cp::custom_call(Self::#custom, call)
            },
        };
        quote!(#name => #call,)
    });

    let schema = expand_schema(model);
    let authorize = model.permission.as_ref().map(|permission| {
        let check = quote_spanned! {permission.span()=>
            __cp::Permission::<Self>::has_permission(&(#permission), ctx)
        };
        quote! {
            fn authorize(ctx: &__cp::Context<'_>) -> __cp::Result<(), __cp::ApiError> {
                #check
            }
        }
    });

    let live_table = crate::live::expand_live_table(model);
    let formatter = model.formatter.as_ref().map(|expr| {
        quote! {
            fn formatter() -> __cp::Option<__cp::Arc<dyn __cp::Formatter>> {
                __cp::Option::Some(__cp::formatter_arc(#expr))
            }
        }
    });

    quote! {
        #[automatically_derived]
        impl __cp::Consumer for #ident {
            const RESOURCE: &'static str = #resource;
            const METHODS: &'static [&'static str] = &[#( #names ),*];

            #formatter

            #authorize

            #live_table

            fn schema() -> __cp::ResourceSchema {
                #schema
            }

            fn dispatch<'a>(
                method: &'static str,
                call: __cp::Call<'a>,
            ) -> __cp::Option<__cp::Outcome<'a>> {
                __cp::Option::Some(match method {
                    #( #arms )*
                    _ => return __cp::Option::None,
                })
            }
        }
    }
}

/// The resource's schema: its fields as declared, and each built-in method's arguments.
fn expand_schema(model: &Model<'_>) -> TokenStream {
    let resource = &model.resource;
    let pk = &model.pk().input;
    let fields = model.fields.iter().map(|f| {
        let name = &f.name;
        let input_name = if f.input == f.name {
            quote!(__cp::Option::None)
        } else {
            let input = &f.input;
            quote!(__cp::Option::Some(#input))
        };
        let aliases = &f.aliases;
        let (ty, format) = json_type(f.ty);
        let format = match format {
            Some(format) => quote!(__cp::Option::Some(#format)),
            None => quote!(__cp::Option::None),
        };
        let read_only = f.read_only || f.skip_input;
        let write_only = f.write_only;
        let nullable = f.nullable;
        quote! {
            __cp::FieldSchema {
                name: #name,
                input_name: #input_name,
                aliases: &[#( #aliases ),*],
                ty: #ty,
                format: #format,
                read_only: #read_only,
                write_only: #write_only,
                nullable: #nullable,
            }
        }
    });
    let writable: Vec<&str> = model
        .writable()
        .filter(|f| !f.skip_input)
        .map(|f| f.input.as_str())
        .collect();
    let mut changes = vec![pk.as_str()];
    changes.extend(
        model
            .changeable()
            .filter(|f| !f.skip_input)
            .map(|f| f.input.as_str()),
    );
    let methods = model.methods.iter().map(|method| {
        let name = method.ident().to_string();
        let arguments: Option<Vec<&str>> = match method {
            Method::Custom(_) => None,
            Method::Builtin(builtin, _) => Some(match builtin {
                Builtin::Create => writable.clone(),
                Builtin::Retrieve | Builtin::Delete => vec![pk.as_str()],
                Builtin::Update | Builtin::Patch => changes.clone(),
                Builtin::List => vec!["page", "page_size"],
                Builtin::Subscribe => vec!["snapshot", "after", "page", "page_size"],
                Builtin::Unsubscribe => vec!["subscription"],
            }),
        };
        let builtin = matches!(method, Method::Builtin(..));
        let arguments = match arguments {
            Some(names) => quote!(__cp::Option::Some(__cp::Vec::from([#( #names ),*]))),
            None => quote!(__cp::Option::None),
        };
        quote! {
            __cp::MethodSchema { name: #name, builtin: #builtin, arguments: #arguments }
        }
    });
    let lists = model
        .methods
        .iter()
        .any(|m| matches!(m, Method::Builtin(Builtin::List, _)));
    let list = if lists {
        let filters = model.filter.iter().map(|&i| {
            let field = &model.fields[i];
            let name = &field.input;
            let lookups = lookups(field).into_iter().map(|(_, lookup)| lookup);
            quote! {
                __cp::FilterSchema { field: #name, lookups: __cp::Vec::from([#( #lookups ),*]) }
            }
        });
        let ordering = model.ordering.iter().map(|&i| &model.fields[i].input);
        let page_size = model.page_size;
        let max_page_size = model.max_page_size;
        quote! {
            __cp::Option::Some(__cp::ListSchema {
                filters: __cp::Vec::from([#( #filters ),*]),
                ordering: __cp::Vec::from([#( #ordering ),*]),
                page_size: #page_size,
                max_page_size: #max_page_size,
                cursor: true,
            })
        }
    } else {
        quote!(__cp::Option::None)
    };
    quote! {
        __cp::ResourceSchema {
            name: #resource,
            primary_key: #pk,
            fields: __cp::Vec::from([#( #fields ),*]),
            methods: __cp::Vec::from([#( #methods ),*]),
            list: #list,
        }
    }
}
