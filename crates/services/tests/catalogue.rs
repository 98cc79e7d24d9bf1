//! The catalogue: the built-in files load and map only elements of the standard; bad files are
//! refused with file, line and column; search and categories.

use std::collections::BTreeSet;
use std::path::Path;

use errandless_services::{
    builtin_file_names, Catalogue, CatalogueError, Category, FieldKind, Lang,
};
use errandless_standards::{Standard, SubjectLink};

fn catalogue_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/catalogue"))
}

#[test]
fn the_builtin_catalogue_holds_realistic_services_of_many_departments() {
    let catalogue = Catalogue::builtin();
    let services = catalogue.services();
    assert!(services.len() >= 12, "{} services", services.len());
    let departments: BTreeSet<&str> = services.iter().map(|s| s.department.as_str()).collect();
    assert!(departments.len() >= 12, "{departments:?}");
    let standard = Standard::builtin();
    let mut mapped = 0;
    for service in services {
        assert!(standard.department(&service.department).is_some());
        assert!((1..=250).contains(&service.time_limit_days));
        let names: BTreeSet<&str> = service.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names.len(),
            service.fields.len(),
            "{}: unique field names",
            service.id
        );
        for field in &service.fields {
            let Some(element) = &field.element else {
                continue;
            };
            mapped += 1;
            let dataset = standard
                .dataset(&element.dataset)
                .unwrap_or_else(|| panic!("{}: {element}", service.id));
            assert!(
                dataset.field(&element.field).is_some(),
                "{}: {element}",
                service.id
            );
            assert!(
                !matches!(dataset.subject, SubjectLink::Organisation { .. }),
                "{}: {element} is read by a citizen's ID number",
                service.id
            );
            assert_ne!(field.kind, FieldKind::Email);
        }
        for evidence in &service.evidence {
            if let Some(d) = &evidence.obtained_from {
                assert!(standard.department(d).is_some_and(|d| d.island));
            }
        }
    }
    assert!(mapped >= 40, "most fields come from shared data: {mapped}");
    assert!(catalogue.service("driving-licence-renewal").is_some());
    assert!(catalogue.service("no-such-service").is_none());
}

