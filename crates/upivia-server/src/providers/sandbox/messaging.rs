//! Sandbox messaging: `email.send`, `sms.send`, `sms.read`, `mms.send`,
//! `chat.dm` and `chat.read`. Sends echo what a real gateway would report;
//! reads return a few deterministic messages inside the requested window.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use url::{Host, Url};

use super::{Ctx, Input, base32, is_e164, is_email, rfc3339};
use crate::providers::{Execution, ProviderError, window};

/// Resend's and most mail APIs' cap on to + cc + bcc.
const MAX_RECIPIENTS: usize = 50;
/// How far back the sandbox keeps inbound history, like Slack's free plan.
/// The workspace number inbound SMS arrive at when no `to` filter is given.
const SANDBOX_NUMBER: &str = "+15555550100";

const SMS_REPLIES: [&str; 5] = [
    "YES",
    "Got it, thanks",
    "STOP",
    "Code received",
    "Can you call me back?",
];
const CHAT_LINES: [&str; 6] = [
    "Deploy is green.",
    "Can someone review the billing PR?",
    "Customer call moved to 3pm.",
    "Heads up: the staging database restarts tonight.",
    "Thanks all, closing the incident.",
    "New ticket from Acme about invoices.",
];
const UPPER_BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub(super) fn email_send(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let to = input.str("to")?;
    if !is_email(to) {
        return Err(input.invalid(format_args!("`to` is not an email address: {to:?}")));
    }
    let subject = input.text("subject", 1, 998)?;
    if subject.contains(['\r', '\n']) {
        // A line break in a header is how header injection starts.
        return Err(input.invalid("`subject` must be a single line"));
    }
    input.text("body", 1, 1_000_000)?;
    input.opt_text("html", 1_000_000)?;
    let cc = input.opt_strings("cc", MAX_RECIPIENTS - 1, is_email)?;
    let bcc = input.opt_strings("bcc", MAX_RECIPIENTS - 1, is_email)?;
    if 1 + cc.len() + bcc.len() > MAX_RECIPIENTS {
        return Err(input.invalid(format_args!(
            "at most {MAX_RECIPIENTS} recipients across to, cc and bcc"
        )));
    }
    if let Some(reply_to) = input.opt_str("reply_to")?
        && !is_email(reply_to)
    {
        return Err(input.invalid(format_args!(
            "`reply_to` is not an email address: {reply_to:?}"
        )));
    }
    if let Some(metadata) = input.opt_object("metadata")? {
        let ok = metadata.len() <= 20
            && metadata
                .values()
                .all(|v| v.as_str().is_some_and(|s| s.chars().count() <= 256));
        if !ok {
            return Err(
                input.invalid("`metadata` takes at most 20 string values of up to 256 characters")
            );
        }
    }
    ctx.done(json!({
        "id": ctx.id("msg"),
        "to": to,
        "status": "sent",
        "sent_at": ctx.timestamp()?,
    }))
}

fn phone<'a>(input: &Input<'a>, key: &str) -> Result<&'a str, ProviderError> {
    let number = input.str(key)?;
    check_phone(input, key, number)?;
    Ok(number)
}

fn check_phone(input: &Input<'_>, key: &str, number: &str) -> Result<(), ProviderError> {
    if is_e164(number) {
        Ok(())
    } else {
        Err(input.invalid(format_args!(
            "`{key}` must be an E.164 number such as +15555550123, not {number:?}"
        )))
    }
}

/// `to` and `from`, checked the way Twilio does (it refuses a message to
/// its own sender).
pub(super) fn endpoints<'a>(input: &Input<'a>) -> Result<(&'a str, &'a str), ProviderError> {
    let to = phone(input, "to")?;
    let from = phone(input, "from")?;
    if to == from {
        return Err(input.invalid("`to` and `from` must be different numbers"));
    }
    Ok((to, from))
}

pub(super) fn sms_send(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let (to, from) = endpoints(input)?;
    let body = input.text("body", 1, 1600)?;
    ctx.done(json!({
        "id": ctx.id("sms"),
        "to": to,
        "from": from,
        "status": "sent",
        "segments": segments(body),
        "sent_at": ctx.timestamp()?,
    }))
}

/// SMS segments the body takes. Informational (the catalog price is per
/// message), so the GSM-7 test is approximate: printable ASCII and line
/// breaks, with the characters GSM escapes counting twice.
fn segments(body: &str) -> u64 {
    let gsm = body
        .chars()
        .all(|c| c == '\n' || c == '\r' || (' '..='~').contains(&c));
    if gsm {
        let units: u64 = body
            .chars()
            .map(|c| if "^{}\\[]~|".contains(c) { 2 } else { 1 })
            .sum();
        if units <= 160 { 1 } else { units.div_ceil(153) }
    } else {
        let units = body.encode_utf16().count() as u64;
        if units <= 70 { 1 } else { units.div_ceil(67) }
    }
}

