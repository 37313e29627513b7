//! The house rules, read from the source text (`make lint` runs this file;
//! nothing of baton is started):
//!
//! 1. **Every arrow points down.** Each module's `crate::…` paths (in `use`
//!    lines and inline) and its `super::…` paths that climb out of its
//!    folder are held against the floors of `src/lib.rs`'s Layout table
//!    ([`floors`]): a room may import only rooms on a lower floor, and
//!    [`INNER`] holds the floors inside a room (the store's
//!    engines under its facade). A path through the crate root's re-exports
//!    (`crate::Error`) is refused too: it names the top of the house.
//!    The pure cores (`core/`, `error_code.rs`) name no I/O, actor or clock
//!    crate ([`PURE`]).
//! 2. **No public item's rustdoc is two words or fewer** (`/// Task.`): it
//!    says shapes, units, errors and where a value comes from.
//! 3. **Every room under the cap**: no file under `src/` or
//!    `assets/dashboard/` (vendored files aside) over 800 lines, and
//!    `src/main.rs` under 300.
//! 4. **`src/lib.rs`'s layout table names every module** it declares.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The floors of the library, read from `src/lib.rs`'s Layout table (one
/// source for the docs and this check): `(room, floor)`, where a room is a
/// top-level module of `src/` (a file or a folder). A room may import rooms
/// on lower floors only; two rooms on one floor do not know each other. The
/// crate root (`lib.rs`) and the binary (`main.rs`, `cli/`) stand above all
/// of them.
fn floors() -> Vec<(String, u8)> {
    read("src/lib.rs")
        .lines()
        .filter_map(|l| {
            let mut cells = l.strip_prefix("//! |")?.split('|').map(str::trim);
            let floor = cells.next()?.parse().ok()?;
            let room = cells.next()?.strip_prefix("[`")?.strip_suffix("`]")?;
            Some((room.to_owned(), floor))
        })
        .collect()
}

/// Floors inside a room: a module under the first path may import, of its
/// own room, only the modules under the listed paths.
const INNER: &[(&str, &[&str], &str)] = &[(
    "store::engine",
    &["store::engine", "store::error"],
    "the engines sit under the store's facade: they know its error, not its keys or batches",
)];

/// Rooms that hold pure logic (no I/O, no actors, time passed in by the
/// caller), and the names of crates and `std` modules they may not use.
const PURE: &[&str] = &["core", "error_code"];
const IMPURE: &[&str] = &[
    "actix",
    "actix_web",
    "tokio",
    "reqwest",
    "redb",
    "tokio_postgres",
    "rmcp",
    "fs",
    "net",
    "process",
    "thread",
    "env",
    "SystemTime",
    "Instant",
];

