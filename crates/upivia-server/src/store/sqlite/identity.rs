//! Organisations, users, PATs and cookie sessions.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::rows::Named as _;
use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::ids;
use crate::model::{AuditEvent, Org, Role, UserPrincipal};
use crate::store::{
    BootstrapPlan, Bootstrapped, NewMember, PasswordChange, StoreError, StoreResult,
};

/// Creates the first organisation, its owner and a PAT, unless any
/// organisation exists already. The check and the inserts share the
/// writer's transaction, so two starts can never create two owners.
pub(super) fn bootstrap(
    ctx: &mut WriteCtx<'_>,
    plan: BootstrapPlan,
) -> StoreResult<Option<Bootstrapped>> {
    let existing: i64 = ctx
        .conn
        .query_row("SELECT COUNT(*) FROM orgs", [], |r| r.get(0))
        .map_err(db_error)?;
    if existing > 0 {
        return Ok(None);
    }
    let created = insert_org(ctx, &plan)?;
    audit::append(
        ctx,
        AuditEvent::new(&created.org_id, "org.bootstrapped", "system")
            .with_details(serde_json::json!({"owner_user_id": created.user_id})),
        plan.now,
    )?;
    Ok(Some(created))
}

/// Creates one more organisation with its owner and a PAT. The job runs in
/// a savepoint of its own, so an email already taken (found by the insert
/// of the user) leaves no organisation behind.
pub(super) fn create_org(ctx: &mut WriteCtx<'_>, plan: BootstrapPlan) -> StoreResult<Bootstrapped> {
    let created = insert_org(ctx, &plan)?;
    audit::append(
        ctx,
        AuditEvent::new(&created.org_id, "org.created", "system").with_details(
            serde_json::json!({"owner_user_id": created.user_id, "name": plan.org_name}),
        ),
        plan.now,
    )?;
    Ok(created)
}

fn email_taken() -> StoreError {
    StoreError::Conflict("a user with this email already exists".into())
}

/// The organisation, its owner (user and membership) and the owner's PAT;
/// the caller appends the audit event.
fn insert_org(ctx: &mut WriteCtx<'_>, plan: &BootstrapPlan) -> StoreResult<Bootstrapped> {
    let now = rows::ts(plan.now);
    let org_id = ids::new_id(ids::ORG);
    let user_id = ids::new_id(ids::USER);
    let conn = ctx.conn;
    conn.execute(
        "INSERT INTO orgs (id, name, kill_switch, created_at) VALUES (?1, ?2, 0, ?3)",
        params![org_id, plan.org_name, now],
    )
    .map_err(db_error)?;
    conn.execute(
        "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![user_id, plan.email, plan.password_hash, now],
    )
    .map_err(|e| match db_error(e) {
        // users.email is the only unique column a fresh id can collide on.
        StoreError::Constraint(_) => email_taken(),
        other => other,
    })?;
    conn.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
        params![org_id, user_id, now],
    )
    .map_err(db_error)?;
    conn.execute(
        "INSERT INTO pats (id, user_id, org_id, token_hash, name, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'initial', ?5)",
        params![ids::new_id(ids::PAT), user_id, org_id, plan.pat_hash, now],
    )
    .map_err(db_error)?;
    Ok(Bootstrapped { org_id, user_id })
}

pub(super) fn org(conn: &Connection, org_id: &str) -> StoreResult<Option<Org>> {
    conn.prepare_cached(
        "SELECT id, name, kill_switch, kill_switch_set_by_role, created_at FROM orgs WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([org_id], |r| {
            let r = &rows::Columns::new(r);
            Ok(Org {
                id: r.get("id")?,
                name: r.get("name")?,
                kill_switch: r.get("kill_switch")?,
                kill_switch_set_by: rows::role_col(r, "kill_switch_set_by_role")?,
                created_at: rows::time_col(r, "created_at")?,
            })
        })
        .optional()
    })
    .map_err(db_error)
}

