//! Enactment: a policy evaluated over the data center, its decisions recorded (policy crate)
//! and its payable decisions entitled (payments crate), under one ledger.
//!
//! One [`Decider`] serves every way a policy is enacted: `errandless policy enact`, the delta
//! run that follows a sync, the demo, and the console's policy page. It holds the platform
//! store and the shared ledger; it decides nothing itself (the policy does) and pays nothing
//! (the payments crate exports what it entitles).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use errandless_evaluation::{
    compile, evaluate_latest, latest_snapshots, sources_of, DatacenterError, Decision, Evaluated,
    EvaluationError, Evaluator, Keep,
};
use errandless_ledger::{Sequencer, SubjectKey};
use errandless_payments::{EntitleReport, Entitlement, Payer, Payments, PaymentsError, Withdrawal};
use errandless_policy::{EnactError, EnactReport, Enactment, Enactments, Policy, Run};
use errandless_store::Store;

/// Why an enactment stopped. What was recorded before it stopped stays recorded, and a
/// rerun completes it without deciding or paying anyone twice.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{policy} pays, but reads no {what} input for the payee: add one such as {example} to [inputs]")]
    NoPayeeInput {
        policy: String,
        what: &'static str,
        example: &'static str,
    },
    #[error(transparent)]
    Datacenter(#[from] DatacenterError),
    #[error("while recording the decisions of {policy}: {source}")]
    Record {
        policy: String,
        #[source]
        source: EnactError,
    },
    #[error("while entitling the payable decisions of {policy}: {source}")]
    Entitle {
        policy: String,
        #[source]
        source: PaymentsError,
    },
    #[error("while appending an interrupted run's records to the ledger: {0}")]
    Flush(String),
    #[error("{0}")]
    Period(String),
    #[error("while deciding one subject under {policy}: {source}")]
    One {
        policy: String,
        #[source]
        source: EvaluationError,
    },
}

/// A policy prepared for single-subject decisions over the snapshots it was prepared on.
struct Prepared {
    source: String,
    period: String,
    snapshots: Vec<String>,
    evaluator: Arc<Evaluator>,
}

/// Where an enactment is, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Reading the snapshots and deciding everyone.
    Evaluating,
    /// Recording this many decisions (the eligible and the near misses).
    Recording { decisions: u64 },
    /// Entitling this many payable decisions.
    Entitling { payable: u64 },
}

/// What one enactment did.
#[derive(Clone, Debug)]
pub struct Enacted {
    pub report: EnactReport,
    pub entitled: EntitleReport,
    /// The subjects of the payable decisions, in the run's order.
    pub payable_subjects: Vec<String>,
    /// Entitlements not made because the bank would refuse the payee's details.
    pub invalid_payees: u64,
    /// Entitlements withdrawn because their subject no longer qualifies for the period.
    pub withdrawn: Withdrawal,
    pub total: Duration,
}

/// The store, decisions and payments of one installation, sharing its ledger.
pub struct Decider {
    pub store: Store,
    pub enactments: Enactments,
    pub payments: Payments,
    /// The data center's directory, with the snapshots policies read.
    pub datacenter: PathBuf,
    /// The member whose snapshots are read and who decides.
    pub consumer: String,
    /// Where payment files (pain.001) are written for the bank: `<data>/payments/out` unless
    /// [`Decider::with_payment_files`] says otherwise.
    pub payment_files: PathBuf,
    /// Policies prepared for single-subject decisions, by policy id.
    prepared: tokio::sync::Mutex<std::collections::HashMap<String, Prepared>>,
    /// The 12-digit division code the policies are enacted for (`520000000000` for a
    /// province): a staff member enacts from the console only with a policy officer's role
    /// covering it.
    pub jurisdiction: String,
    /// What time it is: the period "today" falls in, and the time of every record.
    pub clock: errandless_standards::Clock,
}

impl Decider {
    /// A decider over `store` and `ledger`, reading `consumer`'s snapshots in `datacenter`.
    /// Decisions and payment changes an interrupted run committed go into the ledger first.
    pub async fn new(
        store: Store,
        ledger: Arc<tokio::sync::Mutex<Sequencer>>,
        key: SubjectKey,
        payer: Payer,
        datacenter: PathBuf,
        consumer: &str,
        jurisdiction: &str,
    ) -> Result<Decider, DecideError> {
        let enactments = Enactments::new(store.clone(), ledger.clone(), key.clone(), consumer);
        let payments = Payments::new(store.clone(), ledger, key, payer);
        enactments
            .flush_ledger()
            .await
            .map_err(|e| DecideError::Flush(e.to_string()))?;
        payments
            .flush_ledger()
            .await
            .map_err(|e| DecideError::Flush(e.to_string()))?;
        let payment_files = datacenter
            .parent()
            .map(|data| data.join("payments").join("out"))
            .unwrap_or_else(|| PathBuf::from("payments").join("out"));
        Ok(Decider {
            store,
            enactments,
            payments,
            payment_files,
            prepared: Default::default(),
            datacenter,
            consumer: consumer.to_owned(),
            jurisdiction: jurisdiction.to_owned(),
            clock: errandless_standards::Clock::system(),
        })
    }

