//! The crash test of the ledger: `errandless ledger append` is killed with SIGKILL many times in
//! the middle of appending. Afterwards the log verifies, and every index that was acknowledged
//! before a kill holds the entry that was sent for it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use errandless_ledger::{Entry, TileReader};

const EXE: &str = env!("CARGO_BIN_EXE_errandless");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(EXE)
        .args(args)
        .output()
        .expect("errandless runs")
}

fn line(n: u64) -> String {
    format!("{{\"kind\":\"access\",\"actor\":\"crash-test\",\"purpose\":\"test\",\"body\":{{\"n\":{n}}}}}\n")
}

/// Appends lines numbered from `first`, kills the process after `after` (or lets it finish
/// when None), and returns the acknowledged (index, n) pairs.
fn append_round(log: &Path, first: u64, count: u64, after: Option<Duration>) -> Vec<(u64, u64)> {
    let mut child = Command::new(EXE)
        .args(["ledger", "append", "--max-batch", "50", "--log"])
        .arg(log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("append starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        for n in first..first + count {
            if stdin.write_all(line(n).as_bytes()).is_err() {
                return; // killed: the pipe is closed
            }
        }
    });
    let acks = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = {
        let acks = acks.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { return };
                let index: u64 = l.trim().parse().expect("append prints indexes");
                acks.lock().expect("lock").push(index);
            }
        })
    };
    if let Some(d) = after {
        std::thread::sleep(d);
        child.kill().expect("SIGKILL");
    }
    let status = child.wait().expect("wait");
    writer.join().expect("writer");
    reader.join().expect("reader");
    if after.is_none() {
        assert!(status.success(), "an uninterrupted append succeeds");
    }
    // The k-th acknowledgement is for the k-th line sent: all lines are valid.
    let acks = acks.lock().expect("lock").clone();
    acks.into_iter()
        .enumerate()
        .map(|(k, index)| (index, first + k as u64))
        .collect()
}

#[test]
fn sigkill_during_appends_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let log = tmp.path().join("ledger");
    let out = run(&[
        "ledger",
        "keygen",
        "--origin",
        "crash.example/log",
        "--log",
        log.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut acked: Vec<(u64, u64)> = Vec::new();
    let mut next = 0u64;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(5 + seed % 60);
        acked.extend(append_round(&log, next, 100_000, Some(wait)));
        next += 100_000;
    }
    // After all the kills the log still takes entries.
    acked.extend(append_round(&log, next, 300, None));

    let out = Command::new(EXE)
        .args(["ledger", "verify"])
        .arg(&log)
        .output()
        .expect("verify runs");
    assert!(
        out.status.success(),
        "verify after crashes: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut indexes: Vec<u64> = acked.iter().map(|a| a.0).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), acked.len(), "no index acknowledged twice");
    let cp = std::fs::read_to_string(log.join("checkpoint")).expect("checkpoint");
    let size: u64 = cp
        .lines()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("size line");
    assert!(acked.len() as u64 >= 300 && size >= acked.len() as u64);
    eprintln!(
        "{} entries acknowledged over 20 kills; the log holds {size}",
        acked.len()
    );
    let reader = TileReader::new(&log, size);
    for (index, n) in &acked {
        let bytes = reader.entry(*index).expect("acknowledged entry is present");
        let entry = Entry::from_bytes(&bytes).expect("a ledger entry");
        assert_eq!(entry.body["n"], *n, "entry {index} holds line n={n}");
    }
}
