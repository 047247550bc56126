//! Where the app's windows may go: their own pages, and nowhere else.
//!
//! A note is written by any member of a space, and whatever in it a click can follow (a link,
//! an image map's area, a middle click, the webview's "Open Link") must not take a window, with
//! its access to the app's commands, to a page of theirs. The preview cancels such clicks
//! (`Markdown.svelte`) and the sanitiser drops image maps (`markdown.ts`); this rule, set on
//! every window, refuses any navigation that starts anyway, whatever started it. A window that
//! asks for a new window gets none: no window sets a handler for that, so WebKitGTK opens
//! nothing.

use tauri::Url;
use tauri::utils::config::{Config, FrontendDist};
use tracing::warn;

/// The longest part of a refused URL the log shows (the URL is a member's).
const LOGGED_URL_MAX: usize = 200;

/// Where a page is served from: scheme, host and port (`tauri://localhost` has no port).
/// Not [`Url::origin`], which makes every `tauri:` URL an opaque origin equal to no other.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: Option<String>,
    port: Option<u16>,
}

impl Origin {
    fn of(url: &Url) -> Origin {
        Origin {
            scheme: url.scheme().to_ascii_lowercase(),
            host: url.host_str().map(str::to_ascii_lowercase),
            port: url.port_or_known_default(),
        }
    }
}

/// The origins of the app's own pages: what a window may navigate to.
#[derive(Debug, Clone)]
pub struct Navigation {
    allowed: Vec<Origin>,
}

impl Navigation {
    /// The rule for this build: the embedded UI's origin, and the dev server's (`devUrl`) in a
    /// dev build (one without `custom-protocol`) when the config names one.
    pub fn for_app(config: &Config) -> Navigation {
        Navigation::new(config, tauri::is_dev())
    }

    fn new(config: &Config, dev: bool) -> Navigation {
        // As Tauri serves `WebviewUrl::App` (its `protocol::origin`): `tauri://localhost`, or on
        // Windows and Android its stand-in `http(s)://tauri.localhost`.
        let embedded: &[&str] = if cfg!(any(windows, target_os = "android")) {
            &["http://tauri.localhost", "https://tauri.localhost"]
        } else {
            &["tauri://localhost"]
        };
        let mut allowed: Vec<Origin> = embedded
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|u| Origin::of(&u))
            .collect();
        let served = if dev {
            config.build.dev_url.as_ref()
        } else {
            match &config.build.frontend_dist {
                Some(FrontendDist::Url(url)) => Some(url),
                _ => None,
            }
        };
        allowed.extend(served.map(Origin::of));
        Navigation { allowed }
    }

    /// Whether a window may navigate to `url`.
    pub fn allows(&self, url: &Url) -> bool {
        self.allowed.contains(&Origin::of(url))
    }

    /// The handler for `WebviewWindowBuilder::on_navigation` of the window `label`: refuses and
    /// logs any navigation away from the app.
    pub fn handler(self, label: &'static str) -> impl Fn(&Url) -> bool + Send + 'static {
        move |url| {
            let allowed = self.allows(url);
            if !allowed {
                let shown: String = url.as_str().chars().take(LOGGED_URL_MAX).collect();
                warn!(
                    window = label,
                    "refused to leave the app for {shown} (Tacit never opens pages in its windows)"
                );
            }
            allowed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_window_stays_on_the_apps_own_pages() {
        let nav = Navigation::new(&Config::default(), false);
        if cfg!(any(windows, target_os = "android")) {
            assert!(nav.allows(&url("http://tauri.localhost/index.html")));
        } else {
            assert!(nav.allows(&url("tauri://localhost/index.html")));
            assert!(nav.allows(&url("tauri://localhost/index.html#capture")));
            assert!(nav.allows(&url("tauri://LOCALHOST/")));
            assert!(!nav.allows(&url("http://tauri.localhost/index.html")));
        }
        for away in [
            "https://evil.example/",
            "http://localhost:5173/",
            "tauri://evil.example/",
            "file:///etc/passwd",
            "data:text/html,<script>1</script>",
            "javascript:alert(1)",
            "about:blank",
            "ipc://localhost/execute",
        ] {
            assert!(!nav.allows(&url(away)), "{away}");
        }
    }

    #[test]
    fn the_dev_server_is_allowed_only_in_a_dev_build() {
        let mut config = Config::default();
        config.build.dev_url = Some(url("http://localhost:5173"));
        let dev = Navigation::new(&config, true);
        assert!(dev.allows(&url("http://localhost:5173/index.html")));
        assert!(!dev.allows(&url("http://localhost:5174/")));
        assert!(!dev.allows(&url("https://localhost:5173/")));
        assert!(!dev.allows(&url("http://evil.example:5173/")));
        let built = Navigation::new(&config, false);
        assert!(!built.allows(&url("http://localhost:5173/index.html")));
    }

    #[test]
    fn the_handler_refuses_what_the_rule_refuses() {
        let handler = Navigation::new(&Config::default(), false).handler("main");
        assert!(!handler(&url("https://evil.example/")));
        if !cfg!(any(windows, target_os = "android")) {
            assert!(handler(&url("tauri://localhost/index.html")));
        }
    }
}