fn principal(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserPrincipal> {
    let role: String = r.get("role")?;
    Ok(UserPrincipal {
        user_id: r.get("user_id")?,
        email: r.get("email")?,
        org_id: r.get("org_id")?,
        role: Role::parse(&role).unwrap_or(Role::Member),
    })
}

pub(super) fn user_by_session(
    conn: &Connection,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<UserPrincipal>> {
    conn.prepare_cached(
        "SELECT s.user_id, u.email, s.org_id, m.role FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         JOIN memberships m ON m.user_id = s.user_id AND m.org_id = s.org_id \
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![token_hash, rows::ts(now)], principal)
            .optional()
    })
    .map_err(db_error)
}

pub(super) fn user_by_email(
    conn: &Connection,
    email: &str,
) -> StoreResult<Option<(String, UserPrincipal)>> {
    conn.prepare_cached(
        "SELECT u.id AS user_id, u.email, u.password_hash, m.org_id, m.role FROM users u \
         JOIN memberships m ON m.user_id = u.id \
         WHERE u.email = ?1 ORDER BY m.created_at LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row([email], |r| {
            Ok((r.get::<_, String>("password_hash")?, principal(r)?))
        })
        .optional()
    })
    .map_err(db_error)
}

pub(super) fn create_session(
    conn: &Connection,
    principal: &UserPrincipal,
    token_hash: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO sessions (id, token_hash, user_id, org_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            ids::new_id(ids::SESSION),
            token_hash,
            principal.user_id,
            principal.org_id,
            rows::ts(now),
            rows::ts(expires_at)
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

pub(super) fn change_password(
    ctx: &mut WriteCtx<'_>,
    change: PasswordChange,
) -> StoreResult<usize> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![change.user_id, change.password_hash],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    // `IS NOT` so that a NULL (a PAT caller keeps no session) ends them all.
    let ended = ctx
        .conn
        .execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
            params![change.user_id, change.keep_session],
        )
        .map_err(db_error)?;
    audit::append(ctx, change.audit, change.now)?;
    Ok(ended)
}

pub(super) fn create_pat(
    conn: &Connection,
    principal: &UserPrincipal,
    name: &str,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<String> {
    let id = ids::new_id(ids::PAT);
    conn.execute(
        "INSERT INTO pats (id, user_id, org_id, token_hash, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, principal.user_id, principal.org_id, token_hash, name, rows::ts(now)],
    )
    .map_err(|e| match db_error(e) {
        StoreError::Constraint(_) => StoreError::Conflict("token already exists".into()),
        other => other,
    })?;
    Ok(id)
}

pub(super) fn set_kill_switch(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    (on, set_by, expect): (bool, Role, (bool, Role)),
    user_id: &str,
    now: OffsetDateTime,
) -> StoreResult<Org> {
    let current = org(ctx.conn, org_id)?.ok_or(StoreError::NotFound)?;
    if (current.kill_switch, current.kill_switch_set_by) != expect {
        return Err(StoreError::Conflict(
            "the kill switch changed while the change was being checked; read it again and retry"
                .into(),
        ));
    }
    ctx.conn
        .execute(
            "UPDATE orgs SET kill_switch = ?2, kill_switch_set_by_role = ?3 WHERE id = ?1",
            params![org_id, on, set_by.as_str()],
        )
        .map_err(db_error)?;
    audit::append(
        ctx,
        AuditEvent::new(org_id, "org.kill_switch", format!("user:{user_id}"))
            .with_details(serde_json::json!({"kill_switch": on, "set_by_role": set_by.as_str()})),
        now,
    )?;
    org(ctx.conn, org_id)?.ok_or(StoreError::NotFound)
}

pub(super) fn add_member(ctx: &mut WriteCtx<'_>, m: NewMember) -> StoreResult<UserPrincipal> {
    if m.role == Role::Owner {
        return Err(StoreError::Conflict(
            "an organisation has exactly one owner".into(),
        ));
    }
    org(ctx.conn, &m.org_id)?.ok_or(StoreError::NotFound)?;
    let user_id = ids::new_id(ids::USER);
    let now = rows::ts(m.now);
    ctx.conn
        .execute(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![user_id, m.email, m.password_hash, now],
        )
        .map_err(|e| match db_error(e) {
            StoreError::Constraint(_) => {
                StoreError::Conflict(format!("a user with the email {} exists", m.email))
            }
            other => other,
        })?;
    ctx.conn
        .execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![m.org_id, user_id, m.role.as_str(), now],
        )
        .map_err(db_error)?;
    audit::append(
        ctx,
        AuditEvent::new(&m.org_id, "org.member_added", m.actor.clone())
            .with_details(serde_json::json!({"user_id": user_id, "role": m.role.as_str()})),
        m.now,
    )?;
    Ok(UserPrincipal {
        user_id,
        email: m.email,
        org_id: m.org_id,
        role: m.role,
    })
}
