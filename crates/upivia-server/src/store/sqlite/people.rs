//! Members, personal access tokens and workspaces on SQLite (the lookups
//! run on a read connection, the writes as writer jobs, each in its own
//! savepoint: a refused change leaves nothing behind).

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::ids;
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::store::{
    JoinOrg, MemberRecord, MemberRemoval, NewPat, PatRecord, PatRevocation, Removed, RoleChange,
    SessionSwitch, StoreError, StoreResult, Workspace,
};

fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemberRecord> {
    Ok(MemberRecord {
        user_id: r.get("user_id")?,
        email: r.get("email")?,
        role: rows::role_col(r, "role")?,
        joined_at: rows::time_col(r, "created_at")?,
    })
}

fn pat_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PatRecord> {
    Ok(PatRecord {
        id: r.get("id")?,
        name: r.get("name")?,
        created_at: rows::time_col(r, "created_at")?,
        expires_at: rows::opt_time_col(r, "expires_at")?,
        revoked_at: rows::opt_time_col(r, "revoked_at")?,
    })
}

const MEMBER_SELECT: &str = "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m \
     JOIN users u ON u.id = m.user_id";

pub(super) fn members(conn: &Connection, org_id: &str) -> StoreResult<Vec<MemberRecord>> {
    let sql = format!("{MEMBER_SELECT} WHERE m.org_id = ?1 ORDER BY m.created_at, m.user_id");
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let found = stmt
        .query_map([org_id], member_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(db_error)?;
    Ok(found)
}

pub(super) fn member(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
) -> StoreResult<Option<MemberRecord>> {
    let sql = format!("{MEMBER_SELECT} WHERE m.org_id = ?1 AND m.user_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([org_id, user_id], member_row).optional())
        .map_err(db_error)
}

fn no_owner() -> StoreError {
    StoreError::Conflict("an organisation has exactly one owner".into())
}

fn role_moved() -> StoreError {
    StoreError::Conflict(
        "the member's role changed while the change was being checked; read it again and retry"
            .into(),
    )
}

pub(super) fn join_org(ctx: &mut WriteCtx<'_>, j: JoinOrg) -> StoreResult<UserPrincipal> {
    if j.role == Role::Owner {
        return Err(no_owner());
    }
    super::identity::org(ctx.conn, &j.org_id)?.ok_or(StoreError::NotFound)?;
    let user_id: String = ctx
        .conn
        .query_row("SELECT id FROM users WHERE email = ?1", [&j.email], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
    ctx.conn
        .execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![j.org_id, user_id, j.role.as_str(), rows::ts(j.now)],
        )
        .map_err(|e| match db_error(e) {
            StoreError::Constraint(_) => {
                StoreError::Conflict(format!("{} is a member already", j.email))
            }
            other => other,
        })?;
    audit::append(
        ctx,
        AuditEvent::new(&j.org_id, "org.member_added", j.actor.clone()).with_details(
            serde_json::json!({"user_id": user_id, "role": j.role.as_str(), "existing_user": true}),
        ),
        j.now,
    )?;
    Ok(UserPrincipal {
        user_id,
        email: j.email,
        org_id: j.org_id,
        role: j.role,
    })
}

pub(super) fn set_member_role(ctx: &mut WriteCtx<'_>, c: RoleChange) -> StoreResult<MemberRecord> {
    if c.role == Role::Owner || c.expect == Role::Owner {
        return Err(no_owner());
    }
    let changed = ctx
        .conn
        .execute(
            "UPDATE memberships SET role = ?3 WHERE org_id = ?1 AND user_id = ?2 AND role = ?4",
            params![c.org_id, c.user_id, c.role.as_str(), c.expect.as_str()],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return match member(ctx.conn, &c.org_id, &c.user_id)? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(role_moved()),
        };
    }
    audit::append(ctx, c.audit, c.now)?;
    member(ctx.conn, &c.org_id, &c.user_id)?.ok_or(StoreError::NotFound)
}

pub(super) fn remove_member(ctx: &mut WriteCtx<'_>, r: MemberRemoval) -> StoreResult<Removed> {
    if r.expect == Role::Owner {
        return Err(no_owner());
    }
    let gone = ctx
        .conn
        .execute(
            "DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2 AND role = ?3",
            params![r.org_id, r.user_id, r.expect.as_str()],
        )
        .map_err(db_error)?;
    if gone == 0 {
        return match member(ctx.conn, &r.org_id, &r.user_id)? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(role_moved()),
        };
    }
    // Their teams in the organisation go with the membership.
    ctx.conn
        .execute(
            "DELETE FROM team_members WHERE user_id = ?1 AND org_id = ?2",
            params![r.user_id, r.org_id],
        )
        .map_err(db_error)?;
    let sessions = ctx
        .conn
        .execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND org_id = ?2",
            params![r.user_id, r.org_id],
        )
        .map_err(db_error)?;
    let pats = ctx
        .conn
        .execute(
            "UPDATE pats SET revoked_at = ?3 WHERE user_id = ?1 AND org_id = ?2 \
             AND revoked_at IS NULL",
            params![r.user_id, r.org_id, rows::ts(r.now)],
        )
        .map_err(db_error)?;
    let audit_event = r.audit.with_details_merged(serde_json::json!({
        "sessions_ended": sessions, "pats_revoked": pats,
    }));
    audit::append(ctx, audit_event, r.now)?;
    Ok(Removed { sessions, pats })
}

