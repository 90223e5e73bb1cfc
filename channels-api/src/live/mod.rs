//! Live data: `subscribe` and `unsubscribe`, and the events the server sends first.
//!
//! ```json
//! {"method": "question.subscribe", "request_id": 1}                       every row
//! {"method": "question.subscribe", "id": 7}                               one row
//! {"method": "question.subscribe", "question_text__icontains": "rust"}    a live query
//! {"method": "question.subscribe", "snapshot": true, "page_size": 100}   + the rows now
//! {"method": "question.subscribe", "after": "41"}                         resume
//! -> {"status": 200, "data": {"subscription": "s1", "position": "41", "results": [..]}}
//! {"event": "question.created", "subscription": "s1", "position": "42", "data": {..}}
//! {"event": "question.updated", "subscription": "s1", "position": "43", "data": {..}}
//! {"event": "question.deleted", "subscription": "s1", "position": "44", "data": {"id": 2}}
//! {"method": "question.unsubscribe", "subscription": "s1"}
//! ```
//!
//! How it works, and what it guarantees:
//! - **Every committed write, from anywhere.** Triggers on each served table copy every
//!   insert, update and delete, with the row before and after, into a change log table
//!   (`channels_api_changes`) in the writing transaction. A write by another program, a
//!   bulk statement or a custom method is an event like the API's own; a rolled-back one
//!   never is. The server creates the log and the triggers when it starts
//!   ([`install_sql`] shows the SQL, for a database where the server may not run DDL).
//! - **One order.** A position is the change's place in the log, the same on every
//!   server process. The events of one row arrive in the order its changes committed,
//!   and a change made after another committed comes after it; an event waits until
//!   every earlier position has committed or rolled back (see the log module).
//! - **Access control on every event.** An event reaches a subscription only if its
//!   connection could `retrieve` the row: the consumer's queryset scope and object
//!   permission are applied to the row before and after each change, for each
//!   connection. A row entering a live query (or the connection's view) is `created`,
//!   one leaving it `deleted` (with only its key), so a client's filtered list stays
//!   exact and learns nothing of rows it may not see. The data is what `retrieve` answers.
//! - **A consistent start, exact resume.** `"snapshot": true` returns the matching rows
//!   read at the returned position; events follow from there, with nothing missed or
//!   repeated. `"after": position` replays exactly the changes after it, through today's
//!   filter and permissions, or answers 410 when the log no longer holds them (the log
//!   keeps [`LiveOptions::retention_age`] and [`LiveOptions::retention_count`]) or when
//!   more than [`Limits::max_replay`](crate::Limits::max_replay) changes were made since.
//! - **Many processes, one API.** Each process reads the log itself, right after its
//!   own writes and every [`LiveOptions::poll_interval`] for the others', so processes
//!   on one PostgreSQL database (or one SQLite file) deliver each other's changes.
//! - **Slow clients hurt no one.** Events wait in a queue per connection, bounded by
//!   [`Limits::max_queued_events`](crate::Limits::max_queued_events) and
//!   [`Limits::max_queued_bytes`](crate::Limits::max_queued_bytes). When an event does
//!   not fit, that subscription ends: its client receives what was queued, then
//!   `{"event": "question.unsubscribed", "subscription": "s1", "position": "..",
//!   "errors": {..}}` with the position to resume after. A client that reads nothing at
//!   all is disconnected after the write timeout.
//!
//! Limits: `TRUNCATE` is not captured; binary columns cannot be captured on SQLite (its
//! JSON holds no blobs); text matching in live queries follows Rust's case folding, which
//! can differ from the database's `LIKE` outside ASCII.

mod hub;
pub(crate) mod log;
mod outbox;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::QueryResult;
use serde::Serialize;

use crate::builtin::{first_message, page_params};
use crate::consumer::{ListOptions, Model, Page};
use crate::context::{Context, OwnedContext};
use crate::database::{Backend, DbConnection};
use crate::error::{ApiError, Errors};
use crate::protocol::{Payload, Reply};
use crate::query::{ListQuery, Lookup, parse_filters, parse_ordering};

