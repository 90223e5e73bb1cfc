//! The hub of one server process: it reads the change log after each local write and
//! every poll interval, turns each change into the events its subscriptions should see,
//! and queues them on their connections.
//!
//! Work per change is one read of the log and one decoding query per batch (not per
//! subscriber); matching, permissions and formatting happen in process, and a change's
//! data is serialized once, whatever the number of subscribers.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};

use super::log::{self, Captured, Change};
use super::outbox::Outbox;
use super::{LiveModel, LiveOptions};
use crate::context::OwnedContext;
use crate::database::{Backend, Database, DbError};
use crate::error::{ApiError, Errors};
use crate::protocol::{Body, Event, Formatter};

/// Changes read from the log at once.
const BATCH: i64 = 500;

/// Subscriptions added after one read of the log, at most.
const JOINS_AT_ONCE: usize = 256;

/// What a feed decodes from a batch: its models' rows, type-erased.
type Decoded = Box<dyn Any + Send>;
type DecodeFuture<'a> = Pin<Box<dyn Future<Output = Result<Decoded, DbError>> + Send + 'a>>;

/// The subscriptions of one model, type-erased for the registry.
trait Feed: Send {
    fn table(&self) -> &'static str;
    fn key(&self) -> TypeId;
    fn is_empty(&self) -> bool;
    /// Decodes the row images of `changes` (which are all of this feed's table).
    fn decode<'a>(&self, db: &'a Database, changes: &[&Change]) -> DecodeFuture<'a>;
    /// Queues the events of `changes` on the subscriptions; returns the connections
    /// whose subscriptions ended because their queue was full.
    fn deliver(&mut self, changes: &[&Change], decoded: Decoded) -> Vec<u64>;
    /// The resource its subscriptions are to.
    fn resource(&self) -> &'static str;
    /// Queues an event a method published (`kind`, `data`) on every subscription; returns
    /// the connections whose subscriptions ended because their queue was full.
    fn deliver_published(&mut self, position: i64, kind: &str, data: &RawValue) -> Vec<u64>;
    /// Adds the subscriptions of `other`, a feed of the same model.
    fn absorb(&mut self, other: Box<dyn Feed>);
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    /// Drops the subscriptions of connection `connection` (those named `id`, when given,
    /// and of `resource`, when given); returns the ids dropped.
    fn remove(
        &mut self,
        connection: u64,
        resource: Option<&str>,
        id: Option<&str>,
    ) -> Vec<Arc<str>>;
    /// Brings every subscription to at least `position`.
    fn advance_to(&mut self, position: i64);
    /// Ends every subscription, each with a notice saying `why`; returns their
    /// connections.
    fn end_all(&mut self, why: &str) -> Vec<u64>;
}

/// One subscription of a connection.
pub(crate) struct Subscription<M: LiveModel> {
    pub(crate) id: Arc<str>,
    pub(crate) connection: u64,
    pub(crate) resource: &'static str,
    /// The live query's filters (for one row: its key), scope included.
    pub(crate) filters: Vec<M::Filter>,
    /// The context object permissions are checked in, when the model checks them.
    pub(crate) check: Option<OwnedContext>,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) formatter: Arc<dyn Formatter>,
    /// The position the subscription has been brought to: later changes are its events.
    pub(crate) position: i64,
}

impl<M: LiveModel> Subscription<M> {
    /// Whether the connection may see `row` through this subscription.
    fn sees(&self, row: &M) -> bool {
        row.matches(&self.filters)
            && self
                .check
                .as_ref()
                .is_none_or(|check| row.has_object_permission(&check.context()).is_ok())
    }
}

/// The feed of model `M`: its subscriptions by connection, so that a disconnect costs
/// what that connection held, not what every connection holds.
struct TableFeed<M: LiveModel> {
    by_connection: HashMap<u64, Vec<Subscription<M>>>,
}

/// One batch decoded: for each change, the row before and after.
struct Rows<M> {
    rows: Vec<(Option<M>, Option<M>)>,
}

