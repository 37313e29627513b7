//! Patterns and paths: normalization, compilation to `globset` matchers,
//! and the conservative overlap decision between two patterns.
//!
//! **Normal form.** Patterns and paths are repository-relative: `\` is read
//! as a separator (so it is not an escape; escape a metacharacter with a
//! class, `[*]`), empty and `.` segments are dropped (`./src//a` is
//! `src/a`), and a pattern ending in `/` means everything under it
//! (`src/api/` is `src/api/**`). Refused, with a message the caller puts
//! under the field's name: an empty text, an absolute one (`/etc`, `C:/x`),
//! a `..` segment (also one an alternation `{..,a}` would produce), control
//! characters, more than [`MAX_PATTERN_BYTES`] bytes. Matching is
//! case-sensitive.
//!
//! **Syntax.** A pattern is a [`globset`] glob with `*` and `?` never
//! matching `/` (`literal_separator`), `**` as a whole segment matching any
//! number of segments, `{a,b}` alternation (not nested), and `[...]`
//! classes (which never match `/`, and may not contain one). These are
//! globset globs, **not** gitignore rules: no negation with `!`, no
//! anchoring rules, `src` does not match `src/a.rs` (write `src/**`).
//!
//! **Overlap, conservatively.** Two patterns overlap when some path could
//! match both. The decision never says "no" when such a path exists (a
//! property test checks it against enumeration over a finite tree of
//! paths, matching with globset itself); it may say "yes" when none does
//! (`a/**` and `a`). How:
//!
//! 1. each pattern's alternations are expanded (at most
//!    [`MAX_ALTERNATIVES`] alternatives, else it is refused), giving
//!    brace-free alternatives; two patterns overlap when any pair of their
//!    alternatives does;
//! 2. an alternative is a sequence of segments, each either `**` (any
//!    number of segments, also none) or one segment's glob;
//! 3. two sequences overlap when a walk over both can end together (the
//!    usual two-pointer recursion, memoized): `**` may match nothing (skip
//!    it) or swallow the other side's next segment; two segment globs must
//!    be able to match one common segment name;
//! 4. two segment globs: both literal, equal; one literal, the other's
//!    glob matches it (globset); both with metacharacters, their literal
//!    prefixes (up to the first metacharacter) must be compatible (one a
//!    prefix of the other) and their literal suffixes (after the last)
//!    likewise. Any common name would start with both prefixes and end
//!    with both suffixes, so this never misses a real overlap.

use std::collections::HashMap;

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

/// Longest pattern or path, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// Most alternatives a pattern's `{a,b}` groups may expand to.
pub const MAX_ALTERNATIVES: usize = 64;

fn normalize(raw: &str, pattern: bool) -> Result<String, String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if raw.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "must be at most {MAX_PATTERN_BYTES} bytes; this one is {} bytes",
            raw.len()
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let text = raw.replace('\\', "/");
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if text.starts_with('/') || drive || text.starts_with('~') {
        return Err(format!(
            "'{raw}' is absolute; give it relative to the repository's top level (e.g. src/api/**)"
        ));
    }
    let mut segs: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                return Err(format!(
                "'{raw}' contains a '..' segment; give it relative to the repository's top level"
            ))
            }
            s => segs.push(s),
        }
    }
    if pattern && text.ends_with('/') && !segs.is_empty() {
        segs.push("**");
    }
    // `**/**` is `**`
    segs.dedup_by(|a, b| *a == "**" && *b == "**");
    if segs.is_empty() {
        return Err(format!("'{raw}' names no path"));
    }
    Ok(segs.join("/"))
}

/// A pattern in normal form (see the module docs), checked to compile and
/// to expand within bounds. `Err` is the message to put under the field.
pub fn normalize_pattern(raw: &str) -> Result<String, String> {
    let norm = normalize(raw, true)?;
    PatternSet::compile(std::slice::from_ref(&norm))
        .map_err(|(_, m)| m)
        .map(|_| norm)
}

/// A path in normal form: a repository-relative file name, matched
/// literally against patterns. `Err` is the message for the field.
pub fn normalize_path(raw: &str) -> Result<String, String> {
    normalize(raw, false)
}

fn glob(text: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(text)
        .literal_separator(true)
        .backslash_escape(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("is not a valid glob: {e}"))
}

/// One segment of an alternative.
#[derive(Debug, Clone)]
enum Seg {
    /// `**`: any number of segments.
    Any,
    /// One segment's glob.
    One(SegGlob),
}

