//! The citizens' portal in a real browser: headless Chromium, driven through ChromeDriver,
//! logs in through the identity provider as a demo citizen and goes through the portal as a
//! person would, in a phone-sized window, with axe-core checking each page it visits.
//!
//! The tests run when `ERRANDLESS_TEST_CHROMEDRIVER` names the chromedriver binary, and check
//! accessibility when `ERRANDLESS_TEST_AXE` names axe-core's `axe.min.js` (see the README).
//! One demo province serves all the tests; they take turns with the browser, in any order.

mod common;

#[path = "common/browser.rs"]
mod browser;

use std::collections::{BTreeSet, VecDeque};
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

/// A browser test under way: its turn, the demo, and a browser logged in.
struct Started {
    b: Browser,
    demo: &'static Demo,
    started: Instant,
    login: Login,
    _turn: MutexGuard<'static, ()>,
}

/// Starts `test` in its turn: a browser whose first session (`session`) has logged in as the
/// first demo account of one of `who`. `None` when no Chromium is configured: the test then
/// skips, as `Setup::from_env` says.
fn start(test: &str, session: &str, who: &[&str]) -> Option<Started> {
    let setup = Setup::from_env()?;
    let turn = one_at_a_time();
    let demo = demo();
    let started = Instant::now();
    let mut b = browser(&setup, test, demo);
    b.name_session(session);
    let login = log_in(&mut b, demo.phone(who), &demo.password);
    Some(Started {
        b,
        demo,
        started,
        login,
        _turn: turn,
    })
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

/// What happened at a login.
struct Login {
    /// Whether it was the account's first login to the demo, of all the tests'.
    first: bool,
    /// Whether the provider asked for consent.
    consent: bool,
}

/// Whether `phone` logs in to the demo for the first time; notes that it has.
fn first_login(phone: &str) -> bool {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(phone.to_owned())
}

/// Logs in through the provider from the portal's landing page, as `phone`, in the browser's
/// current session; checks the provider's pages for accessibility and allows the portal on the
/// consent page when it is shown.
fn log_in(b: &mut Browser, phone: &str, password: &str) -> Login {
    let first = first_login(phone);
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
    Login { first, consent }
}

#[test]
fn freshman_sees_the_subsidy_its_reasons_and_who_used_their_data() {
    const TEST: &str = "freshman_sees_the_subsidy_its_reasons_and_who_used_their_data";
    let Some(Started {
        mut b,
        started,
        login,
        _turn,
        ..
    }) = start(TEST, "freshman", &["freshman (paid)"])
    else {
        return;
    };
    b.step("consent asked at the first login", |_| {
        check(login.consent || !login.first, || {
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
    let Some(Started {
        mut b,
        started,
        _turn,
        ..
    }) = start(TEST, "citizen", &["elderly citizen", "near miss"])
    else {
        return;
    };

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

/// The service the tests apply for, and its title.
const CERTIFICATE: &str = "student-status-certificate";
const CERTIFICATE_TITLE: &str = "学籍证明开具";

/// The case's number from the address of its page, `/cases/{id}`.
/// Chooses `purpose` on the application form and submits it: the case page says submitted.
fn submit_with_purpose(b: &mut Browser, purpose: &str) -> Result<i64, String> {
    b.choose("#f-purpose", purpose)?;
    b.loading(|b| b.click_text("main form button[type=submit]", "确认并提交"))?;
    let case = case_id(&b.path()?)?;
    let state = case_state(b)?;
    check(state == "已提交", || format!("the case is {state:?}"))?;
    b.audit("case")?;
    Ok(case)
}

fn case_id(path: &str) -> Result<i64, String> {
    path.strip_prefix("/cases/")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("{path} is not a case's page"))
}

/// The state a case's page shows, in the facts at its top.
fn case_state(b: &Browser) -> Result<String, String> {
    b.text("dl.facts dd span.tag")
}

#[test]
fn the_freshman_applies_with_prefilled_fields_and_rates_after_approval() {
    const TEST: &str = "the_freshman_applies_with_prefilled_fields_and_rates_after_approval";
    let Some(Started {
        mut b,
        demo,
        started,
        _turn,
        ..
    }) = start(TEST, "freshman", &["freshman (paid)"])
    else {
        return;
    };

    b.step("catalogue: searched for 学籍 in place", |b| {
        b.loading(|b| b.click("header nav a[href='/services']"))?;
        b.wait_for_path("/services")?;
        let all = b.all("#results li")?.len();
        b.audit("catalogue")?;
        // A page that htmx changes in place keeps this mark; a new page has none.
        b.js("window.errandlessSamePage = true;", vec![])?;
        b.fill("#q", "学籍")?;
        b.wait_until("the results for 学籍", Duration::from_secs(10), |b| {
            let shown = b.texts("#results li a strong")?;
            let found = shown.len() < all && shown.iter().any(|t| t == CERTIFICATE_TITLE);
            Ok((!found).then(|| format!("{} of {all} services: {shown:?}", shown.len())))
        })?;
        let same = b.js("return window.errandlessSamePage === true;", vec![])?;
        check(same == true, || {
            "the search loaded a new page instead of changing the results in place".to_owned()
        })?;
        let url = b.current_url()?;
        check(url.contains("q="), || {
            format!("the address does not keep the search: {url}")
        })?;
        b.audit("catalogue, searched")
    });

    b.step("service page", |b| {
        b.loading(|b| b.click_text("#results li a", CERTIFICATE_TITLE))?;
        b.wait_for_path(&format!("/services/{CERTIFICATE}"))?;
        let title = b.text("main h1")?;
        check(title == CERTIFICATE_TITLE, || {
            format!("the service page's title is {title:?}")
        })?;
        b.audit("service")
    });

    let name = b.step("apply form: the name filled in, with its source", |b| {
        b.loading(|b| b.click_text("main a.button", "在线申请"))?;
        b.wait_for_path(&format!("/services/{CERTIFICATE}/apply"))?;
        let readonly = b.attr("#f-name", "readonly")?;
        check(readonly.is_some(), || {
            "the name the education department holds can be changed".to_owned()
        })?;
        let name = b.attr("#f-name", "value")?.unwrap_or_default();
        check(!name.trim().is_empty(), || {
            "the name is not filled in".to_owned()
        })?;
        let source = b.text("#d-name p.source")?;
        check(source.starts_with("来自"), || {
            format!("the name's source line reads {source:?}")
        })?;
        let described = b.attr("#f-name", "aria-describedby")?;
        check(described.as_deref() == Some("d-name"), || {
            format!("the name field is described by {described:?}, not its source line")
        })?;
        b.audit("apply form")?;
        Ok(name)
    });

    b.step("submitted without a purpose: the error beside it", |b| {
        b.loading(|b| b.click_text("main form button[type=submit]", "确认并提交"))?;
        let status = b.status()?;
        check(status == 422, || format!("status {status}, not 422"))?;
        b.find("div.alert.bad[role=alert] a[href='#f-purpose']")?;
        let invalid: Vec<String> = b
            .all("[aria-invalid=true]")?
            .iter()
            .map(|e| b.run(e.attr("id")).map(Option::unwrap_or_default))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("reading the ids of the invalid fields: {e}"))?;
        check(invalid == ["f-purpose"], || {
            format!("the fields marked invalid are {invalid:?}, not the purpose alone")
        })?;
        let error = b.text("#d-purpose p.field-error")?;
        check(!error.trim().is_empty(), || {
            "the error beside the purpose says nothing".to_owned()
        })?;
        // What the department holds stands as it was.
        let kept = b.attr("#f-name", "value")?.unwrap_or_default();
        check(kept == name, || {
            format!("the name was {name:?} and is now {kept:?}")
        })?;
        check(b.attr("#f-name", "readonly")?.is_some(), || {
            "the name can be changed after the error".to_owned()
        })?;
        b.find("#d-name p.source")?;
        b.audit("apply form, with an error")
    });

    let case = b.step("submitted with a purpose: the case submitted", |b| {
        submit_with_purpose(b, "transfer")
    });
    let console_case = format!("/console/cases/{case}");

    b.step("a browser of their own for the county officer", |b| {
        b.session("officer")
    });
    log_in(&mut b, demo.phone(&["county officer"]), &demo.password);

    b.step("console: the officer's roles", |b| {
        b.loading(|b| b.click("header nav a[href='/console']"))?;
        b.wait_for_path("/console")?;
        let roles = b.text("main table")?;
        check(roles.contains("部门工作人员"), || {
            format!("the officer's roles are {roles:?}")
        })?;
        b.audit("console")
    });

    b.step("console: the queue lists the case", |b| {
        b.loading(|b| b.click("nav.tabs a[href='/console/cases']"))?;
        b.wait_for_path("/console/cases")?;
        let row = b.text(&format!("tr:has(td:first-child a[href='{console_case}'])"))?;
        check(
            row.contains(CERTIFICATE_TITLE) && row.contains("已提交"),
            || format!("the queue's row of the case reads {row:?}"),
        )?;
        b.audit("console queue")
    });

    b.step("console: the case as submitted", |b| {
        b.loading(|b| b.click(&format!("td:first-child a[href='{console_case}']")))?;
        b.wait_for_path(&console_case)?;
        let text = b.text("main")?;
        check(text.contains(&name), || {
            format!("the case in the console does not show the name {name:?}:\n{text}")
        })?;
        b.audit("console case")
    });

    for (to, state) in [
        ("accepted", "已受理"),
        ("in_review", "审查中"),
        ("approved", "已办结（准予）"),
        ("delivered", "已送达"),
    ] {
        b.step(&format!("console: the case moved to {to}"), |b| {
            let note = format!("浏览器测试：{state}");
            b.fill(&format!("#note-{to}"), &note)?;
            let buttons = format!("form[action='{console_case}/step'] button");
            b.loading(|b| b.click_text(&buttons, &format!("转为“{state}”")))?;
            b.wait_for_path(&console_case)?;
            let notice = b.text("main p.alert[role=status]")?;
            check(notice == "已处理。", || {
                format!("the notice reads {notice:?}")
            })?;
            let shown = b.text("section[aria-labelledby=panel-1] tbody td:nth-child(2)")?;
            check(shown == state, || format!("the case is {shown:?}"))?;
            let text = b.text("main")?;
            check(text.contains(&note), || {
                format!("the history does not show the note {note:?}:\n{text}")
            })?;
            b.audit(&format!("console case, {to}"))
        });
    }
    b.step("console: a delivered case goes no further", |b| {
        let left = b.texts(&format!("form[action='{console_case}/step'] button"))?;
        check(left.is_empty(), || {
            format!("a delivered case can still be moved: {left:?}")
        })
    });

    let comment = format!("等了太久（办件 #{case}）");
    b.step("back to the freshman's browser", |b| b.session("freshman"));
    b.step("home: the case, delivered", |b| {
        b.loading(|b| b.click("header nav a[href='/']"))?;
        b.wait_for_path("/")?;
        b.audit("home, a case delivered")?;
        b.loading(|b| b.click(&format!("main a[href='/cases/{case}']")))?;
        b.wait_for_path(&format!("/cases/{case}"))?;
        let state = case_state(b)?;
        check(state == "已送达", || format!("the case is {state:?}"))?;
        b.find("section#rate")?;
        b.audit("case, to rate")
    });

    b.step("case: rated 不满意, with a comment", |b| {
        b.click_text("section#rate label", "不满意")?;
        let chosen = b.js(
            "const c = document.querySelector('section#rate input[name=level]:checked');
             return c ? c.value : null;",
            vec![],
        )?;
        check(chosen == "dissatisfied", || {
            format!("the rating chosen is {chosen}")
        })?;
        b.fill("#comment", &comment)?;
        b.loading(|b| b.click_text("section#rate button", "提交评价"))?;
        b.wait_for_path(&format!("/cases/{case}"))?;
        let said = b.text("main p.alert.good")?;
        check(
            said.starts_with("你的评价") && said.ends_with("不满意"),
            || format!("the case page says {said:?} of the rating"),
        )?;
        check(!b.exists("section#rate")?, || {
            "the case can be rated again".to_owned()
        })?;
        b.audit("case, rated")
    });

    b.step("back to the officer's browser", |b| b.session("officer"));
    b.step(
        "console: the bad rating to follow up, with its comment",
        |b| {
            b.loading(|b| b.click("nav.tabs a[href='/console/ratings']"))?;
            b.wait_for_path("/console/ratings")?;
            let row = b.text(&format!("tr:has(td:first-child a[href='{console_case}'])"))?;
            check(row.contains("不满意") && row.contains(&comment), || {
                format!("the follow-up of the case reads {row:?}")
            })?;
            b.audit("console ratings")
        },
    );

    eprintln!(
        "{TEST}: the browser's part took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    b.finish();
}

#[test]
fn the_county_officer_approves_a_data_request_and_cannot_see_another_countys_case() {
    const TEST: &str =
        "the_county_officer_approves_a_data_request_and_cannot_see_another_countys_case";
    let Some(Started {
        mut b,
        demo,
        started,
        _turn,
        ..
    }) = start(TEST, "officer", &["county officer"])
    else {
        return;
    };

    let request = b.step("console: a data request waits for education", |b| {
        b.loading(|b| b.click("header nav a[href='/console']"))?;
        b.wait_for_path("/console")?;
        b.audit("console")?;
        b.loading(|b| b.click("nav.tabs a[href='/console/exchange']"))?;
        b.wait_for_path("/console/exchange")?;
        b.audit("console exchange")?;
        b.attr(
            "form[action^='/console/exchange/requests/']:has(input[name=decision][value=approve])",
            "action",
        )?
        .ok_or_else(|| "the approval form has no action".to_owned())
    });

    b.step("console: the request approved", |b| {
        let buttons = format!("form[action='{request}'] button");
        b.loading(|b| b.click_text(&buttons, "批准"))?;
        b.wait_for_path("/console/exchange")?;
        let notice = b.text("main p.alert[role=status]")?;
        check(notice == "已处理。", || {
            format!("the notice reads {notice:?}")
        })?;
        check(!b.exists(&format!("form[action='{request}']"))?, || {
            format!("the request {request} still waits")
        })?;
        b.audit("console exchange, approved")
    });

    b.step("a browser of their own for the elderly citizen", |b| {
        b.session("elderly")
    });
    log_in(&mut b, demo.phone(&["elderly citizen"]), &demo.password);

    // The elderly citizen has no student record: they type what a student's form asks.
    let typed = [
        ("name", "张国"),
        ("student_no", "G520101193103282213"),
        ("school", "贵阳市第一中学"),
    ];
    b.step("apply form: nothing to fill in from education", |b| {
        b.goto(&format!("/services/{CERTIFICATE}"))?;
        b.wait_for_path(&format!("/services/{CERTIFICATE}"))?;
        b.audit("service")?;
        b.loading(|b| b.click_text("main a.button", "在线申请"))?;
        b.wait_for_path(&format!("/services/{CERTIFICATE}/apply"))?;
        for (field, _) in typed {
            let css = format!("#f-{field}");
            check(b.attr(&css, "readonly")?.is_none(), || {
                format!("{css} cannot be typed into")
            })?;
            let value = b.attr(&css, "value")?.unwrap_or_default();
            check(value.is_empty(), || format!("{css} holds {value:?}"))?;
        }
        b.audit("apply form, nothing filled in")
    });

    b.step("submitted without a purpose: what was typed kept", |b| {
        for (field, value) in typed {
            b.fill(&format!("#f-{field}"), value)?;
        }
        b.loading(|b| b.click_text("main form button[type=submit]", "确认并提交"))?;
        b.find("div.alert.bad[role=alert] a[href='#f-purpose']")?;
        let invalid = b.attr("#f-purpose", "aria-invalid")?;
        check(invalid.as_deref() == Some("true"), || {
            format!("the purpose is marked aria-invalid={invalid:?}")
        })?;
        b.find("#d-purpose p.field-error")?;
        for (field, value) in typed {
            let css = format!("#f-{field}");
            let kept = b.attr(&css, "value")?.unwrap_or_default();
            check(kept == value, || {
                format!("{css} held {value:?} and now {kept:?}")
            })?;
            check(b.attr(&css, "aria-invalid")?.is_none(), || {
                format!("{css} is marked invalid")
            })?;
        }
        b.audit("apply form, typed, with an error")
    });

    let case = b.step("submitted with a purpose: the case submitted", |b| {
        submit_with_purpose(b, "abroad")
    });
    let console_case = format!("/console/cases/{case}");

    b.step("back to the officer's browser", |b| b.session("officer"));
    b.step("console: another county's case is refused", |b| {
        b.goto(&console_case)?;
        b.wait_for_path(&console_case)?;
        let status = b.status()?;
        check(status == 403, || format!("status {status}, not 403"))?;
        let title = b.text("main h1")?;
        check(title == "无权访问", || {
            format!("the page's title is {title:?}")
        })?;
        b.audit("forbidden")
    });

    b.step("console: nor is it in the queue", |b| {
        b.goto("/console/cases")?;
        b.wait_for_path("/console/cases")?;
        check(!b.exists(&format!("a[href='{console_case}']"))?, || {
            format!("the queue lists {console_case}")
        })?;
        b.audit("console queue")
    });

    eprintln!(
        "{TEST}: the browser's part took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    b.finish();
}

#[test]
fn a_policy_officer_simulates_a_policy_and_sees_a_drafts_errors_beside_it() {
    const TEST: &str = "a_policy_officer_simulates_a_policy_and_sees_a_drafts_errors_beside_it";
    let Some(Started {
        mut b,
        started,
        _turn,
        ..
    }) = start(TEST, "policy officer", &["policy officer"])
    else {
        return;
    };

    b.step("console: the policies a policy officer may run", |b| {
        b.goto("/console/policies")?;
        b.wait_for_path("/console/policies")?;
        b.find("#draft-source")?;
        b.audit("console policies, policy officer")
    });

    b.step(
        "simulate: the run's page updates itself until it has finished",
        |b| {
            let button = "form[action='/console/policies/run']\
             :has(input[name=policy][value=freshman-subsidy])\
             :has(input[name=run][value=simulate]) button";
            b.loading(|b| b.click(button))?;
            b.wait_until("a run's page", Duration::from_secs(10), |b| {
                let path = b.path()?;
                Ok((!path.starts_with("/console/policies/runs/")).then_some(path))
            })?;
            // No reload from here: htmx asks for the page again and swaps the result in.
            b.wait_until("the simulation's result", Duration::from_secs(120), |b| {
                Ok((!b.exists("#panels:not([hx-trigger])")?).then(|| {
                    b.text("#panels table")
                        .unwrap_or_else(|e| format!("no table: {e}"))
                }))
            })?;
            let text = b.text("#panels")?;
            check(
                text.contains("按县（区）") && text.contains("差一点符合"),
                || format!("the result reads {text:?}"),
            )?;
            let notice = b.text("main p.alert[role=status]")?;
            check(notice.contains("这是模拟"), || {
                format!("the notice reads {notice:?}")
            })?;
            b.audit("policy run, simulated")
        },
    );

    b.step(
        "a draft with an error: the error beside it, the draft kept",
        |b| {
            b.goto("/console/policies")?;
            b.wait_for_path("/console/policies")?;
            b.fill("#draft-source", "id = \"draft-2026\"\n[title\n")?;
            b.loading(|b| b.click("form:has(#draft-source) button[name=run][value=simulate]"))?;
            let status = b.status()?;
            check(status == 422, || format!("status {status}, not 422"))?;
            let errors = b.text("#draft-errors")?;
            check(errors.contains("draft.toml:2:"), || {
                format!("the errors read {errors:?}")
            })?;
            let invalid = b.attr("#draft-source", "aria-invalid")?;
            check(invalid.as_deref() == Some("true"), || {
                format!("the draft is marked aria-invalid={invalid:?}")
            })?;
            let kept = b.js(
                "return document.querySelector('#draft-source').value",
                vec![],
            )?;
            check(kept.as_str().is_some_and(|k| k.contains("[title")), || {
                format!("the draft now holds {kept}")
            })?;
            b.audit("console policies, a draft with an error")
        },
    );

    eprintln!(
        "{TEST}: the browser's part took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    b.finish();
}
