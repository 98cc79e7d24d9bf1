//! `errandless member` on both store backends: add, list, rotate-key, and the refusals.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;

use common::{command, text};
use errandless_store::testing::for_each_database;

fn errandless(dir: &Path, store: &str, args: &[&str]) -> Output {
    command(dir)
        .env("ERRANDLESS_STORE_URL", store)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn uscc(n: u32) -> String {
    errandless_standards::Uscc::compose(b'1', b'1', 520000, n).to_string()
}

/// A code whose check character is wrong.
fn bad_uscc() -> String {
    let good = uscc(5);
    let last = if good.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &good[..17])
}

#[tokio::test(flavor = "multi_thread")]
async fn members_are_added_listed_and_rotated_on_every_backend() {
    for_each_database(|db| async move {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let d = tmp.path();
        let url = db.url();
        let add = errandless(
            d,
            url,
            &[
                "member",
                "add",
                "--id",
                "civil_affairs",
                "--uscc",
                &uscc(1),
                "--name-zh",
                "民政厅",
                "--name-en",
                "Department of Civil Affairs",
            ],
        );
        assert_eq!(add.status.code(), Some(0), "{}", text(&add));
        let public = String::from_utf8_lossy(&add.stdout).trim().to_owned();
        assert_eq!(public.len(), 44, "a base64 Ed25519 public key: {public}");
        let key_file = d.join("errandless-data/members/civil_affairs.key");
        let mode = std::fs::metadata(&key_file)
            .expect("key written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let again = errandless(
            d,
            url,
            &[
                "member",
                "add",
                "--id",
                "civil_affairs",
                "--uscc",
                &uscc(2),
                "--name-zh",
                "民政",
                "--name-en",
                "Civil",
                "--key-out",
                "second.key",
            ],
        );
        assert_eq!(again.status.code(), Some(1));
        assert!(
            text(&again).contains("already registered"),
            "{}",
            text(&again)
        );
        assert!(
            !d.join("second.key").exists(),
            "a refused member leaves no key behind"
        );

        let bad = errandless(
            d,
            url,
            &[
                "member",
                "add",
                "--id",
                "finance",
                "--uscc",
                &bad_uscc(),
                "--name-zh",
                "财政厅",
                "--name-en",
                "Finance",
                "--key-out",
                "finance.key",
            ],
        );
        assert_eq!(bad.status.code(), Some(1));
        assert!(text(&bad).contains("social credit code"), "{}", text(&bad));
        assert!(!d.join("finance.key").exists());

        let unknown = errandless(
            d,
            url,
            &[
                "member",
                "add",
                "--id",
                "ministry_of_magic",
                "--uscc",
                &uscc(3),
                "--name-zh",
                "魔法部",
                "--name-en",
                "Magic",
                "--key-out",
                "magic.key",
            ],
        );
        assert_eq!(unknown.status.code(), Some(1));
        assert!(
            text(&unknown).contains("not a department"),
            "{}",
            text(&unknown)
        );

        let rotate = errandless(d, url, &["member", "rotate-key", "--id", "civil_affairs"]);
        assert_eq!(rotate.status.code(), Some(0), "{}", text(&rotate));
        let new_public = String::from_utf8_lossy(&rotate.stdout).trim().to_owned();
        assert_ne!(new_public, public);

        let list = errandless(d, url, &["member", "list"]);
        assert_eq!(list.status.code(), Some(0), "{}", text(&list));
        let listed = String::from_utf8_lossy(&list.stdout).into_owned();
        assert!(listed.contains("civil_affairs"), "{listed}");
        assert!(listed.contains(&new_public), "{listed}");
        assert!(
            !listed.contains(&public),
            "the retired key is not current: {listed}"
        );
        assert!(listed.contains("民政厅"), "{listed}");

        let nobody = errandless(d, url, &["member", "rotate-key", "--id", "education"]);
        assert_eq!(nobody.status.code(), Some(1));
        assert!(text(&nobody).contains("no member"), "{}", text(&nobody));

        let usage = errandless(d, url, &["member", "add", "--id", "x"]);
        assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    })
    .await;
}
