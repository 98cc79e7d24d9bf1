//! The provider's keys and subjects on both backends: rotation keeps retired keys published
//! for a day so tokens they signed still verify; pairwise subjects are stable per client and
//! differ between clients.

use errandless_identity::provider::{jose, Alg, Keys, PUBLISH_RETIRED_MS};
use errandless_identity::{migrate, Accounts, DevelopmentChannel, Outbox, Provider, Secret};
use errandless_store::testing::for_each_backend;
use serde_json::json;
use std::sync::Arc;

const T0: i64 = 1_800_000_000_000;

#[tokio::test]
async fn rotation_signs_with_new_keys_and_keeps_the_old_ones_published_for_a_day() {
    for_each_backend(|store| async move {
        migrate(&store).await.unwrap();
        let keys = Keys::open(store.clone(), T0).await.expect("keys made");
        let old = keys.signing(Alg::Rs256).unwrap();
        let old_ed = keys.signing(Alg::EdDsa).unwrap();
        assert_eq!(keys.published().len(), 2);
        let token = old.sign(&json!({"sub": "a"}));
        let ed_token = old_ed.sign(&json!({"sub": "b"}));

        // Another process opening the same store finds the same keys rather than making more.
        let again = Keys::open(store.clone(), T0).await.unwrap();
        assert_eq!(again.signing(Alg::Rs256).unwrap().kid, old.kid);

        keys.rotate(T0 + 1).await.expect("rotates");
        let new = keys.signing(Alg::Rs256).unwrap();
        assert_ne!(new.kid, old.kid);
        assert_ne!(keys.signing(Alg::EdDsa).unwrap().kid, old_ed.kid);
        assert_eq!(keys.published().len(), 4, "old and new are published");
        assert!(jose::verify(&token, &keys.published()).is_ok());
        assert!(jose::verify(&ed_token, &keys.published()).is_ok());
        let jwks = keys.jwks();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(kids.contains(&old.kid.as_str()) && kids.contains(&new.kid.as_str()));
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k.get("d").is_none() && k.get("p").is_none()),
            "no private parts"
        );

        keys.reload(T0 + 1 + PUBLISH_RETIRED_MS + 1).await.unwrap();
        assert_eq!(
            keys.published().len(),
            2,
            "a day later only the new keys are published"
        );
        assert!(jose::verify(&token, &keys.published()).is_err());
        assert!(jose::verify(&new.sign(&json!({})), &keys.published()).is_ok());
    })
    .await;
}

#[tokio::test]
async fn pairwise_subjects_are_stable_per_client_and_differ_between_clients() {
    for_each_backend(|store| async move {
        migrate(&store).await.unwrap();
        let secret = Secret::load_or_create(&store).await.unwrap();
        let outbox = Outbox::new(
            store.clone(),
            Arc::new(DevelopmentChannel::new(store.clone())),
        );
        let accounts = Accounts::new(store.clone(), outbox, secret.clone());
        let provider = Provider::open(
            store.clone(),
            "https://id.example.gov/",
            accounts,
            secret,
            T0,
        )
        .await
        .unwrap();
        assert_eq!(provider.issuer(), "https://id.example.gov");
        let a = provider.subject("app-a", "account-1");
        assert_eq!(a, provider.subject("app-a", "account-1"));
        assert_ne!(a, provider.subject("app-b", "account-1"));
        assert_ne!(a, provider.subject("app-a", "account-2"));
        assert!(
            !a.contains("account"),
            "the account id does not show through"
        );
        let d = provider.discovery();
        assert_eq!(d["subject_types_supported"], json!(["pairwise"]));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            d["id_token_signing_alg_values_supported"],
            json!(["RS256", "EdDSA"])
        );
    })
    .await;
}

#[tokio::test]
async fn sweeping_deletes_only_what_has_expired() {
    for_each_backend(|store| async move {
        migrate(&store).await.unwrap();
        let secret = Secret::load_or_create(&store).await.unwrap();
        let outbox = Outbox::new(
            store.clone(),
            Arc::new(DevelopmentChannel::new(store.clone())),
        );
        let accounts = Accounts::new(store.clone(), outbox, secret.clone());
        let provider = Provider::open(
            store.clone(),
            "https://id.example.gov",
            accounts,
            secret,
            T0,
        )
        .await
        .unwrap();
        provider
            .clients()
            .add(
                &errandless_identity::NewClient {
                    id: "app".into(),
                    name: "App".into(),
                    purpose: "p".into(),
                    redirect_uris: vec!["https://app.example.gov/cb".into()],
                    post_logout_redirect_uris: vec![],
                    scopes: vec![],
                    confidential: false,
                    id_token_alg: Alg::EdDsa,
                    min_level: errandless_identity::Level::L1,
                },
                T0,
            )
            .await
            .unwrap();
        let params = errandless_identity::AuthorizeParams {
            client_id: Some("app".into()),
            redirect_uri: Some("https://app.example.gov/cb".into()),
            response_type: Some("code".into()),
            scope: Some("openid".into()),
            state: Some("s".into()),
            nonce: Some("n".into()),
            code_challenge: Some("a".repeat(43)),
            code_challenge_method: Some("S256".into()),
            acr_values: None,
        };
        let pending = provider.authorize(&params, None, T0).await.expect("kept");
        assert_eq!(
            provider.sweep(T0 + 1).await.unwrap(),
            0,
            "nothing has expired yet"
        );
        assert!(provider
            .pending(&pending.id, &pending.browser, T0 + 1)
            .await
            .is_ok());
        let swept = provider.sweep(T0 + 2 * 24 * 3_600_000).await.unwrap();
        assert_eq!(swept, 3, "the request, its nonce and its state");
        assert!(provider
            .pending(&pending.id, &pending.browser, T0 + 1)
            .await
            .is_err());
    })
    .await;
}

