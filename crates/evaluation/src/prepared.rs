//! The single-subject evaluation the portal asks for: a policy prepared once over a set of
//! snapshots, then asked about one subject at a time.
//!
//! Compiling the policy, parsing its SQL and planning it logically take longer than deciding
//! one subject, so an [`Evaluator`] does them once: it keeps the session with the snapshots
//! registered and the optimised logical plan of the policy's query filtered on `subject = $1`.
//! Each [`Evaluator::decide`] binds the subject to `$1`, plans physically and runs; the filter
//! sits on every dataset's scan, where the snapshots' row groups and pages (sorted by subject)
//! are pruned by their statistics. The decision is the one the batch run makes for the same
//! subject: the query is the same but for the filter.

use std::collections::BTreeMap;
use std::path::Path;

use arrow_schema::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionConfig, SessionContext};
use errandless_policy::Policy;

use crate::{
    compile_where, decisions, numbered, register_snapshots, Decision, EvaluationError, Plan,
};

/// The placeholder the prepared query filters every dataset on.
const SUBJECT_PARAMETER: &str = "$1";

/// A policy prepared over one set of snapshots, to decide one subject at a time.
pub struct Evaluator {
    ctx: SessionContext,
    plan: Plan,
    /// The policy's query over the subject `$1`, analysed and optimised.
    one: LogicalPlan,
    /// The type DataFusion gave `$1`: that of the snapshots' `subject` column.
    subject_type: DataType,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("tables", &self.plan.tables)
            .field("subject_type", &self.subject_type)
            .finish_non_exhaustive()
    }
}

impl Evaluator {
    /// Prepares `policy` (checked) over the snapshot of each dataset it reads (`dataset` to
    /// file), naming a dataset that has none.
    pub async fn prepare<P: AsRef<Path>>(
        policy: &Policy,
        snapshots: &BTreeMap<String, P>,
    ) -> Result<Self, EvaluationError> {
        let only = format!("subject = {SUBJECT_PARAMETER}");
        let plan = compile_where(policy, Some(&only), &numbered(snapshots)?);
        // One subject gives no work to share between threads.
        let mut config = SessionConfig::new().with_target_partitions(1);
        // Decode the subject column first and the others only for the rows that match: a
        // subject is a few rows of a page.
        config.options_mut().execution.parquet.pushdown_filters = true;
        config.options_mut().execution.parquet.reorder_filters = true;
        let ctx = SessionContext::new_with_config(config);
        register_snapshots(&ctx, &plan, snapshots).await?;
        let state = ctx.state();
        let parsed = state.create_logical_plan(&plan.sql).await?;
        let one = state.optimize(&parsed)?;
        let subject_type = one
            .get_parameter_types()?
            .remove(SUBJECT_PARAMETER)
            .flatten()
            .ok_or(EvaluationError::SubjectParameter)?;
        Ok(Evaluator {
            ctx,
            plan,
            one,
            subject_type,
        })
    }

    /// The compiled plan: its tables, conditions and exclusions.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The decision on `subject`, or `None` when no dataset the policy reads has a row of
    /// theirs.
    pub async fn decide(&self, subject: &str) -> Result<Option<Decision>, EvaluationError> {
        let value = ScalarValue::Utf8(Some(subject.to_owned())).cast_to(&self.subject_type)?;
        let bound = self.one.clone().with_param_values(vec![value])?;
        let state = self.ctx.state();
        let physical = state
            .query_planner()
            .create_physical_plan(&bound, &state)
            .await?;
        let batches = collect(physical, self.ctx.task_ctx()).await?;
        let mut decided = decisions(&self.plan, batches)?;
        if decided.len() > 1 {
            return Err(EvaluationError::SubjectRepeated(
                subject.to_owned(),
                decided.len(),
            ));
        }
        Ok(decided.pop())
    }
}
