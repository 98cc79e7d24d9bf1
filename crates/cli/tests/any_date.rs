//! The demo on another date: on 2027-03-01 the pack carries over into 2027, enacts March's
//! allowance with the 2027 parameters, and explains it as such. The date is the binary's
//! clock (`ERRANDLESS_CLOCK`), not the machine's.

mod common;

use common::text;

/// `(subject, amount in fen)` of one payable decision of `policy` for `period`.
fn payable(store: &std::path::Path, policy: &str, period: &str) -> Option<(String, i64)> {
    let db = rusqlite::Connection::open(store).expect("the platform store opens");
    db.query_row(
        "SELECT subject_id, amount_fen FROM policy_decisions \
         WHERE policy_id = ?1 AND period = ?2 AND eligible = 1 AND payable = 1 \
         ORDER BY seq LIMIT 1",
        [policy, period],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .ok()
}

#[test]
fn the_demo_on_1_march_2027_pays_march_at_the_2027_rates() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = common::command(dir.path())
        .env("ERRANDLESS_CLOCK", "2027-03-01T10:00:00+08:00")
        .args(["demo", "--no-serve", "--people", "3000", "--data", "data"])
        .output()
        .expect("the binary runs");
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("elderly-allowance") && shown.contains("2027-03"),
        "March 2027 is enacted: {shown}"
    );
    let enacted = shown.split("== 9.").nth(1).expect("the enactment step");
    let enacted = enacted.split("== 10.").next().expect("the enactment step");
    assert!(
        !enacted.contains(" 2026"),
        "no period of 2026 is enacted: {enacted}"
    );
    assert!(
        !shown.contains("2026-12-"),
        "every record is at the clock's time, not the machine's: {shown}"
    );

    let store = dir.path().join("data/platform.sqlite");
    let (subject, amount) =
        payable(&store, "elderly-allowance", "2027-03").expect("someone is paid for March 2027");
    assert!(
        [12000, 25000, 60000].contains(&amount),
        "{amount} fen is a 2027 monthly amount"
    );

    let explained = common::command(dir.path())
        .args([
            "policy",
            "explain",
            "elderly-allowance",
            "--subject",
            &subject,
            "--period",
            "2027-03",
            "--lang",
            "en",
            "--data",
            "data",
        ])
        .output()
        .expect("the binary runs");
    let explanation = text(&explained);
    assert!(explained.status.success(), "{explanation}");
    assert!(
        explanation.contains("Parameters (in force for the period):"),
        "{explanation}"
    );
    assert!(
        explanation.contains(&format!("= {amount}, in force from 2027-01-01")),
        "the amount paid is named with its date of effect: {explanation}"
    );
    assert!(
        explanation.contains("Provincial Notice on the 2027 Old-Age Allowance Rates"),
        "{explanation}"
    );
    assert!(
        !explanation.contains("in force from 2026-01-01"),
        "no 2026 value applies to March 2027: {explanation}"
    );

    // The freshman subsidy carries over too: its period is the year 2027.
    let db = rusqlite::Connection::open(&store).expect("the platform store opens");
    let periods: Vec<String> = db
        .prepare(
            "SELECT DISTINCT period FROM policy_enactments WHERE policy_id = 'freshman-subsidy'",
        )
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        })
        .expect("the enactments");
    assert_eq!(periods, vec!["2027".to_owned()]);
}
