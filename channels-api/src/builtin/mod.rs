//! The built-in methods, generic over the model: `create`, `retrieve`, `update`/`patch`,
//! `delete` and `list` here, `subscribe` and `unsubscribe` in [`live`](crate::live).
//! The derive's dispatch calls them with the model as type parameter.

use diesel::QueryResult;

use crate::consumer::{CursorPage, ListOptions, Model, Page};
use crate::context::Context;
use crate::context::OwnedContext;
use crate::database::DbConnection;
use crate::error::{ApiError, Errors};
use crate::protocol::{Payload, Reply};
use crate::query::{Filters, ListQuery};
use crate::query::{Lookup, parse_filters, parse_ordering};

fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

/// A 400 under each key of `payload` that is not one of [`Model::INPUT_KEYS`], with the
/// keys that exist and the closest one. Read-only fields are known keys: a client may
/// send back the object it read.
fn reject_unknown_keys<M: Model>(payload: &Payload<'_>) -> Result<(), ApiError> {
    let mut errors = Errors::new();
    for (key, _) in payload.fields() {
        if !M::INPUT_KEYS.contains(&key) {
            let known = M::INPUT_KEYS.join(", ");
            let mut message = format!("no such field; fields: {known}");
            if let Some(close) = crate::protocol::closest(key, M::INPUT_KEYS) {
                message = format!("no such field: did you mean `{close}`? fields: {known}");
            }
            errors.add(key.to_owned(), message);
        }
    }
    errors.into_result()
}

/// `create`: 201 with the stored record.
pub async fn create<M: Model>(ctx: &Context<'_>, payload: &Payload<'_>) -> Result<Reply, ApiError> {
    reject_unknown_keys::<M>(payload)?;
    let scope = M::scope(ctx)?;
    let record = M::new_record(payload, &scope)?;
    M::check_input(ctx, payload)?;
    let row = ctx.db().write(move |conn| M::insert(conn, record)).await?;
    Reply::created(&row)
}

/// `retrieve`: 200 with the record, 404 if there is none within the scope.
pub async fn retrieve<M: Model>(
    ctx: &Context<'_>,
    payload: &Payload<'_>,
) -> Result<Reply, ApiError> {
    reject_unknown_keys::<M>(payload)?;
    let scope = M::scope(ctx)?;
    let pk = payload.require::<M::Pk>(M::PK)?;
    let row = ctx
        .db()
        .query(move |conn| M::find(conn, &pk, &scope))
        .await?
        .ok_or_else(not_found)?;
    row.has_object_permission(ctx)?;
    Reply::ok(&row)
}

/// The permission check of a change, when the permission looks at single records: a
/// copy of the context to check the record with inside the change's transaction.
fn object_check<M: Model>(ctx: &Context<'_>) -> Option<OwnedContext> {
    M::CHECKS_OBJECTS.then(|| OwnedContext::new(ctx))
}

/// Reads the record a change is about and asks the permission about it; `Ok(Err(..))`
/// when the change must not happen (nothing was written, so the transaction may
/// commit).
fn check_object<M: Model>(
    conn: &mut DbConnection,
    check: &OwnedContext,
    pk: &M::Pk,
    scope: &[M::Filter],
) -> QueryResult<Result<(), ApiError>> {
    Ok(match M::find(conn, pk, scope)? {
        Some(row) => row.has_object_permission(&check.context()),
        None => Err(not_found()),
    })
}

/// `update` (every writable field) or `patch` (some): 200 with the stored record.
///
/// When the permission looks at single records, the read it needs and the change run
/// in one transaction, so the record checked is the record changed.
pub async fn update<M: Model>(
    ctx: &Context<'_>,
    payload: &Payload<'_>,
    partial: bool,
) -> Result<Reply, ApiError> {
    reject_unknown_keys::<M>(payload)?;
    let scope = M::scope(ctx)?;
    let pk = payload.require::<M::Pk>(M::PK);
    let changes = M::changes(payload, partial, &scope);
    let (pk, changes) = match (pk, changes) {
        (Ok(pk), Ok(changes)) => (pk, changes),
        (pk, changes) => return Err(merge(pk.err(), changes.err())),
    };
    M::check_input(ctx, payload)?;
    let check = object_check::<M>(ctx);
    let row = ctx
        .db()
        .transaction_if(check.is_some(), move |conn| {
            if let Some(check) = &check
                && let Err(denied) = check_object::<M>(conn, check, &pk, &scope)?
            {
                return Ok(Err(denied));
            }
            if M::is_unchanged(&changes) {
                M::find(conn, &pk, &scope).map(Ok)
            } else {
                M::update(conn, &pk, changes, &scope).map(Ok)
            }
        })
        .await??;
    Reply::ok(&row.ok_or_else(not_found)?)
}

/// `delete`: 204, 404 if there was no such record within the scope.
///
/// When the permission looks at single records, the read it needs and the delete run
/// in one transaction.
pub async fn delete<M: Model>(ctx: &Context<'_>, payload: &Payload<'_>) -> Result<Reply, ApiError> {
    reject_unknown_keys::<M>(payload)?;
    let scope = M::scope(ctx)?;
    let pk = payload.require::<M::Pk>(M::PK)?;
    let check = object_check::<M>(ctx);
    let deleted = ctx
        .db()
        .transaction_if(check.is_some(), move |conn| {
            if let Some(check) = &check
                && let Err(denied) = check_object::<M>(conn, check, &pk, &scope)?
            {
                return Ok(Err(denied));
            }
            M::delete(conn, &pk, &scope).map(Ok)
        })
        .await??;
    if deleted {
        Ok(Reply::no_content())
    } else {
        Err(not_found())
    }
}

