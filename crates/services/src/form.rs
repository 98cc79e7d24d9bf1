//! Checking a submitted form against its service: every error is tied to its field, with a
//! stable code and a message in both languages, so the portal shows each beside its field.

use std::collections::BTreeMap;

use errandless_standards::{CitizenId, Date, Format, Uscc};
use serde::{Deserialize, Serialize};

use crate::catalogue::{FieldKind, FormField, Service, Text};

/// The values of a form, by field name, as text (what an HTML form posts).
pub type Values = BTreeMap<String, String>;

/// The most fields a submission may carry, known or not: more is refused whole.
pub const MAX_SUBMITTED_FIELDS: usize = 200;

/// What is wrong with a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// A required field is missing or blank.
    Required,
    /// Longer than the field allows.
    TooLong,
    /// Holds control characters (other than a line break in text).
    ControlCharacters,
    /// Not a date written `YYYY-MM-DD`, or no such day.
    InvalidDate,
    /// Not a decimal number.
    InvalidNumber,
    /// Not one of the field's options.
    NotAnOption,
    /// Not a mainland mobile number.
    InvalidPhone,
    /// Not an e-mail address.
    InvalidEmail,
    /// Not a valid GB 11643 citizen ID number.
    InvalidCitizenId,
    /// Not a valid GB 32100 unified social credit code.
    InvalidUscc,
    /// The form has no such field.
    UnknownField,
    /// The submission carries too many fields to be a form of this catalogue.
    TooManyFields,
}

impl FieldErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            FieldErrorCode::Required => "required",
            FieldErrorCode::TooLong => "too_long",
            FieldErrorCode::ControlCharacters => "control_characters",
            FieldErrorCode::InvalidDate => "invalid_date",
            FieldErrorCode::InvalidNumber => "invalid_number",
            FieldErrorCode::NotAnOption => "not_an_option",
            FieldErrorCode::InvalidPhone => "invalid_phone",
            FieldErrorCode::InvalidEmail => "invalid_email",
            FieldErrorCode::InvalidCitizenId => "invalid_citizen_id",
            FieldErrorCode::InvalidUscc => "invalid_uscc",
            FieldErrorCode::UnknownField => "unknown_field",
            FieldErrorCode::TooManyFields => "too_many_fields",
        }
    }
}

/// One field's error, to be shown beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name (for an unknown field, the name submitted, cut to 64 characters).
    pub field: String,
    pub code: FieldErrorCode,
    pub message: Text,
}

fn error(field: &FormField, code: FieldErrorCode, limit: Option<u32>) -> FieldError {
    let (zh, en) = (&field.label.zh, &field.label.en);
    let message = match code {
        FieldErrorCode::Required => Text::new(format!("请填写{zh}"), format!("{en} is required")),
        FieldErrorCode::TooLong => {
            let n = limit.unwrap_or_else(|| field.limit());
            Text::new(
                format!("{zh}不能超过{n}个字"),
                format!("{en} must be at most {n} characters"),
            )
        }
        FieldErrorCode::ControlCharacters => Text::new(
            format!("{zh}含有不可见的控制字符"),
            format!("{en} contains control characters"),
        ),
        FieldErrorCode::InvalidDate => Text::new(
            format!("{zh}应为有效日期，格式为 YYYY-MM-DD"),
            format!("{en} must be a real date written YYYY-MM-DD"),
        ),
        FieldErrorCode::InvalidNumber => {
            Text::new(format!("{zh}应为数字"), format!("{en} must be a number"))
        }
        FieldErrorCode::NotAnOption => Text::new(
            format!("请从列表中选择{zh}"),
            format!("{en} must be one of the options listed"),
        ),
        FieldErrorCode::InvalidPhone => Text::new(
            format!("{zh}应为以 13 至 19 开头的 11 位手机号码"),
            format!("{en} must be an 11-digit mobile number starting with 13 to 19"),
        ),
        FieldErrorCode::InvalidEmail => Text::new(
            format!("{zh}不是有效的电子邮箱地址"),
            format!("{en} is not a valid e-mail address"),
        ),
        FieldErrorCode::InvalidCitizenId => Text::new(
            format!("{zh}不是有效的公民身份号码"),
            format!("{en} is not a valid citizen ID number"),
        ),
        FieldErrorCode::InvalidUscc => Text::new(
            format!("{zh}不是有效的统一社会信用代码"),
            format!("{en} is not a valid unified social credit code"),
        ),
        FieldErrorCode::UnknownField | FieldErrorCode::TooManyFields => unknown_message(),
    };
    FieldError {
        field: field.name.clone(),
        code,
        message,
    }
}

fn unknown_message() -> Text {
    Text::new("该表单没有此项", "This form has no such field")
}

/// A decimal number: an optional minus, digits, and optionally a point and more digits.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

/// An e-mail address in the shape people type (RFC 5321 limits; no quoted or IP forms).
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    s.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b))
        && labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
}

