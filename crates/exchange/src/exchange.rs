//! The exchange itself: members, grants and islands together, answering per-subject reads.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use errandless_ledger::{Entry, Kind, Sequencer, SubjectKey, SubjectTag};
use errandless_standards::{CitizenId, DivisionCode, Standard, SubjectLink, Uscc};
use errandless_store::Store;
use serde_json::json;

use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::connector::Islands;
use crate::grant::{DataRequest, Grant, GrantError, GrantState, Grants, Mode, Terms};
use crate::journal::{Journal, Rows, SeenCheck};
use crate::member::{Member, Members};
use crate::purpose::Purpose;
use crate::read::{
    check_shape, request_signed_by, sign_response, ReadError, ReadRequest, ReadResponse,
    SignedReadRequest, SignedResponse,
};
use crate::recorder::{Recorder, RecorderError};
use crate::sync::SyncError;
use crate::Millis;
use errandless_standards::Clock;

/// The exchange: it checks each read against the member register and the grants, reads the
/// island through its connector, signs the answer with the owner's key, and records every
/// read, allowed or refused, in the ledger.
///
/// The ledger belongs to a [`Recorder`] thread that appends whatever reads are waiting as one
/// batch with one fsync; the rows a read leaves in the store are committed the same way
/// (`journal`). Members and grants are cached (`cache`) and dropped from the cache by every
/// write of a member or grant. Island reads run on the blocking pool, off the async workers.
pub struct Exchange {
    store: Store,
    members: Members,
    grants: Grants,
    islands: Arc<Islands>,
    recorder: Recorder,
    journal: Journal,
    seen: SeenCheck,
    member_cache: Cache<String, Option<Member>>,
    grant_cache: Cache<(String, String), Vec<Grant>>,
    /// Request ids past the replay check whose use is not yet committed: `(consumer, id)`.
    in_flight: Arc<Mutex<HashSet<(String, String)>>>,
    subject_key: SubjectKey,
    /// The owners' signing keys, as an owner's X-Road security server holds its own.
    owner_keys: BTreeMap<String, SigningKey>,
    /// What time it is when a read or a sync does not say.
    clock: Clock,
}

