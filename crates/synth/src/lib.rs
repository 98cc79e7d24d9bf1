//! The synthetic province: a realistic, deterministic stand-in for a province's data islands.
//!
//! From a population size and a seed it writes:
//!
//! - `divisions.csv`: the 12-digit division codes of all five levels, under a real
//!   province-level code (52, Guizhou, by default) with synthetic codes below it;
//! - `islands/<department>.sqlite`: one SQLite database per department of blueprint §7, each in
//!   the schema the unified data standard gives it, with its own local identifiers and its own
//!   data-quality faults (missing values, stale addresses, duplicates, the dead still listed);
//! - `province.toml`: what was generated and how many rows each dataset holds.
//!
//! People live in households, carry valid and unique GB 11643 ID numbers, and the islands agree
//! with each other the way real ones do: registered poor households send children to university
//! at believable rates, some eligible students have no subsidy account, the elderly are more
//! often disabled.
//!
//! This crate is not the exchange: nothing here reads an island back. It streams: one county
//! at a time flows from two generator threads to one writer thread per island, so memory stays
//! bounded whatever the population. The same people, seed and province give byte-identical
//! files.
//!
//! ```no_run
//! use errandless_synth::{Config, Progress, write_province};
//! let config = Config { people: 10_000, ..Config::default() };
//! let report = write_province(&config, std::path::Path::new("province"), false, &Progress::default())?;
//! println!("{} people in {} households", report.people(), report.households());
//! # Ok::<(), errandless_synth::SynthError>(())
//! ```

mod admission;
mod death;
mod islands;
pub mod names;
pub mod people;
pub mod plan;
#[cfg(feature = "testing")]
pub mod testing;

pub use admission::{admit, AdmissionError, Admitted};
pub use death::{register_death, Registered};

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use errandless_standards::{division, Date, Level, Province, Standard};

pub use people::Chunk;
pub use plan::Plan;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Config {
    pub people: u64,
    pub seed: u64,
    /// The real two-digit province-level code the synthetic divisions sit under.
    pub province: u8,
    /// The date the data describes. Fixed, not today, so that output is reproducible.
    pub as_of: Date,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            people: 100_000,
            seed: 1,
            province: 52,
            as_of: Date::new(2026, 10, 31).expect("a real date"),
        }
    }
}

/// Why a province could not be generated. Nothing is left half-written in any case.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("--people must be at least 1")]
    NoPeople,
    #[error("{0} is not a province-level code of GB/T 2260")]
    UnknownProvince(u8),
    #[error("{0} already exists; pass --force to replace it")]
    AlreadyExists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("while writing island {island}: {source}")]
    Island {
        island: String,
        source: rusqlite::Error,
    },
    #[error("a generator or island writer stopped unexpectedly: {0}")]
    Crashed(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Counts that a caller may poll from another thread to draw a progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicU64,
    /// People written so far by each island; the province is as far as its slowest island.
    per_island: [AtomicU64; 17],
    indexing: AtomicU64,
}

impl Progress {
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    pub fn done(&self) -> u64 {
        self.per_island
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }
    /// How many islands are building their indexes after the last row.
    pub fn indexing(&self) -> u64 {
        self.indexing.load(Ordering::Relaxed)
    }
}

/// People and households of one city.
#[derive(Clone, Debug)]
pub struct CityCount {
    pub code: String,
    pub name: String,
    pub people: u64,
    pub households: u64,
}

/// What was generated.
#[derive(Clone, Debug)]
pub struct Report {
    pub config: Config,
    pub province: &'static Province,
    pub cities: Vec<CityCount>,
    /// The number of divisions at each of the five levels.
    pub divisions: [u64; 5],
    /// Rows of each dataset, by dataset id, in the standard's order.
    pub datasets: Vec<(String, u64)>,
}

