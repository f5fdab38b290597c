//! `RoomStore` on SQLite. Writes are jobs of the one writer, so a claim
//! ("the oldest waiting reply of a room with none running") is one atomic
//! step.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{SqliteStore, audit, db_error, rows};
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

fn room(row: &Row<'_>) -> rusqlite::Result<Room> {
    Ok(Room {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        kind: row.get("kind")?,
        title: row.get("title")?,
        objective: row.get("objective")?,
        status: row.get("status")?,
        team_id: row.get("team_id")?,
        budget_cap_cents: row.get("budget_cap_cents")?,
        moderator_agent_id: row.get("moderator_agent_id")?,
        rounds: row.get("rounds")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
        participants: Vec::new(),
    })
}

fn participant(row: &Row<'_>) -> rusqlite::Result<Participant> {
    Ok(Participant {
        kind: row.get("kind")?,
        id: row.get("participant_id")?,
        name: row.get("name")?,
        status: row.get("status")?,
        role: row.get("role")?,
        position: row.get("position")?,
        chat_session_id: row.get("chat_session_id")?,
        joined_at: rows::time_col(row, "joined_at")?,
    })
}

fn message(row: &Row<'_>) -> rusqlite::Result<RoomMessage> {
    Ok(RoomMessage {
        id: row.get("id")?,
        room_id: row.get("room_id")?,
        author_kind: row.get("author_kind")?,
        author_id: row.get("author_id")?,
        author_name: row.get("author_name")?,
        body: row.get("body")?,
        metadata: rows::json_col(row, "metadata")?,
        created_at: rows::time_col(row, "created_at")?,
    })
}

fn turn(row: &Row<'_>) -> rusqlite::Result<RoomTurn> {
    Ok(RoomTurn {
        id: row.get("id")?,
        room_id: row.get("room_id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        kind: row.get("kind")?,
        round: row.get("round")?,
        status: row.get("status")?,
        attempts: row.get("attempts")?,
        lease_until: rows::opt_time_col(row, "lease_until")?,
        error: row.get("error")?,
        created_at: rows::time_col(row, "created_at")?,
    })
}

fn participants(conn: &Connection, room_id: &str) -> StoreResult<Vec<Participant>> {
    let sql = format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM room_participants WHERE room_id = ?1 ORDER BY position"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(params![room_id], participant)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_error)
}

fn get(conn: &Connection, org_id: &str, id: &str) -> StoreResult<Option<Room>> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = ?1 AND org_id = ?2");
    let found = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], room).optional())
        .map_err(db_error)?;
    match found {
        Some(mut r) => {
            r.participants = participants(conn, &r.id)?;
            Ok(Some(r))
        }
        None => Ok(None),
    }
}

fn insert_participant(
    conn: &Connection,
    room_id: &str,
    org_id: &str,
    p: &Participant,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO room_participants (room_id, org_id, kind, participant_id, name, status, \
         role, position, chat_session_id, joined_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (room_id, kind, participant_id) DO NOTHING",
    )
    .and_then(|mut s| {
        s.execute(params![
            room_id,
            org_id,
            p.kind,
            p.id,
            p.name,
            p.status,
            p.role,
            p.position,
            p.chat_session_id,
            rows::ts(p.joined_at)
        ])
    })
    .map_err(db_error)?;
    Ok(())
}

fn insert_message(conn: &Connection, org_id: &str, m: &RoomMessage) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO room_messages (id, room_id, org_id, author_kind, author_id, author_name, \
         body, metadata, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            m.id,
            m.room_id,
            org_id,
            m.author_kind,
            m.author_id,
            m.author_name,
            m.body,
            m.metadata.to_string(),
            rows::ts(m.created_at)
        ])
    })
    .map_err(db_error)?;
    Ok(())
}

fn insert_turns(
    conn: &Connection,
    room_id: &str,
    org_id: &str,
    turns: &[NewRoomTurn],
    now: OffsetDateTime,
) -> StoreResult<()> {
    for t in turns {
        conn.prepare_cached(
            "INSERT INTO room_turns (id, room_id, org_id, agent_id, kind, round, status, \
             attempts, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', 0, ?7, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                t.id,
                room_id,
                org_id,
                t.agent_id,
                t.kind,
                t.round,
                rows::ts(now)
            ])
        })
        .map_err(db_error)?;
    }
    Ok(())
}

