//! The checked model: what the derive generates code from, once every rule holds.

use syn::{Data, DeriveInput, Expr, Fields, GenericArgument, Ident, Path, PathArguments, Type};

use crate::attr;
use crate::ctxt::Ctxt;

/// A built-in method. Every place that generates code for one matches on this enum, so
/// a new built-in cannot silently fall into another's code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    Create,
    Retrieve,
    Update,
    Patch,
    List,
    Delete,
    Subscribe,
    Unsubscribe,
}

impl Builtin {
    /// Every built-in method, as written in `methods(...)`.
    pub(crate) const ALL: [(&'static str, Builtin); 8] = [
        ("create", Builtin::Create),
        ("retrieve", Builtin::Retrieve),
        ("update", Builtin::Update),
        ("patch", Builtin::Patch),
        ("list", Builtin::List),
        ("delete", Builtin::Delete),
        ("subscribe", Builtin::Subscribe),
        ("unsubscribe", Builtin::Unsubscribe),
    ];

    /// The methods of a consumer whose `methods(...)` is left out.
    const DEFAULTS: [Builtin; 5] = [
        Builtin::Create,
        Builtin::Retrieve,
        Builtin::Update,
        Builtin::List,
        Builtin::Delete,
    ];

    fn from_name(name: &Ident) -> Option<Builtin> {
        Self::ALL
            .iter()
            .find(|(n, _)| name == n)
            .map(|(_, builtin)| *builtin)
    }

    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("", |(name, _)| name)
    }

    /// The built-in a name not among them was probably meant to be: one or two edits
    /// away (`retreive`), as the runtime suggests for a misspelled field.
    pub(crate) fn closest(name: &Ident) -> Option<Builtin> {
        let name = name.to_string();
        Self::ALL
            .iter()
            .map(|(builtin, b)| (edit_distance(&name, builtin), *builtin, *b))
            .filter(|(d, builtin, _)| *d > 0 && *d <= builtin.len().div_ceil(3))
            .min_by_key(|(d, _, _)| *d)
            .map(|(_, _, b)| b)
    }

    pub(crate) fn names() -> String {
        Self::ALL.map(|(name, _)| name).join(", ")
    }
}

/// Levenshtein distance between two short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.as_bytes().iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

pub(crate) enum Method {
    Builtin(Builtin, Ident),
    Custom(Ident),
}

impl Method {
    pub(crate) fn ident(&self) -> &Ident {
        match self {
            Method::Builtin(_, ident) | Method::Custom(ident) => ident,
        }
    }
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    /// The column, in the table's module.
    pub(crate) column: Ident,
    /// The name in responses: serde's serialize-side name.
    pub(crate) name: String,
    /// The name in requests: serde's deserialize-side name (filters, ordering, error keys).
    pub(crate) input: String,
    /// Other names create, update and patch accept for it (`#[serde(alias = ...)]`).
    pub(crate) aliases: Vec<String>,
    pub(crate) read_only: bool,
    /// `Option<T>`: may be null.
    pub(crate) nullable: bool,
    /// `#[serde(skip_serializing)]`: taken from input, never sent back.
    pub(crate) write_only: bool,
    /// `#[serde(skip_deserializing)]`: never read from a request; serde fills it in.
    pub(crate) skip_input: bool,
    /// The field's `#[serde(...)]` attributes, forwarded onto the input shapes.
    pub(crate) serde: Vec<syn::Attribute>,
    /// `#[validate(...)]` attributes for the input shapes.
    pub(crate) validate: Vec<syn::Attribute>,
}

pub(crate) struct Model<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) resource: String,
    pub(crate) methods: Vec<Method>,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) pk: usize,
    pub(crate) table: Path,
    pub(crate) page_size: u32,
    pub(crate) max_page_size: u32,
    pub(crate) formatter: Option<Expr>,
    /// Indexes of the fields a request may filter on.
    pub(crate) filter: Vec<usize>,
    /// Indexes of the fields a request may order by.
    pub(crate) ordering: Vec<usize>,
    /// Indexes of the fields a `queryset` may constrain besides the filters and the key.
    pub(crate) scope: Vec<usize>,
    pub(crate) queryset: Option<Expr>,
    pub(crate) permission: Option<Expr>,
    /// The function that checks a whole write request.
    pub(crate) validate: Option<Expr>,
    /// The container's deserialize-side `rename_all` rule, forwarded onto the input shapes.
    pub(crate) rename_all: Option<syn::LitStr>,
}

