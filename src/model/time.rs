//! Time on the board: [`Millis`] (milliseconds since the Unix epoch, the
//! unit of every timestamp the cores compare) and the wall clock's reading of
//! it. How a timestamp looks on the wire is [`rfc3339`](super::rfc3339)'s.

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// Current wall-clock time in milliseconds.
pub fn now_ms() -> Millis {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}