/// What a visit of a subscription decided.
enum Visit {
    Keep,
    /// Its queue was full: it ended (its notice is queued).
    Ended,
}

impl<M: LiveModel> TableFeed<M> {
    fn one(subscription: Subscription<M>) -> Self {
        TableFeed {
            by_connection: HashMap::from([(subscription.connection, vec![subscription])]),
        }
    }

    /// Visits every open subscription; drops those that ended, and returns their
    /// connections.
    fn each(&mut self, mut visit: impl FnMut(&mut Subscription<M>) -> Visit) -> Vec<u64> {
        let mut ended = Vec::new();
        self.by_connection.retain(|connection, subscriptions| {
            subscriptions.retain_mut(|sub| {
                if sub.outbox.is_closed() {
                    return false;
                }
                match visit(sub) {
                    Visit::Keep => true,
                    Visit::Ended => {
                        ended.push(*connection);
                        false
                    }
                }
            });
            !subscriptions.is_empty()
        });
        ended
    }

    /// Queues the event `kind` at `position` with `data` for `sub`, or ends it when its
    /// queue is full.
    fn send(sub: &mut Subscription<M>, kind: &str, position: i64, data: &RawValue) -> Visit {
        let event = Event {
            resource: sub.resource,
            kind,
            subscription: &sub.id,
            position,
            body: Body::Data(data),
        };
        let mut text = String::with_capacity(data.get().len() + 96);
        sub.formatter.format_event(&event, &mut text);
        if sub.outbox.push(&sub.id, text).is_err() {
            end(sub, LAGGING);
            return Visit::Ended;
        }
        sub.position = position;
        Visit::Keep
    }
}

