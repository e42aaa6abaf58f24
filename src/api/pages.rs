//! Keyset pagination parameters shared by the lists of the admin surface: `limit` (1–100,
//! default 50) and an opaque `cursor` (the last id of the previous page, see
//! `domain::Cursor`). Lists fetch one row more than the page to know whether another page
//! follows, so `next_cursor` is absent on the last page without a count query.

use uuid::Uuid;

use super::envelope::PageMeta;
use crate::{domain::Cursor, error::ApiError, error::FieldError};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

/// A page request, checked.
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Uuid>,
}

impl PageRequest {
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = i64::from(limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT));
        // An empty cursor is the first page, as a missing one is (`Cursor::PATTERN`).
        let after = cursor
            .filter(|text| !text.is_empty())
            .map(|text| {
                Cursor::parse(text).map_err(|invalid| {
                    ApiError::validation(vec![FieldError::new(
                        "cursor",
                        invalid.code,
                        invalid.reason,
                    )])
                })
            })
            .transpose()?
            .map(Cursor::last_id);
        Ok(Self { limit, after })
    }

    /// How many rows to fetch: one more than the page.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the fetched rows to the page and says where the next page starts.
    pub fn page<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> Uuid) -> (Vec<T>, PageMeta) {
        let more = cut_to_page(&mut rows, self.limit);
        let next_cursor = more
            .then(|| rows.last())
            .flatten()
            .map(|last| Cursor::after(id(last)).encode());
        let meta = PageMeta {
            next_cursor,
            limit: self.limit,
        };
        (rows, meta)
    }
}

/// Cuts rows fetched with one to spare (`limit + 1`) to the page: true when more follow.
pub fn cut_to_page<T>(rows: &mut Vec<T>, limit: i64) -> bool {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    more
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn the_limit_defaults_to_50_an_empty_cursor_is_the_first_page_and_a_tampered_one_is_invalid_cursor()
     {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 50);
        assert_eq!(PageRequest::parse(None, Some("")).unwrap().after, None);
        let error = PageRequest::parse(Some(10), Some("bogus")).err().unwrap();
        assert_eq!(error.code, ErrorCode::InvalidCursor);
        assert_eq!(error.status.as_u16(), 422);
    }

    #[test]
    fn next_cursor_is_absent_on_the_last_page() {
        let request = PageRequest::parse(Some(2), None).unwrap();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let (page, meta) = request.page(ids.clone(), |id| *id);
        assert_eq!(page.len(), 2);
        let cursor = Cursor::parse(&meta.next_cursor.unwrap()).unwrap();
        assert_eq!(cursor.last_id(), ids[1]);
        let (page, meta) = request.page(ids[..2].to_vec(), |id| *id);
        assert_eq!(page.len(), 2);
        assert!(meta.next_cursor.is_none());
    }
}
