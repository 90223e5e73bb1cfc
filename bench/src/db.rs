//! The databases of the runs: a fresh one per server (an SQLite file in a temporary
//! directory, or a PostgreSQL schema of its own), seeded with the same rows, and reset to
//! them before every run so that each run starts from the same table; or, for the
//! pagination depth measurement, filled with many rows at once.

use std::sync::atomic::{AtomicU64, Ordering};

use channels_api_examples::polls::schema::questions;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

/// A database backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) enum Backend {
    /// A temporary SQLite file.
    #[serde(rename = "SQLite")]
    Sqlite,
    /// A schema on a PostgreSQL server.
    #[serde(rename = "PostgreSQL")]
    Postgres,
}

impl Backend {
    /// The backend's name for people.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// An empty database, removed when dropped.
#[derive(Debug)]
pub(crate) struct FreshDb {
    /// The URL the server connects to.
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    /// The server URL and the schema to drop, on PostgreSQL.
    pg_schema: Option<(String, String)>,
}

impl FreshDb {
    /// A new SQLite file in a temporary directory.
    pub(crate) fn sqlite(label: &str) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("channels-api-bench-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let path = dir.path().join(format!("{label}.sqlite3"));
        Ok(Self {
            url: format!("sqlite://{}", path.display()),
            _dir: Some(dir),
            pg_schema: None,
        })
    }

    /// A new schema on the PostgreSQL server at `server`, and a URL whose connections
    /// work in it.
    pub(crate) fn postgres(server: &str, label: &str) -> Result<Self, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "bench_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::establish(server)
            .map_err(|e| format!("cannot reach PostgreSQL at {}: {e}", redact(server)))?;
        conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .map_err(|e| format!("cannot create the schema {schema}: {e}"))?;
        let separator = if server.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: format!("{server}{separator}options=-csearch_path%3D{schema}"),
            _dir: None,
            pg_schema: Some((server.to_owned(), schema)),
        })
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some((server, schema)) = self.pg_schema.take() {
            match PgConnection::establish(&server) {
                Ok(mut conn) => {
                    if let Err(e) = conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")) {
                        eprintln!("warning: cannot drop the schema {schema}: {e}");
                    }
                }
                Err(e) => eprintln!("warning: cannot drop the schema {schema}: {e}"),
            }
        }
    }
}

/// A direct connection to a benchmark database, for seeding and resetting.
enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Runs `$body` with `$conn` bound to the concrete connection.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

fn connect(url: &str) -> Result<Conn, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return PgConnection::establish(url)
            .map(Conn::Postgres)
            .map_err(|e| format!("cannot connect to {}: {e}", redact(url)));
    }
    let path = url
        .strip_prefix("sqlite://")
        .ok_or_else(|| format!("unsupported database URL `{url}`"))?;
    let mut conn = SqliteConnection::establish(path)
        .map_err(|e| format!("cannot open the SQLite database {path}: {e}"))?;
    conn.batch_execute("PRAGMA busy_timeout = 5000;")
        .map_err(|e| format!("cannot configure the SQLite database {path}: {e}"))?;
    Ok(Conn::Sqlite(conn))
}

/// The main process of the PostgreSQL server behind `url` (the postmaster, the parent of
/// every backend), when that server runs on this machine; `None` for SQLite, or when the
/// backend a connection gets is no local `postgres` process.
pub(crate) fn local_postgres_pid(url: &str) -> Option<u32> {
    #[derive(QueryableByName)]
    struct Backend {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let Ok(Conn::Postgres(mut conn)) = connect(url) else {
        return None;
    };
    let backend: Backend = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut conn)
        .ok()?;
    let backend = u32::try_from(backend.pid).ok()?;
    // Read while the connection, and so its backend, is open.
    let postmaster = crate::system::parent_pid(backend)?;
    let local = [backend, postmaster]
        .iter()
        .all(|&pid| crate::system::process_name(pid).is_some_and(|n| n.starts_with("postgres")));
    local.then_some(postmaster)
}

/// Inserts `rows` questions into the empty table of `url` and returns their ids, in order.
pub(crate) fn seed(url: &str, rows: usize) -> Result<Vec<i32>, String> {
    let mut conn = connect(url)?;
    let ids = with_conn!(&mut conn, c => c.transaction(|c| {
        (1..=rows)
            .map(|n| {
                diesel::insert_into(questions::table)
                    .values(questions::question_text.eq(seed_text(n)))
                    .returning(questions::id)
                    .get_result::<i32>(c)
            })
            .collect::<QueryResult<Vec<i32>>>()
    }))
    .map_err(|e| format!("cannot seed the table: {e}"))?;
    if ids.len() != rows {
        return Err(format!("seeding made {} rows, not {rows}", ids.len()));
    }
    reset(url, &ids)?;
    Ok(ids)
}

