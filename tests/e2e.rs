//! End-to-end tests: a real WebSocket client against a real server on an ephemeral port,
//! over a real database. Every test runs on SQLite; the same tests run on PostgreSQL with
//! `cargo test -p channels-api-tests -- --ignored` and `CHANNELS_API_TEST_POSTGRES_URL` set
//! (`.ci/run` does both).

use std::time::Duration;

use channels_api::tungstenite::Message;
use channels_api::tungstenite::protocol::frame::coding::CloseCode;
use channels_api::{BareFormatter, Database, DatabaseOptions, Router};
use channels_api_examples::polls::{self, Question, User};
use channels_api_tests::proxy::{Proxy, reroute_postgres_url};
use channels_api_tests::{
    Backend, Client, TestDb, TestServer, errors_of, on_both_backends, postgres_url,
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Error as WsError;

/// Test-only consumers over the polls tables: a second consumer of one model with its own
/// formatter and page sizes, and custom methods that reach the database, read their context
/// and panic.
mod extra {
    use channels_api::prelude::*;
    use channels_api_examples::polls::schema::questions;
    use diesel::prelude::*;
    use serde_json::{Value, json};

    #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
    #[diesel(table_name = questions)]
    #[consumer(
        resource = "bare_question",
        methods(create, retrieve, list),
        formatter = BareFormatter,
        page_size = 2,
        max_page_size = 3
    )]
    pub(crate) struct BareQuestion {
        #[consumer(read_only)]
        pub id: i32,
        pub question_text: String,
        #[consumer(read_only)]
        pub pub_date: chrono::NaiveDateTime,
    }

    #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
    #[diesel(table_name = questions)]
    #[consumer(
        resource = "tools",
        methods(boom, count_like, whoami, create, enqueue, add),
        validate = Tools::no_shouting
    )]
    pub(crate) struct Tools {
        #[consumer(read_only)]
        pub id: i32,
        pub question_text: String,
        #[consumer(read_only)]
        pub pub_date: chrono::NaiveDateTime,
    }

    /// Questions anyone may read, and only those not marked "locked" may change; nothing
    /// may be created.
    #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
    #[diesel(table_name = questions)]
    #[consumer(
        resource = "guarded",
        methods(create, retrieve, update, patch, delete, list),
        permission = (
            AnyOf(ReadOnly, Check(Guarded::no_create)),
            CheckObject(Guarded::unlocked)
        )
    )]
    pub(crate) struct Guarded {
        #[consumer(read_only)]
        pub id: i32,
        pub question_text: String,
        #[consumer(read_only)]
        pub pub_date: chrono::NaiveDateTime,
    }

    impl Guarded {
        fn no_create(ctx: &Context<'_>) -> Result<(), ApiError> {
            if ctx.method() == "create" {
                Err(ApiError::forbidden("questions are created elsewhere"))
            } else {
                Ok(())
            }
        }

        fn unlocked(ctx: &Context<'_>, question: &Guarded) -> Result<(), ApiError> {
            let locked = question.question_text.starts_with("locked");
            if locked && ctx.method() != "retrieve" {
                Err(ApiError::forbidden("this question is locked"))
            } else {
                Ok(())
            }
        }
    }

    /// Serde's attributes on input: names in camelCase both ways, but the date is read as
    /// `askedAt`; the text is trimmed, may be sent as `text`, and is "untitled" when left
    /// out; the date defaults to the first of January 2001.
    #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
    #[diesel(table_name = questions)]
    #[serde(rename_all = "camelCase")]
    #[consumer(
        resource = "camel",
        methods(create, retrieve, update, patch, list),
        filter(question_text, pub_date),
        ordering(pub_date)
    )]
    pub(crate) struct Camel {
        #[consumer(read_only)]
        pub id: i32,
        #[serde(alias = "text", default = "untitled", deserialize_with = "trimmed")]
        pub question_text: String,
        #[serde(rename(deserialize = "askedAt"), default = "new_year_2001")]
        pub pub_date: chrono::NaiveDateTime,
    }

    fn untitled() -> String {
        "untitled".to_owned()
    }

    fn new_year_2001() -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2001, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
    }

    /// Text without surrounding spaces; blank text is refused.
    fn trimmed<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.trim() {
            "" => Err(serde::de::Error::custom("may not be blank")),
            trimmed => Ok(trimmed.to_owned()),
        }
    }

    /// Todos with no scope and no defaults: three required fields.
    #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
    #[diesel(table_name = channels_api_examples::todos::schema::todos)]
    #[consumer(resource = "chore", methods(create))]
    pub(crate) struct Chore {
        #[consumer(read_only)]
        pub id: i32,
        pub owner_id: i32,
        pub title: String,
        pub done: bool,
    }

    #[derive(Deserialize)]
    pub(crate) struct Like {
        pub(crate) text: String,
    }

    impl Tools {
        /// A rule across the request: no all-caps questions.
        fn no_shouting(
            _ctx: &Context<'_>,
            payload: &channels_api::Payload<'_>,
        ) -> Result<(), ApiError> {
            let text: Option<String> = payload.get("question_text")?;
            match text {
                Some(text)
                    if text.chars().any(char::is_alphabetic) && text == text.to_uppercase() =>
                {
                    Err(ApiError::bad_request("please don't shout"))
                }
                _ => Ok(()),
            }
        }

        #[consumer_method]
        async fn boom(_ctx: &Context<'_>) -> Result<(), ApiError> {
            panic!("boom")
        }

        /// Counts questions containing `text`, through the backend-neutral connection.
        #[consumer_method]
        async fn count_like(ctx: &Context<'_>, like: Like) -> Result<i64, ApiError> {
            let pattern = format!("%{}%", like.text);
            let n = ctx
                .db()
                .run(move |conn| {
                    questions::table
                        .filter(questions::question_text.like(pattern))
                        .count()
                        .get_result::<i64>(conn)
                })
                .await?;
            Ok(n)
        }

        /// Inserts a question and answers 201 with the row as stored: insert-and-return on
        /// the backend-neutral connection, with `.returning(table::all_columns)`.
        #[consumer_method]
        async fn add(ctx: &Context<'_>, like: Like) -> Result<Reply, ApiError> {
            let row: Tools = ctx
                .db()
                .write(move |conn| {
                    diesel::insert_into(questions::table)
                        .values(questions::question_text.eq(like.text))
                        .returning(questions::all_columns)
                        .get_result(conn)
                })
                .await?;
            Reply::created(&row)
        }

        /// Answers 202 with the job it accepted: a method that chooses its status.
        #[consumer_method]
        async fn enqueue(_ctx: &Context<'_>, job: Value) -> Result<Reply, ApiError> {
            Reply::with_status(202, &json!({"accepted": job}))
        }

        #[consumer_method]
        async fn whoami(ctx: &Context<'_>) -> Result<Value, ApiError> {
            Ok(json!({
                "resource": ctx.resource(),
                "method": ctx.method(),
                "path": ctx.connection().path(),
                "backend": ctx.db().backend().to_string(),
            }))
        }
    }
}

on_both_backends!(
    create_answers_with_the_stored_row,
    request_id_is_echoed_verbatim,
    retrieve_finds_a_row_or_answers_404,
    update_requires_every_writable_field,
    patch_changes_some_fields,
    list_pages_through_rows,
    delete_answers_204_then_404,
    user_password_is_never_sent_back,
    custom_method_echoes_its_content,
    custom_methods_reach_context_and_database,
    unique_violation_is_409_naming_the_field,
    missing_and_mistyped_fields_are_400_naming_them,
    read_only_fields_are_ignored_on_input,
    bad_frames_get_400_and_the_connection_stays_usable,
    unknown_resources_and_methods_list_what_exists,
    method_not_enabled_is_405,
    binary_frames_get_400,
    oversized_messages_close_with_1009,
    deeply_nested_json_gets_400,
    pipelined_requests_are_all_answered_in_order,
    concurrent_clients_lose_no_row,
    unknown_path_is_refused_at_the_handshake,
    consumers_on_different_paths,
    formatters_per_router_and_per_consumer,
    panicking_method_answers_500_and_keeps_the_connection,
    database_outage_is_503_and_recovers,
    api_schema_describes_every_resource,
    debugger_page_is_served_only_in_debug_mode,
    list_filters_with_lookups,
    list_filters_refuse_what_is_not_allowed,
    list_orders_by_allowed_fields,
    list_pages_by_cursor,
    anonymous_connections_get_401,
    unknown_tokens_are_refused_at_the_handshake,
    connections_see_and_change_only_their_own_rows,
    scope_pins_fields_on_create_and_update,
    object_permissions_guard_each_record,
    foreign_origins_are_refused_at_the_handshake,
    validation_rules_answer_400_by_field,
    shutdown_closes_connections_with_1001,
    unknown_keys_are_400_with_a_suggestion,
    numbers_out_of_range_say_so,
    serde_attributes_rule_input,
);

