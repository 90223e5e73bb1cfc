//! The load generator: closed-loop WebSocket clients (send, wait for the answer, repeat),
//! the workloads they run, and the statistics of a run.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::cli::is_local;
use crate::serve::{NOOP_METHOD, SLOW_METHOD};

/// How long a client waits for any one answer before it counts an error and stops.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to connect and complete the handshake.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most requests one connection sends in a run, whatever the duration.
const MAX_REQUESTS_PER_CONNECTION: u64 = 50_000_000;

/// The page size of the `list` requests.
pub(crate) const PAGE_SIZE: usize = 50;

/// A client WebSocket.
pub(crate) type Socket = WebSocketStream<TcpStream>;

/// The client's WebSocket settings: the server's buffer sizes, so neither side of the
/// comparison reads with a different chunk size.
pub(crate) fn client_config() -> WebSocketConfig {
    crate::serve::websocket_config()
}

/// Opens a WebSocket to `addr` (a 127.0.0.x address), from `source` when given.
pub(crate) async fn connect(
    addr: SocketAddr,
    source: Option<std::net::Ipv4Addr>,
) -> Result<Socket, String> {
    if !is_local(&addr) {
        return Err(format!(
            "refusing to connect to {addr}: not a 127.0.0.x address"
        ));
    }
    let open = async {
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        if let Some(ip) = source {
            socket
                .bind((ip, 0).into())
                .map_err(|e| format!("cannot bind {ip}: {e}"))?;
        }
        let stream = socket
            .connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (ws, _) = tokio_tungstenite::client_async_with_config(
            format!("ws://{addr}/"),
            stream,
            Some(client_config()),
        )
        .await
        .map_err(|e| format!("WebSocket handshake with {addr} failed: {e}"))?;
        Ok(ws)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, open)
        .await
        .map_err(|_| format!("connecting to {addr} took over {CONNECT_TIMEOUT:?}"))?
}

/// A workload: what each request of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Workload {
    /// `question.create` with a new text.
    Create,
    /// `question.retrieve` of a random seeded row.
    Retrieve,
    /// `question.list` of a random page of 50 seeded rows.
    List,
    /// `question.update` of a random seeded row.
    Update,
    /// 60% retrieve, 20% list, 10% create, 10% update.
    Mixed,
    /// `bench.noop`: no database work.
    Noop,
    /// `question.retrieve` as in `Retrieve` on every connection but the first, which
    /// runs `bench.slow` (a query that holds its database connection for 100 ms) in a
    /// loop; only the retrieves are counted and timed.
    Stall,
    /// The same page of `question.list` every time (the pagination depth measurement).
    Page(PageRequest),
}

impl Workload {
    /// Every workload of the comparison, in the order they run.
    pub(crate) const ALL: [Workload; 7] = [
        Workload::Create,
        Workload::Retrieve,
        Workload::List,
        Workload::Update,
        Workload::Mixed,
        Workload::Noop,
        Workload::Stall,
    ];

    /// The workload's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Retrieve => "retrieve",
            Workload::List => "list",
            Workload::Update => "update",
            Workload::Mixed => "mixed",
            Workload::Noop => "noop",
            Workload::Stall => "stall",
            Workload::Page(_) => "page",
        }
    }

    /// Whether the requests address seeded rows (so a run needs some).
    fn addresses_rows(self) -> bool {
        !matches!(self, Workload::Noop | Workload::Page(_))
    }

    fn pick(self, rng: &mut Rng) -> Op {
        match self {
            Workload::Create => Op::Create,
            Workload::Retrieve | Workload::Stall => Op::Retrieve,
            Workload::List => Op::List,
            Workload::Update => Op::Update,
            Workload::Noop => Op::Noop,
            Workload::Page(page) => Op::Page(page),
            Workload::Mixed => match rng.below(100) {
                0..60 => Op::Retrieve,
                60..80 => Op::List,
                80..90 => Op::Create,
                _ => Op::Update,
            },
        }
    }
}

/// How a page of `question.list` is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PageMode {
    /// By keyset: `cursor`, the id of the previous page's last row (`null` for the first).
    Cursor,
    /// By number: `page`, which the database reaches by skipping the rows before it.
    Offset,
}

