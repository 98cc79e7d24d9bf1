//! What the binary's tests share: running `errandless` in a directory with none of the
//! environment's `ERRANDLESS_*` settings leaking in, and reading what it printed.

#![allow(dead_code)] // each test file uses only some of these

use std::path::Path;
use std::process::{Command, Output};

/// When the tests' time starts: 2026-11-16T09:00:00+08:00, a day in November 2026, so that
/// what the tests expect (this month enacted, next month still to come) holds whatever the
/// date they run on.
pub const CLOCK_START_MS: i64 = 1_794_790_800_000;

/// The tests' clock as the binary reads it (`ERRANDLESS_CLOCK`): [`CLOCK_START_MS`] when the
/// first command of this test binary ran, and running since, so that a later run sees what an
/// earlier one recorded as past.
pub fn clock() -> String {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let elapsed = STARTED.get_or_init(std::time::Instant::now).elapsed();
    format!(
        "@{}",
        CLOCK_START_MS + i64::try_from(elapsed.as_millis()).unwrap_or(0)
    )
}

/// The `errandless` binary, to run in `dir` with a clean configuration, at the tests' [`clock`].
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_errandless"));
    c.current_dir(dir)
        .env("ERRANDLESS_CLOCK", clock())
        .env_remove("ERRANDLESS_DATA")
        .env_remove("ERRANDLESS_CONFIG")
        .env_remove("ERRANDLESS_STORE_URL")
        .env_remove("ERRANDLESS_OPERATOR_TOKEN");
    c
}

/// Runs `errandless args…` in `dir` and waits for it.
pub fn errandless(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("the binary runs")
}

/// Everything a run printed, standard output then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
