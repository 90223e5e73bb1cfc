//! 10,000 rounds of connect, subscribe and disconnect leave the server's memory where it
//! was: a connection's subscriptions, queue and context go with it. Alone in its own test
//! binary, so that no other test's allocations move the figure.

use channels_api_tests::{Backend, Client, TestServer};
use serde_json::json;

/// The resident set of this process, in bytes (server and clients share it).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("resident pages");
    pages * 4096
}

async fn rounds(server: &TestServer, n: usize) {
    for i in 0..n {
        let mut client = Client::connect(server.addr, "/").await;
        let request = if i % 2 == 0 {
            json!({"method": "question.subscribe"})
        } else {
            json!({"method": "question.subscribe", "question_text__icontains": "rust", "snapshot": true})
        };
        let response = client.request(request).await;
        assert_eq!(response["status"], 200, "{response}");
        drop(client);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_subscribers_come_and_go_without_a_trace() {
    let server = TestServer::polls(Backend::Sqlite).await;
    // Warm up: buffers, caches and the allocator's arenas reach their working size.
    rounds(&server, 2_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = rss();
    rounds(&server, 10_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = rss();
    let growth = after.saturating_sub(before);
    // A subscription left behind holds its filters, context and queue: several hundred
    // bytes, so 10,000 of them would grow the process by megabytes.
    assert!(
        growth < 3 << 20,
        "memory grew by {growth} bytes over 10,000 rounds ({before} -> {after})"
    );
}
