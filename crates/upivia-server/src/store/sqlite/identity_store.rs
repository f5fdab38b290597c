//! `IdentityStore` on SQLite: lookups on the read pool, every write a
//! job of the writer.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::identity;
use super::{SqliteStore, db_error};
use crate::ids::OrgId;
use crate::model::{Org, UserPrincipal};
use crate::store::*;

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn bootstrap(&self, plan: BootstrapPlan) -> StoreResult<Option<Bootstrapped>> {
        self.writer
            .write(move |ctx| identity::bootstrap(ctx, plan))
            .await
    }

    async fn create_org(&self, plan: BootstrapPlan) -> StoreResult<Bootstrapped> {
        self.writer
            .write(move |ctx| identity::create_org(ctx, plan))
            .await
    }

    async fn org(&self, org_id: &OrgId) -> StoreResult<Option<Org>> {
        self.lookup(|c| identity::org(c, org_id.as_str()))
    }

    async fn primary_org(&self) -> StoreResult<Option<Org>> {
        self.read(|c| {
            use rusqlite::OptionalExtension;
            let id: Option<String> = c
                .query_row(
                    "SELECT id FROM orgs ORDER BY created_at, id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)?;
            match id {
                Some(id) => identity::org(c, &id),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_kill_switch(&self, k: KillSwitchChange) -> StoreResult<Org> {
        self.writer
            .write(move |ctx| {
                let state = (k.on, k.set_by, k.expect);
                identity::set_kill_switch(ctx, k.org_id.as_str(), state, k.user_id.as_str(), k.now)
            })
            .await
    }

    async fn add_member(&self, member: NewMember) -> StoreResult<UserPrincipal> {
        self.writer
            .write(move |ctx| identity::add_member(ctx, member))
            .await
    }

    async fn user_by_pat(&self, token_hash: &str) -> StoreResult<Option<UserPrincipal>> {
        self.lookup(|c| identity::user_by_pat(c, token_hash))
    }

    async fn user_by_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>> {
        self.lookup(|c| identity::user_by_session(c, token_hash, now))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<(String, UserPrincipal)>> {
        let email = email.to_owned();
        self.read(move |c| identity::user_by_email(c, &email)).await
    }

    async fn create_session(
        &self,
        principal: &UserPrincipal,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let (p, h) = (principal.clone(), token_hash.to_owned());
        self.writer
            .write(move |ctx| identity::create_session(ctx.conn, &p, &h, now, expires_at))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let h = token_hash.to_owned();
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute("DELETE FROM sessions WHERE token_hash = ?1", [h])
                    .map_err(db_error)
                    .map(drop)
            })
            .await
    }

    async fn change_password(&self, change: PasswordChange) -> StoreResult<usize> {
        self.writer
            .write(move |ctx| identity::change_password(ctx, change))
            .await
    }

    async fn create_pat(
        &self,
        principal: &UserPrincipal,
        name: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<String> {
        let (p, n, h) = (principal.clone(), name.to_owned(), token_hash.to_owned());
        self.writer
            .write(move |ctx| identity::create_pat(ctx.conn, &p, &n, &h, now))
            .await
    }
}
