//! The console's policy runs: a policy simulated (no side effects) or enacted, started from the
//! policies page and carried out in the background while its page shows the stage it is at
//! and, once done, what it found or did.
//!
//! - **Who:** a policy officer whose role covers the installation's jurisdiction
//!   ([`Action::EnactPolicy`]), for a simulation as for an enactment: both read the whole
//!   province.
//! - **What:** a policy of the built-in pack, a policy in force (the version enacted), or a
//!   draft pasted into the page. A draft is checked, its `[[test]]` examples included, before
//!   anything runs; its errors are shown beside it with their line and column.
//! - **One at a time:** a run reads every snapshot on the machine's cores, and two at once
//!   would both be slow; a second is refused while one runs.
//! - **Kept:** the latest [`KEPT`] runs, in memory. What an enactment decided is in the policy
//!   and payment tables and the ledger, and its run in the run history, whatever happens to
//!   this process.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::decider::{Decider, Enacted, Stage};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use errandless_evaluation::{Keep, Simulation};
use errandless_identity::{decide, Action, Assignment};
use errandless_policy::{Policy, Title};
use serde::Deserialize;

use super::Shared;

/// How many finished runs are kept for their pages.
pub(super) const KEPT: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Simulate,
    Enact,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Simulate => "simulate",
            Kind::Enact => "enact",
        }
    }
}

/// Where a run is.
#[derive(Clone, Debug)]
pub(crate) enum Progress {
    /// Checking the policy's examples.
    Checking,
    /// At this stage of the evaluation or enactment.
    Running(Stage),
    Simulated(Box<Simulation>),
    /// What the enactment did, in figures (its per-subject lists dropped).
    Enacted(Box<Enacted>),
    Failed(String),
}

/// One simulation or enactment started from the console.
pub(crate) struct PolicyRun {
    pub id: String,
    pub kind: Kind,
    pub policy_id: String,
    pub title: Title,
    pub period: String,
    /// The name of the staff member who started it.
    pub by: String,
    pub started_ms: i64,
    started: Instant,
    state: Mutex<(Progress, Option<Duration>)>,
}

impl PolicyRun {
    /// Its state, and how long it took once finished.
    pub fn state(&self) -> (Progress, Duration) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.0.clone(), s.1.unwrap_or_else(|| self.started.elapsed()))
    }

    pub fn running(&self) -> bool {
        matches!(self.state().0, Progress::Checking | Progress::Running(_))
    }

    fn set(&self, state: Progress) {
        let finished = matches!(
            state,
            Progress::Simulated(_) | Progress::Enacted(_) | Progress::Failed(_)
        );
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = state;
        if finished {
            s.1 = Some(self.started.elapsed());
        }
    }
}

/// The console's runs, newest first.
#[derive(Default)]
pub(crate) struct PolicyRuns {
    runs: Mutex<VecDeque<Arc<PolicyRun>>>,
}

impl PolicyRuns {
    /// Registers a new run, unless one is running: then the one running.
    fn start(
        &self,
        kind: Kind,
        policy: &Policy,
        period: &str,
        by: &str,
        now: errandless_standards::Millis,
    ) -> Result<Arc<PolicyRun>, Arc<PolicyRun>> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(busy) = runs.iter().find(|r| r.running()) {
            return Err(Arc::clone(busy));
        }
        let run = Arc::new(PolicyRun {
            id: run_id(),
            kind,
            policy_id: policy.id.clone(),
            title: policy.title.clone(),
            period: period.to_owned(),
            by: by.to_owned(),
            started_ms: now,
            started: Instant::now(),
            state: Mutex::new((Progress::Checking, None)),
        });
        runs.push_front(Arc::clone(&run));
        while runs.len() > KEPT {
            // Only finished runs fall off: the one running is at the front.
            runs.pop_back();
        }
        Ok(run)
    }

    pub fn get(&self, id: &str) -> Option<Arc<PolicyRun>> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter().find(|r| r.id == id).cloned()
    }

    pub fn list(&self) -> Vec<Arc<PolicyRun>> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter().cloned().collect()
    }
}

fn run_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `roles` may simulate and enact policies for `decider`'s jurisdiction.
pub(super) fn may_run(roles: &[Assignment], decider: &Decider) -> bool {
    decide(
        roles,
        Action::EnactPolicy {
            division: &decider.jurisdiction,
        },
    )
    .is_ok()
}

