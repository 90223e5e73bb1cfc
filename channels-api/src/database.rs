//! Database access: a pool of Diesel connections to SQLite or PostgreSQL, chosen at run time
//! from the database URL, and a way to run queries without blocking the async runtime.
//!
//! Diesel is synchronous. Every query runs on tokio's blocking thread pool
//! ([`tokio::task::spawn_blocking`]) with a connection checked out of an r2d2 pool, so a slow
//! query never stalls the threads that drive the sockets.

use std::fmt;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::error::Error;

pub use multi::{DbConnection, MultiBackend};

#[allow(missing_docs, missing_debug_implementations, unreachable_pub)]
mod multi {
    use diesel::{PgConnection, SqliteConnection};

    /// A connection to either supported backend.
    ///
    /// It implements [`diesel::Connection`] over Diesel's [`MultiBackend`], so query code
    /// written once runs on both SQLite and PostgreSQL:
    ///
    /// ```no_run
    /// # use channels_api::prelude::*;
    /// # diesel::table! { questions (id) { id -> Integer, question_text -> Text } }
    /// # async fn count(db: &Database) -> Result<i64, ApiError> {
    /// use diesel::prelude::*;
    /// let n = db.run(|conn| questions::table.count().get_result::<i64>(conn)).await?;
    /// # Ok(n) }
    /// ```
    ///
    /// Code that needs a backend's own features can match on the variants.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// A PostgreSQL connection.
        Postgres(PgConnection),
        /// An SQLite connection.
        Sqlite(SqliteConnection),
    }
}

/// The database backend a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded in the process (bundled, nothing to install).
    Sqlite,
    /// PostgreSQL, reached over the network.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Where to connect, parsed from a database URL.
#[derive(Clone, PartialEq, Eq)]
enum Target {
    SqliteFile(String),
    SqliteMemory,
    Postgres(String),
}

impl Target {
    fn parse(url: &str) -> Result<Self, Error> {
        let url = url.trim();
        if url == ":memory:" || url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(Target::SqliteMemory);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some("") => Err(Error::Config(
                "the SQLite URL names no file: use sqlite://FILE or sqlite::memory:".into(),
            )),
            Some(path) => Ok(Target::SqliteFile(path.to_owned())),
            None => Err(Error::Config(format!(
                "unsupported database URL `{}`: use sqlite://FILE, sqlite::memory: or \
                 postgres://USER:PASSWORD@HOST/NAME",
                redact(url)
            ))),
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Target::SqliteFile(_) | Target::SqliteMemory => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::SqliteFile(path) => write!(f, "sqlite://{path}"),
            Target::SqliteMemory => f.write_str("sqlite::memory:"),
            Target::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// Hides the password of a URL so it can be logged or shown in an error.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

/// A pooled connection with the flag that tells the pool to discard it.
struct PooledConn {
    conn: DbConnection,
    broken: bool,
}

/// Opens connections for the pool and tells it which ones to throw away.
#[derive(Debug)]
struct Manager {
    target: Target,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<PooledConn, Self::Error> {
        let conn = match &self.target {
            Target::Postgres(url) => DbConnection::Postgres(PgConnection::establish(url)?),
            Target::SqliteMemory => DbConnection::Sqlite(sqlite(":memory:")?),
            Target::SqliteFile(path) => DbConnection::Sqlite(sqlite(path)?),
        };
        Ok(PooledConn {
            conn,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), Self::Error> {
        let result = match &mut conn.conn {
            DbConnection::Postgres(c) => c.ping(),
            DbConnection::Sqlite(c) => c.ping(),
        };
        result.map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        conn.broken
            || match &mut conn.conn {
                DbConnection::Postgres(c) => c.is_broken(),
                DbConnection::Sqlite(c) => c.is_broken(),
            }
    }
}

/// Opens an SQLite database tuned for a server: write-ahead logging so readers never wait
/// for the writer, a busy timeout so concurrent writers queue instead of failing, and
/// foreign keys enforced.
fn sqlite(path: &str) -> Result<SqliteConnection, diesel::ConnectionError> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(conn)
}

/// Settings of a [`Database`]'s connection pool, with defaults that suit a small server.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    max_connections: u32,
    connection_timeout: Duration,
    verify: bool,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connection_timeout: Duration::from_secs(5),
            verify: true,
        }
    }
}

impl DatabaseOptions {
    /// The most connections the pool opens (default 8). An in-memory SQLite database always
    /// uses one connection, since each connection would otherwise see its own database.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a query waits for a free connection before the request fails with
    /// status 503 (default 5 seconds).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Whether [`Database::connect_with`] opens one connection to check the URL before it
    /// returns (default `true`). Turn it off to start while the database is still down:
    /// requests then fail with status 503 until it is reachable.
    pub fn verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }
}

/// A pool of database connections. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// The URL, password hidden, for logs and errors.
    target: std::sync::Arc<str>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("target", &self.target)
            .field("state", &self.pool.state())
            .finish()
    }
}