impl<M: LiveModel> Feed for TableFeed<M> {
    fn table(&self) -> &'static str {
        M::TABLE
    }

    fn resource(&self) -> &'static str {
        <M as crate::consumer::Consumer>::RESOURCE
    }

    fn key(&self) -> TypeId {
        TypeId::of::<M>()
    }

    fn is_empty(&self) -> bool {
        self.by_connection.is_empty()
    }

    fn decode<'a>(&self, db: &'a Database, changes: &[&Change]) -> DecodeFuture<'a> {
        // One JSON array of every image, decoded by the database into the model's types
        // in one query; `slots` says which image is whose.
        let mut images = String::from("[");
        let mut slots = Vec::with_capacity(changes.len());
        let mut count = 0usize;
        for change in changes {
            if change.table_name.starts_with('@') {
                slots.push((None, None));
                continue;
            }
            let mut slot = |image: &Option<String>| {
                image.as_ref().map(|image| {
                    if count > 0 {
                        images.push(',');
                    }
                    images.push_str(image);
                    count += 1;
                    count - 1
                })
            };
            let old = slot(&change.old_row);
            let new = slot(&change.new_row);
            slots.push((old, new));
        }
        images.push(']');
        Box::pin(async move {
            let decoded = db
                .query(move |conn| M::decode_images(conn, &images))
                .await?;
            if decoded.len() != count {
                tracing::error!(
                    table = M::TABLE,
                    images = count,
                    decoded = decoded.len(),
                    "change images did not decode one for one"
                );
                return Err(DbError::Unavailable("change images did not decode".into()));
            }
            let mut decoded: Vec<Option<M>> = decoded.into_iter().map(Some).collect();
            let rows = slots
                .into_iter()
                .map(|(old, new)| {
                    (
                        old.and_then(|i| decoded[i].take()),
                        new.and_then(|i| decoded[i].take()),
                    )
                })
                .collect();
            Ok(Box::new(Rows::<M> { rows }) as Decoded)
        })
    }

    fn deliver(&mut self, changes: &[&Change], decoded: Decoded) -> Vec<u64> {
        let mut ended = Vec::new();
        let Ok(rows) = decoded.downcast::<Rows<M>>() else {
            return ended;
        };
        for (change, (old, new)) in changes.iter().zip(&rows.rows) {
            if let Some(published) = Published::of(change) {
                if published.resource == self.resource() {
                    ended.extend(self.deliver_published(
                        change.position,
                        &published.kind,
                        &published.data,
                    ));
                }
                continue;
            }
            // Serialized at most once per change, shared by every subscription.
            let mut data: Option<Option<Box<RawValue>>> = None;
            let mut key: Option<Option<Box<RawValue>>> = None;
            let position = change.position;
            ended.extend(self.each(|sub| {
                if position <= sub.position {
                    return Visit::Keep;
                }
                let before = old.as_ref().is_some_and(|row| sub.sees(row));
                let after = new.as_ref().is_some_and(|row| sub.sees(row));
                let kind = match (before, after) {
                    (false, true) => "created",
                    (true, true) => "updated",
                    (true, false) => "deleted",
                    (false, false) => {
                        sub.position = position;
                        return Visit::Keep;
                    }
                };
                let body = if after {
                    data.get_or_insert_with(|| {
                        new.as_ref().and_then(|row| serialize(row, "event data"))
                    })
                } else {
                    key.get_or_insert_with(|| {
                        old.as_ref().and_then(|row| {
                            let key = serde_json::json!({ M::PK: row.key() });
                            serialize(&key, "event key")
                        })
                    })
                };
                match body {
                    Some(body) => Self::send(sub, kind, position, body),
                    None => Visit::Keep,
                }
            }));
        }
        ended
    }

    fn deliver_published(&mut self, position: i64, kind: &str, data: &RawValue) -> Vec<u64> {
        self.each(|sub| {
            if position <= sub.position {
                return Visit::Keep;
            }
            Self::send(sub, kind, position, data)
        })
    }

    fn absorb(&mut self, other: Box<dyn Feed>) {
        if let Ok(other) = other.into_any().downcast::<TableFeed<M>>() {
            for (connection, subscriptions) in other.by_connection {
                self.by_connection
                    .entry(connection)
                    .or_default()
                    .extend(subscriptions);
            }
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn remove(
        &mut self,
        connection: u64,
        resource: Option<&str>,
        id: Option<&str>,
    ) -> Vec<Arc<str>> {
        let mut removed = Vec::new();
        let Some(subscriptions) = self.by_connection.get_mut(&connection) else {
            return removed;
        };
        subscriptions.retain(|sub| {
            let drop =
                resource.is_none_or(|r| r == sub.resource) && id.is_none_or(|id| id == &*sub.id);
            if drop {
                removed.push(sub.id.clone());
            }
            !drop
        });
        if subscriptions.is_empty() {
            self.by_connection.remove(&connection);
        }
        removed
    }

    fn advance_to(&mut self, position: i64) {
        self.each(|sub| {
            sub.position = sub.position.max(position);
            Visit::Keep
        });
    }

    fn end_all(&mut self, why: &str) -> Vec<u64> {
        let mut ended = Vec::new();
        for (connection, subscriptions) in self.by_connection.drain() {
            for sub in subscriptions {
                end(&sub, why);
                ended.push(connection);
            }
        }
        ended
    }
}

/// An event a method published, as the log holds it: under `@resource`, with
/// `{"kind": .., "data": ..}` as its row.
struct Published<'c> {
    resource: &'c str,
    kind: String,
    data: Box<RawValue>,
}

impl<'c> Published<'c> {
    fn of(change: &'c Change) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Row {
            kind: String,
            data: Box<RawValue>,
        }
        let resource = change.table_name.strip_prefix('@')?;
        let row: Row = serde_json::from_str(change.new_row.as_deref()?).ok()?;
        Some(Published {
            resource,
            kind: row.kind,
            data: row.data,
        })
    }
}

fn serialize<T: serde::Serialize + ?Sized>(value: &T, what: &str) -> Option<Box<RawValue>> {
    match serde_json::value::to_raw_value(value) {
        Ok(raw) => Some(raw),
        Err(error) => {
            tracing::error!(%error, what, "failed to serialize");
            None
        }
    }
}

