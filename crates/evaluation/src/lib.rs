//! Evaluation of Errandless policies on Apache DataFusion.
//!
//! [`compile`] turns a checked [`Policy`] into one SQL query ([`Plan`]) over one table per
//! input dataset, each with a `subject` column and the dataset's fields, as the data center's
//! Parquet snapshots have them (`subject`, the standard's field names, `row_hash`; dates as
//! ISO text). The query:
//!
//! 1. takes one row per subject from each dataset: row 1 of the subject where the snapshot
//!    numbers its subjects' rows ([`SUBJECT_ROW`], as the exchange's sync writes them), a
//!    filter that streams in subject order; otherwise (the examples' tables) `DISTINCT ON
//!    (subject)`, the row whose read fields sort first, so the choice is deterministic;
//! 2. forms the subject population as the union of the subjects of every input dataset, and
//!    `LEFT JOIN`s each dataset to it on `subject`, so that a subject without a row in a
//!    dataset reads its inputs as NULL;
//! 3. adds a boolean column per condition (NULL counts as not met), per exclusion, `eligible`
//!    (the eligibility combination, and no exclusion), and `amount` in integer fen (0 when not
//!    eligible).
//!
//! The same plan serves every run: [`register_snapshots`] binds it to Parquet files, and
//! [`check_examples`] binds it to in-memory tables built from the policy's `[[test]]`
//! examples and compares each decision with the one expected. The batch run uses [`session`]
//! (and [`write_conditions`] to write every subject's row to Parquet); over snapshots that
//! number their rows, a split run ([`run_split`]) reads the joined rows from a k-way merge of
//! the snapshots instead of forming the union and joining (`merged`), then runs the same
//! query's conditions, eligibility and amount; the single-subject
//! evaluation is an [`Evaluator`], the same query planned once over one subject's rows;
//! the delta run filters the population with [`compile_for`].
//!
//! What it is not: it decides but records nothing; writing decisions to the ledger and
//! entitlements to payments belongs to the callers. DataFusion lives only in this crate, with
//! its default features off (Parquet and SQL only).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow_array::StringArray;
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use datafusion::arrow::compute::cast;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::{col, ParquetReadOptions};
pub use errandless_policy::Decision;
use errandless_policy::{ErrorKind, ExampleValue, Policy, PolicyError};
use errandless_standards::ElementType;

mod batch;
mod datacenter;
mod merged;
mod prepared;
mod simulation;
pub use batch::{
    batch_parts, run_split, run_split_in, session, subject_ranges, write_conditions,
    write_conditions_split,
};
pub use datacenter::{evaluate_latest, latest_snapshots, sources_of, DatacenterError, Evaluated};
pub use datafusion::prelude::SessionContext;
pub use prepared::Evaluator;
pub use simulation::{simulate, Simulation, Tally};

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("the policy reads dataset {0}, but no snapshot of it was given")]
    MissingSnapshot(String),
    #[error("DataFusion: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("Arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("the result has no column {0} of the expected type")]
    Result(String),
    #[error("subject {0} was decided {1} times, not once")]
    SubjectRepeated(String, usize),
    #[error("cannot start the query runtime: {0}")]
    Runtime(std::io::Error),
    #[error("an evaluation task failed: {0}")]
    Task(String),
    #[error("the snapshot {file} cannot be read: {reason}")]
    Snapshot { file: String, reason: String },
    #[error("{0} reads dated parameters or the period's values: resolve it for a period first")]
    Unresolved(String),
    #[error("{0}")]
    Period(String),
}

/// Refuses a policy that reads parameters or period values but was not resolved for a period:
/// its expressions name values that only a period gives.
pub(crate) fn resolved(policy: &Policy) -> Result<(), EvaluationError> {
    if policy.needs_period() && policy.resolved_for.is_none() {
        return Err(EvaluationError::Unresolved(policy.id.clone()));
    }
    Ok(())
}

/// One table the plan reads: a dataset of the standard, under a short name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableUse {
    /// The table's name in the query, `t0`, `t1`…
    pub name: String,
    /// The dataset, `department.dataset`.
    pub dataset: String,
    /// The fields read, with their element types, in the order of their names.
    pub fields: Vec<(String, ElementType)>,
}

