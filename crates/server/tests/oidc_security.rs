//! Attacks on the provider, each refused: missing or wrong PKCE verifiers, reused and expired
//! codes, redirect URIs one character off, missing or replayed nonce and state, reused
//! refresh tokens (which revoke their family), forged and `alg=none` tokens, cross-site form
//! posts, session fixation and brute force; and bad input of every kind is never a 500.

mod common;

use common::{consent, register, start, Answer, Browser, CLIENT, EDDSA_CLIENT, PASSWORD, REDIRECT};
use errandless_identity::{DevelopmentChannel, Provider};
use errandless_server::SESSION_COOKIE;
use errandless_store::testing::for_each_backend;
use errandless_store::Store;
use openidconnect::url::Url;
use openidconnect::PkceCodeChallenge;
use serde_json::Value;

struct Ctx {
    base: String,
    secret: String,
    eddsa_secret: String,
    channel: DevelopmentChannel,
    provider: Provider,
}

async fn with_idp(store: Store, test: fn(Ctx)) {
    let idp = start(store).await;
    let ctx = Ctx {
        base: idp.base.clone(),
        secret: idp.secret.clone(),
        eddsa_secret: idp.eddsa_secret.clone(),
        channel: idp.channel.clone(),
        provider: idp.provider.clone(),
    };
    tokio::task::spawn_blocking(move || test(ctx))
        .await
        .expect("the test body passes");
    idp.stop().await;
}

fn pkce() -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    (challenge.as_str().to_owned(), verifier.secret().clone())
}

/// An authorisation path; `None` leaves a parameter out.
fn authorize(
    client: &str,
    redirect: &str,
    state: Option<&str>,
    nonce: Option<&str>,
    challenge: Option<(&str, &str)>,
) -> String {
    let mut url = Url::parse("http://x/oauth/authorize").unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid profile");
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        if let Some(n) = nonce {
            q.append_pair("nonce", n);
        }
        if let Some((c, m)) = challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", m);
        }
    }
    format!("/oauth/authorize?{}", url.query().unwrap())
}

fn unique(label: &str) -> String {
    format!("{label}-{}", errandless_identity::now_millis())
        + &PkceCodeChallenge::new_random_sha256().1.secret()[..8]
}

/// Logs the browser in through a fresh authorisation and returns (code, verifier).
fn code(browser: &mut Browser, phone: &str) -> (String, String) {
    let (challenge, verifier) = pkce();
    let path = authorize(
        CLIENT,
        REDIRECT,
        Some(&unique("s")),
        Some(&unique("n")),
        Some((&challenge, "S256")),
    );
    let page = browser.get(&path);
    let back = if page.body.contains("name=\"password\"") {
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
        consent(browser, logged_in.location.as_deref().unwrap())
    } else if page.status == 303 {
        page
    } else {
        consent(
            browser,
            &format!("/oauth/consent?request={}", page.field("request")),
        )
    };
    (back.param("code").expect("a code"), verifier)
}

fn token(browser: &mut Browser, ctx: &Ctx, form: &[(&str, &str)]) -> (u16, Value) {
    let mut full = vec![
        ("client_id", CLIENT),
        ("client_secret", ctx.secret.as_str()),
    ];
    full.extend_from_slice(form);
    let a = browser.post("/oauth/token", &full);
    (
        a.status,
        serde_json::from_str(&a.body).unwrap_or(Value::Null),
    )
}

fn exchange(
    browser: &mut Browser,
    ctx: &Ctx,
    code: &str,
    verifier: Option<&str>,
    redirect: &str,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token(browser, ctx, &form)
}

fn userinfo(ctx: &Ctx, access: &str) -> u16 {
    match ureq::get(&format!("{}/oauth/userinfo", ctx.base))
        .set("authorization", &format!("Bearer {access}"))
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    }
}

