//! The database executor: threads that each own one connection, fed by bounded queues, each
//! call answered through a oneshot channel.
//!
//! Handing a query to a thread that already waits for work, and getting the answer back,
//! costs two wake-ups. Running it through tokio's blocking pool with a pooled connection
//! costs more: the pool's mutex and condition variable, the pool of connections' own
//! lock, and threads parked and woken on both sides. The threads here are started once and
//! keep their connection for as long as it works.
//!
//! Threads are grouped in lanes. A call goes to the first idle thread of its lane, in a
//! fixed order, so a light load stays on one warm thread; when every thread is busy, to
//! the lane's backlog, which the first thread to finish takes from, so no thread waits
//! while calls are queued and a slow query holds up no call but its own.
//!
//! On an SQLite file the framework's own reads ([`Route::Query`]) prefer the writer's
//! lane: every write leaves the page cache of every other connection stale, so a read on
//! a reader after a write fetches again each page it touches, while the writer's cache
//! stays current ([`Executor::spills_to`] says when such a read goes to a reader).
//!
//! On an SQLite file the executor also checkpoints the write-ahead log. SQLite's automatic
//! checkpoint runs only when a statement of the writing connection steps to its end, which
//! a write that returns its row (`INSERT … RETURNING` read with `get_result`) never does:
//! left to SQLite, a server whose writes all return their rows grows its log without
//! bound. So every [`CHECKPOINT_EVERY`] write calls a reader thread copies the log into the
//! database (a passive checkpoint: it waits for nobody, and its disk writes and `fsync`
//! stay off the writer), which also keeps reads fast, since a read searches only the part
//! of the log not yet copied. A checkpoint run while writes go on never copies the very
//! end, and the log starts over only once all of it is copied; so every
//! [`RESTART_EVERY`] calls the writer itself checkpoints, between two writes, copying the
//! little the readers left, and its next write starts the log over.

use std::any::TypeId;
use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::result::Error as DieselError;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot};

use super::{DbConnection, DbError, Target, is_broken, is_connection_lost, open};

/// A writer whose current call started longer ago than this counts as stalled: the
/// framework's reads go to the readers meanwhile.
const STALLED: Duration = Duration::from_millis(2);

/// A kind of read of the framework's own that took this long or more of late runs on a
/// reader of SQLite, never on the writer, where it would hold up the writes queued behind
/// it (a page by number of a large table takes tens of milliseconds).
const LONG_READ: Duration = Duration::from_millis(1);

/// On an SQLite file, the write calls between two checkpoints of the write-ahead log by a
/// reader thread. A write changes a few pages, so this keeps the part of the log not yet
/// copied near SQLite's own threshold of 1,000 pages.
pub(super) const CHECKPOINT_EVERY: u64 = 256;

/// On an SQLite file, the writer's calls between two checkpoints of its own, after which
/// the log starts over: the log's size on disk stays within what this many writes add.
/// Each such checkpoint holds the writer for its `fsync`s; this rarely, they stay out of
/// the 99th percentile of writes' latency.
pub(super) const RESTART_EVERY: u64 = 4096;

/// One call, as a worker thread runs it.
type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// Calls waiting for the first thread of a lane to finish.
type Backlog = Arc<Mutex<VecDeque<Job>>>;

/// Where a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// A read-only call: a reader thread when the lanes are split.
    Read,
    /// A call that may write: the writer lane.
    Write,
    /// A read of the framework's own, known never to write: on SQLite the writer's thread
    /// unless a reader can take it as cheaply ([`Executor::spills_to`]).
    Query,
}

/// The threads of one [`Database`](super::Database) and the queues that feed them.
pub(super) struct Executor {
    writer: Lane,
    /// `None` when reads share the writer's lane.
    readers: Option<Lane>,
    exits: Arc<Exits>,
    /// Write calls so far, on an SQLite file (whose readers checkpoint the log); `None`
    /// elsewhere.
    writes: Option<AtomicU64>,
    /// Whether a reader's checkpoint is queued or running.
    checkpointing: Arc<AtomicBool>,
}

