//! Gateway tool names, pure: a downstream server's tool appears to baton's
//! MCP clients as `<server>__<tool>`, and its prompt as `<server>__<prompt>`
//! (named by the same rules, in a [`NameBook`] of its own, so a prompt and
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
//!
//! **A name once handed out keeps its meaning** (ARCHITECTURE.md, invariant
//! 8). A [`NameBook`] remembers every name it handed out and the (server,
//! tool) pair it stands for, also while that tool or its server is away; its
//! owner keeps the book durably (the pool, through the store) and forgets a
//! server's names only when the server leaves the configuration
//! ([`NameBook::forget_servers`]). A newcomer whose preferred name is already
//! taken — by a name in the book, or by another newcomer that wins it — gets
//! a suffixed name instead: the hash of its own server and tool names with a
//! salt, the first salt whose name is free. Among newcomers that want the
//! same free name at once (server `a` with tool `b__c`, and server `a__b`
//! with tool `c`, are both `a__b__c`), the one for which it is the plain
//! `server__tool` wins, then the first in (server, tool) order. So the names
//! depend only on the book and on the set of newcomers, never on the order
//! in which they are given.
//!
//! Names are never parsed back: the book (and the [`NameTable`] of the names
//! in use, built from it) maps each name to its (server, tool) pair.

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

/// The gateway names of a set of (server, tool) pairs, both ways: the
/// names in use right now (a subset of a [`NameBook`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    by_name: BTreeMap<String, (String, String)>,
    by_pair: BTreeMap<(String, String), String>,
}

impl NameTable {
    /// Name every distinct pair of a fresh book (no names handed out
    /// before). The result depends only on the set of pairs, not on their
    /// order; names are distinct and valid.
    pub fn build<I, S, T>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (S, T)>,
        S: Into<String>,
        T: Into<String>,
    {
        let pairs = pair_set(pairs);
        let mut book = NameBook::default();
        let new = book.plan(pairs.iter().cloned());
        book.record(new);
        book.table(pairs)
    }

    fn insert(&mut self, name: String, pair: (String, String)) {
        self.by_pair.insert(pair.clone(), name.clone());
        self.by_name.insert(name, pair);
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

    /// Whether no gateway name has been handed out yet.
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

fn pair_set<I, S, T>(pairs: I) -> BTreeSet<(String, String)>
where
    I: IntoIterator<Item = (S, T)>,
    S: Into<String>,
    T: Into<String>,
{
    pairs
        .into_iter()
        .map(|(s, t)| (s.into(), t.into()))
        .collect()
}

/// One name handed out: `name` stands for `server`'s `item` (a tool or a
/// prompt, by the server's own name for it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Named {
    /// The gateway name.
    pub name: String,
    /// The downstream server's configured name (the key in `mcpServers`).
    pub server: String,
    /// The server's own name for the tool (or prompt).
    pub item: String,
}

/// Every gateway name handed out and what it stands for, both ways (see the
/// module docs): one name per pair, one pair per name, kept while the pair's
/// tool is away, until its server leaves the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameBook {
    names: NameTable,
}

impl NameBook {
    /// The book of `records` (names kept from earlier, e.g. read from the
    /// store). A record whose name or pair an earlier record (in name order)
    /// already holds, or whose name is not a valid gateway name, is left out
    /// and returned second: its owner forgets it.
    pub fn restore(records: impl IntoIterator<Item = Named>) -> (Self, Vec<Named>) {
        let mut records: Vec<Named> = records.into_iter().collect();
        records.sort();
        let mut book = NameBook::default();
        let mut refused = Vec::new();
        for r in records {
            let pair = (r.server.clone(), r.item.clone());
            if !is_valid(&r.name)
                || book.names.by_name.contains_key(&r.name)
                || book.names.by_pair.contains_key(&pair)
            {
                refused.push(r);
            } else {
                book.names.insert(r.name, pair);
            }
        }
        (book, refused)
    }

