use std::sync::{Arc, Mutex};

use futures::TryStreamExt;

use super::*;
use crate::models::JsonMap;

fn page(items: &[i32], next: Option<&str>) -> Page<i32> {
    Page {
        items: items.to_vec(),
        next_cursor: next.map(str::to_owned),
        has_more: None,
        extra: JsonMap::new(),
    }
}

/// Serves `pages` in order, recording the cursor each request sent.
async fn run(pages: Vec<Page<i32>>) -> (Vec<i32>, Vec<Option<String>>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let pages = Arc::new(Mutex::new(VecDeque::from(pages)));
    let log = sent.clone();
    let items = paginate(move |cursor| {
        log.lock().unwrap().push(cursor);
        let next = pages
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| page(&[], None));
        async move { Ok(next) }
    })
    .try_collect::<Vec<i32>>()
    .await
    .unwrap();
    let sent = sent.lock().unwrap().clone();
    (items, sent)
}

#[tokio::test]
async fn follows_cursors_until_the_last_page() {
    let (items, sent) = run(vec![
        page(&[1, 2], Some("c1")),
        page(&[3], Some("c2")),
        page(&[4], None),
    ])
    .await;
    assert_eq!(items, [1, 2, 3, 4]);
    assert_eq!(sent, [None, Some("c1".into()), Some("c2".into())]);
}

#[tokio::test]
async fn empty_cursor_ends_iteration() {
    let (items, sent) = run(vec![page(&[1], Some("")), page(&[2], None)]).await;
    assert_eq!(items, [1]);
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn empty_page_ends_iteration_even_with_a_cursor() {
    let (items, sent) = run(vec![
        page(&[1], Some("c1")),
        page(&[], Some("c2")),
        page(&[9], None),
    ])
    .await;
    assert_eq!(items, [1]);
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn repeated_cursor_yields_one_duplicate_page_then_stops() {
    // The server keeps answering with cursor "a".
    let (items, sent) = run(vec![
        page(&[1], Some("a")),
        page(&[2], Some("a")),
        page(&[3], Some("a")),
        page(&[4], Some("a")),
    ])
    .await;
    assert_eq!(items, [1, 2, 3]);
    assert_eq!(sent, [None, Some("a".into()), Some("a".into())]);
}

#[tokio::test]
async fn errors_are_yielded_and_end_the_stream() {
    let mut calls = 0;
    let stream = paginate(move |_cursor| {
        calls += 1;
        let result = if calls == 1 {
            Ok(page(&[1], Some("c")))
        } else {
            Err(crate::Error::InvalidArgument("boom".into()))
        };
        async move { result }
    });
    let collected: Vec<Result<i32>> = futures::StreamExt::collect(stream).await;
    assert_eq!(collected.len(), 2);
    assert_eq!(*collected[0].as_ref().unwrap(), 1);
    assert!(collected[1].is_err());
}

#[test]
fn cursor_guard_compares_with_the_cursor_sent_before() {
    let mut c = Cursors::default();
    assert!(c.advance(false, Some("a")));
    assert!(c.advance(false, Some("b")));
    // "a" was the cursor sent for the page before: stop.
    assert!(!c.advance(false, Some("a")));
    let mut c = Cursors::default();
    assert!(!c.advance(false, None));
}
