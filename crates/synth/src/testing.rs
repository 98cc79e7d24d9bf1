//! A small synthetic province for the tests of other crates (the `testing` feature).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{write_province, Config, Progress};

/// A province of 2,000 people, seed 7, written once per test binary.
pub fn province() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let out = tmp.path().join("province");
        let config = Config {
            people: 2_000,
            seed: 7,
            ..Config::default()
        };
        write_province(&config, &out, false, &Progress::default()).expect("province written");
        (tmp, out)
    });
    path
}

/// Reads one column of the first row that `sql` returns from an island, for picking subjects.
pub fn pick(department: &str, sql: &str) -> String {
    let path = province()
        .join("islands")
        .join(format!("{department}.sqlite"));
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("island opens");
    conn.query_row(sql, [], |r| r.get::<_, String>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
