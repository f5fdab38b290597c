//! Teams, their members and the active team of a session or PAT.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::store::{
    AddTeamMember, ChangeTeamRole, Credential, MemberRef, NewTeam, StoreError, StoreResult,
    SwitchTeam, Team, TeamCommand, TeamListing, TeamMember, TeamRole,
};

fn bad(column: &str, raw: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("bad value in column {column}: {raw:?}").into(),
    )
}

fn team_row(row: &Row<'_>) -> rusqlite::Result<Team> {
    Ok(Team {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        name: row.get("name")?,
        created_at: rows::time_col(row, "created_at")?,
    })
}

fn role_col(row: &Row<'_>, column: &str) -> rusqlite::Result<TeamRole> {
    let raw: String = row.get(column)?;
    TeamRole::parse(&raw).ok_or_else(|| bad(column, &raw))
}

const MEMBER_COLUMNS: &str = "tm.id, tm.team_id, tm.org_id, tm.user_id, u.email, tm.role, \
    tm.created_at, tm.updated_at";

fn member_row(row: &Row<'_>) -> rusqlite::Result<TeamMember> {
    Ok(TeamMember {
        id: row.get("id")?,
        team_id: row.get("team_id")?,
        org_id: row.get("org_id")?,
        user_id: row.get("user_id")?,
        email: row.get("email")?,
        role: role_col(row, "role")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

pub(super) fn get(conn: &Connection, org_id: &str, team_id: &str) -> StoreResult<Option<Team>> {
    conn.prepare_cached(
        "SELECT id, org_id, name, created_at FROM teams WHERE id = ?1 AND org_id = ?2",
    )
    .and_then(|mut s| s.query_row(params![team_id, org_id], team_row).optional())
    .map_err(db_error)
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    all: bool,
) -> StoreResult<Vec<TeamListing>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.id, t.org_id, t.name, t.created_at, mine.role AS my_role, \
             (SELECT COUNT(*) FROM team_members c WHERE c.team_id = t.id) AS member_count \
             FROM teams t LEFT JOIN team_members mine ON mine.team_id = t.id AND mine.user_id = ?2 \
             WHERE t.org_id = ?1 AND (?3 OR mine.id IS NOT NULL) ORDER BY t.created_at, t.id",
        )
        .map_err(db_error)?;
    stmt.query_map(params![org_id, user_id, all], |row| {
        let role: Option<String> = row.get("my_role")?;
        let count: i64 = row.get("member_count")?;
        Ok(TeamListing {
            team: team_row(row)?,
            role: role
                .map(|r| TeamRole::parse(&r).ok_or_else(|| bad("role", &r)))
                .transpose()?,
            member_count: u32::try_from(count)
                .map_err(|_| bad("member_count", &count.to_string()))?,
        })
    })
    .map_err(db_error)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_error)
}

pub(super) fn members(
    conn: &Connection,
    org_id: &str,
    team_id: &str,
) -> StoreResult<Vec<TeamMember>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM team_members tm JOIN users u ON u.id = tm.user_id \
         WHERE tm.team_id = ?1 AND tm.org_id = ?2 ORDER BY tm.created_at, tm.id"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![team_id, org_id], member_row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

fn member_where(
    conn: &Connection,
    clause: &str,
    a: &str,
    b: &str,
    c: &str,
) -> StoreResult<Option<TeamMember>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM team_members tm JOIN users u ON u.id = tm.user_id \
         WHERE tm.org_id = ?1 AND tm.team_id = ?2 AND {clause}"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![a, b, c], member_row).optional())
        .map_err(db_error)
}

pub(super) fn membership(
    conn: &Connection,
    org_id: &str,
    team_id: &str,
    user_id: &str,
) -> StoreResult<Option<TeamMember>> {
    member_where(conn, "tm.user_id = ?3", org_id, team_id, user_id)
}

fn by_id(
    conn: &Connection,
    org_id: &str,
    team_id: &str,
    id: &str,
) -> StoreResult<Option<TeamMember>> {
    member_where(conn, "tm.id = ?3", org_id, team_id, id)
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, t: NewTeam) -> StoreResult<(Team, TeamMember)> {
    let (org, now) = (t.org_id.as_str(), rows::ts(t.now));
    let taken: Option<String> = ctx
        .conn
        .query_row(
            "SELECT id FROM teams WHERE org_id = ?1 AND name = ?2",
            params![org, t.name],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "the organisation already has a team named {:?}",
            t.name
        )));
    }
    ctx.conn
        .execute(
            "INSERT INTO teams (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![t.id, org, t.name, now],
        )
        .map_err(db_error)?;
    let membership = crate::ids::new_id(crate::ids::TEAM_MEMBER);
    ctx.conn
        .execute(
            "INSERT INTO team_members (id, team_id, org_id, user_id, role, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 'manager', ?5, ?5)",
            params![membership, t.id, org, t.manager.as_str(), now],
        )
        .map_err(db_error)?;
    audit::append(ctx, t.audit, t.now)?;
    let team = get(ctx.conn, org, &t.id)?.ok_or(StoreError::NotFound)?;
    let member = by_id(ctx.conn, org, &t.id, &membership)?.ok_or(StoreError::NotFound)?;
    Ok((team, member))
}

