//! Every item of a paginated list, fetched page after page as the caller reads: `all_users`,
//! `all_teams`, and `pages` for any list with `meta.next_cursor`.

use std::future::Future;

use futures_util::{
    TryStreamExt,
    stream::{self, BoxStream},
};

use crate::{ApiError, Client, types};

/// The largest page the service serves: fewest round trips.
const PAGE_SIZE: u32 = 100;

impl Client {
    /// Every user of the caller's organization, or those whose e-mail or name starts with `q`
    /// (`GET /v1/users`, scope `users:read`), in the list's order.
    pub fn all_users(&self, q: Option<&str>) -> BoxStream<'_, Result<types::User, ApiError>> {
        let q = q.map(str::to_owned);
        pages(move |cursor| {
            let mut request = self.list_users().limit(PAGE_SIZE);
            if let Some(q) = &q {
                request = request.q(q.as_str());
            }
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            async move {
                let page = request.send().await?.into_inner();
                Ok((page.data, page.meta.next_cursor))
            }
        })
    }

    /// Every team of the caller's organization (`GET /v1/teams`, scope `teams:read`).
    pub fn all_teams(&self) -> BoxStream<'_, Result<types::Team, ApiError>> {
        pages(move |cursor| {
            let mut request = self.list_teams().limit(PAGE_SIZE);
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            async move {
                let page = request.send().await?.into_inner();
                Ok((page.data, page.meta.next_cursor))
            }
        })
    }
}

/// Items of every page: `fetch` gets `None` for the first page and each page's `next_cursor`
/// after it, and returns the page's items and its `next_cursor`. The stream ends after the page
/// without a cursor, or at the first error.
pub fn pages<'a, T, F, Fut>(mut fetch: F) -> BoxStream<'a, Result<T, ApiError>>
where
    T: Send + 'a,
    F: FnMut(Option<String>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), ApiError>> + Send + 'a,
{
    enum Next {
        First,
        After(String),
        Done,
    }
    let pages = stream::try_unfold(Next::First, move |next| {
        let page = match next {
            Next::First => Some(fetch(None)),
            Next::After(cursor) => Some(fetch(Some(cursor))),
            Next::Done => None,
        };
        async move {
            let Some(page) = page else {
                return Ok::<_, ApiError>(None);
            };
            let (items, cursor) = page.await?;
            Ok(Some((items, cursor.map_or(Next::Done, Next::After))))
        }
    });
    Box::pin(
        pages
            .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
            .try_flatten(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_follow_the_cursor_to_the_last_page_and_yield_every_item_once() {
        let mut asked = Vec::new();
        let items: Vec<u32> = pages(|cursor: Option<String>| {
            asked.push(cursor.clone());
            async move {
                Ok(match cursor.as_deref() {
                    None => (vec![1, 2], Some("a".to_owned())),
                    Some("a") => (vec![3], Some("b".to_owned())),
                    _ => (vec![], None),
                })
            }
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(items, [1, 2, 3]);
        assert_eq!(asked, [None, Some("a".into()), Some("b".into())]);
    }
}
