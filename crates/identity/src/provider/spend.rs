//! Spending codes and refresh tokens, many token requests to one transaction.
//!
//! Every token request marks its code or refresh token used (only if nobody has) and stores the
//! two token hashes it gives, in a transaction. One commit each made the token endpoint wait on
//! the disk: one fsync per exchange, one after another. Here a request puts its spend in a
//! queue and waits for the turn to write; whoever gets the turn takes everything queued and
//! commits it in one transaction, so requests that arrive while a commit is running share the
//! next one. Each spend is still its own conditional `UPDATE … WHERE used_at IS NULL`, checked
//! one by one inside the transaction: of two requests for one code, in one batch or in two, or
//! in two processes, exactly one marks it used and only that one's tokens are stored; the
//! other is told it was already spent. A batch is written by a task of its own, so a client
//! that hangs up cannot leave the requests batched with its own without an answer.

use std::sync::{Arc, Mutex};

use errandless_store::Store;
use tokio::sync::oneshot;

use crate::error::IdentityError;
use crate::token::Millis;

/// What a token request spends: a code, or a refresh token (each by its hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SpendKind {
    Code,
    Refresh,
}

/// A token the spend gives, to be stored by its hash.
pub(super) struct NewToken {
    pub hash: String,
    pub kind: &'static str,
    pub expires_at: Millis,
}

/// One token request's writes: the spend and the tokens it gives.
pub(super) struct Spend {
    pub kind: SpendKind,
    pub hash: String,
    pub now: Millis,
    pub family: String,
    pub client_id: String,
    pub account_id: String,
    pub scope: String,
    pub level: &'static str,
    pub amr: String,
    pub auth_time: Millis,
    pub tokens: Vec<NewToken>,
}

struct Waiting {
    spend: Spend,
    answer: oneshot::Sender<Result<bool, String>>,
}

/// The queue of spends waiting for a commit, shared by a provider's clones.
#[derive(Clone, Debug, Default)]
pub(super) struct Spends {
    waiting: Arc<Mutex<Vec<Waiting>>>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waiting(…)")
    }
}

impl Spends {
    /// Commits `spend`, with whatever else is waiting, once `turn` is this request's. Returns
    /// whether the grant was spent by this request (`false`: someone spent it first, nothing
    /// was stored).
    pub(super) async fn commit(
        &self,
        store: &Store,
        turn: &Arc<tokio::sync::Mutex<()>>,
        spend: Spend,
    ) -> Result<bool, IdentityError> {
        let (answer, mut answered) = oneshot::channel();
        self.lock().push(Waiting { spend, answer });
        let guard = turn.clone().lock_owned().await;
        // A batch is answered before its writer gives up the turn: an empty queue here means
        // another request's batch carried this one.
        match answered.try_recv() {
            Ok(result) => return result.map_err(IdentityError::Database),
            Err(oneshot::error::TryRecvError::Closed) => return Err(lost()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let batch = std::mem::take(&mut *self.lock());
        let store = store.clone();
        let writer = tokio::spawn(async move {
            let _guard = guard;
            let spends: Vec<&Spend> = batch.iter().map(|w| &w.spend).collect();
            match write(&store, &spends).await {
                Ok(spent) => {
                    for (w, s) in batch.into_iter().zip(spent) {
                        let _ = w.answer.send(Ok(s));
                    }
                }
                Err(e) => {
                    let e = e.to_string();
                    for w in batch {
                        let _ = w.answer.send(Err(e.clone()));
                    }
                }
            }
        });
        writer.await.map_err(|_| lost())?;
        answered
            .await
            .map_err(|_| lost())?
            .map_err(IdentityError::Database)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        // The queue holds no invariant a panic elsewhere could break.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lost() -> IdentityError {
    IdentityError::Database("the token request's transaction was lost".into())
}

/// One transaction for every spend of the batch; says which spent their grant.
async fn write(store: &Store, spends: &[&Spend]) -> Result<Vec<bool>, sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    let mut spent = Vec::with_capacity(spends.len());
    for s in spends {
        let sql = match s.kind {
            SpendKind::Code => {
                "UPDATE identity_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL"
            }
            SpendKind::Refresh => {
                "UPDATE identity_tokens SET used_at = $1 WHERE token_hash = $2 \
                 AND used_at IS NULL AND revoked_at IS NULL"
            }
        };
        let done = sqlx::query(sql)
            .bind(s.now)
            .bind(&s.hash)
            .execute(&mut *tx)
            .await?;
        let ok = done.rows_affected() == 1;
        if ok {
            for t in &s.tokens {
                sqlx::query(
                    "INSERT INTO identity_tokens (token_hash, kind, family, client_id, account_id, \
                     scope, level, amr, auth_time, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&t.hash)
                .bind(t.kind)
                .bind(&s.family)
                .bind(&s.client_id)
                .bind(&s.account_id)
                .bind(&s.scope)
                .bind(s.level)
                .bind(&s.amr)
                .bind(s.auth_time)
                .bind(s.now)
                .bind(t.expires_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        spent.push(ok);
    }
    tx.commit().await?;
    Ok(spent)
}