/// Checks one field's value (already trimmed, non-empty) and returns it in stored form.
pub(crate) fn check_value(field: &FormField, value: &str) -> Result<String, FieldError> {
    // Text may span lines; browsers post a textarea's line breaks as CRLF (HTML §4.10.11).
    let value = if field.kind == FieldKind::Text {
        value.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        value.to_owned()
    };
    let multiline = field.kind == FieldKind::Text;
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        return Err(error(field, FieldErrorCode::ControlCharacters, None));
    }
    if value.chars().count() > field.limit() as usize {
        return Err(error(field, FieldErrorCode::TooLong, None));
    }
    let value = value.as_str();
    let fail = |code| Err(error(field, code, None));
    match field.kind {
        FieldKind::Text => Ok(value.to_owned()),
        FieldKind::Date => match value.parse::<Date>() {
            Ok(d) if value.len() == 10 => Ok(d.to_string()),
            _ => fail(FieldErrorCode::InvalidDate),
        },
        FieldKind::Number => {
            if is_number(value) {
                Ok(value.to_owned())
            } else {
                fail(FieldErrorCode::InvalidNumber)
            }
        }
        FieldKind::Choice => {
            if field.options.iter().any(|o| o.value == value) {
                Ok(value.to_owned())
            } else {
                fail(FieldErrorCode::NotAnOption)
            }
        }
        FieldKind::Phone => match Format::Phone.check(value) {
            Ok(()) => Ok(value.to_owned()),
            Err(_) => fail(FieldErrorCode::InvalidPhone),
        },
        FieldKind::Email => {
            if is_email(value) {
                Ok(value.to_owned())
            } else {
                fail(FieldErrorCode::InvalidEmail)
            }
        }
        FieldKind::CitizenId => match CitizenId::parse_lenient(value) {
            Ok(id) => Ok(id.as_str().to_owned()),
            Err(_) => fail(FieldErrorCode::InvalidCitizenId),
        },
        FieldKind::Uscc => match Uscc::parse(&value.to_ascii_uppercase()) {
            Ok(code) => Ok(code.as_str().to_owned()),
            Err(_) => fail(FieldErrorCode::InvalidUscc),
        },
    }
}

/// Checks `values` against `service`'s form. On success, the values as they are stored:
/// trimmed, blanks left out, ID numbers and dates in canonical form. On failure, every error,
/// in the form's order, then the unknown fields by name.
pub fn validate(service: &Service, values: &Values) -> Result<Values, Vec<FieldError>> {
    if values.len() > MAX_SUBMITTED_FIELDS {
        return Err(vec![FieldError {
            field: String::new(),
            code: FieldErrorCode::TooManyFields,
            message: Text::new(
                format!("提交的字段过多（最多{MAX_SUBMITTED_FIELDS}个）"),
                format!("Too many fields submitted (at most {MAX_SUBMITTED_FIELDS})"),
            ),
        }]);
    }
    let mut errors = Vec::new();
    let mut clean = Values::new();
    for field in &service.fields {
        let value = values.get(&field.name).map(|v| v.trim()).unwrap_or("");
        if value.is_empty() {
            if field.required {
                errors.push(error(field, FieldErrorCode::Required, None));
            }
            continue;
        }
        match check_value(field, value) {
            Ok(v) => {
                clean.insert(field.name.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    for name in values.keys().filter(|k| service.field(k).is_none()) {
        errors.push(FieldError {
            field: name.chars().take(64).collect(),
            code: FieldErrorCode::UnknownField,
            message: unknown_message(),
        });
    }
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for ok in ["0", "12", "-3", "3.50", "1000000"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "1e5", "1,000", "+1", "１２", "1.2.3"] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn text_keeps_line_breaks_but_no_other_control_characters() {
        let field = FormField {
            name: "details".into(),
            label: Text::new("说明", "Details"),
            kind: FieldKind::Text,
            required: false,
            max_length: Some(5),
            options: Vec::new(),
            element: None,
        };
        assert_eq!(check_value(&field, "a\r\nb\rc"), Ok("a\nb\nc".to_owned()));
        assert_eq!(
            check_value(&field, "ab\r\ncd"),
            Ok("ab\ncd".to_owned()),
            "CRLF is one"
        );
        let err = check_value(&field, "a\u{7}b").expect_err("a bell");
        assert_eq!(err.code, FieldErrorCode::ControlCharacters);
        let phone = FormField {
            kind: FieldKind::Phone,
            max_length: None,
            ..field
        };
        let err = check_value(&phone, "139\n12345678").expect_err("not on one line");
        assert_eq!(err.code, FieldErrorCode::ControlCharacters);
    }

    #[test]
    fn emails() {
        for ok in ["a@example.cn", "wang.li+gov@mail.example.com"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "a@b",
            "@example.cn",
            "a@@example.cn",
            "a b@example.cn",
            "a@-x.cn",
            "a..b@example.cn",
            "王@example.cn",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
