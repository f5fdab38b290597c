//! `IdentityStore` on SQLite: lookups on the read pool, every write a
//! job of the writer.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, db_error};
use super::{identity, people};
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

    async fn user_by_pat_at(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>> {
        self.lookup(|c| people::user_by_pat_at(c, token_hash, now))
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

    async fn join_org(&self, join: JoinOrg) -> StoreResult<UserPrincipal> {
        self.writer
            .write(move |ctx| people::join_org(ctx, join))
            .await
    }

    async fn members(&self, org_id: &str) -> StoreResult<Vec<MemberRecord>> {
        self.lookup(|c| people::members(c, org_id))
    }

    async fn member(&self, org_id: &str, user_id: &str) -> StoreResult<Option<MemberRecord>> {
        self.lookup(|c| people::member(c, org_id, user_id))
    }

    async fn set_member_role(&self, change: RoleChange) -> StoreResult<MemberRecord> {
        self.writer
            .write(move |ctx| people::set_member_role(ctx, change))
            .await
    }

    async fn remove_member(&self, removal: MemberRemoval) -> StoreResult<Removed> {
        self.writer
            .write(move |ctx| people::remove_member(ctx, removal))
            .await
    }

    async fn issue_pat(&self, pat: NewPat) -> StoreResult<PatRecord> {
        self.writer
            .write(move |ctx| people::issue_pat(ctx, pat))
            .await
    }

    async fn pats(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<PatRecord>> {
        self.lookup(|c| people::pats(c, org_id, user_id))
    }

    async fn revoke_pat(&self, revocation: PatRevocation) -> StoreResult<PatRecord> {
        self.writer
            .write(move |ctx| people::revoke_pat(ctx, revocation))
            .await
    }

    async fn workspaces(&self, user_id: &str) -> StoreResult<Vec<Workspace>> {
        self.lookup(|c| people::workspaces(c, user_id))
    }

    async fn switch_session(&self, switch: SessionSwitch) -> StoreResult<()> {
        self.writer
            .write(move |ctx| people::switch_session(ctx, switch))
            .await
    }
}
