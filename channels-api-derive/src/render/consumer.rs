//! The `Consumer` impl: the resource's name, its method list, and the dispatch that calls
//! each built-in or custom method by name.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::schema;
use crate::model::{Builtin, Method, Model};

/// The `Consumer` impl of the model.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
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
            },
            // Spanned on the name in `methods(...)`: a missing function is reported there.
            Method::Custom(custom) => quote_spanned! {custom.span()=>
                __cp::custom_call(Self::#custom, call)
            },
        };
        quote!(#name => #call,)
    });

    let schema = schema::render(model);
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
