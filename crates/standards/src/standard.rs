//! The unified data standard as data: departments, data elements and the dataset schema of each
//! island, kept as TOML files under `data/` and checked when loaded.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use toml::Spanned;

use crate::citizen_id::CitizenId;
use crate::date::Date;
use crate::division::{province, DivisionCode};
use crate::uscc::Uscc;

/// How closely an element must be guarded (PIPL art. 28 for the sensitive class).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Public,
    Internal,
    Personal,
    SensitivePersonal,
}

impl Sensitivity {
    pub fn name(self) -> &'static str {
        match self {
            Sensitivity::Public => "public",
            Sensitivity::Internal => "internal",
            Sensitivity::Personal => "personal",
            Sensitivity::SensitivePersonal => "sensitive_personal",
        }
    }
}

/// The value type of an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementType {
    String,
    Integer,
    Real,
    Date,
    Boolean,
    /// An amount of money in integer fen (1/100 yuan). Never floating point.
    Money,
}

impl ElementType {
    pub fn name(self) -> &'static str {
        match self {
            ElementType::String => "string",
            ElementType::Integer => "integer",
            ElementType::Real => "real",
            ElementType::Date => "date",
            ElementType::Boolean => "boolean",
            ElementType::Money => "money",
        }
    }

    /// The SQL column type that stores the element (dates as ISO 8601 text).
    pub fn sql_type(self) -> &'static str {
        match self {
            ElementType::String | ElementType::Date => "TEXT",
            ElementType::Integer | ElementType::Boolean | ElementType::Money => "INTEGER",
            ElementType::Real => "REAL",
        }
    }
}

/// A named validator that an element's values must pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    CitizenId,
    Uscc,
    DivisionCode,
    Phone,
    Plate,
    DisabilityCert,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::CitizenId => "citizen_id",
            Format::Uscc => "uscc",
            Format::DivisionCode => "division_code",
            Format::Phone => "phone",
            Format::Plate => "plate",
            Format::DisabilityCert => "disability_cert",
        }
    }

    /// Checks a text value; the error says which rule failed.
    pub fn check(self, text: &str) -> Result<(), String> {
        match self {
            Format::CitizenId => CitizenId::parse(text).map(drop).map_err(|e| e.to_string()),
            Format::Uscc => Uscc::parse(text).map(drop).map_err(|e| e.to_string()),
            Format::DivisionCode => DivisionCode::parse(text)
                .map(drop)
                .map_err(|e| e.to_string()),
            Format::Phone => {
                let b = text.as_bytes();
                let ok = b.len() == 11
                    && b.iter().all(u8::is_ascii_digit)
                    && b[0] == b'1'
                    && (b'3'..=b'9').contains(&b[1]);
                ok.then_some(())
                    .ok_or_else(|| "a mobile number has 11 digits and starts with 13 to 19".into())
            }
            Format::Plate => check_plate(text),
            Format::DisabilityCert => {
                // The second-generation certificate number: the holder's ID number, then the
                // category (1-7) and the grade (1-4).
                let ascii = text.is_ascii() && text.len() == 20;
                if !ascii {
                    return Err("a disability certificate number has 20 characters".into());
                }
                CitizenId::parse(&text[..18]).map_err(|e| format!("ID part: {e}"))?;
                let (cat, grade) = (text.as_bytes()[18], text.as_bytes()[19]);
                if !(b'1'..=b'7').contains(&cat) || !(b'1'..=b'4').contains(&grade) {
                    return Err("the last two digits are the category (1-7) and grade (1-4)".into());
                }
                Ok(())
            }
        }
    }
}

