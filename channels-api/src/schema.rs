//! `api.schema`: every resource on a path, its methods and its fields, as the derive
//! described them at compile time.

use serde::Serialize;
use serde::de::{self, DeserializeOwned, Visitor};

/// One resource.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceSchema {
    /// The resource name.
    pub name: &'static str,
    /// The primary key's name on the wire.
    pub primary_key: &'static str,
    /// The model's fields.
    pub fields: Vec<FieldSchema>,
    /// The methods offered.
    pub methods: Vec<MethodSchema>,
    /// What `list` accepts, when the resource offers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<ListSchema>,
}

/// What a resource's `list` accepts besides `page` and `page_size`.
#[derive(Debug, Clone, Serialize)]
pub struct ListSchema {
    /// The fields a request may filter on, each with its lookups.
    pub filters: Vec<FilterSchema>,
    /// The fields a request may order by (`-` before one for descending).
    pub ordering: Vec<&'static str>,
    /// The page size when the request names none.
    pub page_size: u32,
    /// The largest page size a request may ask for.
    pub max_page_size: u32,
    /// Whether `cursor` paging is available (always, for built-in lists): send
    /// `"cursor": null` for the first page, then each page's `next`.
    pub cursor: bool,
}

/// One field a `list` request may filter on.
#[derive(Debug, Clone, Serialize)]
pub struct FilterSchema {
    /// The field's name in requests: the key of an `exact` filter, and the part before
    /// `__` of the others.
    pub field: &'static str,
    /// The lookups that apply to it: `exact` (the field's name alone), `gt`, `gte`, `lt`,
    /// `lte`, `in`, `isnull`, and for text `contains` and `icontains` (as `field__gte`).
    pub lookups: Vec<&'static str>,
}

/// One field of a model.
#[derive(Debug, Clone, Serialize)]
pub struct FieldSchema {
    /// The name in responses (serde's serialize-side name).
    pub name: &'static str,
    /// The name in requests, when it differs from `name` (serde's deserialize-side name):
    /// what create, update and patch read, and what filters and ordering use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_name: Option<&'static str>,
    /// Other names create, update and patch accept for the field (`#[serde(alias)]`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub aliases: &'static [&'static str],
    /// The JSON type: `integer`, `number`, `boolean`, `string`, `array` or `object`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// A refinement of the type, such as `date-time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// Never taken from client input.
    pub read_only: bool,
    /// Taken from input but never sent back.
    pub write_only: bool,
    /// May be null.
    pub nullable: bool,
}

/// One method of a resource.
#[derive(Debug, Clone, Serialize)]
pub struct MethodSchema {
    /// The method name.
    pub name: &'static str,
    /// Whether it is one of the built-in methods.
    pub builtin: bool,
    /// The payload fields it reads; `None` when any payload goes (a map, a JSON value), or
    /// when its argument type does not say.
    pub arguments: Option<Vec<&'static str>>,
}

/// The field names a `Deserialize` type reads, when it is a struct: serde hands them to
/// the deserializer, which records them and stops.
pub(crate) fn argument_fields<T: DeserializeOwned>() -> Option<Vec<&'static str>> {
    struct_fields::<T>().map(<[_]>::to_vec)
}

#[doc(hidden)]
/// The keys a `Deserialize` struct accepts, as its derive lists them: each field's
/// deserialize-side name and its aliases; `None` when `T` is not a struct.
pub fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    let _ = T::deserialize(FieldsProbe(&mut fields));
    fields
}

struct FieldsProbe<'f>(&'f mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for FieldsProbe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Invite {
        email: String,
        #[serde(rename = "note")]
        message: Option<String>,
    }

    #[test]
    fn probes_struct_fields() {
        assert_eq!(argument_fields::<Invite>(), Some(vec!["email", "note"]));
        assert_eq!(argument_fields::<serde_json::Value>(), None);
        assert_eq!(
            argument_fields::<std::collections::HashMap<String, i32>>(),
            None
        );
    }
}
