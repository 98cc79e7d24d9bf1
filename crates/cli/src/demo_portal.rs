//! The demo's last step: citizens and staff to log in as, then the portal served.
//!
//! Each citizen is a resident of the synthetic province with an account made the way a real
//! one is: registered, the phone confirmed with the code the development channel carried,
//! and the real name checked against household registration through the exchange. The staff
//! accounts get their roles as `errandless staff assign` gives them.

use std::collections::HashMap;

use anyhow::{bail, Context as _};
use errandless_exchange::FieldValue;
use errandless_identity::{now_millis, DevelopmentChannel, IdentityError, NewAccount, Role, Staff};
use errandless_payments::PaymentStatus;
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

/// Finds the demo's citizens (a paid freshman, a paid elderly citizen, a near miss) and two
/// staff (a county officer, an auditor), and gives each an account.
pub(crate) async fn personas(opened: &Opened) -> anyhow::Result<Vec<Persona>> {
    let store = &opened.store;
    let paid = |policy: &'static str| async move { paid_subject(store, policy, true).await };
    let freshman = paid("freshman-subsidy-2026").await?;
    let elderly = paid("elderly-allowance-2026").await?;
    let residents = residents(opened)?;
    let mut near = None;
    'policies: for policy in [
        "elderly-allowance-2026",
        "disability-nursing-allowance-2026",
        "freshman-subsidy-2026",
        "disability-living-allowance-2026",
    ] {
        let found = errandless_policy::enactment::examples(store, policy, true, 50)
            .await
            .context("while looking for a near miss")?;
        for d in found {
            if residents.contains_key(&d.subject) {
                near = Some(d.subject);
                break 'policies;
            }
        }
    }
    let county = |id: &str| {
        residents
            .get(id)
            .map(|(_, division)| division.get(..6).unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    // A small province may have no freshman with an account: one told to bind an account
    // shows the missing-data path instead.
    let freshman = match freshman {
        Some(f) => f,
        None => paid_subject(store, "freshman-subsidy-2026", false)
            .await?
            .context(
                "no freshman is eligible: the portal's demonstration needs one (try more --people)",
            )?,
    };
    let freshman_county = county(&freshman);
    // Staff are residents too: two people of the freshman's county who are none of the above.
    let taken = [Some(&freshman), elderly.as_ref(), near.as_ref()];
    let mut staff = residents
        .iter()
        .filter(|(id, (_, division))| {
            division.starts_with(&freshman_county) && !taken.contains(&Some(*id))
        })
        .map(|(id, _)| id.clone())
        .collect::<Vec<_>>();
    staff.sort();
    let (Some(officer), Some(auditor)) = (staff.first().cloned(), staff.get(1).cloned()) else {
        bail!("the freshman's county has too few residents for two staff accounts");
    };
    let mut chosen = vec![("freshman (paid)", freshman)];
    if let Some(e) = elderly {
        chosen.push(("elderly citizen", e));
    }
    if let Some(n) = near {
        chosen.push(("near miss", n));
    }
    chosen.push(("county officer", officer.clone()));
    chosen.push(("auditor", auditor.clone()));
    let mut out = Vec::new();
    for (n, (who, id)) in chosen.into_iter().enumerate() {
        let (name, _) = residents
            .get(&id)
            .with_context(|| format!("{who} {id} is not in household registration"))?;
        let phone = format!("1390000{:04}", n + 1);
        account(opened, &id, name, &phone).await?;
        out.push(Persona {
            who,
            phone,
            name: name.clone(),
            citizen_id: id,
        });
    }
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
    let found = paid_subject(&store, "freshman-subsidy-2026", true).await?;
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

/// Every living registered resident's name and division code, by ID number.
fn residents(opened: &Opened) -> anyhow::Result<HashMap<String, (String, String)>> {
    let mut out = HashMap::new();
    opened
        .exchange
        .islands()
        .scan(
            "public_security.resident",
            &[
                "name".to_owned(),
                "division_code".to_owned(),
                "status".to_owned(),
            ],
        )
        .context("while opening household registration")?
        .for_each::<anyhow::Error>(
            |_| {},
            |row| {
                if let [FieldValue::Text(id), FieldValue::Text(name), FieldValue::Text(division), FieldValue::Text(status), ..] =
                    row.as_slice()
                {
                    if status == REGISTERED {
                        out.insert(id.clone(), (name.clone(), division.clone()));
                    }
                }
                Ok(())
            },
        )
        .context("while reading household registration")?;
    Ok(out)
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
