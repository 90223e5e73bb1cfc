//! Who is on the other end, and what they may do: authentication at the handshake,
//! permissions per consumer, per method and per object.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_tungstenite::tungstenite::http::Request;

use crate::context::Context;
use crate::database::Database;
use crate::error::ApiError;

/// The authenticated user of a connection, of the application's own type.
pub(crate) type User = Arc<dyn Any + Send + Sync>;

/// What an authenticator decided.
pub(crate) type AuthFuture = Pin<Box<dyn Future<Output = Result<Option<User>, ApiError>> + Send>>;

/// The type-erased authenticator the server calls at each handshake.
pub(crate) type Authenticate = Arc<dyn Fn(Request<()>, Database) -> AuthFuture + Send + Sync>;

/// Wraps an application's authenticator: `Ok(Some(user))` authenticates the connection,
/// `Ok(None)` lets it in anonymous, `Err` refuses the handshake.
pub(crate) fn authenticator<F, Fut, U>(f: F) -> Authenticate
where
    F: Fn(Request<()>, Database) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<U>, ApiError>> + Send + 'static,
    U: Send + Sync + 'static,
{
    Arc::new(move |request, db| {
        let decided = f(request, db);
        Box::pin(async move { decided.await.map(|user| user.map(|u| Arc::new(u) as User)) })
    })
}

/// Whether a request's method only reads: a built-in read (`retrieve`, `list`), or
/// `subscribe`.
fn reads_only(method: &str) -> bool {
    method == "subscribe"
        || crate::consumer::Builtin::from_name(method).is_some_and(|b| b.is_read())
}

/// Decides whether a request may run, before it touches the database, and whether it may
/// see or change one record. Name one with `#[consumer(permission = ...)]`.
///
/// Combine them: a tuple `(A, B)` allows what both allow; [`AnyOf`] what either allows.
/// For a rule of your own, implement this trait on a type, or wrap a function in
/// [`Check`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a permission for `{M}`",
    label = "not a permission",
    note = "use `AllowAny`, `IsAuthenticated`, `IsAuthenticatedOrReadOnly`, `ReadOnly`, a tuple \
            of them, `AnyOf(a, b)`, `Check(fn)`, `CheckObject(fn)`, or implement \
            `Permission<{M}>` for it"
)]
pub trait Permission<M>: Send + Sync {
    /// Whether the request may run at all: 401 for an anonymous connection that must log
    /// in, 403 for one that may not.
    fn has_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        let _ = ctx;
        Ok(())
    }

    /// Whether the request may see or change `object` (retrieve, update, patch, delete).
    fn has_object_permission(&self, ctx: &Context<'_>, object: &M) -> Result<(), ApiError> {
        let _ = (ctx, object);
        Ok(())
    }
}

/// Allows everything (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAny;

impl<M> Permission<M> for AllowAny {}

/// Allows authenticated connections only.
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticated;

fn login_required() -> ApiError {
    ApiError::unauthorized("authentication required")
}

impl<M> Permission<M> for IsAuthenticated {
    fn has_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        if ctx.is_authenticated() {
            Ok(())
        } else {
            Err(login_required())
        }
    }
}

/// Allows reading (`retrieve`, `list`) to everyone, everything else to authenticated
/// connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticatedOrReadOnly;

impl<M> Permission<M> for IsAuthenticatedOrReadOnly {
    fn has_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        if ctx.is_authenticated() || reads_only(ctx.method()) {
            Ok(())
        } else {
            Err(login_required())
        }
    }
}

/// Allows reading (`retrieve`, `list`) only.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOnly;

impl<M> Permission<M> for ReadOnly {
    fn has_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        if reads_only(ctx.method()) {
            Ok(())
        } else {
            Err(ApiError::forbidden("this resource is read-only"))
        }
    }
}

/// A rule written as a function of the context, for the request as a whole:
/// `permission = Check(staff_only)`.
#[derive(Debug, Clone, Copy)]
pub struct Check<F>(pub F);

impl<M, F> Permission<M> for Check<F>
where
    F: Fn(&Context<'_>) -> Result<(), ApiError> + Send + Sync,
{
    fn has_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        (self.0)(ctx)
    }
}

/// A rule written as a function of the context and one record:
/// `permission = CheckObject(owner_only)`.
#[derive(Debug, Clone, Copy)]
pub struct CheckObject<F>(pub F);

impl<M, F> Permission<M> for CheckObject<F>
where
    F: Fn(&Context<'_>, &M) -> Result<(), ApiError> + Send + Sync,
{
    fn has_object_permission(&self, ctx: &Context<'_>, object: &M) -> Result<(), ApiError> {
        (self.0)(ctx, object)
    }
}

/// Allows what both allow.
impl<M, A: Permission<M>, B: Permission<M>> Permission<M> for (A, B) {
    fn has_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        self.0.has_permission(ctx)?;
        self.1.has_permission(ctx)
    }

    fn has_object_permission(&self, ctx: &Context<'_>, object: &M) -> Result<(), ApiError> {
        self.0.has_object_permission(ctx, object)?;
        self.1.has_object_permission(ctx, object)
    }
}

/// Allows what either allows; when neither does, the first one's refusal is sent.
#[derive(Debug, Clone, Copy)]
pub struct AnyOf<A, B>(pub A, pub B);

impl<M, A: Permission<M>, B: Permission<M>> Permission<M> for AnyOf<A, B> {
    fn has_permission(&self, ctx: &Context<'_>) -> Result<(), ApiError> {
        match self.0.has_permission(ctx) {
            Ok(()) => Ok(()),
            Err(first) => self.1.has_permission(ctx).map_err(|_| first),
        }
    }

    fn has_object_permission(&self, ctx: &Context<'_>, object: &M) -> Result<(), ApiError> {
        match self.0.has_object_permission(ctx, object) {
            Ok(()) => Ok(()),
            Err(first) => self.1.has_object_permission(ctx, object).map_err(|_| first),
        }
    }
}
