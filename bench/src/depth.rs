//! The pagination depth measurement: what one page of `question.list` costs near the
//! start of a large table and deep into it, by cursor and by page number.
//!
//! It runs on the framework alone, since it measures the database's cost of a page, not
//! the framework's overhead (the workloads compare that with the baseline).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::load::{PageMode, PageRequest, Plan, Rows, RunStats, Workload};
use crate::report::ratio;

/// The page size of every request.
pub(crate) const PAGE_SIZE: u32 = 100;

/// The deep page, when the table has that many pages.
pub(crate) const DEEP_PAGE: u32 = 10_000;

/// Concurrent closed-loop connections of each run.
pub(crate) const CONNECTIONS: usize = 4;

/// The rows of the table when `--depth-rows` is not given.
pub(crate) fn default_rows(quick: bool) -> usize {
    if quick { 100_000 } else { 1_000_000 }
}

/// The warm-up and the measured window of each run.
pub(crate) fn timing(quick: bool) -> (Duration, Duration) {
    if quick {
        (Duration::from_millis(250), Duration::from_millis(500))
    } else {
        (Duration::from_millis(500), Duration::from_secs(2))
    }
}

/// The deep page of a table of `rows` rows: page 10,000, or the last page of a smaller
/// table.
pub(crate) fn deep_page(rows: usize) -> u32 {
    let pages = rows.div_ceil(PAGE_SIZE as usize).max(1);
    u32::try_from(pages).unwrap_or(u32::MAX).min(DEEP_PAGE)
}

/// The pages measured, in order: the first and the deep page by cursor, then the same two
/// by page number.
pub(crate) fn requests(rows: usize) -> [PageRequest; 4] {
    let deep = deep_page(rows);
    [
        (PageMode::Cursor, 1),
        (PageMode::Cursor, deep),
        (PageMode::Offset, 1),
        (PageMode::Offset, deep),
    ]
    .map(|(mode, page)| PageRequest {
        mode,
        page,
        page_size: PAGE_SIZE,
    })
}

/// The run of `request`: the same page again and again.
pub(crate) fn plan(request: PageRequest, quick: bool) -> Plan {
    let (warmup, duration) = timing(quick);
    Plan {
        workload: Workload::Page(request),
        connections: CONNECTIONS,
        warmup,
        duration,
        // Pages are addressed by number; no seeded id is needed.
        rows: Rows {
            ids: Arc::default(),
        },
        check_request_id: true,
    }
}

/// The measurement on one backend.
#[derive(Debug, Serialize)]
pub(crate) struct PaginationDepth {
    /// The rows of the table, with ids 1 to `rows`.
    pub(crate) rows: usize,
    pub(crate) page_size: u32,
    pub(crate) connections: usize,
    pub(crate) warmup_seconds: f64,
    pub(crate) duration_seconds: f64,
    /// How long filling the table took, statistics included, in seconds.
    pub(crate) fill_seconds: f64,
    /// Cursor pages, then offset pages.
    pub(crate) modes: Vec<ModeDepth>,
}

/// The first and the deep page of one mode.
#[derive(Debug, Serialize)]
pub(crate) struct ModeDepth {
    pub(crate) mode: PageMode,
    pub(crate) first_page: u32,
    pub(crate) deep_page: u32,
    pub(crate) first: RunStats,
    pub(crate) deep: RunStats,
    /// Deep page requests/s divided by the first page's (1.00: the same cost).
    pub(crate) throughput_ratio: f64,
    /// Deep page p50 divided by the first page's.
    pub(crate) p50_ratio: f64,
    /// Deep page p99 divided by the first page's.
    pub(crate) p99_ratio: f64,
}

impl PaginationDepth {
    /// The measurement from the runs of [`requests`], in their order: each mode's first
    /// page, then its deep page.
    pub(crate) fn new(
        rows: usize,
        quick: bool,
        fill_seconds: f64,
        runs: Vec<(PageRequest, RunStats)>,
    ) -> Self {
        let (warmup, duration) = timing(quick);
        let mut runs = runs.into_iter();
        let mut modes = Vec::new();
        while let (Some((first_request, first)), Some((deep_request, deep))) =
            (runs.next(), runs.next())
        {
            modes.push(ModeDepth {
                mode: first_request.mode,
                first_page: first_request.page,
                deep_page: deep_request.page,
                throughput_ratio: ratio(deep.requests_per_sec, first.requests_per_sec),
                p50_ratio: ratio(deep.p50_us, first.p50_us),
                p99_ratio: ratio(deep.p99_us, first.p99_us),
                first,
                deep,
            });
        }
        Self {
            rows,
            page_size: PAGE_SIZE,
            connections: CONNECTIONS,
            warmup_seconds: warmup.as_secs_f64(),
            duration_seconds: duration.as_secs_f64(),
            fill_seconds,
            modes,
        }
    }

    /// The pages of `mode`.
    pub(crate) fn mode(&self, mode: PageMode) -> Option<&ModeDepth> {
        self.modes.iter().find(|m| m.mode == mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deep_page_is_page_ten_thousand_or_the_last() {
        assert_eq!(deep_page(1_000_000), 10_000);
        assert_eq!(deep_page(5_000_000), 10_000);
        assert_eq!(deep_page(100_000), 1000);
        assert_eq!(deep_page(123_456), 1235);
        let [cursor_first, cursor_deep, offset_first, offset_deep] = requests(1_000_000);
        assert_eq!(
            (
                cursor_first.mode,
                cursor_first.page,
                cursor_first.first_id()
            ),
            (PageMode::Cursor, 1, 1)
        );
        assert_eq!(cursor_deep.after_id(), 999_900);
        assert_eq!(cursor_deep.first_id(), 999_901);
        assert_eq!(
            (offset_first.mode, offset_first.page),
            (PageMode::Offset, 1)
        );
        assert_eq!(
            (offset_deep.page, offset_deep.first_id()),
            (10_000, 999_901)
        );
        assert_eq!(requests(100_000)[1].after_id(), 99_900);
    }

    #[test]
    fn pairs_each_mode_and_its_ratios() {
        let stats = |rps: f64, p50: f64| {
            let mut s = RunStats::from_latencies(vec![1000], 0, Duration::from_secs(1), None);
            s.requests_per_sec = rps;
            s.p50_us = p50;
            s.p99_us = p50 * 2.0;
            s
        };
        let [a, b, c, d] = requests(1_000_000);
        let depth = PaginationDepth::new(
            1_000_000,
            true,
            1.5,
            vec![
                (a, stats(1000.0, 40.0)),
                (b, stats(1000.0, 40.0)),
                (c, stats(800.0, 50.0)),
                (d, stats(8.0, 5000.0)),
            ],
        );
        assert_eq!(depth.modes.len(), 2);
        assert_eq!(depth.modes[0].mode, PageMode::Cursor);
        assert_eq!(depth.modes[0].deep_page, 10_000);
        assert_eq!(depth.mode(PageMode::Cursor).unwrap().p50_ratio, 1.0);
        let offset = depth.mode(PageMode::Offset).unwrap();
        assert_eq!(offset.p50_ratio, 100.0);
        assert_eq!(offset.throughput_ratio, 0.01);
        assert_eq!(offset.p99_ratio, 100.0);
    }
}
