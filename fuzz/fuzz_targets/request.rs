//! A frame's text, as a client sends it: the request parser, then dispatch through the
//! polls example's router over an in-memory SQLite database.
#![no_main]

// The checks live in one file with the corpus replay of the workspace's tests.
#[allow(dead_code)] // this target runs one of them
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::request(data));
