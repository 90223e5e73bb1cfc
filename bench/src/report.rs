//! The results of a run, and their three renderings: a markdown report, the JSON of every
//! number, and an SVG bar chart written by hand.

use std::fmt::Write as _;

use serde::Serialize;

use crate::db::Backend;
use crate::depth::PaginationDepth;
use crate::idle::MemoryStats;
use crate::live::LiveResults;
use crate::load::{RunStats, Workload};
use crate::system::{Machine, Pinning};

/// Everything one benchmark run measured.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// "full" or "quick".
    pub(crate) mode: &'static str,
    /// When the run started (UTC).
    pub(crate) date: String,
    /// How long the whole run took, in seconds.
    pub(crate) elapsed_seconds: f64,
    /// The command that produced it.
    pub(crate) command: String,
    pub(crate) machine: Machine,
    /// `None` when the server and the generator shared the CPUs.
    pub(crate) pinning: Option<Pinning>,
    /// The open-file limit of the benchmark and of its servers.
    pub(crate) open_file_limit: u64,
    pub(crate) settings: Settings,
    /// The echo server's rate on the noop request: what the load generator can reach.
    pub(crate) generator_ceiling: RunStats,
    pub(crate) backends: Vec<BackendResults>,
}

/// The settings of the run.
#[derive(Debug, Serialize)]
pub(crate) struct Settings {
    pub(crate) connections: usize,
    pub(crate) duration_seconds: f64,
    pub(crate) warmup_seconds: f64,
    pub(crate) rounds: usize,
    pub(crate) rows: usize,
    pub(crate) page_size: usize,
    pub(crate) pool_size: u32,
    /// The idle connection counts asked for, and those that fit the open-file limit.
    pub(crate) idle_connections_requested: Vec<usize>,
    pub(crate) idle_connections: Vec<usize>,
}

/// The results on one database backend.
#[derive(Debug, Serialize)]
pub(crate) struct BackendResults {
    pub(crate) backend: Backend,
    pub(crate) workloads: Vec<WorkloadResult>,
    /// `None` when the memory test was skipped.
    pub(crate) memory: Option<MemoryPair>,
    /// The framework's cost of a first and a deep page; `None` when skipped.
    pub(crate) pagination_depth: Option<PaginationDepth>,
    /// What hostile clients cost each server; `None` when skipped.
    pub(crate) hostile: Option<HostilePair>,
    /// The live data measurements of the framework; `None` when skipped.
    pub(crate) live: Option<crate::live::LiveResults>,
}

/// The hostile-client figures of both servers.
#[derive(Debug, Serialize)]
pub(crate) struct HostilePair {
    pub(crate) framework: crate::hostile::HostileStats,
    pub(crate) baseline: crate::hostile::HostileStats,
}

/// One workload on one backend: the median round of each server, and every round.
#[derive(Debug, Serialize)]
pub(crate) struct WorkloadResult {
    pub(crate) workload: Workload,
    /// The framework's median round (by requests per second).
    pub(crate) framework: RunStats,
    /// The baseline's median round.
    pub(crate) baseline: RunStats,
    /// Framework requests/s divided by baseline requests/s.
    pub(crate) throughput_ratio: f64,
    /// Framework p99 divided by baseline p99.
    pub(crate) p99_ratio: f64,
    /// Framework server CPU per request divided by the baseline's.
    pub(crate) cpu_ratio: Option<f64>,
    /// The throughput ratio of each round on its own (framework round i / baseline round
    /// i): how much the machine's noise moves it.
    pub(crate) round_ratios: Vec<f64>,
    pub(crate) framework_rounds: Vec<RunStats>,
    pub(crate) baseline_rounds: Vec<RunStats>,
}

impl WorkloadResult {
    /// The result of `workload` from each server's rounds (at least one each).
    pub(crate) fn new(
        workload: Workload,
        framework_rounds: Vec<RunStats>,
        baseline_rounds: Vec<RunStats>,
    ) -> Self {
        let framework = median_round(&framework_rounds);
        let baseline = median_round(&baseline_rounds);
        Self {
            workload,
            throughput_ratio: ratio(framework.requests_per_sec, baseline.requests_per_sec),
            p99_ratio: ratio(framework.p99_us, baseline.p99_us),
            cpu_ratio: framework
                .server_cpu_us_per_request
                .zip(baseline.server_cpu_us_per_request)
                .map(|(f, b)| ratio(f, b)),
            round_ratios: framework_rounds
                .iter()
                .zip(&baseline_rounds)
                .map(|(f, b)| ratio(f.requests_per_sec, b.requests_per_sec))
                .collect(),
            framework,
            baseline,
            framework_rounds,
            baseline_rounds,
        }
    }
}

/// The memory test of both servers.
#[derive(Debug, Serialize)]
pub(crate) struct MemoryPair {
    pub(crate) framework: MemoryStats,
    pub(crate) baseline: MemoryStats,
}

/// The round with the median requests per second (the lower middle one of an even count).
pub(crate) fn median_round(rounds: &[RunStats]) -> RunStats {
    let mut sorted: Vec<&RunStats> = rounds.iter().collect();
    sorted.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    match sorted.get(sorted.len().saturating_sub(1) / 2) {
        Some(round) => (*round).clone(),
        None => RunStats::from_latencies(Vec::new(), 0, std::time::Duration::ZERO, None),
    }
}

