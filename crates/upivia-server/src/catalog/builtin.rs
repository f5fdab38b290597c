//! The built-in catalog: every service and operation Upivia offers out of the
//! box, with prices, input and output JSON Schemas, and one valid example
//! payload per operation ([`example_payload`]) for tests and documentation.
//!
//! Prices are integer cents. Flat operations always cost `base_price_cents`;
//! metered ones use it as a unit price (text generation: per started 1000
//! tokens; voice calls: per started minute) and are estimated up front, then
//! settled at the actual figure. Reads and meta-operations are free.

use serde_json::{Value, json};

use crate::catalog::{OperationSpec, PricingType, ServiceSpec};
use crate::money::Cents;

/// E.164 phone number, as Twilio accepts it.
pub(crate) const E164: &str = r"^\+[1-9][0-9]{6,14}$";
/// Deliberately loose: the full address grammar is the mail provider's job;
/// this only catches obvious mistakes before a charge is reserved.
pub(crate) const EMAIL: &str = r"^[^@\s]+@[^@\s]+\.[^@\s]+$";
/// A relative window (`30m`, `24h`, `7d`) or an RFC 3339 timestamp.
const SINCE: &str = r"^([1-9][0-9]{0,5}[smhd]|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))$";

/// The model used when `text_generation.generate` names none.
pub const DEFAULT_MODEL: &str = "openai/gpt-4o-mini";
/// `max_tokens` when the payload names none; the estimate assumes it.
pub const DEFAULT_MAX_TOKENS: u64 = 1024;
/// Tokens per billing unit of `text_generation.generate`.
pub const TOKENS_PER_UNIT: u64 = 1000;
/// The longest call `voice_call.create` places (Twilio's `timeLimit`), and so
/// the default for `max_duration_seconds`.
pub const MAX_CALL_SECONDS: u64 = 600;

/// The built-in services, in the order the catalog lists them.
pub fn builtin() -> Vec<ServiceSpec> {
    vec![
        service(
            "email",
            "Email",
            "Send transactional email.",
            vec![email_send()],
        ),
        service(
            "text_generation",
            "Text generation",
            "Generate text with a large language model (OpenRouter-style model ids such as `openai/gpt-4o-mini`).",
            vec![text_generation_generate()],
        ),
        service(
            "web_search",
            "Web search",
            "Search the web and get ranked results.",
            vec![web_search_search()],
        ),
        service(
            "discord",
            "Discord",
            "Post messages to Discord channels as the workspace's bot.",
            vec![discord_send_message()],
        ),
        service(
            "reddit",
            "Reddit",
            "Submit text or link posts to subreddits.",
            vec![reddit_submit_post()],
        ),
        service(
            "bluesky",
            "Bluesky",
            "Post to Bluesky as the workspace's account.",
            vec![bluesky_post()],
        ),
        service(
            "x",
            "X",
            "Post to X (formerly Twitter) as the workspace's account.",
            vec![x_post()],
        ),
        service(
            "mastodon",
            "Mastodon",
            "Post statuses to Mastodon as the workspace's account.",
            vec![mastodon_post()],
        ),
        service(
            "github",
            "GitHub",
            "Open issues in GitHub repositories the workspace's app is installed on.",
            vec![github_create_issue()],
        ),
        service(
            "notion",
            "Notion",
            "Create pages in the workspace's Notion.",
            vec![notion_create_page()],
        ),
        service(
            "platform",
            "Platform",
            "Upivia meta-operations, answered by the platform itself.",
            vec![
                platform_check_budget(),
                platform_register_service(),
                platform_update_service(),
                platform_remove_service(),
            ],
        ),
        service(
            "knowledge",
            "Knowledge",
            "Search the organisation's knowledge collections (runbooks, policies, product docs).",
            vec![knowledge_search()],
        ),
        service(
            "workflow",
            "Workflows",
            "Start a workflow the agent was granted; its steps run governed, as the workflow's agent.",
            vec![workflow_run()],
        ),
        service(
            "voice_call",
            "Voice call",
            "Place outbound phone calls that read a message aloud. Settled at the real call length.",
            vec![voice_call_create()],
        ),
        service(
            "sms",
            "SMS",
            "Send SMS text messages and read inbound replies.",
            vec![sms_send(), sms_read()],
        ),
        service(
            "mms",
            "MMS",
            "Send picture messages (MMS) from an MMS-enabled number.",
            vec![mms_send()],
        ),
        service(
            "chat",
            "Chat (Slack)",
            "Send Slack direct messages and read channel history as the workspace's bot.",
            vec![chat_dm(), chat_read()],
        ),
        service(
            "notification",
            "Notifications",
            "Deliver outbound webhooks to allow-listed HTTPS endpoints.",
            vec![notification_webhook()],
        ),
    ]
}

