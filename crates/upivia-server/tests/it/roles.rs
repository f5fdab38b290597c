//! Governance can be loosened only by the role that set it (or above); a
//! member may only tighten. The three probe cases, per role, through the
//! real server.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::support::{Reply, TestAgent, TestServer, email};

struct Org {
    s: TestServer,
    admin: String,
    member: String,
}

impl Org {
    async fn start() -> Org {
        let s = TestServer::start().await;
        let admin = s.user_pat(Role::Admin).await;
        let member = s.user_pat(Role::Member).await;
        Org { s, admin, member }
    }

    fn pat(&self, role: Role) -> &str {
        match role {
            Role::Owner => &self.s.pat,
            Role::Admin => &self.admin,
            Role::Member => &self.member,
        }
    }

    /// An agent the member created, and so owns.
    async fn members_agent(&self) -> TestAgent {
        let r = self
            .s
            .post(
                "/api/v1/agents",
                &self.member,
                json!({"name": "member's agent"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        TestAgent {
            id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
            key: r.body["api_key"].as_str().unwrap().to_owned(),
        }
    }

    async fn budget(&self, role: Role, agent: &TestAgent, cap: Value) -> Reply {
        self.s
            .patch(
                &format!("/api/v1/agents/{}/budget", agent.id),
                self.pat(role),
                json!({"monthly_budget_cents": cap}),
            )
            .await
    }

    async fn status(&self, role: Role, agent: &TestAgent, status: &str) -> Reply {
        self.s
            .patch(
                &format!("/api/v1/agents/{}", agent.id),
                self.pat(role),
                json!({"status": status}),
            )
            .await
    }

    async fn patch_agent(&self, role: Role, agent: &TestAgent, body: Value) -> Reply {
        self.s
            .patch(
                &format!("/api/v1/agents/{}", agent.id),
                self.pat(role),
                body,
            )
            .await
    }

    async fn kill(&self, role: Role, on: bool) -> Reply {
        self.s
            .patch("/api/v1/org", self.pat(role), json!({"kill_switch": on}))
            .await
    }

    async fn bind(&self, role: Role, agent: &TestAgent, settings: Value) -> Reply {
        self.s
            .post(
                &format!("/api/v1/agents/{}/services", agent.id),
                self.pat(role),
                settings,
            )
            .await
    }
}

fn refused(r: &Reply, needed: &str) {
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "insufficient_role"),
        "{r:?}"
    );
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("needs the {needed} role")),
        "{message}"
    );
}

