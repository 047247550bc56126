//! Opening databases that are not what they should be: each is reported and left untouched.

use std::path::Path;

use rusqlite::Connection;

use super::filled_db;
use crate::schema::{APPLICATION_ID, SCHEMA_VERSION, quick_check};
use crate::{Store, StoreError};

/// Opens `path` (both with and without `create`) expecting an error, and checks that the file
/// is byte-for-byte what it was.
fn refused(path: &Path) -> Vec<StoreError> {
    let before = std::fs::read(path).unwrap();
    let errors = [false, true]
        .into_iter()
        .map(|create| match Store::open(path, create) {
            Ok(_) => panic!("{} opened (create={create})", path.display()),
            Err(e) => {
                assert!(
                    e.to_string().contains(&path.display().to_string()),
                    "the error names the file: {e}"
                );
                e
            }
        })
        .collect();
    assert!(
        std::fs::read(path).unwrap() == before,
        "{} was modified",
        path.display()
    );
    errors
}

#[test]
fn a_new_database_has_our_application_id_and_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacit.db");
    drop(Store::open(&path, true).unwrap());
    let conn = Connection::open(&path).unwrap();
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(
        (app, version, mode.as_str()),
        (APPLICATION_ID, SCHEMA_VERSION, "wal")
    );
}

#[test]
fn an_empty_file_is_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacit.db");
    std::fs::write(&path, b"").unwrap();
    let store = Store::open(&path, false).unwrap();
    assert_eq!(store.stats().unwrap().documents, 0);
}

#[test]
fn a_missing_database_without_create_is_not_initialised_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacit.db");
    let err = Store::open(&path, false).unwrap_err();
    assert!(matches!(err, StoreError::NotInitialised { .. }), "{err:?}");
    assert!(err.to_string().contains("run `tacit init`"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn garbage_in_the_middle_of_a_database_is_corrupt_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_db(dir.path(), 300);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.len() > 40 * 4096,
        "the database is large enough: {}",
        bytes.len()
    );
    let middle = bytes.len() / 2;
    for (i, b) in bytes[middle..middle + 3 * 4096].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    for err in refused(&path) {
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("left untouched"), "{err}");
    }
}

#[test]
fn a_damaged_first_page_is_corrupt_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_db(dir.path(), 20);
    let mut bytes = std::fs::read(&path).unwrap();
    // Keep the 16-byte magic, break the page size and everything after it in the header.
    for b in &mut bytes[16..100] {
        *b = 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    for err in refused(&path) {
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
}

#[test]
fn a_file_of_random_bytes_is_foreign_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacit.db");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..50_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    for err in refused(&path) {
        assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
    }
    std::fs::write(&path, b"SQLite").unwrap();
    for err in refused(&path) {
        assert!(
            matches!(err, StoreError::Foreign { .. }),
            "a short file: {err:?}"
        );
    }
}

#[test]
fn another_applications_sqlite_database_is_foreign_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacit.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);
         INSERT INTO invoices (total) VALUES (12.5), (99.0);",
    )
    .unwrap();
    drop(conn);
    for err in refused(&path) {
        assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
        assert!(err.to_string().contains("not a Tacit database"), "{err}");
    }
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_db(dir.path(), 3);
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    for err in refused(&path) {
        match err {
            StoreError::NewerSchema {
                found, supported, ..
            } => assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION)),
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }
}

#[test]
fn older_and_empty_databases_are_migrated_to_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    // Version 0 with our id, and an empty SQLite database as left by a crash between creating
    // the file and committing the first migration.
    for (name, app_id) in [("old.db", APPLICATION_ID), ("empty.db", 0)] {
        let path = dir.path().join(name);
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "application_id", app_id).unwrap();
        drop(conn);
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        let store = Store::open(&path, false).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION, "{name}");
        assert_eq!(store.stats().unwrap().documents, 0);
    }
}

#[test]
fn corruption_found_after_opening_maps_to_corrupt() {
    let e = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        None,
    );
    let err = StoreError::sqlite(Path::new("/h/tacit.db"), e);
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let e =
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
    let err = StoreError::sqlite(Path::new("/h/tacit.db"), e);
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
}

#[test]
fn the_metadata_only_check_runs_on_a_good_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_db(dir.path(), 5);
    let conn =
        Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    quick_check(&conn, &path, false).unwrap();
    quick_check(&conn, &path, true).unwrap();
}

#[test]
fn a_database_whose_changes_are_still_in_the_wal_opens_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tacit.db");
    let mut store = Store::open(&path, true).unwrap();
    let (id, _) = super::add_note(&mut store, tacit_core::SpaceId::random(), "in the log", 1);
    // As after kill -9: the connection never closes, nothing is checkpointed.
    std::mem::forget(store);
    assert!(
        std::fs::metadata(dir.path().join("tacit.db-wal"))
            .unwrap()
            .len()
            > 0
    );
    let store = Store::open(&path, false).unwrap();
    assert_eq!(store.get(id).unwrap().unwrap().summary.title, "in the log");
}