/// Fills the empty table of `url` with `rows` questions, ids 1 to `rows`, in one
/// statement, then updates the planner's statistics and cleans up after the write, so
/// that the first pages read do not pay for it.
pub(crate) fn fill(url: &str, rows: usize) -> Result<(), String> {
    let mut conn = connect(url)?;
    let (insert, tidy) = match conn {
        Conn::Sqlite(_) => (
            format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) \
                 INSERT INTO questions (question_text) SELECT 'q' || x FROM c"
            ),
            "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);",
        ),
        Conn::Postgres(_) => (
            format!(
                "INSERT INTO questions (question_text) \
                 SELECT 'q' || g FROM generate_series(1, {rows}) g"
            ),
            "VACUUM ANALYZE questions",
        ),
    };
    let inserted = with_conn!(&mut conn, c => diesel::sql_query(insert).execute(c))
        .map_err(|e| format!("cannot fill the table: {e}"))?;
    let last = with_conn!(&mut conn, c => questions::table
        .select(diesel::dsl::max(questions::id))
        .get_result::<Option<i32>>(c))
    .map_err(|e| format!("cannot read the table: {e}"))?;
    if inserted != rows || last.and_then(|id| usize::try_from(id).ok()) != Some(rows) {
        return Err(format!(
            "filling made {inserted} rows up to id {last:?}, not ids 1 to {rows}: \
             start from an empty table"
        ));
    }
    with_conn!(&mut conn, c => c.batch_execute(tidy))
        .map_err(|e| format!("cannot update the statistics after filling the table: {e}"))
}

/// The ids of the first `rows` questions of `url`, seeding the table first if it is empty.
pub(crate) fn seeded_ids(url: &str, rows: usize) -> Result<Vec<i32>, String> {
    let mut conn = connect(url)?;
    let limit = i64::try_from(rows).unwrap_or(i64::MAX);
    let ids = with_conn!(&mut conn, c => questions::table
        .select(questions::id)
        .order(questions::id.asc())
        .limit(limit)
        .load::<i32>(c))
    .map_err(|e| format!("cannot read the table: {e}"))?;
    match ids.len() {
        0 => seed(url, rows),
        n if n == rows => Ok(ids),
        n => Err(format!(
            "the table holds {n} rows, not the {rows} asked for: start from an empty database"
        )),
    }
}

/// The text of the `n`-th seeded question. Restored by [`reset`] as `'Question ' || id`,
/// so the ids of a fresh table (1, 2, ...) give the same texts.
fn seed_text(n: usize) -> String {
    format!("Question {n}")
}

/// The framework's change log (live data), pruned by [`reset`] as its server would.
const CHANGE_LOG: &str = "channels_api_changes";

/// Puts the table of `url` back into its seeded state: rows created since are deleted,
/// updated texts restored; the change log, where the framework keeps one, is emptied
/// but for its newest change (as the server's own pruning leaves it); then the
/// write-ahead log (SQLite) or the dead rows (PostgreSQL) are cleaned up, so that the
/// next run does not pay for the last one: without it, a read workload after `create`
/// pays for the DELETE of the server's pruning and the vacuum after it.
pub(crate) fn reset(url: &str, seeded: &[i32]) -> Result<(), String> {
    let (Some(&first), Some(&last)) = (seeded.iter().min(), seeded.iter().max()) else {
        return Ok(());
    };
    let mut conn = connect(url)?;
    let restore = format!(
        "UPDATE questions SET question_text = 'Question ' || id \
         WHERE id BETWEEN {first} AND {last} AND question_text <> 'Question ' || id"
    );
    with_conn!(&mut conn, c => {
        diesel::delete(questions::table.filter(questions::id.gt(last)))
            .execute(c)
            .and_then(|_| c.batch_execute(&restore))
    })
    .map_err(|e| format!("cannot reset the table: {e}"))?;
    let has_log = match &conn {
        Conn::Sqlite(_) => {
            format!("EXISTS (SELECT 1 FROM sqlite_master WHERE name = '{CHANGE_LOG}')")
        }
        Conn::Postgres(_) => format!("to_regclass('{CHANGE_LOG}') IS NOT NULL"),
    };
    let has_log = with_conn!(&mut conn, c => {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&has_log)).get_result(c)
    })
    .map_err(|e| format!("cannot look for the change log: {e}"))?;
    if has_log {
        // The newest change stays: it holds the head position. `channels_api_pruned`
        // records how far pruning went, as the server's pruning does.
        let prune = format!(
            "UPDATE channels_api_pruned SET position = \
                 (SELECT MAX(position) - 1 FROM {CHANGE_LOG}) \
             WHERE id = 1 AND position < (SELECT MAX(position) - 1 FROM {CHANGE_LOG}); \
             DELETE FROM {CHANGE_LOG} WHERE position < (SELECT MAX(position) FROM {CHANGE_LOG});"
        );
        with_conn!(&mut conn, c => c.batch_execute(&prune))
            .map_err(|e| format!("cannot prune the change log: {e}"))?;
    }
    let cleanup = match &mut conn {
        Conn::Sqlite(c) => c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);"),
        Conn::Postgres(c) => {
            let log = if has_log {
                format!(", {CHANGE_LOG}")
            } else {
                String::new()
            };
            c.batch_execute(&format!("VACUUM ANALYZE questions{log}"))
        }
    };
    cleanup.map_err(|e| format!("cannot clean up after a run: {e}"))
}

