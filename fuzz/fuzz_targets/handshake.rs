//! The first bytes of a connection: the HTTP request head, through the handshake parser.
#![no_main]

// The checks live in one file with the corpus replay of the workspace's tests.
#[allow(dead_code)] // this target runs one of them
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::handshake(data));
