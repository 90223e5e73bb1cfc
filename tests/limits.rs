//! What one connection may cost, from the client's side: timeouts, the connection limit,
//! a client that never reads, and a shutdown under way. These concern the socket, not the
//! database, so they run on SQLite only.

use std::time::{Duration, Instant};

use channels_api::tungstenite::Message;
use channels_api::{Limits, Router};
use channels_api_examples::polls::Question;
use channels_api_tests::raw::{RawClient, op};
use channels_api_tests::{Backend, Client, TestDb, TestServer, connect_db};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A consumer whose method takes a while, to have a request in flight.
mod slow {
    use channels_api::prelude::*;
    use channels_api_examples::polls::schema::questions;

    #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
    #[diesel(table_name = questions)]
    #[consumer(resource = "slow", methods(nap))]
    pub(crate) struct Slow {
        pub id: i32,
    }

    impl Slow {
        /// Answers after 300 ms.
        #[consumer_method]
        async fn nap(_ctx: &Context<'_>) -> Result<&'static str, ApiError> {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            Ok("rested")
        }
    }
}

fn router(limits: Limits) -> Router {
    Router::new()
        .consumer::<Question>()
        .consumer::<slow::Slow>()
        .limits(limits)
}

async fn server(limits: Limits) -> TestServer {
    TestServer::start(Backend::Sqlite, router(limits)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_pinged_then_closed() {
    let server = server(Limits::default().idle_timeout(Duration::from_millis(600))).await;
    // A client that keeps reading answers each ping by itself (every WebSocket library
    // does), so for three times the timeout it sees pings and no close.
    let mut polite = server.client().await;
    let mut pings = 0;
    let _ = tokio::time::timeout(Duration::from_millis(1800), async {
        loop {
            match polite.next_message().await {
                Some(Message::Ping(_)) => pings += 1,
                other => panic!("expected pings only, got {other:?}"),
            }
        }
    })
    .await;
    assert!(pings >= 2, "{pings} pings");
    let answer = polite.request(json!({"method": "question.list"})).await;
    assert_eq!(answer["status"], 200);
    // One that never answers is closed with 1001 once the timeout has passed.
    let mut silent = RawClient::connect(server.addr).await;
    let started = Instant::now();
    let ping = silent.next_frame().await.expect("a ping");
    assert_eq!(ping.opcode, op::PING);
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(silent.close_code().await, Some(1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_messages_are_dropped_after_the_message_timeout() {
    let server = server(Limits::default().message_timeout(Duration::from_millis(300))).await;
    // Half a frame, then nothing.
    let mut half = RawClient::connect(server.addr).await;
    let frame = channels_api_tests::raw::frame_bytes(true, op::TEXT, &[b' '; 100]);
    half.send_bytes(&frame[..20]).await;
    assert_eq!(half.close_code().await, Some(1008));

    // The first fragment of a message, then pings to look alive: the message still has
    // to finish in time.
    let mut fragments = RawClient::connect(server.addr).await;
    fragments.send_frame(false, op::TEXT, b"{\"method\":").await;
    let started = Instant::now();
    let code = loop {
        fragments.send_frame(true, op::PING, b"alive").await;
        match fragments.next_frame().await {
            Some(frame) if frame.opcode == op::CLOSE => break frame.close_code(),
            Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            None => break None,
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never closed");
    };
    assert_eq!(code, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_get_503() {
    let server = server(Limits::default().max_connections(2)).await;
    let first = server.client().await;
    let _second = server.client().await;
    let mut third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After:"), "{answer}");

    // A slot frees when a client leaves.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = Client::connect_with(server.addr, "/", &[]).await;
        if attempt.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_after_the_write_timeout() {
    let limits = Limits::default()
        .write_timeout(Duration::from_millis(300))
        .max_connections(1);
    let server = server(limits).await;
    let mut client = server.client().await;
    let text = "x".repeat(190);
    for _ in 0..50 {
        let answer = client
            .request(json!({"method": "question.create", "question_text": text}))
            .await;
        assert_eq!(answer["status"], 201);
    }
    drop(client);
    // Pipeline requests with ~12 KiB answers and read none of them.
    let mut hog = loop {
        match RawClient::try_connect(server.addr).await {
            Some(hog) => break hog,
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let request = channels_api_tests::raw::frame_bytes(
        true,
        op::TEXT,
        br#"{"method":"question.list","page_size":50}"#,
    );
    let burst = request.repeat(2_000);
    let _ = tokio::time::timeout(Duration::from_secs(5), hog.stream.write_all(&burst)).await;
    // The hog held the only slot; once its answers stop moving it loses it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if Client::connect_with(server.addr, "/", &[]).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stuck connection was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_requests_in_flight_then_closes_every_client_with_1001() {
    let test_db = TestDb::new(Backend::Sqlite).await;
    let db = connect_db(&test_db.url).await;
    channels_api_examples::polls::migrate(&db).await.unwrap();
    let server = router(Limits::default())
        .bind("127.0.0.1:0", db)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(RawClient::connect(addr).await);
    }
    let mut busy = Client::connect(addr, "/").await;
    busy.send(&json!({"method": "slow.nap", "request_id": 1}))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();

    let answer = busy.recv().await;
    assert_eq!(answer["data"], "rested", "{answer}");
    match busy.next_message().await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    for client in &mut idle {
        assert_eq!(client.close_code().await, Some(1001));
    }
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the server returns once every connection closed")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_rate_get_429_with_a_retry_hint() {
    let server = server(Limits::default().requests_per_second(5)).await;
    let mut client = server.client().await;
    for i in 0..8 {
        client
            .send(&json!({"method": "question.list", "request_id": i}))
            .await;
    }
    let mut statuses = Vec::new();
    for i in 0..8 {
        let answer = client.recv().await;
        assert_eq!(answer["request_id"], i, "{answer}");
        if answer["status"] == 429 {
            let message = answer["errors"]["non_field_errors"][0].as_str().unwrap();
            assert!(
                message.starts_with("too many requests: retry in "),
                "{message}"
            );
        }
        statuses.push(answer["status"].as_u64().unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    // The budget refills: a second later the connection is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = client.request(json!({"method": "question.list"})).await;
    assert_eq!(answer["status"], 200);
}
