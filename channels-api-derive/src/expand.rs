//! Code generation for `#[derive(ModelConsumer)]`: the `Model` impl (input shapes and one
//! query per backend) and the `Consumer` impl (method list and dispatch).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::model::{Field, Method, Model, json_type};

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
        let run = |body: TokenStream| {
            quote! {
                __cp::builtin_call(call, |ctx, payload| __cp::Box::pin(#body))
            }
        };
        let call = match method {
            Method::Builtin(_) => match name.as_str() {
                "create" => run(quote!(__cp::builtin::create::<Self>(ctx, payload))),
                "retrieve" => run(quote!(__cp::builtin::retrieve::<Self>(ctx, payload))),
                "update" => run(quote!(__cp::builtin::update::<Self>(ctx, payload, false))),
                "patch" => run(quote!(__cp::builtin::update::<Self>(ctx, payload, true))),
                "delete" => run(quote!(__cp::builtin::delete::<Self>(ctx, payload))),
                _ => run(quote! {
                    __cp::builtin::list::<Self>(ctx, payload, __cp::ListOptions {
                        page_size: #page_size,
                        max_page_size: #max_page_size,
                    })
                }),
            },
            // Spanned on the name in `methods(...)`: a missing function is reported there.
            Method::Custom(custom) => quote_spanned! {custom.span()=>
                __cp::custom_call(Self::#custom, call)
            },
        };
        quote!(#name => #call,)
    });

    let schema = expand_schema(model);

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
    let pk = &model.pk().wire;
    let fields = model.fields.iter().map(|f| {
        let name = &f.wire;
        let (ty, format) = json_type(f.ty);
        let format = match format {
            Some(format) => quote!(__cp::Option::Some(#format)),
            None => quote!(__cp::Option::None),
        };
        let read_only = f.read_only;
        let write_only = f.write_only;
        let nullable = f.nullable;
        quote! {
            __cp::FieldSchema {
                name: #name,
                ty: #ty,
                format: #format,
                read_only: #read_only,
                write_only: #write_only,
                nullable: #nullable,
            }
        }
    });
    let writable: Vec<&str> = model.writable().map(|f| f.wire.as_str()).collect();
    let mut changes = vec![pk.as_str()];
    changes.extend(model.changeable().map(|f| f.wire.as_str()));
    let methods = model.methods.iter().map(|method| {
        let name = method.ident().to_string();
        let arguments: Option<Vec<&str>> = match (method, name.as_str()) {
            (Method::Custom(_), _) => None,
            (_, "create") => Some(writable.clone()),
            (_, "retrieve" | "delete") => Some(vec![pk.as_str()]),
            (_, "update" | "patch") => Some(changes.clone()),
            _ => Some(vec!["page", "page_size"]),
        };
        let builtin = matches!(method, Method::Builtin(_));
        let arguments = match arguments {
            Some(names) => quote!(__cp::Option::Some(__cp::Vec::from([#( #names ),*]))),
            None => quote!(__cp::Option::None),
        };
        quote! {
            __cp::MethodSchema { name: #name, builtin: #builtin, arguments: #arguments }
        }
    });
    quote! {
        __cp::ResourceSchema {
            name: #resource,
            primary_key: #pk,
            fields: __cp::Vec::from([#( #fields ),*]),
            methods: __cp::Vec::from([#( #methods ),*]),
        }
    }
}
