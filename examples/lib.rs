//! The example applications of channels-api, as libraries the end-to-end tests also use.

#[path = "polls/app.rs"]
pub mod polls;

#[path = "todos/app.rs"]
pub mod todos;
