//! A database that is corrupt, or not Tacit's, gives a clear error naming it and is left
//! byte-for-byte unchanged — never replaced by a fresh one.

use tacit_tests::TestHome;

fn home_with_notes() -> TestHome {
    let home = TestHome::new();
    home.ok(&["init", "--name", "Ada"]);
    for i in 0..50 {
        let body = format!("note {i}\n{}", "some text ".repeat(200));
        home.ok(&[
            "note",
            "new",
            "--title",
            &format!("Note {i}"),
            "--body",
            &body,
        ]);
    }
    home
}

/// Runs commands that open the database and checks each fails clearly and changes nothing.
fn assert_refused_and_untouched(home: &TestHome, expect: &str) {
    let db = home.path().join("tacit.db");
    let before = std::fs::read(&db).expect("read db");
    for args in [
        vec!["note", "list"],
        vec!["note", "new", "--title", "must not be written"],
        vec!["status"],
        vec!["init"],
        vec!["serve"],
    ] {
        let err = home.fails(&args, 1);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(
            err.contains(&db.display().to_string()),
            "{args:?} names the file: {err}"
        );
        assert!(err.contains("untouched"), "{args:?}: {err}");
        let after = std::fs::read(&db).expect("read db");
        assert!(after == before, "{args:?} changed the database file");
    }
}

#[test]
fn a_corrupt_database_is_reported_and_left_unchanged() {
    let home = home_with_notes();
    let db = home.path().join("tacit.db");
    let mut bytes = std::fs::read(&db).expect("read");
    assert!(
        bytes.len() > 16 * 4096,
        "the database is large enough to corrupt in the middle"
    );
    // Garbage over everything after the first 4 KB: the file header is intact, the b-trees
    // (including the rest of the first page, the schema) are not.
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    std::fs::write(&db, &bytes).expect("write");
    assert_refused_and_untouched(&home, "corrupt");
}

#[test]
fn a_file_of_random_bytes_is_reported_and_left_unchanged() {
    let home = home_with_notes();
    let db = home.path().join("tacit.db");
    let len = std::fs::metadata(&db).expect("stat").len() as usize;
    let garbage: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&db, garbage).expect("write");
    assert_refused_and_untouched(&home, "not a Tacit database");
}

#[test]
fn another_programs_sqlite_database_is_left_unchanged() {
    let home = home_with_notes();
    let db = home.path().join("tacit.db");
    std::fs::remove_file(&db).expect("remove");
    let conn = rusqlite::Connection::open(&db).expect("create");
    conn.execute_batch("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);")
        .expect("fill");
    drop(conn);
    assert_refused_and_untouched(&home, "not a Tacit database");
}
