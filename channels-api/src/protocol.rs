//! Wire protocol v1: one JSON object per text frame, both ways.
//!
//! A request is a flat object: `method` names `resource.method`, `request_id` (optional, any
//! JSON scalar) is echoed verbatim, and every other key is payload. A frame is parsed once
//! into borrowed slices of its text ([`Payload`]); each field is then deserialized straight
//! into the type that needs it, with no intermediate JSON tree.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::error::{ApiError, Errors};
use crate::limits::Limits;

/// The fields of a request other than `method` and `request_id`, as borrowed JSON slices.
#[derive(Debug, Default)]
pub struct Payload<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Payload<'a> {
    /// Every field as `(name, raw JSON)`, in the order sent.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// The raw JSON of `name`, if sent (the last one, if sent twice).
    pub fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// Deserializes field `name`, or `None` when it was not sent. A value of the wrong type
    /// is a 400 naming the field.
    pub fn get<T: DeserializeOwned>(&self, name: &'static str) -> Result<Option<T>, ApiError> {
        self.raw(name)
            .map(|raw| field_value(raw).map_err(|message| ApiError::field(400, name, message)))
            .transpose()
    }

    /// Deserializes field `name`, which must be present.
    pub fn require<T: DeserializeOwned>(&self, name: &'static str) -> Result<T, ApiError> {
        self.get(name)?
            .ok_or_else(|| ApiError::field(400, name, REQUIRED))
    }

    /// Deserializes the whole payload as one value of type `T` (a struct or a map), as
    /// custom methods receive their argument. Errors name the field they concern.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        self.deserialize_keys(None)
    }

    /// Deserializes `T` from the keys in `only` and no others, refusing text that holds
    /// the NUL character as [`field_value`] does. The derive reads a model's input this
    /// way, one field's shape at a time, with `only` the names serde's derive gave it.
    #[doc(hidden)]
    pub fn deserialize_only<T: DeserializeOwned>(&self, only: &[&str]) -> Result<T, ApiError> {
        self.deserialize_keys(Some(only))
    }

    fn deserialize_keys<T: DeserializeOwned>(&self, only: Option<&[&str]>) -> Result<T, ApiError> {
        let failed_at = Cell::new(None);
        let access = FieldsAccess {
            fields: &self.fields,
            next: 0,
            failed_at: &failed_at,
            only,
        };
        T::deserialize(FieldsDeserializer(access)).map_err(|error| {
            let message = error.to_string();
            let (field, message) = match failed_at.get() {
                Some(index) => (self.fields[index].0.to_string(), humanize(&message)),
                None => match (missing_field(&message), duplicate_field(&message)) {
                    (Some(field), _) => (field.to_owned(), REQUIRED.to_owned()),
                    (_, Some(field)) => (field.to_owned(), DUPLICATE.to_owned()),
                    _ => (Errors::NON_FIELD.to_owned(), humanize(&message)),
                },
            };
            ApiError::field(400, field, message)
        })
    }
}

/// The message for a field that must be sent and was not.
#[doc(hidden)]
pub const REQUIRED: &str = "this field is required";

/// Deserializes one field's JSON into `T`, with a message a person can act on.
///
/// Text holding the NUL character is refused here, for every backend alike: PostgreSQL
/// cannot store it, and a value one backend stores and another refuses is a trap.
#[doc(hidden)]
pub fn field_value<T: DeserializeOwned>(raw: &RawValue) -> Result<T, String> {
    if has_nul_escape(raw.get()) {
        return Err(NUL_MESSAGE.to_owned());
    }
    serde_json::from_str(raw.get()).map_err(|e| humanize(&e.to_string()))
}

const NUL_MESSAGE: &str = "text may not contain the NUL character (\\u0000)";

