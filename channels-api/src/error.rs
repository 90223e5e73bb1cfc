//! Errors: [`Error`] for the server's own failures (binding, connecting, migrating), and
//! [`ApiError`], the deliberate mapping of a failure to what a client sees.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

use crate::database::DbError;

/// The server's own failures: what stops it from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket could not be bound or accepted.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is not usable (a bad database URL, for example).
    #[error("configuration error: {0}")]
    Config(String),
    /// The database could not be reached when connecting.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// The database, with any password hidden.
        target: String,
        /// What the driver said.
        reason: String,
    },
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// A `Result` whose error is the server's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error messages by field name, as sent in a response's `errors` member.
///
/// Keys are field names, `"method"`, or `"non_field_errors"` for what concerns no single
/// field; each holds messages a person can act on.
///
/// An answer never grows with what a hostile request sent: at most
/// [`Errors::MAX_MESSAGES`] messages are kept, each key and message is cut short
/// ([`Errors::MAX_KEY`], [`Errors::MAX_MESSAGE`]), and the messages left out are counted
/// under `non_field_errors`
/// ("… and 9 more problems").
///
/// ```
/// use channels_api::Errors;
/// let mut errors = Errors::new();
/// for i in 0..1000 {
///     errors.add(format!("key{i}"), "no such field");
/// }
/// let json = serde_json::to_value(&errors).unwrap();
/// assert_eq!(json.as_object().unwrap().len(), Errors::MAX_MESSAGES + 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors {
    fields: BTreeMap<Cow<'static, str>, Vec<String>>,
    kept: usize,
    omitted: usize,
}

impl Errors {
    /// The key for errors that concern no single field.
    pub const NON_FIELD: &'static str = "non_field_errors";

    /// The most messages one answer carries; the rest are counted.
    pub const MAX_MESSAGES: usize = 20;

    /// The longest key kept, in bytes; a longer one is cut and ends in `…`.
    pub const MAX_KEY: usize = 200;

    /// The longest message kept, in bytes; a longer one is cut and ends in `…`.
    pub const MAX_MESSAGE: usize = 1000;

    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `message` under `field`. Past [`Errors::MAX_MESSAGES`] messages, it is only
    /// counted.
    pub fn add(&mut self, field: impl Into<Cow<'static, str>>, message: impl Into<String>) {
        if self.kept >= Self::MAX_MESSAGES {
            self.omitted += 1;
            return;
        }
        self.kept += 1;
        let field = match field.into() {
            Cow::Owned(field) => Cow::Owned(clip(field, Self::MAX_KEY)),
            borrowed => borrowed,
        };
        self.fields
            .entry(field)
            .or_default()
            .push(clip(message.into(), Self::MAX_MESSAGE));
    }

    /// Whether no message was added.
    pub fn is_empty(&self) -> bool {
        self.kept == 0 && self.omitted == 0
    }

    /// The messages under `field`.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.fields.get(field).map(Vec::as_slice)
    }

    /// Every field and its messages, ordered by field name (without the count of
    /// messages left out).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v.as_slice()))
    }

    /// How many messages were left out past [`Errors::MAX_MESSAGES`].
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// Adds every message of `other`, and its count of those left out.
    pub fn extend(&mut self, other: &Errors) {
        for (field, messages) in other.iter() {
            for message in messages {
                self.add(field.to_owned(), message.clone());
            }
        }
        self.omitted += other.omitted;
    }

    /// `Ok(())` when empty, otherwise a 400 [`ApiError`] carrying these errors.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::with_errors(400, self))
        }
    }
}

impl Serialize for Errors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        let more = (self.omitted > 0).then(|| {
            let noun = if self.omitted == 1 {
                "problem"
            } else {
                "problems"
            };
            format!("… and {} more {noun}", self.omitted)
        });
        let mut more_written = false;
        for (field, messages) in &self.fields {
            if field == Self::NON_FIELD
                && let Some(more) = &more
            {
                let all: Vec<&str> = messages
                    .iter()
                    .map(String::as_str)
                    .chain([more.as_str()])
                    .collect();
                map.serialize_entry(field, &all)?;
                more_written = true;
            } else {
                map.serialize_entry(field, messages)?;
            }
        }
        if let (Some(more), false) = (&more, more_written) {
            map.serialize_entry(Self::NON_FIELD, &[more])?;
        }
        map.end()
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// A failed request, as the client will see it: an HTTP-like status and the errors by
/// field.
///
/// Custom methods return it; `?` converts database errors into it.
///
/// ```
/// use channels_api::ApiError;
/// let err = ApiError::field(400, "email", "enter a valid email address");
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.errors().get("email").unwrap(), ["enter a valid email address"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: u16,
    errors: Errors,
}

