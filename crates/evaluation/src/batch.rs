//! The batch run over the whole province: the session it runs in, and the per-subject rows of
//! condition results written to Parquet.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::merged::{MergedRows, SubjectRange};
use crate::{
    compile_merged, compile_where, has_subject_row, read_footer, register_snapshots, run_recorded,
    Decided, EvaluationError, Keep, Plan,
};

/// A session for batch runs over the data center's snapshots.
///
/// One partition, and joins by sort-merge where a hash join is not clearly better: the
/// snapshots are sorted by subject (see [`crate::register_snapshots`]), so the population is
/// merged and the result comes out in subject order with no repartitioning and no final sort.
/// Measured on two cores over a province of a million people, this took half the time of two
/// hash-partitioned partitions. The cores are used instead by [`run_split`], which runs one
/// such session per range of subjects.
pub fn session() -> SessionContext {
    let mut config = SessionConfig::new().with_target_partitions(1);
    config.options_mut().optimizer.prefer_hash_join = false;
    // Keep the subject order of the snapshots through unions (the population) rather than
    // hashing: the merged subjects stream into the joins without a sort.
    config.options_mut().optimizer.prefer_existing_sort = true;
    SessionContext::new_with_config(config)
}

/// Runs the plan on the tables registered in `ctx` and writes its result to a Parquet file
/// at `path` (Snappy, as the snapshots): one row per subject with the subject, the policy's
/// inputs, each condition and exclusion, `eligible`, each condition's `if_met:` column and
/// `amount`. Returns the rows written.
pub async fn write_conditions(
    ctx: &SessionContext,
    plan: &Plan,
    path: &Path,
) -> Result<u64, EvaluationError> {
    let mut options = TableParquetOptions::default();
    options.global.compression = Some("snappy".to_owned());
    let written = ctx
        .sql(&plan.sql)
        .await?
        .write_parquet(
            &path.display().to_string(),
            DataFrameWriteOptions::new().with_single_file_output(true),
            Some(options),
        )
        .await?;
    let mut rows = 0;
    for batch in &written {
        let count = batch
            .column_by_name("count")
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::UInt64Array>())
            .ok_or_else(|| EvaluationError::Result("count".into()))?;
        rows += count.iter().flatten().sum::<u64>();
    }
    Ok(rows)
}

/// The subject ranges that split a batch run into `parts` of about equal rows: a filter on
/// `subject` for each, in subject order, cut where a row group of the largest file begins
/// (the snapshots are sorted by subject, so each range's scans skip the other ranges' row
/// groups by their statistics). One range with no filter when the file has too few row groups
/// or no statistics to cut by.
pub fn subject_ranges<P: AsRef<Path>>(
    files: &BTreeMap<String, P>,
    parts: usize,
) -> Result<Vec<Option<String>>, EvaluationError> {
    let footers = files
        .values()
        .map(|p| read_footer(p.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let footers: Vec<&ParquetMetaData> = footers.iter().collect();
    Ok(ranges_of(&footers, parts)
        .iter()
        .map(SubjectRange::sql)
        .collect())
}

/// [`subject_ranges`] from the files' footers.
fn ranges_of(footers: &[&ParquetMetaData], parts: usize) -> Vec<SubjectRange> {
    let mut largest: Option<Vec<(i64, Option<Vec<u8>>)>> = None;
    for metadata in footers {
        let Some(column) = metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == "subject")
        else {
            continue;
        };
        let groups: Vec<(i64, Option<Vec<u8>>)> = metadata
            .row_groups()
            .iter()
            .map(|g| {
                let min = g
                    .column(column)
                    .statistics()
                    .filter(|s| s.min_is_exact())
                    .and_then(|s| s.min_bytes_opt())
                    .map(<[u8]>::to_vec);
                (g.num_rows(), min)
            })
            .collect();
        let rows = |g: &[(i64, Option<Vec<u8>>)]| g.iter().map(|(n, _)| n).sum::<i64>();
        if largest.as_ref().is_none_or(|l| rows(&groups) > rows(l)) {
            largest = Some(groups);
        }
    }
    let groups = largest.unwrap_or_default();
    let total: i64 = groups.iter().map(|(n, _)| n).sum();
    let mut cuts: Vec<String> = Vec::new();
    let mut start = 0;
    let mut k = 1;
    for (rows, min) in &groups {
        if k < parts && start > 0 && start * parts as i64 >= total * k as i64 {
            let Some(cut) = min.as_deref().and_then(|m| std::str::from_utf8(m).ok()) else {
                return vec![SubjectRange::default()];
            };
            if cuts.last().is_none_or(|last| last.as_str() < cut) {
                cuts.push(cut.to_owned());
            }
            k += 1;
        }
        start += rows;
    }
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut from = None;
    for cut in cuts {
        ranges.push(SubjectRange {
            from: from.take(),
            to: Some(cut.clone()),
        });
        from = Some(cut);
    }
    ranges.push(SubjectRange { from, to: None });
    ranges
}

/// Runs the future `work` makes on a thread of the blocking pool, with a runtime of its own:
/// a batch session runs one partition, so each range gets a core whatever runtime the caller
/// has (the command line's has one thread). Started at once; awaited later.
fn on_own_thread<T, F, Fut>(
    work: F,
) -> impl std::future::Future<Output = Result<T, EvaluationError>>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, EvaluationError>>,
{
    let task = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(EvaluationError::Runtime)?
            .block_on(work())
    });
    async move {
        task.await
            .map_err(|e| EvaluationError::Task(e.to_string()))?
    }
}

