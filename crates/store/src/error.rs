//! What can go wrong when opening, migrating or using the platform store.

use std::io;
use std::path::PathBuf;

/// An error from the platform store.
///
/// No variant carries a password: every database location in a message has been through
/// [`redact`](crate::redact) first. Causes are exposed through [`std::error::Error::source`],
/// not repeated in the message, so an error chain prints each cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The location was empty or only whitespace.
    #[error("no database given: expected a SQLite file path, a sqlite: URL or a postgres:// URL")]
    EmptyLocation,

    /// The location is a URL whose scheme the store does not speak.
    #[error("unsupported database URL `{url_redacted}`: {reason}")]
    UnsupportedUrl {
        /// The location, with any password hidden.
        url_redacted: String,
        /// Why it is not supported, and what to use instead.
        reason: String,
    },

    /// The location has a supported scheme but could not be parsed.
    #[error("malformed database URL `{url_redacted}`")]
    MalformedUrl {
        /// The location, with any password hidden.
        url_redacted: String,
        /// What the parser said.
        #[source]
        source: sqlx::Error,
    },

    /// A SQLite location names an existing directory.
    #[error("`{path}` is a directory, not a SQLite file (try `{path}/platform.sqlite`)", path = path.display())]
    NotAFile {
        /// The directory.
        path: PathBuf,
    },

    /// The directory that should hold the SQLite file could not be created.
    #[error("cannot create the directory `{path}` for the SQLite file", path = path.display())]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// What the filesystem said.
        #[source]
        source: io::Error,
    },

    /// The database could not be opened or reached.
    #[error("cannot open the database `{url_redacted}`")]
    Connect {
        /// The location, with any password hidden.
        url_redacted: String,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },

    /// A migration component name breaks the naming rule.
    #[error("invalid migration component `{component}`: {reason}")]
    InvalidComponent {
        /// The name as given.
        component: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// The database records a migration that the running program does not have: the database
    /// was migrated by a newer program, or a migration file was deleted.
    #[error(
        "component `{component}`: migration {version} is applied in the database but unknown to \
         this program (was the database migrated by a newer version?)"
    )]
    UnknownMigrationApplied {
        /// The component whose history this is.
        component: String,
        /// The version the program does not know.
        version: i64,
    },

    /// An applied migration's SQL differs from the program's copy.
    #[error(
        "component `{component}`: migration {version} ({description}) was edited after it was \
         applied; add a new migration instead of changing an applied one"
    )]
    MigrationChanged {
        /// The component whose history this is.
        component: String,
        /// The edited migration.
        version: i64,
        /// Its description.
        description: String,
    },

    /// A migration's SQL failed. Its transaction was rolled back and it is not recorded.
    #[error("component `{component}`: migration {version} ({description}) failed")]
    Migrate {
        /// The component whose migration failed.
        component: String,
        /// The failed migration.
        version: i64,
        /// Its description.
        description: String,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },

    /// The province code is not a two-digit GB/T 2260 province-level code.
    #[error("`{code}` is not a GB/T 2260 province-level code (two digits, e.g. 52 for Guizhou)")]
    InvalidProvinceCode {
        /// The code as given.
        code: String,
    },

    /// A number does not fit the 64-bit signed integer both backends store.
    #[error("{field} = {value} is larger than the database can store ({max})", max = i64::MAX)]
    OutOfRange {
        /// Which value.
        field: &'static str,
        /// The value as given.
        value: u64,
    },

    /// A row read back does not hold what the store wrote.
    #[error("corrupt row in `{table}`: {reason}")]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// A query failed.
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
}
