//! Every identifier parser takes arbitrary text without panicking, and what it accepts
//! round-trips through its canonical form.
#![no_main]

use errandless_standards::{CitizenId, Date, DivisionCode, Uscc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let today = Date::new(2026, 11, 26).expect("a real date");
    if let Ok(id) = CitizenId::parse_on(text, today) {
        assert_eq!(id.as_str(), text);
        let _ = (id.birth_date(), id.sex(), id.address_code());
    }
    let _ = CitizenId::parse_lenient(text);
    if let Ok(id) = CitizenId::from_legacy(text, today) {
        assert!(CitizenId::parse_on(id.as_str(), today).is_ok());
    }
    if let Ok(code) = Uscc::parse(text) {
        assert_eq!(code.as_str(), text);
    }
    if let Ok(code) = DivisionCode::parse(text) {
        assert_eq!(code.to_string(), text);
        let mut c = code;
        while let Some(p) = c.parent() {
            assert!(p.contains(code));
            c = p;
        }
    }
    let _ = text.parse::<Date>();
});
