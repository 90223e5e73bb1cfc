//! The todos example server: per-user todo lists behind token authentication.
//!
//! ```text
//! cargo run --example todos                        # ws://127.0.0.1:8001/ on todos.sqlite3
//! ```
//!
//! Connect as a demo account: `ws://127.0.0.1:8001/?token=alice-token` (or `bob-token`).

use channels_api::Database;
use channels_api_examples::todos;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    let addr = match std::env::args().nth(1).as_deref() {
        None => "127.0.0.1:8001".to_owned(),
        Some("--addr") => match std::env::args().nth(2) {
            Some(addr) => addr,
            None => exit_usage(),
        },
        Some(_) => exit_usage(),
    };
    if let Err(error) = run(&addr).await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run(addr: &str) -> Result<(), channels_api::Error> {
    let db = Database::connect_from_env("sqlite://todos.sqlite3").await?;
    todos::migrate(&db).await?;
    println!(
        "todos: serving ws://{addr}/?token=alice-token on {}",
        db.backend()
    );
    todos::router().serve(addr, db).await
}

fn exit_usage() -> ! {
    eprintln!("usage: todos [--addr HOST:PORT]\n\nDATABASE_URL selects the database.");
    std::process::exit(2);
}
