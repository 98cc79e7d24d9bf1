//! The standard's loader refuses any malformed dataset file with an error, never a panic.
#![no_main]

use errandless_standards::Standard;
use libfuzzer_sys::fuzz_target;

const DEPARTMENTS: &str = include_str!("../../crates/standards/data/departments.toml");
const ELEMENTS: &str = include_str!("../../crates/standards/data/elements.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Standard::from_sources(&[
        ("departments.toml", DEPARTMENTS),
        ("elements.toml", ELEMENTS),
        ("datasets/finance.toml", text),
    ]);
    let _ = Standard::from_sources(&[
        ("departments.toml", DEPARTMENTS),
        ("elements.toml", text),
    ]);
});