/// A provider with a public client `app` and a confirmed citizen logged in, for code flows.
async fn logged_in(store: &errandless_store::Store) -> (Provider, errandless_identity::Session) {
    migrate(store).await.unwrap();
    let secret = Secret::load_or_create(store).await.unwrap();
    let channel = DevelopmentChannel::new(store.clone());
    let outbox = Outbox::new(store.clone(), Arc::new(channel.clone()));
    let accounts = Accounts::new(store.clone(), outbox, secret.clone());
    let provider = Provider::open(
        store.clone(),
        "https://id.example.gov",
        accounts,
        secret,
        T0,
    )
    .await
    .unwrap();
    provider
        .clients()
        .add(
            &errandless_identity::NewClient {
                id: "app".into(),
                name: "App".into(),
                purpose: "p".into(),
                redirect_uris: vec!["https://app.example.gov/cb".into()],
                post_logout_redirect_uris: vec![],
                scopes: vec![],
                confidential: false,
                id_token_alg: Alg::EdDsa,
                min_level: errandless_identity::Level::L1,
            },
            T0,
        )
        .await
        .unwrap();
    let citizen_id = errandless_standards::CitizenId::compose(
        520102,
        errandless_standards::Date::new(1990, 1, 1).unwrap(),
        7,
    );
    let account = provider
        .accounts()
        .register(
            &errandless_identity::NewAccount {
                citizen_id: citizen_id.as_str().to_owned(),
                name: "测试".into(),
                phone: "13900000007".into(),
                password: "a long passphrase".into(),
            },
            T0,
        )
        .await
        .unwrap();
    provider.accounts().deliver().await.unwrap();
    let body = channel
        .messages_to("13900000007")
        .await
        .unwrap()
        .pop()
        .unwrap()
        .body;
    let at = body.find(|c: char| c.is_ascii_digit()).unwrap();
    provider
        .accounts()
        .confirm_phone(&account.id, &body[at..at + 6], T0)
        .await
        .unwrap();
    let (_, session) = errandless_identity::Sessions::new(store.clone())
        .start(
            &account.id,
            errandless_identity::Level::L1,
            &["pwd".into()],
            None,
            T0,
        )
        .await
        .unwrap();
    (provider, session)
}

/// A fresh code for `app` and the token request that redeems it.
async fn code_request(
    provider: &Provider,
    session: &errandless_identity::Session,
    n: usize,
) -> errandless_identity::TokenRequest {
    use base64::Engine as _;
    use sha2::Digest as _;
    let verifier = format!("verifier-{n:0>40}");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let params = errandless_identity::AuthorizeParams {
        client_id: Some("app".into()),
        redirect_uri: Some("https://app.example.gov/cb".into()),
        response_type: Some("code".into()),
        scope: Some("openid".into()),
        state: Some(format!("state-{n}")),
        nonce: Some(format!("nonce-{n}")),
        code_challenge: Some(challenge),
        code_challenge_method: Some("S256".into()),
        acr_values: None,
    };
    let pending = provider.authorize(&params, None, T0).await.expect("kept");
    let to = provider
        .approve(&pending.id, &pending.browser, session, T0)
        .await
        .expect("approved");
    let code = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    errandless_identity::TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: Some(code),
        redirect_uri: Some("https://app.example.gov/cb".into()),
        code_verifier: Some(verifier),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_redeemed_many_times_at_once_gives_tokens_exactly_once() {
    for_each_backend(|store| async move {
        let (provider, session) = logged_in(&store).await;
        let app = errandless_identity::ClientAuth {
            id: Some("app".into()),
            secret: None,
        };
        let contested = code_request(&provider, &session, 0).await;
        let mut others = Vec::new();
        for n in 1..=8 {
            others.push(code_request(&provider, &session, n).await);
        }
        // Sixteen redemptions of one code race eight redemptions of other codes, so the
        // contested ones share batches with each other and with honest requests.
        let mut tasks = Vec::new();
        for i in 0..24 {
            let (provider, app) = (provider.clone(), app.clone());
            let request = if i % 3 == 2 {
                others[i / 3].clone()
            } else {
                contested.clone()
            };
            tasks.push(tokio::spawn(async move {
                (i % 3 == 2, provider.token(&request, &app, T0 + 1).await)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (true, answer) => {
                    answer.expect("an uncontested code is redeemed");
                }
                (false, Ok(tokens)) => winners.push(tokens),
                (false, Err(e)) => assert_eq!(e.error, "invalid_grant", "{e}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one redemption gets tokens");
        // The other redemptions were a reuse: what the first one gave is revoked.
        assert!(provider
            .userinfo(&winners[0].access_token, T0 + 2)
            .await
            .is_err());

        // A refresh token used twice at once: one rotation, and the family is revoked.
        let fresh = provider
            .token(&others[7], &app, T0 + 1)
            .await
            .expect_err("already redeemed above");
        assert_eq!(fresh.error, "invalid_grant");
        let tokens = provider
            .token(&code_request(&provider, &session, 100).await, &app, T0 + 1)
            .await
            .unwrap();
        let refresh = errandless_identity::TokenRequest {
            grant_type: Some("refresh_token".into()),
            refresh_token: Some(tokens.refresh_token.clone()),
            ..Default::default()
        };
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (provider, app, refresh) = (provider.clone(), app.clone(), refresh.clone());
            tasks.push(tokio::spawn(async move {
                provider.token(&refresh, &app, T0 + 2).await
            }));
        }
        let mut rotated = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                rotated += 1;
            }
        }
        assert_eq!(rotated, 1, "a refresh token rotates once");
        assert!(provider
            .userinfo(&tokens.access_token, T0 + 3)
            .await
            .is_err());
    })
    .await;
}
