//! Keyset pagination shared by every list: opaque cursors over `(created_at, id)`,
//! `first`/`after` and `last`/`before`, a default and a hard maximum page size.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{AppError, FieldErrors};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A position in an ordered list: the sort key of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn new(created_at: DateTime<Utc>, id: Uuid) -> Self {
        Self { created_at, id }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", self.created_at.timestamp_micros(), self.id))
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, ':');
        if parts.next()? != "v1" {
            return None;
        }
        let micros: i64 = parts.next()?.parse().ok()?;
        let id = Uuid::try_parse(parts.next()?).ok()?;
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `first`/`after`: oldest first, rows after the cursor.
    Forward,
    /// `last`/`before`: the rows just before the cursor (returned oldest first).
    Backward,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub direction: Direction,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self {
            direction: Direction::Forward,
            limit,
            cursor: None,
        }
    }

    /// Validates Relay arguments. Too-large pages are refused, never silently clipped.
    pub fn parse(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        if first.is_some() && last.is_some() {
            errors.add("last", "cannot be combined with `first`");
        }
        if after.is_some() && before.is_some() {
            errors.add("before", "cannot be combined with `after`");
        }
        let size = |field: &str, value: Option<i32>, errors: &mut FieldErrors| match value {
            None => Some(DEFAULT_PAGE_SIZE),
            Some(n) if n < 0 => {
                errors.add(field, "must not be negative");
                None
            }
            Some(n) if n as u32 > MAX_PAGE_SIZE => {
                errors.add(field, format!("must be at most {MAX_PAGE_SIZE}"));
                None
            }
            Some(n) => Some(n as u32),
        };
        let cursor = |field: &str, value: Option<&str>, errors: &mut FieldErrors| {
            value.and_then(|raw| {
                let decoded = Cursor::decode(raw);
                if decoded.is_none() {
                    errors.add(field, "is not a valid cursor");
                }
                decoded
            })
        };
        let backward = last.is_some() || (before.is_some() && first.is_none());
        let request = if backward {
            let limit = size("last", last, &mut errors);
            let cursor = cursor("before", before, &mut errors);
            limit.map(|limit| Self {
                direction: Direction::Backward,
                limit,
                cursor,
            })
        } else {
            let limit = size("first", first, &mut errors);
            let cursor = cursor("after", after, &mut errors);
            limit.map(|limit| Self {
                direction: Direction::Forward,
                limit,
                cursor,
            })
        };
        errors.into_result()?;
        request.ok_or_else(|| AppError::validation("first", "is invalid"))
    }
}

/// One page of rows in list order, with Relay's page info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `limit + 1` in the request's scan order
    /// (ascending for forward, descending for backward).
    pub fn from_scan(request: &PageRequest, mut rows: Vec<T>) -> Self {
        let limit = request.limit as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        match request.direction {
            Direction::Forward => Self {
                items: rows,
                has_next_page: has_more,
                has_previous_page: request.cursor.is_some(),
            },
            Direction::Backward => {
                rows.reverse();
                Self {
                    items: rows,
                    has_next_page: request.cursor.is_some(),
                    has_previous_page: has_more,
                }
            }
        }
    }

    /// A page with nothing on it (nothing is visible to the caller).
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }

    /// [`Page::map`] with a conversion that can fail: the first failure is returned.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_tampering() {
        let cursor = Cursor::new(
            DateTime::from_timestamp_micros(1_790_000_000_123_456).expect("valid time"),
            Uuid::now_v7(),
        );
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not-a-cursor"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("v2:1:x")), None);
    }

    #[test]
    fn defaults_to_twenty_forward() {
        let request = PageRequest::parse(None, None, None, None).expect("valid");
        assert_eq!(request, PageRequest::first(DEFAULT_PAGE_SIZE));
    }

    #[test]
    fn oversized_and_negative_pages_are_refused_with_field_messages() {
        for (first, last, field) in [
            (Some(101), None, "first"),
            (Some(-1), None, "first"),
            (None, Some(500), "last"),
        ] {
            match PageRequest::parse(first, None, last, None) {
                Err(AppError::Validation(fields)) => {
                    assert!(fields.iter().any(|(f, _)| f == field), "expected {field} in {fields:?}");
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
        assert!(PageRequest::parse(Some(100), None, None, None).is_ok());
    }

    #[test]
    fn bad_cursor_and_mixed_directions_are_refused() {
        assert!(matches!(
            PageRequest::parse(Some(5), Some("garbage"), None, None),
            Err(AppError::Validation(_))
        ));
        assert!(matches!(
            PageRequest::parse(Some(5), None, Some(5), None),
            Err(AppError::Validation(_))
        ));
    }

    #[test]
    fn page_info_follows_the_scan() {
        let forward = PageRequest::first(2);
        let page = Page::from_scan(&forward, vec![1, 2, 3]);
        assert_eq!(
            (page.items, page.has_next_page, page.has_previous_page),
            (vec![1, 2], true, false)
        );

        let backward = PageRequest {
            direction: Direction::Backward,
            limit: 2,
            cursor: None,
        };
        let page = Page::from_scan(&backward, vec![9, 8, 7]);
        assert_eq!(
            (page.items, page.has_next_page, page.has_previous_page),
            (vec![8, 9], false, true)
        );
    }
}
