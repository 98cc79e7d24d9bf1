//! The passkey ceremonies for real, with a software authenticator, on both backends:
//! registration and authentication, and the refusals (a cloned authenticator whose counter
//! goes backwards, an answer made for another origin, a ceremony answered twice or by another
//! account).

use std::sync::Arc;

use errandless_identity::{
    migrate, Account, Accounts, DevelopmentChannel, NewAccount, Outbox, PasskeyError, Passkeys,
    Secret,
};
use errandless_store::testing::for_each_backend;
use errandless_store::Store;
use url::Url;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::AuthenticatorBackend;

const T0: i64 = 1_800_000_000_000;
const ORIGIN: &str = "https://id.example.gov";

async fn account(store: &Store, n: u16) -> Account {
    migrate(store).await.unwrap();
    let secret = Secret::load_or_create(store).await.unwrap();
    let channel = DevelopmentChannel::new(store.clone());
    let outbox = Outbox::new(store.clone(), Arc::new(channel.clone()));
    let accounts = Accounts::new(store.clone(), outbox, secret);
    let citizen_id = errandless_standards::CitizenId::compose(
        520102,
        errandless_standards::Date::new(1990, 1, 1).unwrap(),
        n,
    );
    let phone = format!("1390000{n:04}");
    let account = accounts
        .register(
            &NewAccount {
                citizen_id: citizen_id.as_str().to_owned(),
                name: "测试".into(),
                phone: phone.clone(),
                password: "a long passphrase".into(),
            },
            T0,
        )
        .await
        .unwrap();
    accounts.deliver().await.unwrap();
    let body = channel
        .messages_to(&phone)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .body;
    let at = body.find(|c: char| c.is_ascii_digit()).unwrap();
    accounts
        .confirm_phone(&account.id, &body[at..at + 6], T0)
        .await
        .unwrap()
}

/// A soft authenticator with a passkey registered for `account`.
async fn registered(passkeys: &Passkeys, account: &Account) -> SoftToken {
    let (mut token, _) = SoftToken::new(true).unwrap();
    let (ceremony, options) = passkeys.start_registration(account, T0).await.unwrap();
    let answer = token
        .perform_register(Url::parse(ORIGIN).unwrap(), options.public_key, 60_000)
        .expect("the authenticator makes a credential");
    // The answer travels as JSON, as from a browser.
    let answer = serde_json::from_str(&serde_json::to_string(&answer).unwrap()).unwrap();
    let info = passkeys
        .finish_registration(&account.id, &ceremony, &answer, "phone", T0)
        .await
        .expect("registered");
    assert_eq!(info.name, "phone");
    token
}

async fn authenticate(
    passkeys: &Passkeys,
    account: &Account,
    token: &mut SoftToken,
    origin: &str,
    now: i64,
) -> Result<(), PasskeyError> {
    let (ceremony, options) = passkeys.start_authentication(&account.id, now).await?;
    let answer = token
        .perform_auth(Url::parse(origin).unwrap(), options.public_key, 60_000)
        .expect("the authenticator signs");
    let answer = serde_json::from_str(&serde_json::to_string(&answer).unwrap()).unwrap();
    passkeys
        .finish_authentication(&account.id, &ceremony, &answer, now)
        .await
        .map(drop)
}

#[tokio::test]
async fn a_registered_passkey_authenticates_and_a_cloned_one_is_refused() {
    for_each_backend(|store| async move {
        let account = account(&store, 11).await;
        let passkeys = Passkeys::new(store.clone(), ORIGIN, "Errandless").unwrap();
        assert!(matches!(
            passkeys.start_authentication(&account.id, T0).await,
            Err(PasskeyError::NoPasskey)
        ));
        let mut token = registered(&passkeys, &account).await;
        let listed = passkeys.list(&account.id).await.unwrap();
        assert_eq!(listed.len(), 1);

        authenticate(&passkeys, &account, &mut token, ORIGIN, T0 + 1)
            .await
            .expect("the passkey authenticates");
        // A copy of the authenticator as it is now: same key, same counter.
        let mut clone = SoftToken::from_cbor(&token.to_cbor().unwrap()).unwrap();
        authenticate(&passkeys, &account, &mut token, ORIGIN, T0 + 2)
            .await
            .expect("the original goes on");
        let refused = authenticate(&passkeys, &account, &mut clone, ORIGIN, T0 + 3).await;
        assert!(
            matches!(refused, Err(PasskeyError::ClonedCredential)),
            "{refused:?}"
        );
        assert_eq!(
            passkeys.list(&account.id).await.unwrap()[0].last_used_at,
            Some(T0 + 2)
        );

        passkeys.remove(&account.id, &listed[0].id).await.unwrap();
        assert!(matches!(
            authenticate(&passkeys, &account, &mut token, ORIGIN, T0 + 4).await,
            Err(PasskeyError::NoPasskey)
        ));
    })
    .await;
}

