//! The staff console, scoped by role, department and division. Every page asks the identity
//! crate's [`decide`] (or the services crate's scope check) before it shows or does anything;
//! a refusal is a recorded 403.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use errandless_identity::{decide, Action, Assignment, Role};
use errandless_services::{Actor, CaseError, CaseState, Catalogue, Scope, Staff};
use serde::Deserialize;

use super::services::{dataset_name, department, state_name};
use super::{page, see_other, Chrome, Portal, Shared, Tr, Visitor};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/console", get(home))
        .route("/console/cases", get(cases))
        .route("/console/cases/{id}", get(case))
        .route("/console/cases/{id}/step", post(step))
        .route("/console/exchange", get(exchange))
        .route("/console/exchange/requests/{id}", post(decide_request))
        .route("/console/ratings", get(ratings))
        .route("/console/ratings/{id}/answer", post(answer))
        .route("/console/policies", get(policies))
        .route("/console/policies/run", post(super::policy_runs::start))
        .route("/console/policies/runs/{id}", get(super::policy_runs::show))
        .route("/console/payments", get(payments))
        .route("/console/payments/export", post(export_payments))
        .route("/console/payments/files/{name}", get(payment_file))
        .route(
            "/console/payments/import",
            post(import_report).layer(axum::extract::DefaultBodyLimit::max(MAX_REPORT)),
        )
        .route("/console/ledger", get(ledger))
}

/// A table of the console, with a form per row where staff can act.
struct Panel {
    title: String,
    lead: Option<String>,
    /// (action, label, parameter, value) of a search form above the table.
    search: Option<(String, String, String, String)>,
    headers: Vec<String>,
    rows: Vec<Row>,
    pre: Option<String>,
}

impl Panel {
    fn new(title: String, headers: Vec<String>) -> Panel {
        Panel {
            title,
            lead: None,
            search: None,
            headers,
            rows: Vec::new(),
            pre: None,
        }
    }
}

#[derive(Default)]
struct Row {
    cells: Vec<String>,
    link: Option<String>,
    flag: bool,
    actions: Vec<Act>,
}

struct Act {
    id: String,
    href: String,
    label: String,
    hidden: Vec<(String, String)>,
    note: Option<String>,
    danger: bool,
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage<'a> {
    c: Chrome<'a>,
    nav: Vec<(&'static str, String)>,
    here: &'static str,
    notice: Option<String>,
    panels: Vec<Panel>,
    /// The form for a draft policy, on the policies page for those who may run one.
    draft: Option<Draft>,
    /// The path the page asks for again every two seconds (htmx), while a run goes on.
    poll: Option<String>,
    /// The form that takes a bank's status report, on the payments page for those who may
    /// reconcile.
    upload: bool,
}

/// A draft policy as typed, with the errors found in it.
#[derive(Default)]
pub(super) struct Draft {
    pub source: String,
    pub period: String,
    pub errors: Vec<String>,
}

fn nav(tr: Tr<'_>) -> Vec<(&'static str, String)> {
    [
        ("/console", "console-title"),
        ("/console/exchange", "console-exchange"),
        ("/console/cases", "console-cases"),
        ("/console/ratings", "console-ratings"),
        ("/console/policies", "console-policies"),
        ("/console/payments", "console-payments"),
        ("/console/ledger", "console-ledger"),
    ]
    .into_iter()
    .map(|(href, id)| (href, tr.t(id)))
    .collect()
}

fn render(
    portal: &Portal,
    visitor: &Visitor,
    here: &'static str,
    title: &str,
    notice: Option<String>,
    panels: Vec<Panel>,
) -> Response {
    let tr = visitor.tr(portal);
    let view = ConsolePage {
        c: visitor.chrome(portal, tr.t(title)),
        nav: nav(tr),
        here,
        notice,
        panels,
        draft: None,
        poll: None,
        upload: false,
    };
    page(StatusCode::OK, visitor.lang, view.render())
}

/// The roles of the staff member asking, or the response that turns them away: the login
/// for nobody, a recorded 403 for a citizen without a staff role.
async fn roles_of(
    portal: &Portal,
    visitor: &Visitor,
    page: &str,
) -> Result<Vec<Assignment>, Response> {
    match &visitor.signed_in {
        None => Err(super::to_login(visitor)),
        Some(s) if s.roles.is_empty() => Err(super::forbidden(portal, visitor, page).await),
        Some(s) => Ok(s.roles.clone()),
    }
}

/// The staff member asking for a page, with their roles.
pub(super) async fn staff_page(
    portal: &Portal,
    headers: &HeaderMap,
    uri: &Uri,
    page: &str,
) -> Result<(Visitor, Vec<Assignment>), Response> {
    let visitor = Visitor::of(portal, headers, uri).await;
    let roles = roles_of(portal, &visitor, page).await?;
    Ok((visitor, roles))
}

/// [`staff_page`] for a form's POST, whose token and origin are checked first.
pub(super) async fn staff_post(
    portal: &Portal,
    headers: &HeaderMap,
    uri: &Uri,
    csrf: &str,
    page: &str,
) -> Result<(Visitor, Vec<Assignment>), Response> {
    let visitor = Visitor::posting(portal, headers, uri, csrf).await?;
    let roles = roles_of(portal, &visitor, page).await?;
    Ok((visitor, roles))
}

fn role_name(role: Role, tr: Tr<'_>) -> String {
    let (zh, en) = match role {
        Role::DepartmentOfficer => ("部门工作人员", "Department officer"),
        Role::PolicyOfficer => ("政策专员", "Policy officer"),
        Role::Auditor => ("审计员", "Auditor"),
        Role::Operator => ("运维人员", "Operator"),
    };
    tr.pick(zh, en).to_owned()
}

/// The case scopes of a department officer's assignments.
fn case_scopes(roles: &[Assignment]) -> Vec<(Scope, Staff)> {
    roles
        .iter()
        .filter(|a| a.role == Role::DepartmentOfficer)
        .filter_map(|a| {
            let scope = Scope::new(&a.department, &a.division).ok()?;
            let staff = Staff::new(&a.account_id, a.role.code(), scope.clone()).ok()?;
            Some((scope, staff))
        })
        .collect()
}

#[derive(Deserialize, Default)]
struct Notice {
    done: Option<String>,
    error: Option<String>,
}

fn notice(tr: Tr<'_>, n: &Notice) -> Option<String> {
    match (&n.done, &n.error) {
        (_, Some(e)) => Some(tr.t1("console-refused", "reason", e)),
        (Some(_), None) => Some(tr.t("console-decided")),
        _ => None,
    }
}

async fn home(State(portal): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "console").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = visitor.tr(&portal);
    let mut panel = Panel::new(
        tr.t("console-roles"),
        vec![
            tr.t("console-col-role"),
            tr.t("console-col-department"),
            tr.t("console-col-division"),
        ],
    );
    for a in &roles {
        panel.rows.push(Row {
            cells: vec![
                role_name(a.role, tr),
                department(&a.department, visitor.lang),
                if a.division.is_empty() {
                    "*".to_owned()
                } else {
                    a.division.clone()
                },
            ],
            ..Row::default()
        });
    }
    render(
        &portal,
        &visitor,
        "/console",
        "console-title",
        None,
        vec![panel],
    )
}

