//! `errandless policy`: check benefit policies written as code, and simulate them over the
//! data center's snapshots.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use errandless_evaluation::{
    batch_parts, compile, compile_over, evaluate_latest, latest_snapshots, register_snapshots,
    run as evaluate, simulate, subject_ranges, write_conditions_split, Decision, Evaluator, Keep,
    SessionContext, Simulation,
};
use errandless_exchange::DATACENTER_DIR;
use errandless_policy::Policy;
use errandless_store::Store;

use crate::config::Settings;
use crate::sync_cmd::DATA_CENTER_MEMBER;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files against the data standard: their shape, inputs, SQL expressions,
    /// types and conditions no one can meet, then run their [[test]] examples on DataFusion.
    /// Prints `ok` per valid file with the number of examples run, or each error as
    /// FILE:LINE:COL: message. Exits 0 when every file is valid, 1 when one is not.
    Check {
        /// The policy files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Report what enacting each policy would do, with no side effect: how many qualify and
    /// the total cost, by city and county, and the near misses (people who fail one condition
    /// alone, and people who qualify but have no account). Reads the newest snapshot of each
    /// dataset the policy uses from the data center (`errandless sync` makes them).
    Simulate {
        /// The policy files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The member whose snapshots are read.
        #[arg(long, default_value = DATA_CENTER_MEMBER)]
        consumer: String,
        /// The period to simulate, with the parameters in force then (`2027-03` for a
        /// monthly policy, `2027` for a yearly one); by default the one today falls in.
        #[arg(long)]
        period: Option<String>,
        /// Also write every subject's decision to this CSV file: policy, subject, eligible,
        /// amount (fen), payable, and the conditions that failed.
        #[arg(long, value_name = "FILE")]
        decisions: Option<PathBuf>,
    },
    /// Enact each policy: evaluate it over the data center, record a decision with its
    /// explanation for everyone eligible and every near miss (in the platform store and the
    /// ledger), and entitle the payable ones to a payment for the period (`errandless pay
    /// export` then writes them into pain.001 files). Repeating it records and pays nothing
    /// twice. After a later `errandless sync`, the subjects it touched are evaluated again.
    Enact {
        /// The policy files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The member whose snapshots are read and who decides.
        #[arg(long, default_value = DATA_CENTER_MEMBER)]
        consumer: String,
        /// The period to decide for: YYYY-MM for a monthly policy (default: this month), the
        /// validity `FROM_TO` for a one-off (its only period).
        #[arg(long)]
        period: Option<String>,
    },
    /// Print the explanation of the latest decision recorded about a subject under a policy:
    /// the data used and their sources, every condition with its values, the amount and its
    /// formula, and the legal references.
    Explain {
        /// The policy file (TOML), or its id.
        #[arg(value_name = "FILE")]
        policy: String,
        /// The subject's citizen ID number.
        #[arg(long)]
        subject: String,
        /// The period (default: the latest decided).
        #[arg(long)]
        period: Option<String>,
        /// zh-CN or en (default: both).
        #[arg(long)]
        lang: Option<String>,
    },
    /// List the people a policy found eligible who have no account to be paid into, with the
    /// letter each receives asking them to bind one; the next sync's delta run pays them once
    /// an account appears.
    Notices {
        /// The policy file (TOML), or its id.
        #[arg(value_name = "FILE")]
        policy: String,
        /// The period (default: this month for a monthly policy, the only one otherwise).
        #[arg(long)]
        period: Option<String>,
        /// zh-CN or en.
        #[arg(long, default_value = "zh-CN")]
        lang: String,
    },
    /// Measure evaluation over the data center: the batch run of each policy over everyone,
    /// then single-subject evaluations (what the portal asks) of subjects spread over the
    /// population, printing their median and 99th percentile: prepared once per policy (each
    /// decision checked against the batch run's), then, for comparison, compiled per call.
    Bench {
        /// The policy files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The member whose snapshots are read.
        #[arg(long, default_value = DATA_CENTER_MEMBER)]
        consumer: String,
        /// Single-subject evaluations per policy (0 for none).
        #[arg(long, default_value_t = 200)]
        subjects: usize,
        /// Instead, run each policy over everyone writing every subject's row of condition
        /// results (inputs, conditions, exclusions, eligibility, amount) to
        /// DIR/<policy id>.parquet, and print how long that took; the query is written beside
        /// it (<id>.sql) with the snapshot each of its tables reads (<id>.tables.csv), so that
        /// another engine can run it on the same files.
        #[arg(long, value_name = "DIR")]
        conditions: Option<PathBuf>,
    },
}

