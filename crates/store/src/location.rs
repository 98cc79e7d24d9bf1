//! Where the database is: a SQLite file path, a `sqlite:` URL or a `postgres://` URL.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use url::Url;

use crate::StoreError;

/// How long a SQLite connection waits for another writer before giving up.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The file name of the SQLite store inside a data directory.
pub const DEFAULT_FILE_NAME: &str = "platform.sqlite";

/// A parsed database location.
pub(crate) enum Location {
    Sqlite(Box<SqliteConnectOptions>),
    /// The URL as given; it may hold a password, so it never goes into a message.
    Postgres(String),
}

impl Location {
    pub(crate) fn parse(url_or_path: &str) -> Result<Self, StoreError> {
        let given = url_or_path.trim();
        if given.is_empty() {
            return Err(StoreError::EmptyLocation);
        }
        match scheme(given) {
            Some(s) if s.eq_ignore_ascii_case("sqlite") => {
                let options = SqliteConnectOptions::from_str(given).map_err(|source| {
                    StoreError::MalformedUrl {
                        url_redacted: redact(given),
                        source,
                    }
                })?;
                // sqlx keeps "in memory" private: it names `:memory:` databases
                // `file:sqlx-in-memory-N`, and `mode=memory` is in the query.
                let in_memory = options
                    .get_filename()
                    .to_string_lossy()
                    .starts_with("file:sqlx-in-memory-")
                    || given.split_once('?').is_some_and(|(_, query)| {
                        url::form_urlencoded::parse(query.as_bytes())
                            .any(|(k, v)| k == "mode" && v == "memory")
                    });
                if in_memory || options.get_filename().as_os_str().is_empty() {
                    return Err(StoreError::UnsupportedUrl {
                        url_redacted: redact(given),
                        reason: "an in-memory SQLite database lives only as long as its \
                                 connections; use a file (a temporary directory for tests)"
                            .to_owned(),
                    });
                }
                Ok(Location::Sqlite(Box::new(sqlite_defaults(options))))
            }
            Some(s)
                if s.eq_ignore_ascii_case("postgres") || s.eq_ignore_ascii_case("postgresql") =>
            {
                PgConnectOptions::from_str(given).map_err(|source| StoreError::MalformedUrl {
                    url_redacted: redact(given),
                    source,
                })?;
                Ok(Location::Postgres(given.to_owned()))
            }
            Some(s) => Err(StoreError::UnsupportedUrl {
                url_redacted: redact(given),
                reason: format!(
                    "the scheme `{s}` is not supported; use a SQLite file path, sqlite:PATH or \
                     postgres://USER@HOST/DATABASE"
                ),
            }),
            None => Ok(Location::Sqlite(Box::new(sqlite_defaults(
                SqliteConnectOptions::new().filename(given),
            )))),
        }
    }
}

/// The options every SQLite store opens with, whatever the URL said.
fn sqlite_defaults(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        // WAL lets readers go on while one writer commits; it is a property of the file, so
        // setting it on the first connection sets it for every later one.
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
}

/// The URL scheme of `location`, if it is a URL rather than a file path.
///
/// `sqlite:` may stand without slashes (`sqlite:data.db`), as sqlx allows; any other scheme must
/// be followed by `://`, so a Windows path such as `C:\data` stays a path.
fn scheme(location: &str) -> Option<&str> {
    let (head, rest) = location.split_once(':')?;
    let well_formed = head.len() > 1
        && head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !well_formed {
        return None;
    }
    if head.eq_ignore_ascii_case("sqlite") || rest.starts_with("//") {
        Some(head)
    } else {
        None
    }
}

/// `location` with any password hidden, fit for messages and logs.
///
/// A URL's password and any `password`-like query parameter become `***`. A string that claims
/// a scheme but does not parse as a URL keeps only its scheme, since a password may hide anywhere
/// in it. A plain file path is returned as is.
pub fn redact(location: &str) -> String {
    let location = location.trim();
    let Some(scheme) = scheme(location) else {
        return location.to_owned();
    };
    if scheme.eq_ignore_ascii_case("sqlite") && !location.contains('@') {
        // A SQLite URL has no credentials; sqlx accepts forms (`sqlite:a.db`) that `Url` reads
        // differently, so leave it exactly as given.
        return location.to_owned();
    }
    let Ok(mut url) = Url::parse(location) else {
        return format!("{scheme}://(hidden: not a valid URL)");
    };
    if url.password().is_some() && url.set_password(Some("***")).is_err() {
        return format!("{scheme}://(hidden)");
    }
    let has_secret_param = url.query_pairs().any(|(k, _)| is_secret_param(&k));
    if has_secret_param {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("secret") || key.contains("key")
}

/// Characters that must be escaped in a `sqlite://` path: sqlx splits the URL at `?` and
/// percent-decodes the rest.
const SQLITE_PATH: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'?');

