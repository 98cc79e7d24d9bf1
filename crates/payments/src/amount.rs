//! Money as integer fen (分), and its decimal text in payment files ("123.45").
//!
//! Amounts never pass through floating point: the text is built from and parsed into whole fen
//! with integer arithmetic only.

use std::fmt;

/// The largest amount one payment may carry: 100 million yuan. Sums of a batch of any size
/// stay far below `i64::MAX`.
pub const MAX_PAYMENT_FEN: i64 = 10_000_000_000;

/// An amount of money in fen (1 yuan = 100 fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub i64);

impl Fen {
    /// The amount as ISO 20022 writes it: yuan, a point, and exactly two digits of fen.
    pub fn to_decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Parses a non-negative decimal amount with at most two fraction digits ("5000",
    /// "5000.5", "5000.50"); refuses signs, exponents, spaces and anything beyond fen.
    pub fn parse_decimal(text: &str) -> Result<Fen, AmountError> {
        let bad = || AmountError(text.to_owned());
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if whole.is_empty()
            || whole.len() > 15
            || frac.len() > 2
            || (text.contains('.') && frac.is_empty())
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let yuan: i64 = whole.parse().map_err(|_| bad())?;
        let mut fen: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            fen += i64::from(b - b'0') * if i == 0 { 10 } else { 1 };
        }
        yuan.checked_mul(100)
            .and_then(|y| y.checked_add(fen))
            .map(Fen)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.to_decimal())
    }
}

/// A decimal amount that is not a whole number of fen, or not a plain decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an amount in yuan with at most two decimals (e.g. 5000.00)")]
pub struct AmountError(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_have_two_decimals() {
        assert_eq!(Fen(0).to_decimal(), "0.00");
        assert_eq!(Fen(5).to_decimal(), "0.05");
        assert_eq!(Fen(12345).to_decimal(), "123.45");
        assert_eq!(Fen(500_000).to_decimal(), "5000.00");
        assert_eq!(Fen(-150).to_decimal(), "-1.50");
        assert_eq!(Fen::parse_decimal("5000"), Ok(Fen(500_000)));
        assert_eq!(Fen::parse_decimal("0.5"), Ok(Fen(50)));
        for bad in [
            "", ".5", "5.", "1.234", "-1.00", "+1", "1e3", " 1", "1,00", "0x10",
        ] {
            assert!(Fen::parse_decimal(bad).is_err(), "{bad:?} must be refused");
        }
    }

    proptest! {
        #[test]
        fn fen_to_text_to_fen(fen in 0i64..=i64::MAX / 1000) {
            let text = Fen(fen).to_decimal();
            prop_assert!(text.len() >= 4 && text.as_bytes()[text.len() - 3] == b'.');
            prop_assert_eq!(Fen::parse_decimal(&text), Ok(Fen(fen)));
        }
    }
}
