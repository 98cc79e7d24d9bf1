//! Zero documents (零材料): a service's form filled from the data the government already holds,
//! through the exchange, before the citizen types anything.
//!
//! Each dataset the form maps is read once, for the applicant, with the fields it maps, by a
//! [`SignedReadRequest`] that the portal's member signs with purpose `application_prefill`.
//! The exchange checks the grant, answers with the owner's signature and records the read in
//! the ledger, allowed or refused. A refused read is not a failure of the prefill: its fields
//! are left for the citizen to type, and the refusal's code and reason are kept beside them.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use errandless_exchange::{Exchange, FieldValue, Purpose, ReadRequest, SignedResponse};
use errandless_standards::CitizenId;
use serde::{Deserialize, Serialize};

use crate::catalogue::{ElementRef, Service};
use crate::form::{check_value, FieldError, Values};
use crate::Millis;

/// The member that reads for the portal, and its signing key (the private half of the key it
/// registered with the exchange).
#[derive(Clone, Copy)]
pub struct Consumer<'a> {
    pub member: &'a str,
    pub key: &'a SigningKey,
}

impl std::fmt::Debug for Consumer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// Where a prefilled value comes from: the owner's signed answer and its ledger record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The department that owns the dataset and signed the answer.
    pub owner: String,
    pub dataset: String,
    /// The grant the read was made under.
    pub grant: String,
    pub request_id: String,
    /// The SHA-256 of the signed request, which the owner's answer binds.
    pub request_hash: String,
    /// The ledger entry that records the read (a receipt can be proved for it).
    pub ledger_index: u64,
    pub served_at: Millis,
}

/// Why a dataset was not read: the exchange's stable code and its message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub dataset: String,
    /// [`errandless_exchange::ReadError::code`], e.g. `no_grant`.
    pub code: String,
    pub reason: String,
}

/// One read of the prefill, as the exchange answered it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetRead {
    pub dataset: String,
    pub fields: Vec<String>,
    /// The owner's signed answer, which the portal may verify with the owner's key.
    pub outcome: Result<SignedResponse, Refusal>,
}

/// One mapped field of the form, as the prefill found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefilledField {
    /// The form field's name.
    pub field: String,
    pub element: ElementRef,
    /// The value of the first row that holds one; `None` when the read was refused, found no
    /// row, or the row holds nothing.
    pub value: Option<String>,
    /// Different values in further rows (islands keep histories and duplicates), for the
    /// citizen to choose from.
    pub other_values: Vec<String>,
    pub source: Result<Source, Refusal>,
    /// What the form would say of `value` (an island's value may not pass the form's check).
    pub problem: Option<FieldError>,
}

/// What [`prefill`] found for a service's form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prefill {
    pub service: String,
    /// The form's mapped fields, in the form's order.
    pub fields: Vec<PrefilledField>,
    /// The reads made, one per dataset.
    pub reads: Vec<DatasetRead>,
}

impl Prefill {
    /// The values to put in the form: each prefilled field whose value passes the form's check.
    pub fn values(&self) -> Values {
        self.fields
            .iter()
            .filter(|f| f.problem.is_none())
            .filter_map(|f| Some((f.field.clone(), f.value.clone()?)))
            .collect()
    }
}

/// Why a prefill could not start.
#[derive(Debug, thiserror::Error)]
pub enum PrefillError {
    #[error("the subject is not a valid citizen ID number: {0}")]
    InvalidSubject(String),
}

/// A request id no one used before: `prefill-` and 32 random hexadecimal digits.
fn request_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system provides randomness");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("prefill-{hex}")
}

fn text_of(value: &FieldValue) -> Option<String> {
    match value {
        FieldValue::Null => None,
        FieldValue::Integer(n) => Some(n.to_string()),
        FieldValue::Real(x) => Some(x.to_string()),
        FieldValue::Text(t) if t.trim().is_empty() => None,
        FieldValue::Text(t) => Some(t.clone()),
    }
}

/// Reads, for the citizen with ID number `subject`, every field of `service`'s form that maps
/// a data element: one signed read per dataset through `exchange`, as `consumer`, for purpose
/// `application_prefill`. Each read, allowed or refused, is in the ledger before this returns.
pub async fn prefill(
    exchange: &Exchange,
    consumer: Consumer<'_>,
    service: &Service,
    subject: &str,
) -> Result<Prefill, PrefillError> {
    let subject = CitizenId::parse_lenient(subject)
        .map_err(|e| PrefillError::InvalidSubject(e.to_string()))?
        .as_str()
        .to_owned();
    let mut reads = Vec::new();
    for planned in service.prefill_reads() {
        let request = ReadRequest {
            request_id: request_id(),
            consumer: consumer.member.to_owned(),
            dataset: planned.dataset.clone(),
            subject: subject.clone(),
            fields: planned.fields.clone(),
            purpose: Purpose::ApplicationPrefill.code().to_owned(),
        };
        let outcome = match exchange.read(&request.sign(consumer.key)).await {
            Ok(response) => Ok(response),
            Err(e) => {
                tracing::info!(
                    service = %service.id,
                    dataset = %planned.dataset,
                    code = e.code(),
                    "a prefill read was refused; its fields are left for the citizen"
                );
                Err(Refusal {
                    dataset: planned.dataset.clone(),
                    code: e.code().to_owned(),
                    reason: e.to_string(),
                })
            }
        };
        reads.push(DatasetRead {
            dataset: planned.dataset,
            fields: planned.fields,
            outcome,
        });
    }
    let by_dataset: BTreeMap<&str, &DatasetRead> =
        reads.iter().map(|r| (r.dataset.as_str(), r)).collect();
    let mut fields = Vec::new();
    for field in &service.fields {
        let Some(element) = &field.element else {
            continue;
        };
        let Some(read) = by_dataset.get(element.dataset.as_str()) else {
            continue;
        };
        let (values, source) = match &read.outcome {
            Ok(signed) => {
                let r = &signed.response;
                let mut values: Vec<String> = Vec::new();
                for v in r.rows.iter().filter_map(|row| row.get(&element.field)) {
                    if let Some(text) = text_of(v) {
                        if !values.contains(&text) {
                            values.push(text);
                        }
                    }
                }
                let source = Source {
                    owner: r.owner.clone(),
                    dataset: r.dataset.clone(),
                    grant: r.grant.clone(),
                    request_id: r.request_id.clone(),
                    request_hash: r.request_hash.clone(),
                    ledger_index: r.ledger_index,
                    served_at: r.served_at,
                };
                (values, Ok(source))
            }
            Err(refusal) => (Vec::new(), Err(refusal.clone())),
        };
        let mut values = values.into_iter();
        let value = values.next();
        let problem = value
            .as_deref()
            .and_then(|v| check_value(field, v.trim()).err());
        fields.push(PrefilledField {
            field: field.name.clone(),
            element: element.clone(),
            value,
            other_values: values.collect(),
            source,
            problem,
        });
    }
    Ok(Prefill {
        service: service.id.clone(),
        fields,
        reads,
    })
}
