//! `auth`: the calling user's password. Not in the v1 contract (API.md §4
//! leaves sessions to the server); upivia-rs serves it.

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints::{AuthMode, HttpMethod};
use crate::error::Result;

use super::handle;

handle!(
    /// The calling user's credentials.
    Auth
);

impl Auth<'_> {
    /// `POST /api/v1/auth/password` (auth `workspace`): replaces the
    /// caller's password after checking the current one, and ends the
    /// user's other sessions. Returns `{ok, sessions_revoked}`. A wrong
    /// `current_password` is a 403 and counts toward the login throttle;
    /// a new password under 15 characters is a 422.
    ///
    /// ```no_run
    /// # async fn demo(client: upivia::Client) -> upivia::Result<()> {
    /// client.auth().change_password("the old one", "a long new passphrase").await?;
    /// # Ok(()) }
    /// ```
    pub async fn change_password(
        self,
        current_password: &str,
        new_password: &str,
    ) -> Result<Value> {
        let spec = RequestSpec::new(
            HttpMethod::Post,
            "/api/v1/auth/password",
            AuthMode::Workspace,
        )
        .json(&json!({
            "current_password": current_password,
            "new_password": new_password,
        }))?;
        self.client.send_json(spec).await
    }
}