impl<'a> Model<'a> {
    /// The writable fields: what create, update and patch read from a request.
    pub(crate) fn writable(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| !f.read_only)
    }

    /// The writable fields but the primary key, which identifies the record to change.
    pub(crate) fn changeable(&self) -> impl Iterator<Item = &Field<'a>> {
        let pk = self.pk;
        self.fields
            .iter()
            .enumerate()
            .filter(move |(i, f)| !f.read_only && *i != pk)
            .map(|(_, f)| f)
    }

    /// Whether field `index` can be filtered on: the primary key (retrieve, cursors), the
    /// fields in `filter(...)` (requests) and in `scope(...)` (the queryset). Only these
    /// get filter variants and typed fields.
    pub(crate) fn is_filterable(&self, index: usize) -> bool {
        index == self.pk || self.filter.contains(&index) || self.scope.contains(&index)
    }

    /// The fields that can be filtered on, with their indexes, in declaration order.
    pub(crate) fn filterable(&self) -> impl Iterator<Item = (usize, &Field<'a>)> {
        self.fields
            .iter()
            .enumerate()
            .filter(|(i, _)| self.is_filterable(*i))
    }

    pub(crate) fn pk(&self) -> &Field<'a> {
        &self.fields[self.pk]
    }

    pub(crate) fn from_ast(input: &'a DeriveInput) -> syn::Result<Self> {
        let mut cx = Ctxt::default();
        let container = attr::Container::from_attrs(&mut cx, &input.attrs);

        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                "`ModelConsumer` does not support generic models: derive it on a concrete \
                 Diesel model",
            );
        }
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(named),
                _ => None,
            },
            _ => None,
        };
        let Some(named) = named else {
            let mut error = syn::Error::new_spanned(
                &input.ident,
                "`ModelConsumer` works on a struct with named fields, one per column of its \
                 table",
            );
            if let Err(others) = cx.check() {
                error.combine(others);
            }
            return Err(error);
        };

        let rule = |lit: &Option<syn::LitStr>| lit.as_ref().map(syn::LitStr::value);
        let (serialize_rule, deserialize_rule) = (
            rule(&container.rename_all_serialize),
            rule(&container.rename_all_deserialize),
        );
        let mut fields = Vec::new();
        for field in &named.named {
            let Some(ident) = &field.ident else { continue };
            let attrs = attr::Field::from_attrs(&mut cx, &field.attrs);
            let name = ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
            // Serde's rules: an explicit rename wins over the container's `rename_all`.
            let output = match &attrs.rename_serialize {
                Some(lit) => lit.value(),
                None => rename_field(&name, serialize_rule.as_deref()),
            };
            let input = match &attrs.rename_deserialize {
                Some(lit) => lit.value(),
                None => rename_field(&name, deserialize_rule.as_deref()),
            };
            let mut aliases: Vec<String> = Vec::new();
            for alias in &attrs.aliases {
                let alias = alias.value();
                if alias != input && !aliases.contains(&alias) {
                    aliases.push(alias);
                }
            }
            fields.push(Field {
                ident,
                ty: &field.ty,
                column: attrs.column_name.unwrap_or_else(|| ident.clone()),
                name: output,
                input,
                aliases,
                read_only: attrs.read_only,
                nullable: is_option(&field.ty),
                write_only: attrs.skip_serializing,
                skip_input: attrs.skip_deserializing,
                serde: attrs.serde,
                validate: attrs.validate,
            });
        }

        let mut field_indexes = |names: &[Ident], option: &str| -> Vec<usize> {
            let mut indexes = Vec::new();
            for name in names {
                match fields.iter().position(|f| f.ident == name) {
                    Some(i) if indexes.contains(&i) => {
                        cx.error_spanned_by(name, format!("`{option}` names `{name}` twice"));
                    }
                    Some(i) => indexes.push(i),
                    None => cx.error_spanned_by(
                        name,
                        format!(
                            "`{option}` names `{name}`, but `{}` has no such field",
                            input.ident
                        ),
                    ),
                }
            }
            indexes
        };
        let read_only = field_indexes(&container.read_only, "read_only");
        let filter = field_indexes(&container.filter, "filter");
        let ordering = field_indexes(&container.ordering, "ordering");
        let scope = field_indexes(&container.scope, "scope");
        for i in read_only {
            fields[i].read_only = true;
        }

        let table = match container.table_name {
            Some(table) => table,
            None => {
                cx.error_spanned_by(
                    &input.ident,
                    format!(
                        "`{}` names no table\n\
                         note: add `#[diesel(table_name = schema::your_table)]`, the table \
                         `Queryable` and `Selectable` read from",
                        input.ident
                    ),
                );
                syn::parse_quote!(__missing_table)
            }
        };

        let pk = match &container.primary_key {
            Some(keys) if keys.len() != 1 => {
                let at = keys
                    .get(1)
                    .map_or_else(|| input.ident.clone(), Clone::clone);
                cx.error_spanned_by(
                    at,
                    "`ModelConsumer` needs a single-column primary key; composite keys are \
                     not supported",
                );
                None
            }
            Some(keys) => {
                let key = &keys[0];
                let found = fields.iter().position(|f| f.ident == key);
                if found.is_none() {
                    cx.error_spanned_by(
                        key,
                        format!(
                            "`primary_key` names `{key}`, but `{}` has no such field",
                            input.ident
                        ),
                    );
                }
                found
            }
            None => {
                let found = fields.iter().position(|f| f.ident == "id");
                if found.is_none() {
                    cx.error_spanned_by(
                        &input.ident,
                        format!(
                            "`{}` has no primary key\n\
                             note: add an `id` field, or name the key field with \
                             `#[diesel(primary_key(field))]`",
                            input.ident
                        ),
                    );
                }
                found
            }
        };

        let methods = match container.methods {
            Some((keyword, names)) => {
                if names.is_empty() {
                    cx.error_spanned_by(
                        &keyword,
                        format!(
                            "`methods(...)` lists no method; built-in ones are: {}",
                            Builtin::names()
                        ),
                    );
                }
                let mut methods: Vec<Method> = Vec::new();
                for name in names {
                    if methods.iter().any(|m| *m.ident() == name) {
                        cx.error_spanned_by(&name, format!("duplicate method `{name}`"));
                        continue;
                    }
                    methods.push(match Builtin::from_name(&name) {
                        Some(builtin) => Method::Builtin(builtin, name),
                        None => Method::Custom(name),
                    });
                }
                methods
            }
            None => Builtin::DEFAULTS
                .iter()
                .map(|b| Method::Builtin(*b, Ident::new(b.name(), input.ident.span())))
                .collect(),
        };

        let page_size = positive(&mut cx, container.page_size.as_ref(), 50);
        let max_page_size = positive(
            &mut cx,
            container.max_page_size.as_ref(),
            1000.max(page_size),
        );
        if max_page_size < page_size
            && let Some(lit) = &container.max_page_size
        {
            cx.error_spanned_by(
                lit,
                format!("`max_page_size` is below `page_size` ({page_size})"),
            );
        }

        if let Some(pk) = pk.map(|i| &fields[i])
            && (pk.name != pk.input || !pk.aliases.is_empty())
        {
            cx.error_spanned_by(
                pk.ident,
                format!(
                    "the primary key `{}` must have one name on the wire, the same in requests \
                     and responses (here `{}` and `{}`{})\n\
                     note: drop its `rename(serialize = .., deserialize = ..)` and `alias`",
                    pk.ident,
                    pk.name,
                    pk.input,
                    if pk.aliases.is_empty() {
                        ""
                    } else {
                        ", with aliases"
                    },
                ),
            );
        }

        let resource = match &container.resource {
            Some(lit) => lit.value(),
            None => snake_case(&input.ident.to_string()),
        };

        cx.check()?;
        Ok(Model {
            ident: &input.ident,
            resource,
            methods,
            fields,
            pk: pk.unwrap_or_default(),
            table,
            page_size,
            max_page_size,
            formatter: container.formatter,
            filter,
            ordering,
            scope,
            queryset: container.queryset,
            permission: container.permission,
            validate: container.validate,
            rename_all: container.rename_all_deserialize,
        })
    }
}

