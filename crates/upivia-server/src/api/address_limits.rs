//! A budget of failed authentications per client address. Every 401 the
//! server answers spends one; the budget refills at its size per minute.
//! An address with nothing left is answered 429 before its request reaches
//! a handler, so guessing keys or passwords (and making the server hash
//! them with Argon2) costs the guesser time. Health probes pass regardless.
//!
//! A hand-written bucket rather than `governor`: the gate has to ask "is
//! anything left?" without spending, and governor has no such check.
//! Buckets are kept as the amount spent, so a full bucket is no entry at
//! all and the table holds only addresses that failed lately.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::http_server::client_key;

/// Table size at which spent-out entries are swept (then twice the size
/// that remains), so a flood of addresses costs amortised O(1) each.
const FIRST_SWEEP: usize = 1024;

#[derive(Debug)]
pub struct AuthFailures {
    per_minute: f64,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    spent: HashMap<std::net::IpAddr, Spent>,
    sweep_at: usize,
}

#[derive(Debug, Clone, Copy)]
struct Spent {
    amount: f64,
    at: Instant,
}

impl AuthFailures {
    pub fn new(per_minute: u32) -> AuthFailures {
        AuthFailures {
            per_minute: f64::from(per_minute.max(1)),
            table: Mutex::new(Table {
                spent: HashMap::new(),
                sweep_at: FIRST_SWEEP,
            }),
        }
    }

    fn per_second(&self) -> f64 {
        self.per_minute / 60.0
    }

    fn spent_now(&self, spent: Spent, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(spent.at).as_secs_f64();
        (spent.amount - elapsed * self.per_second()).max(0.0)
    }

    /// How long `ip` must wait before its next request is heard, when its
    /// budget is spent.
    pub fn blocked(&self, ip: std::net::IpAddr, now: Instant) -> Option<Duration> {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let spent = self.spent_now(*table.spent.get(&client_key(ip))?, now);
        let over = spent - (self.per_minute - 1.0);
        (over > 0.0).then(|| Duration::from_secs_f64(over / self.per_second()))
    }

    /// Spends one failure of `ip`'s budget.
    pub fn charge(&self, ip: std::net::IpAddr, now: Instant) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let key = client_key(ip);
        let before = table
            .spent
            .get(&key)
            .map_or(0.0, |s| self.spent_now(*s, now));
        // Requests in flight when the budget ran out may still fail; the
        // debt stops at the bucket's size, so a spent address gets a try
        // back every 60/limit seconds, as the steady rate says.
        let amount = (before + 1.0).min(self.per_minute);
        table.spent.insert(key, Spent { amount, at: now });
        if table.spent.len() >= table.sweep_at {
            table.spent.retain(|_, s| self.spent_now(*s, now) > 0.0);
            table.sweep_at = (table.spent.len() * 2).max(FIRST_SWEEP);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spent
            .len()
    }
}

fn is_health_probe(path: &str) -> bool {
    let path = path
        .strip_prefix("/api/v1")
        .or_else(|| path.strip_prefix("/v1"))
        .unwrap_or("");
    matches!(path, "/healthz" | "/health/readiness")
}

/// What [`guard`] returns.
pub type Guarded = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// The middleware: `None` when the limit is off. Without the peer address
/// (a router driven without our listener) it lets everything through.
pub fn guard(limiter: Option<Arc<AuthFailures>>, req: Request, next: Next) -> Guarded {
    Box::pin(async move {
        match limiter {
            Some(limiter) => gate(&limiter, req, next).await,
            None => next.run(req).await,
        }
    })
}

async fn gate(limiter: &AuthFailures, req: Request, next: Next) -> Response {
    let Some(ip) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return next.run(req).await;
    };
    if !is_health_probe(req.uri().path())
        && let Some(wait) = limiter.blocked(ip, Instant::now())
    {
        return ApiError::RateLimited {
            message: "too many failed authentications from this address; retry later".into(),
            retry_after: wait,
        }
        .into_response();
    }
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        limiter.charge(ip, Instant::now());
    }
    response
}

#[cfg(test)]
mod tests;
