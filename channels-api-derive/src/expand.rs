//! Code generation for `#[derive(ModelConsumer)]`: the `Model` impl (input shapes and one
//! query per backend) and the `Consumer` impl (method list and dispatch).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::model::{Field, Method, Model};

pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let model = Model::from_ast(input)?;
    let model_impl = expand_model(&model);
    let consumer_impl = expand_consumer(&model);
    Ok(quote! {
        const _: () = {
            #[allow(unused_imports)]
            use ::channels_api::__private::diesel::{
                ExpressionMethods as _, OptionalExtension as _, QueryDsl as _,
                RunQueryDsl as _, SelectableHelper as _,
            };
            #model_impl
            #consumer_impl
        };
    })
}

/// `let mut __f_x = None;` for each field, then one pass over the payload that fills them
/// and records a message for each value of the wrong type.
fn read_fields(fields: &[&Field<'_>]) -> TokenStream {
    let locals = fields.iter().map(|f| local(f));
    let tys = fields.iter().map(|f| f.ty);
    let arms = fields.iter().map(|f| {
        let local = local(f);
        let wire = &f.wire;
        let ty = f.ty;
        quote! {
            #wire => match __cp::field_value::<#ty>(__raw) {
                __cp::Result::Ok(__value) => #local = __cp::Option::Some(__value),
                __cp::Result::Err(__message) => __errors.add(#wire, __message),
            },
        }
    });
    quote! {
        let mut __errors = __cp::Errors::new();
        #( let mut #locals: __cp::Option<#tys> = __cp::Option::None; )*
        for (__key, __raw) in payload.fields() {
            match __key {
                #( #arms )*
                _ => {}
            }
        }
    }
}

/// Records "this field is required" for each field in `required` that was not sent.
fn require(required: &[&Field<'_>]) -> TokenStream {
    let checks = required.iter().map(|f| {
        let local = local(f);
        let wire = &f.wire;
        quote! {
            if #local.is_none() && __errors.get(#wire).is_none() {
                __errors.add(#wire, __cp::REQUIRED);
            }
        }
    });
    quote!(#( #checks )*)
}

fn local(field: &Field<'_>) -> syn::Ident {
    quote::format_ident!("__f_{}", field.ident)
}

fn is_required(field: &Field<'_>) -> bool {
    !field.nullable && !field.default
}

fn expand_model(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let table = &model.table;
    let pk = model.pk();
    let pk_ty = pk.ty;
    let pk_col = &pk.column;
    let pk_wire = &pk.wire;

    let writable: Vec<&Field<'_>> = model.writable().collect();
    let changeable: Vec<&Field<'_>> = model.changeable().collect();

    // What create reads.
    let new_idents: Vec<_> = writable.iter().map(|f| f.ident).collect();
    let new_tys = writable.iter().map(|f| f.ty);
    let read_new = read_fields(&writable);
    let required_new: Vec<_> = writable
        .iter()
        .copied()
        .filter(|f| is_required(f))
        .collect();
    let require_new = require(&required_new);
    let finish_new = writable.iter().map(|f| {
        let ident = f.ident;
        let local = local(f);
        let wire = &f.wire;
        if is_required(f) {
            quote! {
                #ident: match #local {
                    __cp::Option::Some(__value) => __value,
                    __cp::Option::None => {
                        return __cp::Result::Err(__cp::ApiError::field(400, #wire, __cp::REQUIRED));
                    }
                }
            }
        } else {
            quote!(#ident: #local.unwrap_or_default())
        }
    });

    // What update and patch read.
    let change_idents: Vec<_> = changeable.iter().map(|f| f.ident).collect();
    let change_locals: Vec<_> = changeable.iter().map(|f| local(f)).collect();
    let change_tys = changeable.iter().map(|f| f.ty);
    let read_changes = read_fields(&changeable);
    let required_changes: Vec<_> = changeable
        .iter()
        .copied()
        .filter(|f| is_required(f))
        .collect();
    let require_changes = require(&required_changes);

    let column = |f: &&Field<'_>| {
        let column = &f.column;
        quote!(#table::#column)
    };
    let new_columns: Vec<_> = writable.iter().map(column).collect();
    let change_columns: Vec<_> = changeable.iter().map(column).collect();

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
    let update = if changeable.is_empty() {
        quote!(<Self as __cp::Model>::find(conn, pk))
    } else {
        quote! {
            __cp::with_connection!(conn, __conn => {
                __cp::diesel::update(#table::table.filter(#table::#pk_col.eq(pk)))
                    .set(( #( changes.#change_idents.map(|__value| #change_columns.eq(__value)), )* ))
                    .returning(Self::as_returning())
                    .get_result(__conn)
                    .optional()
            })
        }
    };

    quote! {
        use ::channels_api::__private as __cp;

        #[doc(hidden)]
        pub struct __NewRecord {
            #( #new_idents: #new_tys, )*
        }

        #[doc(hidden)]
        pub struct __Changes {
            #( #change_idents: __cp::Option<#change_tys>, )*
        }

        #[automatically_derived]
        impl __cp::Model for #ident {
            type Pk = #pk_ty;
            type NewRecord = __NewRecord;
            type Changes = __Changes;

            const PK: &'static str = #pk_wire;

            fn new_record(
                payload: &__cp::Payload<'_>,
            ) -> __cp::Result<__NewRecord, __cp::ApiError> {
                #read_new
                #require_new
                __errors.into_result()?;
                __cp::Result::Ok(__NewRecord { #( #finish_new, )* })
            }

            fn changes(
                payload: &__cp::Payload<'_>,
                partial: bool,
            ) -> __cp::Result<__Changes, __cp::ApiError> {
                #read_changes
                if !partial {
                    #require_changes
                }
                __errors.into_result()?;
                __cp::Result::Ok(__Changes { #( #change_idents: #change_locals, )* })
            }

            fn is_unchanged(changes: &__Changes) -> bool {
                true #( && changes.#change_idents.is_none() )*
            }

            fn insert(
                conn: &mut __cp::DbConnection,
                record: __NewRecord,
            ) -> __cp::QueryResult<Self> {
                __cp::with_connection!(conn, __conn => { #insert })
            }

            fn find(
                conn: &mut __cp::DbConnection,
                pk: &#pk_ty,
            ) -> __cp::QueryResult<__cp::Option<Self>> {
                __cp::with_connection!(conn, __conn => {
                    #table::table
                        .filter(#table::#pk_col.eq(pk))
                        .select(Self::as_select())
                        .first(__conn)
                        .optional()
                })
            }

            fn update(
                conn: &mut __cp::DbConnection,
                pk: &#pk_ty,
                changes: __Changes,
            ) -> __cp::QueryResult<__cp::Option<Self>> {
                #update
            }

            fn delete(conn: &mut __cp::DbConnection, pk: &#pk_ty) -> __cp::QueryResult<bool> {
                __cp::with_connection!(conn, __conn => {
                    __cp::diesel::delete(#table::table.filter(#table::#pk_col.eq(pk)))
                        .execute(__conn)
                        .map(|n| n > 0)
                })
            }

            fn count(conn: &mut __cp::DbConnection) -> __cp::QueryResult<i64> {
                __cp::with_connection!(conn, __conn => {
                    #table::table.count().get_result::<i64>(__conn)
                })
            }

            fn page(
                conn: &mut __cp::DbConnection,
                offset: i64,
                limit: i64,
            ) -> __cp::QueryResult<::std::vec::Vec<Self>> {
                __cp::with_connection!(conn, __conn => {
                    #table::table
                        .order(#table::#pk_col.asc())
                        .limit(limit)
                        .offset(offset)
                        .select(Self::as_select())
                        .load(__conn)
                })
            }
        }
    }
}

fn expand_consumer(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let resource = &model.resource;
    let names = model.methods.iter().map(|m| m.ident().to_string());
    let page_size = model.page_size;
    let max_page_size = model.max_page_size;

    let arms = model.methods.iter().map(|method| {
        let name = method.ident().to_string();
        let call = match method {
            Method::Builtin(_) => match name.as_str() {
                "create" => quote!(__cp::Box::pin(__cp::builtin::create::<Self>(ctx, payload))),
                "retrieve" => quote!(__cp::Box::pin(__cp::builtin::retrieve::<Self>(
                    ctx, payload
                ))),
                "update" => quote!(__cp::Box::pin(__cp::builtin::update::<Self>(
                    ctx, payload, false
                ))),
                "patch" => quote!(__cp::Box::pin(__cp::builtin::update::<Self>(
                    ctx, payload, true
                ))),
                "delete" => quote!(__cp::Box::pin(__cp::builtin::delete::<Self>(ctx, payload))),
                _ => quote! {
                    __cp::Box::pin(__cp::builtin::list::<Self>(ctx, payload, __cp::ListOptions {
                        page_size: #page_size,
                        max_page_size: #max_page_size,
                    }))
                },
            },
            // Spanned on the name in `methods(...)`: a missing function is reported there.
            Method::Custom(custom) => quote_spanned! {custom.span()=>
                __cp::call_method(Self::#custom, ctx, payload)
            },
        };
        quote!(#name => #call,)
    });

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

            fn dispatch<'a>(
                method: &'static str,
                ctx: &'a __cp::Context<'a>,
                payload: &'a __cp::Payload<'a>,
            ) -> __cp::Option<__cp::MethodFuture<'a>> {
                __cp::Option::Some(match method {
                    #( #arms )*
                    _ => return __cp::Option::None,
                })
            }
        }
    }
}