/// `a / b`, or 0 when `b` is not positive.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// `12345.6` as `12,346`.
pub(crate) fn thousands(value: f64) -> String {
    let rounded = value.round().max(0.0) as u64;
    let digits = rounded.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds of CPU per request, or `-` when they were not measured.
fn micros(us: Option<f64>) -> String {
    us.map_or_else(|| "-".to_owned(), |us| format!("{us:.1}"))
}

/// `0.91–1.20`, the range of `ratios`.
fn spread(ratios: &[f64]) -> String {
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match ratios.len() {
        0 => "-".to_owned(),
        1 => format!("{min:.2}"),
        _ => format!("{min:.2}–{max:.2}"),
    }
}

/// Where the CPU time of each request goes when the database is a server on this machine
/// (PostgreSQL): the server's process and the database's, per request, for both servers.
fn database_cpu_markdown(md: &mut String, backend: &BackendResults) {
    let rows: Vec<_> = backend
        .workloads
        .iter()
        .filter_map(|w| {
            let (f, b) = (&w.framework, &w.baseline);
            match (
                f.server_cpu_us_per_request,
                f.database_cpu_us_per_request,
                b.server_cpu_us_per_request,
                b.database_cpu_us_per_request,
            ) {
                (Some(fs), Some(fd), Some(bs), Some(bd)) => Some((w, fs, fd, bs, bd)),
                _ => None,
            }
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "Where the CPU goes, in µs per request: the server's process, and the database's \
         (the PostgreSQL server's processes, all of them, over the same window).\n\n\
         | workload | framework server | framework database | baseline server | baseline \
         database | database ratio | server + database ratio |\n|---|--:|--:|--:|--:|--:|--:|"
    );
    for (w, fs, fd, bs, bd) in rows {
        let _ = writeln!(
            md,
            "| {} | {fs:.1} | {fd:.1} | {bs:.1} | {bd:.1} | {} | {:.2} |",
            w.workload.name(),
            // `noop` asks nothing of the database (what shows is background work).
            if bd >= 1.0 {
                format!("{:.2}", ratio(fd, bd))
            } else {
                "-".to_owned()
            },
            ratio(fs + fd, bs + bd),
        );
    }
    let _ = writeln!(
        md,
        "\nWhere the database's time per request is as large as the server's and the two \
         share the machine's cores, requests/s follow the server + database ratio more than \
         the server's own: a server can then win only by asking less of the database. The \
         framework's writes ask more, the change log's row (see \"Capture cost\" under \
         \"Live data\").\n"
    );
}

/// What a long query on one connection does to the retrieves of the others: the `stall`
/// workload's p99 against the `retrieve` workload's, for each server.
fn long_query_markdown(md: &mut String, backend: &BackendResults) {
    let find = |workload| backend.workloads.iter().find(|w| w.workload == workload);
    let (Some(alone), Some(stalled)) = (find(Workload::Retrieve), find(Workload::Stall)) else {
        return;
    };
    let _ = writeln!(
        md,
        "Long query: in `stall`, one connection runs `bench.slow` (a query that holds its \
         database connection for 100 ms) in a loop while the others retrieve. Retrieve p99 \
         with it / without it: framework {:.0} / {:.0} µs ({:.2}×), baseline {:.0} / {:.0} µs \
         ({:.2}×).\n",
        stalled.framework.p99_us,
        alone.framework.p99_us,
        ratio(stalled.framework.p99_us, alone.framework.p99_us),
        stalled.baseline.p99_us,
        alone.baseline.p99_us,
        ratio(stalled.baseline.p99_us, alone.baseline.p99_us),
    );
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn per_connection(bytes: f64) -> String {
    format!("{} B ({:.1} KiB)", thousands(bytes), bytes / 1024.0)
}

impl Report {
    /// The hostile-client section, when it was measured.
    fn hostile_section(&self, md: &mut String) {
        use crate::hostile::{HALF_OPEN, LARGE_BYTES, LARGE_CONNECTIONS, PIPELINED};
        let Some((backend, pair)) = self
            .backends
            .iter()
            .find_map(|b| b.hostile.as_ref().map(|h| (b.backend, h)))
        else {
            return;
        };
        let _ = writeln!(md, "## Hostile clients\n");
        let _ = writeln!(
            md,
            "On {}, one fresh server each, the scenarios one after the other; RSS read once it \
             settles. **After a large message**: {LARGE_CONNECTIONS} connections each send one \
             {} KiB request and read its answer, then sit idle (growth per connection). **Never \
             reads**: one client writes up to {} pipelined requests and reads no answer; how \
             many bytes the server took before the socket stopped accepting, and the RSS growth \
             while the client holds them. **Half-open**: {} handshakes that never finish, held \
             open (growth per connection), and how long a normal client's connect and first \
             answer take meanwhile.\n",
            backend.name(),
            LARGE_BYTES / 1024,
            thousands(PIPELINED as f64),
            thousands(HALF_OPEN as f64)
        );
        let _ = writeln!(
            md,
            "| server | after a large message, per idle connection | never reads: bytes taken | never reads: RSS growth | half-open, per connection | normal client served in |"
        );
        let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|");
        for (name, h) in [("framework", &pair.framework), ("baseline", &pair.baseline)] {
            let _ = writeln!(
                md,
                "| {name} | {} | {} KiB | {:+.1} MiB | {} | {:.1} ms |",
                per_connection(h.after_large_bytes_per_connection),
                thousands((h.pipelined_bytes_accepted / 1024) as f64),
                h.pipelined_rss_growth_bytes as f64 / (1024.0 * 1024.0),
                per_connection(h.half_open_bytes_per_connection),
                h.served_during_half_open_ms
            );
        }
        let _ = writeln!(md);
    }

    /// The report as markdown.
    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        let s = &self.settings;
        let _ = writeln!(md, "# channels-api benchmarks\n");
        let _ = writeln!(
            md,
            "The polls example served by channels-api (**framework**) against a hand-written \
             tokio-tungstenite + Diesel server answering the same requests with the same \
             queries (**baseline**). Produced by `{}` ({} mode) on {}; the run took {:.0} s.\n",
            self.command, self.mode, self.date, self.elapsed_seconds
        );
        if crate::DEBUG_BUILD {
            let _ = writeln!(
                md,
                "**A debug build**: both servers ran unoptimized, so these numbers say nothing \
                 of their speed; this run only shows that every measurement works.\n"
            );
        }
        let _ = writeln!(md, "## Machine\n");
        let m = &self.machine;
        let _ = writeln!(md, "- CPU: {}, {} logical cores", m.cpu_model, m.cores);
        let _ = writeln!(
            md,
            "- Memory: {:.1} GiB; kernel {}",
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            m.kernel
        );
        match &self.pinning {
            Some(p) => {
                let _ = writeln!(
                    md,
                    "- Pinning: yes (`taskset`): every server on CPU {}, the load generator on CPU {}",
                    p.server_cpu, p.generator_cpu
                );
            }
            None => {
                let _ = writeln!(
                    md,
                    "- Pinning: no: servers and load generator share the CPUs"
                );
            }
        }
        let _ = writeln!(
            md,
            "- Load average when the run started: {} (other work on the machine adds noise)",
            m.load_average
        );
        let _ = writeln!(md, "- Open-file limit: {}", self.open_file_limit);
        let _ = writeln!(
            md,
            "- Load: {} connections, each a closed loop (send, wait for the answer, repeat), \
             {:.2} s warm-up then {:.2} s measured per run; framework and baseline run \
             alternately, {} round(s) each per workload, the median round reported; {} rows \
             seeded and restored before every run (and the framework's change log pruned, \
             so that a read workload does not pay for the pruning of the writes before it); \
             pages of {}; database pools of {}\n",
            s.connections,
            s.warmup_seconds,
            s.duration_seconds,
            s.rounds,
            s.rows,
            s.page_size,
            s.pool_size
        );
        let c = &self.generator_ceiling;
        let _ = writeln!(md, "## Load generator ceiling\n");
        let _ = writeln!(
            md,
            "An echo server answering every frame at once with a constant: **{} requests/s** \
             (p50 {:.0} µs, p99 {:.0} µs, server CPU {} µs per request, {} errors), measured \
             once before the workloads. A result near it is limited by the load generator as \
             much as by the server (the `noop` workload, mostly); other load on the machine \
             moves it too.\n",
            thousands(c.requests_per_sec),
            c.p50_us,
            c.p99_us,
            micros(c.server_cpu_us_per_request),
            c.errors
        );
        for backend in &self.backends {
            let _ = writeln!(
                md,
                "## Throughput and latency: {}\n",
                backend.backend.name()
            );
            if backend.workloads.is_empty() {
                let _ = writeln!(md, "Skipped.\n");
                continue;
            }
            let _ = writeln!(
                md,
                "| workload | framework req/s | baseline req/s | ratio | ratio per round | \
                 framework p50 µs | \
                 baseline p50 µs | framework p99 µs | baseline p99 µs | p99 ratio | \
                 framework CPU µs/req | baseline CPU µs/req | errors |"
            );
            let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
            for w in &backend.workloads {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.2} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {} | {} | {} / {} |",
                    w.workload.name(),
                    thousands(w.framework.requests_per_sec),
                    thousands(w.baseline.requests_per_sec),
                    w.throughput_ratio,
                    spread(&w.round_ratios),
                    w.framework.p50_us,
                    w.baseline.p50_us,
                    w.framework.p99_us,
                    w.baseline.p99_us,
                    w.p99_ratio,
                    micros(w.framework.server_cpu_us_per_request),
                    micros(w.baseline.server_cpu_us_per_request),
                    w.framework.errors,
                    w.baseline.errors
                );
            }
            let _ = writeln!(
                md,
                "\nratio = framework / baseline requests per second of the median rounds (1.00 \
                 is parity, lower is slower); ratio per round = the lowest and highest ratio of \
                 a framework round to the baseline round after it; p99 ratio = framework / baseline p99 (higher is slower); CPU µs/req = \
                 the server process's CPU time (all threads, SQLite included, PostgreSQL's own \
                 processes not) over the measured window per answer, less sensitive to other \
                 load on the machine than requests/s; errors = framework / baseline.\n"
            );
            database_cpu_markdown(&mut md, backend);
            long_query_markdown(&mut md, backend);
            if let Some(error) = backend
                .workloads
                .iter()
                .flat_map(|w| [&w.framework.first_error, &w.baseline.first_error])
                .flatten()
                .next()
            {
                let _ = writeln!(md, "First error seen: `{error}`\n");
            }
        }
        self.hostile_section(&mut md);
        let _ = writeln!(md, "## Memory per idle connection\n");
        let _ = writeln!(
            md,
            "Idle WebSocket connections (handshake done, nothing sent) opened to a fresh server \
             after one warm-up request; the server's resident set size (VmRSS) read once it \
             settles; growth = (RSS with the connections - RSS before) / connections.\n"
        );
        let mut header = String::from("| backend | server | RSS before |");
        let mut rule = String::from("|---|---|--:|");
        for n in &s.idle_connections {
            let _ = write!(header, " {} connections |", thousands(*n as f64));
            rule.push_str("--:|");
        }
        header.push_str(" RSS after closing |");
        rule.push_str("--:|");
        let mut rows = String::new();
        for backend in &self.backends {
            let Some(memory) = &backend.memory else {
                continue;
            };
            for (name, stats) in [
                ("framework", &memory.framework),
                ("baseline", &memory.baseline),
            ] {
                let _ = write!(
                    rows,
                    "| {} | {name} | {} |",
                    backend.backend.name(),
                    mib(stats.rss_before_bytes)
                );
                for step in &stats.steps {
                    let unsettled = if step.settled { "" } else { " (still moving)" };
                    let _ = write!(
                        rows,
                        " {}{unsettled} |",
                        per_connection(step.bytes_per_connection)
                    );
                }
                let _ = writeln!(rows, " {} |", mib(stats.rss_after_close_bytes));
            }
        }
        if rows.is_empty() {
            let _ = writeln!(md, "Skipped.\n");
        } else {
            let _ = writeln!(md, "{header}\n{rule}\n{rows}");
            if s.idle_connections != s.idle_connections_requested {
                let _ = writeln!(
                    md,
                    "The open-file limit capped the counts asked for ({:?}).\n",
                    s.idle_connections_requested
                );
            }
        }
        self.pagination_depth_markdown(&mut md);
        self.live_markdown(&mut md);
        let _ = writeln!(md, "## Chart\n\n![requests per second](benchmarks.svg)\n");
        let _ = writeln!(md, "## What runs\n");
        let _ = writeln!(
            md,
            "- **framework**: `channels_api_examples::polls::router()` plus a `bench.noop` \
             custom method, served by `Router::bind` / `Server::run` over \
             `Database::connect` (default pool and limits), schema from \
             `polls::migrate`.\n\
             - **baseline**: tokio-tungstenite with the framework's WebSocket settings \
             (4 KiB read buffer, no write buffer, 1 MiB message limit); requests parsed into a \
             serde-derived struct; the polls app's check of a question's length; the \
             Diesel queries a user writes for them (`.limit(n).offset(m)` for a page), on \
             `PgConnection` / `SqliteConnection` in an r2d2 pool of the same size, SQLite \
             with the usual server pragmas (WAL, busy timeout, `synchronous = NORMAL`, \
             foreign keys), run through \
             `spawn_blocking`; answers in the same envelope \
             (`method`, `request_id`, `status`, `data`), checked to have the same shape \
             before the runs.\n\
             - **workloads**: `create`, `retrieve` (random seeded id), `list` (random page \
             of {}), `update` (random seeded id), `mixed` (60% retrieve, 20% list, 10% \
             create, 10% update), `noop` (no database work), `stall` (retrieve on every \
             connection but one, which runs a 100 ms query in a loop; only the retrieves \
             count). Each answer's status and \
             request id are checked; anything unexpected is an error.\n\
             - Each server runs in its own process on its own fresh database (a temporary \
             SQLite file, or a schema of its own on PostgreSQL).\n",
            s.page_size
        );
        md
    }

    /// The "Pagination depth" section: a table per backend measured.
    fn pagination_depth_markdown(&self, md: &mut String) {
        let _ = writeln!(md, "## Pagination depth\n");
        let measured: Vec<(Backend, &PaginationDepth)> = self
            .backends
            .iter()
            .filter_map(|b| b.pagination_depth.as_ref().map(|d| (b.backend, d)))
            .collect();
        let Some((_, first)) = measured.first() else {
            let _ = writeln!(md, "Skipped.\n");
            return;
        };
        let deep = first.modes.first().map_or(1, |m| m.deep_page);
        let _ = writeln!(
            md,
            "What a page of `question.list` costs near the start of a large table and deep \
             into it, on the framework only (this measures the database's cost of a page, not \
             the framework's overhead). One fresh server per backend, its `questions` table \
             filled with {} rows (ids 1 to {}) by one `INSERT ... SELECT`, then analyzed; \
             pages of {}; page 1 and page {} requested by cursor (`\"cursor\": null`, then \
             `\"cursor\": \"{}\"`, the id of the previous page's last row) and by number \
             (`\"page\": 1`, `\"page\": {}`). Each row: the same request in a closed loop on \
             {} connections, {:.2} s warm-up then {:.2} s measured; every answer's status \
             and the id of its first result are checked, anything else is an error.\n",
            thousands(first.rows as f64),
            thousands(first.rows as f64),
            first.page_size,
            thousands(f64::from(deep)),
            (u64::from(deep) - 1) * u64::from(first.page_size),
            deep,
            first.connections,
            first.warmup_seconds,
            first.duration_seconds
        );
        for (backend, depth) in &measured {
            let _ = writeln!(md, "### {}\n", backend.name());
            let _ = writeln!(
                md,
                "| mode | page | requests/s | p50 µs | p99 µs | errors |"
            );
            let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|");
            for mode in &depth.modes {
                for (page, stats) in [(mode.first_page, &mode.first), (mode.deep_page, &mode.deep)]
                {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {:.0} | {:.0} | {} |",
                        mode.mode.name(),
                        thousands(f64::from(page)),
                        thousands(stats.requests_per_sec),
                        stats.p50_us,
                        stats.p99_us,
                        stats.errors
                    );
                }
                let _ = writeln!(
                    md,
                    "| {} | **deep / first** | **{:.2}×** | **{:.2}×** | **{:.2}×** | |",
                    mode.mode.name(),
                    mode.throughput_ratio,
                    mode.p50_ratio,
                    mode.p99_ratio
                );
            }
            let _ = writeln!(
                md,
                "\nFilling the table took {:.2} s.\n",
                depth.fill_seconds
            );
            if let Some(error) = depth
                .modes
                .iter()
                .flat_map(|m| [&m.first.first_error, &m.deep.first_error])
                .flatten()
                .next()
            {
                let _ = writeln!(md, "First error seen: `{error}`\n");
            }
        }
        let _ = writeln!(
            md,
            "An offset page's cost includes the `count` over the whole table and the {} rows \
             it skips before page {}, so it grows with the depth; a cursor page seeks to the \
             row after the cursor by the primary key's index and counts nothing, so page {} \
             costs about what page 1 costs.\n",
            thousands(f64::from(deep.saturating_sub(1)) * f64::from(first.page_size)),
            thousands(f64::from(deep)),
            thousands(f64::from(deep))
        );
    }

    /// The report as pretty-printed JSON.
    pub(crate) fn json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map_err(|e| format!("cannot write the JSON: {e}"))
    }

    /// A grouped bar chart of requests per second: one panel per backend, one group per
    /// workload, framework and baseline side by side.
    pub(crate) fn svg(&self) -> String {
        const WIDTH: f64 = 960.0;
        const TOP: f64 = 70.0;
        const PANEL: f64 = 360.0;
        const LEFT: f64 = 90.0;
        const RIGHT: f64 = 30.0;
        const PLOT_TOP: f64 = 40.0;
        const PLOT_BOTTOM: f64 = 70.0;
        const FRAMEWORK: &str = "#3b6fb6";
        const BASELINE: &str = "#e08a3c";

        let panels = self.backends.len().max(1);
        let height = TOP + PANEL * panels as f64 + 20.0;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            svg,
            r##"<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="28" text-anchor="middle" font-size="18" font-weight="bold">channels-api: requests per second by workload</text>"#,
            WIDTH / 2.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="48" text-anchor="middle" fill="#555555">{}</text>"##,
            WIDTH / 2.0,
            escape(&format!(
                "{} connections, median of {} round(s), {} mode, {}; load generator ceiling (echo): {} req/s",
                self.settings.connections,
                self.settings.rounds,
                self.mode,
                if self.pinning.is_some() {
                    "server and generator pinned to separate CPUs"
                } else {
                    "no CPU pinning"
                },
                thousands(self.generator_ceiling.requests_per_sec)
            ))
        );
        // The legend, top right.
        let legend_x = WIDTH - RIGHT - 370.0;
        for (i, (label, color)) in [
            ("framework (channels-api)", FRAMEWORK),
            ("baseline (hand-written)", BASELINE),
        ]
        .iter()
        .enumerate()
        {
            let x = legend_x + i as f64 * 195.0;
            let _ = writeln!(
                svg,
                r#"<rect x="{x}" y="{}" width="12" height="12" fill="{color}"/><text x="{}" y="{}">{label}</text>"#,
                TOP - 8.0,
                x + 17.0,
                TOP + 2.0
            );
        }
        for (index, backend) in self.backends.iter().enumerate() {
            let y0 = TOP + PANEL * index as f64;
            let plot_top = y0 + PLOT_TOP;
            let plot_bottom = y0 + PANEL - PLOT_BOTTOM;
            let plot_height = plot_bottom - plot_top;
            let plot_width = WIDTH - LEFT - RIGHT;
            let max = backend
                .workloads
                .iter()
                .flat_map(|w| [w.framework.requests_per_sec, w.baseline.requests_per_sec])
                .fold(0.0f64, f64::max);
            // The ceiling line is shown when it does not squash the bars.
            let ceiling = self.generator_ceiling.requests_per_sec;
            let scale = if ceiling <= max * 1.5 {
                max.max(ceiling)
            } else {
                max
            };
            let step = nice_step(scale, 5);
            let top_value = (scale / step).ceil().max(1.0) * step;
            let y_of = |v: f64| plot_bottom - v / top_value * plot_height;
            let _ = writeln!(
                svg,
                r#"<text x="{LEFT}" y="{}" font-size="15" font-weight="bold">{}</text>"#,
                y0 + 24.0,
                escape(backend.backend.name())
            );
            // Grid and y axis.
            let mut tick = 0.0;
            while tick <= top_value + step / 2.0 {
                let y = y_of(tick);
                let _ = writeln!(
                    svg,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#dddddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                    WIDTH - RIGHT,
                    LEFT - 8.0,
                    y + 4.0,
                    short(tick)
                );
                tick += step;
            }
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{plot_top:.1}" x2="{LEFT}" y2="{plot_bottom:.1}" stroke="#333333"/><line x1="{LEFT}" y1="{plot_bottom:.1}" x2="{}" y2="{plot_bottom:.1}" stroke="#333333"/>"##,
                WIDTH - RIGHT
            );
            let mid_y = (plot_top + plot_bottom) / 2.0;
            let _ = writeln!(
                svg,
                r#"<text x="22" y="{mid_y:.1}" text-anchor="middle" transform="rotate(-90 22 {mid_y:.1})">requests per second</text>"#
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">workload (ratio = framework / baseline)</text>"#,
                LEFT + plot_width / 2.0,
                plot_bottom + 52.0
            );
            // The bars.
            let groups = backend.workloads.len().max(1) as f64;
            let group_width = plot_width / groups;
            let bar = (group_width * 0.32).min(60.0);
            for (i, w) in backend.workloads.iter().enumerate() {
                let center = LEFT + group_width * (i as f64 + 0.5);
                for (value, x, color) in [
                    (w.framework.requests_per_sec, center - bar - 2.0, FRAMEWORK),
                    (w.baseline.requests_per_sec, center + 2.0, BASELINE),
                ] {
                    let y = y_of(value);
                    let _ = writeln!(
                        svg,
                        r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
                        (plot_bottom - y).max(0.0),
                        x + bar / 2.0,
                        y - 4.0,
                        short(value)
                    );
                }
                let _ = writeln!(
                    svg,
                    r##"<text x="{center:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{center:.1}" y="{:.1}" text-anchor="middle" fill="#555555" font-size="11">{:.2}×</text>"##,
                    plot_bottom + 18.0,
                    w.workload.name(),
                    plot_bottom + 33.0,
                    w.throughput_ratio
                );
            }
            if ceiling > 0.0 && ceiling <= top_value {
                let y = y_of(ceiling);
                let _ = writeln!(
                    svg,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#777777" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" fill="#555555" font-size="11">load generator ceiling (echo server)</text>"##,
                    WIDTH - RIGHT,
                    LEFT + 6.0,
                    y - 4.0
                );
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// `12.3`, or `-` when not measured.
fn milliseconds(ms: Option<f64>) -> String {
    ms.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}"))
}

