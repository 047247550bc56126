//! Measures what a start of `tacit` costs with a full home: opening a database of 10,000 notes
//! (~20 MB of chunks), listing them and counting them, and the cost of the checks `Store::open`
//! may run.
//!
//! Run: `cargo bench -p tacit-store --bench open_list` (prints figures; asserts nothing).

use std::path::Path;
use std::time::{Duration, Instant};

use tacit_core::{DocId, Kind, MemberId, SpaceId, Summary};
use tacit_store::{Chunk, DocWrite, ListFilter, Store};

/// Notes in the measured home.
const NOTES: usize = 10_000;
/// Bytes of chunk data per note: two fit a 4 KiB page, so 10,000 notes make ≈ 20 MB.
const CHUNK_BYTES: usize = 1900;
/// Notes per write transaction while filling.
const BATCH: usize = 500;
/// Repetitions of each measurement; the best is printed.
const RUNS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tacit.db");
    let space = fill(&path)?;
    let size = std::fs::metadata(&path)?.len();
    println!("database: {NOTES} notes, {:.1} MB", size as f64 / 1e6);

    let open = best(|| {
        Store::open(&path, false).map(drop)?;
        Ok(())
    })?;
    println!("Store::open (header, application id, quick_check): {open:?}");

    let store = Store::open(&path, false)?;
    let list = best(|| {
        let all = store.list(&ListFilter::default())?;
        assert_eq!(all.len(), NOTES);
        Ok(())
    })?;
    println!("list all {NOTES}: {list:?}");
    println!("open + list: {:?}", open + list);
    // What `status` reads (notes and questions, every space): the counts kept on write;
    // beside the same count within the space, which walks the rows of the index.
    let notes = ListFilter {
        kind: Some(Kind::Note),
        ..ListFilter::default()
    };
    let kept = best(|| {
        assert_eq!(store.count(&notes)?, NOTES as u64);
        Ok(())
    })?;
    let in_space = ListFilter {
        space: Some(space),
        ..notes.clone()
    };
    let walked = best(|| {
        assert_eq!(store.count(&in_space)?, NOTES as u64);
        Ok(())
    })?;
    println!(
        "count the notes, as status does (kept on write): {kept:?}; within their space (walks the index): {walked:?}"
    );
    drop(store);

    for sql in [
        "PRAGMA quick_check",
        "PRAGMA quick_check(docs)",
        "PRAGMA integrity_check",
    ] {
        let t = best(|| {
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            let ok: String = conn.query_row(sql, [], |r| r.get(0))?;
            assert_eq!(ok, "ok");
            Ok(())
        })?;
        println!("{sql} (fresh read-only connection): {t:?}");
    }
    Ok(())
}

fn best(
    mut f: impl FnMut() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

fn fill(path: &Path) -> Result<SpaceId, Box<dyn std::error::Error>> {
    let mut store = Store::open(path, true)?;
    let space = SpaceId::random();
    let author = MemberId::from_bytes([7; 32]);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut ids = (0..NOTES).map(|_| DocId::random());
    for batch in 0..NOTES / BATCH {
        let writes: Vec<DocWrite> = (0..BATCH)
            .map(|i| {
                let n = (batch * BATCH + i) as i64;
                let data = (0..CHUNK_BYTES)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state as u8
                    })
                    .collect();
                DocWrite {
                    heads: None,
                    id: ids.next().unwrap_or_else(DocId::random),
                    space,
                    summary: Summary {
                        kind: Kind::Note,
                        title: format!("note number {n} about something"),
                        tags: vec!["rust".into(), "storage".into()],
                        author,
                        created_at: 1_700_000_000_000 + n,
                        updated_at: 1_700_000_000_000 + n * 7 % 9973,
                        deleted: false,
                        deleted_at: None,
                        deleted_by: None,
                        answers: 0,
                        accepted: false,
                    },
                    chunk: Chunk::Snapshot(data),
                    sigs: Vec::new(),
                    writers: Vec::new(),
                    contributions: None,
                    blob_refs: None,
                }
            })
            .collect();
        store.write(&writes)?;
    }
    store.checkpoint()?;
    Ok(space)
}