/// A request id held as in use until the read that used it is committed.
struct InFlight {
    set: Arc<Mutex<HashSet<(String, String)>>>,
    key: (String, String),
    at: Millis,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.key);
        }
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("store", &self.store)
            .field("islands", &self.islands)
            .field("owners", &self.owner_keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What a grant check found: the grant to read under, or why none will do.
enum Verdict {
    Allowed(Grant),
    Refused(ReadError),
}

impl Exchange {
    /// An exchange over a migrated `store` ([`crate::migrate`]), the open `islands`, the
    /// `ledger` it records reads in, and the platform secret that turns ID numbers into tags.
    /// The ledger is handed to a new [`Recorder`] thread, which stops when the exchange is
    /// dropped.
    pub fn new(store: Store, islands: Islands, ledger: Sequencer, subject_key: SubjectKey) -> Self {
        Exchange {
            members: Members::new(store.clone()),
            grants: Grants::new(store.clone()),
            store,
            islands: Arc::new(islands),
            recorder: Recorder::spawn(ledger),
            journal: Journal::default(),
            seen: SeenCheck::default(),
            member_cache: Cache::new(),
            grant_cache: Cache::new(),
            in_flight: Arc::default(),
            subject_key,
            owner_keys: BTreeMap::new(),
            clock: Clock::system(),
        }
    }

    /// The exchange, asking `clock` the time of the reads and syncs that do not give one.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock the exchange reads and syncs by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Gives the exchange an owner's signing key, with which it signs that owner's answers.
    pub fn add_owner_key(&mut self, owner: &str, key: SigningKey) {
        self.owner_keys.insert(owner.to_owned(), key);
    }

    pub fn members(&self) -> &Members {
        &self.members
    }

    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    pub fn islands(&self) -> &Islands {
        &self.islands
    }

    /// The platform store the exchange records in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The keyed hash by which the ledger names `id_number`'s subject.
    pub fn subject_tag(&self, id_number: &str) -> SubjectTag {
        self.subject_key.tag(id_number)
    }

    /// The platform secret that turns ID numbers into ledger tags, for the other writers of
    /// this process.
    pub fn subject_key(&self) -> &SubjectKey {
        &self.subject_key
    }

    /// The number of entries in the ledger.
    pub fn ledger_size(&self) -> u64 {
        self.recorder.size()
    }

    /// Appends already encoded ledger entries together, in order, and returns their indexes
    /// once they are durable: many entries, one fsync, shared with the reads waiting then.
    pub async fn append_entries(&self, entries: Vec<Vec<u8>>) -> Result<Range<u64>, RecorderError> {
        self.recorder.append(entries).await
    }

    /// The ledger, for the other writers of this process (see [`Recorder::ledger`]).
    pub fn ledger(&self) -> Arc<tokio::sync::Mutex<Sequencer>> {
        self.recorder.ledger()
    }

    /// The recorder thread that owns the ledger.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The published datasets.
    pub fn catalog(&self) -> Catalog {
        Catalog::new(self.islands.published())
    }

    /// Files a data request ([`Grants::file`]) and records it in the ledger.
    pub async fn file_request(&self, terms: Terms, now: Millis) -> Result<DataRequest, GrantError> {
        let request = self.grants.file(terms, now).await?;
        self.record_grant_event(
            &request.terms.consumer,
            "filed",
            &request.id,
            &request.terms,
            now,
        )
        .await?;
        Ok(request)
    }

    /// Approves a data request ([`Grants::approve`]) and records the grant in the ledger.
    pub async fn approve(
        &self,
        request: &str,
        owner: &str,
        now: Millis,
    ) -> Result<Grant, GrantError> {
        let grant = self.grants.approve(request, owner, now).await?;
        self.record_grant_event(owner, "approved", &grant.id, &grant.terms, now)
            .await?;
        Ok(grant)
    }

    /// Rejects a data request ([`Grants::reject`]) and records the rejection in the ledger.
    pub async fn reject(
        &self,
        request: &str,
        owner: &str,
        reason: &str,
        now: Millis,
    ) -> Result<DataRequest, GrantError> {
        let rejected = self.grants.reject(request, owner, reason, now).await?;
        self.record_grant_event(owner, "rejected", &rejected.id, &rejected.terms, now)
            .await?;
        Ok(rejected)
    }

    /// Revokes a grant ([`Grants::revoke`]) and records the revocation in the ledger.
    pub async fn revoke(
        &self,
        grant: &str,
        owner: &str,
        reason: &str,
        now: Millis,
    ) -> Result<Grant, GrantError> {
        let revoked = self.grants.revoke(grant, owner, reason, now).await?;
        self.record_grant_event(owner, "revoked", &revoked.id, &revoked.terms, now)
            .await?;
        Ok(revoked)
    }

    /// A `grant` entry: who acted, on which request or grant, with its terms. The decision is
    /// already stored; a ledger failure is reported so the caller can retry the record.
    async fn record_grant_event(
        &self,
        actor: &str,
        event: &str,
        id: &str,
        t: &Terms,
        now: Millis,
    ) -> Result<(), GrantError> {
        let ledger_error = |e: &dyn std::fmt::Display| GrantError::Ledger(e.to_string());
        let mut entry = Entry::new(Kind::new(Kind::GRANT).map_err(|e| ledger_error(&e))?, actor)
            .map_err(|e| ledger_error(&e))?;
        entry.purpose = Some(t.purpose.code().to_owned());
        entry.time = Some(u64::try_from(now / 1000).unwrap_or_default());
        entry.body = json!({
            "event": event,
            "id": id,
            "consumer": t.consumer,
            "dataset": t.dataset,
            "fields": t.fields,
            "legal_basis": { "kind": t.legal_basis.kind.code(), "reference": t.legal_basis.reference },
            "valid_from": t.valid_from,
            "valid_until": t.valid_until,
            "scope": t.scope.map(|s| s.to_string()),
            "mode": t.mode.code(),
        });
        let bytes = entry.to_bytes().map_err(|e| ledger_error(&e))?;
        self.recorder
            .append(vec![bytes])
            .await
            .map_err(|e| ledger_error(&e))?;
        Ok(())
    }

    /// The ledger leaves that record reads of `subject`'s data, oldest first: per-subject reads
    /// from the access index, bulk syncs from the delta files of the snapshots in
    /// `datacenter` (see [`Exchange::bulk_accesses_of`]).
    pub async fn accesses_of(
        &self,
        subject: &str,
        datacenter: &Path,
    ) -> Result<Vec<u64>, ReadError> {
        let tag = self.subject_key.tag(subject).to_hex();
        let rows =
            sqlx::query("SELECT leaf FROM exchange_access_index WHERE subject = $1 ORDER BY leaf")
                .bind(tag)
                .fetch_all(self.store.pool())
                .await?;
        let mut leaves = rows
            .iter()
            .map(|r| {
                let leaf: i64 = sqlx::Row::try_get(r, "leaf")?;
                Ok(u64::try_from(leaf).unwrap_or_default())
            })
            .collect::<Result<Vec<u64>, ReadError>>()?;
        let bulk = self
            .bulk_accesses_of(subject, datacenter)
            .await
            .map_err(|e| match e {
                SyncError::Database(e) => ReadError::from(e),
                e => ReadError::Snapshot(e.to_string()),
            })?;
        leaves.extend(bulk);
        leaves.sort_unstable();
        leaves.dedup();
        Ok(leaves)
    }

    /// Answers a per-subject read now.
    pub async fn read(&self, request: &SignedReadRequest) -> Result<SignedResponse, ReadError> {
        self.read_at(request, self.clock.now_millis()).await
    }

    /// Answers a per-subject read as at `now`. The checks run in this order, and the first
    /// that fails is the refusal: shape, consumer, signature, replay, dataset, purpose, subject,
    /// grant (validity, then fields, then division scope). Allowed or refused, the read is
    /// appended to the ledger, and indexed by subject, before this returns.
    pub async fn read_at(
        &self,
        request: &SignedReadRequest,
        now: Millis,
    ) -> Result<SignedResponse, ReadError> {
        let r = &request.request;
        let well_formed = check_shape(r).is_ok();
        let subject = if well_formed { subject_of(r) } else { None };
        let mut in_flight = None;
        let outcome = self.decide(request, now, &mut in_flight).await;
        let (code, grant, owner) = match &outcome {
            Ok((grant, _)) => ("allowed", Some(grant.id.clone()), Some(grant.owner.clone())),
            Err(e) => (e.code(), None, None),
        };
        let tag = subject.as_ref().map(|(s, _)| self.subject_key.tag(s));
        let leaf = self
            .record(
                r,
                well_formed,
                tag,
                code,
                grant.as_deref(),
                now,
                in_flight.as_ref(),
            )
            .await?;
        drop(in_flight);
        let (grant, rows) = outcome?;
        let owner = owner.unwrap_or_default();
        let key = self
            .owner_keys
            .get(&owner)
            .ok_or_else(|| ReadError::OwnerKeyUnavailable(owner.clone()))?;
        let response = ReadResponse {
            request_id: r.request_id.clone(),
            request_hash: r.hash(),
            consumer: r.consumer.clone(),
            owner,
            dataset: r.dataset.clone(),
            purpose: r.purpose.clone(),
            grant: grant.id,
            rows,
            served_at: now,
            ledger_index: leaf,
        };
        Ok(sign_response(response, key))
    }

    /// Every check, and the island read if they pass.
    async fn decide(
        &self,
        request: &SignedReadRequest,
        now: Millis,
        in_flight: &mut Option<InFlight>,
    ) -> Result<(Grant, Vec<crate::Row>), ReadError> {
        let r = &request.request;
        check_shape(r)?;
        let member = self
            .member(&r.consumer)
            .await?
            .ok_or_else(|| ReadError::UnknownConsumer(r.consumer.clone()))?;
        if !request_signed_by(request, &member.key) {
            return Err(ReadError::BadSignature);
        }
        *in_flight = Some(self.remember(&r.consumer, &r.request_id, now).await?);
        if self.islands.connector(&r.dataset).is_none() {
            return Err(ReadError::UnknownDataset(r.dataset.clone()));
        }
        let purpose: Purpose = r
            .purpose
            .parse()
            .map_err(|_| ReadError::UnknownPurpose(r.purpose.clone()))?;
        let (subject, division) = parse_subject(r)?;
        let grants = self.grants_of(&r.consumer, &r.dataset).await?;
        let grant = match choose(&grants, r, purpose, division, now) {
            Verdict::Allowed(g) => g,
            Verdict::Refused(e) => return Err(e),
        };
        if !self.owner_keys.contains_key(&grant.owner) {
            return Err(ReadError::OwnerKeyUnavailable(grant.owner.clone()));
        }
        let rows = self.lookup(&r.dataset, subject, &r.fields).await?;
        Ok((grant, rows))
    }

    /// The member, from the cache or the store.
    async fn member(&self, id: &str) -> Result<Option<Member>, ReadError> {
        let key = id.to_owned();
        let (hit, generation) = self.member_cache.get(&key);
        if let Some(member) = hit {
            return Ok(member);
        }
        let member = self.members.get(id).await?;
        self.member_cache.put(key, member.clone(), generation);
        Ok(member)
    }

    /// The grants of a consumer on a dataset, from the cache or the store.
    async fn grants_of(&self, consumer: &str, dataset: &str) -> Result<Vec<Grant>, ReadError> {
        let key = (consumer.to_owned(), dataset.to_owned());
        let (hit, generation) = self.grant_cache.get(&key);
        if let Some(grants) = hit {
            return Ok(grants);
        }
        let grants = self.grants.grants_of(consumer, dataset).await?;
        self.grant_cache.put(key, grants.clone(), generation);
        Ok(grants)
    }

    /// Reads the island. A SQLite island answers a lookup by its index in microseconds, on the
    /// calling thread: handing it to another thread and back cost more than the lookup itself.
    /// A PostgreSQL island is read asynchronously.
    async fn lookup(
        &self,
        dataset: &str,
        subject: String,
        fields: &[String],
    ) -> Result<Vec<crate::Row>, ReadError> {
        self.islands
            .lookup(dataset, &subject, fields)
            .await
            .map_err(ReadError::Island)
    }

    /// Holds the request id as used; a second use by the same consumer is a replay, whether
    /// the first is still in flight or committed. The use is committed with the read's record.
    async fn remember(
        &self,
        consumer: &str,
        request_id: &str,
        now: Millis,
    ) -> Result<InFlight, ReadError> {
        let key = (consumer.to_owned(), request_id.to_owned());
        let fresh = self
            .in_flight
            .lock()
            .map_err(|_| ReadError::Database("the replay guard is poisoned".into()))?
            .insert(key.clone());
        if !fresh {
            return Err(ReadError::ReplayedRequest(request_id.to_owned()));
        }
        let held = InFlight {
            set: Arc::clone(&self.in_flight),
            key,
            at: now,
        };
        let seen = self
            .seen
            .seen(&self.store, consumer, request_id)
            .await
            .map_err(ReadError::Database)?;
        if seen {
            return Err(ReadError::ReplayedRequest(request_id.to_owned()));
        }
        Ok(held)
    }

    /// Appends the read's ledger entry (durable on return), then commits its request id's use
    /// and its line in the subject index.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        r: &crate::ReadRequest,
        well_formed: bool,
        subject: Option<SubjectTag>,
        outcome: &str,
        grant: Option<&str>,
        now: Millis,
        used: Option<&InFlight>,
    ) -> Result<u64, ReadError> {
        let kind = if outcome == "allowed" {
            Kind::ACCESS
        } else {
            Kind::REFUSAL
        };
        let actor = if well_formed {
            r.consumer.as_str()
        } else {
            "unknown"
        };
        let ledger_error = |e: &dyn std::fmt::Display| ReadError::Ledger(e.to_string());
        let mut entry = Entry::new(Kind::new(kind).map_err(|e| ledger_error(&e))?, actor)
            .map_err(|e| ledger_error(&e))?;
        let mut body = json!({
            "operation": "exchange.read",
            "outcome": outcome,
            "request_hash": r.hash(),
        });
        if well_formed {
            entry.purpose = Some(r.purpose.clone());
            body["request_id"] = json!(r.request_id);
            body["dataset"] = json!(r.dataset);
            body["fields"] = json!(r.fields);
        }
        if let Some(g) = grant {
            body["grant"] = json!(g);
        }
        entry.subject = subject;
        entry.time = Some(u64::try_from(now / 1000).unwrap_or_default());
        entry.body = body;
        let bytes = entry.to_bytes().map_err(|e| ledger_error(&e))?;
        // The journal's rows are written while the ledger's fsync runs: a read then waits for
        // one round of fsyncs, not two in a row.
        let mut placement = self
            .recorder
            .append_placed(vec![bytes])
            .map_err(|e| ledger_error(&e))?;
        let leaf = placement
            .placed()
            .await
            .map_err(|e| ledger_error(&e))?
            .start;
        let leaf_number = i64::try_from(leaf).unwrap_or(i64::MAX);
        let seen = used.map(|u| (u.key.0.clone(), u.key.1.clone(), u.at));
        let access = subject.map(|tag| {
            (
                tag.to_hex(),
                leaf_number,
                actor.to_owned(),
                if well_formed {
                    r.dataset.clone()
                } else {
                    String::new()
                },
                outcome.to_owned(),
                now,
            )
        });
        let taken_back = (seen.clone(), access.as_ref().map(|a| a.0.clone()));
        let (durable, written) = tokio::join!(
            placement.durable(),
            self.journal.write(&self.store, Rows { seen, access })
        );
        if let Err(e) = durable {
            // The rows name an entry that was never written: take them back, so the request id
            // may be used again and the leaf, which the next entry will take, is not indexed.
            if written.is_ok() {
                let _ = self
                    .journal
                    .take_back(&self.store, taken_back, leaf_number)
                    .await;
            }
            return Err(ledger_error(&e));
        }
        written.map_err(ReadError::Database)?;
        Ok(leaf)
    }
}

