//! `errandless pay` and `errandless bank`: entitlements in, pain.001 files out, pain.002
//! reports in, and a demo bank that answers payment files.
//!
//! Every command opens the platform store and the ledger (`<data>/ledger` unless `--log`),
//! and records each payment state change there before it reports success.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use clap::{Args, Subcommand};
use errandless_ledger::{Durability, NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
use errandless_payments::bank::{simulate, Faults, BANK_NAME};
use errandless_payments::xml::{read_pain001, read_pain002, write_pain002};
use errandless_payments::{iso_date_time, Entitlement, Fen, Payer, Payments};
use errandless_store::Store;

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum PayCommand {
    /// Record entitlements from a file of JSON lines (or - for standard input), each with
    /// policy_id, period, subject_id, payee_name, account, bank, amount_fen and decision_ref.
    /// One already recorded for the same policy, period and subject is left as it is. If any
    /// line is invalid, nothing is recorded.
    Entitle {
        #[command(flatten)]
        log: LogArg,
        /// The JSON-lines file, or - for standard input.
        file: PathBuf,
    },
    /// Write every pending payment into ISO 20022 pain.001.001.09 files, one per batch
    /// (first rewriting any batch an interrupted run left unwritten). Prints each file.
    Export {
        #[command(flatten)]
        log: LogArg,
        /// Where the files go (default: <data>/payments/out).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Most transfers in one file.
        #[arg(long, default_value_t = 50_000, value_name = "N")]
        max_batch: u64,
    },
    /// Reconcile a pain.002.001.12 status report: settled transfers are paid, rejected ones
    /// are retried in the next batch or wait for the citizen to bind an account, with the
    /// bank's reason. A malformed report, or one about unknown payments, changes nothing.
    Import {
        #[command(flatten)]
        log: LogArg,
        /// The pain.002 file.
        file: PathBuf,
    },
    /// Entitlements by state, with their amounts.
    Status {
        #[command(flatten)]
        log: LogArg,
    },
    /// The entitlements whose citizen must bind a working account, with the bank's reason.
    Notices {
        #[command(flatten)]
        log: LogArg,
    },
    /// Follow a payment file through a server's GovStack G2P API, as the paying member (signed
    /// with its key under <data>/members): how the batch stands, or with --detail its
    /// transfers.
    Follow {
        /// The batch: the file's MsgId.
        #[arg(long, value_name = "MSGID")]
        batch: String,
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
        server: String,
        /// List the transfers, with the bank's answer to each.
        #[arg(long)]
        detail: bool,
        /// Only the transfers in this G2P status: IN_PROGRESS, COMPLETED or FAILED.
        #[arg(long, value_name = "STATUS", requires = "detail")]
        status: Option<String>,
    },
    /// Measure entitlement, export and reconciliation throughput on a fresh store and ledger.
    Bench {
        /// Where to build them (default: a new directory under the system's temporary
        /// directory, removed afterwards).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// How many entitlements.
        #[arg(long, default_value_t = 100_000)]
        entitlements: u64,
        /// Most transfers in one file.
        #[arg(long, default_value_t = 50_000)]
        max_batch: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum BankCommand {
    /// Answer a pain.001 file with a pain.002 status report, as a bank would: most transfers
    /// settled (ACSC), a few rejected (AC04 closed account, AC01 wrong account, BE01 wrong
    /// name, TM01 missed cut-off). The same file and seed give the same report.
    Simulate {
        /// The pain.001 file.
        file: PathBuf,
        /// Where to write the report (default: FILE with .pain002.xml in place of .xml).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The seed of the bank's faults.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
pub struct LogArg {
    /// The ledger directory (default: <data>/ledger).
    #[arg(long = "log", value_name = "DIR")]
    log: Option<PathBuf>,
}

pub(crate) fn payer(settings: &Settings) -> Payer {
    let d = Payer::default();
    let p = &settings.payments;
    Payer {
        member: p.member.clone().unwrap_or(d.member),
        name: p.debtor_name.clone().unwrap_or(d.name),
        account: p.debtor_account.clone().unwrap_or(d.account),
        bank: p.debtor_bank.clone().unwrap_or(d.bank),
    }
}

async fn open(settings: &Settings, log: &LogArg) -> anyhow::Result<Payments> {
    let log_dir = log
        .log
        .clone()
        .unwrap_or_else(|| settings.data.join("ledger"));
    let signer = crate::ledger_cmd::load_signer(&log_dir)?;
    let key = crate::ledger_cmd::load_subject_key(&log_dir)?;
    let ledger = Sequencer::open(&log_dir, signer)
        .with_context(|| format!("while opening the ledger {}", log_dir.display()))?;
    let store = settings.open_store().await?;
    errandless_payments::migrate(&store)
        .await
        .context("while migrating the payment tables")?;
    let payments = payments_on(
        settings,
        store,
        Arc::new(tokio::sync::Mutex::new(ledger)),
        key,
    )?;
    // Anything an interrupted run committed goes into the ledger before this run does more.
    payments
        .flush_ledger()
        .await
        .context("while appending earlier payment changes to the ledger")?;
    Ok(payments)
}

/// The payments of the configured payer over a migrated `store` and an open ledger.
pub(crate) fn payments_on(
    settings: &Settings,
    store: Store,
    ledger: Arc<tokio::sync::Mutex<Sequencer>>,
    key: SubjectKey,
) -> anyhow::Result<Payments> {
    Ok(Payments::new(store, ledger, key, checked_payer(settings)?))
}

/// Where payment files go by default: `<data>/payments/out`.
pub(crate) fn payment_files(settings: &Settings) -> PathBuf {
    settings.data.join("payments").join("out")
}

/// The configured payer, checked as the bank would check it.
pub(crate) fn checked_payer(settings: &Settings) -> anyhow::Result<errandless_payments::Payer> {
    let payer = payer(settings);
    if let Err((field, rule)) = payer.validate() {
        bail!("the [payments] configuration: {field} {rule}");
    }
    Ok(payer)
}

pub fn run(cmd: PayCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let rt = crate::runtime()?;
    match cmd {
        PayCommand::Bench {
            dir,
            entitlements,
            max_batch,
        } => rt.block_on(bench(dir, entitlements, max_batch)),
        PayCommand::Entitle { log, file } => rt.block_on(async {
            let items = read_entitlements(&file)?;
            let p = open(settings, &log).await?;
            let r = p
                .entitle(&items, settings.clock.now_millis())
                .await
                .with_context(|| format!("while recording entitlements from {}", file.display()))?;
            println!(
                "{} entitlements recorded, {} already present",
                r.created, r.already_present
            );
            p.store().close().await;
            Ok(ExitCode::SUCCESS)
        }),
        PayCommand::Export {
            log,
            out,
            max_batch,
        } => rt.block_on(async {
            let out = out.unwrap_or_else(|| payment_files(settings));
            let p = open(settings, &log).await?;
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar.set_message("claiming payments");
            let (mut count, mut transfers) = (0u64, 0u64);
            let files = p
                .export(&out, max_batch, settings.clock.now_millis(), &mut |f| {
                    count += 1;
                    transfers += f.transfers;
                    bar.set_message(format!("{count} files, {transfers} transfers"));
                })
                .await
                .with_context(|| format!("while exporting payments to {}", out.display()))?;
            bar.finish_and_clear();
            for f in &files {
                println!(
                    "{}\t{} transfers\t{} CNY{}",
                    f.path.display(),
                    f.transfers,
                    f.control_sum,
                    if f.rewritten {
                        "\t(rewritten after an interrupted run)"
                    } else {
                        ""
                    }
                );
            }
            if files.is_empty() {
                println!("no pending payments");
            }
            p.store().close().await;
            Ok(ExitCode::SUCCESS)
        }),
        PayCommand::Import { log, file } => rt.block_on(async {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let report = read_pain002(std::io::BufReader::new(f))
                .with_context(|| format!("{} is not a valid pain.002.001.12 report", file.display()))?;
            let p = open(settings, &log).await?;
            let r = p
                .import(&report, settings.clock.now_millis())
                .await
                .with_context(|| format!("while importing {} (nothing was changed)", file.display()))?;
            if r.already_imported {
                println!("report {} was imported before; nothing changed", report.msg_id);
            } else {
                println!(
                    "batch {}: {} paid, {} accepted, {} to retry, {} waiting for an account, {} unchanged",
                    r.batch, r.paid, r.accepted, r.retry, r.needs_account, r.unchanged
                );
            }
            p.store().close().await;
            Ok(ExitCode::SUCCESS)
        }),
        PayCommand::Status { log } => rt.block_on(async {
            let p = open(settings, &log).await?;
            let rows = p.status().await?;
            println!("{:<14} {:>10} {:>18}", "state", "count", "amount (CNY)");
            let (mut n, mut sum) = (0u64, 0i64);
            for r in &rows {
                println!("{:<14} {:>10} {:>18}", r.status, r.count, r.amount);
                n += r.count;
                sum += r.amount.0;
            }
            println!("{:<14} {:>10} {:>18}", "total", n, Fen(sum));
            let (written, claimed) = p.batch_counts().await?;
            println!("batches: {written} written, {claimed} claimed but not written");
            let (events, logged) = p.ledger_backlog().await?;
            println!("ledger: {logged} of {events} payment changes recorded");
            p.store().close().await;
            Ok(ExitCode::SUCCESS)
        }),
        PayCommand::Follow {
            batch,
            server,
            detail,
            status,
        } => follow(settings, &server, &batch, detail, status.as_deref()),
        PayCommand::Notices { log } => rt.block_on(async {
            let p = open(settings, &log).await?;
            let mut out = std::io::stdout().lock();
            for n in p.needing_account().await? {
                let line = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    n.entitlement_id,
                    n.policy_id,
                    n.period,
                    n.payee_name,
                    n.amount,
                    n.reason.unwrap_or_default()
                );
                if line.is_err() {
                    break; // the reader went away (e.g. `| head`)
                }
            }
            p.store().close().await;
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// Text as one value of a URL's query.
fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `errandless pay follow`: the G2P status of a batch, or its transfers page by page.
fn follow(
    settings: &Settings,
    server: &str,
    batch: &str,
    detail: bool,
    status: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use errandless_payments::govstack::{BatchStatusUpdate, TransactionDetail};
    let member = payer(settings).member;
    let key_file = crate::member_cmd::default_key_file(&settings.data, &member);
    let key = crate::member_cmd::read_key_file(&key_file)
        .with_context(|| format!("the G2P API is asked as the paying member {member}"))?;
    let tenant = settings.province_division();
    let server = server.trim_end_matches('/');
    let batch_id = query_value(batch);
    let ask = |path_and_query: &str, correlation: &str| -> anyhow::Result<String> {
        use ed25519_dalek::Signer as _;
        let bytes = errandless_payments::govstack::query_bytes(
            &member,
            &tenant,
            correlation,
            path_and_query,
        );
        let signature = BASE64.encode(key.sign(&bytes).to_bytes());
        let url = format!("{server}{path_and_query}");
        let answer = ureq::get(&url)
            .set(errandless_server::CLIENT_HEADER, &member)
            .set(errandless_server::TENANT_HEADER, &tenant)
            .set(errandless_server::CORRELATION_HEADER, correlation)
            .set(errandless_server::SIGNATURE_HEADER, &signature)
            .call();
        match answer {
            Ok(r) => r
                .into_string()
                .with_context(|| format!("while reading the answer of {url}")),
            Err(ureq::Error::Status(code, r)) => {
                let body = r.into_string().unwrap_or_default();
                let why = serde_json::from_str::<errandless_server::ErrorBody>(&body)
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .unwrap_or(body);
                bail!("{url} answered {code}: {why}")
            }
            Err(e) => Err(e).with_context(|| format!("while asking {url}")),
        }
    };
    let correlation =
        |n: u64| format!("follow-{:x}-{n}", settings.clock.now_millis() % 0xffff_ffff);
    if !detail {
        let body = ask(
            &format!("/api/v1/batch?batchId={batch_id}"),
            &correlation(0),
        )?;
        let u: BatchStatusUpdate =
            serde_json::from_str(&body).context("the answer is not a G2P status update")?;
        let ongoing = u.ongoing.unwrap_or(0);
        println!("batch {}: {}", u.batch_id, u.note);
        println!("  state         transfers  amount (yuan)");
        for (state, n, amount) in [
            ("completed", u.completed, u.completed_amount),
            ("failed", u.failed, u.failed_amount),
            ("in progress", ongoing, u.ongoing_amount),
            ("total", u.total_transactions, u.total_amount),
        ] {
            println!("  {state:<12} {n:>10}  {:>14}", amount.0);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let filter = status
        .map(|s| format!("&status={}", query_value(s)))
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    for page in 0.. {
        let body = ask(
            &format!(
                "/api/v1/batch/detail?batchId={batch_id}&pageNo={page}&pageSize={}{filter}",
                errandless_server::G2P_MAX_PAGE_SIZE
            ),
            &correlation(page),
        )?;
        let details: Vec<TransactionDetail> =
            serde_json::from_str(&body).context("the answer is not a list of G2P details")?;
        for d in &details {
            let line = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}",
                d.transaction_id,
                d.status,
                d.amount.0,
                d.payee_party_id,
                d.payee_dfsp_id,
                d.error_information.as_deref().unwrap_or("")
            );
            if line.is_err() {
                return Ok(ExitCode::SUCCESS); // the reader went away (e.g. `| head`)
            }
        }
        if (details.len() as i64) < errandless_server::G2P_MAX_PAGE_SIZE {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_entitlements(file: &Path) -> anyhow::Result<Vec<Entitlement>> {
    let reader: Box<dyn std::io::BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        ))
    };
    let mut items = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("while reading {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: Entitlement = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: not an entitlement", file.display(), n + 1))?;
        if let Err((field, rule)) = e.validate() {
            bail!("{} line {}: {field} {rule}", file.display(), n + 1);
        }
        items.push(e);
    }
    Ok(items)
}

pub fn bank(cmd: BankCommand, clock: &errandless_standards::Clock) -> anyhow::Result<ExitCode> {
    match cmd {
        BankCommand::Simulate { file, out, seed } => {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let msg = read_pain001(std::io::BufReader::new(f)).with_context(|| {
                format!("{} is not a valid pain.001.001.09 file", file.display())
            })?;
            let report = simulate(
                &msg,
                seed,
                &Faults::default(),
                &iso_date_time(clock.now_millis()),
            );
            let out = out.unwrap_or_else(|| {
                let stem = file
                    .file_stem()
                    .map_or_else(|| "report".to_owned(), |s| s.to_string_lossy().into_owned());
                file.with_file_name(format!("{stem}.pain002.xml"))
            });
            let mut bytes = Vec::new();
            write_pain002(&mut bytes, &report, BANK_NAME)?;
            std::fs::write(&out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let rejected = report
                .transactions
                .iter()
                .filter(|t| t.status == "RJCT")
                .count();
            println!(
                "{}\t{} transfers, {} settled, {rejected} rejected",
                out.display(),
                report.transactions.len(),
                report.transactions.len() - rejected
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The i-th of many distinct valid ID numbers, for the benchmark.
fn bench_person(i: u64) -> anyhow::Result<String> {
    let birth = errandless_standards::Date::new(
        1950 + i32::try_from(i / 1000 % 60)?,
        1 + u32::try_from(i / 60_000 % 12)?,
        1 + u32::try_from(i / 720_000 % 28)?,
    )?;
    Ok(
        errandless_standards::CitizenId::compose(520102, birth, u16::try_from(i % 1000)?)
            .as_str()
            .to_owned(),
    )
}

async fn bench(dir: Option<PathBuf>, n: u64, max_batch: u64) -> anyhow::Result<ExitCode> {
    let remove = dir.is_none();
    let root = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("errandless-pay-bench-{}", std::process::id())),
    };
    if root.join("platform.sqlite").exists() {
        bail!(
            "{} already holds a benchmark; give another --dir",
            root.display()
        );
    }
    std::fs::create_dir_all(&root)?;
    let result = bench_in(&root, n, max_batch).await;
    if remove {
        let _ = std::fs::remove_dir_all(&root);
    }
    result
}

async fn bench_in(root: &Path, n: u64, max_batch: u64) -> anyhow::Result<ExitCode> {
    let ledger = Sequencer::create(
        &root.join("ledger"),
        NoteSigner::generate("bench.errandless.invalid/log", ALG_ED25519)?,
    )?
    .with_durability(Durability::Fsync);
    let store = Store::open(&Store::default_url(root)).await?;
    errandless_payments::migrate(&store).await?;
    let p = Payments::new(
        store,
        Arc::new(tokio::sync::Mutex::new(ledger)),
        SubjectKey::generate(),
        Payer::default(),
    );
    let items = (0..n)
        .map(|i| {
            Ok(Entitlement {
                policy_id: "freshman-subsidy".into(),
                period: "2026".into(),
                subject_id: bench_person(i)?,
                payee_name: format!("学生{i}"),
                account: format!("62170{i:014}"),
                bank: "贵州农村信用社".into(),
                amount_fen: if i % 3 == 0 { 500_000 } else { 300_000 },
                decision_ref: format!("decision-{i}"),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // A benchmark of the real thing: the time is the system's.
    let now = errandless_standards::Clock::system().now_millis();
    let t = Instant::now();
    p.entitle(&items, now).await?;
    let spent = t.elapsed();
    println!(
        "entitle: {n} entitlements in {spent:.2?} = {:.0} entitlements/s (with their ledger entries, fsynced)",
        n as f64 / spent.as_secs_f64()
    );
    let t = Instant::now();
    let again = p.entitle(&items, now).await?;
    println!(
        "entitle again: {} new of {n} in {:.2?}",
        again.created,
        t.elapsed()
    );
    let out = root.join("out");
    let t = Instant::now();
    let files = p.export(&out, max_batch, now, &mut |_| {}).await?;
    let spent = t.elapsed();
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "export: {n} payments in {} files ({:.1} MB) in {spent:.2?} = {:.0} payments/s (claim, ledger, pain.001 write and fsync)",
        files.len(),
        bytes as f64 / 1e6,
        n as f64 / spent.as_secs_f64()
    );
    let t = Instant::now();
    let mut reconciled = 0u64;
    for f in &files {
        let msg = read_pain001(std::io::BufReader::new(std::fs::File::open(&f.path)?))?;
        let report = simulate(&msg, 1, &Faults::default(), &iso_date_time(now));
        let r = p.import(&report, now).await?;
        reconciled += r.paid + r.accepted + r.retry + r.needs_account;
    }
    let spent = t.elapsed();
    println!(
        "bank and import: {reconciled} statuses reconciled in {spent:.2?} = {:.0} statuses/s",
        reconciled as f64 / spent.as_secs_f64()
    );
    p.store().close().await;
    Ok(ExitCode::SUCCESS)
}
