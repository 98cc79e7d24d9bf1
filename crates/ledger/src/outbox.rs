//! Appending what a database committed, exactly once: the outbox protocol the payments and
//! the decisions use.
//!
//! The database side numbers its records without gaps (`1, 2, 3…`) and keeps a cursor: the
//! last record in the log, and a plan (first and last record, first leaf) written before each
//! append. [`flush`] appends the records after the cursor in chunks, planning each first and
//! settling it after. After a crash, a plan whose first and last records are found in the log
//! at their planned leaves, byte for byte (entries are rebuilt from the rows the same way every
//! time), is settled as appended; any other plan is dropped and its records appended again.
//! The sequencer publishes whole batches only, so a plan is all in the log or not at all: a
//! crash delays an entry, never loses or doubles it.

use std::future::Future;

use crate::{Sequencer, TileReader};

/// A chunk of records, `first..=last`, whose entries start at leaf `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    pub first: i64,
    pub last: i64,
    pub index: i64,
}

/// Why an outbox could not be flushed, on the log's side.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the ledger: {0}")]
    Ledger(String),
    #[error("records after {0} are not numbered without gaps")]
    Gap(i64),
}

/// The database side of an outbox.
pub trait Outbox {
    type Error: From<OutboxError>;

    /// The last record in the log, and the plan an interrupted append left, if any.
    fn cursor(&self) -> impl Future<Output = Result<(i64, Option<Planned>), Self::Error>> + Send;

    /// Records `plan` before its entries are appended.
    fn plan(&self, plan: Planned) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Clears the plan. With `Some`, that chunk is in the log: it is recorded (its leaves) and
    /// the cursor moves past it, in one transaction.
    fn settle(
        &self,
        appended: Option<Planned>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The records after `after` through `through`, in order: each number and its ledger entry.
    fn entries(
        &self,
        after: i64,
        through: i64,
    ) -> impl Future<Output = Result<Vec<(i64, Vec<u8>)>, Self::Error>> + Send;
}

fn ledger_err(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Ledger(e.to_string())
}

/// Appends every record of `outbox` not yet in `log`, `chunk` at a time, first settling a plan
/// an interrupted run left. Returns how many entries it appended.
pub async fn flush<O: Outbox + Sync>(
    log: &mut Sequencer,
    outbox: &O,
    chunk: i64,
) -> Result<u64, O::Error> {
    let (mut logged, plan) = outbox.cursor().await?;
    if let Some(plan) = plan {
        if plan_is_in_log(log, outbox, plan).await? {
            outbox.settle(Some(plan)).await?;
            logged = plan.last;
        } else {
            outbox.settle(None).await?;
        }
    }
    let mut appended = 0u64;
    loop {
        let records = outbox.entries(logged, logged + chunk).await?;
        let (Some((first, _)), Some((last, _))) = (records.first(), records.last()) else {
            break;
        };
        let (first, last) = (*first, *last);
        if first != logged + 1 || last - first + 1 != records.len() as i64 {
            return Err(OutboxError::Gap(logged).into());
        }
        let index = i64::try_from(log.size()).unwrap_or(i64::MAX);
        let plan = Planned { first, last, index };
        outbox.plan(plan).await?;
        let entries: Vec<&[u8]> = records.iter().map(|(_, e)| e.as_slice()).collect();
        let range = log.append(&entries).map_err(ledger_err)?;
        if range.start != index as u64 {
            return Err(ledger_err(format!(
                "the log grew from {index} to {} under the outbox's lock",
                range.start
            ))
            .into());
        }
        outbox.settle(Some(plan)).await?;
        logged = last;
        appended += entries.len() as u64;
    }
    Ok(appended)
}

/// Whether the log holds the planned records at the planned leaves, byte for byte.
async fn plan_is_in_log<O: Outbox + Sync>(
    log: &Sequencer,
    outbox: &O,
    plan: Planned,
) -> Result<bool, O::Error> {
    let (Ok(index), Ok(n)) = (
        u64::try_from(plan.index),
        u64::try_from(plan.last - plan.first + 1),
    ) else {
        return Ok(false);
    };
    if n == 0 || log.size() < index + n {
        return Ok(false);
    }
    let reader = TileReader::new(log.dir(), log.size());
    for (record, leaf) in [(plan.first, index), (plan.last, index + n - 1)] {
        let found = outbox.entries(record - 1, record).await?;
        let Some((_, expected)) = found.first() else {
            return Ok(false);
        };
        if reader.entry(leaf).map_err(ledger_err)? != *expected {
            return Ok(false);
        }
    }
    Ok(true)
}