fn positive(cx: &mut Ctxt, lit: Option<&syn::LitInt>, default: u32) -> u32 {
    let Some(lit) = lit else { return default };
    match lit.base10_parse::<u32>() {
        Ok(n) if n > 0 => n,
        _ => {
            cx.error_spanned_by(lit, "expected a whole number from 1 to 4294967295");
            default
        }
    }
}

/// `T` when a type is written `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            GenericArgument::Type(inner) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

fn is_option(ty: &Type) -> bool {
    option_inner(ty).is_some()
}

/// The JSON type of a field's Rust type, read from its name, with a format where one
/// helps: `("string", Some("date-time"))` for a `NaiveDateTime`.
pub(crate) fn json_type(ty: &Type) -> (&'static str, Option<&'static str>) {
    let ty = option_inner(ty).unwrap_or(ty);
    let name = match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        Type::Reference(reference) => return json_type(&reference.elem),
        Type::Array(_) | Type::Slice(_) | Type::Tuple(_) => return ("array", None),
        _ => return ("object", None),
    };
    match name.as_str() {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" => ("integer", None),
        "f32" | "f64" | "BigDecimal" | "Decimal" => ("number", None),
        "bool" => ("boolean", None),
        "String" | "str" | "char" | "Cow" => ("string", None),
        "NaiveDateTime" | "DateTime" | "SystemTime" | "OffsetDateTime" | "PrimitiveDateTime" => {
            ("string", Some("date-time"))
        }
        "NaiveDate" | "Date" => ("string", Some("date")),
        "NaiveTime" | "Time" => ("string", Some("time")),
        "Uuid" => ("string", Some("uuid")),
        "Vec" => ("array", None),
        _ => ("object", None),
    }
}