/// Whether JSON text holds the escape `\u0000` (JSON strings cannot hold a raw NUL).
fn has_nul_escape(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1..].starts_with(b"u0000") {
                return true;
            }
            // Skip the escaped character, so `\\u0000` (a backslash, then text) is not
            // taken for an escape.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// A request, parsed from a frame's text.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// `method` as sent.
    method_raw: Option<&'a RawValue>,
    /// `method` as echoed in the response: its raw JSON string, unless that is not valid
    /// Unicode.
    pub(crate) method_json: Option<&'a RawValue>,
    pub(crate) request_id: Option<&'a RawValue>,
    pub(crate) payload: Payload<'a>,
}

/// Why a frame is not a usable request; the frame's `method` and `request_id`, where they
/// could be read, still go into the error response.
#[derive(Debug)]
pub(crate) struct BadRequest<'a> {
    pub(crate) method_json: Option<&'a RawValue>,
    pub(crate) request_id: Option<&'a RawValue>,
    pub(crate) error: ApiError,
}

impl<'a> Request<'a> {
    /// Parses a frame. Nesting deeper than the limit is refused before any parsing, so a
    /// hostile frame costs one linear scan; so are more keys than the limit allows.
    pub(crate) fn parse(text: &'a str, limits: &Limits) -> Result<Self, Box<BadRequest<'a>>> {
        let bad = |error| {
            Box::new(BadRequest {
                method_json: None,
                request_id: None,
                error,
            })
        };
        let max_depth = limits.max_json_depth;
        if nesting_depth_exceeds(text, max_depth) {
            return Err(bad(ApiError::bad_request(format!(
                "JSON nested deeper than {max_depth} levels"
            ))));
        }
        let mut fields = match serde_json::from_str::<RawObject<'a>>(text) {
            Ok(RawObject(fields)) => fields,
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                return Err(bad(ApiError::bad_request(
                    "expected a JSON object such as {\"method\": \"resource.method\"}",
                )));
            }
            Err(e) => {
                return Err(bad(ApiError::bad_request(format!("malformed JSON: {e}"))));
            }
        };
        let (mut method_json, mut request_id) = (None, None);
        fields.retain(|(key, value)| match key.as_ref() {
            "method" => {
                method_json = Some(*value);
                false
            }
            "request_id" => {
                request_id = Some(*value);
                false
            }
            _ => true,
        });
        // Only what is valid JSON text of a string goes back verbatim as the method (a
        // method that is not a string is not echoed at all): a lone surrogate escape
        // (`"\ud800"`) would make the answer invalid for strict parsers.
        let method_raw = method_json;
        let method_json =
            method_json.filter(|raw| raw.get().starts_with('"') && !is_broken_string(raw));
        let echoable_id = request_id.filter(|raw| !is_broken_string(raw));
        let refuse = |error| {
            Box::new(BadRequest {
                method_json,
                request_id: echoable_id,
                error,
            })
        };
        if let Some(id) = request_id {
            let scalar = !matches!(id.get().as_bytes().first(), Some(b'{' | b'['));
            if !scalar || echoable_id.is_none() {
                return Err(Box::new(BadRequest {
                    method_json,
                    request_id: None,
                    error: ApiError::field(
                        400,
                        "request_id",
                        "must be a string, a number, a boolean or null",
                    ),
                }));
            }
        }
        if fields.len() > limits.max_keys {
            return Err(refuse(ApiError::bad_request(format!(
                "too many keys: a request carries at most {} besides `method` and \
                 `request_id`",
                limits.max_keys
            ))));
        }
        // At most `max_keys` keys: comparing each pair stays cheap.
        for (index, (key, _)) in fields.iter().enumerate() {
            if fields[..index].iter().any(|(earlier, _)| earlier == key) {
                return Err(refuse(ApiError::field(
                    400,
                    key.to_string(),
                    "sent more than once: send each key once",
                )));
            }
        }
        Ok(Request {
            method_raw,
            method_json,
            request_id,
            payload: Payload { fields },
        })
    }

    /// The method as a string, or the 400 that says what is wrong with it.
    pub(crate) fn method(&self) -> Result<Cow<'a, str>, ApiError> {
        let Some(raw) = self.method_raw else {
            return Err(ApiError::field(
                400,
                "method",
                "this field is required: name the method as \"resource.method\"",
            ));
        };
        match serde_json::from_str::<BorrowedStr<'a>>(raw.get()) {
            Ok(BorrowedStr(method)) => Ok(method),
            Err(_) => Err(ApiError::field(
                400,
                "method",
                "must be a string such as \"question.create\"",
            )),
        }
    }
}

