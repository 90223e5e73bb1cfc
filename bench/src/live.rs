//! The live data measurements, on the framework only: how fast an update reaches many
//! subscribers (on the writing process and on another one), how many changes per second
//! the server sifts when they match no subscription and when each matches one, what an
//! idle subscription costs in memory, and what capturing changes costs the writes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use crate::blocking;
use crate::load::{self, Rng, RunStats, Socket};
use crate::process::ServerProcess;

/// Target: p99 fan-out latency to 10,000 subscribers on one process, in milliseconds.
pub(crate) const FANOUT_P99_TARGET_MS: f64 = 100.0;

/// The number of subscribers the fan-out target is about.
pub(crate) const FANOUT_TARGET_SUBSCRIBERS: usize = 10_000;

/// Target: changes matching no subscription processed per second of server CPU.
pub(crate) const EVENTS_TARGET_PER_CORE: f64 = 50_000.0;

/// Target: RSS growth per idle subscription, in bytes.
pub(crate) const MEMORY_TARGET_BYTES: f64 = 1024.0;

/// Target: writes/s with live data on divided by writes/s with it off, at least.
pub(crate) const CAPTURE_TARGET_RATIO: f64 = 0.9;

/// The longest a measurement waits for an event before it counts the update as lost.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the events-per-second measurement waits for the server to sift the changes.
const SIFT_TIMEOUT: Duration = Duration::from_secs(300);

/// Subscribe requests a connection has answered at once while subscribing.
const CONCURRENCY: usize = 64;

/// The sizes of the live data measurements.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LiveSettings {
    /// The subscriber counts of the fan-out measurement, ascending.
    pub(crate) fanout_subscribers: Vec<usize>,
    /// Subscriptions per connection in the fan-out measurement.
    pub(crate) fanout_subscriptions_per_connection: usize,
    /// Measured updates per fan-out run (after [`LiveSettings::fanout_warmup_updates`]).
    pub(crate) fanout_updates: usize,
    /// Unmeasured updates before each fan-out run.
    pub(crate) fanout_warmup_updates: usize,
    /// One-row subscriptions (one per connection) of the events-per-second measurement.
    pub(crate) events_subscriptions: usize,
    /// Changes written matching none of them.
    pub(crate) events_non_matching_changes: usize,
    /// How many times each subscribed row is updated in the all-matching run.
    pub(crate) events_all_matching_rounds: usize,
    /// Connections of the memory measurement.
    pub(crate) memory_connections: usize,
    /// Subscriptions per connection at each step of the memory measurement, ascending.
    pub(crate) memory_subscriptions_per_connection: Vec<usize>,
    /// Measured seconds of each capture cost run.
    pub(crate) capture_duration_seconds: f64,
    /// Unmeasured seconds before each capture cost run.
    pub(crate) capture_warmup_seconds: f64,
}

impl LiveSettings {
    /// The sizes of a full or a quick run; capture runs last `duration` after `warmup`
    /// in a full run.
    pub(crate) fn new(quick: bool, duration: Duration, warmup: Duration) -> Self {
        if quick {
            Self {
                fanout_subscribers: vec![100, 500],
                fanout_subscriptions_per_connection: 10,
                fanout_updates: 20,
                fanout_warmup_updates: 2,
                events_subscriptions: 200,
                events_non_matching_changes: 10_000,
                events_all_matching_rounds: 20,
                memory_connections: 200,
                memory_subscriptions_per_connection: vec![1, 5],
                capture_duration_seconds: 0.5,
                capture_warmup_seconds: 0.1,
            }
        } else {
            Self {
                fanout_subscribers: vec![1000, 10_000],
                fanout_subscriptions_per_connection: 10,
                fanout_updates: 100,
                fanout_warmup_updates: 5,
                events_subscriptions: 1000,
                events_non_matching_changes: 100_000,
                events_all_matching_rounds: 100,
                memory_connections: 1000,
                memory_subscriptions_per_connection: vec![1, 10],
                capture_duration_seconds: duration.as_secs_f64(),
                capture_warmup_seconds: warmup.as_secs_f64(),
            }
        }
    }
}

