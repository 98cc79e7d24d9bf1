//! Division codes: GB/T 2260 province-level codes and the 12-digit statistical division codes
//! (统计用区划代码) of the five administrative levels.
//!
//! A 12-digit code is `PP CC DD TTT VVV`: province, city, county, township, village. A level's
//! code has every part below it set to zero, and its parent is the code with its own part zeroed.

use std::fmt;
use std::str::FromStr;

/// A province-level division of GB/T 2260: its two-digit code, names and one-character
/// abbreviation (used on vehicle plates and in court case numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Province {
    pub code: u8,
    pub zh: &'static str,
    pub en: &'static str,
    pub abbreviation: &'static str,
}

const fn p(code: u8, zh: &'static str, en: &'static str, abbreviation: &'static str) -> Province {
    Province {
        code,
        zh,
        en,
        abbreviation,
    }
}

/// The 34 province-level divisions (GB/T 2260).
pub const PROVINCES: &[Province] = &[
    p(11, "北京市", "Beijing", "京"),
    p(12, "天津市", "Tianjin", "津"),
    p(13, "河北省", "Hebei", "冀"),
    p(14, "山西省", "Shanxi", "晋"),
    p(15, "内蒙古自治区", "Inner Mongolia", "蒙"),
    p(21, "辽宁省", "Liaoning", "辽"),
    p(22, "吉林省", "Jilin", "吉"),
    p(23, "黑龙江省", "Heilongjiang", "黑"),
    p(31, "上海市", "Shanghai", "沪"),
    p(32, "江苏省", "Jiangsu", "苏"),
    p(33, "浙江省", "Zhejiang", "浙"),
    p(34, "安徽省", "Anhui", "皖"),
    p(35, "福建省", "Fujian", "闽"),
    p(36, "江西省", "Jiangxi", "赣"),
    p(37, "山东省", "Shandong", "鲁"),
    p(41, "河南省", "Henan", "豫"),
    p(42, "湖北省", "Hubei", "鄂"),
    p(43, "湖南省", "Hunan", "湘"),
    p(44, "广东省", "Guangdong", "粤"),
    p(45, "广西壮族自治区", "Guangxi", "桂"),
    p(46, "海南省", "Hainan", "琼"),
    p(50, "重庆市", "Chongqing", "渝"),
    p(51, "四川省", "Sichuan", "川"),
    p(52, "贵州省", "Guizhou", "贵"),
    p(53, "云南省", "Yunnan", "云"),
    p(54, "西藏自治区", "Tibet", "藏"),
    p(61, "陕西省", "Shaanxi", "陕"),
    p(62, "甘肃省", "Gansu", "甘"),
    p(63, "青海省", "Qinghai", "青"),
    p(64, "宁夏回族自治区", "Ningxia", "宁"),
    p(65, "新疆维吾尔自治区", "Xinjiang", "新"),
    p(71, "台湾省", "Taiwan", "台"),
    p(81, "香港特别行政区", "Hong Kong", "港"),
    p(82, "澳门特别行政区", "Macao", "澳"),
];

/// The province-level division with this two-digit code.
pub fn province(code: u8) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| p.code == code)
}