pub fn run(cmd: PolicyCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Enact {
            files,
            consumer,
            period,
        } => {
            let mut loaded = Vec::new();
            for file in &files {
                let Some((policy, _)) = load_checked(file) else {
                    return Ok(ExitCode::from(1));
                };
                let source = std::fs::read_to_string(file)
                    .with_context(|| format!("while reading {}", file.display()))?;
                let period = crate::enact::period_of(&policy, period.as_deref(), &settings.clock)?;
                loaded.push((policy, source, period));
            }
            evaluation_runtime()?.block_on(enact_policies(settings, &loaded, &consumer))
        }
        PolicyCommand::Notices {
            policy,
            period,
            lang,
        } => evaluation_runtime()?.block_on(notices(settings, &policy, period.as_deref(), &lang)),
        PolicyCommand::Explain {
            policy,
            subject,
            period,
            lang,
        } => evaluation_runtime()?.block_on(explain(
            settings,
            &policy,
            &subject,
            period.as_deref(),
            lang.as_deref(),
        )),
        PolicyCommand::Check { files } => Ok(check(&files)),
        PolicyCommand::Simulate {
            files,
            consumer,
            period,
            decisions,
        } => {
            let Some(policies) = load_all(&files, period.as_deref(), settings)? else {
                return Ok(ExitCode::from(1));
            };
            evaluation_runtime()?.block_on(simulate_policies(
                settings,
                &policies,
                &consumer,
                decisions.as_deref(),
            ))
        }
        PolicyCommand::Bench {
            files,
            consumer,
            subjects,
            conditions,
        } => {
            let Some(policies) = load_all(&files, None, settings)? else {
                return Ok(ExitCode::from(1));
            };
            evaluation_runtime()?.block_on(bench_policies(
                settings,
                &policies,
                &consumer,
                subjects,
                conditions.as_deref(),
            ))
        }
    }
}

/// Every policy of `files`, checked with their examples on the examples' own runtime and
/// resolved for `period` (by default the one today falls in), or `None` once their errors
/// are printed.
fn load_all(
    files: &[PathBuf],
    period: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<Option<Vec<Policy>>> {
    let mut out = Vec::new();
    for file in files {
        let Some((policy, _)) = load_checked(file) else {
            return Ok(None);
        };
        let name = crate::enact::period_of(&policy, period, &settings.clock)?;
        out.push(policy.for_period(&name).map_err(anyhow::Error::msg)?);
    }
    Ok(Some(out))
}

/// Two workers, as the machine has two cores; DataFusion runs its partitions on them.
fn evaluation_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("while starting the runtime")
}