/// GA 36 plate numbers: a province abbreviation, an issuing-office letter, then five
/// characters (six for new-energy vehicles) from digits and letters without I and O.
fn check_plate(text: &str) -> Result<(), String> {
    let mut chars = text.chars();
    let first = chars.next().ok_or("the plate is empty")?;
    let known = crate::division::PROVINCES
        .iter()
        .any(|p| p.abbreviation.starts_with(first));
    if !known {
        return Err(format!("'{first}' is not a province abbreviation"));
    }
    let office = chars
        .next()
        .ok_or("the plate has no issuing-office letter")?;
    if !office.is_ascii_uppercase() {
        return Err(format!("'{office}' is not an issuing-office letter A-Z"));
    }
    let rest: Vec<char> = chars.collect();
    if !(5..=6).contains(&rest.len()) {
        return Err(format!(
            "a plate has 5 or 6 characters after the office letter, found {}",
            rest.len()
        ));
    }
    if let Some(c) = rest
        .iter()
        .find(|c| !(c.is_ascii_digit() || c.is_ascii_uppercase()) || **c == 'I' || **c == 'O')
    {
        return Err(format!("'{c}' may not appear in a plate number"));
    }
    Ok(())
}

/// One department, which may keep a data island.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: String,
    pub zh: String,
    pub en: String,
    /// Whether the department keeps an island of its own.
    pub island: bool,
}

/// A data element (数据元): one field of the shared dictionary.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Element {
    pub id: String,
    pub zh: String,
    pub en: String,
    #[serde(rename = "type")]
    pub ty: ElementType,
    pub format: Option<Format>,
    pub values: Vec<String>,
    pub sensitivity: Sensitivity,
    pub owner: String,
}

/// One value read from an island, to be checked against an element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
}

impl Element {
    /// Checks a value against the element's type, codes and format. `Null` is checked by the
    /// field (required or not), not here.
    pub fn check(&self, value: Value<'_>) -> Result<(), String> {
        match (self.ty, value) {
            (_, Value::Null) => Ok(()),
            (ElementType::Integer, Value::Integer(_)) => Ok(()),
            (ElementType::Money, Value::Integer(v)) if v >= 0 => Ok(()),
            (ElementType::Money, Value::Integer(v)) => Err(format!("negative amount {v}")),
            (ElementType::Boolean, Value::Integer(0 | 1)) => Ok(()),
            (ElementType::Real, Value::Real(v)) if v.is_finite() => Ok(()),
            (ElementType::Real, Value::Integer(_)) => Ok(()),
            (ElementType::Date, Value::Text(t)) => t
                .parse::<Date>()
                .map(drop)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    (t.len() == 10)
                        .then_some(())
                        .ok_or_else(|| format!("'{t}' is not written YYYY-MM-DD"))
                }),
            (ElementType::String, Value::Text(t)) => {
                if !self.values.is_empty() && !self.values.iter().any(|v| v == t) {
                    return Err(format!(
                        "'{t}' is not one of the codes {}",
                        self.values.join(", ")
                    ));
                }
                match self.format {
                    Some(f) => f.check(t),
                    None => Ok(()),
                }
            }
            (ty, other) => Err(format!("{other:?} is not a value of type {}", ty.name())),
        }
    }
}

/// One column of a dataset, mapped to an element.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Field {
    pub name: String,
    pub element: String,
    pub required: bool,
}

/// How a dataset's rows name their subject.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectLink {
    /// A field holds the person's citizen ID number.
    Direct { field: String },
    /// A field holds a local identifier that another dataset maps to the person.
    Via { dataset: String, field: String },
    /// Rows describe organisations keyed by their social credit code.
    Organisation { field: String },
}

/// The schema of one dataset of an island.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Dataset {
    /// `department.name`, e.g. `education.admission`.
    pub id: String,
    pub department: String,
    /// The island table that holds it.
    pub table: String,
    pub zh: String,
    pub en: String,
    /// The field that identifies a row within the island (not necessarily unique: islands hold
    /// duplicates).
    pub key: String,
    pub subject: SubjectLink,
    pub fields: Vec<Field>,
}

