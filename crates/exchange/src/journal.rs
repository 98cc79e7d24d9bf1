//! Group commit of the platform-store rows that a read leaves: the request id it used (for
//! replay refusal) and its line in the subject index of the data tracker.
//!
//! Each read queues its rows and waits for the commit lock. Whoever holds the lock takes every
//! queued row, its own and the others', writes them in one transaction, answers every owner,
//! and lets the next in. So concurrent reads share one commit, as they share one ledger fsync.
//!
//! A caller whose future is dropped while it commits for others leaves them an error, never a
//! false success: run reads to completion (the server gives each read a task of its own).

use std::sync::Mutex;

use errandless_store::Store;
use tokio::sync::oneshot;

/// The rows one read leaves.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    /// `(consumer, request id, at)`: the request id is used up.
    pub seen: Option<(String, String, i64)>,
    /// `(subject tag, leaf, consumer, dataset, outcome, at)`: the read is about this subject.
    pub access: Option<(String, i64, String, String, String, i64)>,
}

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
pub(crate) struct Journal {
    queue: Mutex<Vec<(Rows, Waiter)>>,
    commit: tokio::sync::Mutex<()>,
}

impl Journal {
    /// Writes `rows` and returns once they are committed, or why they are not.
    pub async fn write(&self, store: &Store, rows: Rows) -> Result<(), String> {
        if rows.seen.is_none() && rows.access.is_none() {
            return Ok(());
        }
        let (waiter, done) = oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| "the journal queue is poisoned".to_owned())?
            .push((rows, waiter));
        let mut done = done;
        let guard = self.commit.lock().await;
        if let Ok(result) = done.try_recv() {
            return result;
        }
        // The reads of one ledger batch wake together: let the others queue their rows first,
        // so the batch commits once rather than once for the first read and once for the rest.
        tokio::task::yield_now().await;
        let batch = std::mem::take(
            &mut *self
                .queue
                .lock()
                .map_err(|_| "the journal queue is poisoned".to_owned())?,
        );
        let result = commit(store, &batch).await.map_err(|e| e.to_string());
        for (_, waiter) in batch {
            let _ = waiter.send(result.clone());
        }
        drop(guard);
        done.await
            .unwrap_or_else(|_| Err("the journal lost the rows".to_owned()))
    }
}

/// Rows per INSERT statement: few round trips to the database, far below any parameter limit.
impl Journal {
    /// Deletes the rows of a read whose ledger entry failed: its request id's use, and its
    /// line in the subject index at `leaf`.
    pub async fn take_back(
        &self,
        store: &Store,
        (seen, subject): (Option<(String, String, i64)>, Option<String>),
        leaf: i64,
    ) -> Result<(), sqlx::Error> {
        let _guard = self.commit.lock().await;
        let mut tx = store.pool().begin().await?;
        if let Some((consumer, request_id, _)) = seen {
            sqlx::query(
                "DELETE FROM exchange_seen_requests WHERE consumer = $1 AND request_id = $2",
            )
            .bind(consumer)
            .bind(request_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(subject) = subject {
            sqlx::query("DELETE FROM exchange_access_index WHERE subject = $1 AND leaf = $2")
                .bind(subject)
                .bind(leaf)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }
}

const ROWS_PER_STATEMENT: usize = 200;

/// `($1, $2, …), ($n+1, …)` for `rows` rows of `width` parameters.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn commit(store: &Store, batch: &[(Rows, Waiter)]) -> Result<(), sqlx::Error> {
    let seen: Vec<&(String, String, i64)> =
        batch.iter().filter_map(|(r, _)| r.seen.as_ref()).collect();
    let access: Vec<&(String, i64, String, String, String, i64)> = batch
        .iter()
        .filter_map(|(r, _)| r.access.as_ref())
        .collect();
    let mut tx = store.pool().begin().await?;
    for chunk in seen.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO exchange_seen_requests (consumer, request_id, seen_at) VALUES {} \
             ON CONFLICT (consumer, request_id) DO NOTHING",
            placeholders(chunk.len(), 3)
        );
        let mut q = sqlx::query(&sql);
        for (consumer, request_id, at) in chunk {
            q = q.bind(consumer).bind(request_id).bind(*at);
        }
        q.execute(&mut *tx).await?;
    }
    for chunk in access.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO exchange_access_index (subject, leaf, consumer, dataset, outcome, at) \
             VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (subject, leaf, consumer, dataset, outcome, at) in chunk {
            q = q
                .bind(subject)
                .bind(*leaf)
                .bind(consumer)
                .bind(dataset)
                .bind(outcome)
                .bind(*at);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_parameter_once() {
        assert_eq!(super::placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::placeholders(1, 1), "($1)");
    }
}

type Answer = oneshot::Sender<Result<bool, String>>;

/// Group lookup of used request ids: each read queues its `(consumer, request id)` and waits
/// for the lock; whoever holds it asks the store about every queued id in a few queries and
/// answers each owner. So concurrent replay checks share their round trips to the database.
#[derive(Default)]
pub(crate) struct SeenCheck {
    queue: Mutex<Vec<((String, String), Answer)>>,
    lookup: tokio::sync::Mutex<()>,
}

impl SeenCheck {
    /// Whether the store holds `request_id` as used by `consumer`.
    pub async fn seen(
        &self,
        store: &Store,
        consumer: &str,
        request_id: &str,
    ) -> Result<bool, String> {
        let (answer, mut done) = oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| "the replay queue is poisoned".to_owned())?
            .push(((consumer.to_owned(), request_id.to_owned()), answer));
        let guard = self.lookup.lock().await;
        if let Ok(result) = done.try_recv() {
            return result;
        }
        let batch = std::mem::take(
            &mut *self
                .queue
                .lock()
                .map_err(|_| "the replay queue is poisoned".to_owned())?,
        );
        let keys: Vec<&(String, String)> = batch.iter().map(|(k, _)| k).collect();
        let found = used(store, &keys).await.map_err(|e| e.to_string());
        for (key, answer) in batch {
            let _ = answer.send(
                found
                    .as_ref()
                    .map(|f| f.contains(&key))
                    .map_err(Clone::clone),
            );
        }
        drop(guard);
        done.await
            .unwrap_or_else(|_| Err("the replay check lost the request".to_owned()))
    }
}

/// Which of `keys` the store holds as used.
async fn used(
    store: &Store,
    keys: &[&(String, String)],
) -> Result<std::collections::HashSet<(String, String)>, sqlx::Error> {
    let mut by_consumer: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (consumer, id) in keys {
        by_consumer.entry(consumer).or_default().push(id);
    }
    let mut found = std::collections::HashSet::new();
    for (consumer, ids) in by_consumer {
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT request_id FROM exchange_seen_requests \
                 WHERE consumer = $1 AND request_id IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(consumer);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(store.pool()).await? {
                let id: String = sqlx::Row::try_get(&row, "request_id")?;
                found.insert((consumer.to_owned(), id));
            }
        }
    }
    Ok(found)
}
