//! Dated parameters and the values of a period: what lets one policy carry over the years as
//! the law it implements does.
//!
//! A parameter is an amount or a threshold with the dates from which each of its values
//! applies and the instrument that set it, as OpenFisca's parameters are:
//!
//! ```toml
//! [[parameter]]
//! id = "amount_80_to_89"
//! title = { zh = "80至89周岁每月金额（分）", en = "Monthly amount, aged 80 to 89 (fen)" }
//! values = [
//!   { from = "2026-01-01", to = "2026-12-31", value = 10000, cite = "Measures, art. 4" },
//!   { from = "2027-01-01", value = 12000, cite = "Notice 2027 No. 3" },
//! ]
//! ```
//!
//! Each value applies from its `from` to its `to` (or, without one, until the next value
//! starts; the last until it is replaced). Values are in date order, without gaps or
//! overlaps, and cover the policy's whole validity: `policy check` refuses anything else.
//! An expression names a parameter like an input, and reads the value in force on the first
//! day of the period being decided.
//!
//! Every expression may also read the period's own values ([`PERIOD_VALUES`]): its first and
//! last days, its year and the first of January of that year, so that "aged 80 or over on 1
//! January of the year paid" is `age(birth_date, year_start) >= 80`. `age(date, on)` is the
//! whole years from `date` to `on`, compared with a whole number.
//!
//! [`Policy::resolve`] writes these values into the expressions as literals, which is what the
//! evaluation reads: a policy resolved for a period is plain SQL over its inputs.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use errandless_standards::Date;
use serde::{Deserialize, Serialize};
use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use crate::{Frequency, Policy, Title};

/// A value a parameter takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParameterValue {
    /// A whole number: an amount in fen, an age, a count.
    Integer(i64),
    /// A date, `YYYY-MM-DD`.
    Date(Date),
    /// A code or other text.
    Text(String),
}

impl ParameterValue {
    /// The value as an explanation shows it.
    pub fn text(&self) -> String {
        match self {
            ParameterValue::Integer(v) => v.to_string(),
            ParameterValue::Date(d) => d.to_string(),
            ParameterValue::Text(t) => t.clone(),
        }
    }

    /// The value as a SQL literal: dates are ISO text, as the snapshots hold them.
    fn literal(&self) -> Expr {
        match self {
            ParameterValue::Integer(v) => Expr::value(Value::Number(v.to_string(), false)),
            ParameterValue::Date(d) => Expr::value(Value::SingleQuotedString(d.to_string())),
            ParameterValue::Text(t) => Expr::value(Value::SingleQuotedString(t.clone())),
        }
    }
}

/// One value of a parameter and the days it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatedValue {
    pub from: Date,
    /// The last day it applies; `None`: until the next value starts, or for good.
    pub to: Option<Date>,
    pub value: ParameterValue,
    /// The instrument and article that set it.
    pub cite: String,
}

/// An amount or threshold of a policy, with the dates from which each of its values applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parameter {
    /// The name expressions use.
    pub id: String,
    pub title: Title,
    /// In date order, without gaps or overlaps.
    pub values: Vec<DatedValue>,
}

impl Parameter {
    /// The value in force on `date`, if one is.
    pub fn on(&self, date: Date) -> Option<&DatedValue> {
        self.values.iter().enumerate().rev().find_map(|(i, v)| {
            let end =
                v.to.or_else(|| self.values.get(i + 1).map(|next| next.from.add_days(-1)));
            (v.from <= date && end.is_none_or(|end| date <= end)).then_some(v)
        })
    }
}

/// The value of a parameter that a decision used, as its explanation names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterUse {
    pub id: String,
    pub title_zh: String,
    pub title_en: String,
    /// The value as text.
    pub value: String,
    /// The date from which this value applies.
    pub from: String,
    pub cite: String,
}

/// What one entitlement pays for, or what one run of a screen decides: a month of a monthly
/// policy (`2027-03`), a year of a yearly one (`2027`), or the whole validity of a one-off
/// policy (`2026-07-01_2026-12-31`); never outside the validity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub name: String,
    /// Its first day (the validity's, when it starts later).
    pub start: Date,
    /// Its last day (the validity's, when it ends sooner).
    pub end: Date,
}

/// The names every expression may read besides its inputs and parameters, with what they
/// hold for the period being decided.
pub const PERIOD_VALUES: &[(&str, &str)] = &[
    ("period_start", "the first day of the period (a date)"),
    ("period_end", "the last day of the period (a date)"),
    ("period_year", "the period's year (a whole number)"),
    ("year_start", "1 January of the period's year (a date)"),
];

