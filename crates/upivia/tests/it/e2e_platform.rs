//! The public endpoints, sessions, and the error kinds as the real server
//! produces them (401/403 → `Unauthorized`, 404 → `Http`, 429 →
//! `RateLimited` with `Retry-After`).

use std::time::Duration;

use serde_json::{Value, json};
use upivia::{AuthMode, Client, ErrorKind, HttpMethod, RequestSpec};

use crate::e2e_support::{DEFAULT_OPERATIONS, Server, email};

#[tokio::test]
async fn the_public_endpoints_answer_without_credentials() {
    let server = Server::start();
    let anonymous = server.anonymous();
    let platform = anonymous.platform();

    assert_eq!(platform.health().await.unwrap()["ok"], true);
    let ready = platform.readiness().await.unwrap();
    assert_eq!(ready["status"], "ok", "{ready}");
    assert_eq!(ready["checks"]["db"], "ok");

    let docs = platform.agent_docs().await.unwrap();
    assert_eq!(docs["api_version"], "v1");
    assert_eq!(docs["base_url"], server.base_url.as_str());
    let paths: Vec<&str> = docs["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/api/v1/service-requests"), "{paths:?}");

    let catalog = anonymous.services().list().await.unwrap();
    let services = catalog["services"].as_array().unwrap();
    for (service, operation) in DEFAULT_OPERATIONS {
        let op = services
            .iter()
            .filter(|s| s["id"] == service)
            .flat_map(|s| s["operations"].as_array().unwrap())
            .find(|o| o["name"] == operation)
            .unwrap_or_else(|| panic!("{service}.{operation} is not in the catalog"));
        assert!(op["base_price_cents"].is_i64(), "{op}");
        assert_eq!(
            op["input_schema"]["type"], "object",
            "{service}.{operation}"
        );
    }
    let email_send = services
        .iter()
        .find(|s| s["id"] == "email")
        .map(|s| &s["operations"][0])
        .unwrap();
    assert_eq!(email_send["base_price_cents"], 1);
    assert_eq!(email_send["full_name"], "email.send");
}

#[tokio::test]
async fn a_session_cookie_from_login_works_on_workspace_endpoints() {
    let server = Server::start();
    let creds = server.credentials();
    let anonymous = server.anonymous();
    let login = anonymous
        .send(
            RequestSpec::new(HttpMethod::Post, "/api/v1/auth/login", AuthMode::None)
                .json(&json!({"email": creds["email"], "password": creds["password"]}))
                .unwrap(),
        )
        .await
        .unwrap();
    let set_cookie = login
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    let session = set_cookie.split(';').next().unwrap().to_owned();

    let with_cookie = Client::builder()
        .base_url(&server.base_url)
        .default_header("cookie", session)
        .build()
        .unwrap();
    let whoami = with_cookie
        .send_json(RequestSpec::new(
            HttpMethod::Get,
            "/api/v1/whoami",
            AuthMode::Workspace,
        ))
        .await
        .unwrap();
    assert_eq!(whoami["user"]["role"], "owner");
    assert_eq!(whoami["email"], creds["email"]);
    assert!(with_cookie.balance().get(None).await.is_ok());

    with_cookie
        .send_json(RequestSpec::new(
            HttpMethod::Post,
            "/api/v1/auth/logout",
            AuthMode::Workspace,
        ))
        .await
        .unwrap();
    let err = with_cookie.balance().get(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
}

#[tokio::test]
async fn the_servers_errors_map_to_the_sdks_kinds() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;

    // 401: no credential, or one the server does not know.
    let err = server.anonymous().balance().get(None).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Unauthorized, Some(401))
    );
    assert_eq!(err.code(), Some("unauthorized"));
    let bogus = server.agent_client("agent_key_live_bogus");
    let err = bogus
        .service_requests()
        .create(email("x"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Unauthorized, Some(401))
    );

    // 403: the wrong kind of credential (an agent key on a workspace
    // endpoint, a PAT on an agent endpoint).
    let agent_as_pat = Client::builder()
        .base_url(&server.base_url)
        .pat(&agent.key)
        .build()
        .unwrap();
    let err = agent_as_pat.balance().get(None).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Unauthorized, Some(403))
    );
    let pat_as_agent = server.agent_client(&server.pat);
    let err = pat_as_agent
        .service_requests()
        .create(email("x"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Unauthorized, Some(403))
    );
    assert_eq!(err.code(), Some("forbidden"));

    // 404: an unknown id, and a route this server does not serve yet.
    let err = agent
        .client
        .service_requests()
        .get("sr_does_not_exist")
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Http, Some(404)));
    assert_eq!(err.code(), Some("not_found"));
    assert!(err.request_id().is_some(), "x-request-id is echoed");
    let err = server
        .owner()
        .workflows()
        .get("wf_nosuch")
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Http, Some(404)));

    // 404 with a code of its own: an operation the catalog lacks.
    let err = agent
        .client
        .service_requests()
        .create(upivia::models::CreateServiceRequest::new(
            "email",
            "teleport",
            json!({}),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code(), Some("unknown_operation"));

    // 422: a payload the operation's schema refuses.
    let err = agent
        .client
        .service_requests()
        .create(upivia::models::CreateServiceRequest::new(
            "email",
            "send",
            json!({"to": "nobody"}),
        ))
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Http, Some(422)));
}

#[tokio::test]
async fn a_rate_limited_binding_is_a_429_with_retry_after() {
    let server = Server::start();
    server.credit(100).await;
    let agent = server
        .agent_with("email", json!({"rate_limit_per_minute": 1}))
        .await;
    let no_retries = Client::builder()
        .base_url(&server.base_url)
        .api_key(&agent.key)
        .max_retries(0)
        .build()
        .unwrap();
    let requests = no_retries.service_requests();
    assert_eq!(
        requests.create(email("first")).await.unwrap().status(),
        Some("executed")
    );
    let err = requests.create(email("second")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err:?}");
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.code(), Some("rate_limited"));
    assert!(err.is_retryable());
    let wait = err.retry_after().expect("Retry-After");
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    // Refused before any money moved.
    let balance: Value = server
        .owner()
        .send_json(RequestSpec::new(
            HttpMethod::Get,
            "/api/v1/balance",
            AuthMode::Workspace,
        ))
        .await
        .unwrap();
    assert_eq!(balance["amount_cents"], 99);
    assert_eq!(balance["reserved_cents"], 0);
}

#[tokio::test]
async fn bodies_the_server_refuses_still_come_back_as_json_errors() {
    let server = Server::start_with(|c| c.body_limit = 4 * 1024);
    let agent = server.funded_agent("email", 100).await;

    // Over the body limit: 413 with the JSON envelope, so kind Http (a
    // bare 413 would surface as InvalidResponse).
    let big = "x".repeat(8 * 1024);
    let err = agent
        .client
        .service_requests()
        .create(upivia::models::CreateServiceRequest::new(
            "email",
            "send",
            json!({"to": "ops@example.com", "subject": "big", "body": big}),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Http, Some(413)),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("payload_too_large"));

    // Not JSON at all: 400 malformed_json.
    let err = agent
        .client
        .send_json(
            RequestSpec::new(
                HttpMethod::Post,
                "/api/v1/service-requests",
                AuthMode::Agent,
            )
            .raw(&b"{not json"[..]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Http, Some(400)),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("malformed_json"));

    // A method the route does not have: 405 with the envelope.
    let err = server
        .owner()
        .send_json(RequestSpec::new(
            HttpMethod::Delete,
            "/api/v1/balance",
            AuthMode::Workspace,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Http, Some(405)),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("method_not_allowed"));
}
