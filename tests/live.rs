//! Live data end to end: real WebSocket clients subscribe to the polls and todos examples
//! on SQLite and PostgreSQL, while other clients, and other programs with plain SQL,
//! write.

use std::time::Duration;

use channels_api::{Limits, LiveOptions};
use channels_api_tests::{Backend, Client, TestServer, connect_db, on_both_backends};
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

on_both_backends!(
    events_follow_each_committed_write,
    events_carry_what_retrieve_answers,
    live_queries_see_rows_enter_and_leave,
    one_row_subscriptions_see_only_that_row,
    writes_by_other_programs_are_events,
    rolled_back_writes_are_not_events,
    snapshot_and_events_meet_exactly,
    resume_replays_exactly_what_was_missed,
    resume_past_the_history_is_410,
    unsubscribe_ends_one_or_all,
    bad_subscribe_requests_are_400,
    events_obey_each_connections_scope,
    a_client_that_stops_reading_loses_nothing,
    two_servers_on_one_database_are_one_api,
    custom_methods_publish_events,
    subscriptions_per_connection_are_bounded,
    replays_are_bounded,
    concurrent_writers_each_change_arrives_once_in_order,
);

async fn subscribe(client: &mut Client, request: Value) -> (String, String) {
    let response = client.request(request).await;
    assert_eq!(response["status"], 200, "{response}");
    let data = &response["data"];
    (
        data["subscription"].as_str().expect("an id").to_owned(),
        data["position"].as_str().expect("a position").to_owned(),
    )
}

async fn create(client: &mut Client, text: &str) -> Value {
    let response = client
        .request(json!({"method": "question.create", "question_text": text}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    response["data"].clone()
}

fn position(event: &Value) -> u64 {
    event["position"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no position in {event}"))
}

/// Runs `sql` through a connection of its own, as another program would.
async fn outside(server: &TestServer, sql: &str) -> Result<(), String> {
    let (url, sql) = (server.test_db.url.clone(), sql.to_owned());
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut conn =
                    diesel::SqliteConnection::establish(path).map_err(|e| e.to_string())?;
                conn.batch_execute("PRAGMA busy_timeout = 5000")
                    .map_err(|e| e.to_string())?;
                conn.batch_execute(&sql).map_err(|e| e.to_string())
            }
            None => {
                let mut conn = diesel::PgConnection::establish(&url).map_err(|e| e.to_string())?;
                conn.batch_execute(&sql).map_err(|e| e.to_string())
            }
        }
    })
    .await
    .expect("outside task")
}

async fn events_follow_each_committed_write(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    let mut writer = server.client().await;
    let (id, _) = subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;

    let row = create(&mut writer, "Is it live?").await;
    let pk = row["id"].clone();
    let patched = writer
        .request(json!({"method": "question.patch", "id": pk, "question_text": "It is live."}))
        .await;
    assert_eq!(patched["status"], 200, "{patched}");
    let deleted = writer
        .request(json!({"method": "question.delete", "id": pk}))
        .await;
    assert_eq!(deleted["status"], 204);

    let created = watcher.event().await;
    assert_eq!(created["event"], "question.created");
    assert_eq!(created["subscription"], id.as_str());
    assert_eq!(created["data"], row);
    let updated = watcher.event().await;
    assert_eq!(updated["event"], "question.updated");
    assert_eq!(updated["data"], patched["data"]);
    let gone = watcher.event().await;
    assert_eq!(gone["event"], "question.deleted");
    assert_eq!(gone["data"], json!({"id": pk}));
    assert!(position(&created) < position(&updated) && position(&updated) < position(&gone));
    watcher.no_message_within(Duration::from_millis(200)).await;
}

