//! Provider secrets never reach the logs or a `Debug` print; the start-up
//! log says which operations are live.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use upivia_server::config::{Config, WebhookSecret};

use crate::fakes::{Canned, FakeHttp, FakeSmtp};
use crate::providers_email::{SMTP_PASSWORD, smtp};
use crate::providers_text::{API_KEY, completion, openai};
use crate::providers_webhook::SIGNING_SECRET;
use crate::support::TestServer;

/// An organisation secret written during the test.
const ORG_SECRET: &str = "org-secret-value-that-must-not-be-logged";

const TWILIO_TOKEN: &str = "twilio-auth-token-not-for-logs";
const REDDIT_PASSWORD: &str = "reddit-password-not-for-logs";

/// The raw key inside SIGNING_SECRET.
const SIGNING_KEY: &str = "this-is-a-32-byte-test-secret!!!";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn assert_no_secret(text: &str, what: &str) {
    for secret in [
        API_KEY,
        SMTP_PASSWORD,
        SIGNING_SECRET,
        SIGNING_KEY,
        &SIGNING_SECRET[6..],
        ORG_SECRET,
        TWILIO_TOKEN,
        REDDIT_PASSWORD,
    ] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

/// Every provider, with successes and failures, logged at debug for every
/// crate (the test runs on one thread, which the subscriber covers).
#[tokio::test]
async fn no_secret_reaches_the_logs() {
    // With a single live dispatcher, tracing-core computes a callsite's
    // interest from whichever thread hits it first, so a parallel test
    // could cache "never" for the callsites this test needs; a second
    // dispatcher makes interest global.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let llm = FakeHttp::start(vec![
        completion(1, 1),
        Canned::json(401, json!({"error": {"message": "invalid api key"}})),
    ])
    .await;
    let receiver = FakeHttp::start(vec![Canned::text(200, "ok"), Canned::text(400, "no")]).await;
    let sink = FakeSmtp::start().await;
    let (openai, smtp) = (openai(&llm.url("/v1")), smtp(sink.addr.port()));
    let s = TestServer::start_with(move |c: &mut Config| {
        c.providers.openai = Some(openai);
        c.providers.smtp = Some(smtp);
        c.providers.webhook_signing_secret = Some(WebhookSecret::parse(SIGNING_SECRET).unwrap());
        c.webhook_allowed_hosts = vec!["http://127.0.0.1".into()];
    })
    .await;
    s.credit(1000).await;
    let put = s
        .send(
            reqwest::Method::PUT,
            "/api/v1/secrets/API_TOKEN",
            Some(&s.pat),
            Some(json!({"value": ORG_SECRET})),
        )
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    let agent = s.agent(json!({})).await;
    for service in ["text_generation", "email", "notification"] {
        s.enable(&agent, json!({"service_id": service})).await;
    }
    for _ in 0..2 {
        let r = s
            .request(
                &agent,
                "text_generation",
                "generate",
                json!({"prompt": "hi"}),
            )
            .await;
        assert!(
            matches!(r.body["status"].as_str(), Some("executed" | "failed")),
            "{r:?}"
        );
        let r = s
            .request(
                &agent,
                "notification",
                "webhook",
                json!({"url": receiver.url("/h"), "body": {}}),
            )
            .await;
        assert!(
            matches!(r.body["status"].as_str(), Some("executed" | "failed")),
            "{r:?}"
        );
    }
    let r = s
        .request(&agent, "email", "send", crate::support::email())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(sink.mails().len(), 1);
    assert_eq!(llm.hits().len(), 2);

    // A private service authenticated with the organisation secret, once
    // answered and once refused.
    let internal = FakeHttp::start(vec![
        Canned::json(200, json!({"ok": true})),
        Canned::json(403, json!({"error": "bad token"})),
    ])
    .await;
    s.enable(&agent, json!({"service_id": "platform"})).await;
    let r = s
        .request(
            &agent,
            "platform",
            "register_service",
            json!({
                "key": "internal",
                "endpoint": internal.url("/rpc"),
                "auth": {"type": "bearer", "secret_ref": "API_TOKEN"},
            }),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    s.enable(&agent, json!({"service_id": "internal"})).await;
    for want in ["executed", "failed"] {
        let r = s.request(&agent, "internal", "call", json!({"q": 1})).await;
        assert_eq!(r.body["status"], want, "{r:?}");
    }
    assert_eq!(
        internal.hits()[0].header("authorization"),
        format!("Bearer {ORG_SECRET}")
    );
    if !crate::support::on_postgres() {
        for file in ["upivia.db", "upivia.db-wal"] {
            if let Ok(bytes) = std::fs::read(s.dir.path().join("data").join(file)) {
                let needle = ORG_SECRET.as_bytes();
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{file} holds the organisation secret"
                );
            }
        }
    }

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("live provider"), "{text}");
    assert!(
        text.contains(&format!("smtp://127.0.0.1:{}", sink.addr.port())),
        "the SMTP server is named without its credentials:\n{text}"
    );
    assert!(text.contains("operations without a live provider run on the sandbox"));
    assert_no_secret(&text, "the log");
}

#[test]
fn config_debug_redacts_provider_secrets() {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "/tmp/x".into());
    config.providers.openai = Some(openai("https://api.example.com/v1"));
    config.providers.smtp = Some(smtp(2525));
    config.providers.webhook_signing_secret = Some(WebhookSecret::parse(SIGNING_SECRET).unwrap());
    config.providers.twilio = Some(
        upivia_server::providers::twilio::TwilioSettings::new(
            "https://api.twilio.com",
            "AC0123456789abcdef0123456789abcdef",
            TWILIO_TOKEN.to_owned().into(),
        )
        .unwrap(),
    );
    let reddit_api = |url: &str| upivia_server::config::ApiSettings::new("X", url, None).unwrap();
    config.providers.reddit = Some(upivia_server::providers::reddit::RedditSettings {
        api: reddit_api("https://oauth.reddit.com"),
        auth: reddit_api("https://www.reddit.com"),
        account: upivia_server::providers::reddit::RedditAccount {
            client_id: "app".into(),
            client_secret: REDDIT_PASSWORD.to_owned().into(),
            username: "bot".into(),
            password: REDDIT_PASSWORD.to_owned().into(),
        },
    });
    let debug = format!("{config:?}");
    assert!(debug.contains("AC0123456789abcdef"), "{debug}");
    assert!(debug.contains("oauth.reddit.com"), "{debug}");
    assert!(debug.contains("smtp://127.0.0.1:2525"), "{debug}");
    assert!(debug.contains("llama3.2"), "{debug}");
    assert_no_secret(&debug, "Config's Debug");
}
