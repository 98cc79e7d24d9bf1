//! The demo's last step: citizens and staff to log in as, then the portal served.
//!
//! Each citizen is a resident of the synthetic province with an account made the way a real
//! one is: registered, the phone confirmed with the code the development channel carried,
//! and the real name checked against household registration through the exchange. The staff
//! accounts get their roles as `errandless staff assign` gives them.

use anyhow::{bail, Context as _};
use errandless_exchange::{FieldValue, Purpose, ReadRequest};
use errandless_identity::{now_millis, DevelopmentChannel, IdentityError, NewAccount, Role, Staff};
use errandless_payments::PaymentStatus;
use errandless_standards::CitizenId;
use errandless_store::Store;

use crate::serve_cmd::Opened;

/// The password every demo account gets.
pub(crate) const DEMO_PASSWORD: &str = "Errandless-demo-2026";

/// Someone to log in as.
pub(crate) struct Persona {
    pub who: &'static str,
    pub phone: String,
    pub name: String,
    pub citizen_id: String,
}

/// Finds the demo's citizens (a paid freshman, a paid elderly citizen, a near miss) and three
/// staff (a county officer, an auditor, a policy officer), and gives each an account.
pub(crate) async fn personas(opened: &Opened) -> anyhow::Result<Vec<Persona>> {
    let store = &opened.store;
    let paid = |policy: &'static str| async move { paid_subject(store, policy, true).await };
    // A small province may have no freshman with an account: one told to bind an account
    // shows the missing-data path instead.
    let freshman = match paid("freshman-subsidy").await? {
        Some(f) => f,
        None => paid_subject(store, "freshman-subsidy", false)
            .await?
            .context(
                "no freshman is eligible: the portal's demonstration needs one (try more --people)",
            )?,
    };
    let elderly = paid("elderly-allowance").await?;
    let mut chosen = vec![("freshman (paid)", freshman.clone())];
    if let Some(e) = elderly {
        chosen.push(("elderly citizen", e));
    }
    // A near miss, then two staff: people the pack decided about, living and registered.
    let mut candidates = Vec::new();
    for (policy, near_miss) in [
        ("elderly-allowance", true),
        ("disability-nursing-allowance", true),
        ("freshman-subsidy", true),
        ("disability-living-allowance", true),
        ("elderly-allowance", false),
    ] {
        let found = errandless_policy::enactment::examples(store, policy, near_miss, 50)
            .await
            .context("while looking for the demo's people")?;
        candidates.extend(found.into_iter().map(|d| (near_miss, d.subject)));
    }
    let mut named = Vec::new();
    for (who, id) in chosen {
        let name = registered_name(opened, &id)
            .await?
            .with_context(|| format!("{who} {id} is not a living registered resident"))?;
        named.push((who, id, name));
    }
    for want in ["near miss", "county officer", "auditor", "policy officer"] {
        for (near_miss, id) in &candidates {
            if (want == "near miss") != *near_miss || named.iter().any(|(_, taken, _)| taken == id)
            {
                continue;
            }
            if let Some(name) = registered_name(opened, id).await? {
                named.push((want, id.clone(), name));
                break;
            }
        }
    }
    if !named.iter().any(|(who, _, _)| *who == "auditor") {
        bail!("the province has too few people for the demo's staff accounts (try more --people)");
    }
    let mut out = Vec::new();
    for (n, (who, id, name)) in named.into_iter().enumerate() {
        let phone = format!("1390000{:04}", n + 1);
        account(opened, &id, &name, &phone).await?;
        out.push(Persona {
            who,
            phone,
            name,
            citizen_id: id,
        });
    }
    // Staff work where the case is filed: the county that issued the freshman's ID number.
    let freshman_county = freshman
        .parse::<CitizenId>()
        .map(|c| c.issuing_division()[..6].to_owned())
        .context("the freshman's ID number")?;
    let staff = Staff::new(store.clone());
    let accounts = opened.identity.provider.accounts();
    let now = now_millis();
    for p in &out {
        let (role, department, division) = match p.who {
            "county officer" => (
                Role::DepartmentOfficer,
                "education",
                freshman_county.as_str(),
            ),
            "auditor" => (
                Role::Auditor,
                "",
                freshman_county.get(..2).unwrap_or_default(),
            ),
            // Simulates and enacts the province's policies from the console.
            "policy officer" => (
                Role::PolicyOfficer,
                "",
                freshman_county.get(..2).unwrap_or_default(),
            ),
            _ => continue,
        };
        let account = accounts.find_by_phone(&p.phone).await?;
        staff
            .assign(&account.id, role, department, division, now)
            .await
            .with_context(|| format!("while giving the {} a role", p.who))?;
    }
    Ok(out)
}

