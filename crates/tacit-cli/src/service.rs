//! `tacit serve --install-service`: a systemd user unit that runs this `tacit serve` (same
//! binary, home and options) at login and again if it stops, so that a machine can be an
//! always-on member of its spaces.
//!
//! The unit goes to `$XDG_CONFIG_HOME/systemd/user/tacit.service` (`~/.config/…`), then
//! `systemctl --user daemon-reload` and `enable --now` start it. Where systemd's user manager
//! cannot be reached (no login session, a container) the unit is still written and the command
//! says what to run. `TACIT_SYSTEMCTL` names another `systemctl` (tests point it at one that
//! fails, so that no test starts a service on the machine running it).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow};
use serde::Serialize;

/// The unit's file name.
pub const UNIT: &str = "tacit.service";

/// What the install did.
#[derive(Debug, Serialize)]
pub struct Installed {
    /// The unit file written.
    pub unit: PathBuf,
    /// Whether systemd enabled and started it.
    pub started: bool,
    /// What to do next, when it was not started.
    pub next: Option<String>,
}

/// The directory of systemd user units: `$XDG_CONFIG_HOME/systemd/user`, else
/// `$HOME/.config/systemd/user`.
fn unit_dir() -> Result<PathBuf> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
            .ok_or_else(|| {
                anyhow!("neither XDG_CONFIG_HOME nor HOME is set: cannot tell where user units go")
            })?,
    };
    Ok(config.join("systemd").join("user"))
}

/// One word of `ExecStart=`, quoted for systemd when it needs to be.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.,:=@+".contains(c));
    if plain {
        return arg.to_owned();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            // `$` and `%` are systemd's expansions; doubled, they are themselves.
            '$' => out.push_str("$$"),
            '%' => out.push_str("%%"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The unit's text: `exe` run with `args`.
pub fn unit_text(exe: &Path, args: &[String]) -> String {
    let mut exec = quote(&exe.to_string_lossy());
    for a in args {
        exec.push(' ');
        exec.push_str(&quote(a));
    }
    format!(
        "# Written by `tacit serve --install-service`; run it again to rewrite this file.\n\
         [Unit]\n\
         Description=Tacit: an always-on member of your spaces (tacit serve)\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exec}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    )
}

/// Writes the unit for `args` (the `tacit` arguments that serve) and asks systemd to enable and
/// start it.
pub fn install(args: &[String]) -> Result<Installed> {
    let exe = std::env::current_exe().context("cannot tell where this tacit binary is")?;
    let dir = unit_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let unit = dir.join(UNIT);
    let tmp = dir.join(format!(".{UNIT}.tmp"));
    std::fs::write(&tmp, unit_text(&exe, args))
        .and_then(|()| std::fs::rename(&tmp, &unit))
        .with_context(|| format!("cannot write {}", unit.display()))?;

    let systemctl = std::env::var_os("TACIT_SYSTEMCTL").unwrap_or_else(|| "systemctl".into());
    let run = |what: &[&str]| -> Result<(), String> {
        let out = Command::new(&systemctl)
            .arg("--user")
            .args(what)
            .output()
            .map_err(|e| format!("cannot run systemctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            Err(if err.is_empty() {
                format!(
                    "systemctl --user {} failed ({})",
                    what.join(" "),
                    out.status
                )
            } else {
                err
            })
        }
    };
    match run(&["daemon-reload"]).and_then(|()| run(&["enable", "--now", UNIT])) {
        Ok(()) => Ok(Installed {
            unit,
            started: true,
            next: None,
        }),
        Err(why) => Ok(Installed {
            unit,
            started: false,
            next: Some(format!(
                "systemd's user manager did not start it here ({why}). In your login session run: \
                 systemctl --user daemon-reload && systemctl --user enable --now {UNIT} \
                 (and `loginctl enable-linger $USER` to keep it serving while you are logged out)"
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start_quotes_what_systemd_would_split_or_expand() {
        let text = unit_text(
            Path::new("/usr/bin/tacit"),
            &[
                "--home".into(),
                "/home/ada/My Notes/$work 100%".into(),
                "serve".into(),
                "--listen".into(),
                "/ip4/0.0.0.0/tcp/4001".into(),
            ],
        );
        assert!(
            text.contains(
                "ExecStart=/usr/bin/tacit --home \"/home/ada/My Notes/$$work 100%%\" serve \
                 --listen /ip4/0.0.0.0/tcp/4001\n"
            ),
            "{text}"
        );
        assert!(text.contains("WantedBy=default.target"));
    }
}
