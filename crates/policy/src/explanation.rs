//! The explanation of one decision, as France's CRPA article L311-3-1 asks of an algorithmic
//! decision about a person: the data used and where each came from (department, dataset,
//! snapshot), every condition with whether it held and the values behind it, the amount and
//! its formula, and the legal references.
//!
//! An [`Explanation`] is data (stored as JSON with the decision); [`Explanation::render`]
//! writes it in zh-CN or English. Account numbers are shown by their last four digits only.

use serde::{Deserialize, Serialize};

use crate::{Decision, ParameterUse, Policy};
use errandless_standards::Standard;

/// A language an explanation is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `zh` or `en`, as this language is.
    pub fn text(self, zh: &str, en: &str) -> String {
        match self {
            Lang::Zh => zh.to_owned(),
            Lang::En => en.to_owned(),
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Lang, String> {
        match s {
            "zh" | "zh-CN" | "zh-cn" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            other => Err(format!("language '{other}' is not one of: zh-CN, en")),
        }
    }
}

/// A snapshot a decision read: which department's dataset, and which version of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `department.dataset`.
    pub dataset: String,
    pub department_zh: String,
    pub department_en: String,
    pub dataset_zh: String,
    pub dataset_en: String,
    /// The snapshot's content hash (SHA-256, hex): the exact data, kept in the data center.
    pub snapshot: String,
    pub version: i64,
}

/// One input's value for the subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub input: String,
    pub element_zh: String,
    pub element_en: String,
    /// `department.dataset`, one of the explanation's sources.
    pub dataset: String,
    /// The value as text; `None` when the subject has no such record.
    pub value: Option<String>,
}

/// A condition or exclusion, whether it held, and the facts it read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Test {
    pub id: String,
    pub when: String,
    pub cite: String,
    pub held: bool,
    /// The inputs the expression reads.
    pub facts: Vec<Fact>,
}

/// Why a policy decided what it did for one subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub policy: String,
    /// SHA-256 (hex) of the policy file enacted.
    pub policy_hash: String,
    pub title_zh: String,
    pub title_en: String,
    pub legal_basis: Vec<String>,
    pub period: String,
    pub subject: String,
    pub eligible: bool,
    /// Eligible and with a known account.
    pub payable: bool,
    /// The condition whose failure alone kept the subject out, for a near miss.
    pub near_miss: Option<String>,
    pub conditions: Vec<Test>,
    pub exclusions: Vec<Test>,
    /// How the conditions combine.
    pub combination: String,
    /// Per payment, in fen (0 when not eligible, or for a screen).
    pub amount_fen: i64,
    /// The amount's formula, in fen; `None` for a screen.
    pub formula: Option<String>,
    /// Payments in the year of the period: 1 for a one-off or yearly policy, the months of
    /// the validity in that year for a monthly one.
    pub payments: u32,
    /// The parameters in force for the period, each with its value and date of effect.
    #[serde(default)]
    pub parameters: Vec<ParameterUse>,
    /// The account paid into, masked to its last four characters.
    pub account: Option<String>,
    pub sources: Vec<Source>,
}

