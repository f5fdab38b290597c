//! This node's row in `nodes`: registered at connect, beaten every
//! [`BEAT_EVERY`], marked stopped on a clean close. A node whose beat is
//! older than [`NODE_LEASE`] is dead: other nodes take over what it held.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{PgStore, db_error};
use crate::store::StoreResult;

pub(crate) const BEAT_EVERY: Duration = Duration::from_secs(2);
/// Several missed beats, so a node paused by a long GC-free stall or a
/// slow disk is not declared dead while it still executes.
pub(crate) const NODE_LEASE: Duration = Duration::from_secs(10);

pub(super) async fn register(store: &PgStore) -> StoreResult<()> {
    sqlx::query("INSERT INTO nodes (id, started_at, beat_at) VALUES ($1, now(), now())")
        .bind(&store.node_id)
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(super) async fn beat(store: &PgStore) -> StoreResult<()> {
    sqlx::query("UPDATE nodes SET beat_at = now() WHERE id = $1")
        .bind(&store.node_id)
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(super) async fn mark_stopped(store: &PgStore) -> StoreResult<()> {
    sqlx::query("UPDATE nodes SET stopped_at = now() WHERE id = $1")
        .bind(&store.node_id)
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Beats until the store is dropped or closed. Holds the store weakly so
/// the task never keeps it alive.
pub(super) fn start_beating(store: &Arc<PgStore>) {
    let weak: Weak<PgStore> = Arc::downgrade(store);
    let stop = store.stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(BEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(store) = weak.upgrade() else { return };
            if let Err(e) = beat(&store).await {
                tracing::warn!(error = %e, "node heartbeat failed");
            }
        }
    });
}

/// SQL true for a `nodes` row (aliased `n`) that is alive.
pub(crate) fn alive_sql() -> String {
    format!(
        "(n.stopped_at IS NULL AND n.beat_at > now() - interval '{} seconds')",
        NODE_LEASE.as_secs()
    )
}
