//! Silences: matchers and a time window; an alert matching all the matchers is not notified
//! while the silence is active.

use super::matchers::Matcher;
use super::route::{matches_all, LabelSet};

/// A silence: alerts matching all its matchers are not notified while it is active.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// Its id.
    pub id: String,
    /// What it mutes.
    pub matchers: Vec<Matcher>,
    /// When it starts (ms).
    pub starts_at: i64,
    /// When it ends (ms).
    pub ends_at: i64,
    /// When it was last changed (ms).
    pub updated_at: i64,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// `expired`, `active` or `pending` at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.ends_at <= now {
            "expired"
        } else if self.starts_at <= now {
            "active"
        } else {
            "pending"
        }
    }

    pub(crate) fn mutes(&self, labels: &LabelSet, now: i64) -> bool {
        self.state(now) == "active" && matches_all(&self.matchers, labels)
    }
}
