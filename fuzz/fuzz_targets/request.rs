//! A frame's text, as a client sends it: the request parser, then dispatch through the
//! polls example's router over an in-memory SQLite database.
#![no_main]

use std::sync::OnceLock;

use channels_api::__fuzz::{Harness, parse_request};
use channels_api::Database;
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;

struct Polls {
    runtime: Runtime,
    harness: Harness,
}

fn polls() -> &'static Polls {
    static POLLS: OnceLock<Polls> = OnceLock::new();
    POLLS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let harness = runtime.block_on(async {
            let db = Database::connect("sqlite::memory:")
                .await
                .expect("an in-memory database");
            channels_api_examples::polls::migrate(&db)
                .await
                .expect("the polls schema");
            Harness::new(channels_api_examples::polls::router(), db).expect("the polls router")
        });
        Polls { runtime, harness }
    })
}

fuzz_target!(|data: &[u8]| {
    // The connection loop hands over only valid UTF-8 (anything else closes with 1007).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_request(text);
    let polls = polls();
    let answer = polls.runtime.block_on(polls.harness.answer(text));
    // Every request gets one answer: a JSON object. Syntax only: a number the client sent
    // (`method`, `request_id`) is echoed verbatim, and JSON sets no range on numbers, so
    // `1e500` is a valid answer that `serde_json::Value` cannot hold.
    assert!(is_json_object(&answer), "not a JSON object: {answer:?}");
});

fn is_json_object(text: &str) -> bool {
    use channels_api::serde_json::{self, value::RawValue};
    text.starts_with('{') && serde_json::from_str::<&RawValue>(text).is_ok()
}
