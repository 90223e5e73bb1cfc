//! Command-line arguments, parsed by hand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::load::Workload;

/// The environment variable that names a PostgreSQL server to benchmark on as well.
pub(crate) const POSTGRES_URL_VAR: &str = "CHANNELS_API_BENCH_POSTGRES_URL";

/// The environment variable through which the benchmark hands a server its database URL,
/// so that a password never shows in the process list.
pub(crate) const SERVE_DB_VAR: &str = "CHANNELS_API_BENCH_DB_URL";

pub(crate) const USAGE: &str = "\
usage: channels-api-bench [OPTIONS]
       channels-api-bench serve --kind framework|baseline|echo [--addr 127.0.0.1:PORT] [--db URL] [--no-live]
       channels-api-bench load --addr 127.0.0.1:PORT --db URL [--workload W] [OPTIONS]

Measures the polls example served by channels-api against a hand-written tokio-tungstenite
server doing the same queries, and writes docs/benchmarks.{md,json,svg}. Build it with
--release: a debug build's numbers say nothing of speed, and it writes to the target
directory instead.

options:
  --quick                about one second per workload, fewer idle connections; writes
                         to the target directory unless --out is given
  --connections N        concurrent closed-loop connections (default 16)
  --duration SECS        measured seconds of each run (default 10, quick 1)
  --warmup SECS          unmeasured seconds before each run (default 1, quick 0.25)
  --rounds N             framework/baseline alternations per workload; the median round
                         is reported (default 3, quick 1)
  --rows N               rows seeded before the runs (default 1000)
  --workloads LIST       comma-separated subset of create,retrieve,list,update,mixed,noop,stall
  --idle LIST            idle connection counts of the memory test (default 1000,10000;
                         quick 200,1000); `--idle 0` skips the memory test
  --depth-rows N         rows of the pagination depth measurement, which times the first
                         and a deep page by cursor and by number on the framework
                         (default 1000000, quick 100000); 0 skips it
  --sections LIST        comma-separated subset of workloads,memory,depth,hostile,live
                         (default: all of them); the load generator ceiling always runs
  --postgres URL         also run everything on this PostgreSQL server (default: the
                         CHANNELS_API_BENCH_POSTGRES_URL environment variable)
  --out DIR              where to write benchmarks.{md,json,svg}
  --no-pin               do not pin the server and the load generator to separate CPUs
  -h, --help             this text

serve (started by the benchmark itself; also handy for profiling):
  --kind KIND            framework, baseline or echo
  --addr ADDR            a 127.0.0.x address to listen on (default 127.0.0.1:0); the
                         address bound is printed as `listening on ADDR`
  --db URL               sqlite://FILE or postgres://... (default: the
                         CHANNELS_API_BENCH_DB_URL environment variable)
  --exit-on-stdin-eof    exit when standard input closes (the benchmark's lifeline)
  --no-live              framework only: serve `question` without `subscribe`, so no
                         change log and no triggers (the live data capture comparison)

load (drives a server started by hand, for instance under a profiler):
  --addr ADDR            the server's 127.0.0.x address
  --db URL               the server's database: seeded when empty, reset before the run
  --workload W           one of create,retrieve,list,update,mixed,noop,stall (default mixed)
  --connections N, --duration SECS, --warmup SECS, --rows N   as above";

/// What to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Run the benchmark.
    Bench(Options),
    /// Run one server.
    Serve(ServeOptions),
    /// Drive a running server.
    Load(LoadOptions),
    /// Print the usage.
    Help,
}

/// The settings of a benchmark run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) connections: usize,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) rounds: usize,
    pub(crate) rows: usize,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) idle_counts: Vec<usize>,
    /// Rows of the pagination depth measurement; 0 skips it.
    pub(crate) depth_rows: usize,
    pub(crate) postgres: Option<String>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) pin: bool,
    /// The sections of the report to measure.
    pub(crate) sections: Vec<Section>,
}

impl Options {
    fn defaults(quick: bool) -> Self {
        Self {
            quick,
            connections: 16,
            duration: Duration::from_secs(if quick { 1 } else { 10 }),
            warmup: Duration::from_millis(if quick { 250 } else { 1000 }),
            rounds: if quick { 1 } else { 3 },
            rows: 1000,
            workloads: Workload::ALL.to_vec(),
            idle_counts: if quick {
                vec![200, 1000]
            } else {
                vec![1000, 10_000]
            },
            depth_rows: crate::depth::default_rows(quick),
            postgres: None,
            out: None,
            pin: true,
            sections: Section::ALL.to_vec(),
        }
    }

