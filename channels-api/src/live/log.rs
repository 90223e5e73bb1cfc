//! The change log: a table filled by triggers on the served tables, in the transaction
//! that writes, so every write (the API's, a custom method's, another program's) is in
//! it, and only once it commits.
//!
//! Positions are the log's keys. A position is *settled* when every change at or below it
//! that will ever commit has committed: reading "after a settled position" never skips a
//! late commit, and only settled positions are given out.
//! - SQLite has one writer at a time, so key order is commit order and every position read
//!   is settled. A key is never handed out twice: SQLite gives the highest key plus one,
//!   and pruning always keeps the newest change.
//! - On PostgreSQL writing transactions run side by side, take their keys from a sequence
//!   as they write and may commit in another order, so a key not yet visible may still
//!   commit. Changes are delivered up to the first such gap; a gap that stays is settled by
//!   [`settle`], a `SHARE` lock on the log, which waits for every transaction that has
//!   written to it (they hold `ROW EXCLUSIVE` until they end) and holds new writers back
//!   for the moment the read takes. Two changes of one row are never out of order: the
//!   second transaction waits for the first one's row lock, so takes a later key. Writers
//!   never wait for each other.
use diesel::QueryableByName;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::database::{Backend, DbConnection};

/// The log's table.
pub(crate) const TABLE: &str = "channels_api_changes";

/// One row: the newest position pruning deleted. Changes at or below it may be gone.
const PRUNED: &str = "channels_api_pruned";

/// The advisory lock that makes concurrent installs of the log take turns ("chapi-lh").
const INSTALL_LOCK: i64 = 0x6368_6170_692d_6c68;

/// How long [`settle`] waits for the transactions writing to the log before it gives up:
/// new writers wait behind it meanwhile, so one long transaction must not hold them all.
#[cfg(feature = "postgres")]
const SETTLE_TIMEOUT: &str = "100ms";

/// One change, as read from the log.
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct Change {
    #[diesel(sql_type = BigInt)]
    pub(crate) position: i64,
    #[diesel(sql_type = Text)]
    pub(crate) table_name: String,
    /// The row before (update, delete), as a JSON object keyed by column.
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) old_row: Option<String>,
    /// The row after (insert, update).
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) new_row: Option<String>,
}

#[derive(QueryableByName)]
struct Bound {
    #[diesel(sql_type = BigInt)]
    position: i64,
}

/// A table to capture, with the columns its models read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Captured {
    pub(crate) table: &'static str,
    pub(crate) columns: Vec<&'static str>,
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQL that creates the log and its triggers on `tables`; running it again replaces
/// the triggers (a model that gained a column captures it from then on).
pub(crate) fn install_sql(backend: Backend, tables: &[Captured]) -> String {
    let mut sql = String::new();
    match backend {
        Backend::Postgres => {
            sql.push_str(&format!(
                "SELECT pg_advisory_xact_lock({INSTALL_LOCK});
CREATE TABLE IF NOT EXISTS {TABLE} (
    position BIGSERIAL PRIMARY KEY,
    table_name TEXT NOT NULL,
    op CHAR(1) NOT NULL,
    old_row JSONB,
    new_row JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {PRUNED} (id INTEGER PRIMARY KEY, position BIGINT NOT NULL);
INSERT INTO {PRUNED} (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION channels_api_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (table_name, op, old_row, new_row) VALUES (
        TG_TABLE_NAME,
        left(TG_OP, 1),
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END
    );
    RETURN NULL;
END $$;
"
            ));
            for captured in tables {
                let table = quoted(captured.table);
                // (`channels_api_order` made writers take turns in earlier versions.)
                sql.push_str(&format!(
                    "DROP TRIGGER IF EXISTS channels_api_order ON {table};
CREATE OR REPLACE TRIGGER channels_api_capture AFTER INSERT OR UPDATE OR DELETE \
                     ON {table} FOR EACH ROW EXECUTE FUNCTION channels_api_capture();
"
                ));
            }
            // With the triggers of tables no longer served, if any.
            sql.push_str("DROP FUNCTION IF EXISTS channels_api_order() CASCADE;\n");
        }
        Backend::Sqlite => {
            sql.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (
    position INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    op TEXT NOT NULL,
    old_row TEXT,
    new_row TEXT,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE TABLE IF NOT EXISTS {PRUNED} (id INTEGER PRIMARY KEY, position BIGINT NOT NULL);
INSERT INTO {PRUNED} (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
"
            ));
            for captured in tables {
                let table = quoted(captured.table);
                let name = literal(captured.table);
                let image = |row: &str| {
                    let pairs: Vec<String> = captured
                        .columns
                        .iter()
                        .map(|c| format!("{}, {row}.{}", literal(c), quoted(c)))
                        .collect();
                    format!("json_object({})", pairs.join(", "))
                };
                for (event, op, old, new) in [
                    ("INSERT", "I", "NULL".to_owned(), image("NEW")),
                    ("UPDATE", "U", image("OLD"), image("NEW")),
                    ("DELETE", "D", image("OLD"), "NULL".to_owned()),
                ] {
                    let trigger = quoted(&format!(
                        "channels_api_{}_{}",
                        captured.table,
                        event.to_lowercase()
                    ));
                    sql.push_str(&format!(
                        "DROP TRIGGER IF EXISTS {trigger};
CREATE TRIGGER {trigger} AFTER {event} ON {table} BEGIN
    INSERT INTO {TABLE} (table_name, op, old_row, new_row) VALUES ({name}, '{op}', {old}, {new});
END;
"
                    ));
                }
            }
        }
    }
    sql
}

/// Creates the log and the triggers, in one transaction.
pub(crate) fn install(conn: &mut DbConnection, tables: &[Captured]) -> QueryResult<()> {
    let backend = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => Backend::Sqlite,
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(_) => Backend::Postgres,
    };
    let sql = install_sql(backend, tables);
    conn.transaction(|conn| conn.batch_execute(&sql))
}

/// Waits until every position in the log is settled, and keeps it so until the
/// transaction ends: on PostgreSQL a `SHARE` lock on the log, taken for at most
/// [`SETTLE_TIMEOUT`]. The first statement of a transaction, so that a `REPEATABLE READ`
/// snapshot is taken after it. Nothing to do on SQLite.
pub(crate) fn settle(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => Ok(()),
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => c.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{SETTLE_TIMEOUT}'; LOCK TABLE {TABLE} IN SHARE MODE"
        )),
    }
}

