//! The catalogue and a citizen's applications in the GovStack Registration shape, on both
//! database backends: services listed and found, an application filed with an access token
//! of the provider, its field errors, and another citizen's file kept out of sight.

mod common;

use common::{consent, register, start, Browser, CLIENT, PASSWORD, REDIRECT};
use errandless_store::testing::for_each_backend;
use openidconnect::url::Url;
use openidconnect::PkceCodeChallenge;
use serde_json::{json, Value};

/// An access token with the `citizen_id` scope for the `n`-th resident, logged in with `phone`.
fn access_token(base: &str, secret: &str, browser: &mut Browser, phone: &str) -> String {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = Url::parse("http://x/oauth/authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid citizen_id")
        .append_pair("state", &format!("s-{phone}"))
        .append_pair("nonce", &format!("n-{phone}"))
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let page = browser.get(&format!("/oauth/authorize?{}", url.query().unwrap()));
    let logged_in = browser.post(
        "/oauth/login",
        &[
            ("request", &page.field("request")),
            ("form_token", &page.field("form_token")),
            ("phone", phone),
            ("password", PASSWORD),
        ],
    );
    let back = consent(browser, logged_in.location.as_deref().expect("to consent"));
    let code = back.param("code").expect("a code");
    let answer = browser.post(
        "/oauth/token",
        &[
            ("client_id", CLIENT),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
        ],
    );
    let tokens: Value = serde_json::from_str(&answer.body).expect("JSON");
    let _ = base;
    tokens["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let mut request = agent.request(method, &format!("{base}{path}"));
    if let Some(t) = token {
        request = request.set("authorization", &format!("Bearer {t}"));
    }
    let result = match body {
        Some(b) => request
            .set("content-type", "application/json")
            .send_string(&b.to_string()),
        None => request.call(),
    };
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_in_the_govstack_registration_shape() {
    for_each_backend(|store| async move {
        let idp = start(store).await;
        let base = idp.base.clone();
        let secret = idp.secret.clone();
        let channel = idp.channel.clone();
        tokio::task::spawn_blocking(move || {
            // The catalogue, for anyone.
            let (status, list) = call(&base, "GET", "/registration/services", None, None);
            assert_eq!(status, 200);
            assert!(list.as_array().is_some_and(|l| l.len() >= 12), "{list}");
            let (status, one) = call(
                &base,
                "GET",
                "/registration/services/passport-application",
                None,
                None,
            );
            assert_eq!(status, 200);
            assert_eq!(one["id"], "passport-application");
            assert!(one["serviceBody"].as_array().is_some_and(|b| !b.is_empty()));
            let (status, _) = call(&base, "GET", "/registration/services/none", None, None);
            assert_eq!(status, 404);

            // Applications need a token of a real-name checked citizen.
            let (status, _) = call(&base, "GET", "/registration/applications", None, None);
            assert_eq!(status, 401);
            let (status, _) = call(
                &base,
                "GET",
                "/registration/applications",
                Some("forged"),
                None,
            );
            assert_eq!(status, 401);

            let mut browser = Browser::new(&base);
            let (citizen, _) = errandless_identity::testing::resident(3);
            register(&mut browser, &channel, 3, "13700000003");
            let token = access_token(&base, &secret, &mut browser, "13700000003");
            let (status, mine) = call(
                &base,
                "GET",
                "/registration/applications",
                Some(&token),
                None,
            );
            assert_eq!((status, mine.clone()), (200, json!([])));

            // A file with a field error, then a good one.
            let path = "/registration/services/student-status-certificate/applications";
            let bad = json!({ "applicantId": citizen, "formData": { "data": { "name": "李华" } } });
            let (status, errors) = call(&base, "POST", path, Some(&token), Some(bad));
            assert_eq!(status, 400, "{errors}");
            assert!(errors["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|e| e["field"] == "purpose")));
            let (someone_else, _) = errandless_identity::testing::resident(5);
            let other = json!({ "applicantId": someone_else, "formData": { "data": {} } });
            let (status, _) = call(&base, "POST", path, Some(&token), Some(other));
            assert_eq!(status, 403, "only for oneself");
            let (status, _) = call(
                &base,
                "POST",
                path,
                Some(&token),
                Some(json!({"nonsense": 1})),
            );
            assert_eq!(status, 400);
            let good = json!({
                "applicantId": citizen,
                "formData": { "data": {
                    "name": "李华", "student_no": "S1", "school": "贵州大学", "purpose": "abroad"
                } }
            });
            let (status, file) = call(&base, "POST", path, Some(&token), Some(good));
            assert_eq!(status, 201, "{file}");
            assert_eq!(file["serviceId"], "student-status-certificate");
            assert_eq!(file["status"]["code"], "PENDING", "{file}");
            let id = file["fileId"].as_str().expect("a file id").to_owned();
            let (status, listed) = call(
                &base,
                "GET",
                "/registration/applications",
                Some(&token),
                None,
            );
            assert_eq!(status, 200);
            assert_eq!(listed[0]["fileId"], id.as_str());
            let (status, again) = call(
                &base,
                "GET",
                &format!("/registration/applications/{id}"),
                Some(&token),
                None,
            );
            assert_eq!(status, 200);
            assert_eq!(
                again["applicationData"]["formData"]["data"]["school"],
                "贵州大学"
            );

            // Another citizen does not see it.
            let mut second = Browser::new(&base);
            register(&mut second, &channel, 4, "13700000004");
            let theirs = access_token(&base, &secret, &mut second, "13700000004");
            let (status, _) = call(
                &base,
                "GET",
                &format!("/registration/applications/{id}"),
                Some(&theirs),
                None,
            );
            assert_eq!(status, 404);
            let (status, none) = call(
                &base,
                "GET",
                "/registration/applications",
                Some(&theirs),
                None,
            );
            assert_eq!((status, none), (200, json!([])));
        })
        .await
        .expect("the test body passes");
        idp.stop().await;
    })
    .await;
}