async fn cases(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(n): Query<Notice>,
) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "console_cases").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    portal.app.metrics.page("console_cases");
    let Some(apps) = &portal.applications else {
        return super::not_found_page(&portal, &visitor);
    };
    let tr = visitor.tr(&portal);
    let lang = visitor.lang;
    let catalogue = Catalogue::builtin();
    let now = portal.app.now();
    let mut panel = Panel::new(
        tr.t("console-cases"),
        vec![
            tr.t("console-col-case"),
            tr.t("console-col-service"),
            tr.t("console-col-state"),
            tr.t("console-col-due"),
            tr.t("console-col-overdue"),
        ],
    );
    for (scope, _) in case_scopes(&roles) {
        let queue = match apps.cases.queue(&scope, now).await {
            Ok(q) => q,
            Err(e) => return super::internal(&portal, &visitor, &e),
        };
        for q in queue {
            let c = &q.case;
            panel.rows.push(Row {
                link: Some(format!("/console/cases/{}", c.id)),
                flag: q.overdue,
                cells: vec![
                    format!("#{}", c.id),
                    catalogue
                        .service(&c.service)
                        .map(|s| lang.pick(&s.title.zh, &s.title.en).to_owned())
                        .unwrap_or_else(|| c.service.clone()),
                    state_name(c.state, lang),
                    c.due_date.clone(),
                    if q.overdue {
                        tr.t("console-yes")
                    } else {
                        String::new()
                    },
                ],
                ..Row::default()
            });
        }
    }
    render(
        &portal,
        &visitor,
        "/console/cases",
        "console-cases",
        notice(tr, &n),
        vec![panel],
    )
}

/// The staff member's view of one case: only within one of their scopes.
async fn case(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(n): Query<Notice>,
) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "console_case").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(apps), Ok(id)) = (&portal.applications, id.parse::<i64>()) else {
        return super::not_found_page(&portal, &visitor);
    };
    let record = match apps.cases.get(id).await {
        Ok(r) => r,
        Err(CaseError::UnknownCase(_)) => return super::not_found_page(&portal, &visitor),
        Err(e) => return super::internal(&portal, &visitor, &e),
    };
    let case = &record.case;
    let allowed = roles.iter().any(|a| {
        decide(
            std::slice::from_ref(a),
            Action::HandleCase {
                department: &case.department,
                division: &case.division,
            },
        )
        .is_ok()
    });
    if !allowed {
        return super::forbidden(&portal, &visitor, "handle_case").await;
    }
    let tr = visitor.tr(&portal);
    let lang = visitor.lang;
    let mut facts = Panel::new(
        format!("#{}", case.id),
        vec![
            tr.t("console-col-service"),
            tr.t("console-col-state"),
            tr.t("console-col-due"),
        ],
    );
    facts.rows.push(Row {
        cells: vec![
            Catalogue::builtin()
                .service(&case.service)
                .map(|s| lang.pick(&s.title.zh, &s.title.en).to_owned())
                .unwrap_or_else(|| case.service.clone()),
            state_name(case.state, lang),
            case.due_date.clone(),
        ],
        flag: case.is_overdue(portal.app.now()),
        actions: case
            .state
            .next()
            .iter()
            .map(|to| Act {
                id: to.code().to_owned(),
                href: format!("/console/cases/{}/step", case.id),
                label: tr.t1("console-move-to", "state", &state_name(*to, lang)),
                hidden: vec![("to".to_owned(), to.code().to_owned())],
                note: Some(tr.t("console-decide-note")),
                danger: *to == CaseState::Rejected,
            })
            .collect(),
        ..Row::default()
    });
    if !facts.rows[0].actions.is_empty() {
        facts.headers.push(tr.t("console-col-actions"));
    }
    // The form as submitted, field by field.
    let mut form = Panel::new(tr.t("case-history"), vec![String::new(), String::new()]);
    form.title = tr.t("console-col-service");
    let fields = Catalogue::builtin().service(&case.service);
    for (name, value) in &case.values {
        let label = fields
            .and_then(|s| s.fields.iter().find(|f| &f.name == name))
            .map(|f| lang.pick(&f.label.zh, &f.label.en).to_owned())
            .unwrap_or_else(|| name.clone());
        form.rows.push(Row {
            cells: vec![label, value.clone()],
            ..Row::default()
        });
    }
    let mut history = Panel::new(
        tr.t("case-history"),
        vec![tr.t("console-col-state"), tr.t("console-decide-note")],
    );
    for t in &record.history {
        history.rows.push(Row {
            cells: vec![
                format!(
                    "{} · {}",
                    crate::time::rfc3339(t.at).replace('T', " "),
                    state_name(t.to, lang)
                ),
                t.note.clone().unwrap_or_default(),
            ],
            ..Row::default()
        });
    }
    render(
        &portal,
        &visitor,
        "/console/cases",
        "console-cases",
        notice(tr, &n),
        vec![facts, form, history],
    )
}