/// Picks a grant that allows the read, or the most telling refusal: with no grant in force,
/// revoked before expired before not yet valid; with grants in force, a missing field before
/// a subject outside scope.
fn choose(
    grants: &[Grant],
    request: &ReadRequest,
    purpose: Purpose,
    division: Option<DivisionCode>,
    now: Millis,
) -> Verdict {
    let fields = &request.fields;
    let candidates: Vec<&Grant> = grants
        .iter()
        .filter(|g| g.terms.purpose == purpose && g.terms.mode == Mode::PerSubject)
        .collect();
    let in_force: Vec<&Grant> = candidates
        .iter()
        .copied()
        .filter(|g| g.state_at(now) == GrantState::Valid)
        .collect();
    if in_force.is_empty() {
        let with = |s: GrantState| candidates.iter().rev().find(|g| g.state_at(now) == s);
        return Verdict::Refused(if let Some(g) = with(GrantState::Revoked) {
            ReadError::GrantRevoked(g.id.clone())
        } else if let Some(g) = with(GrantState::Expired) {
            ReadError::GrantExpired(g.id.clone())
        } else if let Some(g) = with(GrantState::NotYetValid) {
            ReadError::GrantNotYetValid(g.id.clone())
        } else {
            ReadError::NoGrant {
                consumer: request.consumer.clone(),
                dataset: request.dataset.clone(),
                purpose: purpose.code().to_owned(),
            }
        });
    }
    let covering: Vec<&Grant> = in_force
        .iter()
        .copied()
        .filter(|g| g.covers(fields))
        .collect();
    if covering.is_empty() {
        let missing = fields
            .iter()
            .find(|f| !in_force.iter().any(|g| g.terms.fields.contains(f)))
            .or_else(|| fields.first())
            .cloned()
            .unwrap_or_default();
        return Verdict::Refused(ReadError::FieldNotGranted(missing));
    }
    match covering.into_iter().find(|g| g.in_scope(division)) {
        Some(g) => Verdict::Allowed(g.clone()),
        None => Verdict::Refused(ReadError::SubjectOutsideScope),
    }
}

