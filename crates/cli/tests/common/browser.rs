//! A WebDriver harness for the portal's browser tests: ChromeDriver started on a free port,
//! headless Chromium the size of a phone (one browser per person a test plays, each with its
//! own cookies), the pages the tests visit checked to fit the phone's screen and against
//! axe-core's accessibility rules, and a screenshot with the page source of each failed step.
//!
//! The browser tests run when `ERRANDLESS_TEST_CHROMEDRIVER` names the chromedriver binary
//! (`ERRANDLESS_TEST_CHROMIUM` names the browser, `/usr/bin/chromium` by default);
//! `ERRANDLESS_TEST_AXE` names axe-core's `axe.min.js` for the accessibility checks. Without
//! the first they say they were skipped; with it, anything missing fails them.
//!
//! The calls are blocking: each one runs the WebDriver command on the browser's own
//! single-threaded runtime, so a test reads as the steps a person takes.

#![allow(dead_code)] // each test uses only some of these

use std::fmt::Write as _;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// The browser used when `ERRANDLESS_TEST_CHROMIUM` is not set.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// The axe-core rule sets checked: WCAG 2.0 and 2.1, levels A and AA.
const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// What the browser tests need from the environment.
pub struct Setup {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
    /// axe-core's source, when the accessibility checks are asked for.
    pub axe: Option<String>,
}

impl Setup {
    /// What the environment names, or `None` after saying the tests were skipped when it
    /// names no chromedriver. Panics when it names a driver, a browser or axe-core that is not
    /// there: a test that was asked for never skips silently.
    pub fn from_env() -> Option<Setup> {
        let Some(driver) = non_empty_var("ERRANDLESS_TEST_CHROMEDRIVER") else {
            println!("skipped: set ERRANDLESS_TEST_CHROMEDRIVER to run the browser tests");
            return None;
        };
        let chromedriver = executable(&driver).unwrap_or_else(|| {
            panic!("ERRANDLESS_TEST_CHROMEDRIVER={driver:?}: no such executable")
        });
        let chromium = match non_empty_var("ERRANDLESS_TEST_CHROMIUM") {
            Some(c) => executable(&c)
                .unwrap_or_else(|| panic!("ERRANDLESS_TEST_CHROMIUM={c:?}: no such executable")),
            None => executable(DEFAULT_CHROMIUM).unwrap_or_else(|| {
                panic!(
                    "ERRANDLESS_TEST_CHROMEDRIVER is set but {DEFAULT_CHROMIUM} is missing: \
                     install Chromium or set ERRANDLESS_TEST_CHROMIUM"
                )
            }),
        };
        let axe = match non_empty_var("ERRANDLESS_TEST_AXE") {
            Some(path) => {
                let source = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("ERRANDLESS_TEST_AXE={path:?}: {e}"));
                assert!(
                    source.contains("axe"),
                    "ERRANDLESS_TEST_AXE={path:?} is not axe-core's axe.min.js"
                );
                Some(source)
            }
            None => {
                println!(
                    "accessibility check skipped: set ERRANDLESS_TEST_AXE to axe-core's axe.min.js to run it"
                );
                None
            }
        };
        Some(Setup {
            chromedriver,
            chromium,
            axe,
        })
    }
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `name` as a path to a file, or looked up on `PATH` when it has no slash.
fn executable(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A port nobody listens on now: bound, read and released.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Where failed steps leave their screenshots: `browser-screenshots` in `CARGO_TARGET_DIR`, or
/// in the workspace's `target`.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.ancestors().nth(2).unwrap_or(manifest);
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
        Some(t) => workspace.join(t),
        None => workspace.join("target"),
    };
    target.join("browser-screenshots")
}

/// The name of the session [`Browser::start`] opens, until [`Browser::name_session`] names it.
const FIRST_SESSION: &str = "first";

/// One WebDriver session: a Chromium of its own, with its own profile and so its own cookies.
struct Session {
    name: String,
    client: Client,
    _profile: tempfile::TempDir,
}

