//! The unified data standard (统一数据标准) of Errandless.
//!
//! This crate is the shared dictionary every other part speaks: the data elements with their
//! types, formats and sensitivity, the dataset schema of each department's island, and the
//! validators of the national identifiers the data carries:
//!
//! - GB 11643 citizen ID numbers ([`CitizenId`]), including legacy 15-digit numbers;
//! - GB 32100 unified social credit codes ([`Uscc`]);
//! - GB/T 2260 province codes and 12-digit statistical division codes ([`DivisionCode`]).
//!
//! It is not a database and reads no island: it only says what valid data looks like. It
//! depends on no other Errandless crate.
//!
//! ```
//! use errandless_standards::{CitizenId, DivisionCode, Level, Standard};
//!
//! let id = CitizenId::parse("52010219900307105X").unwrap();
//! assert_eq!(id.birth_date().to_string(), "1990-03-07");
//!
//! let village = DivisionCode::parse("520102001003").unwrap();
//! assert_eq!(village.level(), Level::Village);
//! assert_eq!(village.parent().unwrap().to_string(), "520102001000");
//!
//! let admission = Standard::builtin().dataset("education.admission").unwrap();
//! assert!(admission.field("level").is_some());
//! ```

pub mod citizen_id;
pub mod clock;
pub mod date;
pub mod division;
pub mod standard;
pub mod uscc;

pub use citizen_id::{CitizenId, IdError, IdWarning, Sex};
pub use clock::{Clock, ClockError, Millis};
pub use date::{Date, DateError};
pub use division::{DivisionCode, DivisionError, Level, Province, PROVINCES};
pub use standard::{
    line_col, Dataset, Department, Element, ElementType, Field, Format, Sensitivity, Standard,
    StandardError, SubjectLink, Value,
};
pub use uscc::{Uscc, UsccError};
