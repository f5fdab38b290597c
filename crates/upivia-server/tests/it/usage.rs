//! `GET /usage`: the activity view's extras (`include_chart=1`).

use serde_json::{Value, json};
use time::Duration;

use upivia_server::clock::Clock;

use crate::support::{TestServer, email};

async fn send(s: &TestServer, agent: &crate::support::TestAgent, n: usize) {
    for _ in 0..n {
        let r = s.request(agent, "email", "send", email()).await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
    }
}

fn day(chart: &Value, date: &str) -> (i64, i64) {
    let days = chart["chart"]["days"].as_array().expect("days");
    let d = days
        .iter()
        .find(|d| d["date"] == date)
        .unwrap_or_else(|| panic!("no {date} in {days:?}"));
    (
        d["requests"].as_i64().unwrap(),
        d["total_cents"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn the_chart_covers_fourteen_days_and_totals_the_whole_filter() {
    let s = TestServer::start().await;
    let a = s.funded_agent("email", 100).await;
    let b = s.agent(json!({"name": "second"})).await;
    s.enable(&b, json!({"service_id": "email"})).await;
    let first_day = s.clock.now().date();
    send(&s, &a, 2).await;
    s.clock.advance(Duration::days(3));
    let today = s.clock.now().date();
    send(&s, &a, 1).await;
    send(&s, &b, 1).await;

    // A page of one record; the extras still count everything.
    let all = s.get("/api/v1/usage?include_chart=1&limit=1", &s.pat).await;
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(all.body["records"].as_array().unwrap().len(), 1);
    assert_eq!(all.body["total_cents"], 4);
    assert_eq!(all.body["balance_cents"], 96);
    let mut per_agent = all.body["per_agent"].as_array().unwrap().clone();
    per_agent.sort_by_key(|t| t["requests"].as_i64());
    assert_eq!(
        per_agent,
        vec![
            json!({"agent_id": b.id, "requests": 1, "total_cents": 1}),
            json!({"agent_id": a.id, "requests": 3, "total_cents": 3}),
        ]
    );
    let days = all.body["chart"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["date"], today.to_string());
    assert_eq!(day(&all.body, &today.to_string()), (2, 2));
    assert_eq!(day(&all.body, &first_day.to_string()), (2, 2));
    let charted: i64 = days
        .iter()
        .map(|d| d["total_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(charted, 4, "days without charges are zeros: {days:?}");

    // The agent filter applies to both extras.
    let only_b = s
        .get(
            &format!("/api/v1/usage?include_chart=1&agent_id={}", b.id),
            &s.pat,
        )
        .await;
    assert_eq!(
        only_b.body["per_agent"],
        json!([{"agent_id": b.id, "requests": 1, "total_cents": 1}])
    );
    assert_eq!(day(&only_b.body, &today.to_string()), (1, 1));
    assert_eq!(day(&only_b.body, &first_day.to_string()), (0, 0));

    // Fifteen days on, the first day has left the chart.
    s.clock.advance(Duration::days(12));
    let later = s.get("/api/v1/usage?include_chart=1", &s.pat).await;
    let dates: Vec<&str> = later.body["chart"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert!(
        !dates.contains(&first_day.to_string().as_str()),
        "{dates:?}"
    );
    assert_eq!(day(&later.body, &today.to_string()), (2, 2));
}

#[tokio::test]
async fn without_the_flag_there_are_no_extras() {
    let s = TestServer::start().await;
    let a = s.funded_agent("email", 10).await;
    send(&s, &a, 1).await;
    let plain = s.get("/api/v1/usage", &s.pat).await;
    assert!(plain.body.get("chart").is_none());
    assert!(plain.body.get("per_agent").is_none());
}
