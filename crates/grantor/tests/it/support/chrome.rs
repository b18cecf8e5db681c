//! A headless Chromium driven over WebDriver (chromedriver), for the tests of pages in a real
//! browser: each [`Chrome`] starts its own chromedriver on a free port, driving a Chromium with
//! a fresh profile; both end on drop. Without chromedriver or Chromium, [`Chrome::launch`]
//! says so and returns `None`, unless `CI` is set: there a missing browser is a failure.

use crate::support::ci;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(15);
/// The desktop window size, and the one a session starts with.
pub const DESKTOP: (u32, u32) = (1280, 900);

/// axe-core 4.14.1 from npm (MPL-2.0, licence header kept in the file), injected into pages.
const AXE: &str = include_str!("../vendor/axe.min.js");

/// A headless Chromium session and the chromedriver serving it; both end on drop.
pub struct Chrome {
    pub client: Client,
    _driver: Driver,
}

/// A chromedriver process, its log and the browser profile, in one temporary directory.
struct Driver {
    child: Child,
    port: u16,
    dir: PathBuf,
    session: Option<String>,
}

impl Chrome {
    /// Starts chromedriver and a headless Chromium, or returns `None` (outside CI) when either
    /// is not installed.
    pub async fn launch() -> Option<Chrome> {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
        let chrome_bin = std::env::var("CHROME_BIN").unwrap_or("/usr/bin/chromium".into());
        for bin in [&driver_bin, &chrome_bin] {
            if !Path::new(bin).exists() {
                let message = format!(
                    "{bin} not found: install chromium and chromium-driver, or set CHROMEDRIVER \
                     and CHROME_BIN"
                );
                assert!(!ci(), "{message} (CI is set, so browser tests must run)");
                eprintln!("{message}: browser test skipped");
                return None;
            }
        }

        let id = grantor_core::secret::new_id("").unwrap();
        let dir = std::env::temp_dir().join(format!("grantor-chrome-{}", &id[..16]));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("chromedriver.log");
        let port = free_port();
        let child = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e}"));
        let mut driver = Driver {
            child,
            port,
            dir,
            session: None,
        };
        driver.wait_until_ready().await;

