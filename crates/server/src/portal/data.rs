//! What the portal's pages read from the domain crates, in one place: the data tracker, the
//! verification of one record, the policies' titles.

use std::collections::HashMap;
use std::sync::Arc;

use errandless_ledger::{Entry, Receipt};
use errandless_policy::Title;
use errandless_standards::CitizenId;

use super::{Lang, Portal};
use crate::tracker::{data_usage_of, DataUsage, TrackerError};

impl Portal {
    /// The policies' titles; read once, again when a policy is missing from them.
    pub(super) async fn policy_titles(&self) -> Result<Arc<HashMap<String, Title>>, String> {
        if let Some(titles) = self.titles.read().ok().and_then(|t| t.clone()) {
            return Ok(titles);
        }
        let titles = Arc::new(
            errandless_policy::enactment::titles(self.app.exchange.store())
                .await
                .map_err(|e| e.to_string())?,
        );
        if let Ok(mut slot) = self.titles.write() {
            *slot = Some(Arc::clone(&titles));
        }
        Ok(titles)
    }

    /// Forgets the titles, after an enactment.
    pub(super) fn forget_titles(&self) {
        if let Ok(mut slot) = self.titles.write() {
            *slot = None;
        }
    }

    /// The data tracker of `citizen`, each record proven into the current checkpoint.
    pub(super) async fn usages(&self, citizen: &CitizenId) -> Result<Vec<DataUsage>, TrackerError> {
        let config = &self.app.config;
        data_usage_of(
            &self.app.exchange,
            &config.ledger_dir,
            &config.datacenter_dir,
            &config.ledger_verifier,
            citizen,
            None,
        )
        .await
    }

    /// Verifies record `index` for `citizen`: the checkpoint's signature, the inclusion proof
    /// of the entry, and that the entry is about this citizen. Returns the index, the
    /// checkpoint's size, its root (base64) and origin; or why it failed, in words.
    pub(super) async fn verify_record(
        &self,
        citizen: &CitizenId,
        index: &str,
    ) -> Result<(u64, u64, String, String), String> {
        let index: u64 = index
            .trim()
            .parse()
            .map_err(|_| format!("{index:?} is not a record number"))?;
        let dir = self.app.config.ledger_dir.clone();
        let verifier = self.app.config.ledger_verifier.clone();
        let receipt = tokio::task::spawn_blocking(move || Receipt::prove(&dir, &verifier, index))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        // The receipt is checked again as its holder would: from its text alone.
        let receipt = Receipt::parse(&receipt.to_text()).map_err(|e| e.to_string())?;
        let (checkpoint, entry) = receipt
            .verify(&self.app.config.ledger_verifier, None)
            .map_err(|e| e.to_string())?;
        let entry = Entry::from_bytes(&entry).map_err(|e| e.to_string())?;
        if entry.subject != Some(self.app.exchange.subject_tag(citizen.as_str())) {
            return Err("this record is not about you".to_owned());
        }
        Ok((
            index,
            checkpoint.checkpoint.size,
            checkpoint.checkpoint.root.to_base64(),
            checkpoint.checkpoint.origin.clone(),
        ))
    }

    /// The citizen's cases not yet closed, and the finished ones still to rate, newest first.
    pub(super) async fn cases_of(
        &self,
        lang: Lang,
        citizen: &str,
    ) -> Result<Vec<super::citizen::CaseLine>, String> {
        let Some(apps) = &self.applications else {
            return Ok(Vec::new());
        };
        let cases = apps
            .cases
            .of_applicant(citizen)
            .await
            .map_err(|e| e.to_string())?;
        let catalogue = errandless_services::Catalogue::builtin();
        let rated = if cases.iter().any(|c| c.state.is_final()) {
            apps.cases
                .ratings()
                .rated_by(citizen)
                .await
                .map_err(|e| e.to_string())?
        } else {
            Default::default()
        };
        let mut out = Vec::new();
        for case in cases.into_iter().rev() {
            let finished = case.state.is_final();
            let rate = finished && !rated.contains(&case.id);
            if finished && !rate {
                continue;
            }
            out.push(super::citizen::CaseLine {
                id: case.id.to_string(),
                service: catalogue
                    .service(&case.service)
                    .map(|s| lang.pick(&s.title.zh, &s.title.en).to_owned())
                    .unwrap_or(case.service.clone()),
                state: super::services::state_name(case.state, lang),
                rate,
            });
        }
        Ok(out)
    }
}