/// How many worker threads are still running, and a way to wait until none is.
#[derive(Debug, Default)]
pub(super) struct Exits {
    live: AtomicUsize,
    notify: Notify,
}

impl Exits {
    /// Waits until every worker thread has exited.
    pub(super) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.live.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Marks a worker thread as exited when it ends, however it ends.
struct ExitGuard(Arc<Exits>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
        self.0.notify.notify_waiters();
    }
}

/// What the worker threads of one database share.
#[derive(Debug)]
struct Shared {
    target: Target,
    /// How long a call may wait for a thread before it fails with 503.
    wait: Duration,
    /// PostgreSQL's `statement_timeout` on every connection.
    statement_timeout: Duration,
    /// Write calls finished, which tells a reader whose page cache a write made stale.
    written: AtomicU64,
    /// How long the framework's reads took of late, per kind ([`Costs`]).
    costs: Costs,
    /// Counts lost connections: a connection opened before the latest loss is replaced
    /// before its next use, since it most likely went down with the others.
    losses: AtomicU64,
    /// The origin of the threads' clocks.
    epoch: Instant,
}

impl Shared {
    /// Microseconds since `epoch`, plus one so that zero can mean "idle".
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64 + 1
    }
}

/// A group of threads that serve the same calls.
struct Lane {
    workers: Box<[Worker]>,
    /// One permit per call queued or running: the queue's bound.
    permits: Arc<Semaphore>,
    shared: Arc<Shared>,
    /// Whether an idle thread whose page cache no write has made stale comes before the
    /// others: SQLite's readers.
    fresh_first: bool,
    /// In a lane of several threads, the calls none was idle for, taken by the first to
    /// finish.
    backlog: Option<Backlog>,
}

/// The sending side of one worker thread.
struct Worker {
    queue: SyncSender<Job>,
    load: Arc<Load>,
}

/// What the dispatcher knows of a worker thread.
#[derive(Debug, Default)]
struct Load {
    /// Calls queued or running on the thread.
    pending: AtomicUsize,
    /// When the running call started ([`Shared::now`]), or 0 when idle.
    started: AtomicU64,
    /// [`Shared::writes`] when the thread's latest call started: a reader's page cache is
    /// current while no write has finished since.
    seen: AtomicU64,
}

impl Load {
    /// Whether the running call started more than [`STALLED`] ago.
    fn stalled(&self, shared: &Shared) -> bool {
        let started = self.started.load(Ordering::Acquire);
        started != 0 && started + (STALLED.as_micros() as u64) < shared.now()
    }

    /// Whether the thread is idle with a page cache no write has made stale.
    fn fresh_idle(&self, writes: u64) -> bool {
        self.pending.load(Ordering::Acquire) == 0 && self.seen.load(Ordering::Acquire) == writes
    }
}

/// The settings an [`Executor`] starts with.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) target: Target,
    pub(super) writers: usize,
    /// Reader threads; 0 sends reads to the writers.
    pub(super) readers: usize,
    pub(super) queue_capacity: usize,
    pub(super) wait: Duration,
    pub(super) statement_timeout: Duration,
}