/// Whether `error` is [`settle`] giving up.
fn is_settle_timeout(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("lock timeout"))
}

/// The newest position, settled; `0` for an empty log.
pub(crate) fn head(conn: &mut DbConnection) -> QueryResult<i64> {
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => newest(conn),
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(_) => conn.transaction(settled_head),
    }
}

/// The newest position, settled, inside a transaction that has run nothing yet.
pub(crate) fn settled_head(conn: &mut DbConnection) -> QueryResult<i64> {
    settle(conn)?;
    newest(conn)
}

/// The newest position in the log, `0` for an empty log.
fn newest(conn: &mut DbConnection) -> QueryResult<i64> {
    let query = format!("SELECT COALESCE(MAX(position), 0) AS position FROM {TABLE}");
    load_bound(conn, &query)
}

/// The newest position pruning deleted: changes up to it may be gone.
pub(crate) fn pruned(conn: &mut DbConnection) -> QueryResult<i64> {
    let query = format!("SELECT COALESCE(MAX(position), 0) AS position FROM {PRUNED}");
    load_bound(conn, &query)
}

fn load_bound(conn: &mut DbConnection, query: &str) -> QueryResult<i64> {
    let bound: Bound = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => diesel::sql_query(query).get_result(c)?,
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => diesel::sql_query(query).get_result(c)?,
    };
    Ok(bound.position)
}

/// Up to `limit` changes after `after`, settled: on PostgreSQL under [`settle`]'s lock.
/// `None` when the lock was not granted in time.
pub(crate) fn read_settled(
    conn: &mut DbConnection,
    after: i64,
    limit: i64,
) -> QueryResult<Option<Vec<Change>>> {
    let result = conn.transaction(|conn| {
        settle(conn)?;
        read(conn, after, None, None, limit)
    });
    match result {
        Err(error) if is_settle_timeout(&error) => Ok(None),
        other => other.map(Some),
    }
}

