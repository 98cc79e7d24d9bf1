//! Data requests and grants: the data-requirement workflow (数据需求 → 授权).
//!
//! A consumer files a [`DataRequest`] naming a dataset, the fields it needs, a [`Purpose`], a
//! [`LegalBasis`], a validity period, a division scope and a [`Mode`]. The dataset's owner
//! approves it, which produces a [`Grant`] with the same terms, or rejects it with a reason. The
//! owner can revoke a grant; revocation takes effect for the next read.
//!
//! # Division scope
//!
//! A scope is a statistical division code at province, city or county level. A person's division
//! is the county of the GB 11643 address code, the first six digits of their ID number (GB 11643
//! §4.2: the county where the number was first issued); an organisation's is the registration
//! authority's division code, digits three to eight of its social credit code (GB 32100 §4.3).
//! Both are known from the subject alone, without reading another island, which is why scopes
//! finer than a county are refused: the ID number cannot place a person in a township.
//!
//! # Sensitive data in bulk
//!
//! Elements of the sensitive-personal class (PIPL art. 28) may be granted for bulk sync only
//! under a legal basis whose kind is [`LegalBasisKind::Law`]; per-subject reads of them need a
//! legal basis of any kind.

use std::fmt;

use errandless_standards::{Dataset, DivisionCode, Level, Sensitivity, Standard};
use errandless_store::Store;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::catalog::field_sensitivity;
use crate::purpose::{LegalBasis, LegalBasisKind, Purpose};
use crate::{random_id, Millis};

/// How a grant lets data be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One subject at a time, by ID number.
    PerSubject,
    /// The whole dataset (within scope), synced to the data center.
    Bulk,
}

impl Mode {
    pub fn code(self) -> &'static str {
        match self {
            Mode::PerSubject => "per_subject",
            Mode::Bulk => "bulk",
        }
    }

    fn parse(code: &str) -> Option<Mode> {
        [Mode::PerSubject, Mode::Bulk]
            .into_iter()
            .find(|m| m.code() == code)
    }
}

/// The terms a consumer asks for, and a grant carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    /// The consuming member.
    pub consumer: String,
    pub dataset: String,
    /// Field names of the dataset, without repeats.
    pub fields: Vec<String>,
    pub purpose: Purpose,
    pub legal_basis: LegalBasis,
    /// Valid from this time (inclusive) until `valid_until` (exclusive).
    pub valid_from: Millis,
    pub valid_until: Millis,
    /// Only subjects of this division; `None` for all.
    pub scope: Option<DivisionCode>,
    pub mode: Mode,
}

/// Where a data request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Approved { grant: String, at: Millis },
    Rejected { reason: String, at: Millis },
}

/// A consumer's filed request for data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRequest {
    pub id: String,
    pub owner: String,
    pub terms: Terms,
    pub filed_at: Millis,
    pub status: RequestStatus,
}

/// A permission to read named fields of a dataset, for a purpose, within a scope and a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub request: String,
    pub owner: String,
    pub terms: Terms,
    pub granted_at: Millis,
    pub revoked: Option<Revocation>,
}

/// When and why a grant was revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub at: Millis,
    pub reason: String,
}

/// Whether a grant allows reading at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantState {
    Valid,
    NotYetValid,
    Expired,
    Revoked,
}

impl Grant {
    /// The grant's state at `now`. Revocation wins over everything, at once.
    pub fn state_at(&self, now: Millis) -> GrantState {
        match &self.revoked {
            Some(r) if r.at <= now => GrantState::Revoked,
            _ if now < self.terms.valid_from => GrantState::NotYetValid,
            _ if now >= self.terms.valid_until => GrantState::Expired,
            _ => GrantState::Valid,
        }
    }

    /// Whether every field of `fields` is granted.
    pub fn covers(&self, fields: &[String]) -> bool {
        fields.iter().all(|f| self.terms.fields.contains(f))
    }

    /// Whether a subject whose division is `division` (see the module documentation) is within
    /// the grant's scope.
    pub fn in_scope(&self, division: Option<DivisionCode>) -> bool {
        match (self.terms.scope, division) {
            (None, _) => true,
            (Some(scope), Some(d)) => scope.contains(d),
            (Some(_), None) => false,
        }
    }
}

