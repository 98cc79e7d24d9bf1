//! Node's openid-client, a certified relying party, logs a citizen in through the provider:
//! discovery, PKCE, the code exchange with its own ID-token checks, UserInfo, refresh, and a
//! refused refresh-token reuse. The test installs it from the npm registry (`npm ci` in a
//! temporary directory, from the lock file beside `rp.mjs`); without `node` and `npm` it says
//! so and skips.

mod common;

use std::path::Path;
use std::process::Command;

use common::{register, resident, start, Browser, CLIENT, PASSWORD, REDIRECT};
use errandless_store::testing::on_sqlite;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_openid_client_logs_a_citizen_in() {
    if !have("node") || !have("npm") {
        eprintln!("node_rp: skipped, node and npm are not installed");
        return;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let dir = tempfile::tempdir().expect("a temporary directory");
    for file in ["package.json", "package-lock.json", "rp.mjs"] {
        std::fs::copy(source.join(file), dir.path().join(file)).expect("copied");
    }
    let install = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(dir.path())
        .output()
        .expect("npm runs");
    assert!(
        install.status.success(),
        "npm ci failed: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    let rp_dir = dir.path().to_owned();
    on_sqlite(|db| async move {
        let store = db.open().await.expect("store");
        let idp = start(store).await;
        let (base, secret, channel) = (idp.base.clone(), idp.secret.clone(), idp.channel.clone());
        let out = tokio::task::spawn_blocking(move || {
            let mut browser = Browser::new(&base);
            register(&mut browser, &channel, 30, "13800000030");
            Command::new("node")
                .arg("rp.mjs")
                .args([
                    base.as_str(),
                    CLIENT,
                    secret.as_str(),
                    REDIRECT,
                    "13800000030",
                    PASSWORD,
                ])
                .current_dir(&rp_dir)
                .output()
                .expect("node runs")
        })
        .await
        .expect("the walk runs");
        idp.stop().await;
        assert!(
            out.status.success(),
            "openid-client failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        assert_eq!(seen["acr"], "L2");
        assert_eq!(seen["name"], resident(30).1.as_str());
        assert_eq!(seen["refreshed"], true);
        assert_eq!(seen["reuse_refused"], true);
        assert!(
            seen["sub"].as_str().is_some_and(|s| s.len() == 43),
            "{seen}"
        );
    })
    .await;
}
