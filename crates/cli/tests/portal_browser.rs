//! The citizens' portal in a real browser: headless Chromium, driven through ChromeDriver,
//! logs in through the identity provider as a demo citizen and goes through the portal as a
//! person would, in a phone-sized window, with axe-core checking each page it visits.
//!
//! The tests run when `ERRANDLESS_TEST_CHROMEDRIVER` names the chromedriver binary, and check
//! accessibility when `ERRANDLESS_TEST_AXE` names axe-core's `axe.min.js` (see the README).
//! One demo province serves both tests; they take turns with the browser.

mod common;

#[path = "common/browser.rs"]
mod browser;

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use browser::{Browser, Setup};
use fantoccini::Locator;

/// The people of the demo province: enough that it has a freshman to log in as.
const PEOPLE: &str = "20000";

/// How long the demo may take to generate, walk and start serving.
const DEMO_DEADLINE: Duration = Duration::from_secs(900);

/// Runs the server given after the data directory, and stops it and removes the directory
/// once its standard input closes: that is when the test process ends, whether its tests
/// passed, failed or it was killed, so no server outlives the tests.
const WATCHDOG: &str = r#"
dir=$1
shift
exec 3<&0
"$@" </dev/null 2>&1 &
server=$!
{ cat <&3 >/dev/null; kill "$server" 2>/dev/null; } &
wait "$server"
status=$?
rm -rf "$dir"
exit "$status"
"#;

/// The demo's portal, serving while the tests run.
struct Demo {
    base: String,
    password: String,
    /// Who each demo account is (`freshman (paid)`, `elderly citizen`, …) and its phone.
    accounts: Vec<(String, String)>,
    /// The last lines the server printed.
    log: Arc<Mutex<VecDeque<String>>>,
    _server: Child,
    _watchdog: ChildStdin,
}

impl Demo {
    /// The phone number of the first account of one of `who`.
    fn phone(&self, who: &[&str]) -> &str {
        who.iter()
            .find_map(|w| self.accounts.iter().find(|(a, _)| a == w))
            .map(|(_, phone)| phone.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "the demo made no account of {who:?}; it made {:?}",
                    self.accounts
                )
            })
    }

    /// What the server printed last, for a failure's message.
    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = log.iter().map(String::as_str).collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

static DEMO: OnceLock<Result<Demo, String>> = OnceLock::new();

/// The demo, started by the first test that asks.
fn demo() -> &'static Demo {
    match DEMO.get_or_init(start_demo) {
        Ok(d) => d,
        Err(e) => panic!("the demo's portal did not start: {e}"),
    }
}

/// `errandless demo` in a new directory, serving on a port of its choice, read up to the
/// line saying where it listens.
fn start_demo() -> Result<Demo, String> {
    let started = Instant::now();
    // Removed by the watchdog when the server stops.
    let dir = std::env::temp_dir().join(format!("errandless-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The binary with the clean environment the other tests use, run under the watchdog.
    let errandless = common::command(&dir);
    let mut command = Command::new("sh");
    command
        .args(["-c", WATCHDOG, "sh"])
        .arg(&dir)
        .arg(errandless.get_program())
        .args(["demo", "--people", PEOPLE, "--data", "data"])
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in errandless.get_envs() {
        match value {
            Some(v) => command.env(key, v),
            None => command.env_remove(key),
        };
    }
    let mut server = command
        .spawn()
        .map_err(|e| format!("sh does not start: {e}"))?;
    let watchdog = server.stdin.take().expect("piped");
    let stdout = server.stdout.take().expect("piped");
    let log = Arc::new(Mutex::new(VecDeque::new()));
    let (lines_tx, lines) = mpsc::channel();
    {
        let log = Arc::clone(&log);
        // Reads everything the server prints, for as long as it runs, so that it never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line.clone());
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                if log.len() == 400 {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
    }
    let mut shown = Vec::new();
    let base = loop {
        let left = DEMO_DEADLINE.saturating_sub(started.elapsed());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(url) = line.strip_prefix("listening on ") {
                    break url.trim().trim_end_matches('/').to_owned();
                }
                shown.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "not serving after {} s; it printed:\n{}",
                    DEMO_DEADLINE.as_secs(),
                    shown.join("\n")
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = server.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(format!(
                    "the demo exited ({status}); it printed:\n{}",
                    shown.join("\n")
                ));
            }
        }
    };
    let (password, accounts) = accounts(&shown)?;
    eprintln!(
        "the demo of {PEOPLE} people serves {base} after {:.0} s; accounts: {accounts:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(Demo {
        base,
        password,
        accounts,
        log,
        _server: server,
        _watchdog: watchdog,
    })
}