impl ApiError {
    /// An error with `status` and one message under `non_field_errors`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self::field(status, Errors::NON_FIELD, message)
    }

    /// An error with `status` and one message under `field`.
    pub fn field(
        status: u16,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        let mut errors = Errors::new();
        errors.add(field, message);
        Self::with_errors(status, errors)
    }

    /// An error with `status` and the given messages.
    pub fn with_errors(status: u16, errors: Errors) -> Self {
        Self { status, errors }
    }

    /// 400: the request is malformed or failed validation.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 401: the connection is not authenticated.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    /// 403: the connection may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// 404: no such record.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 500: something failed on the server. The message is fixed so internals never leak;
    /// log the cause before returning this.
    pub fn internal() -> Self {
        Self::new(500, "internal server error")
    }

    /// 503: the database is unavailable.
    pub fn unavailable() -> Self {
        Self::new(503, "the database is unavailable, try again later")
    }

    /// The HTTP-like status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The messages by field.
    pub fn errors(&self) -> &Errors {
        &self.errors
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {}", self.status)?;
        for (field, messages) in self.errors.iter() {
            write!(f, "; {field}: {}", messages.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                ApiError::unavailable()
            }
            DbError::Query(error) => error.into(),
            DbError::Panicked(reason) => {
                tracing::error!(%reason, "database task panicked");
                ApiError::internal()
            }
        }
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => ApiError::not_found("not found"),
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => conflict(
                    info.as_ref(),
                    "a record with this value already exists",
                    "a record with these values already exists",
                ),
                DatabaseErrorKind::ForeignKeyViolation => conflict(
                    info.as_ref(),
                    "the referenced record does not exist or is still referenced",
                    "the change conflicts with related records",
                ),
                DatabaseErrorKind::CheckViolation => conflict(
                    info.as_ref(),
                    "the value breaks a rule of the database",
                    "the values break a rule of the database",
                ),
                DatabaseErrorKind::NotNullViolation => match column_of(info.as_ref()) {
                    Some(column) => ApiError::field(400, column, "this field is required"),
                    None => ApiError::bad_request("a required value is missing"),
                },
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    tracing::warn!(%error, "database connection lost");
                    ApiError::unavailable()
                }
                _ if is_busy(info.message()) => {
                    tracing::warn!(%error, "database busy");
                    ApiError::unavailable()
                }
                _ => {
                    tracing::error!(%error, "database error");
                    ApiError::internal()
                }
            },
            _ => {
                tracing::error!(%error, "database error");
                ApiError::internal()
            }
        }
    }
}

/// A 409 whose message sits under the column the database names, when it names one.
fn conflict(info: &dyn DatabaseErrorInformation, one: &str, many: &str) -> ApiError {
    match column_of(info) {
        Some(column) => ApiError::field(409, column, one),
        None => ApiError::new(409, many),
    }
}

/// The single column a constraint error is about: PostgreSQL reports it in its column
/// field or in its detail (`Key (email)=(x) already exists.`), SQLite in its message
/// (`UNIQUE constraint failed: users.email`).
fn column_of(info: &dyn DatabaseErrorInformation) -> Option<String> {
    if let Some(column) = info.column_name() {
        return Some(column.to_owned());
    }
    if let Some(detail) = info.details()
        && let Some(rest) = detail.strip_prefix("Key (")
        && let Some(end) = rest.find(")=")
        && !rest[..end].contains(',')
    {
        return Some(rest[..end].to_owned());
    }
    let message = info.message();
    let (_, columns) = message.split_once(" constraint failed: ")?;
    if columns.contains(',') {
        return None;
    }
    let column = columns.rsplit('.').next()?.trim();
    (!column.is_empty()).then(|| column.to_owned())
}

/// SQLite's answer when another connection holds the write lock past the busy timeout,
/// and PostgreSQL's when a statement ran past `statement_timeout` or waited for a lock
/// past `lock_timeout`.
fn is_busy(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database is busy")
        || message.contains("canceling statement due to statement timeout")
        || message.contains("canceling statement due to lock timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(&'static str, Option<&'static str>);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            self.1
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn unique(info: Info) -> ApiError {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, Box::new(info)).into()
    }

    #[test]
    fn unique_violations_name_the_column() {
        let e = unique(Info("UNIQUE constraint failed: users.email", None));
        assert_eq!(e.status(), 409);
        assert!(e.errors().get("email").is_some(), "{e}");

        let e = unique(Info(
            "duplicate key value violates unique constraint \"users_email_key\"",
            Some("Key (email)=(a@b.c) already exists."),
        ));
        assert!(e.errors().get("email").is_some(), "{e}");

        let e = unique(Info("UNIQUE constraint failed: t.a, t.b", None));
        assert!(e.errors().get(Errors::NON_FIELD).is_some(), "{e}");
    }

    #[test]
    fn internal_errors_hide_the_cause() {
        let e: ApiError = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(Info("syntax error near SELEC", None)),
        )
        .into();
        assert_eq!(e.status(), 500);
        assert!(!e.to_string().contains("SELEC"));
    }
}
