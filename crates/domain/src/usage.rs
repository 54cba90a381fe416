//! Metered usage: what each principal of a tenant did on one day (calls, errors, rate
//! limit refusals), added up into daily rollups, and the time buckets a usage report
//! groups them by.

use chrono::{Datelike, Days, Months, NaiveDate};
use uuid::Uuid;

use crate::{ApiKeyId, TenantId, UserId};

/// The longest range one usage report may cover, in days.
pub const MAX_REPORT_DAYS: u64 = 400;

/// Who made a metered request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    Person(UserId),
    ApiKey(ApiKeyId),
}

impl Principal {
    /// The kind as stored: `person` or `api_key`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Person(_) => "person",
            Self::ApiKey(_) => "api_key",
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            Self::Person(id) => id.as_uuid(),
            Self::ApiKey(id) => id.as_uuid(),
        }
    }

    /// The principal a stored kind and id name.
    pub fn from_parts(kind: &str, id: Uuid) -> Option<Self> {
        match kind {
            "person" => Some(Self::Person(UserId::from_uuid(id))),
            "api_key" => Some(Self::ApiKey(ApiKeyId::from_uuid(id))),
            _ => None,
        }
    }
}

/// One row of the daily rollup: a principal of a tenant on a day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    pub tenant_id: TenantId,
    pub day: NaiveDate,
    pub principal: Principal,
}

/// What a principal did: requests that ran, those of them that answered with errors,
/// and requests refused by a rate limit or the monthly quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageCounts {
    pub api_calls: u64,
    pub errors: u64,
    pub refused: u64,
}

impl UsageCounts {
    pub fn add(&mut self, other: UsageCounts) {
        self.api_calls += other.api_calls;
        self.errors += other.errors;
        self.refused += other.refused;
    }
}

/// How a usage report groups days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

/// One bucket of a report: the days from `start` up to, not including, `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Why a report's range is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("must not be before `from`")]
    Reversed,
    #[error("a report covers at most {MAX_REPORT_DAYS} days")]
    TooLong,
}

impl Granularity {
    /// The buckets covering the days `from` to `to` (both included); the first and the
    /// last are cut to the range.
    pub fn buckets(self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Bucket>, RangeError> {
        if to < from {
            return Err(RangeError::Reversed);
        }
        if (to - from).num_days() >= MAX_REPORT_DAYS as i64 {
            return Err(RangeError::TooLong);
        }
        let end = to + Days::new(1);
        let mut buckets = Vec::new();
        let mut start = from;
        while start < end {
            let next = self.next_start(start).min(end);
            buckets.push(Bucket { start, end: next });
            start = next;
        }
        Ok(buckets)
    }

    /// The first day of the bucket after the one holding `day`.
    fn next_start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => day + Days::new(1),
            Self::Week => day + Days::new(7 - u64::from(day.weekday().num_days_from_monday())),
            Self::Month => first_of_month(day) + Months::new(1),
        }
    }
}

/// The first day of `day`'s month: where a monthly quota starts counting.
pub fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// One bucket of a tenant's usage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePoint {
    pub bucket: Bucket,
    /// Requests that ran, by people and by API keys.
    pub api_calls: u64,
    pub api_key_calls: u64,
    pub errors: u64,
    pub refused: u64,
    /// Distinct people who made a request in the bucket.
    pub active_users: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn buckets_cover_the_range_exactly_and_follow_weeks_and_months() {
        let days = Granularity::Day
            .buckets(day("2026-12-30"), day("2027-01-02"))
            .expect("days");
        assert_eq!(days.len(), 4);
        assert_eq!(
            days[3],
            Bucket {
                start: day("2027-01-02"),
                end: day("2027-01-03")
            }
        );
        // 2026-12-02 is a Wednesday: the first week is cut to Wednesday–Sunday.
        let weeks = Granularity::Week
            .buckets(day("2026-12-02"), day("2026-12-15"))
            .expect("weeks");
        assert_eq!(
            weeks,
            vec![
                Bucket {
                    start: day("2026-12-02"),
                    end: day("2026-12-07")
                },
                Bucket {
                    start: day("2026-12-07"),
                    end: day("2026-12-14")
                },
                Bucket {
                    start: day("2026-12-14"),
                    end: day("2026-12-16")
                },
            ]
        );
        let months = Granularity::Month
            .buckets(day("2026-11-15"), day("2027-01-31"))
            .expect("months");
        assert_eq!(
            months.iter().map(|b| b.start).collect::<Vec<_>>(),
            vec![day("2026-11-15"), day("2026-12-01"), day("2027-01-01")]
        );
        assert_eq!(months[2].end, day("2027-02-01"));
    }

    #[test]
    fn a_reversed_or_too_long_range_is_refused() {
        assert_eq!(
            Granularity::Day.buckets(day("2026-12-02"), day("2026-12-01")),
            Err(RangeError::Reversed)
        );
        assert_eq!(
            Granularity::Month.buckets(day("2025-01-01"), day("2026-12-31")),
            Err(RangeError::TooLong)
        );
        assert_eq!(first_of_month(day("2026-12-06")), day("2026-12-01"));
    }

    #[test]
    fn a_principal_round_trips_through_its_stored_parts() {
        let key = Principal::ApiKey(ApiKeyId::from_uuid(Uuid::from_u128(7)));
        assert_eq!(Principal::from_parts(key.kind(), key.id()), Some(key));
        assert_eq!(Principal::from_parts("robot", key.id()), None);
    }
}
