//! Gateway tool names, pure: a downstream server's tool appears to baton's
//! MCP clients as `<server>__<tool>`, and its prompt as `<server>__<prompt>`
//! (named by the same rules, in a [`NameTable`] of its own, so a prompt and
//! a tool may share a name).
//!
//! Every name is valid for MCP clients that restrict tool names (Claude's API
//! among them): only `[A-Za-z0-9_-]`, 1 to [`MAX_NAME_LEN`] characters.
//!
//! - `server__tool` is used as is when it is already valid.
//! - Otherwise invalid characters become `_`, the result is cut to fit, and a
//!   suffix `_` + 10 hex digits of a stable hash ([`fnv1a64`] of the original
//!   server and tool names) is appended. The hash makes a sanitised name
//!   independent of which other tools exist, so it does not change when a
//!   server adds a tool; `std::hash` is not used because it is not stable
//!   across Rust releases.
//! - Two tools that still end up with the same name (server `a` with tool
//!   `b__c`, and server `a__b` with tool `c`, are both `a__b__c`) are told
//!   apart deterministically in [`NameTable::build`]: the clean name goes to
//!   the first pair in (server, tool) order, the others get a salted hash
//!   suffix.
//!
//! Names are never parsed back: the [`NameTable`] maps each name to its
//! (server, tool) pair.

use std::collections::{BTreeMap, BTreeSet};

/// Longest gateway name.
pub const MAX_NAME_LEN: usize = 64;

/// Between the server name and the tool name.
pub const SEPARATOR: &str = "__";

/// Length of the hash suffix: `_` and 10 hex digits.
const SUFFIX_LEN: usize = 11;

/// FNV-1a, 64 bit: a small hash whose output never changes.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether `name` can be used as a tool name: `[A-Za-z0-9_-]{1,64}`.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.chars().all(valid_char)
}

/// Replace every character outside `[A-Za-z0-9_-]` by `_`.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if valid_char(c) { c } else { '_' })
        .collect()
}

/// The name a tool gets when nothing collides with it.
pub fn candidate(server: &str, tool: &str) -> String {
    let plain = format!("{server}{SEPARATOR}{tool}");
    if is_valid(&plain) {
        plain
    } else {
        hashed(server, tool, 0)
    }
}

/// Sanitised `server__tool`, cut to fit, with a hash suffix of the original
/// names and `salt`.
fn hashed(server: &str, tool: &str, salt: u32) -> String {
    let mut input = Vec::with_capacity(server.len() + tool.len() + 5);
    input.extend_from_slice(server.as_bytes());
    input.push(0xff); // never part of UTF-8: keeps ("ab","c") apart from ("a","bc")
    input.extend_from_slice(tool.as_bytes());
    if salt > 0 {
        input.extend_from_slice(&salt.to_le_bytes());
    }
    let hash = fnv1a64(&input) >> 24; // 40 bits, 10 hex digits
    let mut base = sanitize(&format!("{server}{SEPARATOR}{tool}"));
    base.truncate(MAX_NAME_LEN - SUFFIX_LEN); // ASCII after sanitize: any byte index is a boundary
    format!("{base}_{hash:010x}")
}

/// The gateway names of a set of (server, tool) pairs, both ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    by_name: BTreeMap<String, (String, String)>,
    by_pair: BTreeMap<(String, String), String>,
}

impl NameTable {
    /// Name every distinct pair. The result depends only on the set of
    /// pairs, not on their order; names are distinct and valid.
    pub fn build<I, S, T>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (S, T)>,
        S: Into<String>,
        T: Into<String>,
    {
        let pairs: BTreeSet<(String, String)> = pairs
            .into_iter()
            .map(|(s, t)| (s.into(), t.into()))
            .collect();
        // group by preferred name; in each group a clean name wins, then (server, tool) order
        let mut groups: BTreeMap<String, Vec<&(String, String)>> = BTreeMap::new();
        for pair in &pairs {
            groups
                .entry(candidate(&pair.0, &pair.1))
                .or_default()
                .push(pair);
        }
        let mut table = NameTable::default();
        let mut losers = Vec::new();
        for (name, mut members) in groups {
            let clean = |p: &(String, String)| name == format!("{}{SEPARATOR}{}", p.0, p.1);
            let winner = members.iter().position(|p| clean(p)).unwrap_or(0);
            let pair = members.remove(winner);
            table.insert(name, pair);
            losers.extend(members);
        }
        losers.sort();
        for pair in losers {
            let free = (1u32..).find_map(|salt| {
                let n = hashed(&pair.0, &pair.1, salt);
                (!table.by_name.contains_key(&n)).then_some(n)
            });
            if let Some(name) = free {
                table.insert(name, pair);
            }
        }
        table
    }