/// A valid payload for `service.operation` that the sandbox provider
/// executes successfully (`platform.check_budget` excepted: the server
/// answers it itself). `Value::Null` for an operation not in [`builtin`].
pub fn example_payload(service: &str, operation: &str) -> Value {
    match (service, operation) {
        ("email", "send") => json!({
            "to": "ada@customer.example.com",
            "subject": "Your order has shipped",
            "body": "Hi Ada, order #1042 left our warehouse today.",
        }),
        ("text_generation", "generate") => json!({
            "model": DEFAULT_MODEL,
            "messages": [
                {"role": "system", "content": "You triage support email."},
                {"role": "user", "content": "Classify: 'My invoice is wrong, please fix it.'"},
            ],
            "max_tokens": 256,
        }),
        ("web_search", "search") => {
            json!({"query": "rust async runtime comparison", "num_results": 3})
        }
        ("discord", "send_message") => json!({
            "channel_id": "112233445566778899",
            "content": "Deploy finished: v1.4.2 is live.",
        }),
        ("reddit", "submit_post") => json!({
            "subreddit": "rust",
            "title": "Show r/rust: a governed agent platform",
            "text": "We wrote a server that puts budgets in front of agents' side effects.",
        }),
        ("bluesky", "post") => json!({"text": "Shipping day! v1.4.2 is out."}),
        ("x", "post") => json!({"text": "Shipping day! v1.4.2 is out."}),
        ("mastodon", "post") => {
            json!({"status": "Shipping day! v1.4.2 is out.", "visibility": "public"})
        }
        ("github", "create_issue") => json!({
            "repo": "acme/website",
            "title": "Checkout button overlaps footer on mobile",
            "body": "Seen on iOS Safari at 375px width.",
            "labels": ["bug", "frontend"],
        }),
        ("notion", "create_page") => json!({
            "parent_id": "5c6a28216bb14a7eb6e1c50111515c3d",
            "title": "Weekly digest",
            "content": "Three incidents this week.\n\nAll resolved within SLA.",
        }),
        ("platform", "check_budget") => json!({"agent_id": "agt_01j9z3m4k5n6p7q8r9s0t1v2w3"}),
        ("platform", "register_service") => json!({
            "key": "billing.lookup_invoice",
            "endpoint": "https://api.acme.example.com/invoices/lookup",
            "auth": {"type": "bearer", "secret_ref": "BILLING_API_TOKEN"},
            "request_schema": {
                "type": "object",
                "properties": {"invoice_id": {"type": "string"}},
                "required": ["invoice_id"],
            },
            "cost_estimate_cents": 1,
        }),
        ("platform", "update_service") => {
            json!({"key": "billing.lookup_invoice", "cost_estimate_cents": 2})
        }
        ("platform", "remove_service") => json!({"key": "billing.lookup_invoice"}),
        ("knowledge", "search") => json!({
            "collection_id": "kcol_01j9z3m4k5n6p7q8r9s0t1v2w3",
            "query": "how do I fail over the billing database?",
            "top_k": 5,
        }),
        ("workflow", "run") => json!({
            "workflow_id": "wf_01j9z3m4k5n6p7q8r9s0t1v2w3",
            "input": {"alert": "checkout latency above 2 s"},
        }),
        ("voice_call", "create") => json!({
            "to": "+15555550123",
            "from": "+15555550100",
            "say": "This is the on-call bot. The checkout service has been failing for five minutes. Please check the dashboard.",
        }),
        ("sms", "send") => json!({
            "to": "+15555550123",
            "from": "+15555550100",
            "body": "Your verification code is 482913.",
        }),
        ("sms", "read") => json!({"since": "24h", "limit": 10}),
        ("mms", "send") => json!({
            "to": "+15555550123",
            "from": "+15555550100",
            "body": "Spring sale: 20% off this weekend.",
            "media_url": "https://cdn.example.com/promo/spring-2026.jpg",
        }),
        ("chat", "dm") => {
            json!({"user_id": "U0123ABCDE", "text": "Your daily digest: 3 new tickets, 1 escalation."})
        }
        ("chat", "read") => json!({"channel": "C0123ABCDE", "since": "24h"}),
        ("notification", "webhook") => json!({
            "url": "https://hooks.example.com/upivia/orders",
            "method": "POST",
            "headers": {"X-Source": "upivia"},
            "body": {"event": "order.shipped", "order_id": "ord_123"},
        }),
        _ => Value::Null,
    }
}

fn service(
    id: &'static str,
    name: &'static str,
    description: &'static str,
    operations: Vec<OperationSpec>,
) -> ServiceSpec {
    ServiceSpec {
        id,
        name,
        description,
        operations,
    }
}

fn operation(
    service: &'static str,
    name: &'static str,
    description: &'static str,
    (base_price_cents, pricing): (i64, PricingType),
    input_schema: Value,
    output_schema: Value,
) -> OperationSpec {
    OperationSpec {
        service: service.into(),
        name: name.into(),
        description: description.into(),
        base_price_cents: Cents::new(base_price_cents),
        pricing,
        input_schema,
        output_schema,
        asynchronous: false,
    }
}