#[derive(Debug, Clone)]
struct SegGlob {
    text: String,
    literal: bool,
    prefix: String,
    suffix: String,
    /// `None` for a literal, or if globset refused the segment alone
    /// (then it is taken to match anything: conservative).
    matcher: Option<GlobMatcher>,
}

impl SegGlob {
    fn new(text: &str) -> Result<Self, String> {
        let (literal, prefix, suffix) = literal_edges(text)?;
        let matcher = if literal { None } else { glob(text).ok() };
        Ok(Self {
            text: text.to_owned(),
            literal,
            prefix,
            suffix,
            matcher,
        })
    }

    fn matches(&self, name: &str) -> bool {
        match (&self.matcher, self.literal) {
            (_, true) => self.text == name,
            (Some(m), false) => m.is_match(name),
            (None, false) => true,
        }
    }
}

/// Whether `seg` has no metacharacter, its literal prefix (before the
/// first metacharacter) and its literal suffix (after the last one, a
/// class counting as one). Refuses a `/` inside a class.
fn literal_edges(seg: &str) -> Result<(bool, String, String), String> {
    let chars: Vec<char> = seg.chars().collect();
    let mut first_meta: Option<usize> = None;
    let mut after_last_meta = 0usize;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' | '?' => {
                first_meta.get_or_insert(i);
                after_last_meta = i + 1;
                i += 1;
            }
            '[' => {
                first_meta.get_or_insert(i);
                let end = class_end(&chars, i)?;
                after_last_meta = end + 1;
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    Ok(match first_meta {
        None => (true, seg.to_owned(), seg.to_owned()),
        Some(f) => (
            false,
            chars[..f].iter().collect(),
            chars[after_last_meta..].iter().collect(),
        ),
    })
}

/// Index of the `]` closing the class that opens at `start`.
fn class_end(chars: &[char], start: usize) -> Result<usize, String> {
    let mut i = start + 1;
    if matches!(chars.get(i), Some('!' | '^')) {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1; // a leading `]` is a literal member
    }
    while i < chars.len() {
        match chars[i] {
            ']' => return Ok(i),
            '/' => return Err("a character class may not contain '/'".into()),
            '[' if chars.get(i + 1) == Some(&':') => {
                // `[:alpha:]` inside a class
                let close = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == ':' && chars[j + 1] == ']');
                i = close.map_or(i + 1, |j| j + 2);
            }
            _ => i += 1,
        }
    }
    Err("has a character class that is not closed".into())
}

/// Expand the top-level `{a,b}` groups of `text` (not nested; braces and
/// commas inside a class are literal).
fn expand(text: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    // parts: literal pieces and alternation groups, in order
    let mut parts: Vec<Vec<String>> = Vec::new();
    let mut lit = String::new();
    let mut group: Option<Vec<String>> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '[' => {
                let end = class_end(&chars, i)?;
                let cls: String = chars[i..=end].iter().collect();
                match &mut group {
                    Some(g) => {
                        if let Some(s) = g.last_mut() {
                            s.push_str(&cls);
                        }
                    }
                    None => lit.push_str(&cls),
                }
                i = end + 1;
                continue;
            }
            '{' if group.is_some() => {
                return Err("nested {...} groups are not supported in reservations".into())
            }
            '{' => {
                parts.push(vec![std::mem::take(&mut lit)]);
                group = Some(vec![String::new()]);
            }
            ',' if group.is_some() => {
                if let Some(g) = &mut group {
                    g.push(String::new());
                }
            }
            '}' => match group.take() {
                Some(g) => parts.push(g),
                None => return Err("has a '}' without its '{'".into()),
            },
            c => match &mut group {
                Some(g) => {
                    if let Some(s) = g.last_mut() {
                        s.push(c);
                    }
                }
                None => lit.push(c),
            },
        }
        i += 1;
    }
    if group.is_some() {
        return Err("has a '{' without its '}'".into());
    }
    parts.push(vec![lit]);
    let mut out = vec![String::new()];
    for options in parts {
        if out.len().saturating_mul(options.len()) > MAX_ALTERNATIVES {
            return Err(format!(
                "expands to more than {MAX_ALTERNATIVES} alternatives; reserve fewer at once"
            ));
        }
        out = out
            .iter()
            .flat_map(|o| options.iter().map(move |p| format!("{o}{p}")))
            .collect();
    }
    Ok(out)
}