/// The password and the accounts (who, phone) of the demo's table of people to log in as.
fn accounts(shown: &[String]) -> Result<(String, Vec<(String, String)>), String> {
    let table = shown
        .iter()
        .skip_while(|l| !l.starts_with("== 13."))
        .skip(1);
    let mut accounts = Vec::new();
    let mut password = None;
    for line in table {
        if let Some(p) = line.strip_prefix("password of every demo account:") {
            password = Some(p.trim().to_owned());
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(at) = words
            .iter()
            .position(|w| w.len() == 11 && w.bytes().all(|b| b.is_ascii_digit()))
        {
            accounts.push((words[..at].join(" "), words[at].to_owned()));
        }
    }
    match password {
        Some(p) if !accounts.is_empty() => Ok((p, accounts)),
        _ => Err(format!(
            "no table of accounts and password in what the demo printed:\n{}",
            shown.join("\n")
        )),
    }
}

/// The browser tests take turns: two Chromiums and the server at once are too much for a
/// small machine, and each test's timing would depend on the other's.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// An error saying `what` unless `ok`.
fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// The browser for `test`, on the demo's portal, with the server's last words added to a
/// failed step's message.
fn browser(setup: &Setup, test: &str, demo: &'static Demo) -> Browser {
    let mut b = Browser::start(setup, test, &demo.base);
    b.on_failure(Box::new(|| {
        format!("the server's last lines:\n{}", demo.log_tail())
    }));
    b
}

/// Logs in through the provider from the portal's landing page, as `phone`; checks the
/// provider's pages for accessibility and allows the portal on the consent page. Returns
/// whether the provider asked for consent (it does at an account's first login).
fn log_in(b: &mut Browser, phone: &str, password: &str) -> bool {
    b.step("landing page", |b| {
        b.goto("/")?;
        b.wait_for_path("/")?;
        let lang = b.attr("html", "lang")?;
        check(lang.as_deref() == Some("zh-CN"), || {
            format!("the portal is in Chinese by default; <html lang> is {lang:?}")
        })?;
        b.audit("landing")?;
        b.click("main a[href^='/login?next=']")
    });
    b.step("provider login page", |b| {
        b.wait_for_path("/oauth/authorize")?;
        for field in ["phone", "password", "totp"] {
            b.find(&format!("form input[name={field}]"))?;
        }
        b.audit("provider login")?;
        b.fill("input[name=phone]", phone)?;
        b.fill("input[name=password]", password)?;
        b.click("form button")
    });
    let consent = b.step("consent page", |b| {
        b.wait_until(
            "the consent page or the portal",
            Duration::from_secs(10),
            |b| {
                let path = b.path()?;
                let asked = b.exists("button[name=decision][value=allow]")?;
                if asked || path == "/" {
                    return Ok(None);
                }
                let shown: String = b.page_text()?.chars().take(300).collect();
                Ok(Some(format!("{}: {shown}", b.current_url()?)))
            },
        )?;
        if !b.exists("button[name=decision][value=allow]")? {
            return Ok(false);
        }
        b.find("button[name=decision][value=deny]")?;
        b.audit("provider consent")?;
        b.click("button[name=decision][value=allow]")?;
        Ok(true)
    });
    b.step("back on the portal, logged in", |b| {
        b.wait_for_path("/")?;
        b.wait_for("form[action='/logout']")
    });
    consent
}

#[test]
fn freshman_sees_the_subsidy_its_reasons_and_who_used_their_data() {
    const TEST: &str = "freshman_sees_the_subsidy_its_reasons_and_who_used_their_data";
    let Some(setup) = Setup::from_env() else {
        return;
    };
    let _turn = one_at_a_time();
    let demo = demo();
    let started = Instant::now();
    let mut b = browser(&setup, TEST, demo);
    let consent = log_in(&mut b, demo.phone(&["freshman (paid)"]), &demo.password);
    b.step("consent asked at the first login", |_| {
        check(consent, || {
            "the provider did not ask the freshman to consent at their first login".to_owned()
        })
    });

    let details = b.step("home page: the freshman subsidy", |b| {
        let text = b.page_text()?;
        check(text.contains("我的待遇"), || {
            format!("no 我的待遇 (my benefits) on the home page:\n{text}")
        })?;
        let mut link = None;
        for card in b.all("article.card")? {
            let title = b.run(card.find(Locator::Css("h3")));
            let title = match title {
                Ok(t) => b.element_text(&t)?,
                Err(_) => continue,
            };
            if title.contains("大学新生") {
                let a = b
                    .run(card.find(Locator::Css("a[href^='/benefits/']")))
                    .map_err(|e| format!("the card {title:?} has no link to its details: {e}"))?;
                let card_text = b.element_text(&card)?;
                check(card_text.contains('¥'), || {
                    format!("the card {title:?} shows no amount: {card_text}")
                })?;
                link = b
                    .run(a.attr("href"))
                    .map_err(|e| format!("reading the card's link: {e}"))?;
            }
        }
        let link = link.ok_or_else(|| {
            format!(
                "no card titled with 大学新生 (freshman) among {:?}",
                b.texts("article.card h3").unwrap_or_default()
            )
        })?;
        b.audit("home")?;
        Ok(link)
    });

    b.step("benefit page: the decision and its reasons", |b| {
        b.click(&format!("article.card a[href='{details}']"))?;
        b.wait_for_path(&details)?;
        for section in ["decision", "conditions", "sources", "legal", "object"] {
            b.find(&format!("#{section}"))?;
        }
        let amount = b.text("section[aria-labelledby=decision] .amount")?;
        check(
            amount.starts_with('¥') && amount.chars().any(|c| c.is_ascii_digit()),
            || format!("the decision shows no amount: {amount:?}"),
        )?;
        let conditions = b.all("section[aria-labelledby=conditions] ol.steps li")?;
        check(!conditions.is_empty(), || {
            "the decision lists no conditions".to_owned()
        })?;
        let legal = b.texts("section[aria-labelledby=legal] li")?;
        check(legal.iter().any(|l| l.contains("法")), || {
            format!("the legal basis cites no law: {legal:?}")
        })?;
        b.audit("benefit")
    });

    b.step("my data: who used it, and a record verified", |b| {
        b.click("nav a[href='/my-data']")?;
        b.wait_for_path("/my-data")?;
        let records = b.all("li[id^=record-]")?;
        check(!records.is_empty(), || {
            "the freshman's data tracker lists no record".to_owned()
        })?;
        b.audit("my data")?;
        let id = b
            .attr("li[id^=record-]", "id")?
            .ok_or("the first record has no id")?;
        let status = format!("#{id} [role=status]");
        b.click(&format!("#{id} form button"))?;
        b.wait_until(
            "the record's status to say it is verified",
            Duration::from_secs(10),
            |b| {
                let said = b.text(&status)?;
                Ok((!said.starts_with("已验证")).then(|| format!("{said:?}")))
            },
        )?;
        // htmx answered in place: the page is the same.
        let path = b.path()?;
        check(path == "/my-data", || {
            format!("verifying left the page for {path}")
        })?;
        b.audit("my data, verified")
    });

    b.step("English", |b| {
        b.click("a[href^='/lang?to=en']")?;
        b.wait_until("the page in English", Duration::from_secs(10), |b| {
            let lang = b.attr("html", "lang")?;
            Ok((lang.as_deref() != Some("en")).then(|| format!("lang {lang:?}")))
        })?;
        b.click("nav a[href='/']")?;
        b.wait_for_path("/")?;
        let text = b.page_text()?;
        check(text.contains("My benefits"), || {
            format!("no My benefits on the English home page:\n{text}")
        })?;
        b.audit("home (English)")
    });

    b.step("an unknown page", |b| {
        b.goto("/no-such-page")?;
        b.wait_for_path("/no-such-page")?;
        let status = b.status()?;
        check(status == 404, || format!("status {status}, not 404"))?;
        let heading = b.text("h1")?;
        check(heading.contains("Page not found"), || {
            format!("the 404 page's heading is {heading:?}")
        })?;
        b.find("main a[href='/']")?;
        b.audit("not found (English)")
    });

    eprintln!(
        "{TEST}: the browser's part took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    b.finish();
}

#[test]
fn a_verify_form_with_a_forged_token_is_refused() {
    const TEST: &str = "a_verify_form_with_a_forged_token_is_refused";
    let Some(setup) = Setup::from_env() else {
        return;
    };
    let _turn = one_at_a_time();
    let demo = demo();
    let started = Instant::now();
    let mut b = browser(&setup, TEST, demo);
    // Not the freshman: the other test sees the freshman's first login.
    let phone = demo.phone(&["elderly citizen", "near miss"]);
    log_in(&mut b, phone, &demo.password);

    // The form posted without htmx, as a page from another site would post it.
    const SUBMIT: &str = "const form = document.querySelector('li[id^=record-] form');
        if (arguments[0] !== null) { form.querySelector('input[name=csrf]').value = arguments[0]; }
        HTMLFormElement.prototype.submit.call(form);";

    b.step("a forged token", |b| {
        b.goto("/my-data")?;
        b.wait_for("li[id^=record-] form input[name=csrf]")?;
        b.js(SUBMIT, vec![serde_json::json!("forged-token")])?;
        b.wait_for_path("/my-data/verify")?;
        let status = b.status()?;
        check(status == 403, || {
            format!("a forged token got status {status}, not 403")
        })?;
        let text = b.page_text()?;
        check(text.contains("表单已过期"), || {
            format!("the refusal does not say the form expired:\n{text}")
        })?;
        b.audit("form expired")
    });

    b.step("the same form with its own token", |b| {
        b.goto("/my-data")?;
        b.wait_for("li[id^=record-] form input[name=csrf]")?;
        b.js(SUBMIT, vec![serde_json::Value::Null])?;
        b.wait_for_path("/my-data/verify")?;
        let status = b.status()?;
        check(status == 200, || {
            format!("the genuine form got status {status}")
        })?;
        let verdicts = b.texts("li[id^=record-] [role=status]")?;
        check(verdicts.iter().any(|v| v.starts_with("已验证")), || {
            format!("the genuine form was not answered with a verified record: {verdicts:?}")
        })
    });

    eprintln!(
        "{TEST}: the browser's part took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    b.finish();
}
