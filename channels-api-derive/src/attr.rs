//! The attribute grammar: `#[consumer(...)]` on the struct and its fields, and what the
//! derive reads of `#[diesel(...)]` and `#[serde(...)]`. Of serde's attributes only the
//! names are read here (`rename`, `alias`, `rename_all`, `skip*`); the attributes
//! themselves are forwarded onto the generated input shapes, where serde's derive gives
//! them their meaning.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, Ident, LitInt, LitStr, Path, Token};

use crate::ctxt::Ctxt;

const CONTAINER_KEYS: &str = "`resource`, `methods`, `read_only`, `filter`, `ordering`, `scope`, \
     `page_size`, `max_page_size`, `queryset`, `permission`, `validate`, `formatter`";
const FIELD_KEYS: &str = "`read_only`";

/// What the struct's attributes say.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) resource: Option<LitStr>,
    pub(crate) methods: Option<(Ident, Vec<Ident>)>,
    pub(crate) read_only: Vec<Ident>,
    pub(crate) page_size: Option<LitInt>,
    pub(crate) max_page_size: Option<LitInt>,
    pub(crate) formatter: Option<Expr>,
    pub(crate) filter: Vec<Ident>,
    pub(crate) ordering: Vec<Ident>,
    /// The fields a `queryset` may constrain, besides the filters and the primary key.
    pub(crate) scope: Vec<Ident>,
    pub(crate) queryset: Option<Expr>,
    pub(crate) permission: Option<Expr>,
    pub(crate) validate: Option<Expr>,
    pub(crate) table_name: Option<Path>,
    pub(crate) primary_key: Option<Vec<Ident>>,
    /// `#[serde(rename_all = ...)]`: the rule for names when serializing.
    pub(crate) rename_all_serialize: Option<LitStr>,
    /// `#[serde(rename_all = ...)]`: the rule for names when deserializing, forwarded onto
    /// the input shapes.
    pub(crate) rename_all_deserialize: Option<LitStr>,
}

/// What a field's attributes say.
#[derive(Default)]
pub(crate) struct Field {
    pub(crate) read_only: bool,
    pub(crate) column_name: Option<Ident>,
    /// `rename = "x"` or `rename(serialize = "x")`.
    pub(crate) rename_serialize: Option<LitStr>,
    /// `rename = "x"` or `rename(deserialize = "x")`.
    pub(crate) rename_deserialize: Option<LitStr>,
    /// `alias = "x"`, each one.
    pub(crate) aliases: Vec<LitStr>,
    pub(crate) skip_serializing: bool,
    pub(crate) skip_deserializing: bool,
    /// The field's `#[serde(...)]` attributes, forwarded as written onto the input shapes
    /// so that serde's own derive gives them their meaning.
    pub(crate) serde: Vec<Attribute>,
    /// `#[validate(...)]` attributes, forwarded to the input shapes.
    pub(crate) validate: Vec<Attribute>,
}

/// Reads `key = "x"` or `key(serialize = "x", deserialize = "y")`: serde's form for names
/// that may differ by direction. Returns `(serialize, deserialize)`.
fn directed_names(meta: &ParseNestedMeta<'_>) -> syn::Result<(Option<LitStr>, Option<LitStr>)> {
    if meta.input.peek(Token![=]) {
        let lit: LitStr = meta.value()?.parse()?;
        return Ok((Some(lit.clone()), Some(lit)));
    }
    let (mut ser, mut de) = (None, None);
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            ser = Some(inner.value()?.parse()?);
        } else if inner.path.is_ident("deserialize") {
            de = Some(inner.value()?.parse()?);
        } else {
            skip(&inner)?;
        }
        Ok(())
    })?;
    Ok((ser, de))
}

/// Records `duplicate `name``, or stores `value`.
fn set_once<T>(cx: &mut Ctxt, slot: &mut Option<T>, meta: &ParseNestedMeta<'_>, value: T) {
    if slot.is_some() {
        let name = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        cx.error_spanned_by(&meta.path, format!("duplicate `{name}`"));
    } else {
        *slot = Some(value);
    }
}

