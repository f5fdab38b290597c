//! Members, personal access tokens and workspaces on PostgreSQL, with the
//! answers of `sqlite/people.rs`. Each change is one transaction with its
//! audit entry; a guarded `UPDATE`/`DELETE` (the role the caller checked)
//! decides a race between two admins.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::agent_rows::role;
use super::{audit, db_error};
use crate::ids;
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::store::{
    JoinOrg, MemberRecord, MemberRemoval, NewPat, PatRecord, PatRevocation, Removed, RoleChange,
    SessionSwitch, StoreError, StoreResult, Workspace,
};

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: String,
    email: String,
    role: String,
    created_at: OffsetDateTime,
}

impl MemberRow {
    fn into_record(self) -> StoreResult<MemberRecord> {
        Ok(MemberRecord {
            role: role("memberships.role", &self.role)?,
            user_id: self.user_id,
            email: self.email,
            joined_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PatRow {
    id: String,
    name: String,
    created_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
}

impl From<PatRow> for PatRecord {
    fn from(r: PatRow) -> Self {
        PatRecord {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

const MEMBER_SELECT: &str = "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m \
     JOIN users u ON u.id = m.user_id";
const PAT_SELECT: &str = "SELECT id, name, created_at, expires_at, revoked_at FROM pats";

fn no_owner() -> StoreError {
    StoreError::Conflict("an organisation has exactly one owner".into())
}

fn role_moved() -> StoreError {
    StoreError::Conflict(
        "the member's role changed while the change was being checked; read it again and retry"
            .into(),
    )
}

pub(super) async fn members(pool: &PgPool, org_id: &str) -> StoreResult<Vec<MemberRecord>> {
    let sql = format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 ORDER BY m.created_at, m.user_id COLLATE \"C\""
    );
    sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .fetch_all(pool)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(MemberRow::into_record)
        .collect()
}

pub(super) async fn member(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: &str,
) -> StoreResult<Option<MemberRecord>> {
    let sql = format!("{MEMBER_SELECT} WHERE m.org_id = $1 AND m.user_id = $2");
    sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(MemberRow::into_record)
        .transpose()
}

pub(super) async fn join_org(pool: &PgPool, j: JoinOrg) -> StoreResult<UserPrincipal> {
    if j.role == Role::Owner {
        return Err(no_owner());
    }
    let mut tx = pool.begin().await.map_err(db_error)?;
    let org: Option<String> = sqlx::query_scalar("SELECT id FROM orgs WHERE id = $1")
        .bind(&j.org_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    org.ok_or(StoreError::NotFound)?;
    let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(&j.email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&j.org_id)
    .bind(&user_id)
    .bind(j.role.as_str())
    .bind(j.now)
    .execute(&mut *tx)
    .await
    .map_err(|e| match db_error(e) {
        StoreError::Constraint(_) => {
            StoreError::Conflict(format!("{} is a member already", j.email))
        }
        other => other,
    })?;
    let event = AuditEvent::new(&j.org_id, "org.member_added", j.actor.clone()).with_details(
        serde_json::json!({"user_id": user_id, "role": j.role.as_str(), "existing_user": true}),
    );
    audit::insert(&mut tx, &event, j.now).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(UserPrincipal {
        user_id,
        email: j.email,
        org_id: j.org_id,
        role: j.role,
    })
}

pub(super) async fn set_member_role(pool: &PgPool, c: RoleChange) -> StoreResult<MemberRecord> {
    if c.role == Role::Owner || c.expect == Role::Owner {
        return Err(no_owner());
    }
    let mut tx = pool.begin().await.map_err(db_error)?;
    let changed = sqlx::query(
        "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2 AND role = $4",
    )
    .bind(&c.org_id)
    .bind(&c.user_id)
    .bind(c.role.as_str())
    .bind(c.expect.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if changed == 0 {
        return match member(&mut tx, &c.org_id, &c.user_id).await? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(role_moved()),
        };
    }
    audit::insert(&mut tx, &c.audit, c.now).await?;
    let updated = member(&mut tx, &c.org_id, &c.user_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    tx.commit().await.map_err(db_error)?;
    Ok(updated)
}

fn count(n: u64) -> StoreResult<usize> {
    usize::try_from(n).map_err(|_| super::error::corrupt("row count out of range"))
}

pub(super) async fn remove_member(pool: &PgPool, r: MemberRemoval) -> StoreResult<Removed> {
    if r.expect == Role::Owner {
        return Err(no_owner());
    }
    let mut tx = pool.begin().await.map_err(db_error)?;
    let gone =
        sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2 AND role = $3")
            .bind(&r.org_id)
            .bind(&r.user_id)
            .bind(r.expect.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
    if gone == 0 {
        return match member(&mut tx, &r.org_id, &r.user_id).await? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(role_moved()),
        };
    }
    // Their teams in the organisation go with the membership.
    sqlx::query("DELETE FROM team_members WHERE user_id = $1 AND org_id = $2")
        .bind(&r.user_id)
        .bind(&r.org_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND org_id = $2")
        .bind(&r.user_id)
        .bind(&r.org_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
    let pats = sqlx::query(
        "UPDATE pats SET revoked_at = $3 WHERE user_id = $1 AND org_id = $2 \
         AND revoked_at IS NULL",
    )
    .bind(&r.user_id)
    .bind(&r.org_id)
    .bind(r.now)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    let removed = Removed {
        sessions: count(sessions)?,
        pats: count(pats)?,
    };
    let event = r.audit.with_details_merged(serde_json::json!({
        "sessions_ended": removed.sessions, "pats_revoked": removed.pats,
    }));
    audit::insert(&mut tx, &event, r.now).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(removed)
}

async fn pat(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: &str,
    pat_id: &str,
) -> StoreResult<Option<PatRecord>> {
    let sql = format!("{PAT_SELECT} WHERE id = $1 AND org_id = $2 AND user_id = $3");
    Ok(sqlx::query_as::<_, PatRow>(sqlx::AssertSqlSafe(sql))
        .bind(pat_id)
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(PatRecord::from))
}

pub(super) async fn issue_pat(pool: &PgPool, p: NewPat) -> StoreResult<PatRecord> {
    let id = ids::new_id(ids::PAT);
    let mut tx = pool.begin().await.map_err(db_error)?;
    sqlx::query(
        "INSERT INTO pats (id, user_id, org_id, token_hash, name, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&p.principal.user_id)
    .bind(&p.principal.org_id)
    .bind(&p.token_hash)
    .bind(&p.name)
    .bind(p.now)
    .bind(p.expires_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| match db_error(e) {
        StoreError::Constraint(_) => StoreError::Conflict("token already exists".into()),
        other => other,
    })?;
    let event = p
        .audit
        .with_details_merged(serde_json::json!({"pat_id": id}));
    audit::insert(&mut tx, &event, p.now).await?;
    let made = pat(&mut tx, &p.principal.org_id, &p.principal.user_id, &id)
        .await?
        .ok_or(StoreError::NotFound)?;
    tx.commit().await.map_err(db_error)?;
    Ok(made)
}

pub(super) async fn pats(
    pool: &PgPool,
    org_id: &str,
    user_id: &str,
) -> StoreResult<Vec<PatRecord>> {
    let sql = format!(
        "{PAT_SELECT} WHERE org_id = $1 AND user_id = $2 \
         ORDER BY created_at DESC, id COLLATE \"C\" DESC"
    );
    Ok(sqlx::query_as::<_, PatRow>(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(user_id)
        .fetch_all(pool)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(PatRecord::from)
        .collect())
}

pub(super) async fn revoke_pat(pool: &PgPool, r: PatRevocation) -> StoreResult<PatRecord> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let changed = sqlx::query(
        "UPDATE pats SET revoked_at = $4 WHERE id = $1 AND org_id = $2 AND user_id = $3 \
         AND revoked_at IS NULL",
    )
    .bind(&r.pat_id)
    .bind(&r.org_id)
    .bind(&r.user_id)
    .bind(r.now)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    let found = pat(&mut tx, &r.org_id, &r.user_id, &r.pat_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if changed == 0 {
        return Err(StoreError::Conflict("the token is revoked already".into()));
    }
    audit::insert(&mut tx, &r.audit, r.now).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(found)
}

pub(super) async fn workspaces(pool: &PgPool, user_id: &str) -> StoreResult<Vec<Workspace>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: String,
        name: String,
        role: String,
        created_at: OffsetDateTime,
    }
    sqlx::query_as::<_, Row>(
        "SELECT o.id, o.name, m.role, m.created_at FROM memberships m \
         JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $1 \
         ORDER BY m.created_at, o.id COLLATE \"C\"",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
    .map_err(db_error)?
    .into_iter()
    .map(|r| {
        Ok(Workspace {
            role: role("memberships.role", &r.role)?,
            org_id: r.id,
            name: r.name,
            joined_at: r.created_at,
        })
    })
    .collect()
}

pub(super) async fn switch_session(pool: &PgPool, s: SessionSwitch) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let changed = sqlx::query(
        "UPDATE sessions SET org_id = $2, active_team_id = NULL WHERE token_hash = $1 AND expires_at > $3 \
         AND EXISTS (SELECT 1 FROM memberships m \
                     WHERE m.user_id = sessions.user_id AND m.org_id = $2)",
    )
    .bind(&s.token_hash)
    .bind(&s.org_id)
    .bind(s.now)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::insert(&mut tx, &s.audit, s.now).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(())
}