const SEED_QUESTION: &str = "What is your favorite python package?";

async fn create_answers_with_the_stored_row(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    // The message of the Python project's README, verbatim.
    client
        .send_text(r#"{"method": "question.create", "question_text": "What is your favorite python package?"}"#)
        .await;
    let response = client.recv().await;
    assert_eq!(response["method"], "question.create");
    assert_eq!(response["status"], 201);
    assert!(response.get("request_id").is_none(), "{response}");
    let data = &response["data"];
    assert!(data["id"].as_i64().is_some_and(|id| id > 0), "{response}");
    assert_eq!(data["question_text"], SEED_QUESTION);
    let pub_date = data["pub_date"].as_str().expect("pub_date is a string");
    assert!(
        chrono::NaiveDateTime::parse_from_str(pub_date, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
        "{pub_date}"
    );

    // The row is in the database, as answered.
    let id = data["id"].as_i64().unwrap() as i32;
    let stored = server
        .db
        .run(move |conn| {
            use channels_api::Model;
            Question::find(conn, &id, &[])
        })
        .await
        .unwrap()
        .expect("the row exists");
    assert_eq!(stored.question_text, SEED_QUESTION);
}

async fn request_id_is_echoed_verbatim(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    for id in [r#""abc""#, "7", "1.5e3", "null", "true", r#""\u00e9\n""#] {
        client
            .send_text(&format!(
                r#"{{"method":"question.list","request_id":{id}}}"#
            ))
            .await;
        let text = client.recv_text().await;
        assert!(
            text.contains(&format!(r#""request_id":{id},"#)),
            "request_id {id} not echoed verbatim in {text}"
        );
    }
    // A request_id that is not a scalar is refused, and the method is still named.
    let response = client
        .request(json!({"method": "question.list", "request_id": [1]}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(response["method"], "question.list");
    assert_eq!(errors_of(&response, "request_id").len(), 1);
}

async fn create_question(client: &mut Client, text: &str) -> i64 {
    let response = client
        .request(json!({"method": "question.create", "question_text": text}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    response["data"]["id"].as_i64().expect("an id")
}

async fn retrieve_finds_a_row_or_answers_404(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let id = create_question(&mut client, "Hi").await;
    let response = client
        .request(json!({"method": "question.retrieve", "request_id": 8, "id": id}))
        .await;
    assert_eq!(response["status"], 200);
    assert_eq!(response["request_id"], 8);
    assert_eq!(response["data"]["id"], id);
    assert_eq!(response["data"]["question_text"], "Hi");

    let response = client
        .request(json!({"method": "question.retrieve", "id": id + 1000}))
        .await;
    assert_eq!(response["status"], 404);
    assert!(response.get("data").is_none());

    let response = client.request(json!({"method": "question.retrieve"})).await;
    assert_eq!(response["status"], 400);
    assert_eq!(errors_of(&response, "id"), ["this field is required"]);

    let response = client
        .request(json!({"method": "question.retrieve", "id": "one"}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(
        errors_of(&response, "id"),
        ["expected an integer, got the string \"one\""]
    );
}

async fn update_requires_every_writable_field(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let id = create_question(&mut client, "Hi").await;
    let response = client
        .request(json!({"method": "question.update", "id": id, "question_text": "Hello"}))
        .await;
    assert_eq!(response["status"], 200, "{response}");
    assert_eq!(response["data"]["question_text"], "Hello");
    assert_eq!(response["data"]["id"], id);

    // The statement stays prepared between updates: each binds its own row and values.
    let other = create_question(&mut client, "Other").await;
    for round in 0..3 {
        for (key, text) in [
            (id, format!("first {round}")),
            (other, format!("second {round}")),
        ] {
            let response = client
                .request(json!({"method": "question.update", "id": key, "question_text": text}))
                .await;
            assert_eq!(response["status"], 200, "{response}");
            assert_eq!(response["data"]["id"], key);
            assert_eq!(response["data"]["question_text"], text);
        }
    }
    for (key, text) in [(id, "first 2"), (other, "second 2")] {
        let response = client
            .request(json!({"method": "question.retrieve", "id": key}))
            .await;
        assert_eq!(response["data"]["question_text"], text, "{response}");
    }

    let response = client
        .request(json!({"method": "question.update", "id": id}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(
        errors_of(&response, "question_text"),
        ["this field is required"]
    );

    // Every problem of the request at once.
    let response = client
        .request(json!({"method": "question.update", "question_text": 5}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(errors_of(&response, "id"), ["this field is required"]);
    assert_eq!(
        errors_of(&response, "question_text"),
        ["expected a string, got the number 5"]
    );

    let response = client
        .request(json!({"method": "question.update", "id": id + 1000, "question_text": "x"}))
        .await;
    assert_eq!(response["status"], 404);
}

async fn patch_changes_some_fields(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let id = create_question(&mut client, "Hi").await;
    let response = client
        .request(json!({"method": "question.patch", "id": id}))
        .await;
    assert_eq!(response["status"], 200, "{response}");
    assert_eq!(response["data"]["question_text"], "Hi");
    let response = client
        .request(json!({"method": "question.patch", "id": id, "question_text": "Hey"}))
        .await;
    assert_eq!(response["status"], 200);
    assert_eq!(response["data"]["question_text"], "Hey");
    let response = client
        .request(json!({"method": "question.patch", "id": id + 1000}))
        .await;
    assert_eq!(response["status"], 404);
}

async fn list_pages_through_rows(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(
        response["data"],
        json!({"count": 0, "page": 1, "page_size": 50, "results": []})
    );
    for i in 0..5 {
        create_question(&mut client, &format!("q{i}")).await;
    }
    let response = client
        .request(json!({"method": "question.list", "page_size": 2}))
        .await;
    assert_eq!(response["status"], 200);
    let data = &response["data"];
    assert_eq!(data["count"], 5);
    assert_eq!(data["page"], 1);
    assert_eq!(data["page_size"], 2);
    let texts: Vec<_> = data["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["question_text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["q0", "q1"]);

    let response = client
        .request(json!({"method": "question.list", "page": 3, "page_size": 2}))
        .await;
    assert_eq!(response["data"]["results"].as_array().unwrap().len(), 1);
    let response = client
        .request(json!({"method": "question.list", "page": 9, "page_size": 2}))
        .await;
    assert_eq!(response["data"]["results"], json!([]));
    assert_eq!(response["data"]["count"], 5);

    let response = client
        .request(json!({"method": "question.list", "page": 0, "page_size": 0}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(errors_of(&response, "page").len(), 1);
    assert_eq!(
        errors_of(&response, "page_size"),
        ["must be between 1 and 1000"]
    );
    let response = client
        .request(json!({"method": "question.list", "page": "two"}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(errors_of(&response, "page").len(), 1);
}

async fn delete_answers_204_then_404(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let id = create_question(&mut client, "Bye").await;
    let response = client
        .request(json!({"method": "question.delete", "id": id, "request_id": "d"}))
        .await;
    assert_eq!(
        response,
        json!({"method": "question.delete", "request_id": "d", "status": 204})
    );
    let response = client
        .request(json!({"method": "question.delete", "id": id}))
        .await;
    assert_eq!(response["status"], 404);
    let response = client
        .request(json!({"method": "question.retrieve", "id": id}))
        .await;
    assert_eq!(response["status"], 404);
}

async fn user_password_is_never_sent_back(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    client
        .send_text(
            r#"{"method": "user.create", "email": "test@test.com", "password": "1Password"}"#,
        )
        .await;
    let text = client.recv_text().await;
    assert!(
        !text.contains("1Password") && !text.contains("password"),
        "{text}"
    );
    let response: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(response["status"], 201);
    assert_eq!(response["data"]["email"], "test@test.com");
    let id = response["data"]["id"].as_i64().unwrap();

    for request in [
        json!({"method": "user.retrieve", "id": id}),
        json!({"method": "user.list"}),
        json!({"method": "user.update", "id": id, "email": "new@test.com", "password": "2Password"}),
    ] {
        client.send(&request).await;
        let text = client.recv_text().await;
        assert!(text.contains("\"status\":200"), "{text}");
        assert!(
            !text.contains("Password") && !text.contains("password"),
            "{text}"
        );
    }

    // The password is stored all the same.
    let id = id as i32;
    let user = server
        .db
        .run(move |conn| {
            use channels_api::Model;
            User::find(conn, &id, &[])
        })
        .await
        .unwrap()
        .unwrap();
    // As a salted Argon2id hash of what was sent, never the text itself.
    assert!(user.password.starts_with("$argon2id$"), "{}", user.password);
    assert!(polls::password::verify("2Password", &user.password));
    assert!(!polls::password::verify("1Password", &user.password));
}

async fn custom_method_echoes_its_content(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({
            "method": "user.invite",
            "request_id": 3,
            "email": "friend@test.com",
            "nested": {"a": [1, 2.5, null, "x"]}
        }))
        .await;
    assert_eq!(
        response,
        json!({
            "method": "user.invite",
            "request_id": 3,
            "status": 200,
            "data": {"email": "friend@test.com", "nested": {"a": [1, 2.5, null, "x"]}}
        })
    );
}

fn tools_router() -> Router {
    Router::new()
        .consumer::<Question>()
        .consumer::<extra::Tools>()
        .consumer::<extra::BareQuestion>()
}

async fn custom_methods_reach_context_and_database(backend: Backend) {
    let server = TestServer::start(backend, tools_router()).await;
    let mut client = server.client().await;
    for text in ["apple pie", "apple", "pear"] {
        create_question(&mut client, text).await;
    }
    let response = client
        .request(json!({"method": "tools.count_like", "text": "apple"}))
        .await;
    assert_eq!(response["data"], 2, "{response}");
    let response = client.request(json!({"method": "tools.count_like"})).await;
    assert_eq!(response["status"], 400);
    assert_eq!(errors_of(&response, "text"), ["this field is required"]);
    let response = client
        .request(json!({"method": "tools.count_like", "text": ["apple"]}))
        .await;
    assert_eq!(
        errors_of(&response, "text"),
        ["expected a string, got a list"]
    );

    let response = client
        .request(json!({"method": "tools.add", "text": "returned"}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    assert_eq!(response["data"]["question_text"], "returned");
    assert!(response["data"]["id"].as_i64().is_some() && response["data"]["pub_date"].is_string());

    let response = client
        .request(json!({"method": "tools.enqueue", "task": "resize"}))
        .await;
    assert_eq!(response["status"], 202, "{response}");
    assert_eq!(response["data"], json!({"accepted": {"task": "resize"}}));

    let response = client.request(json!({"method": "tools.whoami"})).await;
    let expected_backend = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    assert_eq!(
        response["data"],
        json!({"resource": "tools", "method": "whoami", "path": "/", "backend": expected_backend})
    );
}

async fn unique_violation_is_409_naming_the_field(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let create = json!({"method": "user.create", "email": "a@test.com", "password": "password1"});
    assert_eq!(client.request(create.clone()).await["status"], 201);
    let response = client.request(create).await;
    assert_eq!(response["status"], 409, "{response}");
    assert_eq!(
        errors_of(&response, "email"),
        ["a record with this value already exists"]
    );
    // Nothing of the database's own text leaks.
    let text = response.to_string();
    assert!(
        !text.contains("UNIQUE") && !text.contains("duplicate key"),
        "{text}"
    );
}

async fn missing_and_mistyped_fields_are_400_naming_them(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "question.create", "request_id": 7}))
        .await;
    assert_eq!(
        response,
        json!({
            "method": "question.create",
            "request_id": 7,
            "status": 400,
            "errors": {"question_text": ["this field is required"]}
        })
    );
    let response = client
        .request(json!({"method": "question.create", "question_text": 5}))
        .await;
    assert_eq!(
        errors_of(&response, "question_text"),
        ["expected a string, got the number 5"]
    );
    let response = client
        .request(json!({"method": "question.create", "question_text": null}))
        .await;
    assert_eq!(
        errors_of(&response, "question_text"),
        ["this field may not be null"]
    );
    let response = client
        .request(json!({"method": "user.create", "email": true}))
        .await;
    assert_eq!(
        errors_of(&response, "email"),
        ["expected a string, got true"]
    );
    assert_eq!(errors_of(&response, "password"), ["this field is required"]);
    // No row was written by any of them.
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["data"]["count"], 0);

    // Two mistyped fields and a missing one: three messages under three keys at once.
    let test_db = channels_api_tests::TestDb::new(backend).await;
    let db = channels_api_tests::connect_db(&test_db.url).await;
    channels_api_examples::todos::migrate(&db).await.unwrap();
    let router = Router::new().consumer::<extra::Chore>();
    let server = TestServer::serve(router, db, test_db).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "chore.create", "owner_id": "one", "done": "yes"}))
        .await;
    assert_eq!(response["status"], 400, "{response}");
    assert_eq!(
        response["errors"],
        json!({
            "owner_id": ["expected an integer, got the string \"one\""],
            "done": ["expected true or false, got the string \"yes\""],
            "title": ["this field is required"]
        })
    );
}

async fn read_only_fields_are_ignored_on_input(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({
            "method": "question.create",
            "id": 999,
            "pub_date": "2000-01-01T00:00:00",
            "question_text": "Hi"
        }))
        .await;
    assert_eq!(response["status"], 201);
    assert_ne!(response["data"]["id"], 999);
    assert_ne!(response["data"]["pub_date"], "2000-01-01T00:00:00");
    let id = response["data"]["id"].clone();
    let response = client
        .request(json!({"method": "question.patch", "id": id, "pub_date": "2000-01-01T00:00:00"}))
        .await;
    assert_ne!(response["data"]["pub_date"], "2000-01-01T00:00:00");
}

async fn bad_frames_get_400_and_the_connection_stays_usable(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let cases = [
        ("{\"method\": \"question.list\"", "malformed JSON"),
        ("not json at all", "malformed JSON"),
        ("", "malformed JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("\"question.list\"", "expected a JSON object"),
        ("42", "expected a JSON object"),
    ];
    for (frame, message) in cases {
        client.send_text(frame).await;
        let response = client.recv().await;
        assert_eq!(response["status"], 400, "{frame}: {response}");
        let errors = errors_of(&response, "non_field_errors");
        assert!(errors[0].contains(message), "{frame}: {response}");
    }
    let response = client.request(json!({"request_id": 1})).await;
    assert_eq!(response["status"], 400);
    assert_eq!(response["request_id"], 1);
    assert!(errors_of(&response, "method")[0].contains("required"));
    let response = client.request(json!({"method": 5})).await;
    assert_eq!(response["status"], 400);
    assert!(errors_of(&response, "method")[0].contains("string"));
    // Still answering.
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200);
}

async fn unknown_resources_and_methods_list_what_exists(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client.request(json!({"method": "answer.create"})).await;
    assert_eq!(response["status"], 404);
    let message = errors_of(&response, "method")[0];
    assert!(message.contains("unknown resource `answer`"), "{message}");
    assert!(
        message.contains("resources: question, user;") && message.contains("api.schema"),
        "{message}"
    );

    let response = client.request(json!({"method": "question.vote"})).await;
    assert_eq!(response["status"], 404);
    let message = errors_of(&response, "method")[0];
    assert!(
        message.contains("unknown method `question.vote`"),
        "{message}"
    );
    assert!(
        message.contains("question.patch") && !message.contains("user."),
        "{message}"
    );

    let response = client.request(json!({"method": "question"})).await;
    assert_eq!(response["status"], 404);
    assert!(errors_of(&response, "method")[0].contains("resource.method"));
}

async fn method_not_enabled_is_405(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "user.patch", "id": 1, "request_id": "p"}))
        .await;
    assert_eq!(response["status"], 405);
    assert_eq!(response["request_id"], "p");
    let message = errors_of(&response, "method")[0];
    assert!(
        message.contains("not enabled") && message.contains("user.update"),
        "{message}"
    );
}

async fn binary_frames_get_400(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    client
        .send_message(Message::binary(br#"{"method":"question.list"}"#.to_vec()))
        .await;
    let response = client.recv().await;
    assert_eq!(response["status"], 400);
    assert!(errors_of(&response, "non_field_errors")[0].contains("binary"));
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200);
}

async fn oversized_messages_close_with_1009(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let big = "x".repeat(1024 * 1024 + 1);
    client
        .send(&json!({"method": "question.create", "question_text": big}))
        .await;
    match client.next_message().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame with code 1009, got {other:?}"),
    }
    // Nothing was written, and the server still serves others.
    let mut other = server.client().await;
    let response = other.request(json!({"method": "question.list"})).await;
    assert_eq!(response["data"]["count"], 0);
    // Just under the limit is fine.
    let text = "y".repeat(1024 * 1024 - 100);
    let response = other
        .request(json!({"method": "user.invite", "note": text}))
        .await;
    assert_eq!(response["status"], 200);
}

async fn deeply_nested_json_gets_400(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    for depth in [100, 100_000] {
        let frame = format!(
            r#"{{"method":"user.invite","request_id":1,"x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        client.send_text(&frame).await;
        let response = client.recv().await;
        assert_eq!(response["status"], 400, "depth {depth}");
        assert!(errors_of(&response, "non_field_errors")[0].contains("nested"));
    }
    let response = client
        .request(json!({"method": "user.invite", "x": [[[[1]]]]}))
        .await;
    assert_eq!(response["status"], 200);
}

async fn pipelined_requests_are_all_answered_in_order(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    for i in 0..50 {
        let request = if i % 2 == 0 {
            json!({"method": "question.create", "request_id": i, "question_text": format!("q{i}")})
        } else {
            json!({"method": "question.retrieve", "request_id": i, "id": i / 2 + 1})
        };
        client.send(&request).await;
    }
    for i in 0..50 {
        let response = client.recv().await;
        assert_eq!(response["request_id"], i, "{response}");
        if i % 2 == 0 {
            assert_eq!(response["status"], 201);
        } else {
            // The create just before it is visible: one connection's requests run in order.
            assert_eq!(response["status"], 200, "{response}");
            assert_eq!(response["data"]["question_text"], format!("q{}", i - 1));
        }
    }
}

async fn concurrent_clients_lose_no_row(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut tasks = Vec::new();
    for c in 0..8 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr, "/").await;
            for i in 0..25 {
                let response = client
                    .request(
                        json!({"method": "question.create", "question_text": format!("{c}-{i}")}),
                    )
                    .await;
                assert_eq!(response["status"], 201, "{response}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let mut client = server.client().await;
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["data"]["count"], 200);
}

async fn unknown_path_is_refused_at_the_handshake(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let error = tokio_tungstenite::connect_async(format!("ws://{}/nowhere/", server.addr))
        .await
        .expect_err("the handshake is refused");
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 404)
        }
        other => panic!("expected HTTP 404, got {other}"),
    }
}

async fn consumers_on_different_paths(backend: Backend) {
    let router = Router::new()
        .consumer::<Question>()
        .consumer_at::<User>("/accounts/")
        .consumer_at::<Question>("/accounts/");
    let server = TestServer::start(backend, router).await;
    let mut root = Client::connect(server.addr, "/").await;
    let response = root
        .request(json!({"method": "user.create", "email": "a@b.c", "password": "password1"}))
        .await;
    assert_eq!(response["status"], 404, "{response}");
    create_question(&mut root, "on root").await;

    let mut accounts = Client::connect(server.addr, "/accounts/").await;
    let response = accounts
        .request(json!({"method": "user.create", "email": "a@b.c", "password": "password1"}))
        .await;
    assert_eq!(response["status"], 201);
    let response = accounts.request(json!({"method": "question.list"})).await;
    assert_eq!(response["data"]["count"], 1);

    // A resource served twice on one path is a configuration error, found at bind.
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let error = Router::new()
        .consumer::<Question>()
        .consumer::<Question>()
        .bind("127.0.0.1:0", db)
        .await
        .expect_err("duplicate resource");
    assert!(error.to_string().contains("`question`"), "{error}");
}

async fn formatters_per_router_and_per_consumer(backend: Backend) {
    // The consumer's own formatter: bare data for `bare_question`, the envelope elsewhere.
    let server = TestServer::start(backend, tools_router()).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "bare_question.create", "request_id": 1, "question_text": "Hi"}))
        .await;
    assert_eq!(response["question_text"], "Hi");
    assert!(response.get("status").is_none(), "{response}");
    let response = client
        .request(json!({"method": "bare_question.retrieve", "request_id": 2}))
        .await;
    assert_eq!(
        response["status"], 400,
        "errors keep the envelope: {response}"
    );
    assert_eq!(response["request_id"], 2);
    // Its page sizes.
    for text in ["a", "b"] {
        create_question(&mut client, text).await;
    }
    let response = client
        .request(json!({"method": "bare_question.list"}))
        .await;
    assert_eq!(response["page_size"], 2);
    assert_eq!(response["count"], 3);
    let response = client
        .request(json!({"method": "bare_question.list", "page_size": 4}))
        .await;
    assert_eq!(
        errors_of(&response, "page_size"),
        ["must be between 1 and 3"]
    );
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200);

    // The router's formatter.
    let server = TestServer::start(backend, polls::router().formatter(BareFormatter)).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "question.create", "question_text": SEED_QUESTION}))
        .await;
    assert_eq!(response["question_text"], SEED_QUESTION);
    assert!(response.get("method").is_none(), "{response}");
    let response = client
        .request(json!({"method": "question.delete", "id": response["id"]}))
        .await;
    assert_eq!(
        response,
        json!({"method": "question.delete", "status": 204})
    );
}