/// Whether `raw` is a JSON string that does not decode to valid Unicode (a lone surrogate
/// escape).
fn is_broken_string(raw: &RawValue) -> bool {
    raw.get().starts_with('"') && serde_json::from_str::<BorrowedStr<'_>>(raw.get()).is_err()
}

/// A JSON string, borrowed from the frame when it has no escapes.
#[derive(Deserialize)]
struct BorrowedStr<'a>(#[serde(borrow)] Cow<'a, str>);

/// A JSON object as its keys and the raw JSON of their values.
struct RawObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(BorrowedStr(key)) = map.next_key()? {
                    fields.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawObject(fields))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Whether brackets nest deeper than `max` anywhere in `text` (outside strings).
fn nesting_depth_exceeds(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The name in `candidates` closest to `name`, if one is close enough to be what was
/// meant (an edit or two away). The work is bounded: only the first 64 bytes of `name`
/// count.
pub(crate) fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let name = &name.as_bytes()[..name.len().min(64)];
    candidates
        .iter()
        .map(|c| (edit_distance(name, c.as_bytes()), *c))
        .filter(|(d, c)| *d <= c.len().div_ceil(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short byte strings.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The message for a field sent under two of its names (its name and an alias).
const DUPLICATE: &str = "sent more than once, under its name or an alias: send it once";

/// Serde's `duplicate field `x`` message, as the field's name.
fn duplicate_field(message: &str) -> Option<&str> {
    message.strip_prefix("duplicate field `")?.split('`').next()
}

/// Serde's `missing field `x`` message, as the field's name.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Turns serde's messages (`invalid type: string "x", expected i32 at line 1 column 9`)
/// into sentences for the person who sent the request (`expected an integer, got the
/// string "x"`).
pub(crate) fn humanize(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => &message[..at],
        _ => message,
    };
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        if got == "null" {
            return "this field may not be null".to_owned();
        }
        if let Some(range) = out_of_range(got, expected) {
            return range;
        }
        return format!(
            "expected {}, got {}",
            expected_name(expected),
            got_name(got)
        );
    }
    if let Some(field) = missing_field(message) {
        return format!("`{field}`: {REQUIRED}");
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!("expected {expected}, got {got} items");
    }
    message.to_owned()
}

/// "must be at most 2147483647" for an integer outside the range of the integer type
/// `expected`.
fn out_of_range(got: &str, expected: &str) -> Option<String> {
    let value: i128 = got
        .strip_prefix("integer `")?
        .strip_suffix('`')?
        .parse()
        .ok()?;
    let (min, max): (i128, i128) = match expected {
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" => (i64::MIN.into(), i64::MAX.into()),
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" => (0, u64::MAX.into()),
        _ => return None,
    };
    if value > max {
        Some(format!("must be at most {max}"))
    } else if value < min {
        Some(format!("must be at least {min}"))
    } else {
        None
    }
}

fn expected_name(expected: &str) -> Cow<'_, str> {
    Cow::Borrowed(match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer",
        "f32" | "f64" => "a number",
        "a borrowed string" | "a string" | "a char" => "a string",
        "a boolean" => "true or false",
        "a sequence" => "a list",
        "a map" => "an object",
        "unit" => "null",
        _ if expected.starts_with("struct ") => "an object",
        _ if expected.starts_with("tuple") => "a list",
        _ => return Cow::Borrowed(expected),
    })
}

