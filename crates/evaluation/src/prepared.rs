//! The single-subject evaluation the portal asks for: a policy prepared once over a set of
//! snapshots, then asked about one subject at a time.
//!
//! Compiling the policy, parsing its SQL and planning it take far longer than deciding one
//! subject, and so does opening a snapshot and reading its footer. An [`Evaluator`] does all of
//! that once:
//!
//! - it keeps each snapshot's Parquet metadata with its page index ([`SubjectPages`]);
//! - it plans the policy's query, the very query of the batch run, into a physical plan whose
//!   tables are not the files but the rows of one subject ([`SubjectRows`]).
//!
//! [`Evaluator::decide`] then reads, from each snapshot, only the pages whose `subject`
//! statistics can hold the subject (the snapshots are sorted by subject, so that is one page
//! of 8,192 rows or two), keeps the subject's rows, and runs a fresh copy of the prepared plan
//! over them. The decision is the one the batch run makes: the query is the same, and it sees
//! every row the subject has in every dataset.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, Scalar, StringArray};
use arrow_schema::SchemaRef;
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, concat_batches, filter_record_batch};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::file::metadata::PageIndexPolicy;
use datafusion::parquet::file::page_index::column_index::ColumnIndexMetaData;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::{collect, ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::{SessionConfig, SessionContext};
use errandless_policy::Policy;

use crate::{compile_where, decisions, Decision, EvaluationError, Plan, SUBJECT_ROW};

/// A policy prepared over one set of snapshots, to decide one subject at a time.
pub struct Evaluator {
    plan: Plan,
    /// Each table's snapshot, in the order of the plan's tables.
    pages: Vec<SubjectPages>,
    /// The policy's query over [`SubjectRows`], planned physically. Each decision runs a copy
    /// with its state reset, so decisions made at once share nothing but the plan's shape.
    physical: Arc<dyn ExecutionPlan>,
    /// The task context of the session, to which each decision adds its subject's rows.
    task: Arc<TaskContext>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("tables", &self.plan.tables)
            .finish_non_exhaustive()
    }
}

impl Evaluator {
    /// Prepares `policy` (checked) over the snapshot of each dataset it reads (`dataset` to
    /// file), naming a dataset that has none and a snapshot that cannot be read.
    pub async fn prepare<P: AsRef<Path>>(
        policy: &Policy,
        snapshots: &BTreeMap<String, P>,
    ) -> Result<Self, EvaluationError> {
        crate::resolved(policy)?;
        // Which fields each dataset's table must have: those the plan reads.
        let unplanned = compile_where(policy, None, &BTreeSet::new());
        let mut pages = Vec::with_capacity(unplanned.tables.len());
        for table in &unplanned.tables {
            let path = snapshots
                .get(&table.dataset)
                .ok_or_else(|| EvaluationError::MissingSnapshot(table.dataset.clone()))?;
            let fields: Vec<&str> = table.fields.iter().map(|(f, _)| f.as_str()).collect();
            pages.push(SubjectPages::open(path.as_ref(), &fields)?);
        }
        let numbered: BTreeSet<String> = unplanned
            .tables
            .iter()
            .zip(&pages)
            .filter(|(_, p)| p.numbered)
            .map(|(t, _)| t.dataset.clone())
            .collect();
        let plan = compile_where(policy, None, &numbered);

        // One subject gives no work to share between threads. Dynamic filters would carry
        // state from one decision into the next run of the plan.
        let mut config = SessionConfig::new().with_target_partitions(1);
        config
            .options_mut()
            .optimizer
            .enable_dynamic_filter_pushdown = false;
        let ctx = SessionContext::new_with_config(config);
        for (index, (table, pages)) in plan.tables.iter().zip(&pages).enumerate() {
            let rows = Arc::new(SubjectRows {
                index,
                schema: pages.schema.clone(),
            });
            let provider = StreamingTable::try_new(pages.schema.clone(), vec![rows])?;
            ctx.register_table(table.name.as_str(), Arc::new(provider))?;
        }
        let physical = ctx.sql(&plan.sql).await?.create_physical_plan().await?;
        let task = ctx.task_ctx();
        Ok(Evaluator {
            plan,
            pages,
            physical,
            task,
        })
    }