#[derive(Deserialize)]
struct StepForm {
    csrf: String,
    to: String,
    note: Option<String>,
}

async fn step(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> Response {
    let (visitor, roles) = match staff_post(&portal, &headers, &uri, &form.csrf, "step_case").await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(apps), Ok(id), Some(to)) = (
        &portal.applications,
        id.parse::<i64>(),
        CaseState::parse(&form.to),
    ) else {
        return super::not_found_page(&portal, &visitor);
    };
    let note = form.note.as_deref().filter(|n| !n.trim().is_empty());
    let mut last = None;
    // The first of the staff member's scopes that covers the case acts.
    for (_, staff) in case_scopes(&roles) {
        match apps
            .cases
            .transition(id, to, &Actor::Staff(staff), note, portal.app.now())
            .await
        {
            Ok(_) => return see_other(&format!("/console/cases/{id}?done=1")),
            Err(e @ CaseError::NotVisible { .. }) => last = Some(e),
            Err(CaseError::UnknownCase(_)) => return super::not_found_page(&portal, &visitor),
            Err(e) => {
                let reason = super::urlencode(&e.to_string());
                return see_other(&format!("/console/cases/{id}?error={reason}"));
            }
        }
    }
    if let Some(e) = last {
        tracing::info!(error = %e, "a case step was refused");
    }
    super::forbidden(&portal, &visitor, "step_case").await
}

async fn exchange(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(n): Query<Notice>,
) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "console_exchange").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = visitor.tr(&portal);
    let lang = visitor.lang;
    let mut departments: Vec<&str> = roles
        .iter()
        .filter(|a| a.role == Role::DepartmentOfficer)
        .map(|a| a.department.as_str())
        .collect();
    departments.sort_unstable();
    departments.dedup();
    let mut requests = Panel::new(
        tr.t("console-requests"),
        vec![
            tr.t("console-col-consumer"),
            tr.t("console-col-dataset"),
            tr.t("console-col-fields"),
            tr.t("console-col-purpose"),
            tr.t("console-col-basis"),
            tr.t("console-col-actions"),
        ],
    );
    let mut datasets = Panel::new(
        tr.t("console-datasets"),
        vec![tr.t("console-col-dataset"), tr.t("console-col-fields")],
    );
    let mut grants = Panel::new(
        tr.t("console-grants"),
        vec![
            tr.t("console-col-consumer"),
            tr.t("console-col-dataset"),
            tr.t("console-col-fields"),
            tr.t("console-col-purpose"),
            tr.t("console-col-state"),
        ],
    );
    let standard = errandless_standards::Standard::builtin();
    for department in &departments {
        let pending = match portal.app.exchange.grants().pending_for(department).await {
            Ok(p) => p,
            Err(e) => return super::internal(&portal, &visitor, &e),
        };
        for r in pending {
            let t = &r.terms;
            requests.rows.push(Row {
                cells: vec![
                    t.consumer.clone(),
                    dataset_name(&t.dataset, lang),
                    t.fields.join(", "),
                    lang.pick(t.purpose.zh(), t.purpose.en()).to_owned(),
                    t.legal_basis.reference.clone(),
                ],
                actions: vec![
                    Act {
                        id: format!("{}-approve", r.id),
                        href: format!("/console/exchange/requests/{}", r.id),
                        label: tr.t("console-approve"),
                        hidden: vec![("decision".into(), "approve".into())],
                        note: None,
                        danger: false,
                    },
                    Act {
                        id: format!("{}-reject", r.id),
                        href: format!("/console/exchange/requests/{}", r.id),
                        label: tr.t("console-reject"),
                        hidden: vec![("decision".into(), "reject".into())],
                        note: Some(tr.t("console-decide-note")),
                        danger: true,
                    },
                ],
                ..Row::default()
            });
        }
        let held = match portal.app.exchange.grants().granted_by(department).await {
            Ok(g) => g,
            Err(e) => return super::internal(&portal, &visitor, &e),
        };
        let now = portal.app.now();
        for g in held {
            let t = &g.terms;
            grants.rows.push(Row {
                cells: vec![
                    t.consumer.clone(),
                    dataset_name(&t.dataset, lang),
                    t.fields.join(", "),
                    lang.pick(t.purpose.zh(), t.purpose.en()).to_owned(),
                    grant_state(g.state_at(now), tr),
                ],
                ..Row::default()
            });
        }
        for d in standard.datasets().filter(|d| d.department == *department) {
            datasets.rows.push(Row {
                cells: vec![
                    format!("{} ({})", lang.pick(&d.zh, &d.en), d.id),
                    d.fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ],
                ..Row::default()
            });
        }
    }
    render(
        &portal,
        &visitor,
        "/console/exchange",
        "console-exchange",
        notice(tr, &n),
        vec![requests, grants, datasets],
    )
}

#[derive(Deserialize)]
struct DecisionForm {
    csrf: String,
    decision: String,
    note: Option<String>,
}

