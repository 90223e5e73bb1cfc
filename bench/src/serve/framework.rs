//! The framework server: the polls example app, plus a `bench.noop` method that does no
//! database work and a `bench.slow` one that runs a 100 ms query, served the way an
//! application serves it.

use std::net::SocketAddr;

use channels_api::Database;
use channels_api_examples::polls;

use super::announce;

/// A consumer of the polls `questions` table whose only method is `noop`.
mod probe {
    use channels_api::prelude::*;
    use channels_api_examples::polls::schema::questions;

    /// `bench.noop`: answers 200 with `null`, touching nothing.
    #[derive(Queryable, Selectable, Serialize, ModelConsumer)]
    #[diesel(table_name = questions)]
    #[consumer(resource = "bench", methods(noop, slow))]
    pub(crate) struct BenchProbe {
        #[consumer(read_only)]
        pub(crate) id: i32,
        pub(crate) question_text: String,
        #[consumer(read_only)]
        pub(crate) pub_date: channels_api::chrono::NaiveDateTime,
    }

    impl BenchProbe {
        /// Does nothing.
        #[consumer_method]
        async fn noop(_ctx: &Context<'_>) -> Result<(), ApiError> {
            Ok(())
        }

        /// `bench.slow`: a read that holds a reader's connection for 100 ms.
        #[consumer_method]
        async fn slow(ctx: &Context<'_>) -> Result<(), ApiError> {
            use crate::serve::SlowQuery;
            ctx.db()
                .read(|conn| match conn {
                    channels_api::DbConnection::Sqlite(c) => c.slow_query(),
                    channels_api::DbConnection::Postgres(c) => c.slow_query(),
                })
                .await?;
            Ok(())
        }
    }
}

/// The polls `question` resource without live data: the methods, filters, ordering and
/// page size of `polls::Question`, but no `subscribe` or `unsubscribe`, so its table gets
/// no capture triggers. It does not repeat the length rule of `question_text` (the bench
/// crate does not depend on `validator`); that check costs well under a microsecond.
mod unlive {
    use channels_api::prelude::*;
    use channels_api_examples::polls::schema::questions;

    /// `question.create`, `.retrieve`, `.update`, `.patch`, `.list`, `.delete`.
    #[derive(Debug, Queryable, Selectable, Identifiable, Serialize, ModelConsumer)]
    #[diesel(table_name = questions)]
    #[consumer(
        resource = "question",
        methods(create, retrieve, update, patch, list, delete),
        filter(id, question_text, pub_date),
        ordering(id, pub_date),
        page_size = 50
    )]
    pub(crate) struct Question {
        #[consumer(read_only)]
        pub(crate) id: i32,
        pub(crate) question_text: String,
        #[consumer(read_only)]
        pub(crate) pub_date: channels_api::chrono::NaiveDateTime,
    }
}

/// Serves the polls router (or, when `live` is false, its `question` resource without
/// live data) and the probe on `addr`, over the database at `db_url`.
pub(super) async fn serve(addr: SocketAddr, db_url: &str, live: bool) -> Result<(), String> {
    let mut options = channels_api::DatabaseOptions::default();
    if let Some(n) = std::env::var("CHANNELS_API_BENCH_DB_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        options = options.max_connections(n);
    }
    let db = Database::connect_with(db_url, options)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    polls::migrate(&db)
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    let router = if live {
        polls::router()
    } else {
        channels_api::Router::new().consumer::<unlive::Question>()
    };
    let server = router
        .consumer::<probe::BenchProbe>()
        .bind(addr, db)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    announce(server.local_addr().map_err(|e| e.to_string())?)?;
    server
        .run()
        .await
        .map_err(|e| format!("server failed: {e}"))
}