impl Executor {
    /// Starts the worker threads. Connections are opened on first use.
    pub(super) fn start(plan: Plan) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            target: plan.target,
            wait: plan.wait,
            statement_timeout: plan.statement_timeout,
            written: AtomicU64::new(0),
            costs: Costs::default(),
            losses: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let exits = Arc::new(Exits::default());
        let capacity = plan.queue_capacity.max(1);
        let writer = Lane::start(&shared, &exits, "w", plan.writers.max(1), false, capacity)?;
        let readers = match plan.readers {
            0 => None,
            n => Some(Lane::start(&shared, &exits, "r", n, true, capacity)?),
        };
        let checkpoints = readers.is_some() && matches!(shared.target, Target::SqliteFile(_));
        Ok(Self {
            writer,
            readers,
            exits,
            writes: checkpoints.then(|| AtomicU64::new(0)),
            checkpointing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The threads' exit count, to wait on after the executor is dropped.
    pub(super) fn exits(&self) -> Arc<Exits> {
        self.exits.clone()
    }

    /// How many threads serve writes and reads.
    pub(super) fn threads(&self) -> (usize, usize) {
        let writers = self.writer.workers.len();
        let readers = self.readers.as_ref().map_or(0, |lane| lane.workers.len());
        (writers, readers)
    }

    /// Free places in the writer lane's queue.
    #[cfg(test)]
    pub(super) fn writer_available(&self) -> usize {
        self.writer.permits.available_permits()
    }

    /// Whether the writer thread has finished every call it was given.
    #[cfg(test)]
    pub(super) fn writer_idle(&self) -> bool {
        self.writer.workers[0].load.pending.load(Ordering::Acquire) == 0
    }

    /// Runs `call` with a connection on a thread of `route`'s lane, and returns its result.
    pub(super) async fn submit<T, F>(&self, route: Route, call: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DieselError> + Send + 'static,
        T: Send + 'static,
    {
        // The framework's reads are told apart by the closure's type: one per call site
        // and model.
        let kind = (route == Route::Query && self.readers.is_some())
            .then(|| Costs::slot(TypeId::of::<F>()));
        let lane = match (route, &self.readers, kind) {
            (Route::Read, Some(readers), _) => readers,
            (Route::Query, Some(readers), Some(kind)) if self.spills_to(readers, kind) => readers,
            _ => &self.writer,
        };
        if route == Route::Write {
            self.count_write();
        }
        let permit = lane.permit().await?;
        let (answer, answered) = oneshot::channel();
        let queued = Instant::now();
        let job: Job = Box::new(move |session: &mut Session| {
            let _permit = permit;
            // Nobody waits for the answer any more: skip the work.
            if answer.is_closed() {
                return;
            }
            let started = kind.map(|kind| (kind, Instant::now()));
            let result = session.execute(queued, call);
            if route == Route::Write {
                session.shared.written.fetch_add(1, Ordering::AcqRel);
            } else if let Some((kind, started)) = started {
                session.shared.costs.record(kind, started.elapsed());
            }
            let _ = answer.send(result);
        });
        lane.dispatch(job)?;
        answered
            .await
            .map_err(|_| DbError::Unavailable("the database thread stopped".into()))?
    }

    /// Whether a read of the framework's own goes to a reader rather than the writer.
    ///
    /// Every write leaves the page cache of every other SQLite connection stale: the next
    /// read on a reader reads each page it touches again from the file, while the writer's
    /// own cache stays valid (measured on the benchmark's mixed load: 10 `pread`s per
    /// request with the reads on the readers, 0.04 with them on the writer, which also
    /// cut the CPU per request by a third). So such a read goes to a reader only when one
    /// is idle with a cache no write has made stale since its last call (under reads
    /// alone, that spreads reads over the cores), or when the writer is busy with a call
    /// that has run for long; otherwise it waits for the writer, which, having the cache,
    /// is the quickest way through even behind a queue. A kind of read that took
    /// [`LONG_READ`] or more of late always goes to a reader, so that writes never queue
    /// behind it.
    fn spills_to(&self, readers: &Lane, kind: usize) -> bool {
        if self.writer.shared.costs.estimate(kind) >= LONG_READ {
            return true;
        }
        let writer = &self.writer.workers[0].load;
        if writer.pending.load(Ordering::Acquire) == 0 {
            return false;
        }
        let writes = self.writer.shared.written.load(Ordering::Acquire);
        readers
            .workers
            .iter()
            .any(|worker| worker.load.fresh_idle(writes))
            || writer.stalled(&self.writer.shared)
    }

    /// Counts a write call and, every [`CHECKPOINT_EVERY`] of them, queues a checkpoint of
    /// the SQLite log on a reader thread, unless one is still pending.
    fn count_write(&self) {
        let (Some(writes), Some(readers)) = (&self.writes, &self.readers) else {
            return;
        };
        let n = writes.fetch_add(1, Ordering::Relaxed) + 1;
        if n % CHECKPOINT_EVERY != 0 || self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        // Clears the flag however the job ends, run or dropped unrun.
        let pending = Pending(self.checkpointing.clone());
        // With the queue full this checkpoint is skipped; the next one copies what it left.
        let Ok(permit) = readers.permits.clone().try_acquire_owned() else {
            return;
        };
        let job: Job = Box::new(move |session: &mut Session| {
            let _permit = permit;
            let _pending = pending;
            session.checkpoint();
        });
        // A job that cannot be queued is dropped, which clears the flag.
        let _ = readers.dispatch(job);
    }
}

/// How long each kind of the framework's reads took of late: a moving average in
/// microseconds per slot, the kinds hashed into a few slots (two kinds that share one only
/// share an estimate).
#[derive(Debug, Default)]
struct Costs([AtomicU64; 32]);

impl Costs {
    /// The slot of a kind of read.
    fn slot(kind: TypeId) -> usize {
        let mut hasher = DefaultHasher::new();
        kind.hash(&mut hasher);
        (hasher.finish() % 32) as usize
    }

    /// The kind's estimated run time.
    fn estimate(&self, slot: usize) -> Duration {
        Duration::from_micros(self.0[slot].load(Ordering::Relaxed))
    }

    /// Folds one run time into the kind's estimate, a quarter of the way.
    fn record(&self, slot: usize, took: Duration) {
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let cell = &self.0[slot];
        let old = cell.load(Ordering::Relaxed);
        cell.store(old - old / 4 + took / 4, Ordering::Relaxed);
    }
}

/// Clears a pending flag when dropped.
struct Pending(Arc<AtomicBool>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Lane {
    fn start(
        shared: &Arc<Shared>,
        exits: &Arc<Exits>,
        kind: &str,
        threads: usize,
        read_only: bool,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let mut workers = Vec::with_capacity(threads);
        let backlog: Option<Backlog> = (threads > 1).then(Backlog::default);
        for i in 0..threads {
            // Every queue can hold every permit, so sending never blocks.
            let (queue, jobs) = sync_channel(capacity);
            let load = Arc::new(Load::default());
            let checkpoints = !read_only && matches!(shared.target, Target::SqliteFile(_));
            let session = Session {
                shared: shared.clone(),
                read_only,
                conn: None,
                calls: 0,
                checkpoints,
            };
            exits.live.fetch_add(1, Ordering::AcqRel);
            let guard = ExitGuard(exits.clone());
            let thread_load = load.clone();
            let in_process = !matches!(shared.target, Target::Postgres(_));
            std::thread::Builder::new()
                .name(format!("channels-api-db-{kind}{i}"))
                .spawn({
                    let backlog = backlog.clone();
                    move || {
                        if in_process {
                            run_as_batch();
                        }
                        work(jobs, session, thread_load, backlog, guard)
                    }
                })?;
            workers.push(Worker { queue, load });
        }
        Ok(Self {
            workers: workers.into_boxed_slice(),
            permits: Arc::new(Semaphore::new(capacity)),
            shared: shared.clone(),
            fresh_first: read_only,
            backlog,
        })
    }

    /// A place in the queue, waiting for one up to the connection timeout.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, DbError> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(TryAcquireError::NoPermits) => {
                tokio::time::timeout(self.shared.wait, self.permits.clone().acquire_owned())
                    .await
                    .map_err(|_| DbError::Unavailable("the database queue is full".into()))?
                    .map_err(|_| DbError::Unavailable("the database is closed".into()))
            }
            Err(TryAcquireError::Closed) => {
                Err(DbError::Unavailable("the database is closed".into()))
            }
        }
    }

    /// Hands `job` to the lane's thread when it has one; else to an idle thread
    /// ([`Lane::idle`]) or, with none idle, to the backlog that the first thread to finish
    /// takes from: no thread waits while another has calls queued, and a thread stalled on
    /// a long call holds up no call but its own.
    fn dispatch(&self, job: Job) -> Result<(), DbError> {
        let worker = match &self.backlog {
            None => {
                let only = &self.workers[0];
                only.load.pending.fetch_add(1, Ordering::AcqRel);
                only
            }
            Some(backlog) => {
                let mut backlog = backlog.lock().unwrap_or_else(|e| e.into_inner());
                let Some(worker) = self.idle() else {
                    backlog.push_back(job);
                    return Ok(());
                };
                // Claimed under the lock, under which a thread also counts itself idle.
                worker.load.pending.fetch_add(1, Ordering::AcqRel);
                worker
            }
        };
        match worker.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                worker.load.pending.fetch_sub(1, Ordering::AcqRel);
                Err(DbError::Unavailable(
                    "the database thread cannot take work".into(),
                ))
            }
        }
    }

    /// The first idle thread, in a fixed order so that a light load stays on one warm
    /// thread; in a lane that prefers them, the first idle one whose page cache no write
    /// has made stale, if any.
    fn idle(&self) -> Option<&Worker> {
        let writes = self.shared.written.load(Ordering::Acquire);
        let mut idle = None;
        for worker in self.workers.iter() {
            if worker.load.pending.load(Ordering::Acquire) != 0 {
                continue;
            }
            if !self.fresh_first || worker.load.seen.load(Ordering::Acquire) == writes {
                return Some(worker);
            }
            idle.get_or_insert(worker);
        }
        idle
    }
}

