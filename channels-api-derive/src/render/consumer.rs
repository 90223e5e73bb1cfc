//! The `Consumer` impl: the resource's name, its method list, and the dispatch that calls
//! each built-in or custom method by name.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;
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
        let run = |body: TokenStream| quote!(__cp::builtin_call(call, #body));
        let call = match method {
            Method::Builtin(builtin, _) => match builtin {
                Builtin::Create => run(quote!(__cp::builtin::create::<Self>)),
                Builtin::Retrieve => run(quote!(__cp::builtin::retrieve::<Self>)),
                Builtin::Update => run(quote!(|c, p| __cp::builtin::update::<Self>(c, p, false))),
                Builtin::Patch => run(quote!(|c, p| __cp::builtin::update::<Self>(c, p, true))),
                Builtin::Delete => run(quote!(__cp::builtin::delete::<Self>)),
                Builtin::List => run(quote!(|c, p| __cp::builtin::list::<Self>(c, p, __options))),
                Builtin::Subscribe => run(quote!(|c, p| __cp::builtin::subscribe::<Self>(
                    c, p, __options
                ))),
                Builtin::Unsubscribe => run(quote!(__cp::builtin::unsubscribe::<Self>)),
            },
            // Spanned on the name in `methods(...)`: a missing function is reported there.
            Method::Custom(custom) => quote_spanned! {custom.span()=>
                __cp::custom_call(Self::#custom, call)
            },
        };
        quote!(#name => #call,)
    });

    let misspellings = model.methods.iter().filter_map(|method| match method {
        Method::Custom(custom) => {
            Builtin::closest(custom).map(|builtin| misspelling(model, custom, builtin))
        }
        Method::Builtin(..) => None,
    });

    // The page sizes, for the methods that read pages.
    let pages = model
        .methods
        .iter()
        .any(|m| matches!(m, Method::Builtin(Builtin::List | Builtin::Subscribe, _)));
    let options = pages.then(|| {
        quote! {
            let __options = __cp::ListOptions {
                page_size: #page_size,
                max_page_size: #max_page_size,
            };
        }
    });

    let schema = schema::render(model);
    let bounds = super::checks::bounds(model);
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

    let live_table = super::live::render_live_table(model);
    let formatter = model.formatter.as_ref().map(|expr| {
        quote! {
            fn formatter() -> __cp::Option<__cp::Arc<dyn __cp::Formatter>> {
                __cp::Option::Some(__cp::formatter_arc(#expr))
            }
        }
    });

    quote! {
        #( #misspellings )*

        #[automatically_derived]
        impl __cp::Consumer for #ident #bounds {
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
                #options
                __cp::Option::Some(match method {
                    #( #arms )*
                    _ => return __cp::Option::None,
                })
            }
        }
    }
}

/// For a custom method whose name is close to a built-in's (`retreive`): a fallback
/// associated function of that name for every type. The dispatch's `Self::retreive`
/// finds it only when the model has no associated function of its own by that name, and
/// then its unmet bound is the error, on the name: no such method, did you mean
/// `retrieve`? A model that does define the function never sees it.
fn misspelling(model: &Model<'_>, custom: &Ident, builtin: Builtin) -> TokenStream {
    let marker = format_ident!("__NoMethod_{}", custom);
    let fallback = format_ident!("__Misspelled_{}", custom);
    let message = format!("no method `{custom}`: did you mean `{}`?", builtin.name());
    let label = format!(
        "neither a built-in method nor a `#[consumer_method]` function of `{}`",
        model.ident
    );
    let note = format!("the built-in methods are: {}", Builtin::names());
    let signature = quote! {
        fn #custom(
            _ctx: &__cp::Context<'_>,
        ) -> ::core::future::Ready<__cp::Result<(), __cp::ApiError>>
        where
            Self: #marker
    };
    quote! {
        #[allow(non_camel_case_types, dead_code)]
        #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
        trait #marker {}

        #[allow(non_camel_case_types, dead_code)]
        trait #fallback {
            #signature;
        }

        impl<__T: ?Sized> #fallback for __T {
            #signature
            {
                ::core::future::ready(__cp::Result::Ok(()))
            }
        }
    }
}