/// How many ranges a batch run is split into: one per core, at most four.
pub fn batch_parts() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// A batch run split by subject ranges: the snapshot files with their footers, read once,
/// which of them number their subjects' rows, and the ranges. The files are owned, for the
/// ranges' threads.
struct Split {
    numbered: BTreeSet<String>,
    ranges: Vec<SubjectRange>,
    files: Arc<BTreeMap<String, PathBuf>>,
    footers: BTreeMap<String, Arc<ParquetMetaData>>,
}

impl Split {
    fn of<P: AsRef<Path>>(
        files: &BTreeMap<String, P>,
        parts: usize,
    ) -> Result<Split, EvaluationError> {
        let mut footers = BTreeMap::new();
        for (dataset, path) in files {
            footers.insert(dataset.clone(), Arc::new(read_footer(path.as_ref())?));
        }
        let numbered = footers
            .iter()
            .filter(|(_, footer)| has_subject_row(footer))
            .map(|(dataset, _)| dataset.clone())
            .collect();
        let all: Vec<&ParquetMetaData> = footers.values().map(Arc::as_ref).collect();
        Ok(Split {
            numbered,
            ranges: ranges_of(&all, parts),
            files: Arc::new(
                files
                    .iter()
                    .map(|(d, p)| (d.clone(), p.as_ref().to_owned()))
                    .collect(),
            ),
            footers,
        })
    }

    /// Whether every snapshot `policy` reads numbers its subjects' rows, so that the ranges
    /// read them merged ([`MergedRows`]) rather than joined.
    fn merges(&self, policy: &errandless_policy::Policy) -> bool {
        policy
            .inputs
            .iter()
            .all(|i| self.numbered.contains(&i.dataset))
    }