/// Files outside the library's floors: the binary (its own crate).
fn is_binary(rel: &str) -> bool {
    rel == "src/main.rs" || rel.starts_with("src/cli/")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` whose name ends with `ext`, as paths relative to
/// the package root, sorted.
fn files(dir: &str, ext: &str) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, ext: &str, out: &mut Vec<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(base, &path, ext, out);
            } else if path.to_string_lossy().ends_with(ext) {
                let rel = path.strip_prefix(base).expect("under the root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &root().join(dir), ext, &mut out);
    out.sort();
    out
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

// ---- reading Rust text ---------------------------------------------------------------

/// `text` with every comment, string and char literal blanked to spaces
/// (newlines kept, so line numbers and brackets still line up).
fn blank(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = b.clone();
    let n = b.len();
    let blank_range = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in out.iter_mut().take(to.min(n)).skip(from) {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < n {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let mut j = i;
            while j < n && b[j] != '\n' {
                j += 1;
            }
            blank_range(&mut out, i, j);
            i = j;
        } else if c == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < n {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            blank_range(&mut out, start, i);
        } else if (c == 'r' || (c == 'b' && next == Some('r'))) && (i == 0 || !ident(b[i - 1])) && {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            while j < n && b[j] == '#' {
                j += 1;
            }
            j < n && b[j] == '"'
        } {
            // raw string: r"…", r#"…"#, br"…"
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            let body = j + 1;
            let mut k = body;
            'scan: while k < n {
                if b[k] == '"' && (0..hashes).all(|h| b.get(k + 1 + h) == Some(&'#')) {
                    break 'scan;
                }
                k += 1;
            }
            blank_range(&mut out, body, k);
            i = k + 1 + hashes;
        } else if c == '"' {
            let mut j = i + 1;
            while j < n && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            blank_range(&mut out, i + 1, j);
            i = j + 1;
        } else if c == '\'' {
            // a char literal ('x', '\n', '\u{1F600}') or a lifetime ('a)
            if next == Some('\\') {
                let mut j = i + 2;
                while j < n && b[j] != '\'' {
                    j += 1;
                }
                blank_range(&mut out, i + 1, j);
                i = j + 1;
            } else if b.get(i + 2) == Some(&'\'') {
                blank_range(&mut out, i + 1, i + 2);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    PathSep,
}

/// The tokens of blanked text, each with its 1-based line.
fn tokens(code: &str) -> Vec<(Tok, usize)> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(b[start..i].iter().collect()), line));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// The module path of a file under `src/`: `src/store/engine/mod.rs` is
/// `["store", "engine"]`, `src/clock.rs` is `["clock"]`.
fn module_of(rel: &str) -> Vec<String> {
    let inner = rel.trim_start_matches("src/").trim_end_matches(".rs");
    let mut path: Vec<String> = inner.split('/').map(str::to_owned).collect();
    if path.last().map(String::as_str) == Some("mod") {
        path.pop();
    }
    if path == ["lib"] || path == ["main"] {
        path.clear();
    }
    path
}

/// Every path a use tree starting at `toks[at]` names (after the leading
/// `crate`/`super`… that the caller consumed), as segment lists: `a::{b, c::d}`
/// gives `[a, b]` and `[a, c, d]`. Returns the paths and the index after.
fn use_tree(toks: &[(Tok, usize)], mut at: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        match toks.get(at).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                prefix.push(s.clone());
                at += 1;
                if toks.get(at).map(|t| &t.0) == Some(&Tok::PathSep) {
                    at += 1;
                    continue;
                }
                return (vec![prefix], at);
            }
            Some(Tok::Punct('{')) => {
                at += 1;
                let mut all = Vec::new();
                loop {
                    match toks.get(at).map(|t| &t.0) {
                        None => return (all, at),
                        Some(Tok::Punct('}')) => return (all, at + 1),
                        Some(Tok::Punct(',')) => at += 1,
                        Some(Tok::Ident(_)) | Some(Tok::Punct('{')) => {
                            let (inner, next) = use_tree(toks, at);
                            for p in inner {
                                let mut full = prefix.clone();
                                full.extend(p);
                                all.push(full);
                            }
                            // skip `as name` and anything else up to `,` or `}`
                            at = next;
                            while let Some(t) = toks.get(at).map(|t| &t.0) {
                                if matches!(t, Tok::Punct(',') | Tok::Punct('}')) {
                                    break;
                                }
                                at += 1;
                            }
                        }
                        Some(_) => at += 1,
                    }
                }
            }
            _ => return (vec![prefix], at),
        }
    }
}

/// One import of one file: where it stands and what it names (a module
/// path from the crate root).
#[derive(Debug)]
struct Import {
    line: usize,
    target: Vec<String>,
    written: String,
}

/// The imports of one file (`rel` under `src/`): every `crate::…` path and
/// every `super::…` path that leaves the file's own room.
fn imports(rel: &str, text: &str) -> Vec<Import> {
    let file = module_of(rel);
    let toks = tokens(&blank(text));
    let mut out = Vec::new();
    // inline modules (`mod tests { … }`) open within the file: (name, depth)
    let (mut inline, mut depth): (Vec<(String, usize)>, usize) = (Vec::new(), 0);
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = (&toks[i].0, toks[i].1);
        if *tok == Tok::Punct('{') {
            depth += 1;
            if i >= 2 && toks[i - 2].0 == Tok::Ident("mod".into()) {
                if let Tok::Ident(name) = &toks[i - 1].0 {
                    inline.push((name.clone(), depth));
                }
            }
        } else if *tok == Tok::Punct('}') {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
        }
        let mut me = file.clone();
        me.extend(inline.iter().map(|(name, _)| name.clone()));
        let after_dollar = i > 0 && toks[i - 1].0 == Tok::Punct('$');
        let after_sep = i > 0 && toks[i - 1].0 == Tok::PathSep;
        let starts = matches!(tok, Tok::Ident(s) if s == "crate" || s == "super");
        if !starts
            || after_dollar
            || after_sep
            || toks.get(i + 1).map(|t| &t.0) != Some(&Tok::PathSep)
        {
            i += 1;
            continue;
        }
        // the base module the path starts from
        let mut base: Vec<String>;
        let mut at = i;
        if *tok == Tok::Ident("crate".into()) {
            base = Vec::new();
            at += 2;
        } else {
            base = me.clone();
            while toks.get(at).map(|t| &t.0) == Some(&Tok::Ident("super".into()))
                && toks.get(at + 1).map(|t| &t.0) == Some(&Tok::PathSep)
            {
                base.pop();
                at += 2;
            }
        }
        let (paths, next) = use_tree(&toks, at);
        for p in paths {
            let mut target = base.clone();
            target.extend(p.iter().filter(|s| *s != "self").cloned());
            let written = if base.is_empty() && *tok == Tok::Ident("crate".into()) {
                format!("crate::{}", p.join("::"))
            } else {
                format!("super::…::{}", p.join("::"))
            };
            out.push(Import {
                line,
                target,
                written,
            });
        }
        i = next.max(i + 1);
    }
    out
}

fn floor_of(floors: &[(String, u8)], room: &str) -> Option<u8> {
    floors.iter().find(|(r, _)| r == room).map(|(_, f)| *f)
}

/// Why `import` (made by the module `me`) runs back up, or `None` when it
/// points down (or stays in its room, within the room's inner floors).
fn upward(floors: &[(String, u8)], me: &[String], import: &Import) -> Option<String> {
    let room = me.first()?;
    let target = &import.target;
    let Some(to) = target.first() else {
        return Some("it names the crate root itself".into());
    };
    let Some(to_floor) = floor_of(floors, to) else {
        return Some(format!(
            "`{to}` is no room of the library but a re-export of the crate root (lib.rs, the top \
             of the house): name the module it lives in"
        ));
    };
    let from_floor = floor_of(floors, room)?;
    if to == room {
        let mine = me.join("::");
        let theirs = target.join("::");
        for (inner, allowed, why) in INNER {
            let under = |p: &str, m: &str| p == m || p.starts_with(&format!("{m}::"));
            if under(&mine, inner) && !allowed.iter().any(|a| under(&theirs, a)) {
                return Some(format!(
                    "`{inner}` may import of `{room}` only {allowed:?}: {why}"
                ));
            }
        }
        return None;
    }
    if to_floor < from_floor {
        return None;
    }
    let with = if to_floor == from_floor {
        "on the same floor as"
    } else {
        "above"
    };
    Some(format!(
        "`{to}` (floor {to_floor}) stands {with} `{room}` (floor {from_floor}): move what it \
         takes down to where both can reach it, or invert the arrow (a small trait or a \
         message type owned below)"
    ))
}

#[test]
fn every_import_points_down() {
    let floors = floors();
    assert!(
        floors.len() > 10,
        "src/lib.rs's Layout table gives floors to {floors:?} only"
    );
    let mut wrong = String::new();
    let mut rooms = BTreeSet::new();
    for rel in files("src", ".rs") {
        if is_binary(&rel) {
            continue;
        }
        let me = module_of(&rel);
        let Some(room) = me.first() else {
            continue; // lib.rs: the crate root declares and re-exports every room
        };
        assert!(
            floor_of(&floors, room).is_some(),
            "{rel}: the room `{room}` has no row with a floor in src/lib.rs's Layout table"
        );
        rooms.insert(room.clone());
        for import in imports(&rel, &read(&rel)) {
            if let Some(why) = upward(&floors, &me, &import) {
                let _ = writeln!(
                    wrong,
                    "{rel}:{}: {} runs back up: {why}",
                    import.line, import.written
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run back up (the floors are src/lib.rs's Layout table):\n{wrong}"
    );
    for (room, _) in &floors {
        assert!(
            rooms.contains(room),
            "src/lib.rs's Layout table names `{room}`, which src/ has not"
        );
    }
}

/// The I/O, actor and clock names a pure room's text uses: `(line, name)`.
/// A crate counts where a path starts with it (`tokio::spawn`, `use
/// actix::…`); a `std` module after `std::`; `SystemTime` and `Instant`
/// anywhere.
fn impure_names(text: &str) -> Vec<(usize, String)> {
    let toks = tokens(&blank(text));
    let mut out = Vec::new();
    for (i, (tok, line)) in toks.iter().enumerate() {
        let Tok::Ident(name) = tok else { continue };
        if !IMPURE.contains(&name.as_str()) {
            continue;
        }
        let before = |k: usize| i.checked_sub(k).map(|j| &toks[j].0);
        let starts_path = before(1) != Some(&Tok::PathSep)
            && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep);
        let std_module =
            before(1) == Some(&Tok::PathSep) && before(2) == Some(&Tok::Ident("std".into()));
        let anywhere = name == "SystemTime" || name == "Instant";
        let is_crate = !["fs", "net", "process", "thread", "env"].contains(&name.as_str());
        if anywhere || std_module || (starts_path && is_crate) {
            out.push((*line, name.clone()));
        }
    }
    out
}