    /// The compiled plan: its tables, conditions and exclusions.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The decision on `subject`, or `None` when no dataset the policy reads has a row of
    /// theirs.
    pub async fn decide(&self, subject: &str) -> Result<Option<Decision>, EvaluationError> {
        let rows = self
            .pages
            .iter()
            .map(|p| p.rows_of(subject))
            .collect::<Result<Vec<_>, _>>()?;
        if rows.iter().all(|r| r.num_rows() == 0) {
            return Ok(None);
        }
        let config = self
            .task
            .session_config()
            .clone()
            .with_extension(Arc::new(Rows(rows)));
        let task = TaskContext::new(
            None,
            self.task.session_id(),
            config,
            self.task.scalar_functions().clone(),
            self.task.higher_order_functions().clone(),
            self.task.aggregate_functions().clone(),
            self.task.window_functions().clone(),
            self.task.runtime_env(),
        );
        let plan = reset_plan_states(Arc::clone(&self.physical))?;
        let batches = collect(plan, Arc::new(task)).await?;
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

/// One snapshot, opened once: its metadata with the page index, and the columns the plan
/// reads.
struct SubjectPages {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    /// `subject`, [`SUBJECT_ROW`] where the file has it, and the fields read, in file order.
    mask: ProjectionMask,
    /// The Arrow schema of those columns: the table the plan reads.
    schema: SchemaRef,
    /// The Parquet column of `subject`.
    subject_column: usize,
    /// Whether the file numbers each subject's rows ([`SUBJECT_ROW`]).
    numbered: bool,
}

impl SubjectPages {
    fn open(path: &Path, fields: &[&str]) -> Result<Self, EvaluationError> {
        let unreadable = |reason: String| EvaluationError::Snapshot {
            file: path.display().to_string(),
            reason,
        };
        let file = File::open(path).map_err(|e| unreadable(e.to_string()))?;
        let metadata = ArrowReaderMetadata::load(
            &file,
            ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
        )
        .map_err(|e| unreadable(e.to_string()))?;
        let arrow = metadata.schema().clone();
        let position = |name: &str| arrow.fields().iter().position(|f| f.name() == name);
        let numbered = position(SUBJECT_ROW).is_some();
        let mut columns = BTreeSet::new();
        for name in ["subject"]
            .into_iter()
            .chain(numbered.then_some(SUBJECT_ROW))
            .chain(fields.iter().copied())
        {
            let column =
                position(name).ok_or_else(|| unreadable(format!("it has no column {name}")))?;
            columns.insert(column);
        }
        let parquet = metadata.parquet_schema();
        // The snapshots are flat: each top-level field is one Parquet column.
        if parquet.num_columns() != arrow.fields().len() {
            return Err(unreadable("it has nested columns".to_owned()));
        }
        let subject_column = position("subject").expect("checked above");
        let mask = ProjectionMask::roots(parquet, columns.iter().copied());
        let projection: Vec<usize> = columns.into_iter().collect();
        let schema = Arc::new(arrow.project(&projection)?);
        Ok(SubjectPages {
            path: path.to_owned(),
            metadata,
            mask,
            schema,
            subject_column,
            numbered,
        })
    }

    /// The rows of `subject`, read from the pages whose statistics can hold it.
    fn rows_of(&self, subject: &str) -> Result<RecordBatch, EvaluationError> {
        let (groups, selection) = self.pages_of(subject.as_bytes());
        if groups.is_empty() {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        let unreadable = |reason: String| EvaluationError::Snapshot {
            file: self.path.display().to_string(),
            reason,
        };
        let file = File::open(&self.path).map_err(|e| unreadable(e.to_string()))?;
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
                .with_projection(self.mask.clone())
                .with_row_groups(groups)
                .with_row_selection(selection)
                .build()
                .map_err(|e| unreadable(e.to_string()))?;
        let subject_at = self
            .schema
            .index_of("subject")
            .expect("the table has a subject");
        let wanted = cast(
            &StringArray::from(vec![subject]),
            self.schema.field(subject_at).data_type(),
        )?;
        let wanted = Scalar::new(wanted);
        let mut kept = Vec::new();
        for batch in reader {
            let batch = batch?;
            let same = eq(batch.column(subject_at), &wanted)?;
            if same.true_count() > 0 {
                kept.push(filter_record_batch(&batch, &same)?);
            }
        }
        Ok(concat_batches(&self.schema, &kept)?)
    }

    /// The row groups that can hold `subject`, and within them (counted as one run of rows)
    /// the rows of the pages that can: those whose minimum and maximum `subject` enclose it.
    /// Without a page index, a row group is read whole; without statistics, every one is.
    fn pages_of(&self, subject: &[u8]) -> (Vec<usize>, RowSelection) {
        let metadata = self.metadata.metadata();
        let column = self.subject_column;
        let mut groups = Vec::new();
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let mut offset = 0;
        for (g, group) in metadata.row_groups().iter().enumerate() {
            let rows = usize::try_from(group.num_rows()).unwrap_or(0);
            if let Some(stats) = group.column(column).statistics() {
                if let (Some(min), Some(max)) = (stats.min_bytes_opt(), stats.max_bytes_opt()) {
                    if subject < min || subject > max {
                        continue;
                    }
                }
            }
            let index = metadata
                .column_index()
                .and_then(|c| c.get(g))
                .and_then(|c| c.get(column));
            let locations = metadata
                .offset_index()
                .and_then(|o| o.get(g))
                .and_then(|o| o.get(column))
                .map(|o| o.page_locations());
            let before = ranges.len();
            match (index, locations) {
                (Some(ColumnIndexMetaData::BYTE_ARRAY(index)), Some(locations)) => {
                    for (p, location) in locations.iter().enumerate() {
                        let holds = matches!(
                            (index.min_value(p), index.max_value(p)),
                            (Some(min), Some(max)) if min <= subject && subject <= max
                        );
                        if holds {
                            let start = usize::try_from(location.first_row_index).unwrap_or(0);
                            let end = locations.get(p + 1).map_or(rows, |next| {
                                usize::try_from(next.first_row_index).unwrap_or(rows)
                            });
                            ranges.push(offset + start..offset + end);
                        }
                    }
                }
                _ => ranges.push(offset..offset + rows),
            }
            if ranges.len() > before {
                groups.push(g);
                offset += rows;
            }
        }
        (
            groups,
            RowSelection::from_consecutive_ranges(ranges.into_iter(), offset),
        )
    }
}

/// The rows of the subject being decided, one batch per table of the plan: what the
/// [`SubjectRows`] of a decision's run read.
struct Rows(Vec<RecordBatch>);

/// A table of the prepared plan: the rows of the subject being decided, found in the task's
/// [`Rows`].
#[derive(Debug)]
struct SubjectRows {
    index: usize,
    schema: SchemaRef,
}

impl PartitionStream for SubjectRows {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let batch = ctx
            .session_config()
            .get_extension::<Rows>()
            .and_then(|rows| rows.0.get(self.index).cloned())
            .ok_or_else(|| {
                DataFusionError::Internal(format!("no rows were given for table {}", self.index))
            });
        match batch.and_then(|b| MemoryStream::try_new(vec![b], schema.clone(), None)) {
            Ok(stream) => Box::pin(stream),
            Err(e) => Box::pin(RecordBatchStreamAdapter::new(
                schema,
                futures_util::stream::once(async move { Err(e) }),
            )),
        }
    }
}
