//! The cursor of a ledger outbox, as a component keeps it in a table of its own: the row whose
//! id is 1, with `logged_through` and the planned append (`plan_first_seq`, `plan_last_seq`,
//! `plan_first_index`). The protocol itself is the ledger crate's (`outbox::flush`); these are
//! its two statements that read and plan, shared by the components that keep such a table.

use sqlx::Row as _;

use crate::Store;

/// A planned append: the first and last record and the first leaf.
pub type Plan = (i64, i64, i64);

/// The last record logged and the plan an interrupted append left, from `table`.
pub async fn read(store: &Store, table: &'static str) -> Result<(i64, Option<Plan>), sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT logged_through, plan_first_seq, plan_last_seq, plan_first_index \
         FROM {table} WHERE id = 1"
    ))
    .fetch_one(store.pool())
    .await?;
    let plan = match (
        row.try_get::<Option<i64>, _>("plan_first_seq")?,
        row.try_get::<Option<i64>, _>("plan_last_seq")?,
        row.try_get::<Option<i64>, _>("plan_first_index")?,
    ) {
        (Some(first), Some(last), Some(index)) => Some((first, last, index)),
        _ => None,
    };
    Ok((row.try_get("logged_through")?, plan))
}

/// Records `plan` in `table` before its append.
pub async fn plan(store: &Store, table: &'static str, plan: Plan) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {table} SET plan_first_seq = $1, plan_last_seq = $2, plan_first_index = $3 \
         WHERE id = 1"
    ))
    .bind(plan.0)
    .bind(plan.1)
    .bind(plan.2)
    .execute(store.pool())
    .await?;
    Ok(())
}
