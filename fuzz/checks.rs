//! What each fuzz target does with one input and what it checks of the outcome, shared by
//! the targets in `fuzz_targets/` and by the corpus replay of the workspace's tests
//! (`tests/fuzz_corpus.rs`), so that every seed keeps passing the same checks on every
//! `cargo test`. A check that fails panics.

use std::sync::OnceLock;

use channels_api::__fuzz::{Harness, HeadOutcome, parse_head, parse_request};
use channels_api::{Database, Router};
use tokio::runtime::Runtime;

/// A router's first path over an in-memory SQLite database, with the runtime that drives
/// it, built once per process.
struct Served {
    runtime: Runtime,
    harness: Harness,
}

impl Served {
    fn start(router: impl FnOnce() -> Router, migrate: bool) -> Served {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let harness = runtime.block_on(async {
            let db = Database::connect("sqlite::memory:")
                .await
                .expect("an in-memory database");
            if migrate {
                channels_api_examples::polls::migrate(&db)
                    .await
                    .expect("the polls schema");
            }
            Harness::new(router(), db).expect("the router")
        });
        Served { runtime, harness }
    }
}

/// `request`: a frame's text into the request parser, then dispatch through the polls
/// example's router. Every request gets one answer, a JSON object.
pub(crate) fn request(data: &[u8]) {
    static POLLS: OnceLock<Served> = OnceLock::new();
    // The connection loop hands over only valid UTF-8 (anything else closes with 1007).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_request(text);
    let polls = POLLS.get_or_init(|| Served::start(channels_api_examples::polls::router, true));
    let answer = polls.runtime.block_on(polls.harness.answer(text));
    // Syntax only: a number the client sent (`request_id`) is echoed verbatim, and JSON
    // sets no range on numbers, so `1e500` is a valid answer that `serde_json::Value`
    // cannot hold.
    assert!(is_json_object(&answer), "not a JSON object: {answer:?}");
}

fn is_json_object(text: &str) -> bool {
    use channels_api::serde_json::{self, value::RawValue};
    text.starts_with('{') && serde_json::from_str::<&RawValue>(text).is_ok()
}

/// `handshake`: the first bytes of a connection into the handshake parser. A refusal is a
/// 4xx, and an upgrade leaves only bytes the client sent after the head.
pub(crate) fn handshake(data: &[u8]) {
    match parse_head(data) {
        HeadOutcome::Upgrade(rest) => assert!(rest < data.len()),
        HeadOutcome::Refused(status) => assert!((400..500).contains(&status), "{status}"),
        HeadOutcome::Incomplete | HeadOutcome::Plain => {}
    }
}

/// `frames`: everything a client sends after the handshake, through the connection loop of
/// an echo path over an in-memory stream. The server's frames are unmasked and final, and
/// start with a known opcode.
pub(crate) fn frames(data: &[u8]) {
    static ECHO: OnceLock<Served> = OnceLock::new();
    let echo = ECHO.get_or_init(|| Served::start(|| Router::new().echo_at("/"), false));
    let out = echo.runtime.block_on(echo.harness.serve(data));
    if let Some(first) = out.first() {
        assert!(
            matches!(first, 0x81 | 0x82 | 0x88 | 0x89 | 0x8a),
            "{first:#x}"
        );
    }
}