pub(crate) use hub::{Hub, Subscription};
pub(crate) use log::Captured;
pub(crate) use outbox::Outbox;

/// How live data runs: how often other processes' changes are looked for, and how long
/// the change log keeps history for resuming clients. Set with
/// [`Router::live`](crate::Router::live).
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub(crate) poll_interval: Duration,
    pub(crate) retention_age: Duration,
    pub(crate) retention_count: u64,
    pub(crate) prune_interval: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(20),
            retention_age: Duration::from_secs(3600),
            retention_count: 100_000,
            prune_interval: Duration::from_secs(10),
        }
    }
}

impl LiveOptions {
    /// How often the change log is read for changes made by other processes (this
    /// process's own writes are read at once). Default: 20 ms.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a change stays in the log for resuming clients. Default: an hour.
    pub fn retention_age(mut self, age: Duration) -> Self {
        self.retention_age = age;
        self
    }

    /// How many changes, at most, the log keeps. Default: 100,000.
    pub fn retention_count(mut self, count: u64) -> Self {
        self.retention_count = count.max(1);
        self
    }

    /// How often old changes are pruned. Default: every 10 s.
    pub fn prune_interval(mut self, interval: Duration) -> Self {
        self.prune_interval = interval.max(Duration::from_millis(10));
        self
    }
}

/// The SQL that creates the change log and the triggers on `tables` (name, columns),
/// as the server runs it at start: for a database whose schema is managed elsewhere.
pub fn install_sql(backend: Backend, tables: &[(&'static str, &[&'static str])]) -> String {
    let tables: Vec<Captured> = tables
        .iter()
        .map(|(table, columns)| Captured {
            table,
            columns: columns.to_vec(),
        })
        .collect();
    log::install_sql(backend, &tables)
}

/// What `subscribe` needs of a model beyond [`Model`]; generated by the derive for models
/// that offer `subscribe`.
#[doc(hidden)]
pub trait LiveModel: Model + crate::consumer::Consumer {
    /// The SQL table, as the change log names it.
    const TABLE: &'static str;
    /// The SQL columns of the model's fields, in field order.
    const COLUMNS: &'static [&'static str];

    /// Decodes a JSON array of row images (objects keyed by column, as the triggers
    /// write them) into models, in order, with the database's own types.
    fn decode_images(conn: &mut DbConnection, images: &str) -> QueryResult<Vec<Self>>;

    /// Whether this row passes every filter, as the database would decide.
    fn matches(&self, filters: &[Self::Filter]) -> bool;

    /// The row's primary key.
    fn key(&self) -> Self::Pk;
}

/// One connection's part in live data.
#[derive(Debug)]
pub(crate) struct LiveConnection {
    id: u64,
    hub: Hub,
    outbox: Arc<Outbox>,
    next: AtomicU64,
}

static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

impl LiveConnection {
    pub(crate) fn new(hub: &Hub, max_events: usize, max_bytes: usize) -> Self {
        LiveConnection {
            id: CONNECTIONS.fetch_add(1, Ordering::Relaxed),
            hub: hub.clone(),
            outbox: Arc::new(Outbox::new(max_events, max_bytes)),
            next: AtomicU64::new(1),
        }
    }

