//! Known valid and invalid citizen ID numbers, and property tests. All numbers are synthetic.

use errandless_standards::{CitizenId, Date, IdError, IdWarning, Sex};
use proptest::prelude::*;

fn today() -> Date {
    Date::new(2026, 11, 26).unwrap()
}

fn parse(s: &str) -> Result<CitizenId, IdError> {
    CitizenId::parse_on(s, today())
}

/// Composes a synthetic number and returns its text.
fn make(address: u32, y: i32, m: u32, d: u32, seq: u16) -> String {
    CitizenId::compose(address, Date::new(y, m, d).unwrap(), seq).to_string()
}

/// Appends the correct check character to 17 digits, whatever they mean.
fn with_check(first17: &str) -> String {
    let check =
        errandless_standards::citizen_id::check_character(first17.as_bytes().try_into().unwrap());
    format!("{first17}{}", char::from(check))
}

#[test]
fn a_synthetic_number_validates_and_reads_its_parts() {
    // A synthetic number: Nanming district of Guiyang, born 7 March 1990, sequence 105.
    let id = parse("52010219900307105X").unwrap();
    assert_eq!(id.address_code(), 520102);
    assert_eq!(id.issuing_division(), "520102000000");
    assert_eq!(id.birth_date(), Date::new(1990, 3, 7).unwrap());
    assert_eq!(id.sex(), Sex::Male);
}

#[test]
fn check_character_x() {
    let with_x = (0..1000)
        .map(|seq| make(520102, 1990, 5, 17, seq))
        .find(|s| s.ends_with('X'))
        .expect("about one in eleven numbers ends in X");
    assert!(parse(&with_x).is_ok());
    let lower = with_x.replace('X', "x");
    assert_eq!(parse(&lower), Err(IdError::LowercaseX));
    assert_eq!(
        CitizenId::parse_lenient(&lower).map(|i| i.to_string()),
        Ok(with_x)
    );
}

#[test]
fn leap_day_births() {
    assert!(parse(&make(520102, 2000, 2, 29, 123)).is_ok());
    assert!(parse(&make(520102, 2024, 2, 29, 124)).is_ok());
    // 1900 and 2023 are not leap years: write the text by hand with a computed check character.
    for bad in ["19000229", "20230229"] {
        let s = with_check(&format!("520102{bad}123"));
        let err = parse(&s).unwrap_err();
        assert_eq!(err.rule(), "birth-date", "{s}: {err}");
    }
}

#[test]
fn refusals_name_the_rule() {
    let good = make(520102, 1985, 3, 7, 451);
    let cases: Vec<(String, &str)> = vec![
        (format!(" {good}"), "whitespace"),
        (format!("{} {}", &good[..6], &good[6..]), "whitespace"),
        (good[..17].to_string(), "length"),
        (format!("{good}1"), "length"),
        (format!("52010A{}", &good[6..]), "digits"),
        (format!("{}Y", &good[..17]), "check-character-form"),
        (make(990102, 1985, 3, 7, 451), "province-code"),
        (make(520102, 2030, 1, 1, 451), "birth-date-future"),
        (with_check("52010219851307451"), "birth-date"),
        (with_check("52010219850431451"), "birth-date"),
    ];
    for (input, rule) in cases {
        let err = parse(&input).expect_err(&input);
        assert_eq!(err.rule(), rule, "{input:?}: {err}");
    }
    let flipped_check = {
        let last = good.as_bytes()[17];
        let other = if last == b'1' { '2' } else { '1' };
        format!("{}{other}", &good[..17])
    };
    assert!(matches!(
        parse(&flipped_check),
        Err(IdError::CheckCharacterMismatch { .. })
    ));
}

#[test]
fn unknown_county_is_a_warning_not_an_error() {
    let id = parse(&make(522799, 1970, 1, 1, 11)).unwrap();
    let known = |c: u32| c == 520102;
    assert_eq!(id.warnings(known), vec![IdWarning::UnknownCounty(522799)]);
    let id = parse(&make(520102, 1970, 1, 1, 11)).unwrap();
    assert!(id.warnings(known).is_empty());
}

#[test]
fn legacy_fifteen_digit_numbers_convert() {
    // The same synthetic number in its 15-digit form: 520102 900307 105.
    let id = CitizenId::from_legacy("520102900307105", today()).unwrap();
    assert_eq!(id.to_string(), "52010219900307105X");
    assert_eq!(
        CitizenId::from_legacy("52010290030710", today()).map_err(|e| e.rule()),
        Err("length")
    );
    assert_eq!(
        CitizenId::from_legacy("520102900231105", today()).map_err(|e| e.rule()),
        Err("birth-date")
    );
}

fn arb_id() -> impl Strategy<Value = CitizenId> {
    let provinces: Vec<u32> = errandless_standards::division::PROVINCES
        .iter()
        .map(|p| u32::from(p.code))
        .collect();
    (
        proptest::sample::select(provinces),
        0u32..10_000,
        -25_000i64..20_000,
        0u16..1000,
    )
        .prop_map(|(p, rest, days, seq)| {
            CitizenId::compose(p * 10_000 + rest, Date::from_days_since_epoch(days), seq)
        })
}

proptest! {
    #[test]
    fn every_composed_id_validates(id in arb_id()) {
        let parsed = parse(id.as_str());
        prop_assert_eq!(parsed, Ok(id));
        prop_assert_eq!(id.sex() == Sex::Male, id.sequence() % 2 == 1);
    }

    #[test]
    fn every_single_substitution_fails(id in arb_id(), pos in 0usize..18, replacement in proptest::sample::select(b"0123456789X".to_vec())) {
        let mut bytes = id.as_str().as_bytes().to_vec();
        prop_assume!(bytes[pos] != replacement);
        bytes[pos] = replacement;
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(parse(&mutated).is_err(), "{} was accepted", mutated);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,24}") {
        let _ = parse(&s);
        let _ = CitizenId::from_legacy(&s, today());
        let _ = CitizenId::parse_lenient(&s);
    }
}