#[test]
fn pure_rooms_do_no_io_and_read_no_clock() {
    let mut wrong = String::new();
    for rel in files("src", ".rs") {
        let me = module_of(&rel);
        if !me.first().is_some_and(|room| PURE.contains(&room.as_str())) {
            continue;
        }
        for (line, name) in impure_names(&read(&rel)) {
            let _ = writeln!(wrong, "{rel}:{line}: `{name}`");
        }
    }
    assert!(
        wrong.is_empty(),
        "{PURE:?} hold pure logic (no I/O, no actors, time passed in by the caller), but use:\n{wrong}"
    );
    let found = impure_names(
        "use std::fs; fn f(now: Millis) { tokio::spawn(x); let t = Instant::now(); net(); }",
    );
    let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["fs", "tokio", "Instant"], "the reader itself");
}

#[test]
fn the_import_reader_sees_every_form_of_path() {
    let text = r#"
        use crate::store::{keys, engine::{Engine, KvRead}};
        use super::super::super::pool::PoolHandle;
        // use crate::serve::nothing; (a comment)
        fn f() -> crate::error::Result<()> { let _ = "crate::api"; $crate::x; Ok(()) }
        pub(crate) struct S;
    "#;
    let got: Vec<String> = imports("src/core/table/lease.rs", text)
        .iter()
        .map(|i| i.target.join("::"))
        .collect();
    assert_eq!(
        got,
        [
            "store::keys",
            "store::engine::Engine",
            "store::engine::KvRead",
            "pool::PoolHandle",
            "error::Result"
        ]
    );
    let floors = floors();
    let me = module_of("src/core/table/lease.rs");
    let up = imports("src/core/table/lease.rs", text);
    assert!(
        up.iter().all(|i| upward(&floors, &me, i).is_some()),
        "{up:?}"
    );
    let down = imports(
        "src/core/table/lease.rs",
        "use crate::model::Task; use super::Table;",
    );
    assert!(
        down.iter().all(|i| upward(&floors, &me, i).is_none()),
        "{down:?}"
    );
    let root = imports("src/core/table/lease.rs", "fn f() -> crate::Result<()> {}");
    assert!(
        upward(&floors, &me, &root[0]).is_some(),
        "a re-export of the crate root"
    );
    // `super` inside an inline module climbs to the file's own module first
    let text = "mod tests { use super::*; mod deeper { use super::super::Clock; } } use super::x;";
    let nested = imports("src/clock.rs", text);
    let targets: Vec<String> = nested.iter().map(|i| i.target.join("::")).collect();
    assert_eq!(targets, ["clock", "clock::Clock", "x"]);
    let engine = module_of("src/store/engine/redb.rs");
    let inner = imports("src/store/engine/redb.rs", "use super::super::keys::Key;");
    assert!(
        upward(&floors, &engine, &inner[0]).is_some(),
        "an engine reading the store's keys"
    );
    let inner = imports(
        "src/store/engine/redb.rs",
        "use crate::store::error::StoreError;",
    );
    assert!(upward(&floors, &engine, &inner[0]).is_none());
}

