//! Storage-engine probe for baton's 1,000,000-task board (issue 12, must-show 5):
//! the write pattern of adding tasks in batches — per task a `t/<id>` record,
//! an `e/<seq>` audit event and an `x/<id>/<seq>` index entry, one durable
//! commit (fsync) per batch — against sled 0.34 (baton's engine), redb 4
//! (copy-on-write B-tree, page cache bounded by `set_cache_size`) and fjall 3
//! (LSM tree, block cache bounded by `cache_size`), each with a 128 MiB cache.
//!
//!   engine-probe ENGINE DIR [TASKS] [BATCH]
//!
//! Prints peak RSS while writing (VmHWM), write time, on-disk size, then
//! reopens and scans every `t/` record (what baton's start-up does): time and
//! RSS after the scan. Only the engine and the data are in the process.

use std::time::Instant;

const CACHE: u64 = 128 << 20;

fn status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("status");
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("field")
        * 1024
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn du(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        let m = e.metadata().expect("meta");
        total += if m.is_dir() { du(&e.path()) } else { m.len() };
    }
    total
}

/// The three records of task `i`, shaped like baton's (JSON, similar sizes).
fn records(i: u64) -> [(Vec<u8>, Vec<u8>); 3] {
    let id = format!("t{i}");
    let task = format!(
        r#"{{"id":"{id}","title":"task {i}","description":"","payload":null,"tags":[],"priority":0,"dependencies":[],"max_attempts":3,"timeout_secs":null,"status":"ready","output":null,"error":null,"attempts":0,"lease":null,"worker":null,"started_at":null,"finished_at":null,"created_at":"2026-12-01T23:59:59.123Z","updated_at":"2026-12-01T23:59:59.123Z","seq":{i}}}"#
    );
    let event = format!(
        r#"{{"id":{i},"kind":"task_added","task_id":"{id}","at":1796169599123,"actor":"local","lease_id":null,"slot":null,"worker":null,"detail":null}}"#
    );
    let mut t = b"t/".to_vec();
    t.extend_from_slice(id.as_bytes());
    let mut e = b"e/".to_vec();
    e.extend_from_slice(&i.to_be_bytes());
    let mut x = b"x/".to_vec();
    x.extend_from_slice(id.as_bytes());
    x.push(0);
    x.extend_from_slice(&i.to_be_bytes());
    [(t, task.into_bytes()), (e, event.into_bytes()), (x, Vec::new())]
}

trait Engine {
    fn write(&mut self, batch: Vec<(Vec<u8>, Vec<u8>)>);
    /// Visit every `t/` value; how many.
    fn scan_tasks(&self) -> u64;
}

struct Sled(sled::Db);
impl Engine for Sled {
    fn write(&mut self, batch: Vec<(Vec<u8>, Vec<u8>)>) {
        let mut b = sled::Batch::default();
        for (k, v) in batch {
            b.insert(k, v);
        }
        self.0.apply_batch(b).expect("apply");
        self.0.flush().expect("flush");
    }
    fn scan_tasks(&self) -> u64 {
        let mut n = 0;
        for kv in self.0.scan_prefix(b"t/") {
            let (_, v) = kv.expect("kv");
            n += u64::from(v.len() > 0);
        }
        n
    }
}

const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("board");
struct Redb(redb::Database);
impl Engine for Redb {
    fn write(&mut self, batch: Vec<(Vec<u8>, Vec<u8>)>) {
        let tx = self.0.begin_write().expect("begin");
        {
            let mut t = tx.open_table(TABLE).expect("table");
            for (k, v) in &batch {
                t.insert(k.as_slice(), v.as_slice()).expect("insert");
            }
        }
        tx.commit().expect("commit"); // Durability::Immediate: fsync before it returns
    }
    fn scan_tasks(&self) -> u64 {
        use redb::ReadableDatabase;
        let tx = self.0.begin_read().expect("read");
        let t = tx.open_table(TABLE).expect("table");
        let mut n = 0;
        for kv in t.range(b"t/".as_slice()..b"t0".as_slice()).expect("range") {
            let (_, v) = kv.expect("kv");
            n += u64::from(!v.value().is_empty());
        }
        n
    }
}

struct Fjall(fjall::Database, fjall::Keyspace);
impl Engine for Fjall {
    fn write(&mut self, batch: Vec<(Vec<u8>, Vec<u8>)>) {
        let mut b = self.0.batch().durability(Some(fjall::PersistMode::SyncAll));
        for (k, v) in batch {
            b.insert(&self.1, k, v);
        }
        b.commit().expect("commit");
    }
    fn scan_tasks(&self) -> u64 {
        let mut n = 0;
        for g in self.1.prefix(b"t/") {
            let (_, v) = g.into_inner().expect("kv");
            n += u64::from(!v.is_empty());
        }
        n
    }
}

fn open(engine: &str, dir: &std::path::Path) -> Box<dyn Engine> {
    match engine {
        "sled" | "sled-ht" | "sled-small" => Box::new(Sled(
            sled::Config::new()
                .path(dir)
                .mode(if engine == "sled-ht" { sled::Mode::HighThroughput } else { sled::Mode::LowSpace })
                .cache_capacity(if engine == "sled-small" { 16 << 20 } else { CACHE })
                .flush_every_ms(None)
                .open()
                .expect("sled"),
        )),
        "redb" => Box::new(Redb(
            redb::Builder::new()
                .set_cache_size(CACHE as usize)
                .create(dir.join("board.redb"))
                .expect("redb"),
        )),
        "fjall" => {
            let db = fjall::Database::builder(dir)
                .cache_size(CACHE)
                .open()
                .expect("fjall");
            let ks = db
                .keyspace("board", fjall::KeyspaceCreateOptions::default)
                .expect("keyspace");
            Box::new(Fjall(db, ks))
        }
        other => panic!("unknown engine {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).expect("ENGINE").clone();
    let dir = std::path::PathBuf::from(args.get(2).expect("DIR"));
    let tasks: u64 = args.get(3).map_or(1_000_000, |v| v.parse().expect("TASKS"));
    let batch: u64 = args.get(4).map_or(10_000, |v| v.parse().expect("BATCH"));
    if args.get(5).map(String::as_str) == Some("--scan-only") {
        let t = Instant::now();
        let db = open(&engine, &dir);
        let n = db.scan_tasks();
        println!(
            "{engine} reopen+scan {n} tasks: {:.2} s, RSS {:.0} MiB, peak {:.0} MiB",
            t.elapsed().as_secs_f64(),
            mib(status("VmRSS:")),
            mib(status("VmHWM:"))
        );
        return;
    }
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut db = open(&engine, &dir);
    let t = Instant::now();
    let mut i = 0;
    while i < tasks {
        let end = (i + batch).min(tasks);
        let b: Vec<_> = (i..end).flat_map(records).collect();
        db.write(b);
        i = end;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{engine} wrote {tasks} tasks in batches of {batch}: {secs:.1} s, peak RSS {:.0} MiB, RSS now {:.0} MiB",
        mib(status("VmHWM:")),
        mib(status("VmRSS:"))
    );
    drop(db);
    println!("{engine} on disk: {:.0} MiB", mib(du(&dir)));
    // the scan runs in a fresh process (the caller runs --scan-only), so its RSS is its own
}
