//! Every seed of the fuzz targets (`fuzz/corpus/<target>/`) through the same checks the
//! targets run (`fuzz/checks.rs`), on every `cargo test`: the inputs that once found a
//! fault, or reached new code, keep passing without a fuzzer or its build. The fuzzing
//! itself is `scripts/fuzz.sh`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "../fuzz/checks.rs"]
mod checks;

/// Runs `check` on every file of `fuzz/corpus/<target>/`; fails with the files whose check
/// panicked. Returns how many files ran.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).expect("a seed");
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: failed on {failed:#?}");
    files.len()
}

#[test]
fn request_seeds_pass() {
    assert!(replay("request", checks::request) >= 500);
}

#[test]
fn handshake_seeds_pass() {
    assert!(replay("handshake", checks::handshake) >= 300);
}

#[test]
fn frames_seeds_pass() {
    assert!(replay("frames", checks::frames) >= 50);
}
