//! Per-user todo lists: authentication at the handshake, permissions, and a queryset that
//! keeps every connection inside its own rows.
//!
//! Connect with a token, in the `Authorization` header or, from a browser, in the query
//! string: `ws://127.0.0.1:8001/?token=alice-token`. Then:
//!
//! ```json
//! {"method": "todo.create", "title": "Write the report"}
//! {"method": "todo.list", "done": false, "ordering": "title"}
//! {"method": "account.me"}
//! ```

use channels_api::diesel;
use channels_api::diesel::prelude::*;
use channels_api::prelude::*;
use channels_api::tungstenite::http::Request;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

/// The tables, as Diesel sees them.
pub mod schema {
    diesel::table! {
        /// The accounts that may log in.
        accounts (id) {
            /// The key.
            id -> Integer,
            /// Display name.
            name -> Text,
            /// The secret a client presents.
            token -> Text,
        }
    }

    diesel::table! {
        /// One todo item of one account.
        todos (id) {
            /// The key.
            id -> Integer,
            /// The account that owns it.
            owner_id -> Integer,
            /// What to do.
            title -> Text,
            /// Whether it is done.
            done -> Bool,
        }
    }

    diesel::joinable!(todos -> accounts (owner_id));
    diesel::allow_tables_to_appear_in_same_query!(accounts, todos);
}

/// A logged-in account, and the `account` resource: `account.me` answers with the
/// connection's own account; `account.retrieve` finds no other.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::accounts)]
#[consumer(
    resource = "account",
    methods(retrieve, me),
    read_only(id, name, token),
    queryset = Account::own,
    permission = IsAuthenticated
)]
pub struct Account {
    /// The key.
    pub id: i32,
    /// Display name.
    pub name: String,
    /// Never sent back.
    #[serde(skip_serializing)]
    pub token: String,
}

impl Account {
    /// Only the connection's own account.
    fn own(ctx: &Context<'_>) -> Result<Scope, ApiError> {
        Ok(Scope::all().and(Account::fields().id().eq(current(ctx)?.id)))
    }

    /// `account.me`: the connection's account.
    #[consumer_method]
    async fn me(ctx: &Context<'_>) -> Result<Account, ApiError> {
        Ok(current(ctx)?.clone())
    }
}

/// The connection's account; 401 for an anonymous one.
fn current<'a>(ctx: &Context<'a>) -> Result<&'a Account, ApiError> {
    ctx.user::<Account>()
        .ok_or_else(|| ApiError::unauthorized("log in with a token"))
}

/// A todo item. Every method needs a logged-in account, and sees only that account's
/// items: another account's item answers 404, as if it did not exist. `owner_id` is
/// always the connection's account, whatever the client sends.
#[derive(Debug, Queryable, Selectable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::todos)]
#[consumer(
    resource = "todo",
    methods(create, retrieve, update, patch, list, delete, subscribe, unsubscribe),
    filter(title, done),
    ordering(id, title, done),
    scope(owner_id),
    queryset = Todo::own,
    permission = IsAuthenticated
)]
pub struct Todo {
    /// Assigned by the database.
    #[consumer(read_only)]
    pub id: i32,
    /// Pinned by the queryset to the connection's account.
    pub owner_id: i32,
    /// What to do.
    pub title: String,
    /// Optional on create: `false` unless sent.
    #[serde(default)]
    pub done: bool,
}

impl Todo {
    /// The connection's own items.
    fn own(ctx: &Context<'_>) -> Result<Scope, ApiError> {
        Ok(Scope::all().and(Todo::fields().owner_id().eq(current(ctx)?.id)))
    }
}

/// Finds the account whose token the handshake carries: `Authorization: Bearer TOKEN`, or
/// `?token=TOKEN` for browsers, which cannot set headers on a WebSocket. No token lets the
/// connection in anonymous; an unknown token refuses it.
pub async fn authenticate(request: Request<()>, db: Database) -> Result<Option<Account>, ApiError> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_owned)
    });
    let Some(token) = header.or(query) else {
        return Ok(None);
    };
    let account = db
        .run(move |conn| {
            use schema::accounts;
            accounts::table
                .filter(accounts::token.eq(token))
                .select(Account::as_select())
                .get_result(conn)
                .optional()
        })
        .await?;
    match account {
        Some(account) => Ok(Some(account)),
        None => Err(ApiError::unauthorized("unknown token")),
    }
}

/// The schema on SQLite.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("todos/migrations/sqlite");
/// The schema on PostgreSQL.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("todos/migrations/postgres");

/// The app's routes, with its authenticator; pages of `http://localhost:3000` may connect
/// besides same-origin ones.
///
/// Each connection may send 50 requests a second on average (a second's worth at once);
/// past that, requests are answered 429 with the time to wait.
pub fn router() -> Router {
    Router::new()
        .consumer::<Todo>()
        .consumer::<Account>()
        .authenticate(authenticate)
        .allowed_origins(["http://localhost:3000"])
        .limits(channels_api::Limits::default().requests_per_second(50))
}

/// Brings the schema of `db` up to date.
pub async fn migrate(db: &Database) -> Result<(), channels_api::Error> {
    db.migrate(SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS).await
}
