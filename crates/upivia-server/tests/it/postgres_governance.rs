//! The governance store on PostgreSQL with several nodes over one
//! database: what the HTTP suite cannot show from one process. Each test
//! connects two or three `PgStore`s (separate nodes, separate pools) and
//! races them on one cap, one balance, one daily limit, one idempotency
//! key or one approval; and checks that a starting node takes over only a
//! dead node's executing requests. The organisation and agent rows are
//! written with plain SQL: they belong to the identity and agents stores,
//! which these tests are not about. Skipped without a PostgreSQL server.

use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;
use upivia_server::ids;
use upivia_server::model::{
    Account, Approval, ApprovalStatus, AuditEvent, Hold, HoldLimit, RequestStatus, ServiceRequest,
};
use upivia_server::money::Cents;
use upivia_server::store::postgres::testing::TestDatabase;
use upivia_server::store::postgres::{PgSettings, PgStore};
use upivia_server::store::{
    ApprovalDecision, Credit, DailyLimit, DecideApproval, DecideRefusal, Decided, Disposition,
    Finish, FinishRequest, GovernanceStore, IdempotencyClaim, LimitScope, Moved, OpenRequest,
    Opened, StoredResponse, Transfer, TransferCommand,
};

use crate::support::postgres_database;

/// A database, `nodes` stores on it, and one organisation with one agent.
struct Cluster {
    nodes: Vec<Arc<PgStore>>,
    org: String,
    agent: String,
    db: TestDatabase,
}

impl Cluster {
    async fn start(nodes: usize) -> Option<Cluster> {
        let db = postgres_database().await?;
        let mut stores = Vec::new();
        for _ in 0..nodes {
            let settings = PgSettings {
                max_connections: 8,
                ..PgSettings::default()
            };
            stores.push(PgStore::connect(db.url(), settings).await.expect("node"));
        }
        let org = ids::new_id(ids::ORG);
        let agent = ids::new_id(ids::AGENT);
        let pool = stores[0].pool();
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, 'race', now())")
            .bind(&org)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO agents (id, org_id, name, status, key_hash, key_mode, created_at, \
             updated_at) VALUES ($1, $2, 'racer', 'active', $1, 'test', now(), now())",
        )
        .bind(&agent)
        .bind(&org)
        .execute(pool)
        .await
        .unwrap();
        Some(Cluster {
            nodes: stores,
            org,
            agent,
            db,
        })
    }

    /// The node serving the `i`th of many concurrent calls.
    fn node(&self, i: usize) -> Arc<PgStore> {
        self.nodes[i % self.nodes.len()].clone()
    }

    async fn credit(&self, cents: i64) {
        let now = OffsetDateTime::now_utc();
        self.nodes[0]
            .credit(Credit {
                account: Account::Org(self.org.clone()),
                org_id: self.org.clone().into(),
                amount: Cents::new(cents),
                note: "test".to_owned(),
                now,
                audit: event(&self.org, "balance.credited"),
            })
            .await
            .expect("credit");
    }

    fn request(&self, status: RequestStatus, estimate: i64) -> ServiceRequest {
        let now = OffsetDateTime::now_utc();
        ServiceRequest {
            id: ids::new_id(ids::REQUEST),
            org_id: self.org.clone(),
            agent_id: self.agent.clone(),
            binding_id: None,
            service: "email".to_owned(),
            operation: "send".to_owned(),
            payload: json!({"to": "a@example.com"}),
            metadata: None,
            payload_digest: "digest".to_owned(),
            status,
            reason_code: None,
            message: None,
            estimated_cost: Cents::new(estimate),
            initial_cost: None,
            cost: Cents::ZERO,
            result: None,
            provider: None,
            external_id: None,
            approval_id: None,
            approval_expires_at: None,
            idempotency_key: None,
            created_at: now,
            started_at: None,
            updated_at: now,
            provider_started_at: None,
        }
    }

    /// The holds of a request: the organisation's funds, the agent's month
    /// under `cap` (uncapped when `None`).
    fn holds(&self, cap: Option<i64>) -> Vec<Hold> {
        vec![
            Hold {
                account: Account::Org(self.org.clone()),
                limit: HoldLimit::Funds,
            },
            Hold {
                account: Account::AgentMonth {
                    agent_id: self.agent.clone(),
                    month: upivia_server::clock::month_of(OffsetDateTime::now_utc()),
                },
                limit: cap.map_or(HoldLimit::Unlimited, |c| HoldLimit::Cap(Cents::new(c))),
            },
        ]
    }

    /// Opens an executing request reserving `estimate` under `cap`.
    fn reserving(&self, estimate: i64, cap: Option<i64>, limits: Vec<DailyLimit>) -> OpenRequest {
        OpenRequest {
            request: self.request(RequestStatus::Executing, estimate),
            idempotency: None,
            disposition: Disposition::Reserve {
                holds: self.holds(cap),
                amount: Cents::new(estimate),
                limits,
            },
            audit: None,
        }
    }

    async fn clean_ledger(&self) {
        let report = self.nodes[0].check_ledger().await.expect("check");
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    async fn org_totals(&self) -> upivia_server::model::AccountTotals {
        self.nodes[1 % self.nodes.len()]
            .totals(Account::Org(self.org.clone()))
            .await
            .unwrap()
    }
}

