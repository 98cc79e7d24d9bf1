//! Registration, the phone code, the real-name check through the exchange, login with lockout,
//! TOTP and sessions, on both backends.

mod common;

use common::{citizen, fixture, last_code, resident, PASSWORD};
use errandless_identity::{
    totp, Credentials, IdentityError, Level, NewAccount, Sessions, Source, MAX_LOCK_MS,
    PHONE_CODE_MS, THRESHOLD,
};
use errandless_store::testing::for_each_backend;

const T0: i64 = 1_800_000_000_000;

fn login(phone: &str, password: &str) -> Credentials {
    Credentials {
        phone: phone.into(),
        password: password.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn registration_confirms_the_phone_then_checks_the_real_name_in_the_ledger() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let (citizen_id, name) = resident(0);
        let account = f
            .accounts
            .register(
                &NewAccount {
                    citizen_id: citizen_id.clone(),
                    name: name.clone(),
                    phone: "13800000001".into(),
                    password: PASSWORD.into(),
                },
                T0,
            )
            .await
            .expect("registers");
        assert_eq!(account.level(), None, "nothing is proven yet");
        assert!(
            matches!(
                f.accounts.login(&login("13800000001", PASSWORD), T0).await,
                Err(IdentityError::BadCredentials)
            ),
            "an unconfirmed account cannot log in"
        );
        assert!(matches!(
            f.accounts
                .check_real_name(&account.id, &f.registry, T0)
                .await,
            Err(IdentityError::PhoneNotConfirmed)
        ));

        let code = last_code(&f, "13800000001").await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert!(matches!(
            f.accounts.confirm_phone(&account.id, wrong, T0).await,
            Err(IdentityError::WrongCode)
        ));
        assert!(matches!(
            f.accounts
                .confirm_phone(&account.id, &code, T0 + PHONE_CODE_MS)
                .await,
            Err(IdentityError::CodeExpired)
        ));
        let account = f
            .accounts
            .confirm_phone(&account.id, &code, T0 + 1)
            .await
            .expect("confirms");
        assert_eq!(account.level(), Some(Level::L1));

        let before = f
            .exchange
            .accesses_of(&citizen_id, std::path::Path::new("no-datacenter"))
            .await
            .unwrap();
        let account = f
            .accounts
            .check_real_name(&account.id, &f.registry, T0 + 2)
            .await
            .expect("matches household registration");
        assert_eq!(account.level(), Some(Level::L2));
        let after = f
            .exchange
            .accesses_of(&citizen_id, std::path::Path::new("no-datacenter"))
            .await
            .unwrap();
        assert_eq!(
            after.len(),
            before.len() + 1,
            "the exchange recorded the read"
        );
        assert_eq!(account.real_name_ledger, after.last().copied());
    })
    .await;
}

#[tokio::test]
async fn a_wrong_name_is_refused_counted_and_cannot_hold_the_id_number() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let (citizen_id, name) = resident(1);
        let impostor = f
            .accounts
            .register(
                &NewAccount {
                    citizen_id: citizen_id.clone(),
                    name: format!("{name}甲"),
                    phone: "13800000002".into(),
                    password: PASSWORD.into(),
                },
                T0,
            )
            .await
            .expect("registers");
        let code = last_code(&f, "13800000002").await;
        f.accounts
            .confirm_phone(&impostor.id, &code, T0)
            .await
            .unwrap();
        for i in 0..THRESHOLD {
            assert!(matches!(
                f.accounts
                    .check_real_name(&impostor.id, &f.registry, T0 + i)
                    .await,
                Err(IdentityError::RealNameMismatch)
            ));
        }
        assert!(
            matches!(
                f.accounts
                    .check_real_name(&impostor.id, &f.registry, T0 + THRESHOLD)
                    .await,
                Err(IdentityError::LockedOut { .. })
            ),
            "guessing names is slowed down"
        );

        // The real holder of the number registers and is checked regardless.
        let real = f
            .accounts
            .register(
                &NewAccount {
                    citizen_id,
                    name,
                    phone: "13800000003".into(),
                    password: PASSWORD.into(),
                },
                T0,
            )
            .await
            .expect("registers");
        let code = last_code(&f, "13800000003").await;
        f.accounts.confirm_phone(&real.id, &code, T0).await.unwrap();
        let real = f
            .accounts
            .check_real_name(&real.id, &f.registry, T0)
            .await
            .expect("checks");
        assert_eq!(real.level(), Some(Level::L2));
    })
    .await;
}

