//! `errandless client` on both store backends: add prints the secret once, list shows the
//! client, and bad registrations are refused with a non-zero exit.

mod common;

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

#[tokio::test(flavor = "multi_thread")]
async fn clients_are_added_and_listed_and_bad_ones_refused() {
    for_each_database(|db| async move {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let (d, url) = (tmp.path(), db.url());
        let add = errandless(
            d,
            url,
            &[
                "client", "add", "--id", "benefits-app", "--name", "惠民资助", "--purpose",
                "paying education subsidies", "--redirect-uri", "https://benefits.example.gov/cb",
                "--scope", "profile", "--alg", "EdDSA", "--level", "L3",
            ],
        );
        assert!(add.status.success(), "{}", text(&add));
        assert!(text(&add).contains("client secret (shown once): "), "{}", text(&add));

        let public = errandless(
            d,
            url,
            &[
                "client", "add", "--id", "phone-app", "--name", "App", "--purpose", "p",
                "--redirect-uri", "http://127.0.0.1:7000/cb", "--public",
            ],
        );
        assert!(public.status.success(), "{}", text(&public));
        assert!(!text(&public).contains("secret"), "{}", text(&public));

        let list = errandless(d, url, &["client", "list"]);
        let listed = text(&list);
        assert!(list.status.success(), "{listed}");
        assert!(listed.contains("benefits-app\tconfidential\tEdDSA\tL3\topenid profile\thttps://benefits.example.gov/cb\t惠民资助"), "{listed}");
        assert!(listed.contains("phone-app\tpublic\tRS256\tL2"), "{listed}");

        for (args, says) in [
            (vec!["--id", "benefits-app", "--redirect-uri", "https://x.example/cb"], "already exists"),
            (vec!["--id", "x", "--redirect-uri", "http://x.example/cb"], "not an absolute https URI"),
            (vec!["--id", "y", "--redirect-uri", "https://x.example/cb#frag"], "not an absolute https URI"),
            (vec!["--id", "z", "--redirect-uri", "https://x.example/cb", "--scope", "email"], "not a scope"),
            (vec!["--id", "w", "--redirect-uri", "https://x.example/cb", "--alg", "none"], "not RS256 or EdDSA"),
        ] {
            let mut full = vec!["client", "add", "--name", "n", "--purpose", "p"];
            full.extend(args);
            let out = errandless(d, url, &full);
            assert!(!out.status.success(), "{full:?} should be refused");
            assert!(text(&out).contains(says), "{full:?}: {}", text(&out));
        }
    })
    .await;
}
