//! The providers of third-party JSON APIs against local fakes of them:
//! `web_search.search` on SearXNG, `github.create_issue`,
//! `discord.send_message`, Slack `chat.dm` and `chat.read`, `mastodon.post`,
//! `notion.create_page`, `x.post`, `bluesky.post` and `reddit.submit_post`. Each checks the wire request
//! (method, path, auth header, body), the answer's mapping, the error
//! mapping, and that only a success is charged.

use secrecy::SecretString;
use serde_json::{Value, json};
use upivia_server::config::{ApiSettings, Config};

use crate::fakes::{Canned, FakeHttp};
use crate::providers_text::test_agent;
use crate::support::TestServer;

const TOKEN: &str = "provider-token-5b1e0c";

fn api(fake: &FakeHttp, prefix: &str, token: bool) -> ApiSettings {
    ApiSettings::new(
        "TEST_BASE_URL",
        &fake.url(prefix),
        token.then(|| SecretString::from(TOKEN)),
    )
    .unwrap()
}

async fn server(configure: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_with(configure).await
}

#[tokio::test]
async fn web_search_asks_searxng_and_ranks_its_results() {
    let fake = FakeHttp::start(vec![Canned::json(
        200,
        json!({"query": "rust", "results": [
            {"url": "https://www.rust-lang.org/", "title": "Rust", "content": "A language."},
            {"title": "no url: skipped"},
            {"url": "https://tokio.rs/", "title": "Tokio", "content": "A runtime."},
            {"url": "https://docs.rs/", "title": "Docs", "content": "Docs."},
        ]}),
    )])
    .await;
    let settings = api(&fake, "/searx", false);
    let s = server(move |c| c.providers.searxng = Some(settings)).await;
    let agent = s.funded_agent("web_search", 10).await;
    let r = s
        .request(
            &agent,
            "web_search",
            "search",
            json!({"query": "rust async & more", "num_results": 2}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "searxng");
    assert_eq!(
        r.body["result"],
        json!({"query": "rust async & more", "results": [
            {"position": 1, "title": "Rust", "url": "https://www.rust-lang.org/", "snippet": "A language."},
            {"position": 2, "title": "Tokio", "url": "https://tokio.rs/", "snippet": "A runtime."},
        ]})
    );
    let hit = &fake.hits()[0];
    assert_eq!(hit.method, "GET");
    assert_eq!(hit.uri, "/searx/search?q=rust+async+%26+more&format=json");
    assert_eq!(hit.header("authorization"), "");
    assert_eq!(s.balance().await, 9);

    // Search has no side effect: a 5xx is retried, and one that persists is
    // unavailable; an answer without results is the adapter's error.
    fake.push(Canned::text(502, "bad gateway"));
    fake.push(Canned::json(200, json!({"nothing": []})));
    let r = s
        .request(&agent, "web_search", "search", json!({"query": "x"}))
        .await;
    assert_eq!(r.body["status"], "failed", "{r:?}");
    assert_eq!(r.body["reason_code"], "adapter_error");
    assert_eq!(fake.hits().len(), 3, "the 502 was retried once");
    assert_eq!(s.balance().await, 9);
    s.ledger_ok().await;
}

#[tokio::test]
async fn github_issues_are_opened_with_the_token() {
    let fake = FakeHttp::start(vec![Canned::json(
        201,
        json!({
            "id": 9001, "number": 42, "title": "Checkout overlaps footer", "state": "open",
            "labels": [{"name": "bug"}], "html_url": "https://github.com/acme/web/issues/42",
            "created_at": "2026-12-03T09:00:00Z", "user": {"login": "bot"},
        }),
    )])
    .await;
    let settings = api(&fake, "/gh", true);
    let s = server(move |c| c.providers.github = Some(settings)).await;
    let agent = s.funded_agent("github", 10).await;
    let payload = json!({"repo": "acme/web", "title": "Checkout overlaps footer", "body": "iOS", "labels": ["bug"]});
    let r = s
        .request(&agent, "github", "create_issue", payload.clone())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "github");
    let result = &r.body["result"];
    assert_eq!(result["number"], 42);
    assert_eq!(result["repo"], "acme/web");
    assert_eq!(result["labels"], json!(["bug"]));
    assert_eq!(result["html_url"], "https://github.com/acme/web/issues/42");
    let hit = &fake.hits()[0];
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.uri, "/gh/repos/acme/web/issues");
    assert_eq!(hit.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(hit.header("x-github-api-version"), "2022-11-28");
    let mut sent = payload;
    sent.as_object_mut().unwrap().remove("repo");
    assert_eq!(hit.json(), sent);
    assert_eq!(s.balance().await, 9);

    // A refusal (404: no such repository, or no access) is the adapter's;
    // a 5xx is not repeated (the issue may exist) and is unavailable.
    fake.push(Canned::json(404, json!({"message": "Not Found"})));
    let missing = s
        .request(
            &agent,
            "github",
            "create_issue",
            json!({"repo": "acme/nope", "title": "t"}),
        )
        .await;
    assert_eq!(missing.body["reason_code"], "adapter_error", "{missing:?}");
    fake.push(Canned::text(500, "oops"));
    let down = s
        .request(
            &agent,
            "github",
            "create_issue",
            json!({"repo": "acme/web", "title": "t"}),
        )
        .await;
    assert_eq!(down.body["reason_code"], "provider_unavailable", "{down:?}");
    assert_eq!(fake.hits().len(), 3);
    assert_eq!(s.balance().await, 9);
    s.ledger_ok().await;
}

