//! `errandless staff`: give a citizen's account a staff role, scoped by department and by
//! division-code prefix, list the roles, and take them away. The server decides every staff
//! request with `errandless_identity::decide` over these roles.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use errandless_identity::{Accounts, DevelopmentChannel, Outbox, Role, Secret, Staff};

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Give the account with this phone number a role.
    Add {
        /// The account's confirmed phone number.
        #[arg(long, value_name = "PHONE")]
        phone: String,
        /// department_officer, policy_officer, auditor or operator.
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// The department the role is held in (required for department officers).
        #[arg(long, value_name = "ID", default_value = "")]
        department: String,
        /// The division-code prefix it covers, e.g. 520102 for one county (default: all).
        #[arg(long, value_name = "PREFIX", default_value = "")]
        division: String,
    },
    /// List the roles of the account with this phone number.
    List {
        #[arg(long, value_name = "PHONE")]
        phone: String,
    },
    /// Take every role away from the account with this phone number.
    Remove {
        #[arg(long, value_name = "PHONE")]
        phone: String,
    },
}

pub fn run(cmd: StaffCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let store = settings.open_store().await?;
        errandless_identity::migrate(&store)
            .await
            .context("while preparing the identity tables")?;
        let secret = Secret::load_or_create(&store).await?;
        let outbox = Outbox::new(
            store.clone(),
            std::sync::Arc::new(DevelopmentChannel::new(store.clone())),
        );
        let accounts = Accounts::new(store.clone(), outbox, secret);
        let staff = Staff::new(store.clone());
        let account_of = |phone: String| {
            let accounts = accounts.clone();
            async move {
                accounts
                    .find_by_phone(&phone)
                    .await
                    .with_context(|| format!("no confirmed account has the phone number {phone}"))
            }
        };
        let result = match cmd {
            StaffCommand::Add {
                phone,
                role,
                department,
                division,
            } => {
                let role: Role = role.parse()?;
                let account = account_of(phone).await?;
                staff
                    .assign(
                        &account.id,
                        role,
                        &department,
                        &division,
                        errandless_identity::now_millis(),
                    )
                    .await
                    .with_context(|| format!("while giving {} the role {role}", account.id))?;
                println!(
                    "{} is {role} ({}, division {})",
                    account.id,
                    if department.is_empty() {
                        "all departments"
                    } else {
                        &department
                    },
                    if division.is_empty() {
                        "all"
                    } else {
                        &division
                    }
                );
                Ok(())
            }
            StaffCommand::List { phone } => {
                let account = account_of(phone).await?;
                for a in staff.of(&account.id).await? {
                    println!("{}\t{}\t{}", a.role, a.department, a.division);
                }
                Ok(())
            }
            StaffCommand::Remove { phone } => {
                let account = account_of(phone).await?;
                let n = staff.revoke_all(&account.id).await?;
                println!("{n} roles removed from {}", account.id);
                Ok(())
            }
        };
        store.close().await;
        result.map(|()| ExitCode::SUCCESS)
    })
}