// ---- docs ----------------------------------------------------------------------------

/// Words in a doc text: runs of whitespace-separated text holding a letter
/// or a digit (`{total, busy}` is two).
fn words(doc: &str) -> usize {
    doc.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// Every public item's `///` doc of `text`: `(line of the doc, doc text,
/// the item's first line)`. Public: declared `pub` (not `pub(crate)` or
/// narrower), a variant of a `pub enum`, or an item of a `pub trait`.
fn public_docs(text: &str) -> Vec<(usize, String, String)> {
    let code = blank(text);
    let raw: Vec<&str> = text.lines().collect();
    let blanked: Vec<&str> = code.lines().collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        PubEnum,
        PubTrait,
        Other,
    }
    let mut stack: Vec<Kind> = Vec::new();
    let mut pending: Option<Kind> = None;
    let mut doc: Vec<&str> = Vec::new();
    let mut doc_line = 0;
    let mut in_attribute = 0i32;
    let mut out = Vec::new();
    for (n, (line, code)) in raw.iter().zip(blanked.iter()).enumerate() {
        let trimmed = line.trim();
        if let Some(d) = trimmed.strip_prefix("///") {
            if doc.is_empty() {
                doc_line = n + 1;
            }
            doc.push(d.trim());
            continue;
        }
        let c = code.trim();
        let balance = |s: &str| {
            s.chars().filter(|&ch| ch == '[').count() as i32
                - s.chars().filter(|&ch| ch == ']').count() as i32
        };
        if in_attribute > 0 {
            in_attribute += balance(c);
        } else if c.starts_with("#[") || c.starts_with("#!") {
            in_attribute = balance(c);
        } else if !c.is_empty() {
            if !doc.is_empty() {
                let public = c.starts_with("pub ")
                    || (stack.last() == Some(&Kind::PubEnum)
                        && c.starts_with(|ch: char| ch.is_ascii_uppercase()))
                    || (stack.last() == Some(&Kind::PubTrait)
                        && ["fn ", "async fn ", "type ", "const "]
                            .iter()
                            .any(|k| c.starts_with(k)));
                if public {
                    out.push((doc_line, doc.join(" "), c.to_owned()));
                }
            }
            doc.clear();
        }
        if c.starts_with("pub enum ") {
            pending = Some(Kind::PubEnum);
        } else if c.starts_with("pub trait ") {
            pending = Some(Kind::PubTrait);
        }
        for ch in c.chars() {
            match ch {
                '{' => stack.push(pending.take().unwrap_or(Kind::Other)),
                '}' => {
                    stack.pop();
                }
                ';' if stack.last() != Some(&Kind::PubTrait) => pending = None,
                _ => {}
            }
        }
    }
    out
}

