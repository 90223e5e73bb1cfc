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

    pub(super) fn ty(self) -> TokenStream {
        match self {
            Backend::Postgres => quote!(__cp::diesel::pg::Pg),
            Backend::Sqlite => quote!(__cp::diesel::sqlite::Sqlite),
        }
    }

    /// `Self::as_select()` with this backend named: the backend of the rows is then known
    /// before the connection's type is inferred. Without it, in a model whose field does
    /// not match its column, the fields' types the impls assume (`checks::bounds`) steer
    /// that inference into Diesel's errors after the field's own.
    pub(super) fn as_select(self) -> TokenStream {
        let db = self.ty();
        quote!(<Self as __cp::diesel::SelectableHelper<#db>>::as_select())
    }

    /// `Self::as_returning()` with this backend named, as [`Backend::as_select`].
    pub(super) fn as_returning(self) -> TokenStream {
        let db = self.ty();
        quote!(<Self as __cp::diesel::SelectableHelper<#db>>::as_returning())
    }

    /// The function that turns filters into a `WHERE` expression on this backend.
    /// `query` limited to a page of `query.limit` rows from `query.offset`: on SQLite
    /// through the runtime's `page`, whose limit does not make SQLite prepare the
    /// statement anew on every run.
    pub(super) fn page(self, query: TokenStream) -> TokenStream {
        match self {
            Backend::Postgres => quote!(#query.limit(query.limit).offset(query.offset)),
            Backend::Sqlite => quote!(__cp::page(#query, query.limit, query.offset)),
        }
    }

    pub(super) fn where_fn(self) -> syn::Ident {
        match self {
            Backend::Postgres => quote::format_ident!("__where_pg"),
            Backend::Sqlite => quote::format_ident!("__where_sqlite"),
        }
    }
}

/// `match conn { Postgres(__conn) => body, Sqlite(__conn) => body }`: each query compiled
/// against the concrete connection, where Diesel caches its prepared statement. The match
/// is written by the runtime's `per_backend!`, which keeps the arms of the backends the
/// runtime was built with (its features), so a backend left out costs no generated code.
pub(super) fn per_backend(body: impl Fn(Backend) -> TokenStream) -> TokenStream {
    let postgres = body(Backend::Postgres);
    let sqlite = body(Backend::Sqlite);
    quote! {
        __cp::per_backend!(match conn as __conn {
            postgres => { #postgres }
            sqlite => { #sqlite }
        })
    }
}
