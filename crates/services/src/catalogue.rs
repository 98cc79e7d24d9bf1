//! The service catalogue (政务服务事项目录) as data: one TOML file per service under
//! `catalogue/`, checked against the unified data standard when it is loaded.
//!
//! A file names the service's department, category, bilingual title and summary, the level of
//! assurance an applicant needs, the statutory time limit in working days, the form's fields
//! and the evidence the case needs. A field may name the standard's data element that holds its
//! value (`element = "dataset.field"`, e.g. `public_security.resident.name`); such fields are
//! filled from the exchange ([`crate::prefill()`]) so the citizen types nothing the government
//! already knows. Every error names the file, line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use errandless_standards::line_col;
use errandless_standards::{ElementType, Format, Standard, SubjectLink};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The catalogue compiled into the binary, by file name. `builtin_lists_every_file` checks
/// that it names every file of `catalogue/`.
const BUILTIN: &[(&str, &str)] = &[
    (
        "business-licence-individual.toml",
        include_str!("../catalogue/business-licence-individual.toml"),
    ),
    (
        "court-case-filing.toml",
        include_str!("../catalogue/court-case-filing.toml"),
    ),
    (
        "disability-certificate-application.toml",
        include_str!("../catalogue/disability-certificate-application.toml"),
    ),
    (
        "driving-licence-renewal.toml",
        include_str!("../catalogue/driving-licence-renewal.toml"),
    ),
    (
        "elderly-allowance-correction.toml",
        include_str!("../catalogue/elderly-allowance-correction.toml"),
    ),
    (
        "income-tax-certificate.toml",
        include_str!("../catalogue/income-tax-certificate.toml"),
    ),
    (
        "land-contract-certificate-change.toml",
        include_str!("../catalogue/land-contract-certificate-change.toml"),
    ),
    (
        "marriage-registration-appointment.toml",
        include_str!("../catalogue/marriage-registration-appointment.toml"),
    ),
    (
        "medical-insurance-cross-region-filing.toml",
        include_str!("../catalogue/medical-insurance-cross-region-filing.toml"),
    ),
    (
        "newborn-registration.toml",
        include_str!("../catalogue/newborn-registration.toml"),
    ),
    (
        "passport-application.toml",
        include_str!("../catalogue/passport-application.toml"),
    ),
    (
        "provident-fund-withdrawal-rent.toml",
        include_str!("../catalogue/provident-fund-withdrawal-rent.toml"),
    ),
    (
        "real-estate-certificate-reissue.toml",
        include_str!("../catalogue/real-estate-certificate-reissue.toml"),
    ),
    (
        "social-security-card-replacement.toml",
        include_str!("../catalogue/social-security-card-replacement.toml"),
    ),
    (
        "student-status-certificate.toml",
        include_str!("../catalogue/student-status-certificate.toml"),
    ),
    (
        "subsidy-card-account-change.toml",
        include_str!("../catalogue/subsidy-card-account-change.toml"),
    ),
    (
        "travel-permit-hong-kong-macao.toml",
        include_str!("../catalogue/travel-permit-hong-kong-macao.toml"),
    ),
    (
        "veteran-preferential-card.toml",
        include_str!("../catalogue/veteran-preferential-card.toml"),
    ),
    (
        "vocational-qualification-certificate.toml",
        include_str!("../catalogue/vocational-qualification-certificate.toml"),
    ),
];

/// The file names of the built-in catalogue, for the test that keeps them complete.
#[doc(hidden)]
pub fn builtin_file_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _)| *name)
}

/// The longest a field may be when its file sets no `max_length`, in characters.
pub const DEFAULT_MAX_LENGTH: u32 = 2000;

/// A language of the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// 简体中文 (zh-CN).
    Zh,
    /// English.
    En,
}

/// A text in both of the portal's languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// The catalogue's categories (服务主题), as the portal groups services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    HouseholdRegistration,
    SocialInsurance,
    MedicalSecurity,
    Transport,
    EntryExit,
    ProfessionalQualifications,
    CivilAffairs,
    Education,
    Housing,
    Business,
    Tax,
    Disability,
    Courts,
    Veterans,
    Agriculture,
    Subsidies,
}

