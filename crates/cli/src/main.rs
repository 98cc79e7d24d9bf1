//! `errandless`: the command a person types to run the platform.
//!
//! Each subcommand parses its arguments, calls one domain crate, and reports errors with
//! context. No business logic lives here.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod client_cmd;
mod config;
mod demo_benefits;
mod demo_cmd;
mod demo_portal;
mod enact;
mod ledger_cmd;
mod member_cmd;
mod pay_cmd;
mod policy_cmd;
mod serve_cmd;
mod staff_cmd;
mod standard_cmd;
mod sync_cmd;
mod witness_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use errandless_synth::{Progress, Report};

use crate::config::Settings;
use crate::standard_cmd::StandardCommand;

/// Errandless: let the data run the errands, not the citizens.
///
/// Joins a province's department data islands under grants and a tamper-evident ledger, pays
/// benefits to everyone who qualifies without an application, and explains every decision.
#[derive(Debug, Parser)]
#[command(name = "errandless", version, propagate_version = true)]
struct Cli {
    /// Where this installation keeps everything: islands/, the platform store, the data
    /// center and the ledger.
    #[arg(long, global = true, env = "ERRANDLESS_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// A TOML configuration file (default: ./errandless.toml when present).
    #[arg(long, global = true, env = "ERRANDLESS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run as if the time were this: a date YYYY-MM-DD (midnight in Beijing) or
    /// YYYY-MM-DDTHH:MM[:SS] with an optional offset, from which the clock then runs; for
    /// rehearsing a period ahead and for tests (default: the system clock).
    #[arg(long, global = true, env = "ERRANDLESS_CLOCK", value_name = "TIME")]
    clock: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole walk on a synthetic province: generate it into the data directory, then
    /// register the departments, grant, read, sync, and show one citizen's data tracker.
    Demo(DemoArgs),
    /// Generate a synthetic province: divisions of five levels and 17 department islands.
    Synth(SynthArgs),
    /// Look up the unified data standard and check identifiers.
    Standard {
        #[command(subcommand)]
        command: StandardCommand,
    },
    /// The tamper-evident ledger: keys, appends, checkpoints, proofs and verification.
    Ledger {
        #[command(subcommand)]
        command: ledger_cmd::LedgerCommand,
    },
    /// Run a C2SP tlog-witness that cosigns another log's checkpoints.
    Witness(witness_cmd::WitnessArgs),
    /// Bulk-sync granted datasets to the data center as Parquet snapshots named by their
    /// SHA-256, recording every touched subject in the ledger; `sync bench` measures it.
    Sync(sync_cmd::SyncArgs),
    /// Benefit payments: entitlements, ISO 20022 pain.001 files out, pain.002 reports in.
    Pay {
        #[command(subcommand)]
        command: pay_cmd::PayCommand,
    },
    /// A demo bank that answers pain.001 payment files with pain.002 status reports.
    Bank {
        #[command(subcommand)]
        command: pay_cmd::BankCommand,
    },
    /// The exchange's members: departments with their social credit codes and keys.
    Member {
        #[command(subcommand)]
        command: member_cmd::MemberCommand,
    },
    /// Serve the exchange over HTTP: registry reads, the data tracker, OpenAPI, metrics and
    /// the ledger's files.
    Serve(serve_cmd::ServeArgs),
    /// The apps that log citizens in through the OpenID Connect provider.
    Client {
        #[command(subcommand)]
        command: client_cmd::ClientCommand,
    },
    /// Staff roles on citizens' accounts, scoped by department and division.
    Staff {
        #[command(subcommand)]
        command: staff_cmd::StaffCommand,
    },
    /// Benefit policies written as code: check them against the standard.
    Policy {
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
}

#[derive(Debug, Args)]
struct DemoArgs {
    #[command(subcommand)]
    command: Option<DemoCommand>,
    /// How many people live in the synthetic province.
    #[arg(long, value_name = "N")]
    people: Option<u64>,
    /// The seed of the synthetic province.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Stop after the walk instead of serving the portal.
    #[arg(long)]
    no_serve: bool,
    /// Where the portal is served at the end of the walk.
    #[arg(long, env = "ERRANDLESS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// The live case, on the province a `demo` made: write a university admission into the
    /// education island, sync (whose delta run decides and entitles), pay through the demo
    /// bank, and print the seconds from admission to payment.
    Admit {
        /// The student's citizen ID number (default: a member of a registered poor household
        /// aged 16 to 22, not yet admitted, preferably with a one-card account).
        #[arg(long)]
        subject: Option<String>,
    },
    /// The reverse case, on the province a `demo` made: register a death in the civil affairs
    /// island and sync; the delta run records that the person no longer qualifies and
    /// withdraws their entitlements that have not gone to the bank.
    Death {
        /// The citizen ID number (default: the oldest resident aged 80 or over with a one-card
        /// account whose death is not registered).
        #[arg(long)]
        subject: Option<String>,
    },
}

#[derive(Debug, Args)]
struct SynthArgs {
    /// How many people live in the province (at least 1).
    #[arg(long, value_name = "N")]
    people: Option<u64>,
    /// The seed: the same people and seed give byte-identical files.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// The real two-digit province-level code the synthetic divisions sit under.
    #[arg(long, value_name = "CODE")]
    province: Option<u8>,
    /// The directory to write; it must not exist unless --force is given.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace DIR if it exists.
    #[arg(long)]
    force: bool,
    /// Print no summary table and no progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ERRANDLESS_LOG")
                // sqlx warns of every statement over a second, which a bulk insert of a
                // province's decisions is by design; its errors still show.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx::query=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The runtime of a command that waits on the store or the network one thing at a time.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref(), cli.data, cli.clock.as_deref())?;
    match cli.command {
        Command::Demo(args) => demo(&settings, args),
        Command::Synth(args) => synth(&settings, args),
        Command::Ledger { command } => ledger_cmd::run(command, &settings.data),
        Command::Witness(args) => witness_cmd::run(args, &settings.data),
        Command::Sync(args) => sync_cmd::run(args, &settings),
        Command::Pay { command } => pay_cmd::run(command, &settings),
        Command::Bank { command } => pay_cmd::bank(command, &settings.clock),
        Command::Member { command } => member_cmd::run(command, &settings),
        Command::Serve(args) => serve_cmd::run(args, &settings),
        Command::Client { command } => client_cmd::run(command, &settings),
        Command::Staff { command } => staff_cmd::run(command, &settings),
        Command::Policy { command } => policy_cmd::run(command, &settings),
        Command::Standard { command } => {
            let counties = county_list(&settings.data);
            Ok(standard_cmd::run(command, &|code| {
                counties.as_ref().map(|c| c.binary_search(&code).is_ok())
            }))
        }
    }
}

/// The six-digit county codes of the province in the data directory, if one was generated.
fn county_list(data: &Path) -> Option<Vec<u32>> {
    let text = std::fs::read_to_string(data.join("divisions.csv")).ok()?;
    let mut codes: Vec<u32> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut parts = l.split(',');
            let code = parts.next()?;
            let level = parts.nth(1)?;
            (level == "county").then(|| code.get(..6)?.parse().ok())?
        })
        .collect();
    codes.sort_unstable();
    Some(codes)
}

