//! `members`, `tokens` and `secrets`: the organisation's people, the
//! caller's personal access tokens and the organisation's secrets. Not in the v1 contract (API.md §4
//! leaves issuing PATs and invitations to the server); upivia-rs serves
//! them.

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints::{AuthMode, Endpoint, HttpMethod};
use crate::error::Result;

use super::handle;

handle!(
    /// The members of the caller's organisation.
    Members
);

handle!(
    /// The caller's personal access tokens in their organisation.
    Tokens
);

handle!(
    /// The organisation's secrets (admins): written and listed, never read back.
    Secrets
);

const fn workspace(
    resource: &'static str,
    sdk_method: &'static str,
    method: HttpMethod,
    path: &'static str,
) -> Endpoint {
    Endpoint {
        resource,
        sdk_method,
        method,
        path,
        auth: AuthMode::Workspace,
        success: "200",
    }
}

/// `PATCH /api/v1/members/{user_id}` (upivia-rs, outside the contract).
pub const MEMBERS_UPDATE: Endpoint = workspace(
    "members",
    "update",
    HttpMethod::Patch,
    "/api/v1/members/{user_id}",
);
/// `DELETE /api/v1/members/{user_id}` (upivia-rs, outside the contract).
pub const MEMBERS_REMOVE: Endpoint = workspace(
    "members",
    "remove",
    HttpMethod::Delete,
    "/api/v1/members/{user_id}",
);
/// `DELETE /api/v1/tokens/{token_id}` (upivia-rs, outside the contract).
pub const TOKENS_REVOKE: Endpoint = workspace(
    "tokens",
    "revoke",
    HttpMethod::Delete,
    "/api/v1/tokens/{token_id}",
);

impl Members<'_> {
    /// `GET /api/v1/members` (any member): `{members: [{id, email, role,
    /// joined_at}]}`.
    pub async fn list(self) -> Result<Value> {
        let spec = RequestSpec::new(HttpMethod::Get, "/api/v1/members", AuthMode::Workspace);
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/members` (owner or admin): adds `email` with `role`
    /// (`admin` or `member`). Returns `{member, password, existing_user}`:
    /// `password` is the new user's one-time password, shown only here
    /// (`null` when the email already had a user, who gains a workspace).
    pub async fn add(self, email: &str, role: &str) -> Result<Value> {
        let spec = RequestSpec::new(HttpMethod::Post, "/api/v1/members", AuthMode::Workspace)
            .json(&json!({"email": email, "role": role}))?;
        self.client.send_json(spec).await
    }

    /// `PATCH /api/v1/members/{user_id}` (the owner for admins, an admin
    /// for members): `{member}` with its new role.
    pub async fn set_role(self, user_id: &str, role: &str) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&MEMBERS_UPDATE, &[user_id]).json(&json!({"role": role}))?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/members/{user_id}`: removes the member; their
    /// sessions and tokens in the organisation stop working at once.
    /// Returns `{ok, sessions_ended, tokens_revoked}`.
    pub async fn remove(self, user_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&MEMBERS_REMOVE, &[user_id]);
        self.client.send_json(spec).await
    }
}

impl Tokens<'_> {
    /// `POST /api/v1/tokens`: a new PAT named `name`, bound to the caller's
    /// organisation, expiring after `expires_in_days` (or never). Returns
    /// `{token: {id, name, created_at, expires_at, ...}, secret}`; the
    /// secret is shown only here.
    pub async fn create(self, name: &str, expires_in_days: Option<u32>) -> Result<Value> {
        let mut body = json!({"name": name});
        if let Some(days) = expires_in_days {
            body["expires_in_days"] = json!(days);
        }
        let spec = RequestSpec::new(HttpMethod::Post, "/api/v1/tokens", AuthMode::Workspace)
            .json(&body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/tokens`: `{tokens: [{id, name, created_at, expires_at,
    /// revoked_at, active}]}`, never a secret.
    pub async fn list(self) -> Result<Value> {
        let spec = RequestSpec::new(HttpMethod::Get, "/api/v1/tokens", AuthMode::Workspace);
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/tokens/{token_id}`: the token answers 401 from now
    /// on. Returns `{ok, token}`.
    pub async fn revoke(self, token_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&TOKENS_REVOKE, &[token_id]);
        self.client.send_json(spec).await
    }
}

/// `PUT /api/v1/secrets/{name}` (upivia-rs, outside the contract).
pub const SECRETS_PUT: Endpoint =
    workspace("secrets", "set", HttpMethod::Put, "/api/v1/secrets/{name}");
/// `DELETE /api/v1/secrets/{name}` (upivia-rs, outside the contract).
pub const SECRETS_DELETE: Endpoint = workspace(
    "secrets",
    "delete",
    HttpMethod::Delete,
    "/api/v1/secrets/{name}",
);

impl Secrets<'_> {
    /// `PUT /api/v1/secrets/{name}` (owner or admin): writes the next
    /// version of `name`. Returns `{ok, secret: {name, version, created_at,
    /// updated_at}}`; the value is never returned, by this or any call.
    pub async fn set(self, name: &str, value: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&SECRETS_PUT, &[name]).json(&json!({"value": value}))?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/secrets`: `{secrets: [{name, version, created_at,
    /// updated_at}]}`.
    pub async fn list(self) -> Result<Value> {
        let spec = RequestSpec::new(HttpMethod::Get, "/api/v1/secrets", AuthMode::Workspace);
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/secrets/{name}`: `{ok, deleted}`.
    pub async fn delete(self, name: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&SECRETS_DELETE, &[name]);
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/webhooks/signing-secret` (admins): `{configured,
    /// version, created_at, rotated_at}`, never the value.
    pub async fn webhook_signing_secret(self) -> Result<Value> {
        let spec = RequestSpec::new(
            HttpMethod::Get,
            "/api/v1/webhooks/signing-secret",
            AuthMode::Workspace,
        );
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/webhooks/signing-secret` (the owner): makes a new
    /// signing secret for the organisation's webhooks; `{ok, secret,
    /// version, rotated_at}`, the only answer that holds the value. The
    /// previous secret stops signing at once.
    pub async fn rotate_webhook_signing_secret(self) -> Result<Value> {
        let spec = RequestSpec::new(
            HttpMethod::Post,
            "/api/v1/webhooks/signing-secret",
            AuthMode::Workspace,
        )
        .json(&json!({}))?;
        self.client.send_json(spec).await
    }
}