/// The five administrative levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    City,
    County,
    Township,
    Village,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }

    /// How many leading digits of the 12-digit code name a division of this level.
    pub fn significant_digits(self) -> usize {
        match self {
            Level::Province => 2,
            Level::City => 4,
            Level::County => 6,
            Level::Township => 9,
            Level::Village => 12,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a division code was refused. Each variant names the rule that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DivisionError {
    #[error("a division code has 12 digits, this one has {0} characters")]
    Length(usize),
    #[error("a division code has only digits 0-9, found '{0}'")]
    NotDigit(char),
    #[error("'{0}' is not a province-level code of GB/T 2260")]
    UnknownProvince(String),
    #[error("the {level} part is set but the {missing} part above it is zero")]
    Hierarchy { level: Level, missing: Level },
}

impl DivisionError {
    /// A stable short name of the rule that failed.
    pub fn rule(&self) -> &'static str {
        match self {
            DivisionError::Length(_) => "length",
            DivisionError::NotDigit(_) => "digits",
            DivisionError::UnknownProvince(_) => "province-code",
            DivisionError::Hierarchy { .. } => "hierarchy",
        }
    }
}

/// A valid 12-digit statistical division code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode(u64);

impl DivisionCode {
    /// Parses and checks a 12-digit code.
    pub fn parse(s: &str) -> Result<DivisionCode, DivisionError> {
        let n = s.chars().count();
        if n != 12 {
            return Err(DivisionError::Length(n));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
            return Err(DivisionError::NotDigit(c));
        }
        let value: u64 = s.parse().expect("twelve ASCII digits fit in u64");
        let code = DivisionCode(value);
        if province(code.province_part()).is_none() {
            return Err(DivisionError::UnknownProvince(s[..2].to_string()));
        }
        // Each part below a zero part must be zero too (GB/T 2260 hierarchy).
        let parts = code.parts();
        for i in 1..parts.len() {
            if parts[i] != 0 && parts[i - 1] == 0 {
                return Err(DivisionError::Hierarchy {
                    level: Level::ALL[i],
                    missing: Level::ALL[i - 1],
                });
            }
        }
        Ok(code)
    }

    /// Builds a code from its parts without checking the province list; for generators that
    /// already hold valid parts.
    pub fn from_parts(province: u8, city: u8, county: u8, township: u16, village: u16) -> Self {
        debug_assert!(city < 100 && county < 100 && township < 1000 && village < 1000);
        DivisionCode(
            u64::from(province) * 10_000_000_000
                + u64::from(city) * 100_000_000
                + u64::from(county) * 1_000_000
                + u64::from(township) * 1000
                + u64::from(village),
        )
    }

    fn parts(self) -> [u64; 5] {
        let v = self.0;
        [
            v / 10_000_000_000,
            v / 100_000_000 % 100,
            v / 1_000_000 % 100,
            v / 1000 % 1000,
            v % 1000,
        ]
    }

    pub fn province_part(self) -> u8 {
        (self.0 / 10_000_000_000) as u8
    }

    /// The administrative level this code names.
    pub fn level(self) -> Level {
        let parts = self.parts();
        let last = parts.iter().rposition(|&p| p != 0).unwrap_or(0);
        Level::ALL[last]
    }

    /// The division directly above, or `None` for a province.
    pub fn parent(self) -> Option<DivisionCode> {
        let unit = match self.level() {
            Level::Province => return None,
            Level::City => 10_000_000_000,
            Level::County => 100_000_000,
            Level::Township => 1_000_000,
            Level::Village => 1000,
        };
        Some(DivisionCode(self.0 / unit * unit))
    }

    /// The ancestor (or self) at `level`, if `level` is not below this code's own.
    pub fn at_level(self, level: Level) -> Option<DivisionCode> {
        if level > self.level() {
            return None;
        }
        let keep = level.significant_digits() as u32;
        let unit = 10u64.pow(12 - keep);
        Some(DivisionCode(self.0 / unit * unit))
    }

    /// The six-digit GB/T 2260 county-level code (as used in ID numbers).
    pub fn county_code(self) -> u32 {
        (self.0 / 1_000_000) as u32
    }

    /// Whether `other` lies within this division (or is it).
    pub fn contains(self, other: DivisionCode) -> bool {
        other.at_level(self.level()) == Some(self)
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl FromStr for DivisionCode {
    type Err = DivisionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DivisionCode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_parents() {
        let village = DivisionCode::parse("520102001003").unwrap();
        assert_eq!(village.level(), Level::Village);
        let township = village.parent().unwrap();
        assert_eq!(township.to_string(), "520102001000");
        assert_eq!(township.level(), Level::Township);
        let county = township.parent().unwrap();
        assert_eq!(county.to_string(), "520102000000");
        assert_eq!(county.county_code(), 520102);
        let city = county.parent().unwrap();
        assert_eq!(city.to_string(), "520100000000");
        assert_eq!(city.level(), Level::City);
        let province = city.parent().unwrap();
        assert_eq!(province.level(), Level::Province);
        assert_eq!(province.parent(), None);
        assert!(city.contains(village));
        assert!(!DivisionCode::parse("520200000000")
            .unwrap()
            .contains(village));
        assert_eq!(village.at_level(Level::City), Some(city));
        assert_eq!(city.at_level(Level::Village), None);
    }

    #[test]
    fn refusals_name_the_rule() {
        assert_eq!(DivisionCode::parse("520102"), Err(DivisionError::Length(6)));
        assert_eq!(
            DivisionCode::parse("52010200100A"),
            Err(DivisionError::NotDigit('A'))
        );
        assert_eq!(
            DivisionCode::parse("990000000000"),
            Err(DivisionError::UnknownProvince("99".into()))
        );
        assert_eq!(
            DivisionCode::parse("520002000000"),
            Err(DivisionError::Hierarchy {
                level: Level::County,
                missing: Level::City
            })
        );
        assert!(DivisionCode::parse("52010200100３").is_err());
    }
}