/// A policy compiled into one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub sql: String,
    pub tables: Vec<TableUse>,
    pub conditions: Vec<String>,
    pub exclusions: Vec<String>,
    /// The input that holds the payee's account, for a paying policy.
    pub pay_to: Option<String>,
    /// The policy's inputs, in its order: the columns of [`Decision::values`].
    pub inputs: Vec<String>,
}

/// Quotes an identifier for the query.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The column of the data center's snapshots that numbers each subject's rows from 1: a
/// table that has it is read through its row 1 of each subject (see [`compile_over`]).
pub const SUBJECT_ROW: &str = "subject_row";

/// Compiles a checked policy into its query over the whole population, taking one row per
/// subject from each dataset by `DISTINCT ON` (the example tables, or snapshots written
/// before they numbered their rows).
pub fn compile(policy: &Policy) -> Plan {
    compile_for(policy, None)
}

/// Compiles a checked policy into its query over the whole population, or over `subjects`
/// only: the single-subject evaluation and the delta run. The filter sits on every dataset's
/// scan, where DataFusion prunes the snapshots' row groups (sorted by subject) by their
/// statistics.
pub fn compile_for(policy: &Policy, subjects: Option<&[String]>) -> Plan {
    compile_where(
        policy,
        subjects_filter(subjects).as_deref(),
        &BTreeSet::new(),
    )
}

/// [`compile_for`] over these snapshot files (`dataset` to file): a dataset whose file numbers
/// its subjects' rows ([`SUBJECT_ROW`]) is read through a filter on row 1, which DataFusion
/// streams in subject order, instead of an aggregation per subject.
pub fn compile_over<P: AsRef<Path>>(
    policy: &Policy,
    subjects: Option<&[String]>,
    files: &BTreeMap<String, P>,
) -> Result<Plan, EvaluationError> {
    Ok(compile_where(
        policy,
        subjects_filter(subjects).as_deref(),
        &numbered(files)?,
    ))
}

/// The datasets among `files` whose snapshot has the [`SUBJECT_ROW`] column.
pub fn numbered<P: AsRef<Path>>(
    files: &BTreeMap<String, P>,
) -> Result<BTreeSet<String>, EvaluationError> {
    let mut out = BTreeSet::new();
    for (dataset, path) in files {
        if has_subject_row(&read_footer(path.as_ref())?) {
            out.insert(dataset.clone());
        }
    }
    Ok(out)
}

/// Whether a snapshot numbers its subjects' rows ([`SUBJECT_ROW`]).
fn has_subject_row(footer: &datafusion::parquet::file::metadata::ParquetMetaData) -> bool {
    let schema = footer.file_metadata().schema_descr();
    schema.columns().iter().any(|c| c.name() == SUBJECT_ROW)
}

/// The Parquet metadata of a snapshot file, or an error that names the file.
fn read_footer(
    path: &Path,
) -> Result<datafusion::parquet::file::metadata::ParquetMetaData, EvaluationError> {
    let unreadable = |reason: String| EvaluationError::Snapshot {
        file: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    datafusion::parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| unreadable(e.to_string()))
}

/// The condition on `subject` that limits a run to `subjects`.
fn subjects_filter(subjects: Option<&[String]>) -> Option<String> {
    subjects.map(|list| {
        let literals: Vec<String> = list
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "''")))
            .collect();
        if literals.is_empty() {
            "false".to_owned()
        } else {
            format!("subject IN ({})", literals.join(", "))
        }
    })
}