/// Approves or rejects a data request, as the owning department: only an officer of that
/// department may.
async fn decide_request(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let (visitor, roles) =
        match staff_post(&portal, &headers, &uri, &form.csrf, "decide_request").await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let exchange = &portal.app.exchange;
    let request = match exchange.grants().request(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return super::not_found_page(&portal, &visitor),
        Err(e) => return super::internal(&portal, &visitor, &e),
    };
    if decide(
        &roles,
        Action::DecideGrant {
            owner: &request.owner,
        },
    )
    .is_err()
    {
        return super::forbidden(&portal, &visitor, "decide_request").await;
    }
    let now = portal.app.now();
    let outcome = match form.decision.as_str() {
        "approve" => exchange
            .approve(&request.id, &request.owner, now)
            .await
            .map(drop),
        "reject" => {
            let reason = form
                .note
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or("—");
            exchange
                .reject(&request.id, &request.owner, reason, now)
                .await
                .map(drop)
        }
        _ => return super::not_found_page(&portal, &visitor),
    };
    match outcome {
        Ok(()) => see_other("/console/exchange?done=1"),
        Err(e) => see_other(&format!(
            "/console/exchange?error={}",
            super::urlencode(&e.to_string())
        )),
    }
}

async fn ratings(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(n): Query<Notice>,
) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "console_ratings").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(apps) = &portal.applications else {
        return super::not_found_page(&portal, &visitor);
    };
    let tr = visitor.tr(&portal);
    let lang = visitor.lang;
    let now = portal.app.now();
    let mut panel = Panel::new(
        tr.t("console-followups"),
        vec![
            tr.t("console-col-case"),
            tr.t("console-col-rating"),
            tr.t("console-col-comment"),
            tr.t("console-due"),
            tr.t("console-col-actions"),
        ],
    );
    panel.lead = Some(tr.t("rate-lead"));
    for (scope, _) in case_scopes(&roles) {
        let open = match apps.cases.follow_ups().open_in(&scope).await {
            Ok(o) => o,
            Err(e) => return super::internal(&portal, &visitor, &e),
        };
        for f in open {
            let rating = apps.cases.ratings().of_case(f.case).await.ok().flatten();
            panel.rows.push(Row {
                link: Some(format!("/console/cases/{}", f.case)),
                flag: f.is_overdue(now),
                cells: vec![
                    format!("#{}", f.case),
                    rating
                        .as_ref()
                        .map(|r| lang.pick(r.level.zh(), r.level.en()).to_owned())
                        .unwrap_or_default(),
                    rating.and_then(|r| r.comment).unwrap_or_default(),
                    f.due_date.clone(),
                ],
                actions: vec![Act {
                    id: format!("answer-{}", f.id),
                    href: format!("/console/ratings/{}/answer", f.id),
                    label: tr.t("console-answer"),
                    hidden: Vec::new(),
                    note: Some(tr.t("console-answer")),
                    danger: false,
                }],
            });
        }
    }
    render(
        &portal,
        &visitor,
        "/console/ratings",
        "console-ratings",
        notice(tr, &n),
        vec![panel],
    )
}

#[derive(Deserialize)]
struct AnswerForm {
    csrf: String,
    note: Option<String>,
}

async fn answer(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Response {
    let (visitor, roles) =
        match staff_post(&portal, &headers, &uri, &form.csrf, "answer_rating").await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let (Some(apps), Ok(id)) = (&portal.applications, id.parse::<i64>()) else {
        return super::not_found_page(&portal, &visitor);
    };
    let text = form.note.unwrap_or_default();
    let mut refused = None;
    for (_, staff) in case_scopes(&roles) {
        match apps
            .cases
            .follow_ups()
            .answer(id, &staff, &text, portal.app.now())
            .await
        {
            Ok(_) => return see_other("/console/ratings?done=1"),
            Err(e @ CaseError::NotVisible { .. }) => refused = Some(e),
            Err(e) => {
                return see_other(&format!(
                    "/console/ratings?error={}",
                    super::urlencode(&e.to_string())
                ))
            }
        }
    }
    if let Some(e) = refused {
        tracing::info!(error = %e, "an answer was refused");
    }
    super::forbidden(&portal, &visitor, "answer_rating").await
}

#[derive(Deserialize)]
struct LookupQuery {
    subject: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

/// The policies in force, the runs, and the decisions about one citizen, for policy officers
/// and for auditors of the citizen's division; policy officers of the jurisdiction also
/// simulate and enact here.
async fn policies(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<LookupQuery>,
) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "console_policies").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = visitor.tr(&portal);
    let n = notice(
        tr,
        &Notice {
            done: q.done,
            error: q.error,
        },
    );
    let subject = q.subject.unwrap_or_default();
    policies_page(&portal, &visitor, &roles, &subject, n, Draft::default()).await
}

