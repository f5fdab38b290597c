//! Cookie sessions hardened: CSRF defence, login throttling and the
//! bounded password-hashing pool, password change.

mod csrf;
mod password;
mod throttle;

use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Reply, TestServer, reply};

pub const OWNER: &str = "owner@upivia.local";

/// A client whose connections come from `ip` (any 127.0.0.0/8 address
/// reaches a server listening on 127.0.0.1 on Linux), so each test client
/// is a distinct peer address to the server.
pub fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().unwrap();
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .unwrap()
}

pub async fn login_as(
    s: &TestServer,
    http: &reqwest::Client,
    email: &str,
    password: &str,
) -> Reply {
    let r = http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    reply(r).await
}

/// Logs the owner in; returns the `cookie` header value for the session.
pub async fn owner_session(s: &TestServer) -> String {
    owner_session_with(s, &s.password).await
}

pub async fn owner_session_with(s: &TestServer, password: &str) -> String {
    let r = login_as(s, &s.http, OWNER, password).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    cookie_pair(&r)
}

pub fn cookie_pair(r: &Reply) -> String {
    r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// A request authenticated by the session cookie, with raw headers and body.
pub async fn with_cookie(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Reply {
    let mut req = s
        .http
        .request(method, format!("{}{}", s.base, path))
        .header("cookie", cookie);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.body(body);
    }
    reply(req.send().await.unwrap()).await
}

pub fn json_body(v: Value) -> Option<String> {
    Some(v.to_string())
}
