//! What the binary's tests share: running `errandless` in a directory with none of the
//! environment's `ERRANDLESS_*` settings leaking in, and reading what it printed.

#![allow(dead_code)] // each test file uses only some of these

use std::path::Path;
use std::process::{Command, Output};

/// The `errandless` binary, to run in `dir` with a clean configuration.
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_errandless"));
    c.current_dir(dir)
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
