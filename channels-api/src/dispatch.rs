//! Dispatch: one request's text in, one response's text out. Parses the request, finds
//! the resource and method, checks the consumer's permission, runs the method (a panic
//! becomes a 500 that leaks nothing) and formats the answer with the resource's
//! formatter.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use serde_json::value::RawValue;

use crate::consumer::{Builtin, Call, Outcome};
use crate::context::{ConnectionInfo, Context};
use crate::database::Database;
use crate::error::ApiError;
use crate::limits::Limits;
use crate::live::LiveConnection;
use crate::protocol::{Body, Request, Response};
use crate::router::{API, Endpoint, Resource};

impl Endpoint {
    /// Answers one text frame: appends the response's text to `out`.
    pub(crate) async fn handle(
        &self,
        text: &str,
        db: &Database,
        connection: &ConnectionInfo,
        limits: &Limits,
        live: Option<&LiveConnection>,
        out: &mut String,
    ) {
        let request = match Request::parse(text, limits) {
            Ok(request) => request,
            Err(bad) => {
                let response = error_response(bad.method_json, bad.request_id, &bad.error);
                return self.formatter.format(&response, out);
            }
        };
        let respond_error = |error: &ApiError, out: &mut String| {
            let response = error_response(request.method_json, request.request_id, error);
            self.formatter.format(&response, out)
        };
        let method = match request.method() {
            Ok(method) => method,
            Err(error) => return respond_error(&error, out),
        };
        if method == "api.schema" {
            let response = Response {
                method_json: request.method_json,
                request_id: request.request_id,
                status: 200,
                body: Body::Data(&self.schema),
            };
            return self.formatter.format(&response, out);
        }
        let (resource, method) = match self.resolve(&method) {
            Ok(found) => found,
            Err(error) => return respond_error(&error, out),
        };
        let ctx = Context {
            db,
            connection,
            resource: resource.name,
            method,
            limits,
            formatter: &resource.formatter,
            live,
        };
        // From here on, answers come from the resource and use its formatter.
        let result = match (resource.authorize)(&ctx) {
            Err(error) => Err(error),
            Ok(()) => match (resource.dispatch)(method, Call::Run(&ctx, &request.payload)) {
                Some(Outcome::Running(future)) => run(future, resource.name, method).await,
                _ => Err(self.unknown_method(resource, method)),
            },
        };
        if let Ok(reply) = &result {
            // The envelope is small; the data is copied once, with no regrowth.
            out.reserve(reply.data().map_or(0, |d| d.get().len()) + 128);
        }
        let response = match &result {
            Ok(reply) => Response {
                method_json: request.method_json,
                request_id: request.request_id,
                status: reply.status(),
                body: reply.data().map_or(Body::Empty, Body::Data),
            },
            Err(error) => error_response(request.method_json, request.request_id, error),
        };
        resource.formatter.format(&response, out);
    }

    /// Finds the resource and the method's static name for `resource.method`.
    fn resolve(&self, method: &str) -> Result<(&Resource, &'static str), ApiError> {
        let Some((resource_name, method_name)) = method.split_once('.') else {
            return Err(ApiError::field(
                404,
                "method",
                format!(
                    "`{method}` names no method: use \"resource.method\"; {}",
                    self.resource_names()
                ),
            ));
        };
        let Some(resource) = self.resources.iter().find(|r| r.name == resource_name) else {
            return Err(ApiError::field(
                404,
                "method",
                format!(
                    "unknown resource `{resource_name}`; {}",
                    self.resource_names()
                ),
            ));
        };
        match resource.methods.iter().find(|m| **m == method_name) {
            Some(name) => Ok((resource, name)),
            None => Err(self.unknown_method(resource, method_name)),
        }
    }

    /// 405 for a built-in method the resource does not enable, 404 for any other name.
    fn unknown_method(&self, resource: &Resource, method: &str) -> ApiError {
        let available = resource
            .methods
            .iter()
            .map(|m| format!("{}.{m}", resource.name))
            .collect::<Vec<_>>()
            .join(", ");
        if Builtin::from_name(method).is_some() {
            ApiError::field(
                405,
                "method",
                format!(
                    "`{}.{method}` is not enabled on this resource; available: {available}",
                    resource.name
                ),
            )
        } else {
            ApiError::field(
                404,
                "method",
                format!(
                    "unknown method `{}.{method}`; available: {available}",
                    resource.name
                ),
            )
        }
    }

    /// The resources of this path, for a message about a name that is none of them.
    fn resource_names(&self) -> String {
        let names: Vec<&str> = self.resources.iter().map(|r| r.name).collect();
        format!(
            "resources: {}; `{API}.schema` lists their methods",
            names.join(", ")
        )
    }

    /// Answers a request with `error` without running it, echoing its `method` and
    /// `request_id` when they can be read.
    pub(crate) fn refuse(&self, text: &str, limits: &Limits, error: &ApiError, out: &mut String) {
        let response = match Request::parse(text, limits) {
            Ok(request) => error_response(request.method_json, request.request_id, error),
            Err(bad) => error_response(bad.method_json, bad.request_id, error),
        };
        self.formatter.format(&response, out);
    }

    /// Formats an error that concerns no request (a binary frame).
    pub(crate) fn format_error(&self, error: &ApiError, out: &mut String) {
        self.formatter
            .format(&error_response(None, None, error), out);
    }
}

/// Runs a method's future, turning a panic into a 500 that leaks nothing.
async fn run(
    future: crate::consumer::MethodFuture<'_>,
    resource: &str,
    method: &str,
) -> Result<crate::Reply, ApiError> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(resource, method, panic = %what, "method panicked");
            Err(ApiError::internal())
        }
    }
}

fn error_response<'a>(
    method_json: Option<&'a RawValue>,
    request_id: Option<&'a RawValue>,
    error: &'a ApiError,
) -> Response<'a> {
    Response {
        method_json,
        request_id,
        status: error.status(),
        body: Body::Errors(error.errors()),
    }
}
