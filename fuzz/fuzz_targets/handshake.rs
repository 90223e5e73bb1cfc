//! The first bytes of a connection: the HTTP request head, through the handshake parser.
#![no_main]

use channels_api::__fuzz::{HeadOutcome, parse_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        HeadOutcome::Upgrade(rest) => assert!(rest < data.len()),
        HeadOutcome::Refused(status) => assert!((400..500).contains(&status)),
        HeadOutcome::Incomplete | HeadOutcome::Plain => {}
    }
});