fn segments(alt: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    for s in alt.split('/') {
        match s {
            "" | "." => {}
            ".." => return Err("contains a '..' segment (after expanding {...})".into()),
            "**" => {
                if !matches!(out.last(), Some(Seg::Any)) {
                    out.push(Seg::Any);
                }
            }
            s => out.push(Seg::One(SegGlob::new(s)?)),
        }
    }
    Ok(out)
}

/// Normalized patterns compiled twice: a [`GlobSet`] that matches paths,
/// and the segment form the overlap decision walks.
#[derive(Debug, Clone)]
pub struct PatternSet {
    patterns: Vec<String>,
    set: GlobSet,
    /// Per pattern, its brace-free alternatives as segments.
    alternatives: Vec<Vec<Vec<Seg>>>,
}

impl PatternSet {
    /// Compile normalized `patterns`. `Err((index, message))` names the
    /// pattern globset or the expansion refused.
    pub fn compile(patterns: &[String]) -> Result<Self, (usize, String)> {
        let mut builder = GlobSetBuilder::new();
        let mut alternatives = Vec::with_capacity(patterns.len());
        for (i, p) in patterns.iter().enumerate() {
            let g = GlobBuilder::new(p)
                .literal_separator(true)
                .backslash_escape(false)
                .build()
                .map_err(|e| (i, format!("is not a valid glob: {e}")))?;
            builder.add(g);
            let alts = expand(p)
                .and_then(|alts| alts.iter().map(|a| segments(a)).collect())
                .map_err(|m| (i, m))?;
            alternatives.push(alts);
        }
        let set = builder
            .build()
            .map_err(|e| (0, format!("is not a valid glob: {e}")))?;
        Ok(Self {
            patterns: patterns.to_vec(),
            set,
            alternatives,
        })
    }

    /// The normalized patterns, in order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a normalized `path` matches any pattern.
    pub fn matches(&self, path: &str) -> bool {
        self.set.is_match(path)
    }

    /// The patterns a normalized `path` matches.
    pub fn matching(&self, path: &str) -> Vec<&str> {
        self.set
            .matches(path)
            .into_iter()
            .filter_map(|i| self.patterns.get(i).map(String::as_str))
            .collect()
    }

    /// Whether some path could match a pattern of `self` and one of
    /// `other` (conservative: see the module docs). Returns the first such
    /// pair.
    pub fn overlap<'a>(&'a self, other: &'a PatternSet) -> Option<(&'a str, &'a str)> {
        for (i, a) in self.alternatives.iter().enumerate() {
            for (j, b) in other.alternatives.iter().enumerate() {
                let hit = a.iter().any(|x| b.iter().any(|y| sequences_overlap(x, y)));
                if hit {
                    return Some((&self.patterns[i], &other.patterns[j]));
                }
            }
        }
        None
    }
}

/// Whether two segment sequences can match one common path (see step 3).
fn sequences_overlap(a: &[Seg], b: &[Seg]) -> bool {
    fn go(
        a: &[Seg],
        b: &[Seg],
        i: usize,
        j: usize,
        memo: &mut HashMap<(usize, usize), bool>,
    ) -> bool {
        if let Some(&v) = memo.get(&(i, j)) {
            return v;
        }
        let v = match (a.get(i), b.get(j)) {
            (None, None) => true,
            (Some(Seg::Any), _) => {
                go(a, b, i + 1, j, memo) || (j < b.len() && go(a, b, i, j + 1, memo))
            }
            (_, Some(Seg::Any)) => {
                go(a, b, i, j + 1, memo) || (i < a.len() && go(a, b, i + 1, j, memo))
            }
            (Some(Seg::One(x)), Some(Seg::One(y))) => {
                segments_overlap(x, y) && go(a, b, i + 1, j + 1, memo)
            }
            _ => false,
        };
        memo.insert((i, j), v);
        v
    }
    go(a, b, 0, 0, &mut HashMap::new())
}

/// Whether two segment globs can match one common name (see step 4).
fn segments_overlap(a: &SegGlob, b: &SegGlob) -> bool {
    match (a.literal, b.literal) {
        (true, true) => a.text == b.text,
        (true, false) => b.matches(&a.text),
        (false, true) => a.matches(&b.text),
        (false, false) => {
            let pre = a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix);
            let suf = a.suffix.ends_with(&b.suffix) || b.suffix.ends_with(&a.suffix);
            pre && suf
        }
    }
}