#[test]
fn the_builtin_list_names_every_file_and_loading_the_directory_gives_the_same() {
    let mut on_disk: Vec<String> = std::fs::read_dir(catalogue_dir())
        .expect("the catalogue directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let mut compiled: Vec<String> = builtin_file_names().map(str::to_owned).collect();
    compiled.sort();
    assert_eq!(
        compiled, on_disk,
        "BUILTIN in catalogue.rs lists every file"
    );
    let loaded = Catalogue::load(catalogue_dir()).expect("loads");
    assert_eq!(loaded.services(), Catalogue::builtin().services());
}

const GOOD: &str = r#"id = "test-service"
version = 1
department = "taxation"
category = "tax"
title = { zh = "测试", en = "Test" }
summary = { zh = "测试事项", en = "A test service" }
assurance = "L2"
time_limit_days = 3

[[field]]
name = "name"
label = { zh = "姓名", en = "Name" }
kind = "text"
required = true
element = "public_security.resident.name"

[[field]]
name = "year"
label = { zh = "年度", en = "Year" }
kind = "number"
element = "taxation.income.year"
"#;

/// Loads `text` as `test-service.toml` and returns the error's (line, column, message).
fn refused(text: &str) -> (usize, usize, String) {
    match Catalogue::from_sources(&[("catalogue/test-service.toml", text)]) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(CatalogueError::Malformed {
            file,
            line,
            column,
            message,
        }) => {
            assert_eq!(file, "catalogue/test-service.toml");
            let shown = CatalogueError::Malformed {
                file: file.clone(),
                line,
                column,
                message: message.clone(),
            }
            .to_string();
            assert!(
                shown.starts_with(&format!("catalogue/test-service.toml:{line}:{column}: ")),
                "{shown}"
            );
            (line, column, message)
        }
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn a_good_file_loads() {
    let c = Catalogue::from_sources(&[("test-service.toml", GOOD)]).expect("loads");
    let s = c.service("test-service").expect("present");
    assert_eq!(s.fields.len(), 2);
    assert_eq!(s.prefill_reads().len(), 2);
}

#[test]
fn a_missing_field_is_named_with_its_place() {
    let text = GOOD.replace("assurance = \"L2\"\n", "");
    let (line, column, message) = refused(&text);
    assert!(message.contains("assurance"), "{message}");
    assert_eq!((line, column), (1, 1), "the document that lacks it");
    // In a [[field]] table, the table is named.
    let text = GOOD.replace("kind = \"number\"\n", "");
    let (line, _, message) = refused(&text);
    assert!(message.contains("kind"), "{message}");
    assert_eq!(line, 17, "the [[field]] table that lacks it");
}

#[test]
fn an_unknown_element_is_named_with_its_place() {
    let (line, column, message) =
        refused(&GOOD.replace("taxation.income.year", "taxation.income.colour"));
    assert_eq!((line, column), (21, 11));
    assert!(message.contains("has no field \"colour\""), "{message}");
    let (line, _, message) = refused(&GOOD.replace(
        "public_security.resident.name",
        "public_security.citizens.name",
    ));
    assert_eq!(line, 15);
    assert!(message.contains("not a dataset"), "{message}");
    let (_, _, message) = refused(&GOOD.replace("public_security.resident.name", "name"));
    assert!(message.contains("dataset.field"), "{message}");
}

#[test]
fn a_duplicate_field_is_named_with_its_place() {
    let text = GOOD.replace("name = \"year\"", "name = \"name\"");
    let (line, column, message) = refused(&text);
    assert_eq!((line, column), (18, 8));
    assert!(
        message.contains("defined twice (first on line 11)"),
        "{message}"
    );
}

#[test]
fn a_bad_level_is_named_with_its_place() {
    let (line, column, message) = refused(&GOOD.replace("\"L2\"", "\"L4\""));
    assert_eq!((line, column), (7, 13));
    assert!(message.contains("L1, L2 or L3"), "{message}");
}

#[test]
fn other_mistakes_are_refused_too() {
    for (from, to, expect) in [
        (
            "id = \"test-service\"",
            "id = \"other-service\"",
            "the file's name",
        ),
        (
            "department = \"taxation\"",
            "department = \"tax_bureau\"",
            "not a department",
        ),
        (
            "category = \"tax\"",
            "category = \"taxes\"",
            "unknown variant",
        ),
        ("time_limit_days = 3", "time_limit_days = 0", "1 to 250"),
        ("version = 1", "version = -1", "positive"),
        (
            "kind = \"number\"",
            "kind = \"date\"",
            "cannot show element",
        ),
        ("kind = \"number\"", "kind = \"decimal\"", "unknown variant"),
        (
            "title = { zh = \"测试\", en = \"Test\" }",
            "title = { zh = \"测试\", en = \"\" }",
            "title.en",
        ),
        (
            "required = true",
            "required = true\ncolour = \"red\"",
            "unknown field",
        ),
        (
            "public_security.resident.name",
            "market_regulation.business.name",
            "describes organisations",
        ),
    ] {
        let text = GOOD.replace(from, to);
        assert_ne!(text, GOOD, "{from}");
        let (_, _, message) = refused(&text);
        assert!(message.contains(expect), "{to}: {message}");
    }
    let choice = GOOD.replace(
        "kind = \"number\"\nelement = \"taxation.income.year\"",
        "kind = \"choice\"\nelement = \"public_security.resident.sex\"\noptions = [{ value = \"1\", zh = \"男\", en = \"Male\" }, { value = \"3\", zh = \"其他\", en = \"Other\" }]",
    );
    let (_, _, message) = refused(&choice);
    assert!(
        message.contains("option \"3\" is not one of its codes"),
        "{message}"
    );
    let no_options = GOOD.replace("kind = \"number\"", "kind = \"choice\"");
    let (_, _, message) = refused(&no_options);
    assert!(message.contains("needs options"), "{message}");
    let not_toml = "id = \"test-service\"\nversion = \n";
    let (line, _, _) = refused(not_toml);
    assert_eq!(line, 2);
}

#[test]
fn a_service_defined_twice_is_refused() {
    let err =
        Catalogue::from_sources(&[("a/test-service.toml", GOOD), ("b/test-service.toml", GOOD)])
            .expect_err("twice");
    assert!(
        err.to_string()
            .contains("also defined in a/test-service.toml"),
        "{err}"
    );
}

#[test]
fn loading_a_directory_names_the_bad_file_by_its_path() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("test-service.toml"),
        GOOD.replace("\"L2\"", "\"L9\""),
    )
    .expect("writes");
    let err = Catalogue::load(dir.path()).expect_err("bad level");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:7:13: ",
            dir.path().join("test-service.toml").display()
        )),
        "{shown}"
    );
    let err = Catalogue::load(&dir.path().join("missing")).expect_err("no directory");
    assert!(matches!(err, CatalogueError::Io { .. }));
}