async fn events_carry_what_retrieve_answers(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    subscribe(&mut watcher, json!({"method": "user.subscribe"})).await;
    let response = watcher
        .request(json!({"method": "user.create", "email": "ada@example.com", "password": "correct horse"}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    let event = watcher.event().await;
    assert_eq!(event["event"], "user.created");
    let retrieved = watcher
        .request(json!({"method": "user.retrieve", "id": response["data"]["id"]}))
        .await;
    assert_eq!(event["data"], retrieved["data"]);
    assert!(event["data"].get("password").is_none(), "{event}");
}

async fn live_queries_see_rows_enter_and_leave(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    let mut writer = server.client().await;
    subscribe(
        &mut watcher,
        json!({"method": "question.subscribe", "question_text__icontains": "rust"}),
    )
    .await;
    let row = create(&mut writer, "Why Rust?").await;
    let pk = row["id"].clone();
    create(&mut writer, "Why Python?").await;
    writer
        .request(
            json!({"method": "question.patch", "id": pk, "question_text": "Why RUST, really?"}),
        )
        .await;
    writer
        .request(json!({"method": "question.patch", "id": pk, "question_text": "Why Go?"}))
        .await;
    writer
        .request(json!({"method": "question.patch", "id": pk, "question_text": "Why rust again?"}))
        .await;

    let kinds: Vec<(String, Value)> = {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let event = watcher.event().await;
            seen.push((
                event["event"].as_str().unwrap_or_default().to_owned(),
                event["data"]["question_text"].clone(),
            ));
        }
        seen
    };
    assert_eq!(
        kinds,
        vec![
            ("question.created".into(), json!("Why Rust?")),
            ("question.updated".into(), json!("Why RUST, really?")),
            ("question.deleted".into(), Value::Null),
            ("question.created".into(), json!("Why rust again?")),
        ]
    );
    watcher.no_message_within(Duration::from_millis(200)).await;
}

async fn one_row_subscriptions_see_only_that_row(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut writer = server.client().await;
    let mine = create(&mut writer, "mine").await;
    let other = create(&mut writer, "other").await;
    let mut watcher = server.client().await;
    subscribe(
        &mut watcher,
        json!({"method": "question.subscribe", "id": mine["id"]}),
    )
    .await;
    writer
        .request(json!({"method": "question.patch", "id": other["id"], "question_text": "x"}))
        .await;
    writer
        .request(json!({"method": "question.patch", "id": mine["id"], "question_text": "y"}))
        .await;
    let event = watcher.event().await;
    assert_eq!(event["event"], "question.updated");
    assert_eq!(event["data"]["id"], mine["id"]);
    assert_eq!(event["data"]["question_text"], "y");
    watcher.no_message_within(Duration::from_millis(200)).await;
}

async fn concurrent_writers_each_change_arrives_once_in_order(backend: Backend) {
    const WRITERS: usize = 4;
    const EACH: usize = 25;
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut client = server.client().await;
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                ids.push(create(&mut client, &format!("writer {w}, row {i}")).await["id"].clone());
            }
            ids
        }));
    }
    let mut written = std::collections::BTreeSet::new();
    for writer in writers {
        for id in writer.await.expect("writer") {
            written.insert(id.as_i64().expect("an id"));
        }
    }
    let mut received = std::collections::BTreeSet::new();
    let mut last = 0;
    for _ in 0..WRITERS * EACH {
        let event = watcher.event().await;
        assert_eq!(event["event"], "question.created", "{event}");
        assert!(
            position(&event) > last,
            "out of order: {event} after {last}"
        );
        last = position(&event);
        let id = event["data"]["id"].as_i64().expect("an id");
        assert!(received.insert(id), "twice: {event}");
    }
    assert_eq!(received, written);
    watcher.no_message_within(Duration::from_millis(200)).await;
}

async fn writes_by_other_programs_are_events(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    outside(
        &server,
        "INSERT INTO questions (question_text, pub_date) VALUES ('from psql', '2026-01-02 03:04:05');
         UPDATE questions SET question_text = 'bulk' WHERE question_text = 'from psql';",
    )
    .await
    .expect("outside write");
    let created = watcher.event().await;
    assert_eq!(created["event"], "question.created");
    assert_eq!(created["data"]["question_text"], "from psql");
    assert_eq!(created["data"]["pub_date"], "2026-01-02T03:04:05");
    let updated = watcher.event().await;
    assert_eq!(updated["event"], "question.updated");
    assert_eq!(updated["data"]["question_text"], "bulk");
    outside(&server, "DELETE FROM questions")
        .await
        .expect("bulk delete");
    let deleted = watcher.event().await;
    assert_eq!(deleted["event"], "question.deleted");
    assert_eq!(deleted["data"]["id"], created["data"]["id"]);
}

