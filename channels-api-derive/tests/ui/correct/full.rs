//! Every accepted form in one model; compiled with missing docs denied, so the generated
//! code must be clean.
#![deny(missing_docs)]

use channels_api::prelude::*;

mod schema {
    diesel::table! {
        polls (key) {
            key -> Integer,
            title -> Text,
            description -> Nullable<Text>,
            votes -> Integer,
            created -> Timestamp,
        }
    }
}

/// A poll.
#[derive(Queryable, Selectable, Identifiable, Serialize, ModelConsumer)]
#[diesel(table_name = schema::polls, primary_key(key))]
#[consumer(
    resource = "poll",
    methods(create, retrieve, update, patch, list, delete, subscribe, unsubscribe, close, stats, patches),
    read_only(key, created),
    page_size = 20,
    max_page_size = 100,
    formatter = BareFormatter,
    validate = Poll::check,
    filter(title, description, votes, created),
    ordering(votes, created),
    scope(votes),
    queryset = Poll::open_polls,
    permission = (IsAuthenticatedOrReadOnly, CheckObject(Poll::owned))
)]
pub struct Poll {
    /// The key.
    pub key: i32,
    /// Sent as `name` on the wire.
    #[serde(rename = "name")]
    #[diesel(column_name = title)]
    #[validate(length(min = 1, max = 80))]
    pub title: String,
    /// May be null, so never required.
    pub description: Option<String>,
    /// Defaults to zero when missing.
    #[serde(default)]
    pub votes: i32,
    /// Set by the database.
    pub created: chrono::NaiveDateTime,
}

/// The argument of `poll.close`.
#[derive(Deserialize)]
pub struct Close {
    /// Why.
    pub reason: String,
}

impl Poll {
    /// Polls with at least one vote.
    fn open_polls(_ctx: &Context<'_>) -> Result<Scope, ApiError> {
        // Typed: `Poll::fields().votes()` is a `Field<i32>`.
        Ok(Scope::all().and(Poll::fields().votes().gte(0)))
    }

    /// A rule across the request.
    fn check(_ctx: &Context<'_>, payload: &channels_api::Payload<'_>) -> Result<(), ApiError> {
        let votes: Option<i32> = payload.get("votes")?;
        match votes {
            Some(votes) if votes < 0 => Err(ApiError::bad_request("votes cannot be negative")),
            _ => Ok(()),
        }
    }

    /// Only polls with a description may change.
    fn owned(_ctx: &Context<'_>, poll: &Poll) -> Result<(), ApiError> {
        match poll.description {
            Some(_) => Ok(()),
            None => Err(ApiError::forbidden("this poll is locked")),
        }
    }

    /// With an argument read from the payload.
    #[consumer_method]
    pub async fn close(_ctx: &Context<'_>, args: Close) -> Result<String, ApiError> {
        Ok(args.reason)
    }

    /// Named one edit or two from a built-in (`patch`): still this function.
    #[consumer_method]
    async fn patches(_ctx: &Context<'_>) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }

    /// With the context only.
    #[consumer_method]
    async fn stats(ctx: &Context<'_>) -> Result<serde_json::Value, ApiError> {
        Ok(serde_json::json!({ "resource": ctx.resource() }))
    }
}

fn main() {
    assert_eq!(<Poll as Consumer>::RESOURCE, "poll");
    assert_eq!(
        <Poll as Consumer>::METHODS,
        [
            "create", "retrieve", "update", "patch", "list", "delete", "subscribe",
            "unsubscribe", "close", "stats", "patches"
        ]
    );
    assert_eq!(<Poll as channels_api::__private::LiveModel>::TABLE, "polls");
    assert_eq!(<Poll as Model>::PK, "key");
    assert_eq!(<Poll as Model>::FILTER_FIELDS, ["name", "description", "votes", "created"]);
    assert_eq!(<Poll as Model>::ORDER_FIELDS, ["votes", "created"]);
    let _ = Router::new().consumer::<Poll>();
}
