//! A real browser for the tests: Debian's headless Chromium driven over WebDriver (`fantoccini`)
//! through its own `chromedriver` on a free loopback port, with a fresh profile.
//!
//! Each [`Browser`] has its own chromedriver process and its own temp profile, so tests may run
//! in parallel. Chromium runs with [`CHROMIUM_ARGS`]: headless, no sandbox (we run as root), and
//! no background networking (the machine's network is closed). Missing binaries are an error
//! that says to run `infra/scripts/browser.sh --install-only`; nothing is ever skipped.
//!
//! Waits poll with a generous [`WAIT`]: running out of it is an error naming what was awaited,
//! never a pass condition.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub use fantoccini::cookies::Cookie;

/// Debian's Chromium (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Chromium's flags besides `--user-data-dir`: headless, as root, on a closed network.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];
/// How long a wait polls before it fails, unless [`Browser::set_wait`] says otherwise.
pub const WAIT: Duration = Duration::from_secs(30);
/// How long chromedriver has to answer after it starts.
const DRIVER_START: Duration = Duration::from_secs(30);
/// Between two polls of a wait.
const POLL: Duration = Duration::from_millis(100);

/// A window size in CSS pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewport {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// A desktop window.
pub const DESKTOP: Viewport = Viewport {
    width: 1280,
    height: 900,
};
/// A phone's screen (an iPhone 12 to 15 in portrait).
pub const PHONE: Viewport = Viewport {
    width: 390,
    height: 844,
};