/// The decider, for staff who may run policies; otherwise the page that turns them away: a
/// 404 where this server runs no policies, the recorded 403 for others.
async fn runner(
    portal: &super::Portal,
    visitor: &super::Visitor,
    roles: &[Assignment],
    action: &str,
) -> Result<Arc<Decider>, Response> {
    let Some(decider) = portal.decider.clone() else {
        return Err(super::not_found_page(portal, visitor));
    };
    if !may_run(roles, &decider) {
        return Err(super::forbidden(portal, visitor, action).await);
    }
    Ok(decider)
}

/// A policy the console offers to run, with the source it would run.
pub(super) struct Offered {
    pub id: String,
    pub title: Title,
    pub source: String,
    pub in_force: bool,
}

/// The policies the console can run: those in force (the version enacted), then the pack's
/// others.
pub(super) async fn offered(decider: &Decider) -> Result<Vec<Offered>, String> {
    let mut out = Vec::new();
    let in_force = decider
        .enactments
        .in_force()
        .await
        .map_err(|e| e.to_string())?;
    let standard = errandless_standards::Standard::builtin();
    for f in in_force {
        if let Ok(p) = Policy::parse(&f.policy_id, &f.source, standard) {
            out.push(Offered {
                id: p.id,
                title: p.title,
                source: f.source,
                in_force: true,
            });
        }
    }
    for (file, source) in errandless_policy::PACK {
        if let Ok(p) = Policy::parse(file, source, standard) {
            if !out.iter().any(|o| o.id == p.id) {
                out.push(Offered {
                    id: p.id,
                    title: p.title,
                    source: (*source).to_owned(),
                    in_force: false,
                });
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
pub(super) struct RunForm {
    csrf: String,
    /// `simulate` or `enact`.
    run: String,
    /// A policy the console offers, by id.
    policy: Option<String>,
    /// Or a draft's source.
    source: Option<String>,
    /// The period to enact; the one today falls in when empty.
    period: Option<String>,
}

/// The largest draft accepted, in bytes: policies of the pack are under 10 KB.
const MAX_DRAFT: usize = 200_000;

/// Starts a simulation or an enactment and sends the browser to its page. A draft with errors
/// comes back to the policies page with them beside it.
pub(super) async fn start(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<RunForm>,
) -> Response {
    let (visitor, roles) =
        match super::console::staff_post(&portal, &headers, &uri, &form.csrf, "policy_run").await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let kind = match form.run.as_str() {
        "simulate" => Kind::Simulate,
        "enact" => Kind::Enact,
        _ => return super::not_found_page(&portal, &visitor),
    };
    let action = format!("{}_policy", kind.code());
    let decider = match runner(&portal, &visitor, &roles, &action).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let tr = visitor.tr(&portal);
    let period_given = form
        .period
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    // The source: a policy offered by id, or the draft.
    let (file, source, draft) = match (form.policy.as_deref(), form.source.as_deref()) {
        (Some(id), _) => {
            let offered = match offered(&decider).await {
                Ok(o) => o,
                Err(e) => return super::internal(&portal, &visitor, &e),
            };
            match offered.into_iter().find(|o| o.id == id) {
                Some(o) => (format!("{id}.toml"), o.source, false),
                None => return super::not_found_page(&portal, &visitor),
            }
        }
        (None, Some(source)) => ("draft.toml".to_owned(), source.to_owned(), true),
        (None, None) => return super::not_found_page(&portal, &visitor),
    };
    let back_with = |errors: Vec<String>| {
        super::console::policies_page(
            &portal,
            &visitor,
            &roles,
            "",
            None,
            super::console::Draft {
                source: if draft { source.clone() } else { String::new() },
                period: period_given.unwrap_or_default().to_owned(),
                errors,
            },
        )
    };
    if source.len() > MAX_DRAFT {
        return back_with(vec![tr.t1(
            "console-draft-too-long",
            "limit",
            &MAX_DRAFT.to_string(),
        )])
        .await;
    }
    let policy = match Policy::parse(&file, &source, errandless_standards::Standard::builtin()) {
        Ok(p) => p,
        Err(errors) => return back_with(errors.iter().map(ToString::to_string).collect()).await,
    };
    let period = match period_given {
        Some(p) => match policy.check_period(p) {
            Ok(()) => p.to_owned(),
            Err(e) => return back_with(vec![e]).await,
        },
        None => match decider.period_today(&policy) {
            Ok(p) => p,
            Err(e) => return back_with(vec![e.to_string()]).await,
        },
    };
    let (account, by) = visitor
        .signed_in
        .as_ref()
        .map(|s| (s.account.id.clone(), s.account.name.clone()))
        .unwrap_or_default();
    let run = match portal
        .runs
        .start(kind, &policy, &period, &by, portal.app.now())
    {
        Ok(run) => run,
        Err(busy) => {
            return super::see_other(&format!(
                "/console/policies?error={}",
                super::urlencode(&tr.t1("console-run-busy", "policy", &busy.policy_id))
            ))
        }
    };
    tracing::info!(run = %run.id, policy = %policy.id, %period, %account, run_kind = kind.code(), "a policy run started from the console");
    let job = Arc::clone(&run);
    let app = Arc::clone(&portal.app);
    let work = async move {
        let state = carry_out(&decider, &job, policy, source, file).await;
        let outcome = if let Progress::Failed(e) = &state {
            tracing::warn!(run = %job.id, policy = %job.policy_id, error = %e, "a policy run failed");
            "failed"
        } else {
            tracing::info!(run = %job.id, policy = %job.policy_id, "a policy run finished");
            "done"
        };
        app.metrics.policy_run(job.kind.code(), outcome);
        job.set(state);
    };
    match run_workers() {
        Some(workers) => drop(workers.spawn(work)),
        None => drop(tokio::spawn(work)),
    }
    super::see_other(&format!("/console/policies/runs/{}", run.id))
}

/// The workers runs are carried out on: a runtime of their own, so that a run's evaluation
/// shares the machine's cores with the pages through the operating system's scheduler rather
/// than holding the server's workers between its yields. Made once and never dropped (a
/// connection a run opens stays served by it); `None` if it cannot be made, and runs then go
/// on the server's workers.
fn run_workers() -> Option<&'static tokio::runtime::Runtime> {
    static WORKERS: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    WORKERS
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("policy-run")
                .enable_all()
                .build()
                .map_err(
                    |e| tracing::warn!(error = %e, "policy runs will share the server's workers"),
                )
                .ok()
        })
        .as_ref()
}

/// Checks the examples, then simulates or enacts; the run's last state.
async fn carry_out(
    decider: &Decider,
    run: &PolicyRun,
    policy: Policy,
    source: String,
    file: String,
) -> Progress {
    // The examples run on DataFusion's own small runtime, away from the server's workers.
    let checked = tokio::task::spawn_blocking(move || {
        errandless_evaluation::check_examples(&policy, &file).map(|_| policy)
    })
    .await;
    let policy = match checked {
        Ok(Ok(p)) => p,
        Ok(Err(errors)) => {
            return Progress::Failed(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        }
        Err(e) => return Progress::Failed(format!("the examples' check stopped: {e}")),
    };
    match run.kind {
        Kind::Simulate => {
            run.set(Progress::Running(Stage::Evaluating));
            // Only the decisions a run would record (the eligible and the near misses), as
            // `errandless policy simulate` keeps them: the figures need no more, and a
            // province of millions stays out of memory.
            let policy = match Decider::resolve(&policy, &run.period) {
                Ok(p) => p,
                Err(e) => return Progress::Failed(e.to_string()),
            };
            match decider.evaluate(&policy, None, Keep::Recorded).await {
                Ok(evaluated) => Progress::Simulated(Box::new(errandless_evaluation::simulate(
                    &policy,
                    evaluated.evaluated,
                    &evaluated.decisions,
                ))),
                Err(e) => Progress::Failed(e.to_string()),
            }
        }
        Kind::Enact => {
            match decider
                .enact_with(&policy, &source, &run.period, None, |stage| {
                    run.set(Progress::Running(stage))
                })
                .await
            {
                Ok(mut done) => {
                    done.report.payable = Vec::new();
                    done.payable_subjects = Vec::new();
                    Progress::Enacted(Box::new(done))
                }
                Err(e) => Progress::Failed(e.to_string()),
            }
        }
    }
}

/// A run's page: its stage while it runs (the page asks again every two seconds through
/// htmx, or on the reader's "refresh"), then its result.
pub(super) async fn show(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let (visitor, roles) =
        match super::console::staff_page(&portal, &headers, &uri, "policy_run").await {
            Ok(v) => v,
            Err(r) => return r,
        };
    if let Err(r) = runner(&portal, &visitor, &roles, "policy_run").await {
        return r;
    }
    let Some(run) = portal.runs.get(&id) else {
        return super::not_found_page(&portal, &visitor);
    };
    super::console::run_page(&portal, &visitor, &run)
}
