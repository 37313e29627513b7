//! The overlap decision against an oracle that does not share its logic:
//! every path of a small finite tree, matched with globset itself. Plus
//! normalization, the conflict rule and the table.

use std::sync::Arc;

use globset::GlobBuilder;
use proptest::prelude::*;

use super::*;
use crate::model::{Reservation, ReservationMode};

/// Segment names of the finite tree (depth 1..=3).
const NAMES: [&str; 5] = ["a", "b", "ab", "x.rs", ".h"];

fn tree() -> Vec<String> {
    let mut out: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let mut level = out.clone();
    for _ in 1..3 {
        let next: Vec<String> = level
            .iter()
            .flat_map(|p| NAMES.iter().map(move |n| format!("{p}/{n}")))
            .collect();
        out.extend(next.iter().cloned());
        level = next;
    }
    out
}

fn matcher(p: &str) -> globset::GlobMatcher {
    GlobBuilder::new(p)
        .literal_separator(true)
        .backslash_escape(false)
        .build()
        .unwrap()
        .compile_matcher()
}

fn set(p: &[&str]) -> PatternSet {
    let v: Vec<String> = p.iter().map(|s| s.to_string()).collect();
    PatternSet::compile(&v).unwrap()
}

fn segment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "ab",
        "x.rs",
        ".h",
        "*",
        "**",
        "a*",
        "*b",
        "?",
        "[ab]",
        "[!a]",
        "*.rs",
        "{a,b}",
        "{x.rs,ab}",
        "a?",
        "*a*",
        "[[:alpha:]]b",
    ])
}

fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..4).prop_map(|segs| segs.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Never "no overlap" when a path of the tree matches both (conservative).
    #[test]
    fn overlap_is_never_missed(a in pattern(), b in pattern()) {
        let (na, nb) = (normalize_pattern(&a).unwrap(), normalize_pattern(&b).unwrap());
        let (ma, mb) = (matcher(&na), matcher(&nb));
        let witness = tree().into_iter().find(|p| ma.is_match(p) && mb.is_match(p));
        let decided = set(&[&na]).overlap(&set(&[&nb])).is_some();
        if let Some(p) = witness {
            prop_assert!(decided, "{na} and {nb} both match {p} but overlap said no");
        }
        // symmetric
        prop_assert_eq!(decided, set(&[&nb]).overlap(&set(&[&na])).is_some());
    }

    /// A pattern overlaps itself, and the set matches what globset matches.
    #[test]
    fn a_pattern_overlaps_itself_and_matches_like_globset(a in pattern()) {
        let n = normalize_pattern(&a).unwrap();
        let s = set(&[&n]);
        prop_assert!(s.overlap(&s).is_some());
        let m = matcher(&n);
        for p in tree() {
            prop_assert_eq!(s.matches(&p), m.is_match(&p));
        }
    }

    /// Normal form is a fixed point.
    #[test]
    fn normalizing_twice_changes_nothing(a in pattern(), dots in 0usize..3) {
        let raw = format!("{}{}", "./".repeat(dots), a.replace('/', "//"));
        let once = normalize_pattern(&raw).unwrap();
        prop_assert_eq!(normalize_pattern(&once).unwrap(), once.clone());
    }
}

#[test]
fn disjoint_patterns_do_not_overlap() {
    for (a, b) in [
        ("src/api/**", "src/cli/**"),
        ("Cargo.toml", "Cargo.lock"),
        ("src/*.rs", "src/a/b.rs"),
        ("docs/**", "src/**"),
        ("*.md", "src/x.md"),
        ("a/b*", "a/c*"),
        ("a/*x", "a/*y"),
    ] {
        assert!(set(&[a]).overlap(&set(&[b])).is_none(), "{a} vs {b}");
    }
    for (a, b) in [
        ("src/**", "src/api/mod.rs"),
        ("**/*.rs", "src/a.rs"),
        ("src/{api,cli}/**", "src/cli/x"),
        ("a/*", "a/b"),
        ("**", "x"),
        ("a/**/z", "a/b/c/z"),
    ] {
        assert!(set(&[a]).overlap(&set(&[b])).is_some(), "{a} vs {b}");
    }
}

