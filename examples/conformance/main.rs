//! An echo server on the framework's own connection loop, with its production limits: what
//! the WebSocket conformance suite (Autobahn's `fuzzingclient`) runs against.
//!
//! ```text
//! cargo run --release --example conformance                 # ws://127.0.0.1:9001/
//! cargo run --release --example conformance -- 127.0.0.1:9100
//! ```
//!
//! `scripts/autobahn/run.sh` starts it and runs the suite.

use channels_api::{Database, Router};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let result = async {
        let db = Database::connect("sqlite::memory:").await?;
        let server = Router::new().echo_at("/").bind(addr.as_str(), db).await?;
        println!("conformance: echoing on ws://{}/", server.local_addr()?);
        server.run().await
    }
    .await;
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
