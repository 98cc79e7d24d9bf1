//! The whole login with the `openidconnect` crate as an independent relying party, over a real
//! server on loopback: discovery, authorisation with PKCE, login and consent as form posts,
//! the code exchange, the ID token verified against the JWKS (RS256 and EdDSA), UserInfo,
//! refresh with rotation, and RP-initiated logout.

mod common;

use common::{
    log_in, register, resident, start, Browser, AFTER_LOGOUT, CLIENT, EDDSA_CLIENT, REDIRECT,
};
use errandless_store::testing::for_each_backend;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

fn walk(
    base: String,
    secret: String,
    eddsa_secret: String,
    channel: errandless_identity::DevelopmentChannel,
) {
    let mut browser = Browser::new(&base);
    register(&mut browser, &channel, 0, "13700000001");
    let (citizen_id, name) = resident(0);

    let http = common::http;
    let metadata = CoreProviderMetadata::discover(&IssuerUrl::new(base.clone()).unwrap(), &http)
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(CLIENT.into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("phone".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = log_in(&mut browser, url.as_str(), "13700000001");
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(back.location.as_deref().unwrap().starts_with(REDIRECT));
    assert_eq!(
        back.param("state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(back.param("iss").as_deref(), Some(base.as_str()));
    let code = back.param("code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request(&http)
        .expect("the code is exchanged");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies against the JWKS");
    let sub = claims.subject().as_str().to_owned();
    assert!(!sub.contains(&citizen_id), "sub is a pseudonym");
    assert_eq!(
        claims.auth_context_ref(),
        Some(&AuthenticationContextClass::new("L2".into()))
    );

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request(&http)
        .expect("UserInfo answers");
    assert_eq!(info.subject().as_str(), sub);
    let shown = info
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned());
    assert_eq!(shown.as_deref(), Some(name.as_str()));
    assert_eq!(
        info.phone_number().map(|p| p.as_str()),
        Some("+8613700000001")
    );
    let raw: serde_json::Value = serde_json::to_value(&info).unwrap();
    assert!(
        raw.get("citizen_id").is_none(),
        "no ID number without its scope"
    );

    // Refresh: a new pair; the old refresh token is spent.
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let renewed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request(&http)
        .expect("refreshes");
    assert_ne!(renewed.refresh_token().unwrap().secret(), refresh.secret());
    let again: CoreUserInfoClaims = client
        .user_info(renewed.access_token().clone(), None)
        .unwrap()
        .request(&http)
        .expect("the new access token works");
    assert_eq!(again.subject().as_str(), sub);

    // The same citizen in another app, whose ID tokens are EdDSA: a different pairwise sub,
    // and no login page, since the session is alive (consent is asked once per app).
    let eddsa = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(EDDSA_CLIENT.into()),
        Some(ClientSecret::new(eddsa_secret)),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = eddsa
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let page = browser.get(url.as_str());
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("decision"),
        "straight to consent: {}",
        page.body
    );
    let back = common::consent(
        &mut browser,
        &format!("/oauth/consent?request={}", page.field("request")),
    );
    let tokens = eddsa
        .exchange_code(AuthorizationCode::new(back.param("code").expect("a code")))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request(&http)
        .expect("exchanged");
    let id_token = tokens.id_token().unwrap();
    assert_eq!(
        id_token.signing_alg().unwrap(),
        &CoreJwsSigningAlgorithm::EdDsa
    );
    let verifier = eddsa
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EdDsa]);
    let claims = id_token.claims(&verifier, &nonce).expect("EdDSA verifies");
    assert_ne!(
        claims.subject().as_str(),
        sub,
        "pairwise: each app its own sub"
    );

    // RP-initiated logout ends the session; the next authorisation asks for a login again.
    let out = browser.get(&format!(
        "/oauth/logout?id_token_hint={}&post_logout_redirect_uri={}&state=s1",
        id_token, AFTER_LOGOUT
    ));
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(
        out.location.as_deref(),
        Some(format!("{AFTER_LOGOUT}?state=s1").as_str())
    );
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let page = browser.get(url.as_str());
    assert!(
        page.body.contains("name=\"password\""),
        "logged out: {}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_logs_a_demo_citizen_in_through_the_standard_flow() {
    for_each_backend(|store| async move {
        let idp = start(store).await;
        let (base, secret, eddsa, channel) = (
            idp.base.clone(),
            idp.secret.clone(),
            idp.eddsa_secret.clone(),
            idp.channel.clone(),
        );
        tokio::task::spawn_blocking(move || walk(base, secret, eddsa, channel))
            .await
            .expect("the walk passes");
        idp.stop().await;
    })
    .await;
}

/// A service that needs L3 asks for the second factor: a password alone is refused, a TOTP
/// code gets through, and the ID token says `acr` L3 with `amr` pwd and otp.
fn step_up(
    base: String,
    secret: String,
    channel: errandless_identity::DevelopmentChannel,
    provider: errandless_identity::Provider,
) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    use errandless_identity::totp;
    let mut browser = Browser::new(&base);
    let account = register(&mut browser, &channel, 1, "13700000002");
    let rt = tokio::runtime::Handle::current();
    let key = rt
        .block_on(provider.accounts().begin_totp(&account))
        .unwrap();
    let now = errandless_identity::now_millis();
    let step = totp::step_of((now / 1000) as u64);
    rt.block_on(
        provider
            .accounts()
            .confirm_totp(&account, &totp::code_at(&key, step), now),
    )
    .expect("TOTP on");

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={CLIENT}&redirect_uri={REDIRECT}&scope=openid&state=st&nonce=nn&code_challenge={}&code_challenge_method=S256&acr_values=L3",
        challenge.as_str()
    );
    let page = browser.get(&url);
    assert!(page.body.contains("第二因素"), "{}", page.body);
    let (request, token) = (page.field("request"), page.field("form_token"));
    let password_only = browser.post(
        "/oauth/login",
        &[
            ("request", &request),
            ("form_token", &token),
            ("phone", "13700000002"),
            ("password", common::PASSWORD),
        ],
    );
    assert_eq!(password_only.status, 401, "{}", password_only.body);
    assert!(password_only.body.contains("L3"), "{}", password_only.body);
    let with_code = browser.post(
        "/oauth/login",
        &[
            ("request", &request),
            ("form_token", &token),
            ("phone", "13700000002"),
            ("password", common::PASSWORD),
            ("totp", &totp::code_at(&key, step + 1)),
        ],
    );
    assert_eq!(with_code.status, 303, "{}", with_code.body);
    let back = common::consent(&mut browser, with_code.location.as_deref().unwrap());
    let code = back.param("code").expect("a code");
    let answer = browser.post(
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
            ("client_id", CLIENT),
            ("client_secret", &secret),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let tokens: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["acr"], "L3");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_needs_level_three_gets_the_second_factor() {
    for_each_backend(|store| async move {
        let idp = start(store).await;
        let (base, secret, channel, provider) = (
            idp.base.clone(),
            idp.secret.clone(),
            idp.channel.clone(),
            idp.provider.clone(),
        );
        tokio::task::spawn_blocking(move || step_up(base, secret, channel, provider))
            .await
            .expect("the walk passes");
        idp.stop().await;
    })
    .await;
}

#[test]
fn the_openapi_document_lists_the_provider_endpoints() {
    let doc = serde_json::to_value(errandless_server::openapi()).expect("serialises");
    for path in [
        "/.well-known/openid-configuration",
        "/oauth/jwks",
        "/oauth/authorize",
        "/oauth/login",
        "/oauth/consent",
        "/oauth/token",
        "/oauth/userinfo",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/logout",
        "/account/register",
        "/account/confirm",
        "/account/logout-everywhere",
        "/data/{dataset}/{version}/read",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["schemas"].get("TokenAnswer").is_some());
}
