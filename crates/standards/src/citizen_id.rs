//! GB 11643 citizen ID numbers (公民身份号码).
//!
//! An 18-character number: a six-digit address code (the county where it was issued, GB/T 2260),
//! the birth date `YYYYMMDD`, a three-digit sequence code (odd for men, even for women) and a
//! check character computed with ISO 7064 MOD 11-2 (GB 11643 §5.2).

use std::fmt;
use std::str::FromStr;

use crate::date::{Date, DateError};
use crate::division::province;

/// ISO 7064 MOD 11-2 weights for positions 1..=17: 2^(18-i) mod 11 (GB 11643 §5.2).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each value of the weighted sum modulo 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// Sex as encoded by the parity of the sequence code (GB 11643 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// The GB/T 2261.1 code: 1 for male, 2 for female.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }
}

/// Why an ID number was refused. Each variant is one rule of GB 11643.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("contains white space; write the 18 characters without spaces")]
    Whitespace,
    #[error("has {0} characters; a citizen ID number has 18 (or 15 for a legacy number)")]
    Length(usize),
    #[error("character {position} is '{found}'; the first 17 characters must be digits")]
    NotDigit { position: usize, found: char },
    #[error("the check character is '{0}'; it must be a digit or upper-case 'X'")]
    BadCheckCharacter(char),
    #[error("the check character is a lower-case 'x'; GB 11643 writes it as upper-case 'X'")]
    LowercaseX,
    #[error("the address code starts with '{0}', which is not a province-level code of GB/T 2260")]
    UnknownProvince(String),
    #[error("the birth date '{text}' does not exist: {source}")]
    BirthDate { text: String, source: DateError },
    #[error("the birth date {0} is in the future")]
    BirthInFuture(Date),
    #[error("the check character is '{found}' but the first 17 digits give '{expected}'")]
    CheckCharacterMismatch { expected: char, found: char },
}

impl IdError {
    /// A stable short name of the rule that failed.
    pub fn rule(&self) -> &'static str {
        match self {
            IdError::Whitespace => "whitespace",
            IdError::Length(_) => "length",
            IdError::NotDigit { .. } => "digits",
            IdError::BadCheckCharacter(_) => "check-character-form",
            IdError::LowercaseX => "upper-case-x",
            IdError::UnknownProvince(_) => "province-code",
            IdError::BirthDate { .. } => "birth-date",
            IdError::BirthInFuture(_) => "birth-date-future",
            IdError::CheckCharacterMismatch { .. } => "check-character",
        }
    }
}

/// A finding that does not make the number invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdWarning {
    /// The six-digit address code is not on today's list. IDs keep the code of the county that
    /// issued them, and counties are merged and renamed, so this is expected for old numbers.
    UnknownCounty(u32),
}

impl fmt::Display for IdWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdWarning::UnknownCounty(code) => write!(
                f,
                "address code {code:06} is not a county on today's list (it may have been merged or renamed since the number was issued)"
            ),
        }
    }
}

/// A valid 18-character citizen ID number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CitizenId([u8; 18]);