impl PageMode {
    /// The mode's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PageMode::Cursor => "cursor",
            PageMode::Offset => "offset",
        }
    }
}

/// One page of `question.list` on a table whose ids run from 1 without gaps, so that
/// the page's cursor and the id of its first row follow from its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct PageRequest {
    pub(crate) mode: PageMode,
    /// The page's number, from 1.
    pub(crate) page: u32,
    pub(crate) page_size: u32,
}

impl PageRequest {
    /// The id of the row before the page: its cursor.
    pub(crate) fn after_id(self) -> u64 {
        u64::from(self.page.max(1) - 1) * u64::from(self.page_size)
    }

    /// The id the page's first result must have.
    pub(crate) fn first_id(self) -> u64 {
        self.after_id() + 1
    }
}

/// One request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Create,
    Retrieve,
    List,
    Update,
    Noop,
    /// `bench.slow`: a 100 ms query.
    Slow,
    Page(PageRequest),
}

impl Op {
    /// The status a correct answer has.
    fn expected_status(self) -> u16 {
        match self {
            Op::Create => 201,
            _ => 200,
        }
    }
}

/// The rows a run may address: the seeded ids.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    pub(crate) ids: Arc<Vec<i32>>,
}

impl Rows {
    fn pages(&self) -> u64 {
        (self.ids.len() / PAGE_SIZE).max(1) as u64
    }
}

/// Writes the frame of request `op` with id `request_id` into `out`.
fn write_request(
    out: &mut String,
    op: Op,
    request_id: u64,
    client: usize,
    rows: &Rows,
    rng: &mut Rng,
) {
    out.clear();
    let _ = match op {
        Op::Create => write!(
            out,
            r#"{{"method":"question.create","request_id":{request_id},"question_text":"Bench question {client}-{request_id}"}}"#
        ),
        Op::Retrieve => {
            let id = rows.ids[rng.below(rows.ids.len() as u64) as usize];
            write!(
                out,
                r#"{{"method":"question.retrieve","request_id":{request_id},"id":{id}}}"#
            )
        }
        Op::List => {
            let page = rng.below(rows.pages()) + 1;
            write!(
                out,
                r#"{{"method":"question.list","request_id":{request_id},"page":{page},"page_size":{PAGE_SIZE}}}"#
            )
        }
        Op::Update => {
            let id = rows.ids[rng.below(rows.ids.len() as u64) as usize];
            write!(
                out,
                r#"{{"method":"question.update","request_id":{request_id},"id":{id},"question_text":"Updated {client}-{request_id}"}}"#
            )
        }
        Op::Noop => write!(
            out,
            r#"{{"method":"{NOOP_METHOD}","request_id":{request_id}}}"#
        ),
        Op::Slow => write!(
            out,
            r#"{{"method":"{SLOW_METHOD}","request_id":{request_id}}}"#
        ),
        Op::Page(page) => {
            let size = page.page_size;
            match page.mode {
                PageMode::Cursor if page.page <= 1 => write!(
                    out,
                    r#"{{"method":"question.list","request_id":{request_id},"cursor":null,"page_size":{size}}}"#
                ),
                PageMode::Cursor => write!(
                    out,
                    r#"{{"method":"question.list","request_id":{request_id},"cursor":"{}","page_size":{size}}}"#,
                    page.after_id()
                ),
                PageMode::Offset => write!(
                    out,
                    r#"{{"method":"question.list","request_id":{request_id},"page":{},"page_size":{size}}}"#,
                    page.page
                ),
            }
        }
    };
}

/// What the generator reads of an answer; the rest is skipped, and so is `data` when `D`
/// is `IgnoredAny`.
#[derive(Deserialize)]
struct Answer<D> {
    status: u16,
    request_id: Option<u64>,
    data: Option<D>,
}

/// What the generator reads of a page: the id of each result.
#[derive(Deserialize)]
struct PageData {
    results: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    id: u64,
}

