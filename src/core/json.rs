//! The one JSON decoding path of every edge (REST bodies, the
//! agent-coordinate-mcp routes, MCP over HTTP and stdio): **a JSON object
//! that repeats a key is refused**, at any depth, naming the key and where
//! it is.
//!
//! RFC 8259 leaves the meaning of a repeated key to the parser; serde_json
//! keeps the last one (`{"tasks": [t1], "tasks": [t2]}` read as `[t2]`, `t1`
//! dropped without a word), while serde's derived structs refuse it — so the
//! same input meant different things on different routes. [`check_unique_keys`]
//! walks the text once with a serde [`Visitor`] that builds nothing (it keeps
//! only the keys of the objects it is inside), before the text is decoded
//! for real: by [`from_slice`] here, or by rmcp for MCP messages (which parses
//! a message into a `serde_json::Value`, last key wins, before any tool sees
//! it — so `mcp::front` and `mcp::stdio` check the raw text first).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};

/// A key an object of the text repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The repeated key.
    pub key: String,
    /// Where the object holding it is, as `a.b[2].c` (empty: the top level).
    pub at: String,
}

impl DuplicateKey {
    /// The repeated key's own path (`tasks[0].id`), for an error's `field`.
    pub fn field(&self) -> String {
        if self.at.is_empty() {
            self.key.clone()
        } else {
            format!("{}.{}", self.at, self.key)
        }
    }
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "duplicate key `{}`", self.key)?;
        if !self.at.is_empty() {
            write!(f, " in `{}`", self.at)?;
        }
        f.write_str(
            ": a JSON object must not repeat a key (which one counts is undefined); send it once",
        )
    }
}

/// Why a JSON text was refused.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// An object repeats a key.
    #[error("{0}")]
    DuplicateKey(DuplicateKey),
    /// Not JSON, or JSON that does not fit the expected type (serde_json's
    /// own error: [`serde_json::Error::classify`] tells which).
    #[error("{0}")]
    Serde(#[from] serde_json::Error),
}

/// Refuse a text in which any object repeats a key. Anything else serde_json
/// would not read (a syntax error, trailing characters) is its error, as
/// [`JsonError::Serde`]; nesting is bounded by serde_json's recursion limit.
pub fn check_unique_keys(text: &[u8]) -> Result<(), JsonError> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(text);
    let walked = Walk { found: &found }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match (walked, found.into_inner()) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(f)) => Err(JsonError::DuplicateKey(f.into_duplicate())),
        (Err(e), None) => Err(JsonError::Serde(e)),
    }
}

/// Decode `text` as `T`, refusing repeated keys first ([`check_unique_keys`]).
pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Result<T, JsonError> {
    check_unique_keys(text)?;
    Ok(serde_json::from_slice(text)?)
}

/// One step of the path to a repeated key.
enum Step {
    Key(String),
    Index(usize),
}

/// A repeated key, with the path to it collected innermost first as the
/// error unwinds (so nothing is kept while all is well).
struct Found {
    key: String,
    path: Vec<Step>,
}

impl Found {
    fn into_duplicate(self) -> DuplicateKey {
        let mut at = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Key(k) if at.is_empty() => at.push_str(k),
                Step::Key(k) => {
                    at.push('.');
                    at.push_str(k);
                }
                Step::Index(i) => at.push_str(&format!("[{i}]")),
            }
        }
        DuplicateKey { key: self.key, at }
    }
}

/// The checking visitor: reads any value, keeps nothing but the keys of
/// the objects it is inside.
#[derive(Clone, Copy)]
struct Walk<'a> {
    found: &'a RefCell<Option<Found>>,
}

impl Walk<'_> {
    /// An error from below passes through this step: record the step on the
    /// way out (only for a repeated key; a syntax error has no path).
    fn through(self, step: impl FnOnce() -> Step) {
        if let Some(f) = self.found.borrow_mut().as_mut() {
            f.path.push(step());
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(())) => i += 1,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.through(|| Step::Index(i));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = Keys::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // a borrowed key (no escapes) clones for free
            if !keys.insert(key.clone()) {
                let message = format!("duplicate key `{key}`");
                *self.found.borrow_mut() = Some(Found {
                    key: key.into_owned(),
                    path: Vec::new(),
                });
                return Err(de::Error::custom(message));
            }
            if let Err(e) = map.next_value_seed(self) {
                self.through(|| Step::Key(key.into_owned()));
                return Err(e);
            }
        }
        Ok(())
    }
}