/// [`SQLITE_PATH`] and what [`Url`] would escape or reinterpret on its own.
const ANY_SQLITE_PATH: &AsciiSet = &SQLITE_PATH
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'[')
    .add(b']');

/// The `sqlite://` URL of the default store file in `data_dir`.
pub(crate) fn default_url(data_dir: &Path) -> String {
    let file: PathBuf = data_dir.join(DEFAULT_FILE_NAME);
    format!(
        "sqlite://{}",
        utf8_percent_encode(&file.to_string_lossy(), SQLITE_PATH)
    )
}

/// The URL by which the `Any` driver opens the existing SQLite file `file`.
///
/// The driver parses it as a [`Url`] before sqlx reads the path back out, so the path is made
/// absolute (a relative `a:b/x` would read as host `a`, port `b`) and escaped.
pub(crate) fn any_sqlite_url(file: &Path) -> std::io::Result<String> {
    let file = std::fs::canonicalize(file)?;
    let path = file.to_str().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path is not valid UTF-8",
        )
    })?;
    Ok(format!(
        "sqlite://{}?mode=rw",
        utf8_percent_encode(path, ANY_SQLITE_PATH)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_urls_from_paths() {
        assert_eq!(scheme("postgres://u@h/db"), Some("postgres"));
        assert_eq!(scheme("sqlite:data.db"), Some("sqlite"));
        assert_eq!(scheme("sqlite::memory:"), Some("sqlite"));
        assert_eq!(scheme("mysql://u@h/db"), Some("mysql"));
        assert_eq!(scheme("data/platform.sqlite"), None);
        assert_eq!(scheme("C:\\data\\platform.sqlite"), None);
        assert_eq!(scheme("C://data"), None);
        assert_eq!(scheme("weird:name.sqlite"), None);
    }

    #[test]
    fn hides_passwords() {
        assert_eq!(
            redact("postgres://ann:s3cret@db.example/p"),
            "postgres://ann:***@db.example/p"
        );
        assert_eq!(
            redact("postgres://ann@db/p?password=s3cret&sslmode=disable"),
            "postgres://ann@db/p?password=***&sslmode=disable"
        );
        assert_eq!(redact("postgres://ann@db/p"), "postgres://ann@db/p");
        assert_eq!(
            redact("postgres://a:b:c@[bad/p"),
            "postgres://(hidden: not a valid URL)"
        );
        assert_eq!(redact("data/platform.sqlite"), "data/platform.sqlite");
        assert_eq!(redact("sqlite:data.db?mode=rwc"), "sqlite:data.db?mode=rwc");
    }

    #[test]
    fn the_any_driver_reads_back_every_path() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for name in [
            "plain",
            "a:b",
            "sp ace",
            "q?h#p%25",
            "<>`{}[]\\",
            "中文",
            "..x",
            "@at",
        ] {
            let file = dir.path().join(name).join("platform.sqlite");
            std::fs::create_dir_all(file.parent().expect("has a parent")).expect("created");
            std::fs::write(&file, b"").expect("written");
            let url = any_sqlite_url(&file).expect("a URL");
            let parsed: Url = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
            let options = SqliteConnectOptions::from_str(parsed.as_str()).expect("sqlx reads it");
            let expected = std::fs::canonicalize(&file).expect("canonical");
            assert_eq!(options.get_filename(), expected, "{url}");
        }
    }

    #[test]
    fn default_url_escapes_what_sqlx_would_misread() {
        let url = default_url(Path::new("/srv/my data?#%"));
        assert_eq!(url, "sqlite:///srv/my%20data%3F%23%25/platform.sqlite");
        let options = SqliteConnectOptions::from_str(&url).expect("the URL parses");
        assert_eq!(
            options.get_filename(),
            Path::new("/srv/my data?#%/platform.sqlite")
        );
    }
}
