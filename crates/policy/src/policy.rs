//! The policy file: its TOML shape, and the checks that need no data.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use errandless_standards::{Date, ElementType, Standard};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{ErrorKind, PolicyError, Source};
use crate::expr::{self, InputInfo, Scope, Site, Want};
use crate::parameter::{DatedValue, Parameter, ParameterValue, Period, PERIOD_VALUES};

/// A policy in both languages of the portal.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Title {
    pub zh: String,
    pub en: String,
}

/// One legal instrument the policy rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegalBasis {
    /// The instrument and article, e.g. "Provincial Notice 2026-12, art. 3".
    pub reference: String,
    pub url: Option<String>,
}

/// A data element of the standard that the policy reads, joined on the subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The name expressions use.
    pub name: String,
    /// The dataset, `department.dataset`.
    pub dataset: String,
    /// The dataset's field.
    pub field: String,
    /// The data element the field holds.
    pub element: String,
    pub ty: ElementType,
}

/// A named SQL boolean over the inputs, with the article it implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub id: String,
    pub when: String,
    pub cite: String,
    /// Whether failing this condition alone makes a near miss (`near_miss = false` in the
    /// file for what the policy is about, such as an age or a disability, rather than a
    /// detail a person may have wrong or may supply). Default: true.
    pub near_miss: bool,
}

/// A reason that takes an otherwise eligible subject out, over inputs and conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    pub id: String,
    pub when: String,
    pub cite: String,
}

/// The amount a subject is paid per payment, a SQL expression in integer fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount {
    pub expr: String,
}

/// How often the amount is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    /// Once in the validity period, which then has an end.
    OneOff,
    /// Every month of the validity period.
    Monthly,
    /// Once a year (the part of each calendar year within the validity).
    Yearly,
}

/// What a paying policy pays, to which account, how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    pub amount: Amount,
    /// The input that holds the payee's account.
    pub pay_to: String,
    pub frequency: Frequency,
}

/// A value an example gives an input.
#[derive(Clone, Debug, PartialEq)]
pub enum ExampleValue {
    Text(String),
    Integer(i64),
    Real(f64),
    Boolean(bool),
}

/// A person of a `[[test]]` section and what the policy must decide for them. An input the
/// example leaves out is missing (NULL), as when the subject has no row in that dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub name: String,
    /// Where the `[[test]]` entry is, 1-based.
    pub line: usize,
    pub column: usize,
    pub inputs: BTreeMap<String, ExampleValue>,
    /// The day whose period the example is decided in (`on = "2027-03-01"`); by default the
    /// first day of the validity.
    pub on: Option<Date>,
    pub eligible: bool,
    /// The amount per payment in fen (0 or absent when not eligible).
    pub amount: Option<i64>,
}

/// A checked policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub id: String,
    pub title: Title,
    pub legal_basis: Vec<LegalBasis>,
    /// What a row of the decision is about; `person` for now.
    pub subject: String,
    pub valid_from: Date,
    /// The last day in force; `None` until the policy is repealed or replaced.
    pub valid_to: Option<Date>,
    /// In the order of their names.
    pub inputs: Vec<Input>,
    /// Amounts and thresholds with the dates from which each value applies.
    pub parameters: Vec<Parameter>,
    /// The period the expressions were resolved for ([`Policy::resolve`]); `None` for the
    /// policy as written.
    pub resolved_for: Option<Period>,
    pub conditions: Vec<Condition>,
    /// The combination of conditions that makes a subject eligible, before exclusions.
    pub eligible: String,
    pub exclusions: Vec<Exclusion>,
    /// `None` for a screen, which pays nothing and lists the eligible.
    pub payment: Option<Payment>,
    pub examples: Vec<Example>,
}

