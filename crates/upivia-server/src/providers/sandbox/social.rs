//! Sandbox social posting: `discord.send_message`, `reddit.submit_post`,
//! `bluesky.post`, `x.post` and `mastodon.post`. Ids imitate each network's
//! format (snowflakes, base36, AT-URIs) so clients that parse them work.

use serde_json::json;
use url::Url;

use super::{Ctx, Input, base32, slug, snowflake, unix_millis};
use crate::providers::{Execution, ProviderError};

const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
const X_EPOCH_MS: u64 = 1_288_834_974_657;
/// The sandbox's own account on Bluesky; `did:plc` ids are 24 base32 chars.
const SANDBOX_DID: &str = "did:plc:sandbox7upivia2test4acct";
const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
const BASE32_LOWER: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

pub(super) fn discord_send_message(
    ctx: &Ctx<'_>,
    input: &Input<'_>,
) -> Result<Execution, ProviderError> {
    let channel_id = input.str("channel_id")?;
    if !((17..=20).contains(&channel_id.len()) && channel_id.bytes().all(|b| b.is_ascii_digit())) {
        return Err(input.invalid(format_args!(
            "`channel_id` must be a channel snowflake (17 to 20 digits), not {channel_id:?}"
        )));
    }
    let content = input.text("content", 1, 2000)?;
    input.opt_bool("tts")?;
    let id = snowflake(ctx.now, DISCORD_EPOCH_MS, ctx.seed("id"));
    ctx.done(json!({
        "id": id.to_string(),
        "channel_id": channel_id,
        "content": content,
        "timestamp": ctx.timestamp()?,
    }))
}

pub(super) fn reddit_submit_post(
    ctx: &Ctx<'_>,
    input: &Input<'_>,
) -> Result<Execution, ProviderError> {
    let raw = input.str("subreddit")?;
    let subreddit = raw.strip_prefix("r/").unwrap_or(raw);
    let valid = (3..=21).contains(&subreddit.len())
        && subreddit.starts_with(|c: char| c.is_ascii_alphanumeric())
        && subreddit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(input.invalid(format_args!("`subreddit` is not a subreddit name: {raw:?}")));
    }
    let title = input.text("title", 1, 300)?;
    let text = input.opt_text("text", 40_000)?;
    let link = input.opt_text("url", 2048)?;
    input.opt_bool("nsfw")?;
    input.opt_bool("spoiler")?;
    let kind = match (text, link) {
        (Some(_), None) => "self",
        (None, Some(link)) => {
            let parsed = Url::parse(link)
                .map_err(|e| input.invalid(format_args!("`url` is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(input.invalid("`url` must be an http(s) link"));
            }
            "link"
        }
        _ => {
            return Err(
                input.invalid("give exactly one of `text` (a text post) or `url` (a link post)")
            );
        }
    };
    let id = base36(ctx.seed("id") % 36u64.pow(7), 7);
    let mut path = slug(title, '_', 50);
    if path.is_empty() {
        path.push_str("post");
    }
    ctx.done(json!({
        "id": id,
        "name": format!("t3_{id}"),
        "kind": kind,
        "subreddit": subreddit,
        "title": title,
        "url": format!("https://www.reddit.com/r/{subreddit}/comments/{id}/{path}/"),
        "created_at": ctx.timestamp()?,
    }))
}

/// `n` in base 36, zero-padded to `width` digits.
fn base36(mut n: u64, width: usize) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(width);
    while n > 0 || out.len() < width {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn bluesky_post(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let text = input.text("text", 1, 300)?;
    input.opt_strings("langs", 3, is_language_tag)?;
    // A TID: microseconds since the epoch, then 10 bits of clock id.
    let micros = unix_millis(ctx.now).saturating_mul(1000) & ((1 << 53) - 1);
    let tid_value = (micros << 10) | (ctx.seed("tid") & 0x3ff);
    let tid: String = (0..13)
        .rev()
        .map(|i| char::from(BASE32_SORTABLE[((tid_value >> (5 * i)) & 31) as usize]))
        .collect();
    let cid = format!("bafyrei{}", base32(&ctx.digest("cid"), BASE32_LOWER));
    ctx.done(json!({
        "uri": format!("at://{SANDBOX_DID}/app.bsky.feed.post/{tid}"),
        "cid": cid,
        "text": text,
        "created_at": ctx.timestamp()?,
    }))
}

/// A BCP 47 tag of the simple kind Bluesky expects (`en`, `pt-BR`).
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()));
    primary_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub(super) fn x_post(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let text = input.text("text", 1, 280)?;
    if let Some(reply_to) = input.opt_str("reply_to_id")?
        && !((1..=19).contains(&reply_to.len()) && reply_to.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(input.invalid(format_args!(
            "`reply_to_id` must be a post id (digits), not {reply_to:?}"
        )));
    }
    let id = snowflake(ctx.now, X_EPOCH_MS, ctx.seed("id")).to_string();
    ctx.done(json!({
        "id": id,
        "text": text,
        "url": format!("https://x.com/i/web/status/{id}"),
        "created_at": ctx.timestamp()?,
    }))
}