/// The ISO 7064 MOD 11-2 check character of the first 17 digits.
pub fn check_character(first17: &[u8; 17]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// No white space, `len` characters, and the first `digits` of them digits.
fn check_shape(s: &str, len: usize, digits: usize) -> Result<(), IdError> {
    if s.chars().any(char::is_whitespace) {
        return Err(IdError::Whitespace);
    }
    let n = s.chars().count();
    if n != len {
        return Err(IdError::Length(n));
    }
    match s.chars().take(digits).position(|c| !c.is_ascii_digit()) {
        Some(i) => Err(IdError::NotDigit {
            position: i + 1,
            found: s.chars().nth(i).expect("position is within the string"),
        }),
        None => Ok(()),
    }
}

impl CitizenId {
    /// Checks an 18-character number against every rule of GB 11643 as of `today`.
    pub fn parse_on(s: &str, today: Date) -> Result<CitizenId, IdError> {
        check_shape(s, 18, 17)?;
        let last = s.chars().last().expect("length is 18");
        match last {
            'x' => return Err(IdError::LowercaseX),
            '0'..='9' | 'X' => {}
            other => return Err(IdError::BadCheckCharacter(other)),
        }
        let bytes: [u8; 18] = s.as_bytes().try_into().expect("18 ASCII characters");
        let id = CitizenId(bytes);
        id.check_semantics(today)?;
        let first17: &[u8; 17] = bytes[..17].try_into().expect("17 bytes");
        let expected = check_character(first17);
        if expected != bytes[17] {
            return Err(IdError::CheckCharacterMismatch {
                expected: char::from(expected),
                found: last,
            });
        }
        Ok(id)
    }

    /// Checks a number as of today's date.
    pub fn parse(s: &str) -> Result<CitizenId, IdError> {
        CitizenId::parse_on(s, Date::today())
    }

    /// Accepts what people type: surrounding white space and a lower-case check 'x'.
    pub fn parse_lenient(s: &str) -> Result<CitizenId, IdError> {
        CitizenId::parse(&s.trim().to_ascii_uppercase())
    }

    /// Converts a legacy 15-digit number (address, `YYMMDD` in the 1900s, sequence) to 18
    /// characters by inserting the century and appending the check character (GB 11643 §4).
    pub fn from_legacy(s: &str, today: Date) -> Result<CitizenId, IdError> {
        check_shape(s, 15, 15)?;
        let mut first17 = [0u8; 17];
        first17[..6].copy_from_slice(&s.as_bytes()[..6]);
        first17[6..8].copy_from_slice(b"19");
        first17[8..].copy_from_slice(&s.as_bytes()[6..]);
        let mut bytes = [0u8; 18];
        bytes[..17].copy_from_slice(&first17);
        bytes[17] = check_character(&first17);
        let id = CitizenId(bytes);
        id.check_semantics(today)?;
        Ok(id)
    }

    /// Composes a number from its parts and computes the check character. The caller is
    /// responsible for a real province in `address` and a sequence below 1000.
    pub fn compose(address: u32, birth: Date, sequence: u16) -> CitizenId {
        debug_assert!(address < 1_000_000 && sequence < 1000);
        let text = format!("{address:06}{}{sequence:03}", birth.compact());
        let first17: [u8; 17] = text.as_bytes().try_into().expect("17 digits");
        let mut bytes = [0u8; 18];
        bytes[..17].copy_from_slice(&first17);
        bytes[17] = check_character(&first17);
        CitizenId(bytes)
    }

    fn check_semantics(&self, today: Date) -> Result<(), IdError> {
        let text = self.as_str();
        let province_code: u8 = text[..2].parse().expect("digits");
        if province(province_code).is_none() {
            return Err(IdError::UnknownProvince(text[..2].to_string()));
        }
        let birth_text = &text[6..14];
        let birth = birth_text
            .parse::<Date>()
            .map_err(|source| IdError::BirthDate {
                text: birth_text.to_string(),
                source,
            })?;
        if birth > today {
            return Err(IdError::BirthInFuture(birth));
        }
        Ok(())
    }

    /// Findings that do not invalidate the number, given today's county list.
    pub fn warnings(&self, is_known_county: impl Fn(u32) -> bool) -> Vec<IdWarning> {
        let county = self.address_code();
        if is_known_county(county) {
            Vec::new()
        } else {
            vec![IdWarning::UnknownCounty(county)]
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("constructed from ASCII")
    }

    /// The six-digit address code.
    pub fn address_code(&self) -> u32 {
        self.as_str()[..6].parse().expect("digits")
    }

    /// The 12-digit division code of the county that issued the number (its address code
    /// padded with zeros): where a citizen's records are scoped when no registration says
    /// otherwise.
    pub fn issuing_division(&self) -> String {
        format!("{}000000", &self.as_str()[..6])
    }

    pub fn birth_date(&self) -> Date {
        self.as_str()[6..14]
            .parse()
            .expect("checked on construction")
    }

    pub fn sequence(&self) -> u16 {
        self.as_str()[14..17].parse().expect("digits")
    }

    pub fn sex(&self) -> Sex {
        if self.sequence() % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CitizenId {
    /// Debug output masks the middle of the number so logs do not carry it whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        write!(f, "CitizenId({}********{})", &s[..6], &s[14..])
    }
}

impl FromStr for CitizenId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CitizenId::parse(s)
    }
}