const PAT_SELECT: &str = "SELECT id, name, created_at, expires_at, revoked_at FROM pats";

pub(super) fn issue_pat(ctx: &mut WriteCtx<'_>, p: NewPat) -> StoreResult<PatRecord> {
    let id = ids::new_id(ids::PAT);
    ctx.conn
        .execute(
            "INSERT INTO pats (id, user_id, org_id, token_hash, name, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                p.principal.user_id,
                p.principal.org_id,
                p.token_hash,
                p.name,
                rows::ts(p.now),
                p.expires_at.map(rows::ts)
            ],
        )
        .map_err(|e| match db_error(e) {
            StoreError::Constraint(_) => StoreError::Conflict("token already exists".into()),
            other => other,
        })?;
    let event = p
        .audit
        .with_details_merged(serde_json::json!({"pat_id": id}));
    audit::append(ctx, event, p.now)?;
    pat(ctx.conn, &p.principal.org_id, &p.principal.user_id, &id)?.ok_or(StoreError::NotFound)
}

fn pat(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    pat_id: &str,
) -> StoreResult<Option<PatRecord>> {
    let sql = format!("{PAT_SELECT} WHERE id = ?1 AND org_id = ?2 AND user_id = ?3");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([pat_id, org_id, user_id], pat_row).optional())
        .map_err(db_error)
}

pub(super) fn pats(conn: &Connection, org_id: &str, user_id: &str) -> StoreResult<Vec<PatRecord>> {
    let sql = format!(
        "{PAT_SELECT} WHERE org_id = ?1 AND user_id = ?2 ORDER BY created_at DESC, id DESC"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let found = stmt
        .query_map([org_id, user_id], pat_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(db_error)?;
    Ok(found)
}

pub(super) fn revoke_pat(ctx: &mut WriteCtx<'_>, r: PatRevocation) -> StoreResult<PatRecord> {
    let found = pat(ctx.conn, &r.org_id, &r.user_id, &r.pat_id)?.ok_or(StoreError::NotFound)?;
    if found.revoked_at.is_some() {
        return Err(StoreError::Conflict("the token is revoked already".into()));
    }
    ctx.conn
        .execute(
            "UPDATE pats SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![r.pat_id, rows::ts(r.now)],
        )
        .map_err(db_error)?;
    audit::append(ctx, r.audit, r.now)?;
    pat(ctx.conn, &r.org_id, &r.user_id, &r.pat_id)?.ok_or(StoreError::NotFound)
}

pub(super) fn workspaces(conn: &Connection, user_id: &str) -> StoreResult<Vec<Workspace>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT o.id, o.name, m.role, m.created_at FROM memberships m \
             JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ?1 \
             ORDER BY m.created_at, o.id",
        )
        .map_err(db_error)?;
    let found = stmt
        .query_map([user_id], |r| {
            Ok(Workspace {
                org_id: r.get("id")?,
                name: r.get("name")?,
                role: rows::role_col(r, "role")?,
                joined_at: rows::time_col(r, "created_at")?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(db_error)?;
    Ok(found)
}

pub(super) fn switch_session(ctx: &mut WriteCtx<'_>, s: SessionSwitch) -> StoreResult<()> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE sessions SET org_id = ?2, active_team_id = NULL WHERE token_hash = ?1 AND expires_at > ?3 \
             AND EXISTS (SELECT 1 FROM memberships m \
                         WHERE m.user_id = sessions.user_id AND m.org_id = ?2)",
            params![s.token_hash, s.org_id, rows::ts(s.now)],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, s.audit, s.now)?;
    Ok(())
}

/// The PAT's principal, unless revoked or expired at `now`.
pub(super) fn user_by_pat_at(
    conn: &Connection,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<UserPrincipal>> {
    conn.prepare_cached(
        "SELECT p.user_id, u.email, p.org_id, m.role FROM pats p \
         JOIN users u ON u.id = p.user_id \
         JOIN memberships m ON m.user_id = p.user_id AND m.org_id = p.org_id \
         WHERE p.token_hash = ?1 AND p.revoked_at IS NULL \
         AND (p.expires_at IS NULL OR p.expires_at > ?2)",
    )
    .and_then(|mut s| {
        s.query_row(params![token_hash, rows::ts(now)], |r| {
            Ok(UserPrincipal {
                user_id: r.get("user_id")?,
                email: r.get("email")?,
                org_id: r.get("org_id")?,
                role: rows::role_col(r, "role")?,
            })
        })
        .optional()
    })
    .map_err(db_error)
}