/// A data request could not be filed or decided, or a grant changed.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0:?} is not a registered member")]
    UnknownMember(String),
    #[error("dataset {0:?} is not in the unified data standard")]
    UnknownDataset(String),
    #[error("the owner of {dataset}, {owner:?}, is not a registered member")]
    OwnerNotRegistered { dataset: String, owner: String },
    #[error("a request must name at least one field")]
    NoFields,
    #[error("dataset {dataset} has no field {field:?}")]
    UnknownField { dataset: String, field: String },
    #[error("field {0:?} is named twice")]
    RepeatedField(String),
    #[error("the validity period must end after it starts")]
    EmptyPeriod,
    #[error("the legal basis must cite an instrument")]
    EmptyLegalBasis,
    #[error("division scope {0} is below county level; a subject's division is known only to the county")]
    ScopeTooFine(DivisionCode),
    #[error("sensitive-personal field {field:?} can be granted in bulk only under a law (PIPL art. 28), not a {kind}")]
    SensitiveBulkNeedsLaw { field: String, kind: &'static str },
    #[error("no data request {0:?}")]
    UnknownRequest(String),
    #[error("no grant {0:?}")]
    UnknownGrant(String),
    #[error("{member:?} does not own dataset {dataset}; only {owner:?} can decide")]
    NotOwner {
        member: String,
        dataset: String,
        owner: String,
    },
    #[error("data request {0:?} has already been decided")]
    AlreadyDecided(String),
    #[error("grant {0:?} is already revoked")]
    AlreadyRevoked(String),
    #[error("a rejection or revocation needs a reason")]
    NoReason,
    #[error("stored record {id:?} is corrupt: {what}")]
    Corrupt { id: String, what: String },
    #[error("the ledger could not record the decision: {0}")]
    Ledger(String),
    #[error("the platform database failed")]
    Database(#[from] sqlx::Error),
}

/// Data requests and grants, kept in the platform store.
#[derive(Clone, Debug)]
pub struct Grants {
    store: Store,
}

const REQUEST_COLUMNS: &str = "id, owner, consumer, dataset, fields, purpose, legal_basis_kind, \
    legal_basis_ref, valid_from, valid_until, division_scope, mode";

impl Grants {
    /// The grants in `store`, whose exchange migrations must have run ([`crate::migrate`]).
    pub fn new(store: Store) -> Grants {
        Grants { store }
    }

    /// Files a data request. Nothing is stored unless the terms pass every check.
    pub async fn file(&self, terms: Terms, now: Millis) -> Result<DataRequest, GrantError> {
        let dataset = check_terms(&terms)?;
        self.require_member(&terms.consumer).await?;
        if !self.is_member(&dataset.department).await? {
            return Err(GrantError::OwnerNotRegistered {
                dataset: dataset.id.clone(),
                owner: dataset.department.clone(),
            });
        }
        let id = random_id("req");
        sqlx::query(&format!(
            "INSERT INTO exchange_data_requests ({REQUEST_COLUMNS}, filed_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending')"
        ))
        .bind(&id)
        .bind(&dataset.department)
        .bind(&terms.consumer)
        .bind(&terms.dataset)
        .bind(fields_json(&terms.fields))
        .bind(terms.purpose.code())
        .bind(terms.legal_basis.kind.code())
        .bind(&terms.legal_basis.reference)
        .bind(terms.valid_from)
        .bind(terms.valid_until)
        .bind(terms.scope.map(|s| s.to_string()))
        .bind(terms.mode.code())
        .bind(now)
        .execute(self.store.pool())
        .await?;
        self.request(&id)
            .await?
            .ok_or(GrantError::UnknownRequest(id))
    }

    /// The owner approves a pending request; the grant it produces is valid at once within
    /// the request's period.
    pub async fn approve(
        &self,
        request_id: &str,
        owner: &str,
        now: Millis,
    ) -> Result<Grant, GrantError> {
        let request = self.pending(request_id, owner).await?;
        check_terms(&request.terms)?;
        let id = random_id("grant");
        let t = &request.terms;
        let mut tx = self.store.pool().begin().await?;
        let decided = sqlx::query(
            "UPDATE exchange_data_requests SET status = 'approved', decided_at = $1, grant_id = $2 \
             WHERE id = $3 AND status = 'pending'",
        )
        .bind(now)
        .bind(&id)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        if decided.rows_affected() != 1 {
            return Err(GrantError::AlreadyDecided(request_id.to_owned()));
        }
        sqlx::query(
            "INSERT INTO exchange_grants (id, request_id, owner, consumer, dataset, fields, \
             purpose, legal_basis_kind, legal_basis_ref, valid_from, valid_until, \
             division_scope, mode, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&id)
        .bind(request_id)
        .bind(&request.owner)
        .bind(&t.consumer)
        .bind(&t.dataset)
        .bind(fields_json(&t.fields))
        .bind(t.purpose.code())
        .bind(t.legal_basis.kind.code())
        .bind(&t.legal_basis.reference)
        .bind(t.valid_from)
        .bind(t.valid_until)
        .bind(t.scope.map(|s| s.to_string()))
        .bind(t.mode.code())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        crate::cache::changed();
        self.grant(&id).await?.ok_or(GrantError::UnknownGrant(id))
    }

    /// The owner rejects a pending request, saying why.
    pub async fn reject(
        &self,
        request_id: &str,
        owner: &str,
        reason: &str,
        now: Millis,
    ) -> Result<DataRequest, GrantError> {
        if reason.trim().is_empty() {
            return Err(GrantError::NoReason);
        }
        self.pending(request_id, owner).await?;
        let decided = sqlx::query(
            "UPDATE exchange_data_requests SET status = 'rejected', decided_at = $1, reason = $2 \
             WHERE id = $3 AND status = 'pending'",
        )
        .bind(now)
        .bind(reason.trim())
        .bind(request_id)
        .execute(self.store.pool())
        .await?;
        if decided.rows_affected() != 1 {
            return Err(GrantError::AlreadyDecided(request_id.to_owned()));
        }
        self.request(request_id)
            .await?
            .ok_or_else(|| GrantError::UnknownRequest(request_id.to_owned()))
    }

    /// The owner revokes a grant; from `now` on it allows nothing.
    pub async fn revoke(
        &self,
        grant_id: &str,
        owner: &str,
        reason: &str,
        now: Millis,
    ) -> Result<Grant, GrantError> {
        if reason.trim().is_empty() {
            return Err(GrantError::NoReason);
        }
        let grant = self
            .grant(grant_id)
            .await?
            .ok_or_else(|| GrantError::UnknownGrant(grant_id.to_owned()))?;
        if grant.owner != owner {
            return Err(GrantError::NotOwner {
                member: owner.to_owned(),
                dataset: grant.terms.dataset,
                owner: grant.owner,
            });
        }
        let done = sqlx::query(
            "UPDATE exchange_grants SET revoked_at = $1, revoke_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason.trim())
        .bind(grant_id)
        .execute(self.store.pool())
        .await?;
        crate::cache::changed();
        if done.rows_affected() != 1 {
            return Err(GrantError::AlreadyRevoked(grant_id.to_owned()));
        }
        self.grant(grant_id)
            .await?
            .ok_or_else(|| GrantError::UnknownGrant(grant_id.to_owned()))
    }

    /// One data request.
    pub async fn request(&self, id: &str) -> Result<Option<DataRequest>, GrantError> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS}, filed_at, status, decided_at, reason, grant_id \
             FROM exchange_data_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let terms = terms_of(&row)?;
        let status: String = row.try_get("status")?;
        let decided_at: Option<i64> = row.try_get("decided_at")?;
        let status = match (status.as_str(), decided_at) {
            ("pending", _) => RequestStatus::Pending,
            ("approved", Some(at)) => RequestStatus::Approved {
                grant: row
                    .try_get::<Option<String>, _>("grant_id")?
                    .unwrap_or_default(),
                at,
            },
            ("rejected", Some(at)) => RequestStatus::Rejected {
                reason: row
                    .try_get::<Option<String>, _>("reason")?
                    .unwrap_or_default(),
                at,
            },
            (other, _) => {
                return Err(GrantError::Corrupt {
                    id: id.to_owned(),
                    what: format!("status {other:?}"),
                })
            }
        };
        Ok(Some(DataRequest {
            id: row.try_get("id")?,
            owner: row.try_get("owner")?,
            terms,
            filed_at: row.try_get("filed_at")?,
            status,
        }))
    }

    /// One grant.
    pub async fn grant(&self, id: &str) -> Result<Option<Grant>, GrantError> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS}, request_id, granted_at, revoked_at, revoke_reason \
             FROM exchange_grants WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| grant_of(&r)).transpose()
    }

    /// Every grant on the datasets `owner` publishes, newest first: what its officers review.
    pub async fn granted_by(&self, owner: &str) -> Result<Vec<Grant>, GrantError> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS}, request_id, granted_at, revoked_at, revoke_reason \
             FROM exchange_grants WHERE owner = $1 ORDER BY granted_at DESC, id"
        ))
        .bind(owner)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(grant_of).collect()
    }

    /// Every grant, revoked or not, that `consumer` holds on `dataset`, oldest first.
    pub async fn grants_of(&self, consumer: &str, dataset: &str) -> Result<Vec<Grant>, GrantError> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS}, request_id, granted_at, revoked_at, revoke_reason \
             FROM exchange_grants WHERE consumer = $1 AND dataset = $2 ORDER BY granted_at, id"
        ))
        .bind(consumer)
        .bind(dataset)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(grant_of).collect()
    }

    /// The requests waiting for `owner`'s decision, oldest first.
    pub async fn pending_for(&self, owner: &str) -> Result<Vec<DataRequest>, GrantError> {
        let ids = sqlx::query(
            "SELECT id FROM exchange_data_requests WHERE owner = $1 AND status = 'pending' \
             ORDER BY filed_at, id",
        )
        .bind(owner)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for r in ids {
            let id: String = r.try_get("id")?;
            out.extend(self.request(&id).await?);
        }
        Ok(out)
    }

    async fn pending(&self, request_id: &str, owner: &str) -> Result<DataRequest, GrantError> {
        let request = self
            .request(request_id)
            .await?
            .ok_or_else(|| GrantError::UnknownRequest(request_id.to_owned()))?;
        if request.owner != owner {
            return Err(GrantError::NotOwner {
                member: owner.to_owned(),
                dataset: request.terms.dataset,
                owner: request.owner,
            });
        }
        if request.status != RequestStatus::Pending {
            return Err(GrantError::AlreadyDecided(request_id.to_owned()));
        }
        Ok(request)
    }

    async fn is_member(&self, id: &str) -> Result<bool, GrantError> {
        Ok(sqlx::query("SELECT id FROM exchange_members WHERE id = $1")
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?
            .is_some())
    }

    async fn require_member(&self, id: &str) -> Result<(), GrantError> {
        if self.is_member(id).await? {
            Ok(())
        } else {
            Err(GrantError::UnknownMember(id.to_owned()))
        }
    }
}

