//! What create, update and patch read: one input shape per writable field, the whole
//! `__NewRecord` and `__Changes`, and the `Model` functions that read them from a payload
//! (`new_record`, `changes`, `is_unchanged`).

use proc_macro2::TokenStream;
use quote::quote;

use super::filters::variant;
use crate::model::{Field, Model};

/// The fields create and update read, each with its index among the model's fields.
pub(super) struct Inputs<'m, 'a> {
    /// What create reads.
    writable: Vec<(usize, &'m Field<'a>)>,
    /// What update and patch read: the writable fields but the primary key.
    changeable: Vec<(usize, &'m Field<'a>)>,
}

impl<'m, 'a> Inputs<'m, 'a> {
    pub(super) fn of(model: &'m Model<'a>) -> Self {
        let indexed = |f: &Field<'_>| {
            model
                .fields
                .iter()
                .position(|g| g.ident == f.ident)
                .unwrap_or_default()
        };
        Inputs {
            writable: model.writable().map(|f| (indexed(f), f)).collect(),
            changeable: model.changeable().map(|f| (indexed(f), f)).collect(),
        }
    }

    fn writable_fields(&self) -> Vec<&'m Field<'a>> {
        self.writable.iter().map(|(_, f)| *f).collect()
    }

    fn changeable_fields(&self) -> Vec<&'m Field<'a>> {
        self.changeable.iter().map(|(_, f)| *f).collect()
    }
}

/// Whether a field has `#[validate(...)]`: the input shapes then derive `Validate`.
fn validates(model: &Model<'_>) -> bool {
    model.fields.iter().any(|f| !f.validate.is_empty())
}

/// The input shapes: one per writable field, `__NewRecord` and `__Changes`.
pub(super) fn items(model: &Model<'_>, inputs: &Inputs<'_, '_>) -> TokenStream {
    let writable_fields = inputs.writable_fields();
    let changeable_fields = inputs.changeable_fields();
    let new_idents: Vec<_> = writable_fields.iter().map(|f| f.ident).collect();
    let new_tys = writable_fields.iter().map(|f| f.ty);
    let change_idents: Vec<_> = changeable_fields.iter().map(|f| f.ident).collect();
    let change_tys = changeable_fields.iter().map(|f| f.ty);
    let shapes = input_shapes(model, &inputs.writable);
    let shape_attrs = input_shape_attrs(model);
    let validator_derive = validates(model).then(|| quote!(#[derive(::validator::Validate)]));
    let new_validate: Vec<_> = writable_fields.iter().map(|f| &f.validate).collect();
    let new_serde: Vec<_> = writable_fields.iter().map(|f| &f.serde).collect();
    let change_validate: Vec<_> = changeable_fields.iter().map(|f| &f.validate).collect();
    quote! {
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
    }
}

/// The `Model` functions that read a request: `new_record`, `changes`, `is_unchanged`.
pub(super) fn methods(model: &Model<'_>, inputs: &Inputs<'_, '_>) -> TokenStream {
    let writable = &inputs.writable;
    let changeable = &inputs.changeable;
    let writable_fields = inputs.writable_fields();
    let changeable_fields = inputs.changeable_fields();

    // What create reads.
    let new_idents: Vec<_> = writable_fields.iter().map(|f| f.ident).collect();
    let new_locals: Vec<_> = writable_fields.iter().map(|f| local(f)).collect();
    let read_new_locals = declare_locals(&writable_fields);
    let (pin_new, pinned_new) = pin_fields(model, writable);
    let read_new = read_fields(writable, &pinned_new, quote!(__cp::ReadMode::Create));
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
    let change_locals: Vec<_> = changeable_fields.iter().map(|f| local(f)).collect();
    let read_change_locals = declare_locals(&changeable_fields);
    let (pin_changes, pinned_changes) = pin_fields(model, changeable);
    let read_changes = read_fields(changeable, &pinned_changes, quote!(__mode));
    let change_idents: Vec<_> = changeable_fields.iter().map(|f| f.ident).collect();
    let validate_record = validates(model).then(|| {
        let names = model.fields.iter().map(|f| {
            let rust = f.ident.to_string();
            let input = &f.input;
            quote!((#rust, #input))
        });
        quote!(__cp::validate_fields(&__record, &[#( #names ),*])?;)
    });

    quote! {
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
    }
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

/// Sets the locals of fields that an equality of the scope pins, before the payload is
/// read; returns the flags that make the payload's values for them ignored.
fn pin_fields(model: &Model<'_>, fields: &[(usize, &Field<'_>)]) -> (TokenStream, Vec<syn::Ident>) {
    let flags: Vec<_> = fields
        .iter()
        .map(|(_, f)| quote::format_ident!("__pinned_{}", f.ident))
        .collect();
    // Only a filterable field has an `Exact` variant for a scope to pin it with.
    let pinnable = fields
        .iter()
        .filter(|(index, _)| model.is_filterable(*index));
    let arms = pinnable.map(|(index, f)| {
        let local = local(f);
        let variant = variant(*index);
        let value = if f.nullable {
            quote!(__cp::Option::Some(__cp::Option::Some(__v.clone())))
        } else {
            quote!(__cp::Option::Some(__v.clone()))
        };
        quote!(__Filter::#variant(__cp::Compare::Exact(__v)) => #local = #value,)
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

/// The keys a create, retrieve, update, patch or delete request may carry: each field's
/// deserialize-side name and aliases; for a field never read from input (read-only or
/// `skip_deserializing`), its name in responses too, so that a client may send back the
/// object it read.
pub(super) fn input_keys<'m>(model: &'m Model<'_>) -> Vec<&'m str> {
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