fn got_name(got: &str) -> String {
    let ticked = |prefix: &str| {
        got.strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_owned())
    };
    if let Some(s) = got.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = ticked("integer ").or_else(|| ticked("floating point ")) {
        format!("the number {n}")
    } else if let Some(b) = ticked("boolean ") {
        b
    } else {
        match got {
            "map" => "an object".to_owned(),
            "sequence" => "a list".to_owned(),
            _ => got.to_owned(),
        }
    }
}

/// A deserializer over a payload's fields, as if they were one JSON object. It records
/// which field a value error came from, so the 400 can name it.
struct FieldsDeserializer<'p, 'a>(FieldsAccess<'p, 'a>);

struct FieldsAccess<'p, 'a> {
    fields: &'p [(Cow<'a, str>, &'a RawValue)],
    next: usize,
    failed_at: &'p Cell<Option<usize>>,
    /// When set, the only keys the deserializer sees; their text may not hold NUL.
    only: Option<&'p [&'p str]>,
}

impl<'de> MapAccess<'de> for FieldsAccess<'_, 'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        if let Some(only) = self.only {
            while self
                .fields
                .get(self.next)
                .is_some_and(|(key, _)| !only.contains(&key.as_ref()))
            {
                self.next += 1;
            }
        }
        match self.fields.get(self.next) {
            Some((key, _)) => {
                let key: &str = key;
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let index = self.next;
        self.next += 1;
        let Some((_, raw)) = self.fields.get(index) else {
            return Err(de::Error::custom("value requested after the last field"));
        };
        if self.only.is_some() && has_nul_escape(raw.get()) {
            self.failed_at.set(Some(index));
            return Err(de::Error::custom(NUL_MESSAGE));
        }
        let mut deserializer = serde_json::Deserializer::from_str(raw.get());
        seed.deserialize(&mut deserializer).inspect_err(|_| {
            self.failed_at.set(Some(index));
        })
    }

    fn size_hint(&self) -> Option<usize> {
        match self.only {
            Some(_) => None,
            None => Some(self.fields.len() - self.next),
        }
    }
}

impl<'de> Deserializer<'de> for FieldsDeserializer<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(self.0)
    }

    /// A method that takes `()` ignores the payload.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// What a method answered: a status and, unless it is a 204, the serialized data.
#[derive(Debug)]
pub struct Reply {
    status: u16,
    data: Option<Box<RawValue>>,
}

impl Reply {
    /// 200 with `data`.
    pub fn ok<T: Serialize + ?Sized>(data: &T) -> Result<Self, ApiError> {
        Self::with_status(200, data)
    }

    /// 201 with `data`, for a created record.
    pub fn created<T: Serialize + ?Sized>(data: &T) -> Result<Self, ApiError> {
        Self::with_status(201, data)
    }

    /// 204 without data, for a deleted record.
    pub fn no_content() -> Self {
        Self {
            status: 204,
            data: None,
        }
    }

    /// `status` with `data`. Data that fails to serialize is logged and answered with 500.
    pub fn with_status<T: Serialize + ?Sized>(status: u16, data: &T) -> Result<Self, ApiError> {
        match serde_json::value::to_raw_value(data) {
            Ok(raw) => Ok(Self {
                status,
                data: Some(raw),
            }),
            Err(error) => {
                tracing::error!(%error, "response data failed to serialize");
                Err(ApiError::internal())
            }
        }
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The serialized data.
    pub fn data(&self) -> Option<&RawValue> {
        self.data.as_deref()
    }
}

/// A response about to be sent, handed to a [`Formatter`].
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    pub(crate) method_json: Option<&'a RawValue>,
    pub(crate) request_id: Option<&'a RawValue>,
    pub(crate) status: u16,
    pub(crate) body: Body<'a>,
}

