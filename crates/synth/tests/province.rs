//! Whole-province tests: determinism, conformance of every island to the standard, and the
//! sanity of the synthetic population.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use errandless_standards::{CitizenId, Date, Sex, Standard, Value};
use errandless_synth::{write_province, Config, Progress, SynthError};
use rusqlite::{types::ValueRef, Connection, OpenFlags};

/// One province shared by the tests of this file: 20,000 people, seed 7.
fn province() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("province");
        let config = Config {
            people: 20_000,
            seed: 7,
            ..Config::default()
        };
        write_province(&config, &out, false, &Progress::default()).unwrap();
        (tmp, out)
    });
    path
}

fn open(dept: &str) -> Connection {
    let path = province().join("islands").join(format!("{dept}.sqlite"));
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

#[test]
fn same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: u64| {
        let out = tmp.path().join(name);
        let config = Config {
            people: 3_000,
            seed,
            ..Config::default()
        };
        write_province(&config, &out, false, &Progress::default()).unwrap();
        out
    };
    let (a, b, c) = (run("a", 11), run("b", 11), run("c", 12));
    let files = |dir: &Path| {
        let mut out = vec![dir.join("divisions.csv"), dir.join("province.toml")];
        let mut islands: Vec<PathBuf> = std::fs::read_dir(dir.join("islands"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        islands.sort();
        out.extend(islands);
        out
    };
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), 2 + 17);
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.file_name(), y.file_name());
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} differs",
            x.display()
        );
    }
    let resident = |dir: &Path| std::fs::read(dir.join("islands/public_security.sqlite")).unwrap();
    assert_ne!(
        resident(&a),
        resident(&c),
        "another seed must give another province"
    );
}

#[test]
fn every_island_conforms_to_the_standard() {
    let standard = Standard::builtin();
    for dept in standard.islands() {
        let conn = open(&dept.id);
        for ds in standard.datasets_of(&dept.id) {
            let cols: Vec<(String, String, bool)> = conn
                .prepare(&format!("PRAGMA table_info({})", ds.table))
                .unwrap()
                .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? == 1)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let expected: Vec<(String, String, bool)> = ds
                .fields
                .iter()
                .map(|f| {
                    let ty = standard
                        .element(&f.element)
                        .unwrap()
                        .ty
                        .sql_type()
                        .to_string();
                    (f.name.clone(), ty, f.required)
                })
                .collect();
            assert_eq!(cols, expected, "columns of {}", ds.id);

            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {}", ds.table))
                .unwrap();
            let mut rows = stmt.query([]).unwrap();
            let mut n = 0;
            while let Some(row) = rows.next().unwrap() {
                n += 1;
                for (i, f) in ds.fields.iter().enumerate() {
                    let element = standard.element(&f.element).unwrap();
                    let value = match row.get_ref(i).unwrap() {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(v) => Value::Integer(v),
                        ValueRef::Real(v) => Value::Real(v),
                        ValueRef::Text(t) => Value::Text(std::str::from_utf8(t).unwrap()),
                        ValueRef::Blob(_) => panic!("{}.{} holds a blob", ds.id, f.name),
                    };
                    if f.required {
                        assert_ne!(value, Value::Null, "{}.{} is required", ds.id, f.name);
                    }
                    if let Err(e) = element.check(value) {
                        panic!("{}.{} row {n}: {e}", ds.id, f.name);
                    }
                }
            }
            assert!(n > 0, "{} is empty", ds.id);
        }
    }
}

struct Resident {
    id: String,
    sex: String,
    birth: Date,
    household: String,
    division: String,
}