fn user_of_org(conn: &Connection, org_id: &str, who: &MemberRef) -> StoreResult<Option<String>> {
    let (sql, value) = match who {
        MemberRef::UserId(id) => (
            "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.org_id = ?1 AND u.id = ?2",
            id,
        ),
        MemberRef::Email(email) => (
            "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.org_id = ?1 AND lower(u.email) = lower(?2)",
            email,
        ),
    };
    conn.query_row(sql, params![org_id, value], |r| r.get(0))
        .optional()
        .map_err(db_error)
}

pub(super) fn add_member(
    ctx: &mut WriteCtx<'_>,
    c: TeamCommand<AddTeamMember>,
) -> StoreResult<TeamMember> {
    let org = c.org_id.as_str();
    get(ctx.conn, org, &c.team_id)?.ok_or(StoreError::NotFound)?;
    let user = user_of_org(ctx.conn, org, &c.change.who)?.ok_or(StoreError::NotFound)?;
    if membership(ctx.conn, org, &c.team_id, &user)?.is_some() {
        return Err(StoreError::Conflict(
            "the user is already in this team".into(),
        ));
    }
    let now = rows::ts(c.now);
    ctx.conn
        .execute(
            "INSERT INTO team_members (id, team_id, org_id, user_id, role, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                c.change.id,
                c.team_id,
                org,
                user,
                c.change.role.as_str(),
                now
            ],
        )
        .map_err(db_error)?;
    let mut event = c.audit;
    if let serde_json::Value::Object(d) = &mut event.details {
        d.insert("user_id".into(), user.clone().into());
    }
    audit::append(ctx, event, c.now)?;
    by_id(ctx.conn, org, &c.team_id, &c.change.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn set_role(
    ctx: &mut WriteCtx<'_>,
    c: TeamCommand<ChangeTeamRole>,
) -> StoreResult<TeamMember> {
    let org = c.org_id.as_str();
    let id = &c.change.membership_id;
    by_id(ctx.conn, org, &c.team_id, id)?.ok_or(StoreError::NotFound)?;
    ctx.conn
        .execute(
            "UPDATE team_members SET role = ?1, updated_at = ?2 WHERE id = ?3",
            params![c.change.role.as_str(), rows::ts(c.now), id],
        )
        .map_err(db_error)?;
    audit::append(ctx, c.audit, c.now)?;
    by_id(ctx.conn, org, &c.team_id, id)?.ok_or(StoreError::NotFound)
}

pub(super) fn remove_member(
    ctx: &mut WriteCtx<'_>,
    c: TeamCommand<String>,
) -> StoreResult<TeamMember> {
    let org = c.org_id.as_str();
    let member = by_id(ctx.conn, org, &c.team_id, &c.change)?.ok_or(StoreError::NotFound)?;
    ctx.conn
        .execute("DELETE FROM team_members WHERE id = ?1", params![member.id])
        .map_err(db_error)?;
    for table in ["sessions", "pats"] {
        ctx.conn
            .execute(
                &format!(
                    "UPDATE {table} SET active_team_id = NULL WHERE user_id = ?1 AND active_team_id = ?2"
                ),
                params![member.user_id, c.team_id],
            )
            .map_err(db_error)?;
    }
    audit::append(ctx, c.audit, c.now)?;
    Ok(member)
}

fn credential_sql(credential: &Credential) -> (&'static str, &str) {
    match credential {
        Credential::Session(hash) => ("sessions", hash),
        Credential::Pat(hash) => ("pats", hash),
    }
}

pub(super) fn switch(ctx: &mut WriteCtx<'_>, s: SwitchTeam) -> StoreResult<()> {
    let (table, hash) = credential_sql(&s.credential);
    if let Some(team) = &s.team_id {
        get(ctx.conn, s.org_id.as_str(), team)?.ok_or(StoreError::NotFound)?;
    }
    let changed = ctx
        .conn
        .execute(
            &format!(
                "UPDATE {table} SET active_team_id = ?1 WHERE token_hash = ?2 AND org_id = ?3"
            ),
            params![s.team_id, hash, s.org_id.as_str()],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, s.audit, s.now)
}

pub(super) fn active(conn: &Connection, credential: &Credential) -> StoreResult<Option<String>> {
    let (table, hash) = credential_sql(credential);
    conn.prepare_cached(&format!(
        "SELECT active_team_id FROM {table} WHERE token_hash = ?1"
    ))
    .and_then(|mut s| {
        s.query_row([hash], |r| r.get::<_, Option<String>>(0))
            .optional()
    })
    .map(Option::flatten)
    .map_err(db_error)
}
