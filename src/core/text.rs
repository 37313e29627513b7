//! Text that baton cuts or compares itself: the one place a string is cut
//! to a byte limit, and the nearest-name suggestion of "did you mean".
//!
//! Every text limit baton enforces counts **UTF-8 bytes** (what storage and
//! the wire pay for) and its message says "bytes". Whatever baton derives or
//! shortens itself — a title taken from a description, an error or reason
//! kept to `max_error_len`, a header quoted in a refusal — is cut by
//! [`truncate_to_bytes`], which lands on a `char` boundary: the result is
//! valid UTF-8, at most the limit, and a prefix of the input. A cut may
//! split a grapheme cluster (an emoji with a skin-tone modifier, a letter
//! and its combining accent); it never splits a `char`.

/// The longest prefix of `s` that is at most `max` bytes and ends on a
/// `char` boundary (`s` itself when it fits).
pub fn truncate_to_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    // a char is at most 4 bytes: at most 3 steps back
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The marker [`clip`] appends to a string it cut.
pub const ELLIPSIS: char = '…';

/// `s` cut to at most `max` bytes, with [`ELLIPSIS`] at the end when it was
/// cut (the marker counts towards `max`; below its 3 bytes the cut has no
/// marker). Without the marker, the result is a prefix of `s`.
pub fn clip(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let marker = ELLIPSIS.len_utf8();
    if max < marker {
        return truncate_to_bytes(&s, max).to_owned();
    }
    let mut out = truncate_to_bytes(&s, max - marker).to_owned();
    out.push(ELLIPSIS);
    out
}

/// The candidate nearest to `name` by edit distance (Levenshtein; ties go
/// to the earlier candidate), for "did you mean" hints. `None` only when
/// there are no candidates.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Text of every kind baton is sent: ASCII, CJK, emoji (4-byte, with
    /// modifiers and joiners), combining marks, newlines and anything else.
    pub(crate) fn unicode_text(max_chars: usize) -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            proptest::char::range('a', 'z').prop_map(String::from),
            proptest::char::range('\u{4e00}', '\u{9fff}').prop_map(String::from),
            proptest::char::range('\u{1f300}', '\u{1faff}').prop_map(String::from),
            Just("\u{1f44d}\u{1f3fd}".to_owned()),
            Just("\u{1f469}\u{200d}\u{1f4bb}".to_owned()),
            proptest::char::range('\u{0300}', '\u{036f}').prop_map(String::from),
            Just("e\u{0301}".to_owned()),
            Just("\n".to_owned()),
            Just(" ".to_owned()),
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..max_chars).prop_map(|v| v.concat())
    }

    #[test]
    fn a_cut_backs_off_to_the_char_boundary() {
        let s = "任务"; // 3 bytes each
        assert_eq!(truncate_to_bytes(s, 6), "任务");
        assert_eq!(truncate_to_bytes(s, 5), "任");
        assert_eq!(truncate_to_bytes(s, 3), "任");
        assert_eq!(truncate_to_bytes(s, 2), "");
        assert_eq!(clip("任务任务".to_owned(), 9), "任务…");
        assert_eq!(clip("任务".to_owned(), 2), "");
    }

    #[test]
    fn the_nearest_name_is_the_closest_by_edits() {
        let known = ["task_id", "lease_id", "output"];
        assert_eq!(nearest("result", known), Some("output"));
        assert_eq!(nearest("tag", ["worker", "tags"]), Some("tags"));
        assert_eq!(
            nearest("state", ["status", "tag", "worker", "cursor", "limit"]),
            Some("status")
        );
        assert_eq!(nearest("x", []), None);
    }

    proptest! {
        #[test]
        fn a_cut_is_valid_within_the_limit_and_a_prefix(s in unicode_text(200), max in 0usize..900) {
            let cut = truncate_to_bytes(&s, max);
            prop_assert!(cut.len() <= max);
            prop_assert!(s.starts_with(cut));
            // the longest such prefix: one more char would not fit
            if cut.len() < s.len() {
                let next = s[cut.len()..].chars().next().map_or(0, char::len_utf8);
                prop_assert!(cut.len() + next > max);
            }
            let clipped = clip(s.clone(), max);
            prop_assert!(clipped.len() <= max);
            let kept = clipped.strip_suffix(ELLIPSIS).filter(|_| s.len() > max).unwrap_or(&clipped);
            prop_assert!(s.starts_with(kept));
        }
    }
}
