//! Serde helpers rendering [`Millis`] as RFC 3339 strings (UTC, millisecond
//! precision): `#[serde(with = "rfc3339")]` on a `Millis` field,
//! `#[serde(with = "rfc3339::option")]` on an `Option<Millis>`. Also
//! [`format()`] and [`parse()`] for edges that show or read a time.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

use super::time::Millis;

/// Format milliseconds as an RFC 3339 UTC timestamp with millisecond precision.
pub fn format(ms: Millis) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse an RFC 3339 timestamp into milliseconds.
pub fn parse(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|d| u64::try_from(d.timestamp_millis()).ok())
}

pub(crate) fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*ms))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp"))
}

/// The same for `Option<Millis>`.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::super::time::Millis;

    pub(crate) fn serialize<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&super::format(*ms)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => super::parse(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::rfc3339;

    #[test]
    fn rfc3339_round_trips() {
        let ms = 1_700_000_000_123;
        assert_eq!(rfc3339::parse(&rfc3339::format(ms)), Some(ms));
    }
}