/// The keys of one object seen so far: a short list, a set past
/// [`Keys::LINEAR`] keys (most objects have a handful).
#[derive(Default)]
struct Keys<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> Keys<'de> {
    const LINEAR: usize = 16;

    /// Add `key`; false when it was there already.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&key) {
                return false;
            }
            self.few.push(key);
            if self.few.len() > Self::LINEAR {
                self.many.extend(self.few.drain(..));
            }
            return true;
        }
        self.many.insert(key)
    }
}

/// Reads an object key, borrowed from the text when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn dup(text: &str) -> Option<DuplicateKey> {
        match check_unique_keys(text.as_bytes()) {
            Err(JsonError::DuplicateKey(d)) => Some(d),
            _ => None,
        }
    }

    #[test]
    fn a_repeated_key_is_named_with_its_path() {
        let d = dup(r#"{"tasks": [{"id": "t1"}], "tasks": []}"#).expect("refused");
        assert_eq!((d.key.as_str(), d.at.as_str()), ("tasks", ""));
        let d = dup(r#"{"tasks": [{"id": "a"}, {"id": "a1", "x": {"y": 1}, "id": "b1"}]}"#)
            .expect("refused");
        assert_eq!(d.field(), "tasks[1].id");
        let d = dup(r#"{"p": {"arguments": {"k\u0065y": 1, "key": 2}}}"#).expect("escaped");
        assert_eq!(d.field(), "p.arguments.key");
        assert!(
            d.to_string()
                .contains("duplicate key `key` in `p.arguments`"),
            "{d}"
        );
    }

    #[test]
    fn the_same_key_in_different_objects_and_syntax_errors_are_not_duplicates() {
        assert!(check_unique_keys(br#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}"#).is_ok());
        assert!(matches!(
            check_unique_keys(br#"{"a": 1"#),
            Err(JsonError::Serde(_))
        ));
        assert!(matches!(
            check_unique_keys(br#"{"a": 1} x"#),
            Err(JsonError::Serde(_))
        ));
        // many keys: the set takes over from the list
        let many: String = (0..40).map(|i| format!("\"k{i}\": {i},")).collect();
        assert!(check_unique_keys(format!("{{{many} \"z\": 0}}").as_bytes()).is_ok());
        assert_eq!(
            dup(&format!("{{{many} \"k3\": 0}}")).map(|d| d.key),
            Some("k3".to_owned())
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z\u{4e00}-\u{4e10}\"\\\\]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c\u{4e00}]{1,2}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Paths of every object in `v`, with the object's keys.
    fn objects(v: &Value, at: &str, out: &mut Vec<(String, Vec<String>)>) {
        match v {
            Value::Object(m) => {
                out.push((at.to_owned(), m.keys().cloned().collect()));
                for (k, x) in m {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    objects(x, &p, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    objects(x, &format!("{at}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    /// The text of `v` with the first key of the object at `target` written twice.
    fn with_repeat(v: &Value, at: &str, target: &str, out: &mut String) {
        match v {
            Value::Object(m) => {
                out.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.push_str(&json!(k).to_string());
                    out.push(':');
                    with_repeat(x, &p, target, out);
                }
                if at == target {
                    if let Some((k, x)) = m.iter().next() {
                        out.push(',');
                        out.push_str(&json!(k).to_string());
                        out.push(':');
                        out.push_str(&x.to_string());
                    }
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    with_repeat(x, &format!("{at}[{i}]"), target, out);
                }
                out.push(']');
            }
            x => out.push_str(&x.to_string()),
        }
    }

    proptest! {
        /// Any JSON value serde_json writes passes; the same text with one
        /// key of any object repeated is refused, naming that key and object.
        #[test]
        fn every_repeated_key_at_any_depth_is_refused(v in json_value(), pick in any::<prop::sample::Index>()) {
            let text = serde_json::to_vec(&v).expect("json");
            prop_assert!(check_unique_keys(&text).is_ok());
            prop_assert_eq!(from_slice::<Value>(&text).ok(), Some(v.clone()));
            let mut objs = Vec::new();
            objects(&v, "", &mut objs);
            objs.retain(|(_, keys)| !keys.is_empty());
            if !objs.is_empty() {
                let (target, keys) = pick.get(&objs).clone();
                let mut out = String::new();
                with_repeat(&v, "", &target, &mut out);
                match check_unique_keys(out.as_bytes()) {
                    Err(JsonError::DuplicateKey(d)) => {
                        prop_assert_eq!(&d.key, &keys[0]);
                        prop_assert_eq!(&d.at, &target);
                    }
                    other => prop_assert!(false, "{out}: {other:?}"),
                }
            }
        }
    }
}
