//! Who may see a citizen's data tracker, decided on the server: the citizen (their own
//! records), an auditor (citizens registered in their division), and nobody else; an operator
//! role and a department officer see no personal data.

mod common;

use common::{register, resident, start, Browser, CLIENT, PASSWORD, REDIRECT};
use errandless_identity::{Role, Staff};
use errandless_server::SESSION_COOKIE;
use errandless_store::testing::for_each_backend;
use openidconnect::PkceCodeChallenge;

/// Logs the browser in (a session cookie is all the tracker needs).
fn sign_in(browser: &mut Browser, phone: &str) {
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let page = browser.get(&format!(
        "/oauth/authorize?response_type=code&client_id={CLIENT}&redirect_uri={REDIRECT}&scope=openid&state=s-{phone}&nonce=n-{phone}&code_challenge={}&code_challenge_method=S256",
        challenge.as_str()
    ));
    let logged_in = browser.post(
        "/oauth/login",
        &[
            ("request", &page.field("request")),
            ("form_token", &page.field("form_token")),
            ("phone", phone),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(logged_in.status, 303, "{}", logged_in.body);
    assert!(browser.cookies.contains_key(SESSION_COOKIE));
}

fn tracker(browser: &mut Browser, subject: &str) -> u16 {
    browser
        .get(&format!("/data/myPersonalDataUsage?userId={subject}"))
        .status
}

/// A resident of another county than `id`'s.
fn elsewhere(id: &str) -> String {
    errandless_synth::testing::pick(
        "public_security",
        &format!(
            "SELECT id_number FROM resident WHERE substr(id_number, 1, 6) <> '{}' ORDER BY id_number LIMIT 1",
            &id[..6]
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracker_answers_a_citizen_about_themself_and_an_auditor_about_their_division() {
    for_each_backend(|store| async move {
        let idp = start(store.clone()).await;
        let (base, channel) = (idp.base.clone(), idp.channel.clone());
        let staff = Staff::new(store);
        let accounts = idp.provider.accounts().clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let (own, _) = resident(40);
            let other = elsewhere(&own);
            let mut anonymous = Browser::new(&base);
            assert_eq!(tracker(&mut anonymous, &own), 401);

            let mut citizen = Browser::new(&base);
            register(&mut citizen, &channel, 40, "13800000040");
            sign_in(&mut citizen, "13800000040");
            let mine = citizen.get(&format!("/data/myPersonalDataUsage?userId={own}"));
            assert_eq!(mine.status, 200, "{}", mine.body);
            let items: serde_json::Value = serde_json::from_str(&mine.body).unwrap();
            assert!(
                items
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["purpose"] == "identity_verification"),
                "the real-name check is on the citizen's own tracker: {items}"
            );
            assert_eq!(tracker(&mut citizen, &other), 403, "not someone else's");

            // Staff are accounts too; their roles are what let them see more.
            let mut auditor = Browser::new(&base);
            let auditor_id = register(&mut auditor, &channel, 41, "13800000041");
            sign_in(&mut auditor, "13800000041");
            assert_eq!(tracker(&mut auditor, &own), 403, "no role yet");
            for (role, department) in [
                (Role::Operator, ""),
                (Role::DepartmentOfficer, "public_security"),
            ] {
                rt.block_on(staff.assign(&auditor_id, role, department, "", 0))
                    .unwrap();
                assert_eq!(
                    tracker(&mut auditor, &own),
                    403,
                    "{role} sees no personal data"
                );
            }
            rt.block_on(staff.assign(&auditor_id, Role::Auditor, "", &own[..6], 0))
                .unwrap();
            assert_eq!(tracker(&mut auditor, &own), 200, "the auditor's county");
            assert_eq!(tracker(&mut auditor, &other), 403, "not the next county");
            rt.block_on(staff.revoke_all(&auditor_id)).unwrap();
            assert_eq!(
                tracker(&mut auditor, &own),
                403,
                "a revoked role counts at once"
            );

            // A role on an account that does not exist is refused.
            assert!(rt
                .block_on(staff.assign("nobody", Role::Auditor, "", "52", 0))
                .is_err());
            assert!(rt.block_on(accounts.find(&auditor_id)).is_ok());
        })
        .await
        .expect("the walk passes");
        idp.stop().await;
    })
    .await;
}