impl Dataset {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Why a standard data file was refused.
#[derive(Debug, thiserror::Error)]
pub enum StandardError {
    #[error("{file}:{line}:{column}: {message}")]
    Malformed {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: required file is missing")]
    Missing(String),
}

/// The whole standard, checked.
#[derive(Clone, Debug)]
pub struct Standard {
    departments: Vec<Department>,
    elements: BTreeMap<String, Element>,
    datasets: BTreeMap<String, Dataset>,
}

// ---- raw file shapes -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    department: Vec<Spanned<Department>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ElementsFile {
    element: Vec<Spanned<RawElement>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElement {
    id: String,
    zh: String,
    en: String,
    #[serde(rename = "type")]
    ty: ElementType,
    format: Option<Format>,
    #[serde(default)]
    values: Vec<String>,
    sensitivity: Sensitivity,
    owner: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetsFile {
    dataset: Vec<Spanned<RawDataset>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    name: String,
    table: Option<String>,
    zh: String,
    en: String,
    key: Spanned<String>,
    subject: Spanned<RawSubject>,
    fields: Vec<Spanned<RawField>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubject {
    field: Option<String>,
    via: Option<String>,
    organisation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    element: Spanned<String>,
    #[serde(default)]
    required: bool,
}

/// The files of the standard compiled into the binary, by their path under `data/`.
const BUILTIN: &[(&str, &str)] = &[
    ("departments.toml", include_str!("../data/departments.toml")),
    ("elements.toml", include_str!("../data/elements.toml")),
    (
        "datasets/public_security.toml",
        include_str!("../data/datasets/public_security.toml"),
    ),
    (
        "datasets/civil_affairs.toml",
        include_str!("../data/datasets/civil_affairs.toml"),
    ),
    (
        "datasets/rural_revitalisation.toml",
        include_str!("../data/datasets/rural_revitalisation.toml"),
    ),
    (
        "datasets/education.toml",
        include_str!("../data/datasets/education.toml"),
    ),
    (
        "datasets/human_resources.toml",
        include_str!("../data/datasets/human_resources.toml"),
    ),
    (
        "datasets/health.toml",
        include_str!("../data/datasets/health.toml"),
    ),
    (
        "datasets/healthcare_security.toml",
        include_str!("../data/datasets/healthcare_security.toml"),
    ),
    (
        "datasets/housing_fund.toml",
        include_str!("../data/datasets/housing_fund.toml"),
    ),
    (
        "datasets/natural_resources.toml",
        include_str!("../data/datasets/natural_resources.toml"),
    ),
    (
        "datasets/market_regulation.toml",
        include_str!("../data/datasets/market_regulation.toml"),
    ),
    (
        "datasets/taxation.toml",
        include_str!("../data/datasets/taxation.toml"),
    ),
    (
        "datasets/traffic_police.toml",
        include_str!("../data/datasets/traffic_police.toml"),
    ),
    (
        "datasets/disabled_persons.toml",
        include_str!("../data/datasets/disabled_persons.toml"),
    ),
    (
        "datasets/veterans_affairs.toml",
        include_str!("../data/datasets/veterans_affairs.toml"),
    ),
    (
        "datasets/courts.toml",
        include_str!("../data/datasets/courts.toml"),
    ),
    (
        "datasets/finance.toml",
        include_str!("../data/datasets/finance.toml"),
    ),
    (
        "datasets/agriculture.toml",
        include_str!("../data/datasets/agriculture.toml"),
    ),
];

/// Turns a byte offset into a 1-based line and column (in characters; an offset inside a
/// character counts as that character): where a data file's error is reported.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> StandardError {
        let (line, column) = line_col(self.text, span.start);
        StandardError::Malformed {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, StandardError> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            self.error(span, e.message().to_string())
        })
    }
}

impl Standard {
    /// The standard shipped with this build. Its files are checked by the test suite, so a
    /// failure here is a bug in the repository, not bad input.
    pub fn builtin() -> &'static Standard {
        static BUILT: OnceLock<Standard> = OnceLock::new();
        BUILT.get_or_init(|| {
            Standard::from_sources(BUILTIN).expect("the built-in standard files are valid")
        })
    }

