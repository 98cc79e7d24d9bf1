//! Shared fixtures: an exchange over the small synthetic province in which the data bureau,
//! which runs the identity service, may read residents' names for identity verification.

#![allow(dead_code)]

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    Exchange, Grants, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Members, Mode, NewMember,
    Purpose, Terms,
};
use errandless_identity::{
    migrate, Accounts, DevelopmentChannel, NewAccount, Outbox, Registry, Secret, RESIDENT_DATASET,
};
use errandless_ledger::{Durability, NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
use errandless_standards::Uscc;
use errandless_store::Store;
use errandless_synth::testing::{pick, province};

pub const CONSUMER: &str = "data_bureau";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub struct Fixture {
    pub store: Store,
    pub exchange: Arc<Exchange>,
    pub registry: Registry,
    pub accounts: Accounts,
    pub channel: DevelopmentChannel,
    pub ledger_dir: tempfile::TempDir,
}

/// A living resident's ID number and name, the `n`-th in ID order.
pub fn resident(n: usize) -> (String, String) {
    let row = pick(
        "public_security",
        &format!(
            "SELECT id_number || '|' || name FROM resident WHERE status = 'registered' \
             GROUP BY id_number HAVING COUNT(*) = 1 ORDER BY id_number LIMIT 1 OFFSET {n}"
        ),
    );
    let (id, name) = row.split_once('|').expect("id|name");
    (id.to_owned(), name.to_owned())
}

pub async fn fixture(store: Store) -> Fixture {
    errandless_exchange::migrate(&store)
        .await
        .expect("exchange migrations");
    migrate(&store).await.expect("identity migrations");
    let members = Members::new(store.clone());
    for (id, n) in [(CONSUMER, 1u8), ("public_security", 2)] {
        members
            .register(
                NewMember {
                    id: id.into(),
                    uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
                    name_zh: format!("{id} 中文"),
                    name_en: id.into(),
                    key: key(n).verifying_key(),
                },
                0,
            )
            .await
            .expect("registers");
    }
    let grants = Grants::new(store.clone());
    let request = grants
        .file(
            Terms {
                consumer: CONSUMER.into(),
                dataset: RESIDENT_DATASET.into(),
                fields: vec!["name".into(), "status".into()],
                purpose: Purpose::IdentityVerification,
                legal_basis: LegalBasis {
                    kind: LegalBasisKind::AdministrativeRegulation,
                    reference: "居民身份证法 第十三条".into(),
                },
                valid_from: 0,
                valid_until: i64::MAX,
                scope: None,
                mode: Mode::PerSubject,
            },
            0,
        )
        .await
        .expect("files");
    grants
        .approve(&request.id, "public_security", 0)
        .await
        .expect("approves");
    let ledger_dir = tempfile::tempdir().expect("temp dir");
    let signer = NoteSigner::from_seed("ledger.example.gov/identity-test", ALG_ED25519, [9; 32])
        .expect("a log key");
    let log = Sequencer::create(ledger_dir.path(), signer)
        .expect("ledger")
        .with_durability(Durability::Unsynced);
    let islands = Islands::open(&IslandsConfig::synthetic(province()), province())
        .await
        .expect("islands open");
    let mut exchange = Exchange::new(store.clone(), islands, log, SubjectKey::from_bytes([3; 32]));
    exchange.add_owner_key("public_security", key(2));
    let exchange = Arc::new(exchange);
    let registry = Registry::new(Arc::clone(&exchange), CONSUMER, key(1));
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