    /// Runs `policy` over each range at once, each in a batch session of its own with the
    /// snapshots registered (merged, [`MergedRows`] with the plan [`compile_merged`]'s, where
    /// [`Split::merges`]), handing the session and the range's plan to the work
    /// `per_range(k)` makes for range `k`. The results, in range order.
    async fn run_each<T, W, Fut>(
        &self,
        policy: &errandless_policy::Policy,
        per_range: impl Fn(usize) -> W,
    ) -> Result<Vec<T>, EvaluationError>
    where
        T: Send + 'static,
        W: FnOnce(SessionContext, Plan) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, EvaluationError>>,
    {
        let merges = self.merges(policy);
        let mut tasks = Vec::with_capacity(self.ranges.len());
        for (k, range) in self.ranges.iter().enumerate() {
            let (plan, merged) = if merges {
                let rows = MergedRows::open(policy, &self.files, &self.footers, range.clone())?;
                (compile_merged(policy), Some(rows))
            } else {
                let only = range.sql();
                (compile_where(policy, only.as_deref(), &self.numbered), None)
            };
            let files = Arc::clone(&self.files);
            let work = per_range(k);
            tasks.push(on_own_thread(move || async move {
                let ctx = session();
                match merged {
                    Some(rows) => rows.register(&ctx)?,
                    None => register_snapshots(&ctx, &plan, &files).await?,
                }
                work(ctx, plan).await
            }));
        }
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            out.push(task.await?);
        }
        Ok(out)
    }
}

/// [`Keep`] owned, to hand to the ranges' threads: `RecordedAnd`'s set is shared.
enum KeepOwned {
    Every,
    Recorded,
    RecordedAnd(Arc<HashSet<String>>),
}

impl KeepOwned {
    fn of(keep: Keep<'_>) -> KeepOwned {
        match keep {
            Keep::Every => KeepOwned::Every,
            Keep::Recorded => KeepOwned::Recorded,
            Keep::RecordedAnd(set) => KeepOwned::RecordedAnd(Arc::new(set.clone())),
        }
    }

    fn as_keep(&self) -> Keep<'_> {
        match self {
            KeepOwned::Every => Keep::Every,
            KeepOwned::Recorded => Keep::Recorded,
            KeepOwned::RecordedAnd(set) => Keep::RecordedAnd(set),
        }
    }
}

/// The batch run of `policy` over the snapshot `files` (`dataset` to file): one session per
/// range of subjects ([`subject_ranges`], [`batch_parts`] of them), run at once on threads of
/// their own, their decisions joined in subject order. The same decisions as one
/// session over everyone, in about the time of the largest range. Where every file numbers
/// its subjects' rows, each range reads the snapshots merged (`crate::merged`) rather than
/// joined.
pub async fn run_split<P: AsRef<Path>>(
    policy: &errandless_policy::Policy,
    files: &BTreeMap<String, P>,
    keep: Keep<'_>,
) -> Result<Decided, EvaluationError> {
    run_split_in(policy, files, keep, batch_parts()).await
}

/// [`run_split`] in about `parts` ranges (fewer when the files have too few row groups).
pub async fn run_split_in<P: AsRef<Path>>(
    policy: &errandless_policy::Policy,
    files: &BTreeMap<String, P>,
    keep: Keep<'_>,
    parts: usize,
) -> Result<Decided, EvaluationError> {
    crate::resolved(policy)?;
    let keep = Arc::new(KeepOwned::of(keep));
    let parts = Split::of(files, parts)?
        .run_each(policy, |_| {
            let keep = Arc::clone(&keep);
            move |ctx, plan| async move { run_recorded(&ctx, &plan, keep.as_keep()).await }
        })
        .await?;
    let mut out = Decided::default();
    for part in parts {
        out.evaluated += part.evaluated;
        out.decisions.extend(part.decisions);
    }
    Ok(out)
}

/// [`write_conditions`] for each range of [`subject_ranges`] at once: `path` with `.part-K`
/// before its extension, one file per range. Returns the rows written.
pub async fn write_conditions_split<P: AsRef<Path>>(
    policy: &errandless_policy::Policy,
    files: &BTreeMap<String, P>,
    path: &Path,
) -> Result<u64, EvaluationError> {
    crate::resolved(policy)?;
    let stem = path.with_extension("");
    let rows = Split::of(files, batch_parts())?
        .run_each(policy, |k| {
            let out = stem.with_extension(format!("part-{k}.parquet"));
            move |ctx, plan| async move { write_conditions(&ctx, &plan, &out).await }
        })
        .await?;
    Ok(rows.into_iter().sum())
}
