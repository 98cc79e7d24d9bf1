//! What the identity tests of this crate and of the server share (feature `testing`): an
//! exchange over the small synthetic province in which the data bureau, which runs the identity
//! service, may read residents' names for identity verification, so that every real-name check
//! in a test is a real, signed and recorded read.

use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    Exchange, Grants, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Members, Mode, NewMember,
    Purpose, Terms,
};
use errandless_ledger::{Durability, NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
use errandless_standards::Uscc;
use errandless_store::Store;
use errandless_synth::testing::{pick, province};

use crate::{Registry, RESIDENT_DATASET};

/// The member that runs the identity service and reads for it.
pub const CONSUMER: &str = "data_bureau";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
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

/// Migrates `store` for the exchange and identity, registers the data bureau and public
/// security, grants the bureau a per-subject read of residents' names and status for identity
/// verification, and opens the exchange with an unsynced ledger in `ledger_dir` (signed as
/// `log_name`). Returns the exchange and the registry the real-name check reads through.
pub async fn verifying_exchange(
    store: &Store,
    ledger_dir: &Path,
    log_name: &str,
) -> (Arc<Exchange>, Registry) {
    errandless_exchange::migrate(store)
        .await
        .expect("exchange migrations");
    crate::migrate(store).await.expect("identity migrations");
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
    let signer = NoteSigner::from_seed(log_name, ALG_ED25519, [9; 32]).expect("a log key");
    let log = Sequencer::create(ledger_dir, signer)
        .expect("ledger")
        .with_durability(Durability::Unsynced);
    let islands = Islands::open(&IslandsConfig::synthetic(province()), province())
        .await
        .expect("islands open");
    let mut exchange = Exchange::new(store.clone(), islands, log, SubjectKey::from_bytes([3; 32]));
    exchange.add_owner_key("public_security", key(2));
    let exchange = Arc::new(exchange);
    let registry = Registry::new(Arc::clone(&exchange), CONSUMER, key(1));
    (exchange, registry)
}
