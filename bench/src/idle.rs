//! The memory test: how much a server's resident memory grows per idle WebSocket
//! connection.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::load::{self, Socket};
use crate::process::ServerProcess;

/// Connections opened at once.
const CONCURRENCY: usize = 64;

/// Connections per client source address (127.0.0.1, 127.0.0.2, ...), well under the
/// number of ephemeral ports, so that no address runs short even with earlier
/// connections still in TIME_WAIT.
const PER_SOURCE_ADDRESS: usize = 2000;

/// Connections opened by this process so far, to pick the next source address.
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// The open-file descriptors kept free for everything else.
const SPARE_FILES: u64 = 200;

/// The growth at one count of idle connections.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    /// Idle connections open.
    pub(crate) connections: usize,
    /// The server's RSS with them open, in bytes.
    pub(crate) rss_bytes: u64,
    /// (RSS now - RSS before any) / connections.
    pub(crate) bytes_per_connection: f64,
    /// Whether the RSS stopped moving before the wait ran out.
    pub(crate) settled: bool,
}

/// The memory test of one server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemoryStats {
    /// The server's RSS before any idle connection, in bytes.
    pub(crate) rss_before_bytes: u64,
    /// One entry per count.
    pub(crate) steps: Vec<Step>,
    /// The server's RSS once every connection is closed again.
    pub(crate) rss_after_close_bytes: u64,
}

/// The connection counts that fit the open-file limit of this process and the server's
/// (the same, as the server is started by this process): `counts`, each capped.
pub(crate) fn fit_counts(counts: &[usize], nofile: u64) -> Vec<usize> {
    let cap = nofile.saturating_sub(SPARE_FILES).min(usize::MAX as u64) as usize;
    let mut fitted: Vec<usize> = counts
        .iter()
        .map(|&n| n.min(cap))
        .filter(|&n| n > 0)
        .collect();
    fitted.dedup();
    fitted
}

/// Opens idle connections to `server` up to each of `counts` in turn (one request on a
/// first connection warms the server up beforehand), and reads the server's RSS once it
/// settles at each count.
pub(crate) async fn measure(
    server: &mut ServerProcess,
    counts: &[usize],
    settle_limit: Duration,
) -> Result<MemoryStats, String> {
    let addr = server.addr();
    {
        let mut warm = load::connect(addr, None).await?;
        warm.send(Message::text(r#"{"method":"bench.noop","request_id":1}"#))
            .await
            .map_err(|e| format!("cannot send the warm-up request: {e}"))?;
        load::next_text(&mut warm).await?;
        let _ = tokio::time::timeout(Duration::from_secs(1), warm.close(None)).await;
    }
    let (rss_before, _) = settle(server, settle_limit).await?;
    let mut open: Vec<Socket> = Vec::new();
    let mut steps = Vec::new();
    for &count in counts {
        open_more(addr, &mut open, count).await?;
        let (rss, settled) = settle(server, settle_limit).await?;
        steps.push(Step {
            connections: count,
            rss_bytes: rss,
            bytes_per_connection: (rss as f64 - rss_before as f64) / count as f64,
            settled,
        });
    }
    drop(open);
    let (rss_after_close, _) = settle(server, settle_limit).await?;
    Ok(MemoryStats {
        rss_before_bytes: rss_before,
        steps,
        rss_after_close_bytes: rss_after_close,
    })
}

/// Opens connections until `open` holds `target`, [`CONCURRENCY`] at a time.
pub(crate) async fn open_more(
    addr: std::net::SocketAddr,
    open: &mut Vec<Socket>,
    target: usize,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = open.len();
    while open.len() < target {
        while started < target && tasks.len() < CONCURRENCY {
            let n = OPENED.fetch_add(1, Ordering::Relaxed);
            let host = 1 + (n / PER_SOURCE_ADDRESS) % 254;
            let source = Ipv4Addr::new(127, 0, 0, host as u8);
            tasks.spawn(load::connect(addr, Some(source)));
            started += 1;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let ws = joined.map_err(|e| format!("a connecting task failed: {e}"))??;
        open.push(ws);
        if Instant::now() > deadline {
            return Err(format!(
                "opening {target} idle connections took over 300 s ({} open)",
                open.len()
            ));
        }
    }
    Ok(())
}

/// Samples the server's RSS every 100 ms until five samples in a row agree within
/// 0.5% (or 64 KiB), or `limit` passes; returns the last sample and whether it settled.
pub(crate) async fn settle(
    server: &mut ServerProcess,
    limit: Duration,
) -> Result<(u64, bool), String> {
    let deadline = Instant::now() + limit;
    let mut window: Vec<u64> = Vec::with_capacity(5);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rss = server.rss()?;
        if window.len() == 5 {
            window.remove(0);
        }
        window.push(rss);
        if window.len() == 5 {
            let (min, max) = window
                .iter()
                .fold((u64::MAX, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            if max - min <= (max / 200).max(64 * 1024) {
                return Ok((rss, true));
            }
        }
        if Instant::now() >= deadline {
            return Ok((rss, false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fit_the_file_limit() {
        assert_eq!(fit_counts(&[1000, 10_000], 20_000), [1000, 10_000]);
        assert_eq!(fit_counts(&[1000, 10_000], 1024), [824]);
        assert_eq!(fit_counts(&[1000], 100), Vec::<usize>::new());
    }
}
