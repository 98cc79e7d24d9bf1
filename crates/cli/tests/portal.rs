//! The portal and the console over HTTP, on the province `errandless demo` makes and serves:
//! the citizen's pages, an application with prefill from login to rating, the console's
//! scopes, forms refused without their token, and no input that gives a 500.

mod common;
#[path = "common/http.rs"]
mod http;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};

use http::{input_value, Client};

const PASSWORD: &str = "Errandless-demo-2026";

/// The demo, serving; killed when dropped, whatever the test did.
struct Served {
    child: Child,
    base: String,
    /// (who, phone, citizen ID) of each demo account.
    people: Vec<(String, String, String)>,
    /// The platform store's URL.
    store_url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// `errandless demo`, with its platform store at `store_url`.
    fn start(store_url: &str) -> Served {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut child = common::command(dir.path())
            .env("ERRANDLESS_STORE_URL", store_url)
            .args([
                "demo",
                "--people",
                "20000",
                "--data",
                "data",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the demo starts");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let stderr = child.stderr.take().expect("stderr");
        // The server says where it listens on standard error.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let mut people = Vec::new();
        let mut seen = Vec::new();
        for line in stdout.lines().map_while(Result::ok) {
            seen.push(line.clone());
            let cols: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = cols
                .iter()
                .position(|c| c.starts_with("139") && c.len() == 11)
            {
                people.push((
                    cols[..i].join(" "),
                    cols[i].to_owned(),
                    cols[cols.len() - 1].to_owned(),
                ));
            }
            if line.starts_with("open http://") {
                break;
            }
        }
        let base = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the demo did not serve:\n{}", seen.join("\n")));
        Served {
            child,
            base,
            people,
            store_url: store_url.to_owned(),
            _dir: dir,
        }
    }

    fn phone(&self, who: &str) -> String {
        self.people
            .iter()
            .find(|p| p.0.starts_with(who))
            .unwrap_or_else(|| panic!("no {who} among {:?}", self.people))
            .1
            .clone()
    }

    fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// The directory the demo ran in (its data directory is `data` there).
    fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

/// The value beside `label` in a console table: `<td>label</td><td>value</td>`.
fn fact(body: &str, label: &str) -> Option<String> {
    let at = body.find(&format!("<td>{label}</td><td>"))? + label.len() + 13;
    Some(body[at..].split("</td>").next()?.to_owned())
}

/// Asks for a run's page until the run has finished.
fn finished_run(client: &mut Client, path: &str) -> String {
    for _ in 0..600 {
        let page = client.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        if !page.body.contains("hx-trigger=\"every 2s\"") {
            return page.body;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{path} did not finish in two minutes");
}

/// How many rows of enactment runs the run history shows.
fn history_rows(body: &str) -> usize {
    body.matches("<td>batch</td>").count() + body.matches("<td>delta</td>").count()
}

/// The payment path from the console: next month's elderly allowance enacted, written into a
/// pain.001 file, the file downloaded, the demo bank's pain.002 answer uploaded and
/// reconciled once; a malformed report, and anyone but a policy officer or operator, changing
/// nothing.
fn payments_from_the_console(served: &Served, officer: &mut Client, auditor: &mut Client) {
    let page = officer.get("/console/policies");
    let csrf = input_value(&page.body, "csrf").expect("token");
    let started = officer.post(
        "/console/policies/run",
        &[
            ("csrf", &csrf),
            ("run", "enact"),
            ("policy", "elderly-allowance"),
            ("period", "2026-12"),
        ],
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let result = finished_run(officer, &started.location.expect("the run's page"));
    let entitled: u64 = fact(&result, "New entitlements")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entitlements in {result}"));
    assert!(
        entitled > 0,
        "December's allowance entitles the elderly: {result}"
    );

    // The auditor sees the payments but may not write or reconcile files.
    let page = auditor.get("/console/payments");
    assert!(!page.body.contains("/console/payments/export"));
    let auditor_csrf = input_value(&page.body, "csrf").expect("token");
    assert_eq!(
        auditor
            .post("/console/payments/export", &[("csrf", &auditor_csrf)])
            .status,
        403
    );

    // What the export takes: December's new entitlements, and any the demo bank turned back
    // for a retry (its faults are seeded by the file's random MsgId).
    let page = officer.get("/console/payments");
    let pending: u64 = page
        .body
        .split("<td>To be paid</td><td>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pending row in {}", page.body));
    assert!(
        pending >= entitled,
        "{pending} pending, {entitled} entitled"
    );
    let exported = officer.post("/console/payments/export", &[("csrf", &csrf)]);
    assert_eq!(exported.status, 200, "{}", exported.body);
    small(&exported.body, "the payments page");
    assert!(
        exported.body.contains(&format!("with {pending} transfers")),
        "{pending} pending: {}",
        exported.body
    );
    let link = exported
        .body
        .split("href=\"/console/payments/files/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the newest payment file")
        .to_owned();
    let file = officer.get(&format!("/console/payments/files/{link}"));
    assert_eq!(file.status, 200);
    assert!(
        file.body.contains("pain.001.001.09"),
        "{}",
        &file.body[..200.min(file.body.len())]
    );
    assert_eq!(
        auditor
            .get(&format!("/console/payments/files/{link}"))
            .status,
        403
    );
    assert_eq!(
        officer
            .get("/console/payments/files/..%2F..%2Fconfig.toml")
            .status,
        404
    );

    // The demo bank answers the file; the answer reconciled from the console.
    let dir = served.dir();
    std::fs::write(dir.join("batch.xml"), &file.body).expect("the file saved");
    let bank = common::errandless(
        dir,
        &["bank", "simulate", "batch.xml", "--out", "report.xml"],
    );
    assert!(bank.status.success(), "{}", common::text(&bank));
    let report = std::fs::read(dir.join("report.xml")).expect("the bank's report");
    let page = officer.get("/console/payments");
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    let refused = auditor.post_file(
        "/console/payments/import",
        &[("csrf", &auditor_csrf)],
        ("report", "report.xml", &report),
    );
    assert_eq!(refused.status, 403);
    let forged = officer.post_file(
        "/console/payments/import",
        &[("csrf", "forged")],
        ("report", "report.xml", &report),
    );
    assert_eq!(forged.status, 403);
    let malformed = officer.post_file(
        "/console/payments/import",
        &[("csrf", &csrf)],
        ("report", "report.xml", b"<Document><oops"),
    );
    assert_eq!(malformed.status, 422, "{}", malformed.body);
    assert!(malformed.body.contains("not a valid pain.002.001.12"));
    let done = officer.post_file(
        "/console/payments/import",
        &[("csrf", &csrf)],
        ("report", "report.xml", &report),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let notice = done
        .body
        .split("<p class=\"alert\" role=\"status\">")
        .nth(1)
        .and_then(|n| n.split("</p>").next())
        .expect("a notice")
        .to_owned();
    let count = |word: &str| -> u64 {
        notice
            .split(&format!(" {word}"))
            .next()
            .and_then(|before| before.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {word:?} count in {notice:?}"))
    };
    assert_eq!(
        count("paid") + count("accepted") + count("to retry") + count("waiting"),
        pending,
        "every transfer settled one way: {notice}"
    );
    assert!(count("paid") > 0, "{notice}");
    let again = officer.post_file(
        "/console/payments/import",
        &[("csrf", &csrf)],
        ("report", "report.xml", &report),
    );
    assert!(
        again.body.contains("reconciled before; nothing changed"),
        "{}",
        again.body
    );

    // The paying member follows the file through the GovStack G2P API, signed with its key.
    let msg_id = file
        .body
        .split("<MsgId>")
        .nth(1)
        .and_then(|rest| rest.split("</MsgId>").next())
        .expect("the file's MsgId");
    let server = if served.base.starts_with("http") {
        served.base.clone()
    } else {
        format!("http://{}", served.base)
    };
    let follow = |extra: &[&str]| {
        let mut args = vec!["--data", "data", "pay", "follow", "--server", &server];
        args.extend(["--batch", msg_id]);
        args.extend(extra);
        let out = common::errandless(dir, &args);
        assert!(out.status.success(), "{}", common::text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let standing = follow(&[]);
    let transfers = |state: &str| -> u64 {
        standing
            .lines()
            .find_map(|l| l.trim().strip_prefix(state))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {state:?} row in {standing}"))
    };
    assert_eq!(transfers("total"), pending, "{standing}");
    assert_eq!(transfers("completed"), count("paid"), "{standing}");
    assert_eq!(transfers("in progress"), count("accepted"), "{standing}");
    assert_eq!(
        transfers("failed"),
        count("to retry") + count("waiting"),
        "{standing}"
    );
    let failed = follow(&["--detail", "--status", "FAILED"]);
    assert_eq!(
        failed.lines().count() as u64,
        transfers("failed"),
        "{failed}"
    );
    assert!(failed.lines().all(|l| l.contains("\tFAILED\t")), "{failed}");
    let all = follow(&["--detail"]);
    assert_eq!(all.lines().count() as u64, pending);
}

/// Policies simulated and enacted from the console: only by a policy officer, a simulation
/// changing nothing and agreeing with `errandless policy simulate`, a draft's errors shown
/// beside it, and an enactment of a period already enacted paying no one again.
fn policies_from_the_console(served: &Served, auditor: &mut Client) {
    // An auditor sees the policies but may not run one; trying is a recorded 403.
    let page = auditor.get("/console/policies");
    assert!(!page.body.contains("/console/policies/run"));
    let csrf = input_value(&page.body, "csrf").expect("token");
    for run in ["simulate", "enact"] {
        let refused = auditor.post(
            "/console/policies/run",
            &[
                ("csrf", &csrf),
                ("run", run),
                ("policy", "freshman-subsidy"),
            ],
        );
        assert_eq!(refused.status, 403, "the auditor may not {run}");
    }

    // The provider's login page speaks the language the portal's switch chose.
    let mut officer = served.client();
    let login = officer.get("/login?next=%2F");
    let zh = officer.follow(login);
    assert!(
        zh.body.contains("手机号码") && !zh.body.contains("Phone"),
        "{}",
        zh.body
    );
    officer.get("/lang?to=en&back=%2F");
    let login = officer.get("/login?next=%2F");
    let en = officer.follow(login);
    assert!(
        en.body.contains("lang=\"en\"")
            && en.body.contains("Phone")
            && !en.body.contains("手机号码"),
        "{}",
        en.body
    );
    officer.log_in(&served.phone("policy officer"), PASSWORD);
    let page = officer.get("/console/policies");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Run a policy") && page.body.contains("elderly-allowance"),
        "{}",
        page.body
    );
    let csrf = input_value(&page.body, "csrf").expect("token");
    let runs_before = history_rows(&page.body);

    // A simulation: the same figures as the command line's, and nothing recorded.
    let started = officer.post(
        "/console/policies/run",
        &[
            ("csrf", &csrf),
            ("run", "simulate"),
            ("policy", "freshman-subsidy"),
        ],
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let run = started.location.expect("the run's page");
    assert!(run.starts_with("/console/policies/runs/"), "{run}");
    let result = finished_run(&mut officer, &run);
    assert!(result.contains("nothing was recorded"), "{result}");
    let eligible = fact(&result, "Eligible").expect("the eligible count");
    assert_ne!(eligible, "0", "the demo province has eligible freshmen");
    let policy_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/freshman-subsidy.toml"
    );
    let cli = common::command(served.dir())
        .env("ERRANDLESS_STORE_URL", &served.store_url)
        .args(["policy", "simulate", "--data", "data", policy_file])
        .output()
        .expect("the binary runs");
    let cli = common::text(&cli);
    assert!(
        cli.contains(&format!("  eligible {eligible} (payable")),
        "the console found {eligible} eligible; the command line:\n{cli}"
    );
    assert!(result.contains("By county") && result.contains("Near misses"));
    small(&result, "a simulation's page");
    let page = officer.get("/console/policies");
    assert_eq!(
        history_rows(&page.body),
        runs_before,
        "a simulation records no run"
    );
    assert!(
        page.body.contains(&format!("href=\"{run}\"")),
        "the run is listed"
    );

    // A citizen looked up: what each policy in force decides today, recorded nowhere, agrees
    // with the decision recorded for the period.
    let freshman = served
        .people
        .iter()
        .find(|p| p.0.starts_with("freshman"))
        .expect("the freshman")
        .2
        .clone();
    let lookup = officer.get(&format!("/console/policies?subject={freshman}"));
    assert_eq!(lookup.status, 200);
    let looked_up = lookup
        .body
        .split("Look up decisions")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", lookup.body));
    let row = |period: &str| {
        let start = format!("<td>freshman-subsidy</td><td>{period}</td><td>");
        let at = looked_up.find(&start).map(|i| i + start.len())?;
        let cells: Vec<&str> = looked_up[at..].splitn(3, "</td>").take(2).collect();
        Some((
            cells[0].to_owned(),
            cells[1].trim_start_matches("<td>").to_owned(),
        ))
    };
    let today = row("today, not recorded").unwrap_or_else(|| panic!("{}", lookup.body));
    assert!(today.0.starts_with("eligible"), "{today:?}");
    assert_eq!(Some(today), row("2026"), "{}", lookup.body);

    // A draft with an error comes back with it, located, and what was typed kept.
    let draft = "id = \"draft-2026\"\n[title\nzh = 1\n";
    let back = officer.post(
        "/console/policies/run",
        &[("csrf", &csrf), ("run", "simulate"), ("source", draft)],
    );
    assert_eq!(back.status, 422, "{}", back.body);
    assert!(back.body.contains("draft.toml:2:"), "{}", back.body);
    assert!(back.body.contains("aria-invalid=\"true\""));
    assert!(back.body.contains("[title"), "the draft is kept");
    // A period outside the policy's validity is refused before anything runs.
    let freshman = std::fs::read_to_string(policy_file).expect("the pack's policy");
    let back = officer.post(
        "/console/policies/run",
        &[
            ("csrf", &csrf),
            ("run", "enact"),
            ("source", &freshman),
            ("period", "1999"),
        ],
    );
    assert_eq!(back.status, 422, "{}", back.body);
    assert_eq!(
        history_rows(&officer.get("/console/policies").body),
        runs_before
    );

    // An enactment of the period the demo enacted: a run recorded, no one entitled again.
    let started = officer.post(
        "/console/policies/run",
        &[
            ("csrf", &csrf),
            ("run", "enact"),
            ("policy", "freshman-subsidy"),
        ],
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let result = finished_run(&mut officer, &started.location.expect("the run's page"));
    assert_eq!(
        fact(&result, "State").as_deref(),
        Some("Finished"),
        "{result}"
    );
    assert_eq!(
        fact(&result, "New entitlements").as_deref(),
        Some("0"),
        "{result}"
    );
    assert_eq!(
        fact(&result, "Decisions recorded").as_deref(),
        Some("0"),
        "{result}"
    );
    let page = officer.get("/console/policies");
    assert_eq!(
        history_rows(&page.body),
        runs_before + 1,
        "the enactment is in the run history"
    );

    payments_from_the_console(served, &mut officer, auditor);

    // A forged form changes nothing.
    let runs_before = history_rows(&officer.get("/console/policies").body);
    let forged = officer.post(
        "/console/policies/run",
        &[
            ("csrf", "forged"),
            ("run", "enact"),
            ("policy", "elderly-allowance"),
        ],
    );
    assert_eq!(forged.status, 403);
    assert_eq!(
        history_rows(&officer.get("/console/policies").body),
        runs_before
    );
}

fn metric(client: &mut Client, name: &str) -> u64 {
    let text = client.get("/metrics").body;
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn small(body: &str, what: &str) {
    assert!(
        body.len() < 100 * 1024,
        "{what} is {} bytes; pages stay under 100 KB",
        body.len()
    );
}

/// The whole walk on each backend: SQLite, then PostgreSQL when a server is configured.
#[tokio::test(flavor = "multi_thread")]
async fn the_portal_and_the_console_over_http() {
    errandless_store::testing::for_each_database(|db| async move {
        let url = db.url().to_owned();
        tokio::task::spawn_blocking(move || walk(&url))
            .await
            .expect("the walk passes");
    })
    .await;
}

/// The portal and the console, over HTTP, on the demo served with its store at `store_url`.
fn walk(store_url: &str) {
    let served = Served::start(store_url);
    let mut anonymous = served.client();

    // Anyone: a landing page, a friendly 404, the login asked for a personal page.
    let landing = anonymous.get("/");
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("lang=\"zh-CN\""), "zh-CN by default");
    let missing = anonymous.get("/no/such/page");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("页面不存在"), "{}", missing.body);
    let personal = anonymous.get("/my-data");
    assert_eq!(personal.status, 303);
    assert_eq!(personal.location.as_deref(), Some("/login?next=%2Fmy-data"));
    // The language switch goes back only to this site.
    let switched = anonymous.get("/lang?to=en&back=%2F%2Fevil.example");
    assert_eq!(switched.location.as_deref(), Some("/"));
    assert!(anonymous.get("/").body.contains("Welcome to Errandless"));

    // The freshman: the subsidy, its reasons, who used their data.
    let mut freshman = served.client();
    let home = freshman.log_in(&served.phone("freshman"), PASSWORD);
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains("建档立卡家庭大学新生入学资助"),
        "{}",
        home.body
    );
    small(&home.body, "the home page");
    let link = home
        .body
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/benefits/freshman-subsidy/"))
        .and_then(|s| s.split('"').next())
        .expect("a link to the subsidy's reasons")
        .to_owned();
    let benefit = freshman.get(&format!("/benefits/freshman-subsidy/{link}"));
    assert_eq!(benefit.status, 200);
    for part in ["id=\"conditions\"", "id=\"legal\"", "如何提出异议", "¥"] {
        assert!(benefit.body.contains(part), "{part} in {}", benefit.body);
    }
    assert_eq!(
        freshman.get("/benefits/elderly-allowance/2026-11").status,
        404,
        "a decision about someone else, or none, is not found"
    );
    let usage = freshman.get("/my-data");
    assert_eq!(usage.status, 200);
    let csrf = input_value(&usage.body, "csrf").expect("the page's form token");
    let index = input_value(&usage.body, "index").expect("a record to verify");
    let verified = freshman.post("/my-data/verify", &[("csrf", &csrf), ("index", &index)]);
    assert!(verified.body.contains("已验证"), "{}", verified.body);
    let foreign = freshman.post("/my-data/verify", &[("csrf", &csrf), ("index", "0")]);
    assert!(
        foreign.body.contains("验证失败") || foreign.body.contains("已验证"),
        "record 0 is checked, and refused unless it is about the freshman"
    );
    let forged = freshman.post("/my-data/verify", &[("csrf", "forged"), ("index", &index)]);
    assert_eq!(forged.status, 403, "a form without this session's token");

    // A service that needs a second factor asks for it, instead of the form.
    let step_up = freshman.get("/services/subsidy-card-account-change/apply");
    assert_eq!(step_up.status, 403);
    assert!(step_up.body.contains("acr=L3"), "{}", step_up.body);
    assert!(
        !step_up.body.contains("readonly"),
        "no form, so no prefill read"
    );

    // An application: prefilled fields with their source; errors beside the fields.
    let form = freshman.get("/services/student-status-certificate/apply");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("readonly"),
        "prefilled fields: {}",
        form.body
    );
    assert!(form.body.contains("class=\"source\""), "sources named");
    let csrf = input_value(&form.body, "csrf").expect("token");
    let name = input_value(&form.body, "name").expect("the name, prefilled");
    let wrong = freshman.post(
        "/services/student-status-certificate/apply",
        &[("csrf", &csrf), ("name", "Mallory"), ("purpose", "")],
    );
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("aria-invalid=\"true\""),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("field-error"));
    assert!(
        wrong.body.contains(&format!("value=\"{name}\"")) && !wrong.body.contains("Mallory"),
        "a prefilled value stands as the department holds it"
    );
    let stale = freshman.post(
        "/services/student-status-certificate/apply",
        &[("csrf", "stale"), ("purpose", "transfer")],
    );
    assert_eq!(stale.status, 403);
    let filed = freshman.post(
        "/services/student-status-certificate/apply",
        &[
            ("csrf", &csrf),
            ("name", "Mallory"),
            ("purpose", "transfer"),
        ],
    );
    assert_eq!(filed.status, 303, "{}", filed.body);
    let case_path = filed.location.clone().expect("to the case");
    let case_id = case_path.trim_start_matches("/cases/").to_owned();
    assert!(freshman.get(&case_path).body.contains("已提交"));
    assert!(freshman
        .get("/")
        .body
        .contains(&format!("/cases/{case_id}")));

    // The county officer moves it through to delivery; the form shows the island's name.
    let mut officer = served.client();
    officer.log_in(&served.phone("county officer"), PASSWORD);
    let queue = officer.get("/console/cases");
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.contains(&format!("/console/cases/{case_id}")),
        "{}",
        queue.body
    );
    let detail = officer.get(&format!("/console/cases/{case_id}"));
    assert!(detail.body.contains(&name) && !detail.body.contains("Mallory"));
    let csrf = input_value(&detail.body, "csrf").expect("token");
    for to in ["accepted", "in_review", "approved", "delivered"] {
        let stepped = officer.post(
            &format!("/console/cases/{case_id}/step"),
            &[("csrf", &csrf), ("to", to), ("note", "")],
        );
        assert_eq!(
            stepped.location.as_deref(),
            Some(format!("/console/cases/{case_id}?done=1").as_str()),
            "to {to}"
        );
    }
    let illegal = officer.post(
        &format!("/console/cases/{case_id}/step"),
        &[("csrf", &csrf), ("to", "accepted"), ("note", "")],
    );
    assert!(
        illegal
            .location
            .as_deref()
            .is_some_and(|l| l.contains("error=")),
        "a delivered case does not move back"
    );

    // The freshman rates it badly: the officer gets a follow-up to answer.
    let case_page = freshman.get(&case_path);
    assert!(case_page.body.contains("已送达") && case_page.body.contains("name=\"level\""));
    let csrf = input_value(&case_page.body, "csrf").expect("token");
    let rated = freshman.post(
        &format!("{case_path}/rating"),
        &[
            ("csrf", &csrf),
            ("level", "dissatisfied"),
            ("comment", "太慢"),
        ],
    );
    assert_eq!(rated.status, 303);
    let case_page = freshman.get(&case_path);
    assert!(case_page.body.contains("不满意") && !case_page.body.contains("name=\"level\""));
    let follow_ups = officer.get("/console/ratings");
    assert!(follow_ups.body.contains("太慢"), "{}", follow_ups.body);

    // The officer approves the data request left for education.
    let requests = officer.get("/console/exchange");
    let action = requests
        .body
        .split("action=\"")
        .find_map(|s| s.strip_prefix("/console/exchange/requests/"))
        .and_then(|s| s.split('"').next())
        .expect("a pending request")
        .to_owned();
    let csrf = input_value(&requests.body, "csrf").expect("token");
    let approved = officer.post(
        &format!("/console/exchange/requests/{action}"),
        &[("csrf", &csrf), ("decision", "approve")],
    );
    assert_eq!(
        approved.location.as_deref(),
        Some("/console/exchange?done=1")
    );
    let after = officer.get("/console/exchange").body;
    assert!(!after.contains(&action), "no longer pending");
    assert!(
        after.contains("human_resources") && after.contains("有效"),
        "and now among the department's grants in force"
    );

    // Another county's case is not the officer's: a 403, counted and recorded.
    let mut elderly = served.client();
    elderly.log_in(&served.phone("elderly"), PASSWORD);
    let form = elderly.get("/services/student-status-certificate/apply");
    let csrf = input_value(&form.body, "csrf").expect("token");
    let other = elderly.post(
        "/services/student-status-certificate/apply",
        &[
            ("csrf", &csrf),
            ("purpose", "abroad"),
            ("name", "x"),
            ("student_no", "x"),
            ("school", "x"),
        ],
    );
    let other_case = other.location.clone().unwrap_or_default();
    let refusals = metric(&mut anonymous, "errandless_portal_refusals_total");
    assert_eq!(other.status, 303, "{}", other.body);
    let id = other_case.trim_start_matches("/cases/");
    assert_eq!(officer.get(&format!("/console/cases/{id}")).status, 403);
    assert!(
        !officer
            .get("/console/cases")
            .body
            .contains(&format!("/console/cases/{id}\"")),
        "another county's case is not in the queue"
    );
    assert_eq!(
        freshman.get(&other_case).status,
        403,
        "nor another citizen's"
    );
    // The auditor sees the payment files and the run history; the county officer may not
    // see payments.
    let mut auditor = served.client();
    auditor.log_in(&served.phone("auditor"), PASSWORD);
    let payments = auditor.get("/console/payments");
    assert_eq!(payments.status, 200);
    assert!(
        payments.body.contains("ERRANDLESS-"),
        "a pain.001 file: {}",
        payments.body
    );
    let policies = auditor.get("/console/policies");
    assert!(policies.body.contains("freshman-subsidy") && policies.body.contains("batch"));
    assert!(auditor
        .get("/console/ledger")
        .body
        .contains("ledger.errandless.example"));
    assert_eq!(officer.get("/console/payments").status, 403);

    policies_from_the_console(&served, &mut auditor);

    // A citizen is no staff.
    assert_eq!(freshman.get("/console").status, 403);
    assert!(metric(&mut anonymous, "errandless_portal_refusals_total") > refusals);

    // No input gives a 500.
    for path in [
        "/benefits/%00/%FF",
        "/benefits/x",
        "/cases/abc",
        "/cases/99999999999999999999999",
        "/cases/-1",
        "/services/%3Cscript%3E",
        "/services/student-status-certificate/apply?x=%00",
        "/console/cases/abc",
        "/console/policies?subject=%3Cscript%3E",
        "/console/policies?subject=110101199003074258",
        "/lang?to=%00&back=%0d%0aSet-Cookie:x=y",
        "/my-data/verify",
    ] {
        for who in [&mut freshman, &mut officer, &mut anonymous] {
            let page = who.get(path);
            assert!(
                page.status < 500,
                "{path} gave {}: {}",
                page.status,
                page.body
            );
        }
    }
    let huge = "字".repeat(20_000);
    let form = freshman.get("/services/student-status-certificate/apply");
    let csrf = input_value(&form.body, "csrf").expect("token");
    for body in [
        vec![("csrf", csrf.as_str()), ("purpose", huge.as_str())],
        vec![("csrf", csrf.as_str()), ("\u{0}", "\u{0}")],
        vec![
            ("csrf", csrf.as_str()),
            ("purpose", "transfer"),
            ("purpose", "abroad"),
        ],
    ] {
        let page = freshman.post("/services/student-status-certificate/apply", &body);
        assert!(page.status < 500, "{}: {}", page.status, page.body);
    }
    for path in [
        "/cases/1/rating",
        "/console/cases/1/step",
        "/my-data/verify",
        "/logout",
    ] {
        let page = freshman.post(path, &[("csrf", "x"), ("level", "\u{0}"), ("to", "🙂")]);
        assert!(page.status < 500, "{path} gave {}", page.status);
    }

    // Logging out ends the portal's session.
    let home = freshman.get("/");
    let csrf = input_value(&home.body, "csrf").expect("token");
    assert_eq!(freshman.post("/logout", &[("csrf", &csrf)]).status, 303);
    assert_eq!(freshman.get("/my-data").status, 303);
}
