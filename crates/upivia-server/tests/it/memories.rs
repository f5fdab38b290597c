//! Agent memory over HTTP: the agent writes with its key (governed:
//! standing, quota, audit), it and its organisation's members read and
//! search (ranked, any term, stemmed), whoever manages the agent edits,
//! archives and deletes, members draw the graph; nobody else sees a thing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestAgent, TestServer, on_postgres};
use crate::teams::audit_events;

fn path(agent: &str) -> String {
    format!("/api/v1/agents/{agent}/memories")
}

async fn remember(s: &TestServer, agent: &TestAgent, content: &str, tags: Value) -> Value {
    let r = s
        .post(
            &path(&agent.id),
            &agent.key,
            json!({"content": content, "tags": tags}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["memory"].clone()
}

fn contents(body: &Value) -> Vec<String> {
    body["memories"]
        .as_array()
        .unwrap_or_else(|| panic!("no memories in {body}"))
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(s: &TestServer, agent: &TestAgent, q: &str) -> Vec<String> {
    let r = s
        .get(
            &format!("{}?q={}", path(&agent.id), urlencoding(q)),
            &agent.key,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["semantic"], false, "{r:?}");
    contents(&r.body)
}

fn urlencoding(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn listed(s: &TestServer, agent: &str, token: &str) -> Vec<String> {
    let r = s.get(&path(agent), token).await;
    assert_eq!(r.status, 200, "{r:?}");
    contents(&r.body)
}

async fn delete(s: &TestServer, agent: &str, memory: &str, token: &str) -> crate::support::Reply {
    s.send(
        Method::DELETE,
        &format!("{}/{memory}", path(agent)),
        Some(token),
        None,
    )
    .await
}

#[tokio::test]
async fn an_agent_writes_memories_that_it_and_members_list_newest_first() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let first = remember(&s, &agent, "first note", json!(["a", " b ", "a"])).await;
    assert!(first["id"].as_str().unwrap().starts_with("mem_"), "{first}");
    assert_eq!(first["agent_id"], agent.id.as_str());
    assert_eq!(first["tags"], json!(["a", "b"]));
    assert_eq!(first["archived"], false);
    assert!(first["created_at"].is_string() && first["updated_at"].is_string());
    remember(&s, &agent, "second note", json!([])).await;
    let untagged = s
        .post(
            &path(&agent.id),
            &agent.key,
            json!({"content": "third note"}),
        )
        .await;
    assert_eq!(untagged.body["memory"]["tags"], json!([]), "{untagged:?}");
    let newest_first = vec!["third note", "second note", "first note"];
    assert_eq!(listed(&s, &agent.id, &agent.key).await, newest_first);
    let member = s.user_pat(upivia_server::model::Role::Member).await;
    assert_eq!(listed(&s, &agent.id, &member).await, newest_first);
    let limited = s
        .get(&format!("{}?limit=2", path(&agent.id)), &agent.key)
        .await;
    assert_eq!(contents(&limited.body), newest_first[..2]);
    // Audited as the agent's own act; the log keeps the size, not the text.
    let created = audit_events(&s, "memory.created").await;
    assert_eq!(created.len(), 3);
    let one = created
        .iter()
        .find(|e| e["details"]["memory_id"] == first["id"])
        .expect("the first memory's entry");
    assert_eq!(one["agent_id"], agent.id.as_str());
    assert_eq!(one["actor"], format!("agent:{}", agent.id));
    assert_eq!(one["details"]["content_chars"], 10);
    assert!(!one.to_string().contains("first note"), "{one}");
}

#[tokio::test]
async fn search_ranks_memories_holding_more_of_the_query_first_and_any_term_matches() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    remember(
        &s,
        &agent,
        "Lunch is served at noon in the atrium",
        json!([]),
    )
    .await;
    remember(
        &s,
        &agent,
        "The billing service is owned by Dana",
        json!([]),
    )
    .await;
    remember(
        &s,
        &agent,
        "Deploy the billing service with the blue green script",
        json!(["deploy"]),
    )
    .await;
    remember(&s, &agent, "Service desk hours are nine to five", json!([])).await;
    let found = search(&s, &agent, "how do I deploy the billing service script?").await;
    assert_eq!(
        found[0], "Deploy the billing service with the blue green script",
        "{found:?}"
    );
    assert_eq!(
        found[1], "The billing service is owned by Dana",
        "{found:?}"
    );
    assert!(!found.iter().any(|c| c.contains("Lunch")), "{found:?}");
    // Any term, not all: no memory holds both words.
    let any = search(&s, &agent, "billing atrium").await;
    assert_eq!(any.len(), 3, "{any:?}");
    // Tags are searched too.
    assert_eq!(
        search(&s, &agent, "deploy").await,
        ["Deploy the billing service with the blue green script"]
    );
    let limited = s
        .get(
            &format!("{}?q=service&limit=1", path(&agent.id)),
            &agent.key,
        )
        .await;
    assert_eq!(contents(&limited.body).len(), 1, "{limited:?}");
}

#[tokio::test]
async fn a_rarer_shared_term_ranks_higher_on_sqlite() {
    // BM25 weighs a term by its rarity; PostgreSQL's ts_rank has no
    // document frequency, so there the two tie (newest first).
    if on_postgres() {
        return;
    }
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    remember(&s, &agent, "zebra crossing report", json!([])).await;
    for i in 0..4 {
        remember(&s, &agent, &format!("weekly report number {i}"), json!([])).await;
    }
    let found = search(&s, &agent, "zebra weekly").await;
    assert_eq!(found[0], "zebra crossing report", "{found:?}");
    assert_eq!(found.len(), 5);
}

#[tokio::test]
async fn a_paraphrased_question_finds_a_memory_by_its_stems() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    remember(
        &s,
        &agent,
        "The staging database password rotates every Monday",
        json!(["ops"]),
    )
    .await;
    remember(
        &s,
        &agent,
        "Production deploys freeze on Fridays",
        json!([]),
    )
    .await;
    let found = search(&s, &agent, "when does the staging db password get rotated?").await;
    assert_eq!(
        found,
        ["The staging database password rotates every Monday"]
    );
    assert_eq!(
        search(&s, &agent, "rotating passwords").await,
        ["The staging database password rotates every Monday"]
    );
}

#[tokio::test]
async fn a_query_without_terms_finds_nothing() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    remember(&s, &agent, "the of and is a memory", json!([])).await;
    assert!(search(&s, &agent, "").await.is_empty());
    assert!(search(&s, &agent, "the of and").await.is_empty());
    assert!(search(&s, &agent, "?!* \"OR\"").await.is_empty());
    assert!(search(&s, &agent, "NEAR(\"x\" AND -y*)").await.is_empty());
}