impl Period {
    /// The value of one of [`PERIOD_VALUES`].
    fn value(&self, name: &str) -> Option<ParameterValue> {
        Some(match name {
            "period_start" => ParameterValue::Date(self.start),
            "period_end" => ParameterValue::Date(self.end),
            "period_year" => ParameterValue::Integer(i64::from(self.start.year())),
            "year_start" => ParameterValue::Date(Date::new(self.start.year(), 1, 1).ok()?),
            _ => return None,
        })
    }
}

impl Policy {
    /// Whether the policy's expressions read a parameter or a period's value, so that it is
    /// evaluated only once [`Policy::resolve`]d for a period.
    pub fn needs_period(&self) -> bool {
        let reads_period_value = |text: &str| {
            crate::explanation::words(text)
                .iter()
                .any(|w| PERIOD_VALUES.iter().any(|(name, _)| name == w))
        };
        !self.parameters.is_empty()
            || [&self.eligible]
                .into_iter()
                .chain(self.payment.as_ref().map(|p| &p.amount.expr))
                .chain(self.conditions.iter().map(|c| &c.when))
                .chain(self.exclusions.iter().map(|x| &x.when))
                .any(|text| reads_period_value(text))
    }

    /// The policy as it decides the period called `name` ([`Policy::period`], then
    /// [`Policy::resolve`]), or why `name` is not one of its periods.
    pub fn for_period(&self, name: &str) -> Result<Policy, String> {
        Ok(self.resolve(&self.period(name)?))
    }

    /// The values of the parameters in force for `period`.
    pub fn parameters_in(&self, period: &Period) -> Vec<ParameterUse> {
        self.parameters
            .iter()
            .filter_map(|p| {
                let v = p.on(period.start)?;
                Some(ParameterUse {
                    id: p.id.clone(),
                    title_zh: p.title.zh.clone(),
                    title_en: p.title.en.clone(),
                    value: v.value.text(),
                    from: v.from.to_string(),
                    cite: v.cite.clone(),
                })
            })
            .collect()
    }

    /// The policy as it decides `period`: every parameter and period value written into its
    /// expressions as a literal, and `age(…)` comparisons as comparisons of dates, so that the
    /// evaluation reads plain SQL over the inputs. Expressions that read none of them are
    /// kept as written.
    pub fn resolve(&self, period: &Period) -> Policy {
        let mut values: BTreeMap<String, ParameterValue> = BTreeMap::new();
        for (name, _) in PERIOD_VALUES {
            if let Some(v) = period.value(name) {
                values.insert((*name).to_owned(), v);
            }
        }
        for p in &self.parameters {
            if let Some(v) = p.on(period.start) {
                values.insert(p.id.clone(), v.value.clone());
            }
        }
        let mut out = self.clone();
        let rewrite = |text: &mut String| {
            if let Some(resolved) = resolve_expression(text, &values) {
                *text = resolved;
            }
        };
        for c in &mut out.conditions {
            rewrite(&mut c.when);
        }
        for x in &mut out.exclusions {
            rewrite(&mut x.when);
        }
        rewrite(&mut out.eligible);
        if let Some(p) = &mut out.payment {
            rewrite(&mut p.amount.expr);
        }
        out.resolved_for = Some(period.clone());
        out
    }

    /// The period called `name`, with its days, or why it is not one of this policy's.
    pub fn period(&self, name: &str) -> Result<Period, String> {
        self.check_period(name)?;
        let clip = |start: Date, end: Date| Period {
            name: name.to_owned(),
            start: start.max(self.valid_from),
            end: self.valid_to.map_or(end, |to| end.min(to)),
        };
        let number = |s: &str| s.parse::<i32>().ok();
        match self.cadence() {
            Cadence::Monthly => {
                let (y, m) = name
                    .split_once('-')
                    .and_then(|(y, m)| Some((number(y)?, number(m)?)))
                    .ok_or_else(|| format!("'{name}' is not a month YYYY-MM"))?;
                let m = u32::try_from(m).map_err(|e| e.to_string())?;
                let first = Date::new(y, m, 1).map_err(|e| e.to_string())?;
                let last = Date::new(y, m, errandless_standards::date::days_in_month(y, m))
                    .map_err(|e| e.to_string())?;
                Ok(clip(first, last))
            }
            Cadence::Yearly => {
                let y = number(name).ok_or_else(|| format!("'{name}' is not a year YYYY"))?;
                let first = Date::new(y, 1, 1).map_err(|e| e.to_string())?;
                let last = Date::new(y, 12, 31).map_err(|e| e.to_string())?;
                Ok(clip(first, last))
            }
            Cadence::Whole => Ok(Period {
                name: name.to_owned(),
                start: self.valid_from,
                end: self.valid_to.unwrap_or(self.valid_from),
            }),
        }
    }

