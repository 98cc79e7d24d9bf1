//! Public services (政务服务): what a citizen can apply for, and how an application is checked.
//!
//! - [`Catalogue`]: the services, one TOML file each under `catalogue/` (compiled in, or
//!   loaded from a directory), checked against the unified data standard: department,
//!   [`Category`], bilingual titles, the form's [`FormField`]s (some mapped to a data element),
//!   the [`Evidence`] needed and who can supply it, the [`Assurance`] level, the statutory time
//!   limit in working days. [`Catalogue::search`] finds services in either language.
//! - [`validate`]: a submitted form checked field by field, each error a [`FieldError`] with a
//!   stable code and a message in both languages.
//! - [`calendar`]: working days for time limits (public holidays are not modelled yet).

pub mod calendar;
mod catalogue;
mod form;

pub use catalogue::{
    builtin_file_names, Assurance, Catalogue, CatalogueError, Category, Choice, ElementRef,
    Evidence, FieldKind, FormField, Lang, PrefillRead, Service, Text, DEFAULT_MAX_LENGTH,
};
pub use form::{validate, FieldError, FieldErrorCode, Values, MAX_SUBMITTED_FIELDS};

/// A time as the platform store keeps it: milliseconds since the Unix epoch, UTC.
pub type Millis = i64;