async fn panicking_method_answers_500_and_keeps_the_connection(backend: Backend) {
    let server = TestServer::start(backend, tools_router()).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "tools.boom", "request_id": 1}))
        .await;
    assert_eq!(
        response,
        json!({
            "method": "tools.boom",
            "request_id": 1,
            "status": 500,
            "errors": {"non_field_errors": ["internal server error"]}
        })
    );
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200);
}

async fn database_outage_is_503_and_recovers(backend: Backend) {
    match backend {
        Backend::Sqlite => sqlite_outage().await,
        Backend::Postgres => postgres_outage().await,
    }
}

/// SQLite "goes away" when its directory does: no connection can be opened until it is
/// back.
async fn sqlite_outage() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("data");
    let url = format!("sqlite://{}/polls.sqlite3", db_dir.display());
    let options = DatabaseOptions::default()
        .connection_timeout(Duration::from_millis(500))
        .verify(false);
    let db = Database::connect_with(&url, options).await.unwrap();
    let server = TestServer::serve(
        polls::router(),
        db.clone(),
        TestDb::new(Backend::Sqlite).await,
    )
    .await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "question.list", "request_id": 1}))
        .await;
    assert_eq!(response["status"], 503, "{response}");
    assert_eq!(response["request_id"], 1);
    // Live data waits for the database too, and says so.
    let response = client
        .request(json!({"method": "question.subscribe"}))
        .await;
    assert_eq!(response["status"], 503, "{response}");

    std::fs::create_dir(&db_dir).unwrap();
    polls::migrate(&db).await.unwrap();
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200, "{response}");
    // It installs its change log once it can (retrying with a backoff of at most 5 s).
    let mut response = Value::Null;
    for _ in 0..100 {
        response = client
            .request(json!({"method": "question.subscribe"}))
            .await;
        if response["status"] == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(response["status"], 200, "{response}");
    create_question(&mut client, "after the outage").await;
    let event = client.event().await;
    assert_eq!(event["data"]["question_text"], "after the outage");
}

