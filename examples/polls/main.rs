//! The polls example server.
//!
//! ```text
//! cargo run --example polls                       # ws://127.0.0.1:8000/ on polls.sqlite3
//! cargo run --example polls -- --addr 0.0.0.0:9000
//! DATABASE_URL=postgres://user:pass@localhost/polls cargo run --example polls
//! ```

use channels_api::Database;
use channels_api_examples::polls;

const USAGE: &str = "usage: polls [--addr HOST:PORT]

Serves the polls app over WebSockets (default address 127.0.0.1:8000).
DATABASE_URL selects the database: sqlite://FILE (default sqlite://polls.sqlite3),
sqlite::memory:, or postgres://USER:PASSWORD@HOST/NAME.";

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    let mut addr = String::from("127.0.0.1:8000");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => match args.next() {
                Some(value) => addr = value,
                None => exit_usage("--addr needs HOST:PORT"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => exit_usage(&format!("unknown argument `{other}`")),
        }
    }
    if let Err(error) = run(&addr).await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run(addr: &str) -> Result<(), channels_api::Error> {
    let db = Database::connect_from_env("sqlite://polls.sqlite3").await?;
    polls::migrate(&db).await?;
    println!("polls: serving ws://{addr}/ on {}", db.backend());
    polls::router().serve(addr, db).await
}

fn exit_usage(problem: &str) -> ! {
    eprintln!("error: {problem}\n\n{USAGE}");
    std::process::exit(2);
}
