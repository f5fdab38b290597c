//! `email.send` over SMTP to a local sink: the envelope, the headers and
//! the Message-ID, each refusal's reason code, and test keys staying on
//! the sandbox.

use serde_json::json;
use upivia_server::config::SmtpSettings;

use crate::fakes::{FakeSmtp, RcptReply, closed_port};
use crate::providers_text::test_agent;
use crate::support::TestServer;

pub const SMTP_PASSWORD: &str = "s3cret-smtp-pass";

pub fn smtp(port: u16) -> SmtpSettings {
    SmtpSettings::new(
        &format!("smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:{port}"),
        "Upivia <noreply@mail.example.org>",
    )
    .unwrap()
}

async fn server(port: u16) -> TestServer {
    let settings = smtp(port);
    TestServer::start_with(move |c| c.providers.smtp = Some(settings)).await
}

#[tokio::test]
async fn live_email_goes_out_over_smtp_with_its_envelope_and_message_id() {
    let sink = FakeSmtp::start().await;
    let s = server(sink.addr.port()).await;
    let agent = s.funded_agent("email", 100).await;
    let r = s
        .request(
            &agent,
            "email",
            "send",
            json!({
                "to": "ops@example.com",
                "cc": ["cc@example.com"],
                "bcc": ["hidden@example.com"],
                "reply_to": "replies@example.com",
                "subject": "Deploy finished",
                "body": "All green.\n.\nA line with only a dot above.",
                "html": "<p>All <b>green</b>.</p>",
            }),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "smtp");
    assert_eq!(r.body["cost_cents"], 1);
    assert_eq!(s.balance().await, 99);
    let request_id = r.body["request_id"].as_str().unwrap();
    let message_id = format!("<{request_id}@mail.example.org>");
    let result = &r.body["result"];
    assert_eq!(result["message_id"], message_id.as_str());
    assert_eq!(result["status"], "sent");
    assert_eq!(result["to"], "ops@example.com");
    assert!(result.get("sandbox").is_none());

    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(
        mail.auth,
        Some(("mailer".to_owned(), SMTP_PASSWORD.to_owned()))
    );
    assert_eq!(mail.from, "noreply@mail.example.org");
    assert_eq!(
        mail.rcpt,
        ["ops@example.com", "cc@example.com", "hidden@example.com"]
    );
    let data = &mail.data;
    for header in [
        "From: Upivia <noreply@mail.example.org>\r\n".to_owned(),
        "To: ops@example.com\r\n".to_owned(),
        "Cc: cc@example.com\r\n".to_owned(),
        "Reply-To: replies@example.com\r\n".to_owned(),
        "Subject: Deploy finished\r\n".to_owned(),
        format!("Message-ID: {message_id}\r\n"),
        "User-Agent: upivia/".to_owned(),
        "Date: ".to_owned(),
        "multipart/alternative".to_owned(),
    ] {
        assert!(data.contains(&header), "no {header:?} in\n{data}");
    }
    assert!(!data.contains("hidden@example.com"), "Bcc leaked:\n{data}");
    assert!(data.contains("A line with only a dot above."), "{data}");
    assert!(data.contains("<b>green</b>"), "{data}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn smtp_refusals_map_to_reason_codes_and_charge_nothing() {
    let sink = FakeSmtp::start().await;
    let s = server(sink.addr.port()).await;
    let agent = s.funded_agent("email", 100).await;
    let email = json!({"to": "nobody@example.com", "subject": "Hi", "body": "x"});
    for (reply, reason) in [
        (RcptReply::Reject, "adapter_error"),
        (RcptReply::Defer, "provider_unavailable"),
    ] {
        sink.set_rcpt_reply(reply);
        let r = s.request(&agent, "email", "send", email.clone()).await;
        assert_eq!(r.body["status"], "failed", "{reply:?}: {r:?}");
        assert_eq!(r.body["reason_code"], reason, "{reply:?}: {r:?}");
        assert_eq!(s.balance().await, 100, "{reply:?}");
    }
    assert!(sink.mails().is_empty());
    // The pool recovers: the next message goes out.
    sink.set_rcpt_reply(RcptReply::Accept);
    let r = s.request(&agent, "email", "send", email).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(s.balance().await, 99);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_mail_server_that_is_down_is_unavailable() {
    let s = server(closed_port().await).await;
    let agent = s.funded_agent("email", 100).await;
    let r = s
        .request(&agent, "email", "send", crate::support::email())
        .await;
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert!(
        !r.body["message"].as_str().unwrap().contains(SMTP_PASSWORD),
        "{r:?}"
    );
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn a_mailbox_instead_of_an_address_is_refused_before_any_connection() {
    let sink = FakeSmtp::start().await;
    let s = server(sink.addr.port()).await;
    let agent = s.funded_agent("email", 100).await;
    let r = s
        .request(
            &agent,
            "email",
            "send",
            json!({"to": "Eve<eve@example.com>", "subject": "Hi", "body": "x"}),
        )
        .await;
    // The schema's loose pattern lets it through; the provider does not.
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert_eq!(sink.connections(), 0);
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn test_keys_send_no_real_email() {
    let sink = FakeSmtp::start().await;
    let s = server(sink.addr.port()).await;
    s.credit(100).await;
    let agent = test_agent(&s, "email").await;
    let r = s
        .request(&agent, "email", "send", crate::support::email())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "sandbox");
    assert_eq!(r.body["result"]["sandbox"], true);
    assert_eq!(sink.connections(), 0);
}

#[test]
fn smtp_urls_that_would_leak_the_password_are_refused() {
    let from = "noreply@example.org";
    let err = SmtpSettings::new("smtp://u:p@mail.example.org:587", from).unwrap_err();
    assert!(err.contains("TLS"), "{err}");
    assert!(!err.contains(":p@"), "{err}");
    SmtpSettings::new("smtp://u:p@mail.example.org:587?tls=required", from).unwrap();
    SmtpSettings::new("smtp://u:p@mail.example.org:587?tls=starttls", from).unwrap();
    SmtpSettings::new("smtps://u:p@mail.example.org", from).unwrap();
    SmtpSettings::new("smtp://relay.internal:25", from).unwrap();
    assert!(SmtpSettings::new("http://mail.example.org", from).is_err());
    assert!(SmtpSettings::new("smtp://mail.example.org?tls=maybe", from).is_err());
    assert!(SmtpSettings::new("smtps://mail.example.org", "not a mailbox").is_err());
}

/// The approval path carries the key mode: an approved live request is
/// sent for real, an approved test one stays on the sandbox.
#[tokio::test]
async fn approved_requests_reach_the_provider_their_key_reaches() {
    let sink = FakeSmtp::start().await;
    let s = server(sink.addr.port()).await;
    s.credit(100).await;
    let live = s.agent(json!({})).await;
    let test = s.agent(json!({"key_mode": "test"})).await;
    for agent in [&live, &test] {
        s.enable(
            agent,
            json!({"service_id": "email", "require_approval": true}),
        )
        .await;
    }
    // (agent, provider, mails the sink holds before and after approval)
    for (agent, provider, before, after) in [(&live, "smtp", 0, 1), (&test, "sandbox", 1, 1)] {
        let r = s
            .request(agent, "email", "send", crate::support::email())
            .await;
        assert_eq!(r.body["status"], "approval_required", "{r:?}");
        assert_eq!(sink.mails().len(), before, "sent before approval");
        let approval = r.body["approval_id"].as_str().unwrap();
        let done = s
            .post(
                &format!("/api/v1/approvals/{approval}/approve"),
                &s.pat,
                json!({}),
            )
            .await;
        assert_eq!(done.status, 200, "{done:?}");
        assert_eq!(done.body["status"], "executed", "{done:?}");
        assert_eq!(done.body["provider"], provider, "{done:?}");
        assert_eq!(sink.mails().len(), after, "{provider}");
    }
    assert_eq!(s.balance().await, 98);
    s.ledger_ok().await;
}