/// Compiles a checked policy into its query, with `only` (a condition on `subject`) on every
/// dataset's scan; the datasets in `numbered` are read through their row 1 of each subject.
fn compile_where(policy: &Policy, only: Option<&str>, numbered: &BTreeSet<String>) -> Plan {
    let mut by_dataset: BTreeMap<&str, BTreeMap<&str, ElementType>> = BTreeMap::new();
    for input in &policy.inputs {
        by_dataset
            .entry(input.dataset.as_str())
            .or_default()
            .insert(input.field.as_str(), input.ty);
    }
    let tables: Vec<TableUse> = by_dataset
        .iter()
        .enumerate()
        .map(|(i, (dataset, fields))| TableUse {
            name: format!("t{i}"),
            dataset: dataset.to_string(),
            fields: fields.iter().map(|(f, t)| (f.to_string(), *t)).collect(),
        })
        .collect();
    let table_of = |dataset: &str| {
        tables
            .iter()
            .position(|t| t.dataset == dataset)
            .expect("every input's dataset has a table")
    };

    let mut sql = String::from("WITH\n");
    for (i, t) in tables.iter().enumerate() {
        let mine: Vec<_> = policy
            .inputs
            .iter()
            .filter(|input| input.dataset == t.dataset)
            .collect();
        let projection: Vec<String> = mine
            .iter()
            .map(|input| format!("{} AS {}", quoted(&input.field), quoted(&input.name)))
            .collect();
        if numbered.contains(&t.dataset) {
            let _ = writeln!(
                sql,
                "s{i} AS (SELECT subject, {} FROM {}{}),",
                projection.join(", "),
                t.name,
                scan_filter(true, only)
            );
        } else {
            let order: Vec<String> = t.fields.iter().map(|(f, _)| quoted(f)).collect();
            let _ = writeln!(
                sql,
                "s{i} AS (SELECT DISTINCT ON (subject) subject, {} FROM {}{} ORDER BY subject, {}),",
                projection.join(", "),
                t.name,
                scan_filter(false, only),
                order.join(", ")
            );
        }
    }
    let union: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "SELECT subject FROM {}{}",
                t.name,
                scan_filter(numbered.contains(&t.dataset), only)
            )
        })
        .collect();
    let _ = writeln!(sql, "population AS ({}),", union.join(" UNION "));
    let columns: Vec<String> = policy
        .inputs
        .iter()
        .map(|input| format!("s{}.{}", table_of(&input.dataset), quoted(&input.name)))
        .collect();
    let joins: String = (0..tables.len())
        .map(|i| format!(" LEFT JOIN s{i} ON s{i}.subject = population.subject"))
        .collect();
    let _ = writeln!(
        sql,
        "joined AS (SELECT population.subject, {} FROM population{joins}),",
        columns.join(", ")
    );
    decide_joined(policy, &mut sql);
    Plan {
        sql,
        tables,
        conditions: policy.conditions.iter().map(|c| c.id.clone()).collect(),
        exclusions: policy.exclusions.iter().map(|x| x.id.clone()).collect(),
        pay_to: policy.payment.as_ref().map(|p| p.pay_to.clone()),
        inputs: policy.inputs.iter().map(|i| i.name.clone()).collect(),
    }
}

/// [`compile`] over the merged rows of the snapshots ([`merged::MergedRows`], the table
/// `merged`) in place of the union of the datasets' subjects and the joins: the same
/// decisions, for a run whose snapshots all number their rows.
fn compile_merged(policy: &Policy) -> Plan {
    let unmerged = compile(policy);
    let columns: Vec<String> = policy.inputs.iter().map(|i| quoted(&i.name)).collect();
    let mut sql = format!(
        "WITH\njoined AS (SELECT subject, {} FROM {}),\n",
        columns.join(", "),
        merged::MERGED
    );
    decide_joined(policy, &mut sql);
    Plan { sql, ..unmerged }
}

