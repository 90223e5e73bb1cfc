//! The polls app: questions and users, served over one WebSocket.
//!
//! ```json
//! {"method": "question.create", "question_text": "What is your favorite python package?"}
//! {"method": "user.create", "email": "test@test.com", "password": "1Password"}
//! {"method": "user.invite", "email": "friend@test.com"}
//! ```

use channels_api::prelude::*;
use channels_api::serde_json::{Map, Value};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

/// The tables, as Diesel sees them.
pub mod schema {
    diesel::table! {
        /// Poll questions.
        questions (id) {
            /// The key.
            id -> Integer,
            /// The question.
            question_text -> Text,
            /// When it was asked.
            pub_date -> Timestamp,
        }
    }

    diesel::table! {
        /// Users of the polls.
        users (id) {
            /// The key.
            id -> Integer,
            /// Unique email address.
            email -> Text,
            /// The password, never sent back.
            password -> Text,
        }
    }
}

/// A poll question: `question.create`, `.retrieve`, `.update`, `.patch`, `.list`, `.delete`.
///
/// `question.list` pages by 50, filters on the key, the text and the date
/// (`{"question_text__icontains": "python", "pub_date__gte": "2026-01-01T00:00:00"}`,
/// `{"id__in": [1, 2, 3]}`), and
/// orders by id or date (`{"ordering": "-pub_date"}`).
#[derive(Debug, Queryable, Selectable, Identifiable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::questions)]
#[consumer(
    resource = "question",
    methods(create, retrieve, update, patch, list, delete, subscribe, unsubscribe),
    filter(id, question_text, pub_date),
    ordering(id, pub_date),
    page_size = 50
)]
pub struct Question {
    /// Assigned by the database.
    #[consumer(read_only)]
    pub id: i32,
    /// The question asked: from 1 to 200 characters.
    #[validate(length(min = 1, max = 200))]
    pub question_text: String,
    /// Set by the database when the question is created.
    #[consumer(read_only)]
    pub pub_date: chrono::NaiveDateTime,
}

/// A user: the five built-in methods plus the custom `user.invite`.
#[derive(Debug, Queryable, Selectable, Identifiable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::users)]
#[consumer(
    resource = "user",
    methods(create, retrieve, update, list, delete, invite, subscribe, unsubscribe)
)]
pub struct User {
    /// Assigned by the database.
    #[consumer(read_only)]
    pub id: i32,
    /// Unique: a second user with the same email is a 409.
    #[validate(email)]
    pub email: String,
    /// Stored as an Argon2id hash of what create and update send (at least 8 characters),
    /// never sent back in a response.
    #[serde(skip_serializing, deserialize_with = "password::hash")]
    pub password: String,
}

/// Passwords as the polls app stores them.
pub mod password {
    use argon2::Argon2;
    use argon2::password_hash::phc::PasswordHash;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};
    use serde::de::{Deserialize, Deserializer, Error};
    use tokio::runtime::{Handle, RuntimeFlavor};

    /// The longest password taken, in bytes: hashing costs what the input costs.
    const MAX_BYTES: usize = 1024;

    /// Reads a password from a request and returns its Argon2id hash (a PHC string with a
    /// fresh salt), as `#[serde(deserialize_with)]` on the model's field: the plain text
    /// is never stored. Hashing takes tens of milliseconds of CPU on purpose, so on a
    /// multi-threaded runtime it runs with `block_in_place`, letting the other tasks of
    /// this worker move elsewhere.
    pub fn hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let plain = String::deserialize(deserializer)?;
        if plain.chars().count() < 8 {
            return Err(D::Error::custom("use at least 8 characters"));
        }
        if plain.len() > MAX_BYTES {
            return Err(D::Error::custom(format!("use at most {MAX_BYTES} bytes")));
        }
        let hash = || {
            Argon2::default()
                .hash_password(plain.as_bytes())
                .map(|hash| hash.to_string())
        };
        let hashed = match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(hash),
            _ => hash(),
        };
        hashed.map_err(|_| D::Error::custom("the password could not be stored"))
    }

    /// Whether `plain` is the password whose hash is `stored`.
    pub fn verify(plain: &str, stored: &str) -> bool {
        PasswordHash::new(stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(plain.as_bytes(), &hash)
                .is_ok()
        })
    }
}

impl User {
    /// `user.invite`: answers with the content it was sent, and publishes it to the
    /// subscribers of `user` as a `user.invited` event.
    #[consumer_method]
    async fn invite(
        ctx: &Context<'_>,
        content: Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        ctx.publish("invited", &content).await?;
        Ok(content)
    }
}

/// The schema on SQLite.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("polls/migrations/sqlite");
/// The schema on PostgreSQL.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("polls/migrations/postgres");

/// The app's routes: both resources on `/`.
pub fn router() -> Router {
    Router::new().consumer::<Question>().consumer::<User>()
}

/// Brings the schema of `db` up to date.
pub async fn migrate(db: &Database) -> Result<(), channels_api::Error> {
    db.migrate(SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS).await
}
