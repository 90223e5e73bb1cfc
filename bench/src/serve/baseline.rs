//! The baseline: the same API written by hand on the same stack, as fast as it practically
//! goes. tokio-tungstenite with the framework's WebSocket settings; requests parsed into a
//! serde-derived struct; the polls app's validation of a question's text; the same Diesel
//! queries as the framework generates (a `list` without filters: the page, then the
//! count), written against the concrete connection types, in an r2d2 pool of the same size
//! and SQLite settings, run on tokio's blocking pool; responses in the framework's
//! envelope, written with serde_json.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use channels_api_examples::polls::schema::questions;
use channels_api_examples::polls::{POSTGRES_MIGRATIONS, Question, SQLITE_MIGRATIONS};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool as R2d2Pool};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::MigrationHarness;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use super::{NOOP_METHOD, POOL_SIZE, SLOW_METHOD, SlowQuery, announce, websocket_config};

/// The framework's default wait for a pooled connection (`DatabaseOptions::default()`).
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
/// The framework's default handshake timeout.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The framework's default page size of `list`, and its largest.
const PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 1000;

/// The pool, over one backend.
enum Pool {
    Sqlite(R2d2Pool<ConnectionManager<SqliteConnection>>),
    Postgres(R2d2Pool<ConnectionManager<PgConnection>>),
}

/// The framework's SQLite settings, applied to each new connection.
#[derive(Debug)]
struct SqliteSettings;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSettings {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The framework's pool settings: opened on demand, no check on checkout.
fn builder<M: diesel::r2d2::ManageConnection>() -> diesel::r2d2::Builder<M> {
    R2d2Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(0))
        .connection_timeout(POOL_TIMEOUT)
        .test_on_check_out(false)
}

impl Pool {
    /// A pool configured as the framework's, and the schema migrated.
    fn open(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = builder().build_unchecked(ConnectionManager::<PgConnection>::new(url));
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot connect to the database: {e}"))?;
            conn.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| format!("cannot migrate the database: {e}"))?;
            return Ok(Pool::Postgres(pool));
        }
        let path = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| format!("unsupported database URL `{url}`: use sqlite://FILE"))?;
        let pool = builder()
            .connection_customizer(Box::new(SqliteSettings))
            .build_unchecked(ConnectionManager::<SqliteConnection>::new(path));
        let mut conn = pool
            .get()
            .map_err(|e| format!("cannot open the database: {e}"))?;
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| format!("cannot migrate the database: {e}"))?;
        Ok(Pool::Sqlite(pool))
    }
}

/// Why a query failed.
enum Failure {
    /// No connection within the pool's timeout.
    Unavailable,
    /// The query failed.
    Query(diesel::result::Error),
    /// The query task panicked.
    Panicked,
}

/// Runs `$body` on the blocking pool with `$conn` bound to a pooled connection of the
/// concrete type, so each query is compiled once per backend.
macro_rules! query {
    ($pool:expr, $conn:ident => $body:expr) => {
        match $pool {
            Pool::Sqlite(pool) => {
                let pool = pool.clone();
                tokio::task::spawn_blocking(move || {
                    let mut pooled = pool.get().map_err(|_| Failure::Unavailable)?;
                    let $conn: &mut SqliteConnection = &mut pooled;
                    $body.map_err(Failure::Query)
                })
                .await
                .unwrap_or(Err(Failure::Panicked))
            }
            Pool::Postgres(pool) => {
                let pool = pool.clone();
                tokio::task::spawn_blocking(move || {
                    let mut pooled = pool.get().map_err(|_| Failure::Unavailable)?;
                    let $conn: &mut PgConnection = &mut pooled;
                    $body.map_err(Failure::Query)
                })
                .await
                .unwrap_or(Err(Failure::Panicked))
            }
        }
    };
}