    /// The queue this connection's events wait in.
    pub(crate) fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

impl Drop for LiveConnection {
    fn drop(&mut self) {
        self.outbox.close();
        self.hub.disconnect(self.id);
    }
}

impl Context<'_> {
    /// Sends an event of this method's resource to every subscription of it, on every
    /// server process: `{"event": "question.<kind>", "subscription": .., "position": ..,
    /// "data": data}`. It takes a position in the change log like a write, so it arrives
    /// in order with the resource's changes and a resuming client receives it too.
    ///
    /// Unlike a change, it is not filtered by row: every subscriber of the resource
    /// receives it, so publish only what each of them may see. `kind` is a name of
    /// letters, digits and `_`, other than `created`, `updated`, `deleted` and
    /// `unsubscribed`. A write a method makes to a served table needs no call: its
    /// events follow by themselves.
    ///
    /// ```ignore
    /// #[consumer_method]
    /// async fn vote(ctx: &Context<'_>, args: Vote) -> Result<(), ApiError> {
    ///     // ...record the vote...
    ///     ctx.publish("voted", &serde_json::json!({"id": args.id})).await
    /// }
    /// ```
    pub async fn publish<T: Serialize + ?Sized>(
        &self,
        kind: &str,
        data: &T,
    ) -> Result<(), ApiError> {
        let valid = !kind.is_empty()
            && kind.len() <= 64
            && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !["created", "updated", "deleted", "unsubscribed"].contains(&kind);
        if !valid {
            tracing::error!(
                kind,
                "`Context::publish` needs a plain event name of its own"
            );
            return Err(ApiError::internal());
        }
        if self.live.is_none() {
            tracing::error!(
                resource = self.resource,
                "`Context::publish` needs a resource on this path that offers `subscribe`"
            );
            return Err(ApiError::internal());
        }
        let row = serde_json::to_string(&serde_json::json!({ "kind": kind, "data": data }))
            .map_err(|error| {
                tracing::error!(%error, "published data failed to serialize");
                ApiError::internal()
            })?;
        let resource = self.resource;
        self.db
            .write(move |conn| log::publish(conn, resource, &row))
            .await?;
        Ok(())
    }
}

/// Keys of a `subscribe` request that are not filters.
const SUBSCRIBE_KEYS: &[&str] = &["snapshot", "after", "page", "page_size", "ordering"];

/// What `subscribe` answers.
#[derive(Serialize)]
struct Subscribed<T> {
    subscription: String,
    position: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    snapshot: Option<Page<T>>,
}

fn live_of<'a>(ctx: &Context<'a>) -> Result<&'a LiveConnection, ApiError> {
    let live = ctx
        .live
        .ok_or_else(|| ApiError::new(503, "live data is not running on this server"))?;
    if !live.hub.is_ready() {
        return Err(ApiError::new(
            503,
            "live data is waiting for the database: try again shortly",
        ));
    }
    Ok(live)
}

/// Reads a position a client sent back.
fn parse_position(payload: &Payload<'_>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = payload.raw("after") else {
        return Ok(None);
    };
    let wrong = || ApiError::field(400, "after", "not a position this server gave out");
    let text: String = serde_json::from_str(raw.get()).map_err(|_| wrong())?;
    let position: i64 = text.parse().map_err(|_| wrong())?;
    if position < 0 || text.len() > 20 || text.starts_with('+') {
        return Err(wrong());
    }
    Ok(Some(position))
}

