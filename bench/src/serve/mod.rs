//! The `serve` subcommand: one server per process, started by the benchmark.
//!
//! Every server prints `listening on ADDR` on standard output once it accepts
//! connections, and with `--exit-on-stdin-eof` exits when its standard input closes, so a
//! server never outlives the benchmark that started it.

mod baseline;
mod echo;
mod framework;

use std::io::{Read, Write};

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::cli::{ServeOptions, ServerKind};

/// The frame every server answers a `noop` with, apart from the request id.
pub(crate) const NOOP_METHOD: &str = "bench.noop";

/// The method that runs a query holding its database connection for [`SLOW_MS`]
/// milliseconds: the "long query" of the stall workload.
pub(crate) const SLOW_METHOD: &str = "bench.slow";

/// How long `bench.slow`'s query takes, in milliseconds.
pub(crate) const SLOW_MS: i32 = 100;

#[diesel::declare_sql_function]
extern "SQL" {
    /// Sleeps `ms` milliseconds and returns it: a query that is slow without using the
    /// CPU, as one waiting on a disk or a lock would be.
    fn bench_sleep(ms: diesel::sql_types::Integer) -> diesel::sql_types::Integer;
}

/// A query that holds the connection for [`SLOW_MS`] milliseconds, on either backend.
pub(crate) trait SlowQuery {
    /// Runs it.
    fn slow_query(&mut self) -> diesel::QueryResult<()>;
}

impl SlowQuery for diesel::SqliteConnection {
    fn slow_query(&mut self) -> diesel::QueryResult<()> {
        use diesel::RunQueryDsl;
        bench_sleep_utils::register_impl(self, |ms: i32| {
            std::thread::sleep(std::time::Duration::from_millis(
                u64::try_from(ms).unwrap_or(0),
            ));
            ms
        })?;
        diesel::select(bench_sleep(SLOW_MS)).execute(self).map(drop)
    }
}

impl SlowQuery for diesel::PgConnection {
    fn slow_query(&mut self) -> diesel::QueryResult<()> {
        use diesel::RunQueryDsl;
        let seconds = f64::from(SLOW_MS) / 1000.0;
        diesel::sql_query(format!("SELECT pg_sleep({seconds})"))
            .execute(self)
            .map(drop)
    }
}

/// The framework's default pool size (`DatabaseOptions::default()`), which the baseline
/// copies.
pub(crate) const POOL_SIZE: u32 = 8;

/// The WebSocket settings of the baseline and echo servers: exactly those of the
/// framework's default limits.
pub(crate) fn websocket_config() -> WebSocketConfig {
    channels_api::Limits::default().websocket_config()
}

/// Runs the server `options` describe until the process is killed.
pub(crate) fn run(options: ServeOptions) -> Result<(), String> {
    if options.exit_on_stdin_eof {
        std::thread::spawn(|| {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 64];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            std::process::exit(0);
        });
    }
    // The same runtime as `#[tokio::main]`: one worker per CPU the process may use.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let db = options.db.as_deref().unwrap_or_default();
    runtime.block_on(async {
        match options.kind {
            ServerKind::Framework => framework::serve(options.addr, db, options.live).await,
            ServerKind::Baseline => baseline::serve(options.addr, db).await,
            ServerKind::Echo => echo::serve(options.addr).await,
        }
    })
}

/// Tells the benchmark where the server listens.
fn announce(addr: std::net::SocketAddr) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))
}
