//! The batch run's joined rows, merged: row 1 of each subject in every snapshot the policy
//! reads, side by side, in one pass over the files.
//!
//! The policy's query ([`crate::compile`]) forms the population as the union of the
//! datasets' subjects and joins each dataset to it. Over a province, DataFusion then groups
//! every subject of every snapshot for the union and compares them again in each join: most
//! of a batch run's time. The exchange's snapshots are sorted by subject and number each
//! subject's rows, so the same joined rows come out of a k-way merge that reads each file
//! once and compares each subject once per file ([`MergedRows`]). The batch run's query then
//! reads them (`FROM merged`) in place of the union and the joins ([`crate::compile_merged`]);
//! everything after is the same query.
//!
//! A subject's row in the merge is the union's: it is there when any snapshot has it, with
//! NULL for the datasets that do not. Files that do not number their rows (the examples'
//! tables) are not merged; their runs keep the union and the joins.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    new_null_array, Array, ArrayRef, Int64Array, RecordBatch, Scalar, StringViewArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, filter_record_batch, interleave};
use datafusion::arrow::error::ArrowError;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{col, SessionContext};
use errandless_policy::Policy;

use crate::{EvaluationError, SUBJECT_ROW};

/// The table the merged query reads.
pub(crate) const MERGED: &str = "merged";

/// Rows per merged batch, as DataFusion's.
const BATCH_ROWS: usize = 8192;

/// The subjects a split run's range covers: from `from` (included) to `to` (excluded), either
/// open. Subjects compare as bytes, as the snapshots are sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SubjectRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl SubjectRange {
    /// The range as a condition on `subject`, for the query; `None` for every subject.
    pub fn sql(&self) -> Option<String> {
        let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
        match (&self.from, &self.to) {
            (None, None) => None,
            (Some(from), None) => Some(format!("subject >= {}", literal(from))),
            (None, Some(to)) => Some(format!("subject < {}", literal(to))),
            (Some(from), Some(to)) => Some(format!(
                "subject >= {} AND subject < {}",
                literal(from),
                literal(to)
            )),
        }
    }

    /// Whether a file's part whose subjects go from `min` to `max` can hold subjects of the
    /// range.
    fn overlaps(&self, min: &[u8], max: &[u8]) -> bool {
        self.from.as_deref().is_none_or(|f| max >= f.as_bytes())
            && self.to.as_deref().is_none_or(|t| min < t.as_bytes())
    }
}

/// One snapshot the merge reads: row 1 of each subject, with the fields the policy reads.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// The row groups that can hold subjects of the range.
    groups: Vec<usize>,
    /// In the batches read: `subject`, [`SUBJECT_ROW`], and each output column's field.
    subject: usize,
    row: usize,
}

/// Every subject of a range with row 1 of each snapshot the policy reads, merged in subject
/// order: `subject`, then the policy's inputs in its order (NULL where the subject has no
/// row in the input's dataset). A [`PartitionStream`], read through [`MergedRows::register`].
#[derive(Debug)]
pub(crate) struct MergedRows {
    schema: SchemaRef,
    sources: Vec<Arc<Source>>,
    /// Each input column: its source, and its column in the source's batches.
    outputs: Vec<(usize, usize)>,
    range: SubjectRange,
}

