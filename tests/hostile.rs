//! Hostile input, table-driven: each request a hostile client might send, with the answer
//! it must get. No request may crash the server, hang, answer 500, or get an answer that
//! grows with what it sent; none may reach the database as SQL. Frame-level abuse (bad
//! opcodes, close codes, half frames) is at the end, over a raw socket.

use std::time::Duration;

use channels_api_tests::raw::{RawClient, frame_bytes, op};
use channels_api_tests::{Backend, Client, TestServer, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    hostile_requests_get_precise_bounded_answers,
    hostile_frames_get_close_codes,
    one_frame_cannot_stall_the_server,
    the_server_closes_tcp_first_and_promptly,
    fragmented_text_fails_at_the_first_bad_fragment,
);

/// The largest answer any hostile request may get, in bytes.
const MAX_ANSWER: usize = 8 * 1024;

/// `{"method": M, K: V, K: V, ...}` with `key` repeated `n` times: JSON objects with
/// duplicate keys cannot be built as a `Value`.
fn repeated_key(method: &str, key: &str, value: &str, n: usize) -> String {
    let mut text = format!("{{\"method\":\"{method}\"");
    for _ in 0..n {
        text.push_str(&format!(",\"{key}\":{value}"));
    }
    text.push('}');
    text
}

/// Every filter the polls question allows, once each: 16, the default limit.
fn every_filter() -> Value {
    let mut filters = json!({});
    for lookup in [
        "",
        "__gt",
        "__gte",
        "__lt",
        "__lte",
        "__contains",
        "__icontains",
    ] {
        filters[format!("question_text{lookup}")] = json!("a");
    }
    filters["question_text__in"] = json!(["a", "b"]);
    filters["question_text__isnull"] = json!(false);
    for lookup in ["", "__gt", "__gte", "__lt", "__lte"] {
        filters[format!("pub_date{lookup}")] = json!("2026-01-01T00:00:00");
    }
    filters["pub_date__in"] = json!(["2026-01-01T00:00:00"]);
    filters["pub_date__isnull"] = json!(false);
    filters
}

fn many_keys(method: &str, n: usize) -> String {
    let mut text = format!("{{\"method\":\"{method}\"");
    for i in 0..n {
        text.push_str(&format!(",\"k{i}\":1"));
    }
    text.push('}');
    text
}

fn with(method: &str, extra: Value) -> String {
    let mut object = json!({"method": method});
    for (k, v) in extra.as_object().unwrap() {
        object[k] = v.clone();
    }
    object.to_string()
}

/// One hostile request: what it is, what it sends, the status it must get, and the key
/// under which the answer's errors must explain it (`None`: only the status is checked).
struct Case {
    what: &'static str,
    text: String,
    status: u16,
    error_key: Option<&'static str>,
}

fn case(what: &'static str, text: String, status: u16, error_key: Option<&'static str>) -> Case {
    Case {
        what,
        text,
        status,
        error_key,
    }
}