/// An output schema: the listed properties plus the `sandbox` marker that
/// only sandbox results carry.
fn result_schema(mut properties: Value, required: &[&str]) -> Value {
    if let Some(map) = properties.as_object_mut() {
        map.insert(
            "sandbox".to_owned(),
            json!({"type": "boolean", "description": "True when the sandbox provider produced the result; nothing was sent."}),
        );
    }
    json!({"type": "object", "properties": properties, "required": required})
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn phone(description: &str) -> Value {
    json!({"type": "string", "pattern": E164, "description": description})
}

fn email_address(description: &str) -> Value {
    json!({"type": "string", "format": "email", "pattern": EMAIL, "maxLength": 320, "description": description})
}

fn email_send() -> OperationSpec {
    operation(
        "email",
        "send",
        "Send one email. Up to 50 recipients across to, cc and bcc.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "to": email_address("Recipient address."),
                "subject": {"type": "string", "minLength": 1, "maxLength": 998, "description": "One line; no line breaks."},
                "body": {"type": "string", "minLength": 1, "maxLength": 1_000_000, "description": "Plain-text body."},
                "html": {"type": "string", "maxLength": 1_000_000, "description": "Optional HTML body; `body` stays the plain-text alternative."},
                "cc": {"type": "array", "items": email_address("Copy recipient."), "maxItems": 49, "uniqueItems": true},
                "bcc": {"type": "array", "items": email_address("Blind copy recipient."), "maxItems": 49, "uniqueItems": true},
                "reply_to": email_address("Address replies go to."),
                "metadata": {
                    "type": "object",
                    "description": "Free-form tags kept with the message.",
                    "additionalProperties": {"type": "string", "maxLength": 256},
                    "maxProperties": 20,
                },
            },
            "required": ["to", "subject", "body"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "to": {"type": "string"},
                "status": {"type": "string", "enum": ["sent", "queued"]},
                "sent_at": timestamp(),
            }),
            &["id", "to", "status", "sent_at"],
        ),
    )
}

fn text_generation_generate() -> OperationSpec {
    operation(
        "text_generation",
        "generate",
        "Generate text from a `prompt` or chat `messages` (exactly one of the two). Metered: 1 unit per started 1000 tokens of prompt plus completion; estimated from the prompt length plus `max_tokens`.",
        (1, PricingType::Metered),
        json!({
            "type": "object",
            "description": "Exactly one of `prompt` or `messages`.",
            "properties": {
                "prompt": {"type": "string", "minLength": 1, "maxLength": 400_000},
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 500,
                    "items": {
                        "type": "object",
                        "properties": {
                            "role": {"type": "string", "enum": ["system", "user", "assistant"]},
                            "content": {"type": "string", "maxLength": 400_000},
                        },
                        "required": ["role", "content"],
                        "additionalProperties": true,
                    },
                },
                "model": {
                    "type": "string",
                    "pattern": r"^[a-z0-9][a-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._:-]*$",
                    "maxLength": 100,
                    "default": DEFAULT_MODEL,
                    "description": "`vendor/model`, for example `openai/gpt-4o-mini`.",
                },
                "max_tokens": {"type": "integer", "minimum": 1, "maximum": 32_000, "default": DEFAULT_MAX_TOKENS},
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "response_format": {
                    "type": "object",
                    "properties": {"type": {"type": "string", "enum": ["text", "json_object"]}},
                    "required": ["type"],
                    "additionalProperties": false,
                },
            },
            "required": [],
            "oneOf": [{"required": ["prompt"]}, {"required": ["messages"]}],
            // Model-specific sampling parameters pass through to the upstream.
            "additionalProperties": true,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "model": {"type": "string"},
                "text": {"type": "string"},
                "finish_reason": {"type": "string", "enum": ["stop", "length"]},
                "usage": {
                    "type": "object",
                    "properties": {
                        "prompt_tokens": {"type": "integer", "minimum": 0},
                        "completion_tokens": {"type": "integer", "minimum": 0},
                        "total_tokens": {"type": "integer", "minimum": 0},
                    },
                    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
                },
            }),
            &["id", "model", "text", "finish_reason", "usage"],
        ),
    )
}

fn web_search_search() -> OperationSpec {
    operation(
        "web_search",
        "search",
        "Search the web; returns up to `num_results` ranked results.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 400},
                "num_results": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
            },
            "required": ["query"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "query": {"type": "string"},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "position": {"type": "integer", "minimum": 1},
                            "title": {"type": "string"},
                            "url": {"type": "string", "format": "uri"},
                            "snippet": {"type": "string"},
                        },
                        "required": ["title", "url", "snippet"],
                    },
                },
            }),
            &["query", "results"],
        ),
    )
}

fn discord_send_message() -> OperationSpec {
    operation(
        "discord",
        "send_message",
        "Post a message to a Discord channel.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "channel_id": {"type": "string", "pattern": "^[0-9]{17,20}$", "description": "Channel snowflake id."},
                "content": {"type": "string", "minLength": 1, "maxLength": 2000},
                "tts": {"type": "boolean", "default": false},
            },
            "required": ["channel_id", "content"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "channel_id": {"type": "string"},
                "content": {"type": "string"},
                "timestamp": timestamp(),
            }),
            &["id", "channel_id", "content", "timestamp"],
        ),
    )
}

fn reddit_submit_post() -> OperationSpec {
    operation(
        "reddit",
        "submit_post",
        "Submit a post to a subreddit: a text post (`text`) or a link post (`url`), not both.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "subreddit": {"type": "string", "pattern": "^(r/)?[A-Za-z0-9][A-Za-z0-9_]{2,20}$", "description": "Name, with or without `r/`."},
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
                "text": {"type": "string", "maxLength": 40_000},
                "url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048},
                "nsfw": {"type": "boolean", "default": false},
                "spoiler": {"type": "boolean", "default": false},
            },
            "required": ["subreddit", "title"],
            "oneOf": [{"required": ["text"]}, {"required": ["url"]}],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "name": {"type": "string", "description": "Fullname, `t3_<id>`."},
                "kind": {"type": "string", "enum": ["self", "link"]},
                "subreddit": {"type": "string"},
                "title": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "created_at": timestamp(),
            }),
            &[
                "id",
                "name",
                "kind",
                "subreddit",
                "title",
                "url",
                "created_at",
            ],
        ),
    )
}

