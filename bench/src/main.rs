//! Benchmark of channels-api: throughput, latency and idle-connection memory of the polls
//! example, against a hand-written server on the same stack doing the same queries.
//!
//! ```text
//! cargo run --release -p channels-api-bench               # full run, writes docs/benchmarks.*
//! cargo run --release -p channels-api-bench -- --quick    # about a second per workload
//! cargo run --release -p channels-api-bench -- --postgres postgres://u:p@127.0.0.1/db
//! ```
//!
//! One run starts each server as a subprocess (this program, `serve`), pinned to its own
//! CPU when `taskset` allows; measures an echo server first to show the load generator's
//! own ceiling; then, for each database backend, runs every workload on the framework and
//! the baseline alternately, opens idle connections to read each server's memory per
//! connection, and times the first and a deep page of a large table on the framework, by
//! cursor and by page number; then measures live data on the framework: fan-out latency
//! to many subscribers, changes sifted per second, memory per subscription, and what
//! capturing changes costs the writes. See `--help`.

mod cli;
mod db;
mod depth;
mod hostile;
mod idle;
mod live;
mod load;
mod process;
mod report;
mod serve;
mod system;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cli::{Command, Options, Section, ServerKind};
use db::{Backend, FreshDb};
use depth::PaginationDepth;
use load::{Measured, PageMode, Plan, Rows, RunStats, Workload};
use process::ServerProcess;
use report::{BackendResults, HostilePair, MemoryPair, Report, Settings, WorkloadResult};
use system::Pinning;