impl Policy {
    /// Reads and checks a policy file against the built-in standard.
    pub fn load(path: &Path) -> Result<Policy, Vec<PolicyError>> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![PolicyError {
                file: file.clone(),
                line: 1,
                column: 1,
                kind: ErrorKind::Io,
                message: format!("cannot read the file: {e}"),
            }]
        })?;
        Policy::parse(&file, &text, Standard::builtin())
    }

    /// Checks a policy's text; `file` names it in errors. Returns every error found.
    pub fn parse(file: &str, text: &str, standard: &Standard) -> Result<Policy, Vec<PolicyError>> {
        let src = Source { file, text };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            vec![src.error(offset, ErrorKind::Malformed, e.message().trim().to_string())]
        })?;
        let mut errors = Vec::new();
        let policy = build(&src, raw, standard, &mut errors);
        match policy {
            Some(p) if errors.is_empty() => Ok(p),
            _ => Err(errors),
        }
    }
}

// ---- the file's shape ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: Spanned<String>,
    title: Title,
    legal_basis: Spanned<Vec<RawLegalBasis>>,
    subject: Spanned<String>,
    valid: RawValid,
    inputs: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    condition: Vec<Spanned<RawCondition>>,
    eligible: Spanned<String>,
    #[serde(default)]
    exclusion: Vec<Spanned<RawCondition>>,
    amount: Option<Spanned<String>>,
    pay_to: Option<Spanned<String>>,
    frequency: Option<Spanned<String>>,
    #[serde(default)]
    parameter: Vec<Spanned<RawParameter>>,
    #[serde(default)]
    test: Vec<Spanned<RawExample>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    id: Spanned<String>,
    title: Title,
    values: Spanned<Vec<Spanned<RawDatedValue>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatedValue {
    from: Spanned<String>,
    to: Option<Spanned<String>>,
    value: Spanned<toml::Value>,
    cite: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLegalBasis {
    #[serde(rename = "ref")]
    reference: Spanned<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValid {
    from: Spanned<String>,
    to: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    id: Spanned<String>,
    when: Spanned<String>,
    cite: Spanned<String>,
    #[serde(default = "near_miss_default")]
    near_miss: bool,
}

fn near_miss_default() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    name: Spanned<String>,
    #[serde(default)]
    inputs: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    on: Option<Spanned<String>>,
    eligible: bool,
    amount: Option<Spanned<i64>>,
}

/// Names the evaluation gives its own columns, which inputs and conditions may not take.
pub const RESERVED_NAMES: &[&str] = &["subject", "eligible", "amount", "row_hash", "subject_row"];

fn is_name(s: &str) -> bool {
    if RESERVED_NAMES.contains(&s) {
        return false;
    }
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 63
}

fn date(src: &Source<'_>, value: &Spanned<String>, errors: &mut Vec<PolicyError>) -> Option<Date> {
    let text = value.get_ref();
    match text.parse::<Date>() {
        Ok(d) if text.len() == 10 => Some(d),
        _ => {
            errors.push(src.error(
                value.span().start,
                ErrorKind::Malformed,
                format!("'{text}' is not a date written YYYY-MM-DD"),
            ));
            None
        }
    }
}

fn build(
    src: &Source<'_>,
    raw: RawPolicy,
    standard: &Standard,
    errors: &mut Vec<PolicyError>,
) -> Option<Policy> {
    let err = |errors: &mut Vec<PolicyError>, span: Range<usize>, kind, msg: String| {
        errors.push(src.error(span.start, kind, msg));
    };
    let malformed = ErrorKind::Malformed;

    if !is_name(&raw.id.get_ref().replace('-', "_")) {
        err(
            errors,
            raw.id.span(),
            malformed,
            "the id is lowercase letters, digits, '-' and '_'".into(),
        );
    }
    if raw.title.zh.trim().is_empty() || raw.title.en.trim().is_empty() {
        err(
            errors,
            raw.id.span(),
            malformed,
            "the title needs both zh and en".into(),
        );
    }
    if raw.legal_basis.get_ref().is_empty() {
        err(
            errors,
            raw.legal_basis.span(),
            malformed,
            "a policy cites at least one legal basis".into(),
        );
    }
    let mut legal_basis = Vec::new();
    for lb in raw.legal_basis.get_ref() {
        if lb.reference.get_ref().trim().is_empty() {
            err(
                errors,
                lb.reference.span(),
                malformed,
                "the legal reference is empty".into(),
            );
        }
        legal_basis.push(LegalBasis {
            reference: lb.reference.get_ref().clone(),
            url: lb.url.clone(),
        });
    }
    if raw.subject.get_ref() != "person" {
        err(
            errors,
            raw.subject.span(),
            malformed,
            format!(
                "subject '{}' is not supported: policies decide about a `person`",
                raw.subject.get_ref()
            ),
        );
    }
    let valid_from = date(src, &raw.valid.from, errors);
    let valid_to = match &raw.valid.to {
        Some(to) => date(src, to, errors).map(Some),
        None => Some(None),
    };
    if let (Some(f), Some(Some(t))) = (valid_from, valid_to) {
        if t < f {
            err(
                errors,
                raw.valid.to.as_ref().map_or(0..0, Spanned::span),
                malformed,
                format!("the validity ends ({t}) before it starts ({f})"),
            );
        }
    }

    // Inputs: `department.dataset.field` of the standard.
    let mut inputs = Vec::new();
    let mut scope_inputs: BTreeMap<String, InputInfo> = BTreeMap::new();
    for (name, path) in &raw.inputs {
        if !is_name(name.get_ref()) {
            err(
                errors,
                name.span(),
                malformed,
                format!(
                    "input name '{}' must be lowercase letters, digits and '_', and not one of {}",
                    name.get_ref(),
                    RESERVED_NAMES.join(", ")
                ),
            );
            continue;
        }
        let p = path.get_ref();
        let resolved = p.rsplit_once('.').and_then(|(dataset, field)| {
            let ds = standard.dataset(dataset)?;
            let f = ds.field(field)?;
            let el = standard.element(&f.element)?;
            Some((dataset, field, el))
        });
        let Some((dataset, field, el)) = resolved else {
            let hint = match p.rsplit_once('.').map(|(d, _)| standard.dataset(d)) {
                Some(Some(ds)) => format!(
                    "; {} has {}",
                    ds.id,
                    ds.fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            };
            err(
                errors,
                path.span(),
                ErrorKind::UnknownElement,
                format!("'{p}' is not a department.dataset.field of the standard{hint}"),
            );
            continue;
        };
        scope_inputs.insert(
            name.get_ref().clone(),
            InputInfo {
                ty: el.ty,
                codes: el.values.clone(),
            },
        );
        inputs.push(Input {
            name: name.get_ref().clone(),
            dataset: dataset.to_string(),
            field: field.to_string(),
            element: el.id.clone(),
            ty: el.ty,
        });
    }
    if raw.inputs.is_empty() {
        err(
            errors,
            raw.id.span(),
            malformed,
            "a policy reads at least one input".into(),
        );
    }
    // Parameters: dated values over the whole validity.
    let parameters = parameters(
        src,
        &raw,
        valid_from,
        valid_to.flatten(),
        &scope_inputs,
        errors,
    );
    let mut values: BTreeMap<String, ElementType> = PERIOD_VALUES
        .iter()
        .map(|(name, _)| {
            let ty = if *name == "period_year" {
                ElementType::Integer
            } else {
                ElementType::Date
            };
            ((*name).to_owned(), ty)
        })
        .collect();
    for p in &parameters {
        let ty = match p.values.first().map(|v| &v.value) {
            Some(ParameterValue::Integer(_)) => ElementType::Integer,
            Some(ParameterValue::Date(_)) => ElementType::Date,
            _ => ElementType::String,
        };
        values.insert(p.id.clone(), ty);
    }

    // A misspelt input must not also be reported at every use.
    let known_bad: BTreeSet<&str> = raw
        .inputs
        .keys()
        .map(|k| k.get_ref().as_str())
        .filter(|k| !scope_inputs.contains_key(*k))
        .collect();

    // Conditions, over the inputs only.
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut conditions = Vec::new();
    let only_inputs = Scope {
        inputs: &scope_inputs,
        conditions: None,
        values: &values,
    };
    for c in &raw.condition {
        let c = c.get_ref();
        named(
            src,
            &c.id,
            &c.cite,
            &scope_inputs,
            &values,
            &mut ids,
            errors,
        );
        let site = Site::of(src.text, c.when.span());
        let before = errors.len();
        if let Some(parsed) = expr::check(
            src,
            site,
            c.when.get_ref(),
            &only_inputs,
            Want::Bool,
            errors,
        ) {
            if let Some(input) = expr::unsatisfiable(&parsed, &scope_inputs) {
                err(
                    errors,
                    site.start()..site.start(),
                    ErrorKind::Unsatisfiable,
                    format!(
                        "no subject can meet condition `{}`: its parts leave `{input}` no value",
                        c.id.get_ref()
                    ),
                );
            }
        }
        drop_noise(errors, before, &known_bad);
        conditions.push(Condition {
            id: c.id.get_ref().clone(),
            when: c.when.get_ref().clone(),
            cite: c.cite.get_ref().clone(),
            near_miss: c.near_miss,
        });
    }
    let condition_ids: BTreeSet<String> = conditions.iter().map(|c| c.id.clone()).collect();
    let full = Scope {
        inputs: &scope_inputs,
        conditions: Some(&condition_ids),
        values: &values,
    };
    let check_full = |s: &Spanned<String>, want, errors: &mut Vec<PolicyError>| {
        let before = errors.len();
        expr::check(
            src,
            Site::of(src.text, s.span()),
            s.get_ref(),
            &full,
            want,
            errors,
        );
        drop_noise(errors, before, &known_bad);
    };
    check_full(&raw.eligible, Want::Bool, errors);
    let mut exclusions = Vec::new();
    for x in &raw.exclusion {
        let x = x.get_ref();
        named(
            src,
            &x.id,
            &x.cite,
            &scope_inputs,
            &values,
            &mut ids,
            errors,
        );
        check_full(&x.when, Want::Bool, errors);
        exclusions.push(Exclusion {
            id: x.id.get_ref().clone(),
            when: x.when.get_ref().clone(),
            cite: x.cite.get_ref().clone(),
        });
    }

    // Payment: amount, payee account and frequency together, or none of them (a screen).
    let payment = match (&raw.amount, &raw.pay_to, &raw.frequency) {
        (None, None, None) => None,
        (Some(amount), Some(pay_to), Some(frequency)) => {
            check_full(amount, Want::Amount, errors);
            match scope_inputs.get(pay_to.get_ref()) {
                Some(_) => {
                    let el = inputs
                        .iter()
                        .find(|i| &i.name == pay_to.get_ref())
                        .map(|i| i.element.as_str());
                    if el != Some("bank_account") {
                        err(
                            errors,
                            pay_to.span(),
                            ErrorKind::Type,
                            format!(
                                "pay_to `{}` must be an input holding a bank_account element",
                                pay_to.get_ref()
                            ),
                        );
                    }
                }
                None if known_bad.contains(pay_to.get_ref().as_str()) => {}
                None => err(
                    errors,
                    pay_to.span(),
                    ErrorKind::UnknownIdentifier,
                    format!("pay_to `{}` is not an input", pay_to.get_ref()),
                ),
            }
            let frequency = match frequency.get_ref().as_str() {
                "one-off" => {
                    if valid_to == Some(None) {
                        err(
                            errors,
                            frequency.span(),
                            malformed,
                            "a one-off payment is made once in the validity, which then needs \
                             an end (`valid = { from = …, to = … }`); a payment that recurs \
                             each year is `yearly`"
                                .into(),
                        );
                    }
                    Some(Frequency::OneOff)
                }
                "monthly" => Some(Frequency::Monthly),
                "yearly" => Some(Frequency::Yearly),
                other => {
                    err(
                        errors,
                        frequency.span(),
                        malformed,
                        format!("frequency '{other}' is not one of: one-off, monthly, yearly"),
                    );
                    None
                }
            };
            frequency.map(|frequency| Payment {
                amount: Amount {
                    expr: amount.get_ref().clone(),
                },
                pay_to: pay_to.get_ref().clone(),
                frequency,
            })
        }
        _ => {
            let at = raw
                .amount
                .as_ref()
                .or(raw.pay_to.as_ref())
                .or(raw.frequency.as_ref())
                .map_or(0..0, Spanned::span);
            err(
                errors,
                at,
                malformed,
                "amount, pay_to and frequency go together: give all three, or none for a \
                 screen that pays nothing"
                    .into(),
            );
            None
        }
    };

    // A payment refused for its own reasons must not also refuse every example's amount.
    let pays = raw.amount.is_some();
    let examples = examples(src, &raw, &inputs, pays, errors);
    for (e, raw_example) in examples.iter().zip(&raw.test) {
        let (Some(on), Some(from)) = (e.on, valid_from) else {
            continue;
        };
        let to = valid_to.flatten();
        if on < from || to.is_some_and(|t| on > t) {
            let at = raw_example
                .get_ref()
                .on
                .as_ref()
                .map_or(0, |o| o.span().start);
            errors.push(src.error(
                at,
                ErrorKind::Example,
                format!(
                    "example '{}' is decided on {on}, outside the validity ({from} to {})",
                    e.name,
                    to.map_or("no end".to_owned(), |t| t.to_string())
                ),
            ));
        }
    }

    Some(Policy {
        id: raw.id.into_inner(),
        title: raw.title,
        legal_basis,
        subject: raw.subject.into_inner(),
        valid_from: valid_from?,
        valid_to: valid_to?,
        inputs,
        parameters,
        resolved_for: None,
        conditions,
        eligible: raw.eligible.into_inner(),
        exclusions,
        payment,
        examples,
    })
}

/// Drops errors about uses of an input whose path was already refused.
fn drop_noise(errors: &mut Vec<PolicyError>, from: usize, known_bad: &BTreeSet<&str>) {
    if known_bad.is_empty() {
        return;
    }
    let mut i = from;
    while i < errors.len() {
        let noise = errors[i].kind == ErrorKind::UnknownIdentifier
            && known_bad
                .iter()
                .any(|b| errors[i].message.starts_with(&format!("`{b}`")));
        if noise {
            errors.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Checks the id and citation of a condition or exclusion.
fn named(
    src: &Source<'_>,
    id: &Spanned<String>,
    cite: &Spanned<String>,
    inputs: &BTreeMap<String, InputInfo>,
    values: &BTreeMap<String, ElementType>,
    ids: &mut BTreeSet<String>,
    errors: &mut Vec<PolicyError>,
) {
    let name = id.get_ref();
    if !is_name(name) {
        errors.push(src.error(
            id.span().start,
            ErrorKind::Malformed,
            format!(
                "id '{name}' must be lowercase letters, digits and '_', and not one of {}",
                RESERVED_NAMES.join(", ")
            ),
        ));
    } else if inputs.contains_key(name) || values.contains_key(name) || !ids.insert(name.clone()) {
        errors.push(src.error(
            id.span().start,
            ErrorKind::Malformed,
            format!(
                "id '{name}' is already an input, parameter, period value, condition or exclusion"
            ),
        ));
    }
    if cite.get_ref().trim().is_empty() {
        errors.push(src.error(
            cite.span().start,
            ErrorKind::Malformed,
            format!("`{name}` needs a citation of the article it implements"),
        ));
    }
}

fn examples(
    src: &Source<'_>,
    raw: &RawPolicy,
    inputs: &[Input],
    pays: bool,
    errors: &mut Vec<PolicyError>,
) -> Vec<Example> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for t in &raw.test {
        let (line, column) = crate::error::line_col(src.text, t.span().start);
        let t_ref = t.get_ref();
        let e = |errors: &mut Vec<PolicyError>, at: usize, msg: String| {
            errors.push(src.error(at, ErrorKind::Example, msg));
        };
        if t_ref.name.get_ref().trim().is_empty() || !names.insert(t_ref.name.get_ref().clone()) {
            e(
                errors,
                t_ref.name.span().start,
                "each example needs a name of its own".into(),
            );
        }
        let mut values = BTreeMap::new();
        for (k, v) in &t_ref.inputs {
            let Some(input) = inputs.iter().find(|i| &i.name == k.get_ref()) else {
                if !raw.inputs.keys().any(|n| n.get_ref() == k.get_ref()) {
                    e(
                        errors,
                        k.span().start,
                        format!("`{}` is not an input of the policy", k.get_ref()),
                    );
                }
                continue;
            };
            match example_value(input, v.get_ref()) {
                Ok(value) => {
                    values.insert(k.get_ref().clone(), value);
                }
                Err(msg) => e(errors, v.span().start, format!("`{}`: {msg}", k.get_ref())),
            }
        }
        let amount = t_ref.amount.as_ref().map(|a| *a.get_ref());
        match (pays, t_ref.eligible, &t_ref.amount) {
            (true, true, None) => e(
                errors,
                t.span().start,
                "an eligible example of a paying policy gives its amount in fen".into(),
            ),
            (false, _, Some(a)) => e(
                errors,
                a.span().start,
                "this policy pays nothing: its examples give no amount".into(),
            ),
            (true, false, Some(a)) if *a.get_ref() != 0 => e(
                errors,
                a.span().start,
                "an example that is not eligible is paid 0".into(),
            ),
            (_, _, Some(a)) if *a.get_ref() < 0 => {
                e(errors, a.span().start, "an amount is never negative".into())
            }
            _ => {}
        }
        let on = t_ref.on.as_ref().and_then(|on| date(src, on, errors));
        out.push(Example {
            name: t_ref.name.get_ref().clone(),
            line,
            column,
            inputs: values,
            on,
            eligible: t_ref.eligible,
            amount,
        });
    }
    out
}

fn example_value(input: &Input, v: &toml::Value) -> Result<ExampleValue, String> {
    let standard = Standard::builtin();
    let check_text = |s: &str| match standard.element(&input.element) {
        Some(el) => el
            .check(errandless_standards::Value::Text(s))
            .map(|()| ExampleValue::Text(s.to_string())),
        None => Ok(ExampleValue::Text(s.to_string())),
    };
    match (input.ty, v) {
        (ElementType::String | ElementType::Date, toml::Value::String(s)) => check_text(s),
        (ElementType::Date, toml::Value::Datetime(d))
            if d.date.is_some() && d.time.is_none() && d.offset.is_none() =>
        {
            check_text(&d.to_string())
        }
        (ElementType::Integer, toml::Value::Integer(i)) => Ok(ExampleValue::Integer(*i)),
        (ElementType::Money, toml::Value::Integer(i)) if *i >= 0 => Ok(ExampleValue::Integer(*i)),
        (ElementType::Real, toml::Value::Float(f)) if f.is_finite() => Ok(ExampleValue::Real(*f)),
        (ElementType::Real, toml::Value::Integer(i)) => Ok(ExampleValue::Integer(*i)),
        (ElementType::Boolean, toml::Value::Boolean(b)) => Ok(ExampleValue::Boolean(*b)),
        (ty, other) => Err(format!(
            "a {} is not a value of type {}{}",
            other.type_str(),
            ty.name(),
            if ty == ElementType::Money {
                " (integer fen)"
            } else {
                ""
            }
        )),
    }
}

/// Checks the `[[parameter]]` sections: names of their own, bilingual titles, one type, and
/// dated values in order without gaps or overlaps that cover the whole validity.
fn parameters(
    src: &Source<'_>,
    raw: &RawPolicy,
    valid_from: Option<Date>,
    valid_to: Option<Date>,
    inputs: &BTreeMap<String, InputInfo>,
    errors: &mut Vec<PolicyError>,
) -> Vec<Parameter> {
    let mut out: Vec<Parameter> = Vec::new();
    let e = |errors: &mut Vec<PolicyError>, at: usize, msg: String| {
        errors.push(src.error(at, ErrorKind::Parameter, msg));
    };
    for p in &raw.parameter {
        let p = p.get_ref();
        let id = p.id.get_ref();
        let at = p.id.span().start;
        if !is_name(id) {
            e(
                errors,
                at,
                format!(
                    "parameter id '{id}' must be lowercase letters, digits and '_', and not one \
                     of {}",
                    RESERVED_NAMES.join(", ")
                ),
            );
            continue;
        }
        if inputs.contains_key(id)
            || PERIOD_VALUES.iter().any(|(name, _)| name == id)
            || out.iter().any(|q| &q.id == id)
        {
            e(
                errors,
                at,
                format!("parameter id '{id}' is already an input, a period value or a parameter"),
            );
            continue;
        }
        if p.title.zh.trim().is_empty() || p.title.en.trim().is_empty() {
            e(
                errors,
                at,
                format!("parameter `{id}` needs a title in both zh and en"),
            );
        }
        let mut values: Vec<DatedValue> = Vec::new();
        let mut ok = true;
        for v in p.values.get_ref() {
            let (span, v) = (v.span(), v.get_ref());
            let from = date(src, &v.from, errors);
            let to = match &v.to {
                Some(to) => date(src, to, errors).map(Some),
                None => Some(None),
            };
            if v.cite.get_ref().trim().is_empty() {
                e(
                    errors,
                    v.cite.span().start,
                    format!("each value of `{id}` cites the instrument that set it"),
                );
            }
            let value = match v.value.get_ref() {
                toml::Value::Integer(i) => Some(ParameterValue::Integer(*i)),
                toml::Value::String(s) if s.len() == 10 && s.parse::<Date>().is_ok() => {
                    s.parse().ok().map(ParameterValue::Date)
                }
                toml::Value::String(s) => Some(ParameterValue::Text(s.clone())),
                toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => {
                    d.to_string().parse().ok().map(ParameterValue::Date)
                }
                other => {
                    e(
                        errors,
                        v.value.span().start,
                        format!(
                            "a value of `{id}` is a whole number (fen, years…), a date or text, \
                             not a {}",
                            other.type_str()
                        ),
                    );
                    None
                }
            };
            let (Some(from), Some(to), Some(value)) = (from, to, value) else {
                ok = false;
                continue;
            };
            if let Some(first) = values.first() {
                if std::mem::discriminant(&first.value) != std::mem::discriminant(&value) {
                    e(
                        errors,
                        v.value.span().start,
                        format!("the values of `{id}` are not all of one type"),
                    );
                    ok = false;
                }
            }
            if to.is_some_and(|t| t < from) {
                e(
                    errors,
                    span.start,
                    format!(
                        "a value of `{id}` ends ({}) before it starts ({from})",
                        to.map_or(String::new(), |t| t.to_string())
                    ),
                );
                ok = false;
            }
            if let Some(prev) = values.last() {
                let prev_end = prev.to.unwrap_or_else(|| from.add_days(-1));
                if from <= prev_end || from <= prev.from {
                    e(
                        errors,
                        span.start,
                        format!(
                            "the values of `{id}` overlap: one applies from {} to {prev_end}, the \
                             next from {from}",
                            prev.from
                        ),
                    );
                    ok = false;
                } else if from > prev_end.add_days(1) {
                    e(
                        errors,
                        span.start,
                        format!(
                            "`{id}` has no value from {} to {}: each value applies until the next \
                             starts",
                            prev_end.add_days(1),
                            from.add_days(-1)
                        ),
                    );
                    ok = false;
                }
            }
            values.push(DatedValue {
                from,
                to,
                value,
                cite: v.cite.get_ref().clone(),
            });
        }
        if values.is_empty() {
            if ok {
                e(
                    errors,
                    p.values.span().start,
                    format!("parameter `{id}` has no value"),
                );
            }
            continue;
        }
        if let (true, Some(valid_from)) = (ok, valid_from) {
            let first = &values[0];
            if first.from > valid_from {
                e(
                    errors,
                    p.values.span().start,
                    format!(
                        "`{id}` has no value from {valid_from}, when the policy comes into force, \
                         to {}",
                        first.from.add_days(-1)
                    ),
                );
            }
            if let Some(last_to) = values.last().and_then(|v| v.to) {
                match valid_to {
                    Some(valid_to) if last_to >= valid_to => {}
                    Some(valid_to) => e(
                        errors,
                        p.values.span().start,
                        format!(
                            "`{id}` has no value from {} to {valid_to}, the end of the validity",
                            last_to.add_days(1)
                        ),
                    ),
                    None => e(
                        errors,
                        p.values.span().start,
                        format!(
                            "`{id}` has no value after {last_to}, and the policy has no end: \
                             leave the last value's `to` out, or end the validity"
                        ),
                    ),
                }
            }
        }
        out.push(Parameter {
            id: id.clone(),
            title: p.title.clone(),
            values,
        });
    }
    out
}
