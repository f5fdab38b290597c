//! `IdentityStore` on PostgreSQL, with the answers of the SQLite store
//! (`sqlite/identity.rs`). The first start's bootstrap happens once per
//! database whichever node runs it: the single row of `bootstrap` is the
//! claim, inserted in the transaction that creates the organisation, so a
//! node that loses the race waits for the winner's commit and answers
//! `None`.

use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;

use super::agent_rows::role;
use super::{PgStore, audit, db_error, people};
use crate::ids::{self, OrgId};
use crate::model::{AuditEvent, Org, Role, UserPrincipal};
use crate::store::*;

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: String,
    name: String,
    kill_switch: bool,
    kill_switch_set_by_role: String,
    created_at: OffsetDateTime,
}

impl OrgRow {
    fn into_org(self) -> StoreResult<Org> {
        Ok(Org {
            kill_switch_set_by: role(
                "orgs.kill_switch_set_by_role",
                &self.kill_switch_set_by_role,
            )?,
            id: self.id,
            name: self.name,
            kill_switch: self.kill_switch,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PrincipalRow {
    user_id: String,
    email: String,
    org_id: String,
    role: String,
}

impl PrincipalRow {
    fn into_principal(self) -> UserPrincipal {
        UserPrincipal {
            // As on SQLite: the column's CHECK admits only the three roles.
            role: Role::parse(&self.role).unwrap_or(Role::Member),
            user_id: self.user_id,
            email: self.email,
            org_id: self.org_id,
        }
    }
}

async fn org(conn: &mut PgConnection, org_id: &str, lock: bool) -> StoreResult<Option<Org>> {
    let sql = if lock {
        "SELECT id, name, kill_switch, kill_switch_set_by_role, created_at FROM orgs \
         WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id, name, kill_switch, kill_switch_set_by_role, created_at FROM orgs WHERE id = $1"
    };
    sqlx::query_as::<_, OrgRow>(sql)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(OrgRow::into_org)
        .transpose()
}

fn email_taken() -> StoreError {
    StoreError::Conflict("a user with this email already exists".into())
}

async fn insert_org_row(
    tx: &mut Transaction<'_, Postgres>,
    org_id: &str,
    plan: &BootstrapPlan,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO orgs (id, name, kill_switch, created_at) VALUES ($1, $2, FALSE, $3)")
        .bind(org_id)
        .bind(&plan.org_name)
        .bind(plan.now)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The organisation's owner (user and membership) and the owner's PAT;
/// the caller inserted the organisation and appends the audit event.
async fn insert_owner(
    tx: &mut Transaction<'_, Postgres>,
    org_id: &str,
    plan: &BootstrapPlan,
) -> StoreResult<String> {
    let user_id = ids::new_id(ids::USER);
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&user_id)
        .bind(&plan.email)
        .bind(&plan.password_hash)
        .bind(plan.now)
        .execute(&mut **tx)
        .await
        .map_err(|e| match db_error(e) {
            // users.email is the only unique column a fresh id can collide on.
            StoreError::Constraint(_) => email_taken(),
            other => other,
        })?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
    )
    .bind(org_id)
    .bind(&user_id)
    .bind(plan.now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    sqlx::query(
        "INSERT INTO pats (id, user_id, org_id, token_hash, name, created_at) \
         VALUES ($1, $2, $3, $4, 'initial', $5)",
    )
    .bind(ids::new_id(ids::PAT))
    .bind(&user_id)
    .bind(org_id)
    .bind(&plan.pat_hash)
    .bind(plan.now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(user_id)
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn bootstrap(&self, plan: BootstrapPlan) -> StoreResult<Option<Bootstrapped>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let org_id = ids::new_id(ids::ORG);
        // The claim refers to the organisation, so that row comes first; a
        // fresh id collides with nothing.
        insert_org_row(&mut tx, &org_id, &plan).await?;
        // Another node's uncommitted claim makes this insert wait for its
        // commit, then do nothing: the loser writes nothing at all.
        let claimed = sqlx::query(
            "INSERT INTO bootstrap (singleton, org_id, created_at) VALUES (TRUE, $1, $2) \
             ON CONFLICT (singleton) DO NOTHING",
        )
        .bind(&org_id)
        .bind(plan.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        // As on SQLite: no first start over organisations that exist
        // already (a database that predates the claim row).
        let others: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orgs WHERE id <> $1)")
            .bind(&org_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        if claimed == 0 || others {
            tx.rollback().await.map_err(db_error)?;
            return Ok(None);
        }
        let user_id = insert_owner(&mut tx, &org_id, &plan).await?;
        let event = AuditEvent::new(&org_id, "org.bootstrapped", "system")
            .with_details(serde_json::json!({"owner_user_id": user_id}));
        audit::insert(&mut tx, &event, plan.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(Bootstrapped { org_id, user_id }))
    }

    async fn create_org(&self, plan: BootstrapPlan) -> StoreResult<Bootstrapped> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let org_id = ids::new_id(ids::ORG);
        insert_org_row(&mut tx, &org_id, &plan).await?;
        let user_id = insert_owner(&mut tx, &org_id, &plan).await?;
        let event = AuditEvent::new(&org_id, "org.created", "system")
            .with_details(serde_json::json!({"owner_user_id": user_id, "name": plan.org_name}));
        audit::insert(&mut tx, &event, plan.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Bootstrapped { org_id, user_id })
    }

    async fn org(&self, org_id: &OrgId) -> StoreResult<Option<Org>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        org(&mut conn, org_id.as_str(), false).await
    }

    async fn primary_org(&self) -> StoreResult<Option<Org>> {
        // The one bootstrap made; on a database without the claim row
        // (none was ever bootstrapped), the first created, as on SQLite.
        sqlx::query_as::<_, OrgRow>(
            "SELECT o.id, o.name, o.kill_switch, o.kill_switch_set_by_role, o.created_at \
             FROM orgs o LEFT JOIN bootstrap b ON b.org_id = o.id \
             ORDER BY (b.org_id IS NULL), o.created_at, o.id COLLATE \"C\" LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(OrgRow::into_org)
        .transpose()
    }

    async fn set_kill_switch(&self, k: KillSwitchChange) -> StoreResult<Org> {
        let org_id = k.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Locked, so a concurrent change on another node waits and then
        // sees this one, and is refused if it checked the old state.
        let current = org(&mut tx, org_id, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        if (current.kill_switch, current.kill_switch_set_by) != k.expect {
            return Err(StoreError::Conflict(
                "the kill switch changed while the change was being checked; read it again and \
                 retry"
                    .into(),
            ));
        }
        sqlx::query("UPDATE orgs SET kill_switch = $2, kill_switch_set_by_role = $3 WHERE id = $1")
            .bind(org_id)
            .bind(k.on)
            .bind(k.set_by.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let event = AuditEvent::new(org_id, "org.kill_switch", format!("user:{}", k.user_id))
            .with_details(
                serde_json::json!({"kill_switch": k.on, "set_by_role": k.set_by.as_str()}),
            );
        audit::insert(&mut tx, &event, k.now).await?;
        let updated = org(&mut tx, org_id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(updated)
    }

    async fn add_member(&self, m: NewMember) -> StoreResult<UserPrincipal> {
        if m.role == Role::Owner {
            return Err(StoreError::Conflict(
                "an organisation has exactly one owner".into(),
            ));
        }
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        org(&mut tx, &m.org_id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        let user_id = ids::new_id(ids::USER);
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&user_id)
        .bind(&m.email)
        .bind(&m.password_hash)
        .bind(m.now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match db_error(e) {
            StoreError::Constraint(_) => {
                StoreError::Conflict(format!("a user with the email {} exists", m.email))
            }
            other => other,
        })?;
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&m.org_id)
        .bind(&user_id)
        .bind(m.role.as_str())
        .bind(m.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let event = AuditEvent::new(&m.org_id, "org.member_added", m.actor.clone())
            .with_details(serde_json::json!({"user_id": user_id, "role": m.role.as_str()}));
        audit::insert(&mut tx, &event, m.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(UserPrincipal {
            user_id,
            email: m.email,
            org_id: m.org_id,
            role: m.role,
        })
    }

    async fn user_by_pat_at(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>> {
        let row = sqlx::query_as::<_, PrincipalRow>(
            "SELECT p.user_id, u.email, p.org_id, m.role FROM pats p \
             JOIN users u ON u.id = p.user_id \
             JOIN memberships m ON m.user_id = p.user_id AND m.org_id = p.org_id \
             WHERE p.token_hash = $1 AND p.revoked_at IS NULL \
             AND (p.expires_at IS NULL OR p.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(row.map(PrincipalRow::into_principal))
    }

    async fn user_by_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>> {
        let row = sqlx::query_as::<_, PrincipalRow>(
            "SELECT s.user_id, u.email, s.org_id, m.role FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             JOIN memberships m ON m.user_id = s.user_id AND m.org_id = s.org_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(row.map(PrincipalRow::into_principal))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<(String, UserPrincipal)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            password_hash: String,
            #[sqlx(flatten)]
            principal: PrincipalRow,
        }
        let row = sqlx::query_as::<_, Row>(
            "SELECT u.id AS user_id, u.email, u.password_hash, m.org_id, m.role FROM users u \
             JOIN memberships m ON m.user_id = u.id \
             WHERE u.email = $1 ORDER BY m.created_at, m.org_id COLLATE \"C\" LIMIT 1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(row.map(|r| (r.password_hash, r.principal.into_principal())))
    }

    async fn create_session(
        &self,
        principal: &UserPrincipal,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, org_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ids::new_id(ids::SESSION))
        .bind(token_hash)
        .bind(&principal.user_id)
        .bind(&principal.org_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn change_password(&self, change: PasswordChange) -> StoreResult<usize> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(&change.user_id)
            .bind(&change.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        // `IS DISTINCT FROM` so that a NULL (a PAT caller keeps no session)
        // ends them all.
        let ended = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
        )
        .bind(&change.user_id)
        .bind(&change.keep_session)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        audit::insert(&mut tx, &change.audit, change.now).await?;
        tx.commit().await.map_err(db_error)?;
        usize::try_from(ended).map_err(|_| super::error::corrupt("session count out of range"))
    }

    async fn create_pat(
        &self,
        principal: &UserPrincipal,
        name: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<String> {
        let id = ids::new_id(ids::PAT);
        sqlx::query(
            "INSERT INTO pats (id, user_id, org_id, token_hash, name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(&principal.user_id)
        .bind(&principal.org_id)
        .bind(token_hash)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| match db_error(e) {
            StoreError::Constraint(_) => StoreError::Conflict("token already exists".into()),
            other => other,
        })?;
        Ok(id)
    }

    async fn join_org(&self, join: JoinOrg) -> StoreResult<UserPrincipal> {
        people::join_org(&self.pool, join).await
    }

    async fn members(&self, org_id: &str) -> StoreResult<Vec<MemberRecord>> {
        people::members(&self.pool, org_id).await
    }

    async fn member(&self, org_id: &str, user_id: &str) -> StoreResult<Option<MemberRecord>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        people::member(&mut conn, org_id, user_id).await
    }

    async fn set_member_role(&self, change: RoleChange) -> StoreResult<MemberRecord> {
        people::set_member_role(&self.pool, change).await
    }

    async fn remove_member(&self, removal: MemberRemoval) -> StoreResult<Removed> {
        people::remove_member(&self.pool, removal).await
    }

    async fn issue_pat(&self, pat: NewPat) -> StoreResult<PatRecord> {
        people::issue_pat(&self.pool, pat).await
    }

    async fn pats(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<PatRecord>> {
        people::pats(&self.pool, org_id, user_id).await
    }

    async fn revoke_pat(&self, revocation: PatRevocation) -> StoreResult<PatRecord> {
        people::revoke_pat(&self.pool, revocation).await
    }

    async fn workspaces(&self, user_id: &str) -> StoreResult<Vec<Workspace>> {
        people::workspaces(&self.pool, user_id).await
    }

    async fn switch_session(&self, switch: SessionSwitch) -> StoreResult<()> {
        people::switch_session(&self.pool, switch).await
    }
}