/// How live data on changed the writes per second, from the ratio live on / live off: a
/// ratio above 1 (other load on the machine, since capture only adds work) reads as more.
fn capture_change(ratio: f64) -> String {
    let percent = ((1.0 - ratio) * 100.0).round();
    if percent < 0.0 {
        format!("{:.0}% more writes/s", -percent)
    } else {
        // `abs` turns the -0 of a ratio just above 1 into 0.
        format!("{:.0}% fewer writes/s", percent.abs())
    }
}

/// "met" or "**missed**".
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

impl Report {
    /// The "Live data" section: a table per measure, every backend measured in each.
    fn live_markdown(&self, md: &mut String) {
        use crate::live::{
            CAPTURE_TARGET_RATIO, EVENTS_TARGET_PER_CORE, FANOUT_P99_TARGET_MS,
            FANOUT_TARGET_SUBSCRIBERS, MEMORY_TARGET_BYTES,
        };
        let _ = writeln!(md, "## Live data\n");
        let measured: Vec<(Backend, &LiveResults)> = self
            .backends
            .iter()
            .filter_map(|b| b.live.as_ref().map(|l| (b.backend, l)))
            .collect();
        let Some((_, first)) = measured.first() else {
            let _ = writeln!(md, "Skipped.\n");
            return;
        };
        let s = &first.settings;
        let _ = writeln!(
            md,
            "The framework's live data (`subscribe`, the change log and its triggers), each \
             measure on a fresh server and database of its own. Targets on this machine: fan-out \
             p99 under {FANOUT_P99_TARGET_MS:.0} ms to {} subscribers on one process; at least \
             {} changes matching no subscription sifted per second of server CPU; at most {} B \
             of memory per idle subscription; at most {:.0}% fewer writes per second with live \
             data on.\n",
            thousands(FANOUT_TARGET_SUBSCRIBERS as f64),
            thousands(EVENTS_TARGET_PER_CORE),
            MEMORY_TARGET_BYTES,
            (1.0 - CAPTURE_TARGET_RATIO) * 100.0
        );
        let mut verdicts = Vec::new();

        let _ = writeln!(md, "### Fan-out latency\n");
        let _ = writeln!(
            md,
            "Subscribers to every row of `question`, {} subscriptions per connection (so the \
             connections stay under the server's default limit of 10,000), on one server \
             process. A writer patches one row, waits until every subscription has received \
             its `question.updated` event, pauses a random 0–20 ms, and repeats: {} updates \
             after {} unmeasured ones. Latency = from the update's answer to the arrival of \
             the last subscriber's event at the load generator (0 when all arrived before the \
             answer), which includes the generator reading every event frame on its one CPU. \
             **1 process**: the writes go through the subscribers' server, which reads the \
             change log right after its own write. **2 processes**: they go through a second \
             server process on the same database, and the subscribers' server finds them at \
             its next poll of the log (every 20 ms). CPU ms/update = CPU time of the \
             subscribers' server process, and of the load generator, over the run (warm-up \
             included) per update; the server and the generator each have one CPU.\n",
            s.fanout_subscriptions_per_connection, s.fanout_updates, s.fanout_warmup_updates
        );
        let _ = writeln!(
            md,
            "| backend | subscribers | connections | writes through | updates | p50 ms | p99 ms | max ms | p99 from the send, ms | server CPU ms/update | generator CPU ms/update |"
        );
        let _ = writeln!(md, "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|");
        let mut errors = Vec::new();
        for (backend, live) in &measured {
            for run in &live.fanout {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
                    backend.name(),
                    thousands(run.subscribers as f64),
                    thousands(run.connections as f64),
                    if run.processes == 1 {
                        "the same process"
                    } else {
                        "another process"
                    },
                    run.updates,
                    run.p50_ms,
                    run.p99_ms,
                    run.max_ms,
                    run.p99_from_send_ms,
                    milliseconds(run.server_cpu_ms_per_update),
                    milliseconds(run.generator_cpu_ms_per_update)
                );
                if let Some(error) = &run.error {
                    errors.push(format!(
                        "{}, {} subscribers, {} process(es): {error}",
                        backend.name(),
                        run.subscribers,
                        run.processes
                    ));
                }
            }
            let target = live
                .fanout
                .iter()
                .find(|r| r.processes == 1 && r.subscribers >= FANOUT_TARGET_SUBSCRIBERS);
            verdicts.push(match target {
                Some(run) => format!(
                    "Fan-out, {}: p99 {:.1} ms to {} subscribers on one process: {}.",
                    backend.name(),
                    run.p99_ms,
                    thousands(run.subscribers as f64),
                    verdict(run.error.is_none() && run.p99_ms < FANOUT_P99_TARGET_MS)
                ),
                None => format!(
                    "Fan-out, {}: not measured at {} subscribers in this run.",
                    backend.name(),
                    thousands(FANOUT_TARGET_SUBSCRIBERS as f64)
                ),
            });
        }
        let _ = writeln!(md);
        for error in errors {
            let _ = writeln!(md, "Stopped early: {error}\n");
        }