/// Why a subscription whose client read too slowly ended.
const LAGGING: &str = "events were not read fast enough and this subscription ended";

/// Ends a subscription: its queued events stay, followed by a notice saying `why`, with
/// the position to resume after.
fn end<M: LiveModel>(sub: &Subscription<M>, why: &str) {
    let position = sub.position.to_string();
    let mut errors = Errors::new();
    errors.add(
        "subscription",
        format!("{why}: subscribe again with \"after\": \"{position}\" to receive the rest"),
    );
    let event = Event {
        resource: sub.resource,
        kind: "unsubscribed",
        subscription: &sub.id,
        position: sub.position,
        body: Body::Errors(&errors),
    };
    let mut text = String::new();
    sub.formatter.format_event(&event, &mut text);
    sub.outbox.push_notice(&sub.id, text);
    tracing::debug!(
        subscription = &*sub.id,
        connection = sub.connection,
        why,
        "subscription ended"
    );
}

/// A subscription waiting to be added, with where its events start.
struct Join {
    feed: Box<dyn Feed>,
    connection: u64,
    from: i64,
    done: oneshot::Sender<Result<(), ApiError>>,
}

/// The subscriptions of this process, by model.
#[derive(Default)]
struct Registry {
    feeds: HashMap<TypeId, Box<dyn Feed>>,
    /// Subscriptions per connection, for the per-connection limit.
    counts: HashMap<u64, usize>,
}

impl Registry {
    fn add(&mut self, feed: Box<dyn Feed>, connection: u64) {
        *self.counts.entry(connection).or_default() += 1;
        match self.feeds.get_mut(&feed.key()) {
            Some(existing) => existing.absorb(feed),
            None => {
                self.feeds.insert(feed.key(), feed);
            }
        }
    }

    /// Counts a subscription of `connection` that ended on its own.
    fn ended(&mut self, connection: u64) {
        if let Some(count) = self.counts.get_mut(&connection) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.counts.remove(&connection);
            }
        }
    }

    fn remove(
        &mut self,
        connection: u64,
        resource: Option<&str>,
        id: Option<&str>,
    ) -> Vec<Arc<str>> {
        let mut removed = Vec::new();
        for feed in self.feeds.values_mut() {
            removed.extend(feed.remove(connection, resource, id));
        }
        self.feeds.retain(|_, feed| !feed.is_empty());
        if let Some(count) = self.counts.get_mut(&connection) {
            *count = count.saturating_sub(removed.len());
            if *count == 0 || resource.is_none() {
                self.counts.remove(&connection);
            }
        }
        removed
    }
}

/// The live-data engine of one server: shared by its connections.
#[derive(Clone)]
pub(crate) struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    registry: Mutex<Registry>,
    joins: mpsc::Sender<Join>,
    options: LiveOptions,
    /// Whether the change log is installed.
    ready: AtomicBool,
}

impl Inner {
    /// Whether no subscription is held.
    fn is_idle(&self) -> bool {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .feeds
            .values()
            .all(|feed| feed.is_empty())
    }
}

/// Installs the change log; the head position.
async fn install(db: &Database, tables: &[Captured]) -> Result<i64, DbError> {
    let tables = tables.to_vec();
    db.write(move |conn| log::install(conn, &tables)).await?;
    db.query(log::head).await
}

