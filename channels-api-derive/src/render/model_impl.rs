//! The `Model` impl: its types and constants, the hooks the container attributes name
//! (scope, object permission, input check), the input functions and the queries.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{checks, filters, input, queries};
use crate::model::Model;

/// The filters, the input shapes and the `Model` impl of the model.
pub(super) fn render(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let pk = model.pk();
    let pk_ty = pk.ty;
    let pk_wire = &pk.input;
    let inputs = input::Inputs::of(model);

    let output_fields = model
        .fields
        .iter()
        .filter(|f| !f.write_only)
        .map(|f| &f.name);
    let input_keys = input::input_keys(model);
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
    let filters = filters::render(model);
    let input_items = input::items(model, &inputs);
    let input_methods = input::methods(model, &inputs);
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

    let queries = queries::methods(model);
    let bounds = checks::bounds(model);

    quote! {
        use ::channels_api::__private as __cp;
        #[allow(unused_imports)]
        use ::channels_api::__private::diesel::{
            BoolExpressionMethods as _, NullableExpressionMethods as _,
        };

        #filters

        #input_items

        #[automatically_derived]
        impl __cp::Model for #ident #bounds {
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

            #input_methods

            #scope

            #object_permission

            #check_input

            #queries
        }
    }
}