fn error_of(a: &Answer) -> Option<String> {
    a.param("error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_pkce_verifier_is_refused() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            register(&mut b, &ctx.channel, 10, "13600000001");
            let (code, verifier) = code(&mut b, "13600000001");
            let (status, body) = exchange(&mut b, &ctx, &code, None, REDIRECT);
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{body}"
            );
            let (_, other) = pkce();
            let (status, body) = exchange(&mut b, &ctx, &code, Some(&other), REDIRECT);
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{body}"
            );
            let (status, body) = exchange(&mut b, &ctx, &code, Some(&verifier), REDIRECT);
            assert_eq!(status, 200, "the right verifier still works: {body}");

            // Authorisation requests without S256 PKCE are sent back with an error.
            let (challenge, _) = pkce();
            for p in [
                None,
                Some((challenge.as_str(), "plain")),
                Some(("short", "S256")),
            ] {
                let a = b.get(&authorize(
                    CLIENT,
                    REDIRECT,
                    Some(&unique("s")),
                    Some(&unique("n")),
                    p,
                ));
                assert_eq!(a.status, 303);
                assert_eq!(error_of(&a).as_deref(), Some("invalid_request"), "{p:?}");
            }
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_code_is_refused_and_revokes_its_tokens_and_an_expired_code_is_refused() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            register(&mut b, &ctx.channel, 11, "13600000002");
            let (code, verifier) = code(&mut b, "13600000002");
            let (status, first) = exchange(&mut b, &ctx, &code, Some(&verifier), REDIRECT);
            assert_eq!(status, 200, "{first}");
            let access = first["access_token"].as_str().unwrap().to_owned();
            assert_eq!(userinfo(&ctx, &access), 200);
            let (status, body) = exchange(&mut b, &ctx, &code, Some(&verifier), REDIRECT);
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{body}"
            );
            assert_eq!(
                userinfo(&ctx, &access),
                401,
                "the reuse revoked what the code gave"
            );
            let (status, _) = token(
                &mut b,
                &ctx,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", first["refresh_token"].as_str().unwrap()),
                ],
            );
            assert_eq!(status, 400, "the refresh token too");

            // A code one minute old is refused.
            let (code, verifier) = self::code(&mut b, "13600000002");
            let later =
                errandless_identity::now_millis() + errandless_identity::provider::CODE_MS + 1;
            let req = errandless_identity::TokenRequest {
                grant_type: Some("authorization_code".into()),
                code: Some(code),
                redirect_uri: Some(REDIRECT.into()),
                code_verifier: Some(verifier),
                ..Default::default()
            };
            let auth = errandless_identity::ClientAuth {
                id: Some(CLIENT.into()),
                secret: Some(ctx.secret.clone()),
            };
            let e = tokio::runtime::Handle::current()
                .block_on(ctx.provider.token(&req, &auth, later))
                .expect_err("expired");
            assert_eq!(e.error, "invalid_grant");
            assert!(e.description.contains("expired"), "{e}");
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_one_character_off_is_refused_without_redirecting() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            let (challenge, _) = pkce();
            let near = [
                REDIRECT.replace("callback", "callbacK"),
                format!("{REDIRECT}/"),
                REDIRECT.replace("127.0.0.1:9", "127.0.0.1:90"),
                REDIRECT.replace("http:", "https:"),
                format!("{REDIRECT}?x=1"),
            ];
            for uri in &near {
                let a = b.get(&authorize(
                    CLIENT,
                    uri,
                    Some(&unique("s")),
                    Some(&unique("n")),
                    Some((&challenge, "S256")),
                ));
                assert_eq!(a.status, 400, "{uri}");
                assert!(a.location.is_none(), "never redirected to {uri}");
            }
            // And at the token endpoint.
            register(&mut b, &ctx.channel, 12, "13600000003");
            let (code, verifier) = code(&mut b, "13600000003");
            let (status, body) = exchange(&mut b, &ctx, &code, Some(&verifier), &near[0]);
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{body}"
            );
            // A code is for the client it was issued to.
            let a = b.post(
                "/oauth/token",
                &[
                    ("client_id", EDDSA_CLIENT),
                    ("client_secret", &ctx.eddsa_secret),
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &verifier),
                ],
            );
            assert_eq!(a.status, 400, "{}", a.body);
            let (status, _) = exchange(&mut b, &ctx, &code, Some(&verifier), REDIRECT);
            assert_eq!(status, 200, "the refusals did not spend the code");
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_replayed_nonce_or_state_is_refused() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            let (challenge, _) = pkce();
            let c = Some((challenge.as_str(), "S256"));
            let a = b.get(&authorize(CLIENT, REDIRECT, Some("s-1"), None, c));
            assert_eq!(
                (a.status, error_of(&a).as_deref()),
                (303, Some("invalid_request"))
            );
            assert_eq!(a.param("state").as_deref(), Some("s-1"));
            let a = b.get(&authorize(CLIENT, REDIRECT, None, Some("n-1"), c));
            assert_eq!(
                (a.status, error_of(&a).as_deref()),
                (303, Some("invalid_request"))
            );

            let ok = b.get(&authorize(CLIENT, REDIRECT, Some("s-2"), Some("n-2"), c));
            assert_eq!(ok.status, 200, "{}", ok.body);
            let a = b.get(&authorize(CLIENT, REDIRECT, Some("s-3"), Some("n-2"), c));
            assert_eq!(
                error_of(&a).as_deref(),
                Some("invalid_request"),
                "a replayed nonce"
            );
            assert!(a.param("error_description").unwrap().contains("nonce"));
            let a = b.get(&authorize(CLIENT, REDIRECT, Some("s-2"), Some("n-4"), c));
            assert_eq!(
                error_of(&a).as_deref(),
                Some("invalid_request"),
                "a replayed state"
            );
            assert!(a.param("error_description").unwrap().contains("state"));
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            register(&mut b, &ctx.channel, 13, "13600000004");
            let (code, verifier) = code(&mut b, "13600000004");
            let (_, first) = exchange(&mut b, &ctx, &code, Some(&verifier), REDIRECT);
            let r1 = first["refresh_token"].as_str().unwrap().to_owned();
            let (status, second) = token(
                &mut b,
                &ctx,
                &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
            );
            assert_eq!(status, 200, "{second}");
            let r2 = second["refresh_token"].as_str().unwrap().to_owned();
            let a2 = second["access_token"].as_str().unwrap().to_owned();
            assert_eq!(userinfo(&ctx, &a2), 200);

            // An attacker replays the stolen first refresh token.
            let (status, body) = token(
                &mut b,
                &ctx,
                &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
            );
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{body}"
            );
            let (status, _) = token(
                &mut b,
                &ctx,
                &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
            );
            assert_eq!(
                status, 400,
                "the newest refresh token of the family is revoked too"
            );
            assert_eq!(userinfo(&ctx, &a2), 401, "and so are its access tokens");

            // Revocation (RFC 7009) and introspection (RFC 7662) on a fresh family.
            let (code, verifier) = self::code(&mut b, "13600000004");
            let (_, t) = exchange(&mut b, &ctx, &code, Some(&verifier), REDIRECT);
            let access = t["access_token"].as_str().unwrap();
            let introspect = |b: &mut Browser, client: &str, secret: &str, tok: &str| -> Value {
                let a = b.post(
                    "/oauth/introspect",
                    &[
                        ("client_id", client),
                        ("client_secret", secret),
                        ("token", tok),
                    ],
                );
                serde_json::from_str(&a.body).unwrap_or(Value::Null)
            };
            assert_eq!(
                introspect(&mut b, CLIENT, &ctx.secret, access)["active"],
                true
            );
            assert_eq!(
                introspect(&mut b, EDDSA_CLIENT, &ctx.eddsa_secret, access)["active"],
                false,
                "another client learns nothing"
            );
            assert_eq!(
                b.post(
                    "/oauth/introspect",
                    &[
                        ("client_id", CLIENT),
                        ("client_secret", "wrong"),
                        ("token", access)
                    ]
                )
                .status,
                401
            );
            let revoked = b.post(
                "/oauth/revoke",
                &[
                    ("client_id", CLIENT),
                    ("client_secret", &ctx.secret),
                    ("token", access),
                ],
            );
            assert_eq!(revoked.status, 200);
            assert_eq!(userinfo(&ctx, access), 401);
            assert_eq!(
                introspect(&mut b, CLIENT, &ctx.secret, access)["active"],
                false
            );
            let revoked = b.post(
                "/oauth/revoke",
                &[
                    ("client_id", CLIENT),
                    ("client_secret", &ctx.secret),
                    ("token", t["refresh_token"].as_str().unwrap()),
                ],
            );
            assert_eq!(revoked.status, 200);
            let (status, _) = token(
                &mut b,
                &ctx,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ],
            );
            assert_eq!(status, 400);
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_alg_none_tokens_are_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            register(&mut b, &ctx.channel, 14, "13600000005");
            let (code, verifier) = code(&mut b, "13600000005");
            let (_, t) = exchange(&mut b, &ctx, &code, Some(&verifier), REDIRECT);
            let id_token = t["id_token"].as_str().unwrap();
            let parts: Vec<&str> = id_token.split('.').collect();
            let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
            claims["sub"] = Value::from("someone-else");
            let payload = B64.encode(claims.to_string());
            let none = format!("{}.{payload}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#));
            let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
            let hs256 = format!(
                "{}.{payload}.{}",
                B64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
                parts[2]
            );
            for hint in [&none, &forged, &hs256] {
                let a = b.get(&format!(
                    "/oauth/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
                    common::AFTER_LOGOUT
                ));
                assert_eq!(a.status, 400, "{hint}: {}", a.body);
                assert!(a.location.is_none());
            }
            // The relying party's own verification refuses them too.
            use openidconnect::core::{CoreIdToken, CoreJsonWebKeySet};
            use openidconnect::{ClientId, IdTokenVerifier, IssuerUrl, Nonce};
            let jwks: CoreJsonWebKeySet = serde_json::from_str(&b.get("/oauth/jwks").body).unwrap();
            let verifier = IdTokenVerifier::new_confidential_client(
                ClientId::new(CLIENT.into()),
                openidconnect::ClientSecret::new(ctx.secret.clone()),
                IssuerUrl::new(ctx.base.clone()).unwrap(),
                jwks,
            );
            let real: CoreIdToken = id_token.parse().unwrap();
            let nonce = Nonce::new(claims["nonce"].as_str().unwrap().to_owned());
            real.claims(&verifier, &nonce)
                .expect("the real token verifies");
            for bad in [&none, &forged, &hs256] {
                if let Ok(t) = bad.parse::<CoreIdToken>() {
                    assert!(t.claims(&verifier, &nonce).is_err(), "{bad}");
                }
            }
            // Access tokens are opaque: a made-up or altered one is refused.
            let access = t["access_token"].as_str().unwrap();
            assert_eq!(userinfo(&ctx, &format!("{access}x")), 401);
            assert_eq!(
                userinfo(&ctx, id_token),
                401,
                "an ID token is not an access token"
            );
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_form_posts_are_refused() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            register(&mut b, &ctx.channel, 15, "13600000006");
            let (challenge, _) = pkce();
            let page = b.get(&authorize(
                CLIENT,
                REDIRECT,
                Some(&unique("s")),
                Some(&unique("n")),
                Some((&challenge, "S256")),
            ));
            let (request, token) = (page.field("request"), page.field("form_token"));
            let form = [
                ("request", request.as_str()),
                ("form_token", token.as_str()),
                ("phone", "13600000006"),
                ("password", PASSWORD),
            ];
            let evil = b.post_from("/oauth/login", &form, Some("http://evil.example"));
            assert_eq!(evil.status, 403, "{}", evil.body);
            // A cross-site post carries no SameSite=Lax cookie, so no flow cookie either.
            let mut other = Browser::new(&ctx.base);
            assert_eq!(other.post("/oauth/login", &form).status, 400);
            let wrong = [
                ("request", request.as_str()),
                ("form_token", "x"),
                ("phone", "13600000006"),
                ("password", PASSWORD),
            ];
            assert_eq!(b.post("/oauth/login", &wrong).status, 403);

            let logged_in = b.post("/oauth/login", &form);
            assert_eq!(logged_in.status, 303);
            let page = b.get(logged_in.location.as_deref().unwrap());
            let consent_token = page.field("form_token");
            let allow = [
                ("request", request.as_str()),
                ("form_token", consent_token.as_str()),
                ("decision", "allow"),
            ];
            assert_eq!(
                b.post_from("/oauth/consent", &allow, Some("http://evil.example"))
                    .status,
                403
            );
            assert_eq!(
                other.post("/oauth/consent", &allow).status,
                401,
                "no session cookie: nothing happens"
            );
            let forged = [
                ("request", request.as_str()),
                ("form_token", token.as_str()),
                ("decision", "allow"),
            ];
            assert_eq!(
                b.post("/oauth/consent", &forged).status,
                403,
                "the login token is not the consent token"
            );
            let done = b.post("/oauth/consent", &allow);
            assert_eq!(done.status, 303, "the real form still works: {}", done.body);
            assert!(done.param("code").is_some());
            assert_eq!(
                b.post_from(
                    "/account/logout-everywhere",
                    &[],
                    Some("http://evil.example")
                )
                .status,
                404
            );
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_planted_before_login_is_worthless_after_it() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            // The attacker sets a session cookie of their choosing in the victim's browser
            // (through a sibling subdomain, say) and waits for the victim to log in.
            let planted = "attacker-chosen-session-id-0000000000000000".to_owned();
            let mut victim = Browser::new(&ctx.base);
            register(&mut victim, &ctx.channel, 17, "13600000008");
            victim
                .cookies
                .insert(SESSION_COOKIE.into(), planted.clone());
            let (challenge, _) = pkce();
            let page = victim.get(&authorize(
                CLIENT,
                REDIRECT,
                Some(&unique("s")),
                Some(&unique("n")),
                Some((&challenge, "S256")),
            ));
            assert!(page.body.contains("name=\"password\""), "{}", page.body);
            let logged_in = victim.post(
                "/oauth/login",
                &[
                    ("request", &page.field("request")),
                    ("form_token", &page.field("form_token")),
                    ("phone", "13600000008"),
                    ("password", PASSWORD),
                ],
            );
            assert_eq!(logged_in.status, 303, "{}", logged_in.body);
            let issued = victim.cookies[SESSION_COOKIE].clone();
            assert_ne!(
                issued, planted,
                "the server chose a new session id at login"
            );
            assert!(
                logged_in
                    .set_cookies
                    .iter()
                    .any(|c| c.starts_with(&format!("{SESSION_COOKIE}={issued};"))
                        && c.contains("HttpOnly")
                        && c.contains("SameSite=Lax")),
                "{:?}",
                logged_in.set_cookies
            );
            // The victim's session works; the planted id opens nothing.
            assert_eq!(
                victim.get(logged_in.location.as_deref().unwrap()).status,
                200
            );
            let mut attacker = Browser::new(&ctx.base);
            attacker
                .cookies
                .insert(SESSION_COOKIE.into(), planted.clone());
            let (challenge, _) = pkce();
            let a = attacker.get(&authorize(
                CLIENT,
                REDIRECT,
                Some(&unique("s")),
                Some(&unique("n")),
                Some((&challenge, "S256")),
            ));
            assert!(
                a.body.contains("name=\"password\""),
                "the planted id is worth nothing: {}",
                a.body
            );
            let a = attacker.get(logged_in.location.as_deref().unwrap());
            assert_eq!(a.status, 401);

            // Log out everywhere ends the victim's session on every device.
            let out = victim.post("/account/logout-everywhere", &[]);
            assert_eq!(out.status, 200, "{}", out.body);
            let mut other_device = Browser::new(&ctx.base);
            other_device.cookies.insert(SESSION_COOKIE.into(), issued);
            assert_eq!(
                other_device
                    .get(logged_in.location.as_deref().unwrap())
                    .status,
                401
            );
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brute_force_run_is_locked_out_and_rate_limited() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut citizen = Browser::new(&ctx.base);
            register(&mut citizen, &ctx.channel, 18, "13600000009");
            code(&mut citizen, "13600000009"); // the citizen's phone now holds a device cookie
            citizen.cookies.remove(SESSION_COOKIE);

            let mut attacker = Browser::new(&ctx.base);
            let (challenge, _) = pkce();
            let page = attacker.get(&authorize(
                CLIENT,
                REDIRECT,
                Some(&unique("s")),
                Some(&unique("n")),
                Some((&challenge, "S256")),
            ));
            let (request, token) = (page.field("request"), page.field("form_token"));
            let attempt = |b: &mut Browser, password: &str| {
                b.post(
                    "/oauth/login",
                    &[
                        ("request", &request),
                        ("form_token", &token),
                        ("phone", "13600000009"),
                        ("password", password),
                    ],
                )
            };
            for i in 0..errandless_identity::THRESHOLD {
                assert_eq!(attempt(&mut attacker, &format!("guess-{i}")).status, 401);
            }
            let locked = attempt(&mut attacker, PASSWORD);
            assert_eq!(
                locked.status, 429,
                "even the right password waits: {}",
                locked.body
            );

            // The citizen's own device is not locked out.
            let (code, _) = code(&mut citizen, "13600000009");
            assert!(!code.is_empty());

            // One address trying many accounts meets the per-address limit.
            let mut limited = false;
            for _ in 0..errandless_server_limit() {
                if attempt(&mut attacker, "x").status == 429
                    && attempt(&mut attacker, "x").body.contains("尝试过多")
                {
                    limited = true;
                    break;
                }
            }
            assert!(limited, "the per-address limit holds");
        })
    })
    .await;
}