/// Puts the calling thread under Linux's `SCHED_BATCH` policy: it gets the same share of
/// the processor, but waking it never preempts the thread that woke it.
///
/// For SQLite, whose queries run on the database thread itself. Where a database thread
/// shares a core with the runtime's, handing it a call would otherwise switch to it at
/// once, and back for the answer, twice a call; as batch work it waits for the runtime's
/// thread to run out of work or time, then runs every call queued meanwhile in a row
/// (the benchmark's retrieve on one core: 0.17 context switches per request instead of
/// 1.9). Not for PostgreSQL, where the thread mostly waits for the server's answer and
/// should take it as soon as it comes (measured slower as batch work).
///
/// The thread's nice value is set to 0 by the same call: a server started with a higher
/// one, lacking the right to lower it, keeps it (the error is only logged).
#[cfg(target_os = "linux")]
fn run_as_batch() {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityOsValue};
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    let nice_zero = ThreadPriority::Os(ThreadPriorityOsValue::default());
    if let Err(error) = set_thread_priority_and_policy(thread_native_id(), nice_zero, policy) {
        tracing::debug!(
            ?error,
            "database thread: scheduling not set as batch work at nice 0"
        );
    }
}

/// Elsewhere the scheduler is left as it is.
#[cfg(not(target_os = "linux"))]
fn run_as_batch() {}

