//! The citizen's pages: home, a benefit and its reasons, and who used my data.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use errandless_payments::PaymentStatus;
use errandless_policy::explanation::yuan;
use serde::Deserialize;

use super::{page, Chrome, Lang, Shared, Visitor};

pub(super) use super::services::routes as service_routes;

/// A benefit or near miss on the home page.
pub(super) struct BenefitCard {
    title: String,
    eligible: bool,
    amount: String,
    period: String,
    status: String,
    status_class: &'static str,
    near_miss: String,
    href: String,
}

/// A case on the home page.
pub(super) struct CaseLine {
    pub id: String,
    pub service: String,
    pub state: String,
    pub rate: bool,
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    c: Chrome<'a>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    c: Chrome<'a>,
    greeting: String,
    verified: bool,
    benefits: Vec<BenefitCard>,
    notices: Vec<String>,
    cases: Vec<CaseLine>,
}

/// The CSS class and message id of a payment status.
pub(super) fn status_words(status: PaymentStatus) -> (&'static str, &'static str) {
    match status {
        PaymentStatus::Paid => ("good", "status-paid"),
        PaymentStatus::Accepted => ("good", "status-accepted"),
        PaymentStatus::Exported => ("", "status-exported"),
        PaymentStatus::Pending => ("", "status-pending"),
        PaymentStatus::Rejected => ("bad", "status-rejected"),
        PaymentStatus::NeedsAccount => ("warn", "status-needs_account"),
        PaymentStatus::Notified => ("warn", "status-notified"),
        PaymentStatus::Withdrawn => ("", "status-withdrawn"),
    }
}

/// Home: my benefits (with their payment), notices, cases in progress. Without a session, the
/// landing page.
pub(super) async fn home(State(portal): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    portal.app.metrics.page("home");
    let tr = visitor.tr(&portal);
    let Some(signed_in) = &visitor.signed_in else {
        let c = visitor.chrome(&portal, tr.t("landing-title"));
        return page(StatusCode::OK, visitor.lang, Landing { c }.render());
    };
    let greeting = tr.t1("home-greeting", "name", &signed_in.account.name);
    let mut benefits = Vec::new();
    let mut notices = Vec::new();
    let mut cases = Vec::new();
    let citizen = signed_in.citizen_id();
    if let Some(citizen) = &citizen {
        let store = portal.app.exchange.store();
        let (decisions, received, mut titles, mine) = match tokio::try_join!(
            async {
                errandless_policy::enactment::decisions_of(store, citizen.as_str())
                    .await
                    .map_err(|e| e.to_string())
            },
            async {
                errandless_payments::entitlements_of(store, citizen.as_str())
                    .await
                    .map_err(|e| e.to_string())
            },
            portal.policy_titles(),
            portal.cases_of(visitor.lang, citizen.as_str()),
        ) {
            Ok(v) => v,
            Err(e) => return super::internal(&portal, &visitor, &e),
        };
        // A policy enacted since the titles were read: read them again.
        if decisions.iter().any(|d| !titles.contains_key(&d.policy_id)) {
            portal.forget_titles();
            match portal.policy_titles().await {
                Ok(t) => titles = t,
                Err(e) => return super::internal(&portal, &visitor, &e),
            }
        }
        // The latest decision of each policy and period, newest first.
        let mut latest = HashMap::new();
        for d in decisions {
            latest.insert((d.policy_id.clone(), d.period.clone()), d);
        }
        let mut latest: Vec<_> = latest.into_values().collect();
        latest.sort_by_key(|d| std::cmp::Reverse(d.seq));
        let paid: HashMap<(&str, &str), &errandless_payments::Received> = received
            .iter()
            .map(|r| ((r.policy_id.as_str(), r.period.as_str()), r))
            .collect();
        for d in latest {
            if !d.eligible && d.near_miss.is_none() {
                continue;
            }
            let title = titles
                .get(&d.policy_id)
                .map(|t| tr.pick(&t.zh, &t.en).to_owned())
                .unwrap_or_else(|| d.policy_id.clone());
            let entitlement = paid.get(&(d.policy_id.as_str(), d.period.as_str()));
            let (status_class, status) = match entitlement {
                Some(e) => status_words(e.status),
                None => ("", "status-not_entitled"),
            };
            if d.eligible
                && (!d.payable
                    || entitlement.is_some_and(|e| {
                        matches!(
                            e.status,
                            PaymentStatus::NeedsAccount | PaymentStatus::Notified
                        )
                    }))
                && d.amount_fen > 0
            {
                notices.push(tr.t1("notice-bind-account", "policy", &title));
            }
            benefits.push(BenefitCard {
                eligible: d.eligible,
                amount: yuan(entitlement.map_or(d.amount_fen, |e| e.amount.0)),
                period: d.period.clone(),
                status: tr.t(status),
                status_class,
                near_miss: d.near_miss.clone().unwrap_or_default(),
                href: format!(
                    "/benefits/{}/{}",
                    super::urlencode(&d.policy_id),
                    super::urlencode(&d.period)
                ),
                title,
            });
        }
        cases = mine;
    }
    let c = visitor.chrome(&portal, tr.t("home-title"));
    page(
        StatusCode::OK,
        visitor.lang,
        Home {
            c,
            greeting,
            verified: citizen.is_some(),
            benefits,
            notices,
            cases,
        }
        .render(),
    )
}

