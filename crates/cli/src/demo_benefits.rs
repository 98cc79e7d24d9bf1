//! The benefit steps of `errandless demo`: the policy pack enacted, its payments exported as
//! pain.001, answered by the demo bank with pain.002 and reconciled; and the live case,
//! `errandless demo admit`, where an admission written into the education island is paid
//! through the next sync's delta run, and its reverse, `errandless demo death`, where a death
//! registered by civil affairs withdraws what the next sync's delta run finds unpaid.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _};
use errandless_payments::bank::{simulate, Faults, BANK_NAME};
use errandless_payments::xml::{read_pain001, write_pain002};
use errandless_payments::{iso_date_time, Fen, PaymentStatus, Payments};
use errandless_policy::{Lang, Policy};
use errandless_standards::{CitizenId, Clock, Standard};

use crate::config::Settings;
use crate::demo_cmd::heading;
use crate::sync_cmd::DATA_CENTER_MEMBER;
use errandless_policy::PACK;

/// The pack's policy `file`, parsed.
pub(crate) fn pack_policy(file: &str, text: &str) -> anyhow::Result<Policy> {
    Policy::parse(file, text, Standard::builtin()).map_err(|errors| {
        anyhow::anyhow!(
            "the built-in policy {file} is invalid: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

/// The period the demo enacts: the one today (by the configured clock) falls in, or the
/// nearest one of the policy's validity when today is outside it.
pub(crate) fn demo_period(policy: &Policy, clock: &Clock) -> anyhow::Result<String> {
    let mut today = clock.today().max(policy.valid_from);
    if let Some(to) = policy.valid_to {
        today = today.min(to);
    }
    policy.period_on(today).map_err(anyhow::Error::msg)
}

/// Steps 9 and 10 of the walk: enact the pack, then pay through the demo bank. Returns a
/// payee whose explanation it printed.
pub(crate) async fn enact_and_pay(settings: &Settings) -> anyhow::Result<Option<CitizenId>> {
    heading("9. the policy pack, enacted: decisions with explanations, entitlements");
    let decider = crate::enact::open(settings, DATA_CENTER_MEMBER).await?;
    crate::policy_cmd::print_enacted_heading();
    let mut paid_example = None;
    for (file, text) in PACK {
        let policy = pack_policy(file, text)?;
        let period = demo_period(&policy, &settings.clock)?;
        let done = decider.enact(&policy, text, &period, None).await?;
        crate::policy_cmd::print_enacted(&policy.id, &period, &done);
        if paid_example.is_none() {
            if let Some(subject) = done.payable_subjects.first() {
                paid_example = Some((policy.id.clone(), period.clone(), subject.clone()));
            }
        }
    }
    println!("a decision is recorded for everyone eligible and every near miss; enacting again records nothing new and pays no one twice");

    heading("10. payments: pain.001 to the demo bank, its pain.002 reconciled");
    let out = crate::pay_cmd::payment_files(settings);
    pay_round(&decider.payments, &out, &settings.clock).await?;
    let waiting = decider
        .payments
        .needing_account()
        .await
        .context("while listing who must bind a working account")?;
    println!(
        "{} payee(s) rejected by the bank wait for a working account (`errandless pay notices`)",
        waiting.len()
    );

    let mut payee = None;
    if let Some((policy, period, subject)) = paid_example {
        payee = CitizenId::parse(&subject).ok();
        println!();
        println!("the explanation a payee receives (`errandless policy explain {policy} --subject {subject}`):");
        if let Some((_, explanation)) = errandless_policy::enactment::explanation(
            &decider.store,
            &policy,
            Some(&period),
            &subject,
        )
        .await?
        {
            for line in explanation.render(Lang::En).lines() {
                println!("  {line}");
            }
        }
    }
    decider.store.close().await;
    Ok(payee)
}

/// Exports every pending payment, has the demo bank answer each file and imports its report.
/// Prints one line per file; returns how many transfers were paid.
pub(crate) async fn pay_round(
    payments: &Payments,
    out: &Path,
    clock: &Clock,
) -> anyhow::Result<u64> {
    let files = payments
        .export(out, 50_000, clock.now_millis(), &mut |_| {})
        .await
        .with_context(|| format!("while exporting payments to {}", out.display()))?;
    if files.is_empty() {
        println!("no pending payments");
        return Ok(0);
    }
    println!(
        "{:<44} {:>9} {:>16} {:>8} {:>8} {:>10}",
        "pain.001 file", "transfers", "amount (CNY)", "paid", "retry", "no account"
    );
    let mut paid = 0;
    for f in &files {
        let file = std::fs::File::open(&f.path)
            .with_context(|| format!("cannot open {}", f.path.display()))?;
        let message = read_pain001(std::io::BufReader::new(file))
            .with_context(|| format!("{} is not a valid pain.001 file", f.path.display()))?;
        let report = simulate(
            &message,
            7,
            &Faults::default(),
            &iso_date_time(clock.now_millis()),
        );
        let mut bytes = Vec::new();
        write_pain002(&mut bytes, &report, BANK_NAME)?;
        let answer = f.path.with_extension("pain002.xml");
        std::fs::write(&answer, bytes)
            .with_context(|| format!("cannot write {}", answer.display()))?;
        let r = payments
            .import(&report, clock.now_millis())
            .await
            .with_context(|| format!("while importing {}", answer.display()))?;
        paid += r.paid;
        println!(
            "{:<44} {:>9} {:>16} {:>8} {:>8} {:>10}",
            f.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            f.transfers,
            f.control_sum.to_string(),
            r.paid,
            r.retry,
            r.needs_account
        );
    }
    println!("files in {}", out.display());
    Ok(paid)
}

/// The subject named on the command line of a live case, checked, on a data directory that
/// holds a demo province.
fn live_case_subject(
    settings: &Settings,
    subject: Option<&str>,
) -> anyhow::Result<Option<CitizenId>> {
    let subject = subject
        .map(|s| CitizenId::parse(s).with_context(|| format!("'{s}' is not a citizen ID number")))
        .transpose()?;
    if !settings.data.join("ledger").is_dir() {
        bail!(
            "{} holds no demo province: run `errandless demo` first",
            settings.data.display()
        );
    }
    Ok(subject)
}

/// `errandless demo admit`: the live case. Writes an admission into the education island,
/// syncs, lets the delta run decide and entitle, pays through the demo bank, and prints the
/// seconds from admission to payment.
pub(crate) async fn admit(settings: &Settings, subject: Option<&str>) -> anyhow::Result<()> {
    let subject = live_case_subject(settings, subject)?;
    let started = Instant::now();
    let admitted =
        errandless_synth::admit(&settings.data, subject.as_ref(), settings.clock.today())
            .context("while writing the admission into the education island")?;
    println!(
        "admitted: {} ({}), student {}, {} programme at {}, {}",
        admitted.name,
        admitted.id_number,
        admitted.student_no,
        admitted.level,
        admitted.institution,
        admitted.year
    );
    let runs = crate::sync_cmd::sync_all(settings, DATA_CENTER_MEMBER, None, true).await?;
    let decider = crate::enact::open(settings, DATA_CENTER_MEMBER).await?;
    let out = crate::pay_cmd::payment_files(settings);
    pay_round(&decider.payments, &out, &settings.clock).await?;
    let mut traces = Vec::new();
    for (policy, period, _) in &runs {
        if let Some(t) = decider
            .payments
            .trace(policy, period, &admitted.id_number)
            .await
            .context("while tracing the payment")?
        {
            traces.push((policy.clone(), t));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let decided = errandless_policy::enactment::explanation(
        &decider.store,
        "freshman-subsidy",
        None,
        &admitted.id_number,
    )
    .await
    .context("while reading the decision")?
    .map(|(_, e)| e);
    decider.store.close().await;
    let delta: Vec<String> = runs
        .iter()
        .map(|(policy, _, done)| format!("{policy} over {} subject(s)", done.report.evaluated))
        .collect();
    println!("delta run: {}", delta.join(", "));
    match traces.iter().find(|(_, t)| t.status == PaymentStatus::Paid) {
        Some((policy, t)) => println!(
            "paid {} CNY under {policy}, {seconds:.2} s after the admission was written",
            Fen(t.entitlement.amount_fen)
        ),
        None if traces.is_empty() => {
            let outcome = match &decided {
                Some(e) => e
                    .render(Lang::En)
                    .lines()
                    .nth(2)
                    .unwrap_or_default()
                    .to_owned(),
                None => "no decision was recorded (neither eligible nor a near miss)".to_owned(),
            };
            println!(
                "not paid, {seconds:.2} s after the admission. {outcome}\nsee `errandless policy explain freshman-subsidy --subject {}`",
                admitted.id_number
            )
        }
        None => println!(
            "entitled but not paid: {} ({seconds:.2} s)",
            traces
                .iter()
                .map(|(policy, t)| format!("{policy} {}", t.status.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    Ok(())
}

/// `errandless demo death`: the reverse of the live case. Registers a death in the civil
/// affairs island, syncs, and shows what the delta run did with the person's entitlements:
/// withdrawn if they had not gone to the bank, left as they were otherwise.
pub(crate) async fn death(settings: &Settings, subject: Option<&str>) -> anyhow::Result<()> {
    let subject = live_case_subject(settings, subject)?;
    let started = Instant::now();
    let dead =
        errandless_synth::register_death(&settings.data, subject.as_ref(), settings.clock.today())
            .context("while writing the death into the civil affairs island")?;
    println!(
        "death registered: {} ({}) on {}, record {}",
        dead.name, dead.id_number, dead.died_on, dead.record_no
    );
    let runs = crate::sync_cmd::sync_all(settings, DATA_CENTER_MEMBER, None, true).await?;
    let decider = crate::enact::open(settings, DATA_CENTER_MEMBER).await?;
    for (policy, period, done) in &runs {
        let state = decider
            .payments
            .trace(policy, period, &dead.id_number)
            .await
            .context("while tracing the payment")?
            .map(|t| t.status.as_str().to_owned())
            .unwrap_or_else(|| "no entitlement".to_owned());
        println!(
            "delta run {policy} {period}: {} subject(s), {} entitlement(s) withdrawn, {} already with the bank; theirs: {state}",
            done.report.evaluated, done.withdrawn.withdrawn, done.withdrawn.too_late
        );
    }
    decider.store.close().await;
    println!(
        "{:.2} s after the death was written; see `errandless --data {} policy explain elderly-allowance --subject {}`",
        started.elapsed().as_secs_f64(),
        settings.data.display(),
        dead.id_number
    );
    Ok(())
}