/// A worker thread: runs queued calls until every sender is gone and the queue is empty.
fn work(
    jobs: Receiver<Job>,
    mut session: Session,
    load: Arc<Load>,
    backlog: Option<Backlog>,
    _exit: ExitGuard,
) {
    while let Ok(mut job) = jobs.recv() {
        loop {
            let writes = session.shared.written.load(Ordering::Acquire);
            load.seen.store(writes, Ordering::Release);
            load.started.store(session.shared.now(), Ordering::Release);
            job(&mut session);
            session.after_call();
            load.started.store(0, Ordering::Release);
            // The thread counts itself idle under the backlog's lock, which a dispatcher
            // holds from finding every thread busy to queueing the call there: no call is
            // left in the backlog while a thread waits.
            let mut queued = backlog
                .as_ref()
                .map(|backlog| backlog.lock().unwrap_or_else(|e| e.into_inner()));
            match queued.as_mut().and_then(|queued| queued.pop_front()) {
                Some(next) => job = next,
                None => {
                    load.pending.fetch_sub(1, Ordering::AcqRel);
                    break;
                }
            }
        }
    }
}

/// A worker thread's connection, opened on first use and replaced when it breaks.
pub(super) struct Session {
    shared: Arc<Shared>,
    /// Reader threads of SQLite open their connection with `query_only`, so a write sent
    /// to them by mistake fails instead of contending with the writer.
    read_only: bool,
    /// The connection and the loss count when it was opened.
    conn: Option<(DbConnection, u64)>,
    /// Calls run, counted for checkpoints.
    calls: u64,
    /// Whether this thread checkpoints the log every [`RESTART_EVERY`] calls: the writer
    /// of an SQLite file.
    checkpoints: bool,
}

