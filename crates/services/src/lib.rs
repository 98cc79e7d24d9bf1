//! Public services (政务服务): what a citizen can apply for.
//!
//! [`Catalogue`]: the services, one TOML file each under `catalogue/` (compiled in, or loaded
//! from a directory), checked against the unified data standard: department, [`Category`],
//! bilingual titles, the form's [`FormField`]s (some mapped to a data element), the
//! [`Evidence`] needed and who can supply it, the [`Assurance`] level, the statutory time limit
//! in working days. [`Catalogue::search`] finds services in either language.

mod catalogue;

pub use catalogue::{
    builtin_file_names, Assurance, Catalogue, CatalogueError, Category, Choice, ElementRef,
    Evidence, FieldKind, FormField, Lang, PrefillRead, Service, Text, DEFAULT_MAX_LENGTH,
};