fn ok(r: &Reply) {
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn a_monthly_cap_set_by_an_admin_is_lifted_only_by_an_admin_or_the_owner() {
    let org = Org::start().await;
    for lifter in [Role::Admin, Role::Owner] {
        let agent = org.members_agent().await;
        ok(&org.budget(Role::Admin, &agent, json!(100)).await);
        refused(
            &org.budget(Role::Member, &agent, json!(1000)).await,
            "admin",
        );
        refused(
            &org.budget(Role::Member, &agent, Value::Null).await,
            "admin",
        );
        // Tightening stays open to the member, and does not take the cap over.
        let r = org.budget(Role::Member, &agent, json!(50)).await;
        ok(&r);
        assert_eq!(r.body["agent"]["monthly_budget_cents"], 50);
        assert_eq!(
            r.body["agent"]["set_by_role"]["monthly_budget_cents"],
            "admin"
        );
        refused(&org.budget(Role::Member, &agent, json!(80)).await, "admin");
        let r = org.budget(lifter, &agent, Value::Null).await;
        ok(&r);
        assert_eq!(r.body["agent"]["monthly_budget_cents"], Value::Null);
    }
}

#[tokio::test]
async fn a_pause_by_the_owner_is_undone_only_by_the_owner() {
    let org = Org::start().await;
    let agent = org.members_agent().await;
    ok(&org.status(Role::Owner, &agent, "paused").await);
    refused(&org.status(Role::Member, &agent, "active").await, "owner");
    refused(&org.status(Role::Admin, &agent, "active").await, "owner");
    // Disabling is tightening: open to the member; undoing it is not.
    ok(&org.status(Role::Member, &agent, "disabled").await);
    refused(&org.status(Role::Member, &agent, "paused").await, "owner");
    ok(&org.status(Role::Owner, &agent, "active").await);

    // A pause by an admin is the admin's (or the owner's) to undo.
    let agent = org.members_agent().await;
    ok(&org.status(Role::Admin, &agent, "paused").await);
    refused(&org.status(Role::Member, &agent, "active").await, "admin");
    ok(&org.status(Role::Admin, &agent, "active").await);
    // The member may pause and resume what the member paused.
    ok(&org.status(Role::Member, &agent, "paused").await);
    ok(&org.status(Role::Member, &agent, "active").await);
    let mine = org.members_agent().await;
    ok(&org.status(Role::Member, &mine, "paused").await);
    ok(&org.status(Role::Member, &mine, "active").await);
}

#[tokio::test]
async fn an_approval_requirement_set_by_an_admin_stays_for_a_member() {
    let org = Org::start().await;
    org.s.credit(1000).await;
    for lifter in [Role::Admin, Role::Owner] {
        let agent = org.members_agent().await;
        ok(&org
            .bind(
                Role::Admin,
                &agent,
                json!({"service_id": "email", "require_approval": true, "max_cost_cents": 5}),
            )
            .await);
        refused(
            &org.bind(Role::Member, &agent, json!({"service_id": "email"}))
                .await,
            "admin",
        );
        refused(
            &org.bind(
                Role::Member,
                &agent,
                json!({"service_id": "email", "require_approval": true}),
            )
            .await,
            "admin",
        );
        // The request is still gated.
        let r = org.s.request(&agent, "email", "send", email()).await;
        assert_eq!(r.body["status"], "approval_required", "{r:?}");
        // Tighter is fine.
        ok(&org
            .bind(
                Role::Member,
                &agent,
                json!({"service_id": "email", "require_approval": true, "max_cost_cents": 2, "daily_request_limit": 3}),
            )
            .await);
        ok(&org
            .bind(lifter, &agent, json!({"service_id": "email"}))
            .await);
        let r = org.s.request(&agent, "email", "send", email()).await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
    }
}

#[tokio::test]
async fn a_service_an_admin_disabled_is_enabled_again_only_by_an_admin() {
    let org = Org::start().await;
    org.s.credit(100).await;
    let agent = org.members_agent().await;
    ok(&org
        .bind(Role::Member, &agent, json!({"service_id": "email"}))
        .await);
    let off = org
        .s
        .send(
            Method::DELETE,
            &format!("/api/v1/agents/{}/services?service_id=email", agent.id),
            Some(&org.admin),
            None,
        )
        .await;
    ok(&off);
    assert_eq!(off.body["removed"], 1);
    let r = org.s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["reason_code"], "service_not_enabled", "{r:?}");
    refused(
        &org.bind(Role::Member, &agent, json!({"service_id": "email"}))
            .await,
        "admin",
    );
    ok(&org
        .bind(Role::Admin, &agent, json!({"service_id": "email"}))
        .await);
    let r = org.s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    // Nor through a whole-service row over a disabled operation.
    let agent = org.members_agent().await;
    ok(&org
        .bind(
            Role::Admin,
            &agent,
            json!({"service_id": "email", "operation": "send"}),
        )
        .await);
    let off = org
        .s
        .send(
            Method::DELETE,
            &format!("/api/v1/agents/{}/services?service_id=email", agent.id),
            Some(&org.admin),
            None,
        )
        .await;
    ok(&off);
    refused(
        &org.bind(Role::Member, &agent, json!({"service_id": "email"}))
            .await,
        "admin",
    );
    // The member may still enable a service nobody disabled.
    ok(&org
        .bind(Role::Member, &agent, json!({"service_id": "sms"}))
        .await);
}

#[tokio::test]
async fn daily_and_per_minute_limits_follow_the_same_rule() {
    let org = Org::start().await;
    let agent = org.members_agent().await;
    ok(&org
        .patch_agent(
            Role::Admin,
            &agent,
            json!({"daily_request_limit": 10, "rate_limit_per_minute": 30}),
        )
        .await);
    refused(
        &org.patch_agent(Role::Member, &agent, json!({"daily_request_limit": 11}))
            .await,
        "admin",
    );
    refused(
        &org.patch_agent(Role::Member, &agent, json!({"rate_limit_per_minute": 31}))
            .await,
        "admin",
    );
    ok(&org
        .patch_agent(
            Role::Member,
            &agent,
            json!({"daily_request_limit": 9, "rate_limit_per_minute": 20}),
        )
        .await);
    // Above the server's per-key ceiling needs an admin even on a member's own agent.
    let mine = org.members_agent().await;
    let r = org
        .s
        .patch(
            &format!("/api/v1/agents/{}", mine.id),
            &org.member,
            json!({"rate_limit_per_minute": 1_000_000}),
        )
        .await;
    refused(&r, "admin");
    let r = org
        .s
        .post(
            "/api/v1/agents",
            &org.member,
            json!({"name": "fast", "rate_limit_per_minute": 1_000_000}),
        )
        .await;
    refused(&r, "admin");
}

#[tokio::test]
async fn a_kill_switch_pulled_by_the_owner_is_lifted_only_by_the_owner() {
    let org = Org::start().await;
    let r = org.kill(Role::Member, true).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{r:?}");
    ok(&org.kill(Role::Owner, true).await);
    refused(&org.kill(Role::Admin, false).await, "owner");
    let r = org.kill(Role::Owner, false).await;
    ok(&r);
    assert_eq!(r.body["org"]["kill_switch"], false);
    ok(&org.kill(Role::Admin, true).await);
    ok(&org.kill(Role::Admin, false).await);
}
