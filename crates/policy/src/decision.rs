//! What a policy decided for one subject, as the evaluator returns it.

/// What a policy decided for one subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub subject: String,
    /// Each condition's id and whether it held.
    pub conditions: Vec<(String, bool)>,
    /// Each exclusion's id and whether it applied.
    pub exclusions: Vec<(String, bool)>,
    pub eligible: bool,
    /// Whether the payee's account is known (always true for a screen).
    pub payable: bool,
    /// Per condition, in the order of `conditions`: whether the eligibility combination would
    /// hold were that condition met.
    pub eligible_if_met: Vec<bool>,
    /// Per payment, in fen; 0 when not eligible or for a screen.
    pub amount: i64,
    /// The value of each input, in the order of the policy's inputs, as text (`None`: the
    /// subject has no such record). Filled only for the subjects a decision is recorded for
    /// ([`Decision::is_recorded`]); empty for the others, which keeps a batch run over a whole
    /// province from formatting millions of values nobody reads.
    pub values: Vec<Option<String>>,
}

impl Decision {
    /// The one condition whose failure alone kept an otherwise qualifying subject out: not
    /// eligible, not excluded, exactly one condition failed, at least one other held, and the
    /// eligibility combination would hold were it met.
    pub fn near_miss(&self) -> Option<&str> {
        if self.eligible || self.exclusions.iter().any(|(_, applies)| *applies) {
            return None;
        }
        let mut failed = self
            .conditions
            .iter()
            .enumerate()
            .filter(|(_, (_, held))| !held);
        let (only, (id, _)) = failed.next()?;
        if failed.next().is_some() || self.conditions.len() < 2 {
            return None;
        }
        self.eligible_if_met
            .get(only)
            .copied()
            .unwrap_or(false)
            .then_some(id.as_str())
    }

    /// Whether enacting records a decision for this subject: everyone eligible (paid, or
    /// asked to bind an account) and every near miss, who may object or supply what is
    /// missing.
    pub fn is_recorded(&self) -> bool {
        self.eligible || self.near_miss().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::Decision;

    fn decision(held: &[bool], if_met: &[bool], excluded: bool) -> Decision {
        Decision {
            subject: "x".into(),
            conditions: held
                .iter()
                .enumerate()
                .map(|(i, h)| (format!("c{i}"), *h))
                .collect(),
            exclusions: vec![("x".into(), excluded)],
            eligible: held.iter().all(|h| *h) && !excluded,
            payable: true,
            eligible_if_met: if_met.to_vec(),
            amount: 0,
            values: Vec::new(),
        }
    }

    #[test]
    fn a_near_miss_fails_one_condition_alone() {
        assert_eq!(
            decision(&[true, false], &[true, true], false).near_miss(),
            Some("c1")
        );
        // Two failed, none held, excluded, or the combination would still fail.
        assert_eq!(
            decision(&[false, false], &[true, true], false).near_miss(),
            None
        );
        assert_eq!(decision(&[false], &[true], false).near_miss(), None);
        assert_eq!(
            decision(&[true, false], &[true, true], true).near_miss(),
            None
        );
        assert_eq!(
            decision(&[true, false], &[true, false], false).near_miss(),
            None
        );
        assert_eq!(
            decision(&[true, true], &[true, true], false).near_miss(),
            None
        );
        assert!(decision(&[true, true], &[true, true], false).is_recorded());
        assert!(!decision(&[false, false], &[true, true], false).is_recorded());
    }
}