    /// The decider, asking `clock` what time it is (the system's by default).
    pub fn with_clock(mut self, clock: errandless_standards::Clock) -> Decider {
        self.clock = clock;
        self
    }

    /// `policy` as it decides `period`: its parameters and the period's values written in
    /// ([`Policy::resolve`]), or why `period` is not one of its periods.
    pub fn resolve(policy: &Policy, period: &str) -> Result<Policy, DecideError> {
        policy.for_period(period).map_err(DecideError::Period)
    }

    /// The period of `policy` that today (by the decider's clock) falls in.
    pub fn period_today(&self, policy: &Policy) -> Result<String, DecideError> {
        policy
            .period_on(self.clock.today())
            .map_err(DecideError::Period)
    }

    /// The decider, writing payment files into `dir`.
    pub fn with_payment_files(mut self, dir: PathBuf) -> Decider {
        self.payment_files = dir;
        self
    }

    /// Evaluates `policy` (resolved for a period, [`Decider::resolve`]) over everyone, or over
    /// `subjects` only, with no side effects, handing back the decisions `keep` asks for.
    pub async fn evaluate(
        &self,
        policy: &Policy,
        subjects: Option<&[String]>,
        keep: Keep<'_>,
    ) -> Result<Evaluated, DecideError> {
        Ok(evaluate_latest(
            &self.store,
            &self.datacenter,
            &self.consumer,
            policy,
            subjects,
            keep,
        )
        .await?)
    }

    /// What `policy` (read from `source`) decides about `subject` today, over the newest
    /// snapshots, recording nothing: `None` when no dataset it reads has a row of theirs. The
    /// policy is prepared once (an [`Evaluator`]) and again only when its source, the period
    /// or a snapshot changes, so each call binds the subject and runs.
    pub async fn decide_now(
        &self,
        policy: &Policy,
        source: &str,
        subject: &str,
    ) -> Result<Option<Decision>, DecideError> {
        let period = self.period_today(policy)?;
        // The tables the policy reads, whatever the period; it is resolved only to prepare.
        let plan = compile(policy);
        let (snapshots, files) =
            latest_snapshots(&self.store, &self.datacenter, &self.consumer, policy, &plan).await?;
        let ids: Vec<String> = snapshots.iter().map(|s| s.id.to_hex()).collect();
        let failed = |source| DecideError::One {
            policy: policy.id.clone(),
            source,
        };
        let evaluator = {
            let mut prepared = self.prepared.lock().await;
            match prepared.get(&policy.id) {
                Some(p) if p.source == source && p.period == period && p.snapshots == ids => {
                    Arc::clone(&p.evaluator)
                }
                _ => {
                    let resolved = Decider::resolve(policy, &period)?;
                    let evaluator = Arc::new(
                        Evaluator::prepare(&resolved, &files)
                            .await
                            .map_err(failed)?,
                    );
                    prepared.insert(
                        policy.id.clone(),
                        Prepared {
                            source: source.to_owned(),
                            period,
                            snapshots: ids,
                            evaluator: Arc::clone(&evaluator),
                        },
                    );
                    evaluator
                }
            }
        };
        evaluator.decide(subject).await.map_err(failed)
    }

    /// What each policy in force (or only `policy_id`) decides about `subject` today, over
    /// the newest snapshots, recording nothing: per policy its id and the decision (`None`
    /// when no dataset it reads has a row of theirs), or why there is none (a snapshot is
    /// missing, say).
    pub async fn today(
        &self,
        subject: &str,
        policy_id: Option<&str>,
    ) -> Result<Vec<(String, Result<Option<Decision>, DecideError>)>, DecideError> {
        let in_force = self
            .enactments
            .in_force()
            .await
            .map_err(|source| DecideError::Record {
                policy: policy_id.unwrap_or("*").to_owned(),
                source,
            })?;
        let standard = errandless_standards::Standard::builtin();
        let mut out = Vec::new();
        for f in in_force {
            if policy_id.is_some_and(|p| p != f.policy_id) {
                continue;
            }
            // A stored version that no longer checks against the standard decides nothing.
            let Ok(policy) = Policy::parse(&f.policy_id, &f.source, standard) else {
                continue;
            };
            let decided = self.decide_now(&policy, &f.source, subject).await;
            out.push((f.policy_id, decided));
        }
        Ok(out)
    }

    /// Evaluates `policy` (read from `source`) for `period` over everyone, or over `subjects`
    /// only (a delta run), records its decisions and entitles the payable ones.
    pub async fn enact(
        &self,
        policy: &Policy,
        source: &str,
        period: &str,
        subjects: Option<&[String]>,
    ) -> Result<Enacted, DecideError> {
        self.enact_with(policy, source, period, subjects, |_| {})
            .await
    }