/// A field's name under serde's `rename_all` rule (serde's own `RenameRule`, applied to
/// a field written in snake_case). An unknown rule leaves the name as is: serde's derive
/// reports it.
pub(crate) fn rename_field(field: &str, rule: Option<&str>) -> String {
    let pascal = || {
        let mut out = String::with_capacity(field.len());
        let mut capitalize = true;
        for c in field.chars() {
            if c == '_' {
                capitalize = true;
            } else if capitalize {
                out.push(c.to_ascii_uppercase());
                capitalize = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    match rule {
        Some("UPPERCASE" | "SCREAMING_SNAKE_CASE") => field.to_ascii_uppercase(),
        Some("PascalCase") => pascal(),
        Some("camelCase") => {
            let pascal = pascal();
            let mut chars = pascal.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => pascal,
            }
        }
        Some("kebab-case") => field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => field.to_ascii_uppercase().replace('_', "-"),
        _ => field.to_owned(),
    }
}

/// `UserProfile` → `user_profile`.
pub(crate) fn snake_case(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let after_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let before_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (after_lower || (before_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Builtin, rename_field, snake_case};
    use syn::Ident;

    #[test]
    fn renames_fields_as_serde_does() {
        let rename = |rule| rename_field("pub_date_2", Some(rule));
        assert_eq!(rename("camelCase"), "pubDate2");
        assert_eq!(rename("PascalCase"), "PubDate2");
        assert_eq!(rename("kebab-case"), "pub-date-2");
        assert_eq!(rename("SCREAMING-KEBAB-CASE"), "PUB-DATE-2");
        assert_eq!(rename("SCREAMING_SNAKE_CASE"), "PUB_DATE_2");
        assert_eq!(rename("UPPERCASE"), "PUB_DATE_2");
        assert_eq!(rename("lowercase"), "pub_date_2");
        assert_eq!(rename("snake_case"), "pub_date_2");
        assert_eq!(rename_field("id", None), "id");
    }

    #[test]
    fn suggests_the_builtin_a_name_misspells() {
        let closest = |name: &str| {
            Builtin::closest(&Ident::new(name, proc_macro2::Span::call_site())).map(Builtin::name)
        };
        assert_eq!(closest("retreive"), Some("retrieve"));
        assert_eq!(closest("udpate"), Some("update"));
        assert_eq!(closest("lst"), Some("list"));
        assert_eq!(closest("patches"), Some("patch"));
        assert_eq!(closest("list"), None);
        assert_eq!(closest("invite"), None);
        assert_eq!(closest("close"), None);
    }

    #[test]
    fn snake_cases_names() {
        assert_eq!(snake_case("Question"), "question");
        assert_eq!(snake_case("UserProfile"), "user_profile");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("Todo2Item"), "todo2_item");
    }
}
