//! `#[consumer_method]`: checks the signature of a custom method and emits, beside it, the
//! wrapper the consumer's dispatch calls: read the argument from the payload, call the
//! method, serialize its result.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItemFn, ReturnType, Type};

use crate::ctxt::Ctxt;

/// The wrapper's name for method `name`, spanned on `name` so that a missing wrapper is
/// reported where the method is listed.
pub(crate) fn wrapper_ident(name: &syn::Ident) -> syn::Ident {
    format_ident!("__channels_api_method_{}", name, span = name.span())
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    if !args.is_empty() {
        cx.error_spanned_by(&args, "`#[consumer_method]` takes no arguments");
    }
    let function: ImplItemFn = syn::parse2(item)?;
    let sig = &function.sig;

    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            "a consumer method must be `async`\nnote: write `async fn`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(&sig.generics, "a consumer method cannot be generic");
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "a consumer method cannot be variadic");
    }
    if let ReturnType::Default = sig.output {
        cx.error_spanned_by(
            &sig.ident,
            "a consumer method returns `Result<T, ApiError>` where `T: Serialize`",
        );
    }

    let mut inputs = sig.inputs.iter();
    let mut arg_ty = None;
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) => cx.error_spanned_by(
            receiver,
            "a consumer method takes no `self`: it is called as `Model::method(ctx, args)`\n\
             note: its first argument is the request's context, `ctx: &Context<'_>`",
        ),
        Some(FnArg::Typed(ctx)) => {
            if !matches!(&*ctx.ty, Type::Reference(r) if r.mutability.is_none()) {
                cx.error_spanned_by(
                    &ctx.ty,
                    "the first argument of a consumer method is the request's context\n\
                     note: write `ctx: &Context<'_>`",
                );
            }
        }
        None => cx.error_spanned_by(
            &sig.ident,
            "a consumer method takes the request's context, `ctx: &Context<'_>`, and \
             optionally an argument read from the payload",
        ),
    }
    if let Some(arg) = inputs.next() {
        match arg {
            FnArg::Typed(arg) => arg_ty = Some(arg.ty.clone()),
            FnArg::Receiver(receiver) => {
                cx.error_spanned_by(receiver, "a consumer method takes no `self`")
            }
        }
    }
    let extra: Vec<_> = inputs.collect();
    if let Some(first) = extra.first() {
        cx.error_spanned_by(
            first,
            "a consumer method takes at most two arguments: the context and one value read \
             from the payload\nnote: gather the fields in one struct that derives `Deserialize`",
        );
    }
    cx.check()?;

    let name = &sig.ident;
    let wrapper = wrapper_ident(name);
    let call = match &arg_ty {
        Some(ty) => {
            let read = quote_spanned! {ty.span()=>
                let __args: #ty = match payload.deserialize::<#ty>() {
                    ::channels_api::__private::Result::Ok(__args) => __args,
                    ::channels_api::__private::Result::Err(__error) => {
                        return ::channels_api::__private::Result::Err(__error);
                    }
                };
            };
            quote! {
                #read
                Self::#name(ctx, __args).await
            }
        }
        None => quote!(Self::#name(ctx).await),
    };
    let output = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => name.span(),
    };
    let into_reply = quote_spanned! {output=>
        ::channels_api::__private::MethodOutput::into_reply(__output)
    };
    Ok(quote! {
        #function

        #[doc(hidden)]
        #[allow(non_snake_case)]
        fn #wrapper<'a>(
            ctx: &'a ::channels_api::__private::Context<'a>,
            payload: &'a ::channels_api::__private::Payload<'a>,
        ) -> ::channels_api::__private::MethodFuture<'a> {
            ::channels_api::__private::Box::pin(async move {
                let __output = { #call };
                #into_reply
            })
        }
    })
}
