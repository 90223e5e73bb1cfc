//! Snapshots of the whole expansion for the examples' models, read from the examples'
//! own source so that they cannot drift apart. A change to the generated code fails
//! here until its snapshot is reviewed: `cargo insta review`, or
//! `INSTA_UPDATE=always cargo test -p channels-api-derive --lib` and read the diff.

use std::path::Path;

/// The expansion of the struct `name` in `path` (from the workspace's root), pretty-printed.
fn expansion(path: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let file = syn::parse_file(&source).expect("the example parses");
    let item = file
        .items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Struct(item) if item.ident == name => Some(item),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no struct `{name}` in {}", path.display()));
    let tokens = super::derive(&item.into()).expect("the example's model derives");
    prettyplease::unparse(&syn::parse2(tokens).expect("the expansion is an item"))
}

#[test]
fn polls_question() {
    insta::assert_snapshot!(expansion("examples/polls/app.rs", "Question"));
}

#[test]
fn todos_todo() {
    insta::assert_snapshot!(expansion("examples/todos/app.rs", "Todo"));
}

#[test]
fn polls_user() {
    insta::assert_snapshot!(expansion("examples/polls/app.rs", "User"));
}
