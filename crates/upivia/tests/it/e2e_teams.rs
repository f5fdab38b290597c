//! Teams and the agent-requests inbox against the real server, through
//! the SDK only.

use serde_json::json;
use upivia::ErrorKind;
use upivia::models::{CreateAgentRequest, ListAgentRequests};

use crate::e2e_support::{Server, agent_from};

#[tokio::test]
async fn teams_are_created_listed_switched_and_their_members_managed() {
    let server = Server::start();
    let owner = server.owner();
    let created = owner.teams().create("Research").await.unwrap();
    let team = created["team"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["team"]["name"], "Research");

    let listed = owner.teams().list().await.unwrap();
    assert_eq!(listed["teams"][0]["id"], team.as_str());
    assert_eq!(listed["teams"][0]["role"], "manager");

    let members = owner.teams().members().list(&team).await.unwrap();
    let me = members["members"][0]["id"].as_str().unwrap().to_owned();
    let user = members["members"][0]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let updated = owner
        .teams()
        .members()
        .update(&team, &me, &json!({"role": "worker"}))
        .await
        .unwrap();
    assert_eq!(updated["member"]["role"], "worker");
    let twice = owner
        .teams()
        .members()
        .add(&team, &json!({"user_id": user}))
        .await
        .unwrap_err();
    assert_eq!(twice.status(), Some(409));

    let switched = owner.teams().switch(Some(&team)).await.unwrap();
    assert_eq!(switched["team_id"], team.as_str());
    assert_eq!(
        owner.teams().list().await.unwrap()["active_team_id"],
        team.as_str()
    );
    owner.teams().switch(None).await.unwrap();

    let removed = owner.teams().members().remove(&team, &me).await.unwrap();
    assert_eq!(removed["removed"], me.as_str());
    let gone = owner
        .teams()
        .members()
        .remove(&team, &me)
        .await
        .unwrap_err();
    assert_eq!(gone.status(), Some(404));
    let bad = owner.teams().create("").await.unwrap_err();
    assert_eq!(bad.code(), Some("invalid_payload"));
}

#[tokio::test]
async fn an_agent_asks_a_human_and_reads_the_answer() {
    let server = Server::start();
    let owner = server.owner();
    let created = owner
        .agents()
        .create(&json!({"name": "Scout"}))
        .await
        .unwrap();
    let agent = agent_from(&server, &created);
    let asked = agent
        .client
        .agent_requests()
        .create_as_agent(
            CreateAgentRequest::new("clarification", "Which region?").with_title("Region"),
        )
        .await
        .unwrap();
    let id = asked["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(asked["request"]["status"], "pending");

    let inbox = owner
        .agent_requests()
        .list(ListAgentRequests::default())
        .await
        .unwrap();
    assert_eq!(inbox["requests"][0]["id"], id.as_str());
    assert_eq!(inbox["requests"][0]["agent_name"], "Scout");

    let done = owner
        .agent_requests()
        .resolve(&id, Some("eu-west"))
        .await
        .unwrap();
    assert_eq!(done["ok"], true);
    let again = owner
        .agent_requests()
        .decide(&id, "reject", None)
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("request_already_resolved"));

    let read = agent.client.agent_requests().get(&id).await.unwrap();
    assert_eq!(read["request"]["response"], "eu-west");
    let mine = agent
        .client
        .agent_requests()
        .list_as_agent(ListAgentRequests::default().with_status("resolved"))
        .await
        .unwrap();
    assert_eq!(mine["requests"][0]["id"], id.as_str());

    // A member raising for an agent, and rejecting.
    let raised = owner
        .agent_requests()
        .create(CreateAgentRequest::new("approval", "Ship it?").with_agent_id(&agent.id))
        .await
        .unwrap();
    let second = raised["request"]["id"].as_str().unwrap();
    let rejected = owner
        .agent_requests()
        .decide(second, "reject", Some("not yet"))
        .await
        .unwrap();
    assert_eq!(rejected["request"]["status"], "rejected");
    let no_key = owner
        .agent_requests()
        .list_as_agent(ListAgentRequests::default())
        .await;
    assert_eq!(no_key.unwrap_err().kind(), ErrorKind::Unauthorized);
}
