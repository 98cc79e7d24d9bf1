//! Shared fixtures: an exchange over the small synthetic province in which the data bureau,
//! which runs the identity service, may read residents' names for identity verification.

#![allow(dead_code)]

use std::sync::Arc;

use errandless_exchange::Exchange;
pub use errandless_identity::testing::resident;
use errandless_identity::testing::verifying_exchange;
use errandless_identity::{
    migrate, Accounts, DevelopmentChannel, NewAccount, Outbox, Registry, Secret,
};
use errandless_store::Store;

pub struct Fixture {
    pub store: Store,
    pub exchange: Arc<Exchange>,
    pub registry: Registry,
    pub accounts: Accounts,
    pub channel: DevelopmentChannel,
    pub ledger_dir: tempfile::TempDir,
}

pub async fn fixture(store: Store) -> Fixture {
    let ledger_dir = tempfile::tempdir().expect("temp dir");
    let (exchange, registry) = verifying_exchange(
        &store,
        ledger_dir.path(),
        "ledger.example.gov/identity-test",
    )
    .await;
    migrate(&store).await.expect("identity migrations");
    let channel = DevelopmentChannel::new(store.clone());
    let outbox = Outbox::new(store.clone(), Arc::new(channel.clone()));
    let secret = Secret::load_or_create(&store).await.expect("secret");
    let accounts = Accounts::new(store.clone(), outbox, secret);
    Fixture {
        store,
        exchange,
        registry,
        accounts,
        channel,
        ledger_dir,
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// The six-digit code in the last message the development channel carried to `phone`.
pub async fn last_code(f: &Fixture, phone: &str) -> String {
    f.accounts.deliver().await.expect("delivers");
    let messages = f.channel.messages_to(phone).await.expect("messages");
    let body = &messages.last().expect("a message was sent").body;
    let start = body.find(|c: char| c.is_ascii_digit()).expect("a code");
    body[start..start + 6].to_owned()
}

/// A registered account with a confirmed phone and a checked real name (level L2).
pub async fn citizen(f: &Fixture, n: usize, phone: &str, now: i64) -> errandless_identity::Account {
    let (citizen_id, name) = resident(n);
    let account = f
        .accounts
        .register(
            &NewAccount {
                citizen_id,
                name,
                phone: phone.into(),
                password: PASSWORD.into(),
            },
            now,
        )
        .await
        .expect("registers");
    let code = last_code(f, phone).await;
    f.accounts
        .confirm_phone(&account.id, &code, now)
        .await
        .expect("confirms");
    f.accounts
        .check_real_name(&account.id, &f.registry, now)
        .await
        .expect("real name checks")
}