impl MergedRows {
    /// The merge of the snapshot of each dataset `policy` reads (`files`: dataset to file,
    /// `footers`: dataset to the file's Parquet metadata, read once) over `range`. Every file
    /// must number its subjects' rows.
    pub fn open(
        policy: &Policy,
        files: &BTreeMap<String, PathBuf>,
        footers: &BTreeMap<String, Arc<ParquetMetaData>>,
        range: SubjectRange,
    ) -> Result<MergedRows, EvaluationError> {
        let mut datasets: Vec<&str> = policy.inputs.iter().map(|i| i.dataset.as_str()).collect();
        datasets.sort_unstable();
        datasets.dedup();
        let mut sources = Vec::with_capacity(datasets.len());
        let mut schemas = Vec::with_capacity(datasets.len());
        for dataset in &datasets {
            let missing = || EvaluationError::MissingSnapshot((*dataset).to_owned());
            let path = files.get(*dataset).ok_or_else(missing)?;
            let footer = footers.get(*dataset).ok_or_else(missing)?;
            let fields: Vec<&str> = policy
                .inputs
                .iter()
                .filter(|i| i.dataset == *dataset)
                .map(|i| i.field.as_str())
                .collect();
            let (source, schema) = Source::open(path, footer.clone(), &fields, &range)?;
            sources.push(Arc::new(source));
            schemas.push(schema);
        }
        // The merge reads subjects as string views.
        let mut fields = vec![Field::new("subject", DataType::Utf8View, false)];
        let mut outputs = Vec::with_capacity(policy.inputs.len());
        for input in &policy.inputs {
            let s = datasets
                .iter()
                .position(|d| *d == input.dataset)
                .expect("every input's dataset is a source");
            let column = schemas[s]
                .index_of(&input.field)
                .map_err(|e| sources[s].unreadable(e.to_string()))?;
            fields.push(Field::new(
                &input.name,
                schemas[s].field(column).data_type().clone(),
                true,
            ));
            outputs.push((s, column));
        }
        Ok(MergedRows {
            schema: Arc::new(Schema::new(fields)),
            sources,
            outputs,
            range,
        })
    }

    /// Registers the merge as the table [`MERGED`] of `ctx`, sorted by subject.
    pub fn register(self, ctx: &SessionContext) -> Result<(), EvaluationError> {
        let schema = self.schema.clone();
        let table = StreamingTable::try_new(schema, vec![Arc::new(self)])?
            .with_sort_order(vec![col("subject").sort(true, false)]);
        ctx.register_table(MERGED, Arc::new(table))?;
        Ok(())
    }

    fn merge(&self) -> Result<Merge, EvaluationError> {
        let cursors = self
            .sources
            .iter()
            .map(|s| Cursor::open(s.clone(), &self.range))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Merge {
            schema: self.schema.clone(),
            outputs: self.outputs.clone(),
            cursors,
        })
    }
}

impl PartitionStream for MergedRows {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        // The merge reads the files as it is polled, a batch at a time: a batch run's range
        // has a thread of its own.
        let start = self
            .merge()
            .map_err(|e| DataFusionError::External(Box::new(e)));
        let batches = futures_util::stream::unfold(Some(start), |state| async move {
            let mut merge = match state? {
                Ok(merge) => merge,
                Err(e) => return Some((Err(e), None)),
            };
            match merge.next_batch() {
                Ok(Some(batch)) => Some((Ok(batch), Some(Ok(merge)))),
                Ok(None) => None,
                Err(e) => Some((Err(DataFusionError::External(Box::new(e))), None)),
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), batches))
    }
}