    /// Whether `section` is measured.
    pub(crate) fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    /// "quick" or "full".
    pub(crate) fn mode(&self) -> &'static str {
        if self.quick { "quick" } else { "full" }
    }
}

/// A section of the benchmark, which `--sections` can skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// The workloads on the framework and the baseline.
    Workloads,
    /// Memory per idle connection.
    Memory,
    /// The pagination depth measurement.
    Depth,
    /// Hostile clients.
    Hostile,
    /// Live data: fan-out, events per second, memory per subscription, capture cost.
    Live,
}

impl Section {
    /// Every section, in the order they run.
    pub(crate) const ALL: [Section; 5] = [
        Section::Workloads,
        Section::Memory,
        Section::Depth,
        Section::Hostile,
        Section::Live,
    ];

    /// The section's name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Workloads => "workloads",
            Section::Memory => "memory",
            Section::Depth => "depth",
            Section::Hostile => "hostile",
            Section::Live => "live",
        }
    }
}

/// Which server `serve` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ServerKind {
    /// The polls example on channels-api.
    Framework,
    /// The hand-written tokio-tungstenite + Diesel server.
    Baseline,
    /// Answers every frame with a constant, at once.
    Echo,
}

impl ServerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServerKind::Framework => "framework",
            ServerKind::Baseline => "baseline",
            ServerKind::Echo => "echo",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "framework" => Ok(ServerKind::Framework),
            "baseline" => Ok(ServerKind::Baseline),
            "echo" => Ok(ServerKind::Echo),
            other => Err(format!(
                "unknown server kind `{other}`: use framework, baseline or echo"
            )),
        }
    }
}

/// The settings of `serve`.
#[derive(Debug, Clone)]
pub(crate) struct ServeOptions {
    pub(crate) kind: ServerKind,
    pub(crate) addr: SocketAddr,
    pub(crate) db: Option<String>,
    pub(crate) exit_on_stdin_eof: bool,
    /// Framework only: whether `question` offers `subscribe` (and so the triggers run).
    pub(crate) live: bool,
}

/// The settings of `load`.
#[derive(Debug, Clone)]
pub(crate) struct LoadOptions {
    pub(crate) addr: SocketAddr,
    pub(crate) db: String,
    pub(crate) workload: Workload,
    pub(crate) connections: usize,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) rows: usize,
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        Some("serve") => return parse_serve(&args[1..]).map(Command::Serve),
        Some("load") => return parse_load(&args[1..]).map(Command::Load),
        _ => {}
    }
    let quick = args.iter().any(|a| a == "--quick");
    let mut options = Options::defaults(quick);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--quick" => {}
            "--no-pin" => options.pin = false,
            "--connections" => {
                options.connections = parse_count(&value(arg)?, "--connections", 1, 4096)?
            }
            "--duration" => options.duration = parse_seconds(&value(arg)?, "--duration", 0.1)?,
            "--warmup" => options.warmup = parse_seconds(&value(arg)?, "--warmup", 0.0)?,
            "--rounds" => options.rounds = parse_count(&value(arg)?, "--rounds", 1, 100)?,
            "--rows" => options.rows = parse_count(&value(arg)?, "--rows", 50, 1_000_000)?,
            "--workloads" => options.workloads = parse_workloads(&value(arg)?)?,
            "--idle" => options.idle_counts = parse_idle(&value(arg)?)?,
            "--depth-rows" => options.depth_rows = parse_depth_rows(&value(arg)?)?,
            "--postgres" => options.postgres = Some(value(arg)?),
            "--out" => options.out = Some(PathBuf::from(value(arg)?)),
            "--sections" => options.sections = parse_sections(&value(arg)?)?,
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    if options.postgres.is_none() {
        options.postgres = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|url| !url.trim().is_empty());
    }
    if let Some(url) = &options.postgres
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return Err("--postgres needs a postgres:// URL".into());
    }
    Ok(Command::Bench(options))
}