pub(super) fn mastodon_post(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let status = input.text("status", 1, 500)?;
    let spoiler = input.opt_text("spoiler_text", 500)?.unwrap_or("");
    // Mastodon counts the content warning against the same 500 characters.
    let total = status.chars().count() + spoiler.chars().count();
    if total > 500 {
        return Err(input.invalid(format_args!(
            "`status` plus `spoiler_text` is {total} characters; the limit is 500"
        )));
    }
    let visibility = input.opt_str("visibility")?.unwrap_or("public");
    if !matches!(visibility, "public" | "unlisted" | "private" | "direct") {
        return Err(input.invalid("`visibility` must be public, unlisted, private or direct"));
    }
    input.opt_bool("sensitive")?;
    if let Some(language) = input.opt_str("language")?
        && !(language.len() == 2 && language.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return Err(input.invalid("`language` must be an ISO 639-1 code such as `en`"));
    }
    // Mastodon ids: milliseconds in the high bits, 16 bits of sequence.
    let id = ((unix_millis(ctx.now) & ((1 << 47) - 1)) << 16) | (ctx.seed("id") & 0xffff);
    ctx.done(json!({
        "id": id.to_string(),
        "uri": format!("https://social.example/users/sandbox/statuses/{id}"),
        "url": format!("https://social.example/@sandbox/{id}"),
        "visibility": visibility,
        "content": format!("<p>{}</p>", escape_html(status).replace('\n', "<br />")),
        "created_at": ctx.timestamp()?,
    }))
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::base36;
    use crate::providers::ProviderError;
    use crate::providers::sandbox::tests::{completed, run, run_at};

    async fn refused(service: &str, op: &str, payload: serde_json::Value) {
        let outcome = run(service, op, payload.clone()).await;
        assert!(
            matches!(outcome, Err(ProviderError::Adapter(_))),
            "{service}.{op} {payload}: {outcome:?}"
        );
    }

    #[tokio::test]
    async fn discord_ids_are_snowflakes_that_sort_by_time() {
        let payload = json!({"channel_id": "112233445566778899", "content": "hi"});
        let early = run_at(
            datetime!(2026-03-01 12:00:00 UTC),
            "discord",
            "send_message",
            payload.clone(),
        )
        .await
        .unwrap();
        let late = run_at(
            datetime!(2026-03-01 12:00:01 UTC),
            "discord",
            "send_message",
            payload,
        )
        .await
        .unwrap();
        let id = |e| {
            completed(e).0["id"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        assert!(id(&late) > id(&early));
        // The timestamp part decodes back to the send time.
        assert_eq!(
            (id(&early) >> 22) + super::DISCORD_EPOCH_MS,
            1_772_366_400_000
        );
        refused(
            "discord",
            "send_message",
            json!({"channel_id": "general", "content": "hi"}),
        )
        .await;
        refused(
            "discord",
            "send_message",
            json!({"channel_id": "112233445566778899", "content": "x".repeat(2001)}),
        )
        .await;
        refused(
            "discord",
            "send_message",
            json!({"channel_id": "112233445566778899", "content": "\n"}),
        )
        .await;
    }

    #[tokio::test]
    async fn reddit_takes_text_or_link_and_normalises_the_subreddit() {
        let exec = run("reddit", "submit_post", json!({"subreddit": "r/rust", "title": "Hello, world!", "url": "https://blog.example.com/p"}))
            .await
            .unwrap();
        let (result, _) = completed(&exec);
        assert_eq!(result["subreddit"], "rust");
        assert_eq!(result["kind"], "link");
        let id = result["id"].as_str().unwrap();
        assert_eq!(result["name"], format!("t3_{id}"));
        assert_eq!(
            result["url"],
            format!("https://www.reddit.com/r/rust/comments/{id}/hello_world/")
        );
        refused(
            "reddit",
            "submit_post",
            json!({"subreddit": "rust", "title": "t"}),
        )
        .await;
        refused(
            "reddit",
            "submit_post",
            json!({"subreddit": "rust", "title": "t", "text": "a", "url": "https://a.example"}),
        )
        .await;
        refused(
            "reddit",
            "submit_post",
            json!({"subreddit": "rust", "title": "t", "url": "ftp://a.example/x"}),
        )
        .await;
        refused(
            "reddit",
            "submit_post",
            json!({"subreddit": "r/a", "title": "t", "text": ""}),
        )
        .await;
    }

    #[test]
    fn base36_pads_and_encodes() {
        assert_eq!(base36(0, 3), "000");
        assert_eq!(base36(35, 1), "z");
        assert_eq!(base36(36, 1), "10");
    }

    #[tokio::test]
    async fn bluesky_and_x_enforce_their_length_limits() {
        run("bluesky", "post", json!({"text": "é".repeat(300)}))
            .await
            .unwrap();
        refused("bluesky", "post", json!({"text": "é".repeat(301)})).await;
        refused(
            "bluesky",
            "post",
            json!({"text": "hi", "langs": ["english"]}),
        )
        .await;
        run("x", "post", json!({"text": "a".repeat(280)}))
            .await
            .unwrap();
        refused("x", "post", json!({"text": "a".repeat(281)})).await;
        refused("x", "post", json!({"text": "hi", "reply_to_id": "abc"})).await;
        let exec = run(
            "bluesky",
            "post",
            json!({"text": "hi", "langs": ["en", "pt-BR"]}),
        )
        .await
        .unwrap();
        let (result, _) = completed(&exec);
        let uri = result["uri"].as_str().unwrap();
        let tid = uri.rsplit('/').next().unwrap();
        assert!(uri.starts_with("at://did:plc:") && tid.len() == 13, "{uri}");
        assert_eq!(result["cid"].as_str().unwrap().len(), 7 + 52);
    }

    #[tokio::test]
    async fn mastodon_counts_the_content_warning_and_escapes_html() {
        let exec = run(
            "mastodon",
            "post",
            json!({"status": "<b>5 > 3</b>\nok", "visibility": "unlisted"}),
        )
        .await
        .unwrap();
        let (result, _) = completed(&exec);
        assert_eq!(
            result["content"],
            "<p>&lt;b&gt;5 &gt; 3&lt;/b&gt;<br />ok</p>"
        );
        assert_eq!(result["visibility"], "unlisted");
        refused(
            "mastodon",
            "post",
            json!({"status": "a".repeat(400), "spoiler_text": "b".repeat(101)}),
        )
        .await;
        refused(
            "mastodon",
            "post",
            json!({"status": "a", "visibility": "everyone"}),
        )
        .await;
        refused(
            "mastodon",
            "post",
            json!({"status": "a", "language": "english"}),
        )
        .await;
    }
}
