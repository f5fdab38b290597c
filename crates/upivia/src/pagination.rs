//! Cursor auto-pagination (API.md §1.10).
//!
//! [`paginate`] turns a "fetch the page after this cursor" function into a
//! stream of items. It stops on an empty page, on a missing or empty
//! cursor, and — the loop guard — when a page's cursor equals the cursor
//! sent for the page before it, so a server stuck on one cursor yields one
//! duplicate page and no more.

use std::collections::VecDeque;
use std::future::Future;

use futures::Stream;

use crate::error::Result;
use crate::models::Page;

/// Where iteration stands between pages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cursors {
    /// Cursor to send for the next page (`None` for the first).
    pub(crate) next: Option<String>,
    /// Cursor that was sent for the page before the last one fetched.
    pub(crate) previous: Option<String>,
}

impl Cursors {
    /// Records a fetched page; returns `false` when iteration must stop.
    pub(crate) fn advance(&mut self, page_was_empty: bool, returned: Option<&str>) -> bool {
        let Some(returned) = returned.filter(|c| !c.is_empty()) else {
            return false;
        };
        if page_was_empty || self.previous.as_deref() == Some(returned) {
            return false;
        }
        self.previous = self.next.take();
        self.next = Some(returned.to_owned());
        true
    }
}

struct State<T, F> {
    fetch: F,
    cursors: Cursors,
    buffer: VecDeque<T>,
    more: bool,
}

/// Streams every item of a cursor list. `fetch` gets the cursor to send
/// (`None` for the first page).
pub(crate) fn paginate<T, F, Fut>(fetch: F) -> impl Stream<Item = Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: FnMut(Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>>> + Send + 'static,
{
    let state = State {
        fetch,
        cursors: Cursors::default(),
        buffer: VecDeque::new(),
        more: true,
    };
    futures::stream::try_unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.buffer.pop_front() {
                return Ok(Some((item, state)));
            }
            if !state.more {
                return Ok(None);
            }
            let page = (state.fetch)(state.cursors.next.clone()).await?;
            state.more = state
                .cursors
                .advance(page.items.is_empty(), page.next_cursor.as_deref());
            state.buffer.extend(page.items);
        }
    })
}

#[cfg(test)]
mod tests;
