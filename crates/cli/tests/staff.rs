//! `errandless staff` and `errandless client rotate-keys` on both store backends.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use common::{command, text};
use errandless_identity::{Accounts, DevelopmentChannel, NewAccount, Outbox, Secret};
use errandless_store::testing::for_each_database;

fn errandless(dir: &Path, store: &str, args: &[&str]) -> Output {
    command(dir)
        .env("ERRANDLESS_STORE_URL", store)
        .args(args)
        .output()
        .expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_roles_are_given_listed_and_removed_and_keys_rotate() {
    for_each_database(|db| async move {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let (d, url) = (tmp.path(), db.url());
        // A citizen with a confirmed phone, made through the library as registration would.
        let store = db.open().await.unwrap();
        errandless_identity::migrate(&store).await.unwrap();
        let channel = DevelopmentChannel::new(store.clone());
        let accounts = Accounts::new(
            store.clone(),
            Outbox::new(store.clone(), Arc::new(channel.clone())),
            Secret::load_or_create(&store).await.unwrap(),
        );
        let citizen_id = errandless_standards::CitizenId::compose(
            520102,
            errandless_standards::Date::new(1985, 5, 5).unwrap(),
            21,
        );
        let account = accounts
            .register(
                &NewAccount {
                    citizen_id: citizen_id.as_str().into(),
                    name: "审计员".into(),
                    phone: "13900000042".into(),
                    password: "a long passphrase".into(),
                },
                0,
            )
            .await
            .unwrap();
        accounts.deliver().await.unwrap();
        let body = channel
            .messages_to("13900000042")
            .await
            .unwrap()
            .remove(0)
            .body;
        let at = body.find(|c: char| c.is_ascii_digit()).unwrap();
        accounts
            .confirm_phone(&account.id, &body[at..at + 6], 1)
            .await
            .unwrap();
        store.close().await;

        let add = errandless(
            d,
            url,
            &[
                "staff",
                "add",
                "--phone",
                "13900000042",
                "--role",
                "auditor",
                "--division",
                "520102",
            ],
        );
        assert!(add.status.success(), "{}", text(&add));
        let list = errandless(d, url, &["staff", "list", "--phone", "13900000042"]);
        assert!(text(&list).contains("auditor\t\t520102"), "{}", text(&list));
        for (args, says) in [
            (
                vec!["--phone", "13900000042", "--role", "king"],
                "not a role",
            ),
            (
                vec!["--phone", "13900000042", "--role", "department_officer"],
                "needs a department",
            ),
            (
                vec![
                    "--phone",
                    "13900000042",
                    "--role",
                    "auditor",
                    "--division",
                    "52x",
                ],
                "not a division-code prefix",
            ),
            (
                vec!["--phone", "13900000099", "--role", "auditor"],
                "no confirmed account",
            ),
        ] {
            let mut full = vec!["staff", "add"];
            full.extend(args);
            let out = errandless(d, url, &full);
            assert!(!out.status.success(), "{full:?}");
            assert!(text(&out).contains(says), "{full:?}: {}", text(&out));
        }
        let remove = errandless(d, url, &["staff", "remove", "--phone", "13900000042"]);
        assert!(
            text(&remove).contains("1 roles removed"),
            "{}",
            text(&remove)
        );
        assert_eq!(
            text(&errandless(
                d,
                url,
                &["staff", "list", "--phone", "13900000042"]
            )),
            ""
        );

        let first = errandless(d, url, &["client", "rotate-keys"]);
        assert!(first.status.success(), "{}", text(&first));
        let second = errandless(d, url, &["client", "rotate-keys"]);
        let (a, b) = (text(&first), text(&second));
        assert!(a.contains("RS256\t") && a.contains("EdDSA\t"), "{a}");
        assert_ne!(a, b, "new kids each time");
    })
    .await;
}
