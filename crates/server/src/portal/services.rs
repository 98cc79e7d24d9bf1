//! The service catalogue, applications with prefill (zero documents), case progress and
//! ratings.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use ed25519_dalek::SigningKey;
use errandless_services::{
    Actor, Applicant, CaseError, CaseState, Cases, Catalogue, Category, Consumer, FieldKind,
    Prefill, RatingLevel, Service, Values,
};
use serde::Deserialize;

use super::{page, see_other, Chrome, Lang, Portal, Shared, Visitor};

/// What the portal needs for applications.
pub struct Applications {
    pub cases: Cases,
    /// The member the portal reads prefill data as, and its key.
    pub prefill_as: Option<(String, SigningKey)>,
    /// The latest prefill of each session and service: what the submission is checked
    /// against, so a prefilled value cannot be swapped in the browser.
    prefills: std::sync::Mutex<HashMap<(String, String), Prefill>>,
}

impl Applications {
    pub fn new(cases: Cases, prefill_as: Option<(String, SigningKey)>) -> Applications {
        Applications {
            cases,
            prefill_as,
            prefills: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/services", get(catalogue))
        .route("/services/{id}", get(service))
        .route("/services/{id}/apply", get(apply_form).post(apply))
        .route("/cases/{id}", get(case))
        .route("/cases/{id}/rating", post(rate))
}

fn lang_of(lang: Lang) -> errandless_services::Lang {
    match lang {
        Lang::Zh => errandless_services::Lang::Zh,
        Lang::En => errandless_services::Lang::En,
    }
}

/// The department's name in the visitor's language.
pub(super) fn department(code: &str, lang: Lang) -> String {
    let standard = errandless_standards::Standard::builtin();
    standard
        .department(code)
        .map(|d| lang.pick(&d.zh, &d.en).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

/// The dataset's name in the visitor's language.
pub(super) fn dataset_name(id: &str, lang: Lang) -> String {
    errandless_standards::Standard::builtin()
        .dataset(id)
        .map(|d| lang.pick(&d.zh, &d.en).to_owned())
        .unwrap_or_else(|| id.to_owned())
}

struct ServiceLine {
    id: String,
    title: String,
    summary: String,
    department: String,
    category: String,
    limit: String,
}

fn line(s: &Service, v: &Visitor, portal: &Portal) -> ServiceLine {
    let l = lang_of(v.lang);
    ServiceLine {
        id: s.id.clone(),
        title: s.title.get(l).to_owned(),
        summary: s.summary.get(l).to_owned(),
        department: department(&s.department, v.lang),
        category: s.category.name(l).to_owned(),
        limit: v.tr(portal).t1(
            "service-working-days",
            "days",
            &s.time_limit_days.to_string(),
        ),
    }
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage<'a> {
    c: Chrome<'a>,
    q: String,
    category: String,
    categories: Vec<(String, String, usize)>,
    count: String,
    services: Vec<ServiceLine>,
}

#[derive(Deserialize)]
pub(super) struct CatalogueQuery {
    q: Option<String>,
    category: Option<String>,
}

/// The catalogue: search in both languages, and categories.
async fn catalogue(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<CatalogueQuery>,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    portal.app.metrics.page("services");
    let catalogue = Catalogue::builtin();
    let l = lang_of(visitor.lang);
    let query: String = q.q.unwrap_or_default().chars().take(100).collect();
    let category = q
        .category
        .as_deref()
        .and_then(|c| Category::ALL.iter().copied().find(|k| k.code() == c));
    let found = catalogue.search(&query, category);
    let tr = visitor.tr(&portal);
    let view = CataloguePage {
        q: query,
        category: category.map(|c| c.code().to_owned()).unwrap_or_default(),
        categories: catalogue
            .categories()
            .into_iter()
            .map(|(c, n)| (c.code().to_owned(), c.name(l).to_owned(), n))
            .collect(),
        count: tr.t1("services-count", "count", &found.len().to_string()),
        services: found.iter().map(|s| line(s, &visitor, &portal)).collect(),
        c: visitor.chrome(&portal, tr.t("services-title")),
    };
    page(StatusCode::OK, visitor.lang, view.render())
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage<'a> {
    c: Chrome<'a>,
    s: ServiceLine,
    level: String,
    evidence: Vec<(String, bool)>,
}

async fn service(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    let Some(s) = Catalogue::builtin().service(&id) else {
        return super::not_found_page(&portal, &visitor);
    };
    let l = lang_of(visitor.lang);
    let view = ServicePage {
        s: line(s, &visitor, &portal),
        level: format!("{:?}", s.assurance),
        evidence: s
            .evidence
            .iter()
            .map(|e| (e.name.get(l).to_owned(), e.obtained_from.is_some()))
            .collect(),
        c: visitor.chrome(&portal, s.title.get(l).to_owned()),
    };
    page(StatusCode::OK, visitor.lang, view.render())
}

/// One field of the application form as the page shows it.
struct FieldView {
    name: String,
    label: String,
    input_type: &'static str,
    value: String,
    readonly: bool,
    required: bool,
    choices: Vec<(String, String)>,
    source: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "apply.html")]
struct ApplyPage<'a> {
    c: Chrome<'a>,
    service_id: String,
    fields: Vec<FieldView>,
    error_summary: Option<String>,
}

fn input_type(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Date => "date",
        FieldKind::Number => "text",
        FieldKind::Phone => "tel",
        FieldKind::Email => "email",
        _ => "text",
    }
}

/// The form, with every field a department holds filled in and its source named.
fn form_page(
    portal: &Portal,
    visitor: &Visitor,
    s: &Service,
    prefill: Option<&Prefill>,
    typed: &Values,
    errors: &HashMap<String, String>,
) -> Response {
    let l = lang_of(visitor.lang);
    let tr = visitor.tr(portal);
    let fields = s
        .fields
        .iter()
        .map(|f| {
            let filled = prefill
                .and_then(|p| p.fields.iter().find(|p| p.field == f.name))
                .filter(|p| p.value.is_some() && p.problem.is_none());
            let source = prefill
                .and_then(|p| p.fields.iter().find(|p| p.field == f.name))
                .map(|p| match (&p.source, &p.value) {
                    (Ok(src), Some(_)) => tr.tn(
                        "apply-prefilled-from",
                        &[
                            ("department", &department(&src.owner, visitor.lang)),
                            ("dataset", &dataset_name(&src.dataset, visitor.lang)),
                        ],
                    ),
                    (Ok(_), None) => tr.t1("apply-not-shared", "reason", "-"),
                    (Err(refusal), _) => tr.t1("apply-not-shared", "reason", &refusal.code),
                });
            FieldView {
                name: f.name.clone(),
                label: f.label.get(l).to_owned(),
                input_type: input_type(&f.kind),
                value: filled
                    .and_then(|p| p.value.clone())
                    .or_else(|| typed.get(&f.name).cloned())
                    .unwrap_or_default(),
                readonly: filled.is_some(),
                required: f.required,
                choices: f
                    .options
                    .iter()
                    .map(|o| (o.value.clone(), visitor.lang.pick(&o.zh, &o.en).to_owned()))
                    .collect(),
                source,
                error: errors.get(&f.name).cloned(),
            }
        })
        .collect();
    let view = ApplyPage {
        c: visitor.chrome(portal, tr.t1("apply-title", "service", s.title.get(l))),
        service_id: s.id.clone(),
        fields,
        error_summary: (!errors.is_empty())
            .then(|| tr.t1("apply-errors", "count", &errors.len().to_string())),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page(status, visitor.lang, view.render())
}

#[derive(Template)]
#[template(path = "step_up.html")]
struct StepUpPage<'a> {
    c: Chrome<'a>,
    text: String,
    login: String,
}

/// A service that needs a higher level than the login reached: a page that explains it and
/// logs in again with the second factor, back to the form.
fn needs_step_up(
    portal: &Portal,
    visitor: &Visitor,
    level: errandless_identity::Level,
    s: &Service,
) -> Option<Response> {
    let needed: errandless_identity::Level = s.assurance.code().parse().ok()?;
    if level >= needed {
        return None;
    }
    let tr = visitor.tr(portal);
    let next = super::urlencode(&format!("/services/{}/apply", s.id));
    let view = StepUpPage {
        c: visitor.chrome(
            portal,
            tr.t1("apply-title", "service", s.title.get(lang_of(visitor.lang))),
        ),
        text: tr.t1("apply-level-needed", "level", needed.code()),
        login: format!("/login?next={next}&acr={}", needed.code()),
    };
    Some(page(StatusCode::FORBIDDEN, visitor.lang, view.render()))
}

async fn prefill_for(
    portal: &Portal,
    session: &str,
    s: &Service,
    citizen: &str,
) -> Option<Prefill> {
    let apps = portal.applications.as_ref()?;
    let (member, key) = apps.prefill_as.as_ref()?;
    let consumer = Consumer { member, key };
    match errandless_services::prefill(&portal.app.exchange, consumer, s, citizen).await {
        Ok(p) => {
            if let Ok(mut cache) = apps.prefills.lock() {
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert((session.to_owned(), s.id.clone()), p.clone());
            }
            Some(p)
        }
        Err(e) => {
            tracing::warn!(error = %e, service = %s.id, "prefill failed; the citizen types the form");
            None
        }
    }
}

async fn apply_form(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    portal.app.metrics.page("apply");
    let Some(s) = Catalogue::builtin().service(&id) else {
        return super::not_found_page(&portal, &visitor);
    };
    let Some(signed_in) = &visitor.signed_in else {
        return super::to_login(&visitor);
    };
    let Some(citizen) = signed_in.citizen_id() else {
        return super::forbidden(&portal, &visitor, "apply_without_real_name").await;
    };
    if let Some(step_up) = needs_step_up(&portal, &visitor, signed_in.level, s) {
        return step_up;
    }
    let prefill = prefill_for(&portal, &signed_in.session, s, citizen.as_str()).await;
    form_page(
        &portal,
        &visitor,
        s,
        prefill.as_ref(),
        &Values::new(),
        &HashMap::new(),
    )
}

/// A submission: checked by the services crate; each error goes back beside its field with
/// what was typed kept, and nothing is stored.
async fn apply(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(mut form): Form<Vec<(String, String)>>,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    let Some(s) = Catalogue::builtin().service(&id) else {
        return super::not_found_page(&portal, &visitor);
    };
    let csrf = form
        .iter()
        .position(|(k, _)| k == "csrf")
        .map(|i| form.swap_remove(i).1)
        .unwrap_or_default();
    if !visitor.form_ok(&portal, &csrf) {
        return super::stale_form(&portal, &visitor);
    }
    let (Some(signed_in), Some(apps)) = (&visitor.signed_in, portal.applications.as_ref()) else {
        return super::to_login(&visitor);
    };
    let Some(citizen) = signed_in.citizen_id() else {
        return super::forbidden(&portal, &visitor, "apply_without_real_name").await;
    };
    if let Some(step_up) = needs_step_up(&portal, &visitor, signed_in.level, s) {
        return step_up;
    }
    let mut values: Values = form.into_iter().collect();
    // What a department supplied stands as it was read, whatever the browser sent back.
    let prefill = apps
        .prefills
        .lock()
        .ok()
        .and_then(|c| c.get(&(signed_in.session.clone(), s.id.clone())).cloned());
    if let Some(p) = &prefill {
        for f in &p.fields {
            if let (Some(v), None) = (&f.value, &f.problem) {
                values.insert(f.field.clone(), v.clone());
            }
        }
    }
    let applicant = Applicant {
        subject: citizen.as_str().to_owned(),
        division: citizen.issuing_division(),
    };
    let l = lang_of(visitor.lang);
    match apps
        .cases
        .submit(s, &applicant, &values, portal.app.now())
        .await
    {
        Ok(case) => see_other(&format!("/cases/{}", case.id)),
        Err(CaseError::InvalidApplication(errors)) => {
            let errors = errors
                .into_iter()
                .map(|e| (e.field.clone(), e.message.get(l).to_owned()))
                .collect();
            form_page(&portal, &visitor, s, prefill.as_ref(), &values, &errors)
        }
        Err(e) => super::internal(&portal, &visitor, &e),
    }
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    c: Chrome<'a>,
    id: i64,
    service: String,
    state: String,
    due: String,
    overdue: bool,
    history: Vec<String>,
    rating: Option<String>,
    can_rate: bool,
    levels: Vec<(String, String)>,
}

pub(super) fn state_name(state: CaseState, lang: Lang) -> String {
    lang.pick(state.zh(), state.en()).to_owned()
}

async fn case(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    portal.app.metrics.page("case");
    let (Some(signed_in), Some(apps)) = (&visitor.signed_in, portal.applications.as_ref()) else {
        return super::to_login(&visitor);
    };
    let Some(citizen) = signed_in.citizen_id() else {
        return super::not_found_page(&portal, &visitor);
    };
    let Ok(id) = id.parse::<i64>() else {
        return super::not_found_page(&portal, &visitor);
    };
    let actor = Actor::Applicant(citizen.as_str().to_owned());
    let record = match apps.cases.get_as(id, &actor).await {
        Ok(r) => r,
        Err(CaseError::UnknownCase(_)) => return super::not_found_page(&portal, &visitor),
        Err(CaseError::NotVisible { .. }) => {
            return super::forbidden(&portal, &visitor, "read_case").await
        }
        Err(e) => return super::internal(&portal, &visitor, &e),
    };
    let rating = match apps.cases.ratings().of_case(id).await {
        Ok(r) => r,
        Err(e) => return super::internal(&portal, &visitor, &e),
    };
    let lang = visitor.lang;
    let l = lang_of(lang);
    let case = &record.case;
    let title = Catalogue::builtin()
        .service(&case.service)
        .map(|s| s.title.get(l).to_owned())
        .unwrap_or_else(|| case.service.clone());
    let history = record
        .history
        .iter()
        .map(|t| {
            let when = crate::time::rfc3339(t.at)
                .replace('T', " ")
                .replace('Z', " UTC");
            match &t.note {
                Some(note) => format!("{when} · {} · {note}", state_name(t.to, lang)),
                None => format!("{when} · {}", state_name(t.to, lang)),
            }
        })
        .collect();
    let view = CasePage {
        c: visitor.chrome(&portal, visitor.tr(&portal).t("case-title")),
        id,
        service: title,
        state: state_name(case.state, lang),
        due: case.due_date.clone(),
        overdue: case.is_overdue(portal.app.now()),
        history,
        can_rate: rating.is_none()
            && matches!(case.state, CaseState::Delivered | CaseState::Rejected),
        rating: rating.map(|r| lang.pick(r.level.zh(), r.level.en()).to_owned()),
        levels: RatingLevel::ALL
            .iter()
            .map(|r| (r.code().to_owned(), lang.pick(r.zh(), r.en()).to_owned()))
            .collect(),
    };
    page(StatusCode::OK, lang, view.render())
}

#[derive(Deserialize)]
pub(super) struct RatingForm {
    csrf: String,
    level: Option<String>,
    comment: Option<String>,
}

async fn rate(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<RatingForm>,
) -> Response {
    let visitor = match Visitor::posting(&portal, &headers, &uri, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(signed_in), Some(apps)) = (&visitor.signed_in, portal.applications.as_ref()) else {
        return super::to_login(&visitor);
    };
    let (Some(citizen), Ok(case)) = (signed_in.citizen_id(), id.parse::<i64>()) else {
        return super::not_found_page(&portal, &visitor);
    };
    let Some(level) = form.level.as_deref().and_then(RatingLevel::parse) else {
        return see_other(&format!("/cases/{case}#rate"));
    };
    match apps
        .cases
        .ratings()
        .rate(
            case,
            citizen.as_str(),
            level,
            form.comment.as_deref(),
            portal.app.now(),
        )
        .await
    {
        Ok(_) => see_other(&format!("/cases/{case}")),
        Err(CaseError::UnknownCase(_)) => super::not_found_page(&portal, &visitor),
        Err(e) if e.code() == "not_visible" || e.code() == "not_applicant" => {
            super::forbidden(&portal, &visitor, "rate_case").await
        }
        Err(e) => {
            tracing::info!(error = %e, "a rating was refused");
            see_other(&format!("/cases/{case}"))
        }
    }
}
