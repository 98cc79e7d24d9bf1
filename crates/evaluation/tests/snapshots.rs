//! The plan runs on Parquet snapshots shaped like the data center's, joined on the subject.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use errandless_evaluation::{
    compile, compile_for, compile_over, decide_without_rows, numbered, register_snapshots, run,
    run_split, run_split_in, simulate, subject_ranges, Decision, EvaluationError, Evaluator, Keep,
    Plan, SUBJECT_ROW,
};
use errandless_policy::Policy;
use errandless_standards::Standard;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

const POLICY: &str = r#"id = "nursing-test"
title = { zh = "护理补贴", en = "Nursing allowance" }
legal_basis = [{ ref = "Test notice (synthetic)" }]
subject = "person"
valid = { from = "2026-01-01", to = "2026-12-31" }
amount = "CASE grade WHEN 1 THEN 10000 ELSE 8000 END"
pay_to = "account"
frequency = "monthly"
eligible = "certified AND severe"
[inputs]
grade = "disabled_persons.certificate.grade"
account = "finance.one_card.account"
[[condition]]
id = "certified"
when = "grade IS NOT NULL"
cite = "art. 1"
[[condition]]
id = "severe"
when = "grade IN (1, 2)"
cite = "art. 2"
"#;

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    write_with(path, columns, None);
}

fn write_with(path: &Path, columns: Vec<(&str, ArrayRef)>, properties: Option<WriterProperties>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("a batch");
    let file = std::fs::File::create(path).expect("create");
    let mut writer = ArrowWriter::try_new(file, schema, properties).expect("a writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

fn strings(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// The certificate and card snapshots: A has grade 1, B grade 3, C two certificates (grade 2
/// and 4): one row per subject, the first in field order. D has only an account.
fn snapshots(dir: &Path) -> BTreeMap<String, PathBuf> {
    let cert = dir.join("cert.parquet");
    let card = dir.join("card.parquet");
    write(
        &cert,
        vec![
            ("subject", strings(&["A", "B", "C", "C"])),
            (
                "grade",
                Arc::new(Int64Array::from(vec![1, 3, 4, 2])) as ArrayRef,
            ),
            (
                "row_hash",
                Arc::new(Int64Array::from(vec![7, 8, 9, 10])) as ArrayRef,
            ),
        ],
    );
    write(
        &card,
        vec![
            ("subject", strings(&["A", "D"])),
            ("account", strings(&["6228", "6229"])),
            (
                "row_hash",
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            ),
        ],
    );
    BTreeMap::from([
        ("disabled_persons.certificate".to_string(), cert),
        ("finance.one_card".to_string(), card),
    ])
}

fn decide(plan: &Plan, files: &BTreeMap<String, PathBuf>) -> Vec<Decision> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let ctx = datafusion_ctx();
        register_snapshots(&ctx, plan, files)
            .await
            .expect("registered");
        run(&ctx, plan).await.expect("ran")
    })
}

#[test]
fn one_subject_or_a_few_are_decided_as_in_the_whole_run() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = snapshots(dir.path());
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let all = decide(&compile(&policy), &files);
    for subject in ["A", "B", "C", "D"] {
        let one = decide(&compile_for(&policy, Some(&[subject.to_string()])), &files);
        let expected: Vec<&Decision> = all.iter().filter(|d| d.subject == subject).collect();
        assert_eq!(one.iter().collect::<Vec<_>>(), expected, "{subject}");
    }
    let some = decide(
        &compile_for(&policy, Some(&["D".to_string(), "A".to_string()])),
        &files,
    );
    let subjects: Vec<&str> = some.iter().map(|d| d.subject.as_str()).collect();
    assert_eq!(subjects, ["A", "D"]);
    for nobody in [
        vec!["Z".to_string()],
        vec!["A' OR 'x'='x".to_string()],
        vec![],
    ] {
        assert!(
            decide(&compile_for(&policy, Some(&nobody)), &files).is_empty(),
            "{nobody:?}"
        );
    }
}

