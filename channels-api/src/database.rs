//! Database access: Diesel connections to SQLite or PostgreSQL, chosen at run time from the
//! database URL, and an executor that runs queries without blocking the async runtime.
//!
//! Diesel is synchronous. Every query runs on a database thread that owns one connection
//! and takes its work from a bounded queue; the async task that asked waits for the answer
//! on a oneshot channel. A slow query never stalls the threads that drive the sockets, and
//! holds up only its own database thread. See [`Database`].
//!
//! Each backend is compiled in by a feature of this crate, `sqlite` and `postgres`, both on
//! by default. A URL of a backend the build leaves out is refused by
//! [`Database::connect`] with [`Error::Config`] naming the feature.

mod executor;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use diesel::Connection;
#[cfg(feature = "postgres")]
use diesel::PgConnection;
#[cfg(feature = "sqlite")]
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use tokio::sync::watch;

use crate::error::Error;
use executor::{Executor, Route};

pub use multi::{DbConnection, MultiBackend};

#[allow(missing_docs, missing_debug_implementations, unreachable_pub)]
mod multi {
    #[cfg(feature = "postgres")]
    use diesel::PgConnection;
    #[cfg(feature = "sqlite")]
    use diesel::SqliteConnection;

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
    /// Code that needs a backend's own features can match on the variants. A variant
    /// exists only when its backend's feature (`postgres`, `sqlite`) is on.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// A PostgreSQL connection.
        #[cfg(feature = "postgres")]
        Postgres(PgConnection),
        /// An SQLite connection.
        #[cfg(feature = "sqlite")]
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

impl Backend {
    /// Whether this build has the backend: its feature of this crate is on.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
        }
    }

    /// The feature of this crate that compiles the backend in.
    fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The error for a URL of this backend when the build leaves it out.
    fn not_compiled(self) -> String {
        format!(
            "this build has no {self} support: enable channels-api's `{}` feature",
            self.feature()
        )
    }
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

/// Opens a connection to `target`. A read-only SQLite connection refuses writes
/// (`PRAGMA query_only`).
fn open(
    target: &Target,
    read_only: bool,
    statement_timeout: Duration,
) -> Result<DbConnection, diesel::ConnectionError> {
    Ok(match target {
        #[cfg(feature = "postgres")]
        Target::Postgres(url) => {
            let mut conn = PgConnection::establish(url)?;
            // 0 turns PostgreSQL's timeout off, as it does in SQL.
            conn.batch_execute(&format!(
                "SET statement_timeout = {}",
                statement_timeout.as_millis()
            ))
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            DbConnection::Postgres(conn)
        }
        #[cfg(feature = "sqlite")]
        Target::SqliteMemory => DbConnection::Sqlite(sqlite(":memory:", false)?),
        #[cfg(feature = "sqlite")]
        Target::SqliteFile(path) => DbConnection::Sqlite(sqlite(path, read_only)?),
        // `Database::connect_with` refuses such a target before any thread opens it.
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (read_only, statement_timeout);
            return Err(diesel::ConnectionError::BadConnection(
                target.backend().not_compiled(),
            ));
        }
    })
}

/// Whether a connection can no longer be used: its transaction manager is broken, or it
/// was left inside a transaction.
fn is_broken(conn: &mut DbConnection) -> bool {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => c.is_broken(),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => c.is_broken(),
    }
}

/// Opens an SQLite database tuned for a server: write-ahead logging so readers never wait
/// for the writer, a busy timeout so concurrent writers queue instead of failing, and
/// foreign keys enforced.
#[cfg(feature = "sqlite")]
fn sqlite(path: &str, read_only: bool) -> Result<SqliteConnection, diesel::ConnectionError> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .and_then(|()| {
        if read_only {
            conn.batch_execute("PRAGMA query_only = ON;")
        } else {
            Ok(())
        }
    })
    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(conn)
}

/// Settings of a [`Database`]'s executor, with defaults that suit a small server.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    max_connections: u32,
    connection_timeout: Duration,
    verify: bool,
    queue_capacity: usize,
    statement_timeout: Duration,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connection_timeout: Duration::from_secs(5),
            verify: true,
            queue_capacity: 1024,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