fn event(org: &str, event_type: &str) -> AuditEvent {
    AuditEvent {
        org_id: org.to_owned(),
        event_type: event_type.to_owned(),
        actor: "system".to_owned(),
        agent_id: None,
        service: None,
        operation: None,
        status: None,
        request_id: None,
        cost: None,
        details: json!({}),
    }
}

/// Runs `calls` concurrent `open_request`s, spread over the nodes.
async fn race(cluster: &Cluster, calls: Vec<OpenRequest>) -> Vec<Opened> {
    let tasks: Vec<_> = calls
        .into_iter()
        .enumerate()
        .map(|(i, open)| {
            let node = cluster.node(i);
            tokio::spawn(async move { node.open_request(open).await })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("task").expect("open_request"));
    }
    out
}

fn recorded(opened: &[Opened]) -> usize {
    opened
        .iter()
        .filter(|o| matches!(o, Opened::Recorded))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_for_an_agent_cap_admit_exactly_what_fits() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    cluster.credit(1_000_000).await;
    // A cap of 10 requests' worth, 200 requests at once over three nodes.
    let calls = (0..200)
        .map(|_| cluster.reserving(7, Some(70), vec![]))
        .collect();
    let opened = race(&cluster, calls).await;
    assert_eq!(recorded(&opened), 10, "admitted of 200");
    for o in &opened {
        match o {
            Opened::Recorded => {}
            Opened::HoldRefused { account, available } => {
                assert!(matches!(account, Account::AgentMonth { .. }), "{account:?}");
                assert_eq!(*available, Cents::ZERO);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(cluster.org_totals().await.reserved, Cents::new(70));
    cluster.clean_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_for_one_balance_never_overdraw_it() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    cluster.credit(25).await;
    // 25 cents: eight requests of 3, with 1 left over.
    let calls = (0..120)
        .map(|_| cluster.reserving(3, None, vec![]))
        .collect();
    let opened = race(&cluster, calls).await;
    assert_eq!(recorded(&opened), 8);
    assert!(opened.iter().all(|o| match o {
        Opened::Recorded => true,
        Opened::HoldRefused { account, available } =>
            matches!(account, Account::Org(_)) && *available == Cents::new(1),
        _ => false,
    }));
    let totals = cluster.org_totals().await;
    assert_eq!(
        (totals.credits, totals.reserved),
        (Cents::new(25), Cents::new(24))
    );
    cluster.clean_ledger().await;
}

fn transfer(
    cluster: &Cluster,
    from: Account,
    limit: HoldLimit,
    to: Account,
    cents: i64,
) -> TransferCommand {
    TransferCommand {
        transfer: Transfer {
            id: ids::new_id(ids::TRANSFER),
            org_id: cluster.org.clone().into(),
            from,
            from_limit: limit,
            to,
            amount: Cents::new(cents),
            note: "race".to_owned(),
        },
        now: OffsetDateTime::now_utc(),
        audit: event(&cluster.org, "team.budget_allocated"),
    }
}

/// Runs the transfers and the reservations at once, spread over the nodes:
/// how many of each went through.
async fn race_transfers(
    cluster: &Cluster,
    transfers: Vec<TransferCommand>,
    opens: Vec<OpenRequest>,
) -> (usize, usize) {
    let mut moving = Vec::new();
    for (i, t) in transfers.into_iter().enumerate() {
        let node = cluster.node(i);
        moving.push(tokio::spawn(async move { node.transfer(t).await }));
    }
    let opening = race(cluster, opens);
    let opened = opening.await;
    let mut moved = 0;
    for task in moving {
        match task.await.expect("task").expect("transfer") {
            Moved::Done { .. } => moved += 1,
            Moved::Short { available } => assert!(available.get() >= 0),
        }
    }
    (moved, recorded(&opened))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_to_move_and_spend_one_balance_never_overdraw_it() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    cluster.credit(1000).await;
    // Allocations to a pool and reservations on the balance race over
    // three nodes: whatever mix wins, the balance never goes below zero
    // and the sums match what went through.
    let team = Account::Team(ids::new_id(ids::TEAM));
    let transfers = (0..60)
        .map(|_| {
            transfer(
                &cluster,
                Account::Org(cluster.org.clone()),
                HoldLimit::Funds,
                team.clone(),
                30,
            )
        })
        .collect();
    let opens = (0..60)
        .map(|_| cluster.reserving(7, None, vec![]))
        .collect();
    let (moved, reserved) = race_transfers(&cluster, transfers, opens).await;
    let org = cluster.org_totals().await;
    assert_eq!(org.credits, Cents::new(1000 - 30 * moved as i64));
    assert_eq!(org.reserved, Cents::new(7 * reserved as i64));
    // Nothing is released here, so what is left only shrank: a refusal of
    // either kind means less than its amount was left at the end too.
    let left = org.available(&HoldLimit::Funds);
    assert!(
        moved == 60 || left < Cents::new(30),
        "{org:?}: a transfer would have fit"
    );
    assert!(
        reserved == 60 || left < Cents::new(7),
        "{org:?}: a request would have fit"
    );
    assert!(left >= Cents::ZERO);
    let pool = cluster.nodes[2].totals(team).await.unwrap();
    assert_eq!(pool.credits, Cents::new(30 * moved as i64));
    cluster.clean_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_to_carve_one_capped_month_carve_exactly_the_cap() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let month = Account::AgentMonth {
        agent_id: cluster.agent.clone(),
        month: upivia_server::clock::month_of(OffsetDateTime::now_utc()),
    };
    let cap = HoldLimit::Cap(Cents::new(100));
    let transfers = (0..40)
        .map(|_| {
            let child = Account::Allowance(ids::new_id(ids::AGENT));
            transfer(&cluster, month.clone(), cap, child, 10)
        })
        .collect();
    let (moved, _) = race_transfers(&cluster, transfers, vec![]).await;
    assert_eq!(moved, 10, "carved of 40");
    let totals = cluster.nodes[0].totals(month).await.unwrap();
    assert_eq!(totals.available(&cap), Cents::ZERO);
    cluster.clean_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stripe_short_of_money_is_topped_up_and_a_refusal_tells_the_whole_balance() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    cluster.credit(80).await;
    // Small requests spread the money over the organisation's stripes
    // (the credit lands on one; the first request on another tops it up).
    let calls = (0..16)
        .map(|_| cluster.reserving(1, None, vec![]))
        .collect();
    assert_eq!(recorded(&race(&cluster, calls).await), 16);
    let stripes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM account_balances WHERE account = $1")
            .bind(format!("org:{}", cluster.org))
            .fetch_one(cluster.nodes[0].pool())
            .await
            .unwrap();
    assert_eq!(stripes, 8, "the balance is split");
    // 64 left, about 8 on each stripe: 60 still fits, taken from them all.
    let opened = race(&cluster, vec![cluster.reserving(60, None, vec![])]).await;
    assert!(matches!(opened[0], Opened::Recorded), "{opened:?}");
    // 4 left in all: 5 is refused, and the refusal says 4, not a stripe's part.
    let opened = race(&cluster, vec![cluster.reserving(5, None, vec![])]).await;
    match &opened[0] {
        Opened::HoldRefused { account, available } => {
            assert!(matches!(account, Account::Org(_)), "{account:?}");
            assert_eq!(*available, Cents::new(4));
        }
        other => panic!("unexpected {other:?}"),
    }
    let totals = cluster.org_totals().await;
    assert_eq!(
        (totals.credits, totals.reserved),
        (Cents::new(80), Cents::new(76))
    );
    cluster.clean_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_for_a_daily_limit_count_exactly_the_limit() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    cluster.credit(1_000).await;
    let limit = DailyLimit {
        scope: LimitScope::Agent(cluster.agent.clone()),
        limit: 5,
        day_start: upivia_server::clock::start_of_day(OffsetDateTime::now_utc()),
    };
    let calls = (0..60)
        .map(|_| cluster.reserving(1, None, vec![limit.clone()]))
        .collect();
    let opened = race(&cluster, calls).await;
    assert_eq!(recorded(&opened), 5);
    assert!(
        opened
            .iter()
            .all(|o| matches!(o, Opened::Recorded | Opened::LimitReached { limit: 5, .. }))
    );
    // A refused request held nothing: only the five admitted reserved.
    assert_eq!(cluster.org_totals().await.reserved, Cents::new(5));
    let zero = DailyLimit { limit: 0, ..limit };
    let opened = race(&cluster, vec![cluster.reserving(1, None, vec![zero])]).await;
    assert!(matches!(opened[0], Opened::LimitReached { limit: 0, .. }));
    cluster.clean_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_on_one_idempotency_key_record_it_once() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    cluster.credit(1_000).await;
    let calls: Vec<OpenRequest> = (0..30)
        .map(|_| {
            let mut open = cluster.reserving(2, None, vec![]);
            open.request.idempotency_key = Some("same-key".to_owned());
            open.idempotency = Some(IdempotencyClaim {
                key: "same-key".to_owned(),
                fingerprint: "fp".to_owned(),
            });
            open
        })
        .collect();
    let ids: Vec<String> = calls.iter().map(|o| o.request.id.clone()).collect();
    let opened = race(&cluster, calls).await;
    assert_eq!(recorded(&opened), 1);
    let winner = &ids[opened
        .iter()
        .position(|o| matches!(o, Opened::Recorded))
        .unwrap()];
    for o in &opened {
        match o {
            Opened::Recorded => {}
            Opened::Existing(existing) => {
                assert_eq!(&existing.request_id, winner);
                assert_eq!(existing.fingerprint, "fp");
                assert!(existing.response.is_none(), "still deciding");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // One reservation, on the winner only.
    assert_eq!(cluster.org_totals().await.reserved, Cents::new(2));
    let stored = cluster.nodes[2]
        .idempotency(&cluster.agent.clone().into(), "same-key")
        .await
        .unwrap()
        .expect("the key is stored");
    assert_eq!(&stored.request_id, winner);
    cluster.clean_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_to_approve_decide_it_once() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    cluster.credit(1_000).await;
    let mut request = cluster.request(RequestStatus::AwaitingApproval, 40);
    let now = OffsetDateTime::now_utc();
    let approval_id = ids::new_id(ids::APPROVAL);
    request.approval_id = Some(approval_id.clone());
    let approval = Approval {
        id: approval_id.clone(),
        org_id: cluster.org.clone(),
        agent_id: cluster.agent.clone(),
        agent_name: "racer".to_owned(),
        request_id: request.id.clone(),
        service: request.service.clone(),
        operation: request.operation.clone(),
        payload: request.payload.clone(),
        payload_digest: request.payload_digest.clone(),
        status: ApprovalStatus::Pending,
        estimated_cost: Cents::new(40),
        expires_at: now + time::Duration::hours(1),
        decided_at: None,
        decided_by: None,
        created_at: now,
    };
    let opened = cluster.nodes[0]
        .open_request(OpenRequest {
            request: request.clone(),
            idempotency: None,
            disposition: Disposition::AwaitApproval {
                approval: Box::new(approval),
                limits: vec![],
                response: StoredResponse {
                    status: 200,
                    body: json!({"status": "approval_required"}),
                },
            },
            audit: Some(event(&cluster.org, "service_request.approval_required")),
        })
        .await
        .unwrap();
    assert!(matches!(opened, Opened::Recorded));

    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let node = cluster.node(i);
            let decide = DecideApproval {
                approval_id: approval_id.clone(),
                org_id: Some(cluster.org.clone()),
                decision: ApprovalDecision::Approve {
                    holds: cluster.holds(None),
                    amount: Cents::new(40),
                },
                decided_by: format!("user:{i}"),
                now: OffsetDateTime::now_utc(),
                audit: vec![event(&cluster.org, "approval.approved")],
            };
            tokio::spawn(async move { node.decide_approval(decide).await })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Ok(Decided::Reserved(r)) => {
                assert_eq!(r.status, RequestStatus::Executing);
                reserved += 1;
            }
            Err(DecideRefusal::AlreadyDecided(ApprovalStatus::Approved)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reserved, 1);
    assert_eq!(cluster.org_totals().await.reserved, Cents::new(40));
    let stored = cluster.nodes[1]
        .approval(&approval_id.clone().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ApprovalStatus::Approved);
    // The approved request executes on the deciding node, which is alive:
    // no other node takes it over.
    assert!(
        cluster.nodes[2]
            .requests_in(RequestStatus::Executing, 100)
            .await
            .unwrap()
            .is_empty()
    );
    cluster.clean_ledger().await;
}

fn failed(request: ServiceRequest) -> FinishRequest {
    FinishRequest {
        audit: event(&request.org_id, "service_request.failed"),
        request,
        outcome: Finish::Failed {
            reason: upivia_server::model::ReasonCode::Interrupted,
            message: "interrupted".to_owned(),
        },
        render: upivia_server::governance::outcome::response,
        now: OffsetDateTime::now_utc(),
        review: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_starting_node_takes_over_only_dead_nodes_executing_requests() {
    let Some(mut cluster) = Cluster::start(2).await else {
        return;
    };
    cluster.credit(1_000).await;
    let db_url = cluster.db.url().to_owned();
    let live = cluster.nodes[0].clone();
    let live_open = cluster.reserving(10, None, vec![]);
    let live_request = live_open.request.clone();
    assert!(matches!(
        live.open_request(live_open).await.unwrap(),
        Opened::Recorded
    ));

    // A node that stops beating (its lease runs out) and one that stopped
    // cleanly, each with a request in flight.
    let stale = cluster.nodes.pop().unwrap();
    let stale_open = cluster.reserving(20, None, vec![]);
    let stale_request = stale_open.request.clone();
    assert!(matches!(
        stale.open_request(stale_open).await.unwrap(),
        Opened::Recorded
    ));
    let stale_id = stale.node_id().to_owned();
    drop(stale);
    // Let a beat already under way when it was dropped land first.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    sqlx::query("UPDATE nodes SET beat_at = now() - interval '1 minute' WHERE id = $1")
        .bind(&stale_id)
        .execute(live.pool())
        .await
        .unwrap();
    let stopped = PgStore::connect(&db_url, PgSettings::default())
        .await
        .unwrap();
    let stopped_open = cluster.reserving(30, None, vec![]);
    let stopped_request = stopped_open.request.clone();
    stopped.open_request(stopped_open).await.unwrap();
    stopped.close().await;

    let starting = PgStore::connect(&db_url, PgSettings::default())
        .await
        .unwrap();
    let taken = starting
        .requests_in(RequestStatus::Executing, 100)
        .await
        .unwrap();
    let mut taken_ids: Vec<&str> = taken.iter().map(|r| r.id.as_str()).collect();
    taken_ids.sort();
    let mut expected = vec![stale_request.id.as_str(), stopped_request.id.as_str()];
    expected.sort();
    assert_eq!(taken_ids, expected, "the live node's request stays its own");
    // Taken over: a second starting node finds nothing left to take.
    let second = PgStore::connect(&db_url, PgSettings::default())
        .await
        .unwrap();
    assert!(
        second
            .requests_in(RequestStatus::Executing, 100)
            .await
            .unwrap()
            .is_empty()
    );
    for request in taken {
        let done = starting.finish_request(failed(request)).await.unwrap();
        assert_eq!(done.status, RequestStatus::Failed);
    }
    // The live node finishes its own; a second finish is a conflict.
    live.finish_request(failed(live_request.clone()))
        .await
        .unwrap();
    let again = live.finish_request(failed(live_request)).await;
    assert!(
        matches!(again, Err(upivia_server::store::StoreError::Conflict(_))),
        "{again:?}"
    );
    assert_eq!(cluster.org_totals().await.reserved, Cents::ZERO);
    cluster.clean_ledger().await;
    starting.close().await;
    second.close().await;
}

#[tokio::test]
async fn the_ledger_check_catches_a_balance_row_that_disagrees_with_its_entries() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    cluster.credit(500).await;
    let opened = race(&cluster, vec![cluster.reserving(50, None, vec![])]).await;
    assert!(matches!(opened[0], Opened::Recorded));
    cluster.clean_ledger().await;
    sqlx::query(
        "UPDATE account_balances SET credits_cents = credits_cents + 1000 WHERE stripe = 0",
    )
    .execute(cluster.nodes[0].pool())
    .await
    .unwrap();
    let report = cluster.nodes[0].check_ledger().await.unwrap();
    let org_key = format!("org:{}", cluster.org);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.starts_with(&org_key) && p.contains("balance rows say credits 1500")),
        "{:?}",
        report.problems
    );
    assert_eq!(report.accounts_checked, 2);
}

impl Cluster {
    /// Parks a request for approval, expiring `ttl` from now.
    async fn park(&self, estimate: i64, ttl: time::Duration) -> (ServiceRequest, String) {
        let mut request = self.request(RequestStatus::AwaitingApproval, estimate);
        let approval_id = ids::new_id(ids::APPROVAL);
        request.approval_id = Some(approval_id.clone());
        let approval = Approval {
            id: approval_id.clone(),
            org_id: self.org.clone(),
            agent_id: self.agent.clone(),
            agent_name: "racer".to_owned(),
            request_id: request.id.clone(),
            service: request.service.clone(),
            operation: request.operation.clone(),
            payload: request.payload.clone(),
            payload_digest: request.payload_digest.clone(),
            status: ApprovalStatus::Pending,
            estimated_cost: Cents::new(estimate),
            expires_at: request.created_at + ttl,
            decided_at: None,
            decided_by: None,
            created_at: request.created_at,
        };
        let opened = self.nodes[0]
            .open_request(OpenRequest {
                request: request.clone(),
                idempotency: None,
                disposition: Disposition::AwaitApproval {
                    approval: Box::new(approval),
                    limits: vec![],
                    response: StoredResponse {
                        status: 200,
                        body: json!({"status": "approval_required"}),
                    },
                },
                audit: None,
            })
            .await
            .unwrap();
        assert!(matches!(opened, Opened::Recorded));
        (request, approval_id)
    }

    fn decide(&self, approval_id: &str, decision: ApprovalDecision) -> DecideApproval {
        DecideApproval {
            approval_id: approval_id.to_owned(),
            org_id: Some(self.org.clone()),
            decision,
            decided_by: "user:1".to_owned(),
            now: OffsetDateTime::now_utc(),
            audit: vec![],
        }
    }
}

fn executed(request: ServiceRequest, charge: i64) -> FinishRequest {
    FinishRequest {
        audit: event(&request.org_id, "service_request.executed"),
        request,
        outcome: Finish::Executed {
            result: json!({"ok": true}),
            charge: Cents::new(charge),
            provider: "sandbox".to_owned(),
        },
        render: upivia_server::governance::outcome::response,
        now: OffsetDateTime::now_utc(),
        review: None,
    }
}

#[tokio::test]
async fn a_finished_request_settles_at_most_what_it_held_and_releases_the_rest() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let store = &cluster.nodes[0];
    cluster.credit(100).await;
    let mut open = cluster.reserving(30, Some(50), vec![]);
    open.request.idempotency_key = Some("k1".to_owned());
    open.idempotency = Some(IdempotencyClaim {
        key: "k1".to_owned(),
        fingerprint: "fp1".to_owned(),
    });
    let request = open.request.clone();
    assert!(matches!(
        store.open_request(open).await.unwrap(),
        Opened::Recorded
    ));
    let done = cluster.nodes[1]
        .finish_request(executed(request.clone(), 12))
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.cost),
        (RequestStatus::Executed, Cents::new(12))
    );
    let org = cluster.org_totals().await;
    assert_eq!(
        (org.credits, org.settled, org.reserved),
        (Cents::new(100), Cents::new(12), Cents::ZERO)
    );
    let month = store
        .totals(cluster.holds(None)[1].account.clone())
        .await
        .unwrap();
    assert_eq!(
        (month.settled, month.reserved),
        (Cents::new(12), Cents::ZERO)
    );
    // The answer to replay is stored with the request's end.
    let replay = store
        .idempotency(&cluster.agent.clone().into(), "k1")
        .await
        .unwrap()
        .unwrap()
        .response
        .expect("a stored answer");
    assert_eq!(replay.status, 200);
    let again = store.finish_request(executed(request, 12)).await;
    assert!(
        matches!(again, Err(upivia_server::store::StoreError::Conflict(_))),
        "{again:?}"
    );

    // Running keeps the hold, belongs to no node, and settles capped.
    let open = cluster.reserving(20, None, vec![]);
    let request = open.request.clone();
    store.open_request(open).await.unwrap();
    let running = store
        .finish_request(FinishRequest {
            audit: event(&cluster.org, "service_request.running"),
            request: request.clone(),
            outcome: Finish::Running {
                provider: "sandbox".to_owned(),
                external_id: "ext-1".to_owned(),
                initial_cost: Cents::new(5),
            },
            render: upivia_server::governance::outcome::response,
            now: OffsetDateTime::now_utc(),
            review: None,
        })
        .await
        .unwrap();
    assert_eq!(running.status, RequestStatus::Running);
    assert_eq!(cluster.org_totals().await.reserved, Cents::new(20));
    let listed = cluster.nodes[1]
        .requests_in(RequestStatus::Running, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].external_id.as_deref(), Some("ext-1"));
    let done = cluster.nodes[1]
        .finish_request(executed(listed[0].clone(), 25))
        .await
        .unwrap();
    assert_eq!(done.cost, Cents::new(20), "capped at what it held");
    let org = cluster.org_totals().await;
    assert_eq!((org.settled, org.reserved), (Cents::new(32), Cents::ZERO));

    let page = store
        .usage(upivia_server::store::UsageQuery {
            org_id: cluster.org.clone(),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1, "one page of one");
    assert_eq!(page.records[0].request_id, request.id, "newest first");
    assert_eq!(page.total, Cents::new(32), "over the whole filter");
    let summary = store
        .usage_summary(
            upivia_server::store::UsageQuery {
                org_id: cluster.org.clone(),
                agent_id: Some(cluster.agent.clone()),
                limit: 1,
                ..Default::default()
            },
            upivia_server::clock::start_of_day(OffsetDateTime::now_utc()),
        )
        .await
        .unwrap();
    assert_eq!(summary.per_agent.len(), 1);
    assert_eq!(
        (summary.per_agent[0].requests, summary.per_agent[0].total),
        (2, Cents::new(32))
    );
    let today = upivia_server::clock::rfc3339(OffsetDateTime::now_utc())[..10].to_owned();
    assert_eq!(
        summary.per_day,
        vec![upivia_server::store::UsageTotal {
            key: today,
            requests: 2,
            total: Cents::new(32)
        }]
    );
    cluster.clean_ledger().await;
}

#[tokio::test]
async fn approvals_are_listed_expired_rejected_and_refused_as_on_sqlite() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let store = &cluster.nodes[0];
    cluster.credit(10).await;
    let hour = time::Duration::hours(1);
    let (_, expiring) = cluster.park(5, hour).await;
    let (_, rejected) = cluster.park(5, hour).await;
    let (_, too_dear) = cluster.park(50, hour).await;
    let (_, gone) = cluster.park(5, time::Duration::ZERO).await;

    let org_id = cluster.org.clone().into();
    let pending = store
        .approvals(&org_id, Some(ApprovalStatus::Pending))
        .await
        .unwrap();
    assert_eq!(pending.len(), 4);
    assert_eq!(pending[0].id, gone, "newest first");
    let due = store
        .expired_approvals(OffsetDateTime::now_utc(), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [gone.as_str()]
    );

    let approve = |amount| ApprovalDecision::Approve {
        holds: cluster.holds(None),
        amount: Cents::new(amount),
    };
    assert_eq!(
        store
            .decide_approval(cluster.decide(&gone, approve(5)))
            .await
            .unwrap()
            .unwrap_err(),
        DecideRefusal::Expired
    );
    let refused = store
        .decide_approval(cluster.decide(&too_dear, approve(50)))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        refused,
        DecideRefusal::HoldRefused {
            account: Account::Org(cluster.org.clone()),
            available: Cents::new(10)
        }
    );
    let still = store.approval(&too_dear.clone().into()).await.unwrap();
    assert_eq!(
        still.unwrap().status,
        ApprovalStatus::Pending,
        "nothing written"
    );

    let reason = upivia_server::model::ReasonCode::ApprovalRejected;
    let closed = store
        .decide_approval(cluster.decide(
            &rejected,
            ApprovalDecision::Reject {
                reason,
                message: "no".to_owned(),
            },
        ))
        .await
        .unwrap()
        .unwrap();
    let Decided::Closed(request) = closed else {
        panic!("{closed:?}")
    };
    assert_eq!(
        (
            request.status,
            request.reason_code,
            request.message.as_deref()
        ),
        (RequestStatus::Blocked, Some(reason), Some("no"))
    );
    let expire = ApprovalDecision::Expire {
        reason: upivia_server::model::ReasonCode::ApprovalExpired,
        message: "late".to_owned(),
    };
    let mut system = cluster.decide(&expiring, expire.clone());
    system.org_id = None;
    assert!(matches!(
        store.decide_approval(system).await.unwrap(),
        Ok(Decided::Closed(_))
    ));
    assert_eq!(
        store
            .decide_approval(cluster.decide(&expiring, expire))
            .await
            .unwrap()
            .unwrap_err(),
        DecideRefusal::AlreadyDecided(ApprovalStatus::Expired)
    );
    let mut elsewhere = cluster.decide(&too_dear, approve(1));
    elsewhere.org_id = Some("org_other".to_owned());
    assert_eq!(
        store.decide_approval(elsewhere).await.unwrap().unwrap_err(),
        DecideRefusal::NotFound
    );
    let all = store.approvals(&org_id, None).await.unwrap();
    assert_eq!(all.len(), 4);
    cluster.clean_ledger().await;
}

