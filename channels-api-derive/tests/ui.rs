//! The macros' diagnostics: each misuse in `ui/incorrect` must fail with the message in its
//! `.stderr` file; every form in `ui/correct` must compile. Regenerate the expected output
//! with `TRYBUILD=overwrite cargo test -p channels-api-derive --test ui` and review it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/correct/*.rs");
    t.compile_fail("tests/ui/incorrect/*/*.rs");
}