/// The body of a [`Response`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Body<'a> {
    /// No data (a 204).
    Empty,
    /// The method's data, serialized.
    Data(&'a RawValue),
    /// Errors by field.
    Errors(&'a Errors),
}

impl<'a> Response<'a> {
    /// The request's `method` as the raw JSON string it sent, if it sent one.
    pub fn method_json(&self) -> Option<&'a RawValue> {
        self.method_json
    }

    /// The request's `request_id` as the raw JSON it sent, if it sent one.
    pub fn request_id(&self) -> Option<&'a RawValue> {
        self.request_id
    }

    /// The HTTP-like status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> Body<'a> {
        self.body
    }
}

/// Turns a [`Response`] into the text of the frame sent to the client (the Python
/// project's `format_response`).
///
/// ```
/// use channels_api::{Body, Formatter, Response};
///
/// /// Sends `{"ok": true, "data": ...}` or `{"ok": false, "errors": ...}`.
/// struct OkFormatter;
///
/// impl Formatter for OkFormatter {
///     fn format(&self, response: &Response<'_>, out: &mut String) {
///         let value = match response.body() {
///             Body::Data(data) => serde_json::json!({"ok": true, "data": data}),
///             Body::Empty => serde_json::json!({"ok": true}),
///             Body::Errors(errors) => serde_json::json!({"ok": false, "errors": errors}),
///             _ => serde_json::json!({"ok": false}),
///         };
///         out.push_str(&value.to_string());
///     }
/// }
/// ```
pub trait Formatter: Send + Sync + 'static {
    /// Appends the frame's text for `response` to `out`, which is empty.
    fn format(&self, response: &Response<'_>, out: &mut String);

    /// Appends the frame's text for a live-data `event` to `out`, which is empty. The
    /// default writes protocol v1's event:
    /// `{"event": "question.updated", "subscription": "s1", "position": "42", "data": {...}}`,
    /// with `errors` in place of `data` for a subscription that ended.
    fn format_event(&self, event: &Event<'_>, out: &mut String) {
        out.push_str("{\"event\":\"");
        out.push_str(event.resource);
        out.push('.');
        out.push_str(event.kind);
        out.push_str("\",\"subscription\":");
        push_json(out, event.subscription);
        let _ = write!(out, ",\"position\":\"{}\"", event.position);
        push_body(out, event.body);
        out.push('}');
    }
}

/// A live-data event, as a [`Formatter`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub(crate) resource: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) subscription: &'a str,
    pub(crate) position: i64,
    pub(crate) body: Body<'a>,
}

impl<'a> Event<'a> {
    /// The resource, as in `question.updated`.
    pub fn resource(&self) -> &'a str {
        self.resource
    }

    /// What happened: `created`, `updated`, `deleted`, `unsubscribed` for a
    /// subscription the server ended, or what a custom method published.
    pub fn kind(&self) -> &'a str {
        self.kind
    }

    /// The subscription's id, as `subscribe` answered it.
    pub fn subscription(&self) -> &'a str {
        self.subscription
    }

    /// The change's position, to resume after.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// The row (created, updated), its key (deleted) or why the subscription ended.
    pub fn body(&self) -> Body<'a> {
        self.body
    }
}

/// The envelope of protocol v1:
/// `{"method": ..., "request_id": ..., "status": 201, "data": {...}}`, with `errors` in
/// place of `data` for a failure and neither for a 204. `method` and `request_id` are
/// left out when the request did not carry them.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultFormatter;

impl Formatter for DefaultFormatter {
    fn format(&self, response: &Response<'_>, out: &mut String) {
        out.push('{');
        if let Some(method) = response.method_json {
            out.push_str("\"method\":");
            out.push_str(method.get());
            out.push(',');
        }
        if let Some(id) = response.request_id {
            out.push_str("\"request_id\":");
            out.push_str(id.get());
            out.push(',');
        }
        let _ = write!(out, "\"status\":{}", response.status);
        push_body(out, response.body);
        out.push('}');
    }
}