impl Source {
    /// Opens a snapshot, whose Parquet metadata is `footer`, to read `subject`,
    /// [`SUBJECT_ROW`] and `fields`, text as string views (as DataFusion reads Parquet).
    fn open(
        path: &Path,
        footer: Arc<ParquetMetaData>,
        fields: &[&str],
        range: &SubjectRange,
    ) -> Result<(Source, SchemaRef), EvaluationError> {
        let unreadable = |reason: String| EvaluationError::Snapshot {
            file: path.display().to_string(),
            reason,
        };
        let plain = ArrowReaderMetadata::try_new(footer, ArrowReaderOptions::new())
            .map_err(|e| unreadable(e.to_string()))?;
        let viewed: Vec<Field> = plain
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let ty = match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                    DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                    other => other.clone(),
                };
                f.as_ref().clone().with_data_type(ty)
            })
            .collect();
        let metadata = ArrowReaderMetadata::try_new(
            plain.metadata().clone(),
            ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(viewed))),
        )
        .map_err(|e| unreadable(e.to_string()))?;
        let arrow = metadata.schema().clone();
        let position = |name: &str| arrow.fields().iter().position(|f| f.name() == name);
        let parquet = metadata.parquet_schema();
        // The snapshots are flat: each top-level field is one Parquet column.
        if parquet.num_columns() != arrow.fields().len() {
            return Err(unreadable("it has nested columns".to_owned()));
        }
        let column = |name: &str| {
            position(name).ok_or_else(|| unreadable(format!("it has no column {name}")))
        };
        let subject_column = column("subject")?;
        let mut columns = vec![subject_column, column(SUBJECT_ROW)?];
        for name in fields {
            columns.push(column(name)?);
        }
        columns.sort_unstable();
        columns.dedup();
        let mask = ProjectionMask::roots(parquet, columns.iter().copied());
        let schema = Arc::new(arrow.project(&columns)?);
        let groups = metadata
            .metadata()
            .row_groups()
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                let stats = g.column(subject_column).statistics();
                match stats.and_then(|s| Some((s.min_bytes_opt()?, s.max_bytes_opt()?))) {
                    Some((min, max)) => range.overlaps(min, max),
                    None => true,
                }
            })
            .map(|(g, _)| g)
            .collect();
        let index = |name: &str| schema.index_of(name).expect("projected above");
        Ok((
            Source {
                path: path.to_owned(),
                metadata,
                mask,
                groups,
                subject: index("subject"),
                row: index(SUBJECT_ROW),
            },
            schema,
        ))
    }

    fn unreadable(&self, reason: String) -> EvaluationError {
        EvaluationError::Snapshot {
            file: self.path.display().to_string(),
            reason,
        }
    }
}

/// One source being read: its current batch (row 1 of each subject, within the range) and
/// the row the merge is at.
struct Cursor {
    source: Arc<Source>,
    reader: Option<ParquetRecordBatchReader>,
    /// Row 1, as the file's type of [`SUBJECT_ROW`].
    first: Scalar<ArrayRef>,
    from: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
    batch: Option<RecordBatch>,
    /// The current batch's subjects, as string views.
    subjects: Option<StringViewArray>,
    at: usize,
    /// Where the current batch is among the batches the merged batch being built draws on:
    /// its index in `held` (from 1: 0 is the NULL row) and in `subjects`.
    held: usize,
    subject_array: usize,
}

impl Cursor {
    fn open(source: Arc<Source>, range: &SubjectRange) -> Result<Self, EvaluationError> {
        let file = File::open(&source.path).map_err(|e| source.unreadable(e.to_string()))?;
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, source.metadata.clone())
                .with_projection(source.mask.clone())
                .with_row_groups(source.groups.clone())
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| source.unreadable(e.to_string()))?;
        let row_type = source
            .metadata
            .schema()
            .field_with_name(SUBJECT_ROW)
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Int64);
        let first = Scalar::new(cast(&Int64Array::from(vec![1]), &row_type)?);
        Ok(Cursor {
            source,
            reader: Some(reader),
            first,
            from: range.from.clone().map(String::into_bytes),
            to: range.to.clone().map(String::into_bytes),
            batch: None,
            subjects: None,
            at: 0,
            held: 0,
            subject_array: 0,
        })
    }

    /// Reads the next batch that has rows for the merge, or ends the cursor.
    fn advance_batch(&mut self) -> Result<(), EvaluationError> {
        self.batch = None;
        self.subjects = None;
        self.at = 0;
        while let Some(reader) = self.reader.as_mut() {
            let Some(batch) = reader.next() else {
                self.reader = None;
                break;
            };
            let batch = batch.map_err(|e| self.source.unreadable(e.to_string()))?;
            let firsts = eq(batch.column(self.source.row), &self.first)?;
            let batch = if firsts.true_count() == batch.num_rows() {
                batch
            } else {
                filter_record_batch(&batch, &firsts)?
            };
            let subjects = cast(batch.column(self.source.subject), &DataType::Utf8View)?;
            let subjects = subjects.as_string_view();
            let key = |i: usize| subjects.value(i).as_bytes();
            let n = batch.num_rows();
            let start = match self.from.as_deref() {
                Some(from) => partition_point(n, |i| key(i) < from),
                None => 0,
            };
            let end = match self.to.as_deref() {
                Some(to) => partition_point(n, |i| key(i) < to),
                None => n,
            };
            if end < n {
                // The file is sorted: nothing after this belongs to the range.
                self.reader = None;
            }
            if start < end {
                self.subjects = Some(subjects.slice(start, end - start));
                self.batch = Some(batch.slice(start, end - start));
                break;
            }
        }
        Ok(())
    }

    fn subject(&self) -> Option<&[u8]> {
        self.subjects.as_ref().map(|s| s.value(self.at).as_bytes())
    }

    /// Adds the current batch, if any, to those the merged batch being built draws on: its
    /// rows to `held` (this source's), its subjects to `subjects` (every source's).
    fn hold(&mut self, held: &mut Vec<RecordBatch>, subjects: &mut Vec<ArrayRef>) {
        if let (Some(batch), Some(subject)) = (&self.batch, &self.subjects) {
            held.push(batch.clone());
            self.held = held.len();
            subjects.push(Arc::new(subject.clone()));
            self.subject_array = subjects.len() - 1;
        }
    }
}

