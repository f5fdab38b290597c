//! `TeamStore` on PostgreSQL, with the answers of `sqlite/teams.rs`. A
//! team's name is unique by an index, so two nodes creating the same name
//! at once get one team and one conflict.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, audit, db_error};
use crate::ids::{OrgId, UserId};
use crate::store::*;

#[derive(sqlx::FromRow)]
struct TeamRow {
    id: String,
    org_id: String,
    name: String,
    created_at: OffsetDateTime,
}

impl From<TeamRow> for Team {
    fn from(r: TeamRow) -> Team {
        Team {
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ListingRow {
    id: String,
    org_id: String,
    name: String,
    created_at: OffsetDateTime,
    my_role: Option<String>,
    member_count: i64,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: String,
    team_id: String,
    org_id: String,
    user_id: String,
    email: String,
    role: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

fn role(raw: &str) -> StoreResult<TeamRole> {
    TeamRole::parse(raw).ok_or_else(|| corrupt(format!("team role {raw:?}")))
}

impl MemberRow {
    fn into_member(self) -> StoreResult<TeamMember> {
        Ok(TeamMember {
            role: role(&self.role)?,
            id: self.id,
            team_id: self.team_id,
            org_id: self.org_id,
            user_id: self.user_id,
            email: self.email,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const MEMBER_COLUMNS: &str = "tm.id, tm.team_id, tm.org_id, tm.user_id, u.email, tm.role, \
    tm.created_at, tm.updated_at";

pub(super) async fn get(
    conn: &mut PgConnection,
    org_id: &str,
    team_id: &str,
) -> StoreResult<Option<Team>> {
    sqlx::query_as::<_, TeamRow>(
        "SELECT id, org_id, name, created_at FROM teams WHERE id = $1 AND org_id = $2",
    )
    .bind(team_id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
    .map_err(db_error)
    .map(|r| r.map(Team::from))
}

async fn member_where(
    conn: &mut PgConnection,
    clause: &str,
    org_id: &str,
    team_id: &str,
    value: &str,
) -> StoreResult<Option<TeamMember>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM team_members tm JOIN users u ON u.id = tm.user_id \
         WHERE tm.org_id = $1 AND tm.team_id = $2 AND {clause}"
    );
    sqlx::query_as::<_, MemberRow>(AssertSqlSafe(sql))
        .bind(org_id)
        .bind(team_id)
        .bind(value)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(MemberRow::into_member)
        .transpose()
}

async fn by_id(
    conn: &mut PgConnection,
    org_id: &str,
    team_id: &str,
    id: &str,
) -> StoreResult<Option<TeamMember>> {
    member_where(conn, "tm.id = $3", org_id, team_id, id).await
}

fn credential_sql(credential: &Credential) -> (&'static str, &str) {
    match credential {
        Credential::Session(hash) => ("sessions", hash),
        Credential::Pat(hash) => ("pats", hash),
    }
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!(
        "the organisation already has a team named {name:?}"
    ))
}

#[async_trait]
impl TeamStore for PgStore {
    async fn create_team(&self, t: NewTeam) -> StoreResult<(Team, TeamMember)> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let org = t.org_id.as_str();
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM teams WHERE org_id = $1 AND name = $2")
                .bind(org)
                .bind(&t.name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        if taken.is_some() {
            return Err(name_taken(&t.name));
        }
        sqlx::query("INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&t.id)
            .bind(org)
            .bind(&t.name)
            .bind(t.now)
            .execute(&mut *tx)
            .await
            .map_err(|e| match db_error(e) {
                StoreError::Constraint(_) => name_taken(&t.name),
                other => other,
            })?;
        let membership = crate::ids::new_id(crate::ids::TEAM_MEMBER);
        sqlx::query(
            "INSERT INTO team_members (id, team_id, org_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'manager', $5, $5)",
        )
        .bind(&membership)
        .bind(&t.id)
        .bind(org)
        .bind(t.manager.as_str())
        .bind(t.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &t.audit, t.now).await?;
        let team = get(&mut tx, org, &t.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let member = by_id(&mut tx, org, &t.id, &membership)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok((team, member))
    }

    async fn team(&self, org_id: &OrgId, team_id: &str) -> StoreResult<Option<Team>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), team_id).await
    }

    async fn teams(
        &self,
        org_id: &OrgId,
        user: &UserId,
        all: bool,
    ) -> StoreResult<Vec<TeamListing>> {
        let rows = sqlx::query_as::<_, ListingRow>(
            "SELECT t.id, t.org_id, t.name, t.created_at, mine.role AS my_role, \
             (SELECT COUNT(*) FROM team_members c WHERE c.team_id = t.id) AS member_count \
             FROM teams t LEFT JOIN team_members mine ON mine.team_id = t.id AND mine.user_id = $2 \
             WHERE t.org_id = $1 AND ($3 OR mine.id IS NOT NULL) \
             ORDER BY t.created_at, t.id COLLATE \"C\"",
        )
        .bind(org_id.as_str())
        .bind(user.as_str())
        .bind(all)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(TeamListing {
                    role: r.my_role.as_deref().map(role).transpose()?,
                    member_count: u32::try_from(r.member_count)
                        .map_err(|_| corrupt("team member count"))?,
                    team: Team {
                        id: r.id,
                        org_id: r.org_id,
                        name: r.name,
                        created_at: r.created_at,
                    },
                })
            })
            .collect()
    }

    async fn team_members(&self, org_id: &OrgId, team_id: &str) -> StoreResult<Vec<TeamMember>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM team_members tm JOIN users u ON u.id = tm.user_id \
             WHERE tm.team_id = $1 AND tm.org_id = $2 ORDER BY tm.created_at, tm.id COLLATE \"C\""
        );
        sqlx::query_as::<_, MemberRow>(AssertSqlSafe(sql))
            .bind(team_id)
            .bind(org_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(MemberRow::into_member)
            .collect()
    }

    async fn membership(
        &self,
        org_id: &OrgId,
        team_id: &str,
        user: &UserId,
    ) -> StoreResult<Option<TeamMember>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        member_where(
            &mut conn,
            "tm.user_id = $3",
            org_id.as_str(),
            team_id,
            user.as_str(),
        )
        .await
    }

    async fn add_team_member(&self, c: TeamCommand<AddTeamMember>) -> StoreResult<TeamMember> {
        let org = c.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        get(&mut tx, org, &c.team_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (sql, value) = match &c.change.who {
            MemberRef::UserId(id) => (
                "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
                 WHERE m.org_id = $1 AND u.id = $2",
                id,
            ),
            MemberRef::Email(email) => (
                "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
                 WHERE m.org_id = $1 AND lower(u.email) = lower($2)",
                email,
            ),
        };
        let user: String = sqlx::query_scalar(sql)
            .bind(org)
            .bind(value)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or(StoreError::NotFound)?;
        let already = || StoreError::Conflict("the user is already in this team".into());
        if member_where(&mut tx, "tm.user_id = $3", org, &c.team_id, &user)
            .await?
            .is_some()
        {
            return Err(already());
        }
        sqlx::query(
            "INSERT INTO team_members (id, team_id, org_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&c.change.id)
        .bind(&c.team_id)
        .bind(org)
        .bind(&user)
        .bind(c.change.role.as_str())
        .bind(c.now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match db_error(e) {
            StoreError::Constraint(_) => already(),
            other => other,
        })?;
        let mut event = c.audit;
        if let serde_json::Value::Object(d) = &mut event.details {
            d.insert("user_id".into(), user.clone().into());
        }
        audit::insert(&mut tx, &event, c.now).await?;
        let member = by_id(&mut tx, org, &c.team_id, &c.change.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(member)
    }

    async fn set_team_role(&self, c: TeamCommand<ChangeTeamRole>) -> StoreResult<TeamMember> {
        let org = c.org_id.as_str();
        let id = &c.change.membership_id;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE team_members SET role = $1, updated_at = $2 \
             WHERE id = $3 AND team_id = $4 AND org_id = $5",
        )
        .bind(c.change.role.as_str())
        .bind(c.now)
        .bind(id)
        .bind(&c.team_id)
        .bind(org)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, &c.audit, c.now).await?;
        let member = by_id(&mut tx, org, &c.team_id, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(member)
    }

    async fn remove_team_member(&self, c: TeamCommand<String>) -> StoreResult<TeamMember> {
        let org = c.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let member = member_where(
            &mut tx,
            "tm.id = $3 FOR UPDATE OF tm",
            org,
            &c.team_id,
            &c.change,
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM team_members WHERE id = $1")
            .bind(&member.id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for table in ["sessions", "pats"] {
            let sql = format!(
                "UPDATE {table} SET active_team_id = NULL WHERE user_id = $1 AND active_team_id = $2"
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(&member.user_id)
                .bind(&c.team_id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        audit::insert(&mut tx, &c.audit, c.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(member)
    }

    async fn switch_team(&self, s: SwitchTeam) -> StoreResult<()> {
        let (table, hash) = credential_sql(&s.credential);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if let Some(team) = &s.team_id {
            get(&mut tx, s.org_id.as_str(), team)
                .await?
                .ok_or(StoreError::NotFound)?;
        }
        let sql =
            format!("UPDATE {table} SET active_team_id = $1 WHERE token_hash = $2 AND org_id = $3");
        let changed = sqlx::query(AssertSqlSafe(sql))
            .bind(&s.team_id)
            .bind(hash)
            .bind(s.org_id.as_str())
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

    async fn active_team(&self, credential: &Credential) -> StoreResult<Option<String>> {
        let (table, hash) = credential_sql(credential);
        let sql = format!("SELECT active_team_id FROM {table} WHERE token_hash = $1");
        let found: Option<Option<String>> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(found.flatten())
    }
}
