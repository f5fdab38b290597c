//! `RoomStore` on PostgreSQL, with the answers of `sqlite/rooms.rs`. A
//! reply is claimed with `FOR UPDATE SKIP LOCKED`, and only when no
//! earlier reply of its room is queued or running: a node that skips a
//! reply another is claiming also skips every later one of that room, so
//! a room's replies run one at a time across nodes.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::store::*;

const ROOM_COLUMNS: &str = "id, org_id, kind, title, objective, status, team_id, \
     budget_cap_cents, moderator_agent_id, rounds, created_by, created_at, updated_at";
const PARTICIPANT_COLUMNS: &str =
    "kind, participant_id, name, status, role, position, chat_session_id, joined_at";
const MESSAGE_COLUMNS: &str =
    "id, room_id, author_kind, author_id, author_name, body, metadata, created_at";
const TURN_COLUMNS: &str = "id, room_id, org_id, agent_id, kind, round, status, attempts, \
     lease_until, error, created_at";

#[derive(sqlx::FromRow)]
struct RoomRow {
    id: String,
    org_id: String,
    kind: String,
    title: String,
    objective: Option<String>,
    status: String,
    team_id: Option<String>,
    budget_cap_cents: Option<i64>,
    moderator_agent_id: Option<String>,
    rounds: Option<i32>,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<RoomRow> for Room {
    fn from(r: RoomRow) -> Room {
        Room {
            id: r.id,
            org_id: r.org_id,
            kind: r.kind,
            title: r.title,
            objective: r.objective,
            status: r.status,
            team_id: r.team_id,
            budget_cap_cents: r.budget_cap_cents,
            moderator_agent_id: r.moderator_agent_id,
            rounds: r.rounds.map(i64::from),
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            participants: Vec::new(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ParticipantRow {
    kind: String,
    participant_id: String,
    name: String,
    status: String,
    role: String,
    position: i32,
    chat_session_id: Option<String>,
    joined_at: OffsetDateTime,
}

impl From<ParticipantRow> for Participant {
    fn from(r: ParticipantRow) -> Participant {
        Participant {
            kind: r.kind,
            id: r.participant_id,
            name: r.name,
            status: r.status,
            role: r.role,
            position: i64::from(r.position),
            chat_session_id: r.chat_session_id,
            joined_at: r.joined_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    room_id: String,
    author_kind: String,
    author_id: Option<String>,
    author_name: String,
    body: String,
    metadata: String,
    created_at: OffsetDateTime,
}

impl MessageRow {
    fn into_message(self) -> StoreResult<RoomMessage> {
        let metadata: Value = serde_json::from_str(&self.metadata)
            .map_err(|e| StoreError::Corrupt(format!("room message metadata: {e}")))?;
        Ok(RoomMessage {
            id: self.id,
            room_id: self.room_id,
            author_kind: self.author_kind,
            author_id: self.author_id,
            author_name: self.author_name,
            body: self.body,
            metadata,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TurnRow {
    id: String,
    room_id: String,
    org_id: String,
    agent_id: String,
    kind: String,
    round: i32,
    status: String,
    attempts: i32,
    lease_until: Option<OffsetDateTime>,
    error: Option<String>,
    created_at: OffsetDateTime,
}

impl From<TurnRow> for RoomTurn {
    fn from(r: TurnRow) -> RoomTurn {
        RoomTurn {
            id: r.id,
            room_id: r.room_id,
            org_id: r.org_id,
            agent_id: r.agent_id,
            kind: r.kind,
            round: i64::from(r.round),
            status: r.status,
            attempts: i64::from(r.attempts),
            lease_until: r.lease_until,
            error: r.error,
            created_at: r.created_at,
        }
    }
}

fn int(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

async fn participants(conn: &mut PgConnection, room_id: &str) -> StoreResult<Vec<Participant>> {
    let sql = format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM room_participants WHERE room_id = $1 ORDER BY position"
    );
    Ok(sqlx::query_as::<_, ParticipantRow>(AssertSqlSafe(sql))
        .bind(room_id)
        .fetch_all(conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(Participant::from)
        .collect())
}

async fn get(conn: &mut PgConnection, org_id: &str, id: &str) -> StoreResult<Option<Room>> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = $1 AND org_id = $2");
    let found = sqlx::query_as::<_, RoomRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    match found {
        Some(r) => {
            let mut room = Room::from(r);
            room.participants = participants(conn, &room.id).await?;
            Ok(Some(room))
        }
        None => Ok(None),
    }
}

async fn insert_participant(
    conn: &mut PgConnection,
    room_id: &str,
    org_id: &str,
    p: &Participant,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO room_participants (room_id, org_id, kind, participant_id, name, status, \
         role, position, chat_session_id, joined_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (room_id, kind, participant_id) DO NOTHING",
    )
    .bind(room_id)
    .bind(org_id)
    .bind(&p.kind)
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.status)
    .bind(&p.role)
    .bind(int(p.position))
    .bind(&p.chat_session_id)
    .bind(p.joined_at)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn insert_message(conn: &mut PgConnection, org_id: &str, m: &RoomMessage) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO room_messages (id, room_id, org_id, author_kind, author_id, author_name, \
         body, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&m.id)
    .bind(&m.room_id)
    .bind(org_id)
    .bind(&m.author_kind)
    .bind(&m.author_id)
    .bind(&m.author_name)
    .bind(&m.body)
    .bind(m.metadata.to_string())
    .bind(m.created_at)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn insert_turns(
    conn: &mut PgConnection,
    room_id: &str,
    org_id: &str,
    turns: &[NewRoomTurn],
    now: OffsetDateTime,
) -> StoreResult<()> {
    for t in turns {
        sqlx::query(
            "INSERT INTO room_turns (id, room_id, org_id, agent_id, kind, round, status, \
             attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7)",
        )
        .bind(&t.id)
        .bind(room_id)
        .bind(org_id)
        .bind(&t.agent_id)
        .bind(&t.kind)
        .bind(int(t.round))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

#[async_trait]
impl RoomStore for PgStore {
    async fn create_room(&self, n: NewRoom) -> StoreResult<Room> {
        let r = &n.room;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO rooms (id, org_id, kind, title, objective, status, team_id, \
             budget_cap_cents, moderator_agent_id, rounds, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(&r.id)
        .bind(&r.org_id)
        .bind(&r.kind)
        .bind(&r.title)
        .bind(&r.objective)
        .bind(&r.status)
        .bind(&r.team_id)
        .bind(r.budget_cap_cents)
        .bind(&r.moderator_agent_id)
        .bind(r.rounds.map(int))
        .bind(&r.created_by)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        for p in &r.participants {
            insert_participant(&mut tx, &r.id, &r.org_id, p).await?;
        }
        if let Some(m) = &n.first_message {
            insert_message(&mut tx, &r.org_id, m).await?;
        }
        insert_turns(&mut tx, &r.id, &r.org_id, &n.turns, r.created_at).await?;
        audit::insert(&mut tx, &n.audit, r.created_at).await?;
        let made = get(&mut tx, &r.org_id, &r.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(made)
    }

    async fn room(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Room>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), id).await
    }

    async fn rooms(
        &self,
        org_id: &OrgId,
        status: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Room>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = $1 \
             AND ($2::text IS NULL OR status = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let found = sqlx::query_as::<_, RoomRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(status)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        let mut rooms = Vec::with_capacity(found.len());
        for r in found {
            let mut room = Room::from(r);
            room.participants = participants(&mut conn, &room.id).await?;
            rooms.push(room);
        }
        Ok(rooms)
    }

    async fn post_room_message(&self, p: PostRoomMessage) -> StoreResult<RoomMessage> {
        let org = p.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The room's row lock orders posts and keeps positions unique.
        let status: Option<(String,)> =
            sqlx::query_as("SELECT status FROM rooms WHERE id = $1 AND org_id = $2 FOR UPDATE")
                .bind(&p.room_id)
                .bind(org)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        match status.as_ref().map(|s| s.0.as_str()) {
            None => return Err(StoreError::NotFound),
            Some("active") => {}
            Some(other) => {
                return Err(StoreError::Conflict(format!(
                    "room {} is {other}: it takes no more messages",
                    p.room_id
                )));
            }
        }
        let now = p.message.created_at;
        if let Some(poster) = &p.poster {
            let (next,): (i32,) = sqlx::query_as(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM room_participants WHERE room_id = $1",
            )
            .bind(&p.room_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
            let poster = Participant {
                position: i64::from(next),
                ..poster.clone()
            };
            insert_participant(&mut tx, &p.room_id, org, &poster).await?;
        }
        insert_message(&mut tx, org, &p.message).await?;
        insert_turns(&mut tx, &p.room_id, org, &p.turns, now).await?;
        sqlx::query("UPDATE rooms SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&p.room_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(p.message)
    }

    async fn room_messages(
        &self,
        org_id: &OrgId,
        room_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<RoomMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM (SELECT seq, {MESSAGE_COLUMNS} FROM room_messages \
             WHERE room_id = $1 AND org_id = $2 ORDER BY seq DESC LIMIT $3) m ORDER BY seq"
        );
        sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(org_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(MessageRow::into_message)
            .collect()
    }

    async fn set_participant_session(
        &self,
        room_id: &str,
        agent_id: &str,
        chat_session_id: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE room_participants SET chat_session_id = $1 \
             WHERE room_id = $2 AND kind = 'agent' AND participant_id = $3",
        )
        .bind(chat_session_id)
        .bind(room_id)
        .bind(agent_id)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn claim_room_turn(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<RoomTurn>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "UPDATE room_turns SET status = 'failed', lease_until = NULL, \
             error = 'the reply was interrupted ' || attempts || ' times', updated_at = $1 \
             WHERE status = 'running' AND lease_until <= $1 AND attempts >= $2",
        )
        .bind(now)
        .bind(int(MAX_TURN_ATTEMPTS))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let sql = format!(
            "SELECT {TURN_COLUMNS} FROM room_turns t \
             WHERE (t.status = 'queued' OR (t.status = 'running' AND t.lease_until <= $1)) \
               AND NOT EXISTS (SELECT 1 FROM room_turns e WHERE e.room_id = t.room_id \
                               AND e.seq < t.seq AND e.status IN ('queued', 'running')) \
             ORDER BY t.seq LIMIT 1 FOR UPDATE SKIP LOCKED"
        );
        let found = sqlx::query_as::<_, TurnRow>(AssertSqlSafe(sql))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(found) = found else {
            tx.commit().await.map_err(db_error)?;
            return Ok(None);
        };
        sqlx::query(
            "UPDATE room_turns SET status = 'running', attempts = attempts + 1, \
             lease_until = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(lease_until)
        .bind(now)
        .bind(&found.id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let mut turn = RoomTurn::from(found);
        turn.status = "running".into();
        turn.attempts += 1;
        turn.lease_until = Some(lease_until);
        Ok(Some(turn))
    }

    async fn finish_room_turn(&self, f: FinishRoomTurn) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let owned: Option<(String, String)> = sqlx::query_as(
            "UPDATE room_turns SET status = $1, error = $2, message_id = $3, lease_until = NULL, \
             updated_at = $4 WHERE id = $5 AND status = 'running' AND lease_until = $6 \
             RETURNING room_id, org_id",
        )
        .bind(&f.status)
        .bind(&f.error)
        .bind(f.messages.first().map(|m| m.id.clone()))
        .bind(f.now)
        .bind(&f.turn_id)
        .bind(f.lease_until)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some((room_id, org_id)) = owned else {
            return Ok(false);
        };
        for m in &f.messages {
            insert_message(&mut tx, &org_id, m).await?;
        }
        if f.cancel_queued {
            sqlx::query(
                "UPDATE room_turns SET status = 'failed', error = 'cancelled: the room''s budget \
                 ran out', updated_at = $1 WHERE room_id = $2 AND status = 'queued'",
            )
            .bind(f.now)
            .bind(&room_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        insert_turns(&mut tx, &room_id, &org_id, &f.next, f.now).await?;
        sqlx::query(
            "UPDATE rooms SET status = COALESCE($1, status), updated_at = $2 WHERE id = $3",
        )
        .bind(&f.room_status)
        .bind(f.now)
        .bind(&room_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn open_room_turns(&self, org_id: &OrgId, room_id: &str) -> StoreResult<Vec<RoomTurn>> {
        let sql = format!(
            "SELECT {TURN_COLUMNS} FROM room_turns WHERE room_id = $1 AND org_id = $2 \
             AND status IN ('queued', 'running') ORDER BY seq"
        );
        Ok(sqlx::query_as::<_, TurnRow>(AssertSqlSafe(sql))
            .bind(room_id)
            .bind(org_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(RoomTurn::from)
            .collect())
    }

    async fn count_active_rooms(&self, org_id: &OrgId) -> StoreResult<u64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM rooms WHERE org_id = $1 AND status = 'active'")
                .bind(org_id.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(n as u64)
    }

    async fn release_room_turn_leases(&self) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE room_turns SET lease_until = $1 \
             WHERE status = 'running' AND lease_until IS NOT NULL",
        )
        .bind(OffsetDateTime::UNIX_EPOCH)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}
