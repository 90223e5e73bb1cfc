//! One field's filter as a request wrote it, and what it means: [`Compare`] holds the
//! lookup and its value, read as the field's type; it becomes SQL
//! ([`Compare::condition`]) and tests a row in memory ([`Compare::matches`], for live
//! data). The derive's `__Filter` has one variant per filterable field, holding one of
//! these, so each lookup is written here once instead of generated per field.
//!
//! Values are bound through [`Bind`], which asks of their types only `ToSql`: what the
//! derive checks of a field, and what its generated impls assume.

use diesel::backend::Backend;
use diesel::expression::TypedExpressionType;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Nullable, SingleValue, SqlType, Text};
use diesel::{
    BoolExpressionMethods, BoxableExpression, Column, Expression, ExpressionMethods, QueryResult,
    dsl,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::query::{FilterError, Lookup, contains_pattern, filter_value};

/// A filter's condition, boxed for a query on table `QS`.
pub type Where<QS, DB> = Box<dyn BoxableExpression<QS, DB, SqlType = Nullable<Bool>>>;

/// One field's filter: a lookup and its value, read as the field's type `T` (the type
/// inside its `Option` for a nullable field).
#[derive(Debug, Clone, PartialEq)]
pub enum Compare<T> {
    /// `field`: equal.
    Exact(T),
    /// `field__gt`.
    Gt(T),
    /// `field__gte`.
    Gte(T),
    /// `field__lt`.
    Lt(T),
    /// `field__lte`.
    Lte(T),
    /// `field__in`: equal to one of these.
    In(Vec<T>),
    /// `field__isnull`: null (`true`) or not.
    IsNull(bool),
    /// `field__contains`, of a text field: contains this, case-sensitive.
    Contains(String),
    /// `field__icontains`, of a text field: contains this, case-insensitive.
    IContains(String),
}

impl<T: DeserializeOwned> Compare<T> {
    /// Reads `raw` as the value of `lookup` on a field of type `T`; `text` if the field
    /// is text, the only kind that takes `contains` and `icontains`.
    pub fn parse(lookup: Lookup, raw: &RawValue, text: bool) -> Result<Self, FilterError> {
        Ok(match lookup {
            Lookup::Exact => Compare::Exact(filter_value(raw)?),
            Lookup::Gt => Compare::Gt(filter_value(raw)?),
            Lookup::Gte => Compare::Gte(filter_value(raw)?),
            Lookup::Lt => Compare::Lt(filter_value(raw)?),
            Lookup::Lte => Compare::Lte(filter_value(raw)?),
            Lookup::In => Compare::In(filter_value(raw)?),
            Lookup::IsNull => Compare::IsNull(filter_value(raw)?),
            Lookup::Contains if text => Compare::Contains(filter_value(raw)?),
            Lookup::IContains if text => Compare::IContains(filter_value(raw)?),
            Lookup::Contains | Lookup::IContains => return Err(FilterError::Lookup),
        })
    }
}

/// The text of a text field's value, for [`Compare::matches`].
pub fn as_text<T: AsRef<str>>(value: &T) -> &str {
    value.as_ref()
}

/// The text of a field that is not text, for [`Compare::matches`]: never asked for, since
/// such a field takes no text lookup.
pub fn not_text<T>(_: &T) -> &str {
    ""
}

/// All of `filters`, each made a condition by `condition`; `None` for none.
pub fn all_of<F, QS: 'static, DB: Backend + 'static>(
    filters: &[F],
    condition: impl Fn(&F) -> Where<QS, DB>,
) -> Option<Where<QS, DB>>
where
    dsl::And<Where<QS, DB>, Where<QS, DB>>: Boxable<QS, DB>,
{
    filters
        .iter()
        .map(condition)
        .reduce(|all, next| Box::new(all.and(next)))
}

impl<T: PartialOrd> Compare<T> {
    /// Whether a row whose field holds `value` (`None`: null) passes, as the database
    /// would decide: a comparison with null is false. `text` reads a text field's value.
    pub fn matches(&self, value: Option<&T>, text: fn(&T) -> &str) -> bool {
        let Some(value) = value else {
            return matches!(self, Compare::IsNull(true));
        };
        match self {
            Compare::Exact(v) => value == v,
            Compare::Gt(v) => value > v,
            Compare::Gte(v) => value >= v,
            Compare::Lt(v) => value < v,
            Compare::Lte(v) => value <= v,
            Compare::In(values) => values.contains(value),
            Compare::IsNull(null) => !null,
            Compare::Contains(needle) => text(value).contains(needle.as_str()),
            Compare::IContains(needle) => {
                text(value).to_lowercase().contains(&needle.to_lowercase())
            }
        }
    }
}

impl<T: Clone> Compare<T> {
    /// The condition on `column`, each value bound as `wrap` makes it: the value itself
    /// for a `NOT NULL` column, `Some` of it for a nullable one (the field's own type).
    pub fn condition<C, V, DB>(&self, column: C, wrap: fn(T) -> V) -> Where<C::Table, DB>
    where
        DB: Backend,
        C: Column + Copy,
        C::SqlType: SingleValue + TypedExpressionType,
        V: 'static,
        AsNullable<dsl::Eq<C, Bind<C::SqlType, V>>>: Boxable<C::Table, DB>,
        AsNullable<dsl::Gt<C, Bind<C::SqlType, V>>>: Boxable<C::Table, DB>,
        AsNullable<dsl::GtEq<C, Bind<C::SqlType, V>>>: Boxable<C::Table, DB>,
        AsNullable<dsl::Lt<C, Bind<C::SqlType, V>>>: Boxable<C::Table, DB>,
        AsNullable<dsl::LtEq<C, Bind<C::SqlType, V>>>: Boxable<C::Table, DB>,
        AsNullable<dsl::EqAny<C, Vec<Bind<C::SqlType, V>>>>: Boxable<C::Table, DB>,
        AsNullable<dsl::IsNull<C>>: Boxable<C::Table, DB>,
        AsNullable<dsl::IsNotNull<C>>: Boxable<C::Table, DB>,
        Contains<C>: Boxable<C::Table, DB>,
    {
        let value = |v: &T| bind(column, wrap(v.clone()));
        match self {
            Compare::Exact(v) => Box::new(AsNullable(column.eq(value(v)))),
            Compare::Gt(v) => Box::new(AsNullable(column.gt(value(v)))),
            Compare::Gte(v) => Box::new(AsNullable(column.ge(value(v)))),
            Compare::Lt(v) => Box::new(AsNullable(column.lt(value(v)))),
            Compare::Lte(v) => Box::new(AsNullable(column.le(value(v)))),
            Compare::In(values) => Box::new(AsNullable(
                column.eq_any(values.iter().map(value).collect::<Vec<_>>()),
            )),
            Compare::IsNull(true) => Box::new(AsNullable(column.is_null())),
            Compare::IsNull(false) => Box::new(AsNullable(column.is_not_null())),
            Compare::Contains(needle) => Box::new(contains(column, needle, false)),
            Compare::IContains(needle) => Box::new(contains(column, needle, true)),
        }
    }
}

/// A condition `E` typed as nullable: a comparison on a `NOT NULL` column is `Bool`, on a
/// nullable one `Nullable<Bool>`, and a [`Where`] holds either. Its SQL is `E`'s.
#[derive(Debug)]
pub struct AsNullable<E>(E);

impl<E: Expression> Expression for AsNullable<E> {
    type SqlType = Nullable<Bool>;
}

impl<E: diesel::AppearsOnTable<QS>, QS: ?Sized> diesel::AppearsOnTable<QS> for AsNullable<E> {}

impl<E: diesel::SelectableExpression<QS>, QS: ?Sized> diesel::SelectableExpression<QS>
    for AsNullable<E>
{
}

impl<E: diesel::expression::ValidGrouping<GB>, GB> diesel::expression::ValidGrouping<GB>
    for AsNullable<E>
{
    type IsAggregate = E::IsAggregate;
}

impl<E: QueryId> QueryId for AsNullable<E> {
    type QueryId = E::QueryId;
    const HAS_STATIC_QUERY_ID: bool = E::HAS_STATIC_QUERY_ID;
}

impl<E: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for AsNullable<E> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }
}