impl Category {
    pub const ALL: [Category; 16] = [
        Category::HouseholdRegistration,
        Category::SocialInsurance,
        Category::MedicalSecurity,
        Category::Transport,
        Category::EntryExit,
        Category::ProfessionalQualifications,
        Category::CivilAffairs,
        Category::Education,
        Category::Housing,
        Category::Business,
        Category::Tax,
        Category::Disability,
        Category::Courts,
        Category::Veterans,
        Category::Agriculture,
        Category::Subsidies,
    ];

    /// The stable code, as the files and the API write it.
    pub fn code(self) -> &'static str {
        match self {
            Category::HouseholdRegistration => "household_registration",
            Category::SocialInsurance => "social_insurance",
            Category::MedicalSecurity => "medical_security",
            Category::Transport => "transport",
            Category::EntryExit => "entry_exit",
            Category::ProfessionalQualifications => "professional_qualifications",
            Category::CivilAffairs => "civil_affairs",
            Category::Education => "education",
            Category::Housing => "housing",
            Category::Business => "business",
            Category::Tax => "tax",
            Category::Disability => "disability",
            Category::Courts => "courts",
            Category::Veterans => "veterans",
            Category::Agriculture => "agriculture",
            Category::Subsidies => "subsidies",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Category::HouseholdRegistration => "户籍办理",
            Category::SocialInsurance => "社会保障",
            Category::MedicalSecurity => "医疗保障",
            Category::Transport => "交通出行",
            Category::EntryExit => "出境入境",
            Category::ProfessionalQualifications => "职业资格",
            Category::CivilAffairs => "民政婚姻",
            Category::Education => "教育科研",
            Category::Housing => "住房保障",
            Category::Business => "设立变更",
            Category::Tax => "税务办理",
            Category::Disability => "残疾人服务",
            Category::Courts => "司法公正",
            Category::Veterans => "退役军人服务",
            Category::Agriculture => "农业农村",
            Category::Subsidies => "惠民补贴",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Category::HouseholdRegistration => "Household registration",
            Category::SocialInsurance => "Social insurance",
            Category::MedicalSecurity => "Medical security",
            Category::Transport => "Transport",
            Category::EntryExit => "Entry and exit",
            Category::ProfessionalQualifications => "Professional qualifications",
            Category::CivilAffairs => "Civil affairs and marriage",
            Category::Education => "Education",
            Category::Housing => "Housing",
            Category::Business => "Starting and changing a business",
            Category::Tax => "Tax",
            Category::Disability => "Services for disabled persons",
            Category::Courts => "Courts",
            Category::Veterans => "Veterans' services",
            Category::Agriculture => "Agriculture and rural affairs",
            Category::Subsidies => "Subsidies",
        }
    }

    pub fn name(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh(),
            Lang::En => self.en(),
        }
    }

    pub fn parse(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The level of assurance (认证等级) an applicant's login must have reached: the identity
/// crate's L1 (confirmed phone), L2 (real-name checked) and L3 (L2 with a second factor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Assurance {
    L1,
    L2,
    L3,
}

impl Assurance {
    pub fn code(self) -> &'static str {
        match self {
            Assurance::L1 => "L1",
            Assurance::L2 => "L2",
            Assurance::L3 => "L3",
        }
    }

    pub fn parse(code: &str) -> Option<Assurance> {
        [Assurance::L1, Assurance::L2, Assurance::L3]
            .into_iter()
            .find(|a| a.code() == code)
    }
}

impl fmt::Display for Assurance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What a form field holds, and so how a submitted value is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text on one or more lines.
    Text,
    /// An ISO 8601 calendar date, `YYYY-MM-DD`.
    Date,
    /// A decimal number, `-12`, `3.5`.
    Number,
    /// One of the field's options, by its value.
    Choice,
    /// A mainland mobile number (11 digits, 13 to 19).
    Phone,
    /// An e-mail address.
    Email,
    /// A GB 11643 citizen ID number.
    CitizenId,
    /// A GB 32100 unified social credit code.
    Uscc,
}

impl FieldKind {
    pub fn code(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Date => "date",
            FieldKind::Number => "number",
            FieldKind::Choice => "choice",
            FieldKind::Phone => "phone",
            FieldKind::Email => "email",
            FieldKind::CitizenId => "citizen_id",
            FieldKind::Uscc => "uscc",
        }
    }
}