fn bluesky_post() -> OperationSpec {
    operation(
        "bluesky",
        "post",
        "Post to Bluesky (300 characters at most).",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": 300},
                "langs": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"},
                    "maxItems": 3,
                },
            },
            "required": ["text"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "uri": {"type": "string", "pattern": "^at://"},
                "cid": {"type": "string"},
                "text": {"type": "string"},
                "created_at": timestamp(),
            }),
            &["uri", "cid", "text", "created_at"],
        ),
    )
}

fn x_post() -> OperationSpec {
    operation(
        "x",
        "post",
        "Post to X (280 characters at most).",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": 280},
                "reply_to_id": {"type": "string", "pattern": "^[0-9]{1,19}$", "description": "Post id to reply to."},
            },
            "required": ["text"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "text": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "created_at": timestamp(),
            }),
            &["id", "text", "url", "created_at"],
        ),
    )
}

fn mastodon_post() -> OperationSpec {
    operation(
        "mastodon",
        "post",
        "Post a status to Mastodon (500 characters at most, content warning included).",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "status": {"type": "string", "minLength": 1, "maxLength": 500},
                "visibility": {"type": "string", "enum": ["public", "unlisted", "private", "direct"], "default": "public"},
                "spoiler_text": {"type": "string", "maxLength": 500, "description": "Content warning shown before the status."},
                "sensitive": {"type": "boolean", "default": false},
                "language": {"type": "string", "pattern": "^[a-z]{2}$"},
            },
            "required": ["status"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "uri": {"type": "string", "format": "uri"},
                "url": {"type": "string", "format": "uri"},
                "visibility": {"type": "string", "enum": ["public", "unlisted", "private", "direct"]},
                "content": {"type": "string", "description": "The status as HTML."},
                "created_at": timestamp(),
            }),
            &["id", "uri", "url", "visibility", "content", "created_at"],
        ),
    )
}

fn github_create_issue() -> OperationSpec {
    operation(
        "github",
        "create_issue",
        "Open an issue in a GitHub repository.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "repo": {"type": "string", "pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$", "description": "`owner/name`."},
                "title": {"type": "string", "minLength": 1, "maxLength": 256},
                "body": {"type": "string", "maxLength": 65_536},
                "labels": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1, "maxLength": 50},
                    "maxItems": 100,
                    "uniqueItems": true,
                },
                "assignees": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,39}$"},
                    "maxItems": 10,
                    "uniqueItems": true,
                },
            },
            "required": ["repo", "title"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "integer"},
                "number": {"type": "integer", "minimum": 1},
                "repo": {"type": "string"},
                "title": {"type": "string"},
                "state": {"type": "string", "enum": ["open"]},
                "labels": {"type": "array", "items": {"type": "string"}},
                "html_url": {"type": "string", "format": "uri"},
                "created_at": timestamp(),
            }),
            &[
                "id",
                "number",
                "repo",
                "title",
                "state",
                "labels",
                "html_url",
                "created_at",
            ],
        ),
    )
}

fn notion_create_page() -> OperationSpec {
    operation(
        "notion",
        "create_page",
        "Create a Notion page under a parent page. `content` is plain text; blank lines separate paragraphs (100 paragraphs of up to 2000 characters).",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "parent_id": {
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
                    "description": "Parent page id, with or without dashes.",
                },
                "title": {"type": "string", "minLength": 1, "maxLength": 2000},
                "content": {"type": "string", "maxLength": 200_000},
            },
            "required": ["parent_id", "title"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string", "format": "uuid"},
                "url": {"type": "string", "format": "uri"},
                "parent_id": {"type": "string", "format": "uuid"},
                "title": {"type": "string"},
                "blocks_created": {"type": "integer", "minimum": 0},
                "created_time": timestamp(),
            }),
            &[
                "id",
                "url",
                "parent_id",
                "title",
                "blocks_created",
                "created_time",
            ],
        ),
    )
}

fn platform_check_budget() -> OperationSpec {
    let money = json!({"type": "number", "description": "US dollars."});
    operation(
        "platform",
        "check_budget",
        "Report the calling agent's remaining budget, in dollars (`agent_id`, when \
         given, must be its own). Free.",
        (0, PricingType::Free),
        json!({
            "type": "object",
            "properties": {
                "agent_id": {"type": "string", "minLength": 1, "maxLength": 128},
            },
            "required": [],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {
                "remaining_dollars": money,
                "monthly_spent": money,
                "monthly_limit": money,
                "org_balance": money,
            },
            "required": ["remaining_dollars", "monthly_spent", "monthly_limit", "org_balance"],
        }),
    )
}

fn knowledge_search() -> OperationSpec {
    operation(
        "knowledge",
        "search",
        "Find the passages of a knowledge collection that best answer a question: full-text \
         ranking (BM25) over any of its words, fused with vector similarity when the server has \
         an embeddings endpoint (`semantic` says which). One cent per search.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "collection_id": {"type": "string", "minLength": 1, "maxLength": 128},
                "query": {"type": "string", "minLength": 1, "maxLength": 2000},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 50},
            },
            "required": ["collection_id", "query"],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "document_id": {"type": "string"},
                            "chunk_id": {"type": "string"},
                            "text": {"type": "string"},
                            "score": {"type": "number"},
                        },
                        "required": ["document_id", "chunk_id", "text", "score"],
                    },
                },
                "semantic": {"type": "boolean"},
            },
            "required": ["results", "semantic"],
        }),
    )
}