#[tokio::test]
async fn old_idempotency_keys_are_purged_in_bounded_chunks_and_workers_beat() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let store = &cluster.nodes[0];
    let old = OffsetDateTime::now_utc() - time::Duration::days(10);
    for i in 0..5 {
        let mut request = cluster.request(RequestStatus::Blocked, 0);
        request.created_at = old + time::Duration::seconds(i);
        request.idempotency_key = Some(format!("old-{i}"));
        let opened = store
            .open_request(OpenRequest {
                request,
                idempotency: Some(IdempotencyClaim {
                    key: format!("old-{i}"),
                    fingerprint: "fp".to_owned(),
                }),
                disposition: Disposition::Final {
                    response: StoredResponse {
                        status: 200,
                        body: json!({"status": "blocked"}),
                    },
                },
                audit: None,
            })
            .await
            .unwrap();
        assert!(matches!(opened, Opened::Recorded));
    }
    let cutoff = OffsetDateTime::now_utc() - time::Duration::days(7);
    assert_eq!(store.purge_idempotency_keys(cutoff, 2).await.unwrap(), 2);
    let agent = cluster.agent.clone().into();
    assert!(store.idempotency(&agent, "old-0").await.unwrap().is_none());
    let kept = store.idempotency(&agent, "old-4").await.unwrap().unwrap();
    assert_eq!(kept.response.unwrap().body, json!({"status": "blocked"}));
    assert_eq!(store.purge_idempotency_keys(cutoff, 10).await.unwrap(), 3);
    assert_eq!(store.purge_idempotency_keys(cutoff, 10).await.unwrap(), 0);

    assert_eq!(store.last_heartbeat("workers").await.unwrap(), None);
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(123_000)
        .unwrap();
    store.heartbeat("workers", now).await.unwrap();
    store.heartbeat("workers", now).await.unwrap();
    assert_eq!(store.last_heartbeat("workers").await.unwrap(), Some(now));
}