    /// How many payments a subject receives in the year of `period`: the months of the
    /// validity in that year for a monthly policy, 1 for a yearly or one-off one, 0 for a
    /// screen.
    pub fn payments_in(&self, period: &Period) -> u32 {
        match self.payment.as_ref().map(|p| p.frequency) {
            None => 0,
            Some(Frequency::OneOff | Frequency::Yearly) => 1,
            Some(Frequency::Monthly) => {
                let year = period.start.year();
                let first = self
                    .valid_from
                    .max(Date::new(year, 1, 1).unwrap_or(self.valid_from));
                let last = Date::new(year, 12, 31)
                    .ok()
                    .map_or(first, |dec| self.valid_to.map_or(dec, |to| to.min(dec)));
                if last < first {
                    return 0;
                }
                let months = (last.year() - first.year()) * 12 + last.month() as i32
                    - first.month() as i32
                    + 1;
                u32::try_from(months).unwrap_or(0)
            }
        }
    }

    /// How the policy's periods are cut.
    pub(crate) fn cadence(&self) -> Cadence {
        match self.payment.as_ref().map(|p| p.frequency) {
            Some(Frequency::Monthly) => Cadence::Monthly,
            Some(Frequency::Yearly) => Cadence::Yearly,
            Some(Frequency::OneOff) => Cadence::Whole,
            // A screen decides over its validity, or year by year when it has no end.
            None if self.valid_to.is_some() => Cadence::Whole,
            None => Cadence::Yearly,
        }
    }
}

/// How a policy's periods are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cadence {
    Monthly,
    Yearly,
    /// One period, the whole validity.
    Whole,
}

/// `text` with `values` written in, or `None` when it reads none of them (or does not parse,
/// which a checked policy's expressions always do).
fn resolve_expression(text: &str, values: &BTreeMap<String, ParameterValue>) -> Option<String> {
    let mut expr = crate::expr::parse(text).ok()?;
    let mut changed = false;
    let _ = sqlparser::ast::visit_expressions_mut(&mut expr, |e| {
        if let Expr::Identifier(id) = e {
            if let Some(v) = values.get(id.value.as_str()) {
                *e = v.literal();
                changed = true;
            }
        }
        if let Some(replaced) = age_comparison(e) {
            *e = replaced;
            changed = true;
        }
        ControlFlow::<()>::Continue(())
    });
    changed.then(|| expr.to_string())
}

/// The date and the day of an `age(date, on)` call whose `on` is a literal date.
fn age_call(e: &Expr) -> Option<(Expr, Date)> {
    let (_, args) = crate::expr::age_call(e)?;
    let [date, on] = args.as_slice() else {
        return None;
    };
    let on = match strip(on) {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s.parse::<Date>().ok()?,
            _ => return None,
        },
        _ => return None,
    };
    Some(((*date).clone(), on))
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

/// The whole number `e` is written as, if it is a literal (possibly negative).
pub(crate) fn integer(e: &Expr) -> Option<i64> {
    match strip(e) {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => integer(expr).map(|n| -n),
        _ => None,
    }
}

/// The last birth date (as ISO text) of someone aged at least `years` on `on`: whole years
/// count from the same month and day, so that someone born on 29 February comes of age on 1
/// March in a common year, as [`Date::age_on`] counts. The text may name a day that does not
/// exist (`2023-02-29`); it is only compared with dates as text.
fn born_by(on: Date, years: i64) -> String {
    let year = i64::from(on.year()) - years;
    format!("{year:04}-{:02}-{:02}", on.month(), on.day())
}