/// The rest of a policy's query, after the CTE `joined` (a row per subject with its inputs):
/// the conditions, exclusions, eligibility, near misses and amount, in subject order.
fn decide_joined(policy: &Policy, sql: &mut String) {
    let conditions: String = policy
        .conditions
        .iter()
        .map(|c| format!(", COALESCE(({}), false) AS {}", c.when, quoted(&c.id)))
        .collect();
    let _ = writeln!(
        sql,
        "conditions AS (SELECT joined.*{conditions} FROM joined),"
    );
    let exclusions: String = policy
        .exclusions
        .iter()
        .map(|x| format!(", COALESCE(({}), false) AS {}", x.when, quoted(&x.id)))
        .collect();
    let _ = writeln!(
        sql,
        "exclusions AS (SELECT conditions.*{exclusions} FROM conditions),"
    );
    let excluded = if policy.exclusions.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = policy.exclusions.iter().map(|x| quoted(&x.id)).collect();
        format!(" AND NOT ({})", ids.join(" OR "))
    };
    // Per condition, whether the combination would hold were that condition met: what makes
    // a near miss of a subject who fails it alone.
    let if_met: String = policy
        .conditions
        .iter()
        .map(|c| {
            // A condition whose failure alone is no near miss never counts as one.
            let combination = if c.near_miss {
                with_condition_met(&policy.eligible, &c.id)
            } else {
                "false".to_owned()
            };
            format!(
                ", COALESCE(({combination}), false) AS {}",
                quoted(&if_met_column(&c.id))
            )
        })
        .collect();
    let _ = writeln!(
        sql,
        "decided AS (SELECT exclusions.*, COALESCE(({}), false){excluded} AS eligible{if_met} FROM exclusions)",
        policy.eligible
    );
    let amount = match &policy.payment {
        Some(p) => format!(
            "CASE WHEN eligible THEN COALESCE(CAST(({}) AS BIGINT), 0) ELSE CAST(0 AS BIGINT) END",
            p.amount.expr
        ),
        None => "CAST(0 AS BIGINT)".to_string(),
    };
    let _ = write!(
        sql,
        "SELECT decided.*, {amount} AS amount FROM decided ORDER BY subject"
    );
}

/// The `WHERE` clause of a dataset's scan: row 1 of each subject where the rows are
/// numbered, and `only`.
fn scan_filter(numbered: bool, only: Option<&str>) -> String {
    match (numbered, only) {
        (false, None) => String::new(),
        (false, Some(only)) => format!(" WHERE {only}"),
        (true, None) => format!(" WHERE {SUBJECT_ROW} = 1"),
        (true, Some(only)) => format!(" WHERE {SUBJECT_ROW} = 1 AND ({only})"),
    }
}

/// The result column that says whether the eligibility combination holds with `condition` met.
fn if_met_column(condition: &str) -> String {
    format!("if_met:{condition}")
}

/// The eligibility combination with every mention of `condition` replaced by `TRUE`.
fn with_condition_met(combination: &str, condition: &str) -> String {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, combination).tokenize() else {
        // The checker parsed it already; leave it as it is rather than guess.
        return combination.to_owned();
    };
    tokens
        .into_iter()
        .map(|t| match &t {
            Token::Word(w) if w.value == condition => "TRUE".to_owned(),
            _ => t.to_string(),
        })
        .collect()
}

/// Registers the data center's snapshot of each dataset the plan reads (`dataset` to file).
///
/// The files are declared sorted by `subject`, as the exchange's sync writes them (byte order):
/// DataFusion then forms the population by merging instead of hashing and keeps the result in
/// subject order without sorting it again. A file not so sorted would give wrong results.
pub async fn register_snapshots<P: AsRef<Path>>(
    ctx: &SessionContext,
    plan: &Plan,
    snapshots: &BTreeMap<String, P>,
) -> Result<(), EvaluationError> {
    for t in &plan.tables {
        let path = snapshots
            .get(&t.dataset)
            .ok_or_else(|| EvaluationError::MissingSnapshot(t.dataset.clone()))?;
        ctx.register_parquet(
            &t.name,
            &path.as_ref().display().to_string(),
            ParquetReadOptions::default()
                .file_sort_order(vec![vec![col("subject").sort(true, false)]]),
        )
        .await?;
    }
    Ok(())
}

/// What a run decided: how many subjects it evaluated, and the decisions it kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decided {
    pub evaluated: u64,
    pub decisions: Vec<Decision>,
}

/// Which decisions a run hands back.
#[derive(Clone, Copy, Debug)]
pub enum Keep<'a> {
    /// Every subject's (the values behind a decision are kept only for the recorded ones).
    Every,
    /// Only those an enactment records ([`Decision::is_recorded`]: the eligible and the near
    /// misses); the rest are counted.
    Recorded,
    /// Those an enactment records, and those of these subjects: the ones whose last recorded
    /// decision was eligible, so that a run sees them stop qualifying. Both with their values.
    RecordedAnd(&'a HashSet<String>),
}

