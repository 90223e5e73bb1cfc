//! The polls example server.
//!
//! ```text
//! cargo run --example polls                       # ws://127.0.0.1:8000/ on polls.sqlite3
//! cargo run --example polls -- --addr 0.0.0.0:9000
//! cargo run --example polls -- --debug            # and the debugger page at /channels-api/
//! DATABASE_URL=postgres://user:pass@localhost/polls cargo run --example polls
//! ```

use channels_api::Database;
use channels_api_examples::polls;

const USAGE: &str = "usage: polls [--addr HOST:PORT] [--debug]

Serves the polls app over WebSockets (default address 127.0.0.1:8000).
--debug also serves the debugger page at http://HOST:PORT/channels-api/.
DATABASE_URL selects the database: sqlite://FILE (default sqlite://polls.sqlite3),
sqlite::memory:, or postgres://USER:PASSWORD@HOST/NAME.";

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    let mut addr = String::from("127.0.0.1:8000");
    let mut debug = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => match args.next() {
                Some(value) => addr = value,
                None => exit_usage("--addr needs HOST:PORT"),
            },
            "--debug" => debug = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => exit_usage(&format!("unknown argument `{other}`")),
        }
    }
    if let Err(error) = run(&addr, debug).await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run(addr: &str, debug: bool) -> Result<(), channels_api::Error> {
    let db = Database::connect_from_env("sqlite://polls.sqlite3").await?;
    polls::migrate(&db).await?;
    println!("polls: serving ws://{addr}/ on {}", db.backend());
    if debug {
        println!("polls: debugger page at http://{addr}/channels-api/");
    }
    polls::router()
        .debugger("/channels-api/")
        .debug(debug)
        .serve(addr, db)
        .await
}

fn exit_usage(problem: &str) -> ! {
    eprintln!("error: {problem}\n\n{USAGE}");
    std::process::exit(2);
}