fn errandless_server_limit() -> u32 {
    40
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_never_a_server_error() {
    for_each_backend(|store| with_idp(store, |ctx| {
        let mut b = Browser::new(&ctx.base);
        let long = "x".repeat(20_000);
        let gets = [
            "/oauth/authorize".to_owned(),
            "/oauth/authorize?%%%".to_owned(),
            "/oauth/authorize?client_id=nobody&redirect_uri=x".to_owned(),
            format!("/oauth/authorize?client_id={CLIENT}&redirect_uri={REDIRECT}&response_type=token"),
            format!("/oauth/authorize?client_id={CLIENT}&redirect_uri={REDIRECT}&response_type=code&scope=openid&state={long}&nonce=n&code_challenge=x&code_challenge_method=S256"),
            format!("/oauth/authorize?client_id={CLIENT}&redirect_uri={REDIRECT}&response_type=code&scope=email"),
            "/oauth/consent".to_owned(),
            "/oauth/consent?request=nope".to_owned(),
            "/oauth/userinfo".to_owned(),
            "/oauth/logout?id_token_hint=a.b.c".to_owned(),
            "/oauth/logout?id_token_hint=%FF%FE&post_logout_redirect_uri=http://evil.example".to_owned(),
            "/oauth/logout?post_logout_redirect_uri=http://evil.example".to_owned(),
            "/oauth/jwks".to_owned(),
            "/.well-known/openid-configuration".to_owned(),
        ];
        for path in &gets {
            let a = b.get(path);
            assert!(a.status < 500, "GET {path}: {}", a.status);
        }
        let posts: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("/oauth/token", vec![]),
            ("/oauth/token", vec![("grant_type", "password")]),
            ("/oauth/token", vec![("grant_type", "authorization_code"), ("client_id", CLIENT)]),
            ("/oauth/token", vec![("grant_type", "authorization_code"), ("client_id", CLIENT), ("client_secret", &ctx.secret), ("code", "\u{0}\u{ffff}")]),
            ("/oauth/token", vec![("grant_type", "refresh_token"), ("client_id", CLIENT), ("client_secret", &ctx.secret), ("refresh_token", &long)]),
            ("/oauth/revoke", vec![]),
            ("/oauth/revoke", vec![("token", "x"), ("client_id", "nobody")]),
            ("/oauth/introspect", vec![("token", "x")]),
            ("/oauth/login", vec![]),
            ("/oauth/login", vec![("request", &long), ("form_token", "x")]),
            ("/oauth/consent", vec![("request", "x"), ("decision", "allow")]),
            ("/account/logout-everywhere", vec![]),
            ("/oauth/userinfo", vec![]),
        ];
        for (path, form) in &posts {
            let a = b.post(path, form);
            assert!(a.status < 500, "POST {path} {form:?}: {} {}", a.status, a.body);
        }
        for body in [
            serde_json::json!({}),
            serde_json::json!({"citizen_id": "123", "name": "x", "phone": "1", "password": "p"}),
            serde_json::json!({"citizen_id": 5, "name": null}),
            serde_json::json!({"account_id": "nobody", "code": "000000"}),
        ] {
            for path in ["/account/register", "/account/confirm"] {
                let a = b.post_json(path, body.clone());
                assert!(a.status < 500, "POST {path} {body}: {} {}", a.status, a.body);
            }
        }
        let raw = ureq::post(&format!("{}/oauth/token", ctx.base))
            .set("content-type", "application/json")
            .set("authorization", "Basic !!!")
            .send_string("{not json");
        let status = match raw { Ok(r) => r.status(), Err(ureq::Error::Status(s, _)) => s, Err(e) => panic!("{e}") };
        assert!(status < 500, "{status}");
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_does_not_tell_whether_a_phone_number_is_taken() {
    for_each_backend(|store| with_idp(store, |ctx| {
        let mut b = Browser::new(&ctx.base);
        register(&mut b, &ctx.channel, 6, "13700000061");
        let (citizen_id, name) = common::resident(7);
        let mut answers = Vec::new();
        for phone in ["13700000061", "13700000062"] {
            let made = b.post_json(
                "/account/register",
                serde_json::json!({ "citizen_id": citizen_id, "name": name, "phone": phone, "password": PASSWORD }),
            );
            let body: Value = serde_json::from_str(&made.body).expect("JSON");
            let id = body["account_id"].as_str().expect("an id").to_owned();
            let confirm = b.post_json(
                "/account/confirm",
                serde_json::json!({ "account_id": id, "code": "000000" }),
            );
            answers.push((made.status, id.len(), confirm.status, confirm.body.replace(&id, "")));
        }
        assert_eq!(answers[0], answers[1], "a taken and a free number are answered alike");
        assert_eq!(answers[0].0, 201);
        assert_eq!(answers[0].2, 400);
        let told = tokio::runtime::Handle::current()
            .block_on(ctx.channel.messages_to("13700000061"))
            .expect("messages");
        assert!(told.last().unwrap().body.contains("tried"), "the owner is told");
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_without_id_token_hint_asks_the_citizen_first() {
    for_each_backend(|store| {
        with_idp(store, |ctx| {
            let mut b = Browser::new(&ctx.base);
            register(&mut b, &ctx.channel, 8, "13700000081");
            code(&mut b, "13700000081");
            let logged_in = |b: &mut Browser| {
                let (challenge, _) = pkce();
                let path = authorize(
                    CLIENT,
                    REDIRECT,
                    Some(&unique("s")),
                    Some(&unique("n")),
                    Some((&challenge, "S256")),
                );
                b.get(&path).status == 303
            };
            assert!(logged_in(&mut b));

            // A link anyone could plant: the citizen is asked, and stays logged in meanwhile.
            let asked = b.get(&format!(
                "/oauth/logout?client_id={CLIENT}&post_logout_redirect_uri={}&state=z",
                common::AFTER_LOGOUT
            ));
            assert_eq!(asked.status, 200, "{}", asked.body);
            assert!(asked.body.contains("form_token"), "{}", asked.body);
            assert!(logged_in(&mut b), "a GET alone does not log out");

            let fields = [
                ("client_id", CLIENT.to_owned()),
                ("post_logout_redirect_uri", common::AFTER_LOGOUT.to_owned()),
                ("state", "z".to_owned()),
                ("form_token", asked.field("form_token")),
            ];
            let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let cross = b.post_from("/oauth/logout", &form, Some("https://evil.example"));
            assert_eq!(cross.status, 403, "{}", cross.body);
            let forged = b.post("/oauth/logout", &[("form_token", "forged")]);
            assert_eq!(forged.status, 403, "{}", forged.body);
            assert!(logged_in(&mut b), "refused posts do not log out");

            let out = b.post("/oauth/logout", &form);
            assert_eq!(out.status, 303, "{}", out.body);
            assert_eq!(
                out.location.as_deref(),
                Some(format!("{}?state=z", common::AFTER_LOGOUT).as_str())
            );
            assert!(!logged_in(&mut b), "confirmed: logged out");
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_https_the_cookies_are_host_only_and_secure() {
    for_each_backend(|store| async move {
        let idp = common::start_as(store, "https", "127.0.0.1").await;
        let (base, channel) = (idp.base.clone(), idp.channel.clone());
        tokio::task::spawn_blocking(move || {
            let mut b = Browser::new(&base);
            register(&mut b, &channel, 9, "13700000091");
            let (challenge, _) = pkce();
            let path = authorize(
                CLIENT,
                REDIRECT,
                Some(&unique("s")),
                Some(&unique("n")),
                Some((&challenge, "S256")),
            );
            let page = b.get(&path);
            let flow = page
                .set_cookies
                .iter()
                .find(|c| c.contains("errandless_flow"))
                .expect("a flow cookie");
            let logged_in = b.post(
                "/oauth/login",
                &[
                    ("request", &page.field("request")),
                    ("form_token", &page.field("form_token")),
                    ("phone", "13700000091"),
                    ("password", PASSWORD),
                ],
            );
            assert_eq!(logged_in.status, 303, "{}", logged_in.body);
            let mut set = logged_in.set_cookies.clone();
            set.push(flow.clone());
            for c in &set {
                assert!(c.starts_with("__Host-errandless_"), "{c}");
                assert!(
                    c.contains("; Secure") && c.contains("Path=/") && !c.contains("Domain"),
                    "{c}"
                );
            }
            // The server reads the prefixed names: the consent page knows the session...
            let consent = b.get(logged_in.location.as_deref().unwrap());
            assert_eq!(consent.status, 200, "{}", consent.body);
            assert!(consent.body.contains("decision"), "{}", consent.body);
            // ...and a bare-named cookie, which a sibling host could plant, is not a session.
            let session = b.cookies[&format!("__Host-{SESSION_COOKIE}")].clone();
            let mut planted = Browser::new(&base);
            planted.cookies.insert(SESSION_COOKIE.into(), session);
            let (challenge, _) = pkce();
            let path = authorize(
                CLIENT,
                REDIRECT,
                Some(&unique("s")),
                Some(&unique("n")),
                Some((&challenge, "S256")),
            );
            assert!(planted.get(&path).body.contains("name=\"password\""));
        })
        .await
        .expect("the walk passes");
        idp.stop().await;
    })
    .await;
}
