//! The resource's description in `api.schema`.

use proc_macro2::TokenStream;
use quote::quote;

use super::filters::lookups;
use crate::model::{Builtin, Method, Model, json_type};

/// The resource's schema: its fields as declared, and each built-in method's arguments.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
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
            let lookups = lookups(field);
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