/// `list`: 200 with a [`Page`], or with a [`CursorPage`] when the request carries
/// `cursor` (`null` for the first page). `page` counts from 1; a page past the end is
/// empty. Filters and ordering apply on the fields the consumer allows.
pub async fn list<M: Model>(
    ctx: &Context<'_>,
    payload: &Payload<'_>,
    options: ListOptions,
) -> Result<Reply, ApiError> {
    let mut filters = M::scope(ctx)?;
    let mut errors = Errors::new();
    let cursor_mode = payload.raw("cursor").is_some();
    let (page, page_size) = page_params(payload, options, &mut errors);
    filters.extend(parse_filters::<M::Filter>(
        payload,
        LIST_KEYS,
        M::FILTER_FIELDS,
        ctx.limits(),
        &mut errors,
    ));
    let ordering = parse_ordering(payload, M::ORDER_FIELDS, &mut errors);
    if cursor_mode {
        if payload.raw("page").is_some() {
            errors.add("page", "a `cursor` request pages by cursor, not by number");
        }
        if !ordering.is_empty() {
            errors.add(
                "ordering",
                "a `cursor` request follows the primary key's order; drop `ordering`",
            );
        }
        match payload.get::<Option<String>>("cursor") {
            Ok(Some(Some(cursor))) => match cursor_filter::<M>(&cursor) {
                Some(filter) => filters.push(filter),
                None => errors.add("cursor", "not a cursor this resource gave out"),
            },
            Ok(_) => {}
            Err(_) => errors.add("cursor", "expected the `next` string of a previous page"),
        }
    }
    errors.into_result()?;

    let query = ListQuery {
        filters,
        ordering,
        offset: if cursor_mode {
            0
        } else {
            i64::from(page - 1) * i64::from(page_size)
        },
        // One more row than asked tells whether a next page exists.
        limit: i64::from(page_size) + i64::from(cursor_mode),
        count: !cursor_mode,
    };
    let (count, mut results) = ctx.db().query(move |conn| M::list(conn, &query)).await?;
    if cursor_mode {
        let more = results.len() > page_size as usize;
        results.truncate(page_size as usize);
        let next = match (more, results.last()) {
            (true, Some(last)) => Some(cursor_of(last)?),
            _ => None,
        };
        return Reply::ok(&CursorPage {
            page_size,
            next,
            results,
        });
    }
    Reply::ok(&Page {
        count: count.unwrap_or_default(),
        page,
        page_size,
        results,
    })
}

/// The cursor after `row`: its primary key's JSON.
/// Keys of a `list` request that are not filters.
const LIST_KEYS: &[&str] = &["page", "page_size", "ordering", "cursor"];

/// `page` and `page_size` of a `list` (or snapshot) request, problems added to `errors`.
pub(crate) fn page_params(
    payload: &Payload<'_>,
    options: ListOptions,
    errors: &mut Errors,
) -> (u32, u32) {
    let page = match payload.get::<i64>("page") {
        Ok(None) => 1,
        Ok(Some(page)) => match u32::try_from(page) {
            Ok(page) if page > 0 => page,
            _ if page < 1 => {
                errors.add("page", "pages are numbered from 1");
                1
            }
            _ => {
                errors.add("page", format!("must be at most {}", u32::MAX));
                1
            }
        },
        Err(e) => {
            errors.add("page", first_message(&e));
            1
        }
    };
    let page_size = match payload.get::<i64>("page_size") {
        Ok(None) => options.page_size,
        Ok(Some(size)) => match u32::try_from(size) {
            Ok(size) if (1..=options.max_page_size).contains(&size) => size,
            _ => {
                errors.add(
                    "page_size",
                    format!("must be between 1 and {}", options.max_page_size),
                );
                options.page_size
            }
        },
        Err(e) => {
            errors.add("page_size", first_message(&e));
            options.page_size
        }
    };
    (page, page_size)
}

fn cursor_of<M: Model>(row: &M) -> Result<String, ApiError> {
    let value = serde_json::to_value(row).map_err(|_| ApiError::internal())?;
    match value.get(M::PK) {
        Some(pk) => Ok(pk.to_string()),
        None => {
            tracing::error!(
                pk = M::PK,
                "the primary key is not serialized; cursors need it"
            );
            Err(ApiError::internal())
        }
    }
}

/// The filter "primary key after `cursor`".
fn cursor_filter<M: Model>(cursor: &str) -> Option<M::Filter> {
    let raw = serde_json::from_str::<&serde_json::value::RawValue>(cursor).ok()?;
    M::Filter::parse(M::PK, Lookup::Gt, raw).ok()
}

pub(crate) fn first_message(error: &ApiError) -> String {
    error
        .errors()
        .iter()
        .flat_map(|(_, messages)| messages.iter().cloned())
        .next()
        .unwrap_or_default()
}

/// One 400 with the errors of both failed parts of a request.
fn merge(a: Option<ApiError>, b: Option<ApiError>) -> ApiError {
    let mut errors = Errors::new();
    let mut status = 400;
    for error in a.into_iter().chain(b) {
        status = error.status();
        errors.extend(error.errors());
    }
    ApiError::with_errors(status, errors)
}