    /// Loads the standard from a directory laid out like `data/`: `departments.toml`,
    /// `elements.toml` and `datasets/*.toml`.
    pub fn load_dir(dir: &Path) -> Result<Standard, StandardError> {
        let read = |rel: &str| {
            let path = dir.join(rel);
            std::fs::read_to_string(&path).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    StandardError::Missing(path.display().to_string())
                } else {
                    StandardError::Io { path, source }
                }
            })
        };
        let mut owned = vec![
            ("departments.toml".to_string(), read("departments.toml")?),
            ("elements.toml".to_string(), read("elements.toml")?),
        ];
        let ds_dir = dir.join("datasets");
        let entries = std::fs::read_dir(&ds_dir).map_err(|source| StandardError::Io {
            path: ds_dir.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        names.sort();
        for n in names {
            let rel = format!("datasets/{n}");
            let text = read(&rel)?;
            owned.push((rel, text));
        }
        let borrowed: Vec<(&str, &str)> = owned
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        // Name files by their full path so that messages point at the file to fix.
        Standard::from_sources(&borrowed).map_err(|e| match e {
            StandardError::Malformed {
                file,
                line,
                column,
                message,
            } => StandardError::Malformed {
                file: dir.join(file).display().to_string(),
                line,
                column,
                message,
            },
            StandardError::Missing(file) => {
                StandardError::Missing(dir.join(file).display().to_string())
            }
            other => other,
        })
    }

    /// Builds the standard from `(file name, text)` pairs and checks every cross-reference.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Standard, StandardError> {
        let find = |name: &str| {
            sources
                .iter()
                .find(|(f, _)| *f == name)
                .map(|&(file, text)| Source { file, text })
                .ok_or_else(|| StandardError::Missing(name.to_string()))
        };

        let src = find("departments.toml")?;
        let raw: DepartmentsFile = src.parse()?;
        let mut departments = Vec::new();
        let mut seen = BTreeSet::new();
        for d in raw.department {
            let span = d.span();
            let d = d.into_inner();
            if !is_identifier(&d.id) {
                return Err(src.error(span, format!("department id '{}' must be snake_case", d.id)));
            }
            if !seen.insert(d.id.clone()) {
                return Err(src.error(span, format!("department '{}' is listed twice", d.id)));
            }
            departments.push(d);
        }

        let src = find("elements.toml")?;
        let raw: ElementsFile = src.parse()?;
        let mut elements = BTreeMap::new();
        for e in raw.element {
            let span = e.span();
            let e = e.into_inner();
            if !is_identifier(&e.id) {
                return Err(src.error(span, format!("element id '{}' must be snake_case", e.id)));
            }
            if !seen.contains(e.owner.get_ref()) {
                return Err(src.error(
                    e.owner.span(),
                    format!(
                        "element '{}' names unknown owner '{}'",
                        e.id,
                        e.owner.get_ref()
                    ),
                ));
            }
            if !e.values.is_empty() && e.ty != ElementType::String {
                return Err(src.error(
                    span,
                    format!("element '{}': coded values need type string", e.id),
                ));
            }
            if e.format.is_some() && e.ty != ElementType::String {
                return Err(src.error(
                    span,
                    format!("element '{}': a format needs type string", e.id),
                ));
            }
            let element = Element {
                id: e.id.clone(),
                zh: e.zh,
                en: e.en,
                ty: e.ty,
                format: e.format,
                values: e.values,
                sensitivity: e.sensitivity,
                owner: e.owner.into_inner(),
            };
            if elements.insert(e.id.clone(), element).is_some() {
                return Err(src.error(span, format!("element '{}' is defined twice", e.id)));
            }
        }

        let mut datasets = BTreeMap::new();
        let mut via_checks = Vec::new();
        for &(file, text) in sources.iter().filter(|(f, _)| f.starts_with("datasets/")) {
            let src = Source { file, text };
            let department = file
                .trim_start_matches("datasets/")
                .trim_end_matches(".toml")
                .to_string();
            match departments.iter().find(|d| d.id == department) {
                Some(d) if d.island => {}
                Some(_) => {
                    return Err(
                        src.error(0..0, format!("department '{department}' keeps no island"))
                    )
                }
                None => {
                    return Err(src.error(
                        0..0,
                        format!("the file name names no department ('{department}')"),
                    ))
                }
            }
            let raw: DatasetsFile = src.parse()?;
            for ds in raw.dataset {
                let span = ds.span();
                let ds = ds.into_inner();
                if !is_identifier(&ds.name) {
                    return Err(src.error(
                        span,
                        format!("dataset name '{}' must be snake_case", ds.name),
                    ));
                }
                let id = format!("{department}.{}", ds.name);
                let mut fields = Vec::new();
                let mut names = BTreeSet::new();
                for f in ds.fields {
                    let fspan = f.span();
                    let f = f.into_inner();
                    if !is_identifier(&f.name) {
                        return Err(
                            src.error(fspan, format!("field name '{}' must be snake_case", f.name))
                        );
                    }
                    if !names.insert(f.name.clone()) {
                        return Err(
                            src.error(fspan, format!("field '{}' appears twice in {id}", f.name))
                        );
                    }
                    if !elements.contains_key(f.element.get_ref()) {
                        return Err(src.error(
                            f.element.span(),
                            format!(
                                "unknown element '{}' (field '{}' of {id})",
                                f.element.get_ref(),
                                f.name
                            ),
                        ));
                    }
                    fields.push(Field {
                        name: f.name,
                        element: f.element.into_inner(),
                        required: f.required,
                    });
                }
                if !names.contains(ds.key.get_ref()) {
                    return Err(src.error(
                        ds.key.span(),
                        format!("key '{}' is not a field of {id}", ds.key.get_ref()),
                    ));
                }
                let sspan = ds.subject.span();
                let s = ds.subject.into_inner();
                let subject = match (s.field, s.via, s.organisation) {
                    (Some(field), None, None) => SubjectLink::Direct { field },
                    (Some(field), Some(dataset), None) => {
                        via_checks.push((file, text, sspan.clone(), dataset.clone(), field.clone()));
                        SubjectLink::Via { dataset, field }
                    }
                    (None, None, Some(field)) => SubjectLink::Organisation { field },
                    _ => {
                        return Err(src.error(
                            sspan,
                            "subject must be { field = .. }, { via = .., field = .. } or { organisation = .. }",
                        ))
                    }
                };
                let subject_field = match &subject {
                    SubjectLink::Direct { field }
                    | SubjectLink::Via { field, .. }
                    | SubjectLink::Organisation { field } => field,
                };
                let Some(sf) = fields.iter().find(|f| &f.name == subject_field) else {
                    return Err(src.error(
                        sspan,
                        format!("subject field '{subject_field}' is not a field of {id}"),
                    ));
                };
                let want = match subject {
                    SubjectLink::Direct { .. } => Some("citizen_id"),
                    SubjectLink::Organisation { .. } => Some("uscc"),
                    SubjectLink::Via { .. } => None,
                };
                if let Some(want) = want {
                    if sf.element != want {
                        return Err(src.error(
                            sspan,
                            format!("subject field '{subject_field}' must hold element {want}"),
                        ));
                    }
                }
                let dataset = Dataset {
                    id: id.clone(),
                    department: department.clone(),
                    table: ds.table.unwrap_or_else(|| ds.name.clone()),
                    zh: ds.zh,
                    en: ds.en,
                    key: ds.key.into_inner(),
                    subject,
                    fields,
                };
                if datasets.insert(id.clone(), dataset).is_some() {
                    return Err(src.error(span, format!("dataset {id} is defined twice")));
                }
            }
        }
        for (file, text, span, target, field) in via_checks {
            let src = Source { file, text };
            let Some(t) = datasets.get(&target) else {
                return Err(src.error(span, format!("subject via unknown dataset '{target}'")));
            };
            if !matches!(t.subject, SubjectLink::Direct { .. }) || t.field(&field).is_none() {
                return Err(src.error(
                    span,
                    format!("dataset '{target}' must have field '{field}' and name its subject directly"),
                ));
            }
        }
        for d in departments.iter().filter(|d| d.island) {
            if !datasets.values().any(|ds| ds.department == d.id) {
                return Err(StandardError::Missing(format!("datasets/{}.toml", d.id)));
            }
        }
        Ok(Standard {
            departments,
            elements,
            datasets,
        })
    }

    pub fn departments(&self) -> &[Department] {
        &self.departments
    }

    /// Departments that keep an island, in the standard's order.
    pub fn islands(&self) -> impl Iterator<Item = &Department> {
        self.departments.iter().filter(|d| d.island)
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.elements.values()
    }

    pub fn element(&self, id: &str) -> Option<&Element> {
        self.elements.get(id)
    }

    pub fn datasets(&self) -> impl Iterator<Item = &Dataset> {
        self.datasets.values()
    }

    pub fn dataset(&self, id: &str) -> Option<&Dataset> {
        self.datasets.get(id)
    }

    /// The datasets of one department's island.
    pub fn datasets_of<'a>(&'a self, department: &'a str) -> impl Iterator<Item = &'a Dataset> {
        self.datasets
            .values()
            .filter(move |d| d.department == department)
    }

    /// The SQL `CREATE TABLE` statement of a dataset's island table.
    pub fn create_table_sql(&self, dataset: &Dataset) -> String {
        let cols: Vec<String> = dataset
            .fields
            .iter()
            .map(|f| {
                let ty = self.elements[&f.element].ty.sql_type();
                let null = if f.required { " NOT NULL" } else { "" };
                format!("{} {ty}{null}", f.name)
            })
            .collect();
        format!("CREATE TABLE {} ({})", dataset.table, cols.join(", "))
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Whether `code` is a real province-level code; re-exported for callers that only hold text.
pub fn is_province_code(code: u8) -> bool {
    province(code).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("名字\nx", 7), (2, 1));
        assert_eq!(line_col("名字", 4), (1, 2), "inside a character");
    }

    #[test]
    fn builtin_standard_loads() {
        let s = Standard::builtin();
        assert_eq!(s.islands().count(), 17);
        assert!(s.datasets().count() >= 17);
        for d in s.islands() {
            assert!(s.datasets_of(&d.id).count() >= 1, "{} has no dataset", d.id);
        }
        let adm = s.dataset("education.admission").unwrap();
        assert_eq!(
            adm.subject,
            SubjectLink::Via {
                dataset: "education.student".into(),
                field: "student_no".into()
            }
        );
        // Every element is used by at least one dataset, so the dictionary has no dead entries.
        for e in s.elements() {
            assert!(
                s.datasets()
                    .any(|d| d.fields.iter().any(|f| f.element == e.id)),
                "element {} is used by no dataset",
                e.id
            );
        }
    }

    fn sources_with(file: &str, text: &str) -> Vec<(String, String)> {
        BUILTIN
            .iter()
            .map(|&(f, t)| {
                if f == file {
                    (f.to_string(), text.to_string())
                } else {
                    (f.to_string(), t.to_string())
                }
            })
            .collect()
    }

    fn load(sources: &[(String, String)]) -> Result<Standard, StandardError> {
        let b: Vec<(&str, &str)> = sources
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        Standard::from_sources(&b)
    }

    fn expect_malformed(file: &str, text: &str, line: usize, needle: &str) {
        let err = load(&sources_with(file, text)).unwrap_err();
        match &err {
            StandardError::Malformed {
                file: f,
                line: l,
                message,
                ..
            } => {
                assert_eq!(f, file, "{err}");
                assert_eq!(*l, line, "{err}");
                assert!(message.contains(needle), "{err}");
            }
            other => panic!("expected Malformed, got {other}"),
        }
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let finance = include_str!("../data/datasets/finance.toml");
        let line_of = |needle: &str| finance.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let bad = finance.replace("element = \"bank_name\"", "element = \"bank_nmae\"");
        expect_malformed(
            "datasets/finance.toml",
            &bad,
            line_of("element = \"bank_name\""),
            "unknown element 'bank_nmae'",
        );

        let bad = finance.replace("name = \"bank\",", "name = \"bank\" element,");
        let err = load(&sources_with("datasets/finance.toml", &bad)).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "datasets/finance.toml:{}:",
                line_of("name = \"bank\"")
            )),
            "{err}"
        );

        let elements = include_str!("../data/elements.toml");
        let bad = elements.replace(
            "type = \"money\", sensitivity = \"sensitive_personal\", owner = \"civil_affairs\"",
            "type = \"money\", sensitivity = \"secret\", owner = \"civil_affairs\"",
        );
        let line = elements
            .lines()
            .position(|l| l.contains("\"monthly_amount\""))
            .unwrap()
            + 1;
        expect_malformed("elements.toml", &bad, line, "unknown variant");

        let bad = elements.replace("owner = \"courts\" }", "owner = \"court\" }");
        let line = elements
            .lines()
            .position(|l| l.contains("owner = \"courts\""))
            .unwrap()
            + 1;
        expect_malformed("elements.toml", &bad, line, "unknown owner 'court'");

        let bad = finance.replace("key = \"account\"", "key = \"acount\"");
        expect_malformed(
            "datasets/finance.toml",
            &bad,
            line_of("key = \"account\""),
            "key 'acount'",
        );
    }

    #[test]
    fn missing_island_file_is_named() {
        let sources: Vec<(String, String)> = BUILTIN
            .iter()
            .filter(|(f, _)| *f != "datasets/courts.toml")
            .map(|&(f, t)| (f.to_string(), t.to_string()))
            .collect();
        let err = load(&sources).unwrap_err();
        assert!(err.to_string().contains("datasets/courts.toml"), "{err}");
    }

    #[test]
    fn values_are_checked() {
        let s = Standard::builtin();
        let status = s.element("poverty_status").unwrap();
        assert!(status.check(Value::Text("active")).is_ok());
        assert!(status.check(Value::Text("poor")).is_err());
        assert!(status.check(Value::Integer(1)).is_err());
        let money = s.element("monthly_amount").unwrap();
        assert!(money.check(Value::Integer(58_000)).is_ok());
        assert!(money.check(Value::Integer(-1)).is_err());
        assert!(money.check(Value::Real(580.0)).is_err());
        let date = s.element("birth_date").unwrap();
        assert!(date.check(Value::Text("2008-02-29")).is_ok());
        assert!(date.check(Value::Text("2007-02-29")).is_err());
        assert!(date.check(Value::Text("20080229")).is_err());
        let plate = s.element("plate_number").unwrap();
        assert!(plate.check(Value::Text("贵A12345")).is_ok());
        assert!(plate.check(Value::Text("贵AD12345")).is_ok());
        assert!(plate.check(Value::Text("贵A1234O")).is_err());
        assert!(plate.check(Value::Text("X A12345")).is_err());
        let phone = s.element("phone").unwrap();
        assert!(phone.check(Value::Text("13912345678")).is_ok());
        assert!(phone.check(Value::Text("12912345678")).is_err());
    }
}