        let profile = driver.dir.join("profile");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chrome_bin,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("no Chromium session: {e}\n{}", read_log(&log)));
        driver.session = client.session_id().await.unwrap();
        let chrome = Chrome {
            client,
            _driver: driver,
        };
        chrome.resize(DESKTOP).await;
        Some(chrome)
    }

    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.unwrap()
    }

    /// Waits until the browser is on a page whose address starts with `prefix`.
    pub async fn wait_for_url(&self, prefix: &str) -> url::Url {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if url.as_str().starts_with(prefix) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "still on {url}, expected {prefix}..."
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's main heading reads `expected`: after a click, the page being
    /// left may still be showing for a moment.
    pub async fn expect_heading(&self, expected: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let heading = match self.client.find(Locator::Css("h1")).await {
                Ok(h1) => h1.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if heading == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page's heading is {heading:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The element `locator` finds, once it appears. A look that a navigation interrupts
    /// (chromedriver's "aborted by navigation" while the next page loads) is tried again.
    pub async fn wait_for(&self, locator: Locator<'_>) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.client.wait().at_most(left).for_element(locator).await {
                Ok(element) => return element,
                Err(e) if Instant::now() >= deadline => panic!("{locator:?} never appeared: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The form control labelled `text`, found through its `<label for>` as a screen reader
    /// would.
    pub async fn field(&self, text: &str) -> Element {
        let xpath = format!("//label[normalize-space(.)='{text}']");
        let label = self.wait_for(Locator::XPath(&xpath)).await;
        let id = label
            .attr("for")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("label {text:?} names no control"));
        self.client.find(Locator::Id(&id)).await.unwrap()
    }

    /// The checkbox whose label mentions `text`.
    pub async fn checkbox(&self, text: &str) -> Element {
        let xpath = format!("//label[contains(., '{text}')]");
        let label = self.wait_for(Locator::XPath(&xpath)).await;
        let id = label.attr("for").await.unwrap().unwrap();
        self.client.find(Locator::Id(&id)).await.unwrap()
    }

    pub async fn button(&self, text: &str) -> Element {
        let xpath = format!("//button[normalize-space(.)='{text}']");
        self.wait_for(Locator::XPath(&xpath)).await
    }

    /// What has the keyboard focus: `input#id`, or `button "text"` for elements without an id.
    pub async fn focused(&self) -> String {
        let element = self.client.active_element().await.unwrap();
        describe(&element).await
    }

    /// Presses and releases one key on whatever has the focus.
    pub async fn press(&self, key: Key) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key.into() })
            .then(KeyAction::Up { value: key.into() });
        self.client.perform_actions(keys).await.unwrap();
    }

    pub async fn script(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.unwrap()
    }

    /// Signs in with the mouse: fills the labelled fields and clicks "Sign in".
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.expect_heading("Sign in").await;
        let field = self.field("Email").await;
        field.clear().await.unwrap();
        field.send_keys(email).await.unwrap();
        self.field("Password")
            .await
            .send_keys(password)
            .await
            .unwrap();
        self.button("Sign in").await.click().await.unwrap();
    }

    /// Asserts the page does not scroll sideways at the current window size.
    pub async fn assert_fits(&self, page: &str) {
        let sizes = self
            .script("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        let (scroll, inner) = (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap());
        assert!(
            scroll <= inner,
            "{page} scrolls sideways: {scroll}px of content in a {inner}px window"
        );
    }

    /// Saves a screenshot of the whole page (the window grown to the page's height) as
    /// `target/screenshots/<name>-<label>.png`.
    pub async fn screenshot(&self, name: &str, (width, height): (u32, u32), label: &str) {
        let sizes = self
            .script("return [document.documentElement.scrollHeight, window.innerHeight];")
            .await;
        let (content, inner) = (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap());
        let taller = u32::try_from(content.saturating_sub(inner)).unwrap();
        if taller > 0 {
            self.resize((width, height + taller)).await;
        }
        let png = self.client.screenshot().await.unwrap();
        if taller > 0 {
            self.resize((width, height)).await;
        }
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        // A name may hold a folder (`console/apps`).
        let path = screenshot_dir().join(format!("{name}-{label}.png"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, png).unwrap();
        eprintln!("saved {}", path.display());
    }

    pub async fn click_link(&self, text: &str) {
        let xpath = format!("//a[normalize-space(.)='{text}']");
        self.wait_for(Locator::XPath(&xpath))
            .await
            .click()
            .await
            .unwrap();
    }

    pub async fn click_button(&self, text: &str) {
        self.button(text).await.click().await.unwrap();
    }

    pub async fn text_of(&self, id: &str) -> String {
        self.wait_for(Locator::Id(id)).await.text().await.unwrap()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Runs axe-core on the page; returns the serious and critical violations, described.
    pub async fn axe(&self) -> Vec<String> {
        let loaded = self.script("return typeof window.axe === 'object';").await;
        if loaded != Value::Bool(true) {
            self.client
                .execute(&format!("{AXE}\nreturn true;"), vec![])
                .await
                .unwrap();
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(
                   r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                          v.nodes.map(n => n.target.join(' ')).join(', '))
                 ), e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(found).unwrap()
    }

    /// Asserts no table is laid out as a grid and nothing scrolls sideways inside itself: on
    /// a phone, list tables stack into label/value rows and long values wrap.
    pub async fn assert_stacked(&self, page: &str) {
        let found = self
            .script(
                "const grids = [...document.querySelectorAll('table')]
                   .filter(t => getComputedStyle(t).display === 'table')
                   .map(t => 'a table laid out as a grid: ' + t.querySelector('th, td').textContent);
                 const scrolling = [...document.querySelectorAll('body *')]
                   .filter(e => !e.matches('input, textarea, select'))
                   .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
                   .filter(e => e.scrollWidth > e.clientWidth)
                   .map(e => e.tagName.toLowerCase() + '.' + e.className + ' scrolls sideways: ' +
                             e.scrollWidth + 'px in ' + e.clientWidth + 'px');
                 return grids.concat(scrolling);",
            )
            .await;
        let found: Vec<String> = serde_json::from_value(found).unwrap();
        assert!(found.is_empty(), "{page}:\n{}", found.join("\n"));
    }

    /// Presses Tab (Shift-Tab when `back`) until `target`, as [`describe`] names it, has the
    /// focus; fails, saying what had it on the way, when the keyboard cannot get there.
    pub async fn tab_to(&self, target: &str, back: bool) {
        let mut passed = Vec::new();
        for _ in 0..40 {
            if back {
                let keys = KeyActions::new("keyboard".into())
                    .then(KeyAction::Down {
                        value: Key::Shift.into(),
                    })
                    .then(KeyAction::Down {
                        value: Key::Tab.into(),
                    })
                    .then(KeyAction::Up {
                        value: Key::Tab.into(),
                    })
                    .then(KeyAction::Up {
                        value: Key::Shift.into(),
                    });
                self.client.perform_actions(keys).await.unwrap();
            } else {
                self.press(Key::Tab).await;
            }
            let focused = self.focused().await;
            if focused == target {
                return;
            }
            passed.push(focused.chars().take(60).collect::<String>());
            if passed.len() > 2 && passed[passed.len() - 1] == passed[0] {
                break;
            }
        }
        panic!(
            "the keyboard never reaches {target}; {} went through {passed:?}",
            if back { "Shift-Tab" } else { "Tab" }
        );
    }

    /// Waits until `target`, as [`describe`] names it, has the focus.
    pub async fn expect_focus(&self, target: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let focused = self.focused().await;
            if focused == target {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{focused} has the focus, expected {target}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types into whatever has the focus.
    pub async fn type_here(&self, text: &str) {
        let focused = self.client.active_element().await.unwrap();
        focused.send_keys(text).await.unwrap();
    }

    /// Whether the focused checkbox or radio button is checked.
    pub async fn focused_is_checked(&self) -> bool {
        let focused = self.client.active_element().await.unwrap();
        focused.is_selected().await.unwrap()
    }
}

impl Driver {
    /// Polls chromedriver's status endpoint until it accepts sessions.
    async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::new();
        let status = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(resp) = http.get(&status).send().await
                && let Ok(body) = resp.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited ({exit}): {}",
                    read_log(&self.dir.join("chromedriver.log"))
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session quits Chromium; killing chromedriver alone would orphan it. This
        // runs during a panic too, so it speaks plain HTTP rather than through the async client.
        if let Some(session) = &self.session {
            let _ = delete_session(self.port, session);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn describe(element: &Element) -> String {
    let tag = element.tag_name().await.unwrap();
    match element.attr("id").await.unwrap() {
        Some(id) if !id.is_empty() => format!("{tag}#{id}"),
        _ => format!("{tag} {:?}", element.text().await.unwrap()),
    }
}

fn delete_session(port: u16, session: &str) -> std::io::Result<()> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            workspace.canonicalize().unwrap().join("target")
        });
    target.join("screenshots")
}
