//! Enactment from the command line, on a demo province: the demo enacts the pack and pays
//! through the demo bank; enacting again records and pays nothing; a decision is explained;
//! an admission is paid through the next sync's delta run; and enactments killed with SIGKILL
//! at random moments, then rerun, leave each decision recorded and each person entitled once.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{errandless, text};

fn policies() -> String {
    format!("{}/../../policies", env!("CARGO_MANIFEST_DIR"))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = errandless(dir, args);
    let shown = text(&out);
    assert!(out.status.success(), "{args:?}: {shown}");
    shown
}

/// The enactment table's row of `policy`: its columns after the policy id.
fn row<'a>(shown: &'a str, policy: &str) -> Vec<&'a str> {
    shown
        .lines()
        .find(|l| l.starts_with(policy))
        .unwrap_or_else(|| panic!("{policy} in {shown}"))
        .split_whitespace()
        .skip(1)
        .collect()
}

/// Runs a command that must fail, saying `why`.
fn refused(dir: &Path, args: &[&str], why: &str) {
    let out = errandless(dir, args);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(why), "{}", text(&out));
}

/// The count of `state` in `pay status`.
fn status_count(dir: &Path, state: &str) -> u64 {
    let shown = ok(dir, &["--data", "data", "pay", "status"]);
    shown
        .lines()
        .find(|l| l.starts_with(state))
        .and_then(|l| l.split_whitespace().nth(1))
        .map_or(0, |n| n.parse().expect("a count"))
}

/// The first subject the elderly allowance's notices ask to bind an account, and the notices
/// (in English).
fn waiting_for_an_account(dir: &Path) -> (String, String) {
    let notices = ok(
        dir,
        &[
            "--data",
            "data",
            "policy",
            "notices",
            "elderly-allowance",
            "--lang",
            "en",
        ],
    );
    let subject = notices
        .lines()
        .next()
        .and_then(|l| l.split('\t').next())
        .expect("someone eligible has no account")
        .to_owned();
    (subject, notices)
}

/// The English explanation of `subject`'s decision under `policy`.
fn explanation(dir: &Path, policy: &str, subject: &str) -> String {
    ok(
        dir,
        &[
            "--data",
            "data",
            "policy",
            "explain",
            policy,
            "--subject",
            subject,
            "--lang",
            "en",
        ],
    )
}

/// Opens `account` for `subject` on the finance island.
fn open_account(dir: &Path, subject: &str, account: &str) {
    rusqlite::Connection::open(dir.join("data/islands/finance.sqlite"))
        .expect("the island")
        .execute(
            "INSERT INTO one_card (account, id_number, bank, opened_on, status) \
             VALUES (?1, ?2, '中国农业银行', '2026-11-01', 'normal')",
            [account, subject],
        )
        .expect("an account is opened");
}