#[tokio::test]
async fn discord_messages_are_posted_as_the_bot_without_mass_mentions() {
    let fake = FakeHttp::start(vec![Canned::json(
        200,
        json!({"id": "1180000000000000001", "channel_id": "112233445566778899",
               "content": "Deploy finished", "timestamp": "2026-12-03T09:00:00.000000+00:00"}),
    )])
    .await;
    let settings = api(&fake, "/api/v10", true);
    let s = server(move |c| c.providers.discord = Some(settings)).await;
    let agent = s.funded_agent("discord", 10).await;
    let r = s
        .request(
            &agent,
            "discord",
            "send_message",
            json!({"channel_id": "112233445566778899", "content": "Deploy finished"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["result"]["id"], "1180000000000000001");
    let hit = &fake.hits()[0];
    assert_eq!(hit.uri, "/api/v10/channels/112233445566778899/messages");
    assert_eq!(hit.header("authorization"), format!("Bot {TOKEN}"));
    let body = hit.json();
    assert_eq!(body["content"], "Deploy finished");
    assert_eq!(body["allowed_mentions"], json!({"parse": ["users"]}));
    assert_eq!(s.balance().await, 9);

    // 429 is waited out (Retry-After) and then succeeds.
    fake.push(
        Canned::json(429, json!({"message": "slow down", "retry_after": 0.05}))
            .with_header("retry-after", "0"),
    );
    fake.push(Canned::json(200, json!({"id": "2", "channel_id": "112233445566778899", "content": "x", "timestamp": "2026-12-03T09:00:01Z"})));
    let r = s
        .request(
            &agent,
            "discord",
            "send_message",
            json!({"channel_id": "112233445566778899", "content": "x"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(fake.hits().len(), 3);
    // A malformed answer is the adapter's, and costs nothing.
    fake.push(Canned::text(200, "<html>"));
    let r = s
        .request(
            &agent,
            "discord",
            "send_message",
            json!({"channel_id": "112233445566778899", "content": "y"}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert_eq!(s.balance().await, 8);
    s.ledger_ok().await;
}

#[tokio::test]
async fn slack_dms_open_a_conversation_then_post() {
    let fake = FakeHttp::start(vec![
        Canned::json(200, json!({"ok": true, "channel": {"id": "D0123ABCDE"}})),
        Canned::json(
            200,
            json!({"ok": true, "channel": "D0123ABCDE", "ts": "1733216400.000100"}),
        ),
    ])
    .await;
    let settings = api(&fake, "/api", true);
    let s = server(move |c| c.providers.slack = Some(settings)).await;
    let agent = s.funded_agent("chat", 10).await;
    let r = s
        .request(
            &agent,
            "chat",
            "dm",
            json!({"user_id": "U0123ABCDE", "text": "Digest ready"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(
        r.body["result"],
        json!({"ok": true, "channel": "D0123ABCDE", "ts": "1733216400.000100", "user_id": "U0123ABCDE"})
    );
    let hits = fake.hits();
    assert_eq!(hits[0].uri, "/api/conversations.open");
    assert_eq!(hits[0].json(), json!({"users": "U0123ABCDE"}));
    assert_eq!(hits[1].uri, "/api/chat.postMessage");
    assert_eq!(
        hits[1].json(),
        json!({"channel": "D0123ABCDE", "text": "Digest ready"})
    );
    for hit in &hits {
        assert_eq!(hit.header("authorization"), format!("Bearer {TOKEN}"));
    }
    assert_eq!(s.balance().await, 9);

    // Slack's refusals come as 200 {ok: false}.
    fake.push(Canned::json(
        200,
        json!({"ok": false, "error": "user_not_found"}),
    ));
    let r = s
        .request(
            &agent,
            "chat",
            "dm",
            json!({"user_id": "U0999ZZZZZ", "text": "hi"}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("user_not_found")
    );
    fake.push(Canned::json(
        200,
        json!({"ok": false, "error": "fatal_error"}),
    ));
    let r = s
        .request(
            &agent,
            "chat",
            "dm",
            json!({"user_id": "U0999ZZZZZ", "text": "hi"}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert_eq!(s.balance().await, 9);
    s.ledger_ok().await;
}

#[tokio::test]
async fn test_keys_and_unconfigured_operations_stay_on_the_sandbox() {
    let fake = FakeHttp::start(vec![]).await;
    let settings = api(&fake, "/gh", true);
    let s = server(move |c| c.providers.github = Some(settings)).await;
    s.credit(10).await;
    let agent = test_agent(&s, "github").await;
    let r = s
        .request(
            &agent,
            "github",
            "create_issue",
            json!({"repo": "acme/web", "title": "t"}),
        )
        .await;
    assert_eq!(r.body["provider"], "sandbox", "{r:?}");
    assert!(fake.hits().is_empty());
    let services = s.get("/api/v1/services", &s.pat).await;
    let provider_of = |service: &str| -> Value {
        services.body["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == service)
            .map(|x| x["operations"][0]["provider"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(provider_of("github"), "github");
    assert_eq!(provider_of("discord"), "sandbox");
}

#[test]
fn api_settings_refuse_what_is_not_a_plain_http_url_and_hide_the_token() {
    for bad in ["ftp://x", "not a url", "https://user:pw@api.example.com"] {
        assert!(ApiSettings::new("X_URL", bad, None).is_err(), "{bad}");
    }
    let ok = ApiSettings::new(
        "X_URL",
        "https://api.example.com/v1/",
        Some(SecretString::from(TOKEN)),
    )
    .unwrap();
    assert_eq!(
        ok.url("/a").unwrap().as_str(),
        "https://api.example.com/v1/a"
    );
    assert!(!format!("{ok:?}").contains(TOKEN));
}

#[tokio::test]
async fn mastodon_posts_once_per_request_with_an_idempotency_key() {
    let fake = FakeHttp::start(vec![Canned::json(
        200,
        json!({"id": "113001", "uri": "https://social.example/users/bot/statuses/113001",
               "url": "https://social.example/@bot/113001", "visibility": "unlisted",
               "content": "<p>Shipping day!</p>", "created_at": "2026-12-03T09:00:00.000Z"}),
    )])
    .await;
    let settings = api(&fake, "", true);
    let s = server(move |c| c.providers.mastodon = Some(settings)).await;
    let agent = s.funded_agent("mastodon", 10).await;
    let r = s
        .request(
            &agent,
            "mastodon",
            "post",
            json!({"status": "Shipping day!", "visibility": "unlisted"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "mastodon");
    assert_eq!(
        r.body["result"]["url"],
        "https://social.example/@bot/113001"
    );
    let hit = &fake.hits()[0];
    assert_eq!(
        (hit.method.as_str(), hit.uri.as_str()),
        ("POST", "/api/v1/statuses")
    );
    assert_eq!(hit.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(
        hit.header("idempotency-key"),
        r.body["request_id"].as_str().unwrap()
    );
    assert_eq!(
        hit.json(),
        json!({"status": "Shipping day!", "visibility": "unlisted"})
    );
    fake.push(Canned::json(
        422,
        json!({"error": "Validation failed: Text can't be blank"}),
    ));
    let refused = s
        .request(&agent, "mastodon", "post", json!({"status": "x"}))
        .await;
    assert_eq!(refused.body["reason_code"], "adapter_error", "{refused:?}");
    assert_eq!(s.balance().await, 9);
    s.ledger_ok().await;
}

#[tokio::test]
async fn notion_pages_carry_the_title_and_one_block_per_paragraph() {
    let fake = FakeHttp::start(vec![Canned::json(
        200,
        json!({"object": "page", "id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
               "url": "https://www.notion.so/Weekly-digest-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
               "created_time": "2026-12-03T09:00:00.000Z"}),
    )])
    .await;
    let settings = api(&fake, "", true);
    let s = server(move |c| c.providers.notion = Some(settings)).await;
    let agent = s.funded_agent("notion", 10).await;
    let r = s
        .request(
            &agent,
            "notion",
            "create_page",
            json!({"parent_id": "5C6A28216BB14A7EB6E1C50111515C3D", "title": "Weekly digest",
                   "content": "Three incidents.\r\n\r\n\n\nAll resolved.\n"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(
        r.body["result"]["parent_id"],
        "5c6a2821-6bb1-4a7e-b6e1-c50111515c3d"
    );
    assert_eq!(r.body["result"]["blocks_created"], 2);
    let hit = &fake.hits()[0];
    assert_eq!(hit.uri, "/v1/pages");
    assert_eq!(hit.header("notion-version"), "2022-06-28");
    assert_eq!(hit.header("authorization"), format!("Bearer {TOKEN}"));
    let body = hit.json();
    assert_eq!(
        body["parent"]["page_id"],
        "5c6a2821-6bb1-4a7e-b6e1-c50111515c3d"
    );
    assert_eq!(
        body["properties"]["title"]["title"][0]["text"]["content"],
        "Weekly digest"
    );
    let texts: Vec<&str> = body["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["paragraph"]["rich_text"][0]["text"]["content"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(texts, ["Three incidents.", "All resolved."]);

    // A paragraph Notion would refuse is refused before anything is sent.
    let long = "x".repeat(2001);
    let r = s
        .request(
            &agent,
            "notion",
            "create_page",
            json!({"parent_id": "5c6a28216bb14a7eb6e1c50111515c3d", "title": "t", "content": long}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert_eq!(fake.hits().len(), 1);
    assert_eq!(s.balance().await, 9);
    s.ledger_ok().await;
}

#[tokio::test]
async fn x_posts_and_replies_with_the_user_token() {
    let fake = FakeHttp::start(vec![Canned::json(
        201,
        json!({"data": {"id": "1864000000000000001", "text": "Shipping day!", "edit_history_tweet_ids": ["1864000000000000001"]}}),
    )])
    .await;
    let settings = api(&fake, "", true);
    let s = server(move |c| c.providers.x = Some(settings)).await;
    let agent = s.funded_agent("x", 10).await;
    let r = s
        .request(
            &agent,
            "x",
            "post",
            json!({"text": "Shipping day!", "reply_to_id": "1863999999999999999"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "x");
    assert_eq!(r.body["result"]["id"], "1864000000000000001");
    assert_eq!(
        r.body["result"]["url"],
        "https://x.com/i/web/status/1864000000000000001"
    );
    let hit = &fake.hits()[0];
    assert_eq!(hit.uri, "/2/tweets");
    assert_eq!(hit.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(
        hit.json(),
        json!({"text": "Shipping day!", "reply": {"in_reply_to_tweet_id": "1863999999999999999"}})
    );
    // 403 (a duplicate post, or no write scope) is the adapter's; an
    // answer without `data` too.
    fake.push(Canned::json(
        403,
        json!({"detail": "You are not allowed to create a Tweet with duplicate content."}),
    ));
    let dup = s
        .request(&agent, "x", "post", json!({"text": "Shipping day!"}))
        .await;
    assert_eq!(dup.body["reason_code"], "adapter_error", "{dup:?}");
    assert!(
        dup.body["message"].as_str().unwrap().contains("403"),
        "{dup:?}"
    );
    fake.push(Canned::json(200, json!({"errors": []})));
    let odd = s.request(&agent, "x", "post", json!({"text": "y"})).await;
    assert_eq!(odd.body["reason_code"], "adapter_error", "{odd:?}");
    assert_eq!(s.balance().await, 9);
    s.ledger_ok().await;
}

#[tokio::test]
async fn bluesky_posts_reuse_one_session_and_renew_it_once_expired() {
    let session = |jwt: &str| {
        Canned::json(
            200,
            json!({"accessJwt": jwt, "refreshJwt": "r", "did": "did:plc:abc123", "handle": "bot.bsky.social"}),
        )
    };
    let record = |n: u32| {
        Canned::json(
            200,
            json!({"uri": format!("at://did:plc:abc123/app.bsky.feed.post/3k{n}"), "cid": format!("bafy{n}")}),
        )
    };
    let fake = FakeHttp::start(vec![
        session("jwt-one"),
        record(1),
        record(2),
        Canned::json(
            400,
            json!({"error": "ExpiredToken", "message": "Token has expired"}),
        ),
        session("jwt-two"),
        record(3),
    ])
    .await;
    let settings = api(&fake, "", true);
    let s = server(move |c| c.providers.bluesky = Some((settings, "bot.bsky.social".into()))).await;
    let agent = s.funded_agent("bluesky", 10).await;
    let mut uris = Vec::new();
    for text in ["one", "two", "three"] {
        let r = s
            .request(
                &agent,
                "bluesky",
                "post",
                json!({"text": text, "langs": ["en"]}),
            )
            .await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
        assert_eq!(r.body["provider"], "bluesky");
        uris.push(r.body["result"]["uri"].as_str().unwrap().to_owned());
    }
    assert_eq!(uris[2], "at://did:plc:abc123/app.bsky.feed.post/3k3");
    let hits = fake.hits();
    let paths: Vec<&str> = hits.iter().map(|h| h.uri.as_str()).collect();
    let open = "/xrpc/com.atproto.server.createSession";
    let write = "/xrpc/com.atproto.repo.createRecord";
    assert_eq!(paths, [open, write, write, write, open, write]);
    assert_eq!(
        hits[0].json(),
        json!({"identifier": "bot.bsky.social", "password": TOKEN})
    );
    assert_eq!(hits[0].header("authorization"), "");
    assert_eq!(hits[1].header("authorization"), "Bearer jwt-one");
    assert_eq!(hits[5].header("authorization"), "Bearer jwt-two");
    let written = hits[1].json();
    assert_eq!(written["repo"], "did:plc:abc123");
    assert_eq!(written["record"]["$type"], "app.bsky.feed.post");
    assert_eq!(written["record"]["text"], "one");
    assert_eq!(written["record"]["langs"], json!(["en"]));
    assert_eq!(s.balance().await, 7);

    // A wrong app password is the adapter's error and costs nothing.
    fake.push(Canned::json(400, json!({"error": "ExpiredToken"})));
    fake.push(Canned::json(
        401,
        json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
    ));
    let r = s
        .request(&agent, "bluesky", "post", json!({"text": "four"}))
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert_eq!(s.balance().await, 7);
    s.ledger_ok().await;
}

#[tokio::test]
async fn slack_reads_a_channels_history_since_a_window() {
    let fake = FakeHttp::start(vec![Canned::json(
        200,
        json!({"ok": true, "has_more": true, "messages": [
            {"type": "message", "ts": "1733216400.000200", "user": "U0123ABCDE", "text": "deploy done"},
            {"type": "message", "ts": "1733216300.000100", "bot_id": "B0456", "text": "build green"},
        ]}),
    )])
    .await;
    let settings = api(&fake, "/api", true);
    let s = server(move |c| c.providers.slack = Some(settings)).await;
    let agent = s.funded_agent("chat", 10).await;
    let r = s
        .request(
            &agent,
            "chat",
            "read",
            json!({"channel": "C0123ABCDE", "since": "2h", "limit": 2}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "slack");
    assert_eq!(r.body["result"]["has_more"], true);
    assert_eq!(r.body["result"]["messages"][1]["user"], "B0456");
    let hit = &fake.hits()[0];
    assert_eq!(hit.uri, "/api/conversations.history");
    let sent = hit.json();
    assert_eq!(
        (&sent["channel"], &sent["limit"]),
        (&json!("C0123ABCDE"), &json!(2))
    );
    let oldest: i64 = sent["oldest"]
        .as_str()
        .and_then(|o| o.strip_suffix(".000000"))
        .and_then(|o| o.parse().ok())
        .unwrap_or_else(|| panic!("{sent}"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now - 7200 - oldest).abs() < 60,
        "oldest {oldest}, now {now}"
    );
    let since = time::OffsetDateTime::parse(
        r.body["result"]["since"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(since.unix_timestamp(), oldest);
    assert_eq!(s.balance().await, 10, "reads are free");

    // A window past 90 days is refused without asking Slack.
    let old = s
        .request(
            &agent,
            "chat",
            "read",
            json!({"channel": "C0123ABCDE", "since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(old.body["reason_code"], "adapter_error", "{old:?}");
    assert_eq!(fake.hits().len(), 1);
}

#[tokio::test]
async fn slack_finds_a_channel_by_name_once_and_again_when_it_moved() {
    let page = |channels: Value, next: &str| json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": next}});
    let history = json!({"ok": true, "has_more": false, "messages": [
        {"type": "message", "ts": "1733216400.000200", "user": "U1", "text": "hi"},
    ]});
    let fake = FakeHttp::start(vec![
        Canned::json(
            200,
            page(json!([{"id": "C001", "name": "random"}]), "page2"),
        ),
        Canned::json(200, page(json!([{"id": "C002", "name": "general"}]), "")),
        Canned::json(200, history.clone()),
        // The second read uses the kept id.
        Canned::json(200, history.clone()),
        // Then the channel is gone under that id: looked up again.
        Canned::json(200, json!({"ok": false, "error": "channel_not_found"})),
        Canned::json(200, page(json!([{"id": "C009", "name": "general"}]), "")),
        Canned::json(200, history),
        // A name no page has.
        Canned::json(200, page(json!([{"id": "C001", "name": "random"}]), "")),
    ])
    .await;
    let settings = api(&fake, "/api", true);
    let s = server(move |c| c.providers.slack = Some(settings)).await;
    let agent = s.funded_agent("chat", 10).await;
    let read = |channel: &'static str| {
        let (s, agent) = (&s, &agent);
        async move {
            s.request(agent, "chat", "read", json!({"channel": channel}))
                .await
        }
    };
    let r = read("#general").await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["result"]["channel"], "#general");
    assert_eq!(r.body["result"]["channel_id"], "C002");
    let hits = fake.hits();
    assert_eq!(hits[0].uri, "/api/conversations.list");
    assert_eq!(hits[0].json()["cursor"], "");
    assert_eq!(hits[1].json()["cursor"], "page2");
    assert_eq!(hits[2].uri, "/api/conversations.history");
    assert_eq!(hits[2].json()["channel"], "C002");

    let r = read("#general").await;
    assert_eq!(r.body["result"]["channel_id"], "C002", "{r:?}");
    assert_eq!(fake.hits().len(), 4, "the id was kept");

    let r = read("#general").await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["result"]["channel_id"], "C009");
    assert_eq!(fake.hits()[6].json()["channel"], "C009");

    let r = read("#nowhere").await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert!(
        r.body["message"].as_str().unwrap().contains("#nowhere"),
        "{r:?}"
    );
    assert_eq!(s.balance().await, 10, "reads are free");
}

#[tokio::test]
async fn reddit_posts_with_a_kept_token_renewed_once_when_refused() {
    use base64::Engine;
    use upivia_server::providers::reddit::{RedditAccount, RedditSettings};

    let token = |t: &str| json!({"access_token": t, "token_type": "bearer", "expires_in": 3600, "scope": "*"});
    let posted = |id: &str| {
        json!({"json": {"errors": [], "data": {
            "url": format!("https://www.reddit.com/r/rust/comments/{id}/show/"),
            "id": id, "name": format!("t3_{id}")}}})
    };
    let fake = FakeHttp::start(vec![
        Canned::json(200, token("tok-1")),
        Canned::json(200, posted("abc")),
    ])
    .await;
    let settings = RedditSettings {
        api: api(&fake, "/oauth", false),
        auth: api(&fake, "/www", false),
        account: RedditAccount {
            client_id: "app-id".to_owned(),
            client_secret: SecretString::from("app-secret-9f"),
            username: "botuser".to_owned(),
            password: SecretString::from("bot-password-3c"),
        },
    };
    let s = server(move |c| c.providers.reddit = Some(settings)).await;
    let agent = s.funded_agent("reddit", 10).await;
    let post = json!({"subreddit": "r/rust", "title": "Show r/rust", "text": "We wrote a server."});
    let r = s
        .request(&agent, "reddit", "submit_post", post.clone())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "reddit");
    assert_eq!(r.body["result"]["name"], "t3_abc");
    assert_eq!(r.body["result"]["kind"], "self");
    assert_eq!(r.body["result"]["subreddit"], "rust");
    let form = |hit: &crate::fakes::Hit| -> Vec<(String, String)> {
        url::form_urlencoded::parse(&hit.body)
            .into_owned()
            .collect()
    };
    let has =
        |form: &[(String, String)], k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
    let hits = fake.hits();
    assert_eq!(
        (hits[0].method.as_str(), hits[0].uri.as_str()),
        ("POST", "/www/api/v1/access_token")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("app-id:app-secret-9f");
    assert_eq!(hits[0].header("authorization"), format!("Basic {basic}"));
    let grant = form(&hits[0]);
    assert!(has(&grant, "grant_type", "password"), "{grant:?}");
    assert!(has(&grant, "username", "botuser"));
    assert!(has(&grant, "password", "bot-password-3c"));
    assert!(hits[0].header("user-agent").ends_with("(by /u/botuser)"));
    assert_eq!(hits[1].uri, "/oauth/api/submit");
    assert_eq!(hits[1].header("authorization"), "Bearer tok-1");
    assert!(hits[1].header("user-agent").ends_with("(by /u/botuser)"));
    let submitted = form(&hits[1]);
    for (k, v) in [
        ("api_type", "json"),
        ("sr", "rust"),
        ("kind", "self"),
        ("title", "Show r/rust"),
        ("text", "We wrote a server."),
    ] {
        assert!(has(&submitted, k, v), "{k}={v} in {submitted:?}");
    }
    assert_eq!(s.balance().await, 9);

    // The kept token is refused: one new token, one more try.
    fake.push(Canned::text(401, "unauthorized"));
    fake.push(Canned::json(200, token("tok-2")));
    fake.push(Canned::json(200, posted("def")));
    let link = json!({"subreddit": "rust", "title": "A link", "url": "https://example.com/a"});
    let r = s.request(&agent, "reddit", "submit_post", link).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["result"]["kind"], "link");
    let hits = fake.hits();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[2].header("authorization"), "Bearer tok-1");
    assert_eq!(hits[3].uri, "/www/api/v1/access_token");
    assert_eq!(hits[4].header("authorization"), "Bearer tok-2");
    assert!(has(&form(&hits[4]), "url", "https://example.com/a"));
    assert_eq!(s.balance().await, 8);

    // Refusals come inside a 200: the adapter's, and its rate limit is
    // unavailable; neither is charged, and the token is reused.
    fake.push(Canned::json(
        200,
        json!({"json": {"errors": [["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"]]}}),
    ));
    let r = s
        .request(&agent, "reddit", "submit_post", post.clone())
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("SUBREDDIT_NOEXIST"),
        "{r:?}"
    );
    fake.push(Canned::json(
        200,
        json!({"json": {"errors": [["RATELIMIT", "you are doing that too much", "ratelimit"]]}}),
    ));
    let r = s.request(&agent, "reddit", "submit_post", post).await;
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert_eq!(fake.hits().len(), 7, "no new token was needed");
    assert_eq!(s.balance().await, 8);
    s.ledger_ok().await;
}