/// An expression a [`Where`] can box.
pub trait Boxable<QS, DB: Backend>:
    BoxableExpression<QS, DB, SqlType = Nullable<Bool>> + 'static
{
}

impl<QS, DB: Backend, E> Boxable<QS, DB> for E where
    E: BoxableExpression<QS, DB, SqlType = Nullable<Bool>> + 'static
{
}

/// A field's value bound as its column's SQL type `ST`: a bind parameter, like the one
/// Diesel makes of a value, that asks of the value's type only what the derive's checks
/// check (`ToSql<ST, _>`, see `BindsColumn` in the private module).
///
/// Diesel binds a value through `AsExpression`, whose associated type a generated impl
/// cannot assume; a field whose type does not match its column would then fail in every
/// query that writes or filters it, on top of the check that names it. Bound through this
/// type, the queries assume the check (`for<'__b> T: BindsColumn<ST>` on their impl), so
/// the mistake is reported once.
pub struct Bind<ST, T> {
    value: T,
    sql_type: std::marker::PhantomData<ST>,
}

/// Binds `value` as the SQL type of `column`.
pub fn bind<C: Expression, T>(_column: C, value: T) -> Bind<C::SqlType, T> {
    Bind {
        value,
        sql_type: std::marker::PhantomData,
    }
}

