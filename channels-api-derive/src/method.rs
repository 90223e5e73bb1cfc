//! `#[consumer_method]`: checks the signature of a custom method, with an error on the
//! offending token for each misuse, and asserts that its argument can be read from a
//! payload and its result sent back. The function itself is left as written; the
//! consumer's dispatch calls it by name.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItemFn, ReturnType, Type};

use crate::ctxt::Ctxt;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut function: ImplItemFn = syn::parse2(item)?;
    let mut cx = Ctxt::default();
    check_signature(&mut cx, &function);
    if let Err(errors) = cx.check() {
        // A stand-in of the right shape keeps the consumer's dispatch from adding errors of
        // its own about the same function.
        let errors = errors.into_compile_error();
        let vis = &function.vis;
        let name = &function.sig.ident;
        return Ok(quote! {
            #errors
            #[allow(dead_code)]
            #vis async fn #name(
                _ctx: &::channels_api::__private::Context<'_>,
            ) -> ::channels_api::__private::Result<(), ::channels_api::__private::ApiError> {
                ::channels_api::__private::Result::Ok(())
            }
        });
    }

    let mut checks = Vec::new();
    if let ReturnType::Type(_, ty) = &function.sig.output
        && !contains_impl_trait(ty)
    {
        checks.push(quote_spanned! {ty.span()=>
            ::channels_api::__private::assert_output::<#ty>();
        });
    }
    if let Some(FnArg::Typed(arg)) = function.sig.inputs.iter().nth(1)
        && !contains_impl_trait(&arg.ty)
    {
        let ty = &arg.ty;
        checks.push(quote_spanned! {ty.span()=>
            ::channels_api::__private::assert_argument::<#ty>();
        });
    }
    let checks: Vec<syn::Stmt> = checks
        .into_iter()
        .map(syn::parse2)
        .collect::<syn::Result<_>>()?;
    function.block.stmts.splice(0..0, checks);

    let mut cx = Ctxt::default();
    if !args.is_empty() {
        cx.error_spanned_by(&args, "`#[consumer_method]` takes no arguments");
    }
    let errors = cx.check().err().map(syn::Error::into_compile_error);
    Ok(quote! {
        #errors
        #function
    })
}

fn check_signature(cx: &mut Ctxt, function: &ImplItemFn) {
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
    if let Some(FnArg::Receiver(receiver)) = inputs.next() {
        cx.error_spanned_by(receiver, "a consumer method takes no `self`");
    }
    if let Some(extra) = inputs.next() {
        cx.error_spanned_by(
            extra,
            "a consumer method takes at most two arguments: the context and one value read \
             from the payload\nnote: gather the fields in one struct that derives `Deserialize`",
        );
    }
}

/// Whether a type mentions `impl Trait`, which cannot be named in a check.
fn contains_impl_trait(ty: &Type) -> bool {
    quote!(#ty)
        .into_iter()
        .any(|token| token.to_string() == "impl")
}
