//! Test support: servers on ephemeral ports over a fresh database of either backend, and a
//! WebSocket client that speaks JSON.
//!
//! SQLite runs everywhere, on a temporary file. PostgreSQL runs when
//! `CHANNELS_API_TEST_POSTGRES_URL` names a server the tests may create schemas in; each
//! test gets a schema of its own, dropped when the test ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use channels_api::{Database, DatabaseOptions, Router};
use diesel::connection::SimpleConnection;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod proxy;
pub mod raw;

/// Runs each named async test function (`async fn name(backend: Backend)`, in the calling
/// module) once per backend: on SQLite always, on PostgreSQL when asked (`--ignored`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: set CHANNELS_API_TEST_POSTGRES_URL, run with --ignored"]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}

/// The variable that names the PostgreSQL server of the tests.
pub const POSTGRES_URL_VAR: &str = "CHANNELS_API_TEST_POSTGRES_URL";

/// How long a test waits for any one answer before it fails.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// The database backends the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh schema on the server named by [`POSTGRES_URL_VAR`].
    Postgres,
}

/// An empty database of one backend, removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    /// The URL to connect to.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The PostgreSQL server's URL; panics with instructions when it is not set, since the
/// PostgreSQL tests only run when asked for.
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "the PostgreSQL suite needs {POSTGRES_URL_VAR}, e.g. \
             postgres://postgres:postgres@127.0.0.1/postgres (`.ci/run` sets it up)"
        )
    })
}

/// `url` with libpq's `options` set so that every connection works in `schema`.
pub fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

impl TestDb {
    /// A new, empty database.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let path = dir.path().join("test.sqlite3");
                TestDb {
                    url: format!("sqlite://{}", path.display()),
                    _dir: Some(dir),
                    pg_schema: None,
                }
            }
            Backend::Postgres => {
                let server = postgres_url();
                let schema = unique_name("t");
                let (admin, name) = (server.clone(), schema.clone());
                tokio::task::spawn_blocking(move || {
                    use diesel::Connection;
                    let mut conn = diesel::PgConnection::establish(&admin)
                        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"));
                    conn.batch_execute(&format!("CREATE SCHEMA {name}"))
                        .expect("create schema");
                })
                .await
                .expect("schema task");
                TestDb {
                    url: with_search_path(&server, &schema),
                    _dir: None,
                    pg_schema: Some((server, schema)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, schema)) = self.pg_schema.take() {
            // A plain thread: dropping may happen inside the async runtime.
            let _ = std::thread::spawn(move || {
                use diesel::Connection;
                if let Ok(mut conn) = diesel::PgConnection::establish(&server) {
                    let _ = conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
                }
            })
            .join();
        }
    }
}

/// A server running in the background of the test's runtime.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its database.
    pub db: Database,
    /// Keeps the database alive for as long as the server.
    pub test_db: TestDb,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects to `url` with short timeouts, so tests of an unreachable database stay fast.
pub async fn connect_db(url: &str) -> Database {
    let options = DatabaseOptions::default().connection_timeout(Duration::from_secs(2));
    Database::connect_with(url, options)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

impl TestServer {
    /// The polls example app on a fresh database.
    pub async fn polls(backend: Backend) -> TestServer {
        Self::start(backend, channels_api_examples::polls::router()).await
    }

    /// The todos example app on a fresh database.
    pub async fn todos(backend: Backend) -> TestServer {
        let test_db = TestDb::new(backend).await;
        let db = connect_db(&test_db.url).await;
        channels_api_examples::todos::migrate(&db)
            .await
            .expect("migrate");
        Self::serve(channels_api_examples::todos::router(), db, test_db).await
    }

    /// `router` over a fresh database with the polls schema.
    pub async fn start(backend: Backend, router: Router) -> TestServer {
        let test_db = TestDb::new(backend).await;
        let db = connect_db(&test_db.url).await;
        channels_api_examples::polls::migrate(&db)
            .await
            .expect("migrate");
        Self::serve(router, db, test_db).await
    }

    /// `router` over `db`.
    pub async fn serve(router: Router, db: Database, test_db: TestDb) -> TestServer {
        let server = router.bind("127.0.0.1:0", db.clone()).await.expect("bind");
        let addr = server.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = server.run().await;
        });
        TestServer {
            addr,
            db,
            test_db,
            task,
        }
    }

    /// A client connected to `/`.
    pub async fn client(&self) -> Client {
        Client::connect(self.addr, "/").await
    }
}

/// A WebSocket client that sends and receives JSON.
#[derive(Debug)]
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Events that arrived while an answer was awaited.
    events: std::collections::VecDeque<Value>,
}

impl Client {
    /// Connects to `path` on `addr`.
    pub async fn connect(addr: SocketAddr, path: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .unwrap_or_else(|e| panic!("connect to ws://{addr}{path}: {e}"));
        Client {
            ws,
            events: Default::default(),
        }
    }

    /// Connects to `path` on `addr` with extra handshake headers; the handshake's HTTP
    /// error when it is refused.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}{path}").into_client_request()?;
        for (name, value) in headers {
            let value = value.parse().expect("a valid header value");
            request.headers_mut().insert(*name, value);
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Client {
            ws,
            events: Default::default(),
        })
    }

    /// Sends `value` as a text frame.
    pub async fn send(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends `text` as a text frame, as is.
    pub async fn send_text(&mut self, text: &str) {
        self.send_message(Message::text(text)).await;
    }

    /// Sends any frame.
    pub async fn send_message(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The next message, whatever it is; `None` when the stream ended.
    pub async fn next_message(&mut self) -> Option<Message> {
        match tokio::time::timeout(ANSWER_TIMEOUT, self.ws.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            Ok(Some(Err(_)) | None) => None,
            Err(_) => panic!("no message within {ANSWER_TIMEOUT:?}"),
        }
    }

    /// The next text frame, as it was sent.
    pub async fn recv_text(&mut self) -> String {
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => return text.to_string(),
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next text frame, parsed.
    pub async fn recv(&mut self) -> Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("response is not JSON ({e}): {text}"))
    }

    /// Sends `value` and returns the answer; events that arrive first are kept for
    /// [`Client::event`].
    pub async fn request(&mut self, value: Value) -> Value {
        self.send(&value).await;
        loop {
            let message = self.recv().await;
            if message.get("event").is_some() {
                self.events.push_back(message);
            } else {
                return message;
            }
        }
    }

    /// The next live-data event (the next message, which must be one).
    pub async fn event(&mut self) -> Value {
        if let Some(event) = self.events.pop_front() {
            return event;
        }
        let message = self.recv().await;
        assert!(
            message.get("event").is_some(),
            "expected an event, got {message}"
        );
        message
    }

    /// Fails if a message arrives within `wait`.
    pub async fn no_message_within(&mut self, wait: Duration) {
        if let Some(event) = self.events.pop_front() {
            panic!("expected nothing, got {event}");
        }
        if let Ok(message) = tokio::time::timeout(wait, self.ws.next()).await {
            panic!("expected nothing, got {message:?}");
        }
    }
}

/// The messages under `errors.<field>` of a response, for assertions.
pub fn errors_of<'a>(response: &'a Value, field: &str) -> Vec<&'a str> {
    response["errors"][field]
        .as_array()
        .unwrap_or_else(|| panic!("no errors.{field} in {response}"))
        .iter()
        .map(|m| m.as_str().unwrap_or_default())
        .collect()
}