async fn rolled_back_writes_are_not_events(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    outside(
        &server,
        "BEGIN;
         INSERT INTO questions (question_text, pub_date) VALUES ('never', '2026-01-01 00:00:00');
         ROLLBACK;
         INSERT INTO questions (question_text, pub_date) VALUES ('kept', '2026-01-01 00:00:00');",
    )
    .await
    .expect("outside writes");
    let event = watcher.event().await;
    assert_eq!(event["data"]["question_text"], "kept", "{event}");
    watcher.no_message_within(Duration::from_millis(200)).await;
}

async fn snapshot_and_events_meet_exactly(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut writer = server.client().await;
    for text in ["one", "two", "three"] {
        create(&mut writer, text).await;
    }
    let mut watcher = server.client().await;
    let response = watcher
        .request(json!({"method": "question.subscribe", "snapshot": true, "page_size": 2}))
        .await;
    assert_eq!(response["status"], 200, "{response}");
    let data = &response["data"];
    assert_eq!(data["count"], 3, "{response}");
    assert_eq!(data["results"].as_array().map(Vec::len), Some(2));
    let start: u64 = data["position"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("position");
    create(&mut writer, "four").await;
    let event = watcher.event().await;
    assert_eq!(event["data"]["question_text"], "four");
    assert!(position(&event) > start);
    watcher.no_message_within(Duration::from_millis(200)).await;
}

async fn resume_replays_exactly_what_was_missed(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut writer = server.client().await;
    let mut first = server.client().await;
    subscribe(&mut first, json!({"method": "question.subscribe"})).await;
    create(&mut writer, "seen").await;
    let seen = first.event().await;
    drop(first);

    for text in ["missed 1", "missed 2", "missed 3"] {
        create(&mut writer, text).await;
    }
    let mut again = server.client().await;
    let after = seen["position"].clone();
    let (_, at) = subscribe(
        &mut again,
        json!({"method": "question.subscribe", "after": after}),
    )
    .await;
    assert_eq!(json!(at), after);
    for text in ["missed 1", "missed 2", "missed 3"] {
        let event = again.event().await;
        assert_eq!(event["data"]["question_text"], text);
    }
    create(&mut writer, "live again").await;
    assert_eq!(again.event().await["data"]["question_text"], "live again");
    again.no_message_within(Duration::from_millis(200)).await;

    // A position the server never gave out.
    for after in [json!("99999999"), json!("x"), json!(-1), json!("-1")] {
        let response = again
            .request(json!({"method": "question.subscribe", "after": after}))
            .await;
        assert_eq!(response["status"], 400, "{after}: {response}");
        assert!(response["errors"]["after"].is_array(), "{response}");
    }
}

async fn resume_past_the_history_is_410(backend: Backend) {
    let router = channels_api_examples::polls::router().live(
        LiveOptions::default()
            .retention_count(2)
            .prune_interval(Duration::from_millis(20)),
    );
    let server = TestServer::start(backend, router).await;
    let mut writer = server.client().await;
    let mut watcher = server.client().await;
    let (_, start) = subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    for i in 0..6 {
        create(&mut writer, &format!("row {i}")).await;
    }
    for _ in 0..6 {
        watcher.event().await;
    }
    // Pruning runs every 20 ms; give it a few rounds.
    let mut answer = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = watcher
            .request(json!({"method": "question.subscribe", "after": start}))
            .await;
        if answer["status"] == 410 {
            break;
        }
        watcher
            .request(json!({"method": "question.unsubscribe", "subscription": answer["data"]["subscription"]}))
            .await;
    }
    assert_eq!(answer["status"], 410, "{answer}");
    assert!(
        answer["errors"]["after"][0]
            .as_str()
            .unwrap_or_default()
            .contains("list again")
    );
}

async fn unsubscribe_ends_one_or_all(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    let mut writer = server.client().await;
    let (a, _) = subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    let (b, _) = subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    assert_ne!(a, b);
    let response = watcher
        .request(json!({"method": "question.unsubscribe", "subscription": a}))
        .await;
    assert_eq!(response["status"], 200, "{response}");
    assert_eq!(response["data"]["unsubscribed"], json!([a]));
    create(&mut writer, "only b").await;
    let event = watcher.event().await;
    assert_eq!(event["subscription"], b.as_str());
    watcher.no_message_within(Duration::from_millis(200)).await;

    let response = watcher
        .request(json!({"method": "question.unsubscribe", "subscription": a}))
        .await;
    assert_eq!(response["status"], 404, "{response}");
    subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    let response = watcher
        .request(json!({"method": "question.unsubscribe"}))
        .await;
    assert_eq!(
        response["data"]["unsubscribed"].as_array().map(Vec::len),
        Some(2)
    );
    create(&mut writer, "nobody listens").await;
    watcher.no_message_within(Duration::from_millis(200)).await;
}