/// The subject in canonical form and the division it belongs to, if the request's subject
/// parses; used for the ledger tag even when the read is refused for another reason.
fn subject_of(r: &crate::ReadRequest) -> Option<(String, Option<DivisionCode>)> {
    parse_subject(r).ok()
}

/// Parses the subject as the dataset's subject kind wants it: a GB 11643 ID number for
/// datasets about people, a GB 32100 code for organisations. Its division is the county of
/// the ID's address code, or of the code's registration authority (see [`crate::Grants`]).
fn parse_subject(r: &crate::ReadRequest) -> Result<(String, Option<DivisionCode>), ReadError> {
    let organisation = Standard::builtin()
        .dataset(&r.dataset)
        .is_some_and(|d| matches!(d.subject, SubjectLink::Organisation { .. }));
    let text = r.subject.trim();
    if organisation {
        let code = Uscc::parse(text).map_err(|e| ReadError::MalformedSubject {
            expected: "social credit code",
            rule: e.to_string(),
        })?;
        let division = code.as_str().get(2..8).and_then(county);
        Ok((code.as_str().to_owned(), division))
    } else {
        let id = CitizenId::parse(text).map_err(|e| ReadError::MalformedSubject {
            expected: "citizen ID number",
            rule: e.to_string(),
        })?;
        let division = county(&format!("{:06}", id.address_code()));
        Ok((id.as_str().to_owned(), division))
    }
}

/// A six-digit GB/T 2260 code as a 12-digit county-level division code.
fn county(six: &str) -> Option<DivisionCode> {
    DivisionCode::parse(&format!("{six}000000")).ok()
}