impl Database {
    /// Connects to the database at `url`, with default [`DatabaseOptions`].
    ///
    /// Accepted URLs: `sqlite://FILE` (created if missing; `sqlite:///abs/path` for an
    /// absolute path), `sqlite::memory:`, and `postgres://` or `postgresql://` URLs in
    /// libpq's form.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, DatabaseOptions::default()).await
    }

    /// Connects to the URL in the `DATABASE_URL` environment variable, or to `default`
    /// when it is unset or empty.
    pub async fn connect_from_env(default: &str) -> Result<Self, Error> {
        let url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.trim().is_empty());
        Self::connect(url.as_deref().unwrap_or(default)).await
    }

    /// Connects to the database at `url` with the given pool settings.
    pub async fn connect_with(url: &str, options: DatabaseOptions) -> Result<Self, Error> {
        let target = Target::parse(url)?;
        let backend = target.backend();
        let description = format!("{target:?}").into();
        let max_size = if target == Target::SqliteMemory {
            1
        } else {
            options.max_connections
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(0))
            .connection_timeout(options.connection_timeout)
            // Checking each connection with a round trip before every query would double
            // the cost of a fast query; connections that fail are discarded instead.
            .test_on_check_out(false)
            .build_unchecked(Manager { target });
        let db = Database {
            pool,
            backend,
            target: description,
        };
        if options.verify {
            let pool = db.pool.clone();
            tokio::task::spawn_blocking(move || pool.get().map(drop))
                .await
                .map_err(|e| Error::Config(format!("the connection check panicked: {e}")))?
                .map_err(|e| Error::Connect {
                    target: db.target.to_string(),
                    reason: e.to_string(),
                })?;
        }
        Ok(db)
    }

    /// The backend this database runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `query` with a pooled connection on the blocking thread pool and returns its
    /// result. This is how custom methods reach the database:
    ///
    /// ```no_run
    /// # use channels_api::prelude::*;
    /// # diesel::table! { questions (id) { id -> Integer, question_text -> Text } }
    /// # async fn f(db: &Database) -> Result<(), ApiError> {
    /// use diesel::prelude::*;
    /// let texts: Vec<String> = db
    ///     .run(|conn| questions::table.select(questions::question_text).load(conn))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A connection whose query fails because the server went away is discarded, so the
    /// pool recovers by itself once the database is back.
    pub async fn run<T, F>(&self, query: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut pooled = pool
                .get()
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            let result = query(&mut pooled.conn);
            if let Err(error) = &result {
                pooled.broken |= is_connection_lost(error);
            }
            result.map_err(DbError::Query)
        })
        .await
        .map_err(|e| DbError::Panicked(e.to_string()))?
    }

    /// Applies the pending migrations of the running backend: `sqlite` on SQLite,
    /// `postgres` on PostgreSQL. The schema's DDL differs between the two (an
    /// auto-incrementing key is `INTEGER PRIMARY KEY` on one and `SERIAL` on the other),
    /// so each backend keeps its own migrations folder, embedded with
    /// `diesel_migrations::embed_migrations!`.
    pub async fn migrate(
        &self,
        sqlite: EmbeddedMigrations,
        postgres: EmbeddedMigrations,
    ) -> Result<(), Error> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut pooled = pool.get().map_err(|e| Error::Migration(e.to_string()))?;
            let applied = match &mut pooled.conn {
                DbConnection::Sqlite(c) => c.run_pending_migrations(sqlite).map(|v| v.len()),
                DbConnection::Postgres(c) => c.run_pending_migrations(postgres).map(|v| v.len()),
            };
            let applied = applied.map_err(|e| Error::Migration(e.to_string()))?;
            if applied > 0 {
                tracing::info!(applied, "applied database migrations");
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Migration(format!("the migration task panicked: {e}")))?
    }
}

/// Whether an error means the connection itself is gone, not just that one query failed.
fn is_connection_lost(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ) | DieselError::BrokenTransactionManager
    )
}

/// Why a database call failed. Converts into the [`ApiError`](crate::ApiError) a client
/// sees: 404, 409, 400, 503 or 500, never the database's own text for a 500.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had: the database is down or every connection is busy.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The query failed.
    #[error(transparent)]
    Query(#[from] DieselError),
    /// The query code panicked.
    #[error("database task panicked: {0}")]
    Panicked(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            Target::parse("sqlite://polls.sqlite3").unwrap(),
            Target::SqliteFile("polls.sqlite3".into())
        );
        assert_eq!(
            Target::parse("sqlite:///tmp/x.db").unwrap(),
            Target::SqliteFile("/tmp/x.db".into())
        );
        assert_eq!(
            Target::parse("sqlite::memory:").unwrap(),
            Target::SqliteMemory
        );
        assert_eq!(
            Target::parse("postgresql://u:p@h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert!(Target::parse("sqlite://").is_err());
        let err = Target::parse("mysql://root:secret@host/db").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            format!("{:?}", Target::parse("postgres://u:pw@h/d").unwrap()),
            "postgres://u:***@h/d"
        );
    }
}