#[test]
fn the_pack_is_enacted_paid_once_explained_and_an_admission_is_paid_by_the_delta_run() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let d = tmp.path();
    let shown = ok(
        d,
        &["demo", "--no-serve", "--people", "20000", "--data", "data"],
    );
    let enacted = shown.split("== 9.").nth(1).expect("the enactment step");
    let elderly = row(enacted, "elderly-allowance");
    let eligible: u64 = elderly[3].parse().expect("eligible");
    let entitled: u64 = elderly[6].parse().expect("entitled");
    assert!(
        eligible > 0 && entitled > 0 && entitled <= eligible,
        "{enacted}"
    );
    assert!(shown.contains("== 10. payments"), "{shown}");
    assert!(shown.contains("ERRANDLESS-"), "a pain.001 file: {shown}");
    // The payee's tracker lists the decision made about them, its proof verified.
    let tracked = shown.split("== 11.").nth(1).expect("the payee's tracker");
    assert!(
        tracked
            .lines()
            .any(|l| ["freshman-subsidy", "elderly-allowance", "disability-"]
                .iter()
                .any(|id| l.contains(id))
                && l.contains("eligible")
                && l.contains("verified in tree")),
        "{tracked}"
    );
    let paid = status_count(d, "paid");
    assert!(paid > 0, "{shown}");

    // Enacting the pack again records nothing new and entitles no one again.
    let pack = policies();
    let files: Vec<String> = [
        "freshman-subsidy",
        "elderly-allowance",
        "disability-living-allowance",
        "disability-nursing-allowance",
        "dibao-screen",
    ]
    .iter()
    .map(|f| format!("{pack}/{f}.toml"))
    .collect();
    let mut args = vec!["--data", "data", "policy", "enact"];
    args.extend(files.iter().map(String::as_str));
    let again = ok(d, &args);
    for id in ["freshman-subsidy", "elderly-allowance", "dibao-screen"] {
        let r = row(&again, id);
        assert_eq!((r[2], r[6]), ("0", "0"), "{id}: {again}");
    }
    let total_before = status_count(d, "total");

    // The payee's explanation names the values and the snapshots behind the decision.
    let (policy, subject) = shown
        .lines()
        .find_map(|l| l.split("policy explain ").nth(1))
        .and_then(|l| l.split_once(" --subject "))
        .map(|(p, s)| (p.to_owned(), s.trim_end_matches(['`', ')', ':']).to_owned()))
        .expect("the demo names a payee");
    let explained = ok(
        d,
        &[
            "--data",
            "data",
            "policy",
            "explain",
            &policy,
            "--subject",
            &subject,
        ],
    );
    assert!(explained.contains("[满足]"), "{explained}");
    assert!(explained.contains("[met]"), "{explained}");
    assert!(explained.contains("Registered residents"), "{explained}");
    let missing = errandless(
        d,
        &[
            "--data",
            "data",
            "policy",
            "explain",
            "elderly-allowance",
            "--subject",
            "52010219900307105X",
        ],
    );
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(text(&missing).contains("no decision"), "{}", text(&missing));

    // The live case: the admission is decided by the sync's delta run over that one student.
    let admitted = ok(d, &["--data", "data", "demo", "admit"]);
    assert!(admitted.contains("admitted:"), "{admitted}");
    assert!(
        admitted.contains("delta run: freshman-subsidy over 1 subject(s)"),
        "{admitted}"
    );
    assert!(
        admitted.contains("paid ") || admitted.contains("Outcome: eligible"),
        "{admitted}"
    );
    let student = admitted
        .lines()
        .find_map(|l| l.strip_prefix("admitted: "))
        .and_then(|l| l.split(['(', ')']).nth(1))
        .expect("the student's number")
        .to_owned();
    let decision = explanation(d, "freshman-subsidy", &student);
    assert!(decision.contains("[met] admitted_this_year"), "{decision}");
    assert!(
        decision.contains("version 2"),
        "the new admission snapshot: {decision}"
    );
    assert!(status_count(d, "total") >= total_before);

    // The missing-data path: someone eligible without an account is asked to bind one; once
    // the finance island holds an account, the next sync's delta run entitles them.
    let (waiting, notices) = waiting_for_an_account(d);
    assert!(notices.contains("Please bind an account"), "{notices}");
    open_account(d, &waiting, "6228480099990000017");
    let pending_before = status_count(d, "pending");
    let synced = ok(d, &["--data", "data", "sync"]);
    assert!(
        synced.contains("delta run of the policies in force"),
        "{synced}"
    );
    assert!(status_count(d, "pending") > pending_before, "{synced}");
    let notices = ok(
        d,
        &["--data", "data", "policy", "notices", "elderly-allowance"],
    );
    assert!(!notices.contains(&waiting), "{notices}");

    // The reverse case: their death is registered before the payment leaves. The delta run
    // records that they no longer qualify and withdraws the pending entitlement.
    assert_eq!(status_count(d, "withdrawn"), 0);
    let pending_before = status_count(d, "pending");
    let died = ok(
        d,
        &["--data", "data", "demo", "death", "--subject", &waiting],
    );
    assert!(died.contains("death registered:"), "{died}");
    assert!(
        died.contains("elderly-allowance") && died.contains("1 entitlement(s) withdrawn"),
        "{died}"
    );
    assert!(died.contains("theirs: withdrawn"), "{died}");
    assert_eq!(status_count(d, "withdrawn"), 1, "{died}");
    assert_eq!(status_count(d, "pending"), pending_before - 1, "{died}");
    let decision = explanation(d, "elderly-allowance", &waiting);
    assert!(decision.contains("[applies] deceased"), "{decision}");
    refused(
        d,
        &["--data", "data", "demo", "death", "--subject", &waiting],
        "registered already",
    );
    // Syncing again changes nothing more.
    ok(d, &["--data", "data", "sync"]);
    assert_eq!(status_count(d, "withdrawn"), 1);

    // Someone whose rows leave every dataset the policy reads (the registration struck out,
    // the account closed) is decided again with no data rather than keeping their last
    // decision: the delta run withdraws the pending entitlement.
    let (leaving, _) = waiting_for_an_account(d);
    assert_ne!(leaving, waiting);
    open_account(d, &leaving, "6228480099990000025");
    let island = |name: &str| {
        rusqlite::Connection::open(d.join(format!("data/islands/{name}.sqlite")))
            .expect("the island")
    };
    let pending_before = status_count(d, "pending");
    ok(d, &["--data", "data", "sync"]);
    assert_eq!(status_count(d, "pending"), pending_before + 1);
    island("finance")
        .execute("DELETE FROM one_card WHERE id_number = ?1", [&leaving])
        .expect("the account is closed");
    island("public_security")
        .execute("DELETE FROM resident WHERE id_number = ?1", [&leaving])
        .expect("the registration is struck out");
    let synced = ok(d, &["--data", "data", "sync"]);
    assert_eq!(status_count(d, "withdrawn"), 2, "{synced}");
    assert_eq!(status_count(d, "pending"), pending_before, "{synced}");
    let decision = explanation(d, "elderly-allowance", &leaving);
    assert!(
        decision.contains("[not met] registered_resident"),
        "{decision}"
    );

    // A second admission of the same student is refused and changes nothing.
    refused(
        d,
        &["--data", "data", "demo", "admit", "--subject", &student],
        "already admitted",
    );

    let verify = errandless(d, &["--data", "data", "ledger", "verify", "data/ledger"]);
    assert!(verify.status.success(), "{}", text(&verify));
}