impl<ST, T: std::fmt::Debug> std::fmt::Debug for Bind<ST, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<ST, T> Expression for Bind<ST, T>
where
    ST: SqlType + TypedExpressionType,
{
    type SqlType = ST;
}

impl<ST, T, QS: ?Sized> diesel::AppearsOnTable<QS> for Bind<ST, T> where Self: Expression {}

impl<ST, T, QS: ?Sized> diesel::SelectableExpression<QS> for Bind<ST, T> where Self: Expression {}

impl<ST, T, GB> diesel::expression::ValidGrouping<GB> for Bind<ST, T> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<ST: QueryId, T> QueryId for Bind<ST, T> {
    type QueryId = Bind<ST::QueryId, ()>;
    const HAS_STATIC_QUERY_ID: bool = ST::HAS_STATIC_QUERY_ID;
}

impl<ST, T, DB> QueryFragment<DB> for Bind<ST, T>
where
    DB: Backend + diesel::sql_types::HasSqlType<ST>,
    T: diesel::serialize::ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        pass.push_bind_param::<ST, T>(&self.value)
    }
}

// `IN (...)` binds each value of its list through `ToSql`.
impl<ST, T, DB> diesel::serialize::ToSql<ST, DB> for Bind<ST, T>
where
    DB: Backend,
    T: diesel::serialize::ToSql<ST, DB> + std::fmt::Debug,
{
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, DB>,
    ) -> diesel::serialize::Result {
        self.value.to_sql(out)
    }
}

/// `column` contains `needle`, as the filter lookups `contains` and `icontains` compare:
/// `instr(column, ?) > 0` (case-sensitive) and `column LIKE ? ESCAPE '\'` on SQLite,
/// `column LIKE ? ESCAPE '\'` and `column ILIKE ? ESCAPE '\'` on PostgreSQL.
///
/// Only the needle is bound, as `Text`; the column's own type is not asked of Rust, so a
/// field whose type does not match its column is reported by the derive's check alone.
#[derive(Debug)]
pub struct Contains<C> {
    column: C,
    // What SQLite's `instr` looks for.
    #[cfg(feature = "sqlite")]
    needle: String,
    pattern: String,
    ignore_case: bool,
}

/// `column` contains `needle`; case-insensitively if `ignore_case`.
fn contains<C>(column: C, needle: &str, ignore_case: bool) -> Contains<C> {
    Contains {
        column,
        #[cfg(feature = "sqlite")]
        needle: needle.to_owned(),
        pattern: contains_pattern(needle),
        ignore_case,
    }
}

impl<C> Expression for Contains<C> {
    type SqlType = Nullable<Bool>;
}

impl<C: diesel::AppearsOnTable<QS>, QS: ?Sized> diesel::AppearsOnTable<QS> for Contains<C> {}

impl<C: diesel::SelectableExpression<QS>, QS: ?Sized> diesel::SelectableExpression<QS>
    for Contains<C>
{
}

impl<C: diesel::expression::ValidGrouping<GB>, GB> diesel::expression::ValidGrouping<GB>
    for Contains<C>
{
    type IsAggregate = C::IsAggregate;
}