impl Session {
    /// Counts a call and, every [`RESTART_EVERY`] of them on the writer of an SQLite file,
    /// checkpoints the log so that the next write starts it over. A checkpoint that finds
    /// a reader's checkpoint running is tried again after the next call.
    fn after_call(&mut self) {
        if !self.checkpoints {
            return;
        }
        self.calls += 1;
        if self.calls >= RESTART_EVERY && self.checkpoint() {
            self.calls = 0;
        }
    }

    /// Copies as much of the SQLite write-ahead log into the database as no reader still
    /// needs, without waiting for anyone (`PRAGMA wal_checkpoint(PASSIVE)`), with the
    /// thread's connection (opened if need be). False when another checkpoint was running.
    fn checkpoint(&mut self) -> bool {
        #[cfg(feature = "sqlite")]
        {
            use diesel::RunQueryDsl;
            use diesel::sql_types::Integer;

            /// The row `PRAGMA wal_checkpoint` answers with.
            #[derive(diesel::QueryableByName)]
            struct Checkpoint {
                /// 1 when another connection held the checkpoint lock.
                #[diesel(sql_type = Integer)]
                busy: i32,
            }
            let result = self.execute(Instant::now(), |conn| match conn {
                DbConnection::Sqlite(conn) => diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
                    .get_result::<Checkpoint>(conn)
                    .map(|row| row.busy == 0),
                #[allow(unreachable_patterns)]
                _ => Ok(true),
            });
            match result {
                Ok(done) => done,
                Err(error) => {
                    tracing::warn!(%error, "checkpoint of the SQLite write-ahead log failed");
                    true
                }
            }
        }
        #[cfg(not(feature = "sqlite"))]
        true
    }

    /// Runs `call`, queued at `queued`, with the thread's connection.
    fn execute<T>(
        &mut self,
        queued: Instant,
        call: impl FnOnce(&mut DbConnection) -> Result<T, DieselError>,
    ) -> Result<T, DbError> {
        if queued.elapsed() > self.shared.wait {
            return Err(DbError::Unavailable(
                "no database thread was free within the connection timeout".into(),
            ));
        }
        let losses = self.shared.losses.load(Ordering::Acquire);
        let conn = match &mut self.conn {
            Some((conn, opened)) if *opened >= losses => conn,
            _ => {
                self.conn = None;
                let conn = open(
                    &self.shared.target,
                    self.read_only,
                    self.shared.statement_timeout,
                )
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
                &mut self.conn.insert((conn, losses)).0
            }
        };
        match catch_unwind(AssertUnwindSafe(|| call(conn))) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if is_connection_lost(&error) {
                    self.shared.losses.fetch_add(1, Ordering::AcqRel);
                    self.conn = None;
                } else if is_broken(conn) {
                    self.conn = None;
                }
                Err(DbError::Query(error))
            }
            Err(panic) => {
                // The connection may be mid-transaction or otherwise half-used.
                self.conn = None;
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a database call panicked".to_owned());
                Err(DbError::Panicked(reason))
            }
        }
    }
}
