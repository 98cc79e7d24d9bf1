//! The GovStack Registration building block's shapes for services and application files, and
//! their mapping from the catalogue and cases.
//!
//! The OpenAPI file (`govstack/GovStack_Registration_BB_API.json`, with its licence) defines
//! `GET /services` and `GET /services/{serviceId}` ([`GovService`]), `POST
//! /services/{serviceId}/applications` ([`ApplicationFileSubmit`] in, [`ApplicationFile`]
//! out), `GET /applications` ([`ApplicationFileListItem`]) and `GET /applications/{fileId}`
//! ([`ApplicationFile`]). The server crate serves them; the tests check that what these types
//! write has every property the file requires and no property it does not define.
//!
//! Where we differ from the file: service ids are our slugs, not UUIDs (`format: uuid` is a
//! hint the file's own examples do not keep); a file id is the case number as a string; and
//! `formData.data` holds each value as a string, as the file's example payload does, where the
//! schema says `object`. `applicantId` is the caller's: the pairwise subject or account id the
//! app knows, never the citizen ID number.

use std::collections::BTreeMap;

use errandless_standards::Date;
use serde::{Deserialize, Serialize};

use crate::case::{Case, CaseState};
use crate::catalogue::{Lang, Service};
use crate::Millis;

/// `service.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    None,
    Private,
    Public,
}

/// One entry of a `ListOfProperties`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    pub code: String,
    pub value: String,
}

/// The file's `service` schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GovService {
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: ServiceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_executable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_body: Vec<Property>,
}

impl GovService {
    /// A catalogue service, named and described in `lang`. The department, category, level of
    /// assurance, time limit and legal basis go in `serviceBody`.
    pub fn from_service(service: &Service, lang: Lang) -> GovService {
        let mut body = vec![
            Property {
                code: "department".into(),
                value: service.department.clone(),
            },
            Property {
                code: "category".into(),
                value: service.category.code().into(),
            },
            Property {
                code: "levelOfAssurance".into(),
                value: service.assurance.code().into(),
            },
            Property {
                code: "timeLimitWorkingDays".into(),
                value: service.time_limit_days.to_string(),
            },
        ];
        if let Some(basis) = &service.legal_basis {
            body.push(Property {
                code: "legalBasis".into(),
                value: basis.clone(),
            });
        }
        GovService {
            id: service.id.clone(),
            name: service.title.get(lang).to_owned(),
            version: service.version.to_string(),
            kind: ServiceType::Public,
            is_executable: Some(true),
            description: Some(service.summary.get(lang).to_owned()),
            service_body: body,
        }
    }
}

/// `statusModel.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusCode {
    Pending,
    Approved,
    /// Sent back to the applicant for correction.
    Sendback,
    Rejected,
}

impl StatusCode {
    /// Our state as the file's coarser status: waiting on the department is `PENDING`,
    /// waiting on the applicant `SENDBACK`.
    pub fn of(state: CaseState) -> StatusCode {
        match state {
            CaseState::Submitted | CaseState::Accepted | CaseState::InReview => StatusCode::Pending,
            CaseState::MoreInfoNeeded => StatusCode::Sendback,
            CaseState::Approved | CaseState::Delivered => StatusCode::Approved,
            CaseState::Rejected => StatusCode::Rejected,
        }
    }
}

/// The file's `statusModel`: the code, and our finer state's name as its title.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusModel {
    pub code: StatusCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl StatusModel {
    pub fn of(state: CaseState, lang: Lang) -> StatusModel {
        StatusModel {
            code: StatusCode::of(state),
            title: Some(
                match lang {
                    Lang::Zh => state.zh(),
                    Lang::En => state.en(),
                }
                .to_owned(),
            ),
        }
    }
}

/// The file's `formData`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormData {
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_form_id: Option<String>,
}

/// The file's `applicationFileSubmit`: what an applicant posts, and the application data of a
/// file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFileSubmit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_name: Option<String>,
    pub applicant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_data: Option<FormData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_urls: Option<Vec<String>>,
}

/// The file's `applicationFileResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFile {
    pub file_id: String,
    /// Required here by the file, besides `applicationData.applicantId`.
    pub applicant_id: String,
    pub registered: String,
    pub service_id: String,
    pub service_name: String,
    pub status: StatusModel,
    /// True once nothing more will happen (delivered or rejected).
    pub ended: bool,
    pub application_data: ApplicationFileSubmit,
}