fn residents() -> Vec<Resident> {
    let conn = open("public_security");
    let mut stmt = conn
        .prepare("SELECT id_number, sex, birth_date, household_no, division_code FROM resident")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Resident {
            id: r.get(0)?,
            sex: r.get(1)?,
            birth: r.get::<_, String>(2)?.parse().unwrap(),
            household: r.get(3)?,
            division: r.get(4)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn ids_are_valid_unique_and_agree_with_the_register() {
    let people = residents();
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    for p in &people {
        let id = CitizenId::parse(&p.id).unwrap();
        if !seen.insert(p.id.clone()) {
            duplicates += 1;
        }
        assert_eq!(id.birth_date(), p.birth);
        assert_eq!(id.sex() == Sex::Male, p.sex == "1", "{}", p.id);
        // The address code is the county of registration.
        assert_eq!(&p.id[..6], &p.division[..6]);
    }
    assert_eq!(seen.len(), 20_000);
    // Double registrations are a deliberate fault, but a rare one.
    assert!(duplicates < 40, "{duplicates} duplicate rows");
}

#[test]
fn population_is_plausible() {
    let as_of = Config::default().as_of;
    let mut seen = HashSet::new();
    let people: Vec<Resident> = residents()
        .into_iter()
        .filter(|p| seen.insert(p.id.clone()))
        .collect();
    let n = people.len() as f64;
    let share = |f: &dyn Fn(i32) -> bool| {
        people.iter().filter(|p| f(p.birth.age_on(as_of))).count() as f64 / n
    };
    let children = share(&|a| a < 15);
    let working = share(&|a| (15..65).contains(&a));
    let old = share(&|a| a >= 65);
    // China's 2020 census: 18 % under 15, 68.5 % 15-64, 13.5 % 65 and over.
    assert!((0.12..0.26).contains(&children), "children {children}");
    assert!((0.58..0.76).contains(&working), "working age {working}");
    assert!((0.08..0.22).contains(&old), "65 and over {old}");
    assert!(share(&|a| a > 105) == 0.0);

    let males = people.iter().filter(|p| p.sex == "1").count() as f64;
    let ratio = 100.0 * males / (n - males);
    assert!((97.0..112.0).contains(&ratio), "sex ratio {ratio}");

    let mut sizes: HashMap<&str, u32> = HashMap::new();
    for p in &people {
        *sizes.entry(&p.household).or_default() += 1;
    }
    let mean = n / sizes.len() as f64;
    assert!((2.3..3.6).contains(&mean), "mean household size {mean}");
    let singles = sizes.values().filter(|&&s| s == 1).count() as f64 / sizes.len() as f64;
    assert!(
        (0.08..0.35).contains(&singles),
        "one-person households {singles}"
    );
}

/// Reads `(subject, value)` pairs from an island with one query.
fn set(dept: &str, sql: &str) -> HashSet<String> {
    let conn = open(dept);
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn islands_correlate_like_real_ones() {
    let as_of = Config::default().as_of;
    let poor = set(
        "rural_revitalisation",
        "SELECT id_number FROM poor_household",
    );
    let admitted = set(
        "education",
        "SELECT s.id_number FROM admission a JOIN student s USING (student_no) WHERE s.id_number IS NOT NULL",
    );
    let accounts = set("finance", "SELECT id_number FROM one_card");
    let disabled = set("disabled_persons", "SELECT id_number FROM certificate");
    let people: Vec<Resident> = residents();

    // University admission among 18- to 22-year-olds: lower from poor households, but not rare.
    let cohort: Vec<&Resident> = people
        .iter()
        .filter(|p| (18..=22).contains(&p.birth.age_on(as_of)))
        .collect();
    let rate = |group: &dyn Fn(&&Resident) -> bool| {
        let g: Vec<_> = cohort.iter().filter(|p| group(p)).collect();
        g.iter().filter(|p| admitted.contains(&p.id)).count() as f64 / g.len().max(1) as f64
    };
    let poor_rate = rate(&|p| poor.contains(&p.id));
    let other_rate = rate(&|p| !poor.contains(&p.id));
    assert!(
        (0.2..0.6).contains(&poor_rate),
        "admission rate from poor households {poor_rate}"
    );
    assert!(other_rate > poor_rate, "{other_rate} vs {poor_rate}");

    // Poor students admitted: most have a subsidy account, some do not (the near misses).
    let poor_admitted: Vec<&String> = poor.iter().filter(|id| admitted.contains(*id)).collect();
    assert!(
        poor_admitted.len() >= 10,
        "{} poor students admitted",
        poor_admitted.len()
    );
    let with_account = poor_admitted
        .iter()
        .filter(|id| accounts.contains(**id))
        .count() as f64
        / poor_admitted.len() as f64;
    assert!(
        (0.6..0.97).contains(&with_account),
        "share with an account {with_account}"
    );

    // The elderly are more often disabled.
    let disability = |range: std::ops::Range<i32>| {
        let g: Vec<_> = people
            .iter()
            .filter(|p| range.contains(&p.birth.age_on(as_of)))
            .collect();
        g.iter().filter(|p| disabled.contains(&p.id)).count() as f64 / g.len() as f64
    };
    let (young, elderly) = (disability(18..45), disability(75..120));
    assert!(
        elderly > 3.0 * young,
        "disability 75+ {elderly} vs 18-44 {young}"
    );

    // Faults: the dead still listed somewhere, and duplicates in poverty files.
    let dead = set("civil_affairs", "SELECT id_number FROM death");
    assert!(!dead.is_empty());
    let insured = set(
        "healthcare_security",
        "SELECT id_number FROM medical_insurance WHERE status = 'active'",
    );
    assert!(
        dead.iter().any(|id| insured.contains(id)),
        "some dead are still insured"
    );
}

#[test]
fn refuses_bad_requests_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("p");
    let zero = Config {
        people: 0,
        ..Config::default()
    };
    assert!(matches!(
        write_province(&zero, &out, false, &Progress::default()),
        Err(SynthError::NoPeople)
    ));
    assert!(!out.exists());

    let bad_province = Config {
        people: 10,
        province: 99,
        ..Config::default()
    };
    assert!(matches!(
        write_province(&bad_province, &out, false, &Progress::default()),
        Err(SynthError::UnknownProvince(99))
    ));

    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let small = Config {
        people: 50,
        ..Config::default()
    };
    let err = write_province(&small, &out, false, &Progress::default()).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );

    // With --force the directory is replaced whole.
    write_province(&small, &out, true, &Progress::default()).unwrap();
    assert!(!out.join("keep.txt").exists());
    assert!(out.join("islands/finance.sqlite").exists());

    // A path under a regular file cannot be created.
    let blocked = tmp.path().join("file.txt");
    std::fs::write(&blocked, "x").unwrap();
    let err = write_province(&small, &blocked.join("p"), false, &Progress::default()).unwrap_err();
    assert!(matches!(err, SynthError::Io { .. }), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn divisions_cover_five_levels_with_parents() {
    let text = std::fs::read_to_string(province().join("divisions.csv")).unwrap();
    let mut codes = HashSet::new();
    let mut levels = HashMap::new();
    for line in text.lines().skip(1) {
        let parts: Vec<&str> = line.split(',').collect();
        let code = errandless_standards::DivisionCode::parse(parts[0]).unwrap();
        assert_eq!(code.level().name(), parts[2]);
        if !parts[3].is_empty() {
            assert!(
                codes.contains(parts[3]),
                "parent {} listed after {}",
                parts[3],
                parts[0]
            );
            assert_eq!(code.parent().unwrap().to_string(), parts[3]);
        }
        codes.insert(parts[0].to_string());
        *levels.entry(parts[2].to_string()).or_insert(0) += 1;
    }
    assert_eq!(levels["province"], 1);
    for level in ["city", "county", "township", "village"] {
        assert!(levels[level] >= 1, "{level}");
    }
    assert!(levels["village"] > levels["township"]);
}