impl DatabaseOptions {
    /// How many connections, and so database threads, the database uses (default 8).
    ///
    /// On PostgreSQL every thread serves every call. On an SQLite file one thread writes
    /// and the others (at least one; no more than the cores the process may use, or two
    /// when it may use one) only read, since SQLite lets one writer in at a time and writers on several connections
    /// would only wait on each other, while its reads are bound by the CPU. An in-memory
    /// SQLite database always uses one connection, since each connection would otherwise
    /// see its own database.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a call waits for a place in the queue or for a free thread before it
    /// fails with status 503 (default 5 seconds).
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

    /// How long one statement may run on PostgreSQL before the server cancels it and the
    /// request fails with status 503 (default 30 s; `Duration::ZERO` turns it off). SQLite
    /// offers no such timeout through Diesel; there, the bounds of [`Limits`](crate::Limits)
    /// keep every query the built-in methods build small.
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// How many calls may be queued or running at once on the writer threads, and as many
    /// on the reader threads (default 1024). A call beyond that waits, without blocking
    /// the runtime, for a place in the queue, and fails with status 503 when none frees
    /// up within the connection timeout.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }
}

/// The database: threads that each own one connection, and the queues that feed them.
/// Cheap to clone: clones share the threads.
///
/// Calls are closures run with a connection on a database thread, awaited without
/// blocking the async runtime:
///
/// - [`Database::read`] for a closure that only reads;
/// - [`Database::write`] (or [`Database::run`], the same) for one that may write;
/// - [`Database::transaction`] for one whose statements must commit or roll back
///   together.
///
/// On an SQLite file [`Database::read`] calls run on reader threads and everything else
/// on the one writer thread, so writers never wait for each other on SQLite's lock; the
/// built-in methods' own reads prefer the writer's thread, whose page cache no write makes
/// stale, unless it is held up or the read is a long one. On PostgreSQL every thread takes
/// every kind of call.
///
/// Each thread opens its connection when it first needs it, replaces it when it is lost
/// (the server went away) or when a call panicked, and answers 503 at once while it
/// cannot open one. When the last clone is dropped, the threads finish the calls already
/// queued and exit; [`Database::close`] waits for that.
#[derive(Clone)]
pub struct Database {
    executor: Arc<Executor>,
    backend: Backend,
    /// The URL, password hidden, for logs and errors.
    target: Arc<str>,
    /// Counts finished writes: live data reads the change log when it moves.
    writes: Arc<watch::Sender<u64>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (writers, readers) = self.executor.threads();
        f.debug_struct("Database")
            .field("target", &self.target)
            .field("writer_threads", &writers)
            .field("reader_threads", &readers)
            .finish()
    }
}

impl Database {
    /// Connects to the database at `url`, with default [`DatabaseOptions`].
    ///
    /// Accepted URLs: `sqlite://FILE` (created if missing; `sqlite:///abs/path` for an
    /// absolute path), `sqlite::memory:`, and `postgres://` or `postgresql://` URLs in
    /// libpq's form. A URL of a backend this build leaves out (its feature, `sqlite` or
    /// `postgres`, is off) fails with [`Error::Config`].
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

