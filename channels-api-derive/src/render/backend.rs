//! The two database backends: every query is generated once per backend, against its
//! concrete connection.

use proc_macro2::TokenStream;
use quote::quote;

/// The two backends, as the generated code names them.
#[derive(Clone, Copy)]
pub(super) enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub(super) const ALL: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];

    fn variant(self) -> TokenStream {
        match self {
            Backend::Postgres => quote!(Postgres),
            Backend::Sqlite => quote!(Sqlite),
        }
    }

    pub(super) fn ty(self) -> TokenStream {
        match self {
            Backend::Postgres => quote!(__cp::diesel::pg::Pg),
            Backend::Sqlite => quote!(__cp::diesel::sqlite::Sqlite),
        }
    }

    /// The function that turns filters into a `WHERE` expression on this backend.
    pub(super) fn where_fn(self) -> syn::Ident {
        match self {
            Backend::Postgres => quote::format_ident!("__where_pg"),
            Backend::Sqlite => quote::format_ident!("__where_sqlite"),
        }
    }
}

/// `match conn { Postgres(__conn) => body, Sqlite(__conn) => body }`: each query compiled
/// against the concrete connection, where Diesel caches its prepared statement.
pub(super) fn per_backend(body: impl Fn(Backend) -> TokenStream) -> TokenStream {
    let arms = Backend::ALL.map(|backend| {
        let variant = backend.variant();
        let body = body(backend);
        quote!(__cp::DbConnection::#variant(__conn) => { #body })
    });
    quote! {
        match conn {
            #( #arms )*
        }
    }
}
