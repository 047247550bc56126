//! [`Home`]: the directory holding everything a node owns, locked by one process at a time.

use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tacit_core::DeviceKey;

use crate::error::StoreError;
use crate::store::Store;

/// How long opening waits on a lock held by nobody that has written a pid (see `Home::open`).
const PIDLESS_LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
/// The lock file: holds an advisory `flock` for the life of the owning process, and its pid.
const LOCK_FILE: &str = "tacit.lock";
/// The device key: exactly [`DeviceKey::SECRET_LEN`] raw secret bytes.
const KEY_FILE: &str = "device.key";
/// Where a new key is written before being renamed into place.
const KEY_TMP_FILE: &str = "device.key.tmp";
/// The database.
const DB_FILE: &str = "tacit.db";
/// The control socket.
const SOCKET_FILE: &str = "tacit.sock";

/// The control socket of the home at `dir`: the one place its path is made (the node binds
/// it, the CLI and the desktop app connect to it).
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET_FILE)
}
/// The home holds the device's secret key: only its owner may enter.
const HOME_MODE: u32 = 0o700;
/// The key file: readable and writable by its owner only.
const KEY_MODE: u32 = 0o600;
/// The lock file holds only a pid, but nobody else needs to open it.
const LOCK_MODE: u32 = 0o600;

/// Makes a home that group or others can read owner-only (0700), or refuses it. The home holds
/// the device key and every note; a mode that lets others in is a mistake to fix, not to use.
fn tighten(dir: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(dir).map_err(StoreError::io(dir))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    match fs::set_permissions(dir, fs::Permissions::from_mode(HOME_MODE)) {
        Ok(()) => {
            tracing::warn!(
                home = %dir.display(),
                "the home's permissions {mode:o} let others in; tightened to 700"
            );
            Ok(())
        }
        Err(e) => Err(StoreError::Home(format!(
            "the home {} has permissions {mode:o}, which let others read it, and they cannot be tightened ({e}); run `chmod 700 {}`",
            dir.display(),
            dir.display()
        ))),
    }
}

/// A home directory, locked for this process while the value lives.
#[derive(Debug)]
pub struct Home {
    dir: PathBuf,
    lock: File,
}

impl Home {
    /// Opens the home at `dir` and takes its lock.
    ///
    /// With `create`, makes the directory (mode 0700) if missing. Without it, a missing
    /// directory, key or database is [`StoreError::NotInitialised`] and nothing is created.
    /// A home locked by a live process is [`StoreError::InUse`]; a lock left by a dead one is
    /// released by the kernel and never blocks.
    pub fn open(dir: &Path, create: bool) -> Result<Home, StoreError> {
        if create {
            DirBuilder::new()
                .recursive(true)
                .mode(HOME_MODE)
                .create(dir)
                .map_err(StoreError::io(dir))?;
        } else {
            for required in [dir.to_path_buf(), dir.join(KEY_FILE), dir.join(DB_FILE)] {
                match fs::metadata(&required) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(StoreError::NotInitialised {
                            dir: dir.to_path_buf(),
                        });
                    }
                    Err(e) => return Err(StoreError::io(&required)(e)),
                }
            }
        }

        tighten(dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(LOCK_MODE)
            .open(&lock_path)
            .map_err(StoreError::io(&lock_path))?;
        let start = std::time::Instant::now();
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let pid = read_pid(&lock);
                    // Held with no pid written: a holder between locking and writing its pid,
                    // or a released lock still shared by a child this process was forking
                    // (the descriptor lives in the child until its exec). Both pass quickly.
                    if pid.is_none() && start.elapsed() < PIDLESS_LOCK_WAIT {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        continue;
                    }
                    return Err(StoreError::InUse {
                        dir: dir.to_path_buf(),
                        pid,
                    });
                }
                Err(TryLockError::Error(e)) => return Err(StoreError::io(&lock_path)(e)),
            }
        }
        lock.set_len(0).map_err(StoreError::io(&lock_path))?;
        lock.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0)
            .map_err(StoreError::io(&lock_path))?;
        Ok(Home {
            dir: dir.to_path_buf(),
            lock,
        })
    }

    /// The home directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The control socket's path (the node binds it).
    pub fn socket_path(&self) -> PathBuf {
        socket_path(&self.dir)
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// Loads the device key. It must be exactly 32 bytes, readable by its owner only.
    pub fn load_key(&self) -> Result<DeviceKey, StoreError> {
        let path = self.key_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotInitialised {
                    dir: self.dir.clone(),
                });
            }
            Err(e) => return Err(StoreError::io(&path)(e)),
        };
        let bad = |detail: String| StoreError::BadKey {
            path: path.clone(),
            detail,
        };
        let meta = file.metadata().map_err(StoreError::io(&path))?;
        if !meta.is_file() {
            return Err(bad("it is not a regular file".into()));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & !KEY_MODE != 0 {
            return Err(bad(format!(
                "its permissions {mode:o} let others read it; run `chmod 600 {}`",
                path.display()
            )));
        }
        // One byte more than a key, so that a longer file is seen without reading it all.
        let mut bytes = Vec::with_capacity(DeviceKey::SECRET_LEN + 1);
        file.take(DeviceKey::SECRET_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(StoreError::io(&path))?;
        let secret: [u8; DeviceKey::SECRET_LEN] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!(
                "it holds {} bytes, not {}; restore it from a backup, or move it aside and run `tacit init` for a new identity",
                meta.len(),
                DeviceKey::SECRET_LEN
            ))
        })?;
        Ok(DeviceKey::from_secret(secret))
    }

    /// Creates the device key if there is none: returns the key and whether it was created.
    /// The file is written whole (temporary file with mode 0600, fsync, rename, fsync of the
    /// directory), so a crash leaves either no key or the complete one.
    pub fn init_key(&self) -> Result<(DeviceKey, bool), StoreError> {
        let path = self.key_path();
        match fs::symlink_metadata(&path) {
            Ok(_) => return Ok((self.load_key()?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&path)(e)),
        }
        let key = DeviceKey::generate();
        let tmp = self.dir.join(KEY_TMP_FILE);
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&tmp)(e)),
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(KEY_MODE)
            .open(&tmp)
            .map_err(StoreError::io(&tmp))?;
        file.write_all(&key.secret())
            .map_err(StoreError::io(&tmp))?;
        file.sync_all().map_err(StoreError::io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(StoreError::io(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(StoreError::io(&self.dir))?;
        Ok((key, true))
    }

    /// Opens the home's database; with `create`, creates it if missing.
    pub fn open_store(&self, create: bool) -> Result<Store, StoreError> {
        let path = self.dir.join(DB_FILE);
        if create {
            // An empty file is a fresh database; creating it here gives it, and the -wal and
            // -shm files SQLite copies its mode to, owner-only permissions whatever the umask.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io(&path)(e)),
            }
        }
        Store::open(&path, create)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // Still locked here: nobody else can be writing the file. Best effort: a stale pid in an
        // unlocked file is harmless.
        let _ = self.lock.set_len(0);
    }
}

/// The pid the lock holder wrote, if it is readable yet.
fn read_pid(lock: &File) -> Option<u32> {
    let mut buf = [0u8; 32];
    let n = lock.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}
