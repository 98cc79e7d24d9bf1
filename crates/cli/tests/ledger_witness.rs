//! `errandless witness` over HTTP, cosigning the checkpoints of `errandless ledger checkpoint`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use errandless_ledger::{NoteVerifier, SignedNote};

const EXE: &str = env!("CARGO_BIN_EXE_errandless");

fn ok(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(EXE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("errandless runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the witness on a free port and returns it with its URL prefix.
fn start_witness(dir: &Path, log_vkey: &str) -> (Server, String) {
    let mut child = Command::new(EXE)
        .args([
            "witness",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            log_vkey,
            "--dir",
        ])
        .arg(dir)
        .stderr(Stdio::piped())
        .spawn()
        .expect("witness starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut first = String::new();
    BufReader::new(stderr)
        .read_line(&mut first)
        .expect("banner");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the banner names the address")
        .trim_end_matches("/add-checkpoint")
        .to_owned();
    (Server(child), url)
}

#[test]
fn a_witness_cosigns_and_refuses_as_the_spec_says() {
    let tmp = tempfile::tempdir().expect("dir");
    let log = tmp.path().join("ledger");
    let log_s = log.to_str().expect("utf-8");
    let wdir = tmp.path().join("witness");
    let log_vkey = ok(
        &[
            "ledger",
            "keygen",
            "--origin",
            "wit.example/log",
            "--log",
            log_s,
        ],
        "",
    );
    let log_vkey = log_vkey.trim();
    let w_vkey = ok(
        &[
            "witness",
            "--keygen",
            "w.example/w1",
            "--dir",
            wdir.to_str().expect("utf-8"),
        ],
        "",
    );
    let w_vkey = w_vkey.trim();
    let (server, url) = start_witness(&wdir, log_vkey);

    let list = tmp.path().join("ledger.witnesses");
    std::fs::write(&list, format!("{w_vkey} {url}\n")).expect("witness list");
    let witness = NoteVerifier::from_vkey(w_vkey).expect("witness vkey");

    for round in 0..3 {
        let lines: String = (0..(100 * round + 7))
            .map(|i| {
                format!("{{\"kind\":\"delivery\",\"actor\":\"court\",\"body\":{{\"i\":{i}}}}}\n")
            })
            .collect();
        ok(&["ledger", "append", "--log", log_s], &lines);
        // The witness list beside the log is found without --witnesses.
        let out = ok(&["ledger", "checkpoint", "--log", log_s], "");
        let note = SignedNote::parse(out.as_bytes()).expect("a signed note");
        assert!(note.verify(&witness).is_ok(), "round {round}: cosigned");
        let published = std::fs::read(log.join("checkpoint")).expect("checkpoint");
        assert_eq!(
            published,
            out.as_bytes(),
            "the cosigned checkpoint is published"
        );
    }
    ok(&["ledger", "verify", log_s], "");

    // A stale old size: 409 with the witness's size as text/x.tlog.size.
    let cp = std::fs::read(log.join("checkpoint")).expect("checkpoint");
    let mut body = b"old 0\n\n".to_vec();
    body.extend_from_slice(&cp);
    let err = ureq::post(&format!("{url}/add-checkpoint"))
        .send_bytes(&body)
        .expect_err("409");
    match err {
        ureq::Error::Status(409, r) => {
            assert_eq!(r.header("Content-Type"), Some("text/x.tlog.size"));
            let size = String::from_utf8_lossy(&cp)
                .lines()
                .nth(1)
                .expect("size")
                .to_owned();
            assert_eq!(r.into_string().expect("body"), format!("{size}\n"));
        }
        other => panic!("{other:?}"),
    }
    // A checkpoint signed by nobody it trusts: 403.
    let text = String::from_utf8_lossy(&cp).into_owned();
    let unsigned = text.lines().take(3).collect::<Vec<_>>().join("\n")
        + "\n\n\u{2014} wit.example/log AAAAAAAA\n";
    let mut body = b"old 0\n\n".to_vec();
    body.extend_from_slice(unsigned.as_bytes());
    match ureq::post(&format!("{url}/add-checkpoint")).send_bytes(&body) {
        Err(ureq::Error::Status(403, _)) => {}
        other => panic!("{other:?}"),
    }
    drop(server);

    // The witness's state survives a restart: it still answers 409 at the same size.
    let (_server, url) = start_witness(&wdir, log_vkey);
    let mut body = b"old 0\n\n".to_vec();
    body.extend_from_slice(&cp);
    match ureq::post(&format!("{url}/add-checkpoint")).send_bytes(&body) {
        Err(ureq::Error::Status(409, _)) => {}
        other => panic!("{other:?}"),
    }
}