#[test]
fn bad_patterns_are_refused_with_a_reason() {
    for (raw, why) in [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("C:/x", "absolute"),
        ("~/x", "absolute"),
        ("src/../x", ".."),
        ("{..,a}/x", ".."),
        ("a/[b", "unclosed"),
        ("a/{b", "unclosed"),
        ("a/[x/y]", "may not contain '/'"),
        ("a/{b,{c,d}}", "nested"),
        ("./", "names no path"),
        ("a\u{7}b", "control"),
    ] {
        let err = normalize_pattern(raw).unwrap_err();
        assert!(err.contains(why), "{raw:?}: {err}");
    }
    let long = "a".repeat(MAX_PATTERN_BYTES + 1);
    assert!(normalize_pattern(&long).unwrap_err().contains("at most"));
    let many = "{a,b,c,d,e,f,g,h}/{a,b,c,d,e,f,g,h}/{a,b}";
    assert!(normalize_pattern(many)
        .unwrap_err()
        .contains("alternatives"));
}

#[test]
fn normal_form() {
    for (raw, want) in [
        ("./src/api/", "src/api/**"),
        ("src\\api\\mod.rs", "src/api/mod.rs"),
        ("src//./a", "src/a"),
        ("a/**/**/b", "a/**/b"),
    ] {
        assert_eq!(normalize_pattern(raw).unwrap(), want);
    }
    assert_eq!(normalize_path("./src/a.rs").unwrap(), "src/a.rs");
    assert!(normalize_path("../x").is_err());
    // case-sensitive
    assert!(set(&["Src/**"]).overlap(&set(&["src/a"])).is_none());
}

#[test]
fn check_patterns_names_the_field_and_bounds_the_count() {
    let err = check_patterns("patterns", &["ok".into(), "/abs".into()], 10).unwrap_err();
    assert_eq!(err.field().as_deref(), Some("patterns[1]"));
    let many: Vec<String> = (0..10_000).map(|i| format!("f{i}")).collect();
    let err = check_patterns("patterns", &many, 256).unwrap_err();
    assert_eq!(err.field().as_deref(), Some("patterns"));
    assert!(check_patterns("patterns", &[], 10).is_err());
    let (norm, _) = check_patterns("patterns", &["./a".into(), "a".into()], 10).unwrap();
    assert_eq!(norm, vec!["a".to_string()]);
}

fn res(id: &str, worker: &str, mode: ReservationMode, pats: &[&str], until: u64) -> Reservation {
    Reservation {
        id: id.into(),
        worker: worker.into(),
        patterns: pats.iter().map(|s| s.to_string()).collect(),
        mode,
        task_id: None,
        lease_id: None,
        ttl_ms: Some(1000),
        expires_at: until,
        created_at: 0,
        owner: None,
        from_task: false,
    }
}

#[test]
fn the_conflict_rule() {
    use ReservationMode::*;
    let mut t = ReservationTable::new();
    t.restore(res("r1", "alice", Exclusive, &["src/api/**"], 100))
        .unwrap();
    t.restore(res("r2", "bob", Shared, &["docs/**"], 100))
        .unwrap();
    let api = set(&["src/api/mod.rs"]);
    let docs = set(&["docs/a.md"]);
    let side = |worker, mode, set| Side { worker, mode, set };
    // exclusive vs any other holder
    assert!(t.conflict(side("bob", Shared, &api), 50).is_some());
    assert!(t.conflict(side("bob", Exclusive, &api), 50).is_some());
    // a holder never conflicts with itself
    assert!(t.conflict(side("alice", Exclusive, &api), 50).is_none());
    // shared vs shared: fine; exclusive vs shared: conflict
    assert!(t.conflict(side("carol", Shared, &docs), 50).is_none());
    let c = t.conflict(side("carol", Exclusive, &docs), 50).unwrap();
    assert_eq!((c.worker.as_str(), c.reservation.as_str()), ("bob", "r2"));
    assert!(c.to_string().contains("worker 'bob'"), "{c}");
    // lapsed: not in the way, and swept as lapsed
    assert!(t.conflict(side("bob", Exclusive, &api), 100).is_none());
    assert_eq!(t.lapsed(100), vec!["r1".to_string(), "r2".to_string()]);
    assert_eq!(t.holders("src/api/x", 50).len(), 1);
    assert!(t.covers("alice", "src/api/x", 50));
    assert!(!t.covers("bob", "src/api/x", 50));
}

#[test]
fn lease_bound_reservations_follow_their_lease() {
    let mut r = res("r1", "alice", ReservationMode::Exclusive, &["a"], 100);
    r.lease_id = Some(7);
    r.ttl_ms = None;
    let mut t = ReservationTable::new();
    t.insert(r, Arc::new(set(&["a"])));
    t.renew_lease(7, 500);
    assert_eq!(t.get("r1").map(|r| r.expires_at), Some(500));
    // lease-bound ones are never "lapsed" TTL reservations: they end with the lease
    assert!(t.lapsed(1000).is_empty());
    assert_eq!(t.of_lease(7), vec!["r1".to_string()]);
}