#[test]
fn decisions_from_parquet_snapshots() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = snapshots(dir.path());
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let plan = compile(&policy);
    assert_eq!(plan.tables.len(), 2);
    let decisions = decide(&plan, &files);
    assert_eq!(
        outcomes(&decisions),
        vec![
            ("A", true, 10000),
            ("B", false, 0),
            ("C", true, 8000),
            ("D", false, 0)
        ]
    );
    let payable: Vec<bool> = decisions.iter().map(|d| d.payable).collect();
    assert_eq!(payable, [true, false, false, true], "C has no account");

    let sim = simulate(&policy, decisions.len() as u64, &decisions);
    assert_eq!(sim.evaluated, 4);
    assert_eq!((sim.eligible, sim.payable, sim.without_account), (2, 1, 1));
    assert_eq!(
        sim.per_payment, 10000,
        "only A is paid until C's account is known"
    );
    assert_eq!(sim.payments, 12, "monthly over 2026");
    assert_eq!(sim.total(), 120_000);
    assert_eq!(
        sim.near_misses,
        BTreeMap::from([("severe".to_string(), 1)]),
        "B (grade 3) misses on severity alone; D, with no certificate, meets no condition"
    );

    // A policy whose author says failing severity alone is no near miss counts none, and
    // its recorded decisions are the eligible ones only.
    let strict = POLICY.replace(
        "cite = \"art. 2\"\n",
        "cite = \"art. 2\"\nnear_miss = false\n",
    );
    assert_ne!(strict, POLICY);
    let strict = Policy::parse("t.toml", &strict, Standard::builtin()).expect("valid");
    let decisions = decide(&compile(&strict), &files);
    let sim = simulate(&strict, decisions.len() as u64, &decisions);
    assert!(sim.near_misses.is_empty(), "{:?}", sim.near_misses);
    let recorded: Vec<&str> = decisions
        .iter()
        .filter(|d| d.is_recorded())
        .map(|d| d.subject.as_str())
        .collect();
    assert_eq!(recorded, ["A", "C"]);
}

/// Each decision's subject, eligibility and amount.
fn outcomes(decisions: &[Decision]) -> Vec<(&str, bool, i64)> {
    decisions
        .iter()
        .map(|d| (d.subject.as_str(), d.eligible, d.amount))
        .collect()
}

fn datafusion_ctx() -> datafusion::prelude::SessionContext {
    datafusion::prelude::SessionContext::new()
}

/// Each subject's decision from an [`Evaluator`] prepared once over `files`.
fn decide_each(
    policy: &Policy,
    files: &BTreeMap<String, PathBuf>,
    subjects: &[&str],
) -> Vec<Option<Decision>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let evaluator = Evaluator::prepare(policy, files).await.expect("prepared");
        let mut out = Vec::new();
        for subject in subjects {
            out.push(evaluator.decide(subject).await.expect("decided"));
        }
        out
    })
}

#[test]
fn a_prepared_evaluator_decides_each_subject_as_the_whole_run_does() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = snapshots(dir.path());
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let all = decide(&compile(&policy), &files);
    let subjects = ["A", "B", "C", "D", "Z", "A' OR 'x'='x", ""];
    let one = decide_each(&policy, &files, &subjects);
    for (subject, got) in subjects.iter().zip(&one) {
        let expected = all.iter().find(|d| d.subject == *subject);
        assert_eq!(got.as_ref(), expected, "{subject}");
    }
    assert_eq!(
        one.iter().filter(|d| d.is_some()).count(),
        4,
        "Z and the injection attempt have no rows"
    );
}

/// 3,000 subjects written with `properties`: every 5th has two certificates (the lower grade
/// second, so the first in field order is not the first row), every 3rd an account.
fn many_snapshots(dir: &Path, properties: WriterProperties) -> BTreeMap<String, PathBuf> {
    snapshots_of_many(dir, properties, false)
}