/// The decisions of `subjects` when no snapshot holds a row of theirs: every input NULL, as
/// a run decides a subject absent from a dataset, through the same query. A run over the
/// snapshots cannot decide them (its population is the subjects the snapshots hold), so
/// without this someone whose rows left every dataset would keep their last decision.
pub async fn decide_without_rows(
    policy: &Policy,
    subjects: &[String],
) -> Result<Vec<Decision>, EvaluationError> {
    resolved(policy)?;
    let plan = compile_merged(policy);
    let mut fields = vec![Field::new("subject", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(subjects))];
    for input in &policy.inputs {
        let ty = arrow_type(input.ty);
        columns.push(arrow_array::new_null_array(&ty, subjects.len()));
        fields.push(Field::new(&input.name, ty, true));
    }
    let schema = Arc::new(Schema::new(fields));
    let rows = RecordBatch::try_new(schema.clone(), columns)?;
    let ctx = SessionContext::new();
    ctx.register_table(
        merged::MERGED,
        Arc::new(MemTable::try_new(schema, vec![vec![rows]])?),
    )?;
    let wanted: HashSet<String> = subjects.iter().cloned().collect();
    Ok(run_recorded(&ctx, &plan, Keep::RecordedAnd(&wanted))
        .await?
        .decisions)
}

/// Runs the plan on the tables registered in `ctx`: every subject's decision.
pub async fn run(ctx: &SessionContext, plan: &Plan) -> Result<Vec<Decision>, EvaluationError> {
    Ok(decide(ctx, plan, Keep::Every).await?.decisions)
}

/// Runs the plan on the tables registered in `ctx`, keeping only the decisions `keep` asks
/// for and counting the rest. The result streams through batch by batch, so a run over a
/// province holds only those decisions, not a row per person.
pub async fn run_recorded(
    ctx: &SessionContext,
    plan: &Plan,
    keep: Keep<'_>,
) -> Result<Decided, EvaluationError> {
    decide(ctx, plan, keep).await
}

async fn decide(
    ctx: &SessionContext,
    plan: &Plan,
    keep: Keep<'_>,
) -> Result<Decided, EvaluationError> {
    use futures_util::StreamExt as _;
    let mut stream = ctx.sql(&plan.sql).await?.execute_stream().await?;
    let mut out = Decided::default();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        out.evaluated += batch.num_rows() as u64;
        decisions_of(&batch, plan, keep, &mut out.decisions)?;
    }
    Ok(out)
}

/// Every decision in the rows of `plan`'s result.
fn decisions(plan: &Plan, batches: Vec<RecordBatch>) -> Result<Vec<Decision>, EvaluationError> {
    let mut out = Vec::new();
    for batch in &batches {
        decisions_of(batch, plan, Keep::Every, &mut out)?;
    }
    Ok(out)
}

/// The decisions of one result batch that `keep` asks for.
fn decisions_of(
    batch: &RecordBatch,
    plan: &Plan,
    keep: Keep<'_>,
    out: &mut Vec<Decision>,
) -> Result<(), EvaluationError> {
    {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| EvaluationError::Result(name.to_string()))
        };
        let subject = cast(&column("subject")?, &DataType::Utf8)?;
        let subject = subject
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| EvaluationError::Result("subject".into()))?;
        let booleans = |name: &str| -> Result<BooleanArray, EvaluationError> {
            column(name)?
                .as_any()
                .downcast_ref::<BooleanArray>()
                .cloned()
                .ok_or_else(|| EvaluationError::Result(name.to_string()))
        };
        let eligible = booleans("eligible")?;
        let conditions: Vec<BooleanArray> = plan
            .conditions
            .iter()
            .map(|c| booleans(c))
            .collect::<Result<_, _>>()?;
        let exclusions: Vec<BooleanArray> = plan
            .exclusions
            .iter()
            .map(|x| booleans(x))
            .collect::<Result<_, _>>()?;
        let account = plan.pay_to.as_deref().map(column).transpose()?;
        let if_met: Vec<BooleanArray> = plan
            .conditions
            .iter()
            .map(|c| booleans(&if_met_column(c)))
            .collect::<Result<_, _>>()?;
        let inputs: Vec<ArrayRef> = plan
            .inputs
            .iter()
            .map(|name| column(name))
            .collect::<Result<_, _>>()?;
        let options = FormatOptions::default();
        let formatters: Vec<ArrayFormatter> = inputs
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<Result<_, _>>()?;
        let amount = column("amount")?;
        let amount = amount
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| EvaluationError::Result("amount".into()))?;
        for row in 0..batch.num_rows() {
            let mut decision = Decision {
                subject: subject.value(row).to_string(),
                conditions: plan
                    .conditions
                    .iter()
                    .zip(&conditions)
                    .map(|(id, a)| (id.clone(), a.is_valid(row) && a.value(row)))
                    .collect(),
                exclusions: plan
                    .exclusions
                    .iter()
                    .zip(&exclusions)
                    .map(|(id, a)| (id.clone(), a.is_valid(row) && a.value(row)))
                    .collect(),
                eligible: eligible.is_valid(row) && eligible.value(row),
                payable: account.as_ref().is_none_or(|a| a.is_valid(row)),
                eligible_if_met: if_met
                    .iter()
                    .map(|a| a.is_valid(row) && a.value(row))
                    .collect(),
                amount: if amount.is_valid(row) {
                    amount.value(row)
                } else {
                    0
                },
                values: Vec::new(),
            };
            let recorded = decision.is_recorded();
            let (kept, with_values) = match keep {
                Keep::Every => (true, recorded),
                Keep::Recorded => (recorded, recorded),
                Keep::RecordedAnd(also) => {
                    let kept = recorded || also.contains(&decision.subject);
                    (kept, kept)
                }
            };
            if !kept {
                continue;
            }
            if with_values {
                decision.values = inputs
                    .iter()
                    .zip(&formatters)
                    .map(|(a, f)| a.is_valid(row).then(|| f.value(row).to_string()))
                    .collect();
            }
            out.push(decision);
        }
    }
    Ok(())
}