fn synth_config(
    settings: &Settings,
    people: Option<u64>,
    seed: Option<u64>,
    province: Option<u8>,
) -> errandless_synth::Config {
    errandless_synth::Config {
        people: people.unwrap_or(settings.people),
        seed: seed.unwrap_or(settings.seed),
        province: province.unwrap_or(settings.province),
        ..errandless_synth::Config::default()
    }
}

/// Runs `work` while a progress bar follows `progress` on the terminal.
fn with_progress<T>(progress: &Progress, quiet: bool, work: impl FnOnce() -> T) -> T {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        if !quiet {
            s.spawn(|| {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {msg:>10} [{bar:40}] {pos}/{len} people ({per_sec}, {eta} left)",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_message("generating");
                while !stop.load(Ordering::Relaxed) {
                    bar.set_length(progress.total());
                    bar.set_position(progress.done());
                    if progress.indexing() > 0 {
                        bar.set_message("indexing");
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            });
        }
        let out = work();
        stop.store(true, Ordering::Relaxed);
        out
    })
}

fn synth(settings: &Settings, args: SynthArgs) -> anyhow::Result<ExitCode> {
    let config = synth_config(settings, args.people, args.seed, args.province);
    let progress = Progress::default();
    let started = Instant::now();
    let report = with_progress(&progress, args.quiet, || {
        errandless_synth::write_province(&config, &args.out, args.force, &progress)
    })
    .with_context(|| format!("while generating a province into {}", args.out.display()))?;
    if !args.quiet {
        print_summary(&report, started.elapsed());
        println!("written to {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn demo(settings: &Settings, args: DemoArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(DemoCommand::Admit { subject }) => {
            runtime()?.block_on(demo_benefits::admit(settings, subject.as_deref()))?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(DemoCommand::Death { subject }) => {
            runtime()?.block_on(demo_benefits::death(settings, subject.as_deref()))?;
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    let config = synth_config(settings, args.people, args.seed, None);
    println!(
        "Generating a synthetic province of {} people (seed {}) into {}",
        config.people,
        config.seed,
        settings.data.display()
    );
    let progress = Progress::default();
    let started = Instant::now();
    let report = with_progress(&progress, false, || {
        errandless_synth::install_into(&config, &settings.data, &progress)
    })
    .with_context(|| {
        format!(
            "while generating the province into {}",
            settings.data.display()
        )
    })?;
    print_summary(&report, started.elapsed());

    let url = settings.store_location();
    let runtime = runtime()?;
    runtime.block_on(async {
        let store = errandless_store::Store::open(&url)
            .await
            .context("while opening the platform store")?;
        store
            .record_installation(&errandless_store::NewInstallation {
                province_code: format!("{:02}", config.province),
                seed: config.seed,
                people: config.people,
            })
            .await
            .context("while recording the installation")?;
        println!();
        println!("platform store: {}", store.url_redacted());
        store.close().await;
        demo_cmd::walk(settings, report.province, false).await?;
        if args.no_serve {
            return Ok(());
        }
        if !demo_portal::freshman_paid(settings).await? {
            demo_cmd::heading("12. no freshman was paid yet: the live case makes one");
            demo_benefits::admit(settings, None).await?;
        }
        demo_cmd::heading("13. the portal: log in as a citizen or as staff");
        let opened = serve_cmd::open(serve_cmd::ServeArgs::on(args.listen), settings).await?;
        let personas = demo_portal::personas(&opened).await?;
        println!("{:<18} {:<13} {:<10} citizen ID", "who", "phone", "name");
        for p in &personas {
            println!(
                "{:<18} {:<13} {:<10} {}",
                p.who, p.phone, p.name, p.citizen_id
            );
        }
        println!(
            "password of every demo account: {}",
            demo_portal::DEMO_PASSWORD
        );
        println!();
        println!(
            "open http://{}/ and log in (Ctrl-C stops the server)",
            opened.addr
        );
        serve_cmd::serve(opened).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_summary(report: &Report, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!();
    println!(
        "{} ({:02}): {} people in {} households, {:.1} s ({:.0} people/s)",
        report.province.en,
        report.province.code,
        report.people(),
        report.households(),
        secs,
        report.people() as f64 / secs.max(1e-9)
    );
    let d = report.divisions;
    println!(
        "divisions: {} province, {} cities, {} counties, {} townships, {} villages",
        d[0], d[1], d[2], d[3], d[4]
    );
    println!();
    println!("{:<14} {:>12} {:>12}  name", "city", "people", "households");
    for c in &report.cities {
        println!(
            "{:<14} {:>12} {:>12}  {}",
            c.code, c.people, c.households, c.name
        );
    }
    println!();
    println!("{:<22} {:>12}  datasets", "island", "rows");
    for (island, rows) in report.islands() {
        let datasets: Vec<String> = report
            .datasets
            .iter()
            .filter(|(id, _)| id.split('.').next() == Some(island.as_str()))
            .map(|(id, n)| format!("{} {n}", id.split('.').nth(1).unwrap_or(id)))
            .collect();
        println!("{island:<22} {rows:>12}  {}", datasets.join(", "));
    }
    let total: u64 = report.datasets.iter().map(|(_, n)| n).sum();
    println!("{:<22} {total:>12}", "total");
}