/// One option of a choice field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// What is submitted and stored; for a field mapped to a coded element, one of its codes.
    pub value: String,
    pub zh: String,
    pub en: String,
}

/// A field of the standard: `dataset.field`, e.g. `public_security.resident.name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ElementRef {
    /// The dataset id, `department.name`.
    pub dataset: String,
    /// The dataset's field name.
    pub field: String,
}

impl fmt::Display for ElementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.dataset, self.field)
    }
}

/// One field of a service's form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// Unique within the form: lower-case letters, digits and `_`.
    pub name: String,
    pub label: Text,
    pub kind: FieldKind,
    pub required: bool,
    /// The longest value allowed, in characters ([`DEFAULT_MAX_LENGTH`] when the file sets none).
    pub max_length: Option<u32>,
    /// The options of a choice field, in the order shown.
    pub options: Vec<Choice>,
    /// The data element the exchange can fill this field from.
    pub element: Option<ElementRef>,
}

impl FormField {
    /// The longest value allowed, in characters.
    pub fn limit(&self) -> u32 {
        self.max_length.unwrap_or(DEFAULT_MAX_LENGTH)
    }
}

/// A document or proof a case needs (申请材料).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub name: Text,
    /// The department the platform obtains it from, so the citizen need not bring it (免提交);
    /// `None` when the citizen provides it.
    pub obtained_from: Option<String>,
}

/// A service a citizen can apply for (政务服务事项).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// A stable slug, also the file name: `driving-licence-renewal`.
    pub id: String,
    /// Raised whenever the form or the rules change.
    pub version: u32,
    /// The department that handles it, by its id in the unified standard.
    pub department: String,
    pub category: Category,
    pub title: Text,
    pub summary: Text,
    /// The level of assurance the applicant needs.
    pub assurance: Assurance,
    /// The statutory time limit (承诺时限), in working days from submission.
    pub time_limit_days: u32,
    /// The law or notice the service rests on.
    pub legal_basis: Option<String>,
    pub fields: Vec<FormField>,
    pub evidence: Vec<Evidence>,
}

impl Service {
    pub fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The reads that prefill this service's form: each dataset once, with its fields.
    pub fn prefill_reads(&self) -> Vec<PrefillRead> {
        group_reads(std::iter::once(self))
    }
}

/// The fields of one dataset that prefill reads ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefillRead {
    pub dataset: String,
    /// Sorted, each once.
    pub fields: Vec<String>,
}

fn group_reads<'a>(services: impl Iterator<Item = &'a Service>) -> Vec<PrefillRead> {
    let mut by_dataset: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for service in services {
        for element in service.fields.iter().filter_map(|f| f.element.as_ref()) {
            by_dataset
                .entry(&element.dataset)
                .or_default()
                .insert(&element.field);
        }
    }
    by_dataset
        .into_iter()
        .map(|(dataset, fields)| PrefillRead {
            dataset: dataset.to_owned(),
            fields: fields.into_iter().map(str::to_owned).collect(),
        })
        .collect()
}

/// Why a catalogue file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{file}:{line}:{column}: {message}")]
    Malformed {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The services, checked, in the order of their ids.
#[derive(Clone, Debug)]
pub struct Catalogue {
    services: Vec<Service>,
}

// ---- the file's shape ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: Spanned<String>,
    version: Spanned<i64>,
    department: Spanned<String>,
    category: Category,
    title: Spanned<Text>,
    summary: Spanned<Text>,
    assurance: Spanned<String>,
    time_limit_days: Spanned<i64>,
    legal_basis: Option<String>,
    #[serde(default, rename = "field")]
    fields: Vec<Spanned<RawField>>,
    #[serde(default)]
    evidence: Vec<Spanned<RawEvidence>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Spanned<String>,
    label: Spanned<Text>,
    kind: Spanned<FieldKind>,
    #[serde(default)]
    required: bool,
    max_length: Option<Spanned<i64>>,
    #[serde(default)]
    options: Vec<Spanned<Choice>>,
    element: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    name: Spanned<Text>,
    obtained_from: Option<Spanned<String>>,
}

struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> CatalogueError {
        let (line, column) = line_col(self.text, span.start);
        CatalogueError::Malformed {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Lower-case letters and digits joined by single hyphens, starting with a letter.
fn is_slug(s: &str) -> bool {
    (3..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A field name: lower-case letters, digits and `_`, starting with a letter.
fn is_field_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_text(src: &Source<'_>, text: &Spanned<Text>, what: &str) -> Result<(), CatalogueError> {
    let t = text.get_ref();
    for (lang, s) in [("zh", &t.zh), ("en", &t.en)] {
        if s.trim().is_empty() || s.chars().any(char::is_control) {
            return Err(src.error(
                text.span(),
                format!("{what}.{lang} must be non-empty text without control characters"),
            ));
        }
    }
    Ok(())
}

/// Whether a field of `kind` can show values of `element`, or why not.
fn kind_fits(kind: FieldKind, element: &errandless_standards::Element) -> Result<(), String> {
    let fits = match kind {
        FieldKind::Text => {
            element.ty == ElementType::String
                && element.values.is_empty()
                && matches!(
                    element.format,
                    None | Some(Format::Plate | Format::DisabilityCert | Format::DivisionCode)
                )
        }
        FieldKind::Date => element.ty == ElementType::Date,
        FieldKind::Number => matches!(element.ty, ElementType::Integer | ElementType::Real),
        FieldKind::Choice => element.ty == ElementType::String && !element.values.is_empty(),
        FieldKind::Phone => element.format == Some(Format::Phone),
        FieldKind::CitizenId => element.format == Some(Format::CitizenId),
        FieldKind::Uscc => element.format == Some(Format::Uscc),
        FieldKind::Email => false,
    };
    if fits {
        Ok(())
    } else {
        let shape = match (&element.format, element.values.is_empty()) {
            (Some(f), _) => format!("{} ({})", element.ty.name(), f.name()),
            (None, false) => format!("coded {}", element.ty.name()),
            (None, true) => element.ty.name().to_owned(),
        };
        Err(format!(
            "a {} field cannot show element {:?}, which is {shape}",
            kind.code(),
            element.id
        ))
    }
}

fn parse_service(src: &Source<'_>, standard: &Standard) -> Result<Service, CatalogueError> {
    let raw: RawService = toml::from_str(src.text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        src.error(span, e.message().trim().to_owned())
    })?;

    let id = raw.id.get_ref();
    if !is_slug(id) {
        return Err(src.error(
            raw.id.span(),
            format!("service id {id:?} must be 3 to 64 lower-case letters, digits and single hyphens, starting with a letter"),
        ));
    }
    let stem = Path::new(src.file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != id {
        return Err(src.error(
            raw.id.span(),
            format!("service id {id:?} must be the file's name ({stem:?})"),
        ));
    }
    let version = u32::try_from(*raw.version.get_ref())
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| src.error(raw.version.span(), "version must be a positive integer"))?;
    let department = raw.department.get_ref();
    if standard.department(department).is_none() {
        return Err(src.error(
            raw.department.span(),
            format!("{department:?} is not a department of the unified data standard"),
        ));
    }
    check_text(src, &raw.title, "title")?;
    check_text(src, &raw.summary, "summary")?;
    let assurance = Assurance::parse(raw.assurance.get_ref()).ok_or_else(|| {
        src.error(
            raw.assurance.span(),
            format!(
                "assurance {:?} is not a level of assurance (L1, L2 or L3)",
                raw.assurance.get_ref()
            ),
        )
    })?;
    let time_limit_days = u32::try_from(*raw.time_limit_days.get_ref())
        .ok()
        .filter(|d| (1..=250).contains(d))
        .ok_or_else(|| {
            src.error(
                raw.time_limit_days.span(),
                "time_limit_days must be 1 to 250 working days",
            )
        })?;
    if let Some(basis) = &raw.legal_basis {
        if basis.trim().is_empty() {
            return Err(src.error(0..0, "legal_basis must not be empty when given"));
        }
    }

    if raw.fields.is_empty() {
        return Err(src.error(0..0, "a service needs at least one [[field]]"));
    }
    let mut fields = Vec::with_capacity(raw.fields.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for spanned in raw.fields {
        let f = spanned.into_inner();
        let name = f.name.get_ref().clone();
        if !is_field_name(&name) {
            return Err(src.error(
                f.name.span(),
                format!("field name {name:?} must be 1 to 64 lower-case letters, digits and '_', starting with a letter"),
            ));
        }
        if let Some(first) = seen.get(&name) {
            let (line, _) = line_col(src.text, *first);
            return Err(src.error(
                f.name.span(),
                format!("field {name:?} is defined twice (first on line {line})"),
            ));
        }
        seen.insert(name.clone(), f.name.span().start);
        check_text(src, &f.label, "label")?;
        let kind = *f.kind.get_ref();
        let max_length = match &f.max_length {
            None => None,
            Some(m) => Some(
                u32::try_from(*m.get_ref())
                    .ok()
                    .filter(|n| (1..=DEFAULT_MAX_LENGTH * 5).contains(n))
                    .ok_or_else(|| {
                        src.error(m.span(), "max_length must be 1 to 10000 characters")
                    })?,
            ),
        };
        let mut options = Vec::with_capacity(f.options.len());
        let mut values = BTreeSet::new();
        for option in &f.options {
            let o = option.get_ref();
            if o.value.trim().is_empty()
                || o.value.trim() != o.value
                || o.zh.trim().is_empty()
                || o.en.trim().is_empty()
            {
                return Err(src.error(
                    option.span(),
                    "an option needs a value without surrounding spaces and both labels",
                ));
            }
            if !values.insert(o.value.clone()) {
                return Err(src.error(
                    option.span(),
                    format!("option {:?} is listed twice", o.value),
                ));
            }
            options.push(o.clone());
        }
        match (kind, options.is_empty()) {
            (FieldKind::Choice, true) => {
                return Err(src.error(f.kind.span(), "a choice field needs options"));
            }
            (FieldKind::Choice, false) | (_, true) => {}
            (_, false) => {
                return Err(src.error(
                    f.kind.span(),
                    format!(
                        "only a choice field has options, not a {} field",
                        kind.code()
                    ),
                ));
            }
        }
        let element = match &f.element {
            None => None,
            Some(e) => Some(check_element(src, standard, e, kind, &options)?),
        };
        fields.push(FormField {
            name,
            label: f.label.into_inner(),
            kind,
            required: f.required,
            max_length,
            options,
            element,
        });
    }

    let mut evidence = Vec::with_capacity(raw.evidence.len());
    for spanned in raw.evidence {
        let e = spanned.into_inner();
        check_text(src, &e.name, "evidence name")?;
        let obtained_from = match e.obtained_from {
            None => None,
            Some(d) => {
                let keeps_island = standard
                    .department(d.get_ref())
                    .is_some_and(|dep| dep.island);
                if !keeps_island {
                    return Err(src.error(
                        d.span(),
                        format!(
                            "{:?} is not a department that keeps a data island",
                            d.get_ref()
                        ),
                    ));
                }
                Some(d.into_inner())
            }
        };
        evidence.push(Evidence {
            name: e.name.into_inner(),
            obtained_from,
        });
    }

    Ok(Service {
        id: raw.id.into_inner(),
        version,
        department: raw.department.into_inner(),
        category: raw.category,
        title: raw.title.into_inner(),
        summary: raw.summary.into_inner(),
        assurance,
        time_limit_days,
        legal_basis: raw.legal_basis,
        fields,
        evidence,
    })
}

/// Checks `element = "dataset.field"` against the standard and the field's kind.
fn check_element(
    src: &Source<'_>,
    standard: &Standard,
    element: &Spanned<String>,
    kind: FieldKind,
    options: &[Choice],
) -> Result<ElementRef, CatalogueError> {
    let text = element.get_ref();
    let err = |message: String| src.error(element.span(), message);
    let Some((dataset_id, field_name)) = text.rsplit_once('.') else {
        return Err(err(format!(
            "element {text:?} must be written dataset.field, e.g. public_security.resident.name"
        )));
    };
    let dataset = standard.dataset(dataset_id).ok_or_else(|| {
        err(format!(
            "element {text:?}: {dataset_id:?} is not a dataset of the unified data standard"
        ))
    })?;
    let field = dataset.field(field_name).ok_or_else(|| {
        err(format!(
            "element {text:?}: dataset {dataset_id} has no field {field_name:?}"
        ))
    })?;
    if matches!(dataset.subject, SubjectLink::Organisation { .. }) {
        return Err(err(format!(
            "element {text:?}: dataset {dataset_id} describes organisations, and prefill reads by the applicant's ID number"
        )));
    }
    let definition = standard
        .element(&field.element)
        .expect("the standard checks that every field names an element");
    kind_fits(kind, definition).map_err(|m| err(format!("element {text:?}: {m}")))?;
    if kind == FieldKind::Choice {
        if let Some(o) = options
            .iter()
            .find(|o| !definition.values.contains(&o.value))
        {
            return Err(err(format!(
                "element {text:?}: option {:?} is not one of its codes ({})",
                o.value,
                definition.values.join(", ")
            )));
        }
    }
    Ok(ElementRef {
        dataset: dataset_id.to_owned(),
        field: field_name.to_owned(),
    })
}

impl Catalogue {
    /// The catalogue shipped with this build (`catalogue/*.toml`, compiled in). Its files are
    /// checked by the test suite, so a failure here is a bug in the repository, not bad input.
    pub fn builtin() -> &'static Catalogue {
        static BUILT: OnceLock<Catalogue> = OnceLock::new();
        BUILT.get_or_init(|| {
            Catalogue::from_sources(BUILTIN).expect("the built-in catalogue files are valid")
        })
    }

    /// Loads every `*.toml` file of `dir`, one service each. Errors name the file by its path.
    pub fn load(dir: &Path) -> Result<Catalogue, CatalogueError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CatalogueError::Io { path, source }
        };
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        names.sort();
        let mut owned = Vec::with_capacity(names.len());
        for path in names {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            owned.push((path.display().to_string(), text));
        }
        let borrowed: Vec<(&str, &str)> = owned
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        Catalogue::from_sources(&borrowed)
    }

    /// Builds the catalogue from `(file name, text)` pairs, one service per file.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Catalogue, CatalogueError> {
        let standard = Standard::builtin();
        let mut services: Vec<Service> = Vec::with_capacity(sources.len());
        let mut files: BTreeMap<String, &str> = BTreeMap::new();
        for &(file, text) in sources {
            let src = Source { file, text };
            let service = parse_service(&src, standard)?;
            if let Some(first) = files.get(&service.id) {
                return Err(src.error(
                    0..0,
                    format!("service {:?} is also defined in {first}", service.id),
                ));
            }
            files.insert(service.id.clone(), file);
            services.push(service);
        }
        services.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Catalogue { services })
    }

    /// Every service, by id.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services
            .binary_search_by(|s| s.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.services[i])
    }

    /// The services whose title or summary, in either language, contains every word of
    /// `query` (case-insensitive), within `category` if one is given. Services whose title
    /// matches come first; an empty query lists every service of the category.
    pub fn search(&self, query: &str, category: Option<Category>) -> Vec<&Service> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut in_title = Vec::new();
        let mut in_summary = Vec::new();
        for service in self
            .services
            .iter()
            .filter(|s| category.is_none_or(|c| s.category == c))
        {
            let title = format!("{}\n{}", service.title.zh, service.title.en).to_lowercase();
            let all =
                format!("{title}\n{}\n{}", service.summary.zh, service.summary.en).to_lowercase();
            if words.iter().all(|w| title.contains(w.as_str())) {
                in_title.push(service);
            } else if words.iter().all(|w| all.contains(w.as_str())) {
                in_summary.push(service);
            }
        }
        in_title.extend(in_summary);
        in_title
    }

    /// The categories that hold services, in [`Category::ALL`]'s order, with how many each.
    pub fn categories(&self) -> Vec<(Category, usize)> {
        Category::ALL
            .into_iter()
            .map(|c| (c, self.services.iter().filter(|s| s.category == c).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The reads that prefill every service's form: each dataset once, with the union of its
    /// fields. The member that runs the portal needs per-subject grants for these, purpose
    /// `application_prefill`.
    pub fn prefill_reads(&self) -> Vec<PrefillRead> {
        group_reads(self.services.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_field_names() {
        assert!(is_slug("driving-licence-renewal"));
        assert!(!is_slug("Driving"));
        assert!(!is_slug("a--b"));
        assert!(!is_slug("ab-"));
        assert!(is_field_name("valid_until"));
        assert!(!is_field_name("1st"));
        assert!(!is_field_name("a-b"));
    }
}