impl ApplicationFile {
    /// `case` as an application file, with the service's title in `lang` as its name and
    /// `applicant_id` (the app's id for the applicant, not the ID number) as the applicant.
    pub fn from_case(case: &Case, service: &Service, applicant_id: &str, lang: Lang) -> Self {
        let registered = date_time(case.submitted_at);
        ApplicationFile {
            file_id: case.id.to_string(),
            applicant_id: applicant_id.to_owned(),
            registered: registered.clone(),
            service_id: case.service.clone(),
            service_name: service.title.get(lang).to_owned(),
            status: StatusModel::of(case.state, lang),
            ended: case.state.is_final(),
            application_data: ApplicationFileSubmit {
                application_name: Some(service.title.get(lang).to_owned()),
                applicant_id: applicant_id.to_owned(),
                created: Some(registered),
                form_data: Some(FormData {
                    data: case.values.clone(),
                    e_form_id: Some(e_form_id(case)),
                }),
                document_urls: None,
            },
        }
    }
}

/// The file's `applicantApplicationFileListResponse`: one line of `GET /applications`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFileListItem {
    pub file_id: String,
    pub status: StatusModel,
    pub applicant_id: String,
    pub created: String,
    pub registered: String,
    /// The due date, e.g. `办理时限 2026-03-13` / `Due 2026-03-13`.
    pub description: String,
    pub service_name: String,
    pub service_id: String,
    /// Spelt `eformId` here, as the file spells it in this schema.
    pub eform_id: String,
}

impl ApplicationFileListItem {
    pub fn from_case(case: &Case, service: &Service, applicant_id: &str, lang: Lang) -> Self {
        let registered = date_time(case.submitted_at);
        ApplicationFileListItem {
            file_id: case.id.to_string(),
            status: StatusModel::of(case.state, lang),
            applicant_id: applicant_id.to_owned(),
            created: registered.clone(),
            registered,
            description: match lang {
                Lang::Zh => format!("办理时限 {}", case.due_date),
                Lang::En => format!("Due {}", case.due_date),
            },
            service_name: service.title.get(lang).to_owned(),
            service_id: case.service.clone(),
            eform_id: e_form_id(case),
        }
    }
}

/// The form a case was filled in: the service and its version.
fn e_form_id(case: &Case) -> String {
    format!("{}@{}", case.service, case.service_version)
}

