//! Routing: which consumers answer on which WebSocket path, and the server's settings.
//! One request's way to its resource and method is the `dispatch` module's.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio::net::ToSocketAddrs;
use tokio_tungstenite::tungstenite::http;

use crate::auth::Authenticate;

use serde_json::value::RawValue;

use crate::consumer::{Call, Consumer, Outcome};
use crate::context::Context;
use crate::database::Database;
use crate::error::{ApiError, Error};
use crate::limits::Limits;
use crate::live::{Captured, LiveOptions};
use crate::protocol::{DefaultFormatter, Formatter};
use crate::schema::ResourceSchema;
use crate::server::Server;

type DispatchFn = for<'a> fn(&'static str, Call<'a>) -> Option<Outcome<'a>>;

/// The resource name under which the built-in `api.schema` answers.
pub(crate) const API: &str = "api";

/// One consumer registered on a path.
pub(crate) struct Resource {
    pub(crate) name: &'static str,
    pub(crate) methods: &'static [&'static str],
    pub(crate) dispatch: DispatchFn,
    pub(crate) authorize: fn(&Context<'_>) -> Result<(), ApiError>,
    pub(crate) schema: ResourceSchema,
    pub(crate) own_formatter: Option<Arc<dyn Formatter>>,
    pub(crate) formatter: Arc<dyn Formatter>,
    /// The table and columns `subscribe` captures, when the resource offers it.
    pub(crate) live: Option<Captured>,
}

/// The consumers served on one WebSocket path.
pub(crate) struct Endpoint {
    pub(crate) path: String,
    /// Whether messages are echoed instead of answered (the conformance test's mode).
    pub(crate) echo: bool,
    /// Whether a resource of this path offers `subscribe`.
    pub(crate) live: bool,
    pub(crate) resources: Vec<Resource>,
    pub(crate) formatter: Arc<dyn Formatter>,
    /// The `api.schema` answer, serialized once.
    pub(crate) schema: Box<RawValue>,
}

/// Maps WebSocket paths to consumers, and holds the server's settings.
///
/// ```no_run
/// # use channels_api::prelude::*;
/// # fn f<Question: Consumer, User: Consumer, AdminQuestion: Consumer>() {
/// let router = Router::new()
///     .consumer::<Question>()                   // question.* on "/"
///     .consumer::<User>()                       // user.* on "/" too
///     .consumer_at::<AdminQuestion>("/admin/")  // another consumer on its own path
///     .formatter(BareFormatter);                // every consumer without its own
/// # }
/// ```
pub struct Router {
    endpoints: Vec<Endpoint>,
    formatter: Arc<dyn Formatter>,
    limits: Limits,
    debugger: Option<String>,
    debug: bool,
    authenticate: Option<Authenticate>,
    origins: Origins,
    hosts: Option<Vec<String>>,
    live: LiveOptions,
    errors: Vec<String>,
}

/// Which browser origins may open a WebSocket, checked against the handshake's `Origin`.
#[derive(Debug, Clone)]
pub(crate) enum Origins {
    /// No `Origin` (not a browser), the server's own origin, and these.
    SameOriginAnd(Vec<String>),
    /// Any origin.
    Any,
}