/// The policies page; with a draft's errors, answered 422 so the form shows them.
pub(super) async fn policies_page(
    portal: &Portal,
    visitor: &Visitor,
    roles: &[Assignment],
    subject: &str,
    notice: Option<String>,
    draft: Draft,
) -> Response {
    let tr = visitor.tr(portal);
    let lang = visitor.lang;
    let titles = match portal.policy_titles().await {
        Ok(t) => t,
        Err(e) => return super::internal(portal, visitor, &e),
    };
    let mut panels = Vec::new();
    let may_run = portal
        .decider
        .as_deref()
        .filter(|d| super::policy_runs::may_run(roles, d));
    let mut in_force = Panel::new(tr.t("console-in-force"), vec![tr.t("console-col-policy")]);
    match (&portal.decider, may_run) {
        (None, _) => in_force.lead = Some(tr.t("console-policy-cli")),
        (Some(d), None) => {
            in_force.lead = Some(tr.t1("console-policy-officers", "division", &d.jurisdiction))
        }
        (Some(_), Some(_)) => {}
    }
    let mut ids: Vec<_> = titles.iter().collect();
    ids.sort_by(|a, b| a.0.cmp(b.0));
    for (id, title) in ids {
        in_force.rows.push(Row {
            cells: vec![format!("{} ({id})", lang.pick(&title.zh, &title.en))],
            ..Row::default()
        });
    }
    panels.push(in_force);
    let mut draft = Some(draft);
    if let Some(decider) = may_run {
        let offered = match super::policy_runs::offered(decider).await {
            Ok(o) => o,
            Err(e) => return super::internal(portal, visitor, &e),
        };
        let mut run = Panel::new(
            tr.t("console-run"),
            vec![
                tr.t("console-col-policy"),
                tr.t("console-col-source"),
                tr.t("console-col-actions"),
            ],
        );
        run.lead = Some(tr.t("console-run-lead"));
        for o in offered {
            let hidden = |what: &str| {
                vec![
                    ("policy".to_owned(), o.id.clone()),
                    ("run".to_owned(), what.to_owned()),
                ]
            };
            run.rows.push(Row {
                cells: vec![
                    format!("{} ({})", lang.pick(&o.title.zh, &o.title.en), o.id),
                    tr.t(if o.in_force {
                        "console-source-in-force"
                    } else {
                        "console-source-pack"
                    }),
                ],
                actions: vec![
                    Act {
                        id: format!("simulate-{}", o.id),
                        href: "/console/policies/run".into(),
                        label: tr.t("console-simulate"),
                        hidden: hidden("simulate"),
                        note: None,
                        danger: false,
                    },
                    Act {
                        id: format!("enact-{}", o.id),
                        href: "/console/policies/run".into(),
                        label: tr.t("console-enact"),
                        hidden: hidden("enact"),
                        note: None,
                        danger: true,
                    },
                ],
                ..Row::default()
            });
        }
        panels.push(run);
        let mut runs = Panel::new(
            tr.t("console-console-runs"),
            vec![
                tr.t("console-col-policy"),
                tr.t("console-col-run"),
                tr.t("console-col-period"),
                tr.t("console-col-state"),
                tr.t("my-data-when"),
            ],
        );
        for r in portal.runs.list() {
            let (state, _) = r.state();
            runs.rows.push(Row {
                cells: vec![
                    format!("{} ({})", lang.pick(&r.title.zh, &r.title.en), r.policy_id),
                    tr.t(run_kind_message(r.kind)),
                    r.period.clone(),
                    run_state(tr, &state),
                    crate::time::rfc3339(r.started_ms).replace('T', " "),
                ],
                link: Some(format!("/console/policies/runs/{}", r.id)),
                ..Row::default()
            });
        }
        panels.push(runs);
    } else {
        draft = None;
    }
    let mut lookup = Panel::new(
        tr.t("console-lookup"),
        vec![
            tr.t("console-col-policy"),
            tr.t("console-col-period"),
            tr.t("console-col-outcome"),
            tr.t("console-col-amount"),
        ],
    );
    lookup.search = Some((
        "/console/policies".into(),
        tr.t("console-lookup-subject"),
        "subject".into(),
        subject.to_owned(),
    ));
    if let Ok(citizen) = subject.trim().parse::<errandless_standards::CitizenId>() {
        let division = citizen.issuing_division();
        let may = roles.iter().any(|a| a.role == Role::PolicyOfficer)
            || decide(
                roles,
                Action::ReadDataUsage {
                    division: &division,
                },
            )
            .is_ok();
        if !may {
            return super::forbidden(portal, visitor, "lookup_decisions").await;
        }
        let decisions = match errandless_policy::enactment::decisions_of(
            portal.app.exchange.store(),
            citizen.as_str(),
        )
        .await
        {
            Ok(d) => d,
            Err(e) => return super::internal(portal, visitor, &e),
        };
        // What each policy in force decides today, over the newest snapshots: nothing is
        // recorded, so an officer sees whether a change in the data changes the outcome.
        if let Some(decider) = &portal.decider {
            let today = match decider.today(citizen.as_str(), None).await {
                Ok(t) => t,
                Err(e) => return super::internal(portal, visitor, &e),
            };
            for (policy_id, decided) in today {
                let outcome = match decided {
                    Ok(Some(d)) => (
                        errandless_policy::enactment::outcome(
                            d.eligible,
                            d.payable,
                            d.near_miss().is_some(),
                        )
                        .to_owned(),
                        errandless_policy::explanation::yuan(d.amount),
                    ),
                    Ok(None) => ("not_eligible".to_owned(), String::new()),
                    Err(e) => {
                        tracing::warn!(policy = %policy_id, error = %e, "no decision today");
                        (tr.t("console-now-unavailable"), String::new())
                    }
                };
                lookup.rows.push(Row {
                    cells: vec![policy_id, tr.t("console-now"), outcome.0, outcome.1],
                    ..Row::default()
                });
            }
        }
        for d in decisions.iter().rev() {
            lookup.rows.push(Row {
                cells: vec![
                    d.policy_id.clone(),
                    d.period.clone(),
                    errandless_policy::enactment::outcome(
                        d.eligible,
                        d.payable,
                        d.near_miss.is_some(),
                    )
                    .to_owned(),
                    errandless_policy::explanation::yuan(d.amount_fen),
                ],
                ..Row::default()
            });
        }
    }
    let mut history = Panel::new(
        tr.t("console-runs"),
        vec![
            tr.t("console-col-policy"),
            tr.t("console-col-period"),
            tr.t("console-col-run"),
            tr.t("console-col-evaluated"),
            tr.t("console-col-recorded"),
            tr.t("my-data-when"),
        ],
    );
    let runs = match errandless_policy::enactment::runs(portal.app.exchange.store(), 50).await {
        Ok(r) => r,
        Err(e) => return super::internal(portal, visitor, &e),
    };
    for r in runs {
        history.rows.push(Row {
            cells: vec![
                r.policy_id,
                r.period,
                r.run,
                r.evaluated.to_string(),
                r.recorded.to_string(),
                crate::time::rfc3339(r.at_ms).replace('T', " "),
            ],
            ..Row::default()
        });
    }
    panels.push(history);
    panels.push(lookup);
    let status = if draft.as_ref().is_some_and(|d| !d.errors.is_empty()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = ConsolePage {
        c: visitor.chrome(portal, tr.t("console-policies")),
        nav: nav(tr),
        here: "/console/policies",
        notice,
        panels,
        draft,
        poll: None,
        upload: false,
    };
    page(status, visitor.lang, view.render())
}

fn run_kind_message(kind: super::policy_runs::Kind) -> &'static str {
    match kind {
        super::policy_runs::Kind::Simulate => "console-simulation",
        super::policy_runs::Kind::Enact => "console-enactment",
    }
}