impl<C> QueryId for Contains<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> Contains<C> {
    /// `column LIKE ? ESCAPE '\'`, or `ILIKE`.
    fn walk_like<'b, DB>(&'b self, operator: &str, mut pass: AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: Backend,
        C: QueryFragment<DB>,
        String: diesel::serialize::ToSql<Text, DB>,
    {
        self.column.walk_ast(pass.reborrow())?;
        pass.push_sql(operator);
        pass.push_bind_param::<Text, _>(&self.pattern)?;
        pass.push_sql(" ESCAPE '\\'");
        Ok(())
    }
}

#[cfg(feature = "postgres")]
impl<C: QueryFragment<diesel::pg::Pg>> QueryFragment<diesel::pg::Pg> for Contains<C> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        self.walk_like(
            if self.ignore_case {
                " ILIKE "
            } else {
                " LIKE "
            },
            pass,
        )
    }
}

// SQLite's `LIKE` ignores the case of ASCII letters; `instr` compares exactly.
#[cfg(feature = "sqlite")]
impl<C: QueryFragment<diesel::sqlite::Sqlite>> QueryFragment<diesel::sqlite::Sqlite>
    for Contains<C>
{
    fn walk_ast<'b>(
        &'b self,
        mut pass: AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        if self.ignore_case {
            return self.walk_like(" LIKE ", pass);
        }
        pass.push_sql("instr(");
        self.column.walk_ast(pass.reborrow())?;
        pass.push_sql(", ");
        pass.push_bind_param::<Text, _>(&self.needle)?;
        pass.push_sql(") > 0");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn parses_each_lookup_as_the_fields_type() {
        let parse = |lookup, json: &str| Compare::<i32>::parse(lookup, &raw(json), false);
        assert_eq!(parse(Lookup::Exact, "3"), Ok(Compare::Exact(3)));
        assert_eq!(parse(Lookup::Gte, "3"), Ok(Compare::Gte(3)));
        assert_eq!(parse(Lookup::In, "[1, 2]"), Ok(Compare::In(vec![1, 2])));
        assert_eq!(parse(Lookup::IsNull, "true"), Ok(Compare::IsNull(true)));
        assert!(matches!(
            parse(Lookup::Lt, "\"x\""),
            Err(FilterError::Value(_))
        ));
        // Only a text field takes the text lookups.
        assert!(matches!(
            parse(Lookup::Contains, "\"x\""),
            Err(FilterError::Lookup)
        ));
        assert_eq!(
            Compare::<String>::parse(Lookup::IContains, &raw("\"Rust\""), true),
            Ok(Compare::IContains("Rust".to_owned()))
        );
    }

    #[test]
    fn matches_as_the_database_compares() {
        let on =
            |compare: Compare<i32>, value: Option<i32>| compare.matches(value.as_ref(), not_text);
        assert!(on(Compare::Exact(3), Some(3)));
        assert!(!on(Compare::Exact(3), Some(4)));
        assert!(on(Compare::Gt(3), Some(4)) && !on(Compare::Gt(3), Some(3)));
        assert!(on(Compare::Gte(3), Some(3)) && !on(Compare::Gte(3), Some(2)));
        assert!(on(Compare::Lt(3), Some(2)) && !on(Compare::Lt(3), Some(3)));
        assert!(on(Compare::Lte(3), Some(3)) && !on(Compare::Lte(3), Some(4)));
        assert!(on(Compare::In(vec![1, 5]), Some(5)) && !on(Compare::In(vec![]), Some(5)));
        assert!(on(Compare::IsNull(false), Some(1)) && !on(Compare::IsNull(true), Some(1)));
        // A comparison with null is false; only `isnull` holds of it.
        for compare in [Compare::Exact(3), Compare::Lt(3), Compare::In(vec![3])] {
            assert!(!on(compare, None));
        }
        assert!(on(Compare::IsNull(true), None) && !on(Compare::IsNull(false), None));

        let text = |compare: Compare<String>, value: &str| {
            compare.matches(Some(&value.to_owned()), as_text)
        };
        assert!(text(Compare::Contains("st".into()), "Rust"));
        assert!(!text(Compare::Contains("RU".into()), "Rust"));
        assert!(text(Compare::IContains("RU".into()), "Rust"));
    }
}