/// The first of `0..n` for which `before` is false, `before` holding for a prefix.
fn partition_point(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A merge in progress.
struct Merge {
    schema: SchemaRef,
    outputs: Vec<(usize, usize)>,
    cursors: Vec<Cursor>,
}

impl Merge {
    /// The next merged batch of up to [`BATCH_ROWS`] subjects, `None` at the end.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, EvaluationError> {
        let sources = self.cursors.len();
        // The batches this merged batch draws on, per source, and every source's subjects.
        let mut held: Vec<Vec<RecordBatch>> = vec![Vec::new(); sources];
        let mut subjects: Vec<ArrayRef> = Vec::new();
        for (s, cursor) in self.cursors.iter_mut().enumerate() {
            if cursor.batch.is_none() && cursor.reader.is_some() {
                cursor.advance_batch()?;
            }
            cursor.hold(&mut held[s], &mut subjects);
        }
        let mut picks: Vec<Vec<(usize, usize)>> = vec![Vec::with_capacity(BATCH_ROWS); sources];
        let mut subject_picks: Vec<(usize, usize)> = Vec::with_capacity(BATCH_ROWS);
        let mut matched = vec![false; sources];
        while subject_picks.len() < BATCH_ROWS {
            // Each source's subject once: the least, and which sources have it.
            let mut least: Option<(usize, &[u8])> = None;
            for (s, cursor) in self.cursors.iter().enumerate() {
                let subject = cursor.subject();
                if let Some(subject) = subject {
                    if least.is_none_or(|(_, l)| subject < l) {
                        least = Some((s, subject));
                    }
                }
            }
            let Some((least, key)) = least else { break };
            for (s, cursor) in self.cursors.iter().enumerate() {
                matched[s] = s == least || cursor.subject() == Some(key);
            }
            let first = &self.cursors[least];
            subject_picks.push((first.subject_array, first.at));
            for (s, cursor) in self.cursors.iter_mut().enumerate() {
                if !matched[s] {
                    picks[s].push((0, 0));
                    continue;
                }
                picks[s].push((cursor.held, cursor.at));
                cursor.at += 1;
                if cursor.at == cursor.batch.as_ref().map_or(0, RecordBatch::num_rows) {
                    cursor.advance_batch()?;
                    cursor.hold(&mut held[s], &mut subjects);
                }
            }
        }
        if subject_picks.is_empty() {
            return Ok(None);
        }
        let schema = &self.schema;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        let arrays: Vec<&dyn Array> = subjects.iter().map(|a| a.as_ref()).collect();
        columns.push(interleave(&arrays, &subject_picks)?);
        for (field, &(s, column)) in schema.fields().iter().skip(1).zip(&self.outputs) {
            let none = new_null_array(field.data_type(), 1);
            let arrays: Vec<&dyn Array> = std::iter::once(none.as_ref())
                .chain(held[s].iter().map(|b| b.column(column).as_ref()))
                .collect();
            columns.push(interleave(&arrays, &picks[s])?);
        }
        RecordBatch::try_new(schema.clone(), columns)
            .map(Some)
            .map_err(|e: ArrowError| e.into())
    }
}