/// A run's state in words.
fn run_state(tr: Tr<'_>, state: &super::policy_runs::Progress) -> String {
    use super::policy_runs::Progress;
    match state {
        Progress::Checking => tr.t("console-stage-checking"),
        Progress::Running(crate::decider::Stage::Evaluating) => tr.t("console-stage-evaluating"),
        Progress::Running(crate::decider::Stage::Recording { decisions }) => {
            tr.t1("console-stage-recording", "count", &decisions.to_string())
        }
        Progress::Running(crate::decider::Stage::Entitling { payable }) => {
            tr.t1("console-stage-entitling", "count", &payable.to_string())
        }
        Progress::Simulated(_) | Progress::Enacted(_) => tr.t("console-stage-done"),
        Progress::Failed(_) => tr.t("console-stage-failed"),
    }
}

/// A run's page: what it is, its stage or its result.
pub(super) fn run_page(
    portal: &Portal,
    visitor: &Visitor,
    run: &super::policy_runs::PolicyRun,
) -> Response {
    use super::policy_runs::Progress;
    let tr = visitor.tr(portal);
    let lang = visitor.lang;
    let (state, took) = run.state();
    let mut facts = Panel::new(
        format!(
            "{}: {}",
            tr.t(run_kind_message(run.kind)),
            lang.pick(&run.title.zh, &run.title.en)
        ),
        vec![tr.t("console-col-item"), tr.t("console-col-value")],
    );
    let mut fact = |id: &str, value: String| {
        facts.rows.push(Row {
            cells: vec![tr.t(id), value],
            ..Row::default()
        })
    };
    fact("console-col-policy", run.policy_id.clone());
    fact("console-col-period", run.period.clone());
    fact("console-run-by", run.by.clone());
    fact("console-col-state", run_state(tr, &state));
    fact("console-run-took", format!("{:.1} s", took.as_secs_f64()));
    let mut panels = Vec::new();
    let mut notice = None;
    match &state {
        Progress::Simulated(sim) => {
            fact("console-col-evaluated", sim.evaluated.to_string());
            fact("console-sim-eligible", sim.eligible.to_string());
            fact("console-sim-payable", sim.payable.to_string());
            fact(
                "console-sim-without-account",
                sim.without_account.to_string(),
            );
            fact("console-sim-near-misses", sim.near_miss_count().to_string());
            fact(
                "console-sim-per-payment",
                errandless_policy::explanation::yuan(sim.per_payment),
            );
            fact("console-sim-payments", sim.payments.to_string());
            fact(
                "console-sim-total",
                errandless_policy::explanation::yuan(sim.total()),
            );
            let tally = |title: &str, by: &std::collections::BTreeMap<_, _>| {
                let mut p = Panel::new(
                    tr.t(title),
                    vec![
                        tr.t("console-col-division"),
                        tr.t("console-sim-eligible"),
                        tr.t("console-col-amount"),
                    ],
                );
                for (code, t) in by {
                    let t: &errandless_evaluation::Tally = t;
                    p.rows.push(Row {
                        cells: vec![
                            String::clone(code),
                            t.eligible.to_string(),
                            errandless_policy::explanation::yuan(t.amount),
                        ],
                        ..Row::default()
                    });
                }
                p
            };
            panels.push(tally("console-sim-by-city", &sim.by_city));
            panels.push(tally("console-sim-by-county", &sim.by_county));
            let mut misses = Panel::new(
                tr.t("console-sim-near-misses"),
                vec![tr.t("console-col-condition"), tr.t("console-col-count")],
            );
            misses.lead = Some(tr.t("console-sim-near-misses-lead"));
            for (condition, count) in &sim.near_misses {
                misses.rows.push(Row {
                    cells: vec![condition.clone(), count.to_string()],
                    ..Row::default()
                });
            }
            panels.push(misses);
            notice = Some(tr.t("console-sim-no-effects"));
        }
        Progress::Enacted(e) => {
            let r = &e.report;
            fact("console-col-evaluated", r.evaluated.to_string());
            fact("console-col-recorded", r.recorded.to_string());
            fact("console-enact-unchanged", r.unchanged.to_string());
            fact("console-sim-eligible", r.eligible.to_string());
            fact("console-sim-without-account", r.without_account.to_string());
            fact("console-sim-near-misses", r.near_misses.to_string());
            fact("console-enact-entitled", e.entitled.created.to_string());
            fact(
                "console-enact-already",
                e.entitled.already_present.to_string(),
            );
            fact("console-enact-invalid", e.invalid_payees.to_string());
            fact("console-enact-withdrawn", e.withdrawn.withdrawn.to_string());
        }
        Progress::Failed(e) => notice = Some(tr.t1("console-refused", "reason", e)),
        Progress::Checking | Progress::Running(_) => {}
    }
    panels.insert(0, facts);
    let poll = run
        .running()
        .then(|| format!("/console/policies/runs/{}", run.id));
    let view = ConsolePage {
        c: visitor.chrome(portal, tr.t("console-policies")),
        nav: nav(tr),
        here: "/console/policies",
        notice,
        panels,
        draft: None,
        poll,
        upload: false,
    };
    page(StatusCode::OK, visitor.lang, view.render())
}