fn create(ctx: &mut WriteCtx<'_>, n: NewRoom) -> StoreResult<Room> {
    let r = &n.room;
    ctx.conn
        .prepare_cached(
            "INSERT INTO rooms (id, org_id, kind, title, objective, status, team_id, \
             budget_cap_cents, moderator_agent_id, rounds, created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        )
        .and_then(|mut s| {
            s.execute(params![
                r.id,
                r.org_id,
                r.kind,
                r.title,
                r.objective,
                r.status,
                r.team_id,
                r.budget_cap_cents,
                r.moderator_agent_id,
                r.rounds,
                r.created_by,
                rows::ts(r.created_at)
            ])
        })
        .map_err(db_error)?;
    for p in &r.participants {
        insert_participant(ctx.conn, &r.id, &r.org_id, p)?;
    }
    if let Some(m) = &n.first_message {
        insert_message(ctx.conn, &r.org_id, m)?;
    }
    insert_turns(ctx.conn, &r.id, &r.org_id, &n.turns, r.created_at)?;
    audit::append(ctx, n.audit, r.created_at)?;
    get(ctx.conn, &r.org_id, &r.id)?.ok_or(StoreError::NotFound)
}

fn post(ctx: &mut WriteCtx<'_>, p: PostRoomMessage) -> StoreResult<RoomMessage> {
    let org = p.org_id.as_str();
    let status: Option<String> = ctx
        .conn
        .query_row(
            "SELECT status FROM rooms WHERE id = ?1 AND org_id = ?2",
            params![p.room_id, org],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    match status.as_deref() {
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
        let next: i64 = ctx
            .conn
            .query_row(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM room_participants WHERE room_id = ?1",
                params![p.room_id],
                |r| r.get(0),
            )
            .map_err(db_error)?;
        let poster = Participant {
            position: next,
            ..poster.clone()
        };
        insert_participant(ctx.conn, &p.room_id, org, &poster)?;
    }
    insert_message(ctx.conn, org, &p.message)?;
    insert_turns(ctx.conn, &p.room_id, org, &p.turns, now)?;
    ctx.conn
        .execute(
            "UPDATE rooms SET updated_at = ?1 WHERE id = ?2",
            params![rows::ts(now), p.room_id],
        )
        .map_err(db_error)?;
    Ok(p.message)
}

fn claim(
    ctx: &mut WriteCtx<'_>,
    now: &str,
    lease_until: OffsetDateTime,
) -> StoreResult<Option<RoomTurn>> {
    let until = rows::ts(lease_until);
    // Out of attempts with a dead lease: failed, said why.
    ctx.conn
        .execute(
            "UPDATE room_turns SET status = 'failed', lease_until = NULL, \
             error = 'the reply was interrupted ' || attempts || ' times', updated_at = ?1 \
             WHERE status = 'running' AND lease_until <= ?1 AND attempts >= ?2",
            params![now, MAX_TURN_ATTEMPTS],
        )
        .map_err(db_error)?;
    let sql = format!(
        "SELECT {TURN_COLUMNS} FROM room_turns t \
         WHERE (t.status = 'queued' OR (t.status = 'running' AND t.lease_until <= ?1)) \
           AND NOT EXISTS (SELECT 1 FROM room_turns e WHERE e.room_id = t.room_id \
                           AND e.seq < t.seq AND e.status IN ('queued', 'running')) \
         ORDER BY t.seq LIMIT 1"
    );
    let found = ctx
        .conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![now], turn).optional())
        .map_err(db_error)?;
    let Some(mut found) = found else {
        return Ok(None);
    };
    ctx.conn
        .execute(
            "UPDATE room_turns SET status = 'running', attempts = attempts + 1, \
             lease_until = ?1, updated_at = ?2 WHERE id = ?3",
            params![until, now, found.id],
        )
        .map_err(db_error)?;
    found.status = "running".into();
    found.attempts += 1;
    found.lease_until = Some(lease_until);
    Ok(Some(found))
}