/// RFC 3339 in UTC (not China Standard Time) with milliseconds, as the file's examples write
/// `date-time`.
pub fn date_time(at: Millis) -> String {
    let day = at.div_euclid(86_400_000);
    let ms = at.rem_euclid(86_400_000);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        Date::from_days_since_epoch(day),
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalogue;
    use serde_json::Value;

    const SPEC: &str = include_str!("../govstack/GovStack_Registration_BB_API.json");

    fn spec() -> Value {
        serde_json::from_str(SPEC).expect("the OpenAPI file is JSON")
    }

    fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                &spec["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    /// Checks `value` against `schema`: required properties present, no property the schema
    /// does not define (unless it allows more), enums respected, all the way down. Returns
    /// every violation with its JSON path.
    fn check(spec: &Value, schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
        let schema = resolve(spec, schema);
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                out.push(format!("{path}: {value} is not one of {options:?}"));
            }
        }
        match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for name in &required {
                    if !map.contains_key(*name) {
                        out.push(format!("{path}: required property {name} is missing"));
                    }
                }
                // A required property is defined by being required, even where the file
                // forgets to list it (`applicationFileResponse.applicantId`).
                let open = schema.get("additionalProperties").is_some();
                for (key, v) in map {
                    match properties.and_then(|p| p.get(key)) {
                        Some(s) => check(spec, s, v, &format!("{path}.{key}"), out),
                        None if open || required.contains(&key.as_str()) => {}
                        None => out.push(format!("{path}: property {key} is not in the schema")),
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        check(spec, item, v, &format!("{path}[{i}]"), out);
                    }
                }
            }
            Value::String(_) if schema.get("type").and_then(Value::as_str) == Some("boolean") => {
                out.push(format!("{path}: a string where the schema wants a boolean"));
            }
            _ => {}
        }
    }

    fn violations(schema: &str, value: &impl Serialize) -> Vec<String> {
        let spec = spec();
        let json = serde_json::to_value(value).expect("encodes");
        let mut out = Vec::new();
        check(
            &spec,
            &spec["components"]["schemas"][schema],
            &json,
            schema,
            &mut out,
        );
        out
    }

    fn case() -> Case {
        let service = Catalogue::builtin()
            .service("income-tax-certificate")
            .expect("in the catalogue");
        Case {
            id: 42,
            service: service.id.clone(),
            service_version: service.version,
            department: service.department.clone(),
            applicant: "52010219900307105X".into(),
            division: "520102001003".into(),
            state: CaseState::MoreInfoNeeded,
            values: BTreeMap::from([("tax_year".to_owned(), "2025".to_owned())]),
            time_limit_days: 1,
            submitted_at: 1_772_793_000_123,
            due_date: "2026-03-09".into(),
            due_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn every_service_matches_the_service_schema() {
        for service in Catalogue::builtin().services() {
            for lang in [Lang::Zh, Lang::En] {
                let g = GovService::from_service(service, lang);
                assert_eq!(violations("service", &g), Vec::<String>::new());
                let back: GovService =
                    serde_json::from_value(serde_json::to_value(&g).expect("encodes"))
                        .expect("decodes");
                assert_eq!(back, g);
            }
        }
    }

    #[test]
    fn an_application_file_matches_its_schema() {
        let service = Catalogue::builtin()
            .service("income-tax-certificate")
            .expect("in the catalogue");
        let file = ApplicationFile::from_case(&case(), service, "pairwise-7f3a", Lang::En);
        assert_eq!(
            violations("applicationFileResponse", &file),
            Vec::<String>::new()
        );
        let json = serde_json::to_value(&file).expect("encodes");
        assert_eq!(json["status"]["code"], "SENDBACK");
        assert_eq!(json["registered"], "2026-03-06T10:30:00.123Z");
        assert_eq!(
            json["applicationData"]["formData"]["eFormId"],
            "income-tax-certificate@1"
        );
        assert!(!json.to_string().contains("52010219900307105X"));
        let item = ApplicationFileListItem::from_case(&case(), service, "pairwise-7f3a", Lang::Zh);
        assert_eq!(
            violations("applicantApplicationFileListResponse", &item),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_submission_in_the_spec_shape_is_read() {
        let posted = r#"{"applicantId": "42962de0", "created": "2000-10-23T00:00:00.000Z",
            "formData": {"eFormId": "income-tax-certificate@1", "data": {"tax_year": "2025"}}}"#;
        let submit: ApplicationFileSubmit = serde_json::from_str(posted).expect("reads");
        assert_eq!(
            violations("applicationFileSubmit", &submit),
            Vec::<String>::new()
        );
        assert_eq!(
            submit.form_data.expect("form data").data["tax_year"],
            "2025"
        );
    }

    #[test]
    fn the_checker_finds_what_is_missing_or_extra() {
        let mut json = serde_json::json!({"id": "x", "name": "n", "version": "1", "type": "Public", "colour": "red"});
        let spec = spec();
        let mut out = Vec::new();
        check(
            &spec,
            &spec["components"]["schemas"]["service"],
            &json,
            "service",
            &mut out,
        );
        assert_eq!(out, ["service: property colour is not in the schema"]);
        json.as_object_mut().expect("an object").remove("colour");
        json.as_object_mut().expect("an object").remove("version");
        json["type"] = "Open".into();
        out.clear();
        check(
            &spec,
            &spec["components"]["schemas"]["service"],
            &json,
            "service",
            &mut out,
        );
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn states_map_to_the_four_status_codes() {
        let codes: Vec<StatusCode> = CaseState::ALL.into_iter().map(StatusCode::of).collect();
        assert_eq!(
            codes,
            [
                StatusCode::Pending,
                StatusCode::Pending,
                StatusCode::Pending,
                StatusCode::Sendback,
                StatusCode::Approved,
                StatusCode::Rejected,
                StatusCode::Approved,
            ]
        );
        assert_eq!(date_time(0), "1970-01-01T00:00:00.000Z");
    }
}