        let _ = writeln!(md, "### Events per second\n");
        let _ = writeln!(
            md,
            "{} connections each subscribe to one row (ids 1 to {}); one more subscribes to \
             a sentinel row. A direct database connection then writes, in one transaction, \
             changes that the triggers capture like any write: **matching none**: {} rows \
             no subscription is to, updated once each (one statement); **each matching \
             one**: the {} subscribed rows, updated {} times each ({} statements), so every \
             change is an event for one subscriber. Right after the commit, the sentinel row \
             is updated; the window runs from the commit to the sentinel's event (and, when \
             matching, to the last subscriber's last event). The server finds the commit at \
             its next poll of the log (at most 20 ms into the window). Changes per CPU-second \
             = changes / the server process's CPU time in the window: per core (PostgreSQL's \
             own processes, which run the reads of the log, are not in it; SQLite's work is).\n",
            thousands(s.events_subscriptions as f64),
            thousands(s.events_subscriptions as f64),
            thousands(s.events_non_matching_changes as f64),
            thousands(s.events_subscriptions as f64),
            s.events_all_matching_rounds,
            s.events_all_matching_rounds
        );
        let _ = writeln!(
            md,
            "| backend | changes | events delivered | written in s | sifted in s | changes/s | server CPU s | changes per CPU-second |"
        );
        let _ = writeln!(md, "|---|---|--:|--:|--:|--:|--:|--:|");
        for (backend, live) in &measured {
            for (label, run) in [
                ("matching none", &live.events.non_matching),
                ("each matching one", &live.events.all_matching),
            ] {
                let _ = writeln!(
                    md,
                    "| {} | {} {label} | {} | {:.2} | {:.2} | {} | {:.2} | {} |",
                    backend.name(),
                    thousands(run.changes as f64),
                    thousands(run.events as f64),
                    run.write_seconds,
                    run.seconds,
                    thousands(run.changes_per_sec),
                    run.server_cpu_seconds,
                    thousands(run.changes_per_cpu_sec)
                );
            }
            let run = &live.events.non_matching;
            verdicts.push(format!(
                "Events per second, {}: {} changes matching no subscription per CPU-second \
                 ({} per second of wall time): {}.",
                backend.name(),
                thousands(run.changes_per_cpu_sec),
                thousands(run.changes_per_sec),
                verdict(run.changes_per_cpu_sec >= EVENTS_TARGET_PER_CORE)
            ));
        }
        let _ = writeln!(
            md,
            "\nCPU time is read from /proc in ticks of 10 ms: a window under a second is \
             coarse.\n"
        );

