//! An echo server on the framework's own connection loop: what the WebSocket conformance
//! suite (Autobahn's `fuzzingclient`) runs against. It keeps the production limits but one:
//! the suite's largest messages (cases 9.1.6 and 9.2.6) are 16 MiB, so the message limit
//! is raised from its 1 MiB default to that.
//!
//! ```text
//! cargo run --release --example conformance                 # ws://127.0.0.1:9001/
//! cargo run --release --example conformance -- 127.0.0.1:9100
//! ```
//!
//! `scripts/autobahn/run.sh` starts it and runs the suite.

use channels_api::{Database, Limits, Router};

/// The largest message the conformance suite sends.
const SUITE_MAX_MESSAGE: usize = 16 << 20;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let result = async {
        let db = Database::connect("sqlite::memory:").await?;
        let server = Router::new()
            .echo_at("/")
            .limits(Limits::default().max_message_size(SUITE_MAX_MESSAGE))
            .bind(addr.as_str(), db)
            .await?;
        println!("conformance: echoing on ws://{}/", server.local_addr()?);
        server.run().await
    }
    .await;
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