/// `age(date, 'YYYY-MM-DD') op n` (either way round, or `BETWEEN`) as comparisons of `date`
/// with literal dates.
fn age_comparison(e: &Expr) -> Option<Expr> {
    let text = |s: String| Expr::value(Value::SingleQuotedString(s));
    let cmp = |left: Expr, op: BinaryOperator, right: Expr| Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    };
    // at_least(n): age >= n, that is date <= born_by(n).
    let at_least = |date: &Expr, on: Date, n: i64| {
        cmp(date.clone(), BinaryOperator::LtEq, text(born_by(on, n)))
    };
    let below =
        |date: &Expr, on: Date, n: i64| cmp(date.clone(), BinaryOperator::Gt, text(born_by(on, n)));
    let nested = |e: Expr| Expr::Nested(Box::new(e));
    let and = |a: Expr, b: Expr| nested(cmp(a, BinaryOperator::And, b));
    let not = |e: Expr| Expr::UnaryOp {
        op: UnaryOperator::Not,
        expr: Box::new(nested(e)),
    };
    match e {
        Expr::BinaryOp { left, op, right } => {
            let (date, on, n, op) = match (age_call(left), age_call(right)) {
                (Some((d, on)), None) => (d, on, integer(right)?, op.clone()),
                (None, Some((d, on))) => (d, on, integer(left)?, crate::expr::flip(op)),
                _ => return None,
            };
            let date = nested(date);
            Some(match op {
                BinaryOperator::GtEq => at_least(&date, on, n),
                BinaryOperator::Gt => at_least(&date, on, n + 1),
                BinaryOperator::Lt => below(&date, on, n),
                BinaryOperator::LtEq => below(&date, on, n + 1),
                BinaryOperator::Eq => and(at_least(&date, on, n), below(&date, on, n + 1)),
                BinaryOperator::NotEq => not(and(at_least(&date, on, n), below(&date, on, n + 1))),
                _ => return None,
            })
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let (date, on) = age_call(expr)?;
            let (low, high) = (integer(low)?, integer(high)?);
            let date = nested(date);
            let within = and(at_least(&date, on, low), below(&date, on, high + 1));
            Some(if *negated { not(within) } else { within })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().expect("a date")
    }

    #[test]
    fn an_age_comparison_is_a_comparison_of_dates() {
        let values = BTreeMap::from([(
            "year_start".to_owned(),
            ParameterValue::Date(date("2027-01-01")),
        )]);
        let resolved = |s: &str| resolve_expression(s, &values).expect("resolved");
        assert_eq!(
            resolved("age(birth_date, year_start) >= 80"),
            "(birth_date) <= '1947-01-01'"
        );
        assert_eq!(
            resolved("80 <= age(birth_date, year_start)"),
            "(birth_date) <= '1947-01-01'"
        );
        assert_eq!(
            resolved("age(birth_date, year_start) < 90"),
            "(birth_date) > '1937-01-01'"
        );
        assert_eq!(
            resolved("age(b, '2027-03-01') BETWEEN 18 AND 59"),
            "((b) <= '2009-03-01' AND (b) > '1967-03-01')"
        );
        assert_eq!(resolve_expression("x >= 80", &values), None);
    }

    #[test]
    fn the_rewrite_agrees_with_whole_years_of_age() {
        // Every birth date across four years, including 29 February, against several days.
        let ons = [
            "2027-01-01",
            "2027-02-28",
            "2027-03-01",
            "2028-02-29",
            "2028-12-31",
        ];
        for on in ons {
            let on = date(on);
            for days in 0..(4 * 366) {
                let born = date("1944-01-01").add_days(days);
                for n in [80_i64, 81, 82, 83, 84] {
                    let age = i64::from(born.age_on(on));
                    let text = born.to_string();
                    assert_eq!(
                        age >= n,
                        text <= born_by(on, n),
                        "born {born}, on {on}, at least {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_parameter_reads_the_value_in_force() {
        let cite = String::from("x");
        let p = Parameter {
            id: "amount".into(),
            title: Title {
                zh: "金额".into(),
                en: "amount".into(),
            },
            values: vec![
                DatedValue {
                    from: date("2026-01-01"),
                    to: None,
                    value: ParameterValue::Integer(100),
                    cite: cite.clone(),
                },
                DatedValue {
                    from: date("2027-01-01"),
                    to: None,
                    value: ParameterValue::Integer(120),
                    cite,
                },
            ],
        };
        let at = |d: &str| p.on(date(d)).map(|v| v.value.clone());
        assert_eq!(at("2025-12-31"), None);
        assert_eq!(at("2026-12-31"), Some(ParameterValue::Integer(100)));
        assert_eq!(at("2027-01-01"), Some(ParameterValue::Integer(120)));
        assert_eq!(at("2099-06-30"), Some(ParameterValue::Integer(120)));
    }
}
