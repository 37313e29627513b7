//! Query strings and path parameters, decoded so that every refusal names
//! the parameter: `GET /api/v1/tasks?limit=-1` is 400 `invalid_query` with
//! `field: "limit"` and a message saying what `limit` must be, not serde's
//! bare "invalid digit found in string".
//!
//! - [`Query<T>`] replaces actix's `web::Query<T>` on baton's routes: the
//!   query string is split into `key=value` pairs and `T` is read from them
//!   through a deserializer that knows which key each value came from. An
//!   unknown parameter (`deny_unknown_fields`), a repeated one and a missing
//!   one are named too.
//! - `path_error` is the `web::PathConfig` error handler of baton's
//!   resources: it names the path segment whose value did not parse.
//!
//! Both produce [`ApiError::BadParam`], which `api/error.rs` turns into a
//! status and a body like every other error.

use std::borrow::Cow;
use std::fmt;

use actix_web::dev::Payload;
use actix_web::error::PathError;
use actix_web::{FromRequest, HttpRequest};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::ApiError;
use crate::error::ErrorCode;

/// A query string decoded into `T` (a struct of optional fields, usually
/// with `#[serde(deny_unknown_fields)]`). Refusals are 400 `invalid_query`
/// naming the parameter in `field`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The decoded value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Decode a raw (percent-encoded) query string into `T`; errors name the
/// parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes()).map(|(k, v)| {
        let key = k.into_owned();
        (key.clone(), Part { key, value: v })
    });
    let de = de::value::MapDeserializer::<_, ParamError>::new(pairs);
    T::deserialize(de).map_err(|e| match e.field {
        Some(field) => ApiError::BadParam {
            code: ErrorCode::InvalidQuery,
            message: format!("query parameter '{field}': {}", e.message),
            field,
        },
        None => ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("invalid query string: {}", e.message),
        ),
    })
}

/// The `web::PathConfig` error handler of baton's resources: a segment that
/// does not parse (`/slots/abc/release`) is 400 `invalid_path` naming it.
pub(crate) fn path_error(e: PathError, req: &HttpRequest) -> actix_web::Error {
    let PathError::Deserialize(inner) = &e else {
        return ApiError::bad_request(ErrorCode::InvalidPath, e.to_string()).into();
    };
    let detail = inner.to_string();
    let segments: Vec<(&str, &str)> = req.match_info().iter().collect();
    // actix's message quotes the value it could not parse: that segment, or
    // the only one there is
    let field = segments
        .iter()
        .find(|(_, value)| detail.contains(&format!("\"{value}\"")))
        .or(match segments.as_slice() {
            [only] => Some(only),
            _ => None,
        })
        .map(|(name, _)| (*name).to_owned());
    match field {
        Some(field) => ApiError::BadParam {
            code: ErrorCode::InvalidPath,
            message: format!("path parameter '{field}': {detail}"),
            field,
        },
        None => ApiError::bad_request(ErrorCode::InvalidPath, format!("invalid path: {detail}")),
    }
    .into()
}

/// A decoding error and the parameter it concerns, when known.
#[derive(Debug)]
struct ParamError {
    field: Option<String>,
    message: String,
}

impl ParamError {
    /// The same error, about `key` unless it already names a parameter.
    fn at(mut self, key: &str) -> Self {
        if self.field.is_none() {
            self.field = Some(key.to_owned());
        }
        self
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParamError {}

impl de::Error for ParamError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            field: None,
            message: msg.to_string(),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let message = if expected.is_empty() {
            "no query parameters are accepted here".to_owned()
        } else {
            format!("unknown parameter; expected one of {}", expected.join(", "))
        };
        Self {
            field: Some(field.to_owned()),
            message,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            field: Some(field.to_owned()),
            message: "is required".to_owned(),
        }
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self {
            field: Some(field.to_owned()),
            message: "given more than once".to_owned(),
        }
    }
}

/// One parameter's value, knowing its key: a value that does not parse as
/// the field's type is an error about that key.
struct Part<'a> {
    key: String,
    value: Cow<'a, str>,
}

impl<'de> IntoDeserializer<'de, ParamError> for Part<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl Part<'_> {
    fn parse<T>(&self, what: &str) -> Result<T, ParamError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        self.value.parse::<T>().map_err(|e| ParamError {
            field: Some(self.key.clone()),
            message: format!("'{}' is not {what} ({e})", self.value),
        })
    }
}

macro_rules! parse_as {
    ($($method:ident => $visit:ident, $ty:ty, $what:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
                let v = self.parse::<$ty>($what)?;
                visitor
                    .$visit::<ParamError>(v)
                    .map_err(|e| e.at(&self.key))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Part<'_> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        let key = self.key;
        visitor
            .visit_string::<ParamError>(self.value.into_owned())
            .map_err(|e| e.at(&key))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        let key = self.key;
        let value: de::value::StringDeserializer<ParamError> =
            self.value.into_owned().into_deserializer();
        visitor
            .visit_enum(value)
            .map_err(|e: ParamError| e.at(&key))
    }

    parse_as! {
        deserialize_bool => visit_bool, bool, "true or false";
        deserialize_i8 => visit_i8, i8, "an integer from -128 to 127";
        deserialize_i16 => visit_i16, i16, "an integer from -32768 to 32767";
        deserialize_i32 => visit_i32, i32, "a 32-bit integer";
        deserialize_i64 => visit_i64, i64, "a 64-bit integer";
        deserialize_u8 => visit_u8, u8, "an integer from 0 to 255";
        deserialize_u16 => visit_u16, u16, "an integer from 0 to 65535";
        deserialize_u32 => visit_u32, u32, "a non-negative 32-bit integer";
        deserialize_u64 => visit_u64, u64, "a non-negative integer";
        deserialize_f32 => visit_f32, f32, "a number";
        deserialize_f64 => visit_f64, f64, "a number";
        deserialize_char => visit_char, char, "one character";
    }

    serde::forward_to_deserialize_any! {
        i128 u128 str string bytes byte_buf unit unit_struct seq tuple tuple_struct
        map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Q {
        limit: Option<usize>,
        after: Option<u64>,
        tag: Option<String>,
        on: Option<bool>,
    }

    fn field(query: &str) -> (Option<String>, String) {
        match parse_query::<Q>(query) {
            Err(ApiError::BadParam { field, message, .. }) => (Some(field), message),
            Err(e) => (None, e.to_string()),
            Ok(q) => panic!("{query} decoded as {q:?}"),
        }
    }

    #[test]
    fn good_queries_decode_like_actix_would() {
        let q: Q = parse_query("limit=5&tag=a%20b&after=7&on=true").expect("decodes");
        assert_eq!(
            q,
            Q {
                limit: Some(5),
                after: Some(7),
                tag: Some("a b".into()),
                on: Some(true)
            }
        );
        let q: Q = parse_query("").expect("empty");
        assert_eq!(q.limit, None);
    }

    #[test]
    fn every_refusal_names_its_parameter() {
        for (query, want) in [
            ("limit=-1", "limit"),
            ("limit=ten", "limit"),
            ("after=1.5", "after"),
            ("on=maybe", "on"),
            ("tag=a&tag=b", "tag"),
            ("colour=red", "colour"),
            ("limit=99999999999999999999999", "limit"),
        ] {
            let (field, message) = field(query);
            assert_eq!(field.as_deref(), Some(want), "{query}: {message}");
            assert!(message.contains(want), "{query}: {message}");
        }
    }
}