/// One condition as the benefit page shows it.
struct TestView {
    label: String,
    cite: String,
    held: bool,
    facts: Vec<(String, String)>,
}

struct ExplanationView {
    title: String,
    verdict: String,
    amount: Option<String>,
    period: String,
    status: Option<String>,
    status_class: &'static str,
    account: Option<String>,
    formula: Option<String>,
    conditions: Vec<TestView>,
    exclusions: Vec<TestView>,
    sources: Vec<String>,
    legal: Vec<String>,
    policy_hash: String,
    text: String,
}

#[derive(Template)]
#[template(path = "benefit.html")]
struct BenefitPage<'a> {
    c: Chrome<'a>,
    e: ExplanationView,
}

/// A benefit and its reasons: the decision's explanation (CRPA L311-3-1), rebuilt from the
/// stored policy version and snapshot hashes, and how to object.
pub(super) async fn benefit(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path((policy, period)): Path<(String, String)>,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    portal.app.metrics.page("benefit");
    let Some(signed_in) = &visitor.signed_in else {
        return super::to_login(&visitor);
    };
    let tr = visitor.tr(&portal);
    let Some(citizen) = signed_in.citizen_id() else {
        return not_found_here(&portal, &visitor);
    };
    let store = portal.app.exchange.store();
    let found = match errandless_policy::enactment::explanation(
        store,
        &policy,
        Some(&period),
        citizen.as_str(),
    )
    .await
    {
        Ok(found) => found,
        Err(e) => return super::internal(&portal, &visitor, &e),
    };
    // Someone else's decision or none at all: the same 404, so a guess tells nothing.
    let Some((recorded, e)) = found else {
        return not_found_here(&portal, &visitor);
    };
    let entitlement = match errandless_payments::entitlements_of(store, citizen.as_str()).await {
        Ok(all) => all
            .into_iter()
            .find(|r| r.policy_id == policy && r.period == period),
        Err(e) => return super::internal(&portal, &visitor, &e),
    };
    let lang = visitor.lang;
    let fact = |f: &errandless_policy::explanation::Fact| {
        (
            lang.pick(&f.element_zh, &f.element_en).to_owned(),
            f.value.clone().unwrap_or_else(|| tr.t("value-missing")),
        )
    };
    let test = |t: &errandless_policy::explanation::Test| TestView {
        label: format!("{} ({})", t.id, t.when),
        cite: t.cite.clone(),
        held: t.held,
        facts: t.facts.iter().map(fact).collect(),
    };
    let (status_class, status) = match &entitlement {
        Some(r) => {
            let (class, id) = status_words(r.status);
            (class, Some(tr.t(id)))
        }
        None => ("", None),
    };
    let view = ExplanationView {
        title: lang.pick(&e.title_zh, &e.title_en).to_owned(),
        verdict: e.outcome(lang.explanation()),
        amount: (recorded.eligible && e.formula.is_some()).then(|| yuan(e.amount_fen)),
        period: e.period.clone(),
        status,
        status_class,
        account: e.account.clone(),
        formula: e.formula.clone(),
        conditions: e.conditions.iter().map(test).collect(),
        exclusions: e.exclusions.iter().map(test).collect(),
        sources: e
            .sources
            .iter()
            .map(|s| {
                tr.tn(
                    "benefit-source-line",
                    &[
                        ("department", lang.pick(&s.department_zh, &s.department_en)),
                        ("dataset", lang.pick(&s.dataset_zh, &s.dataset_en)),
                        ("snapshot", s.snapshot.get(..12).unwrap_or(&s.snapshot)),
                        ("version", &s.version.to_string()),
                    ],
                )
            })
            .collect(),
        legal: e.legal_basis.clone(),
        policy_hash: e.policy_hash.clone(),
        text: e.render(lang.explanation()),
    };
    let c = visitor.chrome(&portal, view.title.clone());
    page(StatusCode::OK, lang, BenefitPage { c, e: view }.render())
}

pub(super) fn not_found_here(portal: &super::Portal, visitor: &Visitor) -> Response {
    super::message(
        portal,
        visitor,
        StatusCode::NOT_FOUND,
        "error-not-found-title",
        "benefit-unknown",
    )
}