fn parse_serve(args: &[String]) -> Result<ServeOptions, String> {
    let mut kind = None;
    let mut addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut db = None;
    let mut exit_on_stdin_eof = false;
    let mut live = true;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--kind" => kind = Some(ServerKind::parse(&value(arg)?)?),
            "--addr" => {
                let text = value(arg)?;
                addr = text
                    .parse()
                    .map_err(|_| format!("--addr `{text}` is not an IP:PORT address"))?;
            }
            "--db" => db = Some(value(arg)?),
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            "--no-live" => live = false,
            other => return Err(format!("unknown serve argument `{other}` (see --help)")),
        }
    }
    if !is_local(&addr) {
        return Err(format!(
            "--addr {addr}: the benchmark only listens on 127.0.0.x addresses"
        ));
    }
    let kind = kind.ok_or("serve needs --kind framework|baseline|echo")?;
    if !live && kind != ServerKind::Framework {
        return Err("--no-live applies to the framework server only".into());
    }
    if db.is_none() {
        db = std::env::var(SERVE_DB_VAR).ok().filter(|u| !u.is_empty());
    }
    if kind != ServerKind::Echo && db.is_none() {
        return Err(format!(
            "the {} server needs --db URL (or {SERVE_DB_VAR})",
            kind.name()
        ));
    }
    Ok(ServeOptions {
        kind,
        addr,
        db,
        exit_on_stdin_eof,
        live,
    })
}

fn parse_load(args: &[String]) -> Result<LoadOptions, String> {
    let defaults = Options::defaults(false);
    let mut addr = None;
    let mut db = None;
    let mut options = LoadOptions {
        addr: ([127, 0, 0, 1], 0).into(),
        db: String::new(),
        workload: Workload::Mixed,
        connections: defaults.connections,
        duration: defaults.duration,
        warmup: defaults.warmup,
        rows: defaults.rows,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--addr" => {
                let text = value(arg)?;
                addr = Some(
                    text.parse::<SocketAddr>()
                        .map_err(|_| format!("--addr `{text}` is not an IP:PORT address"))?,
                );
            }
            "--db" => db = Some(value(arg)?),
            "--workload" => {
                let [workload] = parse_workloads(&value(arg)?)?[..] else {
                    return Err("--workload names one workload".into());
                };
                options.workload = workload;
            }
            "--connections" => {
                options.connections = parse_count(&value(arg)?, "--connections", 1, 4096)?
            }
            "--duration" => options.duration = parse_seconds(&value(arg)?, "--duration", 0.1)?,
            "--warmup" => options.warmup = parse_seconds(&value(arg)?, "--warmup", 0.0)?,
            "--rows" => options.rows = parse_count(&value(arg)?, "--rows", 50, 1_000_000)?,
            other => return Err(format!("unknown load argument `{other}` (see --help)")),
        }
    }
    options.addr = addr.ok_or("load needs --addr 127.0.0.x:PORT")?;
    if !is_local(&options.addr) {
        return Err(format!(
            "--addr {}: the benchmark only connects to 127.0.0.x addresses",
            options.addr
        ));
    }
    options.db = db.ok_or("load needs --db URL, the server's database")?;
    Ok(options)
}

/// Whether `addr` is one of the 127.0.0.x addresses the benchmark may use.
pub(crate) fn is_local(addr: &SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(ip) => {
            let [a, b, c, _] = ip.octets();
            (a, b, c) == (127, 0, 0)
        }
        std::net::IpAddr::V6(_) => false,
    }
}

fn parse_count(text: &str, name: &str, min: usize, max: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{name} must be a whole number from {min} to {max}")),
    }
}

fn parse_seconds(text: &str, name: &str, min: f64) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= min && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{name} must be a number of seconds from {min} to 3600"
        )),
    }
}

fn parse_workloads(text: &str) -> Result<Vec<Workload>, String> {
    let mut workloads = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let workload = Workload::ALL
            .iter()
            .copied()
            .find(|w| w.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown workload `{name}`: use create,retrieve,list,update,mixed,noop,stall"
                )
            })?;
        if !workloads.contains(&workload) {
            workloads.push(workload);
        }
    }
    if workloads.is_empty() {
        return Err("--workloads names no workload".into());
    }
    Ok(workloads)
}

fn parse_sections(text: &str) -> Result<Vec<Section>, String> {
    let mut sections = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let section = Section::ALL
            .iter()
            .copied()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                format!("unknown section `{name}`: use workloads,memory,depth,hostile,live")
            })?;
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    if sections.is_empty() {
        return Err("--sections names no section".into());
    }
    Ok(sections)
}

