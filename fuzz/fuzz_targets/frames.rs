//! The byte stream a client sends after the handshake, through the connection loop (frame
//! reader, fragments, control frames, close handshake) of an echo path, over an in-memory
//! stream.
#![no_main]

use std::sync::OnceLock;

use channels_api::__fuzz::Harness;
use channels_api::{Database, Router};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;

struct Echo {
    runtime: Runtime,
    harness: Harness,
}

fn echo() -> &'static Echo {
    static ECHO: OnceLock<Echo> = OnceLock::new();
    ECHO.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let harness = runtime.block_on(async {
            let db = Database::connect("sqlite::memory:")
                .await
                .expect("an in-memory database");
            Harness::new(Router::new().echo_at("/"), db).expect("the echo router")
        });
        Echo { runtime, harness }
    })
}

fuzz_target!(|data: &[u8]| {
    let echo = echo();
    let out = echo.runtime.block_on(echo.harness.serve(data));
    // The server's frames are unmasked and final, and start with a known opcode.
    if let Some(first) = out.first() {
        assert!(
            matches!(first, 0x81 | 0x82 | 0x88 | 0x89 | 0x8a),
            "{first:#x}"
        );
    }
});