pub(super) async fn serve(addr: SocketAddr, db_url: &str) -> Result<(), String> {
    let url = db_url.to_owned();
    let pool = tokio::task::spawn_blocking(move || Pool::open(&url))
        .await
        .map_err(|e| format!("the database setup panicked: {e}"))??;
    let pool = Arc::new(pool);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    announce(listener.local_addr().map_err(|e| e.to_string())?)?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, pool.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Handshake, then answer each text frame in turn.
async fn connection(stream: TcpStream, pool: Arc<Pool>) {
    let _ = stream.set_nodelay(true);
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(websocket_config()));
    let Ok(Ok(mut ws)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await else {
        return;
    };
    while let Some(message) = ws.next().await {
        let answer = match message {
            Ok(Message::Text(text)) => answer(text.as_str(), &pool).await,
            Ok(Message::Binary(_)) => error(None, None, 400, NON_FIELD, "send JSON text frames"),
            Ok(_) => continue,
            Err(_) => break,
        };
        if ws.send(Message::text(answer)).await.is_err() {
            break;
        }
    }
}

/// A request: the method, the id to echo, and every field any method reads.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    request_id: Option<&'a RawValue>,
    id: Option<i32>,
    question_text: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

/// The envelope of every answer.
#[derive(Serialize)]
struct Envelope<'a, T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a RawValue>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<BTreeMap<&'a str, [&'a str; 1]>>,
}

/// One page of `question.list`.
#[derive(Serialize)]
struct Page {
    count: i64,
    page: u32,
    page_size: u32,
    results: Vec<Question>,
}

const NON_FIELD: &str = "non_field_errors";
const REQUIRED: &str = "this field is required";

fn data<T: Serialize>(method: &str, request_id: Option<&RawValue>, status: u16, data: T) -> String {
    let envelope = Envelope {
        method: Some(method),
        request_id,
        status,
        data: Some(data),
        errors: None,
    };
    serde_json::to_string(&envelope).unwrap_or_else(|_| {
        error(
            Some(method),
            request_id,
            500,
            NON_FIELD,
            "internal server error",
        )
    })
}

fn error(
    method: Option<&str>,
    request_id: Option<&RawValue>,
    status: u16,
    field: &str,
    message: &str,
) -> String {
    let envelope = Envelope::<()> {
        method,
        request_id,
        status,
        data: None,
        errors: Some(BTreeMap::from([(field, [message])])),
    };
    serde_json::to_string(&envelope).unwrap_or_default()
}

fn failure(method: &str, request_id: Option<&RawValue>, failure: Failure) -> String {
    let (status, message) = match failure {
        Failure::Query(diesel::result::Error::NotFound) => (404, "not found"),
        Failure::Unavailable => (503, "the database is unavailable, try again later"),
        Failure::Query(_) | Failure::Panicked => (500, "internal server error"),
    };
    error(Some(method), request_id, status, NON_FIELD, message)
}

/// The polls app's rule for a question's text: from 1 to 200 characters.
fn check_text(method: &str, request_id: Option<&RawValue>, text: &str) -> Result<(), String> {
    if (1..=200).contains(&text.chars().count()) {
        Ok(())
    } else {
        let message = "must be between 1 and 200 characters long";
        Err(error(
            Some(method),
            request_id,
            400,
            "question_text",
            message,
        ))
    }
}

/// Answers one frame.
async fn answer(text: &str, pool: &Pool) -> String {
    let request: Request<'_> = match serde_json::from_str(text) {
        Ok(request) => request,
        Err(e) => return error(None, None, 400, NON_FIELD, &format!("malformed JSON: {e}")),
    };
    let id = request.request_id;
    let Some(method) = request.method.as_deref() else {
        return error(None, id, 400, "method", REQUIRED);
    };
    let missing = |field| error(Some(method), id, 400, field, REQUIRED);
    match method {
        "question.create" => {
            let Some(text) = request.question_text else {
                return missing("question_text");
            };
            if let Err(answer) = check_text(method, id, &text) {
                return answer;
            }
            let row = query!(pool, conn => {
                diesel::insert_into(questions::table)
                    .values(questions::question_text.eq(text))
                    .returning(Question::as_returning())
                    .get_result(conn)
            });
            match row {
                Ok(row) => data(method, id, 201, row),
                Err(e) => failure(method, id, e),
            }
        }
        "question.retrieve" => {
            let Some(pk) = request.id else {
                return missing("id");
            };
            let row = query!(pool, conn => {
                questions::table
                    .filter(questions::id.eq(pk))
                    .select(Question::as_select())
                    .get_result(conn)
            });
            match row {
                Ok(row) => data(method, id, 200, row),
                Err(e) => failure(method, id, e),
            }
        }
        "question.update" => {
            let (Some(pk), Some(text)) = (request.id, request.question_text) else {
                let field = if request.id.is_none() {
                    "id"
                } else {
                    "question_text"
                };
                return missing(field);
            };
            if let Err(answer) = check_text(method, id, &text) {
                return answer;
            }
            let row = query!(pool, conn => {
                diesel::update(questions::table.filter(questions::id.eq(pk)))
                    .set(questions::question_text.eq(text))
                    .returning(Question::as_returning())
                    .get_result(conn)
            });
            match row {
                Ok(row) => data(method, id, 200, row),
                Err(e) => failure(method, id, e),
            }
        }
        "question.list" => {
            let page = request.page.unwrap_or(1);
            let page_size = request.page_size.unwrap_or(PAGE_SIZE);
            if page == 0 {
                return error(Some(method), id, 400, "page", "pages are numbered from 1");
            }
            if page_size == 0 || page_size > MAX_PAGE_SIZE {
                let message = format!("must be between 1 and {MAX_PAGE_SIZE}");
                return error(Some(method), id, 400, "page_size", &message);
            }
            let offset = i64::from(page - 1) * i64::from(page_size);
            let rows = query!(pool, conn => {
                questions::table
                    .order(questions::id.asc())
                    .limit(i64::from(page_size))
                    .offset(offset)
                    .select(Question::as_select())
                    .load(conn)
                    .and_then(|results| {
                        let count = questions::table.count().get_result::<i64>(conn)?;
                        Ok((count, results))
                    })
            });
            match rows {
                Ok((count, results)) => data(
                    method,
                    id,
                    200,
                    Page {
                        count,
                        page,
                        page_size,
                        results,
                    },
                ),
                Err(e) => failure(method, id, e),
            }
        }
        NOOP_METHOD => data(method, id, 200, ()),
        SLOW_METHOD => match query!(pool, conn => conn.slow_query()) {
            Ok(()) => data(method, id, 200, ()),
            Err(e) => failure(method, id, e),
        },
        _ => error(
            Some(method),
            id,
            404,
            "method",
            &format!("unknown method `{method}`"),
        ),
    }
}