/// The Arrow type of an element as the data center writes it.
fn arrow_type(ty: ElementType) -> DataType {
    match ty {
        ElementType::String | ElementType::Date => DataType::Utf8,
        ElementType::Integer | ElementType::Money => DataType::Int64,
        ElementType::Real => DataType::Float64,
        ElementType::Boolean => DataType::Boolean,
    }
}

/// The subject an example stands for in the in-memory tables.
fn example_subject(i: usize) -> String {
    format!("example-{i:04}")
}

/// Builds one in-memory table per dataset from the examples: an example has a row in a
/// dataset when it gives any of that dataset's inputs.
fn example_tables(
    policy: &Policy,
    plan: &Plan,
) -> Result<Vec<(String, MemTable)>, EvaluationError> {
    let mut out = Vec::new();
    for t in &plan.tables {
        let mine: Vec<_> = policy
            .inputs
            .iter()
            .filter(|input| input.dataset == t.dataset)
            .collect();
        let rows: Vec<usize> = policy
            .examples
            .iter()
            .enumerate()
            .filter(|(_, e)| mine.iter().any(|input| e.inputs.contains_key(&input.name)))
            .map(|(i, _)| i)
            .collect();
        let mut fields = vec![Field::new("subject", DataType::Utf8, false)];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from(
            rows.iter().map(|&i| example_subject(i)).collect::<Vec<_>>(),
        ))];
        for (field, ty) in &t.fields {
            fields.push(Field::new(field, arrow_type(*ty), true));
            // The value the example gives any input that reads this field.
            let value = |i: usize| {
                mine.iter()
                    .filter(|input| &input.field == field)
                    .find_map(|input| policy.examples[i].inputs.get(&input.name))
            };
            let array: ArrayRef =
                match arrow_type(*ty) {
                    DataType::Int64 => Arc::new(Int64Array::from_iter(rows.iter().map(|&i| {
                        match value(i) {
                            Some(ExampleValue::Integer(v)) => Some(*v),
                            _ => None,
                        }
                    }))),
                    DataType::Float64 => Arc::new(Float64Array::from_iter(rows.iter().map(|&i| {
                        match value(i) {
                            Some(ExampleValue::Real(v)) => Some(*v),
                            Some(ExampleValue::Integer(v)) => Some(*v as f64),
                            _ => None,
                        }
                    }))),
                    DataType::Boolean => Arc::new(BooleanArray::from_iter(rows.iter().map(|&i| {
                        match value(i) {
                            Some(ExampleValue::Boolean(v)) => Some(*v),
                            _ => None,
                        }
                    }))),
                    _ => Arc::new(StringArray::from_iter(rows.iter().map(|&i| {
                        match value(i) {
                            Some(ExampleValue::Text(v)) => Some(v.clone()),
                            _ => None,
                        }
                    }))),
                };
            arrays.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        out.push((
            t.name.clone(),
            MemTable::try_new(schema, vec![vec![batch]])?,
        ));
    }
    Ok(out)
}