/// Payments: entitlements by state, the payment files, and what the bank returned or waits
/// for an account. For policy officers and operators everywhere, for auditors in their
/// division (by the payee's ID number).
async fn payments(State(portal): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "console_payments").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    payments_page(&portal, &visitor, &roles, None, StatusCode::OK).await
}

/// The payments page, with `notice` above it (what an import did, or why it was refused).
async fn payments_page(
    portal: &Portal,
    visitor: &Visitor,
    roles: &[Assignment],
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let everywhere = roles
        .iter()
        .any(|a| matches!(a.role, Role::PolicyOfficer | Role::Operator));
    if !everywhere && !roles.iter().any(|a| a.role == Role::Auditor) {
        return super::forbidden(portal, visitor, "console_payments").await;
    }
    let tr = visitor.tr(portal);
    let store = portal.app.exchange.store();
    let (counts, files, back) = match tokio::try_join!(
        errandless_payments::status_counts(store),
        errandless_payments::batches(store, 50),
        errandless_payments::returned(store, 200),
    ) {
        Ok(v) => v,
        Err(e) => return super::internal(portal, visitor, &e),
    };
    let yuan = |f: errandless_payments::Fen| errandless_policy::explanation::yuan(f.0);
    let mut states = Panel::new(
        tr.t("console-payments"),
        vec![
            tr.t("console-col-state"),
            tr.t("console-col-count"),
            tr.t("console-col-amount"),
        ],
    );
    for c in counts {
        let (_, id) = super::citizen::status_words(c.status);
        states.rows.push(Row {
            cells: vec![tr.t(id), c.count.to_string(), yuan(c.amount)],
            ..Row::default()
        });
    }
    let mut batches = Panel::new(
        tr.t("console-batches"),
        vec![
            "MsgId".to_owned(),
            tr.t("console-col-state"),
            tr.t("console-col-count"),
            tr.t("console-col-amount"),
            tr.t("my-data-when"),
        ],
    );
    let downloads = may_reconcile(portal, roles);
    for b in files {
        batches.rows.push(Row {
            link: downloads.then(|| format!("/console/payments/files/{}.xml", b.msg_id)),
            cells: vec![
                b.msg_id,
                b.state,
                b.transfers.to_string(),
                yuan(b.amount),
                crate::time::rfc3339(b.created_ms).replace('T', " "),
            ],
            ..Row::default()
        });
    }
    let mut rejections = Panel::new(
        tr.t("console-rejections"),
        vec![
            tr.t("console-col-policy"),
            tr.t("console-col-period"),
            tr.t("console-lookup-subject"),
            tr.t("console-col-amount"),
            tr.t("console-col-state"),
            tr.t("console-col-reason"),
        ],
    );
    for n in back {
        let division = n
            .subject_id
            .parse::<errandless_standards::CitizenId>()
            .map(|c| c.issuing_division())
            .unwrap_or_default();
        if !everywhere
            && decide(
                roles,
                Action::ReadDataUsage {
                    division: &division,
                },
            )
            .is_err()
        {
            continue;
        }
        let (_, id) = super::citizen::status_words(n.status);
        rejections.rows.push(Row {
            cells: vec![
                n.policy_id,
                n.period,
                masked(&n.subject_id),
                yuan(n.amount),
                tr.t(id),
                n.reason.unwrap_or_default(),
            ],
            ..Row::default()
        });
    }
    let view = ConsolePage {
        c: visitor.chrome(portal, tr.t("console-payments")),
        nav: nav(tr),
        here: "/console/payments",
        notice,
        panels: vec![states, batches, rejections],
        draft: None,
        poll: None,
        upload: may_reconcile(portal, roles),
    };
    page(status, visitor.lang, view.render())
}

/// The largest status report taken, in bytes: a 50,000-transfer batch's report is about 20 MB.
const MAX_REPORT: usize = 64 * 1024 * 1024;