#[tokio::test]
async fn bad_registrations_are_refused_with_their_reason() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let (citizen_id, name) = resident(2);
        let good = NewAccount {
            citizen_id: citizen_id.clone(),
            name: name.clone(),
            phone: "13800000004".into(),
            password: PASSWORD.into(),
        };
        let mut bad_id = good.clone();
        bad_id
            .citizen_id
            .replace_range(17..18, if citizen_id.ends_with('0') { "1" } else { "0" });
        let cases = [
            (bad_id, "invalid_citizen_id"),
            (
                NewAccount {
                    phone: "23800000004".into(),
                    ..good.clone()
                },
                "invalid_phone",
            ),
            (
                NewAccount {
                    phone: "1380000000".into(),
                    ..good.clone()
                },
                "invalid_phone",
            ),
            (
                NewAccount {
                    password: "short".into(),
                    ..good.clone()
                },
                "weak_password",
            ),
            (
                NewAccount {
                    name: " ".into(),
                    ..good.clone()
                },
                "invalid_name",
            ),
        ];
        for (new, code) in cases {
            let e = f.accounts.register(&new, T0).await.expect_err("refused");
            assert_eq!(e.code(), code, "{new:?}");
        }
        // A confirmed phone cannot be registered again.
        let a = citizen(&f, 2, "13800000004", T0).await;
        let e = f.accounts.register(&good, T0).await.expect_err("taken");
        assert_eq!(e.code(), "phone_taken");
        assert!(f.accounts.find(&a.id).await.is_ok());
    })
    .await;
}

#[tokio::test]
async fn enrolling_a_taken_number_looks_like_enrolling_a_free_one() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        citizen(&f, 4, "13800000014", T0).await;
        let (citizen_id, name) = resident(5);
        let new = |phone: &str| NewAccount {
            citizen_id: citizen_id.clone(),
            name: name.clone(),
            phone: phone.into(),
            password: PASSWORD.into(),
        };
        let taken = f
            .accounts
            .enrol(&new("13800000014"), T0)
            .await
            .expect("no error");
        let free = f
            .accounts
            .enrol(&new("13800000015"), T0)
            .await
            .expect("enrolled");
        assert_eq!(taken.len(), free.len());
        assert!(
            f.accounts.find(&taken).await.is_err(),
            "no account was made"
        );
        // The owner of the taken number is told; the free number gets its code.
        f.accounts.deliver().await.unwrap();
        let told = f.channel.messages_to("13800000014").await.unwrap();
        assert!(told.last().unwrap().body.contains("tried"), "{told:?}");
        // Wrong codes are answered alike, then too many, then expired.
        let mut answers = Vec::new();
        for id in [&taken, &free] {
            let mut seen = Vec::new();
            for n in 0..errandless_identity::PHONE_CODE_ATTEMPTS + 1 {
                let e = f
                    .accounts
                    .confirm_phone(id, "000000", T0 + n)
                    .await
                    .unwrap_err();
                seen.push(e.code());
            }
            let late = T0 + errandless_identity::PHONE_CODE_MS;
            seen.push(
                f.accounts
                    .confirm_phone(id, "000000", late)
                    .await
                    .unwrap_err()
                    .code(),
            );
            answers.push(seen);
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0][0], "wrong_code");
        // The account of the taken number is untouched.
        assert!(f
            .accounts
            .login(&login("13800000014", PASSWORD), T0)
            .await
            .is_ok());
    })
    .await;
}