#[tokio::test]
async fn archived_memories_leave_list_and_search_until_restored() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let memory = remember(&s, &agent, "The vault key lives in the safe", json!([])).await;
    remember(&s, &agent, "Another vault note", json!([])).await;
    let id = memory["id"].as_str().unwrap();
    let url = format!("{}/{id}", path(&agent.id));
    let r = s.patch(&url, &s.pat, json!({"archived": true})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["memory"]["archived"], true);
    assert_eq!(
        listed(&s, &agent.id, &agent.key).await,
        ["Another vault note"]
    );
    assert_eq!(search(&s, &agent, "vault").await, ["Another vault note"]);
    assert_eq!(audit_events(&s, "memory.archived").await.len(), 1);
    // Edited while archived, then restored: found by its new words only.
    let r = s
        .patch(
            &url,
            &s.pat,
            json!({"archived": false, "content": "The vault key moved to the locker", "tags": ["keys"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["memory"]["tags"], json!(["keys"]));
    assert_eq!(listed(&s, &agent.id, &agent.key).await.len(), 2);
    assert!(search(&s, &agent, "safe").await.is_empty());
    assert_eq!(
        search(&s, &agent, "locker keys").await,
        ["The vault key moved to the locker"]
    );
    let updated = audit_events(&s, "memory.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["details"]["content_changed"], true);
    assert_eq!(updated[0]["details"]["archived"], false);
}

#[tokio::test]
async fn delete_removes_the_memory_and_its_index_entry_for_good() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let memory = remember(&s, &agent, "Pager rota is in the wiki", json!(["rota"])).await;
    remember(&s, &agent, "Keep this one", json!([])).await;
    let id = memory["id"].as_str().unwrap();
    let r = delete(&s, &agent.id, id, &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, json!({"deleted": true, "id": id}));
    assert_eq!(listed(&s, &agent.id, &agent.key).await, ["Keep this one"]);
    assert!(search(&s, &agent, "pager rota wiki").await.is_empty());
    let again = delete(&s, &agent.id, id, &s.pat).await;
    assert_eq!(again.status, 404, "{again:?}");
    assert_eq!(again.code(), "not_found");
    let deleted = audit_events(&s, "memory.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["details"]["memory_id"], id);
    assert_eq!(
        s.column("SELECT id FROM memories").await.len(),
        1,
        "hard delete"
    );
    if !on_postgres() {
        // The external-content index agrees with its table row for row.
        let conn = rusqlite::Connection::open(s.db_path()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn.execute(
            "INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn the_graph_joins_memories_through_tags_and_names() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let a = remember(
        &s,
        &agent,
        "Talk to Dana about the Billing Service outage",
        json!(["billing"]),
    )
    .await;
    let b = remember(
        &s,
        &agent,
        "Invoices for the Billing Service go to billing@example.com",
        json!(["Billing"]),
    )
    .await;
    let c = remember(&s, &agent, "lunch at noon", json!([])).await;
    let archived = remember(&s, &agent, "hidden", json!(["billing"])).await;
    let r = s
        .patch(
            &format!("{}/{}", path(&agent.id), archived["id"].as_str().unwrap()),
            &s.pat,
            json!({"archived": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let member = s.user_pat(upivia_server::model::Role::Member).await;
    let r = s.get(&format!("{}/graph", path(&agent.id)), &member).await;
    assert_eq!(r.status, 200, "{r:?}");
    let nodes = r.body["nodes"].as_array().unwrap();
    let edges = r.body["edges"].as_array().unwrap();
    let node = |id: &str| nodes.iter().find(|n| n["id"] == id).cloned();
    for m in [&a, &b, &c] {
        let n = node(m["id"].as_str().unwrap()).expect("a node per live memory");
        assert_eq!(n["type"], "memory");
    }
    assert!(node(archived["id"].as_str().unwrap()).is_none());
    assert_eq!(node("entity:billing").unwrap()["type"], "tag");
    assert_eq!(node("entity:billing service").unwrap()["type"], "entity");
    assert_eq!(node("entity:dana").unwrap()["label"], "Dana");
    assert!(node("entity:billing@example.com").is_some());
    assert!(
        edges.contains(&json!({"source": a["id"], "target": "entity:dana", "type": "mentions"}))
    );
    let shares: Vec<&Value> = edges.iter().filter(|e| e["type"] == "shares").collect();
    assert_eq!(shares.len(), 1, "{shares:?}");
    assert_eq!(shares[0]["weight"], 2, "billing and the Billing Service");
    let pair = [&shares[0]["source"], &shares[0]["target"]];
    assert!(
        pair.contains(&&a["id"]) && pair.contains(&&b["id"]),
        "{pair:?}"
    );
    assert_eq!(r.body["truncated"], false);
    let by_key = s
        .get(&format!("{}/graph", path(&agent.id)), &agent.key)
        .await;
    assert_eq!(by_key.status, 403, "{by_key:?}");
}

#[tokio::test]
async fn the_quota_admits_the_last_memory_and_refuses_the_next_writing_nothing() {
    let s = TestServer::start_with(|c| c.memory_quota_per_agent = 3).await;
    let agent = s.agent(json!({})).await;
    let other = s.agent(json!({"name": "other"})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(remember(&s, &agent, &format!("note {i}"), json!([])).await["id"].clone());
    }
    let over = s
        .post(&path(&agent.id), &agent.key, json!({"content": "note 3"}))
        .await;
    assert_eq!(over.status, 409, "{over:?}");
    assert_eq!(over.code(), "memory_quota_exceeded");
    assert_eq!(listed(&s, &agent.id, &agent.key).await.len(), 3);
    assert_eq!(audit_events(&s, "memory.created").await.len(), 3);
    // An archived memory is still held; a deleted one frees its place.
    let first = ids[0].as_str().unwrap();
    let r = s
        .patch(
            &format!("{}/{first}", path(&agent.id)),
            &s.pat,
            json!({"archived": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let still = s
        .post(&path(&agent.id), &agent.key, json!({"content": "note 3"}))
        .await;
    assert_eq!(still.status, 409, "{still:?}");
    assert_eq!(delete(&s, &agent.id, first, &s.pat).await.status, 200);
    remember(&s, &agent, "note 3", json!([])).await;
    // The quota is per agent.
    remember(&s, &other, "mine", json!([])).await;
}

#[tokio::test]
async fn concurrent_writes_never_overshoot_the_quota() {
    let s = TestServer::start_with(|c| c.memory_quota_per_agent = 5).await;
    let agent = s.agent(json!({})).await;
    let url = path(&agent.id);
    let writes = (0..20).map(|i| s.post(&url, &agent.key, json!({"content": format!("race {i}")})));
    let answers = futures::future::join_all(writes).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 5, "{answers:?}");
    assert!(answers.iter().all(|r| r.status == 200 || r.status == 409));
    assert_eq!(s.column("SELECT id FROM memories").await.len(), 5);
}

async fn set_status(s: &TestServer, agent: &TestAgent, status: &str) {
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", agent.id),
            &s.pat,
            json!({"status": status}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

async fn write(s: &TestServer, a: &TestAgent) -> crate::support::Reply {
    s.post(&path(&a.id), &a.key, json!({"content": "after"}))
        .await
}

#[tokio::test]
async fn a_stopped_agent_is_refused_and_nothing_is_written() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    remember(&s, &agent, "before the pause", json!([])).await;
    let child = s.spawn_child(&agent, "child", json!(["email"]), 1).await;
    set_status(&s, &agent, "paused").await;
    let r = write(&s, &agent).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.code(), "agent_paused");
    // A spawned agent stands no better than its parent.
    let r = write(&s, &child).await;
    assert_eq!(r.code(), "agent_paused", "{r:?}");
    set_status(&s, &agent, "disabled").await;
    assert_eq!(write(&s, &agent).await.code(), "agent_disabled");
    // Reading is not acting: a stopped agent still reads its memories.
    assert_eq!(
        listed(&s, &agent.id, &agent.key).await,
        ["before the pause"]
    );
    set_status(&s, &agent, "active").await;
    let r = s
        .patch("/api/v1/org", &s.pat, json!({"kill_switch": true}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(write(&s, &agent).await.code(), "kill_switch");
    assert_eq!(s.column("SELECT id FROM memories").await.len(), 1);
    assert_eq!(audit_events(&s, "memory.created").await.len(), 1);
}

#[tokio::test]
async fn nobody_reads_or_writes_another_agents_memories() {
    let s = TestServer::start().await;
    let a = s.agent(json!({"name": "a"})).await;
    let b = s.agent(json!({"name": "b"})).await;
    let mem = remember(&s, &a, "secret of a", json!([])).await;
    let mem_id = mem["id"].as_str().unwrap();
    // Another agent of the organisation: 403, for reads and writes alike.
    for r in [
        s.get(&path(&a.id), &b.key).await,
        s.get(&format!("{}?q=secret", path(&a.id)), &b.key).await,
        s.post(&path(&a.id), &b.key, json!({"content": "x"})).await,
        s.post(&path(&a.id), &b.key, json!({})).await,
    ] {
        assert_eq!(r.status, 403, "{r:?}");
        assert_eq!(r.code(), "forbidden");
    }
    // An id the caller's organisation does not have: 404.
    let unknown = "agt_01jzzzzzzzzzzzzzzzzzzzzzzz";
    assert_eq!(s.get(&path(unknown), &b.key).await.status, 404);
    let other = s.other_org("Other Ltd").await;
    let r = s
        .post("/api/v1/agents", &other.pat, json!({"name": "theirs"}))
        .await;
    let their_key = r.body["api_key"].as_str().unwrap().to_owned();
    let mem_url = format!("{}/{mem_id}", path(&a.id));
    for r in [
        s.get(&path(&a.id), &their_key).await,
        s.post(&path(&a.id), &their_key, json!({"content": "x"}))
            .await,
        s.get(&path(&a.id), &other.pat).await,
        s.get(&format!("{}?q=secret", path(&a.id)), &other.pat)
            .await,
        s.get(&format!("{}/graph", path(&a.id)), &other.pat).await,
        s.patch(&mem_url, &other.pat, json!({"archived": true}))
            .await,
        delete(&s, &a.id, mem_id, &other.pat).await,
    ] {
        assert_eq!(r.status, 404, "{r:?}");
        assert!(!r.body.to_string().contains("secret of a"), "{r:?}");
    }
    // A member reads, but only who may manage the agent changes.
    let member = s.user_pat(upivia_server::model::Role::Member).await;
    assert_eq!(listed(&s, &a.id, &member).await, ["secret of a"]);
    let r = s.patch(&mem_url, &member, json!({"archived": true})).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s.patch(&mem_url, &member, json!({"bogus": 1})).await;
    assert_eq!(r.status, 403, "who asks is answered first: {r:?}");
    assert_eq!(delete(&s, &a.id, mem_id, &member).await.status, 403);
    // A memory is reached only through its own agent.
    let r = s
        .patch(
            &format!("{}/{mem_id}", path(&b.id)),
            &s.pat,
            json!({"archived": true}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(delete(&s, &b.id, mem_id, &s.pat).await.status, 404);
    // Users do not write an agent's memories; keys do not edit them.
    let r = s.post(&path(&a.id), &s.pat, json!({"content": "x"})).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s.patch(&mem_url, &a.key, json!({"archived": true})).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(listed(&s, &a.id, &a.key).await, ["secret of a"]);
    assert!(listed(&s, &b.id, &b.key).await.is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_with_the_envelope_and_writes_nothing() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let url = path(&agent.id);
    let cases = [
        (json!({}), 422, "content: required"),
        (json!({"content": null}), 422, "content: required"),
        (json!({"content": "   \n"}), 422, "must not be empty"),
        (json!({"content": 5}), 422, "must be a string"),
        (json!({"content": "x".repeat(8001)}), 422, "at most 8000"),
        (json!({"content": "a\u{0}b"}), 422, "NUL"),
        (
            json!({"content": "x", "tags": "ops"}),
            422,
            "list of strings",
        ),
        (
            json!({"content": "x", "tags": [1]}),
            422,
            "each must be a string",
        ),
        (
            json!({"content": "x", "tags": [""]}),
            422,
            "must not be empty",
        ),
        (
            json!({"content": "x", "tags": ["t".repeat(65)]}),
            422,
            "at most 64",
        ),
        (
            json!({"content": "x", "tags": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
            422,
            "at most 20",
        ),
        (json!({"content": "x", "tags": ["a\nb"]}), 422, "control"),
        (
            json!({"content": "x", "pinned": true}),
            400,
            "unknown field pinned",
        ),
    ];
    for (body, status, says) in cases {
        let r = s.post(&url, &agent.key, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {r:?}");
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {r:?}");
        assert!(r.body["error"]["code"].is_string());
    }
    let malformed = s
        .http
        .post(format!("{}{url}", s.base))
        .bearer_auth(&agent.key)
        .header("content-type", "application/json")
        .body("{\"content\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    // The longest content and the most tags are taken.
    let tags: Vec<String> = (0..20).map(|i| format!("{i}{}", "t".repeat(62))).collect();
    let most = remember(&s, &agent, &"é".repeat(8000), json!(tags)).await;
    let id = most["id"].as_str().unwrap();
    assert_eq!(s.column("SELECT id FROM memories").await.len(), 1);
    let mem_url = format!("{url}/{id}");
    for (body, status) in [
        (json!({}), 422),
        (json!({"archived": "yes"}), 422),
        (json!({"content": ""}), 422),
        (json!({"agent_id": "agt_x"}), 400),
    ] {
        let r = s.patch(&mem_url, &s.pat, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {r:?}");
    }
    for q in ["?limit=0", "?limit=1001", "?q=x&limit=101", "?limit=abc"] {
        let r = s.get(&format!("{url}{q}"), &agent.key).await;
        assert_eq!(r.status, 400, "{q}: {r:?}");
    }
    let missing = s
        .patch(
            &format!("{url}/mem_nope"),
            &s.pat,
            json!({"archived": true}),
        )
        .await;
    assert_eq!(missing.status, 404, "{missing:?}");
    assert!(audit_events(&s, "memory.updated").await.is_empty());
}

#[tokio::test]
async fn a_sqlite_dump_with_memories_imports_and_searches_on_postgresql() {
    use upivia_server::ids::{AgentId, OrgId};
    use upivia_server::store::MemoryStore;
    use upivia_server::store::postgres::testing::{TestDatabase, server_url};
    use upivia_server::store::postgres::{PgSettings, PgStore, import::import};
    if on_postgres() {
        return;
    }
    let Some(server) = server_url() else { return };
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let memory = remember(
        &s,
        &agent,
        "The staging database password rotates",
        json!([]),
    )
    .await;
    remember(&s, &agent, "Unrelated note", json!([])).await;
    s.seal_audit().await;
    let mut dump = Vec::new();
    upivia_server::store::sqlite::export::export(
        &s.db_path(),
        &s.checkpoint_path(),
        &mut dump,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let text = String::from_utf8(dump).unwrap();
    assert!(
        !text.contains("\"memories_fts"),
        "the index is not exported"
    );
    let db = TestDatabase::create_empty(&server).await.unwrap();
    let summary = import(db.url(), text.as_bytes()).await.unwrap();
    assert_eq!(summary.rows["memories"], 2);
    let store = PgStore::connect(db.url(), PgSettings::default())
        .await
        .unwrap();
    let org = OrgId::from(memory_org(&s, &agent).await.as_str());
    let found = store
        .search_memories(
            &org,
            &AgentId::from(agent.id.as_str()),
            &upivia_server::search::terms("rotated passwords"),
            10,
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, memory["id"].as_str().unwrap());
    store.close().await;
}

async fn memory_org(s: &TestServer, _agent: &TestAgent) -> String {
    s.platform
        .stores
        .identity
        .primary_org()
        .await
        .unwrap()
        .unwrap()
        .id
}
