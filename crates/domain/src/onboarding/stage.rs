//! The onboarding steps, and the one table of allowed moves between them.

use std::fmt;

/// The step the user is currently on (filling in). Ordered as the user meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OnboardingStage {
    /// The welcome step; it collects nothing.
    Started,
    PersonalInfo,
    Organization,
    Terms,
    /// Final: nothing moves out of it.
    Completed,
}

impl OnboardingStage {
    pub const ALL: [Self; 5] = [
        Self::Started,
        Self::PersonalInfo,
        Self::Organization,
        Self::Terms,
        Self::Completed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::PersonalInfo => "personal_info",
            Self::Organization => "organization",
            Self::Terms => "terms",
            Self::Completed => "completed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == raw)
    }

    /// Position in [`Self::ALL`], from 0.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The stage after this one; `None` for `Completed`.
    pub fn next(self) -> Option<Self> {
        Self::ALL.get(self.index() + 1).copied()
    }
}

impl fmt::Display for OnboardingStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the table says about moving from one stage to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Exactly one step forward (the current stage's data must be valid).
    Advance,
    /// Back to any earlier stage, to edit it.
    Back,
    Refused(TransitionRefusal),
}

/// Why the table refuses a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefusal {
    #[error("already on that step")]
    SameStage,
    #[error("steps cannot be skipped")]
    SkipsAhead,
    #[error("onboarding is complete and can no longer change")]
    Final,
}

/// The transition table: every rule about which moves are allowed lives here.
pub const fn transition(from: OnboardingStage, to: OnboardingStage) -> Transition {
    let (from_index, to_index) = (from.index(), to.index());
    match from {
        OnboardingStage::Completed => Transition::Refused(TransitionRefusal::Final),
        _ if to_index == from_index => Transition::Refused(TransitionRefusal::SameStage),
        _ if to_index == from_index + 1 => Transition::Advance,
        _ if to_index < from_index => Transition::Back,
        _ => Transition::Refused(TransitionRefusal::SkipsAhead),
    }
}

#[cfg(test)]
mod tests {
    use super::OnboardingStage::{Completed, Organization, PersonalInfo, Started, Terms};
    use super::*;
    use std::collections::HashSet;

    const ADVANCE: Transition = Transition::Advance;
    const BACK: Transition = Transition::Back;
    const SAME: Transition = Transition::Refused(TransitionRefusal::SameStage);
    const SKIP: Transition = Transition::Refused(TransitionRefusal::SkipsAhead);
    const FINAL: Transition = Transition::Refused(TransitionRefusal::Final);

    #[test]
    fn every_pair_of_stages_follows_the_table() {
        let expected = [
            (Started, Started, SAME),
            (Started, PersonalInfo, ADVANCE),
            (Started, Organization, SKIP),
            (Started, Terms, SKIP),
            (Started, Completed, SKIP),
            (PersonalInfo, Started, BACK),
            (PersonalInfo, PersonalInfo, SAME),
            (PersonalInfo, Organization, ADVANCE),
            (PersonalInfo, Terms, SKIP),
            (PersonalInfo, Completed, SKIP),
            (Organization, Started, BACK),
            (Organization, PersonalInfo, BACK),
            (Organization, Organization, SAME),
            (Organization, Terms, ADVANCE),
            (Organization, Completed, SKIP),
            (Terms, Started, BACK),
            (Terms, PersonalInfo, BACK),
            (Terms, Organization, BACK),
            (Terms, Terms, SAME),
            (Terms, Completed, ADVANCE),
            (Completed, Started, FINAL),
            (Completed, PersonalInfo, FINAL),
            (Completed, Organization, FINAL),
            (Completed, Terms, FINAL),
            (Completed, Completed, FINAL),
        ];
        let pairs: HashSet<_> = expected.iter().map(|(from, to, _)| (*from, *to)).collect();
        assert_eq!(pairs.len(), 25, "the expected table must cover every pair exactly once");
        for (from, to, want) in expected {
            assert_eq!(transition(from, to), want, "{from} -> {to}");
        }
    }

    #[test]
    fn stages_round_trip_through_their_names_in_order() {
        for (i, stage) in OnboardingStage::ALL.into_iter().enumerate() {
            assert_eq!(OnboardingStage::parse(stage.as_str()), Some(stage));
            assert_eq!(stage.index(), i);
        }
        assert!(OnboardingStage::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(OnboardingStage::parse("personal_info"), Some(PersonalInfo));
        assert_eq!(OnboardingStage::parse("PersonalInfo"), None);
        assert_eq!(Terms.next(), Some(Completed));
        assert_eq!(Completed.next(), None);
    }
}