/// 3,000 subjects with certificates (every fifth with two, the first of grade 4), a card for
/// every third subject and for 100 subjects with no certificate (after them), as the
/// exchange's sync writes them when `numbered` (each subject's rows numbered in file order).
fn snapshots_of_many(
    dir: &Path,
    properties: WriterProperties,
    numbered: bool,
) -> BTreeMap<String, PathBuf> {
    let mut cert_subjects = Vec::new();
    let mut grades = Vec::new();
    for i in 0..3000_i64 {
        let subject = format!("S{i:05}");
        if i % 5 == 0 {
            cert_subjects.push(subject.clone());
            grades.push(4);
        }
        cert_subjects.push(subject);
        grades.push(i % 4 + 1);
    }
    let mut card_subjects: Vec<String> = (0..3000).step_by(3).map(|i| format!("S{i:05}")).collect();
    if numbered {
        card_subjects.extend((3000..3100).map(|i| format!("S{i:05}")));
    }
    let cert = dir.join("cert.parquet");
    let card = dir.join("card.parquet");
    let hashes = |n: usize| Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef;
    // Each row's position among its subject's rows, from 1.
    let rows = |subjects: &[String]| {
        let mut nth = Vec::with_capacity(subjects.len());
        for (i, s) in subjects.iter().enumerate() {
            let previous = if i > 0 && subjects[i - 1] == *s {
                nth[i - 1]
            } else {
                0
            };
            nth.push(previous + 1);
        }
        Arc::new(Int64Array::from(nth)) as ArrayRef
    };
    let mut cert_columns = vec![
        (
            "subject",
            Arc::new(StringArray::from(cert_subjects.clone())) as ArrayRef,
        ),
        ("grade", Arc::new(Int64Array::from(grades)) as ArrayRef),
        ("row_hash", hashes(cert_subjects.len())),
    ];
    let mut card_columns = vec![
        (
            "subject",
            Arc::new(StringArray::from(card_subjects.clone())) as ArrayRef,
        ),
        (
            "account",
            Arc::new(StringArray::from_iter_values(
                card_subjects.iter().map(|s| format!("6228{s}")),
            )) as ArrayRef,
        ),
        ("row_hash", hashes(card_subjects.len())),
    ];
    if numbered {
        cert_columns.push((SUBJECT_ROW, rows(&cert_subjects)));
        card_columns.push((SUBJECT_ROW, rows(&card_subjects)));
    }
    write_with(&cert, cert_columns, Some(properties.clone()));
    write_with(&card, card_columns, Some(properties));
    BTreeMap::from([
        ("disabled_persons.certificate".to_string(), cert),
        ("finance.one_card".to_string(), card),
    ])
}

/// Row groups of 256 rows and pages of 32, with `statistics`.
fn small_pages(statistics: EnabledStatistics) -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(256))
        .set_data_page_row_count_limit(32)
        .set_write_batch_size(32)
        .set_statistics_enabled(statistics)
        .build()
}

/// Every 7th subject and those at the edges of row groups, with two not in the snapshots.
fn picked_subjects() -> Vec<String> {
    (0..3000)
        .step_by(7)
        .chain([255, 256, 2999])
        .map(|i| format!("S{i:05}"))
        .chain(["R00001".to_owned(), "S99999".to_owned()])
        .collect()
}

