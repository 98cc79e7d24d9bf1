//! `errandless policy simulate` over the demo's data center, and the cross-check the
//! correctness of evaluation rests on: the eligible set and amounts computed through sync,
//! Parquet and DataFusion match, exactly, those of plain SQL run directly on the islands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;
use common::{errandless, text};

fn policy(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(name)
        .display()
        .to_string()
}

/// `policy,subject,eligible,amount,payable,failed` rows of one policy: subject to (amount,
/// payable) for the eligible.
fn eligible_from_csv(path: &Path, policy_id: &str) -> BTreeMap<String, (i64, bool)> {
    let text = std::fs::read_to_string(path).expect("the decisions file");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("policy,subject,eligible,amount,payable,failed")
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|c| c[0] == policy_id && c[2] == "true")
        .map(|c| {
            (
                c[1].to_owned(),
                (c[3].parse().expect("fen"), c[4] == "true"),
            )
        })
        .collect()
}

#[test]
fn simulation_matches_plain_sql_on_the_islands_and_names_what_is_missing() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let data = tmp.path().join("data");
    let data_arg = data.display().to_string();

    // Before any sync there is nothing to read: the missing snapshot is named.
    let out = errandless(
        tmp.path(),
        &[
            "policy",
            "simulate",
            "--data",
            &data_arg,
            &policy("elderly-allowance.toml"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("reads civil_affairs.death, but data_bureau holds no snapshot"),
        "{}",
        text(&out)
    );

    let out = errandless(
        tmp.path(),
        &[
            "demo",
            "--no-serve",
            "--people",
            "4000",
            "--data",
            &data_arg,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let csv = tmp.path().join("decisions.csv");
    let out = errandless(
        tmp.path(),
        &[
            "policy",
            "simulate",
            "--data",
            &data_arg,
            "--decisions",
            &csv.display().to_string(),
            &policy("elderly-allowance.toml"),
            &policy("disability-nursing-allowance.toml"),
        ],
    );
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let ours = eligible_from_csv(&csv, "elderly-allowance");

    // The same rule in plain SQL on the islands: one resident row per person (the first by
    // birth date, then status, as the policy engine takes it), aged 80 or over on 1 January
    // 2026, registered, not dead; paid by age band; payable when a one-card account exists.
    let islands = data.join("islands");
    let conn = rusqlite::Connection::open(islands.join("public_security.sqlite")).expect("island");
    for (name, file) in [("ca", "civil_affairs"), ("fin", "finance")] {
        conn.execute(
            &format!("ATTACH DATABASE ?1 AS {name}"),
            [islands.join(format!("{file}.sqlite")).display().to_string()],
        )
        .expect("attach");
    }
    let mut stmt = conn
        .prepare(
            "WITH first AS (
                 SELECT id_number, birth_date, status,
                        ROW_NUMBER() OVER (PARTITION BY id_number ORDER BY birth_date, status) AS n
                 FROM resident)
             SELECT id_number,
                    CASE WHEN birth_date <= '1926-01-01' THEN 50000
                         WHEN birth_date <= '1936-01-01' THEN 20000
                         ELSE 10000 END,
                    EXISTS (SELECT 1 FROM fin.one_card c WHERE c.id_number = first.id_number)
             FROM first
             WHERE n = 1 AND status = 'registered' AND birth_date <= '1946-01-01'
               AND NOT EXISTS (SELECT 1 FROM ca.death d WHERE d.id_number = first.id_number)",
        )
        .expect("prepare");
    let plain: BTreeMap<String, (i64, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert!(
        plain.len() > 20,
        "the province has enough elderly: {}",
        plain.len()
    );
    assert_eq!(
        ours, plain,
        "the eligible, their amounts and accounts match exactly"
    );

    let payable: Vec<i64> = plain
        .values()
        .filter(|(_, p)| *p)
        .map(|(a, _)| *a)
        .collect();
    let per_payment: i64 = payable.iter().sum();
    assert!(
        printed.contains(&format!(
            "eligible {} (payable {}, without an account {})",
            plain.len(),
            payable.len(),
            plain.len() - payable.len()
        )),
        "{printed}"
    );
    assert!(printed.contains("x 12 ="), "monthly over 2026: {printed}");
    // "  cost ¥12,345.00 per payment x 12 = …" of the elderly allowance, the first policy.
    let cost_line = printed
        .lines()
        .find(|l| l.trim_start().starts_with("cost ¥"))
        .expect("a cost line");
    let printed_fen: i64 = cost_line
        .trim_start()
        .trim_start_matches("cost ¥")
        .split(' ')
        .next()
        .expect("an amount")
        .replace([',', '.'], "")
        .parse()
        .expect("digits");
    assert_eq!(printed_fen, per_payment, "{cost_line}");
    assert!(
        printed.contains("disability-nursing-allowance"),
        "{printed}"
    );
}