#[test]
fn search_finds_services_in_both_languages_without_regard_to_case() {
    let c = Catalogue::builtin();
    let ids = |q: &str, cat: Option<Category>| {
        c.search(q, cat)
            .into_iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("驾驶证", None), ["driving-licence-renewal"]);
    assert_eq!(ids("DRIVING licence", None), ["driving-licence-renewal"]);
    assert_eq!(ids("passport", None)[0], "passport-application");
    assert!(ids("公积金", None).contains(&"provident-fund-withdrawal-rent"));
    assert_eq!(
        ids("", Some(Category::EntryExit)),
        ["passport-application", "travel-permit-hong-kong-macao"]
    );
    assert!(ids("passport", Some(Category::Tax)).is_empty());
    assert!(ids("火星签证", None).is_empty());
    // A title match comes before a match in the summary only.
    let hits = ids("certificate", None);
    let title_hits = hits
        .iter()
        .take_while(|id| {
            c.service(id)
                .is_some_and(|s| s.title.en.to_lowercase().contains("certificate"))
        })
        .count();
    assert!(title_hits >= 3, "{hits:?}");
    assert!(hits[title_hits..].iter().all(|id| !c
        .service(id)
        .expect("listed")
        .title
        .en
        .to_lowercase()
        .contains("certificate")));
}

#[test]
fn categories_are_counted_and_named_in_both_languages() {
    let c = Catalogue::builtin();
    let counts = c.categories();
    assert_eq!(
        counts.iter().map(|(_, n)| n).sum::<usize>(),
        c.services().len()
    );
    assert!(counts.iter().all(|(_, n)| *n > 0));
    assert!(counts.contains(&(Category::EntryExit, 2)));
    for (category, _) in counts {
        assert!(!category.name(Lang::Zh).is_ascii());
        assert!(category.name(Lang::En).is_ascii());
        assert_eq!(Category::parse(category.code()), Some(category));
    }
}

#[test]
fn prefill_reads_group_fields_by_dataset() {
    let reads = Catalogue::builtin().prefill_reads();
    let resident = reads
        .iter()
        .find(|r| r.dataset == "public_security.resident")
        .expect("names come from household registration");
    assert_eq!(
        resident.fields,
        ["address", "birth_date", "household_no", "name", "sex"]
    );
    let datasets: Vec<&str> = reads.iter().map(|r| r.dataset.as_str()).collect();
    let mut sorted = datasets.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(datasets, sorted, "each dataset once, in order");
    let renewal = Catalogue::builtin()
        .service("driving-licence-renewal")
        .expect("present")
        .prefill_reads();
    assert_eq!(
        renewal
            .iter()
            .map(|r| (r.dataset.as_str(), r.fields.join(",")))
            .collect::<Vec<_>>(),
        [
            ("public_security.resident", "address,name".to_owned()),
            (
                "traffic_police.driving_licence",
                "class,valid_until".to_owned()
            ),
            ("traffic_police.vehicle", "owner_phone".to_owned()),
        ]
    );
}
