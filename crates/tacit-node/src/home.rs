//! Where a home is: `--home DIR`, else `TACIT_HOME`, else the platform's data directory.

use std::path::PathBuf;

use crate::error::NodeError;

/// The environment variable that names the home when `--home` is not given.
pub const HOME_ENV: &str = "TACIT_HOME";

/// The home directory: `explicit` if given, else `$TACIT_HOME`, else the platform data dir
/// (`~/.local/share/tacit` on Linux).
pub fn resolve_home(explicit: Option<PathBuf>) -> Result<PathBuf, NodeError> {
    if let Some(dir) = explicit {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "tacit")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| {
            NodeError::Home(format!(
                "cannot find a data directory for Tacit (no HOME?); pass --home DIR or set {HOME_ENV}"
            ))
        })
}
