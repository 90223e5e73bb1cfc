//! The byte stream a client sends after the handshake, through the connection loop (frame
//! reader, fragments, control frames, close handshake) of an echo path, over an in-memory
//! stream.
#![no_main]

// The checks live in one file with the corpus replay of the workspace's tests.
#[allow(dead_code)] // this target runs one of them
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::frames(data));