/// Why an answer does not count.
fn check(text: &str, op: Op, request_id: u64, check_id: bool) -> Result<(), String> {
    let Op::Page(page) = op else {
        return check_answer::<IgnoredAny>(text, op, request_id, check_id).map(drop);
    };
    let answer = check_answer::<PageData>(text, op, request_id, check_id)?;
    let first = answer
        .data
        .and_then(|d| d.results.first().map(|row| row.id));
    if first != Some(page.first_id()) {
        return Err(format!(
            "expected page {} to start at id {}: {}",
            page.page,
            page.first_id(),
            clip(text)
        ));
    }
    Ok(())
}

/// Parses an answer and checks its status and request id.
fn check_answer<D: DeserializeOwned>(
    text: &str,
    op: Op,
    request_id: u64,
    check_id: bool,
) -> Result<Answer<D>, String> {
    let answer: Answer<D> = serde_json::from_str(text)
        .map_err(|e| format!("answer is not the expected JSON ({e}): {}", clip(text)))?;
    if answer.status != op.expected_status() {
        return Err(format!(
            "expected status {}, got {}: {}",
            op.expected_status(),
            answer.status,
            clip(text)
        ));
    }
    if check_id && answer.request_id != Some(request_id) {
        return Err(format!(
            "answer to request {request_id} carries another request_id: {}",
            clip(text)
        ));
    }
    Ok(answer)
}

/// The first 300 characters of `text`, for messages.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// Receives the next text frame, skipping control frames.
pub(crate) async fn next_text(ws: &mut Socket) -> Result<String, String> {
    let receive = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(other)) => return Err(format!("expected a text frame, got {other:?}")),
                Some(Err(e)) => return Err(format!("connection failed: {e}")),
                None => return Err("the server closed the connection".into()),
            }
        }
    };
    tokio::time::timeout(ANSWER_TIMEOUT, receive)
        .await
        .map_err(|_| format!("no answer within {ANSWER_TIMEOUT:?}"))?
}

/// What one run does.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) workload: Workload,
    pub(crate) connections: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) rows: Rows,
    /// Whether answers must echo the request id (the echo server's do not).
    pub(crate) check_request_id: bool,
}

/// The results of one run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunStats {
    /// Correct answers within the measured window.
    pub(crate) requests: u64,
    /// Wrong answers, failed connections and timeouts within the run.
    pub(crate) errors: u64,
    /// The measured window, in seconds.
    pub(crate) seconds: f64,
    /// Correct answers per second.
    pub(crate) requests_per_sec: f64,
    /// Latency percentiles of the correct answers, in microseconds.
    pub(crate) p50_us: f64,
    pub(crate) p90_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) max_us: f64,
    pub(crate) mean_us: f64,
    /// The server's CPU time (every thread of its process) during the measured window,
    /// per correct answer, in microseconds. Database work in another process (PostgreSQL)
    /// is not in it; SQLite's is.
    pub(crate) server_cpu_us_per_request: Option<f64>,
    /// The database server's CPU time (a PostgreSQL server on this machine: its processes,
    /// all of them) during the measured window, per correct answer, in microseconds.
    pub(crate) database_cpu_us_per_request: Option<f64>,
    /// The first error seen, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) first_error: Option<String>,
}

/// What one client measured.
#[derive(Default)]
struct ClientResult {
    latencies_ns: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl ClientResult {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }
}

/// The processes whose CPU time a run measures.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Measured {
    /// The server's process.
    pub(crate) server: Option<u32>,
    /// A database server's main process, counted with its children
    /// ([`crate::system::tree_cpu_seconds`]).
    pub(crate) database: Option<u32>,
}

impl Measured {
    /// The server's process alone.
    pub(crate) fn server(pid: u32) -> Self {
        Measured {
            server: Some(pid),
            database: None,
        }
    }
}

