//! Purposes and legal bases: why data is read, and under which law (PIPL art. 13 and 34: state
//! organs process personal information only for their statutory duties and within the scope
//! needed for them).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why data is read. The list is closed: a grant names one of these codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    IdentityVerification,
    BenefitEligibility,
    ApplicationPrefill,
    CaseHandling,
    Payment,
    Statistics,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [
        Purpose::IdentityVerification,
        Purpose::BenefitEligibility,
        Purpose::ApplicationPrefill,
        Purpose::CaseHandling,
        Purpose::Payment,
        Purpose::Statistics,
    ];

    /// The stable code, as stored, signed and logged.
    pub fn code(self) -> &'static str {
        match self {
            Purpose::IdentityVerification => "identity_verification",
            Purpose::BenefitEligibility => "benefit_eligibility",
            Purpose::ApplicationPrefill => "application_prefill",
            Purpose::CaseHandling => "case_handling",
            Purpose::Payment => "payment",
            Purpose::Statistics => "statistics",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Purpose::IdentityVerification => "身份核验",
            Purpose::BenefitEligibility => "待遇资格认定",
            Purpose::ApplicationPrefill => "申请表单预填",
            Purpose::CaseHandling => "办件审核",
            Purpose::Payment => "资金发放",
            Purpose::Statistics => "统计分析",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Purpose::IdentityVerification => "Identity verification",
            Purpose::BenefitEligibility => "Benefit eligibility",
            Purpose::ApplicationPrefill => "Application prefill",
            Purpose::CaseHandling => "Case handling",
            Purpose::Payment => "Payment of benefits",
            Purpose::Statistics => "Statistics",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A purpose code that is not on the list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a purpose code")]
pub struct UnknownPurpose(pub String);

impl FromStr for Purpose {
    type Err = UnknownPurpose;
    fn from_str(s: &str) -> Result<Purpose, UnknownPurpose> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.code() == s)
            .ok_or_else(|| UnknownPurpose(s.to_owned()))
    }
}

/// The rank of the instrument a legal basis cites (Legislation Law of the PRC, art. 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasisKind {
    /// A law adopted by the National People's Congress or its Standing Committee.
    Law,
    /// An administrative regulation of the State Council.
    AdministrativeRegulation,
    /// A local regulation of a provincial people's congress.
    LocalRegulation,
    /// A normative document, such as a provincial notice.
    NormativeDocument,
}

impl LegalBasisKind {
    pub fn code(self) -> &'static str {
        match self {
            LegalBasisKind::Law => "law",
            LegalBasisKind::AdministrativeRegulation => "administrative_regulation",
            LegalBasisKind::LocalRegulation => "local_regulation",
            LegalBasisKind::NormativeDocument => "normative_document",
        }
    }

    pub fn parse(code: &str) -> Option<LegalBasisKind> {
        [
            LegalBasisKind::Law,
            LegalBasisKind::AdministrativeRegulation,
            LegalBasisKind::LocalRegulation,
            LegalBasisKind::NormativeDocument,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// The instrument, and the article of it, that a grant rests on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LegalBasis {
    pub kind: LegalBasisKind,
    /// The citation, e.g. "社会救助暂行办法 第十一条".
    pub reference: String,
}