async fn bad_subscribe_requests_are_400(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    for (request, key) in [
        (
            json!({"method": "question.subscribe", "votes__gte": 1}),
            "votes__gte",
        ),
        (json!({"method": "question.subscribe", "id": "seven"}), "id"),
        (
            json!({"method": "question.subscribe", "snapshot": "yes"}),
            "snapshot",
        ),
        (
            json!({"method": "question.subscribe", "page_size": 10}),
            "page_size",
        ),
        (
            json!({"method": "question.subscribe", "snapshot": true, "after": "1"}),
            "snapshot",
        ),
        (json!({"method": "question.unsubscribe", "id": 1}), "id"),
    ] {
        let response = client.request(request.clone()).await;
        assert_eq!(response["status"], 400, "{request}: {response}");
        assert!(response["errors"][key].is_array(), "{request}: {response}");
    }
}

async fn events_obey_each_connections_scope(backend: Backend) {
    let server = TestServer::todos(backend).await;
    let bearer = |token: &str| format!("Bearer {token}");
    let (a, b) = (bearer("alice-token"), bearer("bob-token"));
    let mut alice = Client::connect_with(server.addr, "/", &[("authorization", &a)])
        .await
        .expect("alice");
    let mut bob = Client::connect_with(server.addr, "/", &[("authorization", &b)])
        .await
        .expect("bob");
    subscribe(&mut alice, json!({"method": "todo.subscribe"})).await;
    let response = bob
        .request(json!({"method": "todo.create", "title": "bob's secret"}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    // Another program moves Bob's todo to Alice: to her it is new.
    outside(&server, "UPDATE todos SET owner_id = 1")
        .await
        .expect("reassign");
    let event = alice.event().await;
    assert_eq!(event["event"], "todo.created", "{event}");
    assert_eq!(event["data"]["title"], "bob's secret");
    // And back to Bob: to her it is gone, with its key alone.
    outside(&server, "UPDATE todos SET owner_id = 2")
        .await
        .expect("reassign");
    let event = alice.event().await;
    assert_eq!(event["event"], "todo.deleted", "{event}");
    assert_eq!(event["data"], json!({"id": response["data"]["id"]}));
    bob.request(
        json!({"method": "todo.patch", "id": response["data"]["id"], "title": "still secret"}),
    )
    .await;
    alice.no_message_within(Duration::from_millis(300)).await;
}

async fn a_client_that_stops_reading_loses_nothing(backend: Backend) {
    let router = channels_api_examples::polls::router()
        .limits(Limits::default().max_queued_bytes(256 * 1024));
    let server = TestServer::start(backend, router).await;
    let mut reader = server.client().await;
    subscribe(&mut reader, json!({"method": "question.subscribe"})).await;
    // 200 rows of 100 KB each, in one statement: far more than socket buffers and the
    // queue hold while the client reads nothing.
    let rows = 200;
    let big = match backend {
        Backend::Sqlite => "printf('%.*c', 100000, 'x')",
        Backend::Postgres => "repeat('x', 100000)",
    };
    let series = match backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
             INSERT INTO questions (question_text, pub_date)
             SELECT {big} || i, '2026-01-01 00:00:00' FROM n"
        ),
        Backend::Postgres => format!(
            "INSERT INTO questions (question_text, pub_date)
             SELECT {big} || i, '2026-01-01 00:00:00' FROM generate_series(1, {rows}) AS i"
        ),
    };
    outside(&server, &series).await.expect("bulk insert");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut ids = std::collections::HashSet::new();
    let mut received = 0;
    let ended = loop {
        let event = reader.event().await;
        if event["event"] == "question.unsubscribed" {
            break event;
        }
        assert_eq!(event["event"], "question.created");
        assert!(
            ids.insert(event["data"]["id"].clone()),
            "twice: {}",
            event["data"]["id"]
        );
        received += 1;
    };
    assert!(received < rows, "the queue should have overflowed");
    let resume = ended["position"].clone();
    assert!(
        ended["errors"]["subscription"][0]
            .as_str()
            .unwrap_or_default()
            .contains(resume.as_str().unwrap_or("?")),
        "{ended}"
    );
    subscribe(
        &mut reader,
        json!({"method": "question.subscribe", "after": resume}),
    )
    .await;
    let mut rest = 0;
    while received + rest < rows {
        let event = reader.event().await;
        if event["event"] == "question.unsubscribed" {
            // Read too slowly again: resume again.
            subscribe(
                &mut reader,
                json!({"method": "question.subscribe", "after": event["position"]}),
            )
            .await;
            continue;
        }
        assert_eq!(event["event"], "question.created");
        assert!(
            ids.insert(event["data"]["id"].clone()),
            "twice: {}",
            event["data"]["id"]
        );
        rest += 1;
    }
    assert_eq!(received + rest, rows);
    reader.no_message_within(Duration::from_millis(300)).await;
}