/// Parses `(a, b, c)` as names.
fn ident_list(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Ident>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let mut names = Vec::new();
    while !content.is_empty() {
        if content.peek(LitStr) {
            let lit: LitStr = content.parse()?;
            return Err(syn::Error::new(
                lit.span(),
                format!("write names without quotes: `{}`", lit.value()),
            ));
        }
        names.push(content.call(Ident::parse_any)?);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(names)
}

/// Skips an attribute entry this derive does not read: `key`, `key = value` or
/// `key(...)`.
fn skip(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

impl Container {
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        let mut this = Container::default();
        for attr in attrs {
            if attr.path().is_ident("consumer") {
                let result = attr.parse_nested_meta(|meta| {
                    let key = meta.path.get_ident().map(Ident::to_string).unwrap_or_default();
                    match key.as_str() {
                        "resource" => {
                            let lit: LitStr = meta.value()?.parse()?;
                            let name = lit.value();
                            if name.is_empty()
                                || !name
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                            {
                                cx.error_spanned_by(
                                    &lit,
                                    "a resource name is made of letters, digits, `_` and `-`, \
                                     and has no `.`",
                                );
                            }
                            set_once(cx, &mut this.resource, &meta, lit);
                        }
                        "methods" => {
                            let names = ident_list(&meta)?;
                            let keyword = meta.path.get_ident().cloned();
                            if let Some(keyword) = keyword {
                                set_once(cx, &mut this.methods, &meta, (keyword, names));
                            }
                        }
                        "read_only" => this.read_only.extend(ident_list(&meta)?),
                        "page_size" => {
                            let lit = meta.value()?.parse()?;
                            set_once(cx, &mut this.page_size, &meta, lit);
                        }
                        "max_page_size" => {
                            let lit = meta.value()?.parse()?;
                            set_once(cx, &mut this.max_page_size, &meta, lit);
                        }
                        "formatter" => {
                            let expr = meta.value()?.parse()?;
                            set_once(cx, &mut this.formatter, &meta, expr);
                        }
                        "filter" => this.filter.extend(ident_list(&meta)?),
                        "ordering" => this.ordering.extend(ident_list(&meta)?),
                        "scope" => this.scope.extend(ident_list(&meta)?),
                        "queryset" => {
                            let expr = meta.value()?.parse()?;
                            set_once(cx, &mut this.queryset, &meta, expr);
                        }
                        "permission" => {
                            let expr = meta.value()?.parse()?;
                            set_once(cx, &mut this.permission, &meta, expr);
                        }
                        "validate" => {
                            let expr = meta.value()?.parse()?;
                            set_once(cx, &mut this.validate, &meta, expr);
                        }
                        _ => {
                            cx.error_spanned_by(
                                &meta.path,
                                format!(
                                    "unknown consumer option `{}`; expected one of: {CONTAINER_KEYS}",
                                    path_name(&meta.path)
                                ),
                            );
                            skip(&meta)?;
                        }
                    }
                    Ok(())
                });
                if let Err(error) = result {
                    cx.push(error);
                }
            } else if attr.path().is_ident("serde") {
                // Serde's own derive reports errors in its attributes; read what parses.
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename_all") {
                        let (ser, de) = directed_names(&meta)?;
                        this.rename_all_serialize = ser.or(this.rename_all_serialize.take());
                        this.rename_all_deserialize = de.or(this.rename_all_deserialize.take());
                    } else {
                        skip(&meta)?;
                    }
                    Ok(())
                });
            } else if attr.path().is_ident("diesel") {
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("table_name") {
                        this.table_name = Some(meta.value()?.parse()?);
                    } else if meta.path.is_ident("primary_key") {
                        this.primary_key = Some(ident_list(&meta)?);
                    } else {
                        skip(&meta)?;
                    }
                    Ok(())
                });
                if let Err(error) = result {
                    cx.push(error);
                }
            }
        }
        this
    }
}

impl Field {
    pub(crate) fn from_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        let mut this = Field::default();
        for attr in attrs {
            if attr.path().is_ident("validate") {
                this.validate.push(attr.clone());
                continue;
            }
            let result = if attr.path().is_ident("consumer") {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("read_only") {
                        if this.read_only {
                            cx.error_spanned_by(&meta.path, "duplicate `read_only`");
                        }
                        this.read_only = true;
                    } else {
                        cx.error_spanned_by(
                            &meta.path,
                            format!(
                                "unknown field option `{}`; expected one of: {FIELD_KEYS}",
                                path_name(&meta.path)
                            ),
                        );
                        skip(&meta)?;
                    }
                    Ok(())
                })
            } else if attr.path().is_ident("diesel") {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("column_name") {
                        this.column_name = Some(meta.value()?.parse()?);
                    } else {
                        skip(&meta)?;
                    }
                    Ok(())
                })
            } else if attr.path().is_ident("serde") {
                this.serde.push(attr.clone());
                // Serde's own derive reports errors in its attributes, and gives them their
                // meaning on input; only the names are read here, for the lists of names
                // the runtime checks requests against.
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename") {
                        let (ser, de) = directed_names(&meta)?;
                        this.rename_serialize = ser.or(this.rename_serialize.take());
                        this.rename_deserialize = de.or(this.rename_deserialize.take());
                    } else if meta.path.is_ident("alias") {
                        this.aliases.push(meta.value()?.parse()?);
                    } else if meta.path.is_ident("skip") {
                        this.skip_serializing = true;
                        this.skip_deserializing = true;
                    } else if meta.path.is_ident("skip_serializing") {
                        this.skip_serializing = true;
                    } else if meta.path.is_ident("skip_deserializing") {
                        this.skip_deserializing = true;
                    } else {
                        skip(&meta)?;
                    }
                    Ok(())
                });
                Ok(())
            } else {
                Ok(())
            };
            if let Err(error) = result {
                cx.push(error);
            }
        }
        this
    }
}

fn path_name(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
