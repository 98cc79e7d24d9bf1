//! Staff roles and the decisions they allow. A role is held within a department (or all, for
//! roles that are not a department's) and within a division: the prefix of the 12-digit
//! division codes it covers, so a county auditor (`520102`) sees that county and the
//! townships and villages under it, and nothing beside it. The decision is one pure function,
//! [`decide`], so every endpoint asks the same question and the rules are tested in one place.

use std::fmt;
use std::str::FromStr;

use errandless_store::Store;
use sqlx::Row as _;

use crate::error::IdentityError;
use crate::token::Millis;

/// What a member of staff is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Handles a department's data requests, grants and cases.
    DepartmentOfficer,
    /// Writes, simulates and enacts policies.
    PolicyOfficer,
    /// Reads who accessed whose data, to audit it.
    Auditor,
    /// Runs the platform: keys, witnesses, clients. Sees no personal data.
    Operator,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::DepartmentOfficer,
        Role::PolicyOfficer,
        Role::Auditor,
        Role::Operator,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::DepartmentOfficer => "department_officer",
            Role::PolicyOfficer => "policy_officer",
            Role::Auditor => "auditor",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = StaffError;
    fn from_str(s: &str) -> Result<Role, StaffError> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| StaffError::UnknownRole(s.to_owned()))
    }
}

/// One role held by one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub account_id: String,
    pub role: Role,
    /// The department it is held in; empty for roles held across departments.
    pub department: String,
    /// The division-code prefix it covers; empty for the whole installation.
    pub division: String,
}