    fn insert(&mut self, name: String, pair: &(String, String)) {
        self.by_pair.insert(pair.clone(), name.clone());
        self.by_name.insert(name, pair.clone());
    }

    /// The (server, tool) a gateway name stands for.
    pub fn resolve(&self, name: &str) -> Option<(&str, &str)> {
        self.by_name
            .get(name)
            .map(|(s, t)| (s.as_str(), t.as_str()))
    }

    /// The gateway name of a (server, tool) pair.
    pub fn name_of(&self, server: &str, tool: &str) -> Option<&str> {
        self.by_pair
            .get(&(server.to_owned(), tool.to_owned()))
            .map(String::as_str)
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// No names.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// `(gateway name, server, tool)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.by_name
            .iter()
            .map(|(n, (s, t))| (n.as_str(), s.as_str(), t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn clean_names_are_kept_and_others_sanitised_with_a_stable_suffix() {
        assert_eq!(candidate("fs", "read_file"), "fs__read_file");
        let n = candidate("fs", "read.file");
        assert!(n.starts_with("fs__read_file_"), "{n}");
        assert_eq!(n.len(), "fs__read_file_".len() + 10);
        assert_eq!(n, candidate("fs", "read.file"));
        let long = candidate("server", &"x".repeat(100));
        assert_eq!(long.len(), MAX_NAME_LEN);
        assert!(is_valid(&long));
        assert_ne!(long, candidate("server", &"x".repeat(101)));
        assert!(is_valid(&candidate("ü", "")));
    }

    #[test]
    fn collisions_are_resolved_deterministically() {
        let t = NameTable::build([("a", "b__c"), ("a__b", "c"), ("a", "b.c"), ("a", "b_c")]);
        assert_eq!(t.len(), 4);
        assert_eq!(t.name_of("a", "b__c"), Some("a__b__c"));
        assert_eq!(t.resolve("a__b__c"), Some(("a", "b__c")));
        let other = t.name_of("a__b", "c").unwrap();
        assert!(other.starts_with("a__b__c_") && is_valid(other), "{other}");
        assert_eq!(t.name_of("a", "b_c"), Some("a__b_c"));
        assert_ne!(t.name_of("a", "b.c"), Some("a__b_c"));
        let again = NameTable::build([("a", "b_c"), ("a", "b.c"), ("a__b", "c"), ("a", "b__c")]);
        assert_eq!(t, again);
    }

    fn names() -> impl Strategy<Value = String> {
        prop_oneof!["[a-c_]{0,6}", "[a-z._ -]{0,8}", ".{0,80}", "[a-z]{55,70}",]
    }

    proptest! {
        /// Every name is valid and at most 64 characters, whatever the input.
        #[test]
        fn candidates_are_always_valid(server in names(), tool in names()) {
            let n = candidate(&server, &tool);
            prop_assert!(is_valid(&n), "{n:?}");
            prop_assert_eq!(n, candidate(&server, &tool));
        }

        /// Within one table: distinct pairs get distinct valid names, each
        /// resolves back to its pair, and the order of the input does not matter.
        #[test]
        fn tables_are_injective_and_order_independent(
            pairs in prop::collection::vec((names(), names()), 0..40),
        ) {
            let table = NameTable::build(pairs.clone());
            let distinct: BTreeSet<_> = pairs.iter().cloned().collect();
            prop_assert_eq!(table.len(), distinct.len());
            for (s, t) in &distinct {
                let n = table.name_of(s, t).expect("named");
                prop_assert!(is_valid(n), "{n:?}");
                prop_assert_eq!(table.resolve(n), Some((s.as_str(), t.as_str())));
            }
            let mut reversed = pairs;
            reversed.reverse();
            prop_assert_eq!(NameTable::build(reversed), table);
        }
    }
}