/// The rules every request and grant keeps; returns the dataset they name.
fn check_terms(t: &Terms) -> Result<&'static Dataset, GrantError> {
    let dataset = Standard::builtin()
        .dataset(&t.dataset)
        .ok_or_else(|| GrantError::UnknownDataset(t.dataset.clone()))?;
    if t.fields.is_empty() {
        return Err(GrantError::NoFields);
    }
    for (i, f) in t.fields.iter().enumerate() {
        if dataset.field(f).is_none() {
            return Err(GrantError::UnknownField {
                dataset: dataset.id.clone(),
                field: f.clone(),
            });
        }
        if t.fields[..i].contains(f) {
            return Err(GrantError::RepeatedField(f.clone()));
        }
    }
    if t.valid_until <= t.valid_from {
        return Err(GrantError::EmptyPeriod);
    }
    if t.legal_basis.reference.trim().is_empty() {
        return Err(GrantError::EmptyLegalBasis);
    }
    if let Some(scope) = t.scope {
        if scope.level() > Level::County {
            return Err(GrantError::ScopeTooFine(scope));
        }
    }
    if t.mode == Mode::Bulk && t.legal_basis.kind != LegalBasisKind::Law {
        if let Some(f) = t
            .fields
            .iter()
            .find(|f| field_sensitivity(dataset, f) == Some(Sensitivity::SensitivePersonal))
        {
            return Err(GrantError::SensitiveBulkNeedsLaw {
                field: f.clone(),
                kind: t.legal_basis.kind.code(),
            });
        }
    }
    Ok(dataset)
}