/// Sends the bare serialized data, as the Python project's example formatter did:
/// `{"id": 1, "question_text": "..."}`. Responses without data (errors, a 204 after a
/// delete) keep the [`DefaultFormatter`]'s envelope, so the client can still tell them
/// apart and match them to their request.
#[derive(Debug, Clone, Copy, Default)]
pub struct BareFormatter;

impl Formatter for BareFormatter {
    fn format(&self, response: &Response<'_>, out: &mut String) {
        match response.body {
            Body::Data(data) => out.push_str(data.get()),
            Body::Empty | Body::Errors(_) => DefaultFormatter.format(response, out),
        }
    }
}

/// Appends `,"data":...` or `,"errors":...` (nothing for an empty body), as protocol v1
/// writes a body in a response and in an event.
fn push_body(out: &mut String, body: Body<'_>) {
    match body {
        Body::Empty => {}
        Body::Data(data) => {
            out.push_str(",\"data\":");
            out.push_str(data.get());
        }
        Body::Errors(errors) => {
            out.push_str(",\"errors\":");
            push_json(out, errors);
        }
    }
}

fn push_json<T: Serialize + ?Sized>(out: &mut String, value: &T) {
    match serde_json::to_string(value) {
        Ok(json) => out.push_str(&json),
        Err(_) => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Request<'_> {
        Request::parse(text, &Limits::default()).unwrap()
    }

    fn parse_err(text: &str) -> Box<BadRequest<'_>> {
        Request::parse(text, &Limits::default()).unwrap_err()
    }

    #[test]
    fn splits_method_request_id_and_payload() {
        let r = parse(r#"{"method":"q.create","request_id":7,"a":1,"b":"x"}"#);
        assert_eq!(r.method().unwrap(), "q.create");
        assert_eq!(r.request_id.unwrap().get(), "7");
        let names: Vec<_> = r.payload.fields().map(|(k, _)| k).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn classifies_bad_frames() {
        let e = parse_err("{nope");
        assert!(
            e.error.to_string().contains("malformed JSON"),
            "{}",
            e.error
        );
        let e = parse_err("[1, 2]");
        assert!(e.error.to_string().contains("JSON object"), "{}", e.error);
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        let e = parse_err(&deep);
        assert!(e.error.to_string().contains("nested"), "{}", e.error);
        // Brackets inside strings do not count.
        let text = format!("{{\"a\":\"{}\"}}", "[".repeat(100));
        assert!(Request::parse(&text, &Limits::default()).is_ok());
        let e = parse_err(r#"{"method":"q.list","request_id":{"a":1}}"#);
        assert_eq!(e.error.errors().get("request_id").unwrap().len(), 1);
        let r = parse(r#"{"request_id":1}"#);
        assert_eq!(
            r.method().unwrap_err().errors().iter().next().unwrap().0,
            "method"
        );
        let r = parse(r#"{"method":5}"#);
        assert!(r.method().is_err());
    }

    #[test]
    fn refuses_what_would_echo_broken_text_or_cost_too_much() {
        // A lone surrogate is never echoed: not as the method, not as the request id.
        let e = parse_err(r#"{"method":"q.list","request_id":"\ud800"}"#);
        assert!(e.request_id.is_none());
        assert_eq!(e.error.errors().get("request_id").unwrap().len(), 1);
        let r = parse(r#"{"method":"\udfff.x","request_id":1}"#);
        assert!(r.method_json.is_none());
        assert!(r.method().is_err());
        // A pair is fine.
        let r = parse(r#"{"method":"q.x","request_id":"\ud83d\ude00"}"#);
        assert!(r.request_id.is_some());
        // Keys past the limit are refused before anything reads them.
        let many: Vec<String> = (0..65).map(|i| format!("\"k{i}\":1")).collect();
        let text = format!("{{\"method\":\"q.x\",\"request_id\":3,{}}}", many.join(","));
        let e = parse_err(&text);
        assert_eq!(e.request_id.unwrap().get(), "3");
        assert!(e.error.to_string().contains("too many keys"), "{}", e.error);
    }

    #[test]
    fn suggests_close_names() {
        let fields = ["id", "title", "year"];
        assert_eq!(closest("yeer", &fields), Some("year"));
        assert_eq!(closest("titel", &fields), Some("title"));
        assert_eq!(closest("colour", &fields), None);
        assert_eq!(closest(&"x".repeat(10_000), &fields), None);
    }

    #[test]
    fn refuses_nul_in_text() {
        let raw = |json: &str| RawValue::from_string(json.to_owned()).unwrap();
        assert!(field_value::<String>(&raw(r#""a\u0000b""#)).is_err());
        assert!(field_value::<Vec<String>>(&raw(r#"["x", "\u0000"]"#)).is_err());
        assert_eq!(
            field_value::<String>(&raw(r#""a\\u0000b""#)).unwrap(),
            "a\\u0000b"
        );
        assert_eq!(field_value::<String>(&raw(r#""\u0001""#)).unwrap(), "\u{1}");
    }

    #[test]
    fn humanizes_serde_messages() {
        assert_eq!(
            humanize("invalid type: string \"x\", expected i32 at line 1 column 3"),
            "expected an integer, got the string \"x\""
        );
        assert_eq!(
            humanize("invalid type: null, expected a string at line 1 column 4"),
            "this field may not be null"
        );
        assert_eq!(
            humanize("invalid type: integer `5`, expected a string"),
            "expected a string, got the number 5"
        );
        assert_eq!(
            humanize("invalid value: integer `-1`, expected u32"),
            "must be at least 0"
        );
        assert_eq!(
            humanize("invalid value: integer `99999999999`, expected i32"),
            "must be at most 2147483647"
        );
        assert_eq!(
            humanize("invalid type: floating point `1.5`, expected i32"),
            "expected an integer, got the number 1.5"
        );
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Args {
        name: String,
        count: u32,
    }

    #[test]
    fn deserializes_payload_with_field_errors() {
        let r = parse(r#"{"method":"q.x","name":"a","count":3,"extra":true}"#);
        assert_eq!(
            r.payload.deserialize::<Args>().unwrap(),
            Args {
                name: "a".into(),
                count: 3
            }
        );
        let r = parse(r#"{"method":"q.x","name":"a","count":"three"}"#);
        let e = r.payload.deserialize::<Args>().unwrap_err();
        assert_eq!(
            e.errors().get("count").unwrap(),
            ["expected a non-negative integer, got the string \"three\""]
        );
        let r = parse(r#"{"method":"q.x","count":1}"#);
        let e = r.payload.deserialize::<Args>().unwrap_err();
        assert_eq!(e.errors().get("name").unwrap(), [REQUIRED]);
        let r = parse(r#"{"method":"q.x","a":[1,{"b":null}]}"#);
        let v: serde_json::Value = r.payload.deserialize().unwrap();
        assert_eq!(v, json!({"a": [1, {"b": null}]}));
    }

    #[test]
    fn formats_the_envelope() {
        let r = parse(r#"{"method":"q.create","request_id":"abc"}"#);
        let data = serde_json::value::to_raw_value(&json!({"id": 1})).unwrap();
        let response = Response {
            method_json: r.method_json,
            request_id: r.request_id,
            status: 201,
            body: Body::Data(&data),
        };
        let mut out = String::new();
        DefaultFormatter.format(&response, &mut out);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&out).unwrap(),
            json!({"method": "q.create", "request_id": "abc", "status": 201, "data": {"id": 1}})
        );
        out.clear();
        BareFormatter.format(&response, &mut out);
        assert_eq!(out, r#"{"id":1}"#);
    }
}
