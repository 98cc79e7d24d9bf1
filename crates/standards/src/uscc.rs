//! GB 32100 unified social credit codes (统一社会信用代码).
//!
//! 18 characters from a 31-character alphabet (digits and upper-case letters without I, O, S,
//! V and Z): the registration authority, the organisation type, the six-digit division code of
//! the registering authority, the nine-character organisation code (GB 11714, with its own
//! check character) and a check character whose weights are 3^i mod 31 (GB 32100 §4.5).

use std::fmt;
use std::str::FromStr;

/// The 31 characters of GB 32100, in value order.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Why a code was refused. Each variant names one rule of GB 32100.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("contains white space; write the 18 characters without spaces")]
    Whitespace,
    #[error("has {0} characters; a unified social credit code has 18")]
    Length(usize),
    #[error("character {position} is '{found}', which is not in the GB 32100 alphabet (digits and upper-case letters except I, O, S, V, Z)")]
    Alphabet { position: usize, found: char },
    #[error("characters 3 to 8 must be a division code of digits, found '{0}'")]
    DivisionCode(String),
    #[error("the organisation code check character (position 17) is '{found}' but GB 11714 gives '{expected}'")]
    OrganisationCheck { expected: char, found: char },
    #[error("the check character is '{found}' but the first 17 characters give '{expected}'")]
    CheckCharacterMismatch { expected: char, found: char },
}

impl UsccError {
    /// A stable short name of the rule that failed.
    pub fn rule(&self) -> &'static str {
        match self {
            UsccError::Whitespace => "whitespace",
            UsccError::Length(_) => "length",
            UsccError::Alphabet { .. } => "alphabet",
            UsccError::DivisionCode(_) => "division-code",
            UsccError::OrganisationCheck { .. } => "organisation-code-check",
            UsccError::CheckCharacterMismatch { .. } => "check-character",
        }
    }
}

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The GB 32100 check character of the first 17 characters (weights 3^i mod 31).
pub fn check_character(first17: &[u8]) -> Option<u8> {
    let mut weight = 1u32;
    let mut sum = 0u32;
    for &c in first17.iter().take(17) {
        sum += value(c)? * weight;
        weight = weight * 3 % 31;
    }
    Some(ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// The GB 11714 check character of an eight-character organisation code body.
pub fn organisation_check(body8: &[u8]) -> Option<u8> {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let mut sum = 0;
    for (&c, w) in body8.iter().zip(W) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        d => b'0' + d as u8,
    })
}

/// A valid unified social credit code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uscc([u8; 18]);

impl Uscc {
    pub fn parse(s: &str) -> Result<Uscc, UsccError> {
        if s.chars().any(char::is_whitespace) {
            return Err(UsccError::Whitespace);
        }
        let n = s.chars().count();
        if n != 18 {
            return Err(UsccError::Length(n));
        }
        for (i, c) in s.chars().enumerate() {
            if !c.is_ascii() || value(c as u8).is_none() {
                return Err(UsccError::Alphabet {
                    position: i + 1,
                    found: c,
                });
            }
        }
        let b = s.as_bytes();
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(UsccError::DivisionCode(s[2..8].to_string()));
        }
        let org = organisation_check(&b[8..16]).expect("alphabet checked");
        if org != b[16] {
            return Err(UsccError::OrganisationCheck {
                expected: char::from(org),
                found: char::from(b[16]),
            });
        }
        let expected = check_character(&b[..17]).expect("alphabet checked");
        if expected != b[17] {
            return Err(UsccError::CheckCharacterMismatch {
                expected: char::from(expected),
                found: char::from(b[17]),
            });
        }
        Ok(Uscc(b.try_into().expect("18 bytes")))
    }

    /// Composes a code from the authority and type characters, a six-digit division code and
    /// an eight-digit organisation code body; both check characters are computed.
    pub fn compose(authority: u8, kind: u8, division: u32, organisation: u32) -> Uscc {
        let body = format!(
            "{}{}{division:06}{organisation:08}",
            char::from(authority),
            char::from(kind)
        );
        let mut bytes = [0u8; 18];
        bytes[..16].copy_from_slice(body.as_bytes());
        bytes[16] = organisation_check(&bytes[8..16]).expect("digits");
        bytes[17] = check_character(&bytes[..17]).expect("alphabet characters");
        Uscc(bytes)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uscc({})", self.as_str())
    }
}

impl FromStr for Uscc {
    type Err = UsccError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uscc::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_example_validates() {
        // The example code used in GB 32100-2015's annex.
        assert!(Uscc::parse("91350100M000100Y43").is_ok());
    }

    #[test]
    fn refusals_name_the_rule() {
        let good = Uscc::compose(b'9', b'1', 520102, 31_415_926).to_string();
        assert!(Uscc::parse(&good).is_ok());
        let cases = [
            (format!("{} ", &good[..17]), "whitespace"),
            (good[..17].to_string(), "length"),
            (format!("I{}", &good[1..]), "alphabet"),
            (format!("{}o{}", &good[..5], &good[6..]), "alphabet"),
            (format!("91A{}", &good[3..]), "division-code"),
        ];
        for (input, rule) in cases {
            assert_eq!(
                Uscc::parse(&input).map_err(|e| e.rule()),
                Err(rule),
                "{input}"
            );
        }
        let last = good.as_bytes()[17];
        let other = if last == b'0' { '1' } else { '0' };
        assert_eq!(
            Uscc::parse(&format!("{}{other}", &good[..17])).map_err(|e| e.rule()),
            Err("check-character")
        );
    }

    proptest! {
        #[test]
        fn composed_codes_validate(a in proptest::sample::select(b"123456789ANY".to_vec()), k in proptest::sample::select(b"12359".to_vec()), d in 110000u32..660000, o in 0u32..100_000_000) {
            let code = Uscc::compose(a, k, d, o);
            prop_assert_eq!(Uscc::parse(code.as_str()), Ok(code));
        }

        #[test]
        fn single_substitutions_fail(o in 0u32..100_000_000, pos in 0usize..18, c in proptest::sample::select(ALPHABET.to_vec())) {
            let code = Uscc::compose(b'9', b'1', 520102, o);
            let mut bytes = code.as_str().as_bytes().to_vec();
            prop_assume!(bytes[pos] != c);
            bytes[pos] = c;
            prop_assert!(Uscc::parse(std::str::from_utf8(&bytes).unwrap()).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,24}") {
            let _ = Uscc::parse(&s);
        }
    }
}