fn fields_json(fields: &[String]) -> String {
    serde_json::to_string(fields).expect("a list of strings encodes as JSON")
}

fn terms_of(row: &sqlx::any::AnyRow) -> Result<Terms, GrantError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &dyn fmt::Display| GrantError::Corrupt {
        id: id.clone(),
        what: what.to_string(),
    };
    let fields: String = row.try_get("fields")?;
    let purpose: String = row.try_get("purpose")?;
    let kind: String = row.try_get("legal_basis_kind")?;
    let mode: String = row.try_get("mode")?;
    let scope: Option<String> = row.try_get("division_scope")?;
    Ok(Terms {
        consumer: row.try_get("consumer")?,
        dataset: row.try_get("dataset")?,
        fields: serde_json::from_str(&fields).map_err(|e| corrupt(&e))?,
        purpose: purpose.parse().map_err(|e| corrupt(&e))?,
        legal_basis: LegalBasis {
            kind: LegalBasisKind::parse(&kind).ok_or_else(|| corrupt(&kind))?,
            reference: row.try_get("legal_basis_ref")?,
        },
        valid_from: row.try_get("valid_from")?,
        valid_until: row.try_get("valid_until")?,
        scope: scope
            .map(|s| DivisionCode::parse(&s).map_err(|e| corrupt(&e)))
            .transpose()?,
        mode: Mode::parse(&mode).ok_or_else(|| corrupt(&mode))?,
    })
}

fn grant_of(row: &sqlx::any::AnyRow) -> Result<Grant, GrantError> {
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    Ok(Grant {
        id: row.try_get("id")?,
        request: row.try_get("request_id")?,
        owner: row.try_get("owner")?,
        terms: terms_of(row)?,
        granted_at: row.try_get("granted_at")?,
        revoked: revoked_at
            .map(|at| -> Result<Revocation, GrantError> {
                Ok(Revocation {
                    at,
                    reason: row
                        .try_get::<Option<String>, _>("revoke_reason")?
                        .unwrap_or_default(),
                })
            })
            .transpose()?,
    })
}