/// `resource.subscribe`: a subscription to every row, one row (`"<key>": value`) or a live
/// query (the filters of `list`), optionally with a snapshot or resuming after a position.
pub async fn subscribe<M: LiveModel>(
    ctx: &Context<'_>,
    payload: &Payload<'_>,
    options: ListOptions,
) -> Result<Reply, ApiError> {
    let live = live_of(ctx)?;
    let limits = ctx.limits();
    let mut errors = Errors::new();
    let mut filters = M::scope(ctx)?;
    let mut skip: Vec<&str> = SUBSCRIBE_KEYS.to_vec();
    if !M::FILTER_FIELDS.contains(&M::PK) {
        // One row by its key, even where `list` cannot filter on it.
        skip.push(M::PK);
        if let Some(raw) = payload.raw(M::PK) {
            match <M::Filter as crate::query::Filters>::parse(M::PK, Lookup::Exact, raw) {
                Ok(filter) => filters.push(filter),
                Err(_) => errors.add(M::PK, "expected the key of a record"),
            }
        }
    }
    filters.extend(parse_filters::<M::Filter>(
        payload,
        &skip,
        M::FILTER_FIELDS,
        limits,
        &mut errors,
    ));
    let snapshot = match payload.get::<bool>("snapshot") {
        Ok(value) => value.unwrap_or(false),
        Err(error) => {
            errors.add("snapshot", first_message(&error));
            false
        }
    };
    let (page, page_size) = page_params(payload, options, &mut errors);
    let ordering = parse_ordering(payload, M::ORDER_FIELDS, &mut errors);
    let after = parse_position(payload).unwrap_or_else(|error| {
        errors.extend(error.errors());
        None
    });
    if after.is_some() && snapshot {
        errors.add(
            "snapshot",
            "a resuming subscription replays the changes after its position; drop `snapshot`",
        );
    }
    if !snapshot {
        for key in ["page", "page_size", "ordering"] {
            if payload.raw(key).is_some() {
                errors.add(key, "pages belong to a snapshot: add \"snapshot\": true");
            }
        }
    }
    errors.into_result()?;
    let held = live.hub.count(live.id);
    if held >= limits.max_subscriptions {
        return Err(ApiError::field(
            429,
            "method",
            format!(
                "too many subscriptions: this connection holds {held}, at most {}",
                limits.max_subscriptions
            ),
        ));
    }

    let db = live.hub.db();
    let (position, rows) = if snapshot {
        let query = ListQuery {
            filters: filters.clone(),
            ordering,
            offset: i64::from(page - 1) * i64::from(page_size),
            limit: i64::from(page_size),
            count: true,
        };
        let backend = db.backend();
        let (position, (count, results)) = db
            .query(move |conn| {
                diesel::Connection::transaction(conn, |conn| {
                    if backend == Backend::Postgres {
                        // One snapshot for the position and the rows, taken once the
                        // log is settled (its lock comes before the first read).
                        diesel::connection::SimpleConnection::batch_execute(
                            conn,
                            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                        )?;
                    }
                    let position = log::settled_head(conn)?;
                    Ok((position, M::list(conn, &query)?))
                })
            })
            .await?;
        let results: Vec<M> = results
            .into_iter()
            .filter(|row| !M::CHECKS_OBJECTS || row.has_object_permission(ctx).is_ok())
            .collect();
        let page = Page {
            count: count.unwrap_or_default(),
            page,
            page_size,
            results,
        };
        (position, Some(page))
    } else {
        let head = db.query(log::head).await?;
        match after {
            Some(after) if after > head => {
                return Err(ApiError::field(
                    400,
                    "after",
                    "not a position this server gave out",
                ));
            }
            Some(after) if u64::try_from(head - after).unwrap_or(0) > limits.max_replay => {
                return Err(ApiError::field(
                    410,
                    "after",
                    format!(
                        "more than {} changes were made after this position: list again, \
                         then subscribe without `after`",
                        limits.max_replay
                    ),
                ));
            }
            Some(after) => (after, None),
            None => (head, None),
        }
    };
    let id: Arc<str> = format!("s{}", live.next.fetch_add(1, Ordering::Relaxed)).into();
    let subscription = Subscription::<M> {
        id: id.clone(),
        connection: live.id,
        resource: ctx.resource(),
        filters,
        check: M::CHECKS_OBJECTS.then(|| OwnedContext::new(ctx)),
        outbox: live.outbox.clone(),
        formatter: ctx.formatter.clone(),
        position,
    };
    live.hub.subscribe(subscription, position).await?;
    Reply::ok(&Subscribed {
        subscription: id.to_string(),
        position: position.to_string(),
        snapshot: rows,
    })
}

/// `resource.unsubscribe`: ends the subscription named by `"subscription"`, or without it
/// every subscription of this resource on the connection.
pub async fn unsubscribe<M: LiveModel>(
    ctx: &Context<'_>,
    payload: &Payload<'_>,
) -> Result<Reply, ApiError> {
    let live = live_of(ctx)?;
    let mut errors = Errors::new();
    for (key, _) in payload.fields() {
        if key != "subscription" {
            errors.add(
                key.to_owned(),
                "unknown key: `unsubscribe` takes only \"subscription\"",
            );
        }
    }
    errors.into_result()?;
    let id = payload.get::<String>("subscription")?;
    let ended = live.hub.unsubscribe(live.id, ctx.resource(), id.as_deref());
    if id.is_some() && ended.is_empty() {
        return Err(ApiError::field(
            404,
            "subscription",
            "no such subscription of this resource on this connection",
        ));
    }
    for id in &ended {
        live.outbox.purge(id);
    }
    let ended: Vec<&str> = ended.iter().map(|id| &**id).collect();
    Reply::ok(&serde_json::json!({ "unsubscribed": ended }))
}