/// Runs `sql` (one or more statements) on a direct connection to `url`, as another
/// program writing to the database would: the live data measurements write this way.
pub(crate) fn execute(url: &str, sql: &str) -> Result<(), String> {
    let mut conn = connect(url)?;
    with_conn!(&mut conn, c => c.batch_execute(sql))
        .map_err(|e| format!("cannot run `{}`: {e}", crate::load::clip(sql)))
}

/// `url` with its password hidden.
pub(crate) fn redact(url: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite:///tmp/x"), "sqlite:///tmp/x");
    }

    /// A fresh SQLite file with the polls `questions` table, and a connection to it.
    fn questions_db() -> (FreshDb, SqliteConnection) {
        let db = FreshDb::sqlite("test").unwrap();
        let Conn::Sqlite(mut c) = connect(&db.url).unwrap() else {
            panic!("expected SQLite")
        };
        c.batch_execute(
            "CREATE TABLE questions (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, \
             question_text TEXT NOT NULL, pub_date TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        )
        .unwrap();
        (db, c)
    }

    #[test]
    fn seeds_and_resets_sqlite() {
        let (db, mut c) = questions_db();
        let c = &mut c;
        let ids = seed(&db.url, 60).unwrap();
        assert_eq!(ids, (1..=60).collect::<Vec<_>>());
        c.batch_execute(
            "INSERT INTO questions (question_text) VALUES ('new'); \
             UPDATE questions SET question_text = 'changed' WHERE id = 7;",
        )
        .unwrap();
        reset(&db.url, &ids).unwrap();
        let texts: Vec<String> = questions::table
            .order(questions::id)
            .select(questions::question_text)
            .load(c)
            .unwrap();
        assert_eq!(texts.len(), 60);
        assert_eq!(texts[6], "Question 7");
    }

    #[test]
    fn reset_prunes_the_change_log_to_its_newest_change() {
        let (db, mut c) = questions_db();
        let c = &mut c;
        let columns: &[&str] = &["id", "question_text", "pub_date"];
        let install = channels_api::live::install_sql(
            channels_api::Backend::Sqlite,
            &[("questions", columns)],
        );
        c.batch_execute(&install).unwrap();
        let ids = seed(&db.url, 10).unwrap();
        c.batch_execute(
            "INSERT INTO questions (question_text) VALUES ('new'); \
             UPDATE questions SET question_text = 'changed' WHERE id = 7;",
        )
        .unwrap();
        let positions = |c: &mut SqliteConnection| -> Vec<i64> {
            diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "SELECT position FROM {CHANGE_LOG} ORDER BY position"
            ))
            .load(c)
            .unwrap()
        };
        let before = positions(c);
        assert!(before.len() > 1, "{before:?}");
        let newest = *before.last().unwrap();

        reset(&db.url, &ids).unwrap();
        // The reset's own writes (a DELETE, an UPDATE) are logged before the prune, so
        // the change left is the newest of those.
        let after = positions(c);
        assert_eq!(after.len(), 1, "{after:?}");
        assert!(after[0] > newest, "{after:?} after {newest}");
        let pruned: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT position FROM channels_api_pruned WHERE id = 1",
        )
        .get_result(c)
        .unwrap();
        assert_eq!(pruned, after[0] - 1);
        let texts: Vec<String> = questions::table
            .select(questions::question_text)
            .load(c)
            .unwrap();
        assert_eq!(texts.len(), 10);
    }

    #[test]
    fn fills_sqlite_with_consecutive_ids() {
        let (db, mut c) = questions_db();
        let c = &mut c;
        fill(&db.url, 2500).unwrap();
        let rows: Vec<(i32, String)> = questions::table
            .order(questions::id)
            .select((questions::id, questions::question_text))
            .load(c)
            .unwrap();
        assert_eq!(rows.len(), 2500);
        assert_eq!(rows[0], (1, "q1".to_owned()));
        assert_eq!(rows[2499], (2500, "q2500".to_owned()));
        assert!(
            fill(&db.url, 10).is_err(),
            "a second fill continues the ids"
        );
    }
}
