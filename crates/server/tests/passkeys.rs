//! Passkeys over HTTP with a software authenticator: a citizen at L2 registers a passkey,
//! steps the session up to L3 with it (a new session cookie), and an app that needs L3 gets an
//! ID token with `acr` L3 and `amr` pwd and pop. Cross-site posts, missing sessions, bad bodies
//! and an answer for another origin are refused, never with a 500.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use common::{register, start_on, Browser, CLIENT, REDIRECT};
use errandless_server::SESSION_COOKIE;
use errandless_store::testing::for_each_backend;
use serde_json::{json, Value};
use sha2::Digest as _;
use url::Url;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::AuthenticatorBackend;

fn authorize_url(n: u32, acr: &str) -> (String, String) {
    let verifier = format!("passkey-walk-verifier-{n:0>30}");
    let challenge = B64.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (
        format!(
            "/oauth/authorize?response_type=code&client_id={CLIENT}&redirect_uri={REDIRECT}&scope=openid&state=pk{n}&nonce=pk{n}&code_challenge={challenge}&code_challenge_method=S256&acr_values={acr}"
        ),
        verifier,
    )
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn walk(base: String, secret: String, channel: errandless_identity::DevelopmentChannel) {
    let origin = Some(base.as_str());
    let mut browser = Browser::new(&base);
    register(&mut browser, &channel, 3, "13700000031");

    // Nothing without a session.
    let none = browser.post_json_from("/account/passkeys/register/start", json!({}), origin);
    assert_eq!(none.status, 401, "{}", none.body);

    let (url, _) = authorize_url(1, "L2");
    let back = common::log_in(&mut browser, &url, "13700000031");
    assert!(back.param("code").is_some(), "{back:?}");

    // Register a passkey.
    let (mut token, _) = SoftToken::new(true).unwrap();
    let started = browser.post_json_from("/account/passkeys/register/start", json!({}), origin);
    assert_eq!(started.status, 200, "{}", started.body);
    let started = json_of(&started.body);
    let options = serde_json::from_value::<errandless_identity::CreationChallengeResponse>(
        started["options"].clone(),
    )
    .unwrap();
    let answer = token
        .perform_register(Url::parse(&base).unwrap(), options.public_key, 60_000)
        .unwrap();
    let cross_site = browser.post_json_from(
        "/account/passkeys/register/finish",
        json!({ "ceremony": started["ceremony"], "name": "phone", "credential": answer }),
        Some("https://evil.example"),
    );
    assert_eq!(cross_site.status, 401, "{}", cross_site.body);
    let bad = browser.post_json_from(
        "/account/passkeys/register/finish",
        json!({ "ceremony": 7 }),
        origin,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let made = browser.post_json_from(
        "/account/passkeys/register/finish",
        json!({ "ceremony": started["ceremony"], "name": "phone", "credential": answer }),
        origin,
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let listed = json_of(&browser.get("/account/passkeys").body);
    assert_eq!(listed["passkeys"][0]["name"], "phone");

    // An app that needs L3: the L2 session gets the login page, until the passkey steps it up.
    let (url, _) = authorize_url(2, "L3");
    let page = browser.get(&url);
    assert!(page.body.contains("第二因素"), "{}", page.body);
    let before = browser.cookies[SESSION_COOKIE].clone();

    let auth = |browser: &mut Browser, token: &mut SoftToken, answer_origin: &str| {
        let started =
            browser.post_json_from("/account/passkeys/authenticate/start", json!({}), origin);
        assert_eq!(started.status, 200, "{}", started.body);
        let started = json_of(&started.body);
        let options = serde_json::from_value::<errandless_identity::RequestChallengeResponse>(
            started["options"].clone(),
        )
        .unwrap();
        let answer = token
            .perform_auth(
                Url::parse(answer_origin).unwrap(),
                options.public_key,
                60_000,
            )
            .unwrap();
        browser.post_json_from(
            "/account/passkeys/authenticate/finish",
            json!({ "ceremony": started["ceremony"], "credential": answer }),
            origin,
        )
    };
    let port = Url::parse(&base).unwrap().port().unwrap();
    let phished = auth(
        &mut browser,
        &mut token,
        &format!("http://phish.localhost:{port}"),
    );
    assert_eq!(phished.status, 403, "{}", phished.body);
    assert_eq!(json_of(&phished.body)["code"], "wrong_origin");
    let stepped = auth(&mut browser, &mut token, &base);
    assert_eq!(stepped.status, 200, "{}", stepped.body);
    assert_eq!(json_of(&stepped.body)["level"], "L3");
    assert_ne!(
        browser.cookies[SESSION_COOKIE], before,
        "the session id changes with the level"
    );

    // A new request (state and nonce are single-use): consent was given, so the code comes back.
    let (url, verifier) = authorize_url(3, "L3");
    let back = browser.get(&url);
    let code = back.param("code").unwrap_or_else(|| panic!("{back:?}"));
    let answer = browser.post(
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", CLIENT),
            ("client_secret", &secret),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let tokens = json_of(&answer.body);
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let claims: Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["acr"], "L3");
    assert_eq!(claims["amr"], json!(["pwd", "pop"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_steps_a_session_up_to_level_three() {
    for_each_backend(|store| async move {
        let idp = start_on(store, "localhost").await;
        let (base, secret, channel) = (idp.base.clone(), idp.secret.clone(), idp.channel.clone());
        tokio::task::spawn_blocking(move || walk(base, secret, channel))
            .await
            .expect("the walk passes");
        idp.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_are_off_on_an_ip_address_and_say_so() {
    for_each_backend(|store| async move {
        let idp = common::start(store).await;
        let base = idp.base.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let mut browser = Browser::new(&base);
            browser.post_json_from("/account/passkeys/register/start", json!({}), Some(&base))
        })
        .await
        .unwrap();
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert!(
            answer.body.contains("passkeys_unavailable"),
            "{}",
            answer.body
        );
        idp.stop().await;
    })
    .await;
}