/// The names (words) of an expression.
pub(crate) fn words(expression: &str) -> Vec<String> {
    use sqlparser::dialect::GenericDialect;
    use sqlparser::tokenizer::{Token, Tokenizer};
    Tokenizer::new(&GenericDialect {}, expression)
        .tokenize()
        .map(|tokens| {
            tokens
                .into_iter()
                .filter_map(|t| match t {
                    Token::Word(w) => Some(w.value),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The inputs an expression reads, in the policy's order.
fn inputs_read<'p>(policy: &'p Policy, expression: &str) -> Vec<&'p crate::Input> {
    let words = words(expression);
    policy
        .inputs
        .iter()
        .filter(|i| words.contains(&i.name))
        .collect()
}

/// `account` shown by its last four characters.
pub fn masked(account: &str) -> String {
    let chars: Vec<char> = account.chars().collect();
    let keep = chars.len().min(4);
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("****{tail}")
}

impl Explanation {
    /// The explanation of `decision` (whose values are filled) under `policy`, enacted from
    /// the file whose SHA-256 is `policy_hash`, for `period`, reading `sources`.
    pub fn of(
        policy: &Policy,
        policy_hash: &str,
        period: &str,
        sources: &[Source],
        decision: &Decision,
    ) -> Explanation {
        let standard = Standard::builtin();
        let value_of = |name: &str| -> Option<String> {
            let i = policy.inputs.iter().position(|i| i.name == name)?;
            decision.values.get(i).cloned().flatten()
        };
        let fact = |input: &crate::Input| {
            let element = standard.element(&input.element);
            Fact {
                input: input.name.clone(),
                element_zh: element.map(|e| e.zh.clone()).unwrap_or_default(),
                element_en: element.map(|e| e.en.clone()).unwrap_or_default(),
                dataset: input.dataset.clone(),
                value: if policy
                    .payment
                    .as_ref()
                    .is_some_and(|p| p.pay_to == input.name)
                {
                    value_of(&input.name).map(|v| masked(&v))
                } else {
                    value_of(&input.name)
                },
            }
        };
        let test = |id: &str, when: &str, cite: &str, held: bool| Test {
            id: id.to_owned(),
            when: when.to_owned(),
            cite: cite.to_owned(),
            held,
            facts: inputs_read(policy, when).into_iter().map(fact).collect(),
        };
        let held =
            |list: &[(String, bool)], id: &str| list.iter().any(|(other, h)| other == id && *h);
        let in_period = policy.period(period).ok();
        Explanation {
            policy: policy.id.clone(),
            policy_hash: policy_hash.to_owned(),
            title_zh: policy.title.zh.clone(),
            title_en: policy.title.en.clone(),
            legal_basis: policy
                .legal_basis
                .iter()
                .map(|b| b.reference.clone())
                .collect(),
            period: period.to_owned(),
            subject: decision.subject.clone(),
            eligible: decision.eligible,
            payable: decision.eligible && decision.payable && policy.payment.is_some(),
            near_miss: decision.near_miss().map(str::to_owned),
            conditions: policy
                .conditions
                .iter()
                .map(|c| test(&c.id, &c.when, &c.cite, held(&decision.conditions, &c.id)))
                .collect(),
            exclusions: policy
                .exclusions
                .iter()
                .map(|x| test(&x.id, &x.when, &x.cite, held(&decision.exclusions, &x.id)))
                .collect(),
            combination: policy.eligible.clone(),
            amount_fen: decision.amount,
            formula: policy
                .payment
                .as_ref()
                .map(|p| p.amount.expr.trim().to_owned()),
            payments: in_period.as_ref().map_or(0, |p| policy.payments_in(p)),
            parameters: in_period
                .as_ref()
                .map(|p| policy.parameters_in(p))
                .unwrap_or_default(),
            account: policy
                .payment
                .as_ref()
                .and_then(|p| value_of(&p.pay_to))
                .map(|a| masked(&a)),
            sources: sources.to_vec(),
        }
    }

    /// The decision in one sentence: eligible and paid how much into which account, on the
    /// screening list, one condition short, or not eligible.
    pub fn outcome(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        let t = |zh_text: &str, en_text: &str| lang.text(zh_text, en_text);
        match (self.eligible, self.payable, &self.near_miss) {
            (true, true, _) if self.formula.is_some() => {
                if zh {
                    format!(
                        "结论：符合条件，每次发放 {} 元，共 {} 次，发放至账户 {}。",
                        yuan(self.amount_fen),
                        self.payments,
                        self.account.as_deref().unwrap_or("-")
                    )
                } else {
                    format!(
                        "Outcome: eligible. {} yuan per payment, {} payment(s), paid into account {}.",
                        yuan(self.amount_fen),
                        self.payments,
                        self.account.as_deref().unwrap_or("-")
                    )
                }
            }
            (true, _, _) if self.formula.is_none() => t(
                "结论：符合筛查条件，已列入名单，待主管部门核实；本政策不直接发放资金。",
                "Outcome: matches the screen. You are on the list for the department to confirm; this policy pays nothing by itself.",
            ),
            (true, _, _) => t(
                "结论：符合条件，但尚未登记惠民惠农一卡通账户。请绑定账户；绑定后下一次运行即发放。",
                "Outcome: eligible, but no subsidy one-card account is registered. Please bind an account; the next run pays you.",
            ),
            (false, _, Some(condition)) => {
                if zh {
                    format!("结论：不符合条件。仅差一项条件未满足：{condition}。如认为数据有误，可以申请更正。")
                } else {
                    format!("Outcome: not eligible. Only one condition was not met: {condition}. If the data behind it is wrong, you may ask for it to be corrected.")
                }
            }
            (false, _, None) => t("结论：不符合条件。", "Outcome: not eligible."),
        }
    }

    /// The explanation as text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        let t = |zh_text: &str, en_text: &str| lang.text(zh_text, en_text);
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        let title = if zh { &self.title_zh } else { &self.title_en };
        line(format!("{title} ({})", self.policy));
        line(format!(
            "{}{}    {}{}",
            t("期间：", "Period: "),
            self.period,
            t("对象：", "Subject: "),
            self.subject
        ));
        line(self.outcome(lang));
        line(t("法律依据：", "Legal basis:"));
        for b in &self.legal_basis {
            line(format!("  - {b}"));
        }
        let fact_line = |f: &Fact| {
            let value = match &f.value {
                Some(v) => format!("\"{v}\""),
                None => t("（无记录）", "(no record)"),
            };
            let element = if zh { &f.element_zh } else { &f.element_en };
            let source = self.sources.iter().find(|s| s.dataset == f.dataset);
            let from = match source {
                Some(s) if zh => format!(
                    "来自{}「{}」，快照 {}（第 {} 版）",
                    s.department_zh,
                    s.dataset_zh,
                    short(&s.snapshot),
                    s.version
                ),
                Some(s) => format!(
                    "from {}, {}, snapshot {} (version {})",
                    s.department_en,
                    s.dataset_en,
                    short(&s.snapshot),
                    s.version
                ),
                None => f.dataset.clone(),
            };
            format!("      {} ({element}) = {value}, {from}", f.input)
        };
        line(t("条件：", "Conditions:"));
        for c in &self.conditions {
            let mark = if c.held {
                t("[满足]", "[met]")
            } else {
                t("[不满足]", "[not met]")
            };
            line(format!("  {mark} {}: {}", c.id, c.when));
            for f in &c.facts {
                line(fact_line(f));
            }
            line(format!("      {}{}", t("依据：", "Cites: "), c.cite));
        }
        line(format!(
            "  {}{}",
            t("组合：", "Combined as: "),
            self.combination
        ));
        if !self.exclusions.is_empty() {
            line(t("排除情形：", "Exclusions:"));
            for x in &self.exclusions {
                let mark = if x.held {
                    t("[适用]", "[applies]")
                } else {
                    t("[不适用]", "[does not apply]")
                };
                line(format!("  {mark} {}: {}", x.id, x.when));
                for f in &x.facts {
                    line(fact_line(f));
                }
                line(format!("      {}{}", t("依据：", "Cites: "), x.cite));
            }
        }
        if !self.parameters.is_empty() {
            line(t(
                "参数（本期适用）：",
                "Parameters (in force for the period):",
            ));
            for p in &self.parameters {
                let title = if zh { &p.title_zh } else { &p.title_en };
                line(if zh {
                    format!("  {}（{title}）= {}，自 {} 起适用", p.id, p.value, p.from)
                } else {
                    format!(
                        "  {} ({title}) = {}, in force from {}",
                        p.id, p.value, p.from
                    )
                });
                line(format!("      {}{}", t("依据：", "Cites: "), p.cite));
            }
        }
        if let Some(formula) = &self.formula {
            line(format!(
                "{}{} = {} {}",
                t("金额（分）：", "Amount (fen): "),
                formula.split_whitespace().collect::<Vec<_>>().join(" "),
                self.amount_fen,
                t("分", "fen")
            ));
        }
        line(t("使用的数据：", "Data used:"));
        for s in &self.sources {
            if zh {
                line(format!(
                    "  - {}「{}」（{}），快照 {}，第 {} 版",
                    s.department_zh, s.dataset_zh, s.dataset, s.snapshot, s.version
                ));
            } else {
                line(format!(
                    "  - {}, {} ({}), snapshot {}, version {}",
                    s.department_en, s.dataset_en, s.dataset, s.snapshot, s.version
                ));
            }
        }
        line(format!(
            "{}{}",
            t("政策版本（SHA-256）：", "Policy version (SHA-256): "),
            self.policy_hash
        ));
        line(t(
            "如对本决定有异议，可在收到之日起六十日内申请行政复议，或在六个月内提起行政诉讼。",
            "If you disagree with this decision, you may apply for administrative reconsideration within 60 days of receiving it, or bring an administrative lawsuit within six months.",
        ));
        out
    }
}

/// The first 16 hex digits of a hash, enough to name a snapshot on screen.
fn short(hex: &str) -> &str {
    hex.get(..16).unwrap_or(hex)
}

/// Fen as yuan with two decimals.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
mod tests {
    use super::{masked, yuan};

    #[test]
    fn accounts_are_masked_and_fen_read_as_yuan() {
        assert_eq!(masked("6228480000000000011"), "****0011");
        assert_eq!(masked("12"), "****12");
        assert_eq!(yuan(500000), "5000.00");
        assert_eq!(yuan(-5), "-0.05");
    }
}