/// Up to `limit` changes after `after`, up to `until` when given, of the two `tables`
/// when given (a table and its resource's published events), in position order. On
/// PostgreSQL, changes after a gap may not be settled (see the module's documentation).
pub(crate) fn read(
    conn: &mut DbConnection,
    after: i64,
    until: Option<i64>,
    tables: Option<&[String; 2]>,
    limit: i64,
) -> QueryResult<Vec<Change>> {
    let until = until.unwrap_or(i64::MAX);
    let (first, second) = match tables {
        Some([a, b]) => (Some(a.as_str()), Some(b.as_str())),
        None => (None, None),
    };
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            let query = format!(
                "SELECT position, table_name, old_row, new_row FROM {TABLE}
                 WHERE position > ? AND position <= ?
                 AND (? IS NULL OR table_name = ? OR table_name = ?)
                 ORDER BY position LIMIT ?"
            );
            diesel::sql_query(query)
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(until)
                .bind::<Nullable<Text>, _>(first)
                .bind::<Nullable<Text>, _>(first)
                .bind::<Nullable<Text>, _>(second)
                .bind::<BigInt, _>(limit)
                .load(c)
        }
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => {
            let query = format!(
                "SELECT position, table_name, old_row::text AS old_row,
                        new_row::text AS new_row
                 FROM {TABLE}
                 WHERE position > $1 AND position <= $2
                 AND ($3::text IS NULL OR table_name = $3 OR table_name = $4)
                 ORDER BY position LIMIT $5"
            );
            diesel::sql_query(query)
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(until)
                .bind::<Nullable<Text>, _>(first)
                .bind::<Nullable<Text>, _>(second)
                .bind::<BigInt, _>(limit)
                .load(c)
        }
    }
}

/// Deletes changes older than `max_age_secs` or beyond the newest `max_count`, but none
/// after `keep_after` (what this process has not delivered yet) and never the newest (it
/// holds the head position); records the newest position deleted. Returns how many were
/// deleted.
pub(crate) fn prune(
    conn: &mut DbConnection,
    max_age_secs: u64,
    max_count: u64,
    keep_after: i64,
) -> QueryResult<usize> {
    let count = i64::try_from(max_count).unwrap_or(i64::MAX);
    let age = i64::try_from(max_age_secs).unwrap_or(i64::MAX / 2);
    conn.transaction(|conn| {
        let cut: Bound = match conn {
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => diesel::sql_query(format!(
                "SELECT COALESCE(MAX(position), 0) AS position FROM {TABLE}
                 WHERE position < (SELECT MAX(position) FROM {TABLE}) AND position <= ?
                 AND (created_at < unixepoch() - ?
                      OR position <= (SELECT MAX(position) FROM {TABLE}) - ?)"
            ))
            .bind::<BigInt, _>(keep_after)
            .bind::<BigInt, _>(age)
            .bind::<BigInt, _>(count)
            .get_result(c)?,
            #[cfg(feature = "postgres")]
            DbConnection::Postgres(c) => diesel::sql_query(format!(
                "SELECT COALESCE(MAX(position), 0) AS position FROM {TABLE}
                 WHERE position < (SELECT MAX(position) FROM {TABLE}) AND position <= $1
                 AND (created_at < now() - make_interval(secs => $2)
                      OR position <= (SELECT MAX(position) FROM {TABLE}) - $3)"
            ))
            .bind::<BigInt, _>(keep_after)
            .bind::<diesel::sql_types::Double, _>(age as f64)
            .bind::<BigInt, _>(count)
            .get_result(c)?,
        };
        if cut.position == 0 {
            return Ok(0);
        }
        let deleted = match conn {
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => {
                diesel::sql_query(format!("DELETE FROM {TABLE} WHERE position <= ?"))
                    .bind::<BigInt, _>(cut.position)
                    .execute(c)?
            }
            #[cfg(feature = "postgres")]
            DbConnection::Postgres(c) => {
                diesel::sql_query(format!("DELETE FROM {TABLE} WHERE position <= $1"))
                    .bind::<BigInt, _>(cut.position)
                    .execute(c)?
            }
        };
        let record = format!(
            "UPDATE {PRUNED} SET position = {} WHERE id = 1 AND position < {}",
            cut.position, cut.position
        );
        conn.batch_execute(&record)?;
        Ok(deleted)
    })
}

/// Records an event a method published for `resource`: in the log like a change, so every
/// process delivers it in order and a resuming client receives it too.
pub(crate) fn publish(conn: &mut DbConnection, resource: &str, row: &str) -> QueryResult<usize> {
    let table = format!("@{resource}");
    conn.transaction(|conn| match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "INSERT INTO {TABLE} (table_name, op, new_row) VALUES (?, 'E', ?)"
        ))
        .bind::<Text, _>(table)
        .bind::<Text, _>(row)
        .execute(c),
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => diesel::sql_query(format!(
            "INSERT INTO {TABLE} (table_name, op, new_row) VALUES ($1, 'E', $2::jsonb)"
        ))
        .bind::<Text, _>(table)
        .bind::<Text, _>(row)
        .execute(c),
    })
}