/// Runs `plan` against the server at `addr`, measuring the CPU time of the processes in
/// `measured`.
pub(crate) async fn run(
    addr: SocketAddr,
    measured: Measured,
    plan: &Plan,
    seed: u64,
) -> Result<RunStats, String> {
    if plan.rows.ids.is_empty() && plan.workload.addresses_rows() {
        return Err("no seeded rows to address".into());
    }
    let mut sockets = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        sockets.push(connect(addr, None).await?);
    }
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (client, ws) in sockets.into_iter().enumerate() {
        let plan = plan.clone();
        let rng = Rng::new(seed ^ (client as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        tasks.spawn(client_loop(ws, client, plan, rng, measure_from, end));
    }
    // The CPU time over the measured window.
    let sample = || {
        let server = measured.server.map(crate::system::cpu_seconds);
        let database = measured.database.map(crate::system::tree_cpu_seconds);
        (server, database)
    };
    let mut cpu = None;
    let mut database_cpu = None;
    if measured.server.is_some() || measured.database.is_some() {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = sample();
        tokio::time::sleep_until(end.into()).await;
        let after = sample();
        if let (Some(Ok(before)), Some(Ok(after))) = (before.0, after.0) {
            cpu = Some(after - before);
        }
        if let (Some(Ok(before)), Some(Ok(after))) = (before.1, after.1) {
            database_cpu = Some(after - before);
        }
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.map_err(|e| format!("a client task failed: {e}"))?;
        latencies.extend_from_slice(&result.latencies_ns);
        errors += result.errors;
        if first_error.is_none() {
            first_error = result.first_error;
        }
    }
    let mut stats = RunStats::from_latencies(latencies, errors, plan.duration, first_error);
    if stats.requests > 0 {
        let per_request = |seconds: f64| seconds * 1e6 / stats.requests as f64;
        stats.server_cpu_us_per_request = cpu.map(per_request);
        stats.database_cpu_us_per_request = database_cpu.map(per_request);
    }
    Ok(stats)
}

/// One closed-loop client: until `end`, send a request and wait for its answer; record the
/// latency of answers to requests sent from `measure_from` on.
async fn client_loop(
    mut ws: Socket,
    client: usize,
    plan: Plan,
    mut rng: Rng,
    measure_from: Instant,
    end: Instant,
) -> ClientResult {
    let expected = plan.duration.as_secs_f64() * 100_000.0 / plan.connections.max(1) as f64;
    let mut result = ClientResult {
        latencies_ns: Vec::with_capacity((expected as usize).min(4_000_000)),
        ..ClientResult::default()
    };
    let mut frame = String::with_capacity(256);
    let mut request_id = 0u64;
    while request_id < MAX_REQUESTS_PER_CONNECTION {
        let sent_at = Instant::now();
        if sent_at >= end {
            break;
        }
        request_id += 1;
        // The stall workload's first connection runs the slow query, untimed.
        let slow = plan.workload == Workload::Stall && client == 0;
        let op = if slow {
            Op::Slow
        } else {
            plan.workload.pick(&mut rng)
        };
        write_request(&mut frame, op, request_id, client, &plan.rows, &mut rng);
        if let Err(e) = ws.send(Message::text(frame.as_str())).await {
            result.error(format!("cannot send: {e}"));
            break;
        }
        let answer = next_text(&mut ws).await;
        let latency = sent_at.elapsed();
        let measured = sent_at >= measure_from && !slow;
        match answer {
            Ok(text) => match check(&text, op, request_id, plan.check_request_id) {
                Ok(()) if measured => result.latencies_ns.push(latency.as_nanos() as u64),
                Ok(()) => {}
                Err(e) => result.error(e),
            },
            Err(e) => {
                result.error(e);
                break;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    result
}

impl RunStats {
    /// Statistics of the latencies of a run whose window lasted `window`.
    pub(crate) fn from_latencies(
        mut latencies_ns: Vec<u64>,
        errors: u64,
        window: Duration,
        first_error: Option<String>,
    ) -> Self {
        latencies_ns.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        let requests = latencies_ns.len() as u64;
        let seconds = window.as_secs_f64();
        let mean_us = if latencies_ns.is_empty() {
            0.0
        } else {
            latencies_ns.iter().map(|&ns| ns as f64).sum::<f64>()
                / latencies_ns.len() as f64
                / 1000.0
        };
        RunStats {
            requests,
            errors,
            seconds,
            requests_per_sec: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            p50_us: us(percentile(&latencies_ns, 50.0)),
            p90_us: us(percentile(&latencies_ns, 90.0)),
            p99_us: us(percentile(&latencies_ns, 99.0)),
            max_us: us(latencies_ns.last().copied().unwrap_or(0)),
            mean_us,
            server_cpu_us_per_request: None,
            database_cpu_us_per_request: None,
            first_error,
        }
    }
}

/// The nearest-rank percentile `p` of `sorted`; 0 when empty.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A small, fast pseudo-random generator (xorshift64*), seeded per client.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub(crate) fn new(seed: u64) -> Self {
        // SplitMix64 scrambles the seed, so that nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }
}

/// The requests of the shape check: each kind of request a workload sends, plus the two
/// errors a client can run into (a missing row, an unknown method).
pub(crate) fn probe_requests(id: i32) -> Vec<(&'static str, String)> {
    let page_size = PAGE_SIZE;
    vec![
        (
            "create",
            r#"{"method":"question.create","request_id":1,"question_text":"Probe"}"#.to_owned(),
        ),
        (
            "retrieve",
            format!(r#"{{"method":"question.retrieve","request_id":2,"id":{id}}}"#),
        ),
        (
            "list",
            format!(
                r#"{{"method":"question.list","request_id":3,"page":1,"page_size":{page_size}}}"#
            ),
        ),
        (
            "update",
            format!(
                r#"{{"method":"question.update","request_id":"four","id":{id},"question_text":"Probe"}}"#
            ),
        ),
        (
            "noop",
            format!(r#"{{"method":"{NOOP_METHOD}","request_id":5}}"#),
        ),
        (
            "retrieve missing",
            r#"{"method":"question.retrieve","request_id":6,"id":2000000000}"#.to_owned(),
        ),
        (
            "unknown method",
            r#"{"method":"question.frobnicate","request_id":7}"#.to_owned(),
        ),
    ]
}

/// The shape of a JSON value: its structure and the types of its leaves, not their values.
pub(crate) fn shape(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(items) => match items.first() {
            Some(first) => format!("[{}]", shape(first)),
            None => "[]".into(),
        },
        Value::Object(map) => {
            let mut keys: Vec<_> = map.iter().collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            let fields: Vec<String> = keys
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", shape(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
    }
}

/// Sends each probe request to both servers and checks that the answers have the same
/// status, method, request id and shape. Returns the framework's answers.
pub(crate) async fn check_same_answers(
    framework: SocketAddr,
    baseline: SocketAddr,
    id: i32,
) -> Result<Vec<(String, String)>, String> {
    let mut a = connect(framework, None).await?;
    let mut b = connect(baseline, None).await?;
    let mut answers = Vec::new();
    for (name, frame) in probe_requests(id) {
        let mut parsed = Vec::new();
        for ws in [&mut a, &mut b] {
            ws.send(Message::text(frame.as_str()))
                .await
                .map_err(|e| format!("cannot send the {name} probe: {e}"))?;
            let text = next_text(ws).await?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                format!(
                    "the {name} probe's answer is not JSON ({e}): {}",
                    clip(&text)
                )
            })?;
            parsed.push((text, value));
        }
        let (fw, bl) = (&parsed[0], &parsed[1]);
        let same = ["status", "method", "request_id"]
            .iter()
            .all(|key| fw.1.get(key) == bl.1.get(key))
            && shape(&fw.1) == shape(&bl.1);
        if !same {
            return Err(format!(
                "the baseline answers the {name} probe differently from the framework:\n  \
                 framework: {}\n  baseline:  {}",
                clip(&fw.0),
                clip(&bl.0)
            ));
        }
        answers.push((name.to_owned(), fw.0.clone()));
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn stats_count_requests_per_second() {
        let stats = RunStats::from_latencies(
            vec![3000, 1000, 2000, 4000],
            1,
            Duration::from_secs(2),
            None,
        );
        assert_eq!(stats.requests, 4);
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.requests_per_sec, 2.0);
        assert_eq!(stats.p50_us, 2.0);
        assert_eq!(stats.max_us, 4.0);
        assert_eq!(stats.mean_us, 2.5);
    }

    #[test]
    fn random_numbers_stay_in_range_and_mix_as_asked() {
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 5];
        for _ in 0..10_000 {
            let op = Workload::Mixed.pick(&mut rng);
            let slot = [Op::Retrieve, Op::List, Op::Create, Op::Update, Op::Noop]
                .iter()
                .position(|o| *o == op)
                .unwrap();
            counts[slot] += 1;
            assert!(rng.below(7) < 7);
        }
        assert!((5500..6500).contains(&counts[0]), "{counts:?}");
        assert!((1500..2500).contains(&counts[1]), "{counts:?}");
        assert_eq!(counts[4], 0);
    }

    #[test]
    fn requests_are_json_objects() {
        let rows = Rows {
            ids: Arc::new((1..=1000).collect()),
        };
        let mut rng = Rng::new(3);
        let mut frame = String::new();
        for op in [Op::Create, Op::Retrieve, Op::List, Op::Update, Op::Noop] {
            write_request(&mut frame, op, 9, 2, &rows, &mut rng);
            let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
            assert_eq!(value["request_id"], 9, "{frame}");
            assert!(value["method"].as_str().unwrap().contains('.'), "{frame}");
        }
        for (_, frame) in probe_requests(1) {
            assert!(
                serde_json::from_str::<serde_json::Value>(&frame).is_ok(),
                "{frame}"
            );
        }
    }

    #[test]
    fn checks_status_and_request_id() {
        let ok = r#"{"method":"question.create","request_id":4,"status":201,"data":{"id":1}}"#;
        assert!(check(ok, Op::Create, 4, true).is_ok());
        assert!(check(ok, Op::Create, 5, true).is_err());
        assert!(check(ok, Op::Create, 5, false).is_ok());
        assert!(check(ok, Op::Retrieve, 4, true).is_err());
        assert!(check("nope", Op::Noop, 1, false).is_err());
    }

    #[test]
    fn page_requests_address_the_page_and_check_its_first_id() {
        let rows = Rows {
            ids: Arc::default(),
        };
        let mut rng = Rng::new(1);
        let mut frame = String::new();
        let page = |mode, page| PageRequest {
            mode,
            page,
            page_size: 100,
        };
        let frames = [
            (
                page(PageMode::Cursor, 1),
                json!({"cursor": null, "page_size": 100}),
            ),
            (
                page(PageMode::Cursor, 10_000),
                json!({"cursor": "999900", "page_size": 100}),
            ),
            (
                page(PageMode::Offset, 10_000),
                json!({"page": 10_000, "page_size": 100}),
            ),
        ];
        for (request, expected) in frames {
            write_request(&mut frame, Op::Page(request), 3, 0, &rows, &mut rng);
            let mut value: serde_json::Value = serde_json::from_str(&frame).unwrap();
            assert_eq!(value["method"], "question.list", "{frame}");
            assert_eq!(value["request_id"], 3, "{frame}");
            let payload = value.as_object_mut().unwrap();
            payload.remove("method");
            payload.remove("request_id");
            assert_eq!(value, expected, "{frame}");
        }

        let deep = Op::Page(page(PageMode::Cursor, 10_000));
        let answer = |status, first_id| {
            json!({"method": "question.list", "request_id": 3, "status": status,
                   "data": {"page_size": 100, "next": "1000000",
                            "results": [{"id": first_id, "question_text": "q"}, {"id": 0}]}})
            .to_string()
        };
        assert!(check(&answer(200, 999_901), deep, 3, true).is_ok());
        assert!(check(&answer(200, 999_801), deep, 3, true).is_err());
        assert!(check(&answer(400, 999_901), deep, 3, true).is_err());
        let empty =
            r#"{"method":"question.list","request_id":3,"status":200,"data":{"results":[]}}"#;
        assert!(check(empty, deep, 3, true).is_err());
        assert!(Workload::Page(page(PageMode::Offset, 1)).name() == "page");
        assert!(!Workload::ALL.iter().any(|w| matches!(w, Workload::Page(_))));
    }

    #[test]
    fn shapes_ignore_values_and_key_order() {
        let a = json!({"status": 200, "data": {"id": 1, "t": "x"}, "list": [{"a": 1}]});
        let b = json!({"list": [{"a": 2}], "data": {"t": "y", "id": 9}, "status": 404});
        assert_eq!(shape(&a), shape(&b));
        assert_ne!(shape(&a), shape(&json!({"status": 200})));
    }
}