fn workflow_run() -> OperationSpec {
    operation(
        "workflow",
        "run",
        "Start a run of a workflow granted to this agent (its published version) with the given \
         input; answers at once with the run's id. Free: each step is charged as its own request.",
        (0, PricingType::Free),
        json!({
            "type": "object",
            "properties": {
                "workflow_id": {"type": "string", "minLength": 1, "maxLength": 128},
                "input": {"type": "object", "description": "What the steps' {{input.…}} placeholders read."},
            },
            "required": ["workflow_id"],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {
                "run_id": {"type": "string"},
                "workflow_id": {"type": "string"},
                "version_id": {"type": "string"},
                "status": {"type": "string"},
            },
            "required": ["run_id", "workflow_id", "version_id", "status"],
        }),
    )
}

/// The properties of a private service definition; `key` names it.
fn service_definition(required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "key": {
                "type": "string", "minLength": 1, "maxLength": 81,
                "description": "`service.operation`; a bare `service` registers operation `call`.",
            },
            "endpoint": {
                "type": "string", "minLength": 1, "maxLength": 2048,
                "description": "The URL the platform POSTs the payload to; its host must be allow-listed.",
            },
            "auth": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": ["bearer", "header"]},
                    "secret_ref": {"type": "string", "description": "The organisation secret sent with each call."},
                    "header": {"type": "string", "description": "The header that carries the secret (type header)."},
                },
                "required": ["type", "secret_ref"],
            },
            "request_schema": {"type": "object", "description": "JSON Schema each payload must satisfy."},
            "cost_estimate_cents": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "idempotent": {"type": "boolean", "default": false, "description": "The endpoint honours `Idempotency-Key` (the request id) for a day: a call a crash interrupted is repeated to learn its outcome."},
            "description": {"type": "string", "maxLength": 1000},
        },
        "required": required,
        "additionalProperties": false,
    })
}

fn service_result() -> Value {
    json!({
        "type": "object",
        "properties": {"service": {"type": "object"}, "removed": {"type": "object"}},
    })
}

fn platform_register_service() -> OperationSpec {
    operation(
        "platform",
        "register_service",
        "Register a private API of the organisation as a governed operation `service.operation`. Needs an agent owned by an admin or the owner. Free.",
        (0, PricingType::Free),
        service_definition(&["key", "endpoint", "auth"]),
        service_result(),
    )
}

fn platform_update_service() -> OperationSpec {
    operation(
        "platform",
        "update_service",
        "Change fields of a registered private operation; the fields left out stay. Free.",
        (0, PricingType::Free),
        service_definition(&["key"]),
        service_result(),
    )
}

fn platform_remove_service() -> OperationSpec {
    operation(
        "platform",
        "remove_service",
        "Remove a registered private operation and the bindings to it. Free.",
        (0, PricingType::Free),
        json!({
            "type": "object",
            "properties": {"key": {"type": "string", "minLength": 1, "maxLength": 81}},
            "required": ["key"],
            "additionalProperties": false,
        }),
        service_result(),
    )
}

fn voice_call_create() -> OperationSpec {
    OperationSpec {
        asynchronous: true,
        ..operation(
            "voice_call",
            "create",
            "Call a phone number and read `say` aloud. Runs asynchronously and is settled at the real call length: 1 unit per started minute, estimated at `max_duration_seconds`.",
            (5, PricingType::Metered),
            json!({
                "type": "object",
                "properties": {
                    "to": phone("Number to call, E.164."),
                    "from": phone("Caller id: a voice-enabled number of the workspace, E.164."),
                    "say": {"type": "string", "minLength": 1, "maxLength": 4000, "description": "Text read aloud (about 150 words a minute)."},
                    "max_duration_seconds": {"type": "integer", "minimum": 30, "maximum": MAX_CALL_SECONDS, "default": MAX_CALL_SECONDS},
                },
                "required": ["to", "from", "say"],
                "additionalProperties": false,
            }),
            result_schema(
                json!({
                    "call_id": {"type": "string"},
                    "status": {"type": "string", "enum": ["completed"]},
                    "duration_seconds": {"type": "integer", "minimum": 0},
                    "to": {"type": "string"},
                    "from": {"type": "string"},
                    "ended_at": timestamp(),
                }),
                &[
                    "call_id",
                    "status",
                    "duration_seconds",
                    "to",
                    "from",
                    "ended_at",
                ],
            ),
        )
    }
}

fn sms_send() -> OperationSpec {
    operation(
        "sms",
        "send",
        "Send an SMS from a number of the workspace.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "to": phone("Recipient, E.164."),
                "from": phone("Sender: an SMS-enabled number of the workspace, E.164."),
                "body": {"type": "string", "minLength": 1, "maxLength": 1600},
            },
            "required": ["to", "from", "body"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "to": {"type": "string"},
                "from": {"type": "string"},
                "status": {"type": "string", "enum": ["sent", "queued"]},
                "segments": {"type": "integer", "minimum": 1},
                "sent_at": timestamp(),
            }),
            &["id", "to", "from", "status", "segments", "sent_at"],
        ),
    )
}