/// PostgreSQL goes away behind a proxy the test cuts, with connections already pooled.
async fn postgres_outage() {
    let test_db = TestDb::new(Backend::Postgres).await;
    let (target, _) = reroute_postgres_url(&postgres_url(), None);
    let proxy = Proxy::start(target).await;
    let (_, url) = reroute_postgres_url(&test_db.url, Some(proxy.addr()));
    let options = DatabaseOptions::default().connection_timeout(Duration::from_secs(1));
    let db = Database::connect_with(&url, options).await.unwrap();
    polls::migrate(&db).await.unwrap();
    let server = TestServer::serve(polls::router(), db, test_db).await;
    let mut client = server.client().await;
    create_question(&mut client, "before").await;

    proxy.stop();
    for _ in 0..3 {
        let response = client.request(json!({"method": "question.list"})).await;
        assert_eq!(response["status"], 503, "{response}");
    }

    proxy.restart().await;
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200, "{response}");
    assert_eq!(response["data"]["count"], 1);
}

async fn api_schema_describes_every_resource(backend: Backend) {
    let server = TestServer::start(backend, tools_router()).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "api.schema", "request_id": 1}))
        .await;
    assert_eq!(response["status"], 200);
    assert_eq!(response["request_id"], 1);
    let resources = response["data"]["resources"].as_array().unwrap();
    let names: Vec<_> = resources
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["question", "tools", "bare_question"]);

    let question = &resources[0];
    assert_eq!(question["primary_key"], "id");
    assert_eq!(
        question["fields"],
        json!([
            {"name": "id", "type": "integer", "read_only": true, "write_only": false, "nullable": false},
            {"name": "question_text", "type": "string", "read_only": false, "write_only": false, "nullable": false},
            {"name": "pub_date", "type": "string", "format": "date-time", "read_only": true, "write_only": false, "nullable": false}
        ])
    );
    assert_eq!(
        question["methods"],
        json!([
            {"name": "create", "builtin": true, "arguments": ["question_text"]},
            {"name": "retrieve", "builtin": true, "arguments": ["id"]},
            {"name": "update", "builtin": true, "arguments": ["id", "question_text"]},
            {"name": "patch", "builtin": true, "arguments": ["id", "question_text"]},
            {"name": "list", "builtin": true, "arguments": ["page", "page_size"]},
            {"name": "delete", "builtin": true, "arguments": ["id"]},
            {"name": "subscribe", "builtin": true, "arguments": ["snapshot", "after", "page", "page_size"]},
            {"name": "unsubscribe", "builtin": true, "arguments": ["subscription"]}
        ])
    );
    // What `list` accepts: filters with their lookups, ordering, page sizes, cursors.
    assert_eq!(
        question["list"],
        json!({
            "filters": [
                {"field": "id", "lookups": ["exact", "gt", "gte", "lt", "lte", "in", "isnull"]},
                {"field": "question_text", "lookups": ["exact", "gt", "gte", "lt", "lte", "in", "isnull", "contains", "icontains"]},
                {"field": "pub_date", "lookups": ["exact", "gt", "gte", "lt", "lte", "in", "isnull"]}
            ],
            "ordering": ["id", "pub_date"],
            "page_size": 50,
            "max_page_size": 1000,
            "cursor": true
        })
    );
    // A resource without `list` says nothing of it; one with no filters says so.
    assert!(resources[1].get("list").is_none(), "{}", resources[1]);
    assert_eq!(
        resources[2]["list"],
        json!({"filters": [], "ordering": [], "page_size": 2, "max_page_size": 3, "cursor": true})
    );
    // Custom methods: a struct argument names its fields, none is an empty list.
    assert_eq!(
        resources[1]["methods"],
        json!([
            {"name": "boom", "builtin": false, "arguments": []},
            {"name": "count_like", "builtin": false, "arguments": ["text"]},
            {"name": "whoami", "builtin": false, "arguments": []},
            {"name": "create", "builtin": true, "arguments": ["question_text"]},
            {"name": "enqueue", "builtin": false, "arguments": null},
            {"name": "add", "builtin": false, "arguments": ["text"]}
        ])
    );

    // A map argument takes any payload; a write-only field is marked.
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client.request(json!({"method": "api.schema"})).await;
    let user = &response["data"]["resources"][1];
    assert_eq!(
        user["methods"][5],
        json!({"name": "invite", "builtin": false, "arguments": null})
    );
    assert_eq!(user["fields"][2]["name"], "password");
    assert_eq!(user["fields"][2]["write_only"], true);
    // It is listed among the methods that exist.
    let response = client.request(json!({"method": "api.nothing"})).await;
    assert!(
        errors_of(&response, "method")[0].contains("api.schema"),
        "{response}"
    );
}