#[test]
fn a_prepared_evaluator_finds_subjects_across_row_groups_and_pages() {
    // With page statistics (the page index), with row group statistics only, and with none:
    // the evaluator reads fewer rows, never other decisions.
    for statistics in [
        EnabledStatistics::Page,
        EnabledStatistics::Chunk,
        EnabledStatistics::None,
    ] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let files = many_snapshots(dir.path(), small_pages(statistics));
        let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
        let all = decide(&compile(&policy), &files);
        assert_eq!(all.len(), 3000);
        let picked = picked_subjects();
        let subjects: Vec<&str> = picked.iter().map(String::as_str).collect();
        let one = decide_each(&policy, &files, &subjects);
        for (subject, got) in subjects.iter().zip(&one) {
            let expected = all.iter().find(|d| d.subject == *subject);
            assert_eq!(
                expected.is_some(),
                subject.starts_with('S') && *subject != "S99999"
            );
            assert_eq!(got.as_ref(), expected, "{subject} ({statistics:?})");
        }
    }
}

#[test]
fn a_prepared_evaluator_decides_many_subjects_at_once() {
    // Decisions made at once run copies of one prepared plan: none may see another's rows.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = many_snapshots(dir.path(), small_pages(EnabledStatistics::Page));
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let all = decide(&compile(&policy), &files);
    let picked = picked_subjects();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let got: Vec<Option<Decision>> = runtime.block_on(async {
        let evaluator = Arc::new(Evaluator::prepare(&policy, &files).await.expect("prepared"));
        let tasks: Vec<_> = picked
            .iter()
            .cycle()
            .take(picked.len() * 3)
            .map(|subject| {
                let evaluator = Arc::clone(&evaluator);
                let subject = subject.clone();
                tokio::spawn(async move { evaluator.decide(&subject).await.expect("decided") })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.expect("joined"));
        }
        out
    });
    for (subject, got) in picked.iter().cycle().zip(&got) {
        assert_eq!(
            got.as_ref(),
            all.iter().find(|d| &d.subject == subject),
            "{subject}"
        );
    }
}

#[test]
fn a_prepared_evaluator_names_a_snapshot_it_cannot_use() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut files = snapshots(dir.path());
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"not parquet").expect("written");
    files.insert("finance.one_card".to_string(), bad);
    let err = runtime
        .block_on(Evaluator::prepare(&policy, &files))
        .expect_err("unreadable");
    assert!(err.to_string().contains("bad.parquet"), "{err}");
    // A snapshot without a field the policy reads.
    let mut files = snapshots(dir.path());
    let thin = dir.path().join("thin.parquet");
    write(&thin, vec![("subject", strings(&["A"]))]);
    files.insert("finance.one_card".to_string(), thin);
    let err = runtime
        .block_on(Evaluator::prepare(&policy, &files))
        .expect_err("no account column");
    assert!(
        err.to_string().contains("thin.parquet") && err.to_string().contains("account"),
        "{err}"
    );
}

#[test]
fn a_policy_prepared_without_one_of_its_snapshots_names_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut files = snapshots(dir.path());
    files.remove("finance.one_card");
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let err = runtime
        .block_on(Evaluator::prepare(&policy, &files))
        .expect_err("a snapshot is missing");
    assert!(
        matches!(&err, EvaluationError::MissingSnapshot(d) if d == "finance.one_card"),
        "{err}"
    );
}

/// The snapshots of [`snapshots`] as the exchange's sync writes them now, each subject's rows
/// numbered in file order: C's first certificate is grade 4, its second grade 2.
fn numbered_snapshots(dir: &Path) -> BTreeMap<String, PathBuf> {
    let cert = dir.join("cert-numbered.parquet");
    let card = dir.join("card-numbered.parquet");
    let ints = |v: Vec<i64>| Arc::new(Int64Array::from(v)) as ArrayRef;
    write(
        &cert,
        vec![
            ("subject", strings(&["A", "B", "C", "C"])),
            ("grade", ints(vec![1, 3, 4, 2])),
            ("row_hash", ints(vec![7, 8, 9, 10])),
            (SUBJECT_ROW, ints(vec![1, 1, 1, 2])),
        ],
    );
    write(
        &card,
        vec![
            ("subject", strings(&["A", "D"])),
            ("account", strings(&["6228", "6229"])),
            ("row_hash", ints(vec![1, 2])),
            (SUBJECT_ROW, ints(vec![1, 1])),
        ],
    );
    BTreeMap::from([
        ("disabled_persons.certificate".to_string(), cert),
        ("finance.one_card".to_string(), card),
    ])
}