fn cases() -> Vec<Case> {
    let ordering = |keys: &str| with("question.list", json!({"ordering": keys}));
    vec![
        // Counts a client controls.
        case(
            "one filter key 20,000 times",
            repeated_key("question.list", "question_text", "\"a\"", 20_000),
            400,
            Some("non_field_errors"),
        ),
        case(
            "17 filters",
            {
                let mut filters = every_filter();
                filters["question_text__startswith"] = json!("a");
                with("question.list", filters)
            },
            400,
            Some("non_field_errors"),
        ),
        case(
            "90,000 unknown keys",
            many_keys("question.list", 90_000),
            400,
            Some("non_field_errors"),
        ),
        case(
            "16,000 ordering keys",
            ordering(&vec!["id"; 16_000].join(",")),
            400,
            Some("ordering"),
        ),
        case(
            "40 distinct-looking ordering keys",
            ordering(&["-id", "pub_date"].repeat(20).join(",")),
            400,
            Some("ordering"),
        ),
        case(
            "a 1 MB ordering of unknown names",
            ordering(&vec!["zzzz"; 180_000].join(",")),
            400,
            Some("ordering"),
        ),
        case(
            "an ordering list of non-strings",
            with("question.list", json!({"ordering": [1, {"a": 2}]})),
            400,
            Some("ordering"),
        ),
        case(
            "__in with 40,000 values",
            with(
                "question.list",
                json!({"pub_date__in": vec!["2026-01-01T00:00:00"; 40_000]}),
            ),
            400,
            Some("pub_date__in"),
        ),
        case(
            "duplicate keys",
            repeated_key("question.create", "question_text", "\"a\"", 2),
            400,
            Some("question_text"),
        ),
        // Text the database cannot or must not take.
        case(
            "NUL in a text field",
            with("question.create", json!({"question_text": "a\u{0}b"})),
            400,
            Some("question_text"),
        ),
        case(
            "NUL in a filter",
            with(
                "question.list",
                json!({"question_text__icontains": "\u{0}"}),
            ),
            400,
            Some("question_text__icontains"),
        ),
        case(
            "a lone surrogate in request_id",
            r#"{"method":"question.list","request_id":"\ud800"}"#.to_owned(),
            400,
            Some("request_id"),
        ),
        case(
            "a lone surrogate in method",
            r#"{"method":"question\udc00.list"}"#.to_owned(),
            400,
            Some("method"),
        ),
        // SQL in every position: refused, or taken as a plain value.
        case(
            "SQL in a filter value",
            with(
                "question.list",
                json!({"question_text": "x'; DROP TABLE questions; --"}),
            ),
            200,
            None,
        ),
        case(
            "SQL in ordering",
            ordering("id; DROP TABLE questions"),
            400,
            Some("ordering"),
        ),
        case(
            "SQL in a cursor",
            with("question.list", json!({"cursor": "1 OR 1=1"})),
            400,
            Some("cursor"),
        ),
        case(
            "SQL in a key",
            with("question.list", json!({"id) OR (1=1": 1})),
            400,
            Some("id) OR (1=1"),
        ),
        case(
            "SQL in a primary key",
            with("question.retrieve", json!({"id": "1 OR 1=1"})),
            400,
            Some("id"),
        ),
        // Live data: every count and position a subscriber controls.
        case(
            "a live query with 20,000 filters",
            many_keys("question.subscribe", 20_000),
            400,
            Some("non_field_errors"),
        ),
        case(
            "a live query with 40,000 values in one __in",
            with(
                "question.subscribe",
                json!({"id__in": (0..40_000).collect::<Vec<_>>()}),
            ),
            400,
            Some("id__in"),
        ),
        case(
            "a position of 100,000 digits",
            with("question.subscribe", json!({"after": "9".repeat(100_000)})),
            400,
            Some("after"),
        ),
        case(
            "a position as a number",
            with("question.subscribe", json!({"after": 1e300})),
            400,
            Some("after"),
        ),
        case(
            "a position never given out",
            with(
                "question.subscribe",
                json!({"after": "9223372036854775807"}),
            ),
            400,
            Some("after"),
        ),
        case(
            "a snapshot page size past the maximum",
            with(
                "question.subscribe",
                json!({"snapshot": true, "page_size": 1e9}),
            ),
            400,
            Some("page_size"),
        ),
        case(
            "an unsubscribe naming an object",
            with(
                "question.unsubscribe",
                json!({"subscription": {"a": [1, 2]}}),
            ),
            400,
            Some("subscription"),
        ),
        // Numbers out of every range.
        case(
            "a key past i32",
            with("question.retrieve", json!({"id": 99_999_999_999_i64})),
            400,
            Some("id"),
        ),
        case(
            "a key past u64",
            r#"{"method":"question.retrieve","id":1e400}"#.to_owned(),
            400,
            None,
        ),
        case(
            "a negative page",
            with("question.list", json!({"page": -1})),
            400,
            Some("page"),
        ),
        case(
            "page zero",
            with("question.list", json!({"page": 0})),
            400,
            Some("page"),
        ),
        case(
            "a huge page size",
            with("question.list", json!({"page_size": 1e20})),
            400,
            Some("page_size"),
        ),
        case(
            "a float key",
            with("question.retrieve", json!({"id": 1.5})),
            400,
            Some("id"),
        ),
        // Types nobody expects.
        case(
            "method is a number",
            r#"{"method":5}"#.to_owned(),
            400,
            Some("method"),
        ),
        case(
            "request_id is an object",
            r#"{"method":"question.list","request_id":{"a":1}}"#.to_owned(),
            400,
            Some("request_id"),
        ),
        case(
            "a list of objects as a filter",
            with("question.list", json!({"question_text": [{"a": 1}]})),
            400,
            Some("question_text"),
        ),
        case(
            "page is a string",
            with("question.list", json!({"page": "2"})),
            400,
            Some("page"),
        ),
        case(
            "ordering is a number",
            with("question.list", json!({"ordering": 5})),
            400,
            Some("ordering"),
        ),
        case(
            "a text field as an object",
            with("question.create", json!({"question_text": {"$ne": 1}})),
            400,
            Some("question_text"),
        ),
        case(
            "not an object",
            "[\"question.list\"]".to_owned(),
            400,
            Some("non_field_errors"),
        ),
        case(
            "10,000-deep nesting",
            format!(
                "{{\"method\":\"question.list\",\"a\":{}{}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            400,
            Some("non_field_errors"),
        ),
        case(
            "unbalanced nesting",
            format!("{{\"method\":\"question.list\",\"a\":{}", "[".repeat(50)),
            400,
            Some("non_field_errors"),
        ),
    ]
}

async fn hostile_requests_get_precise_bounded_answers(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let seeded = client
        .request(json!({"method": "question.create", "question_text": "kept"}))
        .await;
    assert_eq!(seeded["status"], 201, "{seeded}");
    let mut failures = Vec::new();
    for case in cases() {
        client.send_text(&case.text).await;
        let text = client.recv_text().await;
        let answer: Value = serde_json::from_str(&text).expect("JSON answer");
        let mut problems = Vec::new();
        if answer["status"] != case.status {
            problems.push(format!(
                "status {} instead of {}",
                answer["status"], case.status
            ));
        }
        if let Some(key) = case.error_key {
            let messages = answer["errors"][key].as_array();
            if !messages.is_some_and(|m| m.iter().all(|m| m.as_str().is_some_and(|m| m.len() > 5)))
            {
                problems.push(format!("no message under `{key}`"));
            }
        }
        if text.len() > MAX_ANSWER {
            problems.push(format!("an answer of {} bytes", text.len()));
        }
        if text.contains("\\ud8") || text.contains("\\udc") {
            problems.push("a lone surrogate echoed".to_owned());
        }
        if !problems.is_empty() {
            let shown: String = text.chars().take(300).collect();
            failures.push(format!("{}: {} — {shown}", case.what, problems.join(", ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The table is intact and the connection still serves.
    let list = client.request(json!({"method": "question.list"})).await;
    assert_eq!(list["status"], 200, "{list}");
    assert_eq!(list["data"]["count"], 1, "{list}");
    assert_eq!(list["data"]["results"][0]["question_text"], "kept");
}

async fn hostile_frames_get_close_codes(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let frames: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "continuation without a start",
            frame_bytes(true, op::CONTINUATION, b"{}"),
            1002,
        ),
        ("a reserved opcode", frame_bytes(true, 0x3, b"{}"), 1002),
        (
            "a fragmented ping",
            frame_bytes(false, op::PING, b"x"),
            1002,
        ),
        (
            "a close with code 999",
            frame_bytes(true, op::CLOSE, &999u16.to_be_bytes()),
            1002,
        ),
        (
            "a close with the reserved code 1005",
            frame_bytes(true, op::CLOSE, &1005u16.to_be_bytes()),
            1002,
        ),
        (
            "a close whose reason is not UTF-8",
            frame_bytes(true, op::CLOSE, &[0x03, 0xe8, 0xff, 0xfe]),
            1007,
        ),
        (
            "text that is not UTF-8",
            frame_bytes(true, op::TEXT, &[b'"', 0xc3, 0x28, b'"']),
            1007,
        ),
        ("an unmasked frame", vec![0x81, 0x02, b'{', b'}'], 1002),
        (
            "a data frame inside a fragmented message",
            [
                frame_bytes(false, op::TEXT, b"{\"method\""),
                frame_bytes(true, op::TEXT, b"{}"),
            ]
            .concat(),
            1002,
        ),
    ];
    let mut failures = Vec::new();
    for (what, bytes, code) in frames {
        let mut raw = RawClient::connect(server.addr).await;
        raw.send_bytes(&bytes).await;
        let got = raw.close_code().await;
        if got != Some(code) {
            failures.push(format!("{what}: close code {got:?} instead of {code}"));
        }
    }
    // A normal close is answered with the same code.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send_frame(true, op::CLOSE, &1000u16.to_be_bytes())
        .await;
    let got = raw.close_code().await;
    if got != Some(1000) {
        failures.push(format!("a normal close: {got:?} instead of 1000"));
    }
    // A binary frame is a 400, and the connection stays open.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send_frame(true, op::BINARY, b"{}").await;
    let frame = raw.next_frame().await.expect("an answer");
    let answer: Value = serde_json::from_slice(&frame.payload).expect("JSON");
    if answer["status"] != 400 {
        failures.push(format!("a binary frame: {answer}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let mut client = server.client().await;
    let list = client.request(json!({"method": "question.list"})).await;
    assert_eq!(list["status"], 200);
}

/// What once took a runtime thread's whole stack or minutes of CPU: the server keeps
/// answering other clients at once.
async fn one_frame_cannot_stall_the_server(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut attacker = server.client().await;
    let mut bystander = server.client().await;
    let heavy = [
        with(
            "question.list",
            json!({"ordering": (["-pub_date", "id"].repeat(12).join(","))}),
        ),
        with("question.list", every_filter()),
        with("question.list", json!({"ordering": "-pub_date,-id"})),
    ];
    for text in &heavy {
        attacker.send_text(text).await;
    }
    for _ in &heavy {
        let answer = attacker.recv().await;
        assert!(
            answer["status"] == 200 || answer["status"] == 400,
            "{answer}"
        );
    }
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        bystander.request(json!({"method": "question.list"})),
    )
    .await
    .expect("the bystander is answered");
    assert_eq!(answer["status"], 200);
    drop(Client::connect(server.addr, "/").await);
}

/// The close handshake ends with the server closing TCP at once (RFC 6455 7.1.1): after
/// its own close is answered, and after a client's close, even an invalid one, that its
/// close answers. It once read on for a second, until the client gave up and reset.
async fn the_server_closes_tcp_first_and_promptly(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let prompt = Duration::from_millis(500);
    // The server closes first (a protocol error); the client answers.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send_frame(true, op::PING, &[b'x'; 126]).await;
    assert_eq!(raw.close_code().await, Some(1002));
    raw.send_frame(true, op::CLOSE, &1000u16.to_be_bytes())
        .await;
    assert_eq!(raw.next_frame_within(prompt).await, None);
    // The server closes first while the client is in the middle of a message too big:
    // the rest of it is skipped, then the client's close ends the handshake.
    let mut raw = RawClient::connect(server.addr).await;
    let big = frame_bytes(true, op::TEXT, &vec![b' '; (1 << 20) + 1]);
    raw.send_bytes(&big[..64 * 1024]).await;
    assert_eq!(raw.close_code().await, Some(1009));
    raw.send_bytes(&big[64 * 1024..]).await;
    raw.send_frame(true, op::CLOSE, &1000u16.to_be_bytes())
        .await;
    assert_eq!(raw.next_frame_within(prompt).await, None);
    // The client closes first with a code that is not allowed: the server's 1002 answers
    // it, and nothing more is awaited.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send_frame(true, op::CLOSE, &999u16.to_be_bytes()).await;
    assert_eq!(raw.close_code().await, Some(1002));
    assert_eq!(raw.next_frame_within(prompt).await, None);
}

/// A fragmented text message whose fragment is not UTF-8 closes the connection with 1007
/// at that fragment, without waiting for the message's end.
async fn fragmented_text_fails_at_the_first_bad_fragment(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut raw = RawClient::connect(server.addr).await;
    // "κόσμε" with its second character cut across two fragments: valid so far.
    raw.send_frame(false, op::TEXT, &[0xce, 0xba, 0xe1]).await;
    raw.send_frame(false, op::CONTINUATION, &[0xbd]).await;
    raw.send_frame(false, op::CONTINUATION, &[0xb9, 0xcf]).await;
    // Then a byte no continuation can make valid; the message never ends.
    raw.send_frame(false, op::CONTINUATION, &[0x83, 0xff]).await;
    let close = raw
        .next_frame_within(Duration::from_secs(5))
        .await
        .expect("a close frame");
    assert_eq!(close.close_code(), Some(1007), "{close:?}");
}
