//! `IdentityStore` on PostgreSQL.
#![allow(unused_variables)] // until the methods below are filled in

use async_trait::async_trait;
use time::OffsetDateTime;

use super::PgStore;
use crate::ids::OrgId;
use crate::model::{Org, UserPrincipal};
use crate::store::*;

// TODO(issue 8, PostgreSQL IdentityStore): filled in by that part of the backend.
fn not_yet(what: &str) -> StoreError {
    StoreError::Other(format!("{what} is not available on PostgreSQL yet").into())
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn bootstrap(&self, _plan: BootstrapPlan) -> StoreResult<Option<Bootstrapped>> {
        Err(not_yet("bootstrap"))
    }

    async fn org(&self, _org_id: &OrgId) -> StoreResult<Option<Org>> {
        Err(not_yet("org"))
    }

    async fn primary_org(&self) -> StoreResult<Option<Org>> {
        Err(not_yet("primary_org"))
    }

    async fn set_kill_switch(&self, _change: KillSwitchChange) -> StoreResult<Org> {
        Err(not_yet("set_kill_switch"))
    }

    async fn add_member(&self, _member: NewMember) -> StoreResult<UserPrincipal> {
        Err(not_yet("add_member"))
    }

    async fn user_by_pat(&self, _token_hash: &str) -> StoreResult<Option<UserPrincipal>> {
        Err(not_yet("user_by_pat"))
    }

    async fn user_by_session(
        &self,
        _token_hash: &str,
        _now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>> {
        Err(not_yet("user_by_session"))
    }

    async fn user_by_email(&self, _email: &str) -> StoreResult<Option<(String, UserPrincipal)>> {
        Err(not_yet("user_by_email"))
    }

    async fn create_session(
        &self,
        _principal: &UserPrincipal,
        _token_hash: &str,
        _now: OffsetDateTime,
        _expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        Err(not_yet("create_session"))
    }

    async fn delete_session(&self, _token_hash: &str) -> StoreResult<()> {
        Err(not_yet("delete_session"))
    }

    async fn change_password(&self, _change: PasswordChange) -> StoreResult<usize> {
        Err(not_yet("change_password"))
    }

    async fn create_pat(
        &self,
        _principal: &UserPrincipal,
        _name: &str,
        _token_hash: &str,
        _now: OffsetDateTime,
    ) -> StoreResult<String> {
        Err(not_yet("create_pat"))
    }
}
