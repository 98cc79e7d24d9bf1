//! Shared fixtures: a ledger in a temporary directory, valid ID numbers, entitlements.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use errandless_ledger::{Durability, NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
use errandless_payments::{migrate, Entitlement, Payer, Payments};
use errandless_standards::{CitizenId, Date};
use errandless_store::Store;
use tokio::sync::Mutex;

pub fn ledger(dir: &Path) -> Arc<Mutex<Sequencer>> {
    let key = NoteSigner::generate("payments.test/log", ALG_ED25519).expect("key");
    let log = Sequencer::create(dir, key)
        .expect("log")
        .with_durability(Durability::Unsynced);
    Arc::new(Mutex::new(log))
}

pub async fn payments(store: Store, ledger: Arc<Mutex<Sequencer>>) -> Payments {
    migrate(&store).await.expect("migrated");
    Payments::new(
        store,
        ledger,
        SubjectKey::from_bytes([9; 32]),
        Payer::default(),
    )
}

/// The i-th of many distinct valid ID numbers.
pub fn person(i: u64) -> String {
    let birth = Date::new(
        1950 + (i / 1000 % 60) as i32,
        1 + (i / 60_000 % 12) as u32,
        1 + (i / 720_000 % 28) as u32,
    )
    .expect("a real date");
    CitizenId::compose(520102, birth, (i % 1000) as u16)
        .as_str()
        .to_owned()
}

pub fn entitlement(i: u64) -> Entitlement {
    Entitlement {
        policy_id: "freshman-subsidy".into(),
        period: "2026".into(),
        subject_id: person(i),
        payee_name: format!("学生{i}"),
        account: format!("62170{i:014}"),
        bank: "贵州农村信用社".into(),
        amount_fen: if i.is_multiple_of(3) {
            500_000
        } else {
            300_000 + i as i64
        },
        decision_ref: format!("decision-{i}"),
    }
}

pub async fn ledger_size(l: &Arc<Mutex<Sequencer>>) -> u64 {
    l.lock().await.size()
}