    /// [`Decider::enact`], telling `progress` each stage as it starts.
    pub async fn enact_with(
        &self,
        policy: &Policy,
        source: &str,
        period: &str,
        subjects: Option<&[String]>,
        progress: impl Fn(Stage),
    ) -> Result<Enacted, DecideError> {
        let started = Instant::now();
        let payee = payee_inputs(policy)?;
        let resolved = Decider::resolve(policy, period)?;
        // Those eligible so far are decided whatever they are now: someone who stopped
        // qualifying gets a decision that says so, and loses what has not been paid.
        let was_eligible = self
            .enactments
            .eligible_subjects(&policy.id, period, subjects)
            .await
            .map_err(|source| DecideError::Record {
                policy: policy.id.clone(),
                source,
            })?;
        progress(Stage::Evaluating);
        let evaluated = self
            .evaluate(&resolved, subjects, Keep::RecordedAnd(&was_eligible))
            .await?;
        progress(Stage::Recording {
            decisions: evaluated.decisions.len() as u64,
        });
        let sources = sources_of(&evaluated.snapshots);
        let enactment = Enactment {
            policy,
            source,
            period,
            sources: &sources,
            run: if subjects.is_some() {
                Run::Delta
            } else {
                Run::Batch
            },
            evaluated: evaluated.evaluated,
        };
        let now = self.clock.now_millis();
        let report = self
            .enactments
            .enact(&enactment, &evaluated.decisions, now)
            .await
            .map_err(|source| DecideError::Record {
                policy: policy.id.clone(),
                source,
            })?;
        let mut items = Vec::with_capacity(report.payable.len());
        if let Some((account, name, bank)) = payee {
            for (i, reference) in &report.payable {
                let d = &evaluated.decisions[*i];
                let value = |k: usize| d.values.get(k).cloned().flatten().unwrap_or_default();
                items.push(Entitlement {
                    policy_id: policy.id.clone(),
                    period: period.to_owned(),
                    subject_id: d.subject.clone(),
                    payee_name: value(name),
                    account: value(account),
                    bank: value(bank),
                    amount_fen: d.amount,
                    decision_ref: reference.clone(),
                });
            }
        }
        progress(Stage::Entitling {
            payable: items.len() as u64,
        });
        // A decision whose payee details the bank would refuse is kept, not paid: it is named
        // here rather than failing everyone else's payment.
        let (valid, invalid): (Vec<Entitlement>, Vec<Entitlement>) =
            items.into_iter().partition(|e| e.validate().is_ok());
        for e in &invalid {
            if let Err((field, rule)) = e.validate() {
                tracing::warn!(policy = %e.policy_id, decision = %e.decision_ref, field, rule, "not entitled: the payee details are invalid");
            }
        }
        let entitled =
            self.payments
                .entitle(&valid, now)
                .await
                .map_err(|source| DecideError::Entitle {
                    policy: policy.id.clone(),
                    source,
                })?;
        let no_longer: Vec<(String, String)> = report
            .no_longer_eligible
            .iter()
            .map(|(i, reference)| (evaluated.decisions[*i].subject.clone(), reference.clone()))
            .collect();
        let withdrawn = if policy.payment.is_some() {
            self.payments
                .withdraw(&policy.id, period, &no_longer, now)
                .await
                .map_err(|source| DecideError::Entitle {
                    policy: policy.id.clone(),
                    source,
                })?
        } else {
            Withdrawal::default()
        };
        let payable_subjects = report
            .payable
            .iter()
            .map(|(i, _)| evaluated.decisions[*i].subject.clone())
            .collect();
        Ok(Enacted {
            report,
            entitled,
            payable_subjects,
            invalid_payees: invalid.len() as u64,
            withdrawn,
            total: started.elapsed(),
        })
    }
}

/// For a paying policy, the positions among its inputs of the payee's account, name
/// (element `person_name`) and bank (element `bank_name`).
fn payee_inputs(policy: &Policy) -> Result<Option<(usize, usize, usize)>, DecideError> {
    let Some(payment) = &policy.payment else {
        return Ok(None);
    };
    let position = |what: &'static str, found: Option<usize>, example: &'static str| {
        found.ok_or_else(|| DecideError::NoPayeeInput {
            policy: policy.id.clone(),
            what,
            example,
        })
    };
    let account = position(
        "account",
        policy.inputs.iter().position(|i| i.name == payment.pay_to),
        "account = \"finance.one_card.account\"",
    )?;
    let name = position(
        "person_name",
        policy
            .inputs
            .iter()
            .position(|i| i.element == "person_name"),
        "payee_name = \"public_security.resident.name\"",
    )?;
    let bank = position(
        "bank_name",
        policy.inputs.iter().position(|i| i.element == "bank_name"),
        "bank = \"finance.one_card.bank\"",
    )?;
    Ok(Some((account, name, bank)))
}