async fn two_servers_on_one_database_are_one_api(backend: Backend) {
    let first = TestServer::polls(backend).await;
    // A second server, with its own database threads and hub, as another process would.
    let db = connect_db(&first.test_db.url).await;
    let second = channels_api_examples::polls::router()
        .bind("127.0.0.1:0", db)
        .await
        .expect("bind");
    let addr = second.local_addr().expect("address");
    let task = tokio::spawn(second.run());

    let mut on_first = first.client().await;
    let mut on_second = Client::connect(addr, "/").await;
    subscribe(&mut on_first, json!({"method": "question.subscribe"})).await;
    subscribe(&mut on_second, json!({"method": "question.subscribe"})).await;
    let made_on_second = create(&mut on_second, "through the second").await;
    let made_on_first = create(&mut on_first, "through the first").await;
    for client in [&mut on_first, &mut on_second] {
        let a = client.event().await;
        let b = client.event().await;
        assert_eq!(a["data"], made_on_second, "{a}");
        assert_eq!(b["data"], made_on_first, "{b}");
        assert!(position(&a) < position(&b));
    }
    task.abort();
}

async fn custom_methods_publish_events(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut watcher = server.client().await;
    let mut other = server.client().await;
    let (id, start) = subscribe(&mut watcher, json!({"method": "user.subscribe"})).await;
    let response = other
        .request(json!({"method": "user.invite", "email": "ada@example.com"}))
        .await;
    assert_eq!(response["status"], 200, "{response}");
    let event = watcher.event().await;
    assert_eq!(event["event"], "user.invited");
    assert_eq!(event["subscription"], id.as_str());
    assert_eq!(event["data"], json!({"email": "ada@example.com"}));
    // Replayed on resume, like a change.
    let mut again = server.client().await;
    subscribe(
        &mut again,
        json!({"method": "user.subscribe", "after": start}),
    )
    .await;
    assert_eq!(again.event().await["event"], "user.invited");
    // Subscribers of another resource hear nothing.
    let mut questions = server.client().await;
    subscribe(&mut questions, json!({"method": "question.subscribe"})).await;
    other
        .request(json!({"method": "user.invite", "email": "bob@example.com"}))
        .await;
    assert_eq!(watcher.event().await["data"]["email"], "bob@example.com");
    questions
        .no_message_within(Duration::from_millis(200))
        .await;
}

async fn subscriptions_per_connection_are_bounded(backend: Backend) {
    let router =
        channels_api_examples::polls::router().limits(Limits::default().max_subscriptions(2));
    let server = TestServer::start(backend, router).await;
    let mut client = server.client().await;
    let (first, _) = subscribe(&mut client, json!({"method": "question.subscribe"})).await;
    subscribe(&mut client, json!({"method": "user.subscribe"})).await;
    let response = client
        .request(json!({"method": "question.subscribe", "id": 1}))
        .await;
    assert_eq!(response["status"], 429, "{response}");
    assert!(
        response["errors"]["method"][0]
            .as_str()
            .unwrap_or_default()
            .contains("at most 2"),
        "{response}"
    );
    // Ending one makes room; another connection has its own allowance.
    client
        .request(json!({"method": "question.unsubscribe", "subscription": first}))
        .await;
    subscribe(
        &mut client,
        json!({"method": "question.subscribe", "id": 1}),
    )
    .await;
    let mut other = server.client().await;
    subscribe(&mut other, json!({"method": "question.subscribe"})).await;
}