#[tokio::test]
async fn an_answer_for_another_origin_or_ceremony_is_refused() {
    for_each_backend(|store| async move {
        let account = account(&store, 12).await;
        let other = account_in(&store, 13).await;
        let passkeys = Passkeys::new(store.clone(), ORIGIN, "Errandless").unwrap();
        let mut token = registered(&passkeys, &account).await;

        // A look-alike site under the same domain gets an answer from the authenticator, but
        // the answer names the site it was made for.
        let wrong = authenticate(
            &passkeys,
            &account,
            &mut token,
            "https://phish.id.example.gov",
            T0 + 1,
        )
        .await;
        assert!(matches!(wrong, Err(PasskeyError::WrongOrigin)), "{wrong:?}");

        // Registration from another origin is refused too.
        let (mut fresh, _) = SoftToken::new(true).unwrap();
        let (ceremony, options) = passkeys.start_registration(&account, T0).await.unwrap();
        let answer = fresh
            .perform_register(
                Url::parse("https://id.example.gov:8443").unwrap(),
                options.public_key,
                60_000,
            )
            .unwrap();
        let wrong = passkeys
            .finish_registration(&account.id, &ceremony, &answer, "second", T0)
            .await;
        assert!(matches!(wrong, Err(PasskeyError::WrongOrigin)), "{wrong:?}");

        // A ceremony is answered once, by its own account, in time.
        let (ceremony, options) = passkeys
            .start_authentication(&account.id, T0 + 2)
            .await
            .unwrap();
        let answer = token
            .perform_auth(Url::parse(ORIGIN).unwrap(), options.public_key, 60_000)
            .unwrap();
        assert!(matches!(
            passkeys
                .finish_authentication(&other.id, &ceremony, &answer, T0 + 2)
                .await,
            Err(PasskeyError::UnknownCeremony)
        ));
        let (ceremony, options) = passkeys
            .start_authentication(&account.id, T0 + 3)
            .await
            .unwrap();
        let answer = token
            .perform_auth(Url::parse(ORIGIN).unwrap(), options.public_key, 60_000)
            .unwrap();
        passkeys
            .finish_authentication(&account.id, &ceremony, &answer, T0 + 3)
            .await
            .expect("the right answer passes");
        assert!(matches!(
            passkeys
                .finish_authentication(&account.id, &ceremony, &answer, T0 + 3)
                .await,
            Err(PasskeyError::UnknownCeremony)
        ));
        let (ceremony, options) = passkeys
            .start_authentication(&account.id, T0 + 4)
            .await
            .unwrap();
        let answer = token
            .perform_auth(Url::parse(ORIGIN).unwrap(), options.public_key, 60_000)
            .unwrap();
        assert!(matches!(
            passkeys
                .finish_authentication(
                    &account.id,
                    &ceremony,
                    &answer,
                    T0 + 4 + errandless_identity::CEREMONY_MS
                )
                .await,
            Err(PasskeyError::UnknownCeremony)
        ));

        // A passkey cannot be named with nothing, and an IP address is no relying party.
        let (ceremony, _) = passkeys.start_registration(&account, T0).await.unwrap();
        assert!(matches!(
            passkeys
                .finish_registration(
                    &account.id,
                    &ceremony,
                    &answer_of(&mut fresh, &passkeys, &account).await,
                    " ",
                    T0
                )
                .await,
            Err(PasskeyError::InvalidName)
        ));
        assert!(matches!(
            Passkeys::new(store.clone(), "http://127.0.0.1:8080", "x"),
            Err(PasskeyError::Configuration(_))
        ));
    })
    .await;
}

/// An account in a store already migrated.
async fn account_in(store: &Store, n: u16) -> Account {
    account(store, n).await
}

async fn answer_of(
    token: &mut SoftToken,
    passkeys: &Passkeys,
    account: &Account,
) -> errandless_identity::RegisterPublicKeyCredential {
    let (_, options) = passkeys.start_registration(account, T0).await.unwrap();
    token
        .perform_register(Url::parse(ORIGIN).unwrap(), options.public_key, 60_000)
        .unwrap()
}