fn sms_read() -> OperationSpec {
    operation(
        "sms",
        "read",
        "Read inbound SMS received since a point in time (default: the last 24 hours, at most 90 days back). Free.",
        (0, PricingType::Free),
        json!({
            "type": "object",
            "properties": {
                "since": {"type": "string", "pattern": SINCE, "default": "24h", "description": "A window such as `24h`, `30m`, `7d`, or an RFC 3339 timestamp."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                "from": phone("Only messages from this number."),
                "to": phone("Only messages to this number of the workspace."),
            },
            "required": [],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "since": timestamp(),
                "messages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "from": {"type": "string"},
                            "to": {"type": "string"},
                            "body": {"type": "string"},
                            "received_at": timestamp(),
                        },
                        "required": ["id", "from", "to", "body", "received_at"],
                    },
                },
            }),
            &["since", "messages"],
        ),
    )
}

fn mms_send() -> OperationSpec {
    operation(
        "mms",
        "send",
        "Send an MMS with one image from an MMS-enabled number. `media_url` must be publicly reachable over HTTPS.",
        (2, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "to": phone("Recipient, E.164."),
                "from": phone("Sender: an MMS-enabled number of the workspace, E.164."),
                "body": {"type": "string", "maxLength": 1600},
                "media_url": {"type": "string", "format": "uri", "pattern": "^https://", "maxLength": 2048},
            },
            "required": ["to", "from", "body", "media_url"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "id": {"type": "string"},
                "to": {"type": "string"},
                "from": {"type": "string"},
                "media_url": {"type": "string", "format": "uri"},
                "status": {"type": "string", "enum": ["sent", "queued"]},
                "sent_at": timestamp(),
            }),
            &["id", "to", "from", "media_url", "status", "sent_at"],
        ),
    )
}

fn chat_dm() -> OperationSpec {
    operation(
        "chat",
        "dm",
        "Send a Slack direct message to a user.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                "user_id": {"type": "string", "pattern": "^[UW][A-Z0-9]{8,20}$", "description": "Slack user id, for example `U0123ABCDE`."},
                "text": {"type": "string", "minLength": 1, "maxLength": 40_000},
                "blocks": {"type": "array", "items": {"type": "object"}, "maxItems": 50, "description": "Optional Block Kit blocks; `text` stays the notification fallback."},
            },
            "required": ["user_id", "text"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "ok": {"type": "boolean"},
                "channel": {"type": "string"},
                "ts": {"type": "string"},
                "user_id": {"type": "string"},
            }),
            &["ok", "channel", "ts", "user_id"],
        ),
    )
}

fn chat_read() -> OperationSpec {
    operation(
        "chat",
        "read",
        "Read a Slack channel's messages since a point in time (default: the last 24 hours, at most 90 days back). Free.",
        (0, PricingType::Free),
        json!({
            "type": "object",
            "properties": {
                "channel": {"type": "string", "pattern": "^([CGD][A-Z0-9]{8,20}|#[a-z0-9][a-z0-9_-]{0,79})$", "description": "Channel id (`C0123ABCDE`) or `#name`."},
                "since": {"type": "string", "pattern": SINCE, "default": "24h", "description": "A window such as `24h`, `30m`, `7d`, or an RFC 3339 timestamp."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            },
            "required": ["channel"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "channel": {"type": "string"},
                "channel_id": {"type": "string", "description": "The id a `#name` was found to be (live reads)."},
                "since": timestamp(),
                "has_more": {"type": "boolean"},
                "messages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "ts": {"type": "string"},
                            "user": {"type": "string"},
                            "text": {"type": "string"},
                        },
                        "required": ["ts", "user", "text"],
                    },
                },
            }),
            &["channel", "since", "has_more", "messages"],
        ),
    )
}