/// How many event frames have arrived, and when the one that reached the target did.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    count: AtomicUsize,
    target: AtomicUsize,
    /// Subscriptions the server ended (`question.unsubscribed`).
    ended: AtomicUsize,
    reached_at: Mutex<Option<Instant>>,
    reached: Notify,
}

impl Tally {
    /// Starts counting from zero towards `target`.
    fn reset(&self, target: usize) {
        if let Ok(mut at) = self.reached_at.lock() {
            *at = None;
        }
        self.target.store(target, Ordering::SeqCst);
        self.count.store(0, Ordering::SeqCst);
    }

    /// Counts one event frame.
    fn event(&self, text: &str) {
        if text.contains(".unsubscribed\"") {
            self.ended.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = Instant::now();
        let count = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if count == self.target.load(Ordering::SeqCst) {
            if let Ok(mut at) = self.reached_at.lock() {
                *at = Some(now);
            }
            self.reached.notify_one();
        }
    }

    /// Waits until the count reaches the target; the time the last event arrived, or
    /// `None` after `timeout`.
    async fn wait(&self, timeout: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.reached.notified();
            if self.count.load(Ordering::SeqCst) >= self.target.load(Ordering::SeqCst) {
                return self.reached_at.lock().ok().and_then(|at| *at);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// Subscribed connections, each read by a task that counts its events; the tasks (and
/// so the connections) end when this is dropped.
struct Subscribers {
    tasks: tokio::task::JoinSet<()>,
    tally: Arc<Tally>,
    subscriptions: usize,
    connections: usize,
}

impl Subscribers {
    fn new() -> Self {
        Self {
            tasks: tokio::task::JoinSet::new(),
            tally: Arc::default(),
            subscriptions: 0,
            connections: 0,
        }
    }

    /// Opens `connections` more connections to `addr`, sends each the subscribe requests
    /// `requests(connection number)` and checks their answers, then counts their events.
    async fn add(
        &mut self,
        addr: SocketAddr,
        connections: usize,
        requests: impl Fn(usize) -> Vec<String>,
    ) -> Result<(), String> {
        let mut sockets = Vec::new();
        crate::idle::open_more(addr, &mut sockets, connections).await?;
        let first = self.connections;
        let mut batches = Vec::new();
        for (i, ws) in sockets.into_iter().enumerate() {
            batches.push((ws, requests(first + i)));
        }
        let mut subscribed = Vec::with_capacity(batches.len());
        let mut pending =
            futures_util::stream::iter(batches.into_iter().map(|(mut ws, frames)| async move {
                let n = frames.len();
                for frame in frames {
                    request(&mut ws, &frame, 200).await?;
                }
                Ok::<_, String>((ws, n))
            }))
            .buffer_unordered(CONCURRENCY);
        while let Some(result) = pending.next().await {
            subscribed.push(result?);
        }
        for (ws, n) in subscribed {
            self.subscriptions += n;
            self.connections += 1;
            self.tasks.spawn(count_events(ws, self.tally.clone()));
        }
        Ok(())
    }
}

/// Reads `ws` until it closes, counting its event frames.
async fn count_events(mut ws: Socket, tally: Arc<Tally>) {
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Text(text)) if text.starts_with("{\"event\"") => tally.event(&text),
            Ok(Message::Text(text)) if text.contains("\"event\"") => tally.event(&text),
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Sends `frame` and checks that the next frame is an answer with `status`.
async fn request(ws: &mut Socket, frame: &str, status: u16) -> Result<String, String> {
    ws.send(Message::text(frame))
        .await
        .map_err(|e| format!("cannot send `{frame}`: {e}"))?;
    let text = load::next_text(ws).await?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("the answer is not JSON ({e}): {}", load::clip(&text)))?;
    if value.get("status").and_then(serde_json::Value::as_u64) != Some(u64::from(status)) {
        return Err(format!(
            "expected status {status} to `{frame}`, got: {}",
            load::clip(&text)
        ));
    }
    Ok(text)
}

/// A subscribe request to every row of `question`.
fn subscribe_all(request_id: usize) -> String {
    format!(r#"{{"method":"question.subscribe","request_id":{request_id}}}"#)
}

/// A subscribe request to the row `id` of `question`.
fn subscribe_row(request_id: usize, id: usize) -> String {
    format!(r#"{{"method":"question.subscribe","request_id":{request_id},"id":{id}}}"#)
}

/// One fan-out run: updates through one process, subscribers on one.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FanoutRun {
    /// Subscriptions receiving each update.
    pub(crate) subscribers: usize,
    /// The connections they are on.
    pub(crate) connections: usize,
    /// 1: the writes go through the subscribers' server; 2: through another server
    /// process on the same database.
    pub(crate) processes: u8,
    /// Measured updates whose event every subscriber received.
    pub(crate) updates: usize,
    /// From the update's answer to the last subscriber's event, in milliseconds
    /// (0 when every event arrived before the answer).
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// From sending the update to the last subscriber's event, in milliseconds.
    pub(crate) p50_from_send_ms: f64,
    pub(crate) p99_from_send_ms: f64,
    /// The subscribers' server process's CPU time per update (warm-up included), in
    /// milliseconds.
    pub(crate) server_cpu_ms_per_update: Option<f64>,
    /// The load generator's CPU time per update (reading every event frame), in
    /// milliseconds.
    pub(crate) generator_cpu_ms_per_update: Option<f64>,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Updates row `row` through `writer` `warmup + updates` times, one at a time, each once
/// every subscriber has the previous one, with a random pause of up to 20 ms before each
/// (so a poll of another process is met at any phase).
async fn fanout(
    writer: SocketAddr,
    server_pid: u32,
    subscribers: &Subscribers,
    processes: u8,
    row: i32,
    settings: &LiveSettings,
    seed: u64,
) -> FanoutRun {
    let mut from_answer = Vec::new();
    let mut from_send = Vec::new();
    let cpu = |pid: u32| crate::system::cpu_seconds(pid).ok();
    let server_before = cpu(server_pid);
    let generator_before = cpu(std::process::id());
    let error = fanout_updates(
        writer,
        subscribers,
        row,
        settings,
        seed,
        &mut from_answer,
        &mut from_send,
    )
    .await
    .err();
    let all = (settings.fanout_warmup_updates + settings.fanout_updates) as f64;
    let per_update = |before: Option<f64>, pid: u32| {
        before
            .zip(cpu(pid))
            .filter(|_| error.is_none())
            .map(|(before, after)| (after - before) * 1000.0 / all)
    };
    let server_cpu_ms_per_update = per_update(server_before, server_pid);
    let generator_cpu_ms_per_update = per_update(generator_before, std::process::id());
    from_answer.sort_unstable();
    from_send.sort_unstable();
    let ms = |sorted: &[u64], p: f64| load::percentile(sorted, p) as f64 / 1e6;
    FanoutRun {
        subscribers: subscribers.subscriptions,
        connections: subscribers.connections,
        processes,
        updates: from_answer.len(),
        p50_ms: ms(&from_answer, 50.0),
        p99_ms: ms(&from_answer, 99.0),
        max_ms: ms(&from_answer, 100.0),
        p50_from_send_ms: ms(&from_send, 50.0),
        p99_from_send_ms: ms(&from_send, 99.0),
        server_cpu_ms_per_update,
        generator_cpu_ms_per_update,
        error,
    }
}

/// The updates of [`fanout`]; pushes each measured latency, in nanoseconds.
async fn fanout_updates(
    writer: SocketAddr,
    subscribers: &Subscribers,
    row: i32,
    settings: &LiveSettings,
    seed: u64,
    from_answer: &mut Vec<u64>,
    from_send: &mut Vec<u64>,
) -> Result<(), String> {
    let mut ws = load::connect(writer, None).await?;
    let mut rng = Rng::new(seed);
    let tally = &subscribers.tally;
    let total = settings.fanout_warmup_updates + settings.fanout_updates;
    for k in 0..total {
        tally.reset(subscribers.subscriptions);
        tokio::time::sleep(Duration::from_micros(rng.below(20_000))).await;
        let frame = format!(
            r#"{{"method":"question.patch","request_id":{k},"id":{row},"question_text":"Fan-out {seed}-{k}"}}"#
        );
        let sent = Instant::now();
        request(&mut ws, &frame, 200).await?;
        let answered = Instant::now();
        let Some(last) = tally.wait(EVENT_TIMEOUT).await else {
            return Err(format!(
                "update {k}: {} of {} subscribers had the event after {} s ({} subscriptions \
                 ended by the server)",
                tally.count(),
                subscribers.subscriptions,
                EVENT_TIMEOUT.as_secs(),
                tally.ended.load(Ordering::Relaxed)
            ));
        };
        if k >= settings.fanout_warmup_updates {
            from_answer.push(last.saturating_duration_since(answered).as_nanos() as u64);
            from_send.push(last.saturating_duration_since(sent).as_nanos() as u64);
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    Ok(())
}

/// The fan-out runs on a fresh database: subscribers to every row of `question` on one
/// server process, updates through it and through a second process on the same
/// database, for each subscriber count.
pub(crate) async fn measure_fanout(
    db_url: &str,
    cpu: Option<usize>,
    settings: &LiveSettings,
    progress: impl Fn(&FanoutRun),
) -> Result<Vec<FanoutRun>, String> {
    let kind = crate::cli::ServerKind::Framework;
    let mut server = ServerProcess::start(kind, Some(db_url), cpu)?;
    let url = db_url.to_owned();
    let ids = blocking(move || crate::db::seed(&url, 100)).await?;
    let row = ids[ids.len() / 2];
    // The second process starts once the first has created the change log.
    let mut other = ServerProcess::start(kind, Some(db_url), cpu)?;
    let per = settings.fanout_subscriptions_per_connection.max(1);
    let mut subscribers = Subscribers::new();
    let mut runs = Vec::new();
    for (i, &count) in settings.fanout_subscribers.iter().enumerate() {
        let connections = count.div_ceil(per);
        let more = connections.saturating_sub(subscribers.connections);
        subscribers
            .add(server.addr(), more, |_| {
                (1..=per).map(subscribe_all).collect()
            })
            .await?;
        for (processes, writer) in [(1u8, server.addr()), (2u8, other.addr())] {
            server.check_alive()?;
            other.check_alive()?;
            let seed = ((i as u64) << 8) | u64::from(processes);
            let run = fanout(
                writer,
                server.pid(),
                &subscribers,
                processes,
                row,
                settings,
                seed,
            )
            .await;
            progress(&run);
            runs.push(run);
        }
    }
    server.check_alive()?;
    other.check_alive()?;
    Ok(runs)
}

/// One events-per-second run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventsRun {
    /// Changes written (in one transaction, by a direct connection).
    pub(crate) changes: usize,
    /// Events the subscribers received from them.
    pub(crate) events: usize,
    /// How long writing them took, in seconds.
    pub(crate) write_seconds: f64,
    /// From their commit to the server's last event, in seconds.
    pub(crate) seconds: f64,
    /// The server's CPU time in that window, in seconds.
    pub(crate) server_cpu_seconds: f64,
    /// Changes per second of the window.
    pub(crate) changes_per_sec: f64,
    /// Changes per second of server CPU: per core.
    pub(crate) changes_per_cpu_sec: f64,
}

/// Both events-per-second runs of one server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventsResult {
    /// One-row subscriptions, one per connection, to rows the first run does not change.
    pub(crate) subscriptions: usize,
    /// Every change is of a row no subscription is to.
    pub(crate) non_matching: EventsRun,
    /// Every change is of a row one subscription is to.
    pub(crate) all_matching: EventsRun,
}

/// The events-per-second runs on a fresh database: the table holds the subscribed rows
/// (ids 1 to S), a sentinel row (S + 1) another connection subscribes to, and the rows
/// the non-matching run changes. Each run writes its changes in one transaction through
/// a direct connection (the triggers capture them like any write), then updates the
/// sentinel row; the window runs from the commit to the last event.
pub(crate) async fn measure_events(
    db_url: &str,
    cpu: Option<usize>,
    settings: &LiveSettings,
) -> Result<EventsResult, String> {
    let subscribed = settings.events_subscriptions.max(1);
    let sentinel = subscribed + 1;
    let changes = settings.events_non_matching_changes.max(1);
    let mut server = ServerProcess::start(crate::cli::ServerKind::Framework, Some(db_url), cpu)?;
    let url = db_url.to_owned();
    let rows = sentinel + changes;
    blocking(move || crate::db::fill(&url, rows)).await?;
    // A subscription is answered once the server has read the log to its end: the
    // filling's changes are behind it when the first answer arrives.
    let mut rows_subs = Subscribers::new();
    rows_subs
        .add(server.addr(), subscribed, |i| vec![subscribe_row(1, i + 1)])
        .await?;
    let mut sentinel_subs = Subscribers::new();
    sentinel_subs
        .add(server.addr(), 1, |_| vec![subscribe_row(1, sentinel)])
        .await?;
    server.check_alive()?;

    let non_matching_sql =
        format!("UPDATE questions SET question_text = 'Sifted ' || id WHERE id > {sentinel}");
    let non_matching = sift(
        &mut server,
        db_url,
        non_matching_sql,
        changes,
        0,
        (&rows_subs, &sentinel_subs),
        1,
    )
    .await?;
    let rounds = settings.events_all_matching_rounds.max(1);
    let mut all_matching_sql = String::from("BEGIN;\n");
    for round in 0..rounds {
        all_matching_sql.push_str(&format!(
            "UPDATE questions SET question_text = 'Matched {round} ' || id \
             WHERE id <= {subscribed};\n"
        ));
    }
    all_matching_sql.push_str("COMMIT;");
    let all_matching = sift(
        &mut server,
        db_url,
        all_matching_sql,
        subscribed * rounds,
        subscribed * rounds,
        (&rows_subs, &sentinel_subs),
        2,
    )
    .await?;
    server.check_alive()?;
    Ok(EventsResult {
        subscriptions: subscribed,
        non_matching,
        all_matching,
    })
}

/// Writes `sql` (`changes` changes, `events` of them subscribed to), then updates the
/// sentinel row, and times the server until the subscribers have every event.
async fn sift(
    server: &mut ServerProcess,
    db_url: &str,
    sql: String,
    changes: usize,
    events: usize,
    (rows, sentinel): (&Subscribers, &Subscribers),
    run: usize,
) -> Result<EventsRun, String> {
    rows.tally.reset(events.max(1));
    sentinel.tally.reset(1);
    let url = db_url.to_owned();
    let writing = Instant::now();
    blocking(move || crate::db::execute(&url, &sql)).await?;
    let start = Instant::now();
    let write_seconds = start.duration_since(writing).as_secs_f64();
    let cpu_before = crate::system::cpu_seconds(server.pid())?;
    let url = db_url.to_owned();
    let mark = sentinel_sql(rows.subscriptions + 1, run);
    blocking(move || crate::db::execute(&url, &mark)).await?;
    let Some(mut end) = sentinel.tally.wait(SIFT_TIMEOUT).await else {
        return Err(format!(
            "the server did not deliver the sentinel event within {} s",
            SIFT_TIMEOUT.as_secs()
        ));
    };
    if events > 0 {
        match rows.tally.wait(EVENT_TIMEOUT).await {
            Some(last) => end = end.max(last),
            None => {
                return Err(format!(
                    "the subscribers received {} of {events} events ({} subscriptions ended \
                     by the server)",
                    rows.tally.count(),
                    rows.tally.ended.load(Ordering::Relaxed)
                ));
            }
        }
    }
    let cpu_after = crate::system::cpu_seconds(server.pid())?;
    server.check_alive()?;
    let seconds = end.saturating_duration_since(start).as_secs_f64();
    let cpu = cpu_after - cpu_before;
    let received = if events > 0 { rows.tally.count() } else { 0 };
    Ok(EventsRun {
        changes,
        events: received,
        write_seconds,
        seconds,
        server_cpu_seconds: cpu,
        changes_per_sec: crate::report::ratio(changes as f64, seconds),
        changes_per_cpu_sec: crate::report::ratio(changes as f64, cpu),
    })
}

/// The update of the sentinel row `id` that closes run `run`.
fn sentinel_sql(id: usize, run: usize) -> String {
    format!("UPDATE questions SET question_text = 'Sentinel {run}' WHERE id = {id}")
}

/// RSS growth per idle subscription at one step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SubscriptionStep {
    /// Subscriptions per connection.
    pub(crate) per_connection: usize,
    /// Subscriptions in all.
    pub(crate) subscriptions: usize,
    /// The server's RSS, in bytes.
    pub(crate) rss_bytes: u64,
    /// (RSS - RSS with the connections and no subscription) / subscriptions.
    pub(crate) bytes_per_subscription: f64,
    /// Whether the RSS stopped moving before the wait ran out.
    pub(crate) settled: bool,
}

/// The memory of idle subscriptions.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SubscriptionMemory {
    /// Idle connections, open throughout.
    pub(crate) connections: usize,
    /// The server's RSS with them open and no subscription, in bytes.
    pub(crate) rss_connections_bytes: u64,
    /// RSS growth per connection opened, for scale.
    pub(crate) bytes_per_connection: f64,
    pub(crate) steps: Vec<SubscriptionStep>,
}

/// Opens idle connections to a fresh server, then subscribes each to one row, step by
/// step, reading the RSS once it settles after each.
pub(crate) async fn measure_memory(
    db_url: &str,
    cpu: Option<usize>,
    settings: &LiveSettings,
    settle: Duration,
) -> Result<SubscriptionMemory, String> {
    let mut server = ServerProcess::start(crate::cli::ServerKind::Framework, Some(db_url), cpu)?;
    let url = db_url.to_owned();
    let ids = blocking(move || crate::db::seed(&url, 1000)).await?;
    // A first subscription, kept open, so the server's live data machinery is warm.
    let mut warm = load::connect(server.addr(), None).await?;
    request(&mut warm, &subscribe_all(1), 200).await?;
    let (rss_empty, _) = crate::idle::settle(&mut server, settle).await?;
    let mut sockets = Vec::new();
    let connections = settings.memory_connections.max(1);
    crate::idle::open_more(server.addr(), &mut sockets, connections).await?;
    let (rss_connections, _) = crate::idle::settle(&mut server, settle).await?;
    let mut steps = Vec::new();
    let mut have = 0;
    for &per in &settings.memory_subscriptions_per_connection {
        let mut pending =
            futures_util::stream::iter(sockets.iter_mut().enumerate().map(|(c, ws)| {
                let ids = &ids;
                async move {
                    for s in have..per {
                        let id = ids[(c * 7 + s) % ids.len()] as usize;
                        request(ws, &subscribe_row(s + 1, id), 200).await?;
                    }
                    Ok::<(), String>(())
                }
            }))
            .buffer_unordered(CONCURRENCY);
        while let Some(result) = pending.next().await {
            result?;
        }
        drop(pending);
        have = per;
        let (rss, settled) = crate::idle::settle(&mut server, settle).await?;
        let subscriptions = per * connections;
        steps.push(SubscriptionStep {
            per_connection: per,
            subscriptions,
            rss_bytes: rss,
            bytes_per_subscription: (rss as f64 - rss_connections as f64) / subscriptions as f64,
            settled,
        });
    }
    server.check_alive()?;
    drop(sockets);
    drop(warm);
    Ok(SubscriptionMemory {
        connections,
        rss_connections_bytes: rss_connections,
        bytes_per_connection: (rss_connections as f64 - rss_empty as f64) / connections as f64,
        steps,
    })
}

/// One workload with live data on and off.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaptureResult {
    pub(crate) workload: load::Workload,
    /// The median round of the server with live data (triggers installed).
    pub(crate) live_on: RunStats,
    /// The median round of the server without (`serve --no-live`).
    pub(crate) live_off: RunStats,
    /// Live on / live off requests per second of the median rounds.
    pub(crate) ratio: f64,
    /// The ratio of each round on its own.
    pub(crate) round_ratios: Vec<f64>,
    pub(crate) live_on_rounds: Vec<RunStats>,
    pub(crate) live_off_rounds: Vec<RunStats>,
}

impl CaptureResult {
    /// The result of `workload` from each server's rounds.
    pub(crate) fn new(
        workload: load::Workload,
        on_rounds: Vec<RunStats>,
        off_rounds: Vec<RunStats>,
    ) -> Self {
        let on = crate::report::median_round(&on_rounds);
        let off = crate::report::median_round(&off_rounds);
        Self {
            workload,
            ratio: crate::report::ratio(on.requests_per_sec, off.requests_per_sec),
            round_ratios: on_rounds
                .iter()
                .zip(&off_rounds)
                .map(|(a, b)| crate::report::ratio(a.requests_per_sec, b.requests_per_sec))
                .collect(),
            live_on: on,
            live_off: off,
            live_on_rounds: on_rounds,
            live_off_rounds: off_rounds,
        }
    }
}

/// Everything live data measured on one backend.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LiveResults {
    pub(crate) settings: LiveSettings,
    pub(crate) fanout: Vec<FanoutRun>,
    pub(crate) events: EventsResult,
    pub(crate) memory: SubscriptionMemory,
    pub(crate) capture: Vec<CaptureResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_notes_when_the_target_is_reached() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tally = Tally::default();
        tally.reset(2);
        tally.event(r#"{"event":"question.updated"}"#);
        tally.event(r#"{"event":"question.unsubscribed"}"#);
        assert_eq!(tally.count(), 1);
        assert!(
            runtime
                .block_on(tally.wait(Duration::from_millis(10)))
                .is_none()
        );
        tally.event(r#"{"event":"question.updated"}"#);
        assert!(runtime.block_on(tally.wait(Duration::ZERO)).is_some());
        assert_eq!(tally.ended.load(Ordering::Relaxed), 1);
        tally.reset(1);
        assert_eq!(tally.count(), 0);
    }

    #[test]
    fn requests_are_json() {
        for frame in [subscribe_all(3), subscribe_row(4, 7), sentinel_sql(1, 1)] {
            if frame.starts_with('{') {
                let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
                assert_eq!(value["method"], "question.subscribe");
            }
        }
        assert!(sentinel_sql(1001, 2).ends_with("WHERE id = 1001"));
    }

    #[test]
    fn quick_settings_are_smaller() {
        let quick = LiveSettings::new(true, Duration::from_secs(1), Duration::ZERO);
        let full = LiveSettings::new(false, Duration::from_secs(10), Duration::from_secs(1));
        assert!(quick.fanout_subscribers.iter().max() < full.fanout_subscribers.iter().max());
        assert_eq!(full.fanout_subscribers, [1000, FANOUT_TARGET_SUBSCRIBERS]);
        assert!(quick.events_non_matching_changes < full.events_non_matching_changes);
        assert_eq!(full.capture_duration_seconds, 10.0);
    }
}