/// 0, or enough rows for ten pages of the depth measurement.
fn parse_depth_rows(text: &str) -> Result<usize, String> {
    const MIN: usize = 10 * crate::depth::PAGE_SIZE as usize;
    const MAX: usize = 10_000_000;
    match text.parse::<usize>() {
        Ok(n) if n == 0 || (MIN..=MAX).contains(&n) => Ok(n),
        _ => Err(format!(
            "--depth-rows must be 0 (skip) or a whole number from {MIN} to {MAX}"
        )),
    }
}

fn parse_idle(text: &str) -> Result<Vec<usize>, String> {
    let mut counts = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n = parse_count(part, "--idle", 0, 100_000)?;
        if n > 0 {
            counts.push(n);
        }
    }
    counts.sort_unstable();
    counts.dedup();
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn bench(text: &str) -> Options {
        match parse(&args(text)) {
            Ok(Command::Bench(options)) => options,
            other => panic!("expected bench options, got {other:?}"),
        }
    }

    #[test]
    fn defaults_depend_on_the_mode() {
        let full = bench("--postgres postgres://u@h/d");
        assert!(!full.quick);
        assert_eq!(full.connections, 16);
        assert_eq!(full.duration, Duration::from_secs(10));
        assert!(full.rounds >= 2);
        assert_eq!(full.idle_counts, [1000, 10_000]);
        assert_eq!(full.depth_rows, 1_000_000);
        let quick = bench("--quick --connections 4 --postgres postgres://u@h/d");
        assert!(quick.quick);
        assert_eq!(quick.connections, 4);
        assert_eq!(quick.duration, Duration::from_secs(1));
        assert_eq!(quick.rounds, 1);
        assert_eq!(quick.idle_counts, [200, 1000]);
        assert_eq!(quick.depth_rows, 100_000);
        assert_eq!(bench("--quick --depth-rows 0").depth_rows, 0);
        assert_eq!(bench("--depth-rows 5000").depth_rows, 5000);
    }

    #[test]
    fn parses_lists() {
        let o = bench("--workloads noop,list,noop --idle 10,0,5 --postgres postgres://h/d");
        assert_eq!(o.workloads, [Workload::Noop, Workload::List]);
        assert_eq!(o.idle_counts, [5, 10]);
        assert!(parse(&args("--workloads nope")).is_err());
        let o = bench("--sections live,memory,live");
        assert_eq!(o.sections, [Section::Live, Section::Memory]);
        assert!(o.runs(Section::Live) && !o.runs(Section::Workloads));
        assert!(bench("").runs(Section::Hostile));
        assert!(parse(&args("--sections nope")).is_err());
    }

    #[test]
    fn refuses_bad_values() {
        assert!(parse(&args("--connections 0")).is_err());
        assert!(parse(&args("--duration -1")).is_err());
        assert!(parse(&args("--rounds")).is_err());
        assert!(parse(&args("--postgres mysql://x")).is_err());
        assert!(parse(&args("--frobnicate")).is_err());
        assert!(parse(&args("--depth-rows 50")).is_err());
        assert!(parse(&args("--depth-rows many")).is_err());
    }

    #[test]
    fn serve_only_listens_locally() {
        let ok = parse(&args("serve --kind echo --addr 127.0.0.3:0"));
        assert!(matches!(ok, Ok(Command::Serve(s)) if s.kind == ServerKind::Echo));
        assert!(parse(&args("serve --kind echo --addr 0.0.0.0:80")).is_err());
        assert!(
            parse(&args(
                "serve --kind baseline --db sqlite://x --addr 10.0.0.1:1"
            ))
            .is_err()
        );
        assert!(parse(&args("serve")).is_err());
        let no_live = parse(&args("serve --kind framework --db sqlite://x --no-live"));
        assert!(matches!(no_live, Ok(Command::Serve(s)) if !s.live));
        assert!(parse(&args("serve --kind echo --no-live")).is_err());
        let load = parse(&args(
            "load --addr 127.0.0.1:9 --db sqlite://x --workload noop",
        ));
        assert!(matches!(load, Ok(Command::Load(l)) if l.workload == Workload::Noop));
        assert!(parse(&args("load --addr 192.168.0.1:9 --db sqlite://x")).is_err());
        assert!(parse(&args("load --addr 127.0.0.1:9")).is_err());
    }
}