#[tokio::test]
async fn lookups_by_a_key_postgresql_cannot_hold_find_nothing() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let store = &cluster.nodes[0];
    let hostile = "req_\0x";
    assert!(store.request(&hostile.into()).await.unwrap().is_none());
    assert!(store.approval(&hostile.into()).await.unwrap().is_none());
    let agent = cluster.agent.clone().into();
    assert!(store.idempotency(&agent, hostile).await.unwrap().is_none());
    let decide = cluster.decide(
        hostile,
        ApprovalDecision::Reject {
            reason: upivia_server::model::ReasonCode::ApprovalRejected,
            message: "no".to_owned(),
        },
    );
    assert_eq!(
        store.decide_approval(decide).await.unwrap().unwrap_err(),
        DecideRefusal::NotFound
    );
    let query = upivia_server::store::UsageQuery {
        org_id: cluster.org.clone(),
        agent_id: Some(hostile.to_owned()),
        limit: 10,
        ..Default::default()
    };
    let page = store.usage(query.clone()).await.unwrap();
    assert!(page.records.is_empty());
    let summary = store
        .usage_summary(query, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(summary.per_agent.is_empty() && summary.per_day.is_empty());
}

/// A request whose outcome is unknown keeps its hold under a review; only
/// the review's decision finishes it, and two nodes deciding at once decide
/// it once: one settles, the other is refused, and the money moves once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outcome_review_is_decided_once_across_nodes_and_settles_its_hold_once() {
    use upivia_server::model::{OutcomeReview, ReviewStatus};
    use upivia_server::store::ReviewDecision;

    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    cluster.credit(100).await;
    let open = cluster.reserving(40, None, vec![]);
    let request = open.request.clone();
    cluster.nodes[0].open_request(open).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let review = OutcomeReview {
        id: ids::new_id(ids::OUTCOME_REVIEW),
        org_id: cluster.org.clone(),
        agent_id: cluster.agent.clone(),
        agent_name: String::new(),
        request_id: request.id.clone(),
        service: request.service.clone(),
        operation: request.operation.clone(),
        payload: request.payload.clone(),
        provider: "smtp".to_owned(),
        held: Cents::ZERO,
        status: ReviewStatus::Pending,
        charged: None,
        decided_at: None,
        decided_by: None,
        created_at: now,
    };
    let unknown = cluster.nodes[0]
        .finish_request(FinishRequest {
            audit: event(&cluster.org, "service_request.outcome_unknown"),
            request: request.clone(),
            outcome: Finish::Unknown {
                provider: "smtp".to_owned(),
                message: "unknown".to_owned(),
                review: Box::new(review.clone()),
            },
            render: upivia_server::governance::outcome::response,
            now,
            review: None,
        })
        .await
        .unwrap();
    assert_eq!(unknown.status, RequestStatus::Failed);
    assert_eq!(
        unknown.reason_code,
        Some(upivia_server::model::ReasonCode::OutcomeUnknown)
    );
    assert_eq!(cluster.org_totals().await.reserved, Cents::new(40));
    let stored = cluster.nodes[1]
        .outcome_review(&review.id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.held, stored.status),
        (Cents::new(40), ReviewStatus::Pending)
    );
    cluster.clean_ledger().await;

    // Without the review's decision it cannot be finished.
    let plain = cluster.nodes[1]
        .finish_request(executed(unknown.clone(), 10))
        .await;
    assert!(
        matches!(plain, Err(upivia_server::store::StoreError::Conflict(_))),
        "{plain:?}"
    );

    let decide = |node: usize, charge: i64| {
        let store = cluster.nodes[node].clone();
        let mut finish = executed(unknown.clone(), charge);
        finish.review = Some(ReviewDecision {
            review_id: review.id.clone(),
            status: ReviewStatus::Settled,
            decided_by: format!("user:{node}"),
            audit: event(&cluster.org, "outcome_review.settled"),
        });
        async move { store.finish_request(finish).await }
    };
    let (a, b) = tokio::join!(decide(0, 10), decide(1, 30));
    let won = match (&a, &b) {
        (Ok(done), Err(upivia_server::store::StoreError::Conflict(_)))
        | (Err(upivia_server::store::StoreError::Conflict(_)), Ok(done)) => done.clone(),
        other => panic!("exactly one decision wins: {other:?}"),
    };
    assert_eq!(won.status, RequestStatus::Executed);
    let org = cluster.org_totals().await;
    assert_eq!((org.settled, org.reserved), (won.cost, Cents::ZERO));
    let decided = cluster.nodes[0]
        .outcome_review(&review.id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided.status, ReviewStatus::Settled);
    assert_eq!(decided.charged, Some(won.cost));
    let listed = cluster.nodes[1]
        .outcome_reviews(&cluster.org.clone().into(), Some(ReviewStatus::Pending))
        .await
        .unwrap();
    assert!(listed.is_empty());
    cluster.clean_ledger().await;
}
