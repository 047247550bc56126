//! The home directory: creation, the lock, the device key.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{Home, StoreError};

/// Set in the environment of a child test process: the home it must lock.
const HOLDER_ENV: &str = "TACIT_STORE_TEST_LOCK_HOLDER";
/// What the child prints once it holds the lock.
const HOLDING: &str = "holding the lock";
/// How long the child holds the lock if nobody kills it.
const HOLDER_LIFETIME: Duration = Duration::from_secs(60);

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An initialised home, closed.
fn initialised(dir: &Path) {
    let home = Home::open(dir, true).unwrap();
    home.init_key().unwrap();
    home.open_store(true).unwrap();
}

#[test]
fn init_creates_a_private_home_that_opens_again() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a").join("home");
    initialised(&dir);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("device.key")), 0o600);
    assert_eq!(
        mode(&dir.join("tacit.db")),
        0o600,
        "notes are private, whatever the umask"
    );
    let home = Home::open(&dir, false).unwrap();
    let store = home.open_store(false).unwrap();
    assert_eq!(mode(&dir.join("tacit.db-wal")), 0o600);
    drop(store);
    assert_eq!(home.dir(), dir);
    assert_eq!(home.socket_path(), dir.join("tacit.sock"));
    home.open_store(false).unwrap();
}

#[test]
fn opening_a_missing_home_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nope");
    let err = Home::open(&missing, false).unwrap_err();
    assert!(matches!(err, StoreError::NotInitialised { .. }), "{err:?}");
    assert!(err.to_string().contains("run `tacit init`"), "{err}");
    assert!(!missing.exists());

    // A directory without key or database: still nothing created in it.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("device.key"), [1u8; 32]).unwrap();
    let before = listing(&empty);
    let err = Home::open(&empty, false).unwrap_err();
    assert!(matches!(err, StoreError::NotInitialised { .. }), "{err:?}");
    assert_eq!(listing(&empty), before);
    assert_eq!(listing(root.path()), vec!["empty".to_owned()]);
}

#[test]
fn a_home_open_in_this_process_is_in_use_with_our_pid() {
    let root = tempfile::tempdir().unwrap();
    let first = Home::open(root.path(), true).unwrap();
    match Home::open(root.path(), true) {
        Err(e @ StoreError::InUse { .. }) => {
            let StoreError::InUse { pid, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*pid, Some(std::process::id()));
            let text = e.to_string();
            assert!(
                text.contains(&format!("(pid {})", std::process::id())),
                "{text}"
            );
            assert!(text.contains("stop it or pass --home"), "{text}");
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    drop(first);
    Home::open(root.path(), true).unwrap();
}

/// Not a test on its own: run by `a_lock_held_by_a_killed_process_does_not_block` in a child
/// process, where it locks the home named by [`HOLDER_ENV`] and waits to be killed.
#[test]
#[ignore = "helper process for a_lock_held_by_a_killed_process_does_not_block"]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(HOLDER_ENV) else {
        return;
    };
    let _home = Home::open(Path::new(&dir), false).unwrap();
    println!("{HOLDING}");
    std::thread::sleep(HOLDER_LIFETIME);
}

#[test]
fn a_lock_held_by_a_killed_process_does_not_block() {
    use std::io::BufRead;

    let root = tempfile::tempdir().unwrap();
    initialised(root.path());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::home::lock_holder_child",
            "--ignored",
            "--nocapture",
        ])
        .env(HOLDER_ENV, root.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The child prints the test harness's lines, then ours; EOF means it failed.
    let held = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(HOLDING));
    if !held {
        let _ = child.kill();
        panic!("the child process exited without taking the lock");
    }

    match Home::open(root.path(), false) {
        Err(StoreError::InUse { pid, .. }) => assert_eq!(pid, Some(child.id())),
        other => {
            let _ = child.kill();
            panic!("expected InUse while the child holds the lock, got {other:?}");
        }
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up.
    child.wait().unwrap();
    let home = Home::open(root.path(), false).unwrap();
    home.load_key().unwrap();
}

#[test]
fn init_key_creates_once_and_load_key_reads_it() {
    let root = tempfile::tempdir().unwrap();
    let home = Home::open(root.path(), true).unwrap();
    assert!(matches!(
        home.load_key(),
        Err(StoreError::NotInitialised { .. })
    ));
    let (key, created) = home.init_key().unwrap();
    assert!(created);
    let path = root.path().join("device.key");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read(&path).unwrap(), key.secret());
    let (again, created) = home.init_key().unwrap();
    assert!(!created);
    assert_eq!(again.member_id(), key.member_id());
    assert_eq!(home.load_key().unwrap().member_id(), key.member_id());
    assert!(!root.path().join("device.key.tmp").exists());
}

#[test]
fn a_key_of_the_wrong_size_or_too_open_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let home = Home::open(root.path(), true).unwrap();
    let path = root.path().join("device.key");
    for len in [0, 31, 33, 64] {
        std::fs::write(&path, vec![9u8; len]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        match home.load_key() {
            Err(e @ StoreError::BadKey { .. }) => {
                assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            }
            other => panic!("{len} bytes: expected BadKey, got {other:?}"),
        }
        assert!(matches!(home.init_key(), Err(StoreError::BadKey { .. })));
        assert_eq!(
            std::fs::read(&path).unwrap().len(),
            len,
            "init_key kept the file"
        );
    }
    std::fs::write(&path, [9u8; 32]).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    match home.load_key() {
        Err(e @ StoreError::BadKey { .. }) => {
            assert!(
                e.to_string()
                    .contains(&format!("chmod 600 {}", path.display())),
                "{e}"
            );
        }
        other => panic!("expected BadKey for mode 0644, got {other:?}"),
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    home.load_key().unwrap();
}

#[test]
fn a_home_others_can_read_is_tightened_when_opened() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("home");
    initialised(&dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = Home::open(&dir, false).unwrap();
    assert_eq!(mode(&dir), 0o700);
    drop(home);
    // Created by `init` in a directory made readable by others before: tightened too.
    let loose = root.path().join("loose");
    std::fs::create_dir(&loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o775)).unwrap();
    initialised(&loose);
    assert_eq!(mode(&loose), 0o700);
}