    /// Names for the pairs of `pairs` the book has no name for yet (see the
    /// module docs for how a collision is settled), in name order; pairs it
    /// has a name for keep theirs. Nothing is recorded: hand the result to
    /// [`NameBook::record`] (after keeping it durably, if the book is kept).
    pub fn plan<I, S, T>(&self, pairs: I) -> Vec<Named>
    where
        I: IntoIterator<Item = (S, T)>,
        S: Into<String>,
        T: Into<String>,
    {
        let newcomers: BTreeSet<(String, String)> = pair_set(pairs)
            .into_iter()
            .filter(|p| !self.names.by_pair.contains_key(p))
            .collect();
        // group by preferred name; a free name goes to the clean member, then the first
        let mut groups: BTreeMap<String, Vec<&(String, String)>> = BTreeMap::new();
        for pair in &newcomers {
            groups
                .entry(candidate(&pair.0, &pair.1))
                .or_default()
                .push(pair);
        }
        let mut chosen: BTreeMap<String, &(String, String)> = BTreeMap::new();
        let mut losers = Vec::new();
        for (name, mut members) in groups {
            if self.names.by_name.contains_key(&name) {
                losers.extend(members);
                continue;
            }
            let clean = |p: &(String, String)| name == format!("{}{SEPARATOR}{}", p.0, p.1);
            let winner = members.iter().position(|p| clean(p)).unwrap_or(0);
            let pair = members.remove(winner);
            chosen.insert(name, pair);
            losers.extend(members);
        }
        losers.sort();
        for pair in losers {
            let free = (1u32..).find_map(|salt| {
                let n = hashed(&pair.0, &pair.1, salt);
                (!self.names.by_name.contains_key(&n) && !chosen.contains_key(&n)).then_some(n)
            });
            if let Some(name) = free {
                chosen.insert(name, pair);
            }
        }
        chosen
            .into_iter()
            .map(|(name, (server, item))| Named {
                name,
                server: server.clone(),
                item: item.clone(),
            })
            .collect()
    }

    /// Keep `names` (from [`NameBook::plan`] on this book). One whose name
    /// or pair the book already holds is skipped (a plan made against an
    /// older book).
    pub fn record(&mut self, names: impl IntoIterator<Item = Named>) {
        for n in names {
            let pair = (n.server, n.item);
            if !self.names.by_name.contains_key(&n.name) && !self.names.by_pair.contains_key(&pair)
            {
                self.names.insert(n.name, pair);
            }
        }
    }

    /// Forget the names of every server for which `keep` is false (it left
    /// the configuration); returns them, in name order.
    pub fn forget_servers(&mut self, keep: impl Fn(&str) -> bool) -> Vec<Named> {
        let gone: Vec<Named> = self.iter().filter(|n| !keep(&n.server)).collect();
        for n in &gone {
            self.names.by_name.remove(&n.name);
            self.names
                .by_pair
                .remove(&(n.server.clone(), n.item.clone()));
        }
        gone
    }

    /// The names in use: those of `pairs` that the book names (pairs it has
    /// no name for are left out).
    pub fn table<I, S, T>(&self, pairs: I) -> NameTable
    where
        I: IntoIterator<Item = (S, T)>,
        S: Into<String>,
        T: Into<String>,
    {
        let mut table = NameTable::default();
        for pair in pair_set(pairs) {
            if let Some(name) = self.names.by_pair.get(&pair) {
                table.insert(name.clone(), pair);
            }
        }
        table
    }

    /// The (server, item) a name stands for.
    pub fn resolve(&self, name: &str) -> Option<(&str, &str)> {
        self.names.resolve(name)
    }

    /// The name of a (server, item) pair.
    pub fn name_of(&self, server: &str, item: &str) -> Option<&str> {
        self.names.name_of(server, item)
    }

    /// Number of names handed out.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No name handed out.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every name handed out, in name order.
    pub fn iter(&self) -> impl Iterator<Item = Named> + '_ {
        self.names.iter().map(|(name, server, item)| Named {
            name: name.to_owned(),
            server: server.to_owned(),
            item: item.to_owned(),
        })
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

    fn named(name: &str, server: &str, item: &str) -> Named {
        Named {
            name: name.into(),
            server: server.into(),
            item: item.into(),
        }
    }

    /// Issue 23, item 2, in the pure core: `x__y__echo` was handed out for
    /// server `x__y`'s `echo`; server `x` adding `y__echo` does not take it
    /// (the newcomer gets a suffixed name), and neither does `x` dropping
    /// and re-adding its tool (a restart): both names stay as handed out.
    #[test]
    fn a_name_handed_out_is_not_taken_by_a_newcomer_that_wants_it() {
        let mut book = NameBook::default();
        let first = book.plan([("x", "echo"), ("x__y", "echo")]);
        book.record(first);
        assert_eq!(book.resolve("x__y__echo"), Some(("x__y", "echo")));
        let new = book.plan([("x", "echo"), ("x", "y__echo"), ("x__y", "echo")]);
        assert_eq!(new.len(), 1, "{new:?}");
        let suffixed = new[0].name.clone();
        assert!(
            suffixed.starts_with("x__y__echo_") && is_valid(&suffixed),
            "{suffixed}"
        );
        book.record(new);
        let table = book.table([("x", "echo"), ("x", "y__echo"), ("x__y", "echo")]);
        assert_eq!(table.resolve("x__y__echo"), Some(("x__y", "echo")));
        assert_eq!(table.resolve(&suffixed), Some(("x", "y__echo")));
        // x restarts without the tool, then adds it again: nothing moves
        let table = book.table([("x", "echo"), ("x__y", "echo")]);
        assert_eq!(table.resolve(&suffixed), None, "not offered while away");
        assert!(book.plan([("x", "echo"), ("x__y", "echo")]).is_empty());
        assert!(book.plan([("x", "y__echo")]).is_empty(), "remembered");
        assert_eq!(book.name_of("x", "y__echo"), Some(suffixed.as_str()));
    }