/// Sends a raw HTTP request and returns the status code and the whole answer.
async fn http_get(addr: std::net::SocketAddr, head: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    (status, answer)
}

async fn debugger_page_is_served_only_in_debug_mode(backend: Backend) {
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");

    // Off by default, even with a path set.
    let server = TestServer::start(backend, polls::router().debugger("/channels-api/")).await;
    let (status, _) = http_get(server.addr, &get("/channels-api/")).await;
    assert_eq!(status, 404);

    let router = polls::router().debugger("/channels-api/").debug(true);
    let server = TestServer::start(backend, router).await;
    let (status, page) = http_get(server.addr, &get("/channels-api/")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("text/html"), "{page}");
    assert!(
        page.contains("Content-Security-Policy: default-src 'self'"),
        "{page}"
    );
    for asset in ["channels-api.js", "debugger.js", "debugger.css"] {
        let (status, answer) = http_get(server.addr, &get(&format!("/channels-api/{asset}"))).await;
        assert_eq!(status, 200, "{asset}: {answer}");
    }
    let (status, _) = http_get(server.addr, &get("/channels-api/missing.js")).await;
    assert_eq!(status, 404);
    // Without the slash, the page's relative links would miss: it redirects.
    let (status, answer) = http_get(server.addr, &get("/channels-api")).await;
    assert_eq!(status, 308);
    assert!(answer.contains("Location: /channels-api/"), "{answer}");
    let (status, _) = http_get(
        server.addr,
        "POST /channels-api/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405);

    // Plain HTTP on a WebSocket path, a wrong protocol version, garbage.
    let (status, _) = http_get(server.addr, &get("/")).await;
    assert_eq!(status, 426);
    let (status, answer) = http_get(
        server.addr,
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .await;
    assert_eq!(status, 426);
    assert!(answer.contains("Sec-WebSocket-Version: 13"), "{answer}");
    let (status, _) = http_get(server.addr, "NONSENSE\r\n\r\n").await;
    assert_eq!(status, 400);
    let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    let (status, _) = http_get(server.addr, &huge).await;
    assert_eq!(status, 431);

    // WebSockets still work beside the page.
    let mut client = server.client().await;
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200);
}

/// Creates questions with the given texts and returns their ids.
async fn seed(client: &mut Client, texts: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for text in texts {
        ids.push(create_question(client, text).await);
    }
    ids
}

fn texts_of(response: &Value) -> Vec<String> {
    response["data"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {response}"))
        .iter()
        .map(|q| q["question_text"].as_str().unwrap().to_owned())
        .collect()
}

async fn list_filters_with_lookups(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let ids = seed(
        &mut client,
        &[
            "Python or Rust?",
            "rust is fast",
            "100% sure",
            "under_score",
            "Rust",
        ],
    )
    .await;
    let cases = [
        (json!({"question_text": "Rust"}), vec!["Rust"]),
        (
            json!({"question_text__contains": "Rust"}),
            vec!["Python or Rust?", "Rust"],
        ),
        (
            json!({"question_text__icontains": "rust"}),
            vec!["Python or Rust?", "rust is fast", "Rust"],
        ),
        // Wildcards in the value are matched literally.
        (json!({"question_text__contains": "%"}), vec!["100% sure"]),
        (json!({"question_text__contains": "_"}), vec!["under_score"]),
        (
            json!({"question_text__in": ["Rust", "100% sure", "nope"]}),
            vec!["100% sure", "Rust"],
        ),
        (
            json!({"question_text__isnull": false, "question_text__lt": "S"}),
            vec!["Python or Rust?", "100% sure", "Rust"],
        ),
        (json!({"question_text__isnull": true}), vec![]),
        // An injection attempt is only a value.
        (json!({"question_text": "x' OR '1'='1"}), vec![]),
    ];
    for (filters, expected) in cases {
        let mut request = json!({"method": "question.list"});
        request
            .as_object_mut()
            .unwrap()
            .extend(filters.as_object().unwrap().clone());
        let response = client.request(request).await;
        assert_eq!(response["status"], 200, "{filters}: {response}");
        assert_eq!(texts_of(&response), expected, "{filters}");
        assert_eq!(response["data"]["count"], expected.len(), "{filters}");
    }

    // Dates compare as dates.
    let response = client
        .request(json!({"method": "question.retrieve", "id": ids[0]}))
        .await;
    let pub_date = response["data"]["pub_date"].as_str().unwrap().to_owned();
    let response = client
        .request(json!({"method": "question.list", "pub_date__gte": pub_date}))
        .await;
    assert_eq!(response["data"]["count"], 5, "{response}");
    let response = client
        .request(json!({"method": "question.list", "pub_date__lt": "2000-01-01T00:00:00"}))
        .await;
    assert_eq!(response["data"]["count"], 0, "{response}");
}

async fn list_filters_refuse_what_is_not_allowed(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({
            "method": "question.list",
            "votes": 1,
            "pub_date__gte": "yesterday",
            "question_text__in": "Rust",
            "pub_date__contains": "2026"
        }))
        .await;
    assert_eq!(response["status"], 400, "{response}");
    assert!(
        errors_of(&response, "votes")[0].contains("filter on: id, question_text, pub_date"),
        "{response}"
    );
    assert_eq!(errors_of(&response, "pub_date__gte").len(), 1, "{response}");
    assert_eq!(
        errors_of(&response, "question_text__in"),
        ["expected a list, got the string \"Rust\""]
    );
    assert!(errors_of(&response, "pub_date__contains")[0].contains("does not apply"));
    // The user resource allows no filter at all.
    let response = client
        .request(json!({"method": "user.list", "email": "a@b.c"}))
        .await;
    assert_eq!(
        errors_of(&response, "email"),
        ["this resource cannot be filtered"]
    );
}

async fn list_orders_by_allowed_fields(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    seed(&mut client, &["a", "b", "c"]).await;
    let response = client
        .request(json!({"method": "question.list", "ordering": "-id"}))
        .await;
    assert_eq!(texts_of(&response), ["c", "b", "a"]);
    // Equal dates (same second) fall back to the key: a stable order.
    let response = client
        .request(json!({"method": "question.list", "ordering": ["pub_date"]}))
        .await;
    assert_eq!(texts_of(&response), ["a", "b", "c"]);
    let response = client
        .request(json!({"method": "question.list", "ordering": "-pub_date, -id", "page_size": 2}))
        .await;
    assert_eq!(texts_of(&response), ["c", "b"]);
    let response = client
        .request(json!({"method": "question.list", "ordering": "question_text"}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(
        errors_of(&response, "ordering"),
        ["cannot order by `question_text`; order by: id, pub_date"]
    );
    let response = client
        .request(json!({"method": "question.list", "ordering": 5}))
        .await;
    assert_eq!(response["status"], 400);
}

async fn list_pages_by_cursor(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let texts: Vec<String> = (0..7).map(|i| format!("q{i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    seed(&mut client, &refs).await;
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..10 {
        let response = client
            .request(json!({"method": "question.list", "cursor": cursor, "page_size": 3}))
            .await;
        assert_eq!(response["status"], 200, "{response}");
        assert!(response["data"].get("count").is_none(), "{response}");
        seen.extend(texts_of(&response));
        cursor = response["data"]["next"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen, texts);
    // Filters still apply; a bad cursor and a mix of modes are refused.
    let response = client
        .request(
            json!({"method": "question.list", "cursor": null, "question_text__in": ["q1", "q5"]}),
        )
        .await;
    assert_eq!(texts_of(&response), ["q1", "q5"]);
    let response = client
        .request(json!({"method": "question.list", "cursor": "abc"}))
        .await;
    assert_eq!(
        errors_of(&response, "cursor"),
        ["not a cursor this resource gave out"]
    );
    let response = client
        .request(json!({"method": "question.list", "cursor": null, "ordering": "-id", "page": 2}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(errors_of(&response, "ordering").len(), 1);
    assert_eq!(errors_of(&response, "page").len(), 1);
}

const ALICE: &str = "alice-token";
const BOB: &str = "bob-token";

async fn login(server: &TestServer, token: &str) -> Client {
    let bearer = format!("Bearer {token}");
    Client::connect_with(server.addr, "/", &[("authorization", &bearer)])
        .await
        .expect("the token is accepted")
}

async fn anonymous_connections_get_401(backend: Backend) {
    let server = TestServer::todos(backend).await;
    let mut anonymous = server.client().await;
    for method in ["todo.list", "todo.create", "account.me", "account.retrieve"] {
        let response = anonymous
            .request(json!({"method": method, "id": 1, "title": "x"}))
            .await;
        assert_eq!(response["status"], 401, "{method}: {response}");
    }
    // The schema stays readable.
    let response = anonymous.request(json!({"method": "api.schema"})).await;
    assert_eq!(response["status"], 200);
}

async fn unknown_tokens_are_refused_at_the_handshake(backend: Backend) {
    let server = TestServer::todos(backend).await;
    let error = Client::connect_with(server.addr, "/", &[("authorization", "Bearer nope")])
        .await
        .expect_err("refused");
    match error {
        WsError::Http(response) => assert_eq!(response.status(), 401),
        other => panic!("expected HTTP 401, got {other}"),
    }
    // The token also travels in the query string, for browsers.
    let mut alice = Client::connect(server.addr, &format!("/?token={ALICE}")).await;
    let response = alice.request(json!({"method": "account.me"})).await;
    assert_eq!(response["data"], json!({"id": 1, "name": "alice"}));
    let error = Client::connect_with(server.addr, "/?token=nope", &[])
        .await
        .expect_err("refused");
    assert!(matches!(error, WsError::Http(r) if r.status() == 401));
}

async fn connections_see_and_change_only_their_own_rows(backend: Backend) {
    let server = TestServer::todos(backend).await;
    let mut alice = login(&server, ALICE).await;
    let mut bob = login(&server, BOB).await;
    let response = alice
        .request(json!({"method": "todo.create", "title": "alice's secret"}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    let id = response["data"]["id"].clone();
    bob.request(json!({"method": "todo.create", "title": "bob's"}))
        .await;

    // Bob cannot see it...
    let response = bob.request(json!({"method": "todo.list"})).await;
    assert_eq!(response["data"]["count"], 1);
    assert_eq!(response["data"]["results"][0]["title"], "bob's");
    let response = bob
        .request(json!({"method": "todo.list", "title__contains": "secret"}))
        .await;
    assert_eq!(response["data"]["count"], 0);
    let response = bob
        .request(json!({"method": "todo.retrieve", "id": id}))
        .await;
    assert_eq!(response["status"], 404, "ids cannot be probed: {response}");
    // ...nor change or delete it: each is a 404, as if it did not exist.
    for request in [
        json!({"method": "todo.update", "id": id, "title": "pwned", "done": true, "owner_id": 2}),
        json!({"method": "todo.patch", "id": id, "title": "pwned"}),
        json!({"method": "todo.delete", "id": id}),
    ] {
        let response = bob.request(request.clone()).await;
        assert_eq!(response["status"], 404, "{request}: {response}");
    }
    let response = bob
        .request(json!({"method": "account.retrieve", "id": 1}))
        .await;
    assert_eq!(response["status"], 404);

    // Alice's row is untouched.
    let response = alice
        .request(json!({"method": "todo.retrieve", "id": id}))
        .await;
    assert_eq!(
        response["data"],
        json!({"id": id, "owner_id": 1, "title": "alice's secret", "done": false})
    );
    let response = alice
        .request(json!({"method": "todo.patch", "id": id, "done": true}))
        .await;
    assert_eq!(response["data"]["done"], true);
    let response = alice
        .request(json!({"method": "todo.list", "done": true, "ordering": "-title"}))
        .await;
    assert_eq!(response["data"]["count"], 1);
    let response = alice
        .request(json!({"method": "todo.delete", "id": id}))
        .await;
    assert_eq!(response["status"], 204);
}

async fn scope_pins_fields_on_create_and_update(backend: Backend) {
    let server = TestServer::todos(backend).await;
    let mut bob = login(&server, BOB).await;
    // Bob tries to write into Alice's list: the scope's owner wins.
    let response = bob
        .request(json!({"method": "todo.create", "title": "planted", "owner_id": 1}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    assert_eq!(response["data"]["owner_id"], 2);
    let id = response["data"]["id"].clone();
    let response = bob
        .request(json!({"method": "todo.patch", "id": id, "owner_id": 1}))
        .await;
    assert_eq!(response["data"]["owner_id"], 2, "{response}");
    let response = bob
        .request(json!({"method": "todo.update", "id": id, "title": "moved", "done": false, "owner_id": "x"}))
        .await;
    assert_eq!(
        response["status"], 200,
        "a pinned field's input is ignored: {response}"
    );
    assert_eq!(response["data"]["owner_id"], 2);
    let mut alice = login(&server, ALICE).await;
    let response = alice.request(json!({"method": "todo.list"})).await;
    assert_eq!(response["data"]["count"], 0);
}

async fn object_permissions_guard_each_record(backend: Backend) {
    let router = tools_router().consumer::<extra::Guarded>();
    let server = TestServer::start(backend, router).await;
    let mut client = server.client().await;
    let open = create_question(&mut client, "open").await;
    let locked = create_question(&mut client, "locked question").await;

    let response = client
        .request(json!({"method": "guarded.create", "question_text": "x"}))
        .await;
    assert_eq!(response["status"], 403, "{response}");
    assert_eq!(
        errors_of(&response, "non_field_errors"),
        ["this resource is read-only"]
    );
    let response = client
        .request(json!({"method": "guarded.retrieve", "id": locked}))
        .await;
    assert_eq!(response["status"], 200);
    for request in [
        json!({"method": "guarded.update", "id": locked, "question_text": "y"}),
        json!({"method": "guarded.patch", "id": locked}),
        json!({"method": "guarded.delete", "id": locked}),
    ] {
        let response = client.request(request.clone()).await;
        assert_eq!(response["status"], 403, "{request}: {response}");
        assert_eq!(
            errors_of(&response, "non_field_errors"),
            ["this question is locked"]
        );
    }
    let response = client
        .request(json!({"method": "guarded.patch", "id": open, "question_text": "changed"}))
        .await;
    assert_eq!(response["status"], 200, "{response}");
    let response = client
        .request(json!({"method": "guarded.delete", "id": open}))
        .await;
    assert_eq!(response["status"], 204);
    // The locked row survived.
    let response = client
        .request(json!({"method": "question.retrieve", "id": locked}))
        .await;
    assert_eq!(response["data"]["question_text"], "locked question");
}

async fn foreign_origins_are_refused_at_the_handshake(backend: Backend) {
    let server = TestServer::todos(backend).await;
    let error = Client::connect_with(server.addr, "/", &[("origin", "http://evil.example")])
        .await
        .expect_err("refused");
    match error {
        WsError::Http(response) => assert_eq!(response.status(), 403),
        other => panic!("expected HTTP 403, got {other}"),
    }
    // Same origin, an allowed origin, and no origin at all (not a browser) are let in.
    let same = format!("http://{}", server.addr);
    for origin in [same.as_str(), "http://localhost:3000"] {
        let mut client = Client::connect_with(server.addr, "/", &[("origin", origin)])
            .await
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
        let response = client.request(json!({"method": "api.schema"})).await;
        assert_eq!(response["status"], 200);
    }
    let router = polls::router().allow_any_origin();
    let server = TestServer::start(backend, router).await;
    Client::connect_with(server.addr, "/", &[("origin", "http://evil.example")])
        .await
        .expect("any origin is allowed");
}

async fn validation_rules_answer_400_by_field(backend: Backend) {
    let server = TestServer::start(backend, tools_router()).await;
    let mut client = server.client().await;
    let long = "x".repeat(201);
    for request in [
        json!({"method": "question.create", "question_text": ""}),
        json!({"method": "question.create", "question_text": long}),
        json!({"method": "question.update", "id": 1, "question_text": ""}),
        json!({"method": "question.patch", "id": 1, "question_text": ""}),
    ] {
        let response = client.request(request.clone()).await;
        assert_eq!(response["status"], 400, "{request}: {response}");
        assert_eq!(
            errors_of(&response, "question_text"),
            ["must be between 1 and 200 characters long"],
            "{request}"
        );
    }
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["data"]["count"], 0, "nothing was written");
    let id = create_question(&mut client, "fine").await;
    let response = client
        .request(json!({"method": "question.patch", "id": id}))
        .await;
    assert_eq!(
        response["status"], 200,
        "a patch without the field is valid"
    );

    // A consumer's own rule across the request, under non_field_errors.
    let response = client
        .request(json!({"method": "tools.create", "question_text": "WHY?"}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(
        errors_of(&response, "non_field_errors"),
        ["please don't shout"]
    );
    let response = client
        .request(json!({"method": "tools.create", "question_text": "Why?"}))
        .await;
    assert_eq!(response["status"], 201);

    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client
        .request(
            json!({"method": "user.create", "email": "not-an-email", "password": "long enough"}),
        )
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(
        errors_of(&response, "email"),
        ["enter a valid email address"]
    );
    // The password's rule is checked as it is read (before it is hashed), so it is
    // reported with the other fields that could not be read, before the field rules.
    let response = client
        .request(json!({"method": "user.create", "email": "a@b.c", "password": "short"}))
        .await;
    assert_eq!(response["status"], 400);
    assert_eq!(
        errors_of(&response, "password"),
        ["use at least 8 characters"]
    );
}

async fn shutdown_closes_connections_with_1001(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = channels_api_tests::connect_db(&test_db.url).await;
    polls::migrate(&db).await.unwrap();
    let server = polls::router().bind("127.0.0.1:0", db).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let mut client = Client::connect(addr, "/").await;
    let response = client.request(json!({"method": "question.list"})).await;
    assert_eq!(response["status"], 200);

    stop.send(()).unwrap();
    match client.next_message().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame with code 1001, got {other:?}"),
    }
    running.await.unwrap().unwrap();
    // No new connection is accepted.
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .is_err()
    );
}

async fn unknown_keys_are_400_with_a_suggestion(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let id = create_question(&mut client, "kept").await;
    let response = client
        .request(json!({"method": "question.patch", "id": id, "question_txt": "changed"}))
        .await;
    assert_eq!(response["status"], 400, "{response}");
    let message = errors_of(&response, "question_txt")[0];
    assert!(
        message.contains("did you mean `question_text`?"),
        "{message}"
    );
    assert!(message.contains("id, question_text, pub_date"), "{message}");
    for method in [
        "question.create",
        "question.retrieve",
        "question.update",
        "question.delete",
    ] {
        let response = client
            .request(json!({"method": method, "id": id, "question_text": "x", "colour": 1}))
            .await;
        assert_eq!(response["status"], 400, "{method}: {response}");
        assert!(errors_of(&response, "colour")[0].starts_with("no such field"));
    }
    // Nothing changed, and a client may send back the object it read, read-only fields
    // included.
    let read = client
        .request(json!({"method": "question.retrieve", "id": id}))
        .await;
    assert_eq!(read["data"]["question_text"], "kept");
    let mut back = read["data"].clone();
    back["method"] = json!("question.update");
    back["question_text"] = json!("edited");
    let response = client.request(back).await;
    assert_eq!(response["status"], 200, "{response}");
    assert_eq!(response["data"]["question_text"], "edited");
}

async fn numbers_out_of_range_say_so(backend: Backend) {
    let server = TestServer::polls(backend).await;
    let mut client = server.client().await;
    let response = client
        .request(json!({"method": "question.retrieve", "id": 99_999_999_999_i64}))
        .await;
    assert_eq!(errors_of(&response, "id"), ["must be at most 2147483647"]);
    for page in [-1, 0] {
        let response = client
            .request(json!({"method": "question.list", "page": page}))
            .await;
        assert_eq!(errors_of(&response, "page"), ["pages are numbered from 1"]);
    }
    let response = client
        .request(json!({"method": "question.list", "page_size": -5}))
        .await;
    assert_eq!(
        errors_of(&response, "page_size"),
        ["must be between 1 and 1000"]
    );
}

async fn serde_attributes_rule_input(backend: Backend) {
    use channels_api::Model;
    use extra::Camel;
    // The names the runtime checks requests against are serde's.
    assert_eq!(Camel::FIELDS, ["id", "questionText", "pubDate"]);
    assert_eq!(Camel::INPUT_KEYS, ["id", "questionText", "text", "askedAt"]);
    assert_eq!(Camel::FILTER_FIELDS, ["questionText", "askedAt"]);
    let mut serde_keys = channels_api::__private::struct_fields::<<Camel as Model>::NewRecord>()
        .unwrap()
        .to_vec();
    serde_keys.sort_unstable();
    assert_eq!(serde_keys, ["askedAt", "questionText", "text"]);

    let server = TestServer::start(backend, Router::new().consumer::<Camel>()).await;
    let mut client = server.client().await;
    // Names in camelCase, the date read as `askedAt` and sent back as `pubDate`, the text
    // through its `deserialize_with` function.
    let response = client
        .request(json!({"method": "camel.create", "questionText": "  Hi  ", "askedAt": "2020-05-06T07:08:09"}))
        .await;
    assert_eq!(response["status"], 201, "{response}");
    let id = response["data"]["id"].clone();
    assert_eq!(
        response["data"],
        json!({"id": id, "questionText": "Hi", "pubDate": "2020-05-06T07:08:09"})
    );
    // `default = "path"` calls the function.
    let response = client.request(json!({"method": "camel.create"})).await;
    assert_eq!(response["status"], 201, "{response}");
    assert_eq!(response["data"]["questionText"], "untitled");
    assert_eq!(response["data"]["pubDate"], "2001-01-01T00:00:00");
    // An alias is accepted.
    let response = client
        .request(json!({"method": "camel.create", "text": "by alias"}))
        .await;
    assert_eq!(response["data"]["questionText"], "by alias", "{response}");
    // The Rust name and the serialize-side name of a field read as `askedAt` are no keys.
    let response = client
        .request(json!({"method": "camel.create", "question_text": "x", "pubDate": "2020-01-01T00:00:00"}))
        .await;
    assert_eq!(response["status"], 400, "{response}");
    assert!(
        errors_of(&response, "question_text")[0].contains("did you mean `questionText`?"),
        "{response}"
    );
    assert!(errors_of(&response, "pubDate")[0].starts_with("no such field"));
    // Every field's error at once, under the key sent: the function's own message, and a
    // mistyped date.
    let response = client
        .request(json!({"method": "camel.create", "text": "   ", "askedAt": 5}))
        .await;
    assert_eq!(
        response["errors"],
        json!({
            "text": ["may not be blank"],
            "askedAt": ["expected a formatted date and time string, got the number 5"]
        }),
        "{response}"
    );
    // Sending a field under its name and an alias at once is serde's duplicate.
    let response = client
        .request(json!({"method": "camel.create", "text": "a", "questionText": "b"}))
        .await;
    assert_eq!(response["status"], 400, "{response}");
    assert!(errors_of(&response, "questionText")[0].starts_with("sent more than once"));

    // `patch` and `update` change what was sent; a default is not applied to a field
    // left out.
    let response = client
        .request(json!({"method": "camel.patch", "id": id, "text": " patched "}))
        .await;
    assert_eq!(
        response["data"],
        json!({"id": id, "questionText": "patched", "pubDate": "2020-05-06T07:08:09"}),
        "{response}"
    );
    let response = client
        .request(json!({"method": "camel.update", "id": id, "askedAt": "2021-01-01T00:00:00"}))
        .await;
    assert_eq!(
        response["data"],
        json!({"id": id, "questionText": "patched", "pubDate": "2021-01-01T00:00:00"}),
        "{response}"
    );
    let response = client
        .request(json!({"method": "camel.patch", "id": id, "questionText": ""}))
        .await;
    assert_eq!(errors_of(&response, "questionText"), ["may not be blank"]);

    // Filters and ordering use the names requests use.
    let response = client
        .request(json!({"method": "camel.list", "questionText__icontains": "PATCH", "ordering": "-askedAt"}))
        .await;
    assert_eq!(response["data"]["count"], 1, "{response}");
    assert_eq!(response["data"]["results"][0]["id"], id);
    let response = client
        .request(json!({"method": "camel.list", "pubDate__gte": "2000-01-01T00:00:00"}))
        .await;
    assert!(errors_of(&response, "pubDate__gte")[0].contains("filter on: questionText, askedAt"));

    // The schema tells both names, and the aliases.
    let response = client.request(json!({"method": "api.schema"})).await;
    let camel = &response["data"]["resources"][0];
    assert_eq!(
        camel["fields"],
        json!([
            {"name": "id", "type": "integer", "read_only": true, "write_only": false, "nullable": false},
            {"name": "questionText", "aliases": ["text"], "type": "string", "read_only": false, "write_only": false, "nullable": false},
            {"name": "pubDate", "input_name": "askedAt", "type": "string", "format": "date-time", "read_only": false, "write_only": false, "nullable": false}
        ])
    );
    assert_eq!(
        camel["methods"][0],
        json!({"name": "create", "builtin": true, "arguments": ["questionText", "askedAt"]})
    );
}

/// Every request the README shows, sent to the example it belongs to: none may be refused
/// as malformed, unknown or not enabled, so the docs and the examples cannot drift apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_in_the_readme_works_on_its_example() {
    let readme = include_str!("../README.md");
    let requests: Vec<Value> = readme
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            if let Some(js) = line
                .strip_prefix("ws.send(JSON.stringify(")
                .and_then(|rest| rest.strip_suffix("))"))
            {
                return Some(js_object_to_json(js));
            }
            (line.starts_with("{\"method\"") && !line.contains("\"status\""))
                .then(|| line.to_owned())
        })
        .map(|text| {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        })
        .collect();
    assert!(
        requests.len() >= 10,
        "only {} requests found",
        requests.len()
    );
    let polls = TestServer::polls(Backend::Sqlite).await;
    let todos = TestServer::todos(Backend::Sqlite).await;
    let mut on_polls = polls.client().await;
    let mut on_todos = login(&todos, "alice-token").await;
    for request in requests {
        let client = if request["method"]
            .as_str()
            .unwrap_or("")
            .starts_with("todo.")
        {
            &mut on_todos
        } else {
            &mut on_polls
        };
        let answer = client.request(request.clone()).await;
        let status = answer["status"].as_u64().unwrap_or(0);
        let refused_method = status == 404 && answer["errors"].get("method").is_some();
        assert!(
            !matches!(status, 400 | 405 | 500 | 503) && !refused_method,
            "{request} got {answer}"
        );
    }
}

/// `{method: "a.b", n: 1}` as JSON: quotes the keys of a one-line JavaScript object.
fn js_object_to_json(js: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut word = String::new();
    for c in js.chars() {
        if in_string {
            out.push(c);
            in_string = c != '"';
            continue;
        }
        match c {
            '"' => {
                out.push_str(&word);
                word.clear();
                in_string = true;
                out.push(c);
            }
            ':' if !word.trim().is_empty() => {
                out.push_str(&format!("\"{}\":", word.trim()));
                word.clear();
            }
            c if c.is_alphanumeric() || c == '_' || c == ' ' => word.push(c),
            c => {
                out.push_str(&word);
                word.clear();
                out.push(c);
            }
        }
    }
    out.push_str(&word);
    out
}

/// A statement past PostgreSQL's `statement_timeout` is cancelled and answers 503; the
/// connection stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set CHANNELS_API_TEST_POSTGRES_URL, run with --ignored"]
async fn postgres_statement_timeout_cancels_long_queries() {
    use diesel::RunQueryDsl;
    let test_db = TestDb::new(Backend::Postgres).await;
    let options = DatabaseOptions::default().statement_timeout(Duration::from_millis(200));
    let db = Database::connect_with(&test_db.url, options).await.unwrap();
    let started = std::time::Instant::now();
    let error = db
        .read(|conn| diesel::sql_query("SELECT pg_sleep(5)").execute(conn))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(channels_api::ApiError::from(error).status(), 503);
    let n = db
        .read(|conn| diesel::sql_query("SELECT 1").execute(conn))
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// With pinned hosts, a request for any other `Host` (a rebinding page's own name) is
/// refused before routing; the pinned one connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_hosts_refuse_other_hosts() {
    let router = polls::router().allowed_hosts(["api.example.test"]);
    let server = TestServer::start(Backend::Sqlite, router).await;
    let upgrade = |host: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Origin: http://{host}\r\n\r\n"
        )
    };
    let (status, _) = http_get(server.addr, &upgrade("rebound.example.test")).await;
    assert_eq!(status, 421);
    let client = Client::connect_with(server.addr, "/", &[("host", "api.example.test")]).await;
    assert!(client.is_ok(), "{:?}", client.err());
}