impl Report {
    pub fn people(&self) -> u64 {
        self.cities.iter().map(|c| c.people).sum()
    }
    pub fn households(&self) -> u64 {
        self.cities.iter().map(|c| c.households).sum()
    }
    /// Rows per island, in the standard's order of departments.
    pub fn islands(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for dept in Standard::builtin().islands() {
            let rows = self
                .datasets
                .iter()
                .filter(|(id, _)| id.split('.').next() == Some(dept.id.as_str()))
                .map(|(_, n)| n)
                .sum();
            out.push((dept.id.clone(), rows));
        }
        out
    }
}

/// Mixes a seed with a stream and an index into an independent seed (SplitMix64), so every
/// county and island draws from a stream of its own.
pub(crate) fn stream_seed(seed: u64, stream: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(index.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Generates the province into `out`, which must not exist unless `force` is given. The
/// province is written to a temporary sibling directory first and moved into place only when
/// complete, so a failure leaves `out` as it was.
pub fn write_province(
    config: &Config,
    out: &Path,
    force: bool,
    progress: &Progress,
) -> Result<Report, SynthError> {
    check(config)?;
    if out.exists() && !force {
        return Err(SynthError::AlreadyExists(out.to_path_buf()));
    }
    let staging = staging_dir(out)?;
    let result = generate_into(config, &staging, progress);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if out.exists() {
        fs::remove_dir_all(out).map_err(io(out))?;
    }
    fs::rename(&staging, out).map_err(io(out))?;
    Ok(report)
}

/// The parts of a province inside a directory, as [`generate_into`] writes them.
pub const PROVINCE_FILES: [&str; 3] = ["islands", "divisions.csv", "province.toml"];

/// Generates the province into a staging directory beside `data`, then moves its parts
/// (`islands/`, `divisions.csv`, `province.toml`) into `data`, replacing earlier ones and
/// leaving everything else in `data` alone. For installations whose data directory holds more
/// than the province.
pub fn install_into(
    config: &Config,
    data: &Path,
    progress: &Progress,
) -> Result<Report, SynthError> {
    check(config)?;
    fs::create_dir_all(data).map_err(io(data))?;
    let staging = data.join(".province.partial");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    fs::create_dir(&staging).map_err(io(&staging))?;
    let report = match generate_into(config, &staging, progress) {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    for part in PROVINCE_FILES {
        let target = data.join(part);
        if target.is_dir() {
            fs::remove_dir_all(&target).map_err(io(&target))?;
        } else if target.exists() {
            fs::remove_file(&target).map_err(io(&target))?;
        }
        fs::rename(staging.join(part), &target).map_err(io(&target))?;
    }
    fs::remove_dir(&staging).map_err(io(&staging))?;
    Ok(report)
}

fn check(config: &Config) -> Result<(), SynthError> {
    if config.people == 0 {
        return Err(SynthError::NoPeople);
    }
    if division::province(config.province).is_none() {
        return Err(SynthError::UnknownProvince(config.province));
    }
    Ok(())
}

fn staging_dir(out: &Path) -> Result<PathBuf, SynthError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "province".into());
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    fs::create_dir(&staging).map_err(io(&staging))?;
    Ok(staging)
}

type ChunkSender = SyncSender<Arc<Chunk>>;

/// Generates the whole province into an existing empty directory.
pub fn generate_into(
    config: &Config,
    dir: &Path,
    progress: &Progress,
) -> Result<Report, SynthError> {
    check(config)?;
    let province = division::province(config.province).expect("checked");
    let standard = Standard::builtin();
    let plan = Plan::new(province, config.people, config.seed);
    progress.total.store(config.people, Ordering::Relaxed);
    for a in &progress.per_island {
        a.store(0, Ordering::Relaxed);
    }
    progress.indexing.store(0, Ordering::Relaxed);

    let islands_dir = dir.join("islands");
    fs::create_dir_all(&islands_dir).map_err(io(&islands_dir))?;
    let divisions = write_divisions(&plan, &dir.join("divisions.csv"))?;

    let departments: Vec<String> = standard.islands().map(|d| d.id.clone()).collect();
    assert_eq!(departments.len(), progress.per_island.len(), "17 islands");
    let ctx = islands::Context {
        plan: &plan,
        as_of: config.as_of,
        seed: config.seed,
    };
    let generators = 2usize;
    let n_counties = plan.counties.len();

    let mut city_counts: Vec<CityCount> = plan
        .cities
        .iter()
        .map(|c| CityCount {
            code: c.code.to_string(),
            name: c.name.clone(),
            people: 0,
            households: 0,
        })
        .collect();

    let island_rows = std::thread::scope(|scope| -> Result<Vec<Vec<(String, u64)>>, SynthError> {
        // Generators: county g, g + G, g + 2G, ... each into a channel of its own, so the
        // broadcaster can take counties back in order.
        let mut gen_rx: Vec<Receiver<Arc<Chunk>>> = Vec::new();
        for g in 0..generators {
            let (tx, rx) = sync_channel::<Arc<Chunk>>(1);
            gen_rx.push(rx);
            let plan = &plan;
            let seed = config.seed;
            let as_of = config.as_of;
            scope.spawn(move || {
                for county in plan.counties.iter().skip(g).step_by(generators) {
                    let chunk = people::generate(county, seed, as_of);
                    if tx.send(Arc::new(chunk)).is_err() {
                        return;
                    }
                }
            });
        }
        // Writers: one thread per island.
        let mut writer_tx: Vec<ChunkSender> = Vec::new();
        let mut handles = Vec::new();
        for (i, dept) in departments.iter().enumerate() {
            let (tx, rx) = sync_channel::<Arc<Chunk>>(2);
            writer_tx.push(tx);
            let path = islands_dir.join(format!("{dept}.sqlite"));
            let ctx = &ctx;
            let counter = &progress.per_island[i];
            let indexing = &progress.indexing;
            handles.push(scope.spawn(move || {
                write_island(dept, i as u64, &path, standard, ctx, rx, counter, indexing)
            }));
        }
        // Broadcaster: counties in order to every island.
        let mut broken = false;
        for county in 0..n_counties {
            let Ok(chunk) = gen_rx[county % generators].recv() else {
                broken = true;
                break;
            };
            let c = &mut city_counts[plan.counties[county].city];
            c.people += chunk.people.len() as u64;
            c.households += chunk.households.len() as u64;
            for tx in &writer_tx {
                if tx.send(Arc::clone(&chunk)).is_err() {
                    broken = true;
                }
            }
            if broken {
                break;
            }
        }
        drop(writer_tx);
        drop(gen_rx);
        let mut results = Vec::new();
        for h in handles {
            match h.join() {
                Ok(r) => results.push(r?),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    return Err(SynthError::Crashed(msg));
                }
            }
        }
        if broken {
            return Err(SynthError::Crashed("the county stream ended early".into()));
        }
        Ok(results)
    })?;

    let datasets: Vec<(String, u64)> = island_rows.into_iter().flatten().collect();
    let report = Report {
        config: config.clone(),
        province,
        cities: city_counts,
        divisions,
        datasets,
    };
    write_manifest(&report, &dir.join("province.toml"))?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn write_island(
    department: &str,
    island: u64,
    path: &Path,
    standard: &Standard,
    ctx: &islands::Context<'_>,
    rx: Receiver<Arc<Chunk>>,
    counter: &AtomicU64,
    indexing: &AtomicU64,
) -> Result<Vec<(String, u64)>, SynthError> {
    let err = |source| SynthError::Island {
        island: department.to_string(),
        source,
    };
    disable_memory_statistics();
    let conn = rusqlite::Connection::open(path).map_err(err)?;
    // A generated island is rebuilt rather than recovered, so it needs no journal until done.
    // Index sorts spill to temporary files (temp_store = FILE) so that seventeen islands
    // building their indexes at once stay within bounded memory.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA temp_store = FILE; PRAGMA cache_size = -16384; BEGIN;",
    )
    .map_err(err)?;
    let rows = {
        let mut tables = islands::Tables::create(&conn, standard, department).map_err(err)?;
        for chunk in rx {
            islands::write(department, island, ctx, &chunk, &mut tables).map_err(err)?;
            counter.fetch_add(chunk.people.len() as u64, Ordering::Relaxed);
        }
        tables.rows.clone()
    };
    indexing.fetch_add(1, Ordering::Relaxed);
    // Index what rows are looked up by: the field that names the subject.
    for ds in standard.datasets_of(department) {
        let col = match &ds.subject {
            errandless_standards::SubjectLink::Direct { field }
            | errandless_standards::SubjectLink::Organisation { field }
            | errandless_standards::SubjectLink::Via { field, .. } => field,
        };
        conn.execute_batch(&format!(
            "CREATE INDEX {t}_{col} ON {t} ({col})",
            t = ds.table
        ))
        .map_err(err)?;
    }
    conn.execute_batch("COMMIT;").map_err(err)?;
    drop(conn);
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))?;
    Ok(standard
        .datasets_of(department)
        .zip(rows)
        .map(|(ds, n)| (ds.id.clone(), n))
        .collect())
}