/// Something staff want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Read the data tracker of a citizen registered in `division` (a 12-digit code, or the
    /// county code from the ID number padded with zeros).
    ReadDataUsage { division: &'a str },
    /// Approve or reject a data request for a dataset `owner` publishes.
    DecideGrant { owner: &'a str },
    /// Enact a policy for `division`.
    EnactPolicy { division: &'a str },
    /// Reconcile the bank's status reports of payments made for `division`.
    ReconcilePayments { division: &'a str },
    /// Handle a case filed with `department` by an applicant registered in `division`.
    HandleCase {
        department: &'a str,
        division: &'a str,
    },
    /// Operate the platform (keys, clients, witnesses).
    Operate,
}

/// Why staff were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    #[error("{0:?} is not a role (department_officer, policy_officer, auditor, operator)")]
    UnknownRole(String),
    #[error("{0:?} is not a division-code prefix (up to 12 digits)")]
    InvalidDivision(String),
    #[error("a department officer needs a department")]
    DepartmentRequired,
    #[error("no role allows this")]
    Denied,
}

/// Whether `held` allows `action`. Refused unless some assignment allows it.
pub fn decide(held: &[Assignment], action: Action<'_>) -> Result<(), StaffError> {
    let covers =
        |a: &Assignment, division: &str| division.len() == 12 && division.starts_with(&a.division);
    let allowed = held.iter().any(|a| match (a.role, action) {
        (Role::Auditor, Action::ReadDataUsage { division }) => covers(a, division),
        (Role::DepartmentOfficer, Action::DecideGrant { owner }) => a.department == owner,
        (Role::PolicyOfficer, Action::EnactPolicy { division }) => covers(a, division),
        (Role::PolicyOfficer, Action::ReconcilePayments { division }) => covers(a, division),
        (Role::Operator, Action::ReconcilePayments { .. }) => true,
        (
            Role::DepartmentOfficer,
            Action::HandleCase {
                department,
                division,
            },
        ) => a.department == department && covers(a, division),
        (Role::Operator, Action::Operate) => true,
        _ => false,
    });
    if allowed {
        Ok(())
    } else {
        Err(StaffError::Denied)
    }
}

/// The staff roles of the installation.
#[derive(Clone, Debug)]
pub struct Staff {
    store: Store,
}

impl Staff {
    pub fn new(store: Store) -> Staff {
        Staff { store }
    }

    /// Gives an account a role. A department officer must name a department.
    pub async fn assign(
        &self,
        account_id: &str,
        role: Role,
        department: &str,
        division: &str,
        now: Millis,
    ) -> Result<(), IdentityError> {
        if division.len() > 12 || !division.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::Staff(StaffError::InvalidDivision(
                division.to_owned(),
            )));
        }
        if role == Role::DepartmentOfficer && department.trim().is_empty() {
            return Err(IdentityError::Staff(StaffError::DepartmentRequired));
        }
        sqlx::query(
            "INSERT INTO identity_staff_roles (account_id, role, department, division, granted_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, role, department, division) DO NOTHING",
        )
        .bind(account_id)
        .bind(role.code())
        .bind(department.trim())
        .bind(division)
        .bind(now)
        .execute(self.store.pool())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => IdentityError::UnknownAccount,
            _ => IdentityError::from(e),
        })?;
        Ok(())
    }

    /// Takes every role away from an account.
    pub async fn revoke_all(&self, account_id: &str) -> Result<u64, IdentityError> {
        Ok(
            sqlx::query("DELETE FROM identity_staff_roles WHERE account_id = $1")
                .bind(account_id)
                .execute(self.store.pool())
                .await?
                .rows_affected(),
        )
    }

    /// The roles an account holds (none for citizens).
    pub async fn of(&self, account_id: &str) -> Result<Vec<Assignment>, IdentityError> {
        let rows = sqlx::query(
            "SELECT account_id, role, department, division FROM identity_staff_roles \
             WHERE account_id = $1 ORDER BY role, department, division",
        )
        .bind(account_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Assignment {
                    account_id: r.try_get("account_id")?,
                    role: role.parse().map_err(IdentityError::Staff)?,
                    department: r.try_get("department")?,
                    division: r.try_get("division")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(role: Role, department: &str, division: &str) -> Vec<Assignment> {
        vec![Assignment {
            account_id: "a".into(),
            role,
            department: department.into(),
            division: division.into(),
        }]
    }

    #[test]
    fn a_county_officer_handles_their_department_and_county_only() {
        let officer = held(Role::DepartmentOfficer, "civil_affairs", "520102");
        let case = |department, division| Action::HandleCase {
            department,
            division,
        };
        assert!(decide(&officer, case("civil_affairs", "520102003001")).is_ok());
        for (department, division) in [
            ("civil_affairs", "520103003001"),
            ("public_security", "520102003001"),
            ("civil_affairs", "520102"),
        ] {
            assert_eq!(
                decide(&officer, case(department, division)),
                Err(StaffError::Denied),
                "{department} {division}"
            );
        }
        let auditor = held(Role::Auditor, "", "");
        assert_eq!(
            decide(&auditor, case("civil_affairs", "520102003001")),
            Err(StaffError::Denied)
        );
    }

    #[test]
    fn an_auditor_sees_their_division_and_below_only() {
        let county = held(Role::Auditor, "", "520102");
        assert!(decide(
            &county,
            Action::ReadDataUsage {
                division: "520102000000"
            }
        )
        .is_ok());
        assert!(decide(
            &county,
            Action::ReadDataUsage {
                division: "520102001003"
            }
        )
        .is_ok());
        assert_eq!(
            decide(
                &county,
                Action::ReadDataUsage {
                    division: "520103000000"
                }
            ),
            Err(StaffError::Denied)
        );
        assert_eq!(
            decide(&county, Action::ReadDataUsage { division: "5201" }),
            Err(StaffError::Denied),
            "a malformed code is no match"
        );
        let province = held(Role::Auditor, "", "");
        assert!(decide(
            &province,
            Action::ReadDataUsage {
                division: "530102000000"
            }
        )
        .is_ok());
    }

    #[test]
    fn each_role_does_its_own_job_and_nothing_else() {
        let officer = held(Role::DepartmentOfficer, "civil_affairs", "");
        assert!(decide(
            &officer,
            Action::DecideGrant {
                owner: "civil_affairs"
            }
        )
        .is_ok());
        assert!(decide(&officer, Action::DecideGrant { owner: "education" }).is_err());
        assert!(decide(
            &officer,
            Action::ReadDataUsage {
                division: "520102000000"
            }
        )
        .is_err());
        let operator = held(Role::Operator, "", "");
        assert!(decide(&operator, Action::Operate).is_ok());
        assert!(
            decide(
                &operator,
                Action::ReadDataUsage {
                    division: "520102000000"
                }
            )
            .is_err(),
            "operators see no personal data"
        );
        let policy = held(Role::PolicyOfficer, "", "52");
        assert!(decide(
            &policy,
            Action::EnactPolicy {
                division: "520102000000"
            }
        )
        .is_ok());
        assert!(decide(
            &policy,
            Action::EnactPolicy {
                division: "530102000000"
            }
        )
        .is_err());
        assert!(decide(
            &policy,
            Action::ReconcilePayments {
                division: "520000000000"
            }
        )
        .is_ok());
        assert!(decide(
            &operator,
            Action::ReconcilePayments {
                division: "520000000000"
            }
        )
        .is_ok());
        assert!(decide(
            &held(Role::Auditor, "", "52"),
            Action::ReconcilePayments {
                division: "520000000000"
            }
        )
        .is_err());
        assert!(
            decide(&[], Action::Operate).is_err(),
            "citizens hold no role"
        );
    }
}
