//! `Model::fields()`: the typed fields a scope is built from.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{Model, option_inner};

/// `Model::fields()`: one typed accessor per filterable field (the key, `filter(...)` and
/// `scope(...)`), for scopes the compiler checks (`Todo::fields().owner_id().eq(7)`). A
/// misspelled or undeclared field is rustc's "no method named" error; a value of another
/// type, a type mismatch.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let accessors = model.filterable().map(|(_, f)| {
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
