//! Benefit policies as code (政策即代码).
//!
//! A policy is a TOML file: bilingual titles, its legal basis, a validity period, the data
//! elements of the unified standard it reads (`[inputs]`, joined on the subject), conditions
//! written as SQL boolean expressions each citing its article (with `near_miss = false` on a
//! condition whose failure alone is no near miss, such as the age of an old-age allowance),
//! the eligibility combination and
//! exclusions, an amount in integer fen with the input that holds the payee's account and a
//! frequency (one-off, or monthly over the validity period), and `[[test]]` examples: persons
//! with inputs and the decision expected for them, the policy author's own unit tests. The
//! demonstration pack lives in `policies/` at the root of the repository.
//!
//! ```toml
//! id = "freshman-subsidy"
//! title = { zh = "建档立卡家庭大学新生资助", en = "Freshman subsidy for registered poor households" }
//! legal_basis = [{ ref = "Provincial Notice 2026-12, art. 3" }]
//! subject = "person"
//! valid = { from = "2026-07-01", to = "2026-12-31" }
//! [inputs]
//! household_status = "rural_revitalisation.poor_household.status"
//! admitted_year = "education.admission.year"
//! account = "finance.one_card.account"
//! [[condition]]
//! id = "registered_poor"
//! when = "household_status IN ('active', 'monitored')"
//! cite = "art. 2"
//! ```
//!
//! [`Policy::load`] and [`Policy::parse`] check a file without any data and return every
//! error with its file, line and column and a stable [`ErrorKind`]:
//!
//! - the TOML shape (unknown or missing keys, malformed dates, amount, `pay_to` and
//!   `frequency` given together or not at all);
//! - every input names an existing `department.dataset.field` of the standard
//!   ([`errandless_standards::Standard::builtin`]);
//! - every expression parses with the SQL parser DataFusion uses (`sqlparser` 0.62) and uses
//!   only literals, inputs, condition ids (not inside conditions), comparisons, `AND`/`OR`/
//!   `NOT`, `IS [NOT] NULL`, `[NOT] IN`, `BETWEEN`, `+ - * / %`, `CASE`, `CAST` and
//!   `COALESCE`/`LEAST`/`GREATEST`;
//! - types: text, numbers, dates (ISO text, compared only with `'YYYY-MM-DD'` literals or
//!   `DATE '…'`) and booleans are not mixed; conditions, eligibility and exclusions are
//!   boolean; the amount is an integer: a decimal literal, a real element or any division
//!   makes it refused unless wrapped in `CAST(… AS BIGINT)`. Money is integer fen throughout;
//! - a literal compared with a coded element (one with `values` in the standard) must be one
//!   of its codes;
//! - the conditions no subject can meet, as far as they show without data: an `=` or `IN`
//!   whose values are all outside a coded element's codes; and, splitting a condition at its
//!   top-level `AND`s, parts of the form `input op literal` (`= <> < <= > >=`),
//!   `input BETWEEN a AND b` and `input [NOT] IN (…)` that leave one input no value (such as
//!   `age >= 80 AND age < 60`, or `status = 'active' AND status = 'lifted'`). Parts under
//!   `OR`, arithmetic and comparisons between two inputs are not analysed;
//! - each example names only inputs, gives values of their types and codes, and an amount
//!   when (and only when) it is eligible for a paying policy.
//!
//! [`Enactments`] records what a run of a policy decided ([`Decision`]): a decision for
//! everyone eligible and every near miss, each with the policy version and snapshots it read,
//! in the platform store (`policy_*` tables) and the ledger, once (see [`enactment`]). Each
//! can be explained to its subject in zh-CN or English ([`Explanation`], after France's CRPA
//! L311-3-1).
//!
//! What it is not: it does not evaluate. `errandless-evaluation` (a plan over the data
//! center's Parquet snapshots on Apache DataFusion, in a crate of its own) runs policies and
//! their examples; this crate checks them and records the decisions it is handed. It reads no
//! island and pays nobody: entitlements go to the payments crate.
//!
//! Positions inside an expression are exact for literal strings and for basic strings without
//! escapes; with escapes they may drift to the right within the string.

mod decision;
pub mod enactment;
mod error;
pub mod explanation;
mod expr;
pub mod parameter;
mod period;
mod policy;

pub use decision::Decision;
pub use enactment::{EnactError, EnactReport, Enactment, Enactments, InForce, Recorded, Run};
pub use explanation::{Explanation, Lang, Source};
pub use parameter::{DatedValue, Parameter, ParameterUse, ParameterValue, Period, PERIOD_VALUES};

pub use error::{ErrorKind, PolicyError};
pub use policy::{
    Amount, Condition, Example, ExampleValue, Exclusion, Frequency, Input, LegalBasis, Payment,
    Policy, Title, RESERVED_NAMES,
};

/// The demonstration pack of the repository's `policies/` directory, as (file name, source),
/// built in so the demo and the console run anywhere.
pub const PACK: &[(&str, &str)] = &[
    (
        "freshman-subsidy.toml",
        include_str!("../../../policies/freshman-subsidy.toml"),
    ),
    (
        "elderly-allowance.toml",
        include_str!("../../../policies/elderly-allowance.toml"),
    ),
    (
        "disability-living-allowance.toml",
        include_str!("../../../policies/disability-living-allowance.toml"),
    ),
    (
        "disability-nursing-allowance.toml",
        include_str!("../../../policies/disability-nursing-allowance.toml"),
    ),
    (
        "dibao-screen.toml",
        include_str!("../../../policies/dibao-screen.toml"),
    ),
];