fn finish(ctx: &mut WriteCtx<'_>, f: FinishRoomTurn) -> StoreResult<bool> {
    let now = rows::ts(f.now);
    let changed = ctx
        .conn
        .execute(
            "UPDATE room_turns SET status = ?1, error = ?2, message_id = ?3, lease_until = NULL, \
             updated_at = ?4 WHERE id = ?5 AND status = 'running' AND lease_until = ?6",
            params![
                f.status,
                f.error,
                f.messages.first().map(|m| m.id.clone()),
                now,
                f.turn_id,
                rows::ts(f.lease_until)
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Ok(false);
    }
    let (room_id, org_id): (String, String) = ctx
        .conn
        .query_row(
            "SELECT room_id, org_id FROM room_turns WHERE id = ?1",
            params![f.turn_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_error)?;
    for m in &f.messages {
        insert_message(ctx.conn, &org_id, m)?;
    }
    if f.cancel_queued {
        ctx.conn
            .execute(
                "UPDATE room_turns SET status = 'failed', error = 'cancelled: the room''s budget \
                 ran out', updated_at = ?1 WHERE room_id = ?2 AND status = 'queued'",
                params![now, room_id],
            )
            .map_err(db_error)?;
    }
    insert_turns(ctx.conn, &room_id, &org_id, &f.next, f.now)?;
    ctx.conn
        .execute(
            "UPDATE rooms SET status = COALESCE(?1, status), updated_at = ?2 WHERE id = ?3",
            params![f.room_status, now, room_id],
        )
        .map_err(db_error)?;
    Ok(true)
}

#[async_trait]
impl RoomStore for SqliteStore {
    async fn create_room(&self, new: NewRoom) -> StoreResult<Room> {
        self.writer.write(move |ctx| create(ctx, new)).await
    }

    async fn room(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Room>> {
        self.lookup(|c| get(c, org_id.as_str(), id))
    }

    async fn rooms(
        &self,
        org_id: &OrgId,
        status: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Room>> {
        let (org, status) = (org_id.as_str().to_owned(), status.map(str::to_owned));
        self.read(move |c| {
            let sql = format!(
                "SELECT {ROOM_COLUMNS} FROM rooms WHERE org_id = ?1 AND (?2 IS NULL OR status = ?2) \
                 ORDER BY created_at DESC, id DESC LIMIT ?3"
            );
            let mut found = c
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(params![org, status, i64::from(limit)], room)?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(db_error)?;
            for r in &mut found {
                r.participants = participants(c, &r.id)?;
            }
            Ok(found)
        })
        .await
    }

    async fn post_room_message(&self, post_: PostRoomMessage) -> StoreResult<RoomMessage> {
        self.writer.write(move |ctx| post(ctx, post_)).await
    }

    async fn room_messages(
        &self,
        org_id: &OrgId,
        room_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<RoomMessage>> {
        let (org, room) = (org_id.as_str().to_owned(), room_id.to_owned());
        self.read(move |c| {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM (SELECT seq, {MESSAGE_COLUMNS} FROM room_messages \
                 WHERE room_id = ?1 AND org_id = ?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq"
            );
            c.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(params![room, org, i64::from(limit)], message)?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(db_error)
        })
        .await
    }

    async fn set_participant_session(
        &self,
        room_id: &str,
        agent_id: &str,
        chat_session_id: &str,
    ) -> StoreResult<()> {
        let (room, agent, session) = (
            room_id.to_owned(),
            agent_id.to_owned(),
            chat_session_id.to_owned(),
        );
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute(
                        "UPDATE room_participants SET chat_session_id = ?1 \
                         WHERE room_id = ?2 AND kind = 'agent' AND participant_id = ?3",
                        params![session, room, agent],
                    )
                    .map(|_| ())
                    .map_err(db_error)
            })
            .await
    }

    async fn claim_room_turn(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<RoomTurn>> {
        let now = rows::ts(now);
        self.writer
            .write(move |ctx| claim(ctx, &now, lease_until))
            .await
    }

    async fn finish_room_turn(&self, f: FinishRoomTurn) -> StoreResult<bool> {
        self.writer.write(move |ctx| finish(ctx, f)).await
    }

    async fn open_room_turns(&self, org_id: &OrgId, room_id: &str) -> StoreResult<Vec<RoomTurn>> {
        let (org, room) = (org_id.as_str().to_owned(), room_id.to_owned());
        self.read(move |c| {
            let sql = format!(
                "SELECT {TURN_COLUMNS} FROM room_turns WHERE room_id = ?1 AND org_id = ?2 \
                 AND status IN ('queued', 'running') ORDER BY seq"
            );
            c.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(params![room, org], turn)?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(db_error)
        })
        .await
    }

    async fn count_active_rooms(&self, org_id: &OrgId) -> StoreResult<u64> {
        self.lookup(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM rooms WHERE org_id = ?1 AND status = 'active'",
                params![org_id.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(db_error)
        })
    }

    async fn release_room_turn_leases(&self) -> StoreResult<u64> {
        // Expired, not cleared: the claim counts the attempt cut off.
        let expired = rows::ts(OffsetDateTime::UNIX_EPOCH);
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute(
                        "UPDATE room_turns SET lease_until = ?1 \
                         WHERE status = 'running' AND lease_until IS NOT NULL",
                        params![expired],
                    )
                    .map(|n| n as u64)
                    .map_err(db_error)
            })
            .await
    }
}
