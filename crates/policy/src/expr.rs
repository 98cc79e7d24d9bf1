//! The SQL expressions of a policy: parsed with DataFusion's parser, every identifier resolved,
//! types checked, and the contradictions that are visible without data reported.

use std::collections::{BTreeMap, BTreeSet};

use errandless_standards::{Date, ElementType};
use sqlparser::ast::{
    BinaryOperator, CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    Spanned as _, UnaryOperator, Value,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Span, Token};

use crate::error::{ErrorKind, PolicyError, Source};

/// The type of an expression's value. Money is `Int` (fen), dates are ISO text typed `Date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    Int,
    Real,
    Text,
    Date,
    Null,
}

impl Ty {
    fn of(element: ElementType) -> Ty {
        match element {
            ElementType::String => Ty::Text,
            ElementType::Integer | ElementType::Money => Ty::Int,
            ElementType::Real => Ty::Real,
            ElementType::Date => Ty::Date,
            ElementType::Boolean => Ty::Bool,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Bool => "boolean",
            Ty::Int => "integer",
            Ty::Real => "real",
            Ty::Text => "text",
            Ty::Date => "date",
            Ty::Null => "NULL",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Real | Ty::Null)
    }
}

/// What an input brings into an expression: its element's type and codes.
#[derive(Clone, Debug)]
pub(crate) struct InputInfo {
    pub ty: ElementType,
    pub codes: Vec<String>,
}

/// The names an expression may use.
pub(crate) struct Scope<'a> {
    pub inputs: &'a BTreeMap<String, InputInfo>,
    /// The condition ids it may use (none inside a condition).
    pub conditions: Option<&'a BTreeSet<String>>,
    /// The parameters and the period's values, by name, with their types.
    pub values: &'a BTreeMap<String, ElementType>,
}

/// What an expression must yield.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// A condition, exclusion or eligibility: a boolean.
    Bool,
    /// An amount: a whole number of fen.
    Amount,
}

/// Where an expression's text starts in the file: the first character inside the quotes of a
/// TOML string. Positions inside the expression are exact for literal strings and for basic
/// strings without escapes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site {
    start: usize,
}

impl Site {
    pub fn of(file_text: &str, span: std::ops::Range<usize>) -> Site {
        let raw = file_text.get(span.clone()).unwrap_or("");
        let mut start = span.start;
        if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            start += 3;
            let rest = file_text.get(start..).unwrap_or("");
            if rest.starts_with("\r\n") {
                start += 2;
            } else if rest.starts_with('\n') {
                start += 1;
            }
        } else if raw.starts_with('"') || raw.starts_with('\'') {
            start += 1;
        }
        Site { start }
    }

    /// The byte offset of the expression's first character in the file.
    pub fn start(&self) -> usize {
        self.start
    }

    fn offset(&self, text: &str, loc: Location) -> usize {
        if loc.line == 0 || loc.column == 0 {
            return self.start;
        }
        let mut before = 0;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if i as u64 + 1 == loc.line {
                let col = line
                    .char_indices()
                    .nth(loc.column as usize - 1)
                    .map_or(line.len(), |(b, _)| b);
                return self.start + before + col;
            }
            before += line.len();
        }
        self.start + text.len()
    }
}

/// Parses one expression, which must be the whole text.
pub(crate) fn parse(text: &str) -> Result<Expr, (String, Option<Location>)> {
    let dialect = GenericDialect {};
    let located = |e: ParserError| {
        let message = e.to_string();
        (message.clone(), location_in(&message))
    };
    let mut parser = Parser::new(&dialect).try_with_sql(text).map_err(located)?;
    let expr = parser.parse_expr().map_err(located)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err((
            format!("unexpected `{}` after the expression", next.token),
            Some(next.span.start),
        ));
    }
    Ok(expr)
}