/// Start of a read window (see `providers/window.rs`).
fn since(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<OffsetDateTime, ProviderError> {
    let raw = input.opt_str("since")?.unwrap_or("24h");
    window::since(raw, ctx.now).map_err(|why| input.invalid(why))
}

/// `count` instants spread evenly inside `(start, now)`, oldest first;
/// none when the window is empty.
fn spread(start: OffsetDateTime, now: OffsetDateTime, count: u64) -> Vec<OffsetDateTime> {
    let window = (now - start).whole_seconds();
    if window <= 0 {
        return Vec::new();
    }
    let count = i64::try_from(count).unwrap_or(0);
    (1..=count)
        .filter_map(|i| start.checked_add(time::Duration::seconds(window * i / (count + 1))))
        .collect()
}

pub(super) fn sms_read(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let start = since(ctx, input)?;
    let limit = input.opt_int("limit", 1, 100)?.unwrap_or(20);
    let from_filter = input.opt_str("from")?;
    let to_filter = input.opt_str("to")?;
    if let Some(number) = from_filter {
        check_phone(input, "from", number)?;
    }
    if let Some(number) = to_filter {
        check_phone(input, "to", number)?;
    }
    let seed = ctx.seed("inbox");
    let count = (1 + seed % 3).min(limit);
    let mut messages = Vec::new();
    for (i, at) in spread(start, ctx.now, count).into_iter().enumerate() {
        let salt = format!("sms-{i}");
        let item_seed = ctx.seed(&salt);
        let from = match from_filter {
            Some(number) => number.to_owned(),
            None => format!("+1555555{:04}", item_seed % 10_000),
        };
        messages.push(json!({
            "id": ctx.sub_id("sms", &salt),
            "from": from,
            "to": to_filter.unwrap_or(SANDBOX_NUMBER),
            "body": SMS_REPLIES[(item_seed % SMS_REPLIES.len() as u64) as usize],
            "received_at": rfc3339(at)?,
        }));
    }
    ctx.done(json!({ "since": rfc3339(start)?, "messages": messages }))
}

pub(super) fn mms_send(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let (to, from) = endpoints(input)?;
    input.text("body", 0, 1600)?;
    let raw = input.text("media_url", 1, 2048)?;
    let media = Url::parse(raw)
        .map_err(|e| input.invalid(format_args!("`media_url` is not a URL: {e}")))?;
    if media.scheme() != "https" {
        return Err(input.invalid("`media_url` must use https"));
    }
    // The carrier fetches the media itself, so it must be on the public
    // internet.
    if !media.host().is_some_and(|h| is_public_host(&h)) {
        return Err(input.invalid(format_args!(
            "`media_url` must be publicly reachable; {raw:?} is not"
        )));
    }
    ctx.done(json!({
        "id": ctx.id("mms"),
        "to": to,
        "from": from,
        "media_url": media.as_str(),
        "status": "sent",
        "sent_at": ctx.timestamp()?,
    }))
}

fn is_public_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => {
            let domain = domain.trim_end_matches('.');
            domain.contains('.')
                && ![".localhost", ".local", ".internal", ".lan", ".home.arpa"]
                    .iter()
                    .any(|suffix| domain.ends_with(suffix))
        }
        Host::Ipv4(ip) => {
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation())
        }
        Host::Ipv6(ip) => {
            // Unique-local (fc00::/7) and link-local (fe80::/10) ranges.
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A Slack-style id: `prefix` then `len` uppercase base32 characters that
/// depend only on `key` (a user's DM channel does not change per request).
fn slack_id(prefix: char, key: &str, len: usize) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let code = base32(&digest, UPPER_BASE32);
    format!("{prefix}{}", &code[..len.min(code.len())])
}

/// `<unix seconds>.<6 digits>`, Slack's message timestamp.
fn slack_ts(at: OffsetDateTime, seed: u64) -> String {
    format!("{}.{:06}", at.unix_timestamp(), seed % 1_000_000)
}

fn is_slack_id(s: &str, kinds: &[char]) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| kinds.contains(&c))
        && (9..=21).contains(&s.len())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