async fn replays_are_bounded(backend: Backend) {
    let router = channels_api_examples::polls::router().limits(Limits::default().max_replay(3));
    let server = TestServer::start(backend, router).await;
    let mut client = server.client().await;
    let (_, start) = subscribe(&mut client, json!({"method": "question.subscribe"})).await;
    for i in 0..3 {
        create(&mut client, &format!("row {i}")).await;
    }
    let mut resumed = server.client().await;
    subscribe(
        &mut resumed,
        json!({"method": "question.subscribe", "after": start}),
    )
    .await;
    for _ in 0..3 {
        resumed.event().await;
    }
    create(&mut client, "one too many").await;
    let response = resumed
        .request(json!({"method": "question.subscribe", "after": start}))
        .await;
    assert_eq!(response["status"], 410, "{response}");
    assert!(
        errors_of_after(&response).contains("more than 3 changes"),
        "{response}"
    );
}

fn errors_of_after(response: &Value) -> &str {
    response["errors"]["after"][0].as_str().unwrap_or_default()
}

/// On PostgreSQL writing transactions run side by side, and one that took its position
/// first may commit last. Here a write through the API commits while another program's
/// transaction, which wrote before it, stays open: the API's write does not wait for it,
/// its event waits behind the open transaction's position, and once that commits the
/// watcher receives both, in position order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set CHANNELS_API_TEST_POSTGRES_URL, run with --ignored"]
async fn postgres_writers_do_not_wait_and_late_commits_are_not_skipped() {
    let server = TestServer::polls(Backend::Postgres).await;
    let mut watcher = server.client().await;
    subscribe(&mut watcher, json!({"method": "question.subscribe"})).await;
    let url = server.test_db.url.clone();
    let (began, opened) = tokio::sync::oneshot::channel();
    let (finish, finished) = std::sync::mpsc::channel::<()>();
    let slow = tokio::task::spawn_blocking(move || -> Result<(), String> {
        use diesel::Connection;
        let mut conn = diesel::PgConnection::establish(&url).map_err(|e| e.to_string())?;
        conn.batch_execute(
            "BEGIN;
             INSERT INTO questions (question_text, pub_date) VALUES ('slow', '2026-01-01 00:00:00');",
        )
        .map_err(|e| e.to_string())?;
        let _ = began.send(());
        let _ = finished.recv();
        conn.batch_execute("COMMIT").map_err(|e| e.to_string())
    });
    opened.await.expect("the open transaction began");

    let mut writer = server.client().await;
    let fast = create(&mut writer, "fast").await;
    // Its position is after the open transaction's: delivering it now could skip that one.
    watcher.no_message_within(Duration::from_millis(400)).await;
    finish.send(()).expect("the open transaction waits");
    slow.await.expect("outside task").expect("outside commit");

    let first = watcher.event().await;
    let second = watcher.event().await;
    assert_eq!(first["data"]["question_text"], "slow", "{first}");
    assert_eq!(second["data"], fast, "{second}");
    assert!(position(&first) < position(&second));
    watcher.no_message_within(Duration::from_millis(200)).await;
}

/// A database whose log was installed by an earlier version, whose trigger made writers
/// take turns on an advisory lock (here also on a table no longer served): the server's
/// install removes the function and every trigger that calls it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set CHANNELS_API_TEST_POSTGRES_URL, run with --ignored"]
async fn postgres_install_removes_the_old_ordering_trigger() {
    let first = TestServer::polls(Backend::Postgres).await;
    outside(
        &first,
        "CREATE TABLE retired (id INTEGER PRIMARY KEY);
         CREATE FUNCTION channels_api_order() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_advisory_xact_lock(7161); RETURN NULL; END $$;
         CREATE TRIGGER channels_api_order BEFORE INSERT OR UPDATE OR DELETE ON questions
             FOR EACH STATEMENT EXECUTE FUNCTION channels_api_order();
         CREATE TRIGGER channels_api_order BEFORE INSERT OR UPDATE OR DELETE ON retired
             FOR EACH STATEMENT EXECUTE FUNCTION channels_api_order();",
    )
    .await
    .expect("the old trigger");
    // A server starting on it installs the log again.
    let db = connect_db(&first.test_db.url).await;
    let second = channels_api_examples::polls::router()
        .bind("127.0.0.1:0", db)
        .await
        .expect("bind");
    let gone = outside(&first, "SELECT 'channels_api_order'::regproc").await;
    assert!(
        gone.is_err(),
        "the old function and its triggers are still there"
    );
    drop(second);
}