/// Headless Chromium driven through its own ChromeDriver, in one or more sessions (one
/// person each); the browsers and the driver stop when it is dropped.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    /// The sessions opened so far; the calls below act in `sessions[current]`.
    sessions: Vec<Session>,
    current: usize,
    driver: Child,
    /// ChromeDriver's address.
    driver_url: String,
    chromedriver: PathBuf,
    chromium: PathBuf,
    base: String,
    test: String,
    axe: Option<String>,
    /// The serious and critical accessibility violations found so far, one line each.
    violations: Vec<String>,
    /// The pages axe-core checked.
    audited: Vec<String>,
    /// The pages wider than the phone's screen, one line each.
    overflows: Vec<String>,
    /// What a failed step's message adds (the server's log, say).
    on_failure: Option<Box<dyn Fn() -> String>>,
}

impl Browser {
    /// Starts ChromeDriver on a free port and a phone-sized headless Chromium through it (the
    /// session called "first" until it is named), for the test `test` of the site at `base`
    /// (`http://host:port`, no trailing slash).
    pub fn start(setup: &Setup, test: &str, base: &str) -> Browser {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the WebDriver client");
        let port = free_port();
        let driver = Command::new(&setup.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", setup.chromedriver.display()));
        // From here on, dropping the browser stops the driver, whatever fails next.
        let mut browser = Browser {
            runtime,
            sessions: Vec::new(),
            current: 0,
            driver,
            driver_url: format!("http://127.0.0.1:{port}"),
            chromedriver: setup.chromedriver.clone(),
            chromium: setup.chromium.clone(),
            base: base.trim_end_matches('/').to_owned(),
            test: test.to_owned(),
            axe: setup.axe.clone(),
            violations: Vec::new(),
            audited: Vec::new(),
            overflows: Vec::new(),
            on_failure: None,
        };
        if let Err(e) = browser.open_session(FIRST_SESSION) {
            panic!("{e}");
        }
        browser
    }

    /// Opens a new session called `name`, a Chromium with a profile of its own, and acts in it
    /// from now on.
    fn open_session(&mut self, name: &str) -> Result<(), String> {
        let profile = tempfile::Builder::new()
            .prefix("errandless-chromium-")
            .tempdir()
            .map_err(|e| format!("no profile directory for Chromium: {e}"))?;
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                    "--window-size=412,915",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                // Chromium keeps a window at least 500 px wide; the phone's viewport is
                // emulated so the pages are laid out at 412 CSS px.
                "mobileEmulation": {
                    "deviceMetrics": { "width": 412, "height": 915, "pixelRatio": 1.0 },
                },
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("the capabilities are an object")
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(format!(
                    "{} exited with {status} before it answered",
                    self.chromedriver.display()
                ));
            }
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(capabilities.clone());
            match self.runtime.block_on(builder.connect(&self.driver_url)) {
                Ok(client) => break client,
                // The driver is not listening yet.
                Err(
                    NewSessionError::Failed(_)
                    | NewSessionError::FailedC(_)
                    | NewSessionError::Lost(_),
                ) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => {
                    return Err(format!(
                        "no Chromium session through {} (browser {}): {e}",
                        self.chromedriver.display(),
                        self.chromium.display()
                    ))
                }
            }
        };
        self.sessions.push(Session {
            name: name.to_owned(),
            client,
            _profile: profile,
        });
        self.current = self.sessions.len() - 1;
        Ok(())
    }

    /// Acts in the session called `name` from now on, opening it (a new Chromium, with no
    /// cookies: nobody logged in) the first time: one session per person the test plays.
    pub fn session(&mut self, name: &str) -> Result<(), String> {
        match self.sessions.iter().position(|s| s.name == name) {
            Some(i) => {
                self.current = i;
                Ok(())
            }
            None => self.open_session(name),
        }
    }

    /// Names the session acted in (after the person it plays, say).
    pub fn name_session(&mut self, name: &str) {
        if let Some(s) = self.sessions.get_mut(self.current) {
            s.name = name.to_owned();
        }
    }

    /// The name of the session acted in.
    pub fn session_name(&self) -> &str {
        self.sessions
            .get(self.current)
            .map_or("", |s| s.name.as_str())
    }

    /// Adds what `context` says to the message of each failed step.
    pub fn on_failure(&mut self, context: Box<dyn Fn() -> String>) {
        self.on_failure = Some(context);
    }

    fn client(&self) -> &Client {
        &self.sessions[self.current].client
    }

    /// Runs `future` (a use of [`Browser::raw`]) to its end.
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The WebDriver client, for what the helpers below do not cover.
    pub fn raw(&self) -> &Client {
        self.client()
    }

    /// The site's URL of `path` (kept as it is when it is a whole URL).
    pub fn url_of(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Opens `path` of the site (or a whole URL) and waits for it to load.
    pub fn goto(&self, path: &str) -> Result<(), String> {
        let url = self.url_of(path);
        self.run(self.client().goto(&url))
            .map_err(|e| format!("opening {url}: {e}"))
    }

    /// The address shown, whole.
    pub fn current_url(&self) -> Result<String, String> {
        self.run(self.client().current_url())
            .map(|u| u.to_string())
            .map_err(|e| format!("reading the address: {e}"))
    }

    /// The path of the address shown (without the query).
    pub fn path(&self) -> Result<String, String> {
        self.run(self.client().current_url())
            .map(|u| u.path().to_owned())
            .map_err(|e| format!("reading the address: {e}"))
    }

    /// The elements that `css` selects.
    pub fn all(&self, css: &str) -> Result<Vec<Element>, String> {
        self.run(self.client().find_all(Locator::Css(css)))
            .map_err(|e| format!("looking for {css}: {e}"))
    }

    /// The first element that `css` selects; an error names the page when there is none.
    pub fn find(&self, css: &str) -> Result<Element, String> {
        match self.run(self.client().find(Locator::Css(css))) {
            Ok(e) => Ok(e),
            Err(e) if e.is_no_such_element() => Err(format!(
                "no {css} on {}",
                self.current_url().unwrap_or_default()
            )),
            Err(e) => Err(format!("looking for {css}: {e}")),
        }
    }

    /// Whether `css` selects anything.
    pub fn exists(&self, css: &str) -> Result<bool, String> {
        Ok(!self.all(css)?.is_empty())
    }

    /// The text of the first element that `css` selects, as the page shows it.
    pub fn text(&self, css: &str) -> Result<String, String> {
        let e = self.find(css)?;
        self.element_text(&e)
    }

    /// The text of an element, as the page shows it.
    pub fn element_text(&self, e: &Element) -> Result<String, String> {
        self.run(e.text())
            .map_err(|err| format!("reading the text of an element: {err}"))
    }

    /// The texts of all elements that `css` selects, read at once (so a part of the page that
    /// changes meanwhile, as htmx changes it, is read whole, before or after).
    pub fn texts(&self, css: &str) -> Result<Vec<String>, String> {
        let texts = self.js(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim());",
            vec![json!(css)],
        )?;
        serde_json::from_value(texts).map_err(|e| format!("the texts of {css}: {e}"))
    }

    /// An attribute of the first element that `css` selects.
    pub fn attr(&self, css: &str, name: &str) -> Result<Option<String>, String> {
        let e = self.find(css)?;
        self.run(e.attr(name))
            .map_err(|err| format!("reading {name} of {css}: {err}"))
    }

    /// Clicks the first element that `css` selects.
    pub fn click(&self, css: &str) -> Result<(), String> {
        let e = self.find(css)?;
        self.click_element(&e, css)
    }

    /// Clicks an element (`what` names it in errors).
    pub fn click_element(&self, e: &Element, what: &str) -> Result<(), String> {
        self.run(e.click())
            .map_err(|err| format!("clicking {what}: {err}"))
    }

    /// The first element that `css` selects whose text, as shown and trimmed, is `text`; an
    /// error lists the texts there are.
    pub fn find_text(&self, css: &str, text: &str) -> Result<Element, String> {
        let mut seen = Vec::new();
        for e in self.all(css)? {
            let shown = self.element_text(&e)?;
            if shown.trim() == text {
                return Ok(e);
            }
            seen.push(shown);
        }
        Err(format!(
            "no {css} reads {text:?} on {}; those there read {seen:?}",
            self.current_url().unwrap_or_default()
        ))
    }

    /// Clicks the first element that `css` selects whose text is `text`.
    pub fn click_text(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.find_text(css, text)?;
        self.click_element(&e, &format!("{css} {text:?}"))
    }

    /// Chooses the option of value `value` in the `<select>` that `css` selects.
    pub fn choose(&self, css: &str, value: &str) -> Result<(), String> {
        self.click(&format!("{css} option[value='{value}']"))
    }

    /// Types `value` into the first field that `css` selects, replacing what it held.
    pub fn fill(&self, css: &str, value: &str) -> Result<(), String> {
        let e = self.find(css)?;
        self.run(async {
            e.clear().await?;
            e.send_keys(value).await
        })
        .map_err(|err| format!("typing into {css}: {err}"))
    }

    /// The whole text of the page, as shown.
    pub fn page_text(&self) -> Result<String, String> {
        self.text("body")
    }

    /// The page's HTML as it is now.
    pub fn source(&self) -> Result<String, String> {
        self.run(self.client().source())
            .map_err(|e| format!("reading the page source: {e}"))
    }

    /// Runs `script` in the page (the WebDriver way, which the page's CSP does not govern)
    /// and returns what it returned.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.run(self.client().execute(script, args))
            .map_err(|e| format!("running a script in the page: {e}"))
    }

    /// Runs `script`, which calls its last argument with the answer, and returns the answer.
    pub fn js_async(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.run(self.client().execute_async(script, args))
            .map_err(|e| format!("running a script in the page: {e}"))
    }

    /// The HTTP status of the page shown, as the browser's navigation timing recorded it.
    pub fn status(&self) -> Result<u64, String> {
        let v = self.js(
            "const n = performance.getEntriesByType('navigation')[0]; \
             return n ? n.responseStatus : null;",
            vec![],
        )?;
        v.as_u64()
            .ok_or_else(|| format!("the browser recorded no status for the page (got {v})"))
    }

    /// Waits up to `timeout` for `ready` to say yes, polling; `what` and the last thing
    /// `ready` saw make the error.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&Browser) -> Result<Option<String>, String>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            match ready(self)? {
                None => return Ok(()),
                Some(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Some(seen) => {
                    return Err(format!(
                        "waited {} s for {what}; saw {seen}",
                        timeout.as_secs()
                    ))
                }
            }
        }
    }

    /// Does `act` (a click on a link or a form's button) and waits up to 10 s for the page it
    /// leads to to have loaded, even when that page has the same address.
    pub fn loading(&self, act: impl FnOnce(&Browser) -> Result<(), String>) -> Result<(), String> {
        self.js("window.errandlessLeft = true;", vec![])?;
        act(self)?;
        self.wait_until("a new page", Duration::from_secs(10), |b| {
            // A script run while the page changes may fail: that is not yet, too.
            let state = b.js(
                "return window.errandlessLeft === true ? 'the old page' : document.readyState;",
                vec![],
            );
            Ok(match state {
                Ok(s) if s == "complete" => None,
                Ok(s) => Some(format!("{s} at {}", b.current_url().unwrap_or_default())),
                Err(e) => Some(e),
            })
        })
    }

    /// Waits up to 10 s for `css` to select something.
    pub fn wait_for(&self, css: &str) -> Result<(), String> {
        self.wait_until(css, Duration::from_secs(10), |b| {
            Ok(if b.exists(css)? {
                None
            } else {
                Some(format!("none on {}", b.current_url()?))
            })
        })
    }

    /// Waits up to 10 s for the page at `path` (the address's path) to have loaded.
    pub fn wait_for_path(&self, path: &str) -> Result<(), String> {
        self.wait_until(&format!("the page {path}"), Duration::from_secs(10), |b| {
            let url = b.current_url()?;
            let loaded = b.js("return document.readyState", vec![])?;
            Ok((b.path()? != path || loaded != "complete").then(|| format!("{url} ({loaded})")))
        })
    }

    /// Checks that the page shown (named `page` in the report) fits the phone's screen, and
    /// runs axe-core's WCAG 2.0 and 2.1 A and AA rules over it when the checks are on. A page
    /// wider than the screen, and serious and critical violations, are kept for
    /// [`Browser::finish`], with the page's screenshot and source saved; other violations are
    /// printed.
    pub fn audit(&mut self, page: &str) -> Result<(), String> {
        let url = self.current_url()?;
        // The innermost elements that stick out of the screen, or whose text does.
        let wide = self.js(
            "const width = document.documentElement.clientWidth;
             if (document.documentElement.scrollWidth <= width + 1) return [];
             const out = [...document.querySelectorAll('body *')].filter(e => {
               if (!e.checkVisibility()) return false;
               const r = e.getBoundingClientRect();
               return r.right > width + 1
                 || (r.left + e.scrollWidth > width + 1 && e.scrollWidth > e.clientWidth + 1
                     && e.clientWidth > 0 && getComputedStyle(e).overflowX === 'visible');
             });
             return out.filter(e => !out.some(o => o !== e && e.contains(o)))
               .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                 + (typeof e.className === 'string' && e.className.trim()
                     ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
                 + ' (to ' + Math.round(Math.max(e.getBoundingClientRect().right,
                     e.getBoundingClientRect().left + e.scrollWidth)) + ' px)')
               .slice(0, 5);",
            vec![],
        )?;
        if let Some(wide) = wide.as_array().filter(|w| !w.is_empty()) {
            let line = format!(
                "{page} ({url}) is wider than the phone's 412 px screen: {}",
                wide.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            eprintln!(
                "layout: {line}\n{}",
                self.save_page(&format!("wide-{page}"))
            );
            self.overflows.push(line);
        }
        let Some(axe) = &self.axe else {
            return Ok(());
        };
        let loaded = self.js("return typeof window.axe === 'object';", vec![])?;
        if loaded != Value::Bool(true) {
            self.js(&format!("{axe}\n;return true;"), vec![])
                .map_err(|e| format!("loading axe-core into {url}: {e}"))?;
        }
        let answer = self.js_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: arguments[0] })
               .then(r => done({ passes: r.passes.length, violations: r.violations.map(v => ({
                   id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                   targets: v.nodes.map(n => n.target.join(' ')),
                   summary: v.nodes.length ? v.nodes[0].failureSummary : '',
               })) }))
               .catch(e => done({ error: String(e) }));",
            vec![json!(AXE_TAGS)],
        )?;
        if let Some(error) = answer.get("error") {
            return Err(format!("axe-core failed on {url}: {error}"));
        }
        let violations = answer
            .get("violations")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("axe-core gave no violations list on {url}: {answer}"))?;
        if answer.get("passes").and_then(Value::as_u64).unwrap_or(0) == 0 {
            return Err(format!("axe-core checked no rule on {url}: {answer}"));
        }
        self.audited.push(page.to_owned());
        let mut serious = false;
        for v in violations {
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let targets: Vec<&str> = v
                .get("targets")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let line = format!(
                "{page} ({url}): {} [{}] {} — nodes: {} — {}",
                field("id"),
                field("impact"),
                field("help"),
                targets.join(", "),
                field("url"),
            );
            if matches!(field("impact").as_str(), "serious" | "critical") {
                eprintln!("accessibility violation: {line}\n  {}", field("summary"));
                self.violations.push(line);
                serious = true;
            } else {
                eprintln!("accessibility note: {line}");
            }
        }
        if serious {
            let saved = self.save_page(&format!("axe-{page}"));
            eprintln!("{saved}");
        }
        Ok(())
    }

    /// Runs one step of the test; when it fails (an error or a panic) the page's screenshot
    /// and source are saved as `<test>-<step>.png|.html` and the test fails naming the step.
    pub fn step<T>(&mut self, step: &str, f: impl FnOnce(&mut Browser) -> Result<T, String>) -> T {
        eprintln!("{} [{}]: {step}", self.test, self.session_name());
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                let saved = self.save_page(step);
                let context = self.on_failure.as_ref().map(|c| c()).unwrap_or_default();
                panic!(
                    "{}, step {step:?} [session {}]: {e}\n{saved}\n{context}",
                    self.test,
                    self.session_name()
                )
            }
            Err(panic) => {
                let saved = self.save_page(step);
                let context = self.on_failure.as_ref().map(|c| c()).unwrap_or_default();
                eprintln!(
                    "{}, step {step:?} [session {}] panicked\n{saved}\n{context}",
                    self.test,
                    self.session_name()
                );
                resume_unwind(panic)
            }
        }
    }

    /// Saves the screenshot and the source of the page shown, and says where.
    pub fn save_page(&self, step: &str) -> String {
        let dir = screenshot_dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return format!("no screenshot: {}: {e}", dir.display());
        }
        let name = format!("{}-{}", file_part(&self.test), file_part(step));
        let mut said = String::new();
        let png = dir.join(format!("{name}.png"));
        match self.run(self.client().screenshot()) {
            Ok(bytes) => match std::fs::write(&png, bytes) {
                Ok(()) => {
                    let _ = writeln!(said, "screenshot: {}", png.display());
                }
                Err(e) => {
                    let _ = writeln!(said, "no screenshot: {}: {e}", png.display());
                }
            },
            Err(e) => {
                let _ = writeln!(said, "no screenshot: {e}");
            }
        }
        let html = dir.join(format!("{name}.html"));
        match self.source() {
            Ok(source) => match std::fs::write(&html, source) {
                Ok(()) => {
                    let _ = write!(said, "page source: {}", html.display());
                }
                Err(e) => {
                    let _ = write!(said, "no page source: {}: {e}", html.display());
                }
            },
            Err(e) => {
                let _ = write!(said, "no page source: {e}");
            }
        }
        said
    }

    /// Ends the test: fails it when a page was wider than the phone's screen or axe-core found
    /// serious or critical violations on any page, listing them all; the browsers and the
    /// driver stop either way.
    pub fn finish(mut self) {
        if self.axe.is_some() {
            eprintln!(
                "{}: axe-core checked {} pages: {}",
                self.test,
                self.audited.len(),
                self.audited.join(", ")
            );
        }
        let violations = std::mem::take(&mut self.violations);
        let overflows = std::mem::take(&mut self.overflows);
        let test = self.test.clone();
        drop(self);
        let mut failures = Vec::new();
        if !overflows.is_empty() {
            failures.push(format!(
                "{} pages wider than the phone's screen (the page scrolls sideways):\n{}",
                overflows.len(),
                overflows.join("\n")
            ));
        }
        if !violations.is_empty() {
            failures.push(format!(
                "{} serious or critical accessibility violations (WCAG 2.1 A/AA, axe-core):\n{}",
                violations.len(),
                violations.join("\n")
            ));
        }
        assert!(failures.is_empty(), "{test}: {}", failures.join("\n"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing a session makes ChromeDriver stop its Chromium; then the driver goes too.
        for session in std::mem::take(&mut self.sessions) {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), session.client.close()).await
            });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `s` with everything but ASCII letters and digits as '-', for a file name.
fn file_part(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}