    /// A hashed name (a tool name too long to fit) is not taken by a tool
    /// named so that its plain name equals it: the kind of collision left
    /// when server names cannot contain `__` (see `pool::spec`).
    #[test]
    fn a_hashed_name_is_not_taken_by_a_tool_whose_plain_name_equals_it() {
        let long = "t".repeat(70);
        let hashed_name = candidate("a", &long);
        let mimic = hashed_name["a__".len()..].to_owned();
        assert_eq!(candidate("a", &mimic), hashed_name, "the two want one name");
        let mut book = NameBook::default();
        book.record(book.plan([("a", long.as_str())]));
        let new = book.plan([("a", long.as_str()), ("a", mimic.as_str())]);
        assert_eq!(new.len(), 1);
        assert_ne!(new[0].name, hashed_name);
        book.record(new);
        assert_eq!(book.resolve(&hashed_name), Some(("a", long.as_str())));
        // on a fresh book the plain name wins, as it always did
        let fresh = NameTable::build([("a", long.as_str()), ("a", mimic.as_str())]);
        assert_eq!(fresh.resolve(&hashed_name), Some(("a", mimic.as_str())));
    }

    #[test]
    fn a_restored_book_refuses_a_second_name_for_a_pair_or_a_pair_for_a_name() {
        let (book, refused) = NameBook::restore([
            named("a__t", "a", "t"),
            named("a__t_0000000001", "a", "t"),
            named("b__u", "b", "u"),
            named("not valid!", "c", "v"),
        ]);
        assert_eq!(book.len(), 2);
        assert_eq!(book.name_of("a", "t"), Some("a__t"));
        assert_eq!(
            refused,
            vec![
                named("a__t_0000000001", "a", "t"),
                named("not valid!", "c", "v")
            ]
        );
        let mut book = book;
        let gone = book.forget_servers(|s| s != "a");
        assert_eq!(gone, vec![named("a__t", "a", "t")]);
        assert_eq!(book.resolve("a__t"), None);
        assert_eq!(book.resolve("b__u"), Some(("b", "u")));
        // forgotten: a newcomer may have the name now
        assert_eq!(book.plan([("a", "t")]), vec![named("a__t", "a", "t")]);
    }

    /// What happens to a board, one step at a time (see [`World`]).
    #[derive(Debug, Clone)]
    enum Step {
        /// The server file gains a server (in force from the next start).
        Configure(usize),
        /// The server file loses a server (in force from the next start).
        Unconfigure(usize),
        /// A running server adds a tool at run time.
        AddTool(usize, usize),
        /// A running server drops a tool at run time.
        RemoveTool(usize, usize),
        /// A server restarts: its list is its base list again.
        Restart(usize),
        /// The board restarts: the book is read back from what was kept,
        /// servers that left the file are forgotten, every server starts
        /// with its base list.
        RestartBoard,
    }

    /// Server names that make equal plain names (refused by the server
    /// file, but the core must hold without that rule too).
    const SERVERS: &[&str] = &["a", "a__b", "a_", "x", "x__y"];

