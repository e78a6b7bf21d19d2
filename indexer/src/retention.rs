//! Retention: whole day indexes are removed when they fall out of the kept days or, with a
//! byte budget, oldest first until the rest fits. Today's index is never removed.

use serde::Serialize;

use logpipe_store::layout::Day;

#[derive(Debug, Clone, Copy)]
pub struct RetentionPolicy {
    /// Days kept, today included; 0 keeps every day.
    pub days: u32,
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Age,
    Bytes,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Age => "age",
            Reason::Bytes => "bytes",
        }
    }
}

/// Which of `days` (with their sizes, any order) to remove on `today`, and why.
pub fn plan(policy: RetentionPolicy, today: Day, days: &[(Day, u64)]) -> Vec<(Day, Reason)> {
    let mut days = days.to_vec();
    days.sort();
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    for (day, bytes) in days {
        let too_old = policy.days > 0 && day <= today.minus(i64::from(policy.days));
        if too_old {
            removed.push((day, Reason::Age));
        } else {
            kept.push((day, bytes));
        }
    }
    if let Some(budget) = policy.max_bytes {
        let mut total: u64 = kept.iter().map(|(_, bytes)| bytes).sum();
        for &(day, bytes) in &kept {
            if total <= budget || day >= today {
                break;
            }
            removed.push((day, Reason::Bytes));
            total -= bytes;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Day {
        text.parse().unwrap()
    }

    #[test]
    fn days_past_the_kept_count_go() {
        let policy = RetentionPolicy {
            days: 2,
            max_bytes: None,
        };
        let today = day("2026-11-27");
        let days = [
            (day("2026-11-27"), 1),
            (day("2026-11-26"), 1),
            (day("2026-11-25"), 1),
            (day("2026-11-01"), 1),
            (day("2026-11-28"), 1),
        ];
        assert_eq!(
            plan(policy, today, &days),
            vec![
                (day("2026-11-01"), Reason::Age),
                (day("2026-11-25"), Reason::Age)
            ]
        );
    }

    #[test]
    fn zero_days_keeps_everything() {
        let policy = RetentionPolicy {
            days: 0,
            max_bytes: None,
        };
        let days = [(day("1999-01-01"), 10)];
        assert!(plan(policy, day("2026-11-27"), &days).is_empty());
    }

    #[test]
    fn byte_budget_removes_oldest_first_but_never_today() {
        let policy = RetentionPolicy {
            days: 0,
            max_bytes: Some(100),
        };
        let today = day("2026-11-27");
        let days = [
            (day("2026-11-25"), 60),
            (day("2026-11-26"), 60),
            (day("2026-11-27"), 500),
        ];
        assert_eq!(
            plan(policy, today, &days),
            vec![
                (day("2026-11-25"), Reason::Bytes),
                (day("2026-11-26"), Reason::Bytes)
            ]
        );
        let fits = [(day("2026-11-26"), 40), (day("2026-11-27"), 60)];
        assert!(plan(policy, today, &fits).is_empty());
    }
}