#[test]
fn numbered_snapshots_are_read_through_each_subjects_first_row() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let old = snapshots(dir.path());
    let new = numbered_snapshots(dir.path());
    assert!(numbered(&old).expect("readable").is_empty());
    assert_eq!(numbered(&new).expect("readable").len(), 2);
    // Files without the column are read as before.
    assert_eq!(
        compile_over(&policy, None, &old).expect("plan"),
        compile(&policy)
    );

    let plan = compile_over(&policy, None, &new).expect("plan");
    assert!(!plan.sql.contains("DISTINCT ON"), "{}", plan.sql);
    let all = decide(&plan, &new);
    assert_eq!(
        outcomes(&all),
        vec![
            ("A", true, 10000),
            ("B", false, 0),
            ("C", false, 0),
            ("D", false, 0)
        ],
        "C is read through its first row, grade 4"
    );
    // The delta run and the prepared evaluator read the same rows.
    for subject in ["A", "B", "C", "D"] {
        let one = decide(
            &compile_over(&policy, Some(&[subject.to_string()]), &new).expect("plan"),
            &new,
        );
        let expected: Vec<&Decision> = all.iter().filter(|d| d.subject == subject).collect();
        assert_eq!(one.iter().collect::<Vec<_>>(), expected, "{subject}");
    }
    let subjects = ["A", "B", "C", "D", "Z"];
    for (subject, got) in subjects.iter().zip(decide_each(&policy, &new, &subjects)) {
        assert_eq!(got.as_ref(), all.iter().find(|d| d.subject == *subject));
    }
    // A file that is not Parquet is named.
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"not parquet").expect("written");
    let err = numbered(&BTreeMap::from([("x.y".to_string(), bad)])).expect_err("unreadable");
    assert!(err.to_string().contains("bad.parquet"), "{err}");
}

#[test]
fn a_batch_run_split_by_subject_ranges_decides_as_one_run() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = many_snapshots(dir.path(), small_pages(EnabledStatistics::Page));
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let all = decide(&compile(&policy), &files);
    // Cut where row groups of the largest file begin, in order, the ranges meeting exactly.
    let three = subject_ranges(&files, 3).expect("ranges");
    assert_eq!(three.len(), 3, "{three:?}");
    assert!(three[0]
        .as_deref()
        .is_some_and(|r| r.starts_with("subject < 'S")));
    assert!(three[2]
        .as_deref()
        .is_some_and(|r| r.starts_with("subject >= 'S")));
    assert_eq!(subject_ranges(&files, 1).expect("ranges"), vec![None]);
    // A file of one row group cannot be cut.
    let small = tempfile::tempdir().expect("a temporary directory");
    let one = snapshots(small.path());
    assert_eq!(subject_ranges(&one, 2).expect("ranges"), vec![None]);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let split = runtime
        .block_on(run_split(&policy, &files, Keep::Every))
        .expect("ran");
    assert_eq!(split.evaluated, 3000);
    assert_eq!(split.decisions, all, "the same decisions, in subject order");
    // On a one-thread runtime, as the command line's, the ranges still run on their own.
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let split = one_thread
        .block_on(run_split(&policy, &files, Keep::Recorded))
        .expect("ran");
    let recorded: Vec<Decision> = all.iter().filter(|d| d.is_recorded()).cloned().collect();
    assert_eq!(split.decisions, recorded);
    // Each range alone decides its own subjects and no other.
    let mut joined = Vec::new();
    for range in &three {
        let subjects_in = |d: &Decision| {
            let s = d.subject.as_str();
            let bounds: Vec<&str> = range
                .as_deref()
                .unwrap_or("")
                .split('\'')
                .skip(1)
                .step_by(2)
                .collect();
            match (range.as_deref(), bounds.as_slice()) {
                (Some(r), [b]) if r.starts_with("subject <") => s < *b,
                (Some(_), [b]) => s >= *b,
                (Some(_), [lo, hi]) => s >= *lo && s < *hi,
                _ => true,
            }
        };
        let expected: Vec<&Decision> = all.iter().filter(|d| subjects_in(d)).collect();
        assert!(!expected.is_empty(), "{range:?}");
        joined.extend(expected.into_iter().cloned());
    }
    assert_eq!(joined, all, "the ranges cover everyone once");
}