#[tokio::test]
async fn brute_force_locks_untrusted_sources_for_a_while_but_never_the_citizens_device() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        citizen(&f, 3, "13800000005", T0).await;
        // The citizen logged in once from their phone, which keeps the device cookie.
        let device = f
            .accounts
            .login(&login("13800000005", PASSWORD), T0)
            .await
            .expect("logs in")
            .device;

        // An attacker guesses from elsewhere.
        for i in 0..THRESHOLD {
            let e = f
                .accounts
                .login(&login("13800000005", &format!("guess {i}")), T0 + 1)
                .await;
            assert!(matches!(e, Err(IdentityError::BadCredentials)), "{e:?}");
        }
        let locked = f
            .accounts
            .login(&login("13800000005", PASSWORD), T0 + 2)
            .await;
        let until = match locked {
            Err(IdentityError::LockedOut { until }) => until,
            other => panic!("expected a lockout, got {other:?}"),
        };
        assert!(until <= T0 + 2 + MAX_LOCK_MS, "the lock is temporary");

        // The citizen's own device is not locked out by the attacker's guesses.
        let mine = Credentials {
            device: Some(device.clone()),
            ..login("13800000005", PASSWORD)
        };
        f.accounts
            .login(&mine, T0 + 3)
            .await
            .expect("the citizen's device still logs in");
        // A forged or other account's device cookie is just untrusted.
        let forged = Credentials {
            device: Some(format!("{device}x")),
            ..login("13800000005", PASSWORD)
        };
        assert!(matches!(
            f.accounts.login(&forged, T0 + 3).await,
            Err(IdentityError::LockedOut { .. })
        ));

        // However long the attack goes on, each lock ends.
        for i in 0..50 {
            let _ = f
                .accounts
                .lockout()
                .fail(
                    &f.accounts.find_by_phone("13800000005").await.unwrap().id,
                    &Source::Untrusted,
                    T0 + 4 + i,
                )
                .await;
        }
        f.accounts
            .login(&login("13800000005", PASSWORD), T0 + 60 + MAX_LOCK_MS)
            .await
            .expect("the lock ended");
    })
    .await;
}

#[tokio::test]
async fn totp_makes_level_three_and_a_code_works_once() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let account = citizen(&f, 4, "13800000006", T0).await;
        let secret = f.accounts.begin_totp(&account.id).await.expect("begins");
        let now_step = totp::step_of((T0 / 1000) as u64);
        assert!(
            matches!(
                f.accounts.confirm_totp(&account.id, "000000", T0).await,
                Err(IdentityError::WrongSecondFactor)
            ) || totp::code_at(&secret, now_step) == "000000"
        );
        let account = f
            .accounts
            .confirm_totp(&account.id, &totp::code_at(&secret, now_step), T0)
            .await
            .expect("confirms");
        assert!(account.totp_enabled);

        let t = T0 + 30_000;
        let code = totp::code_at(&secret, totp::step_of((t / 1000) as u64));
        let with_code = Credentials {
            totp: Some(code.clone()),
            ..login("13800000006", PASSWORD)
        };
        let l = f.accounts.login(&with_code, t).await.expect("logs in");
        assert_eq!(l.level, Level::L3);
        assert_eq!(l.amr, ["pwd", "otp"]);
        assert!(
            matches!(
                f.accounts.login(&with_code, t).await,
                Err(IdentityError::WrongSecondFactor)
            ),
            "the same code is not accepted twice"
        );
        let without = f
            .accounts
            .login(&login("13800000006", PASSWORD), t)
            .await
            .expect("logs in");
        assert_eq!(without.level, Level::L2, "a password alone stays at L2");
    })
    .await;
}

#[tokio::test]
async fn sessions_change_id_at_login_expire_and_end_everywhere() {
    for_each_backend(|store| async move {
        let f = fixture(store.clone()).await;
        let account = citizen(&f, 5, "13800000007", T0).await;
        let sessions = Sessions::new(store);
        let amr = vec!["pwd".to_owned()];
        let (first, _) = sessions
            .start(&account.id, Level::L2, &amr, None, T0)
            .await
            .unwrap();
        let (second, s) = sessions
            .start(&account.id, Level::L2, &amr, Some(&first), T0)
            .await
            .unwrap();
        assert_ne!(first, second);
        assert_eq!(s.account_id, account.id);
        assert!(
            matches!(
                sessions.find(&first, T0).await,
                Err(IdentityError::UnknownSession)
            ),
            "the old id is dead"
        );
        assert!(matches!(
            sessions.find("planted-by-an-attacker", T0).await,
            Err(IdentityError::UnknownSession)
        ));
        assert_eq!(
            sessions.find(&second, T0 + 1).await.unwrap().level,
            Level::L2
        );
        assert!(
            matches!(
                sessions
                    .find(&second, T0 + errandless_identity::IDLE_MS + 2)
                    .await,
                Err(IdentityError::UnknownSession)
            ),
            "idle sessions end"
        );

        let (a, _) = sessions
            .start(&account.id, Level::L2, &amr, None, T0)
            .await
            .unwrap();
        let (b, _) = sessions
            .start(&account.id, Level::L2, &amr, None, T0)
            .await
            .unwrap();
        assert_eq!(sessions.end_all(&account.id).await.unwrap(), 2);
        for id in [a, b] {
            assert!(sessions.find(&id, T0).await.is_err());
        }
    })
    .await;
}