/// What went wrong driving the browser. Its `Debug` is its message, so that a test's
/// `unwrap()` or `expect()` says what to do.
#[derive(thiserror::Error)]
pub enum BrowserError {
    /// Chromium or ChromeDriver is not installed.
    #[error("{0} is missing: run infra/scripts/browser.sh --install-only")]
    Missing(&'static str),
    /// A local file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// ChromeDriver exited or did not answer in time.
    #[error("chromedriver did not start: {reason}; its log: {log}")]
    Driver {
        /// Why.
        reason: String,
        /// The end of its log.
        log: String,
    },
    /// ChromeDriver could not open a Chromium session.
    #[error("cannot open a Chromium session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    /// A WebDriver command failed.
    #[error("{what}: {source}")]
    Command {
        /// The command.
        what: String,
        /// The cause.
        source: fantoccini::error::CmdError,
    },
    /// A wait ran out of time.
    #[error("waited {0:?} in vain for {1}")]
    Timeout(Duration, String),
}

impl std::fmt::Debug for BrowserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Result of the browser helpers.
pub type Result<T, E = BrowserError> = std::result::Result<T, E>;

fn command(what: impl Into<String>) -> impl FnOnce(fantoccini::error::CmdError) -> BrowserError {
    let what = what.into();
    move |source| BrowserError::Command { what, source }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrowserError {
    let what = what.into();
    move |source| BrowserError::Io { what, source }
}

/// A headless Chromium session with its own chromedriver and profile; both end on drop.
pub struct Browser {
    client: Client,
    session: Option<String>,
    wait: Duration,
    driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port, waits until it answers, and opens a headless
    /// Chromium session on a fresh profile, in a [`DESKTOP`] window.
    pub async fn start() -> Result<Self> {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(binary).is_file() {
                return Err(BrowserError::Missing(binary));
            }
        }
        let profile = tempfile::Builder::new()
            .prefix("browser-profile-")
            .tempdir()
            .map_err(io("create a temp profile"))?;
        let driver = Driver::start(&profile.path().join("chromedriver.log")).await?;
        let data_dir = profile.path().join("chromium");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", data_dir.display()));
        args.push(format!(
            "--window-size={},{}",
            DESKTOP.width, DESKTOP.height
        ));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await?;
        let session = client
            .session_id()
            .await
            .map_err(command("read the session id"))?;
        let browser = Self {
            client,
            session,
            wait: WAIT,
            driver,
            _profile: profile,
        };
        browser.set_window(DESKTOP).await?;
        Ok(browser)
    }

    /// How long the waits poll before they fail (a generous [`WAIT`] unless set); a test that
    /// expects a wait to fail may shorten it.
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// The WebDriver client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client
            .goto(url)
            .await
            .map_err(command(format!("open {url}")))
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> Result<String> {
        self.client.title().await.map_err(command("read the title"))
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(self.wait)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
            .map_err(|error| match error {
                fantoccini::error::CmdError::WaitTimeout => {
                    BrowserError::Timeout(self.wait, format!("an element matching `{css}`"))
                }
                source => BrowserError::Command {
                    what: format!("find `{css}`"),
                    source,
                },
            })
    }

    /// Waits until an element matches `css`.
    pub async fn wait_for(&self, css: &str) -> Result<()> {
        self.find(css).await.map(drop)
    }

    /// Waits until the first element matching `css` has `text` in its rendered text, and returns
    /// that text.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> Result<String> {
        let deadline = Instant::now() + self.wait;
        let mut last = None;
        loop {
            // A page that is navigating away detaches what was just found: that is "not yet".
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(seen) = element.text().await
            {
                if seen.contains(text) {
                    return Ok(seen);
                }
                last = Some(seen);
            }
            if Instant::now() >= deadline {
                let seen = last.map_or("no such element".to_owned(), |s| format!("text {s:?}"));
                return Err(BrowserError::Timeout(
                    self.wait,
                    format!("{text:?} in `{css}` (last seen: {seen})"),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The rendered text of the first element matching `css` (waiting for it).
    pub async fn text_of(&self, css: &str) -> Result<String> {
        self.find(css)
            .await?
            .text()
            .await
            .map_err(command(format!("read the text of `{css}`")))
    }

    /// Clicks the first element matching `css` (waiting for it).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.find(css)
            .await?
            .click()
            .await
            .map_err(command(format!("click `{css}`")))
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let field = self.find(css).await?;
        field
            .clear()
            .await
            .map_err(command(format!("clear `{css}`")))?;
        field
            .send_keys(text)
            .await
            .map_err(command(format!("type into `{css}`")))
    }

    /// Submits the form matching `css` as its submit button would.
    pub async fn submit(&self, css: &str) -> Result<()> {
        self.wait_for(css).await?;
        let form = self
            .client
            .form(Locator::Css(css))
            .await
            .map_err(command(format!("find the form `{css}`")))?;
        form.submit()
            .await
            .map_err(command(format!("submit `{css}`")))
    }

    /// The cookies the browser holds for the current page.
    pub async fn cookies(&self) -> Result<Vec<Cookie<'static>>> {
        self.client
            .get_all_cookies()
            .await
            .map_err(command("read the cookies"))
    }

    /// Resizes the window so that the page's viewport is `viewport` (e.g. [`DESKTOP`] or
    /// [`PHONE`]): Chromium's window is larger than its viewport by its (invisible) frame, so
    /// the window is grown by the difference.
    pub async fn set_window(&self, viewport: Viewport) -> Result<()> {
        self.resize(viewport).await?;
        let inner = self.inner_size().await?;
        if inner != viewport {
            let grow = |want: u32, got: u32| (2 * want).saturating_sub(got);
            self.resize(Viewport {
                width: grow(viewport.width, inner.width),
                height: grow(viewport.height, inner.height),
            })
            .await?;
        }
        Ok(())
    }

    async fn resize(&self, window: Viewport) -> Result<()> {
        self.client
            .set_window_size(window.width, window.height)
            .await
            .map_err(command(format!("resize the window to {window:?}")))
    }

    /// The page's layout viewport (`window.innerWidth`, `window.innerHeight`).
    pub async fn inner_size(&self) -> Result<Viewport> {
        let size = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .map_err(command("read the window's inner size"))?;
        let dimension = |i: usize| size[i].as_u64().unwrap_or(0) as u32;
        Ok(Viewport {
            width: dimension(0),
            height: dimension(1),
        })
    }

    /// Writes a PNG screenshot of the window to `path`.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let path = path.as_ref().to_path_buf();
        let png = self
            .client
            .screenshot()
            .await
            .map_err(command("take a screenshot"))?;
        std::fs::write(&path, png).map_err(io(format!("write {}", path.display())))?;
        Ok(path)
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(mut self) -> Result<()> {
        self.session = None;
        self.client
            .clone()
            .close()
            .await
            .map_err(command("close the session"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Not closed: ask chromedriver to quit Chromium before it is killed itself.
        if let Some(session) = self.session.take() {
            self.driver.delete_session(&session);
        }
    }
}

/// A chromedriver process of our own, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver on a free port (another if that one was taken meanwhile) and waits
    /// until it says it is ready.
    async fn start(log: &Path) -> Result<Self> {
        let mut reason = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let log_file = std::fs::File::create(log).map_err(io("create the driver log"))?;
            let stderr = log_file.try_clone().map_err(io("open the driver log"))?;
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(stderr)
                .spawn()
                .map_err(io(format!("spawn {CHROMEDRIVER}")))?;
            let mut driver = Self { child, port };
            match driver.wait_ready().await {
                Ok(()) => return Ok(driver),
                Err(why) => reason = why,
            }
        }
        Err(BrowserError::Driver {
            reason,
            log: tail(log),
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let status = format!("{}/status", self.url());
        let http = reqwest::Client::new();
        let deadline = Instant::now() + DRIVER_START;
        loop {
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Err(format!("it exited ({exit})"));
            }
            if let Ok(answer) = http.get(&status).send().await
                && let Ok(body) = answer.json::<serde_json::Value>().await
                && body["value"]["ready"] == true
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no ready answer on {status} within {DRIVER_START:?}"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `DELETE /session/{id}`, blocking (from `Drop`): chromedriver quits Chromium and answers.
    fn delete_session(&self, session: &str) {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(WAIT));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            read_response(&mut stream);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one HTTP/1.1 response to its end (its `Content-Length`): chromedriver may keep the
/// connection open after it.
fn read_response(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
    }
}

fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("find a free loopback port"))?;
    let port = listener
        .local_addr()
        .map_err(io("read the free port"))?
        .port();
    Ok(port)
}

/// The last lines of a log, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