fn notification_webhook() -> OperationSpec {
    operation(
        "notification",
        "webhook",
        "Deliver a webhook to an allow-listed HTTPS endpoint (plain HTTP only where the operator lists the host as http://), signed the Standard Webhooks way. 429 and 5xx answers are retried with backoff.",
        (1, PricingType::Flat),
        json!({
            "type": "object",
            "properties": {
                // Plain http passes the schema so that the server's
                // allow-list decides it: only hosts listed as http:// get it.
                "url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048},
                "method": {"type": "string", "enum": ["POST", "PUT", "PATCH"], "default": "POST"},
                "headers": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 8192},
                    "maxProperties": 50,
                },
                "body": {"description": "Any JSON value, sent as `application/json`."},
            },
            "required": ["url"],
            "additionalProperties": false,
        }),
        result_schema(
            json!({
                "delivery_id": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "method": {"type": "string", "enum": ["POST", "PUT", "PATCH"]},
                "status_code": {"type": "integer", "minimum": 100, "maximum": 599},
                "attempts": {"type": "integer", "minimum": 1},
                "attempt_log": {"type": "array", "description": "Each request made: `attempt`, `after_ms`, `status_code` (live deliveries)."},
                "delivered_at": timestamp(),
            }),
            &[
                "delivery_id",
                "url",
                "method",
                "status_code",
                "attempts",
                "delivered_at",
            ],
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn validator(schema: &Value) -> jsonschema::Validator {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(schema)
            .unwrap_or_else(|e| panic!("schema does not compile: {e}\n{schema:#}"))
    }

    fn errors(schema: &Value, instance: &Value) -> Vec<String> {
        validator(schema)
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect()
    }

    fn op<'a>(catalog: &'a [ServiceSpec], service: &str, name: &str) -> &'a OperationSpec {
        catalog
            .iter()
            .flat_map(|s| s.operations.iter())
            .find(|o| o.service == service && o.name == name)
            .unwrap_or_else(|| panic!("{service}.{name} missing"))
    }

    const REQUIRED_OPERATIONS: &[&str] = &[
        "email.send",
        "text_generation.generate",
        "web_search.search",
        "discord.send_message",
        "reddit.submit_post",
        "bluesky.post",
        "x.post",
        "mastodon.post",
        "github.create_issue",
        "notion.create_page",
        "platform.check_budget",
        "platform.register_service",
        "platform.update_service",
        "platform.remove_service",
        "workflow.run",
        "knowledge.search",
        "voice_call.create",
        "sms.send",
        "sms.read",
        "mms.send",
        "chat.dm",
        "chat.read",
        "notification.webhook",
    ];

    #[test]
    fn offers_every_required_operation_exactly_once() {
        let catalog = builtin();
        let names: Vec<String> = catalog
            .iter()
            .flat_map(|s| s.operations.iter().map(|o| o.full_name()))
            .collect();
        let unique: HashSet<&String> = names.iter().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "duplicate operation in {names:?}"
        );
        for required in REQUIRED_OPERATIONS {
            assert!(names.iter().any(|n| n == required), "{required} missing");
        }
        let ids: HashSet<&str> = catalog.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), catalog.len(), "duplicate service id");
    }

    #[test]
    fn operations_belong_to_their_service_and_are_described() {
        for service in builtin() {
            assert!(!service.name.is_empty() && !service.description.is_empty());
            assert!(
                !service.operations.is_empty(),
                "{} has no operations",
                service.id
            );
            for op in &service.operations {
                assert_eq!(op.service, service.id, "{}", op.full_name());
                assert!(!op.description.is_empty(), "{}", op.full_name());
            }
        }
    }

    #[test]
    fn every_input_schema_is_an_object_schema_that_compiles() {
        for op in builtin().iter().flat_map(|s| s.operations.iter()) {
            let schema = &op.input_schema;
            assert_eq!(schema["type"], "object", "{}", op.full_name());
            assert!(schema["properties"].is_object(), "{}", op.full_name());
            assert!(schema["required"].is_array(), "{}", op.full_name());
            assert!(
                schema.get("additionalProperties").is_some(),
                "{} should decide on additionalProperties",
                op.full_name()
            );
            // Every required field must be a declared property.
            for field in schema["required"].as_array().into_iter().flatten() {
                let field = field.as_str().unwrap_or_default();
                assert!(
                    schema["properties"].get(field).is_some(),
                    "{}: required `{field}` not declared",
                    op.full_name()
                );
            }
            assert!(jsonschema::meta::is_valid(schema), "{}", op.full_name());
            validator(schema);
        }
    }

    #[test]
    fn every_output_schema_is_an_object_schema_that_compiles() {
        for op in builtin().iter().flat_map(|s| s.operations.iter()) {
            assert_eq!(op.output_schema["type"], "object", "{}", op.full_name());
            assert!(op.output_schema["properties"].is_object());
            assert!(jsonschema::meta::is_valid(&op.output_schema));
            validator(&op.output_schema);
        }
    }

    #[test]
    fn every_example_payload_matches_its_input_schema() {
        for op in builtin().iter().flat_map(|s| s.operations.iter()) {
            let example = example_payload(&op.service, &op.name);
            assert!(example.is_object(), "{} has no example", op.full_name());
            let errs = errors(&op.input_schema, &example);
            assert!(errs.is_empty(), "{}: {errs:?}", op.full_name());
        }
        assert_eq!(example_payload("nope", "send"), Value::Null);
    }

    #[test]
    fn pricing_is_consistent() {
        for op in builtin().iter().flat_map(|s| s.operations.iter()) {
            match op.pricing {
                PricingType::Free => {
                    assert_eq!(op.base_price_cents, Cents::ZERO, "{}", op.full_name())
                }
                PricingType::Flat | PricingType::Metered => {
                    assert!(op.base_price_cents > Cents::ZERO, "{}", op.full_name())
                }
            }
        }
        let catalog = builtin();
        let price = |s, n| op(&catalog, s, n).base_price_cents.get();
        assert_eq!(price("email", "send"), 1);
        assert_eq!(price("sms", "send"), 1);
        assert_eq!(price("mms", "send"), 2);
        assert_eq!(price("chat", "dm"), 1);
        assert_eq!(price("voice_call", "create"), 5);
        assert_eq!(
            op(&catalog, "platform", "check_budget").pricing,
            PricingType::Free
        );
        assert_eq!(
            op(&catalog, "text_generation", "generate").pricing,
            PricingType::Metered
        );
        assert_eq!(
            op(&catalog, "voice_call", "create").pricing,
            PricingType::Metered
        );
    }

    #[test]
    fn only_voice_calls_are_asynchronous() {
        for op in builtin().iter().flat_map(|s| s.operations.iter()) {
            assert_eq!(
                op.asynchronous,
                op.full_name() == "voice_call.create",
                "{}",
                op.full_name()
            );
        }
    }

    /// Each case is a payload the schema must refuse; together they pin the
    /// constraints the brief names (E.164, lengths, ranges, https, either/or).
    #[test]
    fn schemas_refuse_invalid_payloads() {
        let catalog = builtin();
        let cases: Vec<(&str, &str, Value)> = vec![
            (
                "email",
                "send",
                json!({"to": "not-an-address", "subject": "s", "body": "b"}),
            ),
            (
                "email",
                "send",
                json!({"to": "a@b.example", "subject": "s"}),
            ),
            (
                "email",
                "send",
                json!({"to": "a@b.example", "subject": "s", "body": "b", "attachments": []}),
            ),
            ("text_generation", "generate", json!({})),
            (
                "text_generation",
                "generate",
                json!({"prompt": "hi", "messages": [{"role": "user", "content": "hi"}]}),
            ),
            (
                "text_generation",
                "generate",
                json!({"prompt": "hi", "max_tokens": 0}),
            ),
            (
                "text_generation",
                "generate",
                json!({"prompt": "hi", "max_tokens": 32_001}),
            ),
            (
                "text_generation",
                "generate",
                json!({"messages": [{"role": "robot", "content": "hi"}]}),
            ),
            (
                "text_generation",
                "generate",
                json!({"prompt": "hi", "model": "gpt-4o-mini"}),
            ),
            (
                "web_search",
                "search",
                json!({"query": "q", "num_results": 21}),
            ),
            (
                "web_search",
                "search",
                json!({"query": "q", "num_results": 0}),
            ),
            (
                "discord",
                "send_message",
                json!({"channel_id": "general", "content": "hi"}),
            ),
            (
                "reddit",
                "submit_post",
                json!({"subreddit": "rust", "title": "t"}),
            ),
            (
                "reddit",
                "submit_post",
                json!({"subreddit": "rust", "title": "t", "text": "x", "url": "https://a.example"}),
            ),
            ("bluesky", "post", json!({"text": "a".repeat(301)})),
            ("x", "post", json!({"text": "a".repeat(281)})),
            (
                "mastodon",
                "post",
                json!({"status": "hi", "visibility": "everyone"}),
            ),
            (
                "github",
                "create_issue",
                json!({"repo": "just-a-name", "title": "t"}),
            ),
            (
                "notion",
                "create_page",
                json!({"parent_id": "not-an-id", "title": "t"}),
            ),
            ("platform", "check_budget", json!({"agent_id": ""})),
            ("platform", "check_budget", json!({"agent": "agt_1"})),
            (
                "voice_call",
                "create",
                json!({"to": "5555550123", "from": "+15555550100", "say": "hi"}),
            ),
            (
                "sms",
                "send",
                json!({"to": "+15555550123", "from": "+0555", "body": "hi"}),
            ),
            ("sms", "read", json!({"since": "yesterday"})),
            ("sms", "read", json!({"limit": 101})),
            (
                "mms",
                "send",
                json!({"to": "+15555550123", "from": "+15555550100", "body": "", "media_url": "http://cdn.example.com/a.jpg"}),
            ),
            ("chat", "dm", json!({"user_id": "bob", "text": "hi"})),
            ("chat", "read", json!({"since": "24h"})),
            (
                "notification",
                "webhook",
                json!({"url": "ftp://hooks.example.com/x"}),
            ),
            (
                "notification",
                "webhook",
                json!({"url": "https://hooks.example.com/x", "method": "GET"}),
            ),
            (
                "notification",
                "webhook",
                json!({"url": "https://hooks.example.com/x", "headers": {"X-N": 1}}),
            ),
        ];
        for (service, name, payload) in cases {
            let spec = op(&catalog, service, name);
            assert!(
                !errors(&spec.input_schema, &payload).is_empty(),
                "{service}.{name} accepted {payload}"
            );
        }
    }

    #[test]
    fn schemas_accept_documented_variants() {
        let catalog = builtin();
        let cases: Vec<(&str, &str, Value)> = vec![
            (
                "text_generation",
                "generate",
                json!({"prompt": "hi", "response_format": {"type": "json_object"}, "top_p": 0.9}),
            ),
            (
                "reddit",
                "submit_post",
                json!({"subreddit": "r/rust", "title": "t", "url": "https://blog.example.com/post"}),
            ),
            (
                "sms",
                "read",
                json!({"since": "2026-01-01T00:00:00Z", "limit": 5}),
            ),
            ("sms", "read", json!({})),
            (
                "chat",
                "read",
                json!({"channel": "#general", "since": "7d", "limit": 200}),
            ),
            (
                "notification",
                "webhook",
                json!({"url": "https://hooks.example.com/x", "method": "PATCH", "body": [1, "two", null]}),
            ),
            // The allow-list, not the schema, decides plain http.
            (
                "notification",
                "webhook",
                json!({"url": "http://127.0.0.1:8080/x"}),
            ),
            (
                "email",
                "send",
                json!({"to": "a@b.example", "subject": "s", "body": "b", "cc": ["c@d.example"], "reply_to": "r@b.example", "html": "<p>b</p>", "metadata": {"campaign": "spring"}}),
            ),
        ];
        for (service, name, payload) in cases {
            let spec = op(&catalog, service, name);
            let errs = errors(&spec.input_schema, &payload);
            assert!(
                errs.is_empty(),
                "{service}.{name} refused {payload}: {errs:?}"
            );
        }
    }
}