    fn tools() -> Vec<String> {
        let long = "t".repeat(70);
        let mimic = candidate("a", &long)["a__".len()..].to_owned();
        [
            "echo", "b__echo", "_echo", "y__echo", "echo.", "b_echo", &long, &mimic,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let n = SERVERS.len();
        let t = tools().len();
        let step = prop_oneof![
            1 => (0..n).prop_map(Step::Configure),
            1 => (0..n).prop_map(Step::Unconfigure),
            3 => (0..n, 0..t).prop_map(|(s, t)| Step::AddTool(s, t)),
            2 => (0..n, 0..t).prop_map(|(s, t)| Step::RemoveTool(s, t)),
            1 => (0..n).prop_map(Step::Restart),
            1 => Just(Step::RestartBoard),
        ];
        prop::collection::vec(step, 1..60)
    }

    /// A board's gateway as the pool runs it: the servers in force and
    /// their current tool lists, the book, and what the book's owner kept
    /// durably (every recorded name, saved before it is shown).
    struct World {
        tools: Vec<String>,
        file: BTreeSet<usize>,
        running: BTreeMap<usize, BTreeSet<usize>>,
        base: BTreeMap<usize, BTreeSet<usize>>,
        book: NameBook,
        kept: Vec<Named>,
        /// Every name shown since its server was last configured, and its pair.
        shown: BTreeMap<String, (String, String)>,
        /// Every pair shown since its server was last configured, and its name.
        shown_as: BTreeMap<(String, String), String>,
    }

    impl World {
        fn pairs(&self) -> Vec<(String, String)> {
            self.running
                .iter()
                .flat_map(|(s, ts)| {
                    ts.iter()
                        .map(move |t| (SERVERS[*s].to_owned(), self.tools[*t].clone()))
                })
                .collect()
        }

        /// The pool after a list change: name the newcomers, keep them,
        /// show the table; check it against everything shown before.
        fn publish(&mut self) -> Result<(), TestCaseError> {
            let pairs = self.pairs();
            let new = self.book.plan(pairs.clone());
            self.kept.extend(new.iter().cloned());
            self.book.record(new);
            let table = self.book.table(pairs.clone());
            prop_assert_eq!(table.len(), pairs.len(), "every tool offered is named");
            for (name, server, tool) in table.iter() {
                prop_assert!(is_valid(name), "{name:?}");
                let pair = (server.to_owned(), tool.to_owned());
                if let Some(before) = self.shown.insert(name.to_owned(), pair.clone()) {
                    prop_assert_eq!(&before, &pair, "{} changed meaning", name);
                }
                if let Some(before) = self.shown_as.insert(pair.clone(), name.to_owned()) {
                    prop_assert_eq!(before.as_str(), name, "{:?} was renamed", pair);
                }
            }
            Ok(())
        }

        fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
            match *step {
                Step::Configure(s) => {
                    self.file.insert(s);
                }
                Step::Unconfigure(s) => {
                    self.file.remove(&s);
                }
                Step::AddTool(s, t) => {
                    if let Some(list) = self.running.get_mut(&s) {
                        list.insert(t);
                        self.publish()?;
                    }
                }
                Step::RemoveTool(s, t) => {
                    if let Some(list) = self.running.get_mut(&s) {
                        list.remove(&t);
                        self.publish()?;
                    }
                }
                Step::Restart(s) => {
                    if let Some(list) = self.running.get_mut(&s) {
                        list.clone_from(&self.base[&s]);
                        self.publish()?;
                    }
                }
                Step::RestartBoard => {
                    let (mut book, refused) = NameBook::restore(self.kept.clone());
                    prop_assert!(refused.is_empty(), "kept names conflict: {refused:?}");
                    let file = self.file.clone();
                    let gone = book.forget_servers(|s| file.iter().any(|i| SERVERS[*i] == s));
                    self.kept.retain(|n| !gone.contains(n));
                    for n in gone {
                        self.shown.remove(&n.name);
                        self.shown_as.remove(&(n.server, n.item));
                    }
                    // a server that left lost its history with its names
                    let names: BTreeSet<&str> = file.iter().map(|i| SERVERS[*i]).collect();
                    self.shown.retain(|_, (s, _)| names.contains(s.as_str()));
                    self.shown_as.retain(|(s, _), _| names.contains(s.as_str()));
                    self.book = book;
                    self.running = file.iter().map(|s| (*s, self.base[s].clone())).collect();
                    self.publish()?;
                }
            }
            Ok(())
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Invariant 8 over random lives of a board (servers joining and
        /// leaving the file, tools added and dropped at run time, server and
        /// board restarts): no name ever stands for two (server, tool) pairs
        /// while its server stays configured, a pair keeps its name while
        /// its server stays configured, every tool offered is named, and the
        /// kept records always read back without a conflict.
        #[test]
        fn a_name_never_changes_meaning_over_a_boards_life(
            steps in steps(),
            base in prop::collection::vec(prop::collection::btree_set(0..8usize, 0..3), SERVERS.len()),
        ) {
            let base: BTreeMap<usize, BTreeSet<usize>> = base.into_iter().enumerate().collect();
            let mut world = World {
                tools: tools(),
                file: (0..SERVERS.len()).collect(),
                running: base.clone(),
                base,
                book: NameBook::default(),
                kept: Vec::new(),
                shown: BTreeMap::new(),
                shown_as: BTreeMap::new(),
            };
            world.publish()?;
            for step in &steps {
                world.step(step)?;
            }
        }
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