impl Origins {
    /// Whether a handshake with `origin` for `host` may go on.
    pub(crate) fn allow(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Origins::SameOriginAnd(allowed) = self else {
            return true;
        };
        let Some(origin) = origin else {
            return true;
        };
        let origin = origin.trim_end_matches('/');
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
            return true;
        }
        let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        host.is_some_and(|host| authority.eq_ignore_ascii_case(host))
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for endpoint in &self.endpoints {
            let names: Vec<_> = endpoint.resources.iter().map(|r| r.name).collect();
            map.entry(&endpoint.path, &names);
        }
        map.finish()
    }
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// A router with no consumers, the [`DefaultFormatter`] and default [`Limits`].
    pub fn new() -> Self {
        Self {
            endpoints: Vec::new(),
            formatter: Arc::new(DefaultFormatter),
            limits: Limits::default(),
            debugger: None,
            debug: false,
            authenticate: None,
            origins: Origins::SameOriginAnd(Vec::new()),
            hosts: None,
            live: LiveOptions::default(),
            errors: Vec::new(),
        }
    }

    /// Serves consumer `C` on the path `/`.
    pub fn consumer<C: Consumer>(self) -> Self {
        self.consumer_at::<C>("/")
    }

    /// Echoes every message sent on `path` back unchanged, text and binary alike, through
    /// the same connection loop, limits and close codes as every other path. This is
    /// what a WebSocket conformance suite (Autobahn's `fuzzingclient`) tests against;
    /// it answers no request.
    ///
    /// ```no_run
    /// # async fn f(db: channels_api::Database) -> Result<(), channels_api::Error> {
    /// channels_api::Router::new().echo_at("/echo").serve("127.0.0.1:9001", db).await
    /// # }
    /// ```
    pub fn echo_at(mut self, path: &str) -> Self {
        if self.endpoints.iter().any(|e| e.path == path) {
            self.errors
                .push(format!("the echo path `{path}` also serves consumers"));
            return self;
        }
        self.endpoints.push(Endpoint {
            path: path.to_owned(),
            echo: true,
            live: false,
            resources: Vec::new(),
            formatter: self.formatter.clone(),
            schema: RawValue::NULL.to_owned(),
        });
        self
    }

    /// Serves consumer `C` on `path`. Several consumers may share a path as long as their
    /// resource names differ.
    pub fn consumer_at<C: Consumer>(mut self, path: &str) -> Self {
        let index = match self.endpoints.iter().position(|e| e.path == path) {
            Some(index) => index,
            None => {
                self.endpoints.push(Endpoint {
                    path: path.to_owned(),
                    echo: false,
                    live: false,
                    resources: Vec::new(),
                    formatter: self.formatter.clone(),
                    schema: RawValue::NULL.to_owned(),
                });
                self.endpoints.len() - 1
            }
        };
        let endpoint = &mut self.endpoints[index];
        if endpoint.echo {
            self.errors
                .push(format!("the echo path `{path}` cannot serve consumers"));
            return self;
        }
        if C::RESOURCE == API {
            self.errors.push(format!(
                "the resource name `{API}` is reserved for `api.schema`"
            ));
            return self;
        }
        if endpoint.resources.iter().any(|r| r.name == C::RESOURCE) {
            self.errors.push(format!(
                "two consumers serve the resource `{}` on the path `{path}`",
                C::RESOURCE
            ));
            return self;
        }
        let own_formatter = C::formatter();
        let mut schema = C::schema();
        for method in &mut schema.methods {
            if !method.builtin
                && let Some(Outcome::Arguments(arguments)) =
                    C::dispatch(method.name, Call::Describe)
            {
                method.arguments = arguments;
            }
        }
        let live = C::live_table().map(|(table, columns)| Captured {
            table,
            columns: columns.to_vec(),
        });
        endpoint.live |= live.is_some();
        endpoint.resources.push(Resource {
            live,
            name: C::RESOURCE,
            methods: C::METHODS,
            dispatch: C::dispatch,
            authorize: C::authorize,
            schema,
            formatter: own_formatter
                .clone()
                .unwrap_or_else(|| self.formatter.clone()),
            own_formatter,
        });
        self
    }

    /// The formatter for every consumer that does not name its own, and for errors that
    /// concern no consumer (malformed frames, unknown resources).
    pub fn formatter(mut self, formatter: impl Formatter) -> Self {
        self.formatter = Arc::new(formatter);
        for endpoint in &mut self.endpoints {
            endpoint.formatter = self.formatter.clone();
            for resource in &mut endpoint.resources {
                if resource.own_formatter.is_none() {
                    resource.formatter = self.formatter.clone();
                }
            }
        }
        self
    }

    /// Replaces the connection limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how live data runs (see [`crate::live`]): poll interval and retention.
    pub fn live(mut self, options: LiveOptions) -> Self {
        self.live = options;
        self
    }

    /// Serves the debugger page at `path` (such as `/channels-api/`) when debug is on; see
    /// [`Router::debug`]. The page sends requests to any WebSocket path of this server and
    /// shows the answers; it builds its forms from `api.schema`.
    pub fn debugger(mut self, path: &str) -> Self {
        let mut path = path.to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        self.debugger = Some(path);
        self
    }

    /// Turns debug mode on or off (default off). Only in debug mode is the debugger page
    /// served; elsewhere its path answers 404. Never turn it on where strangers can reach
    /// the server: the page lets anyone who loads it call every method.
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }

    /// Authenticates each connection at its handshake. `authenticate` receives the
    /// handshake request (headers, cookies, query string) and the database, and returns
    /// `Ok(Some(user))` to authenticate the connection as `user`, `Ok(None)` to let it in
    /// anonymous, or an error to refuse the handshake with HTTP 401. Methods read the user
    /// with [`Context::user`].
    ///
    /// ```no_run
    /// # use channels_api::prelude::*;
    /// # fn f(router: Router) -> Router {
    /// struct Account { name: String }
    /// router.authenticate(|request, _db| async move {
    ///     let token = request.headers().get("authorization").cloned();
    ///     match token {
    ///         None => Ok(None),
    ///         Some(token) if token == "Bearer letmein" => {
    ///             Ok(Some(Account { name: "admin".into() }))
    ///         }
    ///         Some(_) => Err(ApiError::unauthorized("bad token")),
    ///     }
    /// })
    /// # }
    /// ```
    pub fn authenticate<F, Fut, U>(mut self, authenticate: F) -> Self
    where
        F: Fn(http::Request<()>, Database) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<U>, ApiError>> + Send + 'static,
        U: Send + Sync + 'static,
    {
        self.authenticate = Some(crate::auth::authenticator(authenticate));
        self
    }

    /// Browser origins allowed to open a WebSocket besides the server's own, such as
    /// `https://app.example.com`. By default only same-origin pages and clients that send
    /// no `Origin` (not browsers) may connect; any other origin is refused at the handshake
    /// with HTTP 403, so a page on another site cannot act with a user's cookies
    /// (cross-site WebSocket hijacking).
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list = origins
            .into_iter()
            .map(|o| o.into().trim_end_matches('/').to_owned());
        match &mut self.origins {
            Origins::SameOriginAnd(allowed) => allowed.extend(list),
            Origins::Any => {}
        }
        self
    }

    /// The `Host` header values this server answers to, such as `api.example.com` or
    /// `127.0.0.1:8000` (with the port when clients send one). Any other host is refused
    /// with HTTP 421 before routing. The origin check compares a page's origin with the
    /// host it asked for, so a page served under a name of the attacker's that resolves to
    /// this server (DNS rebinding) would pass it; pinning the hosts closes that door.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts
            .get_or_insert_with(Vec::new)
            .extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Lets pages of any origin connect. Only for APIs that authenticate with something a
    /// browser does not send by itself (a token in the query string, say), never with
    /// cookies.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Origins::Any;
        self
    }

    /// Binds `addr` and returns the server, ready to [`run`](Server::run). Bind
    /// `127.0.0.1:0` to get a free port, then read it with [`Server::local_addr`].
    pub async fn bind(self, addr: impl ToSocketAddrs, db: Database) -> Result<Server, Error> {
        let (endpoints, limits, gate, live) = self.build()?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Server::new(listener, endpoints, db, limits, gate, live).await
    }

    /// Checks the configuration and renders each path's schema: what a server is made of.
    pub(crate) fn build(self) -> Result<(Vec<Endpoint>, Limits, Gate, Live), Error> {
        if !self.errors.is_empty() {
            return Err(Error::Config(self.errors.join("; ")));
        }
        if self.endpoints.is_empty() {
            return Err(Error::Config("the router has no consumers".into()));
        }
        let mut endpoints = self.endpoints;
        for endpoint in &mut endpoints {
            let schemas: Vec<_> = endpoint.resources.iter().map(|r| &r.schema).collect();
            let schema = serde_json::json!({"version": 1, "resources": schemas});
            endpoint.schema = serde_json::value::to_raw_value(&schema)
                .map_err(|e| Error::Config(format!("the schema failed to serialize: {e}")))?;
        }
        let debugger = match (self.debug, self.debugger) {
            (true, Some(path)) => {
                if endpoints.iter().any(|e| e.path == path) {
                    return Err(Error::Config(format!(
                        "the debugger's path `{path}` is also a WebSocket path"
                    )));
                }
                tracing::warn!(
                    %path,
                    "debug mode: the debugger page is served; never expose this server publicly"
                );
                Some(path)
            }
            _ => None,
        };
        let gate = Gate {
            debugger,
            authenticate: self.authenticate,
            origins: self.origins,
            hosts: self.hosts,
        };
        // Each captured table once, with every column one of its models reads.
        let mut tables: Vec<Captured> = Vec::new();
        for resource in endpoints.iter().flat_map(|e| &e.resources) {
            let Some(captured) = &resource.live else {
                continue;
            };
            match tables.iter_mut().find(|t| t.table == captured.table) {
                Some(table) => {
                    for column in &captured.columns {
                        if !table.columns.contains(column) {
                            table.columns.push(column);
                        }
                    }
                }
                None => tables.push(captured.clone()),
            }
        }
        let live = Live {
            tables,
            options: self.live,
        };
        Ok((endpoints, self.limits, gate, live))
    }

    /// Binds `addr` and serves until the process receives Ctrl-C (SIGINT) or SIGTERM,
    /// then shuts down gracefully as [`Server::run_until`] describes. A second signal
    /// during the shutdown ends the process at once (exit code 130).
    pub async fn serve(self, addr: impl ToSocketAddrs, db: Database) -> Result<(), Error> {
        let server = self.bind(addr, db).await?;
        tracing::info!(addr = %server.local_addr()?, "serving");
        let first = Arc::new(tokio::sync::Notify::new());
        let stop = first.clone();
        let running = server.run_until(async move { stop.notified().await });
        tokio::pin!(running);
        tokio::select! {
            result = &mut running => return result,
            () = shutdown_signal() => first.notify_one(),
        }
        tokio::select! {
            result = &mut running => result,
            () = shutdown_signal() => {
                tracing::warn!("second signal during shutdown: exiting now");
                std::process::exit(130)
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// What live data captures, and how it runs.
pub(crate) struct Live {
    pub(crate) tables: Vec<Captured>,
    pub(crate) options: LiveOptions,
}

/// What the handshake checks before a connection opens.
pub(crate) struct Gate {
    /// The debugger page's path, when it is served.
    pub(crate) debugger: Option<String>,
    pub(crate) authenticate: Option<Authenticate>,
    pub(crate) origins: Origins,
    /// The `Host` values served, when pinned.
    pub(crate) hosts: Option<Vec<String>>,
}

impl Gate {
    /// Whether a request for `host` is for this server.
    pub(crate) fn serves_host(&self, host: Option<&str>) -> bool {
        match (&self.hosts, host) {
            (None, _) => true,
            (Some(hosts), Some(host)) => hosts.iter().any(|h| h.eq_ignore_ascii_case(host)),
            (Some(_), None) => false,
        }
    }
}