fn main() {
    system::raise_nofile_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match cli::parse(&args) {
        Err(problem) => {
            eprintln!("error: {problem}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Ok(Command::Serve(options)) => serve::run(options),
        Ok(Command::Load(options)) => drive(&options),
        Ok(Command::Bench(options)) => bench(&options, &args),
    };
    // Every server and database was dropped inside the call, error or not.
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// Whether this program was built without optimizations: its servers then run several
/// times slower than they would in release, so its numbers say nothing of their speed.
/// Such a run still checks that the servers and the measurements work, and never writes
/// `docs/`.
pub(crate) const DEBUG_BUILD: bool = cfg!(debug_assertions);

/// Prints progress on standard error; standard output carries only the report.
macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("[bench] {}", format_args!($($arg)*)) };
}

/// The whole benchmark: every server it starts is stopped before this returns.
fn bench(options: &Options, args: &[String]) -> Result<(), String> {
    let started = Instant::now();
    if DEBUG_BUILD {
        progress!(
            "note: a debug build, whose numbers say nothing of either server's speed (build \
             with --release); the report goes to the target directory"
        );
    }
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let machine = system::Machine::detect();
    let pinning = if options.pin {
        system::pin_generator()
    } else {
        None
    };
    match &pinning {
        Some(p) => progress!(
            "pinned: servers on CPU {}, load generator on CPU {}",
            p.server_cpu,
            p.generator_cpu
        ),
        None => progress!("not pinned: servers and load generator share the CPUs"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let mut report = runtime.block_on(run(options, pinning, machine))?;
    report.date = date;
    report.command = command_line(args);
    report.elapsed_seconds = started.elapsed().as_secs_f64();

    let out = output_dir(options)?;
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let markdown = report.markdown();
    for (name, text) in [
        ("benchmarks.md", markdown.clone()),
        ("benchmarks.json", report.json()?),
        ("benchmarks.svg", report.svg()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    println!("{markdown}");
    progress!(
        "wrote {} (benchmarks.md, .json, .svg) in {:.0} s",
        out.display(),
        report.elapsed_seconds
    );
    Ok(())
}

/// `load`: seeds the database of a server started by hand when it is empty, restores it,
/// and runs one workload against the server.
fn drive(options: &cli::LoadOptions) -> Result<(), String> {
    let ids = db::seeded_ids(&options.db, options.rows)?;
    db::reset(&options.db, &ids)?;
    let plan = Plan {
        workload: options.workload,
        connections: options.connections,
        warmup: options.warmup,
        duration: options.duration,
        rows: Rows { ids: Arc::new(ids) },
        check_request_id: true,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let stats = runtime.block_on(load::run(options.addr, Measured::default(), &plan, 1))?;
    println!("{} {}", options.workload.name(), summary(&stats));
    Ok(())
}

/// Runs the ceiling, every backend's workloads and memory test.
async fn run(
    options: &Options,
    pinning: Option<Pinning>,
    machine: system::Machine,
) -> Result<Report, String> {
    let cpu = pinning.map(|p| p.server_cpu);
    let open_file_limit = system::nofile_soft_limit();
    let idle_counts = idle::fit_counts(&options.idle_counts, open_file_limit);

    progress!(
        "load generator ceiling: echo server, noop, {} connections",
        options.connections
    );
    let echo = ServerProcess::start(ServerKind::Echo, None, cpu)?;
    let plan = Plan {
        workload: Workload::Noop,
        connections: options.connections,
        warmup: options.warmup,
        duration: options.duration,
        rows: Rows {
            ids: Arc::new(vec![1]),
        },
        check_request_id: false,
    };
    let ceiling = load::run(echo.addr(), Measured::server(echo.pid()), &plan, 1).await?;
    progress!("  echo: {}", summary(&ceiling));
    drop(echo);

    let mut backends = vec![Backend::Sqlite];
    if options.postgres.is_some() {
        backends.push(Backend::Postgres);
    }
    let mut results = Vec::new();
    for backend in backends {
        results.push(run_backend(backend, options, cpu, &idle_counts).await?);
    }
    Ok(Report {
        mode: options.mode(),
        date: String::new(),
        elapsed_seconds: 0.0,
        command: String::new(),
        machine,
        pinning,
        open_file_limit,
        settings: Settings {
            connections: options.connections,
            duration_seconds: options.duration.as_secs_f64(),
            warmup_seconds: options.warmup.as_secs_f64(),
            rounds: options.rounds,
            rows: options.rows,
            page_size: load::PAGE_SIZE,
            pool_size: serve::POOL_SIZE,
            idle_connections_requested: options.idle_counts.clone(),
            idle_connections: idle_counts,
        },
        generator_ceiling: ceiling,
        backends: results,
    })
}

/// A fresh, empty database of `backend`.
async fn fresh_db(backend: Backend, options: &Options, label: &str) -> Result<FreshDb, String> {
    let label = label.to_owned();
    let server = options.postgres.clone();
    blocking(move || match backend {
        Backend::Sqlite => FreshDb::sqlite(&label),
        Backend::Postgres => FreshDb::postgres(server.as_deref().unwrap_or_default(), &label),
    })
    .await
}

/// Runs `work` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("a database task failed: {e}"))?
}

/// A server under test, its database and the ids seeded into it.
struct Subject {
    kind: ServerKind,
    server: ServerProcess,
    rows: Rows,
    /// The PostgreSQL server's main process, when it runs on this machine.
    database_pid: Option<u32>,
    // Dropped after the server, which uses it.
    db: FreshDb,
}

impl Subject {
    async fn start(
        kind: ServerKind,
        backend: Backend,
        options: &Options,
        cpu: Option<usize>,
    ) -> Result<Self, String> {
        Self::start_with(kind, backend, options, cpu, &[], kind.name()).await
    }

    /// [`Subject::start`] with `extra` arguments to `serve`, named `label`.
    async fn start_with(
        kind: ServerKind,
        backend: Backend,
        options: &Options,
        cpu: Option<usize>,
        extra: &[&str],
        label: &str,
    ) -> Result<Self, String> {
        let db = fresh_db(backend, options, label).await?;
        let server = ServerProcess::start_with(kind, Some(&db.url), cpu, extra)?;
        progress!(
            "  {} server: pid {}, ws://{}/",
            label,
            server.pid(),
            server.addr()
        );
        let url = db.url.clone();
        let rows = options.rows;
        let ids = blocking(move || db::seed(&url, rows)).await?;
        let url = db.url.clone();
        let database_pid = blocking(move || Ok(db::local_postgres_pid(&url))).await?;
        Ok(Self {
            kind,
            server,
            rows: Rows { ids: Arc::new(ids) },
            database_pid,
            db,
        })
    }

    /// Restores the seeded table, then runs `plan` (with the subject's rows).
    async fn run(&mut self, plan: &Plan, seed: u64) -> Result<RunStats, String> {
        let url = self.db.url.clone();
        let ids = self.rows.ids.clone();
        blocking(move || db::reset(&url, &ids)).await?;
        self.server.check_alive()?;
        let plan = Plan {
            rows: self.rows.clone(),
            ..plan.clone()
        };
        let measured = Measured {
            server: Some(self.server.pid()),
            database: self.database_pid,
        };
        let stats = load::run(self.server.addr(), measured, &plan, seed).await?;
        self.server.check_alive()?;
        Ok(stats)
    }
}

/// Every workload, alternating the servers, then the memory test, on one backend.
async fn run_backend(
    backend: Backend,
    options: &Options,
    cpu: Option<usize>,
    idle_counts: &[usize],
) -> Result<BackendResults, String> {
    let workloads = if options.runs(Section::Workloads) {
        workloads(backend, options, cpu).await?
    } else {
        Vec::new()
    };
    let memory = if idle_counts.is_empty() || !options.runs(Section::Memory) {
        None
    } else {
        let settle = if options.quick {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(15)
        };
        let framework = memory(
            ServerKind::Framework,
            backend,
            options,
            cpu,
            idle_counts,
            settle,
        )
        .await?;
        let baseline = memory(
            ServerKind::Baseline,
            backend,
            options,
            cpu,
            idle_counts,
            settle,
        )
        .await?;
        Some(MemoryPair {
            framework,
            baseline,
        })
    };
    let pagination_depth = if options.depth_rows == 0 || !options.runs(Section::Depth) {
        None
    } else {
        Some(pagination_depth(backend, options, cpu).await?)
    };
    // The socket's behaviour does not depend on the database: measured once, on SQLite.
    let hostile = if options.quick || backend != Backend::Sqlite || !options.runs(Section::Hostile)
    {
        None
    } else {
        Some(HostilePair {
            framework: hostile(ServerKind::Framework, backend, options, cpu).await?,
            baseline: hostile(ServerKind::Baseline, backend, options, cpu).await?,
        })
    };
    let live = if options.runs(Section::Live) {
        Some(live_data(backend, options, cpu).await?)
    } else {
        None
    };
    Ok(BackendResults {
        backend,
        workloads,
        memory,
        pagination_depth,
        hostile,
        live,
    })
}

/// Every workload on one backend, alternating the framework and the baseline.
async fn workloads(
    backend: Backend,
    options: &Options,
    cpu: Option<usize>,
) -> Result<Vec<WorkloadResult>, String> {
    progress!("{}: starting the servers", backend.name());
    let mut framework = Subject::start(ServerKind::Framework, backend, options, cpu).await?;
    let mut baseline = Subject::start(ServerKind::Baseline, backend, options, cpu).await?;
    if framework.rows.ids != baseline.rows.ids {
        progress!("  note: the two databases seeded different ids");
    }
    let probe_id = framework.rows.ids[0];
    load::check_same_answers(framework.server.addr(), baseline.server.addr(), probe_id).await?;
    progress!("  the baseline answers every probe in the framework's shape");

    let mut workloads = Vec::new();
    for (w, &workload) in options.workloads.iter().enumerate() {
        let plan = Plan {
            workload,
            connections: options.connections,
            warmup: options.warmup,
            duration: options.duration,
            rows: framework.rows.clone(),
            check_request_id: true,
        };
        let names = [framework.kind.name(), baseline.kind.name()];
        let label = format!("  {} {:<8}", backend.name(), workload.name());
        let subjects = [&mut framework, &mut baseline];
        let rounds = alternate(subjects, names, &plan, options.rounds, w, &label).await?;
        let [f, b] = rounds;
        let result = WorkloadResult::new(workload, f, b);
        progress!(
            "  {} {}: throughput ratio {:.2}, p99 ratio {:.2}",
            backend.name(),
            workload.name(),
            result.throughput_ratio,
            result.p99_ratio
        );
        workloads.push(result);
    }
    drop(framework);
    drop(baseline);
    Ok(workloads)
}

/// The live data measurements on one backend, each on a fresh database and server.
async fn live_data(
    backend: Backend,
    options: &Options,
    cpu: Option<usize>,
) -> Result<live::LiveResults, String> {
    let settings = live::LiveSettings::new(options.quick, options.duration, options.warmup);
    let name = backend.name();
    progress!(
        "  {name} live data: fan-out to {:?} subscribers ({} subscriptions to every row per \
         connection), {} updates each, written through the subscribers' server and through \
         a second one",
        settings.fanout_subscribers,
        settings.fanout_subscriptions_per_connection,
        settings.fanout_updates
    );
    let db = fresh_db(backend, options, "fanout").await?;
    let fanout = live::measure_fanout(&db.url, cpu, &settings, |run| {
        progress!(
            "    {name} {} subscribers, {} process(es): p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms \
             after the answer ({} updates){}",
            run.subscribers,
            run.processes,
            run.p50_ms,
            run.p99_ms,
            run.max_ms,
            run.updates,
            run.error
                .as_ref()
                .map(|e| format!("; stopped: {e}"))
                .unwrap_or_default()
        );
    })
    .await?;
    drop(db);

    progress!(
        "  {name} live data: changes sifted per second, {} one-row subscriptions",
        settings.events_subscriptions
    );
    let db = fresh_db(backend, options, "events").await?;
    let events = live::measure_events(&db.url, cpu, &settings).await?;
    drop(db);
    for (label, run) in [
        ("matching none", &events.non_matching),
        ("each matching one", &events.all_matching),
    ] {
        progress!(
            "    {name} {label}: {} changes in {:.2} s, {} changes/s, {} per CPU-second \
             ({} events)",
            run.changes,
            run.seconds,
            report::thousands(run.changes_per_sec),
            report::thousands(run.changes_per_cpu_sec),
            run.events
        );
    }

    progress!(
        "  {name} live data: memory of idle subscriptions on {} connections",
        settings.memory_connections
    );
    let settle = if options.quick {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(15)
    };
    let db = fresh_db(backend, options, "subscriptions").await?;
    let memory = live::measure_memory(&db.url, cpu, &settings, settle).await?;
    drop(db);
    for step in &memory.steps {
        progress!(
            "    {name} {} subscriptions ({} per connection): {:.0} bytes per subscription{}",
            step.subscriptions,
            step.per_connection,
            step.bytes_per_subscription,
            if step.settled {
                ""
            } else {
                " (RSS still moving)"
            }
        );
    }

    progress!("  {name} live data: capture cost, writes with live data on and off");
    let mut on = Subject::start(ServerKind::Framework, backend, options, cpu).await?;
    let mut off = Subject::start_with(
        ServerKind::Framework,
        backend,
        options,
        cpu,
        &["--no-live"],
        "framework_no_live",
    )
    .await?;
    let mut capture = Vec::new();
    for (w, workload) in [Workload::Create, Workload::Update].into_iter().enumerate() {
        let plan = Plan {
            workload,
            connections: options.connections,
            warmup: Duration::from_secs_f64(settings.capture_warmup_seconds),
            duration: Duration::from_secs_f64(settings.capture_duration_seconds),
            rows: on.rows.clone(),
            check_request_id: true,
        };
        let label = format!("    {name} {:<6}", workload.name());
        let names = ["live on", "live off"];
        let rounds =
            alternate([&mut on, &mut off], names, &plan, options.rounds, w, &label).await?;
        let [a, b] = rounds;
        let result = live::CaptureResult::new(workload, a, b);
        progress!(
            "  {name} {}: live on / off writes/s {:.2}",
            workload.name(),
            result.ratio
        );
        capture.push(result);
    }
    drop(on);
    drop(off);
    Ok(live::LiveResults {
        settings,
        fanout,
        events,
        memory,
        capture,
    })
}

/// The first and the deep page, by cursor and by number, on a fresh framework server whose
/// table holds `options.depth_rows` rows.
async fn pagination_depth(
    backend: Backend,
    options: &Options,
    cpu: Option<usize>,
) -> Result<PaginationDepth, String> {
    let rows = options.depth_rows;
    progress!(
        "  {} pagination depth: {} rows, pages of {}, framework server",
        backend.name(),
        report::thousands(rows as f64),
        depth::PAGE_SIZE
    );
    let db = fresh_db(backend, options, "depth").await?;
    let mut server = ServerProcess::start(ServerKind::Framework, Some(&db.url), cpu)?;
    let filling = Instant::now();
    let url = db.url.clone();
    blocking(move || db::fill(&url, rows)).await?;
    let fill_seconds = filling.elapsed().as_secs_f64();
    progress!("    table filled and analyzed in {fill_seconds:.2} s");
    let mut runs = Vec::new();
    for request in depth::requests(rows) {
        server.check_alive()?;
        let plan = depth::plan(request, options.quick);
        let stats = load::run(server.addr(), Measured::server(server.pid()), &plan, 0).await?;
        progress!(
            "    {} {} page {:<6} {}",
            backend.name(),
            request.mode.name(),
            request.page,
            summary(&stats)
        );
        runs.push((request, stats));
    }
    server.check_alive()?;
    drop(server);
    drop(db);
    let result = PaginationDepth::new(rows, options.quick, fill_seconds, runs);
    let ratios = |mode| {
        result.mode(mode).map_or_else(String::new, |m| {
            format!(
                "{} {:.2}× the requests/s, {:.2}× the p50",
                mode.name(),
                m.throughput_ratio,
                m.p50_ratio
            )
        })
    };
    progress!(
        "  {} pagination depth, page {} against page 1: {}; {}",
        backend.name(),
        depth::deep_page(rows),
        ratios(PageMode::Cursor),
        ratios(PageMode::Offset)
    );
    Ok(result)
}

/// What hostile clients cost a fresh server of `kind`.
async fn hostile(
    kind: ServerKind,
    backend: Backend,
    options: &Options,
    cpu: Option<usize>,
) -> Result<hostile::HostileStats, String> {
    progress!(
        "  {} hostile clients: large messages, a client that never reads, half-open \
         handshakes, {} server",
        backend.name(),
        kind.name()
    );
    let db = fresh_db(backend, options, kind.name()).await?;
    let mut server = ServerProcess::start(kind, Some(&db.url), cpu)?;
    let stats = hostile::measure(&mut server).await?;
    progress!(
        "    {:.0} B per idle connection after a large message; {} KiB accepted from a \
         client that never reads, RSS {:+} KiB; {:.0} B per half-open handshake, a normal \
         client served in {:.1} ms meanwhile",
        stats.after_large_bytes_per_connection,
        stats.pipelined_bytes_accepted / 1024,
        stats.pipelined_rss_growth_bytes / 1024,
        stats.half_open_bytes_per_connection,
        stats.served_during_half_open_ms
    );
    server.check_alive()?;
    drop(server);
    drop(db);
    Ok(stats)
}

/// The memory test of a fresh server of `kind`.
async fn memory(
    kind: ServerKind,
    backend: Backend,
    options: &Options,
    cpu: Option<usize>,
    counts: &[usize],
    settle: Duration,
) -> Result<idle::MemoryStats, String> {
    progress!(
        "  {} memory: {} idle connections to the {} server",
        backend.name(),
        counts
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" then "),
        kind.name()
    );
    let db = fresh_db(backend, options, kind.name()).await?;
    let mut server = ServerProcess::start(kind, Some(&db.url), cpu)?;
    let stats = idle::measure(&mut server, counts, settle).await?;
    for step in &stats.steps {
        progress!(
            "    {} connections: {:.0} bytes per connection{}",
            step.connections,
            step.bytes_per_connection,
            if step.settled {
                ""
            } else {
                " (RSS still moving)"
            }
        );
    }
    drop(server);
    drop(db);
    Ok(stats)
}

/// Runs `plan` `rounds` times on each of two subjects (the `w`-th plan of a series),
/// both with the same random requests in a round and taking turns to go first, so that
/// neither always runs on a warmer machine; reports each run under `label` and the
/// subject's name. The runs of each subject.
async fn alternate(
    subjects: [&mut Subject; 2],
    names: [&str; 2],
    plan: &Plan,
    rounds: usize,
    w: usize,
    label: &str,
) -> Result<[Vec<RunStats>; 2], String> {
    let mut runs = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let seed = ((w as u64) << 32) | round as u64;
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let stats = subjects[i].run(plan, seed).await?;
            progress!(
                "{label} round {}/{rounds} {:<9} {}",
                round + 1,
                names[i],
                summary(&stats)
            );
            runs[i].push(stats);
        }
    }
    Ok(runs)
}

/// One line about a run.
fn summary(stats: &RunStats) -> String {
    format!(
        "{:>9} req/s  p50 {:>6.0} µs  p99 {:>6.0} µs  server CPU {:>5.1} µs/req{}  errors {}",
        report::thousands(stats.requests_per_sec),
        stats.p50_us,
        stats.p99_us,
        stats.server_cpu_us_per_request.unwrap_or(f64::NAN),
        stats
            .database_cpu_us_per_request
            .map(|us| format!("  database CPU {us:>5.1} µs/req"))
            .unwrap_or_default(),
        stats.errors
    ) + &stats
        .first_error
        .as_ref()
        .map(|e| format!(" (first: {})", load::clip(e)))
        .unwrap_or_default()
}

/// Where the report goes: `--out`, else `docs/` of the workspace in full mode of a release
/// build, else a directory in the build's target directory (so a quick run, or a debug
/// build's, leaves the sources alone).
fn output_dir(options: &Options) -> Result<PathBuf, String> {
    if let Some(out) = &options.out {
        return Ok(out.clone());
    }
    if !options.quick && !DEBUG_BUILD {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("cannot find the workspace directory")?;
        return Ok(workspace.join("docs"));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    // .../target/release/channels-api-bench (or debug/): the target directory is two
    // levels up.
    let target = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    Ok(target.join("channels-api-bench"))
}

/// The command that produced the report, with any password hidden.
fn command_line(args: &[String]) -> String {
    let profile = if DEBUG_BUILD { "" } else { " --release" };
    let mut line = format!("cargo run{profile} -p channels-api-bench");
    if !args.is_empty() {
        line.push_str(" --");
        for arg in args {
            line.push(' ');
            line.push_str(&db::redact(arg));
        }
    }
    line
}