/// The parser writes positions as "Line: L, Column: C" in its messages.
fn location_in(message: &str) -> Option<Location> {
    let number_after = |key: &str| -> Option<u64> {
        let rest = &message[message.find(key)? + key.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some(Location::new(
        number_after("Line: ")?,
        number_after("Column: ")?,
    ))
}

/// Checks one expression and returns it parsed, or `None` after pushing its errors.
pub(crate) fn check(
    src: &Source<'_>,
    site: Site,
    text: &str,
    scope: &Scope<'_>,
    want: Want,
    errors: &mut Vec<PolicyError>,
) -> Option<Expr> {
    let expr = match parse(text) {
        Ok(e) => e,
        Err((message, at)) => {
            let offset = at.map_or(site.start, |l| site.offset(text, l));
            errors.push(src.error(offset, ErrorKind::Syntax, message));
            return None;
        }
    };
    let before = errors.len();
    let mut checker = Checker {
        src,
        site,
        text,
        scope,
        errors,
    };
    let ty = checker.infer(&expr);
    match (want, ty) {
        (_, None) => {}
        (Want::Bool, Some(Ty::Bool | Ty::Null)) => {}
        (Want::Bool, Some(t)) => checker.err(
            expr.span(),
            ErrorKind::Type,
            format!("this must be a boolean, but it is {}", t.name()),
        ),
        (Want::Amount, Some(Ty::Int | Ty::Null)) => {}
        (Want::Amount, Some(Ty::Real)) => checker.err(
            expr.span(),
            ErrorKind::NonIntegerAmount,
            "the amount may not be a whole number of fen: it uses a decimal, a real element or \
             a division; write integer fen, or wrap it in CAST(... AS BIGINT)",
        ),
        (Want::Amount, Some(t)) => checker.err(
            expr.span(),
            ErrorKind::Type,
            format!("the amount must be integer fen, but it is {}", t.name()),
        ),
    }
    (errors.len() == before).then_some(expr)
}

struct Checker<'a, 'e> {
    src: &'a Source<'a>,
    site: Site,
    text: &'a str,
    scope: &'a Scope<'a>,
    errors: &'e mut Vec<PolicyError>,
}

impl Checker<'_, '_> {
    fn err(&mut self, span: Span, kind: ErrorKind, message: impl Into<String>) {
        let offset = self.site.offset(self.text, span.start);
        self.errors.push(self.src.error(offset, kind, message));
    }

    fn input(&self, e: &Expr) -> Option<(&str, &InputInfo)> {
        match e {
            Expr::Identifier(id) => self
                .scope
                .inputs
                .get_key_value(id.value.as_str())
                .map(|(k, v)| (k.as_str(), v)),
            Expr::Nested(inner) => self.input(inner),
            _ => None,
        }
    }

    fn ident(&mut self, id: &Ident) -> Option<Ty> {
        if let Some(info) = self.scope.inputs.get(id.value.as_str()) {
            return Some(Ty::of(info.ty));
        }
        if let Some(ty) = self.scope.values.get(id.value.as_str()) {
            return Some(Ty::of(*ty));
        }
        if let Some(conditions) = self.scope.conditions {
            if conditions.contains(id.value.as_str()) {
                return Some(Ty::Bool);
            }
            self.err(
                id.span,
                ErrorKind::UnknownIdentifier,
                format!(
                    "`{}` is neither an input, a parameter, a period's value nor a condition",
                    id.value
                ),
            );
        } else if id.value.is_empty() {
            self.err(id.span, ErrorKind::Syntax, "an empty name");
        } else {
            self.err(
                id.span,
                ErrorKind::UnknownIdentifier,
                format!(
                    "`{}` is not an input, a parameter or a period's value (a condition may \
                     not use conditions)",
                    id.value
                ),
            );
        }
        None
    }

    fn literal(&mut self, value: &Value, span: Span) -> Option<Ty> {
        match value {
            Value::Number(n, _) => {
                if n.contains(['.', 'e', 'E']) {
                    Some(Ty::Real)
                } else if n.parse::<i64>().is_ok() {
                    Some(Ty::Int)
                } else {
                    self.err(
                        span,
                        ErrorKind::Type,
                        format!("{n} does not fit in 64 bits"),
                    );
                    None
                }
            }
            Value::SingleQuotedString(_) => Some(Ty::Text),
            Value::Boolean(_) => Some(Ty::Bool),
            Value::Null => Some(Ty::Null),
            other => {
                self.err(
                    span,
                    ErrorKind::Syntax,
                    format!("`{other}`: write text in single quotes, numbers in digits"),
                );
                None
            }
        }
    }

    fn infer(&mut self, e: &Expr) -> Option<Ty> {
        match e {
            Expr::Identifier(id) => self.ident(id),
            Expr::Value(v) => self.literal(&v.value, v.span),
            Expr::Nested(inner) => self.infer(inner),
            Expr::TypedString(ts) => {
                let target = cast_target(&ts.data_type.to_string());
                match (target, &ts.value.value) {
                    (Some(Ty::Date), Value::SingleQuotedString(s)) => {
                        self.date_literal(s, ts.value.span);
                        Some(Ty::Date)
                    }
                    _ => {
                        self.err(
                            e.span(),
                            ErrorKind::Syntax,
                            "only DATE 'YYYY-MM-DD' typed literals are allowed",
                        );
                        None
                    }
                }
            }
            Expr::UnaryOp { op, expr } => {
                let t = self.infer(expr)?;
                match op {
                    UnaryOperator::Not => self.expect_bool(expr, t).then_some(Ty::Bool),
                    UnaryOperator::Minus | UnaryOperator::Plus if t.numeric() => Some(t),
                    _ => {
                        self.err(
                            e.span(),
                            ErrorKind::Type,
                            format!("`{op}` does not apply to {}", t.name()),
                        );
                        None
                    }
                }
            }
            Expr::BinaryOp { left, op, right } => self.binary(e, left, op, right),
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
                self.infer(inner)?;
                Some(Ty::Bool)
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let t = self.infer(expr);
                let mut ok = t.is_some();
                for item in list {
                    let ti = self.infer(item);
                    if let (Some(t), Some(ti)) = (t, ti) {
                        ok &= self.comparable(expr, t, item, ti);
                    } else {
                        ok = false;
                    }
                }
                if ok {
                    self.codes(expr, list, !*negated, e.span());
                }
                Some(Ty::Bool)
            }
            Expr::Between {
                expr, low, high, ..
            } if age_call(expr).is_some() => {
                let call = age_call(expr)?;
                self.age_compared(call, &[low, high])
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                let t = self.infer(expr);
                for bound in [low, high] {
                    let tb = self.infer(bound);
                    if let (Some(t), Some(tb)) = (t, tb) {
                        self.comparable(expr, t, bound, tb);
                    }
                }
                Some(Ty::Bool)
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand_ty = match operand {
                    Some(o) => Some((o, self.infer(o)?)),
                    None => None,
                };
                let mut result: Option<Ty> = None;
                let mut ok = true;
                for when in conditions {
                    let tc = self.infer(&when.condition);
                    match (operand_ty, tc) {
                        (Some((o, to)), Some(tc)) => {
                            if self.comparable(o, to, &when.condition, tc) {
                                self.codes(
                                    o,
                                    std::slice::from_ref(&when.condition),
                                    false,
                                    when.condition.span(),
                                );
                            }
                        }
                        (None, Some(tc)) => {
                            self.expect_bool(&when.condition, tc);
                        }
                        _ => ok = false,
                    }
                    ok &= self.unify_into(&mut result, &when.result);
                }
                if let Some(r) = else_result {
                    ok &= self.unify_into(&mut result, r);
                }
                if ok {
                    Some(result.unwrap_or(Ty::Null))
                } else {
                    None
                }
            }
            Expr::Cast {
                kind,
                expr,
                data_type,
                ..
            } => {
                let from = self.infer(expr)?;
                if !matches!(kind, CastKind::Cast) {
                    self.err(e.span(), ErrorKind::Syntax, "write CAST(x AS type)");
                    return None;
                }
                match cast_target(&data_type.to_string()) {
                    Some(to) => {
                        if to == Ty::Date && from != Ty::Date {
                            if let Expr::Value(v) = expr.as_ref() {
                                if let Value::SingleQuotedString(s) = &v.value {
                                    self.date_literal(s, v.span);
                                }
                            }
                        }
                        Some(to)
                    }
                    None => {
                        self.err(
                            e.span(),
                            ErrorKind::Type,
                            format!(
                                "cannot cast to {data_type}: use BIGINT, DOUBLE, TEXT, DATE \
                                 or BOOLEAN"
                            ),
                        );
                        None
                    }
                }
            }
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("age") => {
                self.err(
                    e.span(),
                    ErrorKind::Type,
                    "age(date, on) is compared with a whole number, as in \
                     `age(birth_date, year_start) >= 80`",
                );
                None
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                let args = match &f.args {
                    FunctionArguments::List(list)
                        if matches!(name.as_str(), "coalesce" | "least" | "greatest")
                            && list.duplicate_treatment.is_none()
                            && list.clauses.is_empty()
                            && f.filter.is_none()
                            && f.over.is_none() =>
                    {
                        &list.args
                    }
                    _ => {
                        self.err(
                            e.span(),
                            ErrorKind::Syntax,
                            format!(
                                "`{}` is not allowed: the functions are COALESCE, LEAST, \
                                 GREATEST and age(date, on)",
                                f.name
                            ),
                        );
                        return None;
                    }
                };
                let mut result = None;
                let mut ok = true;
                for arg in args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(a)) => {
                            ok &= self.unify_into(&mut result, a);
                        }
                        _ => {
                            self.err(e.span(), ErrorKind::Syntax, "arguments are expressions");
                            ok = false;
                        }
                    }
                }
                if ok {
                    Some(result.unwrap_or(Ty::Null))
                } else {
                    None
                }
            }
            other => {
                self.err(
                    other.span(),
                    ErrorKind::Syntax,
                    format!("`{other}` is not allowed in a policy expression"),
                );
                None
            }
        }
    }

    fn expect_bool(&mut self, e: &Expr, t: Ty) -> bool {
        if matches!(t, Ty::Bool | Ty::Null) {
            return true;
        }
        self.err(
            e.span(),
            ErrorKind::Type,
            format!("`{e}` is {}, not a boolean", t.name()),
        );
        false
    }

    /// Infers `e` and merges its type into the running result of a CASE or COALESCE.
    fn unify_into(&mut self, result: &mut Option<Ty>, e: &Expr) -> bool {
        let Some(t) = self.infer(e) else {
            return false;
        };
        let merged = match (*result, t) {
            (None, t) | (Some(Ty::Null), t) => Some(t),
            (Some(r), Ty::Null) => Some(r),
            (Some(r), t) if r == t => Some(r),
            (Some(Ty::Int), Ty::Real) | (Some(Ty::Real), Ty::Int) => Some(Ty::Real),
            (Some(Ty::Date), Ty::Text) | (Some(Ty::Text), Ty::Date) => None,
            _ => None,
        };
        match merged {
            Some(m) => {
                *result = Some(m);
                true
            }
            None => {
                let r = result.map_or("nothing", Ty::name);
                self.err(
                    e.span(),
                    ErrorKind::Type,
                    format!("`{e}` is {}, but the other branches are {r}", t.name()),
                );
                false
            }
        }
    }

    fn binary(&mut self, e: &Expr, left: &Expr, op: &BinaryOperator, right: &Expr) -> Option<Ty> {
        let comparison = matches!(
            op,
            BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
        );
        if comparison {
            if let Some(call) = age_call(left) {
                return self.age_compared(call, &[right]);
            }
            if let Some(call) = age_call(right) {
                return self.age_compared(call, &[left]);
            }
        }
        let tl = self.infer(left);
        let tr = self.infer(right);
        let (tl, tr) = (tl?, tr?);
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let ok = self.expect_bool(left, tl) & self.expect_bool(right, tr);
                ok.then_some(Ty::Bool)
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                if self.comparable(left, tl, right, tr) {
                    let positive = matches!(op, BinaryOperator::Eq);
                    self.codes(left, std::slice::from_ref(right), positive, e.span());
                    self.codes(right, std::slice::from_ref(left), positive, e.span());
                }
                Some(Ty::Bool)
            }
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                if !(tl.numeric() && tr.numeric()) {
                    self.err(
                        e.span(),
                        ErrorKind::Type,
                        format!("`{op}` needs numbers, not {} and {}", tl.name(), tr.name()),
                    );
                    return None;
                }
                let real = tl == Ty::Real || tr == Ty::Real;
                // Integer division truncates in SQL: the amount would be silently wrong, so a
                // quotient counts as real until it is cast.
                Some(if real || matches!(op, BinaryOperator::Divide) {
                    Ty::Real
                } else if tl == Ty::Null && tr == Ty::Null {
                    Ty::Null
                } else {
                    Ty::Int
                })
            }
            other => {
                self.err(
                    e.span(),
                    ErrorKind::Syntax,
                    format!("the operator `{other}` is not allowed in a policy expression"),
                );
                None
            }
        }
    }

    /// Checks `age(date, on)` compared with `bounds`: `date` is a date, `on` a literal date or
    /// a date parameter or period value, and each bound a whole number known before the data
    /// is read (a literal or an integer parameter), so that the comparison becomes one of
    /// dates.
    fn age_compared(&mut self, (call, args): (&Expr, Vec<&Expr>), bounds: &[&Expr]) -> Option<Ty> {
        let [date, on] = args.as_slice() else {
            self.err(
                call.span(),
                ErrorKind::Syntax,
                "age takes two dates: age(birth_date, year_start)",
            );
            return None;
        };
        let mut ok = true;
        match self.infer(date) {
            Some(Ty::Date) | None => {}
            Some(t) => {
                self.err(
                    date.span(),
                    ErrorKind::Type,
                    format!("age counts from a date, not from {} `{date}`", t.name()),
                );
                ok = false;
            }
        }
        let on_ok = match on {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => self.date_literal(s, v.span),
                _ => false,
            },
            Expr::Identifier(id) => {
                self.scope.values.get(id.value.as_str()) == Some(&ElementType::Date)
            }
            _ => false,
        };
        if !on_ok {
            self.err(
                on.span(),
                ErrorKind::Type,
                format!(
                    "age is counted on a day known before the data is read: a 'YYYY-MM-DD' \
                     literal, a date parameter or a period's value such as year_start, not `{on}`"
                ),
            );
            ok = false;
        }
        for bound in bounds {
            let known = match bound {
                Expr::Identifier(id) => {
                    self.scope.values.get(id.value.as_str()) == Some(&ElementType::Integer)
                }
                other => crate::parameter::integer(other).is_some(),
            };
            if !known {
                self.err(
                    bound.span(),
                    ErrorKind::Type,
                    format!(
                        "an age is compared with a whole number known before the data is read \
                         (a literal or an integer parameter), not `{bound}`"
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(Ty::Bool)
    }

    /// Whether two sides may be compared; reports the mismatch if not.
    fn comparable(&mut self, left: &Expr, tl: Ty, right: &Expr, tr: Ty) -> bool {
        let ok = match (tl, tr) {
            (a, b) if a == b => true,
            (Ty::Null, _) | (_, Ty::Null) => true,
            (Ty::Int, Ty::Real) | (Ty::Real, Ty::Int) => true,
            (Ty::Date, Ty::Text) => return self.date_side(right),
            (Ty::Text, Ty::Date) => return self.date_side(left),
            _ => false,
        };
        if !ok {
            let span = left.span().union(&right.span());
            self.err(
                span,
                ErrorKind::Type,
                format!(
                    "cannot compare {} `{left}` with {} `{right}`",
                    tl.name(),
                    tr.name()
                ),
            );
        }
        ok
    }

    /// A date compares with text only when the text is a literal `YYYY-MM-DD`.
    fn date_side(&mut self, e: &Expr) -> bool {
        if let Expr::Value(v) = e {
            if let Value::SingleQuotedString(s) = &v.value {
                return self.date_literal(s, v.span);
            }
        }
        self.err(
            e.span(),
            ErrorKind::Type,
            format!("`{e}` is text, not a date: compare dates with 'YYYY-MM-DD' literals"),
        );
        false
    }

    fn date_literal(&mut self, s: &str, span: Span) -> bool {
        if s.len() == 10 && s.parse::<Date>().is_ok() {
            return true;
        }
        self.err(
            span,
            ErrorKind::Type,
            format!("'{s}' is not a date written YYYY-MM-DD"),
        );
        false
    }

    /// Checks text literals against a coded input's codes. When `positive` (`=` or `IN`) and
    /// no literal is a code, no subject can meet the comparison.
    fn codes(&mut self, subject: &Expr, values: &[Expr], positive: bool, whole: Span) {
        let Some((name, info)) = self.input(subject) else {
            return;
        };
        if info.codes.is_empty() {
            return;
        }
        let codes = info.codes.clone();
        let name = name.to_string();
        let mut outside = Vec::new();
        let mut literals = 0;
        for v in values {
            if let Expr::Value(lit) = v {
                if let Value::SingleQuotedString(s) = &lit.value {
                    literals += 1;
                    if !codes.iter().any(|c| c == s) {
                        outside.push((s.clone(), lit.span));
                    }
                }
            }
        }
        if outside.is_empty() {
            return;
        }
        let list = codes.join(", ");
        if positive && literals == values.len() && outside.len() == literals {
            self.err(
                whole,
                ErrorKind::Unsatisfiable,
                format!("no subject can meet this: `{name}` is always one of {list}"),
            );
            return;
        }
        for (s, span) in outside {
            self.err(
                span,
                ErrorKind::UnknownCode,
                format!("'{s}' is not a code of `{name}` ({list})"),
            );
        }
    }
}

/// The type a CAST or typed literal produces, from the SQL type's name.
fn cast_target(sql_type: &str) -> Option<Ty> {
    let t = sql_type.to_ascii_uppercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    match base {
        "BIGINT" | "INT" | "INTEGER" | "INT8" | "INT64" | "SMALLINT" => Some(Ty::Int),
        "DOUBLE" | "REAL" | "FLOAT" | "FLOAT8" | "FLOAT64" | "DECIMAL" | "NUMERIC" => {
            Some(Ty::Real)
        }
        "TEXT" | "VARCHAR" | "STRING" | "CHAR" => Some(Ty::Text),
        "DATE" => Some(Ty::Date),
        "BOOLEAN" | "BOOL" => Some(Ty::Bool),
        _ => None,
    }
}

// ---- conditions no subject can meet ----------------------------------------------------------

/// A literal bound: numbers compare as numbers, dates and text as their ISO text.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Key {
    Num(f64),
    Text(String),
}

#[derive(Default)]
struct Range {
    lo: Option<(Key, bool)>,
    hi: Option<(Key, bool)>,
    /// The values allowed by `=` and `IN`, intersected; starts as the codes of a coded input.
    only: Option<Vec<Key>>,
    not: Vec<Key>,
}

impl Range {
    fn raise(&mut self, k: Key, inclusive: bool) {
        let tighter = match &self.lo {
            None => true,
            Some((cur, inc)) => k > *cur || (k == *cur && *inc && !inclusive),
        };
        if tighter {
            self.lo = Some((k, inclusive));
        }
    }

    fn lower(&mut self, k: Key, inclusive: bool) {
        let tighter = match &self.hi {
            None => true,
            Some((cur, inc)) => k < *cur || (k == *cur && *inc && !inclusive),
        };
        if tighter {
            self.hi = Some((k, inclusive));
        }
    }

    fn restrict(&mut self, values: Vec<Key>) {
        self.only = Some(match self.only.take() {
            None => values,
            Some(cur) => cur.into_iter().filter(|k| values.contains(k)).collect(),
        });
    }

    fn admits(&self, k: &Key) -> bool {
        let above = match &self.lo {
            None => true,
            Some((lo, inc)) => match k.partial_cmp(lo) {
                Some(std::cmp::Ordering::Greater) => true,
                Some(std::cmp::Ordering::Equal) => *inc,
                _ => false,
            },
        };
        let below = match &self.hi {
            None => true,
            Some((hi, inc)) => match k.partial_cmp(hi) {
                Some(std::cmp::Ordering::Less) => true,
                Some(std::cmp::Ordering::Equal) => *inc,
                _ => false,
            },
        };
        above && below && !self.not.contains(k)
    }

    fn empty(&self) -> bool {
        if let Some(only) = &self.only {
            return !only.iter().any(|k| self.admits(k));
        }
        match (&self.lo, &self.hi) {
            (Some((lo, li)), Some((hi, hi_inc))) => match lo.partial_cmp(hi) {
                Some(std::cmp::Ordering::Greater) => true,
                Some(std::cmp::Ordering::Equal) => !(*li && *hi_inc) || self.not.contains(lo),
                _ => false,
            },
            _ => false,
        }
    }
}

fn key(e: &Expr) -> Option<Key> {
    match e {
        Expr::Nested(inner) => key(inner),
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok().map(Key::Num),
            Value::SingleQuotedString(s) => Some(Key::Text(s.clone())),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match key(expr)? {
            Key::Num(n) => Some(Key::Num(-n)),
            Key::Text(_) => None,
        },
        Expr::TypedString(ts) => match &ts.value.value {
            Value::SingleQuotedString(s) => Some(Key::Text(s.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

fn input_name<'e>(e: &'e Expr, inputs: &BTreeMap<String, InputInfo>) -> Option<&'e str> {
    match e {
        Expr::Identifier(id) if inputs.contains_key(id.value.as_str()) => Some(&id.value),
        Expr::Nested(inner) => input_name(inner, inputs),
        _ => None,
    }
}

/// The input whose values no subject can have under a condition already type-checked, if any.
///
/// The condition is split at its top-level `AND`s. Each part of the form `input op literal`
/// (op one of `= <> < <= > >=`, either side), `input [NOT] BETWEEN literal AND literal` or
/// `input [NOT] IN (literals…)` narrows that input's range; a coded input starts from its
/// codes. The condition is unsatisfiable when some input's range is empty. Parts joined by
/// `OR`, arithmetic, and relations between two inputs are not analysed.
pub(crate) fn unsatisfiable(expr: &Expr, inputs: &BTreeMap<String, InputInfo>) -> Option<String> {
    let mut parts = Vec::new();
    conjuncts(expr, &mut parts);
    let mut ranges: BTreeMap<&str, Range> = BTreeMap::new();
    for part in parts {
        match part {
            Expr::BinaryOp { left, op, right } => {
                let (name, k, op) = match (input_name(left, inputs), key(right)) {
                    (Some(n), Some(k)) => (n, k, op.clone()),
                    _ => match (input_name(right, inputs), key(left)) {
                        (Some(n), Some(k)) => (n, k, flip(op)),
                        _ => continue,
                    },
                };
                let r = entry(&mut ranges, name, inputs);
                match op {
                    BinaryOperator::Eq => r.restrict(vec![k]),
                    BinaryOperator::NotEq => r.not.push(k),
                    BinaryOperator::Gt => r.raise(k, false),
                    BinaryOperator::GtEq => r.raise(k, true),
                    BinaryOperator::Lt => r.lower(k, false),
                    BinaryOperator::LtEq => r.lower(k, true),
                    _ => {}
                }
            }
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => {
                if let (Some(name), Some(lo), Some(hi)) =
                    (input_name(expr, inputs), key(low), key(high))
                {
                    let r = entry(&mut ranges, name, inputs);
                    r.raise(lo, true);
                    r.lower(hi, true);
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let Some(name) = input_name(expr, inputs) else {
                    continue;
                };
                let keys: Option<Vec<Key>> = list.iter().map(key).collect();
                let Some(keys) = keys else { continue };
                let r = entry(&mut ranges, name, inputs);
                if *negated {
                    r.not.extend(keys);
                } else {
                    r.restrict(keys);
                }
            }
            _ => {}
        }
    }
    ranges
        .into_iter()
        .find(|(_, r)| r.empty())
        .map(|(name, _)| name.to_string())
}

fn entry<'m, 'n>(
    ranges: &'m mut BTreeMap<&'n str, Range>,
    name: &'n str,
    inputs: &BTreeMap<String, InputInfo>,
) -> &'m mut Range {
    ranges.entry(name).or_insert_with(|| Range {
        only: inputs
            .get(name)
            .filter(|info| !info.codes.is_empty())
            .map(|info| info.codes.iter().cloned().map(Key::Text).collect()),
        ..Range::default()
    })
}

/// The call and its arguments, when `e` is `age(…)` (inside any parentheses).
pub(crate) fn age_call(e: &Expr) -> Option<(&Expr, Vec<&Expr>)> {
    let inner = match e {
        Expr::Nested(inner) => return age_call(inner),
        other => other,
    };
    let Expr::Function(f) = inner else {
        return None;
    };
    if !f.name.to_string().eq_ignore_ascii_case("age") {
        return None;
    }
    let args = match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((inner, args))
}

pub(crate) fn flip(op: &BinaryOperator) -> BinaryOperator {
    match op {
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        other => other.clone(),
    }
}