/// Runs a checked policy's `[[test]]` examples through its plan on DataFusion. Returns how
/// many ran, or an [`ErrorKind::ExampleFailed`] error at each failing example's `[[test]]`
/// entry in `file`.
pub fn check_examples(policy: &Policy, file: &str) -> Result<usize, Vec<PolicyError>> {
    let whole = |message: String| {
        vec![PolicyError {
            file: file.to_string(),
            line: 1,
            column: 1,
            kind: ErrorKind::ExampleFailed,
            message,
        }]
    };
    let decisions = match evaluate_examples(policy) {
        Ok(d) => d,
        Err(e) => return Err(whole(format!("the examples could not be evaluated: {e}"))),
    };
    let by_subject: BTreeMap<&str, &Decision> =
        decisions.iter().map(|d| (d.subject.as_str(), d)).collect();
    let mut errors = Vec::new();
    for (i, example) in policy.examples.iter().enumerate() {
        let subject = example_subject(i);
        let got = by_subject.get(subject.as_str());
        let (eligible, amount) = got.map_or((false, 0), |d| (d.eligible, d.amount));
        let expected_amount = example.amount.unwrap_or(0);
        if eligible == example.eligible && amount == expected_amount {
            continue;
        }
        let held: Vec<String> = got
            .map(|d| {
                d.conditions
                    .iter()
                    .map(|(id, v)| format!("{id}={v}"))
                    .collect()
            })
            .unwrap_or_default();
        let say = |e: bool, a: i64| {
            if e {
                format!("eligible, {a} fen")
            } else {
                "not eligible".to_string()
            }
        };
        errors.push(PolicyError {
            file: file.to_string(),
            line: example.line,
            column: example.column,
            kind: ErrorKind::ExampleFailed,
            message: format!(
                "example '{}' expects {}, but the policy decides {} (conditions: {})",
                example.name,
                say(example.eligible, expected_amount),
                say(eligible, amount),
                if held.is_empty() {
                    "no data".to_string()
                } else {
                    held.join(", ")
                }
            ),
        });
    }
    if errors.is_empty() {
        Ok(policy.examples.len())
    } else {
        Err(errors)
    }
}

/// Decides every example in the period of its day (`on`, by default the validity's first
/// day), with the parameters in force then.
fn evaluate_examples(policy: &Policy) -> Result<Vec<Decision>, EvaluationError> {
    let mut by_period: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, example) in policy.examples.iter().enumerate() {
        let on = example.on.unwrap_or(policy.valid_from);
        let period = policy.period_on(on).map_err(EvaluationError::Period)?;
        by_period
            .entry(period)
            .or_default()
            .push(example_subject(i));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(EvaluationError::Runtime)?;
    let mut out = Vec::new();
    for (period, subjects) in by_period {
        let resolved = policy
            .for_period(&period)
            .map_err(EvaluationError::Period)?;
        let plan = compile(&resolved);
        let decisions = runtime.block_on(async {
            let ctx = SessionContext::new();
            for (name, table) in example_tables(&resolved, &plan)? {
                ctx.register_table(name.as_str(), Arc::new(table))?;
            }
            run(&ctx, &plan).await
        })?;
        out.extend(
            decisions
                .into_iter()
                .filter(|d| subjects.contains(&d.subject)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::with_condition_met;

    #[test]
    fn a_met_condition_is_replaced_by_true_and_nothing_else_is() {
        assert_eq!(
            with_condition_met("poor AND (admitted OR transfer) AND NOT poorer", "poor"),
            "TRUE AND (admitted OR transfer) AND NOT poorer"
        );
        assert_eq!(
            with_condition_met("a AND age >= 60 AND \"a\"", "a"),
            "TRUE AND age >= 60 AND TRUE"
        );
        assert_eq!(with_condition_met("b OR c", "a"), "b OR c");
    }
}