/// One record on the "who used my data" page.
struct UsageRow {
    index: String,
    reader: String,
    when: String,
    what: String,
    purpose: String,
    outcome: String,
    outcome_class: &'static str,
    verdict: Option<String>,
}

#[derive(Template)]
#[template(path = "my_data.html")]
struct MyData<'a> {
    c: Chrome<'a>,
    /// The answer of a verification made without script, shown above the list.
    notice: Option<String>,
    rows: Vec<UsageRow>,
}

/// Who used my data: every read and decision about the citizen, newest first, each with a
/// "verify" button.
pub(super) async fn my_data(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    portal.app.metrics.page("my_data");
    my_data_page(&portal, &visitor, None).await
}

async fn my_data_page(
    portal: &super::Portal,
    visitor: &Visitor,
    verdict: Option<(String, String)>,
) -> Response {
    let Some(signed_in) = &visitor.signed_in else {
        return super::to_login(visitor);
    };
    let tr = visitor.tr(portal);
    let mut rows = Vec::new();
    if let Some(citizen) = signed_in.citizen_id() {
        let usages = match portal.usages(&citizen).await {
            Ok(u) => u,
            Err(e) => return super::internal(portal, visitor, &e),
        };
        let purposes = purpose_names(visitor.lang);
        for u in usages.into_iter().rev() {
            let (outcome, outcome_class) = match u.outcome.as_str() {
                "allowed" => (tr.t("outcome-allowed"), "good"),
                "" => (tr.t("outcome-decision"), ""),
                _ => (tr.t("outcome-refused"), "bad"),
            };
            let what = u
                .refrences
                .iter()
                .map(|r| r.reference_id.clone())
                .collect::<Vec<_>>()
                .join(", ");
            let what = if u.fields.is_empty() {
                what
            } else {
                format!("{what} ({})", u.fields.join(", "))
            };
            rows.push(UsageRow {
                verdict: verdict
                    .as_ref()
                    .filter(|(i, _)| *i == u.id)
                    .map(|(_, v)| v.clone()),
                index: u.id,
                reader: u
                    .reader_institution_name
                    .map(|n| pick_pair(&n, visitor.lang))
                    .unwrap_or(u.reader_id),
                when: u.search_date_time.replace('T', " ").replace('Z', " UTC"),
                what,
                purpose: u
                    .purpose
                    .map(|p| {
                        purposes
                            .get(p.as_str())
                            .map_or(p.clone(), |n| n.to_string())
                    })
                    .unwrap_or_default(),
                outcome,
                outcome_class,
            });
        }
    }
    let c = visitor.chrome(portal, tr.t("my-data-title"));
    let notice = verdict.map(|(_, v)| v);
    page(
        StatusCode::OK,
        visitor.lang,
        MyData { c, notice, rows }.render(),
    )
}

/// "中文 / English" → the half of this language.
fn pick_pair(pair: &str, lang: Lang) -> String {
    match pair.split_once(" / ") {
        Some((zh, en)) => lang.pick(zh, en).to_owned(),
        None => pair.to_owned(),
    }
}

fn purpose_names(lang: Lang) -> HashMap<&'static str, &'static str> {
    errandless_exchange::Purpose::ALL
        .iter()
        .map(|p| (p.code(), lang.pick(p.zh(), p.en())))
        .collect()
}

#[derive(Deserialize)]
pub(super) struct VerifyForm {
    csrf: String,
    index: String,
}

/// Verifies one record: its inclusion proof against the ledger's signed checkpoint, and that
/// it is about this citizen. With htmx the answer replaces the row's status; without, the
/// page comes back with it.
pub(super) async fn verify(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<VerifyForm>,
) -> Response {
    let visitor = match Visitor::posting(&portal, &headers, &uri, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(citizen) = visitor.signed_in.as_ref().and_then(|s| s.citizen_id()) else {
        return super::forbidden(&portal, &visitor, "verify_record").await;
    };
    let tr = visitor.tr(&portal);
    let verdict = match portal.verify_record(&citizen, &form.index).await {
        Ok((index, size, root, origin)) => (
            true,
            tr.tn(
                "my-data-verified",
                &[
                    ("index", &index.to_string()),
                    ("size", &size.to_string()),
                    ("root", &root),
                    ("origin", &origin),
                ],
            ),
        ),
        Err(reason) => (false, tr.t1("my-data-verify-failed", "reason", &reason)),
    };
    if headers.contains_key("hx-request") {
        let class = if verdict.0 { "alert good" } else { "alert bad" };
        return (
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Html(format!(
                "<p class=\"{class}\">{}</p>",
                crate::oidc::escape(&verdict.1)
            )),
        )
            .into_response();
    }
    my_data_page(&portal, &visitor, Some((form.index.clone(), verdict.1))).await
}