async fn bench_policies(
    settings: &Settings,
    policies: &[Policy],
    consumer: &str,
    subjects: usize,
    conditions: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let datacenter = settings.data.join(DATACENTER_DIR);
    if let Some(dir) = conditions {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
        let mut total = 0.0;
        for policy in policies {
            total += bench_written_run(&store, &datacenter, consumer, policy, dir).await?;
        }
        println!(
            "batch runs written to Parquet, {} policies: {total:.3} s",
            policies.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for policy in policies {
        let evaluated =
            evaluate_latest(&store, &datacenter, consumer, policy, None, Keep::Every).await?;
        let rows: u64 = evaluated.snapshots.iter().map(|s| s.rows).sum();
        println!(
            "{}: batch run over {} subjects ({} snapshot rows) in {:.3} s",
            policy.id,
            evaluated.decisions.len(),
            rows,
            evaluated.took.as_secs_f64()
        );
        if subjects == 0 {
            continue;
        }
        let step = (evaluated.decisions.len() / subjects).max(1);
        let picked: Vec<&Decision> = evaluated
            .decisions
            .iter()
            .step_by(step)
            .take(subjects)
            .collect();

        let started = Instant::now();
        let evaluator = Evaluator::prepare(policy, &evaluated.paths)
            .await
            .with_context(|| format!("while preparing {}", policy.id))?;
        let prepared_in = started.elapsed();
        let mut times = Vec::with_capacity(picked.len());
        for expected in &picked {
            let started = Instant::now();
            let decided = evaluator.decide(&expected.subject).await?;
            times.push(started.elapsed());
            if decided.as_ref() != Some(*expected) {
                bail!(
                    "{}: the prepared evaluation of {} differs from the batch run: {decided:?}",
                    policy.id,
                    expected.subject
                );
            }
        }
        print_latencies(
            &format!(
                "{}: single-subject evaluation, prepared once in {:.1} ms,",
                policy.id,
                prepared_in.as_secs_f64() * 1e3
            ),
            times,
        );

        // The same subjects with the query compiled, parsed and planned on each call.
        let ctx = SessionContext::new();
        let plan = compile_over(policy, None, &evaluated.paths)?;
        register_snapshots(&ctx, &plan, &evaluated.paths).await?;
        let mut times = Vec::with_capacity(picked.len());
        for expected in &picked {
            let plan = compile_over(
                policy,
                Some(std::slice::from_ref(&expected.subject)),
                &evaluated.paths,
            )?;
            let started = Instant::now();
            let decided = evaluate(&ctx, &plan).await?;
            times.push(started.elapsed());
            if decided.len() != 1 {
                bail!("{} was decided {} times", expected.subject, decided.len());
            }
        }
        print_latencies(
            &format!(
                "{}: single-subject evaluation compiled per call,",
                policy.id
            ),
            times,
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn enact_policies(
    settings: &Settings,
    policies: &[(Policy, String, String)],
    consumer: &str,
) -> anyhow::Result<ExitCode> {
    let decider = crate::enact::open(settings, consumer).await?;
    print_enacted_heading();
    for (policy, source, period) in policies {
        let done = decider.enact(policy, source, period, None).await?;
        print_enacted(&policy.id, period, &done);
    }
    decider.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The heading of the enactment table.
pub(crate) fn print_enacted_heading() {
    println!(
        "{:<34} {:>21} {:>10} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "policy",
        "period",
        "evaluated",
        "recorded",
        "eligible",
        "no account",
        "near miss",
        "entitled",
        "withdrawn",
        "seconds"
    );
}

/// One row of the enactment table.
pub(crate) fn print_enacted(policy: &str, period: &str, done: &crate::enact::Enacted) {
    let r = &done.report;
    println!(
        "{:<34} {:>21} {:>10} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>8.2}",
        policy,
        period,
        r.evaluated,
        r.recorded,
        r.eligible,
        r.without_account,
        r.near_misses,
        done.entitled.created,
        done.withdrawn.withdrawn,
        done.total.as_secs_f64()
    );
}

async fn notices(
    settings: &Settings,
    policy: &str,
    period: Option<&str>,
    lang: &str,
) -> anyhow::Result<ExitCode> {
    let lang: errandless_policy::Lang = lang.parse().map_err(anyhow::Error::msg)?;
    let store = settings.open_store().await?;
    errandless_policy::enactment::migrate(&store).await?;
    let (policy_id, period) =
        match policy_and_period(&store, policy, period, &settings.clock).await? {
            Some(found) => found,
            None => {
                eprintln!("{policy} has not been enacted");
                return Ok(ExitCode::from(1));
            }
        };
    let waiting = errandless_policy::enactment::without_account(&store, &policy_id, &period)
        .await
        .context("while listing who has no account")?;
    // Everyone listed has the same outcome, so the letter is rendered once, from the first
    // decision, rather than the stored policy being parsed again for each person.
    let letter = match waiting.first() {
        Some(r) => {
            errandless_policy::enactment::explanation(&store, &policy_id, Some(&period), &r.subject)
                .await?
                .map(|(_, e)| e.render(lang).lines().nth(2).unwrap_or_default().to_owned())
                .unwrap_or_default()
        }
        None => String::new(),
    };
    let mut out = std::io::stdout().lock();
    for r in &waiting {
        if writeln!(out, "{}\t{}\t{}\t{letter}", r.subject, period, r.amount_fen).is_err() {
            break; // the reader went away (e.g. `| head`)
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The policy id and period a command names: `policy` is a file or an id; the period is
/// `period`, or the one today falls in for a file, or the latest enacted for an id.
async fn policy_and_period(
    store: &Store,
    policy: &str,
    period: Option<&str>,
    clock: &errandless_standards::Clock,
) -> anyhow::Result<Option<(String, String)>> {
    if Path::new(policy).is_file() {
        let Some((p, _)) = load_checked(Path::new(policy)) else {
            bail!("{policy} is not a valid policy");
        };
        let period = crate::enact::period_of(&p, period, clock)?;
        return Ok(Some((p.id, period)));
    }
    if let Some(period) = period {
        return Ok(Some((policy.to_owned(), period.to_owned())));
    }
    let latest = errandless_policy::enactment::latest_period(store, policy).await?;
    Ok(latest.map(|period| (policy.to_owned(), period)))
}

async fn explain(
    settings: &Settings,
    policy: &str,
    subject: &str,
    period: Option<&str>,
    lang: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let langs = match lang {
        None => vec![errandless_policy::Lang::Zh, errandless_policy::Lang::En],
        Some(l) => vec![l.parse().map_err(anyhow::Error::msg)?],
    };
    let policy_id = if Path::new(policy).is_file() {
        let Some((p, _)) = load_checked(Path::new(policy)) else {
            return Ok(ExitCode::from(1));
        };
        p.id
    } else {
        policy.to_owned()
    };
    let subject = errandless_standards::CitizenId::parse(subject)
        .with_context(|| format!("'{subject}' is not a citizen ID number"))?;
    let store = settings.open_store().await?;
    errandless_policy::enactment::migrate(&store).await?;
    let found =
        errandless_policy::enactment::explanation(&store, &policy_id, period, subject.as_str())
            .await
            .context("while reading the decision")?;
    store.close().await;
    let Some((recorded, explanation)) = found else {
        eprintln!(
            "no decision about {} is recorded under {policy_id}{}: it is recorded for everyone eligible and every near miss once the policy is enacted",
            subject.as_str(),
            period.map(|p| format!(" for {p}")).unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
    };
    println!(
        "decision {} (enactment {}, ledger leaf {})",
        recorded.seq,
        recorded.enactment,
        recorded
            .leaf
            .map_or_else(|| "pending".to_owned(), |l| l.to_string())
    );
    for lang in langs {
        println!();
        print!("{}", explanation.render(lang));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the median, 99th percentile and maximum of `times`.
fn print_latencies(what: &str, mut times: Vec<std::time::Duration>) {
    times.sort_unstable();
    if let (Some(p50), Some(p99), Some(max)) = (
        times.get(times.len() / 2),
        times.get(times.len() * 99 / 100),
        times.last(),
    ) {
        println!(
            "{what} {} subjects: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            times.len(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
}

/// The batch run of `policy` with every subject's row of condition results written to
/// `dir/<policy id>.parquet`, beside the query (`<id>.sql`) and the snapshot each of its tables
/// reads (`<id>.tables.csv`: name, dataset, file) so that another engine can run the same query
/// on the same files. Prints and returns the seconds from registering the snapshots to the
/// file written.
async fn bench_written_run(
    store: &Store,
    datacenter: &Path,
    consumer: &str,
    policy: &Policy,
    dir: &Path,
) -> anyhow::Result<f64> {
    let (_, files) =
        latest_snapshots(store, datacenter, consumer, policy, &compile(policy)).await?;
    let out = dir.join(format!("{}.parquet", policy.id));
    let started = Instant::now();
    let plan = compile_over(policy, None, &files)?;
    // One file per range of subjects, written at once, as the batch run evaluates.
    let rows = write_conditions_split(policy, &files, &out)
        .await
        .with_context(|| format!("while writing {}", out.display()))?;
    let took = started.elapsed().as_secs_f64();
    println!(
        "{}: batch run written to Parquet ({} ranges of subjects), {rows} subjects in {took:.3} s",
        policy.id,
        subject_ranges(&files, batch_parts())?.len()
    );
    let sql = dir.join(format!("{}.sql", policy.id));
    std::fs::write(&sql, format!("{}\n", plan.sql))
        .with_context(|| format!("while writing {}", sql.display()))?;
    let mut tables = String::from("name,dataset,file\n");
    for t in &plan.tables {
        if let Some(file) = files.get(&t.dataset) {
            tables.push_str(&format!("{},{},{}\n", t.name, t.dataset, file.display()));
        }
    }
    let tables_file = dir.join(format!("{}.tables.csv", policy.id));
    std::fs::write(&tables_file, tables)
        .with_context(|| format!("while writing {}", tables_file.display()))?;
    Ok(took)
}

/// The platform store, with the exchange's tables (where the snapshots are listed).
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = settings.open_store().await?;
    errandless_exchange::migrate(&store).await?;
    Ok(store)
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut invalid = false;
    for file in files {
        match load_checked(file) {
            Some((policy, run)) => {
                println!("ok {} ({}): {run} examples run", file.display(), policy.id)
            }
            None => invalid = true,
        }
    }
    ExitCode::from(u8::from(invalid))
}

/// Loads and checks a policy, examples included, with how many examples ran; prints its
/// errors as FILE:LINE:COL: message.
fn load_checked(file: &Path) -> Option<(Policy, usize)> {
    let name = file.display().to_string();
    match Policy::load(file).and_then(|policy| {
        errandless_evaluation::check_examples(&policy, &name).map(|run| (policy, run))
    }) {
        Ok(checked) => Some(checked),
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            None
        }
    }
}

async fn simulate_policies(
    settings: &Settings,
    policies: &[Policy],
    consumer: &str,
    decisions_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut decisions_out = match decisions_file {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("while creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            writeln!(out, "policy,subject,eligible,amount,payable,failed")?;
            Some(out)
        }
        None => None,
    };
    let store = open_store(settings).await?;
    let datacenter = settings.data.join(DATACENTER_DIR);
    let names = division_names(&settings.data);
    for policy in policies {
        println!("{}  {} / {}", policy.id, policy.title.zh, policy.title.en);
        let evaluated = evaluate_latest(
            &store,
            &datacenter,
            consumer,
            policy,
            None,
            if decisions_out.is_some() {
                Keep::Every
            } else {
                Keep::Recorded
            },
        )
        .await?;
        for snapshot in &evaluated.snapshots {
            println!(
                "  reads {:<38} version {:>3}  {}  {:>10} rows",
                snapshot.dataset,
                snapshot.version,
                &snapshot.id.to_hex()[..16],
                snapshot.rows
            );
        }
        let decisions = evaluated.decisions;
        let simulation = simulate(policy, evaluated.evaluated, &decisions);
        if let Some(out) = decisions_out.as_mut() {
            for d in &decisions {
                let failed: Vec<&str> = d
                    .conditions
                    .iter()
                    .filter(|(_, held)| !held)
                    .map(|(id, _)| id.as_str())
                    .collect();
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    policy.id,
                    d.subject,
                    d.eligible,
                    d.amount,
                    d.payable,
                    failed.join(";")
                )?;
            }
        }
        print_simulation(&simulation, &names, evaluated.took.as_secs_f64());
    }
    if let (Some(mut out), Some(path)) = (decisions_out, decisions_file) {
        out.flush()
            .with_context(|| format!("while writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Division names by 12-digit code, from the province's `divisions.csv` when it is there.
fn division_names(data: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(data.join("divisions.csv")) else {
        return BTreeMap::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cells = line.split(',');
            Some((cells.next()?.to_owned(), cells.next()?.to_owned()))
        })
        .collect()
}

/// Fen as yuan with thousands separators: `1234500` is `¥12,345.00`.
pub(crate) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}¥{grouped}.{:02}", fen % 100)
}

fn print_simulation(s: &Simulation, names: &BTreeMap<String, String>, seconds: f64) {
    println!("  evaluated {} subjects in {seconds:.2} s", s.evaluated);
    println!(
        "  eligible {} (payable {}, without an account {})",
        s.eligible, s.payable, s.without_account
    );
    if s.payments > 0 {
        println!(
            "  cost {} per payment x {} = {}",
            yuan(s.per_payment),
            s.payments,
            yuan(s.total())
        );
    } else {
        println!("  a screen: it pays nothing and lists the eligible for confirmation");
    }
    if s.near_misses.is_empty() {
        println!("  near misses: none fail a single condition alone");
    } else {
        let list: Vec<String> = s
            .near_misses
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        println!(
            "  near misses (fail one condition alone): {} ({})",
            s.near_miss_count(),
            list.join(", ")
        );
    }
    let name = |code6: &str| {
        names
            .get(&format!("{code6}000000"))
            .map_or("", String::as_str)
            .to_owned()
    };
    println!(
        "  {:<28} {:>9} {:>18}",
        "city / county", "eligible", "per payment"
    );
    for (city, tally) in &s.by_city {
        println!(
            "  {:<28} {:>9} {:>18}",
            format!("{city} {}", name(city)),
            tally.eligible,
            yuan(tally.amount)
        );
        let prefix = city.get(..4).unwrap_or(city);
        for (county, t) in s.by_county.range(prefix.to_owned()..) {
            if !county.starts_with(prefix) {
                break;
            }
            println!(
                "    {:<26} {:>9} {:>18}",
                format!("{county} {}", name(county)),
                t.eligible,
                yuan(t.amount)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::yuan;

    #[test]
    fn fen_print_as_grouped_yuan() {
        assert_eq!(yuan(0), "¥0.00");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(123_456_789), "¥1,234,567.89");
        assert_eq!(yuan(-100_000), "-¥1,000.00");
    }
}