#[test]
fn sigkill_during_enactment_loses_no_decision_and_pays_no_one_twice() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let d = tmp.path();
    ok(
        d,
        &["demo", "--no-serve", "--people", "20000", "--data", "data"],
    );
    let demo_total = status_count(d, "total");
    let elderly = format!("{}/elderly-allowance.toml", policies());
    let months: Vec<String> = (1..=8).map(|m| format!("2026-{m:02}")).collect();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut killed = 0;
    for month in &months {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(env!("CARGO_BIN_EXE_errandless"))
            .current_dir(d)
            .args([
                "--data", "data", "policy", "enact", &elderly, "--period", month,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("enact starts");
        std::thread::sleep(Duration::from_millis(50 + seed % 1_500));
        if child.try_wait().expect("wait").is_none() {
            killed += 1;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
    }
    eprintln!(
        "{killed} of {} enactments were killed while running",
        months.len()
    );
    // Each rerun completes its month; a second rerun finds nothing to do.
    let mut per_month = Vec::new();
    for month in &months {
        let done = ok(
            d,
            &[
                "--data", "data", "policy", "enact", &elderly, "--period", month,
            ],
        );
        let r = row(&done, "elderly-allowance");
        per_month.push((r[3].to_owned(), r[4].to_owned()));
        let again = ok(
            d,
            &[
                "--data", "data", "policy", "enact", &elderly, "--period", month,
            ],
        );
        let r = row(&again, "elderly-allowance");
        assert_eq!((r[2], r[6]), ("0", "0"), "{month}: {again}");
    }
    // Every month decided the same people, and each payable one is entitled once a month.
    assert!(per_month.windows(2).all(|w| w[0] == w[1]), "{per_month:?}");
    let (eligible, without_account) = &per_month[0];
    let payable: u64 = eligible.parse::<u64>().expect("a count")
        - without_account.parse::<u64>().expect("a count");
    // The demo enacted this month (November, or the policy's nearest month), outside 1 to 8.
    let shown = ok(d, &["--data", "data", "pay", "status"]);
    assert_eq!(
        status_count(d, "total"),
        demo_total + payable * months.len() as u64,
        "each payable person entitled once a month: {shown}"
    );
    let verify = errandless(d, &["--data", "data", "ledger", "verify", "data/ledger"]);
    assert!(verify.status.success(), "{}", text(&verify));
}