/// Whether `roles` may reconcile the bank's reports: operators, and policy officers covering
/// the jurisdiction.
fn may_reconcile(portal: &Portal, roles: &[Assignment]) -> bool {
    portal.decider.as_deref().is_some_and(|d| {
        decide(
            roles,
            Action::ReconcilePayments {
                division: &d.jurisdiction,
            },
        )
        .is_ok()
    })
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// Writes the pending entitlements into pain.001 payment files for the bank, as `errandless
/// pay export` does: each file a batch with a unique MsgId, each transfer a unique EndToEndId,
/// every claim in the ledger. Files an interrupted export left are written again first.
async fn export_payments(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (visitor, roles) =
        match staff_post(&portal, &headers, &uri, &form.csrf, "export_payments").await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let decider = match reconciler(&portal, &visitor, &roles, "export_payments").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let tr = visitor.tr(&portal);
    let written = decider
        .payments
        .export(
            &decider.payment_files,
            EXPORT_BATCH,
            decider.clock.now_millis(),
            &mut |_| {},
        )
        .await;
    let notice = match written {
        Ok(files) if files.is_empty() => tr.t("console-export-none"),
        Ok(files) => {
            let transfers: u64 = files.iter().map(|f| f.transfers).sum();
            let names: Vec<&str> = files.iter().map(|f| f.msg_id.as_str()).collect();
            tracing::info!(
                files = files.len(),
                transfers,
                "payment files exported from the console"
            );
            tr.tn(
                "console-exported",
                &[
                    ("files", &files.len().to_string()),
                    ("transfers", &transfers.to_string()),
                    ("names", &names.join(", ")),
                ],
            )
        }
        Err(e) => tr.t1("console-refused", "reason", &e.to_string()),
    };
    payments_page(&portal, &visitor, &roles, Some(notice), StatusCode::OK).await
}

/// Most transfers in one payment file, as `errandless pay export` writes them by default.
const EXPORT_BATCH: u64 = 50_000;

/// A payment file, to download and send to the bank.
async fn payment_file(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    let (visitor, roles) = match staff_page(&portal, &headers, &uri, "payment_file").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let decider = match reconciler(&portal, &visitor, &roles, "payment_file").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    // A MsgId and `.xml`, nothing that could leave the directory.
    let valid = name.strip_suffix(".xml").is_some_and(|id| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !valid {
        return super::not_found_page(&portal, &visitor);
    }
    match tokio::fs::read(decider.payment_files.join(&name)).await {
        Ok(bytes) => {
            use axum::response::IntoResponse as _;
            (
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "application/xml".to_owned(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => super::not_found_page(&portal, &visitor),
    }
}

/// The decider, for staff who may write and reconcile payment files; otherwise the page that
/// turns them away: a 404 where this server runs no payments, the recorded 403 for others.
async fn reconciler(
    portal: &Portal,
    visitor: &Visitor,
    roles: &[Assignment],
    action: &str,
) -> Result<std::sync::Arc<crate::Decider>, Response> {
    let Some(decider) = portal.decider.clone() else {
        return Err(super::not_found_page(portal, visitor));
    };
    if !may_reconcile(portal, roles) {
        return Err(super::forbidden(portal, visitor, action).await);
    }
    Ok(decider)
}

/// Reconciles a bank's pain.002 status report, uploaded as a file: each transfer's status
/// applied per EndToEndId, the rejected retried or waiting for an account, every change in
/// the ledger. A report imported before changes nothing; a malformed one changes nothing and
/// says why.
async fn import_report(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    mut form: axum::extract::Multipart,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    let roles = match roles_of(&portal, &visitor, "import_payment_report").await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut csrf = String::new();
    let mut report = Vec::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let Ok(bytes) = field.bytes().await else {
                    return super::stale_form(&portal, &visitor);
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "report" => report = bytes.to_vec(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => return super::stale_form(&portal, &visitor),
        }
    }
    if !visitor.form_ok(&portal, &csrf) {
        return super::stale_form(&portal, &visitor);
    }
    let decider = match reconciler(&portal, &visitor, &roles, "import_payment_report").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let tr = visitor.tr(&portal);
    let refused = |reason: String| tr.t1("console-refused", "reason", &reason);
    if report.is_empty() {
        let notice = refused(tr.t("console-import-empty"));
        return payments_page(
            &portal,
            &visitor,
            &roles,
            Some(notice),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let parsed = match errandless_payments::xml::read_pain002(report.as_slice()) {
        Ok(p) => p,
        Err(e) => {
            let notice = refused(tr.t1("console-import-invalid", "reason", &e.to_string()));
            return payments_page(
                &portal,
                &visitor,
                &roles,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let notice = match decider
        .payments
        .import(&parsed, decider.clock.now_millis())
        .await
    {
        Ok(r) if r.already_imported => tr.t1("console-import-again", "msg", &parsed.msg_id),
        Ok(r) => tr.tn(
            "console-imported",
            &[
                ("batch", r.batch.as_str()),
                ("paid", &r.paid.to_string()),
                ("accepted", &r.accepted.to_string()),
                ("retry", &r.retry.to_string()),
                ("needs", &r.needs_account.to_string()),
                ("unchanged", &r.unchanged.to_string()),
            ],
        ),
        Err(e) => {
            let notice = refused(e.to_string());
            return payments_page(
                &portal,
                &visitor,
                &roles,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    tracing::info!(report = %parsed.msg_id, "a status report was reconciled from the console");
    payments_page(&portal, &visitor, &roles, Some(notice), StatusCode::OK).await
}

fn grant_state(state: errandless_exchange::GrantState, tr: Tr<'_>) -> String {
    use errandless_exchange::GrantState::*;
    let (zh, en) = match state {
        Valid => ("有效", "in force"),
        NotYetValid => ("未生效", "not yet in force"),
        Expired => ("已过期", "expired"),
        Revoked => ("已撤销", "revoked"),
    };
    tr.pick(zh, en).to_owned()
}

/// An ID number with its middle hidden, as staff lists show it.
fn masked(id: &str) -> String {
    match (id.get(..6), id.get(id.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) if id.len() > 10 => format!("{head}********{tail}"),
        _ => "*".repeat(id.len()),
    }
}

/// The ledger: its size, its latest checkpoint as signed, and the witnesses' cosignatures.
async fn ledger(State(portal): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let visitor = match staff_page(&portal, &headers, &uri, "console_ledger").await {
        Ok((v, _)) => v,
        Err(r) => return r,
    };
    let tr = visitor.tr(&portal);
    let path = portal
        .app
        .config
        .ledger_dir
        .join(errandless_ledger::CHECKPOINT_FILE);
    let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
    let signatures = text.lines().filter(|l| l.starts_with("— ")).count();
    let mut panel = Panel::new(
        tr.t("console-ledger"),
        vec![tr.t("console-ledger-size"), tr.t("console-cosignatures")],
    );
    panel.rows.push(Row {
        cells: vec![
            portal.app.exchange.ledger_size().to_string(),
            signatures.saturating_sub(1).to_string(),
        ],
        ..Row::default()
    });
    panel.pre = Some(format!("{}\n{text}", tr.t("console-checkpoint")));
    render(
        &portal,
        &visitor,
        "/console/ledger",
        "console-ledger",
        None,
        vec![panel],
    )
}