/// Retries [`install`] until it succeeds (the head position) or the server stops.
async fn install_eventually(
    inner: &Inner,
    tables: &[Captured],
    mut stopped: watch::Receiver<bool>,
) -> Option<i64> {
    let mut wait = Duration::from_millis(100);
    loop {
        tokio::select! {
            _ = stopped.changed() => return None,
            () = tokio::time::sleep(wait) => {}
        }
        match install(&inner.db, tables).await {
            Ok(position) => {
                inner.ready.store(true, Ordering::Release);
                tracing::info!("live data installed its change log");
                return Some(position);
            }
            Err(error) => {
                tracing::warn!(%error, "live data still cannot install its change log");
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// Installs the log and its triggers on `tables`, then starts the hub's task. A
    /// database that cannot be reached now is not an error: the task installs them once
    /// it can, and `subscribe` answers 503 until then. A statement that fails (a table
    /// that does not exist, DDL not allowed) is.
    pub(crate) async fn start(
        db: Database,
        tables: Vec<Captured>,
        options: LiveOptions,
        stopped: watch::Receiver<bool>,
    ) -> Result<Hub, DbError> {
        let installed = match install(&db, &tables).await {
            Ok(position) => Some(position),
            Err(DbError::Unavailable(reason)) => {
                tracing::warn!(%reason, "live data waits for the database to install its change log");
                None
            }
            Err(error) => return Err(error),
        };
        let (joins, receiver) = mpsc::channel(1024);
        let hub = Hub {
            inner: Arc::new(Inner {
                db,
                registry: Mutex::new(Registry::default()),
                joins,
                options,
                ready: AtomicBool::new(installed.is_some()),
            }),
        };
        let inner = hub.inner.clone();
        tokio::spawn(async move {
            let position = match installed {
                Some(position) => position,
                None => match install_eventually(&inner, &tables, stopped.clone()).await {
                    Some(position) => position,
                    None => return,
                },
            };
            run(inner, receiver, position, stopped).await;
        });
        Ok(hub)
    }

    /// Whether the change log is installed and read.
    pub(crate) fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    pub(crate) fn db(&self) -> &Database {
        &self.inner.db
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many subscriptions connection `connection` holds.
    pub(crate) fn count(&self, connection: u64) -> usize {
        self.registry()
            .counts
            .get(&connection)
            .copied()
            .unwrap_or(0)
    }

    /// Adds `subscription`, whose events are the changes after `from`: those already
    /// past are replayed from the log first. A 410 when the log no longer holds them.
    pub(crate) async fn subscribe<M: LiveModel>(
        &self,
        subscription: Subscription<M>,
        from: i64,
    ) -> Result<(), ApiError> {
        let (done, answer) = oneshot::channel();
        let join = Join {
            connection: subscription.connection,
            feed: Box::new(TableFeed::one(subscription)),
            from,
            done,
        };
        if self.inner.joins.send(join).await.is_err() {
            return Err(ApiError::new(503, "live data is stopping"));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(ApiError::new(503, "live data is stopping")))
    }

    /// Ends subscriptions of connection `connection`: of `resource`, the one named `id`
    /// when given. Returns the ids ended.
    pub(crate) fn unsubscribe(
        &self,
        connection: u64,
        resource: &str,
        id: Option<&str>,
    ) -> Vec<Arc<str>> {
        self.registry().remove(connection, Some(resource), id)
    }

    /// Drops every subscription of a connection that ended.
    pub(crate) fn disconnect(&self, connection: u64) {
        self.registry().remove(connection, None, None);
    }
}

/// The hub's task: joins, then the changes after `position`, whenever the database may
/// have new ones.
async fn run(
    inner: Arc<Inner>,
    mut joins: mpsc::Receiver<Join>,
    mut position: i64,
    mut stopped: watch::Receiver<bool>,
) {
    let mut written = inner.db.writes();
    let mut gap: Gap = None;
    let mut last_prune = tokio::time::Instant::now();
    let mut failures = 0u32;
    loop {
        // With nobody subscribed, writes do not wake the hub: it waits for a join or the
        // next pruning.
        let listening = !inner.is_idle();
        let wait = if listening {
            inner.options.poll_interval
        } else {
            inner.options.prune_interval
        };
        tokio::select! {
            biased;
            _ = stopped.changed() => return,
            join = joins.recv() => match join {
                Some(join) => {
                    // The joins waiting now, together: one read of the log brings the
                    // process up to date first, so each catch-up ends where live
                    // delivery begins.
                    let mut waiting = vec![join];
                    while waiting.len() < JOINS_AT_ONCE {
                        match joins.try_recv() {
                            Ok(join) => waiting.push(join),
                            Err(_) => break,
                        }
                    }
                    if let Err(error) = catch_up_all(&inner, &mut position, &mut gap).await {
                        tracing::warn!(%error, "reading the change log failed");
                    }
                    for join in waiting {
                        let result =
                            catch_up(&inner, join.feed, join.connection, join.from, position).await;
                        let _ = join.done.send(result);
                    }
                    continue;
                }
                None => return,
            },
            _ = written.changed(), if listening => {}
            () = tokio::time::sleep(wait) => {}
        }
        // With nobody subscribed there is nothing to deliver: the log is not read (a join
        // or the next pruning moves the position to the head).
        let idle = inner.is_idle();
        let read = if idle {
            Ok(())
        } else {
            advance(&inner, &mut position, &mut gap).await
        };
        match read {
            Ok(()) => failures = 0,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, failures, "reading the change log failed; retrying");
                let backoff = Duration::from_millis(50 << failures.min(6));
                tokio::time::sleep(backoff).await;
            }
        }
        if last_prune.elapsed() >= inner.options.prune_interval {
            last_prune = tokio::time::Instant::now();
            if idle && let Err(error) = catch_up_all(&inner, &mut position, &mut gap).await {
                tracing::warn!(%error, "reading the change log failed");
            }
            let (age, count, keep_after) = (
                inner.options.retention_age.as_secs(),
                inner.options.retention_count,
                position,
            );
            let prune = move |conn: &mut _| log::prune(conn, age, count, keep_after);
            if let Err(error) = inner.db.write(prune).await {
                tracing::warn!(%error, "pruning the change log failed");
            }
        }
    }
}

/// Brings `position` up to date: reads and delivers the changes after it, or, with
/// nobody subscribed, moves it to the head at the cost of one lookup.
async fn catch_up_all(inner: &Inner, position: &mut i64, gap: &mut Gap) -> Result<(), DbError> {
    if inner.is_idle() {
        *position = inner.db.query(log::head).await?.max(*position);
        *gap = None;
        return Ok(());
    }
    advance(inner, position, gap).await
}

/// Where delivery last stopped at a gap in the log's positions, since when, and how many
/// locked reads failed to settle it.
type Gap = Option<(i64, Instant, u32)>;

/// Reads and delivers every settled change after `position` (see [`log`]). On PostgreSQL
/// a change read after a gap (a position not visible yet: its transaction is still
/// running, or rolled back) waits. The gap fills as that transaction commits; one still
/// there a poll interval later is settled by a locked read, tried less and less often
/// while a long transaction keeps the lock from being granted.
async fn advance(inner: &Inner, position: &mut i64, gap: &mut Gap) -> Result<(), DbError> {
    let gaps_settle_themselves = inner.db.backend() == Backend::Sqlite;
    loop {
        let after = *position;
        let mut changes = inner
            .db
            .query(move |conn| log::read(conn, after, None, None, BATCH))
            .await?;
        let mut full = changes.len() as i64 == BATCH;
        let Some(first) = changes.first().map(|c| c.position) else {
            *gap = None;
            return Ok(());
        };
        if first > after + 1 {
            let pruned = inner.db.query(log::pruned).await?;
            if pruned > after {
                // Another process pruned changes this one had not delivered: say so
                // rather than skip them.
                tracing::warn!(
                    after,
                    "the change log was pruned past this process's position"
                );
                end_everything(inner, "changes were pruned before this server sent them");
                *position = pruned;
                *gap = None;
                continue;
            }
        }
        if !gaps_settle_themselves {
            let ready = changes
                .iter()
                .zip(after + 1..)
                .take_while(|(change, expected)| change.position == *expected)
                .count();
            if ready == changes.len() {
                *gap = None;
            } else {
                let stop = ready
                    .checked_sub(1)
                    .map_or(after, |last| changes[last].position);
                match *gap {
                    Some((at, since, failures)) if at == stop => {
                        let wait = inner.options.poll_interval * (1 << failures.min(5));
                        if since.elapsed() < wait {
                            changes.truncate(ready);
                        } else {
                            let settled = inner
                                .db
                                .query(move |conn| log::read_settled(conn, after, BATCH))
                                .await?;
                            match settled {
                                Some(settled) => {
                                    *gap = None;
                                    full = settled.len() as i64 == BATCH;
                                    changes = settled;
                                }
                                None => {
                                    *gap = Some((stop, Instant::now(), failures + 1));
                                    changes.truncate(ready);
                                }
                            }
                        }
                    }
                    _ => {
                        *gap = Some((stop, Instant::now(), 0));
                        changes.truncate(ready);
                    }
                }
            }
        }
        let Some(last) = changes.last().map(|c| c.position) else {
            return Ok(());
        };
        deliver(inner, &changes).await?;
        *position = last;
        if !full || gap.is_some() {
            return Ok(());
        }
    }
}

/// Ends every subscription of this process, telling each client `why`.
fn end_everything(inner: &Inner, why: &str) {
    let mut registry = inner
        .registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let ended: Vec<u64> = registry
        .feeds
        .values_mut()
        .flat_map(|feed| feed.end_all(why))
        .collect();
    for connection in ended {
        registry.ended(connection);
    }
}

/// Delivers `changes` to every feed of their tables.
async fn deliver(inner: &Inner, changes: &[Change]) -> Result<(), DbError> {
    // Which feeds have subscribers, and their tables: decided under the lock, decoded
    // without it, delivered under it again.
    let wanted: Vec<(TypeId, &'static str)> = {
        let registry = inner
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        registry
            .feeds
            .values()
            .filter(|feed| !feed.is_empty())
            .map(|feed| (feed.key(), feed.table()))
            .collect()
    };
    for (key, table) in wanted {
        let of_table: Vec<&Change> = changes
            .iter()
            .filter(|c| c.table_name == table || c.table_name.starts_with('@'))
            .collect();
        if of_table.is_empty() {
            continue;
        }
        let decoding = {
            let registry = inner
                .registry
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match registry.feeds.get(&key) {
                Some(feed) => feed.decode(&inner.db, &of_table),
                None => continue,
            }
        };
        let decoded = decoding.await?;
        let mut registry = inner
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(feed) = registry.feeds.get_mut(&key) else {
            continue;
        };
        for connection in feed.deliver(&of_table, decoded) {
            registry.ended(connection);
        }
    }
    Ok(())
}

/// Replays, for a joining feed, the changes after `from` up to `position`, then adds it.
async fn catch_up(
    inner: &Inner,
    mut feed: Box<dyn Feed>,
    connection: u64,
    from: i64,
    position: i64,
) -> Result<(), ApiError> {
    if from < position {
        let pruned = inner.db.query(log::pruned).await?;
        if pruned > from {
            return Err(ApiError::field(
                410,
                "after",
                "the change history after this position is gone: list again, then \
                 subscribe without `after`",
            ));
        }
        let tables = [feed.table().to_owned(), format!("@{}", feed.resource())];
        let mut after = from;
        while after < position {
            let tables = tables.clone();
            let changes = inner
                .db
                .query(move |conn| log::read(conn, after, Some(position), Some(&tables), BATCH))
                .await?;
            let Some(last) = changes.last().map(|c| c.position) else {
                break;
            };
            let refs: Vec<&Change> = changes.iter().collect();
            let decoded = feed.decode(&inner.db, &refs).await?;
            feed.deliver(&refs, decoded);
            after = last;
            if feed.is_empty() {
                // It ended while catching up (its client read too slowly); the notice
                // with its resume position is queued.
                return Ok(());
            }
        }
    }
    // Its changes up to `position` are delivered or did not concern it. (A connection
    // that closed meanwhile leaves nothing behind: `advance_to` drops it.)
    feed.advance_to(position);
    if feed.is_empty() {
        return Ok(());
    }
    inner
        .registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .add(feed, connection);
    Ok(())
}