    /// Connects to the database at `url` with the given settings: starts the database
    /// threads, and with [`DatabaseOptions::verify`] opens the writer's connection.
    pub async fn connect_with(url: &str, options: DatabaseOptions) -> Result<Self, Error> {
        let target = Target::parse(url)?;
        let backend = target.backend();
        if !backend.is_compiled() {
            return Err(Error::Config(backend.not_compiled()));
        }
        let description: Arc<str> = format!("{target:?}").into();
        let threads = options.max_connections as usize;
        let (writers, readers) = match target {
            Target::SqliteMemory => (1, 0),
            // SQLite reads from the page cache run on the CPU, not waiting on a server:
            // more reader threads than the cores this process may use only add context
            // switches (measured: on one core, 7 readers made a mixed load 0.87x the
            // baseline). But a single reader would queue every read behind a slow one, so
            // there are at least two.
            Target::SqliteFile(_) => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let readers = threads.saturating_sub(1).max(1);
                (1, readers.min(cores.max(2)))
            }
            Target::Postgres(_) => (threads, 0),
        };
        let executor = Executor::start(executor::Plan {
            target,
            writers,
            readers,
            queue_capacity: options.queue_capacity,
            wait: options.connection_timeout,
            statement_timeout: options.statement_timeout,
        })?;
        let db = Database {
            executor: Arc::new(executor),
            backend,
            target: description,
            writes: Arc::new(watch::Sender::new(0)),
        };
        if options.verify {
            db.write(|_| Ok(())).await.map_err(|e| Error::Connect {
                target: db.target.to_string(),
                reason: match e {
                    DbError::Unavailable(reason) => reason,
                    other => other.to_string(),
                },
            })?;
        }
        Ok(db)
    }

    /// The backend this database runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `query` with a connection on a database thread and returns its result; the
    /// same as [`Database::write`], so it may read and write anything. This is how
    /// custom methods reach the database:
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
    /// A closure that only reads may use [`Database::read`] instead, which on SQLite runs
    /// it beside the writes rather than after them.
    pub async fn run<T, F>(&self, query: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        self.write(query).await
    }

    /// Runs `query`, which only reads, with a connection on a database thread. On an
    /// SQLite file it runs on a reader thread whose connection refuses writes (a write
    /// fails with status 500); on PostgreSQL on any thread.
    pub async fn read<T, F>(&self, query: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        self.executor.submit(Route::Read, query).await
    }

    /// Runs `query`, a read of the framework's own that never writes: on an SQLite file on
    /// the writer's thread when it can take it without keeping it waiting, else on a reader
    /// thread.
    pub(crate) async fn query<T, F>(&self, query: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        self.executor.submit(Route::Query, query).await
    }

    /// Runs `query`, which may write, with a connection on a database thread: on an
    /// SQLite file the writer thread, on PostgreSQL any thread. Its statements commit one
    /// by one; use [`Database::transaction`] to make them one unit.
    pub async fn write<T, F>(&self, query: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        let result = self.executor.submit(Route::Write, query).await;
        // Whatever the outcome, the database may have changed. Only live data listens:
        // without it, no write pays for the signal's lock.
        if self.writes.receiver_count() > 0 {
            self.writes.send_modify(|n| *n = n.wrapping_add(1));
        }
        result
    }

    /// Moves after each write: live data's signal to read the change log.
    pub(crate) fn writes(&self) -> watch::Receiver<u64> {
        self.writes.subscribe()
    }

    /// Runs `query` inside a transaction on one connection, as [`Database::write`] runs a
    /// closure: committed when it returns `Ok`, rolled back when it returns `Err` or
    /// panics.
    ///
    /// ```no_run
    /// # use channels_api::prelude::*;
    /// # diesel::table! { questions (id) { id -> Integer, question_text -> Text } }
    /// # async fn f(db: &Database) -> Result<(), ApiError> {
    /// use diesel::prelude::*;
    /// db.transaction(|conn| {
    ///     diesel::delete(questions::table).execute(conn)?;
    ///     diesel::insert_into(questions::table)
    ///         .values(questions::question_text.eq("the only one"))
    ///         .execute(conn)
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, F>(&self, query: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        self.write(move |conn| conn.transaction(query)).await
    }

    /// Free places in the writer's queue.
    #[cfg(test)]
    fn executor_available(&self) -> usize {
        self.executor.writer_available()
    }

    /// [`Database::transaction`] when `atomic`, else [`Database::write`]: a single
    /// statement needs no transaction of its own.
    pub(crate) async fn transaction_if<T, F>(&self, atomic: bool, query: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        if atomic {
            self.transaction(query).await
        } else {
            self.write(query).await
        }
    }

    /// Drops this handle and waits, up to `grace`, for the database threads to finish
    /// the calls already queued and exit; whether they did.
    ///
    /// The threads stop only once every clone of the database is dropped (a server holds
    /// one until it has stopped), so close the last one, after the server returns.
    pub async fn close(self, grace: Duration) -> bool {
        let exits = self.executor.exits();
        drop(self);
        tokio::time::timeout(grace, exits.wait()).await.is_ok()
    }

    /// Applies the pending migrations of the running backend: `sqlite` on SQLite,
    /// `postgres` on PostgreSQL, on the writer's connection. The schema's DDL differs
    /// between the two (an auto-incrementing key is `INTEGER PRIMARY KEY` on one and
    /// `SERIAL` on the other), so each backend keeps its own migrations folder, embedded
    /// with `diesel_migrations::embed_migrations!`. An application of one backend needs
    /// only that backend's folder: see [`Database::run_migrations`].
    pub async fn migrate(
        &self,
        sqlite: EmbeddedMigrations,
        postgres: EmbeddedMigrations,
    ) -> Result<(), Error> {
        self.apply(Some(sqlite), Some(postgres)).await
    }

    /// Applies `migrations`, written for the one backend an application supports. On the
    /// other backend it fails with [`Error::Migration`], saying so.
    ///
    /// ```no_run
    /// # use channels_api::Database;
    /// # async fn f(db: &Database, migrations: channels_api::diesel_migrations::EmbeddedMigrations) -> Result<(), channels_api::Error> {
    /// // const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
    /// db.run_migrations(migrations).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_migrations(&self, migrations: EmbeddedMigrations) -> Result<(), Error> {
        match self.backend {
            Backend::Sqlite => self.apply(Some(migrations), None).await,
            Backend::Postgres => self.apply(None, Some(migrations)).await,
        }
    }

    /// Applies the migrations given for the running backend.
    async fn apply(
        &self,
        sqlite: Option<EmbeddedMigrations>,
        postgres: Option<EmbeddedMigrations>,
    ) -> Result<(), Error> {
        let backend = self.backend;
        let applied = self
            .write(move |conn| {
                let missing = || format!("no migrations were given for {backend}");
                // The migrations of a backend the build leaves out are never run.
                let _ = (&sqlite, &postgres);
                let applied = match conn {
                    #[cfg(feature = "sqlite")]
                    DbConnection::Sqlite(c) => match sqlite {
                        Some(m) => c.run_pending_migrations(m).map(|v| v.len()),
                        None => return Ok(Err(missing())),
                    },
                    #[cfg(feature = "postgres")]
                    DbConnection::Postgres(c) => match postgres {
                        Some(m) => c.run_pending_migrations(m).map(|v| v.len()),
                        None => return Ok(Err(missing())),
                    },
                };
                Ok(applied.map_err(|e| e.to_string()))
            })
            .await
            .map_err(|e| Error::Migration(e.to_string()))?
            .map_err(Error::Migration)?;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
        Ok(())
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
#[non_exhaustive]
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

    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Text};

    /// A fresh SQLite file database with a table `t (v)`.
    async fn file_db(options: DatabaseOptions) -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.sqlite3", dir.path().display());
        let db = Database::connect_with(&url, options).await.unwrap();
        db.write(|conn| diesel::sql_query("CREATE TABLE t (v TEXT NOT NULL)").execute(conn))
            .await
            .unwrap();
        (dir, db)
    }

    fn count(conn: &mut DbConnection) -> Result<i64, DieselError> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT count(*) AS n FROM t")
            .get_result::<Count>(conn)
            .map(|c| c.n)
    }

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn routes_reads_to_readers_and_writes_to_the_writer() {
        let (_dir, db) = file_db(DatabaseOptions::default().max_connections(4)).await;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(db.executor.threads(), (1, 3.min(cores.max(2))));
        let writer = db.write(|_| Ok(thread_name())).await.unwrap();
        let run = db.run(|_| Ok(thread_name())).await.unwrap();
        let reader = db.read(|_| Ok(thread_name())).await.unwrap();
        assert_eq!(writer, "channels-api-db-w0");
        assert_eq!(run, writer);
        assert!(reader.starts_with("channels-api-db-r"), "{reader}");
        // A reader's connection refuses writes; the writer's takes them, and readers see
        // them once committed.
        let refused = db
            .read(|conn| diesel::sql_query("INSERT INTO t VALUES ('x')").execute(conn))
            .await;
        assert!(matches!(refused, Err(DbError::Query(_))), "{refused:?}");
        db.write(|conn| diesel::sql_query("INSERT INTO t VALUES ('x')").execute(conn))
            .await
            .unwrap();
        assert_eq!(db.read(count).await.unwrap(), 1);
    }

    /// SQLite's queries run on the database threads themselves, so they are batch work:
    /// waking one never preempts the runtime thread that handed it a call.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn sqlite_threads_run_as_batch_work() {
        fn policy() -> Result<String, DieselError> {
            let sched = std::fs::read_to_string("/proc/thread-self/sched").unwrap();
            let line = sched.lines().find(|l| l.starts_with("policy")).unwrap();
            Ok(line.rsplit(' ').next().unwrap().to_owned())
        }
        const SCHED_BATCH: &str = "3";
        let (_dir, db) = file_db(DatabaseOptions::default().max_connections(4)).await;
        assert_eq!(db.write(|_| policy()).await.unwrap(), SCHED_BATCH);
        assert_eq!(db.read(|_| policy()).await.unwrap(), SCHED_BATCH);
        // The runtime's own threads keep the default policy.
        assert_eq!(policy().unwrap(), "0");
    }

    /// The framework's own reads run on the writer, whose page cache no write makes stale,
    /// unless it is held up by a long call or the kind of read is itself long.
    #[tokio::test]
    async fn framework_reads_use_the_writer_unless_it_is_held_up() {
        fn slow_read(_: &mut DbConnection) -> Result<String, DieselError> {
            std::thread::sleep(Duration::from_millis(8));
            Ok(thread_name())
        }
        let (_dir, db) = file_db(DatabaseOptions::default().max_connections(4)).await;
        db.write(|conn| diesel::sql_query("INSERT INTO t VALUES ('x')").execute(conn))
            .await
            .unwrap();
        let writer = "channels-api-db-w0";
        assert_eq!(db.query(|_| Ok(thread_name())).await.unwrap(), writer);
        assert_eq!(db.query(count).await.unwrap(), 1);

        // A write that holds the writer: reads go to a reader meanwhile.
        let held = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(|_| {
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let meanwhile = db.query(|_| Ok(thread_name())).await.unwrap();
        assert!(meanwhile.starts_with("channels-api-db-r"), "{meanwhile}");
        held.await.unwrap().unwrap();
        // The answer comes just before the thread counts itself idle.
        while !db.executor.writer_idle() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        // A kind of read that takes long runs on the writer once, then on readers only.
        assert_eq!(db.query(slow_read).await.unwrap(), writer);
        for _ in 0..3 {
            let name = db.query(slow_read).await.unwrap();
            assert!(name.starts_with("channels-api-db-r"), "{name}");
        }
        assert_eq!(db.query(|_| Ok(thread_name())).await.unwrap(), writer);
    }

    /// With every thread of a lane busy, a call waits for the first to finish, not for
    /// the one held up by a long call.
    #[tokio::test]
    async fn a_thread_held_up_holds_up_no_call_but_its_own() {
        let (_dir, db) = file_db(DatabaseOptions::default().max_connections(3)).await;
        assert_eq!(db.executor.threads(), (1, 2));
        let sleep = |ms| {
            let db = db.clone();
            tokio::spawn(async move {
                db.read(move |_| {
                    std::thread::sleep(Duration::from_millis(ms));
                    Ok(thread_name())
                })
                .await
            })
        };
        let long = sleep(600);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let short = sleep(60);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let quick = db.read(|_| Ok(thread_name())).await.unwrap();
        assert!(!long.is_finished(), "the call waited for the long one");
        let short = short.await.unwrap().unwrap();
        let long = long.await.unwrap().unwrap();
        assert_eq!(quick, short);
        assert_ne!(quick, long);
    }

    /// Writes that return their row never step their statement to its end, so SQLite's
    /// own automatic checkpoint would never run and the log would grow with every write.
    #[tokio::test]
    async fn the_write_ahead_log_stays_bounded() {
        #[derive(diesel::QueryableByName)]
        struct Length {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let (dir, db) = file_db(DatabaseOptions::default()).await;
        let text = "x".repeat(2000);
        let writes = 4 * executor::RESTART_EVERY;
        for _ in 0..writes {
            let text = text.clone();
            let length = db
                .write(move |conn| {
                    diesel::sql_query("INSERT INTO t VALUES (?) RETURNING length(v) AS n")
                        .bind::<Text, _>(text)
                        .get_result::<Length>(conn)
                })
                .await
                .unwrap();
            assert_eq!(length.n, 2000);
        }
        // Each write adds at least two 4 KiB pages to the log: unchecked, 128 MiB. The log
        // starts over about every `RESTART_EVERY` writes.
        let wal = std::fs::metadata(dir.path().join("t.sqlite3-wal"))
            .unwrap()
            .len();
        let bound = 2 * executor::RESTART_EVERY * 2 * 4200;
        assert!(
            wal < bound,
            "the log holds {wal} bytes after {writes} writes"
        );
        assert_eq!(db.read(count).await.unwrap(), writes as i64);
    }

    #[tokio::test]
    async fn memory_and_postgres_use_one_lane() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        assert_eq!(db.executor.threads(), (1, 0));
        // Reads and writes see the same in-memory database.
        db.write(|conn| diesel::sql_query("CREATE TABLE t (v TEXT NOT NULL)").execute(conn))
            .await
            .unwrap();
        assert_eq!(db.read(count).await.unwrap(), 0);
        #[cfg(feature = "postgres")]
        {
            let options = DatabaseOptions::default().max_connections(3).verify(false);
            let pg = Database::connect_with("postgres://u:p@127.0.0.1:1/none", options)
                .await
                .unwrap();
            assert_eq!(pg.executor.threads(), (3, 0));
        }
    }

    /// A build without one of the backends refuses its URLs when connecting, unverified
    /// or not, and says which feature would have it.
    #[cfg(not(all(feature = "sqlite", feature = "postgres")))]
    #[tokio::test]
    async fn a_backend_left_out_is_refused_by_name() {
        let (url, backend, feature) = if cfg!(feature = "postgres") {
            ("sqlite::memory:", "SQLite", "sqlite")
        } else {
            (
                "postgres://u:secret@127.0.0.1:1/none",
                "PostgreSQL",
                "postgres",
            )
        };
        let verified = Database::connect(url).await.unwrap_err();
        let unverified = DatabaseOptions::default().verify(false);
        let unverified = Database::connect_with(url, unverified).await.unwrap_err();
        for err in [verified, unverified] {
            assert!(matches!(err, Error::Config(_)), "{err:?}");
            assert_eq!(
                err.to_string(),
                format!(
                    "configuration error: this build has no {backend} support: \
                     enable channels-api's `{feature}` feature"
                )
            );
        }
    }

    #[tokio::test]
    async fn a_failed_transaction_rolls_back() {
        let (_dir, db) = file_db(DatabaseOptions::default()).await;
        let failed = db
            .transaction(|conn| {
                diesel::sql_query("INSERT INTO t VALUES ('x')").execute(conn)?;
                diesel::sql_query("INSERT INTO t VALUES (NULL)").execute(conn)
            })
            .await;
        assert!(matches!(failed, Err(DbError::Query(_))), "{failed:?}");
        assert_eq!(db.read(count).await.unwrap(), 0);
        db.transaction(|conn| diesel::sql_query("INSERT INTO t VALUES ('y')").execute(conn))
            .await
            .unwrap();
        assert_eq!(db.read(count).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_panic_is_a_500_and_the_thread_goes_on() {
        let (_dir, db) = file_db(DatabaseOptions::default().max_connections(2)).await;
        let panicked = db
            .transaction(|conn| {
                diesel::sql_query("INSERT INTO t VALUES ('x')").execute(conn)?;
                if thread_name().starts_with("channels-api-db") {
                    panic!("query code failed");
                }
                Ok(())
            })
            .await;
        match panicked {
            Err(DbError::Panicked(reason)) => assert_eq!(reason, "query code failed"),
            other => panic!("expected a panic, got {other:?}"),
        }
        let status = crate::ApiError::from(DbError::Panicked(String::new())).status();
        assert_eq!(status, 500);
        // The same (only) writer thread answers, with a new connection, and the panicked
        // transaction left nothing behind.
        assert_eq!(db.write(count).await.unwrap(), 0);
        assert_eq!(db.read(count).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn replaces_a_lost_connection() {
        let (_dir, db) = file_db(DatabaseOptions::default().max_connections(2)).await;
        let lost = db
            .write(|_| -> Result<(), _> {
                Err(DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection,
                    Box::new("server closed the connection".to_owned()),
                ))
            })
            .await;
        assert!(matches!(lost, Err(DbError::Query(_))), "{lost:?}");
        // A temporary table lives in one connection: gone means the connection was
        // replaced.
        db.write(|conn| diesel::sql_query("CREATE TEMP TABLE mark (x)").execute(conn))
            .await
            .unwrap();
        let seen = |db: Database| async move {
            db.write(|conn| {
                #[derive(diesel::QueryableByName)]
                struct Name {
                    #[diesel(sql_type = Text)]
                    name: String,
                }
                diesel::sql_query("SELECT name FROM temp.sqlite_master WHERE name = 'mark'")
                    .load::<Name>(conn)
                    .map(|names| names.into_iter().map(|n| n.name).collect::<Vec<_>>())
            })
            .await
        };
        assert_eq!(seen(db.clone()).await.unwrap(), ["mark"]);
        db.write(|_| -> Result<(), _> {
            Err(DieselError::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand,
                Box::new("gone".to_owned()),
            ))
        })
        .await
        .unwrap_err();
        assert!(seen(db.clone()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_database_is_unavailable_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/missing/t.sqlite3", dir.path().display());
        let options = DatabaseOptions::default().verify(false);
        let db = Database::connect_with(&url, options).await.unwrap();
        let down = db.read(count).await;
        assert!(matches!(down, Err(DbError::Unavailable(_))), "{down:?}");
        let err = Database::connect(&url).await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err}");
    }

    #[tokio::test]
    async fn the_queue_is_bounded() {
        let options = DatabaseOptions::default()
            .max_connections(1)
            .queue_capacity(2)
            .connection_timeout(Duration::from_millis(200));
        let db = Database::connect_with("sqlite::memory:", options)
            .await
            .unwrap();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = std::sync::Mutex::new(released);
        // One call holds the only thread, one waits in the queue: the queue is full.
        let holder = {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |_| {
                    let _ = released.lock().map(|r| r.recv());
                    Ok(())
                })
                .await
            })
        };
        let queued = {
            let db = db.clone();
            tokio::spawn(async move { db.write(|_| Ok(1)).await })
        };
        while db.executor_available() > 0 {
            tokio::task::yield_now().await;
        }
        let third = db.write(|_| Ok(2)).await;
        assert!(matches!(third, Err(DbError::Unavailable(_))), "{third:?}");
        // Well past the timeout, whatever the timer's rounding and the machine's load.
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        // The queued call waited longer than the connection timeout: answered 503, not run.
        let queued = queued.await.unwrap();
        assert!(matches!(queued, Err(DbError::Unavailable(_))), "{queued:?}");
        assert_eq!(db.write(|_| Ok(3)).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn close_drains_the_queue() {
        let (_dir, db) = file_db(DatabaseOptions::default().max_connections(2)).await;
        let mut calls = Vec::new();
        for _ in 0..20 {
            let db = db.clone();
            calls.push(tokio::spawn(async move {
                db.write(|conn| diesel::sql_query("INSERT INTO t VALUES ('x')").execute(conn))
                    .await
            }));
        }
        let check = db.clone();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(check.read(count).await.unwrap(), 20);
        // Another clone is alive: the threads stay.
        let still_open = db.clone();
        assert!(!db.close(Duration::from_millis(50)).await);
        drop(check);
        assert!(still_open.close(Duration::from_secs(5)).await);
    }
}