pub(super) fn chat_dm(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let user_id = input.str("user_id")?;
    if !is_slack_id(user_id, &['U', 'W']) {
        return Err(input.invalid(format_args!(
            "`user_id` must be a Slack user id such as U0123ABCDE, not {user_id:?}"
        )));
    }
    input.text("text", 1, 40_000)?;
    if !input.opt_array("blocks", 50)?.iter().all(Value::is_object) {
        return Err(input.invalid("`blocks` must be Block Kit objects"));
    }
    ctx.done(json!({
        "ok": true,
        "channel": slack_id('D', user_id, 10),
        "ts": slack_ts(ctx.now, ctx.seed("ts")),
        "user_id": user_id,
    }))
}

pub(super) fn chat_read(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let channel = input.str("channel")?;
    let valid = match channel.strip_prefix('#') {
        Some(name) => {
            (1..=80).contains(&name.len())
                && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        }
        None => is_slack_id(channel, &['C', 'G', 'D']),
    };
    if !valid {
        return Err(input.invalid(format_args!(
            "`channel` must be a channel id such as C0123ABCDE or a #name, not {channel:?}"
        )));
    }
    let start = since(ctx, input)?;
    let limit = input.opt_int("limit", 1, 200)?.unwrap_or(50);
    let posted = 2 + ctx.seed("history") % 4;
    let instants = spread(start, ctx.now, posted.min(limit));
    let has_more = !instants.is_empty() && posted > limit;
    let messages: Vec<Value> = instants
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let item_seed = ctx.seed(&format!("chat-{i}"));
            json!({
                "ts": slack_ts(at, item_seed),
                "user": slack_id('U', &format!("{channel}/{}", item_seed % 5), 10),
                "text": CHAT_LINES[(item_seed % CHAT_LINES.len() as u64) as usize],
            })
        })
        .collect();
    ctx.done(json!({
        "channel": channel,
        "since": rfc3339(start)?,
        "has_more": has_more,
        "messages": messages,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::segments;
    use crate::providers::ProviderError;
    use crate::providers::sandbox::tests::{completed, run};

    async fn refused(service: &str, op: &str, payload: serde_json::Value) -> String {
        match run(service, op, payload.clone()).await {
            Err(ProviderError::Adapter(message)) => message,
            other => panic!("{service}.{op} {payload}: expected an adapter error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn email_send_reports_what_was_sent() {
        let exec = run(
            "email",
            "send",
            json!({"to": "ada@customer.example.com", "subject": "Hi", "body": "Hello", "cc": ["b@x.example"]}),
        )
        .await
        .unwrap();
        let (result, cost) = completed(&exec);
        assert_eq!(result["to"], "ada@customer.example.com");
        assert_eq!(result["status"], "sent");
        assert_eq!(result["sent_at"], "2026-03-01T12:00:00Z");
        assert_eq!(cost.get(), 1);
        let id = result["id"].as_str().unwrap();
        assert!(id.starts_with("msg_") && id.len() == 20, "{id}");
        assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[tokio::test]
    async fn email_send_refuses_bad_addresses_and_headers() {
        let base = json!({"to": "a@b.example", "subject": "s", "body": "b"});
        let with = |key: &str, value: serde_json::Value| {
            let mut p = base.clone();
            p[key] = value;
            p
        };
        assert!(
            refused("email", "send", with("to", json!("nobody")))
                .await
                .contains("`to`")
        );
        assert!(
            refused("email", "send", with("to", json!("a@b")))
                .await
                .contains("`to`")
        );
        assert!(
            refused(
                "email",
                "send",
                with("subject", json!("a\r\nBcc: x@y.example"))
            )
            .await
            .contains("single line")
        );
        refused("email", "send", with("body", json!(""))).await;
        refused(
            "email",
            "send",
            with("cc", json!(["fine@x.example", "broken"])),
        )
        .await;
        refused("email", "send", with("reply_to", json!("nope"))).await;
        refused("email", "send", with("metadata", json!({"n": 1}))).await;
        let many: Vec<String> = (0..30).map(|i| format!("u{i}@x.example")).collect();
        let mut p = with("cc", json!(many));
        p["bcc"] = json!(many);
        assert!(refused("email", "send", p).await.contains("recipients"));
    }

    #[tokio::test]
    async fn sms_send_validates_numbers_like_twilio() {
        let ok = run(
            "sms",
            "send",
            json!({"to": "+447700900123", "from": "+15555550100", "body": "hi"}),
        )
        .await
        .unwrap();
        let (result, _) = completed(&ok);
        assert!(result["id"].as_str().unwrap().starts_with("sms_"));
        assert_eq!(result["segments"], 1);
        for (to, from) in [
            ("5555550123", "+15555550100"),
            ("+15555550123", "+0123456789"),
            ("+1555", "+15555550100"),
            ("+15555550100", "+15555550100"),
        ] {
            refused("sms", "send", json!({"to": to, "from": from, "body": "hi"})).await;
        }
        refused(
            "sms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "x".repeat(1601)}),
        )
        .await;
    }

    #[test]
    fn segments_follow_gsm_and_ucs2_limits() {
        assert_eq!(segments("hello"), 1);
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"{".repeat(80)), 1);
        assert_eq!(segments(&"{".repeat(81)), 2);
        assert_eq!(segments(&"é".repeat(70)), 1);
        assert_eq!(segments(&"é".repeat(71)), 2);
        assert_eq!(segments(&"é".repeat(135)), 3);
    }

    #[tokio::test]
    async fn mms_media_must_be_public_https() {
        let payload = |url: &str| json!({"to": "+15555550123", "from": "+15555550100", "body": "", "media_url": url});
        run("mms", "send", payload("https://cdn.example.com/a.jpg"))
            .await
            .unwrap();
        for url in [
            "http://cdn.example.com/a.jpg",
            "https://localhost/a.jpg",
            "https://10.0.0.8/a.jpg",
            "https://[::1]/a.jpg",
            "https://printer.local/a.jpg",
            "not a url",
        ] {
            refused("mms", "send", payload(url)).await;
        }
    }

    #[tokio::test]
    async fn sms_read_stays_inside_the_window() {
        let exec = run(
            "sms",
            "read",
            json!({"since": "2h", "from": "+15555550123"}),
        )
        .await
        .unwrap();
        let (result, cost) = completed(&exec);
        assert_eq!(cost.get(), 0);
        assert_eq!(result["since"], "2026-03-01T10:00:00Z");
        let messages = result["messages"].as_array().unwrap();
        assert!(!messages.is_empty() && messages.len() <= 3);
        for m in messages {
            assert_eq!(m["from"], "+15555550123");
            let at = m["received_at"].as_str().unwrap();
            assert!(at.as_bytes() > b"2026-03-01T10:00:00Z".as_slice());
            assert!(at.as_bytes() < b"2026-03-01T12:00:00Z".as_slice());
        }
        let limited = run("sms", "read", json!({"limit": 1})).await.unwrap();
        assert!(completed(&limited).0["messages"].as_array().unwrap().len() <= 1);
        let future = run("sms", "read", json!({"since": "2027-01-01T00:00:00Z"}))
            .await
            .unwrap();
        assert_eq!(completed(&future).0["messages"], json!([]));
        assert!(
            refused("sms", "read", json!({"since": "91d"}))
                .await
                .contains("90 days")
        );
        refused("sms", "read", json!({"since": "yesterday"})).await;
        refused("sms", "read", json!({"since": "0h"})).await;
        refused("sms", "read", json!({"limit": 0})).await;
        refused("sms", "read", json!({"from": "555"})).await;
    }

    #[tokio::test]
    async fn chat_dm_targets_a_stable_dm_channel() {
        let a = run("chat", "dm", json!({"user_id": "U0123ABCDE", "text": "hi"}))
            .await
            .unwrap();
        let b = crate::providers::sandbox::tests::run_as(
            "req_other",
            "chat",
            "dm",
            json!({"user_id": "U0123ABCDE", "text": "hi"}),
        )
        .await
        .unwrap();
        let (a, _) = completed(&a);
        let (b, _) = completed(&b);
        assert_eq!(
            a["channel"], b["channel"],
            "a user's DM channel does not change"
        );
        assert!(a["channel"].as_str().unwrap().starts_with('D'));
        assert!(a["ts"].as_str().unwrap().starts_with("1772366400."));
        refused("chat", "dm", json!({"user_id": "bob", "text": "hi"})).await;
        refused("chat", "dm", json!({"user_id": "U0123ABCDE", "text": " "})).await;
        refused(
            "chat",
            "dm",
            json!({"user_id": "U0123ABCDE", "text": "hi", "blocks": ["x"]}),
        )
        .await;
    }

    #[tokio::test]
    async fn chat_read_pages_with_has_more() {
        let all = run("chat", "read", json!({"channel": "#general"}))
            .await
            .unwrap();
        let (all, _) = completed(&all);
        let total = all["messages"].as_array().unwrap().len();
        assert!((2..=5).contains(&total));
        assert_eq!(all["has_more"], false);
        let one = run("chat", "read", json!({"channel": "#general", "limit": 1}))
            .await
            .unwrap();
        let (one, _) = completed(&one);
        assert_eq!(one["messages"].as_array().unwrap().len(), 1);
        assert_eq!(one["has_more"], true);
        refused("chat", "read", json!({"channel": "general"})).await;
        refused("chat", "read", json!({"channel": "#General"})).await;
        refused(
            "chat",
            "read",
            json!({"channel": "C0123ABCDE", "since": "2000d"}),
        )
        .await;
    }
}