#[test]
fn no_public_item_has_a_doc_of_two_words_or_fewer() {
    let mut short = String::new();
    let mut count = 0;
    for rel in files("src", ".rs") {
        if is_binary(&rel) {
            continue;
        }
        for (line, doc, item) in public_docs(&read(&rel)) {
            count += 1;
            if words(&doc) <= 2 {
                let _ = writeln!(short, "{rel}:{line}: `/// {doc}` on `{item}`");
            }
        }
    }
    assert!(
        count > 1000,
        "the doc reader found only {count} public items: it is broken"
    );
    assert!(
        short.is_empty(),
        "public items whose rustdoc is two words or fewer: say the shape, units, errors, \
         where the value comes from:\n{short}"
    );
}

#[test]
fn the_doc_reader_finds_public_items_and_only_those() {
    let text = r#"
/// A thing.
#[derive(Debug)]
#[serde(
    rename_all = "snake_case"
)]
pub enum Kind {
    /// First one.
    First,
    /// Second.
    Second { x: u32 },
}
/// Private helper.
fn helper() {}
/// Crate-wide.
pub(crate) fn inner() {}
/// Says "{".
pub trait T {
    /// Go.
    fn go(&self);
}
impl Kind {
    /// Runs it.
    pub fn run(&self) { let _ = "}"; }
    /// Not public.
    fn hidden(&self) {}
}
"#;
    let got: Vec<(String, String)> = public_docs(text)
        .into_iter()
        .map(|(_, doc, item)| {
            (
                doc,
                item.split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect();
    let want = [
        ("A thing.", "pub enum"),
        ("First one.", "First,"),
        ("Second.", "Second {"),
        ("Says \"{\".", "pub trait"),
        ("Go.", "fn go(&self);"),
        ("Runs it.", "pub fn"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(d, i)| {
            (
                d.to_string(),
                i.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    assert_eq!(got, want);
}

// ---- sizes and the layout table ------------------------------------------------------

#[test]
fn every_room_is_under_the_cap() {
    let mut over = String::new();
    let dashboard = files("assets/dashboard", "")
        .into_iter()
        .filter(|f| !f.starts_with("assets/dashboard/vendor/"));
    for rel in files("src", ".rs").into_iter().chain(dashboard) {
        let lines = read(&rel).lines().count();
        if lines > 800 {
            let _ = writeln!(over, "{rel}: {lines} lines (at most 800)");
        }
    }
    let main = read("src/main.rs").lines().count();
    if main >= 300 {
        let _ = writeln!(
            over,
            "src/main.rs: {main} lines (under 300: it only parses and calls)"
        );
    }
    assert!(
        over.is_empty(),
        "rooms over the cap; split them by concern:\n{over}"
    );
}

#[test]
fn the_layout_table_in_lib_names_every_module() {
    let lib = read("src/lib.rs");
    let table: String = lib
        .lines()
        .filter(|l| l.starts_with("//! |"))
        .collect::<Vec<_>>()
        .join("\n");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    assert!(declared.len() > 10, "lib.rs declares {declared:?}");
    let missing: Vec<&&str> = declared
        .iter()
        .filter(|m| !table.contains(&format!("[`{m}`]")))
        .collect();
    assert!(
        missing.is_empty(),
        "src/lib.rs's Layout table has no row for {missing:?}: add one saying the module's job"
    );
}