/// SQLite keeps allocation statistics behind one process-wide mutex, which serialises the
/// island writers. They are only diagnostics, so turn them off before SQLite initialises.
fn disable_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config must run before sqlite3_initialize and not concurrently with
        // other SQLite calls; Once serialises it, and if SQLite is already initialised it
        // returns SQLITE_MISUSE without changing anything.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0);
        }
    });
}

fn write_divisions(plan: &Plan, path: &Path) -> Result<[u64; 5], SynthError> {
    let file = fs::File::create(path).map_err(io(path))?;
    let mut w = BufWriter::new(file);
    let mut counts = [0u64; 5];
    writeln!(w, "code,name,level,parent").map_err(io(path))?;
    for (code, name) in plan.divisions() {
        let level = code.level();
        counts[Level::ALL
            .iter()
            .position(|l| *l == level)
            .expect("a level")] += 1;
        let parent = code.parent().map(|p| p.to_string()).unwrap_or_default();
        writeln!(w, "{code},{name},{level},{parent}").map_err(io(path))?;
    }
    w.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .map_err(io(path))?;
    Ok(counts)
}

fn write_manifest(report: &Report, path: &Path) -> Result<(), SynthError> {
    let c = &report.config;
    let mut s = String::new();
    s.push_str("# The synthetic province in this directory. Generated; do not edit.\n");
    s.push_str(&format!(
        "people = {}\nseed = {}\nprovince = {}\nprovince_name = \"{}\"\nas_of = \"{}\"\nhouseholds = {}\n\n",
        c.people,
        c.seed,
        c.province,
        report.province.zh,
        c.as_of,
        report.households()
    ));
    s.push_str("[divisions]\n");
    for (level, n) in Level::ALL.iter().zip(report.divisions) {
        s.push_str(&format!("{level} = {n}\n"));
    }
    s.push_str("\n[rows]\n");
    for (id, n) in &report.datasets {
        s.push_str(&format!("\"{id}\" = {n}\n"));
    }
    fs::write(path, s).map_err(io(path))
}

/// Reads back the `province.toml` of a generated directory: (people, seed, province code).
pub fn read_manifest(dir: &Path) -> Option<(u64, u64, u8)> {
    let text = fs::read_to_string(dir.join("province.toml")).ok()?;
    let value: toml_lite::Manifest = toml_lite::parse(&text)?;
    Some((value.people, value.seed, value.province))
}

/// Just enough reading of our own manifest to know what a data directory holds.
mod toml_lite {
    pub struct Manifest {
        pub people: u64,
        pub seed: u64,
        pub province: u8,
    }
    pub fn parse(text: &str) -> Option<Manifest> {
        let get = |key: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(key)?
                    .trim_start()
                    .strip_prefix('=')
                    .map(str::trim)
            })
        };
        Some(Manifest {
            people: get("people")?.parse().ok()?,
            seed: get("seed")?.parse().ok()?,
            province: get("province")?.parse().ok()?,
        })
    }
}
