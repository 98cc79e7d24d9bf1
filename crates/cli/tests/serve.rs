//! `errandless serve` as an operator runs it: a clear error without a ledger, then a server
//! that answers over loopback and stops cleanly on Ctrl-C (SIGINT).

mod common;

use common::command as errandless;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serve_needs_a_ledger_then_answers_and_stops_on_ctrl_c() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let d = tmp.path();
    // A province alone: the demo would create the ledger.
    let demo = errandless(d)
        .args(["synth", "--people", "300", "--out", "errandless-data", "-q"])
        .output()
        .expect("runs");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );

    let no_ledger = errandless(d)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert_eq!(no_ledger.status.code(), Some(1));
    let text = String::from_utf8_lossy(&no_ledger.stderr);
    assert!(text.contains("ledger keygen"), "{text}");

    let keygen = errandless(d)
        .args([
            "ledger",
            "keygen",
            "--origin",
            "ledger.example.gov/serve-test",
        ])
        .output()
        .expect("runs");
    assert!(
        keygen.status.success(),
        "{}",
        String::from_utf8_lossy(&keygen.stderr)
    );

    // A malformed upstream, or one whose client secret is not in the environment, is refused
    // before anything is served.
    for (spec, secret, says) in [
        (
            "province-a,http://127.0.0.1:9",
            Some("s"),
            "NAME,ISSUER,CLIENT_ID,LEVEL",
        ),
        (
            "province-a,http://127.0.0.1:9,region-b,L2",
            None,
            "ERRANDLESS_UPSTREAM_SECRET_PROVINCE_A",
        ),
        (
            "province-a,http://127.0.0.1:9,region-b,L9",
            Some("s"),
            "not a level",
        ),
    ] {
        let mut command = errandless(d);
        match secret {
            Some(s) => command.env("ERRANDLESS_UPSTREAM_SECRET_PROVINCE_A", s),
            None => command.env_remove("ERRANDLESS_UPSTREAM_SECRET_PROVINCE_A"),
        };
        let refused = command
            .args(["serve", "--listen", "127.0.0.1:0", "--upstream", spec])
            .output()
            .expect("runs");
        assert_eq!(refused.status.code(), Some(1), "{spec}");
        let text = String::from_utf8_lossy(&refused.stderr);
        assert!(text.contains(says), "{spec}: {text}");
    }

    let mut server = errandless(d)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server says where it listens")
            .expect("a line");
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    let health = ureq::get(&format!("{base}/healthz"))
        .call()
        .expect("healthz answers");
    assert_eq!(health.status(), 200);
    let tracker = ureq::get(&format!("{base}/data/myPersonalDataUsage?userId=x")).call();
    assert!(
        matches!(tracker, Err(ureq::Error::Status(401, _))),
        "the tracker needs a session or the operator token"
    );
    let checkpoint = ureq::get(&format!("{base}/ledger/checkpoint"))
        .call()
        .expect("the ledger is served")
        .into_string()
        .expect("text");
    assert!(
        checkpoint.starts_with("ledger.example.gov/serve-test\n0\n"),
        "{checkpoint}"
    );

    let kill = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let status = server.wait().expect("the server exits");
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
}