#[test]
fn a_split_run_over_numbered_snapshots_merges_them_as_the_query_joins_them() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for statistics in [EnabledStatistics::Page, EnabledStatistics::None] {
        let files = snapshots_of_many(dir.path(), small_pages(statistics), true);
        // The union of the subjects and the joins, in one session.
        let joined = decide(&compile_over(&policy, None, &files).expect("plan"), &files);
        assert_eq!(joined.len(), 3100);
        let only_card = joined
            .iter()
            .find(|d| d.subject == "S03050")
            .expect("decided");
        assert!(!only_card.eligible, "no certificate: {only_card:?}");
        let first_row = joined
            .iter()
            .find(|d| d.subject == "S00010")
            .expect("decided");
        assert!(!first_row.eligible, "row 1 is grade 4: {first_row:?}");
        for parts in [1, 2, 3, 7] {
            let merged = runtime
                .block_on(run_split_in(&policy, &files, Keep::Every, parts))
                .expect("ran");
            assert_eq!(merged.evaluated, 3100, "{parts} parts, {statistics:?}");
            assert_eq!(merged.decisions, joined, "{parts} parts, {statistics:?}");
            let recorded = runtime
                .block_on(run_split_in(&policy, &files, Keep::Recorded, parts))
                .expect("ran");
            let expected: Vec<Decision> =
                joined.iter().filter(|d| d.is_recorded()).cloned().collect();
            assert_eq!(
                recorded.decisions, expected,
                "{parts} parts, {statistics:?}"
            );
        }
    }
    // A snapshot that cannot be read is named by the split run too.
    let mut files = snapshots_of_many(dir.path(), small_pages(EnabledStatistics::Page), true);
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"not parquet").expect("written");
    files.insert("finance.one_card".to_string(), bad);
    let err = runtime
        .block_on(run_split_in(&policy, &files, Keep::Every, 2))
        .expect_err("unreadable");
    assert!(err.to_string().contains("bad.parquet"), "{err}");
}

#[test]
fn a_subject_without_rows_is_decided_as_one_absent_from_every_dataset() {
    let policy = Policy::parse("t.toml", POLICY, Standard::builtin()).expect("valid");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let gone = ["Z".to_string(), "A".to_string()];
    let decided = runtime
        .block_on(decide_without_rows(&policy, &gone))
        .expect("decided");
    let subjects: Vec<&str> = decided.iter().map(|d| d.subject.as_str()).collect();
    assert_eq!(subjects, ["A", "Z"], "in subject order");
    for d in &decided {
        assert!(!d.eligible && !d.payable && d.amount == 0, "{d:?}");
        assert!(d.conditions.iter().all(|(_, met)| !met), "{d:?}");
        assert_eq!(d.values, vec![None; policy.inputs.len()], "kept, all NULL");
    }
    // The same decision as the joined query gives a subject whose only row is a card: the
    // conditions read only the certificate.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = numbered_snapshots(dir.path());
    let b = decide(&compile_over(&policy, None, &files).expect("plan"), &files)
        .into_iter()
        .find(|d| d.subject == "D")
        .expect("decided");
    let a = &decided[0];
    assert_eq!(
        (a.eligible, &a.conditions, &a.exclusions, a.amount),
        (b.eligible, &b.conditions, &b.exclusions, b.amount)
    );
}