        let _ = writeln!(md, "### Memory per idle subscription\n");
        let _ = writeln!(
            md,
            "{} idle connections opened to a fresh server (after one subscription, kept, that \
             warms live data up); its RSS read once it settles; then each connection subscribes \
             to one row, and more, step by step, the RSS read after each. Per subscription = \
             (RSS - RSS with the connections alone) / subscriptions; the first subscription of \
             a connection also sets up that connection's share of live data, which later ones \
             share; added = the growth from the step before, per subscription added.\n",
            thousands(s.memory_connections as f64)
        );
        let _ = writeln!(
            md,
            "| backend | connections | per connection | subscriptions per connection | subscriptions | per subscription | added |"
        );
        let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|--:|");
        for (backend, live) in &measured {
            let m = &live.memory;
            let mut previous: Option<&crate::live::SubscriptionStep> = None;
            for step in &m.steps {
                let added = previous.map_or_else(
                    || "-".to_owned(),
                    |p| {
                        per_connection(
                            (step.rss_bytes as f64 - p.rss_bytes as f64)
                                / (step.subscriptions - p.subscriptions).max(1) as f64,
                        )
                    },
                );
                let unsettled = if step.settled { "" } else { " (still moving)" };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {}{unsettled} | {added} |",
                    backend.name(),
                    thousands(m.connections as f64),
                    per_connection(m.bytes_per_connection),
                    step.per_connection,
                    thousands(step.subscriptions as f64),
                    per_connection(step.bytes_per_subscription)
                );
                previous = Some(step);
            }
            if let (Some(first), Some(last)) = (m.steps.first(), m.steps.last()) {
                let added = if m.steps.len() > 1 {
                    let before = &m.steps[m.steps.len() - 2];
                    let bytes = (last.rss_bytes as f64 - before.rss_bytes as f64)
                        / (last.subscriptions - before.subscriptions).max(1) as f64;
                    format!(
                        "; {bytes:.0} B per subscription added beyond the first of each \
                         connection: {}",
                        verdict(bytes <= MEMORY_TARGET_BYTES)
                    )
                } else {
                    String::new()
                };
                verdicts.push(format!(
                    "Memory, {}: {:.0} B per idle subscription with one per connection: {}; \
                     {:.0} B each with {} per connection: {}{added}.",
                    backend.name(),
                    first.bytes_per_subscription,
                    verdict(first.bytes_per_subscription <= MEMORY_TARGET_BYTES),
                    last.bytes_per_subscription,
                    last.per_connection,
                    verdict(last.bytes_per_subscription <= MEMORY_TARGET_BYTES)
                ));
            }
        }
        let _ = writeln!(md);

        let _ = writeln!(md, "### Capture cost\n");
        let _ = writeln!(
            md,
            "The `create` and `update` workloads (as above: {} connections, closed loop, \
             {:.2} s warm-up then {:.2} s measured, the median of {} round(s), the servers \
             alternating) on the framework server with live data on (the polls router: \
             `question` offers `subscribe`, so the server installs the change log and its \
             triggers; with no subscriber, as here, it does not read the log) and off (`serve \
             --no-live`: the same `question` methods, filters and page size from a model of \
             the same table without `subscribe`: no triggers, no log). Ratio = live on / \
             live off writes per second. With live data on, every write also inserts its \
             change, as JSON, into the log in the same transaction; on PostgreSQL that \
             shows in the database's CPU per write (its processes, all of them).\n",
            self.settings.connections,
            s.capture_warmup_seconds,
            s.capture_duration_seconds,
            self.settings.rounds
        );
        let _ = writeln!(
            md,
            "| backend | workload | live on writes/s | live off writes/s | ratio | ratio per round | live on p99 µs | live off p99 µs | live on CPU µs/req | live off CPU µs/req | live on database CPU µs/req | live off database CPU µs/req | errors |"
        );
        let _ = writeln!(md, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for (backend, live) in &measured {
            for c in &live.capture {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.2} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} / {} |",
                    backend.name(),
                    c.workload.name(),
                    thousands(c.live_on.requests_per_sec),
                    thousands(c.live_off.requests_per_sec),
                    c.ratio,
                    spread(&c.round_ratios),
                    c.live_on.p99_us,
                    c.live_off.p99_us,
                    micros(c.live_on.server_cpu_us_per_request),
                    micros(c.live_off.server_cpu_us_per_request),
                    micros(c.live_on.database_cpu_us_per_request),
                    micros(c.live_off.database_cpu_us_per_request),
                    c.live_on.errors,
                    c.live_off.errors
                );
                verdicts.push(format!(
                    "Capture cost, {} `{}`: {} with live data on: {}.",
                    backend.name(),
                    c.workload.name(),
                    capture_change(c.ratio),
                    verdict(c.ratio >= CAPTURE_TARGET_RATIO)
                ));
            }
        }
        let _ = writeln!(md, "\n### Targets\n");
        for line in verdicts {
            let _ = writeln!(md, "- {line}");
        }
        let _ = writeln!(md);
    }
}