/// Whether some freshman has been paid, so the portal can show one.
pub(crate) async fn freshman_paid(settings: &crate::config::Settings) -> anyhow::Result<bool> {
    let store = settings.open_store().await?;
    let found = paid_subject(&store, "freshman-subsidy", true).await?;
    store.close().await;
    Ok(found.is_some())
}

/// A subject paid under `policy` (or only eligible, unless `paid`), if any.
async fn paid_subject(store: &Store, policy: &str, paid: bool) -> anyhow::Result<Option<String>> {
    let examples = errandless_policy::enactment::examples(store, policy, false, 200)
        .await
        .with_context(|| format!("while looking for a payee of {policy}"))?;
    if !paid {
        return Ok(examples.into_iter().next().map(|d| d.subject));
    }
    for d in examples {
        let received = errandless_payments::entitlements_of(store, &d.subject).await?;
        if received
            .iter()
            .any(|r| r.policy_id == policy && r.status == PaymentStatus::Paid)
        {
            return Ok(Some(d.subject));
        }
    }
    Ok(None)
}

/// The household-registration status of a living resident.
const REGISTERED: &str = "registered";

/// The registered name of `id` if they are a living resident: a signed per-subject read of
/// household registration through the exchange, as the identity member (the grant that the
/// real-name check uses), recorded in the ledger like any other.
async fn registered_name(opened: &Opened, id: &str) -> anyhow::Result<Option<String>> {
    let (member, key) = opened
        .prefill_as
        .as_ref()
        .context("the identity member has no key to read household registration with")?;
    let request = ReadRequest {
        request_id: crate::demo_cmd::request_id()?,
        consumer: member.clone(),
        dataset: errandless_identity::RESIDENT_DATASET.into(),
        subject: id.to_owned(),
        fields: vec!["name".into(), "status".into()],
        purpose: Purpose::IdentityVerification.code().into(),
    };
    let answer = opened
        .exchange
        .read(&request.sign(key))
        .await
        .with_context(|| format!("while reading the registration of {id}"))?;
    let text = |row: &errandless_exchange::Row, field: &str| match row.get(field) {
        Some(FieldValue::Text(s)) => s.trim().to_owned(),
        _ => String::new(),
    };
    Ok(answer
        .response
        .rows
        .iter()
        .find(|row| text(row, "status") == REGISTERED)
        .map(|row| text(row, "name")))
}

/// An account for a resident, made as a citizen makes one; kept if it exists already.
async fn account(opened: &Opened, id: &str, name: &str, phone: &str) -> anyhow::Result<()> {
    let accounts = opened.identity.provider.accounts();
    if accounts.find_by_phone(phone).await.is_ok() {
        return Ok(());
    }
    let now = now_millis();
    let new = NewAccount {
        citizen_id: id.to_owned(),
        name: name.to_owned(),
        phone: phone.to_owned(),
        password: DEMO_PASSWORD.to_owned(),
    };
    let account = match accounts.register(&new, now).await {
        Ok(a) => a,
        Err(IdentityError::PhoneTaken) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("while registering {phone}")),
    };
    accounts.deliver().await?;
    let messages = DevelopmentChannel::new(opened.store.clone())
        .messages_to(phone)
        .await?;
    let code: String = messages
        .last()
        .map(|m| {
            m.body
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect()
        })
        .unwrap_or_default();
    accounts
        .confirm_phone(&account.id, &code, now)
        .await
        .with_context(|| format!("while confirming {phone}"))?;
    let registry =
        opened.identity.registry.as_ref().context(
            "the identity provider has no household registration to check names against",
        )?;
    accounts
        .check_real_name(&account.id, registry, now)
        .await
        .with_context(|| format!("while checking the real name of {phone}"))?;
    Ok(())
}
