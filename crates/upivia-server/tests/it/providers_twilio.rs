//! Twilio against a local fake of its API: `sms.send` and `mms.send`
//! (Messages), `voice_call.create` (Calls) settled by a signed status
//! callback or by polling. Each checks the wire request (path, Basic auth,
//! form), the error mapping, and that the money is right: list price on
//! success, the real call length for a call, nothing on failure.

use base64::Engine;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;
use upivia_server::providers::twilio::TwilioSettings;

use crate::fakes::{Canned, FakeHttp, Hit};
use crate::support::{Reply, TestAgent, TestServer};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-7d1c";

fn settings(fake: &FakeHttp) -> TwilioSettings {
    TwilioSettings::new(&fake.url(""), SID, SecretString::from(TOKEN)).unwrap()
}

fn form(hit: &Hit) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&hit.body)
        .into_owned()
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn basic() -> String {
    let pair = format!("{SID}:{TOKEN}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn message(sid: &str, status: &str) -> serde_json::Value {
    json!({"sid": sid, "status": status, "num_segments": "2", "to": "+15555550123",
           "from": "+15555550100", "date_created": "Thu, 03 Dec 2026 10:00:00 +0000"})
}

#[tokio::test]
async fn sms_and_mms_are_sent_with_basic_auth_as_forms_and_charged_their_price() {
    let fake = FakeHttp::start(vec![
        Canned::json(201, message("SM1", "queued")),
        Canned::json(201, message("MM1", "queued")),
    ])
    .await;
    let twilio = settings(&fake);
    let s = TestServer::start_with(move |c| c.providers.twilio = Some(twilio)).await;
    let agent = s.agent(json!({"name": "texter"})).await;
    for service in ["sms", "mms"] {
        s.enable(&agent, json!({"service_id": service})).await;
    }
    s.credit(100).await;

    let r = s
        .request(
            &agent,
            "sms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "Code 482913"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "twilio");
    assert_eq!(
        r.body["result"],
        json!({"id": "SM1", "to": "+15555550123", "from": "+15555550100", "status": "queued",
               "segments": 2, "sent_at": "2026-12-03T10:00:00Z"})
    );
    let hit = &fake.hits()[0];
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.uri, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    assert_eq!(hit.header("authorization"), basic());
    assert_eq!(
        hit.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let sent = form(hit);
    assert_eq!(field(&sent, "To"), "+15555550123");
    assert_eq!(field(&sent, "From"), "+15555550100");
    assert_eq!(field(&sent, "Body"), "Code 482913");
    assert_eq!(s.balance().await, 99);

    let r = s
        .request(
            &agent,
            "mms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "Sale",
                   "media_url": "https://cdn.example.com/a.jpg"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(
        r.body["result"]["media_url"],
        "https://cdn.example.com/a.jpg"
    );
    assert_eq!(
        field(&form(&fake.hits()[1]), "MediaUrl"),
        "https://cdn.example.com/a.jpg"
    );
    assert_eq!(s.balance().await, 97);

    // A refusal is the adapter's; a 5xx is not repeated (the message may
    // have left) and is unavailable; neither is charged.
    fake.push(Canned::json(
        400,
        json!({"code": 21211, "message": "The 'To' number is not a valid phone number."}),
    ));
    let r = s
        .request(
            &agent,
            "sms",
            "send",
            json!({"to": "+15555550999", "from": "+15555550100", "body": "x"}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    fake.push(Canned::text(503, "unavailable"));
    let r = s
        .request(
            &agent,
            "sms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "y"}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert_eq!(fake.hits().len(), 4, "the 503 was not retried");
    assert_eq!(s.balance().await, 97);
    s.ledger_ok().await;
}

/// What the agent reads of its request now.
async fn read_request(s: &TestServer, agent: &TestAgent, request_id: &str) -> Reply {
    s.get(
        &format!("/api/v1/service-requests/{request_id}"),
        &agent.key,
    )
    .await
}

fn call_payload() -> serde_json::Value {
    json!({"to": "+15555550123", "from": "+15555550100",
           "say": "The checkout service is down <now> & failing.", "max_duration_seconds": 120})
}

/// Posts Twilio's status callback for `request` to the server, signed as
/// Twilio signs it, or with `signature` when given.
async fn callback(
    s: &TestServer,
    twilio: &TwilioSettings,
    public: &str,
    request_id: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> StatusCode {
    let query = format!("request_id={request_id}");
    let url = format!("{public}/api/v1/providers/twilio/calls?{query}");
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let signed = twilio.sign(&url, &owned);
    reqwest::Client::new()
        .post(format!("{}/api/v1/providers/twilio/calls?{query}", s.base))
        .header("x-twilio-signature", signature.unwrap_or(&signed))
        .form(&owned)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_call_is_settled_at_its_real_length_by_twilios_signed_callback() {
    let fake = FakeHttp::start(vec![Canned::json(
        201,
        json!({"sid": "CA42", "status": "queued"}),
    )])
    .await;
    let twilio = settings(&fake);
    let configured = twilio.clone();
    // The public URL Twilio is told to call back: this server itself.
    let s = TestServer::start_with(move |c| {
        c.providers.twilio = Some(configured);
        c.public_base_url = Some(format!("http://{}", c.listen));
    })
    .await;
    let public = s.base.clone();
    let agent = s.funded_agent("voice_call", 100).await;
    let r = s
        .request(&agent, "voice_call", "create", call_payload())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    assert_eq!(r.body["status"], "running");
    assert_eq!(r.body["external_id"], "CA42");
    assert_eq!(r.body["provider"], "twilio");
    let request_id = r.body["request_id"].as_str().unwrap().to_owned();
    let hit = &fake.hits()[0];
    assert_eq!(hit.uri, format!("/2010-04-01/Accounts/{SID}/Calls.json"));
    assert_eq!(hit.header("authorization"), basic());
    let sent = form(hit);
    assert_eq!(
        field(&sent, "Twiml"),
        "<Response><Say>The checkout service is down &lt;now&gt; &amp; failing.</Say></Response>"
    );
    assert_eq!(field(&sent, "TimeLimit"), "120");
    assert_eq!(
        field(&sent, "StatusCallback"),
        format!("{public}/api/v1/providers/twilio/calls?request_id={request_id}")
    );
    // Two minutes at most, held.
    assert_eq!(s.balance().await, 90);
    let held = s.get("/api/v1/balance", &s.pat).await;
    assert_eq!(held.body["reserved_cents"], 10, "{held:?}");

    let done = [
        ("CallSid", "CA42"),
        ("AccountSid", SID),
        ("CallStatus", "completed"),
        ("CallDuration", "61"),
        ("To", "+15555550123"),
        ("From", "+15555550100"),
        ("Timestamp", "Thu, 03 Dec 2026 10:02:00 +0000"),
    ];
    // A forged callback changes nothing.
    let forged = callback(&s, &twilio, &public, &request_id, &done, Some("bm90IGl0")).await;
    assert_eq!(forged, StatusCode::FORBIDDEN);
    let unsigned = callback(&s, &twilio, &public, &request_id, &done, Some("")).await;
    assert_eq!(unsigned, StatusCode::FORBIDDEN);
    // Still ringing: nothing settles.
    let ringing = [("CallSid", "CA42"), ("CallStatus", "ringing")];
    assert_eq!(
        callback(&s, &twilio, &public, &request_id, &ringing, None).await,
        StatusCode::NO_CONTENT
    );
    // Another call's status for this request is not this call's.
    let other = [
        ("CallSid", "CA43"),
        ("CallStatus", "completed"),
        ("CallDuration", "5"),
    ];
    assert_eq!(
        callback(&s, &twilio, &public, &request_id, &other, None).await,
        StatusCode::NOT_FOUND
    );
    let read = read_request(&s, &agent, &request_id).await;
    assert_eq!(read.body["status"], "running", "{read:?}");

    assert_eq!(
        callback(&s, &twilio, &public, &request_id, &done, None).await,
        StatusCode::NO_CONTENT
    );
    let read = read_request(&s, &agent, &request_id).await;
    assert_eq!(read.body["status"], "executed", "{read:?}");
    // 61 seconds: two started minutes at 5 cents.
    assert_eq!(read.body["cost_cents"], 10);
    assert_eq!(read.body["result"]["duration_seconds"], 61);
    assert_eq!(read.body["result"]["ended_at"], "2026-12-03T10:02:00Z");
    // Twilio may deliver it again: settled once.
    assert_eq!(
        callback(&s, &twilio, &public, &request_id, &done, None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.balance().await, 90);
    let audit = s.get("/api/v1/audit-logs?limit=20", &s.pat).await;
    let reconciled = audit.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "service_request.reconciled")
        .cloned()
        .expect("the settlement is audited");
    assert_eq!(reconciled["actor"], "provider:twilio", "{reconciled}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn without_a_public_url_a_call_is_polled_and_an_unanswered_one_costs_nothing() {
    let fake = FakeHttp::start(vec![
        Canned::json(201, json!({"sid": "CA7", "status": "queued"})),
        Canned::json(200, json!({"sid": "CA7", "status": "in-progress"})),
        Canned::json(
            200,
            json!({"sid": "CA7", "status": "busy", "duration": "0"}),
        ),
    ])
    .await;
    let twilio = settings(&fake);
    let s = TestServer::start_with(move |c| c.providers.twilio = Some(twilio)).await;
    let agent = s.funded_agent("voice_call", 100).await;
    let r = s
        .request(&agent, "voice_call", "create", call_payload())
        .await;
    assert_eq!(r.body["status"], "running", "{r:?}");
    let request_id = r.body["request_id"].as_str().unwrap().to_owned();
    assert_eq!(field(&form(&fake.hits()[0]), "StatusCallback"), "");

    s.tick_workers().await;
    let poll = &fake.hits()[1];
    assert_eq!(poll.method, "GET");
    assert_eq!(
        poll.uri,
        format!("/2010-04-01/Accounts/{SID}/Calls/CA7.json")
    );
    assert_eq!(poll.header("authorization"), basic());
    let read = read_request(&s, &agent, &request_id).await;
    assert_eq!(read.body["status"], "running", "{read:?}");

    s.tick_workers().await;
    let read = read_request(&s, &agent, &request_id).await;
    assert_eq!(read.body["status"], "failed", "{read:?}");
    assert_eq!(read.body["reason_code"], "provider_unavailable");
    assert_eq!(s.balance().await, 100);
    let held = s.get("/api/v1/balance", &s.pat).await;
    assert_eq!(held.body["reserved_cents"], 0);
    // With no public URL no callback was handed out, and none is taken.
    let twilio = settings(&fake);
    let stray = callback(
        &s,
        &twilio,
        &s.base,
        &request_id,
        &[("CallSid", "CA7"), ("CallStatus", "completed")],
        None,
    )
    .await;
    assert_eq!(stray, StatusCode::NOT_FOUND);
    s.ledger_ok().await;
}

#[tokio::test]
async fn sms_read_lists_inbound_messages_since_the_window_across_pages() {
    let now = time::OffsetDateTime::now_utc();
    let rfc2822 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc2822)
            .unwrap()
    };
    let msg = |sid: &str, direction: &str, ago: time::Duration| {
        json!({"sid": sid, "direction": direction, "from": "+15555550199",
               "to": "+15555550100", "body": format!("body of {sid}"),
               "date_sent": rfc2822(now - ago)})
    };
    let next =
        format!("/2010-04-01/Accounts/{SID}/Messages.json?PageSize=100&Page=1&PageToken=PA1");
    let fake = FakeHttp::start(vec![
        Canned::json(
            200,
            json!({"messages": [
                msg("SM3", "inbound", time::Duration::minutes(5)),
                msg("SM2", "outbound-api", time::Duration::minutes(10)),
            ], "next_page_uri": next}),
        ),
        Canned::json(
            200,
            json!({"messages": [
                msg("SM1", "inbound", time::Duration::minutes(50)),
                // Same day, before the window.
                msg("SM0", "inbound", time::Duration::minutes(90)),
            ], "next_page_uri": null}),
        ),
        Canned::json(
            200,
            json!({"messages": [], "next_page_uri": "/2010-04-01/Accounts/ACother/Messages.json"}),
        ),
    ])
    .await;
    let twilio = settings(&fake);
    let s = TestServer::start_with(move |c| c.providers.twilio = Some(twilio)).await;
    let agent = s.funded_agent("sms", 10).await;
    let r = s
        .request(
            &agent,
            "sms",
            "read",
            json!({"since": "1h", "to": "+15555550100", "limit": 10}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "twilio");
    let ids: Vec<&str> = r.body["result"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["SM3", "SM1"], "{r:?}");
    assert_eq!(r.body["result"]["messages"][0]["body"], "body of SM3");
    let hits = fake.hits();
    assert_eq!(hits[0].method, "GET");
    assert_eq!(hits[0].header("authorization"), basic());
    let day = (now - time::Duration::hours(1)).date();
    assert_eq!(
        hits[0].uri,
        format!(
            "/2010-04-01/Accounts/{SID}/Messages.json?PageSize=100&DateSent%3E={day}&To=%2B15555550100"
        )
    );
    assert_eq!(hits[1].uri, next);
    assert_eq!(s.balance().await, 10, "reads are free");

    // A page outside the account is not followed.
    let r = s
        .request(&agent, "sms", "read", json!({"since": "1h"}))
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert_eq!(fake.hits().len(), 3);
}