/// A round step for about `ticks` grid lines up to `max`: 1, 2 or 5 times a power of ten.
pub(crate) fn nice_step(max: f64, ticks: u32) -> f64 {
    if max.is_nan() || max <= 0.0 || max.is_infinite() {
        return 1.0;
    }
    let raw = max / f64::from(ticks.max(1));
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalized = raw / magnitude;
    let factor = if normalized <= 1.0 {
        1.0
    } else if normalized <= 2.0 {
        2.0
    } else if normalized <= 5.0 {
        5.0
    } else {
        10.0
    };
    factor * magnitude
}

/// `12345` as `12.3k`.
fn short(value: f64) -> String {
    if value >= 1_000_000.0 {
        format!("{:.1}M", value / 1_000_000.0)
    } else if value >= 10_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else if value >= 1000.0 {
        format!("{:.1}k", value / 1000.0)
    } else {
        format!("{value:.0}")
    }
}

/// `text` safe inside an XML element.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stats(rps: f64, p99: f64) -> RunStats {
        let mut s = RunStats::from_latencies(vec![1000], 0, Duration::from_secs(1), None);
        s.requests_per_sec = rps;
        s.p99_us = p99;
        s
    }

    fn report() -> Report {
        Report {
            mode: "quick",
            date: "2025-01-01 00:00 UTC".into(),
            elapsed_seconds: 1.0,
            command: "cargo run".into(),
            machine: Machine {
                cpu_model: "Test CPU <1>".into(),
                cores: 2,
                allowed_cpus: vec![0, 1],
                memory_bytes: 1 << 30,
                kernel: "6.0".into(),
                load_average: "0.00 0.00 0.00".into(),
            },
            pinning: None,
            open_file_limit: 1024,
            settings: Settings {
                connections: 16,
                duration_seconds: 1.0,
                warmup_seconds: 0.25,
                rounds: 1,
                rows: 1000,
                page_size: 50,
                pool_size: 8,
                idle_connections_requested: vec![200],
                idle_connections: vec![200],
            },
            generator_ceiling: stats(50_000.0, 900.0),
            backends: vec![BackendResults {
                backend: Backend::Sqlite,
                workloads: vec![WorkloadResult::new(
                    Workload::Retrieve,
                    vec![stats(900.0, 20.0), stats(1000.0, 30.0), stats(1100.0, 10.0)],
                    vec![stats(2000.0, 15.0)],
                )],
                memory: None,
                pagination_depth: None,
                hostile: None,
                live: None,
            }],
        }
    }

    #[test]
    fn picks_the_median_round_and_ratios() {
        let r = report();
        let w = &r.backends[0].workloads[0];
        assert_eq!(w.framework.requests_per_sec, 1000.0);
        assert_eq!(w.throughput_ratio, 0.5);
        assert_eq!(w.p99_ratio, 2.0);
        assert_eq!(w.round_ratios, [0.45]);
        assert_eq!(spread(&[1.2, 0.9, 1.0]), "0.90–1.20");
        assert_eq!(spread(&[]), "-");
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(short(12_345.0), "12k");
        assert_eq!(short(1_234.0), "1.2k");
        assert_eq!(nice_step(12_345.0, 5), 5000.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
    }

    #[test]
    fn renders_every_format() {
        let r = report();
        let md = r.markdown();
        assert!(
            md.contains("| retrieve | 1,000 | 2,000 | 0.50 | 0.45 |"),
            "{md}"
        );
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
        let json: serde_json::Value = serde_json::from_str(&r.json().unwrap()).unwrap();
        assert_eq!(json["backends"][0]["workloads"][0]["workload"], "retrieve");
        let svg = r.svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("requests per second"));
        assert!(md.contains("## Pagination depth\n\nSkipped."), "{md}");
    }

    #[test]
    fn shows_where_the_cpu_goes_when_the_database_is_measured() {
        let mut r = report();
        assert!(!r.markdown().contains("Where the CPU goes"));
        let w = &mut r.backends[0].workloads[0];
        for (stats, server, database) in [
            (&mut w.framework, 50.0, 150.0),
            (&mut w.baseline, 80.0, 100.0),
        ] {
            stats.server_cpu_us_per_request = Some(server);
            stats.database_cpu_us_per_request = Some(database);
        }
        let md = r.markdown();
        assert!(
            md.contains("| retrieve | 50.0 | 150.0 | 80.0 | 100.0 | 1.50 | 1.11 |"),
            "{md}"
        );
    }

    #[test]
    fn renders_live_data_and_judges_the_targets() {
        use crate::live::*;
        let mut r = report();
        assert!(r.markdown().contains("## Live data\n\nSkipped."));
        let settings = LiveSettings::new(false, Duration::from_secs(10), Duration::from_secs(1));
        let fanout = |subscribers, processes, p99_ms| FanoutRun {
            subscribers,
            connections: subscribers / 10,
            processes,
            updates: 100,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            max_ms: p99_ms,
            p50_from_send_ms: p99_ms / 2.0,
            p99_from_send_ms: p99_ms,
            server_cpu_ms_per_update: Some(p99_ms / 3.0),
            generator_cpu_ms_per_update: None,
            error: None,
        };
        let events = |changes, cpu| EventsRun {
            changes,
            events: 0,
            write_seconds: 1.0,
            seconds: 2.0,
            server_cpu_seconds: cpu,
            changes_per_sec: changes as f64 / 2.0,
            changes_per_cpu_sec: changes as f64 / cpu,
        };
        let step = |per_connection, rss_bytes, bytes_per_subscription| SubscriptionStep {
            per_connection,
            subscriptions: per_connection * 1000,
            rss_bytes,
            bytes_per_subscription,
            settled: true,
        };
        r.backends[0].live = Some(LiveResults {
            settings,
            fanout: vec![fanout(1000, 1, 5.0), fanout(10_000, 1, 120.0)],
            events: EventsResult {
                subscriptions: 1000,
                non_matching: events(100_000, 1.0),
                all_matching: events(100_000, 4.0),
            },
            memory: SubscriptionMemory {
                connections: 1000,
                rss_connections_bytes: 10_000_000,
                bytes_per_connection: 6000.0,
                steps: vec![step(1, 12_000_000, 2000.0), step(10, 16_500_000, 650.0)],
            },
            capture: vec![CaptureResult::new(
                Workload::Create,
                vec![stats(950.0, 10.0)],
                vec![stats(1000.0, 10.0)],
            )],
        });
        let md = r.markdown();
        assert!(
            md.contains("| SQLite | 10,000 | 1,000 | the same process | 100 | 60.0 | 120.0 | 120.0 | 120.0 | 40.0 | - |"),
            "{md}"
        );
        assert!(
            md.contains("p99 120.0 ms to 10,000 subscribers on one process: **missed**"),
            "{md}"
        );
        assert!(
            md.contains("100,000 changes matching no subscription per CPU-second"),
            "{md}"
        );
        assert!(md.contains("with one per connection: **missed**; 650 B each with 10 per connection: met; 500 B per subscription added"), "{md}");
        assert!(
            md.contains("`create`: 5% fewer writes/s with live data on: met"),
            "{md}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.json().unwrap()).unwrap();
        assert_eq!(json["backends"][0]["live"]["capture"][0]["ratio"], 0.95);
    }

    #[test]
    fn capture_change_reads_as_more_or_fewer() {
        assert_eq!(capture_change(0.6), "40% fewer writes/s");
        assert_eq!(capture_change(1.0), "0% fewer writes/s");
        assert_eq!(capture_change(1.004), "0% fewer writes/s");
        assert_eq!(capture_change(1.44), "44% more writes/s");
    }

    #[test]
    fn renders_the_pagination_depth() {
        let mut r = report();
        let runs = crate::depth::requests(1_000_000)
            .into_iter()
            .zip([
                stats(1000.0, 30.0),
                stats(990.0, 31.0),
                stats(900.0, 40.0),
                stats(9.0, 4000.0),
            ])
            .collect();
        r.backends[0].pagination_depth = Some(PaginationDepth::new(1_000_000, false, 2.0, runs));
        let md = r.markdown();
        assert!(md.contains("### SQLite"), "{md}");
        assert!(md.contains("| cursor | 10,000 | 990 |"), "{md}");
        assert!(
            md.contains("| offset | **deep / first** | **0.01×** |"),
            "{md}"
        );
        assert!(md.contains("`\"cursor\": \"999900\"`"), "{md}");
        assert!(md.contains("the 999,900 rows"), "{md}");
        let json: serde_json::Value = serde_json::from_str(&r.json().unwrap()).unwrap();
        let modes = &json["backends"][0]["pagination_depth"]["modes"];
        assert_eq!(modes[1]["mode"], "offset");
        assert_eq!(modes[1]["deep_page"], 10_000);
    }
}
